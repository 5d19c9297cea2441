# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Byte ranges of a remote disk: what to fetch, in what pieces, and what is still missing.

A range is a (start, end) pair of byte offsets with end exclusive. Pure functions, no I/O.
Sources report allocated data as many small ranges (Azure page lists are not merged, sparse VMDK
grains are 64 KiB): merge() joins the ones that touch or lie close together, so that one request
fetches a run of them and the few zero bytes in between; split() cuts the runs into pieces one
worker fetches; subtract() leaves what a resumed download still lacks.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import InvalidInputError


def check(ranges, size):
    """The ranges as sorted (start, end) tuples; every one non-empty and inside [0, size)."""
    out = []
    for start, end in ranges:
        if not 0 <= start < end <= size:
            raise InvalidInputError("Range %d-%d is empty or lies outside the %d bytes of the disk." % (start, end, size),
                                    fix="The source reported an inconsistent allocation map; try again.")
        out.append((int(start), int(end)))
    return sorted(out)


def merge(ranges, gap=0):
    """Sorted ranges with overlapping, touching and at most gap bytes apart ranges joined."""
    merged = []
    for start, end in sorted(ranges):
        if merged and start - merged[-1][1] <= gap:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def split(ranges, max_size):
    """The ranges cut into pieces of at most max_size bytes, in order."""
    if max_size < 1:
        raise InvalidInputError("The chunk size must be at least 1 byte, got %d." % max_size)
    pieces = []
    for start, end in ranges:
        while start < end:
            pieces.append((start, min(end, start + max_size)))
            start = pieces[-1][1]
    return pieces


def subtract(ranges, done):
    """The parts of ranges that no range in done covers, in order."""
    done = merge(piece for piece in done if piece[1] > piece[0])
    left = []
    for start, end in sorted(ranges):
        for d_start, d_end in done:
            if d_end <= start or d_start >= end:
                continue
            if d_start > start:
                left.append((start, d_start))
            start = max(start, d_end)
            if start >= end:
                break
        if start < end:
            left.append((start, end))
    return left


def total(ranges):
    """Number of bytes the ranges hold (they must not overlap)."""
    return sum(end - start for start, end in ranges)
