"""Write a raw disk as a streamOptimized VMDK laid out the way VMware's exporters (ovftool, ESXi's
ExportVm) stream it: header with the grain directory "at end", each grain deflated behind a marker,
each grain table after its grains, then the grain directory, a footer holding the real header, and
the end-of-stream marker. qemu-img writes another layout (tables in the header area), so this one is
written here for the tests; qemu-img reads both, and judges the result."""

from __future__ import annotations

import os
import struct
import zlib

SECTOR = 512
GRAIN_SECTORS = 128
GRAIN = GRAIN_SECTORS * SECTOR
TABLE_ENTRIES = 512
GD_AT_END = 0xFFFFFFFFFFFFFFFF
FLAGS = 1 | (1 << 16) | (1 << 17)  # newline check, compressed grains, markers
MARKER_GT, MARKER_GD, MARKER_FOOTER = 1, 2, 3


def _sectors(data: bytes) -> bytes:
    return data + bytes(-len(data) % SECTOR)


def _header(capacity_sectors: int, gd_sector: int, overhead: int) -> bytes:
    return _sectors(struct.pack("<IIIQQQQIQQQ?4sH", 0x564D444B, 3, FLAGS, capacity_sectors, GRAIN_SECTORS, 1, 1,
                                TABLE_ENTRIES, 0, gd_sector, overhead, False, b"\n \r\n", 1))


def _metadata_marker(sectors: int, kind: int) -> bytes:
    return _sectors(struct.pack("<QII", sectors, 0, kind))


def _data_grains(fd: int, size: int):
    """(grain number, data) for every grain of the raw file that holds a non-zero byte; holes skipped."""
    zero = bytes(GRAIN)
    pos = 0
    while pos < size:
        try:
            pos = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError:  # no data after pos
            return
        hole = os.lseek(fd, pos, os.SEEK_HOLE)
        first = pos // GRAIN * GRAIN
        for start in range(first, min(hole, size), GRAIN):
            data = os.pread(fd, GRAIN, start)
            data += bytes(GRAIN - len(data))
            if data != zero:
                yield start // GRAIN, data
        pos = max(hole, first + GRAIN)


def write(raw_path: str, out_path: str, level: int = 1) -> int:
    """Stream raw_path into out_path; returns the number of grains written."""
    size = os.path.getsize(raw_path)
    capacity = -(-size // SECTOR)
    descriptor = _sectors(('# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n'
                           'createType="streamOptimized"\n\n# Extent description\nRDONLY %d SPARSE "disk.vmdk"\n'
                           '\n# The Disk Data Base\n#DDB\nddb.adapterType = "lsilogic"\n'
                           'ddb.virtualHWVersion = "14"\n' % capacity).encode())
    overhead = 1 + len(descriptor) // SECTOR
    tables = -(-capacity // (GRAIN_SECTORS * TABLE_ENTRIES))
    directory = [0] * tables
    written = 0
    fd = os.open(raw_path, os.O_RDONLY)
    try:
        with open(out_path, "wb") as out:
            out.write(_header(capacity, GD_AT_END, overhead) + descriptor)
            table_no, table = None, None

            def flush_table():
                out.write(_metadata_marker(4, MARKER_GT))
                directory[table_no] = out.tell() // SECTOR
                out.write(struct.pack("<%dI" % TABLE_ENTRIES, *table))

            for grain_no, data in _data_grains(fd, size):
                if grain_no // TABLE_ENTRIES != table_no:
                    if table is not None:
                        flush_table()
                    table_no, table = grain_no // TABLE_ENTRIES, [0] * TABLE_ENTRIES
                table[grain_no % TABLE_ENTRIES] = out.tell() // SECTOR
                body = zlib.compress(data, level)
                out.write(_sectors(struct.pack("<QI", grain_no * GRAIN_SECTORS, len(body)) + body))
                written += 1
            if table is not None:
                flush_table()
            directory_bytes = struct.pack("<%dI" % tables, *directory)
            out.write(_metadata_marker(len(_sectors(directory_bytes)) // SECTOR, MARKER_GD))
            gd_sector = out.tell() // SECTOR
            out.write(_sectors(directory_bytes))
            out.write(_metadata_marker(1, MARKER_FOOTER) + _header(capacity, gd_sector, overhead))
            out.write(bytes(SECTOR))  # end of stream
    finally:
        os.close(fd)
    return written
