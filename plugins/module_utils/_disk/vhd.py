# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The footer of a fixed VHD: the last 512 bytes of the file, after the disk's data.

Azure managed disks and Hyper-V fixed disks are fixed VHDs: the disk's bytes followed by this
footer. check_fixed_footer() says whether a downloaded file is complete and what it claims to be:
cookie "conectix", disk type 2 (fixed), current size equal to the data in front of it, and the
checksum (one's complement of the byte sum with the checksum field counted as zero).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import struct

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import IntegrityError

FOOTER_SIZE = 512
COOKIE = b"conectix"
FIXED = 2
_TYPES = {2: "fixed", 3: "dynamic", 4: "differencing"}


def checksum(footer):
    """The checksum the footer should carry."""
    data = bytearray(footer[:FOOTER_SIZE])
    data[64:68] = b"\0\0\0\0"
    return ~sum(data) & 0xFFFFFFFF


def check_fixed_footer(footer, file_size, what="The VHD"):
    """{"current_size", "creator_app", "disk_type"} of a valid fixed-VHD footer; IntegrityError otherwise."""
    fix = "The download is incomplete or the source is not a fixed VHD; run the export again."
    if len(footer) != FOOTER_SIZE or footer[:8] != COOKIE:
        raise IntegrityError("%s does not end with a VHD footer (no 'conectix' cookie in its last 512 bytes)." % what,
                             fix=fix)
    disk_type, current_size = struct.unpack_from(">I", footer, 60)[0], struct.unpack_from(">Q", footer, 48)[0]
    if disk_type != FIXED:
        raise IntegrityError("%s is a %s VHD, not a fixed one." % (what, _TYPES.get(disk_type, "type %d" % disk_type)),
                             fix=fix)
    if current_size != file_size - FOOTER_SIZE:
        raise IntegrityError("%s's footer says the disk holds %d bytes, but %d bytes precede it."
                             % (what, current_size, file_size - FOOTER_SIZE), fix=fix)
    stored = struct.unpack_from(">I", footer, 64)[0]
    if stored != checksum(footer):
        raise IntegrityError("%s's footer checksum is 0x%08x, its content sums to 0x%08x."
                             % (what, stored, checksum(footer)), fix=fix)
    return {"current_size": current_size, "disk_type": "fixed",
            "creator_app": footer[28:32].decode("latin-1").rstrip("\0 ")}


def check_fixed_file(path):
    """check_fixed_footer() of the file at path."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        fh.seek(max(0, size - FOOTER_SIZE))
        footer = fh.read(FOOTER_SIZE)
    return check_fixed_footer(footer, size, what=os.path.basename(path))
