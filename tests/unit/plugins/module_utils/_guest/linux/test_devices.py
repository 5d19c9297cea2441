# -*- coding: utf-8 -*-
"""Which device names survive a change of disk bus, and what they become."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import InvalidInputError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest.linux import devices

UUID = "2f7c1a9e-6b0d-4c3e-8f21-9a5d4e3b2c10"


@pytest.mark.parametrize("spec, unstable", [
    ("/dev/sda", True), ("/dev/sda1", True), ("/dev/sdab12", True), ("/dev/hdc2", True),
    ("/dev/xvda1", True), ("/dev/vdb", True), ("/dev/nvme0n1p2", True), ("/dev/nvme1n1", True),
    ("/dev/cciss/c0d0p1", True), ("  /dev/sda1  ", True),
    ("/dev/disk/by-path/pci-0000:03:00.0-scsi-0:0:0:0-part1", True),
    ("/dev/disk/by-id/scsi-36000c29d1c2e3f4a5b6c7d8e9f0a1b2c-part3", True),
    ("/dev/disk/by-id/wwn-0x6000c29d1c2e3f4a5b6c7d8e9f0a1b2c-part1", True),
    ("/dev/disk/by-id/ata-VMware_Virtual_SATA_Hard_Drive_00000000000000000001-part1", True),
    ("/dev/disk/by-id/scsi-SVMware_Virtual_disk_6000c29d1c2e3f4a5b6c7d8e9f0a1b2c", True),
    ("/dev/disk/by-id/nvme-VMware_Virtual_NVMe_Disk_VMware_NVME_0000-part1", True),
    ("/dev/disk/by-diskseq/3-part1", True),
    ("UUID=" + UUID, False), ('UUID="%s"' % UUID, False), ("uuid=" + UUID, False),
    ("LABEL=root", False), ("PARTUUID=4c1a7e2d-02", False), ("PARTLABEL=primary", False),
    ("/dev/mapper/rhel-root", False), ("/dev/rhel/root", False), ("/dev/vg_data/lv_logs", False),
    ("/dev/md0", False), ("/dev/md/data", False), ("/dev/dm-0", False),
    ("/dev/disk/by-uuid/" + UUID, False), ("/dev/disk/by-label/root", False),
    ("/dev/disk/by-partuuid/4c1a7e2d-02", False),
    ("/dev/disk/by-id/dm-uuid-LVM-Xq3k9GvT2pYwz8bN4cR7dF1hJ6mL0sA5", False),
    ("/dev/disk/by-id/dm-name-rhel-root", False), ("/dev/disk/by-id/md-uuid-1f2e3d4c:5b6a7980", False),
    ("/dev/disk/by-id/lvm-pv-uuid-AbCdEf-1234", False), ("/dev/disk/by-id/", False),
    ("/dev/disk/by-path/", False),
    ("tmpfs", False), ("proc", False), ("none", False), ("/swap.img", False), ("/dev/sr0", False),
    ("/dev/cdrom", False), ("/dev/sdcard", False), ("", False), (None, False), (42, False),
    ("/dev/sda1\x00", False),
])
def test_is_unstable(spec, unstable):
    assert devices.is_unstable(spec) is unstable


@pytest.mark.parametrize("found, expected", [
    (UUID, "UUID=" + UUID),
    ("UUID=" + UUID, "UUID=" + UUID),
    ("partuuid=4c1a7e2d-02", "PARTUUID=4c1a7e2d-02"),
    ({"uuid": UUID, "partuuid": "4c1a7e2d-02"}, "UUID=" + UUID),
    ({"uuid": "", "partuuid": "4c1a7e2d-02"}, "PARTUUID=4c1a7e2d-02"),
    ({"label": "root"}, None),
    ("A1B2-C3D4", "UUID=A1B2-C3D4"),                 # a FAT serial
    ("0123456789ABCDEF", "UUID=0123456789ABCDEF"),   # an NTFS serial
    ("", None), (None, None),
])
def test_stable_spec(found, expected):
    assert devices.stable_spec("/dev/sda1", {"/dev/sda1": found}) == expected


def test_stable_spec_leaves_stable_and_unknown_specs():
    mapping = {"/dev/mapper/rhel-root": UUID, "/dev/sda1": UUID}
    assert devices.stable_spec("/dev/mapper/rhel-root", mapping) is None
    assert devices.stable_spec("/dev/sdb1", mapping) is None
    assert devices.stable_spec("/dev/sda1", None) is None
    assert devices.stable_spec("/dev/sda1", {}) is None


@pytest.mark.parametrize("found", [
    "x y", "UUID=" + UUID + "\nroot=/dev/sda1", "LABEL=root", "-leading-dash", "a" * 65, 12345,
    "UUID=", {"uuid": "bad value"}, "\x00",
])
def test_stable_spec_refuses_what_is_not_an_identifier(found):
    with pytest.raises(InvalidInputError):
        devices.stable_spec("/dev/sda1", {"/dev/sda1": found})


def test_stable_spec_needs_a_mapping():
    with pytest.raises(InvalidInputError, match="mapping"):
        devices.stable_spec("/dev/sda1", ["/dev/sda1"])


@pytest.mark.parametrize("letters, index", [("a", 0), ("z", 25), ("aa", 26), ("az", 51), ("ba", 52),
                                            ("zz", 701), ("aaa", 702)])
def test_disk_letters_round_trip(letters, index):
    assert devices.letters_index(letters) == index
    assert devices.index_letters(index) == letters


@pytest.mark.parametrize("device, split", [
    ("/dev/sda", (0, None)), ("/dev/sdc2", (2, 2)), ("/dev/hdb1", (1, 1)), ("/dev/xvda", (0, None)),
    ("/dev/sdaa3", (26, 3)), ("/dev/nvme1n1p3", (1, 3)), ("/dev/nvme0n1", (0, None)),
    ("/dev/nvme0n2p1", None), ("/dev/mapper/x", None), ("UUID=" + UUID, None), (None, None),
])
def test_split_device(device, split):
    assert devices.split_device(device) == split


@pytest.mark.parametrize("device, bus, index, name", [
    ("/dev/sda1", "virtio-blk", None, "/dev/vda1"),
    ("/dev/sda1", "virtio", None, "/dev/vda1"),
    ("/dev/sdb", "virtio-blk", None, "/dev/vdb"),
    ("/dev/sda1", "virtio-scsi", None, "/dev/sda1"),
    ("/dev/vda2", "sata", None, "/dev/sda2"),
    ("/dev/hda1", "virtio-blk", None, "/dev/vda1"),
    ("/dev/hdc1", "virtio-blk", 1, "/dev/vdb1"),     # IDE secondary master: the second disk on virtio
    ("/dev/xvda1", "SATA", None, "/dev/sda1"),
    ("/dev/nvme0n1p2", "virtio-blk", None, "/dev/vda2"),
    ("/dev/sdb3", "nvme", None, "/dev/nvme1n1p3"),
    ("/dev/sdz", "virtio-blk", 26, "/dev/vdaa"),
    ("UUID=" + UUID, "virtio-blk", None, "UUID=" + UUID),
    ("/dev/mapper/rhel-root", "virtio-blk", None, "/dev/mapper/rhel-root"),
    ("/dev/disk/by-id/scsi-36000c29d1c2e3f4a5b6c7d8e9f0a1b2c-part1", "virtio-blk", None, None),
    ("/dev/nvme0n2p1", "virtio-blk", None, None),
])
def test_guest_name(device, bus, index, name):
    assert devices.guest_name(device, bus, index) == name


@pytest.mark.parametrize("bus, index", [("floppy", None), (None, None), ("virtio-blk", -1),
                                        ("virtio-blk", "1"), ("virtio-blk", True), ("virtio-blk", 26 ** 3)])
def test_guest_name_refuses_unknown_buses_and_positions(bus, index):
    with pytest.raises(InvalidInputError):
        devices.guest_name("/dev/sda1", bus, index)


def test_identifier_whitespace_is_trimmed_but_never_written():
    assert devices.stable_spec("/dev/sda1", {"/dev/sda1": {"uuid": " A1B2-C3D4\n"}}) == "UUID=A1B2-C3D4"
    with pytest.raises(InvalidInputError):
        devices.stable_spec("/dev/sda1", {"/dev/sda1": {"uuid": "A1B2\nC3D4"}})
