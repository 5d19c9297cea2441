# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an Azure disk export is asked to do and what it finds: the request, the disks with their
outputs and records, how the disks can be read (the VM's power state), the steps of check mode.
Reads Azure (VM and disk get) but changes nothing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.hyper2kvm.migrate.plugins.module_utils import _model, _records
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    InvalidInputError,
    UnsafeInputError,
    UnsupportedError,
)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.azure import (
    access,
    connection,
    describe,
    listing,
)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._transfer import destination

FORMATS = ("qcow2", "raw", "vhd")
RECORD_SUFFIX = ".export.json"
RECORD_VERSION = 1
MIB = 1024 * 1024
GIB = 1024 * MIB
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class Request(object):
    """What the caller asked for, validated once."""

    def __init__(self, dest_dir, name=None, resource_group=None, vm=None, dest_format="qcow2", workers=4,
                 chunk_size_mib=16, deallocate=False, snapshot=False, keep_vhd=False, access_duration=14400,
                 retries=5, force=False):
        if vm is not None:
            _model.validate(vm)
            if (vm.get("source") or {}).get("type") != "azure":
                raise InvalidInputError("vm is a description of a %s VM, not of an Azure one." % vm["source"].get("type"),
                                        fix="Pass a description from hyper2kvm.migrate.azure_vm_info.")
            name, resource_group = vm["name"], vm["source"].get("resource_group")
        if not name or not resource_group:
            raise InvalidInputError("Name the VM: name and resource_group, or vm (a description from azure_vm_info).")
        if dest_format not in FORMATS:
            raise InvalidInputError("dest_format must be one of %s." % ", ".join(FORMATS))
        for option, value, low, high in (("workers", workers, 1, 32), ("chunk_size_mib", chunk_size_mib, 1, 256),
                                         ("access_duration", access_duration, 300, 7 * 24 * 3600),
                                         ("retries", retries, 0, 20)):
            if not low <= int(value) <= high:
                raise InvalidInputError("%s must be between %d and %d, got %s." % (option, low, high, value))
        self.dest_dir = os.path.abspath(dest_dir)
        self.name, self.resource_group, self.vm = name, resource_group, vm
        self.dest_format, self.workers, self.chunk_size = dest_format, int(workers), int(chunk_size_mib) * MIB
        self.deallocate, self.snapshot, self.keep_vhd = bool(deallocate), bool(snapshot), bool(keep_vhd)
        self.access_duration, self.retries, self.force = int(access_duration), int(retries), bool(force)

    def paths(self, disk_name):
        """(output path, downloaded VHD path) of a disk."""
        if not _SAFE_NAME.match(disk_name or ""):
            raise UnsafeInputError("Disk name %r cannot name a file." % disk_name)
        base = os.path.join(self.dest_dir, disk_name)
        return base + "." + self.dest_format, base + ".vhd"


def current(plan, fmt):
    """Whether the output and its record show this very disk exported in this format."""
    record, path = plan["record"], plan["path"]
    return bool(record and record.get("version") == RECORD_VERSION and record.get("source") == plan["source"]
                and record.get("format") == fmt and os.path.isfile(path)
                and record.get("output") == _records.file_identity(path))


def plan_disk(session, disk, req):
    src = disk["source"]
    if not src.get("managed_disk_id"):
        raise UnsupportedError("Disk %s of VM %s is not a managed disk (an unmanaged VHD or an ephemeral OS disk)."
                               % (disk["id"], req.name),
                               fix="Convert it to a managed disk first; unmanaged VHDs can be downloaded as page blobs.")
    ids = describe.parse_id(src["managed_disk_id"])
    group, name = ids.get("resourcegroups"), ids.get("disks")
    with connection.translated_errors(session.conf, access.FIXES):
        disk_json = listing.arm_json(session.compute.disks.get(group, name))
    props = disk_json.get("properties") or {}
    size = props.get("diskSizeBytes") or (props.get("diskSizeGB") or 0) * GIB
    path, vhd_path = req.paths(name)
    plan = {"id": disk["id"], "group": group, "name": name, "json": disk_json, "size_bytes": size,
            "path": path, "vhd_path": vhd_path, "record": _records.read_json(path + RECORD_SUFFIX),
            "source": {"disk_id": disk_json.get("id"), "unique_id": props.get("uniqueId"), "size_bytes": size}}
    plan["up_to_date"] = current(plan, req.dest_format)
    return plan


def mode(power, req):
    """How the disks are read: "disk" (the VM is deallocated), "deallocate" or "snapshot"."""
    if power == "deallocated":
        return "disk"
    if req.deallocate:
        return "deallocate"
    if req.snapshot:
        return "snapshot"
    raise UnsupportedError("VM %s/%s is %s: Azure grants access to the disks of deallocated VMs only."
                           % (req.resource_group, req.name, power or "in an unknown power state"),
                           fix=access.RUNNING_FIX)


def check_destination(plans, req, findings, check_mode):
    destination.check(plans, req.dest_dir, req.force, findings, check_mode, "azure_disk_export")


def steps(plans, req, how):
    """What check mode reports the task would do."""
    would = {"deallocate": ["deallocate VM %s/%s" % (req.resource_group, req.name)],
             "snapshot": ["snapshot disk %s, then delete the snapshot" % p["name"] for p in plans]}.get(how, [])
    for plan in plans:
        would.append("grant read access to %s %s for %d s, download it to %s, revoke access"
                     % ("snapshot of" if how == "snapshot" else "disk", plan["name"], req.access_duration,
                        plan["vhd_path"]))
        if req.dest_format != "vhd":
            would.append("convert %s to %s %s" % (plan["vhd_path"], req.dest_format, plan["path"]))
    return would
