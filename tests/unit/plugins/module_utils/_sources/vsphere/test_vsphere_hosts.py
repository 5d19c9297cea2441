# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""VM descriptions as inventory hosts: names (the rules every source shares, inventory_hosts.py),
duplicates, variables and default groups."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources import inventory_hosts
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.vsphere import describe, hosts

VALID_GROUP = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@pytest.fixture(scope="module")
def vms(seeded_records):
    return describe.describe_inventory(seeded_records)[0]


def vm(name, vm_id, family=None, power="off", cluster=None, datacenter=None):
    return {"name": name, "power_state": power, "guest": {"family": family},
            "source": {"id": vm_id, "cluster": cluster, "datacenter": datacenter}}


@pytest.mark.parametrize("name, want", [
    ("web01", "web01"),
    ("db-2.prod_x", "db-2.prod_x"),
    ("web 01 (old)", "web_01__old_"),
    ("a:b,c&d!e*f[1]", "a_b_c_d_e_f_1_"),
    ("café", "caf_"),
    ("", "_"),
])
def test_safe_host_name(name, want):
    assert inventory_hosts.safe_host_name(name) == want


@pytest.mark.parametrize("name, want", [
    ("DC0_C0", "DC0_C0"),
    ("prod-cluster 01", "prod_cluster_01"),
    ("Prod.Cluster/EU", "Prod_Cluster_EU"),
])
def test_safe_group_name(name, want):
    assert inventory_hosts.safe_group_name(name) == want


def test_unique_names_are_kept():
    named, warnings = hosts.host_names([vm("a", "vm-1"), vm("b", "vm-2")])
    assert [host for host, _vm in named] == ["a", "b"] and warnings == []


def test_every_duplicate_gets_its_moref_and_a_warning():
    vms = [vm("web", "vm-7"), vm("web", "vm-12"), vm("db", "vm-3")]
    named, warnings = hosts.host_names(vms)
    assert [(host, item["source"]["id"]) for host, item in named] == [
        ("web_vm-7", "vm-7"), ("web_vm-12", "vm-12"), ("db", "vm-3")]
    assert warnings == [
        "VM 'web' (vm-7) shares its host name 'web' with another VM: it is host 'web_vm-7'.",
        "VM 'web' (vm-12) shares its host name 'web' with another VM: it is host 'web_vm-12'.",
    ]


def test_names_that_become_equal_once_made_safe_are_duplicates():
    named, warnings = hosts.host_names([vm("app 1", "vm-1"), vm("app(1", "vm-2"), vm("app_1x", "vm-3")])
    assert [host for host, _vm in named] == ["app_1_vm-1", "app_1_vm-2", "app_1x"]
    assert len(warnings) == 2


def test_host_vars_carry_the_whole_description(vms):
    deb = next(item for item in vms if item["name"] == "deb12-efi")
    assert hosts.host_vars(deb) == {
        "h2k_vm": deb, "h2k_vm_id": deb["source"]["id"], "h2k_power_state": "on", "h2k_guest_family": "linux",
        "h2k_datacenter": "DC0", "h2k_cluster": "DC0_C0", "h2k_esxi_host": deb["source"]["host"],
        "h2k_folder": "/DC0/vm/linux"}
    assert hosts.host_vars(vm("x", "vm-1"))["h2k_guest_family"] == "unknown"


def test_default_groups_of_the_seeded_inventory(vms):
    groups = dict((item["name"], hosts.default_groups(item)) for item in vms)
    assert groups["deb12-efi"] == ["linux", "powered_on", "cluster_DC0_C0", "datacenter_DC0"]
    assert groups["rhel9-snap"] == ["linux", "powered_off", "cluster_DC0_C0", "datacenter_DC0"]
    assert groups["win2019"] == ["windows", "suspended", "cluster_DC0_C1", "datacenter_DC0"]
    assert groups["DC0_C1_RP0_VM0"] == ["other", "powered_on", "cluster_DC0_C1", "datacenter_DC0"]


@pytest.mark.parametrize("item, want", [
    (vm("a", "vm-1", family="bsd", power="on"), ["other", "powered_on"]),
    (vm("a", "vm-1", power="unknown", cluster="prod cl-1", datacenter="EU/West"),
     ["other", "cluster_prod_cl_1", "datacenter_EU_West"]),
    ({"name": "bare", "source": {"id": "vm-1"}}, ["other"]),
])
def test_default_groups_edge_cases(item, want):
    groups = hosts.default_groups(item)
    assert groups == want and all(VALID_GROUP.match(group) for group in groups)
