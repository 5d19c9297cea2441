# -*- coding: utf-8 -*-
"""linux_repair.plan/render from facts dicts as inspect_open() returns them (no appliance)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import UnsupportedError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest import linux_repair

UUID = "1ba689da-6c43-4aec-8013-4c6abbe8647a"
KERNEL = "6.1.0-50-amd64"
ALL_VIRTIO = ["virtio_blk", "virtio_scsi", "virtio_pci", "virtio_net", "virtio_console"]

FIXTURE_FACTS = {
    "os": {"root": "/dev/sda1", "type": "linux", "distro": "debian", "package_format": "deb"},
    "filesystems": [{"device": "/dev/sda1", "type": "ext4", "label": None, "uuid": UUID}],
    "fstab": {"readable": True, "unstable": ["/dev/sda1"],
              "entries": [{"spec": "/dev/sda1", "file": "/", "unstable": True}]},
    "bootloader": {"flavour": "grub2", "config_files": ["/boot/grub/grub.cfg", "/etc/default/grub"],
                   "cmdline": "root=/dev/sda1 ro console=tty0 console=ttyS0,115200n8",
                   "cmdline_source": "/boot/grub/grub.cfg", "root": "/dev/sda1", "root_unstable": True,
                   "disable_linux_uuid": True,
                   "defaults": {"GRUB_CMDLINE_LINUX": "console=tty0 console=ttyS0,115200n8",
                                "GRUB_DISABLE_LINUX_UUID": "true"}},
    "initramfs": {"tool": "initramfs-tools", "kernels": [
        {"version": KERNEL, "initrd": "/boot/initrd.img-" + KERNEL, "virtio_supported": True,
         "virtio_builtin": [], "initrd_missing_virtio": list(ALL_VIRTIO)}]},
    "network": {"interfaces": [{"name": "ens192", "stack": "ifupdown", "mac": "00:50:56:ab:cd:01",
                                "mac_pinned": False, "pinned_by": "/etc/systemd/network/10-ens192.link"}]},
    "vmware_tools": {"packages": ["open-vm-tools"], "tarball_install": False,
                     "services": ["vmtoolsd.service"]},
}


def repaired(facts):
    facts = copy.deepcopy(facts)
    facts["fstab"]["unstable"] = []
    loader = facts["bootloader"]
    loader.update(root="UUID=" + UUID, root_unstable=False, disable_linux_uuid=False)
    loader["defaults"]["GRUB_DISABLE_LINUX_UUID"] = "false"
    for kernel in facts["initramfs"]["kernels"]:
        kernel["initrd_missing_virtio"] = []
    facts["vmware_tools"] = {"packages": [], "tarball_install": False, "services": []}
    return facts


def _ids(steps):
    return [s["id"] for s in steps]


def test_fixture_guest_plan():
    steps, notes = linux_repair.plan(FIXTURE_FACTS)
    assert _ids(steps) == ["01-fstab", "02-grub-default", "03-grub-cfg", "04-remove-vmware-tools",
                           "05-initramfs-modules", "06-initramfs-" + KERNEL]
    assert [s["action"] for s in steps] == ["write_file", "write_file", "write_file", "remove_package",
                                            "write_file", "append_initramfs"]
    assert steps[3]["command"] == ["dpkg", "--purge", "open-vm-tools"]
    assert steps[3]["services"] == ["vmtoolsd.service"]
    # appended by default; the rebuild command stays on the step for when appending is not possible
    assert steps[5]["modules_dir"] == "/lib/modules/" + KERNEL and steps[5]["kernel"] == KERNEL
    assert steps[5]["command"] == ["update-initramfs", "-u", "-k", KERNEL]
    assert steps[5]["path"] == "/boot/initrd.img-" + KERNEL and steps[5]["kind"] == "initramfs"
    assert all(s["reason"] for s in steps)
    assert notes == []  # ens192 is pinned to its MAC by a .link file already: nothing to do


def test_rebuild_method_runs_the_guests_tool():
    steps = linux_repair.plan(FIXTURE_FACTS, {"initramfs_method": "rebuild"})[0]
    assert steps[4]["path"] == "/etc/initramfs-tools/modules"  # the configuration is written either way
    assert steps[5]["action"] == "run" and "modules_dir" not in steps[5]
    assert steps[5]["command"] == ["update-initramfs", "-u", "-k", KERNEL]
    with pytest.raises(ValueError, match="initramfs_method"):
        linux_repair.plan(FIXTURE_FACTS, {"initramfs_method": "regenerate"})


def test_already_repaired_plan_is_empty():
    assert linux_repair.plan(repaired(FIXTURE_FACTS)) == ([], [])


def test_keep_vmware_tools_and_serial_console_options():
    facts = copy.deepcopy(FIXTURE_FACTS)
    facts["bootloader"]["cmdline"] = "root=/dev/sda1 ro"
    steps = linux_repair.plan(facts, {"remove_vmware_tools": False, "serial_console": True})[0]
    assert "04-remove-vmware-tools" not in _ids(steps)
    assert steps[1]["add_args"] == [linux_repair.SERIAL_ARG]
    assert steps[2]["add_args"] == [linux_repair.SERIAL_ARG]
    # a guest that has a serial console already gets none added
    steps = linux_repair.plan(FIXTURE_FACTS, {"serial_console": True})[0]
    assert steps[1]["add_args"] == []


def test_rhel_like_dracut_and_rpm():
    facts = copy.deepcopy(FIXTURE_FACTS)
    facts["os"]["package_format"] = "rpm"
    facts["fstab"]["unstable"] = []
    facts["bootloader"] = {"flavour": "grub2", "config_files": ["/boot/loader/entries/abc-5.14.conf"],
                           "cmdline": "root=/dev/mapper/rhel-root ro", "root": "/dev/mapper/rhel-root",
                           "root_unstable": False, "disable_linux_uuid": False, "defaults": {}}
    facts["initramfs"] = {"tool": "dracut", "kernels": [
        {"version": "5.14.0-427.el9.x86_64", "initrd": "/boot/initramfs-5.14.0-427.el9.x86_64.img",
         "virtio_supported": True, "virtio_builtin": [], "initrd_missing_virtio": ["virtio_blk"]}]}
    steps = linux_repair.plan(facts, {"initramfs_method": "rebuild"})[0]
    assert [s["action"] for s in steps] == ["remove_package", "write_file", "run"]
    assert steps[0]["command"] == ["rpm", "-e", "--nodeps", "open-vm-tools"]
    assert steps[1]["path"] == "/etc/dracut.conf.d/90-hyper2kvm-virtio.conf"
    assert "virtio_blk" in steps[1]["content"]
    assert steps[2]["command"] == ["dracut", "-f", "/boot/initramfs-5.14.0-427.el9.x86_64.img",
                                   "5.14.0-427.el9.x86_64"]


def test_unsupported_initramfs_tool_is_refused():
    facts = copy.deepcopy(FIXTURE_FACTS)
    facts["initramfs"]["tool"] = "mkinitcpio"
    with pytest.raises(UnsupportedError, match="mkinitcpio"):
        linux_repair.plan(facts)


def test_unpinned_nic_gets_a_link_file_or_a_note():
    facts = repaired(FIXTURE_FACTS)
    facts["network"]["interfaces"] = [{"name": "ens192", "mac": None, "mac_pinned": False, "pinned_by": None},
                                      {"name": "ens224", "mac": "00:50:56:ab:cd:02", "mac_pinned": False,
                                       "pinned_by": None}]
    steps, notes = linux_repair.plan(facts)
    assert [s["path"] for s in steps] == ["/etc/systemd/network/10-hyper2kvm-ens224.link"]
    assert "MACAddress=00:50:56:ab:cd:02" in steps[0]["content"]
    assert len(notes) == 1 and "ens192" in notes[0]
    steps, notes = linux_repair.plan(facts, {"nic_macs": {"ens192": "00:50:56:ab:cd:01"}})
    assert len(steps) == 2 and notes == []
    # the one source MAC no interface claims goes to the one interface without a MAC
    steps, notes = linux_repair.plan(facts, {"source_macs": ["00:50:56:AB:CD:02", "00:50:56:ab:cd:01"]})
    assert [s["path"] for s in steps][0] == "/etc/systemd/network/10-hyper2kvm-ens192.link" and notes == []
    assert "MACAddress=00:50:56:ab:cd:01" in steps[0]["content"]


def test_uuid_map_covers_every_bus_name():
    umap = linux_repair.uuid_map(FIXTURE_FACTS)
    for name in ("/dev/sda1", "/dev/vda1", "/dev/hda1", "/dev/xvda1", "/dev/nvme0n1p1"):
        assert umap[name] == UUID


BOOT_UUID = "0f3c2a77-5d1e-4c1b-9a55-3e2f8c6d4b10"
BY_ID = "/dev/disk/by-id/scsi-36000c29a1b2c3d4e5f60718293a4b5c6-part1"
# The fstab of a VMware guest with root on LVM and /boot named by the disk's by-id link, as the
# installer wrote it, and the facts inspection gives for it (libguestfs mounted /boot from sda1).
BOOTPART_FSTAB = ("# <file system> <mount point>   <type>  <options>       <dump>  <pass>\n"
                  "/dev/mapper/h2kvg-root\t/\text4\terrors=remount-ro\t0\t1\n"
                  "# /boot was on /dev/sda1 during installation\n"
                  + BY_ID + "\t/boot\text4\tdefaults\t0\t2\n")


def _bootpart_facts():
    facts = repaired(FIXTURE_FACTS)
    facts["filesystems"] = [{"device": "/dev/sda1", "type": "ext4", "label": "boot", "uuid": BOOT_UUID},
                            {"device": "/dev/h2kvg/root", "type": "ext4", "label": "rootfs", "uuid": UUID}]
    facts["mountpoints"] = {"/": "/dev/h2kvg/root", "/boot": "/dev/sda1"}
    facts["fstab"] = {"readable": True, "unstable": [BY_ID],
                      "entries": [{"spec": "/dev/mapper/h2kvg-root", "file": "/", "unstable": False},
                                  {"spec": BY_ID, "file": "/boot", "unstable": True}]}
    facts["bootloader"]["cmdline"] = "root=/dev/mapper/h2kvg-root ro"
    facts["bootloader"]["root"] = "/dev/mapper/h2kvg-root"
    return facts


def test_by_id_boot_partition_is_mapped_through_its_mountpoint():
    facts = _bootpart_facts()
    umap = linux_repair.uuid_map(facts)
    assert umap[BY_ID] == BOOT_UUID and umap["/dev/vda1"] == BOOT_UUID
    assert "/dev/mapper/h2kvg-root" not in umap  # LVM names move with the disk
    steps, notes = linux_repair.plan(facts)
    assert _ids(steps) == ["01-fstab"] and notes == []
    out = linux_repair.render(steps[0], BOOTPART_FSTAB, umap)
    assert out["text"] == BOOTPART_FSTAB.replace(BY_ID, "UUID=" + BOOT_UUID)
    assert out["unmapped"] == [] and len(out["changes"]) == 1


def test_by_id_name_libguestfs_did_not_mount_stays_a_note():
    facts = _bootpart_facts()
    facts["mountpoints"] = {"/": "/dev/h2kvg/root"}
    assert BY_ID not in linux_repair.uuid_map(facts)
    steps, notes = linux_repair.plan(facts)
    assert "01-fstab" not in _ids(steps) and BY_ID in notes[0]


def test_render_fstab_grub_and_modules():
    umap = linux_repair.uuid_map(FIXTURE_FACTS)
    steps = linux_repair.plan(FIXTURE_FACTS)[0]
    out = linux_repair.render(steps[0], "# comment\n/dev/sda1\t/\text4\terrors=remount-ro\t0\t1\n", umap)
    assert out["text"] == "# comment\nUUID=%s\t/\text4\terrors=remount-ro\t0\t1\n" % UUID
    out = linux_repair.render(steps[1], 'GRUB_CMDLINE_LINUX="quiet"\nGRUB_DISABLE_LINUX_UUID=true\n', umap)
    assert out["text"] == 'GRUB_CMDLINE_LINUX="quiet"\nGRUB_DISABLE_LINUX_UUID=false\n'
    out = linux_repair.render(steps[2], "\tlinux\t/boot/vmlinuz root=/dev/sda1 ro\n", umap)
    assert out["text"] == "\tlinux\t/boot/vmlinuz root=UUID=%s ro\n" % UUID
    out = linux_repair.render(steps[4], "vmw_pvscsi\n", umap)
    assert out["text"].splitlines()[0] == "vmw_pvscsi" and "virtio_blk" in out["text"]
    assert linux_repair.render(steps[4], out["text"], umap)["changes"] == []


def test_overlay_and_commit_argv_state_every_format():
    from ansible_collections.hyper2kvm.migrate.plugins.module_utils._disk import qemu_img
    from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import InvalidInputError
    assert qemu_img.overlay_argv("/img/g.qcow2", "qcow2", "/img/.d/ov.qcow2") == [
        "qemu-img", "create", "-q", "-f", "qcow2", "-b", "/img/g.qcow2", "-F", "qcow2", "/img/.d/ov.qcow2"]
    assert qemu_img.commit_argv("/img/.d/ov.qcow2") == ["qemu-img", "commit", "-q", "-f", "qcow2", "/img/.d/ov.qcow2"]
    with pytest.raises(InvalidInputError):
        qemu_img.overlay_argv("g.qcow2", "qcow2", "ov.qcow2")
    with pytest.raises(InvalidInputError):
        qemu_img.overlay_argv("/img/g.vmdk", "vmdk", "ov.qcow2")


ESP = "/boot/efi/EFI/debian/"


def _efi_facts(**boot):
    """The fixture guest as installed on UEFI (debian12-efi): shim + signed GRUB in EFI/debian only,
    /boot/grub/grub.cfg with the entries, a stub grub.cfg on the ESP that loads it."""
    facts = copy.deepcopy(FIXTURE_FACTS)
    facts["os"]["arch"] = "x86_64"
    files = [ESP + n for n in ("BOOTX64.CSV", "fbx64.efi", "grub.cfg", "grubx64.efi", "mmx64.efi", "shimx64.efi")]
    facts["boot"] = dict({"mode": "uefi", "esp": ["/dev/sda1"], "efi_files": files}, **boot)
    facts["bootloader"]["config_files"] = [ESP + "grub.cfg", "/boot/grub/grub.cfg", "/etc/default/grub"]
    facts["bootloader"]["mkconfig"] = "grub-mkconfig"
    return facts


def test_uefi_guest_gets_the_fallback_loader_from_its_own_shim():
    steps, notes = linux_repair.plan(_efi_facts())
    copies = [s for s in steps if s["action"] == "copy_file"]
    assert [(s["source"], s["path"]) for s in copies] == [
        (ESP + "shimx64.efi", "/boot/efi/EFI/BOOT/BOOTX64.EFI"),
        (ESP + "grubx64.efi", "/boot/efi/EFI/BOOT/grubx64.efi"),  # shim starts grub from its own folder
        (ESP + "mmx64.efi", "/boot/efi/EFI/BOOT/mmx64.efi"),
        (ESP + "grub.cfg", "/boot/efi/EFI/BOOT/grub.cfg")]
    assert copies[0]["id"].endswith("-efi-fallback-bootx64.efi") and "NVRAM" in copies[0]["reason"]
    assert notes == []
    # after the bootloader's own steps, before the network, tools and initramfs steps
    actions = [s["action"] for s in steps]
    assert actions.index("copy_file") > max(i for i, s in enumerate(steps) if (s["path"] or "").startswith("/boot/grub"))
    assert actions.index("copy_file") < actions.index("remove_package")


@pytest.mark.parametrize("boot, arch", [
    ({"mode": "bios", "efi_files": []}, "x86_64"),  # BIOS guest: nothing on an ESP to copy
    ({"efi_files": [ESP + "shimx64.efi", "/boot/efi/EFI/BOOT/BOOTX64.EFI"]}, "x86_64"),  # fallback present
    ({"efi_files": [ESP + "shimx64.efi", "/boot/efi/efi/boot/bootx64.efi"]}, "x86_64"),  # any case (FAT)
])
def test_no_fallback_step_when_not_needed(boot, arch):
    facts = _efi_facts(**boot)
    facts["os"]["arch"] = arch
    assert not [s for s in linux_repair.plan(facts)[0] if s["action"] == "copy_file"]


def test_unknown_efi_architecture_is_a_note_not_a_failure():
    facts = _efi_facts()
    facts["os"]["arch"] = "sparc64"
    steps, notes = linux_repair.plan(facts)
    assert not [s for s in steps if s["action"] == "copy_file"]
    assert any("EFI fallback loader" in n and "sparc64" in n for n in notes)


def test_update_grub_regenerates_the_config_with_the_entries_not_the_esp_stub():
    steps = linux_repair.plan(_efi_facts(), {"update_grub": True})[0]
    mkconfig = next(s for s in steps if s["id"].endswith("-grub-mkconfig"))
    assert mkconfig["command"] == ["grub-mkconfig", "-o", "/boot/grub/grub.cfg"]
    recheck = next(s for s in steps if s["id"].endswith("-grub-cfg-recheck"))
    assert recheck["path"] == "/boot/grub/grub.cfg"


@pytest.mark.parametrize("configs, source, mkconfig, command", [
    # RHEL 7/8 on UEFI: the full configuration lives on the ESP, the tool is grub2-mkconfig
    (["/boot/efi/EFI/redhat/grub.cfg"], "/boot/efi/EFI/redhat/grub.cfg", "grub2-mkconfig",
     ["grub2-mkconfig", "-o", "/boot/efi/EFI/redhat/grub.cfg"]),
    # RHEL 9: a stub on the ESP, the entries in /boot/grub2/grub.cfg
    (["/boot/efi/EFI/redhat/grub.cfg", "/boot/grub2/grub.cfg"], "/boot/grub2/grub.cfg", "grub2-mkconfig",
     ["grub2-mkconfig", "-o", "/boot/grub2/grub.cfg"]),
    # no command line read from either (BLS entries): the one outside the ESP; the tool from the path
    (["/boot/efi/EFI/redhat/grub.cfg", "/boot/grub2/grub.cfg"], "/boot/loader/entries", None,
     ["grub2-mkconfig", "-o", "/boot/grub2/grub.cfg"]),
])
def test_update_grub_target_and_tool(configs, source, mkconfig, command):
    facts = copy.deepcopy(FIXTURE_FACTS)
    facts["bootloader"].update(config_files=configs + ["/etc/default/grub"], cmdline_source=source,
                               mkconfig=mkconfig)
    steps = linux_repair.plan(facts, {"update_grub": True})[0]
    assert next(s for s in steps if s["id"].endswith("-grub-mkconfig"))["command"] == command
