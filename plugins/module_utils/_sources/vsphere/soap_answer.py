# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""RetrievePropertiesEx / ContinueRetrievePropertiesEx answers, read straight into plain records.

pyVmomi turns every XML element of an answer into Python objects (5,000 VMs: about a million), and
query.to_plain() then turns those into dicts. Here the XML is read once, as it arrives, and each
ObjectContent becomes the record query.to_record() would have made from pyVmomi's objects: same keys,
same values (managed object references "Type:id", enums and strings as text, numbers, booleans,
datetimes in isoformat, binaries in base64, arrays as lists, data objects as dicts with their "_type"
and the properties pyVmomi would hold, in its order).

The parser is expat (xml.parsers.expat), the engine under ElementTree's iterparse, used directly:
it reports a DOCTYPE the moment it starts, so a document type declaration, and with it every entity
definition and external reference, is refused before anything is expanded (defusedxml's rules: the
answer is untrusted input); it reports namespace declarations, which xsi:type values need; and it
builds no element objects we would only throw away.

Three outcomes besides a page of records:
- MalformedAnswer: not a well-formed, complete, plausible answer (truncated, DTD or entities, a
  number that is not one...): a clear ConnectionFailedError, no fallback.
- FaultAnswer: the body is a SOAP Fault; soap.py lets pyVmomi read it, so callers see the very same
  vmodl exceptions (NotAuthenticated, InvalidProperty...) as before.
- Unsupported: valid SOAP this reader does not handle (a type or construct pyVmomi knows and we did
  not copy, e.g. a fault inside a value); soap.py then has pyVmomi read the same bytes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import collections
from xml.parsers import expat

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import ConnectionFailedError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.vsphere import soap_types
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.vsphere.soap_types import (
    ABSENT, ANY, ARRAY, BINARY, BOOL, DATA, DATETIME, ENUM, FLOAT, INT, MOREF, TEXT,
)

try:
    from pyVmomi import Iso8601
except ImportError:
    Iso8601 = None

SOAPENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSI_TYPE = "http://www.w3.org/2001/XMLSchema-instance type"  # expat's "namespace localname"
SEP = " "

Page = collections.namedtuple("Page", "objects token")  # what iterate_pages() reads, records in objects


class MalformedAnswer(ConnectionFailedError):
    """The server's answer is not a well-formed, complete RetrievePropertiesEx answer."""


class Unsupported(Exception):
    """Valid SOAP this reader does not handle: read it with pyVmomi instead."""


class FaultAnswer(Exception):
    """The answer is a SOAP Fault: pyVmomi turns it into the vmodl exception callers expect."""


# Roles of the elements around the values. A value element's frame has role VALUE and a Kind.
(SKIP, ENVELOPE, HEADER, BODY, RESPONSE, RETURNVAL, TOKEN, OBJECTS, OBJ, PROPSET, NAME, MISSING, PATH,
 LOCALIZED_FAULT, FAULT, VALUE, DOCUMENT) = range(17)
# element name -> role, below each structural role; names not listed are SKIP where the parent is
# HEADER and Unsupported elsewhere
CHILDREN = {
    RETURNVAL: {"token": TOKEN, "objects": OBJECTS},
    OBJECTS: {"obj": OBJ, "propSet": PROPSET, "missingSet": MISSING},
    PROPSET: {"name": NAME},   # and "val", the value
    MISSING: {"path": PATH, "fault": LOCALIZED_FAULT},
    LOCALIZED_FAULT: {"fault": FAULT, "localizedMessage": SKIP},
}
NO_CHILDREN = {}


# An open element is a list (cheaper than an object, and a page opens ~200,000 of them):
# [role, Kind of a value, what it builds (record, dict of properties, list), key where its value goes
#  in the parent data object, append it to an array property, type name of a reference or fault]
ROLE, KIND, BUILT, KEY, APPEND, TYPE = range(6)


def _frame(role, built=None, key=None):
    return [role, None, built, key, False, None]


_SKIP = _frame(SKIP)


class AnswerReader(object):
    """Feed it the bytes of one answer (feed()), then close(): the Page, or None when the answer
    holds no result (what pyVmomi returns as None). on_token(token) is called as soon as the
    continuation token is read (it comes before the objects), while the rest is still to come."""

    def __init__(self, schema, where="vSphere", on_token=None):
        self.schema = schema
        self.where = where
        self.on_token = on_token
        self.objects = []
        self.token = None
        self.has_result = False
        self.complete = False
        self._namespaces = {}  # prefix -> the URIs declared for it, innermost last
        self._uris = {}  # prefix -> the URI it stands for here
        self._val_kinds = {}  # xsi:type of a property value -> (Kind, prefix, URI), see _start
        self._stack = [_frame(DOCUMENT)]
        self._text = ""
        parser = self._parser = expat.ParserCreate(namespace_separator=SEP)
        parser.buffer_text = True  # one text callback per text node, not one per buffer edge
        parser.buffer_size = 65536
        # Untrusted input: no DTD, hence no entity definitions; expat never loads external entities
        # unless a handler does, and ours refuse.
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        parser.StartDoctypeDeclHandler = self._refuse_doctype
        parser.EntityDeclHandler = self._refuse_entity
        parser.UnparsedEntityDeclHandler = self._refuse_entity
        parser.ExternalEntityRefHandler = self._refuse_entity
        parser.StartNamespaceDeclHandler = self._start_namespace
        parser.EndNamespaceDeclHandler = self._end_namespace
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._characters

    # --- feeding ---------------------------------------------------------------------------------

    def feed(self, data):
        self._parse(data, False)

    def close(self):
        self._parse(b"", True)
        if not self.complete:
            raise self._malformed("it ends before the end of the SOAP envelope")
        if not self.has_result:
            return None
        return Page(self.objects, self.token)

    def _parse(self, data, final):
        try:
            self._parser.Parse(data, final)
        except expat.ExpatError as exc:
            raise self._malformed("it is not well-formed XML (%s at line %s, column %s)"
                                  % (expat.ErrorString(exc.code), exc.lineno, exc.offset))

    def _malformed(self, why):
        return MalformedAnswer(
            "%s sent an answer to the inventory query that cannot be read: %s." % (self.where, why),
            fix="Check that hostname and port point at vCenter or ESXi itself (not a proxy or portal "
                "answering in its place), then retry; a broken-off answer is usually a dropped connection.")

    # --- security and namespaces -------------------------------------------------------------------

    def _refuse_doctype(self, *args):
        raise self._malformed("it carries a document type declaration (DTD), which a SOAP answer never "
                              "does; it is refused so that no entity is expanded")

    def _refuse_entity(self, *args):
        raise self._malformed("it declares or references an external entity")

    def _start_namespace(self, prefix, uri):
        self._namespaces.setdefault(prefix, []).append(uri)
        self._uris[prefix] = uri

    def _end_namespace(self, prefix):
        uris = self._namespaces[prefix]
        uris.pop()
        self._uris[prefix] = uris[-1] if uris else ""

    def _qname(self, value):
        """(namespace, local name) of a QName attribute value (xsi:type="xsd:string"), resolved
        with the declarations in scope, like pyVmomi does."""
        prefix, _sep, name = value.rpartition(":")
        return self._uri(prefix or None), name

    def _uri(self, prefix):
        return self._uris.get(prefix, "")

    # --- elements: the hot path, kept flat ------------------------------------------------------------

    def _characters(self, data):
        self._text += data

    def _start(self, tag, attrs):
        self._text = ""
        stack = self._stack
        parent = stack[-1]
        role = parent[ROLE]
        if role != VALUE:
            stack.append(_SKIP if role == SKIP else self._structure_child(role, tag, attrs))
            return
        kind = parent[KIND]
        xsi = attrs.get(XSI_TYPE) if attrs else None
        if xsi is None:
            entry = kind.children.get(tag) or self._child(kind, tag)
        else:
            # memo: (entry, prefix of the type, the namespace it stood for); valid while it still does
            memo = kind.typed_children.get((tag, xsi))
            if memo is not None and self._uris.get(memo[1], "") == memo[2]:
                entry = memo[0]
            else:
                entry = self._typed_child(kind, tag, xsi)
        kind, key, append = entry
        code = kind.code
        if code == DATA:
            stack.append([VALUE, kind, {"_type": kind.name}, key, append, None])
        elif code == ARRAY:
            stack.append([VALUE, kind, [], key, append, None])
        elif code == MOREF:
            stack.append([VALUE, kind, None, key, append, self._reference_type(attrs)])
        elif code < ANY:
            stack.append([VALUE, kind, None, key, append, None])
        else:
            self._unsupported_value(kind)

    def _end(self, tag):
        frame = self._stack.pop()
        if frame[ROLE] != VALUE:
            if frame[ROLE] != SKIP:
                self._end_structure(frame)
            return
        kind = frame[KIND]
        code = kind.code
        if code == TEXT:
            value = self._text
        elif code == DATA:
            value = frame[BUILT]  # elements come in schema order, the order to_plain() writes
            for name in kind.required:
                if name not in value:
                    value = _with_defaults(kind, value)
                    break
        elif code == ARRAY:
            value = frame[BUILT]
        else:
            value = self._leaf(kind, code, frame[TYPE])
        parent = self._stack[-1]
        if parent[ROLE] != VALUE:
            parent[BUILT] = value  # the propSet's val
        elif parent[KIND].code == ARRAY:
            parent[BUILT].append(value)
        elif frame[APPEND]:
            items = parent[BUILT].get(frame[KEY])
            if items is None:
                parent[BUILT][frame[KEY]] = [value]
            else:
                items.append(value)
        elif value != []:  # to_plain() leaves empty arrays out of data objects
            parent[BUILT][frame[KEY]] = value

    # --- values: what the hot path looks up once per type --------------------------------------------

    def _child(self, kind, tag):
        """(Kind, key, append) of an element without xsi:type inside a value of `kind`, memoised
        on the Kind by tag."""
        name = tag.rpartition(SEP)[2]
        if kind.code == ARRAY:
            item = kind.item
            entry = (self.schema.kind(item.Item if issubclass(item, list) else item), None, False)
        elif kind.code == DATA:
            prop = kind.props.get(name)
            if prop is None:
                raise Unsupported("property %s of %s" % (name, kind.name))
            key, declared, is_array = prop
            entry = (self.schema.kind(declared.Item if is_array else declared), key, is_array)
        else:
            raise self._malformed("a %s value holds an element (<%s>)" % (kind.pytype.__name__, name))
        kind.children[tag] = entry
        return entry

    def _typed_child(self, kind, tag, xsi):
        """(Kind, key, append) of an element with an xsi:type inside a value of `kind`, memoised
        on the Kind by (tag, xsi:type) with the namespace the type's prefix stands for here."""
        name = tag.rpartition(SEP)[2]
        if kind.code == ARRAY:
            entry = self._typed(kind.item, xsi), None, False
        elif kind.code != DATA:
            raise self._malformed("a %s value holds an element (<%s>)" % (kind.pytype.__name__, name))
        else:
            prop = kind.props.get(name)
            if prop is None:
                raise Unsupported("property %s of %s" % (name, kind.name))
            key, declared, is_array = prop
            child = self._typed(declared, xsi)
            entry = child, key, is_array and child.code != ARRAY
        prefix = xsi.rpartition(":")[0] or None
        kind.typed_children[(tag, xsi)] = (entry, prefix, self._uri(prefix))
        return entry

    def _typed(self, declared, xsi):
        ns, name = self._qname(xsi)
        try:
            return self.schema.typed(declared, ns, name)
        except soap_types.UnknownType as exc:
            raise Unsupported("type %s" % exc)

    def _unsupported_value(self, kind):
        if kind.code == ANY:
            raise Unsupported("a value without xsi:type where any type may come")
        raise Unsupported("values of type %s" % kind.pytype.__name__)

    def _leaf(self, kind, code, type_name):
        text = self._text
        if code == MOREF:
            return "%s:%s" % (type_name, text)
        try:
            if code == INT:
                return int(text)
            if code == ENUM:
                if text not in kind.values:
                    raise ValueError("not a value of %s" % kind.name)
                return text
            if code == BOOL:
                return _boolean(text)
            if code == FLOAT:
                return float(text)
            if code == DATETIME:
                return _datetime(text)
            if code == BINARY:
                return base64.b64encode(base64.b64decode(text)).decode("ascii")
        except (ValueError, TypeError, binascii.Error) as exc:
            raise self._malformed("%r is not a valid %s value (%s)" % (
                text[:80], kind.name or kind.pytype.__name__, exc))
        raise Unsupported("values of type %s" % kind.pytype.__name__)

    # --- the structure around the values ------------------------------------------------------------

    def _structure_child(self, role, tag, attrs):
        ns, _sep, name = tag.rpartition(SEP)
        child = CHILDREN.get(role, NO_CHILDREN).get(name)  # the frequent case first
        if child is not None:
            if child == OBJECTS:
                return _frame(OBJECTS, built={"_ref": None})
            if child == OBJ:
                return _frame(OBJ, key=self._reference_type(attrs))
            if child == SKIP:
                return _SKIP
            if child == FAULT:
                # only its type matters, kept on the enclosing LocalizedMethodFault; its content is skipped
                self._stack[-1][TYPE] = self._fault_type(attrs)
                return _SKIP
            if child == MISSING:
                # path and fault name as pyVmomi leaves them when the elements are absent
                return _frame(MISSING, built=["", "NoneType"])
            return _frame(child)
        if role == PROPSET and name == "val":
            # DynamicProperty.val is declared anyType: its xsi:type says what it is
            xsi = attrs.get(XSI_TYPE)
            if xsi is None:
                raise Unsupported("a property value without xsi:type")
            memo = self._val_kinds.get(xsi)
            if memo is not None and self._uris.get(memo[1], "") == memo[2]:
                kind = memo[0]
            else:
                kind = self._typed(object, xsi)
                prefix = xsi.rpartition(":")[0] or None
                self._val_kinds[xsi] = (kind, prefix, self._uri(prefix))
            if kind.code >= ANY:
                self._unsupported_value(kind)
            built = {"_type": kind.name} if kind.code == DATA else [] if kind.code == ARRAY else None
            type_name = self._reference_type(attrs) if kind.code == MOREF else None
            return [VALUE, kind, built, "val", False, type_name]
        if role == DOCUMENT:
            if (ns, name) != (SOAPENV, "Envelope"):
                raise self._malformed("it is not a SOAP envelope (the document is <%s>)" % name)
            return _frame(ENVELOPE)
        if role == ENVELOPE:
            if ns == SOAPENV and name == "Header":
                return _SKIP
            if ns == SOAPENV and name == "Body":
                return _frame(BODY)
            raise self._malformed("<%s> is not part of a SOAP envelope" % name)
        if role == BODY:
            if ns == SOAPENV and name == "Fault":
                raise FaultAnswer()
            if not name.endswith("Response"):
                raise self._malformed("the body holds <%s> instead of a response" % name)
            return _frame(RESPONSE)
        if role == RESPONSE:
            if name != "returnval":
                raise Unsupported("<%s> in the response" % name)
            self.has_result = True
            return _frame(RETURNVAL)
        raise Unsupported("<%s> where it was not expected" % name)

    def _end_structure(self, frame):
        role = frame[ROLE]
        parent = self._stack[-1]
        if role == OBJECTS:
            record = frame[BUILT]
            if record["_ref"] is None:
                raise self._malformed("an object came without its reference (<obj>)")
            if frame[KEY]:
                record["_missing"] = frame[KEY]
            self.objects.append(record)
        elif role == OBJ:
            parent[BUILT]["_ref"] = "%s:%s" % (frame[KEY], self._text)
        elif role == PROPSET:
            if frame[KEY] is None:
                raise self._malformed("a property came without its name")
            parent[BUILT][frame[KEY]] = frame[BUILT]
        elif role == NAME:
            parent[KEY] = self._text
        elif role == MISSING:
            path, fault = frame[BUILT]
            if parent[KEY] is None:
                parent[KEY] = {}
            parent[KEY][path] = fault
        elif role == PATH:
            parent[BUILT][0] = self._text
        elif role == LOCALIZED_FAULT:
            if frame[TYPE] is None:
                raise self._malformed("a missing property came without its fault")
            parent[BUILT][1] = frame[TYPE]
        elif role == TOKEN:
            self.token = self._text
            if self.on_token is not None:
                self.on_token(self.token)
        elif role == ENVELOPE:
            self.complete = True

    def _reference_type(self, attrs):
        """The WSDL type name of a managed object reference, from its type attribute."""
        type_attr = attrs.get("type")
        if not type_attr:
            raise self._malformed("a managed object reference came without its type")
        try:
            return self.schema.managed_name(*self._qname(type_attr))
        except soap_types.UnknownType as exc:
            raise self._malformed("a managed object reference names an unknown type (%s)" % exc)

    def _fault_type(self, attrs):
        xsi = attrs.get(XSI_TYPE)
        try:
            if xsi is None:
                return self.schema.fault_name(None, None)
            return self.schema.fault_name(*self._qname(xsi))
        except soap_types.UnknownType as exc:
            raise Unsupported("fault type %s" % exc)


def _with_defaults(kind, got):
    """A data object that lacks a required property, as pyVmomi holds it: False, "" or 0 in its place."""
    value = {"_type": kind.name}
    for name, default in kind.order:
        item = got.get(name, default)
        if item is not ABSENT:
            value[name] = item
    return value


_BOOLEANS = {"true": True, "false": False, "1": True, "0": False}


def _boolean(text):
    # pyVmomi's reading of xsd:boolean: 0, 1, and true or false in any case
    value = _BOOLEANS.get(text)
    if value is None:
        value = _BOOLEANS.get(text.lower())
    if value is None:
        raise ValueError("not a boolean")
    return value


def _datetime(text):
    # pyVmomi's own ISO 8601 reader, so that time zones and fractions come out exactly as before
    value = Iso8601.ParseISO8601(text)
    if value is None:
        raise ValueError("not an ISO 8601 date and time")
    return value.isoformat()


def read_answer(chunks, schema, where="vSphere", on_token=None):
    """The Page (or None) of one answer given as an iterable of byte strings."""
    reader = AnswerReader(schema, where, on_token)
    for chunk in chunks:
        reader.feed(chunk)
    return reader.close()
