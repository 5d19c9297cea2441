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
