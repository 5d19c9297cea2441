# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inflate one zlib-compressed grain into a buffer of one grain.

libdeflate (whole-buffer inflate, about twice as fast as zlib here) is used through ctypes when
the host has it, Python's zlib otherwise. Both release the GIL while they work, so grains inflate
on several cores from threads. The output can never exceed a grain: a grain that inflates to more
(a decompression bomb) is refused, not truncated, and so is one that inflates to less than the
caller needs (only the last grain of a disk may end early; the rest of it reads as zeros).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ctypes
import ctypes.util
import threading
import zlib

_LIBDEFLATE_NAMES = ("libdeflate.so.0", "libdeflate.so")
_RESULTS = {1: "is not valid deflate data", 2: "inflates to fewer bytes than its part of the disk",
            3: "inflates to more bytes than a grain"}


class InflateError(ValueError):
    """The compressed bytes are corrupt, or inflate to another length than expected."""


def _load_libdeflate():
    names = list(_LIBDEFLATE_NAMES)
    found = ctypes.util.find_library("deflate")
    if found:
        names.append(found)
    for name in names:
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        lib.libdeflate_alloc_decompressor.restype = ctypes.c_void_p
        lib.libdeflate_alloc_decompressor.argtypes = []
        lib.libdeflate_free_decompressor.restype = None
        lib.libdeflate_free_decompressor.argtypes = [ctypes.c_void_p]
        lib.libdeflate_zlib_decompress.restype = ctypes.c_int
        lib.libdeflate_zlib_decompress.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                                   ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
        return lib
    return None


class _Decompressor(object):
    """One libdeflate decompressor: not thread-safe, so each thread has its own."""

    def __init__(self, lib):
        self.lib = lib
        self.handle = lib.libdeflate_alloc_decompressor()
        if not self.handle:
            raise MemoryError("libdeflate could not allocate a decompressor")

    def __del__(self):
        if getattr(self, "handle", None):
            self.lib.libdeflate_free_decompressor(self.handle)
            self.handle = None


class Inflater(object):
    """inflate(src, start, length, size, needed) -> size bytes (bytes-like), zero-filled after the data.

    src is a bytearray (a block read from the image); the compressed bytes are src[start:start+length].
    The data must inflate to at least needed and at most size bytes.
    """

    def __init__(self, use_libdeflate=True):
        self._lib = _load_libdeflate() if use_libdeflate else None
        self._local = threading.local()

    @property
    def backend(self):
        return "libdeflate" if self._lib else "zlib"

    def inflate(self, src, start, length, size, needed):
        if self._lib is None:
            return _zlib_inflate(memoryview(src)[start:start + length], size, needed)
        decompressor = getattr(self._local, "decompressor", None)
        if decompressor is None:
            decompressor = self._local.decompressor = _Decompressor(self._lib)
        out = bytearray(size)
        src_c = (ctypes.c_char * len(src)).from_buffer(src)
        out_c = (ctypes.c_char * size).from_buffer(out)
        actual = ctypes.c_size_t(0)
        code = self._lib.libdeflate_zlib_decompress(decompressor.handle, ctypes.addressof(src_c) + start,
                                                    length, ctypes.addressof(out_c), size, ctypes.byref(actual))
        del src_c, out_c  # release the buffer exports before the bytearrays are used again
        if code:
            raise InflateError(_RESULTS.get(code, "failed to inflate (libdeflate result %d)" % code))
        if actual.value < needed:
            raise InflateError(_RESULTS[2])
        return out  # zero-initialised: the bytes after the data are zeros


def _zlib_inflate(data, size, needed):
    stream = zlib.decompressobj()
    try:
        out = stream.decompress(data, size)
        if len(out) == size and not stream.eof and stream.decompress(stream.unconsumed_tail, 1):
            raise InflateError(_RESULTS[3])
    except zlib.error:
        raise InflateError(_RESULTS[1])
    if not stream.eof:
        raise InflateError(_RESULTS[1])
    if len(out) < needed:
        raise InflateError(_RESULTS[2])
    return out + bytes(size - len(out)) if len(out) < size else out
