# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Export the disks of one vSphere VM to local qcow2 or raw files (vsphere_disk_export).

Find the VM (one inventory query, as discovery makes it), plan its disks and their outputs, make the
disks hold still (power.py: the VM is off, or is shut down / powered off, or a snapshot is taken and
removed on every way out), fetch each disk's chain through a transport (transports.py; the datastore
HTTPS endpoint by default), convert it with disk_convert's code (_disk/convert.py, which checks the
downloaded descriptors as the untrusted input they are), and record what was made.

Each output gets a record (<output>.export.json) naming the disk it was made from; a rerun that finds
the output and a matching record changes nothing and touches neither the VM nor the datastore.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import ssl
import time

from ansible_collections.hyper2kvm.migrate.plugins.module_utils import _interrupt, _model, _records
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._disk import convert
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    InvalidInputError,
    MigrationError,
    UnsupportedError,
)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.vsphere import (
    connection,
    datastore,
    describe,
    filters,
    power as _power,
    query,
    transports,
)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._transfer import destination, http

FORMATS = ("qcow2", "raw")
RECORD_SUFFIX = ".export.json"
RECORD_VERSION = 1
MIB = 1024 * 1024
RETRY_BACKOFF = 1.0
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
# Backings whose data is not a file on a datastore (or is encrypted with keys vSphere holds).
UNSUPPORTED_BACKINGS = {
    "rdm": "a raw device mapping (its data is on a LUN, not in a datastore file)",
    "host_device": "a host device",
    "pmem": "on persistent memory",
}


class Request(object):
    """What the caller asked for, validated once."""

    def __init__(self, dest_dir, name=None, folder=None, vm=None, dest_format="qcow2", power=None,
                 shutdown_timeout=300, shutdown_fallback="fail", quiesce=False, transport="datastore",
                 workers=4, chunk_size_mib=16, retries=5, timeout=60, keep_vmdk=False, force=False,
                 vddk_libdir=None, vddk_transports=None):
        if vm is not None:
            _model.validate(vm)
            if (vm.get("source") or {}).get("type") != "vsphere":
                raise InvalidInputError("vm is a description of a %s VM, not of a vSphere one." % vm["source"].get("type"),
                                        fix="Pass a description from hyper2kvm.migrate.vsphere_vm_info.")
        elif not name:
            raise InvalidInputError("Name the VM: name (with folder if names repeat), or vm (a description from "
                                    "vsphere_vm_info).")
        for option, value, choices in (("dest_format", dest_format, FORMATS),
                                       ("power", power, (None,) + _power.POWER_CHOICES),
                                       ("shutdown_fallback", shutdown_fallback, _power.FALLBACK_CHOICES),
                                       ("transport", transport, transports.TRANSPORTS)):
            if value not in choices:
                raise InvalidInputError("%s must be one of %s." % (option, ", ".join(c for c in choices if c)))
        for option, value, low, high in (("workers", workers, 1, 32), ("chunk_size_mib", chunk_size_mib, 1, 256),
                                         ("retries", retries, 0, 20), ("timeout", timeout, 5, 3600),
                                         ("shutdown_timeout", shutdown_timeout, 0, 24 * 3600)):
            if not low <= int(value) <= high:
                raise InvalidInputError("%s must be between %d and %d, got %s." % (option, low, high, value))
        self.dest_dir = os.path.abspath(dest_dir)
        self.name, self.folder, self.vm = name, folder, vm
        self.dest_format, self.power, self.transport = dest_format, power, transport
        self.shutdown_timeout, self.shutdown_fallback, self.quiesce = int(shutdown_timeout), shutdown_fallback, bool(quiesce)
        self.workers, self.chunk_size, self.retries, self.timeout = int(workers), int(chunk_size_mib) * MIB, int(retries), int(timeout)
        self.keep_vmdk, self.force = bool(keep_vmdk), bool(force)
        self.vddk_libdir, self.vddk_transports = vddk_libdir, list(vddk_transports or [])


def output_base(vm_name, disk_id):
    """'web01-scsi0-1' for disk scsi0:1 of VM web01: a file name whatever the VM is called."""
    return _UNSAFE.sub("_", "%s-%s" % (vm_name, disk_id.replace(":", "-"))).lstrip(".") or "disk"


# ---- finding the VM and planning ----------------------------------------------------------------------------------

def find_vm(records, req, server):
    """(record, description) of the one VM the request names."""
    vms, _warnings = describe.describe_inventory(records, server=server)
    if req.vm is not None:
        wanted = req.vm["source"].get("id")
        found = [vm for vm in vms if vm["source"]["id"] == wanted]
        uuid = req.vm["source"].get("instance_uuid")
        if found and uuid and found[0]["source"].get("instance_uuid") != uuid:
            found = []
        if not found:
            raise MigrationError("VM %s (%s) is not in the inventory of %s any more." % (req.vm["name"], wanted, server),
                                 fix="Discover the VMs again with vsphere_vm_info and pass the new description.")
    else:
        found = filters.select(vms, filters.Criteria(names=[req.name], folder=req.folder))
        if not found:
            raise MigrationError("No VM named %s%s on %s." % (req.name, " in %s" % req.folder if req.folder else "", server),
                                 fix="Check the name (and folder) with vsphere_vm_info.")
        if len(found) > 1:
            raise MigrationError("%d VMs are named %s: %s." % (len(found), req.name, ", ".join(
                "%s in %s" % (vm["source"]["id"], vm["source"].get("folder")) for vm in found)),
                fix="Set folder to the one you mean, or pass vm (a description from vsphere_vm_info).")
    desc = found[0]
    record = [r for r in records if r["_ref"] == "VirtualMachine:%s" % desc["source"]["id"]][0]
    return record, desc


def current(plan, fmt):
    """Whether the output and its record show this very disk exported in this format."""
    record, path = plan["record"], plan["path"]
    return bool(record and record.get("version") == RECORD_VERSION and record.get("source") == plan["source"]
                and record.get("format") == fmt and os.path.isfile(path)
                and record.get("output") == _records.file_identity(path))


def plan_disk(disk, desc, req):
    base = output_base(desc["name"], disk["id"])
    path = os.path.join(req.dest_dir, "%s.%s" % (base, req.dest_format))
    src = disk["source"]
    plan = {"id": disk["id"], "key": src.get("key"), "base": base, "path": path,
            "staging": os.path.join(req.dest_dir, "%s-vmdk" % base), "capacity_bytes": disk["capacity_bytes"],
            "chain": list(src.get("chain") or []), "record": _records.read_json(path + RECORD_SUFFIX),
            "disk": disk,
            "source": {"server": desc["source"].get("server"), "vm_id": desc["source"]["id"],
                       "instance_uuid": desc["source"].get("instance_uuid"), "disk_key": src.get("key"),
                       "files": list(src.get("chain") or []), "capacity_bytes": disk["capacity_bytes"]}}
    plan["up_to_date"] = current(plan, req.dest_format)
    return plan


def check_disks(plans, how, vm_name):
    for plan in plans:
        src = plan["disk"]["source"]
        why = UNSUPPORTED_BACKINGS.get(src.get("backing"))
        if why:
            raise UnsupportedError("Disk %s of VM %s is %s." % (plan["id"], vm_name, why),
                                   fix="Copy its data another way, or detach it from the VM before the export.")
        if src.get("encrypted"):
            raise UnsupportedError("Disk %s of VM %s is encrypted by vSphere." % (plan["id"], vm_name),
                                   fix="Decrypt the VM in vSphere (VM Policies > Edit VM Storage Policies) first.")
        if not plan["chain"]:
            raise UnsupportedError("Disk %s of VM %s has no backing file on a datastore." % (plan["id"], vm_name))
        if how == "snapshot" and src.get("independent"):
            raise UnsupportedError("Disk %s of VM %s is independent: snapshots do not include it, so it cannot be "
                                   "read while the VM runs." % (plan["id"], vm_name),
                                   fix="Use power: shutdown or power: poweroff for this VM.")


def check_destination(plans, req, findings, check_mode):
    destination.check(plans, req.dest_dir, req.force, findings, check_mode, "vsphere_disk_export")


def steps(plans, req, how, vm_name):
    """What check mode reports the task would do."""
    would = {
        "shutdown": ["shut down the guest of VM %s, wait up to %d s, then %s" % (
            vm_name, req.shutdown_timeout, "power it off" if req.shutdown_fallback == "poweroff" else "fail")],
        "poweroff": ["power off VM %s" % vm_name],
        "snapshot": ["take a snapshot of VM %s (no memory, %squiesced); remove it once the disks are read"
                     % (vm_name, "" if req.quiesce else "not ")],
    }.get(how, [])
    for plan in plans:
        would.append("read disk %s (%d bytes, %s) over the %s transport into %s"
                     % (plan["id"], plan["capacity_bytes"], " <- ".join(plan["chain"]), req.transport, plan["staging"]))
        would.append("convert it to %s %s" % (req.dest_format, plan["path"]))
    return would


# ---- doing it -----------------------------------------------------------------------------------------------------

def _verify_setting(args):
    """What requests verifies the datastore endpoint with: the same trust as the API session."""
    if not args.get("validate_certs", True):
        return False
    if args.get("ca_bundle"):
        return args["ca_bundle"]
    paths = ssl.get_default_verify_paths()  # the system store, as ssl_context() uses; not certifi's
    for candidate in (paths.cafile, paths.capath):
        if candidate and os.path.exists(candidate):
            return candidate
    return True


def _client(si, args, req):
    cookie = datastore.session_cookie(getattr(si._stub, "cookie", None))
    client = http.Client(verify=_verify_setting(args), workers=req.workers, timeout=req.timeout, retries=req.retries,
                         backoff=RETRY_BACKOFF, headers={"Cookie": cookie})
    # Only our options decide the proxy and the trust store, as for the API session.
    client.session.trust_env = False
    if args.get("proxy_host"):
        proxy = "http://%s:%d" % (args["proxy_host"], int(args["proxy_port"]))
        client.session.proxies = {"https": proxy, "http": proxy}
    return client


def _transport(req, si, args, vm, client, dc_path, plans, report):
    if req.transport == "nfc":
        return transports.NfcTransport(client, args["hostname"], [p["disk"] for p in plans], report)
    if req.transport == "vddk":
        context = connection.ssl_context(args.get("validate_certs", True), args.get("ca_bundle"))
        return transports.VddkTransport(args, vm.vm_id, req.dest_format, context, libdir=req.vddk_libdir,
                                        transports=req.vddk_transports)
    reader = datastore.Reader(client, datastore.base_url(args["hostname"], args.get("port") or 443), dc_path)
    return transports.DatastoreTransport(reader, req.chunk_size, req.workers)


def _fetch_all(transport, vm, snapshot, plans, chains):
    fetched = {}
    with transport.opened(vm, snapshot) as opened:
        for plan in plans:
            chain = chains.get(plan["key"]) or plan["chain"]
            if not os.path.isdir(plan["staging"]):
                os.mkdir(plan["staging"], 0o700)
            fetched[plan["id"]] = opened.fetch(plan, chain, plan["staging"])
    return fetched


def _finish(plan, got, req, vm_name):
    """Convert what was fetched (unless the transport wrote the output), record it, tidy up."""
    stats, started = got["stats"], time.monotonic()
    converted = None
    if got["kind"] == "file":
        converted = convert.convert(convert.Request(got["path"], plan["path"], src_format=got["format"],
                                                    dest_format=req.dest_format, force=req.force))
    if not req.keep_vmdk:
        datastore.discard(plan["staging"])
    seconds = stats.get("seconds") or 0.0
    entry = {
        "id": plan["id"], "path": plan["path"], "format": req.dest_format, "size_bytes": plan["capacity_bytes"],
        "chain": plan["chain"], "transport": req.transport,
        "vmdk_path": got.get("path") if req.keep_vmdk and got["kind"] == "file" else None,
        "files": stats.get("files") or [], "bytes_transferred": stats.get("bytes_transferred"),
        "ranges": stats.get("requests"), "resumed": stats.get("resumed", False), "seconds": seconds,
        "bytes_per_second": int(stats["bytes_transferred"] / seconds) if seconds and stats.get("bytes_transferred") else None,
        "convert_seconds": round(time.monotonic() - started, 3) if converted else None,
        "actual_size": os.stat(plan["path"]).st_blocks * 512, "changed": True,
    }
    _records.write_json(plan["path"] + RECORD_SUFFIX, {
        "version": RECORD_VERSION, "source": plan["source"], "format": req.dest_format,
        "output": _records.file_identity(plan["path"]), "vm": vm_name, "written_at": int(time.time()), "export": entry})
    return entry


def _unchanged_entry(plan):
    entry = dict(plan["record"].get("export") or {}, changed=False, bytes_transferred=0, resumed=False)
    entry.update(path=plan["path"], actual_size=os.stat(plan["path"]).st_blocks * 512)
    return entry


def _run(si, args, record, desc, todo, req, how, result, records):
    where = connection.endpoint(args["hostname"], args.get("port") or 443)
    vm = _power.Vm(si, desc["source"]["id"], where)
    entries = []
    try:
        with _interrupt.raising_signals():
            if how == "shutdown":
                result["actions"].extend(vm.shutdown(req.shutdown_timeout, req.shutdown_fallback))
            elif how == "poweroff":
                vm.power_off()
                result["actions"].append("powered the VM off")
            dc_path = datastore.datacenter_path(records, record["_ref"])
            with _client(si, args, req) as client:
                transport = _transport(req, si, args, vm, client, dc_path, todo, result.setdefault("lease", {}))
                if how == "snapshot":
                    stale = _power.stale_snapshots(record.get("snapshot"))
                    if stale:
                        result["actions"].append("removed snapshots left by an earlier export: %s"
                                                 % ", ".join(vm.remove_stale(stale)))
                    report = result["snapshot"] = {}
                    with vm.snapshot(report, req.quiesce) as snapshot:
                        fetched = _fetch_all(transport, vm, snapshot, todo, vm.snapshot_chains(snapshot))
                    result["actions"].append("took snapshot %s and removed it" % report["name"])
                else:
                    fetched = _fetch_all(transport, vm, None, todo, {})
            for plan in todo:
                entries.append(_finish(plan, fetched[plan["id"]], req, desc["name"]))
    except (MigrationError, EnvironmentError) as exc:
        error = exc
        if not isinstance(exc, MigrationError):  # a full disk, a permission: said plainly, not as a traceback
            error = MigrationError("Writing in %s failed: %s." % (req.dest_dir, exc),
                                   fix="Check free space and permissions of dest_dir; a rerun resumes the download.")
        # The failure result still shows what was done to the VM (snapshot taken and removed?).
        error.details.update(actions=result["actions"], snapshot=result.get("snapshot"), lease=result.get("lease") or None,
                             disks=entries)
        if error is exc:
            raise
        raise error
    if not result.get("lease"):
        result.pop("lease", None)
    return entries


def _fill(desc, entries):
    by_id = dict((entry["id"], entry) for entry in entries)
    for disk in desc["disks"]:
        if disk["id"] in by_id:
            disk["path"], disk["format"] = by_id[disk["id"]]["path"], by_id[disk["id"]]["format"]
    return desc


def export(args, req, check_mode=False, clock=time.monotonic):
    """Plan (check_mode) or perform the export of the VM's disks; returns the module result.
    args are connection.session()'s keyword arguments."""
    started = clock()
    where = connection.endpoint(args["hostname"], args.get("port") or 443)
    with connection.session(**args) as si:
        records = query.InventoryQuery(si, where=where).records()
        record, desc = find_vm(records, req, args["hostname"])
        plans = [plan_disk(disk, desc, req) for disk in desc["disks"]]
        todo = [plan for plan in plans if req.force or not plan["up_to_date"]]
        entries = [_unchanged_entry(plan) for plan in plans if plan not in todo]
        result = {"changed": bool(todo), "power_state": desc["power_state"], "transport": req.transport,
                  "actions": [], "findings": []}
        if todo:
            how = _power.mode(desc["power_state"], req.power)
            check_disks(todo, how, desc["name"])
            check_destination(todo, req, result["findings"], check_mode)
            if check_mode:
                result["plan"] = steps(todo, req, how, desc["name"])
                entries.extend({"id": p["id"], "path": p["path"], "format": req.dest_format,
                                "size_bytes": p["capacity_bytes"], "chain": p["chain"], "changed": True} for p in todo)
            else:
                entries.extend(_run(si, args, record, desc, todo, req, how, result, records))
    order = [plan["id"] for plan in plans]
    entries.sort(key=lambda entry: order.index(entry["id"]))
    base = _model.clone(req.vm) if req.vm is not None else desc
    result.update(disks=entries, vm=_fill(base, [e for e in entries if not check_mode or not e["changed"]]),
                  seconds=round(clock() - started, 3))
    return result
