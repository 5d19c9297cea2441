# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SOAP calls over the session pyVmomi opened, with the answers handed to our own reader.

Everything about the conversation stays pyVmomi's: the request is written by the stub's serialiser
(same envelope, API version, request context), posted on a connection from the stub's pool (same TLS
context, verified certificates, ca_bundle, proxy tunnel) with the stub's session cookie, SOAPAction
and headers, and a new cookie in the answer updates the stub, as pyVmomi's InvokeMethod does. No
credential is read or kept here. Only the reading of the answer differs: its bytes go to read(),
chunk by chunk as they arrive. When read() finds a SOAP Fault, or something it does not handle
(soap_answer.Unsupported), pyVmomi's deserialiser reads the same bytes instead: faults come out as
the very vmodl exceptions pyVmomi raises, and unusual answers as pyVmomi objects for fallback().

send() posts a call and returns it unread (a Call), so that a caller can read another answer
meanwhile; Call.receive() reads it, Call.abandon() closes its connection instead.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import socket

from ansible.module_utils.six.moves import http_client
from ansible.module_utils.six.moves.http_cookies import SimpleCookie

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import ConnectionFailedError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.vsphere.soap_answer import (
    FaultAnswer,
    Unsupported,
)

try:
    from pyVmomi import SoapAdapter, vmodl
except ImportError:
    SoapAdapter = vmodl = None

CHUNK = 65536


def lean_stub(managed_object):
    """The SoapStubAdapter behind a pyVmomi managed object when calls can be made through it, else
    None (another kind of stub, e.g. a session-oriented or tunnelled one: keep pyVmomi's path)."""
    stub = getattr(managed_object, "_stub", None)
    if SoapAdapter is None or not isinstance(stub, SoapAdapter.SoapStubAdapter):
        return None
    return stub


def invoke(stub, managed_object, method, args, read, fallback, where="vSphere"):
    """Call `method` (a name) of managed_object with positional args; read(chunks) turns the answer
    bytes into the result, fallback(pyvmomi_result) does when read() cannot."""
    return send(stub, managed_object, method, args).receive(read, fallback, where)


def send(stub, managed_object, method, args):
    """Post the call and return it as a Call without waiting for the answer, so that the caller can
    read another answer meanwhile (the server prepares this one on its side)."""
    info = managed_object._GetMethodInfo(method)
    body = stub.SerializeRequest(managed_object, info, args)
    for modifier in stub.requestModifierList:
        body = modifier(body)
    headers = {
        "Cookie": stub.cookie,
        "SOAPAction": stub.versionId,
        "Content-Type": "text/xml; charset=%s" % SoapAdapter.XML_ENCODING,
        "User-Agent": "pyvmomi %s (hyper2kvm.migrate)" % getattr(SoapAdapter, "version_info_str", ""),
    }
    headers.update(getattr(stub, "_customHeaders", None) or {})
    compressed = getattr(stub, "_acceptCompressedResponses", False)
    if compressed:
        headers["Accept-Encoding"] = "gzip, deflate"
    conn = stub.GetConnection()
    call = Call(stub, info, conn, compressed)
    try:
        conn.request("POST", stub.path, body, headers)
    except BaseException:
        call.abandon()
        raise
    return call


class Call(object):
    """One posted request on its own connection from the stub's pool: receive() its answer once, or
    abandon() it (the connection is closed, never reused with half an answer in it)."""

    def __init__(self, stub, info, conn, compressed):
        self.stub = stub
        self.info = info
        self.conn = conn
        self.compressed = compressed

    def receive(self, read, fallback, where="vSphere"):
        stub, conn = self.stub, self.conn
        try:
            resp = conn.getresponse()
            _keep_cookie(stub, resp)
            if resp.status not in (200, 500):
                raise http_client.HTTPException("%s %s" % (resp.status, resp.reason))
            stream = _decoded(resp) if self.compressed else resp
            kept = []
            try:
                if resp.status != 200:
                    raise FaultAnswer()  # 500 carries a fault: pyVmomi's reading is the reference
                result = read(_chunks(stream, kept))
            except (FaultAnswer, Unsupported):
                kept.extend(_chunks(stream, []))
                result = fallback(_pyvmomi_result(stub, self.info, b"".join(kept), where))
            resp.read()
        except BaseException:
            self.abandon()
            raise
        stub.ReturnConnection(conn)
        return result

    def abandon(self):
        """As pyVmomi does after a failed call: the connection may hold half an answer, and the
        server may be sick; drop the pooled connections too."""
        self.conn.close()
        self.stub.DropConnections()


def _chunks(stream, kept):
    """The answer's bytes as they arrive; kept collects them for a second reading."""
    while True:
        data = stream.read(CHUNK)
        if not data:
            return
        kept.append(data)
        yield data


def _decoded(resp):
    encoding = (resp.getheader("Content-Encoding") or "identity").lower()
    if encoding == "gzip":
        return SoapAdapter.GzipReader(resp, encoding=SoapAdapter.GzipReader.GZIP)
    if encoding == "deflate":
        return SoapAdapter.GzipReader(resp, encoding=SoapAdapter.GzipReader.DEFLATE)
    return resp


def _keep_cookie(stub, resp):
    """A Set-Cookie in the answer renews the session cookie, for pyVmomi's later calls too."""
    cookie = resp.getheader("Set-Cookie") or resp.getheader("set-cookie")
    if not cookie:
        return
    stub.cookie = cookie
    session = SimpleCookie(cookie).get(SoapAdapter.COOKIE_NAME)
    if session:
        SoapAdapter.StubAdapterBase.SetSessionId(stub, session.value)


def _pyvmomi_result(stub, info, data, where):
    """pyVmomi's reading of an answer, raising the fault it holds like pyVmomi's InvokeMethod."""
    try:
        result = SoapAdapter.SoapResponseDeserializer(stub).Deserialize(io.BytesIO(data), info.result)
    except (vmodl.MethodFault, socket.error, http_client.HTTPException):
        raise
    except Exception as exc:  # pyVmomi raises whatever its parsing meets (KeyError, TypeError...)
        raise ConnectionFailedError(
            "%s sent an answer that pyVmomi cannot read either: %s: %s" % (where, type(exc).__name__, exc),
            fix="Check that the pyVmomi version supports this vCenter or ESXi release.")
    if isinstance(result, Exception):
        raise result
    return result
