# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""VMware .vmx configuration -> one VM description.

Pure: takes the file's bytes and its path; never opens a file. local.py reads the file, finds each
disk's fileName inside the VMX's directory and reads the disk headers.

A .vmx is lines of `key = "value"`. Keys are case-insensitive, `#` starts a comment, and values
escape ASCII bytes as |XX (|22 is a double quote, |0A a newline). The `.encoding` key names the
character set: VMware writes UTF-8, older Workstation releases wrote windows-1252 or Shift_JIS.
Odd but readable settings become notes on the VM; we fail only on input that is not a .vmx at all
or where a guess would give a wrong description (a CPU count that is not a number).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import codecs
import os
import re

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    InvalidInputError, UnsafeInputError)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._model import add_note, new_disk, new_nic, new_vm
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources import guest_os

MAX_BYTES = 1024 * 1024  # real .vmx files are a few KiB
# Disk buses in the order we fall back to for the boot disk (a PC BIOS lists IDE disks first).
BUSES = ("ide", "sata", "scsi", "nvme")

_LINE = re.compile(r'^\s*([A-Za-z0-9_.:\-]+)\s*=\s*(?:"([^"]*)"|([^"#]*?))\s*(?:#.*)?$')
_ESCAPE = re.compile(r"\|([0-7][0-9A-Fa-f])")
_DEVICE = re.compile(r"^(ide|sata|scsi|nvme)(\d+):(\d+)\.(present|filename|devicetype|mode)$")
_NIC = re.compile(r"^ethernet(\d+)\.present$")
_ENCODING = re.compile(br'^[ \t]*\.encoding[ \t]*=[ \t]*"([^"\r\n]*)"', re.IGNORECASE | re.MULTILINE)
_MAC = re.compile(r"^([0-9a-f]{2})([:-]?)([0-9a-f]{2})(\2[0-9a-f]{2}){4}$")

_TRUE = ("true", "1", "yes", "on")
_SCSI_MODELS = {"pvscsi": "pvscsi", "lsilogic": "lsilogic", "lsisas1068": "lsilogicsas",
                "buslogic": "buslogic"}
_BUS_MODELS = {"sata": "ahci", "nvme": "nvme", "ide": None}
_NIC_MODELS = {"vmxnet3": "vmxnet3", "vmxnet2": "vmxnet2", "vmxnet": "vmxnet", "e1000": "e1000",
               "e1000e": "e1000e", "vlance": "pcnet"}
_FIX = "Correct that line in the .vmx (VMware writes key = \"value\")."


def parse(data, path):
    """Read the bytes of the .vmx at path (path is only named in the description and messages).

    Returns {"vm": description, "encoding": the character set used, "warnings": [...]}. Disk
    entries carry the fileName as written in source.file; their path, format and capacity are
    unknown until local.py has read the disks.
    """
    what = "VMX file %s" % path
    text, encoding, warnings = decode(data, what)
    settings = read_settings(text, what, warnings)
    stem = os.path.splitext(os.path.basename(path))[0]
    name = settings.get("displayname") or stem
    vm = new_vm(name, "vmx", _uuid(settings) or name, path=path, encoding=encoding,
                virtual_hw_version=settings.get("virtualhw.version"), guest_id=settings.get("guestos"))
    # A powered-on VM locks its files; a copy we can read is off unless it was suspended.
    vm["power_state"] = "suspended" if settings.get("checkpoint.vmstate") else "off"
    vm["guest"].update(guest_os.hints(vmware_type=settings.get("guestos")))
    _compute(vm, settings, what)
    _firmware(vm, settings)
    _disks(vm, settings)
    _nics(vm, settings)
    return {"vm": vm, "encoding": encoding, "warnings": warnings}


def decode(data, what):
    """(text, encoding, warnings): refuse huge or binary files, honour a usable .encoding."""
    if len(data) > MAX_BYTES:
        raise UnsafeInputError("%s is larger than %d bytes; a .vmx is a small text file." % (what, MAX_BYTES),
                               fix="Pass the VM's .vmx configuration file, not a disk or a log.")
    if b"\x00" in data:
        raise InvalidInputError("%s holds binary data (NUL bytes); it is not a .vmx text file." % what,
                                fix="Pass the VM's .vmx configuration file (not the .vmdk, .nvram or "
                                    ".vmsn); if it was damaged, restore it from a backup.")
    warnings = []
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    encoding = "utf-8"
    match = _ENCODING.search(data)
    if match:
        declared = match.group(1).decode("ascii", "replace").strip()
        encoding = _usable_codec(declared)
        if encoding is None:
            warnings.append("%s declares .encoding %r, which cannot be used; read as UTF-8."
                            % (what, declared))
            encoding = "utf-8"
    try:
        return data.decode(encoding), encoding, warnings
    except UnicodeDecodeError as exc:
        warnings.append("%s is not valid %s (byte %d); unreadable characters were replaced."
                        % (what, encoding, exc.start))
        return data.decode(encoding, "replace"), encoding, warnings


def _usable_codec(name):
    """Python's name for a character set, if it reads ASCII as ASCII (no UTF-16, no EBCDIC)."""
    try:
        codec = codecs.lookup(name).name
        sample = 'key = "1"'
        return codec if sample.encode(codec) == sample.encode("ascii") else None
    except (LookupError, UnicodeError):
        return None


def read_settings(text, what, warnings):
    """{lowercase key: unescaped value}; the last of repeated keys wins, as VMware reads them."""
    settings, bad, repeated = {}, [], set()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            bad.append(number)
            continue
        key = match.group(1).lower()
        value = match.group(2) if match.group(2) is not None else match.group(3)
        if key in settings:
            repeated.add(key)
        settings[key] = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)
    if not settings:
        raise InvalidInputError("%s has no key = \"value\" settings; it is not a .vmx file." % what,
                                fix="Pass the VM's .vmx configuration file.")
    if bad:
        warnings.append("%s: lines %s are not key = \"value\"; ignored."
                        % (what, ", ".join(str(n) for n in bad[:10]) + (" ..." if len(bad) > 10 else "")))
    if repeated:
        warnings.append("%s sets %s more than once; the last value was used."
                        % (what, ", ".join(sorted(repeated))))
    return settings


def _true(value):
    return (value or "").strip().lower() in _TRUE


def _int(settings, key, default, what):
    value = settings.get(key)
    if value is None or not value.strip():
        return default
    try:
        number = int(value.strip())
    except ValueError:
        number = 0
    if number < 1:
        raise InvalidInputError("%s sets %s = %r, not a positive whole number." % (what, key, value), fix=_FIX)
    return number


def _uuid(settings):
    # vCenter's instance UUID names the VM in vSphere; the BIOS UUID is what a standalone host has.
    raw = settings.get("vc.uuid") or settings.get("uuid.bios")
    compact = re.sub(r"[\s-]", "", raw or "").lower()
    if not re.match(r"^[0-9a-f]{32}$", compact):
        return None
    return "-".join((compact[:8], compact[8:12], compact[12:16], compact[16:20], compact[20:]))


def _compute(vm, settings, what):
    vm["cpus"] = _int(settings, "numvcpus", 1, what)
    cores = _int(settings, "cpuid.corespersocket", 1, what)
    if vm["cpus"] % cores == 0:
        vm["cores_per_socket"] = cores
    else:
        add_note(vm, "discover", "warning", "cpuid.coresPerSocket %d does not divide %d CPUs; using 1 "
                 "core per socket." % (cores, vm["cpus"]))
    memory = _int(settings, "memsize", None, what)
    if memory is None:
        add_note(vm, "discover", "warning", "no memSize in the .vmx; using %d MiB." % vm["memory_mib"],
                 fix="Set memory_mib in the description by hand.")
    else:
        vm["memory_mib"] = memory


def _firmware(vm, settings):
    vm["firmware"] = "uefi" if (settings.get("firmware") or "").strip().lower() == "efi" else "bios"
    if _true(settings.get("uefi.secureboot.enabled")):
        if vm["firmware"] == "uefi":
            vm["secure_boot"] = True
        else:
            add_note(vm, "discover", "warning", "secure boot is enabled but firmware is BIOS; ignored.")


def _devices(settings):
    """(bus, controller, unit) -> {present, filename, devicetype, mode} for every storage device."""
    out = {}
    for key, value in settings.items():
        match = _DEVICE.match(key)
        if match:
            slot = (match.group(1), int(match.group(2)), int(match.group(3)))
            out.setdefault(slot, {})[match.group(4)] = value
    return out


def _is_disk(vm, label, device):
    """Whether a present storage device is a virtual disk file we migrate; notes why not."""
    kind = (device.get("devicetype") or "").strip().lower()
    file_name = device.get("filename") or ""
    if "cdrom" in kind or file_name.lower().endswith(".iso"):
        add_note(vm, "discover", "info", "%s is a CD/DVD drive (%s); not migrated." % (label, file_name or kind))
        return False
    if kind and kind not in ("disk", "plaindisk") and not kind.endswith("harddisk"):
        add_note(vm, "discover", "warning", "%s has deviceType %r (a raw device mapping or passthrough, not "
                 "a disk file); skipped." % (label, kind), fix="Copy that LUN's data to a disk file first.")
        return False
    if not file_name.lower().endswith(".vmdk"):
        add_note(vm, "discover", "warning", "%s has fileName %r, not a .vmdk; skipped." % (label, file_name))
        return False
    return True


def _disks(vm, settings):
    found = []
    for (bus, index, unit), device in sorted(_devices(settings).items(),
                                             key=lambda item: (BUSES.index(item[0][0]),) + item[0][1:]):
        label = "%s%d:%d" % (bus, index, unit)
        if not _true(device.get("present")) or not _is_disk(vm, label, device):
            continue
        controller = "%s%d" % (bus, index)
        if not _true(settings.get(controller + ".present")):
            add_note(vm, "discover", "warning", "%s sits on %s, which is not marked present; read anyway."
                     % (label, controller))
        model = _BUS_MODELS.get(bus)
        if bus == "scsi":
            dev = (settings.get(controller + ".virtualdev") or "").strip().lower()
            model = _SCSI_MODELS.get(dev, dev or None)
        source = {"container": "vmx", "file": device["filename"], "path": None,
                  "controller_model": model, "controller_index": index, "mode": device.get("mode")}
        found.append(new_disk(label, None, bus, unit, False, source))
    vm["disks"] = _boot_first(vm, found, settings.get("bios.hddorder"))


def _boot_first(vm, disks, hdd_order):
    """The disks with the boot disk first: bios.hddOrder's first disk, else the first in bus order."""
    if not disks:
        add_note(vm, "discover", "warning", "the .vmx names no virtual disk.")
        return disks
    by_id = dict((disk["id"], disk) for disk in disks)
    wanted = [label.strip().lower() for label in (hdd_order or "").split(",") if label.strip()]
    boot = next((by_id[label] for label in wanted if label in by_id), None)
    if wanted and boot is None:
        add_note(vm, "discover", "warning", "bios.hddOrder %r names no disk of this VM; the first disk "
                 "in controller order is taken as the boot disk." % hdd_order)
    if boot is None:
        boot = disks[0]
        if len(set(disk["controller"] for disk in disks)) > 1:
            add_note(vm, "discover", "info", "no bios.hddOrder: %s is taken as the boot disk (buses in the "
                     "order %s)." % (boot["id"], ", ".join(BUSES)))
    boot["boot"] = True
    return [boot] + [disk for disk in disks if disk is not boot]


def normal_mac(value):
    """aa:bb:cc:dd:ee:ff from the usual spellings, or None."""
    compact = (value or "").strip().lower()
    if not _MAC.match(compact):
        return None
    digits = re.sub(r"[:-]", "", compact)
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2))


def _nics(vm, settings):
    numbers = sorted(int(m.group(1)) for m in (_NIC.match(key) for key in settings) if m)
    for number in numbers:
        prefix = "ethernet%d." % number
        if not _true(settings.get(prefix + "present")):
            continue
        address_type = (settings.get(prefix + "addresstype") or "generated").strip().lower()
        key = "address" if address_type == "static" else "generatedaddress"
        raw = settings.get(prefix + key)
        mac = normal_mac(raw)
        if raw and not mac:
            add_note(vm, "discover", "warning", "ethernet%d.%s %r is not a MAC address; ignored."
                     % (number, key, raw))
        elif not raw:
            add_note(vm, "discover", "info", "ethernet%d has no %s MAC yet; a new one will be assigned."
                     % (number, address_type))
        dev = (settings.get(prefix + "virtualdev") or "").strip().lower()
        model = _NIC_MODELS.get(dev, dev or None)
        if dev and dev not in _NIC_MODELS:
            add_note(vm, "discover", "info", "ethernet%d has virtualDev %r, which we do not know." % (number, dev))
        network = (settings.get(prefix + "networkname") or settings.get(prefix + "vnet")
                   or settings.get(prefix + "connectiontype") or None)
        vm["nics"].append(new_nic(mac=mac, network=network, model=model))
