# -*- coding: utf-8 -*-
"""Kernel command lines and the boot loader files that carry them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import InvalidInputError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest.linux import bootloader

R1 = "2f7c1a9e-6b0d-4c3e-8f21-9a5d4e3b2c10"
R2 = "11111111-2222-4333-8444-555555555555"
R3 = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
MAP = {"/dev/sda1": R1, "/dev/sda2": R2, "/dev/sda3": R3}
SERIAL = "console=ttyS0,115200"


@pytest.mark.parametrize("cmdline, root", [
    ("BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet", "/dev/sda1"),
    ("root=/dev/sda1 ro root=UUID=%s" % R1, "UUID=%s" % R1),     # the kernel takes the last one
    ('root="/dev/mapper/vg-root" ro', "/dev/mapper/vg-root"),
    ("ro quiet rootfstype=ext4", None), ("root", None), ("", None), (None, None),
])
def test_cmdline_root(cmdline, root):
    assert bootloader.cmdline_root(cmdline) == root


@pytest.mark.parametrize("cmdline, add, remove, new, changes", [
    ("root=/dev/sda1 ro  quiet", (), (), "root=UUID=%s ro  quiet" % R1,
     [{"before": "root=/dev/sda1", "after": "root=UUID=%s" % R1}]),
    ("ro resume=/dev/sda2 real_root=/dev/sda3", (), (),
     "ro resume=UUID=%s real_root=UUID=%s" % (R2, R3),
     [{"before": "resume=/dev/sda2", "after": "resume=UUID=%s" % R2},
      {"before": "real_root=/dev/sda3", "after": "real_root=UUID=%s" % R3}]),
    ("root=UUID=%s ro" % R1, [SERIAL], (), "root=UUID=%s ro %s" % (R1, SERIAL),
     [{"before": None, "after": SERIAL}]),
    ("ro console=tty0 ", [SERIAL, "console=tty0"], (), "ro console=tty0 %s " % SERIAL,
     [{"before": None, "after": SERIAL}]),
    ("ro console=ttyS0,9600", [SERIAL], (), "ro console=ttyS0,9600 %s" % SERIAL,
     [{"before": None, "after": SERIAL}]),                              # console may repeat
    ("ro net.ifnames=1", ["net.ifnames=0"], (), "ro net.ifnames=1", []),  # the guest's choice stays
    ("  ", ["quiet"], (), "quiet  ", [{"before": None, "after": "quiet"}]),
    ("", ["a", "b"], (), "a b", [{"before": None, "after": "a"}, {"before": None, "after": "b"}]),
    ("vga=791 ro vga=ask quiet", (), ["vga"], "ro quiet",
     [{"before": "vga=791", "after": None}, {"before": "vga=ask", "after": None}]),
    (" vga=791 ro", (), ["vga=791"], " ro", [{"before": "vga=791", "after": None}]),
    ("ro rhgb quiet", (), "rhgb", "ro quiet", [{"before": "rhgb", "after": None}]),
    ("ro vga=ask", (), ["vga=791"], "ro vga=ask", []),
    ("root=/dev/sdq1 ro", (), (), "root=/dev/sdq1 ro", []),            # unknown: left as is
    ("root=LABEL=root root=/dev/mapper/x", (), (), "root=LABEL=root root=/dev/mapper/x", []),
    ('root="/dev/sda1" ro', (), (), "root=UUID=%s ro" % R1,
     [{"before": 'root="/dev/sda1"', "after": "root=UUID=%s" % R1}]),
])
def test_rewrite_cmdline(cmdline, add, remove, new, changes):
    got = bootloader.rewrite_cmdline(cmdline, MAP, add=add, remove=remove)
    assert got == (new, changes)
    assert bootloader.rewrite_cmdline(new, MAP, add=add, remove=remove) == (new, [])


@pytest.mark.parametrize("bad", [["console=ttyS0 quiet"], ['a"b'], ["a'b"], [""], [None], ["x;reboot"]])
def test_rewrite_cmdline_refuses_args_that_could_break_quoting(bad):
    with pytest.raises(InvalidInputError):
        bootloader.rewrite_cmdline("ro", MAP, add=bad)


def test_unmapped_args():
    assert bootloader.unmapped_args("root=/dev/sda1 resume=/dev/sdb2 ro", MAP) == ["/dev/sdb2"]


def test_parse_grub_default(sample):
    got = bootloader.parse_grub_default(sample("boot/debian12-default-grub"))
    assert got == {"GRUB_DEFAULT": "0", "GRUB_TIMEOUT": "5",
                   "GRUB_DISTRIBUTOR": "`lsb_release -i -s 2> /dev/null || echo Debian`",
                   "GRUB_CMDLINE_LINUX_DEFAULT": "quiet", "GRUB_CMDLINE_LINUX": "",
                   "GRUB_DISABLE_LINUX_UUID": "true"}
    rhel = bootloader.parse_grub_default(sample("boot/rhel7-default-grub"))
    assert rhel["GRUB_DISTRIBUTOR"] == "$(sed 's, release .*$,,g' /etc/system-release)"
    assert rhel["GRUB_CMDLINE_LINUX"] == "crashkernel=auto rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap rhgb quiet"


def _check(result, text, replacements, unmapped=()):
    expected = text
    for before, after in replacements:
        assert expected.count(before) >= 1, before
        expected = expected.replace(before, after)
    assert result["text"] == expected
    assert result["unmapped"] == list(unmapped)
    return result


def test_grub_default_debian_device_names(sample):
    text = sample("boot/debian12-default-grub")
    got = _check(bootloader.rewrite_grub_default(text, MAP, add_args=[SERIAL]), text, [
        ('GRUB_CMDLINE_LINUX=""', 'GRUB_CMDLINE_LINUX="%s"' % SERIAL),
        ("GRUB_DISABLE_LINUX_UUID=true", "GRUB_DISABLE_LINUX_UUID=false")])
    assert [(c["lineno"], c["before"], c["after"]) for c in got["changes"]] == [
        (10, 'GRUB_CMDLINE_LINUX=""', 'GRUB_CMDLINE_LINUX="%s"' % SERIAL),
        (21, "GRUB_DISABLE_LINUX_UUID=true", "GRUB_DISABLE_LINUX_UUID=false")]
    assert bootloader.rewrite_grub_default(got["text"], MAP, add_args=[SERIAL])["changes"] == []
    kept = bootloader.rewrite_grub_default(text, MAP, enable_uuid=False)
    assert kept == {"text": text, "changes": [], "unmapped": []}


def test_grub_default_sles_by_id_resume(sample):
    text = sample("boot/sles12-default-grub")
    part2 = "/dev/disk/by-id/scsi-36000c29d1c2e3f4a5b6c7d8e9f0a1b2c-part2"
    mapping = {part2: R2}
    args = ["console=tty0", SERIAL]
    got = _check(bootloader.rewrite_grub_default(text, mapping, add_args=args, remove_args=["vga"]), text, [
        ('"resume=%s splash=silent quiet showopts vga=0x314"' % part2,
         '"resume=UUID=%s splash=silent quiet showopts"' % R2),
        ('GRUB_CMDLINE_LINUX=""', 'GRUB_CMDLINE_LINUX="console=tty0 %s"' % SERIAL)])
    # the commented GRUB_DISABLE_LINUX_UUID and the Xen vga= are not ours to change
    assert "# GRUB_DISABLE_LINUX_UUID=true" in got["text"] and 'XEN_DEFAULT="vga=gfx' in got["text"]
    again = bootloader.rewrite_grub_default(got["text"], mapping, add_args=args, remove_args=["vga"])
    assert again["changes"] == []
    assert bootloader.rewrite_grub_default(text, {})["unmapped"] == [{"lineno": 11, "spec": part2}]


def test_grub_default_rhel_appends_to_the_existing_line(sample):
    text = sample("boot/rhel7-default-grub")
    _check(bootloader.rewrite_grub_default(text, MAP, add_args=[SERIAL]), text, [
        ('rhgb quiet"', 'rhgb quiet %s"' % SERIAL)])


@pytest.mark.parametrize("text, add, expected", [
    ("GRUB_CMDLINE_LINUX=root=/dev/sda1\n", (), "GRUB_CMDLINE_LINUX=root=UUID=%s\n" % R1),
    ("GRUB_CMDLINE_LINUX=quiet\n", [SERIAL], 'GRUB_CMDLINE_LINUX="quiet %s"\n' % SERIAL),
    ("GRUB_CMDLINE_LINUX='root=/dev/sda1 quiet'\r\n", [SERIAL],
     "GRUB_CMDLINE_LINUX='root=UUID=%s quiet %s'\r\n" % (R1, SERIAL)),
    ('GRUB_TIMEOUT=5', [SERIAL], 'GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX="%s"\n' % SERIAL),
    ('GRUB_CMDLINE_LINUX_DEFAULT="%s"\n' % SERIAL, [SERIAL], 'GRUB_CMDLINE_LINUX_DEFAULT="%s"\n' % SERIAL),
    ('GRUB_CMDLINE_LINUX="a"\nGRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX b"\n', [SERIAL],
     'GRUB_CMDLINE_LINUX="a"\nGRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX b %s"\n' % SERIAL),
    ('GRUB_DISABLE_LINUX_UUID="true"  # why\n', (), 'GRUB_DISABLE_LINUX_UUID="false"  # why\n'),
    ("GRUB_DISABLE_LINUX_UUID=false\n", (), "GRUB_DISABLE_LINUX_UUID=false\n"),
    ('GRUB_CMDLINE_LINUX="root=/dev/sda1 "\'quiet\'\n', (), 'GRUB_CMDLINE_LINUX="root=/dev/sda1 "\'quiet\'\n'),
    ("", (), ""),
])
def test_grub_default_quoting(text, add, expected):
    got = bootloader.rewrite_grub_default(text, MAP, add_args=add)
    assert got["text"] == expected
    assert bootloader.rewrite_grub_default(got["text"], MAP, add_args=add)["changes"] == []


def test_grub_cfg_debian(sample):
    text = sample("boot/debian12-grub.cfg")
    got = _check(bootloader.rewrite_grub_cfg(text, MAP), text, [
        ("root=/dev/sda1 ro", "root=UUID=%s ro" % R1)])
    assert [c["lineno"] for c in got["changes"]] == [45, 58, 70]
    # GRUB's own view of the disk (search hints, set root, menu ids) stays as it was
    assert "'gnulinux-simple-/dev/sda1'" in got["text"] and "set root='hd0,msdos1'" in got["text"]
    assert bootloader.rewrite_grub_cfg(got["text"], MAP)["changes"] == []


def test_grub_legacy_rhel6(sample):
    text = sample("boot/rhel6-grub.conf")
    got = _check(bootloader.rewrite_grub_cfg(text, MAP, add_args=["console=ttyS0"]), text, [
        ("root=/dev/sda2 rd_NO_LUKS", "root=UUID=%s rd_NO_LUKS" % R2),
        ("rd_NO_DM rhgb quiet\n", "rd_NO_DM rhgb quiet console=ttyS0\n")])
    assert [c["lineno"] for c in got["changes"]] == [16, 20]
    assert "#          kernel /vmlinuz-version ro root=/dev/sda2\n" in got["text"]
    assert bootloader.rewrite_grub_cfg(got["text"], MAP, add_args=["console=ttyS0"])["changes"] == []


def test_bls_entries(sample):
    text = sample("boot/rhel9-bls-entry.conf")
    got = _check(bootloader.rewrite_bls_entry(text, MAP, add_args=["console=ttyS0"]), text, [
        ("root=/dev/sda3", "root=UUID=" + R3), ("resume=/dev/sda2", "resume=UUID=" + R2),
        ("$tuned_params\n", "$tuned_params console=ttyS0\n")])
    assert [c["lineno"] for c in got["changes"]] == [5]
    assert bootloader.rewrite_bls_entry(got["text"], MAP, add_args=["console=ttyS0"])["changes"] == []
    rhel8 = sample("boot/rhel8-bls-entry.conf")
    assert bootloader.rewrite_bls_entry(rhel8, MAP) == {"text": rhel8, "changes": [], "unmapped": []}


def test_bls_add_goes_to_the_last_options_line_once():
    text = "title x\noptions root=/dev/sda1\noptions quiet\n"
    got = bootloader.rewrite_bls_entry(text, MAP, add_args=["quiet", "console=ttyS0"])
    assert got["text"] == "title x\noptions root=UUID=%s\noptions quiet console=ttyS0\n" % R1


def test_grubenv_keeps_its_size(sample):
    text = sample("boot/rhel8-grubenv")
    got = bootloader.rewrite_grubenv(text, MAP)
    head = got["text"].rstrip("#")
    assert len(got["text"].encode("utf-8")) == 1024
    assert head == text.rstrip("#").replace("root=/dev/sda2", "root=UUID=" + R2).replace(
        "resume=/dev/sda3", "resume=UUID=" + R3)
    assert bootloader.rewrite_grubenv(got["text"], MAP) == {"text": got["text"], "changes": [], "unmapped": []}


def test_grubenv_that_would_overflow_is_refused():
    head = "# GRUB Environment Block\nkernelopts=root=/dev/sda1 %s\n" % ("x" * 960)
    with pytest.raises(InvalidInputError, match="1024"):
        bootloader.rewrite_grubenv(head + "#" * (1024 - len(head)), MAP)


def test_extlinux(sample):
    text = sample("boot/alpine-extlinux.conf")
    _check(bootloader.rewrite_extlinux(text, MAP), text, [("APPEND root=/dev/sda3", "APPEND root=UUID=" + R3)])


@pytest.mark.parametrize("files, flavour", [
    ({"/boot/grub/grub.cfg", "/etc/default/grub", "/boot/grub/menu.lst"}, "grub2"),
    ({"/boot/grub2/grub.cfg", "/boot/loader/entries/x.conf"}, "grub2"),
    ({"/boot/efi/EFI/redhat/grub.cfg"}, "grub2"),
    ({"/boot/efi/EFI/ubuntu/GRUB.CFG"}, "grub2"),
    ({"/boot/efi/EFI/systemd/systemd-bootx64.efi", "/boot/efi/loader/entries/arch.conf"}, "systemd-boot"),
    ({"/efi/loader/loader.conf"}, "systemd-boot"),
    ({"/boot/grub/grub.conf", "/etc/grub.conf"}, "grub-legacy"),
    ({"/boot/grub/menu.lst"}, "grub-legacy"),
    ({"/boot/extlinux/extlinux.conf"}, "extlinux"),
    ({"/boot/syslinux/syslinux.cfg"}, "extlinux"),
    ({"/etc/default/grub"}, None), (set(), None), (None, None), ({1, None, "/x"}, None),
])
def test_grub_flavour(files, flavour):
    assert bootloader.grub_flavour(files) == flavour


def test_boot_configs():
    files = {"/etc/default/grub", "/boot/grub2/grub.cfg", "/boot/grub2/grubenv", "/boot/efi/EFI/redhat/grub.cfg",
             "/boot/efi/EFI/redhat/grubenv", "/boot/loader/entries/a-5.14.conf", "/boot/loader/entries/b.conf.bak",
             "/boot/loader/entries/a-0-rescue.conf"}
    assert bootloader.boot_configs(files) == {
        "grub_cfg": ["/boot/efi/EFI/redhat/grub.cfg", "/boot/grub2/grub.cfg"],
        "grubenv": ["/boot/efi/EFI/redhat/grubenv", "/boot/grub2/grubenv"],
        "bls_entries": ["/boot/loader/entries/a-0-rescue.conf", "/boot/loader/entries/a-5.14.conf"],
        "grub_legacy": [], "extlinux": [], "systemd_boot": [], "grub_default": "/etc/default/grub"}


DEBIAN_ESP = {"/boot/efi/EFI/debian/shimx64.efi", "/boot/efi/EFI/debian/grubx64.efi",
              "/boot/efi/EFI/debian/mmx64.efi", "/boot/efi/EFI/debian/fbx64.efi",
              "/boot/efi/EFI/debian/grub.cfg", "/boot/efi/EFI/debian/BOOTX64.CSV"}


@pytest.mark.parametrize("files, arch, needed, copies", [
    (DEBIAN_ESP, "x86_64", True, [
        ("/boot/efi/EFI/debian/shimx64.efi", "/boot/efi/EFI/BOOT/BOOTX64.EFI"),
        ("/boot/efi/EFI/debian/grubx64.efi", "/boot/efi/EFI/BOOT/grubx64.efi"),
        ("/boot/efi/EFI/debian/mmx64.efi", "/boot/efi/EFI/BOOT/mmx64.efi"),
        ("/boot/efi/EFI/debian/grub.cfg", "/boot/efi/EFI/BOOT/grub.cfg")]),
    (DEBIAN_ESP | {"/boot/efi/EFI/BOOT/BOOTX64.EFI"}, "x86_64", False, None),
    ({"/boot/efi/efi/boot/bootx64.efi", "/boot/efi/efi/debian/grubx64.efi"}, "x86_64", False, None),
    ({"EFI\\ubuntu\\grubx64.efi"}, "amd64", True, [("/EFI/ubuntu/grubx64.efi", "/EFI/BOOT/BOOTX64.EFI")]),
    ({"/boot/efi/EFI/systemd/systemd-bootx64.efi"}, "x86_64", True,
     [("/boot/efi/EFI/systemd/systemd-bootx64.efi", "/boot/efi/EFI/BOOT/BOOTX64.EFI")]),
    ({"/boot/efi/EFI/fedora/shimaa64.efi"}, "aarch64", True,
     [("/boot/efi/EFI/fedora/shimaa64.efi", "/boot/efi/EFI/BOOT/BOOTAA64.EFI")]),
    ({"/boot/efi/EFI/Microsoft/Boot/bootmgfw.efi"}, "x86_64", False, []),
    (set(), "x86_64", False, []), (None, "x86_64", False, []),
])
def test_efi_fallback(files, arch, needed, copies):
    assert bootloader.efi_fallback_needed(files, arch) is needed
    if copies is not None:
        assert bootloader.efi_fallback_copies(files, arch) == copies


def test_efi_fallback_unknown_arch():
    with pytest.raises(InvalidInputError):
        bootloader.efi_fallback_needed({"/EFI/x/grubx64.efi"}, "sparc")


@pytest.mark.parametrize("junk", [
    "linux /vmlinuz root=/dev/sda1" + " x" * 2500000, "\x00linux\x00root=/dev/sda1\n", "linux\n", "kernel   \n",
    "options\n", "\ufffd" * 1000,
])
def test_rewrites_are_total(junk):
    for rewrite in (bootloader.rewrite_grub_cfg, bootloader.rewrite_bls_entry, bootloader.rewrite_extlinux,
                    bootloader.rewrite_grub_default):
        rewrite(junk, MAP)


def test_args_with_a_trailing_newline_are_refused():
    with pytest.raises(InvalidInputError):
        bootloader.rewrite_grub_default('GRUB_CMDLINE_LINUX=""\n', MAP, add_args=["quiet\n"])
    assert bootloader.grub_flavour({"/boot/grub/grub.cfg\n"}) is None


def test_grub_default_one_change_per_line_and_remove_before_add():
    text = 'GRUB_CMDLINE_LINUX="root=/dev/sda1 console=tty1"\n'
    got = bootloader.rewrite_grub_default(text, MAP, add_args=[SERIAL], remove_args=["console"])
    assert got["changes"] == [{"lineno": 1, "before": text.strip(),
                               "after": 'GRUB_CMDLINE_LINUX="root=UUID=%s %s"' % (R1, SERIAL)}]
    again = bootloader.rewrite_grub_default(got["text"], MAP, add_args=[SERIAL], remove_args=["console"])
    assert again["changes"] == []
