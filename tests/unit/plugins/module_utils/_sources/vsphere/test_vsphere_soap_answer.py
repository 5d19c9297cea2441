# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lean reader of RetrievePropertiesEx answers (soap_answer.py) against pyVmomi's reading of the
same bytes: answers captured from the seeded simulator (fixtures/), edited variants of them, and
hostile XML."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import json
import os
import re

import pytest

pytest.importorskip("pyVmomi")

from pyVmomi import SoapAdapter, vim, vmodl  # noqa: E402

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.vsphere import (  # noqa: E402
    query, soap, soap_answer, soap_types)

HERE = os.path.join(os.path.dirname(__file__), "fixtures")
VERSION = "vim.version.version12"  # vSphere API 6.7
PAGES = ["retrieve-first-page.xml", "continue-seeded-vms.xml", "continue-last-page.xml", "vanished-vm.xml"]
INFO = vmodl.query.PropertyCollector._GetMethodInfo("RetrievePropertiesEx")


def fixture(name):
    with open(os.path.join(HERE, name), "rb") as handle:
        return handle.read()


def lean(data, chunk=65536):
    chunks = [data[i:i + chunk] for i in range(0, len(data), chunk)]
    return soap_answer.read_answer(chunks, soap_types.Schema(VERSION), where="vc.example:443")


def reference(data):
    """What the pyVmomi path makes of the same bytes: its objects through query.to_record()."""
    stub = SoapAdapter.SoapStubAdapter(host="127.0.0.1", version=VERSION)
    return query._page(SoapAdapter.SoapResponseDeserializer(stub).Deserialize(io.BytesIO(data), INFO.result))


def edit(name, pattern, replacement, count=1):
    data, done = re.subn(pattern.encode(), replacement.encode(), fixture(name), count=count)
    assert done, "the fixture no longer contains %r" % pattern
    return data


# --- captured answers: the same records as pyVmomi + to_record ----------------------------------------

@pytest.mark.parametrize("name", PAGES)
def test_captured_answers_read_like_pyvmomi(name):
    data = fixture(name)
    got, want = lean(data), reference(data)
    assert got.token == want.token
    assert got.objects == want.objects
    assert json.dumps(got.objects) == json.dumps(want.objects)  # same key order too


def test_chunk_boundaries_do_not_matter():
    data = fixture("continue-seeded-vms.xml")
    assert lean(data, chunk=7).objects == lean(data).objects


def test_what_the_seeded_page_holds():
    page = lean(fixture("continue-seeded-vms.xml"))
    vms = dict((r["name"], r) for r in page.objects if r["_ref"].startswith("VirtualMachine:"))
    snap = vms["rhel9-snap"]["snapshot"]
    assert snap["_type"] == "VirtualMachineSnapshotInfo"
    assert snap["currentSnapshot"].startswith("VirtualMachineSnapshot:")
    tree = snap["rootSnapshotList"][0]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$", tree["createTime"])
    assert tree["quiesced"] is False  # required boolean: present although pyVmomi defaulted it
    devices = vms["deb12-efi"]["config.hardware.device"]
    disks = [d for d in devices if d["_type"] == "VirtualDisk"]
    assert [d["capacityInKB"] for d in disks] == [10 * 1024 ** 2, 20 * 1024 ** 2]
    assert disks[0]["backing"]["_type"] == "VirtualDiskFlatVer2BackingInfo"
    assert disks[0]["backing"]["datastore"].startswith("Datastore:")
    assert page.token


def test_last_page_has_no_token():
    page = lean(fixture("continue-last-page.xml"))
    assert page.token is None and [r["_ref"].split(":")[0] for r in page.objects] == ["DistributedVirtualPortgroup"] * 2


def test_a_vanished_vm_reports_managed_object_not_found():
    page = lean(fixture("vanished-vm.xml"))
    gone = [r for r in page.objects if "_missing" in r]
    assert len(gone) == 1 and set(gone[0]["_missing"].values()) == {"ManagedObjectNotFound"}
    assert "name" in gone[0]["_missing"] and "name" not in gone[0]


def test_a_missing_required_property_gets_pyvmomis_default():
    data = edit("continue-seeded-vms.xml", r"<capacityInKB>\d+</capacityInKB>", "")
    got, want = lean(data), reference(data)
    assert got.objects == want.objects and json.dumps(got.objects) == json.dumps(want.objects)


@pytest.mark.parametrize("xsi, text, value", [
    ("xsd:long", "42", 42),
    ("xsd:short", "-3", -3),
    ("xsd:double", "1.5", 1.5),
    ("xsd:boolean", "1", True),
    ("xsd:boolean", "false", False),
    ("xsd:boolean", "TRUE", True),
    ("xsd:boolean", "0", False),
    ("xsd:dateTime", "2024-02-29T10:11:12.1234567-05:30", None),
    ("xsd:base64Binary", "aGVs\nbG8=", "aGVsbG8="),
    ("VirtualMachinePowerState", "suspended", "suspended"),
    ("ArrayOfString", "<string>a</string><string>b</string>", ["a", "b"]),
    ("ArrayOfInt", "", []),
])
def test_primitive_values_read_like_pyvmomi(xsi, text, value):
    data = edit("continue-last-page.xml", r'XMLSchema-instance:type="xsd:string">DC0_DVPG0<',
                'XMLSchema-instance:type="%s">%s<' % (xsi, text))
    got, want = lean(data), reference(data)
    assert got.objects == want.objects
    if value is not None:
        assert got.objects[0]["name"] == value


def test_the_token_is_reported_before_the_objects_are_read():
    data = fixture("continue-seeded-vms.xml")
    chunks = [data[i:i + 64] for i in range(0, len(data), 64)]
    fed, reported = [], []

    def feeding():
        for chunk in chunks:
            fed.append(chunk)
            yield chunk
    page = soap_answer.read_answer(feeding(), soap_types.Schema(VERSION),
                                   on_token=lambda token: reported.append((token, len(fed))))
    assert reported == [("h2k-3", (data.index(b"</token>") + len("</token>")) // 64 + 1)]
    assert page.objects == lean(data).objects and page.token == "h2k-3"


def spied_schema():
    """A Schema that records the (namespace, name) pairs it is asked to look up."""
    schema = soap_types.Schema(VERSION)
    asked, lookup = [], schema._lookup

    def spy(ns, name, **kwargs):
        asked.append((ns, name))
        return lookup(ns, name, **kwargs)
    schema._lookup = spy
    return schema, asked


def test_a_prefix_bound_again_is_looked_up_again():
    """Type names are remembered per element and xsi:type together with the namespace their prefix
    stood for: a prefix bound to another namespace further on is looked up again (pyVmomi then
    guesses the type by its name), never taken for the type it named before."""
    ns = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    prefixed = edit("continue-seeded-vms.xml", ns, ns + ' xmlns:v="urn:vim25"').replace(
        b'XMLSchema-instance:type="Description"', b'XMLSchema-instance:type="v:Description"')
    assert lean(prefixed).objects == reference(prefixed).objects == lean(fixture("continue-seeded-vms.xml")).objects
    last = prefixed.rindex(b'<deviceInfo XMLSchema-instance:type="v:Description"')
    rebound = prefixed[:last] + b'<deviceInfo xmlns:v="urn:elsewhere" ' + prefixed[last + len(b"<deviceInfo "):]
    schema, asked = spied_schema()
    assert soap_answer.read_answer([rebound], schema).objects == reference(rebound).objects
    assert ("urn:vim25", "Description") in asked and ("urn:elsewhere", "Description") in asked
    # the same for property values: xsd:string in the second port group's name
    second = edit("continue-last-page.xml",
                  r'<val (xmlns:XMLSchema-instance="[^"]*" XMLSchema-instance:type="xsd:string">DC0_DVPG1)',
                  r'<val xmlns:xsd="urn:vim25" \1')
    schema, asked = spied_schema()
    assert soap_answer.read_answer([second], schema).objects == reference(second).objects
    assert ("http://www.w3.org/2001/XMLSchema", "string") in asked and ("urn:vim25", "string") in asked


def test_no_result_reads_as_none():
    data = (b'<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
            b'<soapenv:Body><RetrievePropertiesExResponse xmlns="urn:vim25"/></soapenv:Body></soapenv:Envelope>')
    assert lean(data) is None and reference(data) is None


# --- faults: pyVmomi reads them, so callers get the same exceptions ----------------------------------

def test_a_fault_is_left_to_pyvmomi():
    with pytest.raises(soap_answer.FaultAnswer):
        lean(fixture("fault-not-authenticated.xml"))


@pytest.mark.parametrize("data, fault", [
    (fixture("fault-not-authenticated.xml"), vim.fault.NotAuthenticated),
    (edit("fault-not-authenticated.xml",
          r'<NotAuthenticatedFault xmlns="urn:vim25" xsi:type="NotAuthenticated">.*</NotAuthenticatedFault>',
          '<InvalidPropertyFault xmlns="urn:vim25" xsi:type="InvalidProperty"><name>no.such</name>'
          '</InvalidPropertyFault>'), vmodl.query.InvalidProperty),
    (edit("fault-not-authenticated.xml",
          r'<NotAuthenticatedFault xmlns="urn:vim25" xsi:type="NotAuthenticated">.*</NotAuthenticatedFault>',
          '<ManagedObjectNotFoundFault xmlns="urn:vim25" xsi:type="ManagedObjectNotFound">'
          '<obj type="ContainerView">session[1]2</obj></ManagedObjectNotFoundFault>'),
     vmodl.fault.ManagedObjectNotFound),
])
def test_faults_become_pyvmomis_exceptions(data, fault):
    stub = SoapAdapter.SoapStubAdapter(host="127.0.0.1", version=VERSION)
    with pytest.raises(fault):
        soap._pyvmomi_result(stub, INFO, data, "vc.example:443")


# --- what the reader leaves to pyVmomi -----------------------------------------------------------------

@pytest.mark.parametrize("pattern, replacement", [
    (r"<key>(\d+)</key>", r"<key>\1</key><futureProperty>1</futureProperty>"),        # unknown property
    (r' XMLSchema-instance:type="xsd:string">DC0_DVPG0<', r">DC0_DVPG0<"),              # val without type
    (r'XMLSchema-instance:type="xsd:string">DC0_DVPG0<', r'XMLSchema-instance:type="NoSuchType">x<'),
])
def test_answers_it_does_not_handle_are_unsupported(pattern, replacement):
    name = "continue-seeded-vms.xml" if "key" in pattern else "continue-last-page.xml"
    with pytest.raises(soap_answer.Unsupported):
        lean(edit(name, pattern, replacement))


# --- broken and hostile answers: clear errors ----------------------------------------------------------

BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                             for i in range(1, 10))
                  + b']><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
                    b'<soapenv:Body><RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><token>&lol9;'
                    b'</token></returnval></RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>')
EXTERNAL = (b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
            b'<RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><token>&xxe;</token></returnval>'
            b'</RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>')


@pytest.mark.parametrize("data, message", [
    (BILLION_LAUGHS, "document type declaration"),
    (EXTERNAL, "document type declaration"),
    (BILLION_LAUGHS.replace(b'<!ENTITY lol "lol">', b"").split(b"]>", 1)[1].replace(b"&lol9;", b"&lol;"),
     "undefined entity"),
    (fixture("continue-seeded-vms.xml")[:9000], "not well-formed"),
    (b"", "not well-formed"),
    (b"<html><body>502 Bad Gateway</body></html>", "not a SOAP envelope"),
    (edit("continue-last-page.xml", r'type="xsd:string">DC0_DVPG0<', 'type="xsd:int">DC0_DVPG0<'),
     "'DC0_DVPG0' is not a valid int value"),
    (edit("continue-last-page.xml", r'type="xsd:string">DC0_DVPG0<', 'type="xsd:boolean">maybe<'), "boolean"),
    (edit("continue-last-page.xml", r'type="xsd:string">DC0_DVPG0<', 'type="xsd:dateTime">yesterday<'),
     "ISO 8601"),
    (edit("continue-last-page.xml", r'type="xsd:string">DC0_DVPG0<', 'type="xsd:base64Binary">a<'),
     "not a valid binary value"),
    (edit("continue-last-page.xml", r'type="xsd:string">DC0_DVPG0<', 'type="VirtualMachinePowerState">upper<'),
     "VirtualMachinePowerState"),
    (edit("continue-last-page.xml", r'type="xsd:string">DC0_DVPG0<', 'type="xsd:string">a<b>c</b><'),
     "a str value holds an element (<b>)"),
    (edit("continue-last-page.xml", r'<obj type="DistributedVirtualPortgroup">', "<obj>"),
     "reference came without its type"),
    (edit("continue-last-page.xml", r'<obj type="DistributedVirtualPortgroup">', '<obj type="Nonsense">'),
     "unknown type"),
])
def test_broken_and_hostile_answers_are_refused_clearly(data, message):
    with pytest.raises(soap_answer.MalformedAnswer) as caught:
        lean(data)
    assert message in str(caught.value)
    assert str(caught.value).startswith("vc.example:443 sent an answer to the inventory query that cannot be read")


def test_truncated_after_the_last_object_is_refused():
    data = fixture("continue-last-page.xml")
    with pytest.raises(soap_answer.MalformedAnswer, match="not well-formed"):
        lean(data[:data.index(b"</returnval>")])
