# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Signed URLs (Azure SAS, S3 presigned) never reach a message: redact() and scrub()."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._transfer import http

SAS = ("https://md-abc.z1.blob.storage.azure.net/abcd1234/abcd?sv=2018-03-28&sr=b&si=8c8e&"
       "sig=Qr%2Bk9x0yZ0pLmB1vX%3D")


@pytest.mark.parametrize("url, want", [
    (SAS, "https://md-abc.z1.blob.storage.azure.net/abcd1234/abcd?<redacted>"),
    ("https://bucket.s3.amazonaws.com/disk.vmdk?X-Amz-Signature=abc&X-Amz-Credential=AK",
     "https://bucket.s3.amazonaws.com/disk.vmdk?<redacted>"),
    ("https://user:pass@esx.example/folder/disk-flat.vmdk?dcPath=ha&dsName=ds1",
     "https://esx.example/folder/disk-flat.vmdk?<redacted>"),
    ("https://host/path", "https://host/path"),
    ("https://host/path#frag", "https://host/path"),
    ("", ""),
])
def test_redact(url, want):
    assert http.redact(url) == want


def test_scrub_removes_query_strings_from_library_messages():
    text = ("HTTPSConnectionPool(host='md-abc.z1.blob.storage.azure.net', port=443): Max retries exceeded with url: "
            "/abcd1234/abcd?sv=2018-03-28&sr=b&si=8c8e&sig=Qr%2Bk9x0yZ0pLmB1vX%3D (Caused by ReadTimeoutError)")
    scrubbed = http.scrub(text)
    assert "sig=" not in scrubbed and "Qr%2Bk9x0yZ0pLmB1vX" not in scrubbed
    assert "url: /abcd1234/abcd?<redacted> (Caused by ReadTimeoutError)" in scrubbed


def test_scrub_removes_given_secrets_and_keeps_plain_text():
    assert http.scrub("failed for %s" % SAS, [SAS]) == "failed for <redacted>"
    assert http.scrub("Is this a question? Yes.") == "Is this a question? Yes."
    assert http.scrub(ValueError("token=abc at /x?sig=1")) == "token=abc at /x?<redacted>"


def test_http_status_error_names_the_url_without_its_query():
    error = http.HttpStatusError("GET bytes 0-511 of", SAS, 403, "AuthenticationFailed")
    assert str(error).startswith("GET bytes 0-511 of https://md-abc.z1.blob.storage.azure.net/abcd1234/abcd?<redacted> "
                                 "was refused: HTTP 403 (AuthenticationFailed).")
    assert "sig" not in str(error) and (error.status, error.code) == (403, "AuthenticationFailed")
