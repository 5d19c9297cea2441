# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which bytes of a page blob hold data: Get Page Ranges through the read SAS of a disk.

One GET of <sas>&comp=pagelist per page of the answer; the service splits long lists and names the
next page in NextMarker (storage service version 2020-10-02 and later). The ranges are returned as
they come ((start, end), end exclusive); merging is the downloader's business. Every page must
describe the same blob: the same length and ETag, otherwise the disk changed under us.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hyper2kvm.migrate.plugins.module_utils import _xml
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import IntegrityError, InvalidInputError

# The first service version whose Get Page Ranges pages its answer; Azurite accepts it too.
STORAGE_VERSION = "2020-10-02"
HEADERS = {"x-ms-version": STORAGE_VERSION}
MAX_PAGES = 100000
MAX_LIST_BYTES = 64 * 1024 * 1024


def parse_page_list(body):
    """([(start, end)], next marker or None) of one Get Page Ranges answer."""
    root = _xml.parse(body, what="The page list of the disk", max_bytes=MAX_LIST_BYTES)
    ranges = []
    for item in _xml.children(root, "PageRange"):
        try:
            start, last = int(_xml.text(item, "Start")), int(_xml.text(item, "End"))
        except (TypeError, ValueError):
            raise InvalidInputError("The page list of the disk has a range without numeric Start and End.")
        ranges.append((start, last + 1))
    return ranges, _xml.text(root, "NextMarker") or None


def page_ranges(client, sas_url):
    """{"ranges", "size", "etag", "last_modified", "requests"} of the page blob behind sas_url."""
    ranges, marker, seen = [], None, None
    for requests_made in range(1, MAX_PAGES + 1):
        params = {"comp": "pagelist"}
        if marker:
            params["marker"] = marker
        status, headers, body = client.get(sas_url, params=params, headers=HEADERS, what="Get Page Ranges of")
        headers = dict((key.lower(), value) for key, value in headers.items())
        blob = (headers.get("x-ms-blob-content-length"), headers.get("etag"))
        if seen is not None and blob != seen:
            raise IntegrityError("The disk changed while its page list was read (length or ETag differ between pages).",
                                 fix="Make sure nothing writes to the disk during the export, then run it again.")
        seen = blob
        page, marker = parse_page_list(body)
        ranges.extend(page)
        if not marker:
            break
    else:
        raise InvalidInputError("The page list of the disk did not end after %d pages." % MAX_PAGES)
    try:
        size = int(seen[0])
    except (TypeError, ValueError):
        raise InvalidInputError("Get Page Ranges did not say how long the disk is (no x-ms-blob-content-length).")
    return {"ranges": ranges, "size": size, "etag": seen[1], "last_modified": headers.get("last-modified"),
            "requests": requests_made}
