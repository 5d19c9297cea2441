# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write a new, sparse qcow2 or raw image from 64 KiB clusters handed in by a converter.

Used where the collection converts a disk itself instead of through qemu-img (sparse VMDKs, see
sparse_vmdk.py). Only the clusters handed in are written, and callers leave out all-zero ones;
everything else reads as zeros. A qcow2 output is a plain version 3 image (64 KiB
clusters, 16-bit refcounts, no backing file, no extensions): data clusters are appended in the
order they arrive, their L2 tables beside them, and the refcounts and the header are written last,
so the file is not a valid image until finish() has run. The caller writes to a temporary name,
lets `qemu-img check` verify the result, and renames it only then.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import os
import struct
from array import array

CLUSTER_BITS = 16
CLUSTER = 1 << CLUSTER_BITS
ZERO_CLUSTER = bytes(CLUSTER)
_L2_ENTRIES = CLUSTER // 8
_REFCOUNTS_PER_BLOCK = CLUSTER // 2  # refcount_order 4: 16-bit refcounts
_COPIED = 1 << 63  # refcount is exactly 1: the cluster may be written in place
_IOV_MAX = 1024
# L2 tables kept in memory (64 KiB each, 512 MiB of disk each); the rest wait in the file. Data
# arrives in disk order, so a few suffice, and a crafted disk touching every 512 MiB cannot make
# the writer hold a table per region.
_L2_CACHE = 64
_QCOW2_MAGIC = 0x514649FB
_HEADER = struct.Struct(">IIQIIQIIQQIIQQQQII")  # qcow2 version 3 header, 104 bytes


def _runs(items, key):
    """Group (position, data) pairs into runs that are contiguous on disk, for one pwritev each."""
    run, start, end = [], None, None
    for position, data in items:
        where = key(position)
        if run and (where != end or len(run) == _IOV_MAX):
            yield start, run
            run = []
        if not run:
            start = where
        run.append(data)
        end = where + len(data)
    if run:
        yield start, run


def _pwritev(fd, buffers, offset):
    while buffers:
        written = os.pwritev(fd, buffers, offset)
        offset += written
        while buffers and written >= len(buffers[0]):
            written -= len(buffers[0])
            buffers = buffers[1:]
        if buffers and written:
            buffers = [memoryview(buffers[0])[written:]] + list(buffers[1:])


class _Writer(object):
    def __init__(self, path, virtual_size):
        self.path, self.virtual_size = path, virtual_size
        # 0666 less the umask, as qemu-img creates its outputs: the mode does not depend on the engine.
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
        self.data_bytes = 0

    def write(self, clusters):
        """clusters: (virtual offset, 64 KiB of bytes-like data) pairs, in any order."""
        wanted = list(clusters)
        for offset, data in wanted:
            # The last cluster may reach past a virtual size that is not a multiple of 64 KiB.
            if len(data) != CLUSTER or offset % CLUSTER or offset >= self.virtual_size:
                raise ValueError("cluster at %d lies outside the %d-byte image" % (offset, self.virtual_size))
        self._write(wanted)
        self.data_bytes += len(wanted) * CLUSTER

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class RawWriter(_Writer):
    """A sparse raw file of the virtual size; clusters land at their own offsets."""

    def __init__(self, path, virtual_size):
        super(RawWriter, self).__init__(path, virtual_size)
        os.ftruncate(self.fd, virtual_size)

    def _write(self, clusters):
        end = self.virtual_size
        clusters = [(offset, data if offset + CLUSTER <= end else memoryview(data)[:end - offset])
                    for offset, data in clusters]
        for start, buffers in _runs(clusters, lambda offset: offset):
            _pwritev(self.fd, buffers, start)

    def finish(self):
        self.close()


class Qcow2Writer(_Writer):
    """A qcow2 v3 image built front to back: header and L1 reserved first, data and L2 appended."""

    def __init__(self, path, virtual_size):
        super(Qcow2Writer, self).__init__(path, virtual_size)
        self.l1_size = -(-virtual_size // (CLUSTER * _L2_ENTRIES))
        self.l1_clusters = max(1, -(-self.l1_size * 8 // CLUSTER))
        self.next_cluster = 1 + self.l1_clusters  # cluster 0 is the header
        self.l1 = array("Q", bytes(self.l1_clusters * CLUSTER))  # L1 index -> L2 table offset
        self.l2_cache = collections.OrderedDict()  # L1 index -> array of L2 entries, most recent last

    def _allocate(self):
        offset = self.next_cluster * CLUSTER
        self.next_cluster += 1
        return offset

    def _l2_table(self, l1_index):
        entries = self.l2_cache.get(l1_index)
        if entries is not None:
            self.l2_cache.move_to_end(l1_index)
            return entries
        if self.l1[l1_index]:
            entries = _from_big_endian("Q", os.pread(self.fd, CLUSTER, self.l1[l1_index]))
        else:
            self.l1[l1_index] = self._allocate()
            entries = array("Q", bytes(CLUSTER))
        self.l2_cache[l1_index] = entries
        if len(self.l2_cache) > _L2_CACHE:
            self._store_l2(*self.l2_cache.popitem(last=False))
        return entries

    def _store_l2(self, l1_index, entries):
        _pwritev(self.fd, [_big_endian(entries)], self.l1[l1_index])

    def _host_offset(self, virtual_offset):
        l1_index, l2_index = divmod(virtual_offset >> CLUSTER_BITS, _L2_ENTRIES)
        entries = self._l2_table(l1_index)
        if entries[l2_index]:
            return entries[l2_index] & ~_COPIED
        host = self._allocate()
        entries[l2_index] = host | _COPIED
        return host

    def _write(self, clusters):
        placed = [(self._host_offset(offset), data) for offset, data in clusters]
        placed.sort(key=lambda pair: pair[0])
        for start, buffers in _runs(placed, lambda host: host):
            _pwritev(self.fd, buffers, start)

    def finish(self):
        for l1_index, entries in self.l2_cache.items():
            self._store_l2(l1_index, entries)
        l1 = array("Q", (offset | _COPIED if offset else 0 for offset in self.l1))
        _pwritev(self.fd, [_big_endian(l1)], CLUSTER)
        table_offset, table_clusters = self._write_refcounts()
        header = _HEADER.pack(_QCOW2_MAGIC, 3, 0, 0, CLUSTER_BITS, self.virtual_size, 0, self.l1_size,
                              CLUSTER, table_offset, table_clusters, 0, 0, 0, 0, 0, 4, _HEADER.size)
        # The rest of cluster 0 stays zero: a zero header extension type ends the (empty) list.
        _pwritev(self.fd, [header + bytes(CLUSTER - len(header))], 0)
        self.close()

    def _write_refcounts(self):
        """Refcount table and blocks go after everything else; they count themselves too."""
        used = self.next_cluster
        blocks, table = 1, 1
        while True:
            need_blocks = -(-(used + blocks + table) // _REFCOUNTS_PER_BLOCK)
            need_table = -(-need_blocks * 8 // CLUSTER)
            if (need_blocks, need_table) == (blocks, table):
                break
            blocks, table = need_blocks, need_table
        table_offset = used * CLUSTER
        first_block = used + table
        total = used + table + blocks
        entries = array("Q", bytes(table * CLUSTER))
        for index in range(blocks):
            entries[index] = (first_block + index) * CLUSTER
        _pwritev(self.fd, [_big_endian(entries)], table_offset)
        for index in range(blocks):
            counted = min(_REFCOUNTS_PER_BLOCK, total - index * _REFCOUNTS_PER_BLOCK)
            block = array("H", [1]) * counted + array("H", bytes(2 * (_REFCOUNTS_PER_BLOCK - counted)))
            _pwritev(self.fd, [_big_endian(block)], (first_block + index) * CLUSTER)
        return table_offset, table


def _from_big_endian(typecode, raw):
    values = array(typecode, raw)
    if struct.pack("=H", 1) != struct.pack(">H", 1):
        values.byteswap()
    return values


def _big_endian(values):
    if struct.pack("=H", 1) != struct.pack(">H", 1):
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def open_writer(path, fmt, virtual_size):
    return Qcow2Writer(path, virtual_size) if fmt == "qcow2" else RawWriter(path, virtual_size)
