# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Safe XML parsing for untrusted documents (OVF descriptors, vSphere and libvirt XML).

The stdlib parsers expand internal entities and will happily read a DOCTYPE, which is how
"billion laughs" and external-entity (XXE) attacks work. defusedxml is not available on every
conversion host, so we do what it does with the stdlib alone: drive expat ourselves, refuse any
DOCTYPE, entity declaration or external entity reference the moment expat reports it, and feed the
remaining (harmless) events into an ElementTree builder. One pass, no second parser.

OVF documents mix several namespaces and tools disagree on them (OVF 1.x vs 2.0, qualified vs
unqualified attributes, rasd vs sasd/epasd items), so the helpers below look things up by local
name and accept an attribute in the OVF namespaces or unqualified.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import xml.etree.ElementTree as ET
from xml.parsers import expat

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    InvalidInputError,
    UnsafeInputError,
)

# A real OVF descriptor is a few KiB to a few hundred KiB; anything near this is not one.
MAX_BYTES = 16 * 1024 * 1024

OVF_NS = (
    "http://schemas.dmtf.org/ovf/envelope/1",
    "http://schemas.dmtf.org/ovf/envelope/2",
)
RASD_NS = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
VSSD_NS = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"
VMW_NS = "http://www.vmware.com/schema/ovf"
VBOX_NS = "http://www.virtualbox.org/ovf/machine"


class _Refused(Exception):
    """Raised from inside an expat handler; carries the reason out of Parse()."""


def _refuse(reason):
    def handler(*_args):
        raise _Refused(reason)
    return handler


def _qname(name):
    # expat with namespace_separator="}" reports "uri}local"; ElementTree spells it "{uri}local".
    return "{" + name if "}" in name else name


def parse(data, what="XML document", max_bytes=MAX_BYTES):
    """Parse bytes (or text) into an ElementTree root element, refusing anything unsafe.

    Raises UnsafeInputError for a DOCTYPE, entity declarations, external entities or oversized
    input, InvalidInputError for malformed XML.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > max_bytes:
        raise UnsafeInputError(
            "%s is %d bytes, more than the %d-byte limit for a descriptor; refusing to parse it."
            % (what, len(data), max_bytes),
            fix="Check that the path names an OVF descriptor, not a disk image.")

    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    # Never read parameter entities or an external DTD, whatever the document says.
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse(
        "a DOCTYPE declaration (DTDs can define entities: XXE / entity expansion)")
    parser.EntityDeclHandler = _refuse("an ENTITY declaration (entity expansion, 'billion laughs')")
    parser.UnparsedEntityDeclHandler = _refuse("an unparsed ENTITY declaration")
    parser.ExternalEntityRefHandler = _refuse("an external entity reference (XXE)")
    parser.StartElementHandler = lambda tag, attrs: builder.start(
        _qname(tag), dict((_qname(k), v) for k, v in attrs.items()))
    parser.EndElementHandler = lambda tag: builder.end(_qname(tag))
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
    except _Refused as exc:
        raise UnsafeInputError(
            "%s contains %s; refusing to parse it." % (what, exc),
            fix="OVF descriptors never need a DOCTYPE or entities: re-export the VM or remove them.")
    except LookupError as exc:  # pyexpat asks Python's codecs for encodings it lacks
        raise InvalidInputError("%s is not well-formed XML: %s." % (what, exc),
                                fix="Save the descriptor as UTF-8.")
    except expat.ExpatError as exc:
        raise InvalidInputError(
            "%s is not well-formed XML: %s." % (what, expat.ErrorString(exc.code)),
            fix="Line %s, column %s. Re-export the VM; the descriptor is damaged."
                % (exc.lineno, exc.offset))
    return builder.close()


def local_name(tag):
    """'{uri}Item' -> 'Item'."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def namespace(tag):
    """'{uri}Item' -> 'uri' ('' when unqualified)."""
    return tag[1:].split("}", 1)[0] if isinstance(tag, str) and tag.startswith("{") else ""


def children(elem, name):
    """Direct children whose local name is `name`, in document order."""
    return [c for c in elem if local_name(c.tag) == name]


def child(elem, name):
    """The first direct child named `name`, or None."""
    for c in elem:
        if local_name(c.tag) == name:
            return c
    return None


def descendants(elem, name):
    """Every element below `elem` whose local name is `name`, in document order."""
    return [e for e in elem.iter() if e is not elem and local_name(e.tag) == name]


def text(elem, name=None, default=None):
    """Stripped text of `elem` (or of its first child `name`); `default` when empty or absent."""
    if elem is not None and name is not None:
        elem = child(elem, name)
    if elem is None or elem.text is None or not elem.text.strip():
        return default
    return elem.text.strip()


def attr(elem, name, default=None):
    """Attribute `name` in an OVF namespace, unqualified, or (last resort) in any namespace.

    Tools disagree: ovftool writes ovf:id, some generators write id, VMware extensions use
    vmw:key. Preferring OVF then unqualified keeps a foreign attribute from shadowing ours.
    """
    if elem is None:
        return default
    for ns in OVF_NS:
        value = elem.get("{%s}%s" % (ns, name))
        if value is not None:
            return value
    if name in elem.attrib:
        return elem.attrib[name]
    for key, value in elem.attrib.items():
        if local_name(key) == name:
            return value
    return default
