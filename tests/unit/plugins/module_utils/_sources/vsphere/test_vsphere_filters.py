# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Selecting discovered VMs by name, regex, folder, cluster, power state and guest family."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import InvalidInputError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.vsphere import describe, filters


@pytest.fixture(scope="module")
def vms(seeded_records):
    return describe.describe_inventory(seeded_records)[0]


ALL = ["DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1", "DC0_C1_RP0_VM0", "DC0_C1_RP0_VM1", "deb12-efi", "rhel9-snap", "win2019"]


@pytest.mark.parametrize("criteria, want", [
    ({}, ALL),
    ({"names": ["win2019", "deb12-efi", "nope"]}, ["deb12-efi", "win2019"]),
    ({"name_regex": "^DC0_C1"}, ["DC0_C1_RP0_VM0", "DC0_C1_RP0_VM1"]),
    ({"name_regex": "snap"}, ["rhel9-snap"]),
    ({"folder": "/DC0/vm/linux"}, ["deb12-efi", "rhel9-snap"]),
    ({"folder": "DC0/vm/linux/"}, ["deb12-efi", "rhel9-snap"]),
    ({"folder": "/DC0/vm/lin"}, []),                       # a path prefix, not a string prefix
    ({"folder": "/DC0"}, ALL),
    ({"folder": "/"}, ALL),
    ({"cluster": "DC0_C1"}, ["DC0_C1_RP0_VM0", "DC0_C1_RP0_VM1", "win2019"]),
    ({"power_states": ["off", "suspended"]}, ["rhel9-snap", "win2019"]),
    ({"guest_families": ["windows"]}, ["win2019"]),
    ({"guest_families": ["unknown"]}, ALL[:4]),
    ({"guest_families": ["linux"], "power_states": ["on"]}, ["deb12-efi"]),
    ({"folder": "/DC0/vm/linux", "cluster": "DC0_C1"}, []),
])
def test_select(vms, criteria, want):
    assert [vm["name"] for vm in filters.select(vms, filters.Criteria(**criteria))] == want


def test_unmatched_names(vms):
    criteria = filters.Criteria(names=["win2019", "ghost", "another"])
    assert criteria.unmatched_names(filters.select(vms, criteria)) == ["another", "ghost"]
    assert filters.Criteria().unmatched_names(vms) == []


def test_bad_regex_is_a_clear_error():
    with pytest.raises(InvalidInputError, match="name_regex '\\[' is not a valid regular expression"):
        filters.Criteria(name_regex="[")
