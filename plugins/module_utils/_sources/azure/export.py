# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Export the managed disks of one Azure VM to local qcow2, raw or fixed VHD files.

Per disk: grant read access (a SAS URL into the disk's page blob), read its page list, download the
allocated ranges only (_transfer: parallel, resumable, sparse, atomic), verify the fixed-VHD
footer, revoke access, then convert the VHD with disk_convert's code. A VM that is not deallocated
is deallocated (deallocate) or exported through snapshots of its disks (snapshot), which are
deleted afterwards. Access is revoked and snapshots deleted on every way out, signals included.

Each output gets a record (<output>.export.json) naming the managed disk it was made from; a rerun
that finds the output and a matching record changes nothing and grants nothing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import time

from ansible_collections.hyper2kvm.migrate.plugins.module_utils import _interrupt, _model, _records
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._disk import convert, vhd
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import AuthenticationError, MigrationError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.azure import (
    access,
    connection,
    describe,
    listing,
    pages,
    plan as _plan,
)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._transfer import download, http

MERGE_GAP = 1024 * 1024  # fetch the zeros between allocated ranges closer than this instead of another request
RETRY_BACKOFF = 1.0  # seconds before the first retry of a range, doubled for each further one


# ---- one disk -----------------------------------------------------------------------------------------------

def _data_plane_error(exc, target):
    if exc.status == 403:
        return AuthenticationError(
            "The storage service refused the access URL of %s (HTTP 403%s): the access grant expired or was "
            "revoked during the export." % (target, " %s" % exc.code if exc.code else ""),
            fix="Run the task again: it grants access anew and resumes the download where it stopped. "
                "Raise access_duration for disks that take longer to download.")
    if exc.status == 404:
        return MigrationError("The page blob of %s is gone (HTTP 404%s)." % (target, " %s" % exc.code if exc.code else ""),
                              fix="Check that the disk or snapshot still exists, then run the task again.")
    return exc


def _check_listing(listing_, plan, target):
    expected = plan["size_bytes"] + vhd.FOOTER_SIZE
    if listing_["size"] != expected:
        raise MigrationError(
            "%s is %d bytes long, but Azure says the disk holds %d bytes plus a 512-byte VHD footer: the disk "
            "changed size between the grant and the download." % (target, listing_["size"], plan["size_bytes"]),
            fix="Make sure nobody resizes the disk during the export, then run the task again.")
    needed = sum(end - start for start, end in listing_["ranges"])
    free = shutil.disk_usage(os.path.dirname(plan["vhd_path"])).free
    if free < needed:
        raise MigrationError("Not enough space in %s: the disk holds %d bytes of data, %d bytes are free."
                             % (os.path.dirname(plan["vhd_path"]), needed, free),
                             fix="Free space or choose a dest_dir on a larger file system.")


def _fetch(session, target, plan, req, report):
    """Download the target's page blob into plan["vhd_path"] while access is granted."""
    conf = session.conf
    with access.granted(session, target, req.access_duration, report) as sas:
        with http.Client(verify=conf["verify"], workers=req.workers, timeout=conf["timeout"], retries=req.retries,
                         backoff=RETRY_BACKOFF, headers=pages.HEADERS) as client:
            try:
                found = pages.page_ranges(client, sas)
                _check_listing(found, plan, target)
                identity = {"source": "%s/%s" % (target.resource_group, target.name), "kind": target.kind,
                            "size": found["size"], "etag": found["etag"]}
                stats = download.download(client, sas, plan["vhd_path"], found["size"], found["ranges"], identity,
                                          chunk_size=req.chunk_size, gap=MERGE_GAP, workers=req.workers,
                                          verify=vhd.check_fixed_file)
            except http.HttpStatusError as exc:
                raise _data_plane_error(exc, target)
    stats.update(page_ranges=len(found["ranges"]), page_list_requests=found["requests"])
    return stats


def _convert(plan, req):
    """The fixed VHD into the output format (nothing to do for vhd); the VHD is removed unless kept."""
    if req.dest_format == "vhd":
        return None
    result = convert.convert(convert.Request(plan["vhd_path"], plan["path"], src_format="vpc",
                                             dest_format=req.dest_format, force=req.force))
    if not req.keep_vhd:
        for path in (plan["vhd_path"], download.record_path(plan["vhd_path"])):
            if os.path.exists(path):
                os.unlink(path)
    return result


def _export_disk(session, target, plan, req, grants):
    report = {"disk": plan["name"]}
    grants.append(report)
    stats = _fetch(session, target, plan, req, report)
    started = time.monotonic()
    converted = _convert(plan, req)
    entry = {
        "id": plan["id"], "managed_disk_id": plan["source"]["disk_id"], "from": target.kind[:-1],
        "path": plan["path"], "format": req.dest_format, "size_bytes": plan["size_bytes"],
        "vhd_path": plan["vhd_path"] if req.keep_vhd or req.dest_format == "vhd" else None,
        "bytes_transferred": stats["bytes_transferred"], "allocated_bytes": stats["allocated_bytes"],
        "seconds": stats.get("seconds"), "bytes_per_second": stats.get("bytes_per_second"),
        "ranges": stats["requests"], "page_ranges": stats["page_ranges"],
        "page_list_requests": stats["page_list_requests"], "resumed": stats["resumed"],
        "convert_seconds": round(time.monotonic() - started, 3) if converted else None,
        "actual_size": os.stat(plan["path"]).st_blocks * 512, "changed": True,
    }
    _records.write_json(plan["path"] + _plan.RECORD_SUFFIX, {
        "version": _plan.RECORD_VERSION, "source": plan["source"], "format": req.dest_format,
        "output": _records.file_identity(plan["path"]), "vm": "%s/%s" % (req.resource_group, req.name),
        "written_at": int(time.time()), "export": entry})
    return entry


def _unchanged_entry(plan):
    entry = dict(plan["record"].get("export") or {}, changed=False, bytes_transferred=0, resumed=False)
    entry.update(path=plan["path"], actual_size=os.stat(plan["path"]).st_blocks * 512)
    return entry


# ---- the VM ------------------------------------------------------------------------------------------------

def _describe(session, req):
    with connection.translated_errors(session.conf, access.FIXES):
        vm = session.compute.virtual_machines.get(req.resource_group, req.name, expand="instanceView")
    vm_json = listing.arm_json(vm)
    desc = describe.describe_vm(vm_json)
    return desc, describe.power_state(vm_json)[1]


def _fill(desc, entries):
    """desc with path and format of each exported disk (matched by disk id)."""
    by_id = dict((entry["id"], entry) for entry in entries)
    for disk in desc["disks"]:
        if disk["id"] in by_id:
            disk["path"], disk["format"] = by_id[disk["id"]]["path"], by_id[disk["id"]]["format"]
    return desc


def export(conf, req, check_mode=False, clock=time.monotonic):
    """Plan (check_mode) or perform the export of the VM's disks; returns the module result."""
    started = clock()
    with connection.session(conf) as session:
        desc, power = _describe(session, req)
        plans = [_plan.plan_disk(session, disk, req) for disk in desc["disks"]]
        todo = [plan for plan in plans if req.force or not plan["up_to_date"]]
        entries = [_unchanged_entry(plan) for plan in plans if plan not in todo]
        result = {"changed": bool(todo), "power_state": power, "actions": [], "grants": [], "findings": []}
        if todo:
            mode = _plan.mode(power, req)
            _plan.check_destination(todo, req, result["findings"], check_mode)
            if check_mode:
                result["plan"] = _plan.steps(todo, req, mode)
                entries.extend({"id": p["id"], "path": p["path"], "format": req.dest_format,
                                "size_bytes": p["size_bytes"], "changed": True} for p in todo)
            else:
                entries.extend(_run(session, todo, req, mode, result))
    order = [plan["id"] for plan in plans]
    entries.sort(key=lambda entry: order.index(entry["id"]))
    base = _model.clone(req.vm) if req.vm is not None else desc
    result.update(disks=entries, vm=_fill(base, [e for e in entries if not check_mode or not e["changed"]]),
                  seconds=round(clock() - started, 3))
    return result


def _run(session, todo, req, mode, result):
    entries = []
    try:
        with _interrupt.raising_signals():
            if mode == "deallocate":
                access.deallocate(session, req.resource_group, req.name)
                result["actions"].append("deallocated VM %s/%s" % (req.resource_group, req.name))
            if mode == "snapshot":
                report = {}
                result["snapshots"] = report
                disks = [(plan["group"], plan["name"], plan["json"]) for plan in todo]
                with access.snapshots(session, disks, report) as targets:
                    result["actions"].append("took %d snapshots" % len(targets))
                    for plan in todo:
                        entries.append(_export_disk(session, targets[plan["name"]], plan, req, result["grants"]))
                result["actions"].append("deleted the snapshots")
            else:
                for plan in todo:
                    target = access.Target("disks", plan["group"], plan["name"])
                    entries.append(_export_disk(session, target, plan, req, result["grants"]))
    except (MigrationError, EnvironmentError) as exc:
        error = exc
        if not isinstance(exc, MigrationError):  # a full disk, a permission: said plainly, not as a traceback
            error = MigrationError("Writing in %s failed: %s." % (req.dest_dir, exc),
                                   fix="Check free space and permissions of dest_dir; a rerun resumes the download.")
        # The failure result still shows what was granted and revoked, and what was done before.
        error.details.update(grants=result["grants"], actions=result["actions"],
                             snapshots=result.get("snapshots"), disks=entries)
        if error is exc:
            raise
        raise error
    return entries
