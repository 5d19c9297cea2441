# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The downloader against a small Range-capable HTTP server on 127.0.0.1 in a thread of the test:
sparse output, atomic rename, journal and resume, retries, and the checks of every answer."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import random
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    ConnectionFailedError,
    IntegrityError,
    MigrationError,
)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._transfer import download, http

pytest.importorskip("requests")

KIB = 1024
MIB = 1024 * KIB
SIZE = 8 * MIB
# Allocated: three extents; the middle one holds a zero page, which must stay a hole.
ALLOCATED = [(0, 64 * KIB), (MIB, 2 * MIB), (7 * MIB, SIZE)]
IDENTITY = {"source": "unit", "etag": "1"}


def _content():
    rng = random.Random(3)
    data = bytearray(SIZE)
    for start, end in ALLOCATED:
        data[start:end] = rng.getrandbits(8 * (end - start)).to_bytes(end - start, "little")
    data[MIB + 8 * KIB:MIB + 12 * KIB] = bytes(4 * KIB)
    return bytes(data)


DATA = _content()


class Server(object):
    """Serves DATA; `faults` is a list of callables(handler, start, end) -> True when they answered."""

    def __init__(self):
        self.faults, self.seen, self.size = [], [], SIZE
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self
        self.thread = threading.Thread(target=self.httpd.serve_forever)
        self.thread.daemon = True
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d/disk.vhd?sv=1&sig=s3cr3t" % self.httpd.server_address[1]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        owner = self.server.owner
        start, last = [int(x) for x in self.headers["Range"].split("=")[1].split("-")]
        owner.seen.append((start, last + 1))
        for fault in list(owner.faults):
            if fault(self, start, last + 1):
                return
        body = DATA[start:last + 1]
        self.send_response(206)
        self.send_header("Content-Range", "bytes %d-%d/%d" % (start, last, owner.size))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def answer(handler, status, headers=(), body=b""):
    handler.send_response(status)
    for key, value in headers:
        handler.send_header(key, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
    return True


@pytest.fixture
def server():
    srv = Server()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def client(sleeps):
    with http.Client(workers=3, timeout=5, retries=2, backoff=0.5, sleep=sleeps.append) as made:
        yield made


def fetch(client, server, dest, **kwargs):
    options = dict(chunk_size=256 * KIB, gap=0, workers=3)
    options.update(kwargs)
    return download.download(client, server.url, str(dest), SIZE, ALLOCATED, IDENTITY, **options)


def test_only_allocated_ranges_are_fetched_and_the_output_stays_sparse(client, server, tmp_path):
    dest = tmp_path / "disk.vhd"
    stats = fetch(client, server, dest)
    assert dest.read_bytes() == DATA
    assert stats["bytes_transferred"] == stats["allocated_bytes"] == 64 * KIB + MIB + MIB
    assert stats["requests"] == len(server.seen) == 1 + 4 + 4 and stats["resumed"] is False
    assert all(start >= 0 and end <= SIZE for start, end in server.seen)
    # Holes stay holes, including the zero page inside an allocated extent.
    allocated = dest.stat().st_blocks * 512
    assert allocated <= stats["allocated_bytes"] - 4 * KIB
    assert sorted(os.listdir(str(tmp_path))) == ["disk.vhd", "disk.vhd.download.json"]


def test_merging_near_ranges_makes_fewer_requests(client, server, tmp_path):
    stats = fetch(client, server, tmp_path / "disk.vhd", gap=MIB, chunk_size=8 * MIB)
    assert stats["requests"] == 2 and sorted(server.seen) == [(0, 2 * MIB), (7 * MIB, SIZE)]
    assert (tmp_path / "disk.vhd").read_bytes() == DATA


def test_a_finished_download_is_not_repeated(client, server, tmp_path):
    dest = tmp_path / "disk.vhd"
    fetch(client, server, dest)
    del server.seen[:]
    stats = fetch(client, server, dest)
    assert stats["already_complete"] is True and stats["bytes_transferred"] == 0 and server.seen == []
    # Another version of the source is downloaded again.
    stats = download.download(client, server.url, str(dest), SIZE, ALLOCATED, dict(IDENTITY, etag="2"),
                              chunk_size=256 * KIB, gap=0)
    assert stats["already_complete"] is False and len(server.seen) == 9


def _refuse_after(count):
    served = []

    def fault(handler, start, end):
        served.append(start)
        if len(served) > count:
            return answer(handler, 404, [("x-ms-error-code", "BlobNotFound")])
        return False
    return fault


def test_an_interrupted_download_resumes_with_what_is_missing(client, server, tmp_path):
    dest = tmp_path / "disk.vhd"
    server.faults.append(_refuse_after(4))
    with pytest.raises(http.HttpStatusError) as caught:
        fetch(client, server, dest, workers=1)
    assert caught.value.status == 404 and "s3cr3t" not in str(caught.value)
    assert not dest.exists() and os.path.getsize(download.partial_path(str(dest))) == SIZE
    journal = json.loads(open(download.journal_path(str(dest))).read())
    assert journal["identity"] == IDENTITY and journal["size"] == SIZE
    assert journal["done"] == [[0, 64 * KIB], [MIB, MIB + 3 * 256 * KIB]]

    server.faults[:] = []
    del server.seen[:]
    stats = fetch(client, server, dest)
    assert stats["resumed"] is True and dest.read_bytes() == DATA
    assert stats["bytes_transferred"] == 2 * MIB + 64 * KIB - (64 * KIB + 3 * 256 * KIB)
    assert (0, 64 * KIB) not in server.seen and len(server.seen) == 5
    assert not os.path.exists(download.journal_path(str(dest)))


def test_a_journal_of_another_source_is_not_trusted(client, server, tmp_path):
    dest = tmp_path / "disk.vhd"
    server.faults.append(_refuse_after(4))
    with pytest.raises(http.HttpStatusError):
        fetch(client, server, dest, workers=1)
    server.faults[:] = []
    stats = download.download(client, server.url, str(dest), SIZE, ALLOCATED, dict(IDENTITY, etag="changed"),
                              chunk_size=256 * KIB, gap=0)
    assert stats["resumed"] is False and stats["bytes_transferred"] == stats["allocated_bytes"]
    assert dest.read_bytes() == DATA


def test_server_errors_are_retried_with_backoff(client, server, tmp_path, sleeps):
    failures = []

    def busy(handler, start, end):
        if start == MIB and len(failures) < 2:
            failures.append(start)
            return answer(handler, 503, [("x-ms-error-code", "ServerBusy")])
        return False
    server.faults.append(busy)
    fetch(client, server, tmp_path / "disk.vhd")
    assert (tmp_path / "disk.vhd").read_bytes() == DATA and sleeps == [0.5, 1.0]


def test_retry_after_is_honoured(client, server, tmp_path, sleeps):
    once = []

    def throttled(handler, start, end):
        if not once:
            once.append(1)
            return answer(handler, 429, [("Retry-After", "3")])
        return False
    server.faults.append(throttled)
    fetch(client, server, tmp_path / "disk.vhd")
    assert sleeps == [3.0]


def test_errors_that_last_fail_clearly_and_leave_no_output(client, server, tmp_path):
    server.faults.append(lambda handler, start, end: answer(handler, 500))
    dest = tmp_path / "disk.vhd"
    with pytest.raises(ConnectionFailedError) as caught:
        fetch(client, server, dest)
    message = str(caught.value)
    assert "failed 3 times; the last attempt: HTTP 500." in message
    assert "/disk.vhd?<redacted>" in message and "s3cr3t" not in message
    assert not dest.exists()


def test_a_short_body_is_fetched_again(client, server, tmp_path):
    cut = []

    def short(handler, start, end):
        if start == 7 * MIB and not cut:
            cut.append(1)
            handler.send_response(206)
            handler.send_header("Content-Range", "bytes %d-%d/%d" % (start, end - 1, SIZE))
            handler.send_header("Content-Length", str(end - start))
            handler.end_headers()
            handler.wfile.write(DATA[start:start + 1000])
            handler.close_connection = True
            return True
        return False
    server.faults.append(short)
    fetch(client, server, tmp_path / "disk.vhd")
    assert (tmp_path / "disk.vhd").read_bytes() == DATA
    assert server.seen.count((7 * MIB, 7 * MIB + 256 * KIB)) == 2


@pytest.mark.parametrize("fault, message", [
    (lambda h, s, e: answer(h, 200, body=DATA[s:e]), "expected a partial answer (206), got 200"),
    (lambda h, s, e: answer(h, 206, [("Content-Range", "bytes %d-%d/%d" % (s + 512, e, SIZE))], DATA[s + 512:e + 1]),
     "answered with another range"),
    (lambda h, s, e: answer(h, 206, [("Content-Range", "bytes %d-%d/%d" % (s, e - 1, SIZE * 2))], DATA[s:e]),
     "is now 16777216 bytes long, not 8388608: it changed during the download"),
])
def test_answers_that_do_not_match_the_request_are_refused(client, server, tmp_path, fault, message):
    server.faults.append(fault)
    dest = tmp_path / "disk.vhd"
    with pytest.raises(IntegrityError, match=re.escape(message)):
        fetch(client, server, dest)
    assert not dest.exists()


def test_a_failed_verification_discards_the_download(client, server, tmp_path):
    dest = tmp_path / "disk.vhd"

    def refuse(path):
        assert path == download.partial_path(str(dest))
        raise IntegrityError("bad footer")
    with pytest.raises(IntegrityError, match="bad footer"):
        fetch(client, server, dest, verify=refuse)
    assert os.listdir(str(tmp_path)) == []


def test_two_downloads_into_one_file_are_refused(client, server, tmp_path):
    dest = tmp_path / "disk.vhd"
    held = download._open_partial(str(dest), SIZE, resume=False)
    try:
        with pytest.raises(MigrationError, match="Another download into"):
            fetch(client, server, dest)
    finally:
        os.close(held)


@pytest.mark.parametrize("data, want", [
    (bytes(MIB), []),
    (b"\1" * 5000, [(0, 5000)]),
    (bytes(4096) + b"\1" + bytes(4095) + bytes(4096) + b"\1" * 10, [(4096, 8192), (12288, 12298)]),
    (bytes(8192) + b"\1", [(8192, 8193)]),
])
def test_only_non_zero_pages_are_written(data, want):
    assert download._nonzero_runs(data) == want
