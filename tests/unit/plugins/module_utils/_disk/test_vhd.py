# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fixed-VHD footer check, on footers qemu-img writes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import struct

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._disk import vhd
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import IntegrityError

SIZE = 64 * 1024 * 1024


def _footer(qimg, tmp_path, subformat="fixed"):
    path = tmp_path / "d.vhd"
    qimg("create", "-q", "-f", "vpc", "-o", "subformat=%s,force_size=on" % subformat, str(path), str(SIZE))
    data = path.read_bytes()
    return path, bytearray(data[-512:])


def _resum(footer):
    footer[64:68] = struct.pack(">I", vhd.checksum(footer))
    return footer


def test_a_fixed_vhd_from_qemu_img_passes(qimg, tmp_path):
    path, footer = _footer(qimg, tmp_path)
    assert vhd.check_fixed_footer(bytes(footer), SIZE + 512) == {"current_size": SIZE, "disk_type": "fixed",
                                                                 "creator_app": "qem2"}
    assert vhd.check_fixed_file(str(path))["current_size"] == SIZE


@pytest.mark.parametrize("offset, value, resum, message", [
    (0, b"notavhd!", False, "no 'conectix' cookie"),
    (60, struct.pack(">I", 3), True, "is a dynamic VHD, not a fixed one"),
    (48, struct.pack(">Q", SIZE - 512), True, "footer says the disk holds 67108352 bytes, but 67108864 bytes precede it"),
    (100, b"\x55", False, "footer checksum is"),
])
def test_damaged_footers_are_refused(qimg, tmp_path, offset, value, resum, message):
    _path, footer = _footer(qimg, tmp_path)
    footer[offset:offset + len(value)] = value
    if resum:
        _resum(footer)
    with pytest.raises(IntegrityError, match=message):
        vhd.check_fixed_footer(bytes(footer), SIZE + 512)


def test_a_truncated_download_is_refused(qimg, tmp_path):
    path, _footer_bytes = _footer(qimg, tmp_path)
    with open(str(path), "r+b") as fh:
        fh.truncate(SIZE)
    with pytest.raises(IntegrityError, match="does not end with a VHD footer"):
        vhd.check_fixed_file(str(path))


def test_unknown_creators_are_read_by_their_current_size(qimg, tmp_path):
    """A fixed VHD whose creator qemu does not know (and whose CHS geometry says more) converts at the footer's
    size: chain.block_spec asks qemu for force_size_calc=current_size."""
    from ansible_collections.hyper2kvm.migrate.plugins.module_utils._disk import source

    path, footer = _footer(qimg, tmp_path)
    footer[28:32] = b"wa\0\0"
    footer[56:60] = struct.pack(">HBB", 1000, 16, 63)
    _resum(footer)
    with open(str(path), "r+b") as fh:
        fh.seek(SIZE)
        fh.write(bytes(footer))
    assert source.describe(str(path))["virtual_size"] == SIZE
