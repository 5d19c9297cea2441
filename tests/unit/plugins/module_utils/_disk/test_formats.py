# -*- coding: utf-8 -*-
"""Format detection from headers, on images made by the real qemu-img."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import struct

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._disk import formats
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    InvalidInputError, UnsupportedError)

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures")
SIZE = 64 * 1024 * 1024


@pytest.mark.parametrize("fmt, options, expected_format, expected_sub", [
    ("qcow2", [], "qcow2", "v3"),
    ("qcow2", ["-o", "compat=0.10"], "qcow2", "v2"),
    ("vmdk", [], "vmdk", "monolithicSparse"),
    ("vmdk", ["-o", "subformat=streamOptimized"], "vmdk", "streamOptimized"),
    ("vmdk", ["-o", "subformat=monolithicFlat"], "vmdk", "monolithicFlat"),
    ("vmdk", ["-o", "subformat=twoGbMaxExtentSparse"], "vmdk", "twoGbMaxExtentSparse"),
    ("vpc", [], "vpc", "dynamic"),
    ("vpc", ["-o", "subformat=fixed"], "vpc", "fixed"),
    ("vhdx", [], "vhdx", None),
    ("vdi", [], "vdi", None),
    ("raw", [], "raw", None),
])
def test_detect_real_images(tmp_path, qimg, fmt, options, expected_format, expected_sub):
    path = tmp_path / ("disk." + fmt)
    qimg("create", "-q", "-f", fmt, *(options + [str(path), str(SIZE)]))
    found = formats.detect(str(path))
    assert found["format"] == expected_format
    assert found["subformat"] == expected_sub
    # VHD rounds the size to its CHS geometry; VHDX keeps it in a metadata region we do not parse
    # (qemu-img info reports it).
    if expected_format == "vhdx":
        assert found["virtual_size"] is None
    elif expected_format == "vpc":
        assert abs(found["virtual_size"] - SIZE) < 1024 * 1024
    else:
        assert found["virtual_size"] == SIZE


def test_flat_vmdk_descriptor_names_its_extent(tmp_path, qimg):
    path = tmp_path / "disk.vmdk"
    qimg("create", "-q", "-f", "vmdk", "-o", "subformat=monolithicFlat", str(path), str(SIZE))
    found = formats.detect(str(path))
    assert found["references"] == [{"kind": "extent", "name": "disk-flat.vmdk"}]


def test_monolithic_sparse_does_not_list_itself(tmp_path, qimg):
    path = tmp_path / "disk.vmdk"
    qimg("create", "-q", "-f", "vmdk", str(path), str(SIZE))
    assert formats.detect(str(path))["references"] == []


def test_qcow2_backing_reference(tmp_path, qimg):
    base, top = tmp_path / "base.qcow2", tmp_path / "top.qcow2"
    qimg("create", "-q", "-f", "qcow2", str(base), str(SIZE))
    qimg("create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", str(top))
    assert formats.detect(str(top))["references"] == [{"kind": "backing", "name": "base.qcow2"}]


def test_qcow2_external_data_file_is_a_reference(tmp_path, qimg):
    path, data = tmp_path / "disk.qcow2", str(tmp_path / "disk.data")
    qimg("create", "-q", "-f", "qcow2", "-o", "data_file=" + data, str(path), str(SIZE))
    assert {"kind": "data-file", "name": data} in formats.detect(str(path))["references"]


def test_vmdk_delta_names_parent(tmp_path, qimg):
    qimg("create", "-q", "-f", "vmdk", str(tmp_path / "base.vmdk"), str(SIZE))
    qimg("create", "-q", "-f", "vmdk", "-b", "base.vmdk", "-F", "vmdk", str(tmp_path / "delta.vmdk"))
    refs = formats.detect(str(tmp_path / "delta.vmdk"))["references"]
    assert {"kind": "backing", "name": "base.vmdk"} in refs


def test_esxi_descriptor_sample():
    """A descriptor as ESXi writes it next to a -flat extent, with a snapshot parent."""
    with open(os.path.join(FIXTURES, "vmdk", "esxi-delta.vmdk"), "rb") as fh:
        parsed = formats.parse_vmdk_descriptor(fh.read())
    assert parsed["create_type"] == "vmfsSparse"
    assert parsed["parent"] == "web01.vmdk"
    assert parsed["extents"] == [{"access": "RW", "sectors": 4194304, "type": "VMFSSPARSE",
                                  "file": "web01-000001-delta.vmdk", "offset": 0}]


def test_detect_inside_a_window(tmp_path, qimg):
    """An OVA member is a byte range of the archive; detection must honour offset and size."""
    disk = tmp_path / "disk.vmdk"
    qimg("create", "-q", "-f", "vmdk", "-o", "subformat=streamOptimized", str(disk), str(SIZE))
    payload = disk.read_bytes()
    wrapped = tmp_path / "wrapped.bin"
    wrapped.write_bytes(b"\x00" * 1536 + payload + b"\x11" * 4096)
    found = formats.detect(str(wrapped), offset=1536, size=len(payload))
    assert (found["format"], found["subformat"]) == ("vmdk", "streamOptimized")


def test_iso_is_raw_with_subformat(tmp_path):
    path = tmp_path / "cd.iso"
    data = bytearray(0x9000)
    data[0x8001:0x8006] = b"CD001"
    path.write_bytes(bytes(data))
    assert formats.detect(str(path)) == {"format": "raw", "subformat": "iso9660", "references": [],
                                         "virtual_size": 0x9000}


@pytest.mark.parametrize("cut, message", [
    (50, "truncated"),
])
def test_truncated_qcow2_header(tmp_path, qimg, cut, message):
    path = tmp_path / "disk.qcow2"
    qimg("create", "-q", "-f", "qcow2", str(path), str(SIZE))
    path.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(InvalidInputError, match=message):
        formats.detect(str(path))


def test_stream_optimized_without_footer_is_truncated(tmp_path, qimg):
    """VMware writes stream-optimized disks with the grain directory "at end" (a footer header
    1 KiB before the end of the stream); a download cut short has no footer."""
    path = tmp_path / "disk.vmdk"
    qimg("create", "-q", "-f", "vmdk", "-o", "subformat=streamOptimized", str(path), str(SIZE))
    data = bytearray(path.read_bytes())
    data[56:64] = struct.pack("<Q", 0xFFFFFFFFFFFFFFFF)
    path.write_bytes(bytes(data))
    with pytest.raises(InvalidInputError, match="no footer.*truncated"):
        formats.detect(str(path))
    # The same file with a footer copy of the header in place is accepted.
    path.write_bytes(bytes(data) + bytes(data[:512]) + b"\x00" * 512)
    assert formats.detect(str(path))["subformat"] == "streamOptimized"


def test_sparse_vmdk_grain_directory_beyond_eof(tmp_path, qimg):
    path = tmp_path / "disk.vmdk"
    qimg("create", "-q", "-f", "vmdk", str(path), str(SIZE))
    path.write_bytes(path.read_bytes()[:4096])
    with pytest.raises(InvalidInputError, match="grain directory lies beyond the end"):
        formats.detect(str(path))


def test_differencing_vhd_is_refused(tmp_path, qimg):
    path = tmp_path / "disk.vhd"
    qimg("create", "-q", "-f", "vpc", str(path), str(SIZE))
    data = bytearray(path.read_bytes())
    # Disk type lives at offset 60 of the footer; the dynamic disk has a footer copy at offset 0.
    data[60:64] = struct.pack(">I", 4)
    path.write_bytes(bytes(data))
    with pytest.raises(UnsupportedError, match="Differencing VHD"):
        formats.detect(str(path))


@pytest.mark.parametrize("magic, message", [
    (b"QED\x00", "QED"),
    (b"LUKS\xba\xbe\x00\x01", "LUKS"),
])
def test_refused_formats(tmp_path, magic, message):
    path = tmp_path / "disk.img"
    path.write_bytes(magic + b"\x00" * 8192)
    with pytest.raises(UnsupportedError, match=message):
        formats.detect(str(path))


@pytest.mark.parametrize("name, expected", [
    ("x.qcow2", "qcow2"), ("X.VMDK", "vmdk"), ("x.vhd", "vpc"), ("x.vhdx", "vhdx"), ("x.img", None),
    ("x.raw", "raw"), ("x", None),
])
def test_format_from_extension(name, expected):
    assert formats.format_from_extension(name) == expected


def test_normalise_format_rejects_unknown():
    assert formats.normalise_format("VHD") == "vpc"
    with pytest.raises(UnsupportedError, match="Unknown disk format 'qed'"):
        formats.normalise_format("qed")


def test_renamed_sparse_vmdk_has_no_references(tmp_path, qimg):
    """The embedded descriptor still names the original file; the data is in the file itself."""
    qimg("create", "-q", "-f", "vmdk", str(tmp_path / "original.vmdk"), str(SIZE))
    os.rename(str(tmp_path / "original.vmdk"), str(tmp_path / "renamed.vmdk"))
    assert formats.detect(str(tmp_path / "renamed.vmdk"))["references"] == []
