# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Byte-range arithmetic of the downloader."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import InvalidInputError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._transfer import ranges


@pytest.mark.parametrize("given, gap, want", [
    ([], 0, []),
    ([(0, 512)], 0, [(0, 512)]),
    # Azure lists adjacent pages separately: they become one range.
    ([(0, 4096), (4096, 8192), (8192, 8704)], 0, [(0, 8704)]),
    ([(8192, 9000), (0, 4096)], 0, [(0, 4096), (8192, 9000)]),
    ([(0, 4096), (1000, 2000), (3000, 5000)], 0, [(0, 5000)]),
    ([(0, 4096), (5120, 6144)], 1024, [(0, 6144)]),
    ([(0, 4096), (5121, 6144)], 1024, [(0, 4096), (5121, 6144)]),
    ([(0, 10), (20, 30), (40, 50), (1000, 1010)], 10, [(0, 50), (1000, 1010)]),
])
def test_merge(given, gap, want):
    assert ranges.merge(given, gap) == want


@pytest.mark.parametrize("given, size, want", [
    ([(0, 10)], 4, [(0, 4), (4, 8), (8, 10)]),
    ([(0, 8), (100, 104)], 4, [(0, 4), (4, 8), (100, 104)]),
    ([(3, 5)], 16, [(3, 5)]),
    ([], 4, []),
])
def test_split(given, size, want):
    assert ranges.split(given, size) == want
    assert ranges.total(ranges.split(given, size)) == ranges.total(given)


def test_split_needs_a_positive_size():
    with pytest.raises(InvalidInputError):
        ranges.split([(0, 1)], 0)


@pytest.mark.parametrize("given, done, want", [
    ([(0, 10), (20, 30)], [], [(0, 10), (20, 30)]),
    ([(0, 10), (20, 30)], [(0, 10)], [(20, 30)]),
    ([(0, 10), (20, 30)], [(5, 25)], [(0, 5), (25, 30)]),
    ([(0, 100)], [(10, 20), (30, 40)], [(0, 10), (20, 30), (40, 100)]),
    ([(0, 100)], [(40, 50), (10, 20), (45, 60)], [(0, 10), (20, 40), (60, 100)]),
    ([(0, 100)], [(40, 40)], [(0, 100)]),
    ([(0, 10)], [(0, 100)], []),
    ([(50, 60)], [(0, 10), (100, 110)], [(50, 60)]),
    # Pieces completed out of order (parallel workers) are merged before subtracting.
    ([(0, 4), (4, 8), (8, 12)], [(8, 12), (0, 4)], [(4, 8)]),
])
def test_subtract(given, done, want):
    assert ranges.subtract(given, done) == want


def test_check_sorts_and_refuses_ranges_outside_the_disk():
    assert ranges.check([(512, 1024), (0, 512)], 1024) == [(0, 512), (512, 1024)]
    for bad in ([(0, 1025)], [(-1, 10)], [(10, 10)], [(20, 10)]):
        with pytest.raises(InvalidInputError):
            ranges.check(bad, 1024)
