# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Safe XML parsing: hostile documents are refused by name, real descriptors parse."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils import _xml
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import InvalidInputError, UnsafeInputError

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "ovf")
OVF1 = "http://schemas.dmtf.org/ovf/envelope/1"


def fixture(*parts):
    with open(os.path.join(FIXTURES, *parts), "rb") as handle:
        return handle.read()


@pytest.mark.parametrize("name", sorted(n for n in os.listdir(FIXTURES) if n.endswith(".ovf")))
def test_real_descriptors_parse(name):
    root = _xml.parse(fixture(name), name)
    assert _xml.local_name(root.tag) == "Envelope"
    assert _xml.descendants(root, "VirtualSystem")


@pytest.mark.parametrize("name, words", [
    ("xxe.ovf", ["DOCTYPE", "XXE"]),
    ("xxe-external-dtd.ovf", ["DOCTYPE"]),
    ("billion-laughs.ovf", ["DOCTYPE", "entity expansion"]),
])
def test_hostile_fixtures_are_refused(name, words):
    with pytest.raises(UnsafeInputError) as err:
        _xml.parse(fixture("hostile", name), "descriptor " + name)
    for word in words + [name]:
        assert word in str(err.value)


@pytest.mark.parametrize("doc, words", [
    # An internal subset with nothing in it is still refused: we never need a DTD.
    (b'<!DOCTYPE Envelope []><Envelope/>', ["DOCTYPE"]),
    (b'<!DOCTYPE Envelope PUBLIC "-//x//y" "http://evil.example/ovf.dtd"><Envelope/>', ["DOCTYPE"]),
    (b'<!DOCTYPE x [<!ENTITY % p SYSTEM "http://evil.example/p.dtd"> %p;]><x/>', ["DOCTYPE"]),
    (b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/shadow">]><x>&e;</x>', ["DOCTYPE"]),
])
def test_inline_hostile_documents(doc, words):
    with pytest.raises(UnsafeInputError) as err:
        _xml.parse(doc)
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize("doc, words", [
    (b"<Envelope><Item></Envelope>", ["not well-formed", "mismatched tag", "Line 1"]),
    (b"", ["not well-formed", "no element found"]),
    (b"<x>&undefined;</x>", ["undefined entity"]),
    (b'<?xml version="1.0" encoding="x-no-such-charset"?><x/>', ["not well-formed"]),
])
def test_malformed_is_invalid(doc, words):
    with pytest.raises(InvalidInputError) as err:
        _xml.parse(doc, "descriptor t.ovf")
    for word in words + ["t.ovf"]:
        assert word in str(err.value)


def test_size_cap():
    doc = b"<x>" + b" " * 200 + b"</x>"
    assert _xml.parse(doc, max_bytes=len(doc)).tag == "x"
    with pytest.raises(UnsafeInputError) as err:
        _xml.parse(doc, "big.ovf", max_bytes=len(doc) - 1)
    assert "limit" in str(err.value) and "big.ovf" in str(err.value)


def test_predefined_entities_text_and_encodings():
    doc = u'<?xml version="1.0" encoding="UTF-16"?><a x="&quot;q&quot;">caf\u00e9 &amp; &#65;</a>'
    root = _xml.parse(doc.encode("utf-16"))
    assert root.text == u"caf\u00e9 & A" and root.get("x") == '"q"'
    assert _xml.parse(u"<a>\u00e9</a>").text == u"\u00e9"  # text input is accepted too


def test_comments_and_processing_instructions_are_dropped():
    root = _xml.parse(b"<?xml version='1.0'?><!-- c --><a><?pi x?><b/><!-- d --></a>")
    assert [c.tag for c in root] == ["b"]


def test_namespace_helpers():
    doc = ('<Envelope xmlns="%s" xmlns:ovf="%s" xmlns:vmw="http://www.vmware.com/schema/ovf">'
           '<Disk ovf:diskId="d1" vmw:diskId="shadow" vmw:key="k" plain="p"/>'
           '<Disk diskId="d2"/><Name>  web01 </Name><Empty>  </Empty></Envelope>' % (OVF1, OVF1))
    root = _xml.parse(doc)
    assert _xml.local_name(root.tag) == "Envelope" and _xml.namespace(root.tag) == OVF1
    assert _xml.namespace("plain") == "" and _xml.local_name("plain") == "plain"
    first, second = _xml.children(root, "Disk")
    assert _xml.attr(first, "diskId") == "d1"      # the OVF-qualified one wins over vmw:
    assert _xml.attr(second, "diskId") == "d2"     # unqualified accepted
    assert _xml.attr(first, "key") == "k"          # any namespace as a last resort
    assert _xml.attr(first, "plain") == "p"
    assert _xml.attr(first, "missing", "dflt") == "dflt" and _xml.attr(None, "x") is None
    assert _xml.text(root, "Name") == "web01"
    assert _xml.text(root, "Empty", "none") == "none" and _xml.text(root, "Missing") is None
    assert _xml.child(root, "Missing") is None and _xml.child(root, "Disk") is first
