"""A fault-injecting HTTP proxy between the downloader and Azurite (test code).

It forwards every request to Azurite unchanged, except when a test asked it to misbehave:
  inject("status", 503, kind="range", times=3)   answer HTTP 503 (x-ms-error-code ServerBusy) instead
  inject("stall", 5, kind="range")               send the headers and half the body, then fall silent
  inject("reset", kind="range")                  reset the connection without answering
  inject("call", fn, kind="range", skip=2)       call fn() (revoke a grant, resize a blob), then forward
skip lets that many matching requests through first; times=None misbehaves until clear().
kind is "range" (a GET with a Range header), "pagelist" (Get Page Ranges) or "any".
page_size > 0 makes Get Page Ranges answer in pages of that many ranges chained by NextMarker (Azurite
never pages its answer; Azure does). Each request's kind and Range header is kept in .seen.
Binds 127.0.0.1 only; runs in a thread of the test process.
"""

from __future__ import annotations

import http.client
import socket
import struct
import threading
import time
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

from support import ServerThread

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}


class _Fault:
    def __init__(self, action, arg, kind, times, skip):
        self.action, self.arg, self.kind, self.times, self.skip = action, arg, kind, times, skip


class BlobProxy(ServerThread):
    thread_name = "blob-proxy"

    def __init__(self, upstream_url: str):
        super().__init__(ThreadingHTTPServer(("127.0.0.1", 0), _Handler))
        self.httpd.daemon_threads = True
        self.httpd.proxy = self
        parts = urlsplit(upstream_url)
        self.upstream = (parts.hostname, parts.port)
        self.account_path = parts.path  # "/devstoreaccount1"
        self.lock = threading.Lock()
        self.faults = []
        self.seen = []
        self.page_size = 0

    @property
    def url(self) -> str:
        """What DiskBlobs.public_url should be: the account URL, through the proxy."""
        return "http://127.0.0.1:%d%s" % (self.httpd.server_address[1], self.account_path)

    def inject(self, action, arg=None, kind="range", times=1, skip=0):
        with self.lock:
            self.faults.append(_Fault(action, arg, kind, times, skip))

    def clear(self):
        with self.lock:
            self.faults = []
            self.seen = []
            self.page_size = 0

    def count(self, kind):
        with self.lock:
            return sum(1 for seen in self.seen if seen[0] == kind)

    def _fault_for(self, kind, byte_range):
        with self.lock:
            self.seen.append((kind, byte_range))
            for fault in self.faults:
                if fault.kind not in (kind, "any") or fault.times == 0:
                    continue
                if fault.skip > 0:
                    fault.skip -= 1
                    continue
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    @property
    def proxy(self) -> BlobProxy:
        return self.server.proxy

    def _upstream(self, path):
        conn = http.client.HTTPConnection(*self.proxy.upstream, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
        conn.request(self.command, path, headers=headers)
        answer = conn.getresponse()
        body = answer.read()
        conn.close()
        return answer.status, [(k, v) for k, v in answer.getheaders() if k.lower() not in HOP_HEADERS], body

    def _reply(self, status, headers, body, send_body=True):
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def _handle(self):
        query = dict(parse_qsl(urlsplit(self.path).query))
        kind = "pagelist" if query.get("comp") == "pagelist" else "range" if self.headers.get("Range") else "other"
        fault = self.proxy._fault_for(kind, self.headers.get("Range"))
        if fault is not None and fault.action == "status":
            body = b"<?xml version=\"1.0\"?><Error><Code>ServerBusy</Code><Message>Injected.</Message></Error>"
            return self._reply(fault.arg, [("x-ms-error-code", "ServerBusy"), ("Content-Type", "application/xml")],
                               body)
        if fault is not None and fault.action == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return None
        if fault is not None and fault.action == "call":
            fault.arg()
        if kind == "pagelist" and self.proxy.page_size:
            return self._paged_list(query)
        status, headers, body = self._upstream(self.path)
        if fault is not None and fault.action == "stall":
            self.send_response(status)
            for key, value in headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            time.sleep(fault.arg)
            self.close_connection = True
            return None
        return self._reply(status, headers, body, send_body=self.command != "HEAD")

    def _paged_list(self, query):
        """Azurite's whole page list, served page_size ranges at a time with NextMarker."""
        marker = int(query.pop("marker", "0") or 0)
        query.pop("maxresults", None)
        status, headers, body = self._upstream("%s?%s" % (urlsplit(self.path).path, urlencode(query)))
        if status != 200:
            return self._reply(status, headers, body)
        ranges = ET.fromstring(body).findall("PageRange")
        page = ranges[marker:marker + self.proxy.page_size]
        root = ET.Element("PageList")
        for item in page:
            root.append(item)
        if marker + self.proxy.page_size < len(ranges):
            ET.SubElement(root, "NextMarker").text = str(marker + self.proxy.page_size)
        else:
            ET.SubElement(root, "NextMarker")
        return self._reply(200, headers, ET.tostring(root, xml_declaration=True, encoding="utf-8"))

    def do_GET(self):
        try:
            self._handle()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_HEAD(self):
        self.do_GET()
