# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Disk image format detection from the bytes, by our own code.

qemu-img's format probing is a classic attack surface (a raw guest disk whose first bytes say
"qcow2 with backing file /etc/shadow"), so we never let qemu-img guess. detect() reads the header
(and a VHD footer) and names the qemu driver plus every file the image refers to (backing files,
VMDK extents, qcow2 external data files). The caller checks those references before any qemu-img
call is made.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import struct

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    InvalidInputError, UnsupportedError)

# Extensions that name exactly one format; .img/.bin/.dd are left out on purpose: cloud images
# named .img are often qcow2.
EXTENSION_FORMATS = {
    ".qcow2": "qcow2", ".qcow": "qcow2", ".vmdk": "vmdk", ".vhd": "vpc", ".vpc": "vpc",
    ".vhdx": "vhdx", ".vdi": "vdi", ".raw": "raw",
}
# Formats a user may name, with the aliases people use.
FORMAT_ALIASES = {"vhd": "vpc", "qcow": "qcow2"}
KNOWN_FORMATS = ("raw", "qcow2", "vmdk", "vpc", "vhdx", "vdi")
# What modules accept for a source format (qemu names plus the common alias "vhd").
FORMAT_CHOICES = ["raw", "qcow2", "vmdk", "vpc", "vhd", "vhdx", "vdi"]

_HEAD = 4096
_MAX_DESCRIPTOR = 1024 * 1024
_QCOW2_EXT_DATA_FILE = 0x44415441
_VMDK_GD_AT_END = 0xFFFFFFFFFFFFFFFF
_VHD_TYPES = {2: "fixed", 3: "dynamic", 4: "differencing"}
_EXTENT_RE = re.compile(
    r'^\s*(RW|RDONLY|NOACCESS)\s+(\d+)\s+(\w+)(?:\s+"([^"]*)")?(?:\s+(\d+))?\s*$')
_DESCRIPTOR_KEY_RE = re.compile(r'^\s*([A-Za-z.]+)\s*=\s*"?([^"]*)"?\s*$')


class Window(object):
    """A byte range of a file: a whole image, or a member inside an OVA tar."""

    def __init__(self, path, offset=0, size=None):
        self.path = path
        self.offset = offset
        self.size = os.path.getsize(path) - offset if size is None else size

    def read(self, fh, pos, length):
        if pos < 0 or pos >= self.size:
            return b""
        fh.seek(self.offset + pos)
        return fh.read(min(length, self.size - pos))


def normalise_format(name):
    if name is None:
        return None
    name = FORMAT_ALIASES.get(name.lower(), name.lower())
    if name not in KNOWN_FORMATS:
        raise UnsupportedError("Unknown disk format %r." % name,
                               fix="Use one of: %s (vhd is accepted for vpc)." % ", ".join(KNOWN_FORMATS))
    return name


def format_from_extension(path):
    return EXTENSION_FORMATS.get(os.path.splitext(path)[1].lower())


def detect(path, offset=0, size=None):
    """Identify the image in path[offset:offset+size].

    Returns {"format", "subformat", "references": [{"kind", "name"}], "virtual_size" (when the
    header says it)}. Raises InvalidInputError for truncated or inconsistent headers and
    UnsupportedError for formats we refuse to read.
    """
    window = Window(path, offset, size)
    with open(path, "rb") as fh:
        head = window.read(fh, 0, _HEAD)
        if head[:4] == b"QFI\xfb":
            return _qcow2(fh, window, head)
        if head[:4] == b"KDMV":
            return _vmdk_sparse(fh, window, head)
        if head[:4] == b"COWD":
            return _result("vmdk", "vmfsSparse")
        if _looks_like_vmdk_descriptor(head, window.size):
            return _vmdk_descriptor(fh, window)
        if head[:8] == b"vhdxfile":
            return _result("vhdx", None)
        if head[:8] == b"conectix":
            return _vpc(head[:512])
        if head[0x40:0x44] == b"\x7f\x10\xda\xbe":
            return _result("vdi", None, virtual_size=_unpack("<Q", head, 0x170))
        if head[:4] == b"QED\x00":
            raise UnsupportedError("%s is a QED image, a deprecated format with backing files." % path,
                                   fix="Convert it to qcow2 on a trusted host first.")
        if head[:6] == b"LUKS\xba\xbe":
            raise UnsupportedError("%s is a LUKS-encrypted image." % path,
                                   fix="Decrypt it first; encrypted images are not converted.")
        footer = window.read(fh, window.size - 512, 512) if window.size >= 512 else b""
        if footer[:8] == b"conectix":
            return _vpc(footer)
        return _result("raw", "iso9660" if window.read(fh, 0x8001, 5) == b"CD001" else None,
                       virtual_size=window.size)


def _result(fmt, subformat, references=None, virtual_size=None):
    return {"format": fmt, "subformat": subformat, "references": references or [],
            "virtual_size": virtual_size}


def _unpack(fmt, data, pos):
    size = struct.calcsize(fmt)
    if len(data) < pos + size:
        raise InvalidInputError("Image header is truncated (needs %d bytes, has %d)." % (pos + size, len(data)),
                                fix="The file is incomplete: copy or download it again.")
    return struct.unpack_from(fmt, data, pos)[0]


def _qcow2(fh, window, head):
    version = _unpack(">I", head, 4)
    if version not in (2, 3):
        raise UnsupportedError("qcow2 version %d is not supported." % version)
    backing_offset = _unpack(">Q", head, 8)
    backing_size = _unpack(">I", head, 16)
    virtual_size = _unpack(">Q", head, 24)
    header_length = _unpack(">I", head, 100) if version == 3 else 72
    references = []
    if backing_offset:
        if backing_size > 1023:
            raise InvalidInputError("qcow2 backing file name is %d bytes long (at most 1023 allowed)." % backing_size)
        name = window.read(fh, backing_offset, backing_size)
        if len(name) != backing_size:
            raise InvalidInputError("qcow2 header points past the end of the file (truncated image).",
                                    fix="The file is incomplete: copy or download it again.")
        references.append({"kind": "backing", "name": name.decode("utf-8", "replace")})
    references.extend(_qcow2_extensions(fh, window, header_length, backing_offset))
    if window.size < header_length:
        raise InvalidInputError("qcow2 image is truncated: %d bytes, header alone needs %d." % (window.size, header_length),
                                fix="The file is incomplete: copy or download it again.")
    return _result("qcow2", "v%d" % version, references, virtual_size)


def _qcow2_extensions(fh, window, pos, backing_offset):
    """External data files live in a header extension: they are references too."""
    out = []
    end = backing_offset or 65536
    while pos + 8 <= end:
        ext = window.read(fh, pos, 8)
        if len(ext) < 8:
            break
        ext_type, length = struct.unpack(">II", ext)
        if ext_type == 0:
            break
        if ext_type == _QCOW2_EXT_DATA_FILE:
            out.append({"kind": "data-file", "name": window.read(fh, pos + 8, length).decode("utf-8", "replace")})
        pos += 8 + ((length + 7) & ~7)
    return out


def _vmdk_sparse(fh, window, head):
    capacity = _unpack("<Q", head, 12)
    desc_offset = _unpack("<Q", head, 28)
    desc_size = _unpack("<Q", head, 36)
    gd_offset = _unpack("<Q", head, 56)
    compress = _unpack("<H", head, 77)
    if gd_offset == _VMDK_GD_AT_END:
        # streamOptimized: the real header (with the grain directory) is the footer 1 KiB before
        # the end. Without it the stream was cut short.
        if window.size < 1536 or window.read(fh, window.size - 1024, 4) != b"KDMV":
            raise InvalidInputError("streamOptimized VMDK has no footer: the file is truncated.",
                                    fix="The file is incomplete: copy or download it again.")
    elif gd_offset * 512 >= window.size:
        raise InvalidInputError("VMDK grain directory lies beyond the end of the file (truncated image).",
                                fix="The file is incomplete: copy or download it again.")
    subformat = "streamOptimized" if compress else "monolithicSparse"
    references = []
    if desc_offset and desc_size:
        text = window.read(fh, desc_offset * 512, min(desc_size * 512, _MAX_DESCRIPTOR))
        parsed = parse_vmdk_descriptor(text)
        subformat = parsed["create_type"] or subformat
        # qemu reads a sparse file's data from the file itself and uses the embedded descriptor
        # only for the parent; its extent line names the file as it was first called (often not
        # its name now, e.g. inside an OVA), so only the parent is a reference.
        references = [ref for ref in parsed["references"] if ref["kind"] == "backing"]
    return _result("vmdk", subformat, references, capacity * 512)


def _looks_like_vmdk_descriptor(head, size):
    if size > _MAX_DESCRIPTOR or b"\x00" in head.rstrip(b"\x00"):
        return False
    text = head.lstrip()
    return text.startswith(b"# Disk DescriptorFile") or (b"createType" in head and b"RW " in head)


def _vmdk_descriptor(fh, window):
    parsed = parse_vmdk_descriptor(window.read(fh, 0, _MAX_DESCRIPTOR))
    sectors = sum(extent["sectors"] for extent in parsed["extents"])
    return _result("vmdk", parsed["create_type"] or "descriptor", parsed["references"], sectors * 512)


def parse_vmdk_descriptor(data):
    """Pure parser for a VMDK text descriptor (embedded or separate)."""
    text = data.split(b"\x00", 1)[0].decode("utf-8", "replace")
    create_type, parent, extents = None, None, []
    for line in text.splitlines():
        match = _EXTENT_RE.match(line)
        if match:
            access, sectors, kind, name, ext_offset = match.groups()
            extents.append({"access": access, "sectors": int(sectors), "type": kind.upper(),
                            "file": name, "offset": int(ext_offset or 0)})
            continue
        match = _DESCRIPTOR_KEY_RE.match(line)
        if match and match.group(1) == "createType":
            create_type = match.group(2)
        elif match and match.group(1) == "parentFileNameHint":
            parent = match.group(2)
    references = [{"kind": "extent", "name": e["file"]} for e in extents if e["file"]]
    if parent:
        references.append({"kind": "backing", "name": parent})
    return {"create_type": create_type, "extents": extents, "parent": parent, "references": references}


def _vpc(footer):
    disk_type = _VHD_TYPES.get(_unpack(">I", footer, 60), "unknown")
    if disk_type == "differencing":
        raise UnsupportedError("Differencing VHD (a snapshot child) cannot be read on its own.",
                               fix="Merge the chain in Hyper-V (Edit Disk > Merge) and export the merged VHD.")
    return _result("vpc", disk_type, virtual_size=_unpack(">Q", footer, 48))
