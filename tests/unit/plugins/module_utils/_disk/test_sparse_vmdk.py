# -*- coding: utf-8 -*-
"""Sparse VMDK conversion by our own reader (grains read, and inflated, in parallel), judged by real qemu-img.

Inputs: what qemu-img writes (`-o subformat=streamOptimized`, and its default monolithicSparse) and
the layouts VMware writes (a stream with grain tables after their grains and the real header in a
footer; a hosted sparse file with grains in the order the guest wrote them), built below byte by
byte. qemu-img reads them all, so it is the independent judge: every output must `qemu-img compare`
identical to its source and pass `qemu-img check`. The hostile cases damage one field of a valid
file each.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import struct
import subprocess
import zlib

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._disk import convert, inflate, sparse_vmdk
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import InvalidInputError

MIB = 1024 * 1024
GRAIN = 64 * 1024
SECTOR = 512
GD_AT_END = 0xFFFFFFFFFFFFFFFF
HEADER = struct.Struct("<IIIQQQQIQQQ?4sH")
FLAGS = 1 | (1 << 16) | (1 << 17)


def _grain(seed, size=GRAIN):
    """A grain that compresses well but is not all zeros, different per seed."""
    line = ("grain %08d " % seed).encode() * 4
    return (line * (size // len(line) + 1))[:size]


def _pad(data):
    return data + bytes(-len(data) % SECTOR)


def _header(capacity, gd_offset, overhead, flags=FLAGS, grain_sectors=128, compression=1):
    raw = HEADER.pack(0x564D444B, 3, flags, capacity // SECTOR, grain_sectors, 1, 1, 512, 0, gd_offset, overhead,
                      False, b"\n \r\n", compression)
    return _pad(raw)


def _marker(sectors, kind):
    return _pad(struct.pack("<QII", sectors, 0, kind))


class VmwareVmdk(object):
    """A sparse VMDK in VMware's layout, built byte by byte.

    compressed (streamOptimized, as an exporter writes it front to back): each grain deflated behind a
    marker, grain tables after their grains, then the grain directory, and the real header in a
    footer. Otherwise (monolithicSparse): grains stored whole, tables and directory after them, the
    header pointing at the directory. grains: {grain number: one grain of data}; order: the file
    order of the grain numbers (default ascending); zero: grain numbers whose table entry says
    "zero grain" (flag bit 2)."""

    def __init__(self, path, capacity, grains, order=None, zero=(), grain_sectors=128, compressed=True, **header):
        self.path, self.grain_sector, self.table_sector = path, {}, {}
        grain = grain_sectors * SECTOR
        header["grain_sectors"] = grain_sectors
        flags = (FLAGS if compressed else 1) | (4 if zero else 0)
        if not compressed:
            header.setdefault("compression", 0)
        kind = "streamOptimized" if compressed else "monolithicSparse"
        descriptor = _pad(('# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n'
                           'createType="%s"\n\nRW %d SPARSE "disk.vmdk"\n' % (kind, capacity // SECTOR)).encode())
        overhead = 1 + len(descriptor) // SECTOR
        out = bytearray(_header(capacity, GD_AT_END, overhead, flags=flags, **header) + descriptor)
        tables = -(-capacity // (grain * 512))
        entries = [[0] * 512 for _table in range(tables)]
        for number in zero:
            entries[number // 512][number % 512] = 1
        for number in order or sorted(grains):
            self.grain_sector[number] = len(out) // SECTOR
            entries[number // 512][number % 512] = len(out) // SECTOR
            if compressed:
                body = zlib.compress(grains[number])
                out += _pad(struct.pack("<QI", number * grain // SECTOR, len(body)) + body)
            else:
                out += grains[number]
        directory = []
        for number, table in enumerate(entries):
            if compressed:
                out += _marker(4, 1)
            self.table_sector[number] = len(out) // SECTOR
            directory.append(len(out) // SECTOR)
            out += struct.pack("<512I", *table)
        if compressed:
            out += _marker(-(-len(directory) * 4 // SECTOR), 2)
        self.directory_sector = len(out) // SECTOR
        out += _pad(struct.pack("<%dI" % len(directory), *directory))
        if compressed:
            out += _marker(1, 3) + _header(capacity, self.directory_sector, overhead, flags=flags, **header)
            out += bytes(SECTOR)  # end-of-stream marker
        else:
            out[:SECTOR] = _header(capacity, self.directory_sector, overhead, flags=flags, **header)
        self.data = out
        self.save()

    def save(self):
        with open(self.path, "wb") as fh:
            fh.write(self.data)

    def patch(self, sector, offset, raw):
        at = sector * SECTOR + offset
        self.data[at:at + len(raw)] = raw
        self.save()


def _qemu_img(*args):
    return subprocess.run(("qemu-img",) + args, capture_output=True, text=True, check=False)


def _assert_identical(src, out, fmt):
    compared = _qemu_img("compare", "-f", "vmdk", "-F", fmt, str(src), str(out))
    assert compared.returncode == 0, compared.stdout + compared.stderr
    if fmt == "qcow2":
        checked = _qemu_img("check", "-f", "qcow2", str(out))
        assert checked.returncode == 0 and "No errors were found" in checked.stdout, checked.stdout


def _convert_file(src, dest, fmt="qcow2", threads=2, use_libdeflate=True):
    size = os.path.getsize(str(src))
    layout = sparse_vmdk.open_layout(str(src), 0, size)
    return sparse_vmdk.convert(str(src), 0, size, layout, str(dest), fmt, threads, use_libdeflate=use_libdeflate)


@pytest.fixture
def qemu_stream(tmp_path, qimg, write_pattern):
    """qemu-img's own streamOptimized output: data at the start, the middle and the last grain,
    an explicitly written all-zero region, and a virtual size that is not a multiple of 64 KiB."""
    raw = tmp_path / "source.raw"
    qimg("create", "-q", "-f", "raw", str(raw), str(40 * MIB + 3 * SECTOR))
    write_pattern(raw, "raw", 0x5A, 0, 3 * MIB)
    write_pattern(raw, "raw", 0x00, 3 * MIB, MIB)
    write_pattern(raw, "raw", 0xA5, 17 * MIB + 4096, 70000)
    write_pattern(raw, "raw", 0x3C, 40 * MIB - GRAIN, GRAIN + 3 * SECTOR)
    stream = tmp_path / "stream.vmdk"
    qimg("convert", "-q", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", str(raw), str(stream))
    return stream


@pytest.fixture
def qemu_sparse(tmp_path, qemu_stream, qimg):
    """The same disk as qemu-img's monolithicSparse VMDK."""
    sparse = tmp_path / "sparse.vmdk"
    qimg("convert", "-q", "-f", "vmdk", "-O", "vmdk", str(qemu_stream), str(sparse))
    return sparse


@pytest.mark.parametrize("fmt", ["qcow2", "raw"])
def test_qemu_written_monolithic_sparse_converts_identically(tmp_path, qemu_sparse, fmt):
    dest = tmp_path / ("out." + fmt)
    done = _convert_file(qemu_sparse, dest, fmt)
    assert (done["subformat"], done["inflate"]) == ("monolithicSparse", None)
    _assert_identical(qemu_sparse, dest, fmt)
    assert os.stat(str(dest)).st_blocks * 512 < 8 * MIB


def test_vmware_hosted_sparse_with_grains_in_write_order(tmp_path):
    grains = {number: _grain(number) for number in (0, 7, 511, 512, 1100)}
    grains[8] = bytes(GRAIN)
    vmdk = VmwareVmdk(str(tmp_path / "hosted.vmdk"), 80 * MIB, grains, order=[1100, 7, 0, 8, 512, 511],
                      zero=[3], compressed=False)
    dest = tmp_path / "out.qcow2"
    done = _convert_file(vmdk.path, dest, threads=2)
    assert (done["subformat"], done["grains"]) == ("monolithicSparse", len(grains))
    _assert_identical(vmdk.path, dest, "qcow2")


def test_an_uncompressed_grain_cut_by_the_end_of_the_file_is_refused(tmp_path):
    vmdk = VmwareVmdk(str(tmp_path / "t.vmdk"), 8 * MIB, {1: _grain(1)}, compressed=False)
    last = len(vmdk.data) // SECTOR - 4  # the grain would start 2 KiB before the end
    vmdk.patch(vmdk.table_sector[0], 4, struct.pack("<I", last))
    with pytest.raises(InvalidInputError, match="grain 1 lies beyond the end of the file"):
        sparse_vmdk.open_layout(vmdk.path, 0, len(vmdk.data))


def test_uncompressed_grains_shared_beyond_what_the_file_holds_are_refused(tmp_path):
    vmdk = VmwareVmdk(str(tmp_path / "t.vmdk"), 32 * MIB, {0: _grain(0)}, compressed=False)
    vmdk.patch(vmdk.table_sector[0], 0, struct.pack("<512I", *([vmdk.grain_sector[0]] * 512)))
    with pytest.raises(InvalidInputError, match="more grains than the file can hold"):
        sparse_vmdk.open_layout(vmdk.path, 0, len(vmdk.data))


@pytest.mark.parametrize("fmt", ["qcow2", "raw"])
@pytest.mark.parametrize("use_libdeflate", [True, False], ids=["libdeflate", "zlib"])
def test_qemu_written_stream_converts_identically(tmp_path, qemu_stream, fmt, use_libdeflate):
    if use_libdeflate and inflate.Inflater().backend != "libdeflate":
        pytest.fail("libdeflate is missing: run scripts/setup.sh (it installs libdeflate0)")
    dest = tmp_path / ("out." + fmt)
    done = _convert_file(qemu_stream, dest, fmt, use_libdeflate=use_libdeflate)
    assert done["inflate"] == ("libdeflate" if use_libdeflate else "zlib")
    _assert_identical(qemu_stream, dest, fmt)
    # Sparse: far less than the 40 MiB virtual size is allocated.
    assert os.stat(str(dest)).st_blocks * 512 < 8 * MIB


def test_vmware_layout_with_footer_out_of_order_grains_and_zero_grains(tmp_path):
    grains = {number: _grain(number) for number in (0, 1, 2, 511, 512, 700, 1023, 1599)}
    grains[3] = bytes(GRAIN)  # an allocated grain of zeros stays a hole in the output
    order = [700, 0, 1599, 2, 1, 3, 1023, 512, 511]
    stream = VmwareVmdk(str(tmp_path / "vmware.vmdk"), 100 * MIB, grains, order=order, zero=[5, 900])
    layout = sparse_vmdk.open_layout(stream.path, 0, len(stream.data))
    assert [key >> 32 for key in layout.grains] == sorted(stream.grain_sector.values())
    dest = tmp_path / "out.qcow2"
    done = _convert_file(stream.path, dest, threads=3)
    assert done["grains"] == len(grains)
    _assert_identical(stream.path, dest, "qcow2")
    extents = json.loads(_qemu_img("map", "-f", "qcow2", "--output=json", str(dest)).stdout)
    assert [extent["data"] for extent in extents if extent["start"] <= 3 * GRAIN < extent["start"] + extent["length"]] \
        == [False]


def test_grain_tables_decide_where_a_grain_goes_not_its_marker(tmp_path):
    stream = VmwareVmdk(str(tmp_path / "lying.vmdk"), 8 * MIB, {4: _grain(4), 9: _grain(9)})
    stream.patch(stream.grain_sector[4], 0, struct.pack("<Q", 9 * GRAIN // SECTOR))  # marker says grain 9
    dest = tmp_path / "out.raw"
    _convert_file(stream.path, dest, "raw")
    _assert_identical(stream.path, dest, "raw")
    with open(str(dest), "rb") as fh:
        fh.seek(4 * GRAIN)
        assert fh.read(GRAIN) == _grain(4)


def test_a_grain_table_past_the_end_is_refused(tmp_path):
    stream = VmwareVmdk(str(tmp_path / "t.vmdk"), 8 * MIB, {1: _grain(1)})
    stream.patch(stream.directory_sector, 0, struct.pack("<I", len(stream.data) // SECTOR + 10))
    with pytest.raises(InvalidInputError, match="grain table 0 lies beyond the end"):
        sparse_vmdk.open_layout(stream.path, 0, len(stream.data))


def test_a_grain_past_the_end_is_refused(tmp_path):
    stream = VmwareVmdk(str(tmp_path / "t.vmdk"), 8 * MIB, {1: _grain(1)})
    stream.patch(stream.table_sector[0], 4, struct.pack("<I", 0x7FFFFFF0))
    with pytest.raises(InvalidInputError, match="grain 1 lies beyond the end of the file"):
        sparse_vmdk.open_layout(stream.path, 0, len(stream.data))


def test_tables_naming_more_grains_than_the_file_holds_are_refused(tmp_path):
    """Every table entry naming the same grain: a tiny file that would expand to a huge index."""
    stream = VmwareVmdk(str(tmp_path / "t.vmdk"), 64 * MIB, {0: _grain(0)})
    sector = stream.grain_sector[0]
    stream.patch(stream.table_sector[0], 0, struct.pack("<512I", *([sector] * 512)))
    with pytest.raises(InvalidInputError, match="more grains than the file can hold"):
        sparse_vmdk.open_layout(stream.path, 0, len(stream.data))


@pytest.mark.parametrize("use_libdeflate", [True, False], ids=["libdeflate", "zlib"])
@pytest.mark.parametrize("body, message", [
    (zlib.compress(bytes(GRAIN + 1)), "inflates to more bytes than a grain"),
    (zlib.compress(bytes(GRAIN - 512)), "inflates to fewer bytes than its part of the disk"),
    (b"\x78\x9c" + b"\xff" * 64, "is not valid deflate data"),
], ids=["bomb", "short", "garbage"])
def test_a_grain_that_does_not_inflate_to_one_grain_is_refused(tmp_path, body, message, use_libdeflate):
    stream = VmwareVmdk(str(tmp_path / "t.vmdk"), 8 * MIB, {2: _grain(2), 6: _grain(6)})
    # Rebuild grain 6 in place with the bad body; it is the last grain, so room is not a concern.
    replaced = struct.pack("<QI", 6 * GRAIN // SECTOR, len(body)) + body
    stream.patch(stream.grain_sector[6], 0, replaced)
    layout = sparse_vmdk.open_layout(stream.path, 0, len(stream.data))
    with pytest.raises(InvalidInputError, match="grain for disk offset %d %s" % (6 * GRAIN, message)):
        sparse_vmdk.convert(stream.path, 0, len(stream.data), layout, str(tmp_path / "out.qcow2"), "qcow2", 2,
                            use_libdeflate=use_libdeflate)


def test_a_marker_declaring_too_many_compressed_bytes_is_refused(tmp_path):
    stream = VmwareVmdk(str(tmp_path / "t.vmdk"), 8 * MIB, {1: _grain(1)})
    stream.patch(stream.grain_sector[1], 8, struct.pack("<I", 2 * GRAIN))
    layout = sparse_vmdk.open_layout(stream.path, 0, len(stream.data))
    with pytest.raises(InvalidInputError, match="declares %d compressed bytes" % (2 * GRAIN)):
        sparse_vmdk.convert(stream.path, 0, len(stream.data), layout, str(tmp_path / "o"), "raw", 1)


def test_a_grain_running_past_the_end_is_refused(tmp_path):
    """The stream cut inside its last grain, with a valid footer appended (a spliced download)."""
    stream = VmwareVmdk(str(tmp_path / "t.vmdk"), 8 * MIB, {1: _grain(1)})
    stream.patch(stream.grain_sector[1], 8, struct.pack("<I", GRAIN + 1000))
    size = stream.grain_sector[1] * SECTOR + 4096
    layout = sparse_vmdk.open_layout(stream.path, 0, len(stream.data))
    with pytest.raises(InvalidInputError, match="runs past the end of the file"):
        sparse_vmdk.convert(stream.path, 0, size, layout, str(tmp_path / "o"), "raw", 1)


def test_layouts_left_to_qemu_img(tmp_path):
    small = VmwareVmdk(str(tmp_path / "small.vmdk"), 8 * MIB, {1: _grain(1, 4096)}, grain_sectors=8)
    with pytest.raises(sparse_vmdk.Unsupported, match="grain size of 4096 bytes"):
        sparse_vmdk.open_layout(small.path, 0, len(small.data))
    other = VmwareVmdk(str(tmp_path / "other.vmdk"), 8 * MIB, {1: _grain(1)}, compression=2)
    with pytest.raises(sparse_vmdk.Unsupported, match="compression 2, with markers"):
        sparse_vmdk.open_layout(other.path, 0, len(other.data))


def test_disk_convert_uses_the_parallel_engine_and_falls_back_to_qemu_img(tmp_path, qemu_stream):
    out = tmp_path / "out"
    out.mkdir()
    fast = convert.convert(convert.Request(str(qemu_stream), str(out / "a.qcow2"), read_threads=2))
    assert fast["engine"] == "sparse-vmdk"
    assert fast["sparse_vmdk"]["threads"] == 2 and fast["sparse_vmdk"]["subformat"] == "streamOptimized"
    assert [argv[1] for argv in fast["commands"]] == ["measure", "info", "check"]
    slow = convert.convert(convert.Request(str(qemu_stream), str(out / "b.qcow2"), engine="qemu-img"))
    assert slow["engine"] == "qemu-img" and "inflate" not in slow
    assert _qemu_img("compare", "-f", "qcow2", "-F", "qcow2", str(out / "a.qcow2"), str(out / "b.qcow2")).returncode == 0
    small = VmwareVmdk(str(tmp_path / "small.vmdk"), 8 * MIB, {1: _grain(1, 4096), 700: _grain(7, 4096)},
                       grain_sectors=8)
    fallback = convert.convert(convert.Request(small.path, str(out / "c.qcow2"), compare=True))
    assert fallback["engine"] == "qemu-img"


def test_disk_convert_reads_monolithic_sparse_itself_but_not_a_chain(tmp_path, qemu_sparse, qimg):
    out = tmp_path / "out"
    out.mkdir()
    done = convert.convert(convert.Request(str(qemu_sparse), str(out / "a.raw"), dest_format="raw", compare=True))
    assert done["engine"] == "sparse-vmdk" and done["sparse_vmdk"]["subformat"] == "monolithicSparse"
    qimg("create", "-q", "-f", "vmdk", "-b", "sparse.vmdk", "-F", "vmdk", str(tmp_path / "delta.vmdk"))
    chain = convert.convert(convert.Request(str(tmp_path / "delta.vmdk"), str(out / "b.qcow2")))
    assert chain["engine"] == "qemu-img"


def test_a_corrupt_stream_leaves_nothing_behind(tmp_path):
    stream = VmwareVmdk(str(tmp_path / "t.vmdk"), 8 * MIB, {1: _grain(1), 2: _grain(2)})
    stream.patch(stream.grain_sector[2], 12, b"\x00" * 16)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InvalidInputError, match="grain for disk offset %d" % (2 * GRAIN)):
        convert.convert(convert.Request(stream.path, str(out / "disk.qcow2")))
    assert os.listdir(str(out)) == []


def test_highly_compressible_grains_are_inflated_in_bounded_blocks(tmp_path):
    """A grain of one repeated byte deflates to about 100 bytes: a block is cut by what it inflates to."""
    grains = {number: bytes([number % 200 + 1]) * GRAIN for number in range(600)}
    vmdk = VmwareVmdk(str(tmp_path / "dense.vmdk"), 64 * MIB, grains)
    layout = sparse_vmdk.open_layout(vmdk.path, 0, len(vmdk.data))
    blocks = list(sparse_vmdk._plan(layout, len(vmdk.data)))
    assert max(len(grains_in) for _base, _length, grains_in in blocks) * GRAIN <= sparse_vmdk._BLOCK_OUTPUT
    dest = tmp_path / "out.qcow2"
    _convert_file(vmdk.path, dest)
    _assert_identical(vmdk.path, dest, "qcow2")
