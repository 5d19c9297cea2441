# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a Linux guest names its block devices, and which names survive a move to another disk bus.

A guest that says /dev/sda1 in fstab, on the kernel command line or in crypttab boots on VMware's
pvscsi and fails on virtio-blk, where the same disk is /dev/vda1. Names that come from the
content (UUID=, LABEL=, /dev/mapper/..., LVM and MD names) move with the disk; names that come from the
bus or the hardware (/dev/sdX, /dev/hdX, /dev/xvdX, /dev/vdX, NVMe, by-path, by-id of SCSI/ATA/NVMe
serials and WWNs) do not. We replace the latter with UUID= (or PARTUUID=) taken from the filesystem
itself, never with another bus name, so the result also survives the next change of bus.

uuid_by_device maps the names the GUEST uses (as written in its files) to what identifies the
filesystem: a bare UUID, "UUID=..."/"PARTUUID=...", or {"uuid": ..., "partuuid": ...}. Building it
(inspection matches guest names to filesystems) is the caller's job; here nothing is looked up.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import InvalidInputError

_BUS_DISK = re.compile(r"^/dev/(sd|hd|vd|xvd)([a-z]{1,3})(\d*)\Z")
_NVME = re.compile(r"^/dev/nvme(\d{1,4})n(\d{1,4})(?:p(\d+))?\Z")
_HW_RAID = re.compile(r"^/dev/(cciss|ida|rd)/c\d+d\d+(p\d+)?\Z")
_TAGS = ("UUID=", "LABEL=", "PARTUUID=", "PARTLABEL=", "ID=")
# by-id links made from content (device-mapper, LVM, MD) are stable; the rest come from serial numbers
# and WWNs of the virtual hardware (scsi-36000c29..., wwn-0x6000c29..., ata-VMware_Virtual_SATA...,
# nvme-VMware_Virtual_NVMe...), which the KVM disk does not carry.
_STABLE_BY_ID = ("dm-name-", "dm-uuid-", "lvm-pv-uuid-", "md-name-", "md-uuid-")
_UNSTABLE_BY = ("/dev/disk/by-path/", "/dev/disk/by-diskseq/")
# An identifier as blkid prints it: RFC 4122 UUIDs, FAT/NTFS serials, MBR PARTUUIDs (1234abcd-01).
_ID_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}\Z")
# Target disk bus -> name prefix. SATA and IDE disks are driven by libata, hence sdX; hdX only ever
# existed with the old IDE drivers that no KVM guest uses.
BUS_PREFIX = {"virtio-blk": "vd", "virtio": "vd", "virtio-scsi": "sd", "scsi": "sd", "sata": "sd",
              "ide": "sd", "usb": "sd", "nvme": "nvme"}


def is_unstable(spec):
    """True when the device name depends on the disk bus or virtual hardware (see module doc)."""
    if not isinstance(spec, str):
        return False
    spec = spec.strip()
    if spec.upper().startswith(_TAGS):
        return False
    if _BUS_DISK.match(spec) or _NVME.match(spec) or _HW_RAID.match(spec):
        return True
    for prefix in _UNSTABLE_BY:
        if spec.startswith(prefix):
            return len(spec) > len(prefix)
    if spec.startswith("/dev/disk/by-id/"):
        name = spec[len("/dev/disk/by-id/"):]
        return bool(name) and not name.startswith(_STABLE_BY_ID)
    return False


def stable_spec(spec, uuid_by_device):
    """"UUID=..." / "PARTUUID=..." to write instead of the unstable spec, or None.

    None when the spec is already stable or the map does not know it. Raises InvalidInputError when
    the map holds something that is not an identifier (it would corrupt the file it is written to).
    """
    if not is_unstable(spec):
        return None
    if uuid_by_device is None:
        return None
    if not hasattr(uuid_by_device, "get"):
        raise InvalidInputError("uuid_by_device must be a mapping of device names to UUIDs, not %s."
                                % type(uuid_by_device).__name__)
    return _tag(uuid_by_device.get(spec.strip()), spec)


def _tag(found, spec):
    if not found:
        return None
    if isinstance(found, dict):
        if found.get("uuid"):
            tag, value = "UUID", found["uuid"]
        elif found.get("partuuid"):
            tag, value = "PARTUUID", found["partuuid"]
        else:
            return None
    elif isinstance(found, str):
        tag, sep, value = found.partition("=")
        if not sep:
            tag, value = "UUID", found
        elif tag.upper() not in ("UUID", "PARTUUID"):
            raise InvalidInputError("The identifier for %s is %r; only UUID= and PARTUUID= can replace "
                                    "a device name." % (spec, found[:80]))
        tag = tag.upper()
    else:
        raise InvalidInputError("The identifier for %s is a %s, not a UUID string."
                                % (spec, type(found).__name__))
    value = value.strip() if isinstance(value, str) else value
    if not isinstance(value, str) or not _ID_VALUE.match(value):
        raise InvalidInputError("The %s for %s is %r, which is not an identifier blkid would print."
                                % (tag, spec, str(value)[:80]),
                                fix="Check the filesystem on that device (blkid) or leave it out of the map.")
    return "%s=%s" % (tag, value)


def letters_index(letters):
    """0 for 'a', 25 for 'z', 26 for 'aa': the kernel's bijective base-26 disk letters."""
    index = 0
    for char in letters:
        index = index * 26 + (ord(char) - ord("a") + 1)
    return index - 1


def index_letters(index):
    letters = ""
    index += 1
    while index > 0:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return letters


def split_device(device):
    """(disk index, partition number or None) for a bus-named device, else None.

    /dev/sdc2 -> (2, 2); /dev/xvda -> (0, None); /dev/nvme1n1p3 -> (1, 3). Disks are numbered in the
    order the source presents them, which is the order they keep on the target.
    """
    if not isinstance(device, str):
        return None
    device = device.strip()
    match = _BUS_DISK.match(device)
    if match:
        part = match.group(3)
        return letters_index(match.group(2)), (int(part) if part else None)
    match = _NVME.match(device)
    if match and match.group(2) == "1":
        part = match.group(3)
        return int(match.group(1)), (int(part) if part else None)
    return None


def guest_name(device, target_bus, index=None):
    """The name the guest kernel gives this disk or partition on target_bus.

    /dev/sda1 on virtio-blk -> /dev/vda1; on virtio-scsi or SATA -> /dev/sda1. index overrides the disk
    position (when the target orders disks differently, or the source letters have gaps such as hda +
    hdc). Names that do not depend on the bus (UUID=, /dev/mapper/...) come back unchanged; hardware
    names we cannot translate (by-id, by-path, multi-namespace NVMe, HW RAID) give None.
    """
    prefix = BUS_PREFIX.get(str(target_bus).lower()) if target_bus is not None else None
    if prefix is None:
        raise InvalidInputError("Unknown target disk bus %r." % (target_bus,),
                                fix="Use one of: %s." % ", ".join(sorted(BUS_PREFIX)))
    split = split_device(device)
    if split is None:
        return None if is_unstable(device) else device
    disk, part = split
    if index is not None:
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 26 ** 3:
            raise InvalidInputError("Disk index %r is not a position on a disk bus." % (index,))
        disk = index
    if prefix == "nvme":
        return "/dev/nvme%dn1%s" % (disk, "" if part is None else "p%d" % part)
    return "/dev/%s%s%s" % (prefix, index_letters(disk), "" if part is None else part)
