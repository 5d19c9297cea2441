# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Local sources that are not OVA/OVF: a VMware .vmx with its VMDKs, or loose disk images.

Both end in one VM description. Every disk is read the way disk_info reads it: the format comes
from the header (chain.open_chain, which also checks that backing files and VMDK extents stay in
the disk's directory) and the size from `qemu-img info` on an explicit block spec, so no format
is ever probed. A .vmx may only name disks inside its own directory.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import stat

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._disk import chain, source
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    InvalidInputError, MigrationError, UnsafeInputError, UnsupportedError)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._model import (
    FIRMWARES, add_note, new_disk, new_nic, new_vm, validate)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources import vmx

LOOSE_DEFAULTS = {"cpus": 2, "memory_mib": 2048, "firmware": "bios"}
VMX_ONLY, DISK_ONLY = ("path",), ("disks", "name", "cpus", "memory_mib", "firmware", "nics")
# Files that the raw fallback of header detection would accept but that are not disks.
_NOT_DISKS = ((0, b"\x1f\x8b", "gzip-compressed"), (0, b"BZh", "bzip2-compressed"),
              (0, b"\xfd7zXZ\x00", "xz-compressed"), (0, b"\x28\xb5\x2f\xfd", "zstd-compressed"),
              (0, b"PK\x03\x04", "a zip archive"), (0, b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
              (257, b"ustar", "a tar archive (an OVA? read it with hyper2kvm.migrate.ova_info)"))
_SNAPSHOT_NAME = re.compile(r"-\d{6}\.vmdk$", re.IGNORECASE)


def describe(params):
    """The module's answer for params {"type", "path", "disks", "name", "cpus", ...}."""
    kind = params["type"]
    if kind not in _SOURCES:
        raise InvalidInputError("Unknown source type %r." % kind, fix="Use one of: %s." % ", ".join(_SOURCES))
    foreign = [key for key in (DISK_ONLY if kind == "vmx" else VMX_ONLY) if params.get(key) is not None]
    if foreign:
        raise InvalidInputError("%s cannot be used with type=%s." % (", ".join(foreign), kind),
                                fix="With type=vmx pass only path (the .vmx says the rest); with "
                                    "type=disk pass disks and optionally name, cpus, memory_mib, "
                                    "firmware and nics.")
    return _SOURCES[kind](params)


def describe_vmx(path):
    """{"vms": [description], "source": facts, "commands", "warnings"} for a .vmx and its disks."""
    what = "VMX file %s" % path
    data = _read_small(path, what)
    parsed = vmx.parse(data, os.path.abspath(path))
    vm, warnings = parsed["vm"], list(parsed["warnings"])
    base = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    if os.path.isdir(os.path.abspath(path) + ".lck"):
        vm["power_state"] = "unknown"
        warnings.append("%s.lck exists: the VM may be running, and a running VM's disks are not "
                        "consistent. Power it off (or copy it while off) first." % path)
    commands, seen = [], {}
    for disk in vm["disks"]:
        real = _vmx_disk_path(path, base, disk)
        if real in seen:
            raise InvalidInputError("%s names %s for both %s and %s." % (what, real, seen[real], disk["id"]),
                                    fix="Give each disk its own file in the .vmx.")
        seen[real] = disk["id"]
        facts = _read_disk(real, disk, commands, warnings)
        _note_snapshot(vm, disk, facts)
    facts = {"type": "vmx", "path": os.path.abspath(path), "directory": base,
             "encoding": parsed["encoding"], "files": [d["source"]["path"] for d in vm["disks"]]}
    return _result(vm, facts, commands, warnings)


def describe_disks(paths, name=None, cpus=None, memory_mib=None, firmware=None, nics=None):
    """{"vms": [description], ...} for loose disk images; the first disk is the boot disk."""
    if not paths:
        raise InvalidInputError("disks is empty.", fix="List at least one disk image.")
    for key, value in (("cpus", cpus), ("memory_mib", memory_mib)):
        if value is not None and value < 1:
            raise InvalidInputError("%s must be at least 1, not %s." % (key, value))
    if firmware is not None and firmware not in FIRMWARES:
        raise InvalidInputError("firmware must be one of %s, not %r." % (", ".join(FIRMWARES), firmware))
    name = name or os.path.splitext(os.path.basename(paths[0]))[0]
    reals = [os.path.realpath(p) for p in paths]
    vm = new_vm(name, "disk", name, paths=reals)
    vm["power_state"] = "off"
    vm["cpus"] = cpus or LOOSE_DEFAULTS["cpus"]
    vm["memory_mib"] = memory_mib or LOOSE_DEFAULTS["memory_mib"]
    vm["firmware"] = firmware or LOOSE_DEFAULTS["firmware"]
    vm["nics"] = [new_nic()] if nics is None else [_nic(item, index) for index, item in enumerate(nics)]
    commands, warnings = [], []
    for index, path in enumerate(paths):
        if reals.index(reals[index]) != index:
            raise InvalidInputError("disks lists %s twice (as %s)." % (reals[index], path),
                                    fix="Name each disk image once.")
        disk = new_disk("disk%d" % index, None, "unknown", index, index == 0,
                        {"container": "disk", "file": path, "path": None})
        _regular_file(path, "Disk image %s" % path)
        _read_disk(reals[index], disk, commands, warnings)
        vm["disks"].append(disk)
    facts = {"type": "disk", "paths": reals}
    return _result(vm, facts, commands, warnings)


def _vmx_params(params):
    return describe_vmx(params["path"])


def _disk_params(params):
    return describe_disks(params["disks"], name=params.get("name"), cpus=params.get("cpus"),
                          memory_mib=params.get("memory_mib"), firmware=params.get("firmware"),
                          nics=params.get("nics"))


_SOURCES = {"vmx": _vmx_params, "disk": _disk_params}


def _regular_file(path, what):
    """An existing regular file (a symlink to one is fine), else a clear error."""
    try:
        info = os.stat(path)
    except (IOError, OSError) as exc:
        raise InvalidInputError("%s cannot be read: %s." % (what, exc.strerror or exc),
                                fix="Check the path and that this user may read it.")
    if stat.S_ISDIR(info.st_mode):
        raise InvalidInputError("%s is a directory." % what, fix="Name the file itself.")
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeInputError("%s is not a regular file (a device, FIFO or socket)." % what,
                               fix="Copy the data into a regular file first.")


def _read_small(path, what):
    """At most one byte more than a .vmx may have: vmx.parse refuses larger files."""
    _regular_file(path, what)
    try:
        with open(path, "rb") as handle:
            return handle.read(vmx.MAX_BYTES + 1)
    except (IOError, OSError) as exc:
        raise InvalidInputError("%s cannot be read: %s." % (what, exc.strerror or exc),
                                fix="Check that this user may read it.")


def _vmx_disk_path(vmx_path, base, disk):
    """Real path of a disk the .vmx names; it must stay inside the VMX's directory."""
    name = disk["source"]["file"]
    setting = "%s.fileName = %r in %s" % (disk["id"], name, vmx_path)
    fix = ("Copy the disk (all its files) into %s and set %s.fileName to its plain file name, or pass "
           "the disk with type=disk." % (base, disk["id"]))
    if ".." in re.split(r"[/\\]", name):
        raise UnsafeInputError("%s contains '..'; a .vmx may only name disks inside its own directory %s."
                               % (setting, base), fix=fix)
    try:
        # Absolute names, protocols ("C:", "nbd:") and symlinks that lead out are refused here.
        real = chain.resolve_reference(os.path.join(base, os.path.basename(vmx_path)), name, base)
    except MigrationError as exc:
        raise _prefixed(exc, setting + ": ", fix)
    disk["source"]["path"] = real
    return real


def _prefixed(exc, prefix, fix=None):
    """The same error, saying which disk it is about (and a fix that fits this source)."""
    exc.message = prefix + exc.message
    exc.fix = fix or exc.fix
    exc.args = (exc.message,)
    return exc


def _read_disk(path, disk, commands, warnings):
    """Fill a disk entry from the image's own header and qemu-img info (explicit format)."""
    try:
        _refuse_non_disks(path)
        facts = source.describe(path)
    except (IOError, OSError) as exc:
        raise InvalidInputError("Disk %s (%s) cannot be read: %s." % (disk["id"], path, exc.strerror or exc),
                                fix="Check that the file exists and that this user may read it.")
    except MigrationError as exc:
        named = path in exc.message
        raise _prefixed(exc, "Disk %s: " % disk["id"] if named else "Disk %s (%s): " % (disk["id"], path))
    size = os.path.getsize(path)
    if facts["format"] == "raw" and size % 512:
        warnings.append("Disk %s (%s) is %d bytes, not a whole number of 512-byte sectors (qemu reads it "
                        "as %d); is it complete?" % (disk["id"], path, size, facts["virtual_size"]))
    disk["capacity_bytes"] = facts["virtual_size"]
    disk["source"].update(path=facts["path"], format=facts["format"], subformat=facts["subformat"],
                          populated_bytes=facts["actual_size"],
                          backing_chain=[layer["path"] for layer in facts["backing_chain"]],
                          snapshot_delta=bool(facts["backing_chain"]))
    commands.extend(facts["commands"])
    warnings.extend("Disk %s: %s" % (disk["id"], finding) for finding in facts["findings"])
    return facts


def _refuse_non_disks(path):
    """Header detection reads anything it does not know as raw; these files are surely not disks."""
    with open(path, "rb") as handle:
        head = handle.read(0x8006)
    if not head:
        raise InvalidInputError("the file is empty.", fix="Copy the disk image again.")
    for offset, magic, kind in _NOT_DISKS:
        if head[offset:offset + len(magic)] == magic:
            raise UnsupportedError("the file is %s, not a disk image." % kind,
                                   fix="Unpack or decompress it and pass the disk image inside.")
    if head[0x8001:0x8006] == b"CD001":
        raise UnsupportedError("the file is an ISO 9660 CD/DVD image, not a disk.",
                               fix="Pass the VM's hard disk images; install media are not migrated.")


def _note_snapshot(vm, disk, facts):
    # A real delta is in source.backing_chain (and disk_info's warning); a name alone proves nothing.
    name = disk["source"]["file"]
    if not facts["backing_chain"] and _SNAPSHOT_NAME.search(name):
        add_note(vm, "discover", "warning", "%s is named like a snapshot delta (%s) but has no parent disk; "
                 "read as a whole disk." % (disk["id"], name))


def _nic(item, index):
    item = item or {}
    mac = item.get("mac")
    normal = vmx.normal_mac(mac) if mac else None
    if mac and (normal is None or int(normal[:2], 16) & 1):
        raise InvalidInputError("nics[%d].mac %r is not a unicast MAC address." % (index, mac),
                                fix="Write it as six hex pairs, e.g. 52:54:00:12:34:56, or leave it out.")
    return new_nic(mac=normal, network=item.get("network"))


def _result(vm, facts, commands, warnings):
    validate(vm)
    warnings = list(warnings) + ["VM %s: %s" % (vm["name"], note["message"])
                                 for note in vm["notes"] if note["severity"] == "warning"]
    return {"vms": [vm], "source": facts, "commands": commands, "warnings": warnings}
