# -*- coding: utf-8 -*-
"""ARM JSON answers (tests/unit/fixtures/azure) for the Azure discovery tests."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "fixtures", "azure")


def load(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def vm_page():
    """A page of GET .../virtualMachines?$expand=instanceView: Trusted Launch Ubuntu, a deallocated
    generation 1 Windows VM with two NICs, a stopped ARM64 Debian on NVMe, an unknown GPU size with an
    ephemeral OS disk and no instance view."""
    return load("virtual_machines_list_all.json")


@pytest.fixture(scope="module")
def nics_by_id():
    """GET .../networkInterfaces, keyed as listing.list_nics keys it (the deallocated VM's NIC has no MAC)."""
    return dict((nic["id"].lower(), nic) for nic in load("network_interfaces_list_all.json")["value"])
