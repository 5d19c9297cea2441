# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Convert a hosted sparse VMDK (streamOptimized, as in OVAs, or monolithicSparse) by our own reader.

qemu-img reads these one 64 KiB grain at a time and, for streamOptimized, inflates each on one
core: on an OVA import inflating is the bottleneck, on a monolithicSparse disk the small reads are.
Here the grain directory and grain tables decide which grain holds which part of the disk, exactly
as qemu and VMware read them (the LBA in a grain's marker is not trusted). The grains are then read
in file order, in blocks of a few MiB, by a thread pool that also inflates compressed grains
(zlib and libdeflate release the GIL); the clusters go in disk order to an output writer.

Everything read is bounded by the file: tables and grains must lie inside it, no grain table may
name more grains than the file can hold, a compressed grain may be at most twice a grain (qemu's
limit) and must inflate to one grain (the last one of the disk may stop at the disk's end, as
qemu-img writes it). A layout this reader does not handle (compressed grains without markers,
another compression or grain size) raises Unsupported, and the caller converts with qemu-img.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import os
import struct
import sys
import time
from array import array
from concurrent import futures

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._disk import inflate, output
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import InvalidInputError, MigrationError

SUBFORMATS = ("streamOptimized", "monolithicSparse")
_MAGIC = 0x564D444B  # "KDMV"
_GD_AT_END = 0xFFFFFFFFFFFFFFFF
_HEADER = struct.Struct("<IIIQQQQIQQQ?4sH")
_MARKER = struct.Struct("<QI")
FLAG_ZERO_GRAIN = 1 << 2
FLAG_COMPRESSED = 1 << 16
FLAG_MARKERS = 1 << 17
_DEFLATE = 1
_GT_ENTRIES = 512
_SECTOR = 512
_BLOCK = 4 * 1024 * 1024
# Inflated data one block may yield: a grain of repeated bytes deflates to a few dozen bytes, so a
# 4 MiB block could otherwise inflate to half a GiB.
_BLOCK_OUTPUT = 16 * 1024 * 1024
_MAX_GRAIN = 1024 * 1024
_DAMAGED_FIX = "The file is incomplete or damaged: export or download it again."


class Unsupported(Exception):
    """A valid VMDK this reader does not convert; qemu-img does."""


class Layout(object):
    def __init__(self, capacity, grain_bytes, compressed, grains):
        self.capacity, self.grain_bytes, self.compressed = capacity, grain_bytes, compressed
        # Sorted by file position: (sector of the grain << 32) | grain number in the disk.
        self.grains = grains

    @property
    def kind(self):
        return "streamOptimized" if self.compressed else "monolithicSparse"


def _header(raw, where):
    if len(raw) < _HEADER.size:
        raise InvalidInputError("Sparse VMDK: the %s is cut short." % where, fix=_DAMAGED_FIX)
    fields = _HEADER.unpack_from(raw)
    if fields[0] != _MAGIC:
        raise InvalidInputError("Sparse VMDK: the %s is not a VMDK header." % where, fix=_DAMAGED_FIX)
    names = ("magic", "version", "flags", "capacity", "grain", "desc_offset", "desc_size", "gtes_per_gt",
             "rgd_offset", "gd_offset", "overhead", "unclean", "eol_chars", "compression")
    return dict(zip(names, fields))


def _little_endian_u32(data):
    values = array("I", data)
    if sys.byteorder != "little":
        values.byteswap()
    return values


def read_layout(fd, offset, size):
    """Header (or footer), grain directory and grain tables of the VMDK at [offset, offset+size) of fd."""
    def read(pos, length):
        if pos < 0 or pos + length > size:
            return b""
        return os.pread(fd, length, offset + pos)

    head = _header(read(0, _SECTOR), "header")
    if head["gd_offset"] == _GD_AT_END:
        # Written as a stream: the real header, with the grain directory, is the footer.
        head = _header(read(size - 2 * _SECTOR, _SECTOR), "footer (1 KiB before the end)")
    flags = head["flags"]
    compressed = bool(flags & FLAG_COMPRESSED)
    if compressed != bool(flags & FLAG_MARKERS) or (compressed and head["compression"] != _DEFLATE):
        raise Unsupported("grains with compression %d, %s markers"
                          % (head["compression"], "with" if flags & FLAG_MARKERS else "without"))
    grain_bytes = head["grain"] * _SECTOR
    if grain_bytes % output.CLUSTER or not 0 < grain_bytes <= _MAX_GRAIN:
        raise Unsupported("grain size of %d bytes" % grain_bytes)
    if head["gtes_per_gt"] != _GT_ENTRIES or head["version"] not in (1, 2, 3):
        raise Unsupported("version %d with %d entries per grain table" % (head["version"], head["gtes_per_gt"]))
    capacity = head["capacity"] * _SECTOR
    if head["gd_offset"] == _GD_AT_END or not capacity:
        raise InvalidInputError("Sparse VMDK has no grain directory or a capacity of 0.", fix=_DAMAGED_FIX)
    tables = -(-capacity // (grain_bytes * _GT_ENTRIES))
    directory = read(head["gd_offset"] * _SECTOR, tables * 4)
    if len(directory) != tables * 4:
        raise InvalidInputError("Sparse VMDK: the grain directory (%d tables) lies beyond the end of the file."
                                % tables, fix=_DAMAGED_FIX)
    # A compressed grain takes at least a sector of the file, an uncompressed one a whole grain.
    footprint = _SECTOR if compressed else grain_bytes
    keys = _grain_index(read, size, directory, capacity, grain_bytes, flags, footprint)
    return Layout(capacity, grain_bytes, compressed, keys)


def _grain_index(read, size, directory, capacity, grain_bytes, flags, footprint):
    limit = size // footprint
    keys, last, ordered = array("Q"), -1, True
    zero_entry = 1 if flags & FLAG_ZERO_GRAIN else None
    for table_no, table_sector in enumerate(_little_endian_u32(directory)):
        if not table_sector:
            continue
        entries = read(table_sector * _SECTOR, _GT_ENTRIES * 4)
        if len(entries) != _GT_ENTRIES * 4:
            raise InvalidInputError("Sparse VMDK: grain table %d lies beyond the end of the file." % table_no,
                                    fix=_DAMAGED_FIX)
        for entry_no, sector in enumerate(_little_endian_u32(entries)):
            grain_no = table_no * _GT_ENTRIES + entry_no
            if not sector or sector == zero_entry or grain_no * grain_bytes >= capacity:
                continue  # unallocated or zero grain; entries past the capacity are never read
            if sector * _SECTOR + footprint > size:
                raise InvalidInputError("Sparse VMDK: grain %d lies beyond the end of the file." % grain_no,
                                        fix=_DAMAGED_FIX)
            key = sector << 32 | grain_no
            ordered = ordered and key > last
            last = key
            keys.append(key)
            if len(keys) > limit:
                raise InvalidInputError("Sparse VMDK: the grain tables name more grains than the file can hold; "
                                        "it is corrupt or crafted.", fix=_DAMAGED_FIX)
    return keys if ordered else array("Q", sorted(keys))


def _plan(layout, size):
    """Blocks read in one go: (file position, length, [(file position, disk offset)]), in file order.

    A block ends where its last grain can end at most, so each grain lies whole inside one block;
    for compressed grains that reach overlaps the next block's start, which the page cache serves."""
    reach = 2 * layout.grain_bytes if layout.compressed else layout.grain_bytes
    most = max(1, _BLOCK_OUTPUT // layout.grain_bytes)
    base, grains = None, []
    for key in layout.grains:
        pos, disk_offset = (key >> 32) * _SECTOR, (key & 0xFFFFFFFF) * layout.grain_bytes
        if grains and (pos >= base + _BLOCK or len(grains) == most):
            yield base, min(grains[-1][0] + reach, size) - base, grains
            grains = []
        if not grains:
            base = pos
        grains.append((pos, disk_offset))
    if grains:
        yield base, min(grains[-1][0] + reach, size) - base, grains


def _read_block(fd, offset, base, length):
    buffer = bytearray(length)
    if os.preadv(fd, [buffer], offset + base) != length:
        raise InvalidInputError("Sparse VMDK could not be read whole at byte %d (the file shrank?)." % base,
                                fix=_DAMAGED_FIX)
    return buffer


def _grain_data(inflater, layout, buffer, base, pos, disk_offset):
    """(bytes-like, start) of one grain's data: in place in the block, or freshly inflated."""
    start = pos - base
    if not layout.compressed:
        return buffer, start
    length = _MARKER.unpack_from(buffer, start)[1] if start + _MARKER.size <= len(buffer) else 0
    if not 0 < length <= 2 * layout.grain_bytes - _MARKER.size:
        raise InvalidInputError("streamOptimized VMDK: the grain for disk offset %d (file byte %d) declares %d "
                                "compressed bytes." % (disk_offset, pos, length), fix=_DAMAGED_FIX)
    if start + _MARKER.size + length > len(buffer):
        raise InvalidInputError("streamOptimized VMDK: the grain for disk offset %d (file byte %d) runs past the end "
                                "of the file." % (disk_offset, pos), fix=_DAMAGED_FIX)
    needed = min(layout.grain_bytes, layout.capacity - disk_offset)
    try:
        return inflater.inflate(buffer, start + _MARKER.size, length, layout.grain_bytes, needed), 0
    except inflate.InflateError as exc:
        raise InvalidInputError("streamOptimized VMDK: the grain for disk offset %d %s." % (disk_offset, exc),
                                fix=_DAMAGED_FIX)


def _block_clusters(fd, offset, block, layout, inflater):
    """Read (and inflate) one block in a worker; its (disk offset, cluster) pairs, all-zero ones left out."""
    base, length, grains = block
    buffer = _read_block(fd, offset, base, length)
    clusters = []
    for pos, disk_offset in grains:
        data, start = _grain_data(inflater, layout, buffer, base, pos, disk_offset)
        for at in range(start, start + layout.grain_bytes, output.CLUSTER):
            cluster_offset = disk_offset + at - start
            # startswith() compares in place (memcmp); comparing memoryview slices is ~50x slower.
            if cluster_offset < layout.capacity and not data.startswith(output.ZERO_CLUSTER, at):
                clusters.append((cluster_offset, memoryview(data)[at:at + output.CLUSTER]))
    return clusters


def open_layout(path, offset, size):
    """The layout of the VMDK at [offset, offset+size) of path; Unsupported if qemu-img must convert it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return read_layout(fd, offset, size)
    finally:
        os.close(fd)


def default_threads():
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 16))


def convert(path, offset, size, layout, dest, dest_format, threads, use_libdeflate=True, progress=None,
            timeout=None):
    """Write the disk at [offset, offset+size) of path (laid out as open_layout found) to dest.

    progress(fraction, seconds) is called about once a second. Returns what was done."""
    started = time.time()
    inflater = inflate.Inflater(use_libdeflate) if layout.compressed else None
    fd = os.open(path, os.O_RDONLY)
    try:
        writer = output.open_writer(dest, dest_format, layout.capacity)
        try:
            _pump(fd, offset, size, layout, inflater, writer, threads, progress, started, timeout)
            writer.finish()
        finally:
            writer.close()
    finally:
        os.close(fd)
    return {"subformat": layout.kind, "inflate": inflater.backend if inflater else None, "threads": threads,
            "grains": len(layout.grains), "seconds": time.time() - started}


def _pump(fd, offset, size, layout, inflater, writer, threads, progress, started, timeout):
    pending, reported = collections.deque(), started
    with futures.ThreadPoolExecutor(max_workers=threads) as pool:
        try:
            for block in _plan(layout, size):
                pending.append(pool.submit(_block_clusters, fd, offset, block, layout, inflater))
                # Two blocks beyond the workers' own in flight: workers never wait, memory stays bounded.
                while len(pending) > threads + 2 or (pending and pending[0].done()):
                    writer.write(pending.popleft().result())
                now = time.time()
                if timeout and now - started > timeout:
                    raise MigrationError("The conversion did not finish within %s seconds and was stopped." % timeout,
                                         fix="Raise the timeout, or check the storage for stalls.")
                if progress and now - reported >= 1.0:
                    progress(min(1.0, (block[0] + block[1]) / float(size)), now - started)
                    reported = now
            while pending:
                writer.write(pending.popleft().result())
        finally:
            for job in pending:
                job.cancel()
    if progress:
        progress(1.0, time.time() - started)
