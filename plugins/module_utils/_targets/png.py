# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""QEMU hands console screenshots over as PPM (P6); people and browsers want PNG. Stdlib only."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import struct
import zlib

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import InvalidInputError

MAX_PIXELS = 8192 * 8192


def _ppm_tokens(data, count):
    """The first count header tokens of a PPM, skipping comments, and the offset after them."""
    tokens, pos = [], 0
    while len(tokens) < count:
        while pos < len(data) and data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.find(b"\n", pos)
            if pos < 0:
                break
            continue
        start = pos
        while pos < len(data) and not data[pos:pos + 1].isspace():
            pos += 1
        if start == pos:
            break
        tokens.append(data[start:pos])
    return tokens, pos + 1


def ppm_to_png(data):
    """PNG bytes for a binary PPM (P6, maxval 255) image."""
    tokens, offset = _ppm_tokens(data, 4)
    if len(tokens) != 4 or tokens[0] != b"P6" or not all(t.isdigit() for t in tokens[1:]):
        raise InvalidInputError("The screenshot is not a binary PPM image.",
                                fix="Report this: QEMU is expected to send PPM (P6).")
    width, height, maxval = (int(t) for t in tokens[1:])
    if maxval != 255 or not 0 < width * height <= MAX_PIXELS or len(data) < offset + width * height * 3:
        raise InvalidInputError("The screenshot PPM is truncated or has an unsupported size/depth.")
    stride = width * 3
    raw = b"".join(b"\x00" + data[offset + row * stride:offset + (row + 1) * stride] for row in range(height))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
