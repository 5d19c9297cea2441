# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The "newc" cpio format the Linux kernel unpacks an initramfs from: write one, and find the archives
appended to an initramfs after its compressed main archive.

Why: the kernel unpacks every archive concatenated in the initrd file, in order, later files replacing
earlier ones (that is how early microcode is prepended). Appending one small uncompressed archive with
the virtio drivers and the module indexes makes an existing initramfs boot from virtio in seconds,
where rebuilding it inside the emulated appliance takes minutes. The guest's own listing tools
(lsinitramfs, lsinitrd) stop at the end of the compressed archive and do not show what was appended,
so our inspection reads the appended archives itself (appended_names).

Everything here is pure: bytes in, bytes or names out. Hostile input (an initramfs is guest data) can
only make a parse fail, never read past the buffer.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

MAGIC = b"070701"
_CRC_MAGIC = b"070702"
HEADER_SIZE = 110
TRAILER = "TRAILER!!!"
S_IFDIR = 0o040000
S_IFREG = 0o100000
_NAME_MAX = 4096
_MAX_ENTRIES = 200000


def _pad4(length):
    return (4 - length % 4) % 4


def _header(ino, mode, size, name_size, mtime):
    # magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor,
    # namesize, check: thirteen 8-digit hexadecimal fields after the magic.
    nlink = 2 if mode & S_IFDIR == S_IFDIR else 1
    fields = (ino, mode, 0, 0, nlink, mtime, size, 0, 0, 0, 0, name_size, 0)
    return MAGIC + b"".join(b"%08X" % (value & 0xFFFFFFFF) for value in fields)


def archive(entries, mtime=0):
    """One newc archive (bytes) of entries [(name, data)] in order: data None makes a directory (0755),
    bytes a regular file (0644). Names are relative ("usr/lib/modules/..."); the archive ends with the
    trailer and is padded to a multiple of four bytes."""
    out = []
    offset = 0
    for ino, (name, data) in enumerate(list(entries) + [(TRAILER, b"")], start=1):
        if name.startswith("/") or not name or "\0" in name or ".." in name.split("/"):
            raise ValueError("%r is not a relative archive member name" % (name,))
        is_dir = data is None
        body = b"" if is_dir else bytes(data)
        raw_name = name.encode("utf-8") + b"\0"
        mode = (S_IFDIR | 0o755) if is_dir else (S_IFREG | 0o644)
        if name == TRAILER:
            ino, mode = 0, 0
        head = _header(ino, mode, len(body), len(raw_name), mtime if name != TRAILER else 0) + raw_name
        head += b"\0" * _pad4(offset + len(head))
        offset += len(head)
        out.append(head)
        out.append(body + b"\0" * _pad4(len(body)))
        offset += len(body) + _pad4(len(body))
    return b"".join(out)


def _parse_one(data, start):
    """(names, end offset) of the archive at start, or None when data holds no complete, well-formed
    archive there. Offsets are aligned relative to start, as the writer aligns them."""
    names = []
    pos = start
    size = len(data)
    while len(names) < _MAX_ENTRIES:
        if pos + HEADER_SIZE > size or data[pos:pos + 6] not in (MAGIC, _CRC_MAGIC):
            return None
        try:
            fields = [int(data[pos + 6 + 8 * i:pos + 14 + 8 * i], 16) for i in range(13)]
        except ValueError:
            return None
        body_size, name_size = fields[6], fields[11]
        if not 1 < name_size <= _NAME_MAX:
            return None
        name_end = pos + HEADER_SIZE + name_size
        if name_end > size or data[name_end - 1:name_end] != b"\0":
            return None
        name = data[pos + HEADER_SIZE:name_end - 1].decode("utf-8", "replace")
        body_start = name_end + _pad4(name_end - start)
        body_end = body_start + body_size
        if body_end > size:
            return None
        pos = body_end + _pad4(body_end - start)
        if name == TRAILER:
            return names, min(pos, size)
        names.append(name)
    return None


def _skip_zeros(data, pos):
    size = len(data)
    while pos < size and data[pos] == 0:
        pos += 1
    return pos


def leading_end(data):
    """Offset where the uncompressed archives at the start of an initrd (early microcode, ...) end."""
    pos = 0
    while True:
        start = _skip_zeros(data, pos)
        parsed = _parse_one(data, start) if start < len(data) else None
        if parsed is None:
            return pos
        pos = parsed[1]


def _parse_to_end(data, start):
    names = []
    pos = start
    while True:
        parsed = _parse_one(data, pos)
        if parsed is None:
            return None
        names.extend(parsed[0])
        pos = _skip_zeros(data, parsed[1])
        if pos >= len(data):
            return names


def names(data):
    """Member names of the archives in data (archive() output, possibly several), or None when data
    is not such archives from start to end."""
    return _parse_to_end(data, 0)


def appended_names(data):
    """data: bytes or an mmap of the initrd file. Member names of the uncompressed archives that follow the compressed main archive of an initrd,
    up to the end of the file ([] when there are none). A candidate header counts only when archives
    parse from it, trailer after trailer, to the very end, so bytes inside compressed data that happen
    to read "070701" are not taken for an archive."""
    begin = leading_end(data)
    if _skip_zeros(data, begin) >= len(data):
        return []  # the whole file is uncompressed archives: its listing already shows everything
    pos = data.find(MAGIC, begin + 1)
    while pos != -1:
        if pos % 4 == 0:
            names = _parse_to_end(data, pos)
            if names is not None:
                return names
        pos = data.find(MAGIC, pos + 1)
    return []


def parent_dirs(names, below):
    """The directories (relative names) that must exist for names, those under below only, parents
    first; below itself is taken to exist."""
    out = []
    seen = set()
    for name in names:
        parts = name.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            folder = "/".join(parts[:depth])
            if len(folder) <= len(below) or not folder.startswith(below + "/") or folder in seen:
                continue
            seen.add(folder)
            out.append(folder)
    return out
