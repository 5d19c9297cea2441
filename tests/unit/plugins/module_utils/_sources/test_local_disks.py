# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Loose disk images -> one VM description, on real images made by qemu-img in tmp_path."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gzip
import json
import os

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    InvalidInputError, UnsafeInputError, UnsupportedError)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._model import validate
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources import local

MIB = 1 << 20


@pytest.mark.parametrize("name, fmt, options, detected, subformat", [
    ("os.raw", "raw", [], "raw", None),
    ("os.img", "raw", [], "raw", None),
    ("os.qcow2", "qcow2", [], "qcow2", "v3"),
    ("os.img", "qcow2", ["-o", "compat=0.10"], "qcow2", "v2"),      # .img named qcow2: the header decides
    ("os.vmdk", "vmdk", [], "vmdk", "monolithicSparse"),
    ("os.vmdk", "vmdk", ["-o", "subformat=streamOptimized"], "vmdk", "streamOptimized"),
    ("os.vmdk", "vmdk", ["-o", "subformat=monolithicFlat"], "vmdk", "monolithicFlat"),
    ("os.vmdk", "vmdk", ["-o", "subformat=twoGbMaxExtentFlat"], "vmdk", "twoGbMaxExtentFlat"),
    ("os.vhd", "vpc", ["-o", "subformat=fixed"], "vpc", "fixed"),
    ("os.vhd", "vpc", [], "vpc", "dynamic"),
    ("os.vhdx", "vhdx", [], "vhdx", None),                             # size only from qemu-img info
])
def test_every_format(tmp_path, make_image, name, fmt, options, detected, subformat):
    path = make_image(tmp_path / name, fmt, "32M", *options)
    out = local.describe_disks([path])
    [vm] = out["vms"]
    validate(vm)
    [disk] = vm["disks"]
    assert (disk["source"]["format"], disk["source"]["subformat"]) == (detected, subformat)
    if detected == "vpc":  # VHD rounds the size to its CHS geometry
        assert abs(disk["capacity_bytes"] - 32 * MIB) < MIB
    else:
        assert disk["capacity_bytes"] == 32 * MIB
    assert disk["source"]["path"] == os.path.realpath(path) and disk["source"]["file"] == path
    assert out["warnings"] == [] and out["source"] == {"type": "disk", "paths": [os.path.realpath(path)]}
    # qemu-img is told the driver (an explicit json: spec), never left to probe.
    assert [json.loads(argv[-1][len("json:"):])["driver"] for argv in out["commands"]] == [detected]


def test_defaults(tmp_path, make_image):
    path = make_image(tmp_path / "web01.qcow2", "qcow2", "8M")
    [vm] = local.describe_disks([path])["vms"]
    assert (vm["name"], vm["source"]["type"], vm["source"]["id"]) == ("web01", "disk", "web01")
    assert (vm["cpus"], vm["cores_per_socket"], vm["memory_mib"]) == (2, 1, 2048)
    assert (vm["firmware"], vm["secure_boot"], vm["power_state"]) == ("bios", False, "off")
    assert [(n["mac"], n["network"]) for n in vm["nics"]] == [(None, None)]
    disk = vm["disks"][0]
    assert (disk["id"], disk["controller"], disk["unit"], disk["boot"]) == ("disk0", "unknown", 0, True)
    assert (disk["path"], disk["format"]) == (None, None)  # filled in by the convert stage
    assert vm["guest"] == {"family": None, "distro": None, "version": None, "arch": None, "hostname": None}


def test_options_and_several_disks(tmp_path, make_image):
    first = make_image(tmp_path / "os.vhdx", "vhdx", "16M")
    second = make_image(tmp_path / "data.qcow2", "qcow2", "8M")
    nics = [{"mac": "00-15-5D-01-02-03", "network": "Production"}, {"mac": None, "network": "Backup"}, {}]
    [vm] = local.describe_disks([first, second], name="hv01", cpus=4, memory_mib=8192, firmware="uefi",
                                nics=nics)["vms"]
    assert (vm["name"], vm["cpus"], vm["memory_mib"], vm["firmware"]) == ("hv01", 4, 8192, "uefi")
    assert [(d["id"], d["unit"], d["boot"], d["capacity_bytes"]) for d in vm["disks"]] == [
        ("disk0", 0, True, 16 * MIB), ("disk1", 1, False, 8 * MIB)]
    assert [(n["mac"], n["network"]) for n in vm["nics"]] == [
        ("00:15:5d:01:02:03", "Production"), (None, "Backup"), (None, None)]


def test_no_nics(tmp_path, make_image):
    [vm] = local.describe_disks([make_image(tmp_path / "a.raw", "raw", "1M")], nics=[])["vms"]
    assert vm["nics"] == []


def test_backing_chain_inside_the_directory(tmp_path, make_image):
    make_image(tmp_path / "base.qcow2", "qcow2", "8M")
    top = make_image(tmp_path / "top.qcow2", "qcow2", None, backing="base.qcow2")
    out = local.describe_disks([top])
    disk = out["vms"][0]["disks"][0]
    assert disk["source"]["backing_chain"] == [str(tmp_path / "base.qcow2")] and disk["source"]["snapshot_delta"]
    assert out["warnings"] == ["Disk disk0: %s is a chain of 2 layers; disk_convert flattens it." % top]


def test_raw_with_a_partial_sector_is_a_warning(tmp_path):
    path = tmp_path / "odd.raw"
    path.write_bytes(b"\x01" * 1000)
    out = local.describe_disks([str(path)])
    assert out["vms"][0]["disks"][0]["capacity_bytes"] == 1024  # qemu rounds up to whole sectors
    assert out["warnings"] == ["Disk disk0 (%s) is 1000 bytes, not a whole number of 512-byte sectors "
                               "(qemu reads it as 1024); is it complete?" % path]


def make_iso(path):
    data = bytearray(0x8800)
    data[0x8001:0x8006] = b"CD001"
    path.write_bytes(bytes(data))


def make_tar(path):
    data = bytearray(1024)
    data[257:262] = b"ustar"
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("make, error, words", [
    (lambda p, m: None, InvalidInputError, ["cannot be read", "No such file"]),
    (lambda p, m: p.mkdir(), InvalidInputError, ["is a directory"]),
    (lambda p, m: os.mkfifo(str(p)), UnsafeInputError, ["not a regular file"]),
    (lambda p, m: p.write_bytes(b""), InvalidInputError, ["the file is empty"]),
    (lambda p, m: p.write_bytes(gzip.compress(b"\0" * 4096)), UnsupportedError, ["gzip-compressed", "decompress"]),
    (lambda p, m: p.write_bytes(b"\xfd7zXZ\x00" + b"\0" * 600), UnsupportedError, ["xz-compressed"]),
    (lambda p, m: p.write_bytes(b"PK\x03\x04" + b"\0" * 600), UnsupportedError, ["a zip archive"]),
    (lambda p, m: make_tar(p), UnsupportedError, ["a tar archive", "ova_info"]),
    (lambda p, m: make_iso(p), UnsupportedError, ["ISO 9660"]),
    (lambda p, m: p.write_bytes(b"QED\x00" + b"\0" * 600), UnsupportedError, ["QED"]),
])
def test_unusable_files(tmp_path, make_image, make, error, words):
    path = tmp_path / "disk.bin"
    make(path, make_image)
    with pytest.raises(error) as err:
        local.describe_disks([str(path)])
    for word in words + [str(path), "Fix:"]:
        assert word in str(err.value), "%r not in %r" % (word, str(err.value))


@pytest.mark.parametrize("name, content, words", [
    ("junk.qcow2", b"this is not an image\n" * 50, ["named like a qcow2 image but its header says raw"]),
    ("junk.vhdx", b"\0" * 4096, ["named like a vhdx image but its header says raw"]),
])
def test_unknown_format_under_a_format_name(tmp_path, name, content, words):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InvalidInputError) as err:
        local.describe_disks([str(path)])
    assert str(err.value).startswith("Disk disk0: %s is named like" % path)
    for word in words:
        assert word in str(err.value)


def test_backing_file_outside_is_refused(tmp_path, make_image):
    (tmp_path / "in").mkdir()
    top = make_image(tmp_path / "in" / "evil.qcow2", "qcow2", "8M", "-u", "-b", "/etc/shadow", "-F", "raw")
    with pytest.raises(UnsafeInputError) as err:
        local.describe_disks([top])
    assert "'/etc/shadow'" in str(err.value) and "outside the source directory" in str(err.value)


@pytest.mark.parametrize("kwargs, words", [
    ({"cpus": 0}, ["cpus must be at least 1"]),
    ({"memory_mib": -5}, ["memory_mib must be at least 1"]),
    ({"firmware": "coreboot"}, ["firmware must be one of bios, uefi"]),
    ({"nics": [{"mac": "00:50:56"}]}, ["nics[0].mac '00:50:56' is not a unicast MAC", "Fix:"]),
    ({"nics": [{}, {"mac": "01:00:5e:00:00:01"}]}, ["nics[1].mac '01:00:5e:00:00:01' is not a unicast MAC"]),
])
def test_bad_options(tmp_path, make_image, kwargs, words):
    path = make_image(tmp_path / "a.qcow2", "qcow2", "1M")
    with pytest.raises(InvalidInputError) as err:
        local.describe_disks([path], **kwargs)
    for word in words:
        assert word in str(err.value)


def test_the_same_disk_twice(tmp_path, make_image):
    path = make_image(tmp_path / "a.qcow2", "qcow2", "1M")
    os.symlink("a.qcow2", str(tmp_path / "b.qcow2"))
    with pytest.raises(InvalidInputError) as err:
        local.describe_disks([path, str(tmp_path / "b.qcow2")])
    assert "lists %s twice" % path in str(err.value)


def test_no_disks():
    with pytest.raises(InvalidInputError) as err:
        local.describe_disks([])
    assert "disks is empty" in str(err.value)


@pytest.mark.parametrize("params, words", [
    ({"type": "vmx", "path": "/x.vmx", "cpus": 2}, ["cpus cannot be used with type=vmx"]),
    ({"type": "disk", "disks": ["/x.raw"], "path": "/x.vmx"}, ["path cannot be used with type=disk"]),
    ({"type": "ova"}, ["Unknown source type 'ova'"]),
])
def test_dispatch_refuses_mixed_options(params, words):
    full = dict({"path": None, "disks": None, "name": None, "cpus": None, "memory_mib": None,
                 "firmware": None, "nics": None}, **params)
    with pytest.raises(InvalidInputError) as err:
        local.describe(full)
    for word in words:
        assert word in str(err.value)
