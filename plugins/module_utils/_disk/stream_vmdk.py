# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Convert a streamOptimized VMDK (the disk inside almost every OVA) with its grains inflated on every core.

qemu-img reads such a disk one 64 KiB grain at a time and inflates it on one core, which makes
inflating the bottleneck of an OVA import. Here the grain directory and grain tables decide which
grain holds which part of the disk, exactly as qemu and VMware read it (the LBA in a grain's
marker is not trusted). The grains are then read front to back in large blocks, inflated in a
thread pool (zlib and libdeflate release the GIL), and handed in order to an output writer.

Everything read is bounded by the file: tables must lie inside it, no grain table may claim more
grains than the file can hold, a compressed grain may be at most twice a grain (qemu's limit), and
each grain must inflate to one grain (the last one of the disk may stop at the disk's end, as
qemu-img writes it). A layout this reader does not handle (no markers,
another grain size or compression) raises Unsupported, and the caller converts with qemu-img.
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
_MAX_GRAIN = 1024 * 1024
_TRUNCATED_FIX = "The file is incomplete or damaged: export or download it again."


class Unsupported(Exception):
    """A valid VMDK this reader does not convert; qemu-img does."""


class Layout(object):
    def __init__(self, capacity, grain_bytes, flags, grains):
        self.capacity, self.grain_bytes, self.flags = capacity, grain_bytes, flags
        # Sorted by file position: (sector of the grain's marker << 32) | grain index in the disk.
        self.grains = grains


def _header(raw, where):
    if len(raw) < _HEADER.size:
        raise InvalidInputError("streamOptimized VMDK: the %s is cut short." % where, fix=_TRUNCATED_FIX)
    fields = _HEADER.unpack_from(raw)
    if fields[0] != _MAGIC:
        raise InvalidInputError("streamOptimized VMDK: the %s is not a VMDK header." % where, fix=_TRUNCATED_FIX)
    names = ("magic", "version", "flags", "capacity", "grain", "desc_offset", "desc_size", "gtes_per_gt",
             "rgd_offset", "gd_offset", "overhead", "unclean", "eol_chars", "compression")
    return dict(zip(names, fields))


def _little_endian_u32(data):
    values = array("I", data)
    if values.itemsize != 4:  # pragma: no cover - no such platform among our targets
        values = array("L", data)
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
    if not flags & FLAG_COMPRESSED or head["compression"] != _DEFLATE or not flags & FLAG_MARKERS:
        raise Unsupported("not deflate-compressed grains with markers")
    grain_bytes = head["grain"] * _SECTOR
    if grain_bytes % output.CLUSTER or not 0 < grain_bytes <= _MAX_GRAIN:
        raise Unsupported("grain size of %d bytes" % grain_bytes)
    if head["gtes_per_gt"] != _GT_ENTRIES or head["version"] not in (1, 2, 3):
        raise Unsupported("version %d with %d entries per grain table" % (head["version"], head["gtes_per_gt"]))
    capacity = head["capacity"] * _SECTOR
    if head["gd_offset"] == _GD_AT_END or not capacity:
        raise InvalidInputError("streamOptimized VMDK has no grain directory or a capacity of 0.",
                                fix=_TRUNCATED_FIX)
    tables = -(-capacity // (grain_bytes * _GT_ENTRIES))
    directory = read(head["gd_offset"] * _SECTOR, tables * 4)
    if len(directory) != tables * 4:
        raise InvalidInputError("streamOptimized VMDK: the grain directory (%d tables) lies beyond the end of "
                                "the file." % tables, fix=_TRUNCATED_FIX)
    return Layout(capacity, grain_bytes, flags, _grain_index(read, size, directory, capacity, grain_bytes, flags))


def _grain_index(read, size, directory, capacity, grain_bytes, flags):
    limit = size // _SECTOR  # every grain takes at least one sector of the file
    keys, last, ordered = array("Q"), -1, True
    zero_entry = 1 if flags & FLAG_ZERO_GRAIN else None
    for table_no, table_sector in enumerate(_little_endian_u32(directory)):
        if not table_sector:
            continue
        entries = read(table_sector * _SECTOR, _GT_ENTRIES * 4)
        if len(entries) != _GT_ENTRIES * 4:
            raise InvalidInputError("streamOptimized VMDK: grain table %d lies beyond the end of the file."
                                    % table_no, fix=_TRUNCATED_FIX)
        for entry_no, sector in enumerate(_little_endian_u32(entries)):
            grain_no = table_no * _GT_ENTRIES + entry_no
            if not sector or sector == zero_entry or grain_no * grain_bytes >= capacity:
                continue  # unallocated or zero grain; entries past the capacity are never read
            if sector >= limit:
                raise InvalidInputError("streamOptimized VMDK: grain %d lies beyond the end of the file."
                                        % grain_no, fix=_TRUNCATED_FIX)
            key = sector << 32 | grain_no
            ordered = ordered and key > last
            last = key
            keys.append(key)
            if len(keys) > limit:
                raise InvalidInputError("streamOptimized VMDK: the grain tables name more grains than the file "
                                        "can hold; it is corrupt or crafted.", fix=_TRUNCATED_FIX)
    return keys if ordered else array("Q", sorted(keys))


def _blocks(fd, offset, size, layout):
    """(buffer, file position, [(start, length, disk offset)]) for runs of grains read in one go, in file order."""
    max_compressed = 2 * layout.grain_bytes - _MARKER.size
    buffer, base, grains = None, 0, []
    for key in layout.grains:
        pos, disk_offset = (key >> 32) * _SECTOR, (key & 0xFFFFFFFF) * layout.grain_bytes
        for attempt in (0, 1):
            if attempt or buffer is None or pos < base or pos + _MARKER.size > base + len(buffer):
                if grains:
                    yield buffer, base, grains
                buffer, base, grains = bytearray(min(_BLOCK, size - pos)), pos, []
                if os.preadv(fd, [buffer], offset + pos) != len(buffer):
                    raise InvalidInputError("streamOptimized VMDK could not be read whole at byte %d." % pos,
                                            fix=_TRUNCATED_FIX)
            start = pos - base
            length = _MARKER.unpack_from(buffer, start)[1] if start + _MARKER.size <= len(buffer) else 0
            if not 0 < length <= max_compressed:
                raise InvalidInputError("streamOptimized VMDK: the grain for disk offset %d (file byte %d) declares "
                                        "%d compressed bytes." % (disk_offset, pos, length), fix=_TRUNCATED_FIX)
            if start + _MARKER.size + length <= len(buffer):
                grains.append((start + _MARKER.size, length, disk_offset))
                break
            if base == pos:
                raise InvalidInputError("streamOptimized VMDK: the grain for disk offset %d (file byte %d) runs past "
                                        "the end of the file." % (disk_offset, pos), fix=_TRUNCATED_FIX)
            # The grain straddles the end of this block: the next block starts at the grain.
    if grains:
        yield buffer, base, grains


def _inflate_block(inflater, buffer, grains, grain_bytes, capacity):
    clusters = []
    for start, length, disk_offset in grains:
        try:
            data = inflater.inflate(buffer, start, length, grain_bytes, min(grain_bytes, capacity - disk_offset))
        except inflate.InflateError as exc:
            raise InvalidInputError("streamOptimized VMDK: the grain for disk offset %d %s." % (disk_offset, exc),
                                    fix=_TRUNCATED_FIX)
        if grain_bytes == output.CLUSTER:
            clusters.append((disk_offset, data))
        else:
            clusters.extend((disk_offset + at, bytes(data[at:at + output.CLUSTER]))
                            for at in range(0, grain_bytes, output.CLUSTER) if disk_offset + at < capacity)
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
    fd = os.open(path, os.O_RDONLY)
    try:
        inflater = inflate.Inflater(use_libdeflate)
        writer = output.open_writer(dest, dest_format, layout.capacity)
        try:
            _pump(fd, offset, size, layout, inflater, writer, threads, progress, started, timeout)
            writer.finish()
        finally:
            writer.close()
    finally:
        os.close(fd)
    return {"backend": inflater.backend, "threads": threads, "grains": len(layout.grains),
            "seconds": time.time() - started}


def _pump(fd, offset, size, layout, inflater, writer, threads, progress, started, timeout):
    pending, reported = collections.deque(), started
    with futures.ThreadPoolExecutor(max_workers=threads) as pool:
        try:
            for buffer, base, grains in _blocks(fd, offset, size, layout):
                pending.append(pool.submit(_inflate_block, inflater, buffer, grains, layout.grain_bytes,
                                           layout.capacity))
                # Two blocks per thread in flight: the pool never waits for a read, memory stays bounded.
                while len(pending) > 2 * threads or (pending and pending[0].done()):
                    writer.write(pending.popleft().result())
                now = time.time()
                if timeout and now - started > timeout:
                    raise MigrationError("The conversion did not finish within %s seconds and was stopped." % timeout,
                                         fix="Raise the timeout, or check the storage for stalls.")
                if progress and now - reported >= 1.0:
                    progress(min(1.0, (base + len(buffer)) / float(size)), now - started)
                    reported = now
            while pending:
                writer.write(pending.popleft().result())
        finally:
            for job in pending:
                job.cancel()
    if progress:
        progress(1.0, time.time() - started)
