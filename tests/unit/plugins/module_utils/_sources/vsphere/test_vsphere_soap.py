# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""soap.invoke over a stub whose connection answers captured bytes: the session cookie and headers
go out as pyVmomi sends them, faults and unusual answers go to pyVmomi, connections go back to the
pool only after a complete answer. (The real conversation runs in tests/e2e/test_vsphere_lean_parser.py.)"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import os

import pytest

pytest.importorskip("pyVmomi")

from pyVmomi import SoapAdapter, vim, vmodl  # noqa: E402

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.vsphere import (  # noqa: E402
    query, soap, soap_answer, soap_types)

HERE = os.path.join(os.path.dirname(__file__), "fixtures")
VERSION = "vim.version.version12"


def fixture(name):
    with open(os.path.join(HERE, name), "rb") as handle:
        return handle.read()


class Response(io.BytesIO):
    def __init__(self, status, data, headers=None):
        super(Response, self).__init__(data)
        self.status = status
        self.reason = "Whatever"
        self.headers = headers or {}

    def getheader(self, name, default=None):
        return self.headers.get(name, default)


class Connection(object):
    def __init__(self, response):
        self.response = response
        self.sent = None
        self.closed = False

    def request(self, method, path, body, headers):
        self.sent = (method, path, body, headers)

    def getresponse(self):
        return self.response

    def close(self):
        self.closed = True


class Stub(SoapAdapter.SoapStubAdapter):
    """A real SoapStubAdapter whose pool hands out one scripted connection."""

    def __init__(self, response):
        super(Stub, self).__init__(host="vc.example", version=VERSION)
        self.cookie = 'vmware_soap_session="s1"'
        self.conn = Connection(response)
        self.returned = self.dropped = False

    def GetConnection(self):
        return self.conn

    def ReturnConnection(self, conn):
        self.returned = True

    def DropConnections(self):
        self.dropped = True


def call(stub, read=None, fallback=None):
    collector = vmodl.query.PropertyCollector("propertyCollector", stub)
    schema = soap_types.Schema(VERSION)
    return soap.invoke(stub, collector, "ContinueRetrievePropertiesEx", ["h2k-1"],
                       read or (lambda chunks: soap_answer.read_answer(chunks, schema)),
                       fallback or query._page, "vc.example:443")


def test_request_goes_out_on_the_stubs_session_and_the_page_is_ours():
    stub = Stub(Response(200, fixture("continue-last-page.xml")))
    page = call(stub)
    method, path, body, headers = stub.conn.sent
    assert (method, path) == ("POST", "/sdk")
    assert headers["Cookie"] == 'vmware_soap_session="s1"' and headers["SOAPAction"] == stub.versionId
    assert b"<ContinueRetrievePropertiesEx" in body and b">h2k-1</token>" in body
    assert len(page.objects) == 2 and page.token is None
    assert stub.returned and not stub.dropped and not stub.conn.closed
    assert soap.lean_stub(vmodl.query.PropertyCollector("propertyCollector", stub)) is stub
    assert soap.lean_stub(vmodl.query.PropertyCollector("propertyCollector", None)) is None


def test_a_new_cookie_renews_the_session():
    stub = Stub(Response(200, fixture("continue-last-page.xml"),
                         {"Set-Cookie": 'vmware_soap_session="s2"; Path=/; HttpOnly'}))
    call(stub)
    assert stub.cookie.startswith('vmware_soap_session="s2"') and stub.sessionId == "s2"


def test_a_fault_raises_pyvmomis_exception_and_drops_the_connection():
    stub = Stub(Response(500, fixture("fault-not-authenticated.xml")))
    with pytest.raises(vim.fault.NotAuthenticated):
        call(stub)
    assert stub.dropped and stub.conn.closed


def test_what_the_reader_does_not_handle_is_read_by_pyvmomi_from_the_same_bytes():
    data = fixture("continue-seeded-vms.xml")
    seen = []

    def read(chunks):
        next(iter(chunks))  # the reader gives up after the first chunk
        raise soap_answer.Unsupported("test")

    def fallback(result):
        seen.append(result)
        return query._page(result)

    page = call(Stub(Response(200, data)), read=read, fallback=fallback)
    assert isinstance(seen[0], vmodl.query.PropertyCollector.RetrieveResult)
    assert page == soap_answer.read_answer([data], soap_types.Schema(VERSION))


def test_a_malformed_answer_drops_the_connection():
    stub = Stub(Response(200, fixture("continue-last-page.xml")[:500]))
    with pytest.raises(soap_answer.MalformedAnswer):
        call(stub)
    assert stub.dropped and stub.conn.closed and not stub.returned


def test_other_http_statuses_are_http_errors():
    stub = Stub(Response(503, b"busy"))
    with pytest.raises(soap.http_client.HTTPException, match="503"):
        call(stub)


# --- calls posted ahead, and the query asking for the next page while it reads this one ----------------

class LoggedResponse(Response):
    """A Response that logs when it has been read to its end."""

    def __init__(self, log, name, data):
        super(LoggedResponse, self).__init__(200, data)
        self.log, self.name = log, name

    def read(self, size=-1):
        data = super(LoggedResponse, self).read(size)
        if not data and ("read to the end", self.name) not in self.log:
            self.log.append(("read to the end", self.name))
        return data


class LoggedConnection(Connection):
    def __init__(self, log, name, response):
        super(LoggedConnection, self).__init__(response)
        self.log, self.name = log, name

    def request(self, method, path, body, headers):
        super(LoggedConnection, self).request(method, path, body, headers)
        token = body.split(b"</token>")[0].rsplit(b">", 1)[-1] if b"</token>" in body else b""
        self.log.append(("request", self.name, token.decode()))


class PoolStub(Stub):
    """A SoapStubAdapter that hands out one new scripted connection per call, in order."""

    def __init__(self, pages):
        super(PoolStub, self).__init__(None)
        self.log = []
        self.conns = [LoggedConnection(self.log, name, LoggedResponse(self.log, name, fixture(name)))
                      for name in pages]
        self.handed = []
        self.returned_conns = []

    def GetConnection(self):
        conn = self.conns[len(self.handed)]
        self.handed.append(conn)
        return conn

    def ReturnConnection(self, conn):
        self.returned_conns.append(conn)


def test_a_posted_call_is_read_when_asked_for():
    stub = Stub(Response(200, fixture("continue-last-page.xml")))
    collector = vmodl.query.PropertyCollector("propertyCollector", stub)
    posted = soap.send(stub, collector, "ContinueRetrievePropertiesEx", ["h2k-1"])
    assert b">h2k-1</token>" in stub.conn.sent[2] and stub.conn.response.tell() == 0
    page = posted.receive(lambda chunks: soap_answer.read_answer(chunks, soap_types.Schema(VERSION)), query._page)
    assert len(page.objects) == 2 and stub.returned and not stub.conn.closed


def test_an_abandoned_call_closes_its_connection():
    stub = Stub(Response(200, fixture("continue-last-page.xml")))
    collector = vmodl.query.PropertyCollector("propertyCollector", stub)
    soap.send(stub, collector, "ContinueRetrievePropertiesEx", ["h2k-1"]).abandon()
    assert stub.conn.closed and stub.dropped and not stub.returned


def inventory_calls(stub, pending):
    inventory = query.InventoryQuery(None, page_size=2)
    collector = vmodl.query.PropertyCollector("propertyCollector", stub)
    view = vim.view.ContainerView("session[1]52", stub)
    return inventory, inventory._calls(collector, view, pending)


def test_the_next_page_is_asked_for_before_this_one_is_read_to_its_end():
    pages = ["retrieve-first-page.xml", "continue-seeded-vms.xml", "continue-last-page.xml"]
    stub, pending = PoolStub(pages), {}
    inventory, calls = inventory_calls(stub, pending)
    got = list(query.iterate_pages(*calls))
    assert got == [soap_answer.read_answer([fixture(name)], soap_types.Schema(VERSION)).objects for name in pages]
    assert stub.log == [
        ("request", pages[0], ""),
        ("request", pages[1], "h2k-1"),  # the token of the first answer, before its end
        ("read to the end", pages[0]),
        ("request", pages[2], "h2k-3"),
        ("read to the end", pages[1]),
        ("read to the end", pages[2]),
    ]
    assert stub.returned_conns == stub.handed and not any(conn.closed for conn in stub.handed)
    assert inventory.round_trips == 3 and pending == {}


def test_stopping_early_abandons_the_page_asked_for_ahead():
    stub, pending = PoolStub(["retrieve-first-page.xml", "continue-seeded-vms.xml"]), {}
    first, follow, cancel = inventory_calls(stub, pending)[1]
    cancelled = []
    pages = query.iterate_pages(first, follow, lambda token: cancelled.append(token) or cancel(token))
    assert len(next(pages)) > 0 and list(pending) == ["h2k-1"]
    pages.close()  # cancel() then talks to the stub through pyVmomi; its failure is ignored
    assert cancelled == ["h2k-1"] and pending == {}
    assert stub.handed[1].closed and stub.handed[1] not in stub.returned_conns


def test_a_failure_to_ask_ahead_only_costs_the_head_start():
    pages = ["retrieve-first-page.xml", "continue-seeded-vms.xml", "continue-seeded-vms.xml", "continue-last-page.xml"]
    stub, pending = PoolStub(pages), {}

    def refuse(method, path, body, headers):
        raise OSError("connection refused")
    stub.conns[1].request = refuse
    got = list(query.iterate_pages(*inventory_calls(stub, pending)[1]))
    assert len(got) == 3 and stub.conns[1].closed  # page 2 was asked for again, on the next connection
    assert [entry for entry in stub.log if entry[0] == "request"] == [
        ("request", pages[0], ""), ("request", pages[2], "h2k-1"), ("request", pages[3], "h2k-3")]
