# -*- coding: utf-8 -*-
"""Chains and the references that must never leave the source directory."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import struct

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._disk import chain
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    InvalidInputError, UnsafeInputError)

SIZE = "64M"


def _qcow2_with_backing(qimg, path, backing, backing_fmt="raw"):
    """-u: do not open the backing file (it may be hostile or absent); that is the point."""
    qimg("create", "-q", "-f", "qcow2", "-u", "-b", backing, "-F", backing_fmt, str(path), SIZE)


@pytest.mark.parametrize("backing, error", [
    ("/etc/shadow", "outside the source directory"),
    ("../../../../etc/shadow", "outside the source directory"),
    ("nbd://127.0.0.1:10809/x", "not a plain file name"),
    ('json:{"driver":"file","filename":"/etc/shadow"}', "not a plain file name"),
    ("missing.qcow2", "does not exist"),
])
def test_hostile_qcow2_backing(tmp_path, qimg, backing, error):
    top = tmp_path / "top.qcow2"
    _qcow2_with_backing(qimg, top, backing)
    with pytest.raises((UnsafeInputError, InvalidInputError), match=error):
        chain.open_chain(str(top))


def test_backing_symlink_leaving_the_directory(tmp_path, qimg):
    (tmp_path / "base.qcow2").symlink_to("/etc/shadow")
    top = tmp_path / "top.qcow2"
    _qcow2_with_backing(qimg, top, "base.qcow2", "qcow2")
    with pytest.raises(UnsafeInputError, match="outside the source directory"):
        chain.open_chain(str(top))


@pytest.mark.parametrize("extent", ["/etc/shadow", "../etc/shadow", "sub/../../x-flat.vmdk"])
def test_hostile_vmdk_extent(tmp_path, extent):
    descriptor = tmp_path / "disk.vmdk"
    descriptor.write_text('# Disk DescriptorFile\nversion=1\ncreateType="monolithicFlat"\n'
                          'RW 2048 FLAT "%s" 0\n' % extent)
    with pytest.raises(UnsafeInputError, match="outside the source directory"):
        chain.open_chain(str(descriptor))


def _with_data_file_extension(path, name):
    """Write the qcow2 "external data file" header extension ourselves. (qemu-img create
    -o data_file=X would create X: never let a test write to a hostile path.)"""
    data = bytearray(path.read_bytes())
    header_length = struct.unpack_from(">I", data, 100)[0]
    encoded = name.encode()
    ext = struct.pack(">II", 0x44415441, len(encoded)) + encoded
    ext += b"\x00" * (-len(ext) % 8) + b"\x00" * 8
    data[header_length:header_length + len(ext)] = ext
    data[72:80] = struct.pack(">Q", struct.unpack_from(">Q", data, 72)[0] | 4)  # incompatible bit 2: data file
    path.write_bytes(bytes(data))


def test_hostile_qcow2_data_file(tmp_path, qimg):
    path = tmp_path / "disk.qcow2"
    qimg("create", "-q", "-f", "qcow2", str(path), SIZE)
    _with_data_file_extension(path, "/etc/shadow")
    with pytest.raises(UnsafeInputError, match="refers to '/etc/shadow', which is outside the source directory"):
        chain.open_chain(str(path))


def test_backing_loop(tmp_path, qimg):
    a, b = tmp_path / "a.qcow2", tmp_path / "b.qcow2"
    _qcow2_with_backing(qimg, a, "b.qcow2", "qcow2")
    _qcow2_with_backing(qimg, b, "a.qcow2", "qcow2")
    with pytest.raises(InvalidInputError, match="loops back"):
        chain.open_chain(str(a))


def test_good_chain_is_listed_top_first(tmp_path, qimg):
    qimg("create", "-q", "-f", "vmdk", str(tmp_path / "base.vmdk"), SIZE)
    qimg("create", "-q", "-f", "qcow2", "-b", "base.vmdk", "-F", "vmdk", str(tmp_path / "mid.qcow2"))
    qimg("create", "-q", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2", str(tmp_path / "top.qcow2"))
    opened = chain.open_chain(str(tmp_path / "top.qcow2"))
    assert [(os.path.basename(l["path"]), l["format"]) for l in opened["layers"]] == [
        ("top.qcow2", "qcow2"), ("mid.qcow2", "qcow2"), ("base.vmdk", "vmdk")]
    spec = chain.block_spec(opened["layers"])
    assert spec["driver"] == "qcow2"
    assert spec["backing"]["driver"] == "qcow2"
    assert spec["backing"]["backing"]["driver"] == "vmdk"
    assert spec["backing"]["backing"]["backing"] is None


def test_backing_format_comes_from_the_header_not_the_image(tmp_path, qimg):
    """top says its backing is raw; the backing file's own header says qcow2: we believe the header."""
    qimg("create", "-q", "-f", "qcow2", str(tmp_path / "base.qcow2"), SIZE)
    _qcow2_with_backing(qimg, tmp_path / "top.qcow2", "base.qcow2", "raw")
    opened = chain.open_chain(str(tmp_path / "top.qcow2"))
    assert opened["layers"][1]["format"] == "qcow2"


def test_extension_contradicting_header(tmp_path, qimg):
    path = tmp_path / "disk.vmdk"
    qimg("create", "-q", "-f", "qcow2", str(path), SIZE)
    with pytest.raises(InvalidInputError, match="named like a vmdk image but its header says qcow2"):
        chain.open_chain(str(path))


def test_declared_format_contradicting_header(tmp_path, qimg):
    path = tmp_path / "disk.img"
    qimg("create", "-q", "-f", "vpc", str(path), SIZE)
    with pytest.raises(InvalidInputError, match="declared as vhdx but its header says vpc"):
        chain.open_chain(str(path), fmt="vhdx")


def test_declared_raw_reads_bytes_and_warns(tmp_path, qimg):
    """A raw guest disk may start with bytes that look like qcow2; raw never opens other files."""
    path = tmp_path / "disk.raw"
    _qcow2_with_backing(qimg, path, "/etc/shadow")
    opened = chain.open_chain(str(path), fmt="raw")
    assert [l["format"] for l in opened["layers"]] == ["raw"]
    assert "declared raw" in opened["warnings"][0]


def test_archive_member_may_not_refer_to_files(tmp_path, qimg):
    disk = tmp_path / "d.vmdk"
    qimg("create", "-q", "-f", "vmdk", "-o", "subformat=monolithicFlat", str(disk), SIZE)
    data = disk.read_bytes()
    archive = tmp_path / "x.ova"
    archive.write_bytes(b"\x00" * 512 + data)
    with pytest.raises(UnsafeInputError, match="inside an archive refers to another file"):
        chain.open_chain(str(archive), offset=512, size=len(data))


def test_window_spec_wraps_raw_offset():
    layers = [{"path": "/x.ova", "format": "vmdk", "offset": 1536, "size": 4096}]
    spec = json.loads(chain.json_filename(chain.block_spec(layers))[len("json:"):])
    assert spec == {"driver": "vmdk", "backing": None,
                    "file": {"driver": "raw", "offset": 1536, "size": 4096,
                             "file": {"driver": "file", "filename": "/x.ova"}}}


def test_raw_is_never_a_bare_protocol_node():
    spec = chain.block_spec([{"path": "/d.raw", "format": "raw", "offset": 0, "size": None}])
    assert spec == {"driver": "raw", "file": {"driver": "file", "filename": "/d.raw"}}
