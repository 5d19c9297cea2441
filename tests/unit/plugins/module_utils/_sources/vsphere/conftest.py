# -*- coding: utf-8 -*-
"""Recorded vSphere inventory records (tests/unit/fixtures/vsphere) for the discovery tests."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "fixtures", "vsphere")


def load_records(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def seeded_records():
    """The seeded simulator inventory, as query.to_record() recorded it (tests/e2e/vcsim_seed.py)."""
    return load_records("vcsim-seeded.json")


@pytest.fixture(scope="module")
def edge_records():
    """A vCenter inventory in the shape vCenter answers, with the cases the simulator cannot make."""
    return load_records("vcenter-edge-cases.json")
