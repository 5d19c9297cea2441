# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the lean SOAP reader (soap_answer.py) needs to know about vSphere types.

An answer only types what is polymorphic (xsi:type); everything else takes the type its property is
declared with, so reading `<key>200</key>` as the number 200, or knowing that a `<deviceInfo>` is a
"Description", needs the schema. pyVmomi carries that schema for the API version the session speaks:
we read it from there (never pyVmomi's objects), once per type, into small Kind records, and resolve
names exactly as pyVmomi's deserialiser does (same lookup, same narrowing to the session's version),
so that both paths type every value alike.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

try:
    from pyVmomi import SoapAdapter, VmomiSupport
except ImportError:
    SoapAdapter = VmomiSupport = None

# Kind.code: how a value is read. Leaves convert their text; DATA and ARRAY hold child elements.
TEXT, INT, FLOAT, BOOL, DATETIME, BINARY, ENUM, MOREF, DATA, ARRAY, ANY, UNSUPPORTED = range(12)
ABSENT = object()  # a property that to_plain() leaves out


class UnknownType(Exception):
    """A type name pyVmomi's schema does not know."""


class Kind(object):
    """One vSphere type as the reader uses it.

    name:  the WSDL name ("VirtualDisk"), the "_type" of data objects
    props: DATA only, element name -> (property name, declared type, is an array)
    order: DATA only, (property name, value when the element is absent or ABSENT) in pyVmomi's
           property order, which is the order to_plain() writes them in
    required: DATA only, the properties that have such a value
    item:  ARRAY only, the declared type of the items
    values: ENUM only, the allowed values
    children, typed_children: the reader's memos of what the elements inside a value of this type
           are, by tag and by (tag, xsi:type)
    """

    __slots__ = ("code", "name", "pytype", "props", "order", "required", "item", "values", "children",
                 "typed_children")

    def __init__(self, code, pytype, name=None):
        self.code = code
        self.pytype = pytype
        self.name = name
        self.props = self.order = self.required = self.item = self.values = None
        self.children = {}
        self.typed_children = {}


class Schema(object):
    """The types of one API version (the stub's), with every answer memoised: a page of 1,000 VMs
    asks a few hundred thousand times about a few dozen types."""

    def __init__(self, version):
        self.version = version
        # pyVmomi's own name lookup (with its special cases for ManagedObjectReference and names
        # outside their namespace); the deserialiser instance itself is never fed any XML.
        self._lookup = SoapAdapter.SoapDeserializer(None, version=version).LookupWsdlType
        self._kinds = {}
        self._typed = {}
        self._names = {}

    def kind(self, pytype):
        """The Kind of a value declared as pytype that carries no xsi:type."""
        kind = self._kinds.get(pytype)
        if kind is None:
            kind = self._kinds[pytype] = self._make(VmomiSupport.GetCompatibleType(pytype, self.version))
        return kind

    def typed(self, declared, ns, name):
        """The Kind of a value declared as `declared` whose xsi:type is {ns}name.

        Like pyVmomi: the declared type wins for TypeName, MethodName and PropertyPath, and when both
        are arrays; otherwise the dynamic type does.
        """
        key = (declared, ns, name)
        kind = self._typed.get(key)
        if kind is None:
            if SoapAdapter.isDynamicType(declared):
                chosen = declared
            else:
                dynamic = self._find(ns, name, True)
                if issubclass(dynamic, list) and issubclass(declared, list):
                    chosen = declared
                else:
                    _check_narrows(declared, dynamic, name)
                    chosen = dynamic
            kind = self._typed[key] = self.kind(chosen)
        return kind

    def managed_name(self, ns, name):
        """The WSDL name of the managed object type a reference's type attribute names."""
        key = (ns, name)
        found = self._names.get(key)
        if found is None:
            pytype = self._find(ns, name, False)
            if not issubclass(pytype, VmomiSupport.ManagedObject):
                raise UnknownType("%s is not a managed object type" % name)
            found = self._names[key] = pytype._wsdlName
        return found

    def fault_name(self, ns, name):
        """The short name query.to_record() reports for a fault of xsi:type {ns}name (or of no
        xsi:type, name None: the declared vmodl.MethodFault)."""
        if name is None:
            pytype = VmomiSupport.GetVmodlType("vmodl.MethodFault")
        else:
            pytype = self._find(ns, name, False)
        pytype = VmomiSupport.GetCompatibleType(pytype, self.version)
        return pytype.__name__.split(".")[-1]

    def _find(self, ns, name, allow_reference):
        try:
            return self._lookup(ns, name, allowManagedObjectReference=allow_reference)
        except (KeyError, AttributeError, TypeError):
            raise UnknownType(name)

    def _make(self, pytype):
        vs = VmomiSupport
        if pytype is bool:
            return Kind(BOOL, pytype)
        if issubclass(pytype, vs.Enum):
            kind = Kind(ENUM, pytype, getattr(pytype, "_wsdlName", None))
            kind.values = frozenset(getattr(pytype, "values", None) or ())
            return kind if kind.values else Kind(UNSUPPORTED, pytype)
        if issubclass(pytype, str):
            return Kind(TEXT, pytype)
        if issubclass(pytype, int):
            return Kind(INT, pytype)
        if issubclass(pytype, float):
            return Kind(FLOAT, pytype)
        if pytype is datetime.datetime:
            return Kind(DATETIME, pytype)
        if issubclass(pytype, bytes):
            return Kind(BINARY, pytype)
        if issubclass(pytype, vs.ManagedObject):
            return Kind(MOREF, pytype)
        if issubclass(pytype, list):
            kind = Kind(ARRAY, pytype)
            kind.item = pytype.Item
            return kind
        if issubclass(pytype, vs.DataObject) and not issubclass(pytype, Exception):
            # faults inside values are read by pyVmomi as LocalizedMethodFault, a shape not worth
            # copying for properties discovery never asks for: the reader hands them to pyVmomi
            return _data_kind(pytype)
        if pytype is object:
            return Kind(ANY, pytype)
        return Kind(UNSUPPORTED, pytype)  # TypeName, MethodName, faults


def _data_kind(pytype):
    kind = Kind(DATA, pytype, pytype._wsdlName)
    kind.props, order = {}, []
    for prop in pytype._GetPropertyList():
        is_array = issubclass(prop.type, list)
        kind.props[prop.name] = (prop.name, prop.type, is_array)
        order.append((prop.name, _default(prop, is_array)))
    kind.order = tuple(order)
    kind.required = tuple(name for name, default in order if default is not ABSENT)
    return kind


def _default(prop, is_array):
    """What a data object holds for a property its element left out, as to_plain() writes it: pyVmomi
    (DataObject.__init__) fills required booleans, strings and numbers with False, "" and 0."""
    ptype = prop.type
    if is_array or prop.flags & VmomiSupport.F_OPTIONAL or issubclass(ptype, VmomiSupport.Enum):
        return ABSENT
    if ptype is bool:
        return False
    if issubclass(ptype, str):
        return ""
    if issubclass(ptype, int):
        return 0
    if issubclass(ptype, float):
        return 0.0
    return ABSENT


def _check_narrows(declared, dynamic, name):
    """A data object's xsi:type must be the declared type or a subtype (pyVmomi's CheckField refuses
    anything else); references and primitives are typed by their own rules."""
    vs = VmomiSupport
    if (isinstance(declared, type) and issubclass(declared, vs.DataObject)
            and not issubclass(dynamic, declared)):
        raise UnknownType("%s where %s is expected" % (name, declared._wsdlName))
