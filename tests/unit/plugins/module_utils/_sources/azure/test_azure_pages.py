# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Get Page Ranges answers: parsing, paging with NextMarker, a disk changing between pages.
(Azurite never pages its answer; tests/e2e/test_azure_export.py pages it through a proxy.)"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    IntegrityError,
    InvalidInputError,
    UnsafeInputError,
)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.azure import pages

SAS = "https://md-x.blob.storage.azure.net/c/abcd?sv=2018-03-28&sr=b&si=p&sig=secret"


def page_list(ranges, marker=None):
    items = "".join("<PageRange><Start>%d</Start><End>%d</End></PageRange>" % (s, e - 1) for s, e in ranges)
    tail = "<NextMarker>%s</NextMarker>" % marker if marker else "<NextMarker />"
    return ('<?xml version="1.0" encoding="utf-8"?><PageList>%s%s</PageList>' % (items, tail)).encode()


class FakeClient(object):
    """Answers Get Page Ranges from a list of (headers, body) pages, recording the params asked for."""

    def __init__(self, answers):
        self.answers, self.asked = list(answers), []

    def get(self, url, params=None, headers=None, what=None):
        assert url == SAS and headers == {"x-ms-version": pages.STORAGE_VERSION}
        self.asked.append(dict(params))
        head, body = self.answers.pop(0)
        return 200, head, body


HEAD = {"x-ms-blob-content-length": "1073742336", "ETag": '"0x1"', "Last-Modified": "Mon, 02 Nov 2026 10:00:00 GMT"}


def test_one_page():
    client = FakeClient([(HEAD, page_list([(0, 4096), (4096, 8192), (1073741824, 1073742336)]))])
    got = pages.page_ranges(client, SAS)
    assert got == {"ranges": [(0, 4096), (4096, 8192), (1073741824, 1073742336)], "size": 1073742336,
                   "etag": '"0x1"', "last_modified": "Mon, 02 Nov 2026 10:00:00 GMT", "requests": 1}
    assert client.asked == [{"comp": "pagelist"}]


def test_pages_are_followed_by_their_marker():
    client = FakeClient([(HEAD, page_list([(0, 512)], "2!92!MDAwMDA4")), (HEAD, page_list([(1024, 2048)], "m2")),
                         (HEAD, page_list([(4096, 8192)]))])
    got = pages.page_ranges(client, SAS)
    assert got["ranges"] == [(0, 512), (1024, 2048), (4096, 8192)] and got["requests"] == 3
    assert client.asked == [{"comp": "pagelist"}, {"comp": "pagelist", "marker": "2!92!MDAwMDA4"},
                            {"comp": "pagelist", "marker": "m2"}]


def test_an_empty_disk_has_no_ranges():
    assert pages.page_ranges(FakeClient([(HEAD, page_list([]))]), SAS)["ranges"] == []


def test_a_disk_that_changes_between_pages_is_refused():
    client = FakeClient([(HEAD, page_list([(0, 512)], "m")), (dict(HEAD, ETag='"0x2"'), page_list([(1024, 2048)]))])
    with pytest.raises(IntegrityError, match="changed while its page list was read"):
        pages.page_ranges(client, SAS)


def test_missing_length_and_bad_ranges_are_refused():
    with pytest.raises(InvalidInputError, match="x-ms-blob-content-length"):
        pages.page_ranges(FakeClient([({"ETag": "1"}, page_list([]))]), SAS)
    bad = b"<PageList><PageRange><Start>x</Start><End>1</End></PageRange></PageList>"
    with pytest.raises(InvalidInputError, match="numeric Start and End"):
        pages.page_ranges(FakeClient([(HEAD, bad)]), SAS)


def test_entities_are_refused():
    hostile = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><PageList>&a;</PageList>'
    with pytest.raises(UnsafeInputError):
        pages.page_ranges(FakeClient([(HEAD, hostile)]), SAS)
