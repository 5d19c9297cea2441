"""png: QEMU's PPM screenshots turned into PNG, checked by decoding the PNG again with zlib."""

from __future__ import annotations

import struct
import zlib

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import InvalidInputError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._targets import png


def _chunks(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, out = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        out.append((kind, body))
        pos += 12 + length
    return out


def test_ppm_becomes_an_equivalent_png():
    width, height = 3, 2
    pixels = bytes(range(width * height * 3))
    ppm = b"P6\n# made by a test\n%d %d\n255\n" % (width, height) + pixels
    chunks = _chunks(png.ppm_to_png(ppm))
    assert [kind for kind, _body in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    assert struct.unpack(">IIBBBBB", chunks[0][1]) == (3, 2, 8, 2, 0, 0, 0)
    raw = zlib.decompress(chunks[1][1])
    rows = [raw[i * (1 + width * 3):(i + 1) * (1 + width * 3)] for i in range(height)]
    assert all(row[0] == 0 for row in rows)
    assert b"".join(row[1:] for row in rows) == pixels


@pytest.mark.parametrize("data", [
    b"P3\n1 1\n255\n0 0 0\n",               # ASCII PPM
    b"P6\n2 2\n255\n" + b"\0" * 5,          # truncated
    b"P6\n1 1\n65535\n" + b"\0" * 6,        # 16-bit
    b"P6\n100000 100000\n255\n",            # absurd size
    b"\x89PNG garbage",
])
def test_bad_ppm_is_refused(data):
    with pytest.raises(InvalidInputError):
        png.ppm_to_png(data)
