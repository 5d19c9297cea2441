# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The neutral VM description every pipeline stage reads and writes.

A description is a plain dict (JSON/YAML friendly) marked with {"hyper2kvm.migrate/vm": "v1"}.
Discovery of any source builds one with new_vm/new_disk/new_nic; later stages only read it and
fill in what they learn (disk path/format after conversion, guest facts after inspection).
validate() is the single place that says what a well-formed description is.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import InvalidInputError

SCHEMA_KEY = "hyper2kvm.migrate/vm"
SCHEMA_VERSION = "v1"

SOURCE_TYPES = ("vsphere", "azure", "aws", "ova", "ovf", "vmx", "disk")
FIRMWARES = ("bios", "uefi")
POWER_STATES = ("on", "off", "suspended", "unknown")
CONTROLLERS = ("scsi", "sata", "ide", "nvme", "virtio", "unknown")


def new_vm(name, source_type, source_id=None, **source_extra):
    """An empty description for one VM found in a source."""
    if source_type not in SOURCE_TYPES:
        raise InvalidInputError("Unknown source type %r." % (source_type,),
                                fix="Use one of: %s." % ", ".join(SOURCE_TYPES))
    source = {"type": source_type, "id": source_id if source_id is not None else name}
    source.update(source_extra)
    return {
        SCHEMA_KEY: SCHEMA_VERSION,
        "name": name,
        "source": source,
        "power_state": "unknown",
        "firmware": "bios",
        "secure_boot": False,
        "cpus": 1,
        "cores_per_socket": 1,
        "memory_mib": 1024,
        "guest": {"family": None, "distro": None, "version": None, "arch": None, "hostname": None},
        "disks": [],
        "nics": [],
        "notes": [],
    }


def new_disk(disk_id, capacity_bytes, controller="unknown", unit=0, boot=False, source=None,
             path=None, disk_format=None):
    return {
        "id": disk_id,
        "capacity_bytes": capacity_bytes,
        "controller": controller,
        "unit": unit,
        "boot": boot,
        "source": dict(source or {}),
        "path": path,
        "format": disk_format,
    }


def new_nic(mac=None, network=None, model=None, name_in_guest=None, ip=None):
    return {"mac": mac, "network": network, "model": model, "name_in_guest": name_in_guest,
            "ip": list(ip or [])}


def add_note(vm, stage, severity, message, fix=None):
    """Record a finding (preflight, repair log...) on the description."""
    note = {"stage": stage, "severity": severity, "message": message}
    if fix:
        note["fix"] = fix
    vm.setdefault("notes", []).append(note)
    return note


def _problems(vm):
    if not isinstance(vm, dict):
        return ["a VM description must be a mapping, got %s" % type(vm).__name__]
    out = []
    if vm.get(SCHEMA_KEY) != SCHEMA_VERSION:
        out.append("missing or unknown schema marker %r (expected %r)" % (vm.get(SCHEMA_KEY), SCHEMA_VERSION))
    if not isinstance(vm.get("name"), str) or not vm.get("name"):
        out.append("name must be a non-empty string")
    source = vm.get("source")
    if not isinstance(source, dict) or source.get("type") not in SOURCE_TYPES:
        out.append("source.type must be one of %s" % ", ".join(SOURCE_TYPES))
    if vm.get("firmware") not in FIRMWARES:
        out.append("firmware must be one of %s" % ", ".join(FIRMWARES))
    if vm.get("power_state") not in POWER_STATES:
        out.append("power_state must be one of %s" % ", ".join(POWER_STATES))
    for key in ("cpus", "cores_per_socket", "memory_mib"):
        value = vm.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            out.append("%s must be a positive integer" % key)
    disks = vm.get("disks")
    if not isinstance(disks, list):
        out.append("disks must be a list")
        disks = []
    for index, disk in enumerate(disks):
        if not isinstance(disk, dict):
            out.append("disks[%d] must be a mapping" % index)
            continue
        cap = disk.get("capacity_bytes")
        if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap < 0):
            out.append("disks[%d].capacity_bytes must be a non-negative integer" % index)
        if disk.get("controller") not in CONTROLLERS:
            out.append("disks[%d].controller must be one of %s" % (index, ", ".join(CONTROLLERS)))
    if not isinstance(vm.get("nics"), list):
        out.append("nics must be a list")
    return out


def validate(vm):
    """Raise InvalidInputError naming every problem; return the description when it is sound."""
    problems = _problems(vm)
    if problems:
        raise InvalidInputError("Invalid VM description: %s." % "; ".join(problems),
                                fix="Pass a description produced by a hyper2kvm.migrate *_info module.")
    return vm


def dumps(vm):
    return json.dumps(validate(vm), indent=2, sort_keys=True)


def loads(text):
    try:
        vm = json.loads(text)
    except ValueError as exc:
        raise InvalidInputError("VM description is not valid JSON: %s." % exc)
    return validate(vm)


def clone(vm):
    return copy.deepcopy(vm)
