# -*- coding: utf-8 -*-
"""newc archives as the kernel reads them: written by us, read back by GNU cpio, and found again after
a compressed main archive the way an extended initramfs holds them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gzip
import os
import shutil
import subprocess

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest.linux import cpio

needs_cpio = pytest.mark.skipif(shutil.which("cpio") is None, reason="GNU cpio is not installed")

VIRTIO = [
    ("usr/lib/modules/6.1.0-27-amd64/kernel/drivers/virtio", None),
    ("usr/lib/modules/6.1.0-27-amd64/kernel/drivers/virtio/virtio_pci.ko", b"\x7fELF" + b"p" * 1001),
    ("usr/lib/modules/6.1.0-27-amd64/kernel/drivers/block/virtio_blk.ko", b"\x7fELF" + b"b" * 77),
    ("usr/lib/modules/6.1.0-27-amd64/modules.dep.bin", b"\xb0\x07\xf4\x57" + b"\0" * 3),
]
NAMES = [entry[0] for entry in VIRTIO]


def _gnu_cpio(tmp_path, data, *args):
    return subprocess.run(["cpio", "--quiet"] + list(args), input=data, cwd=str(tmp_path), check=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE).stdout.decode()


@needs_cpio
def test_gnu_cpio_extracts_what_we_write(tmp_path):
    data = cpio.archive(VIRTIO, mtime=1700000000)
    assert len(data) % 4 == 0
    assert _gnu_cpio(tmp_path, data, "-t").split() == NAMES
    _gnu_cpio(tmp_path, data, "-idm", "-H", "newc")
    for name, body in VIRTIO:
        path = tmp_path / name
        if body is None:
            assert path.is_dir() and oct(path.stat().st_mode & 0o777) == "0o755"
        else:
            assert path.read_bytes() == body and oct(path.stat().st_mode & 0o777) == "0o644"
    assert int((tmp_path / VIRTIO[1][0]).stat().st_mtime) == 1700000000


@needs_cpio
def test_we_read_what_gnu_cpio_writes(tmp_path):
    (tmp_path / "usr/lib/modules/v").mkdir(parents=True)
    (tmp_path / "usr/lib/modules/v/odd-length.ko").write_bytes(b"x" * 5)
    names = b"usr\nusr/lib\nusr/lib/modules\nusr/lib/modules/v\nusr/lib/modules/v/odd-length.ko\n"
    made = subprocess.run(["cpio", "--quiet", "-o", "-H", "newc"], input=names, cwd=str(tmp_path), check=True,
                          stdout=subprocess.PIPE).stdout
    main = gzip.compress(b"not an archive, compressed" * 100, mtime=0)
    assert cpio.appended_names(main + b"\0" * ((4 - len(main) % 4) % 4) + made) == names.decode().split()


def _extended(main, extra):
    pad = b"\0" * ((4 - len(main) % 4) % 4)
    return main + pad + extra


def test_appended_archive_is_found_after_a_compressed_one():
    main = gzip.compress(cpio.archive([("init", b"#!/bin/sh\n")]), mtime=0)
    assert cpio.appended_names(main) == []
    assert cpio.appended_names(_extended(main, cpio.archive(VIRTIO))) == NAMES


def test_early_microcode_prefix_is_not_taken_for_an_appended_archive():
    early = cpio.archive([("kernel", None), ("kernel/x86/microcode/GenuineIntel.bin", b"u" * 513)])
    main = gzip.compress(b"main" * 999, mtime=0)
    assert cpio.leading_end(early + main) == len(early)
    assert cpio.appended_names(early + main) == []
    both = _extended(early + main, cpio.archive(VIRTIO[:2])) + b"\0" * 512  # trailing padding is allowed
    assert cpio.appended_names(both) == NAMES[:2]


def test_two_appended_archives_are_both_listed():
    main = gzip.compress(b"main" * 999, mtime=0)
    data = _extended(_extended(main, cpio.archive(VIRTIO[:2])), cpio.archive(VIRTIO[2:]))
    assert cpio.appended_names(data) == NAMES


def test_names_of_our_own_archives():
    assert cpio.names(cpio.archive(VIRTIO)) == NAMES
    assert cpio.names(cpio.archive(VIRTIO[:1]) + cpio.archive(VIRTIO[1:])) == NAMES
    assert cpio.names(cpio.archive(VIRTIO)[:-4]) is None


def test_all_uncompressed_initrd_lists_nothing_extra():
    assert cpio.appended_names(cpio.archive(VIRTIO) + cpio.archive(VIRTIO[:1])) == []


def test_magic_bytes_inside_compressed_data_are_not_an_archive():
    # "070701" in the middle of the main archive, but nothing parses from there to the end of the file
    fake = b"\x28\xb5\x2f\xfd" + b"q" * 35 + cpio.archive(VIRTIO)[:200] + os.urandom(333)
    assert cpio.appended_names(fake) == []


@pytest.mark.parametrize("cut", [1, 50, 111, 300])
def test_truncated_or_damaged_appended_archive_is_not_listed(cut):
    main = gzip.compress(b"main" * 999, mtime=0)
    extra = cpio.archive(VIRTIO)
    assert cpio.appended_names(_extended(main, extra[:-cut])) == []
    damaged = bytearray(extra)
    damaged[6 + 8 * 11:6 + 8 * 12] = b"FFFFFFFF"  # name size of the first member out of range
    # the damaged member is not listed (the members after it still form an archive to the end)
    assert VIRTIO[0][0] not in cpio.appended_names(_extended(main, bytes(damaged)))


@pytest.mark.parametrize("name", ["/etc/passwd", "", "a/../../etc", "a\0b"])
def test_unsafe_member_names_are_refused(name):
    with pytest.raises(ValueError):
        cpio.archive([(name, b"x")])


def test_parent_dirs_below_a_folder_parents_first():
    names = ["usr/lib/modules/v/kernel/drivers/virtio/virtio.ko", "usr/lib/modules/v/kernel/drivers/block/b.ko",
             "usr/lib/modules/v/modules.dep"]
    assert cpio.parent_dirs(names, "usr/lib/modules/v") == [
        "usr/lib/modules/v/kernel", "usr/lib/modules/v/kernel/drivers", "usr/lib/modules/v/kernel/drivers/virtio",
        "usr/lib/modules/v/kernel/drivers/block"]
