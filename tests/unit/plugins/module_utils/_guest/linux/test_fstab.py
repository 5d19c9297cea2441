# -*- coding: utf-8 -*-
"""fstab, crypttab and the initramfs resume setting: parsing, and replacing bus-dependent devices."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import InvalidInputError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest.linux import fstab

ROOT = "2f7c1a9e-6b0d-4c3e-8f21-9a5d4e3b2c10"
SWAP = "b3e1d2c4-5a6f-4b7e-8c9d-0e1f2a3b4c5d"
HOME = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"
DEBIAN = {"/dev/sda1": ROOT, "/dev/sda5": "UUID=" + SWAP, "/dev/sdb1": {"uuid": HOME}}
SLES_ID = "/dev/disk/by-id/scsi-36000c29d1c2e3f4a5b6c7d8e9f0a1b2c-part"


def test_parse_debian(sample):
    got = fstab.parse(sample("fstab/debian12-vmware.fstab"))
    assert [(e["spec"], e["file"], e["vfstype"], e["options"], e["freq"], e["passno"], e["lineno"])
            for e in got] == [
        ("/dev/sda1", "/", "ext4", "errors=remount-ro", 0, 1, 12),
        ("/dev/sdb1", "/home", "ext4", "defaults,nofail", 0, 2, 14),
        ("/dev/sda5", "none", "swap", "sw", 0, 0, 16),
        ("/dev/sr0", "/media/cdrom0", "udf,iso9660", "user,noauto", 0, 0, 17),
        ("tmpfs", "/tmp", "tmpfs", "defaults,size=512m", 0, 0, 18),
        ("/srv/export data", "/mnt/with space", "none", "bind", 0, 0, 19),
    ]


@pytest.mark.parametrize("text, expected", [
    ("/dev/sda1 /", [("/dev/sda1", "/", None, "defaults", 0, 0)]),
    ("/dev/sda1\t/\text4", [("/dev/sda1", "/", "ext4", "defaults", 0, 0)]),
    ("LABEL=x /x xfs rw x y extra\n", [("LABEL=x", "/x", "xfs", "rw", 0, 0)]),
    ("  # indented comment\nonlyonefield\n\n", []),
    ("/dev/sda1 / ext4 defaults 0 1\r\n", [("/dev/sda1", "/", "ext4", "defaults", 0, 1)]),
    ("/dev/sda1 / ext4 defaults 99999999999 1\n", [("/dev/sda1", "/", "ext4", "defaults", 0, 1)]),
    ("\x00 / \x00\n", [("\x00", "/", "\x00", "defaults", 0, 0)]),
])
def test_parse_tolerates_odd_lines(text, expected):
    assert [(e["spec"], e["file"], e["vfstype"], e["options"], e["freq"], e["passno"])
            for e in fstab.parse(text)] == expected


def test_rewrite_debian_changes_only_the_device_fields(sample):
    text = sample("fstab/debian12-vmware.fstab")
    got = fstab.rewrite(text, DEBIAN)
    expected = (text
                .replace("/dev/sda1       /               ext4", "UUID=%s       /               ext4" % ROOT)
                .replace("/dev/sdb1\t/home", "UUID=%s\t/home" % HOME)
                .replace("/dev/sda5       none", "UUID=%s       none" % SWAP))
    assert got["text"] == expected
    assert got["changes"] == [
        {"lineno": 12, "before": "/dev/sda1       /               ext4    errors=remount-ro 0       1",
         "after": "UUID=%s       /               ext4    errors=remount-ro 0       1" % ROOT},
        {"lineno": 14, "before": "/dev/sdb1\t/home\text4\tdefaults,nofail\t0\t2",
         "after": "UUID=%s\t/home\text4\tdefaults,nofail\t0\t2" % HOME},
        {"lineno": 16, "before": "/dev/sda5       none            swap    sw              0       0",
         "after": "UUID=%s       none            swap    sw              0       0" % SWAP},
    ]
    assert got["unmapped"] == []
    # the comments that mention /dev/sda1 are history, not configuration: untouched
    assert "# / was on /dev/sda1 during installation\n" in got["text"]
    again = fstab.rewrite(got["text"], DEBIAN)
    assert again == {"text": got["text"], "changes": [], "unmapped": []}


def test_rewrite_rhel_lvm_touches_only_the_plain_partition(sample):
    text = sample("fstab/rhel7-lvm.fstab")
    got = fstab.rewrite(text, {"/dev/sdb1": "PARTUUID=9e8d7c6b-01", "/dev/mapper/rhel-root": ROOT})
    assert got["text"] == text.replace("/dev/sdb1 /data", "PARTUUID=9e8d7c6b-01 /data")
    assert [c["lineno"] for c in got["changes"]] == [12]
    assert fstab.rewrite(got["text"], {"/dev/sdb1": "PARTUUID=9e8d7c6b-01"})["changes"] == []


def test_rewrite_sles_by_id_and_by_path(sample):
    text = sample("fstab/sles11-by-id.fstab")
    mapping = {SLES_ID + "1": "0d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f4a", SLES_ID + "3": ROOT}
    got = fstab.rewrite(text, mapping)
    assert got["text"].splitlines()[:4] == [
        "/dev/disk/by-id/scsi-36000c29d1c2e3f4a5b6c7d8e9f0a1b2c-part2 swap                 swap       "
        "defaults              0 0",
        "UUID=%s /                    ext3       acl,user_xattr        1 1" % ROOT,
        "UUID=0d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f4a /boot                ext3       acl,user_xattr        1 2",
        "/dev/disk/by-path/pci-0000:03:00.0-scsi-0:0:1:0-part1 /srv                 xfs        defaults    "
        "          1 2",
    ]
    assert got["text"].splitlines()[4:] == text.splitlines()[4:]
    assert got["unmapped"] == [{"lineno": 1, "spec": SLES_ID + "2"},
                               {"lineno": 4, "spec": "/dev/disk/by-path/pci-0000:03:00.0-scsi-0:0:1:0-part1"}]


def test_rewrite_leaves_a_stable_fstab_byte_identical(sample):
    text = sample("fstab/ubuntu2204-stable.fstab")
    assert fstab.rewrite(text, {"/dev/sda2": ROOT}) == {"text": text, "changes": [], "unmapped": []}


@pytest.mark.parametrize("text, expected", [
    ("/dev/sda1 / ext4 defaults 0 1\r\n/dev/sda5 none swap sw 0 0\r\n",
     "UUID=%s / ext4 defaults 0 1\r\nUUID=%s none swap sw 0 0\r\n" % (ROOT, SWAP)),
    ("/dev/sda1 / ext4 defaults 0 1", "UUID=%s / ext4 defaults 0 1" % ROOT),     # no final newline
    ("   /dev/sda1\t\t/   ext4\n", "   UUID=%s\t\t/   ext4\n" % ROOT),
    ("/dev/sda1\n", "/dev/sda1\n"),                                       # not a mount line
    ("#/dev/sda1 / ext4 defaults 0 1\n", "#/dev/sda1 / ext4 defaults 0 1\n"),
    ("/dev/sda1 /\x00 ext4\n\x00\xff\n", "UUID=%s /\x00 ext4\n\x00\xff\n" % ROOT),
    ("/dev/sda1 / ext4 defaults 0 1\x0c\n", "UUID=%s / ext4 defaults 0 1\x0c\n" % ROOT),
])
def test_rewrite_keeps_every_other_byte(text, expected):
    got = fstab.rewrite(text, DEBIAN)
    assert got["text"] == expected
    assert fstab.rewrite(got["text"], DEBIAN)["changes"] == []


def test_rewrite_copes_with_a_huge_line():
    huge = "/dev/sda1 /" + " x" * (5 * 1024 * 1024 // 2) + "\n/dev/sda5 none swap sw 0 0\n"
    got = fstab.rewrite(huge, DEBIAN)
    assert [c["lineno"] for c in got["changes"]] == [1, 2]
    assert len(got["text"]) == len(huge) + 2 * (len("UUID=") + 36 - len("/dev/sdaN"))


def test_rewrite_accepts_bytes():
    assert fstab.rewrite(b"/dev/sda1 / ext4 defaults 0 1\n", DEBIAN)["text"] == \
        "UUID=%s / ext4 defaults 0 1\n" % ROOT


def test_rewrite_refuses_a_map_value_that_would_corrupt_the_file():
    with pytest.raises(InvalidInputError):
        fstab.rewrite("/dev/sda1 / ext4 defaults 0 1\n", {"/dev/sda1": "x\n/dev/sdb1 /etc ext4"})


def test_crypttab(sample):
    text = sample("fstab/debian-crypttab")
    assert [(e["name"], e["device"], e["keyfile"], e["options"]) for e in fstab.parse_crypttab(text)] == [
        ("sda3_crypt", "UUID=0c9f5a3e-2b7d-4e1f-a8c6-3d5b9e7f1a24", "none", "luks,discard"),
        ("data_crypt", "/dev/sdb1", "/etc/keys/data.key", "luks"),
        ("cryptswap", "/dev/sda2", "/dev/urandom", "swap,cipher=aes-xts-plain64,size=256"),
    ]
    got = fstab.rewrite_crypttab(text, {"/dev/sdb1": HOME})
    assert got["text"] == text.replace("data_crypt\t/dev/sdb1\t", "data_crypt\tUUID=%s\t" % HOME)
    assert got["changes"] == [{"lineno": 3, "before": "data_crypt\t/dev/sdb1\t/etc/keys/data.key\tluks",
                               "after": "data_crypt\tUUID=%s\t/etc/keys/data.key\tluks" % HOME}]
    # a swap re-encrypted from /dev/urandom at every boot has no UUID to map: reported
    assert got["unmapped"] == [{"lineno": 4, "spec": "/dev/sda2"}]
    assert fstab.rewrite_crypttab(got["text"], {"/dev/sdb1": HOME})["changes"] == []
    # the key file field (/dev/urandom) and names are never touched, even when the map knows them
    assert fstab.rewrite_crypttab("sda2 /dev/mapper/x /dev/sdc1 luks\n", {"/dev/sdc1": HOME})["changes"] == []


@pytest.mark.parametrize("text, expected", [
    ("RESUME=/dev/sda5\n", "RESUME=UUID=%s\n" % SWAP),
    ('RESUME="/dev/sda5"\n', 'RESUME="UUID=%s"\n' % SWAP),
    ("# RESUME=/dev/sda5\nRESUME=none\n", "# RESUME=/dev/sda5\nRESUME=none\n"),
    ("RESUME=UUID=%s\n" % SWAP, "RESUME=UUID=%s\n" % SWAP),
    ("RESUME_OFFSET=1234\nRESUME=auto\n", "RESUME_OFFSET=1234\nRESUME=auto\n"),
])
def test_rewrite_resume(sample, text, expected):
    got = fstab.rewrite_resume(text, DEBIAN)
    assert got["text"] == expected
    assert fstab.rewrite_resume(got["text"], DEBIAN)["changes"] == []


def test_rewrite_resume_sample_and_unmapped(sample):
    text = sample("fstab/initramfs-resume")
    assert fstab.rewrite_resume(text, DEBIAN)["changes"] == [
        {"lineno": 1, "before": "RESUME=/dev/sda5", "after": "RESUME=UUID=%s" % SWAP}]
    assert fstab.rewrite_resume(text, {}) == {"text": text, "changes": [],
                                              "unmapped": [{"lineno": 1, "spec": "/dev/sda5"}]}
