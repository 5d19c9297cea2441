# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The whole vSphere inventory in one paged PropertyCollector query.

One ContainerView over the root folder selects every virtual machine together with the objects
needed to name what they point at (datastores, networks, port groups, hosts, clusters, folders,
datacenters); one RetrievePropertiesEx asks only for the property paths describe.py reads, and
ContinueRetrievePropertiesEx follows the continuation token page by page. Each object comes back as
a plain record (see to_plain), so everything after this file works without pyVmomi.

Each next page is asked for as soon as the token of the current answer is read (the token comes
before the objects), on a second connection of the session: the server collects and sends that page
while we read this one, instead of both sides taking turns (at 5,000 VMs that hid most of the
server's ~1 s).

The answers are read by our own SOAP reader (soap.py, soap_answer.py), straight into those records:
at 5,000 VMs pyVmomi's deserialisation into objects was about 80% of the discovery. pyVmomi still
logs in, writes the requests and owns the session; its reading of answers (to_record on its objects)
remains only as the fallback for answers our reader does not handle and for stubs we cannot post
through, and as the reference the tests compare our records with.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime

from ansible.module_utils.six.moves import http_client

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.vsphere import (
    connection,
    soap,
    soap_answer,
    soap_types,
)

try:
    from pyVmomi import vim, vmodl
    from pyVmomi.VmomiSupport import DataObject, ManagedObject
except ImportError:
    vim = vmodl = DataObject = ManagedObject = None

DEFAULT_PAGE_SIZE = 1000

VM_PATHS = (
    "name", "parent",
    "runtime.powerState", "runtime.connectionState", "runtime.host",
    "config.uuid", "config.instanceUuid", "config.guestId", "config.guestFullName",
    "config.version", "config.template", "config.firmware",
    "config.bootOptions.efiSecureBootEnabled", "config.bootOptions.bootOrder",
    "config.hardware.numCPU", "config.hardware.numCoresPerSocket", "config.hardware.memoryMB",
    "config.hardware.device", "config.changeTrackingEnabled", "config.keyId", "config.files.vmPathName",
    "snapshot", "guest.hostName", "guest.net",
)
# (type, property paths) of everything the view selects; a type covers its subtypes
# (Network covers DistributedVirtualPortgroup, ComputeResource covers clusters).
PROPERTY_SPECS = (
    ("VirtualMachine", VM_PATHS),
    ("Datastore", ("name",)),
    ("Network", ("name",)),
    ("DistributedVirtualPortgroup", ("key",)),
    ("HostSystem", ("name", "parent")),
    ("ComputeResource", ("name",)),
    ("Folder", ("name", "parent")),
    ("Datacenter", ("name", "parent")),
)


def moref(obj):
    """'Type:id', the key records use for managed objects (ids alone may repeat across types on ESXi)."""
    return "%s:%s" % (obj._wsdlName, obj._moId)


def to_plain(value):
    """A pyVmomi value as JSON-friendly data: data objects become dicts with their "_type" and the
    properties that are set, managed objects their moref() string, lists lists."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, ManagedObject):
        return moref(value)
    if isinstance(value, DataObject):
        out = {"_type": value._wsdlName}
        for prop in value._GetPropertyList():
            item = to_plain(getattr(value, prop.name, None))
            if item is not None and item != []:
                out[prop.name] = item
        return out
    if isinstance(value, (list, tuple)):
        return [to_plain(item) for item in value]
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return str(value)


def to_record(content):
    """One ObjectContent as {"_ref": "Type:id", <path>: value, ..., "_missing": {path: fault type}}."""
    record = {"_ref": moref(content.obj)}
    for prop in content.propSet or []:
        record[prop.name] = to_plain(prop.val)
    missing = dict((item.path, type(item.fault).__name__.split(".")[-1]) for item in content.missingSet or [])
    if missing:
        record["_missing"] = missing
    return record


def iterate_pages(first, follow, cancel):
    """Yield the objects of each page: first() returns the first RetrieveResult, follow(token) the
    next one, until a result carries no token. A caller that stops early makes us cancel(token), so
    the server can free what it kept for the rest."""
    result = first()
    while result is not None:
        token = getattr(result, "token", None)
        try:
            yield list(getattr(result, "objects", None) or [])
        except GeneratorExit:
            if token:
                try:
                    cancel(token)
                except Exception:  # best effort: the session may already be gone
                    pass
            raise
        if not token:
            return
        result = follow(token)


class InventoryQuery(object):
    """The paged inventory query over one ServiceInstance; round_trips counts PropertyCollector calls.

    lean=False reads the answers with pyVmomi (the reference path, for tests and comparisons).
    """

    def __init__(self, si, page_size=DEFAULT_PAGE_SIZE, where="vSphere", lean=True):
        if not isinstance(page_size, int) or page_size < 1:
            raise ValueError("page_size must be a positive integer")
        self.si = si
        self.page_size = page_size
        self.where = where
        self.lean = lean
        self.round_trips = 0

    def _filter_spec(self, view):
        pc = vmodl.query.PropertyCollector
        traverse = pc.TraversalSpec(name="inventory", path="view", skip=False, type=vim.view.ContainerView)
        return pc.FilterSpec(
            objectSet=[pc.ObjectSpec(obj=view, skip=True, selectSet=[traverse])],
            propSet=[pc.PropertySpec(type=_vim_type(kind), all=False, pathSet=list(paths))
                     for kind, paths in PROPERTY_SPECS],
        )

    def _call(self, method, *args, **kwargs):
        self.round_trips += 1
        return method(*args, **kwargs)

    def _calls(self, collector, view, pending):
        """(first, follow, cancel): the PropertyCollector calls, first and follow returning a page of
        records (soap_answer.Page) or None.

        On the lean path the next page is asked for the moment an answer's continuation token is
        read (it comes before the objects): the server prepares that page while we read the rest of
        this one. pending holds such posted calls (token -> soap.Call) until follow(token) reads
        them, or cancel(token) or the end of pages() abandons them.
        """
        spec = self._filter_spec(view)
        options = vmodl.query.PropertyCollector.RetrieveOptions(maxObjects=self.page_size)
        stub = soap.lean_stub(collector) if self.lean else None

        def cancel(token):
            call = pending.pop(token, None)
            if call is not None:
                call.abandon()
            collector.CancelRetrievePropertiesEx(token=token)

        if stub is None:
            return (lambda: _page(self._call(collector.RetrievePropertiesEx, specSet=[spec], options=options)),
                    lambda token: _page(self._call(collector.ContinueRetrievePropertiesEx, token=token)),
                    cancel)
        schema = soap_types.Schema(stub.version)

        def post(method, *args):
            return self._call(soap.send, stub, collector, method, args)

        def ask_next(token):
            try:
                pending[token] = post("ContinueRetrievePropertiesEx", token)
            except (OSError, http_client.HTTPException):
                pass  # asking ahead is a head start only: follow() asks again, and reports what fails

        def read(call):
            return call.receive(lambda chunks: soap_answer.read_answer(chunks, schema, self.where, ask_next),
                                _page, self.where)

        def follow(token):
            return read(pending.pop(token, None) or post("ContinueRetrievePropertiesEx", token))

        return lambda: read(post("RetrievePropertiesEx", [spec], options)), follow, cancel

    def pages(self):
        """Yield one list of records per page."""
        pending = {}
        with connection.translated_errors(self.where):
            content = self.si.RetrieveContent()
            types = [_vim_type(kind) for kind, _paths in PROPERTY_SPECS]
            view = content.viewManager.CreateContainerView(content.rootFolder, types, True)
            try:
                yield from iterate_pages(*self._calls(content.propertyCollector, view, pending))
            finally:
                for call in pending.values():  # asked for, never read: the query stopped or failed
                    call.abandon()
                try:
                    view.DestroyView()
                except Exception:  # the view dies with the session anyway
                    pass

    def records(self):
        return [record for page in self.pages() for record in page]


def _page(result):
    """A pyVmomi RetrieveResult (or None) as the Page our reader makes."""
    if result is None:
        return None
    return soap_answer.Page([to_record(item) for item in result.objects or []], result.token)


def _vim_type(kind):
    """pyVmomi's class for a vSphere type name ('DistributedVirtualPortgroup' is vim.dvs.*)."""
    return {"DistributedVirtualPortgroup": vim.dvs.DistributedVirtualPortgroup}.get(kind) or getattr(vim, kind)
