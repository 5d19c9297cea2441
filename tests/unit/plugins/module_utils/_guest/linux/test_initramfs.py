# -*- coding: utf-8 -*-
"""Initramfs tools, virtio drivers in an image, and the configuration that adds them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import InvalidInputError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest.linux import initramfs


@pytest.mark.parametrize("files, tool", [
    ({"/usr/sbin/update-initramfs", "/usr/sbin/mkinitramfs"}, "initramfs-tools"),
    ({"/sbin/update-initramfs"}, "initramfs-tools"),
    ({"/usr/bin/dracut", "/usr/bin/mkinitrd"}, "dracut"),              # RHEL 7+: mkinitrd wraps dracut
    ({"/sbin/dracut", "/sbin/mkinitrd"}, "dracut"),                    # RHEL 6
    ({"/usr/sbin/dracut", "/sbin/mkinitrd"}, "dracut"),                # SLES 12+
    ({"/sbin/mkinitrd"}, "mkinitrd"),                                  # RHEL 5, SLES 11
    ({"/usr/bin/mkinitcpio"}, "mkinitcpio"),
    ({"/etc/initramfs-tools/modules"}, None), (set(), None), (None, None), ({None, 3}, None),
])
def test_tool(files, tool):
    assert initramfs.tool(files) == tool


@pytest.mark.parametrize("path, name", [
    ("usr/lib/modules/6.1.0-18-amd64/kernel/drivers/block/virtio_blk.ko", "virtio_blk"),
    ("/lib/modules/5.14/kernel/drivers/scsi/virtio_scsi.ko.xz", "virtio_scsi"),
    ("kernel/drivers/block/virtio_blk.ko.zst", "virtio_blk"),
    ("x/virtio-pci.ko.gz", "virtio_pci"),
    ("-rw-r--r--   1 root root  9820 Nov  2 12:05 usr/lib/modules/v/virtio_net.ko.xz", "virtio_net"),
    ("usr/lib/modules/v/modules.builtin", None), ("virtio_blk.ko.bz2", None), ("", None), (b"a/b.ko", "b"),
])
def test_module_name(path, name):
    assert initramfs.module_name(path) == name


def test_missing_virtio_debian_vmware_image(sample):
    listing = sample("initramfs/debian12-lsinitramfs.txt").splitlines()
    assert initramfs.missing_virtio(listing) == ["virtio_blk", "virtio_scsi", "virtio_net", "virtio_console"]


def test_missing_virtio_debian_dracut_host_only_image(sample):
    listing = [line for line in sample("initramfs/debian12-dracut-lsinitrd.txt").splitlines()
               if not line.startswith("#")]
    assert initramfs.missing_virtio(listing) == list(initramfs.VIRTIO_MODULES)
    assert initramfs.missing_virtio(listing, modules=["vmw_pvscsi", "sd_mod", "ext4"]) == []


def test_missing_virtio_rhel_with_builtins(sample):
    listing = sample("initramfs/rhel9-lsinitrd.txt").splitlines()
    builtin = initramfs.parse_modules_builtin(sample("initramfs/rhel9-modules.builtin"))
    assert "virtio_pci" in builtin and "crc32c_intel" in builtin
    assert initramfs.missing_virtio(listing) == ["virtio_pci", "virtio_console"]
    assert initramfs.missing_virtio(listing, builtin=builtin) == ["virtio_console"]
    assert initramfs.missing_virtio(listing, builtin={"virtio-console", "virtio_pci"}) == []
    assert initramfs.missing_virtio([], builtin=["kernel/drivers/block/virtio_blk.ko"],
                                    modules=["virtio_blk", "virtio_scsi"]) == ["virtio_scsi"]


def test_missing_virtio_tolerates_junk():
    assert initramfs.missing_virtio(None) == list(initramfs.VIRTIO_MODULES)
    assert initramfs.missing_virtio(["", "\x00", "a" * 100000, "virtio_blk.ko\x00"], modules=["virtio_blk"]) == \
        ["virtio_blk"]
    with pytest.raises(InvalidInputError):
        initramfs.missing_virtio([], modules=["virtio blk"])


def test_initramfs_tools_modules(sample):
    text = sample("initramfs/debian-modules")
    got = initramfs.initramfs_tools_modules(text)
    added = ["virtio_blk", "virtio_scsi", "virtio_net", "virtio_console"]     # virtio-pci is listed already
    assert got["text"] == text + "# hyper2kvm: drivers for the KVM virtio disk and network\n" + \
        "".join(name + "\n" for name in added)
    assert got["changes"] == [{"lineno": 16 + n, "before": None, "after": name} for n, name in enumerate(added)]
    assert initramfs.initramfs_tools_modules(got["text"]) == {"text": got["text"], "changes": []}


@pytest.mark.parametrize("text, expected", [
    ("", "# hyper2kvm: drivers for the KVM virtio disk and network\nvirtio_blk\n"),
    ("ahci", "ahci\n# hyper2kvm: drivers for the KVM virtio disk and network\nvirtio_blk\n"),
    ("ahci\r\n", "ahci\r\n# hyper2kvm: drivers for the KVM virtio disk and network\r\nvirtio_blk\r\n"),
    ("virtio-blk foo=1\n", "virtio-blk foo=1\n"),
    ("# virtio_blk\n", "# virtio_blk\n# hyper2kvm: drivers for the KVM virtio disk and network\nvirtio_blk\n"),
])
def test_initramfs_tools_modules_edges(text, expected):
    assert initramfs.initramfs_tools_modules(text, ["virtio_blk"])["text"] == expected


@pytest.mark.parametrize("text, mode, notes", [
    (None, None, 0), ("MODULES=most\n", "most", 0), ("MODULES=dep\n", "dep", 1),
    ("MODULES=netboot\n", "netboot", 0), ("MODULES=bogus\n", "bogus", 1), ("# MODULES=dep\n", None, 0),
])
def test_initramfs_tools_conf(text, mode, notes):
    got = initramfs.initramfs_tools_conf(text)
    assert (got["modules"], len(got["notes"]), got["changes"]) == (mode, notes, [])
    assert got["text"] == (text or "")


def test_initramfs_tools_conf_sample(sample):
    text = sample("initramfs/debian-initramfs.conf")
    got = initramfs.initramfs_tools_conf(text)
    assert got["text"] == text and got["modules"] == "list"
    assert "must be listed" in got["notes"][0]


def test_dracut_conf(sample):
    path, text = initramfs.dracut_conf()
    assert path == "/etc/dracut.conf.d/90-hyper2kvm-virtio.conf"
    assert text == sample("initramfs/90-hyper2kvm-virtio.conf")
    assert initramfs.dracut_conf(["virtio_blk"])[1].endswith('add_drivers+=" virtio_blk "\n')
    with pytest.raises(InvalidInputError):
        initramfs.dracut_conf(['virtio_blk" install_items+="/etc/shadow'])


def test_kernels():
    files = {
        "/boot/vmlinuz-6.1.0-18-amd64", "/boot/initrd.img-6.1.0-18-amd64",
        "/boot/vmlinuz-6.1.0-9-amd64", "/boot/initrd.img-6.1.0-9-amd64",
        "/boot/vmlinuz-5.14.0-362.8.1.el9_3.x86_64", "/boot/initramfs-5.14.0-362.8.1.el9_3.x86_64.img",
        "/boot/initramfs-5.14.0-362.8.1.el9_3.x86_64kdump.img",
        "/boot/.vmlinuz-5.14.0-362.8.1.el9_3.x86_64.hmac",
        "/boot/vmlinuz-0-rescue-3b1ac0de5f2e4a8f9c7d6b5a4e3f2d1c",
        "/boot/initramfs-0-rescue-3b1ac0de5f2e4a8f9c7d6b5a4e3f2d1c.img",
        "/boot/vmlinuz-5.14.21-150500.55.39-default", "/boot/initrd-5.14.21-150500.55.39-default",
        "/boot/vmlinuz", "/boot/vmlinuz-4.4.0-nosuchinitrd", "/boot/vmlinuz-6.1.0-9-amd64.dpkg-bak",
        "/vmlinuz-6.1.0-18-amd64", "/boot/efi/vmlinuz-9.9", None,
    }
    assert initramfs.kernels(files) == [
        {"version": "6.1.0-18-amd64", "vmlinuz": "/boot/vmlinuz-6.1.0-18-amd64",
         "initrd": "/boot/initrd.img-6.1.0-18-amd64"},
        {"version": "6.1.0-9-amd64", "vmlinuz": "/boot/vmlinuz-6.1.0-9-amd64",
         "initrd": "/boot/initrd.img-6.1.0-9-amd64"},
        {"version": "5.14.21-150500.55.39-default", "vmlinuz": "/boot/vmlinuz-5.14.21-150500.55.39-default",
         "initrd": "/boot/initrd-5.14.21-150500.55.39-default"},
        {"version": "5.14.0-362.8.1.el9_3.x86_64", "vmlinuz": "/boot/vmlinuz-5.14.0-362.8.1.el9_3.x86_64",
         "initrd": "/boot/initramfs-5.14.0-362.8.1.el9_3.x86_64.img"},
        {"version": "4.4.0-nosuchinitrd", "vmlinuz": "/boot/vmlinuz-4.4.0-nosuchinitrd", "initrd": None},
    ]
    assert initramfs.kernels(None) == [] and initramfs.kernels({"/boot/vmlinuz-"}) == []


def test_module_names_with_a_trailing_newline_are_refused():
    with pytest.raises(InvalidInputError):
        initramfs.dracut_conf(["virtio_blk\n"])


# modules.dep as a Debian 12 kernel (6.1) writes it: paths relative to /lib/modules/<version>, every
# dependency of a module listed on its line.
MODULES_DEP = """kernel/drivers/virtio/virtio.ko:
kernel/drivers/virtio/virtio_ring.ko: kernel/drivers/virtio/virtio.ko
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_modern_dev.ko \
kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/scsi/scsi_mod.ko: kernel/drivers/scsi/scsi_common.ko
kernel/drivers/scsi/scsi_common.ko:
kernel/drivers/scsi/virtio_scsi.ko: kernel/drivers/scsi/scsi_mod.ko kernel/drivers/scsi/scsi_common.ko \
kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko \
kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/char/virtio_console.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
../../etc/shadow.ko: kernel/drivers/virtio/virtio.ko
"""
ROOT = "usr/lib/modules/6.1.0-27-amd64/"
VMWARE_LISTING = [ROOT + p for p in ("kernel/drivers/scsi/scsi_mod.ko", "kernel/drivers/scsi/scsi_common.ko",
                                     "kernel/drivers/scsi/vmw_pvscsi.ko", "modules.dep", "modules.dep.bin")]


def test_parse_modules_dep_skips_paths_out_of_the_folder():
    index = initramfs.parse_modules_dep(MODULES_DEP)
    assert index["virtio_pci"]["deps"][-1] == "kernel/drivers/virtio/virtio.ko"
    assert index["virtio_blk"]["path"] == "kernel/drivers/block/virtio_blk.ko"
    assert "shadow" not in index and len(index) == 13


def test_modules_to_append_adds_dependencies_once_and_skips_what_is_there():
    paths = initramfs.modules_to_append(VMWARE_LISTING, initramfs.parse_modules_dep(MODULES_DEP))
    assert paths == [
        "kernel/drivers/block/virtio_blk.ko", "kernel/drivers/virtio/virtio_ring.ko", "kernel/drivers/virtio/virtio.ko",
        "kernel/drivers/scsi/virtio_scsi.ko",  # scsi_mod and scsi_common are in the image already
        "kernel/drivers/virtio/virtio_pci.ko", "kernel/drivers/virtio/virtio_pci_modern_dev.ko",
        "kernel/drivers/virtio/virtio_pci_legacy_dev.ko", "kernel/drivers/net/virtio_net.ko",
        "kernel/drivers/net/net_failover.ko", "kernel/net/core/failover.ko", "kernel/drivers/char/virtio_console.ko"]


def test_modules_to_append_respects_builtin_drivers_and_names_a_missing_one():
    index = initramfs.parse_modules_dep(MODULES_DEP)
    builtin = ["virtio_blk", "kernel/drivers/virtio/virtio_pci.ko", "virtio_scsi", "virtio_net", "virtio_console"]
    assert initramfs.modules_to_append(VMWARE_LISTING, index, builtin) == []
    del index["virtio_net"]
    with pytest.raises(InvalidInputError, match="virtio_net"):
        initramfs.modules_to_append(VMWARE_LISTING, index)


@pytest.mark.parametrize("listing, root", [
    (VMWARE_LISTING, "usr/lib/modules/6.1.0-27-amd64"),
    (["lib/modules/6.1.0-27-amd64/kernel/drivers/scsi/sd_mod.ko"], "lib/modules/6.1.0-27-amd64"),
    (["./usr/lib/modules/6.1.0-27-amd64/modules.dep"], "usr/lib/modules/6.1.0-27-amd64"),
    (["usr/lib/modules/5.10.0-1-amd64/modules.dep"], "lib/modules/6.1.0-27-amd64"),  # another kernel's folder
])
def test_modules_root(listing, root):
    assert initramfs.modules_root(listing, "6.1.0-27-amd64") == root
