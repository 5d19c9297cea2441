# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Selection of described Azure VMs (pure), on recorded answers."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import InvalidInputError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.azure import describe, listing


@pytest.fixture(scope="module")
def vms(vm_page):
    return [describe.describe_vm(vm) for vm in vm_page["value"]]


def chosen(vms, **criteria):
    selection = listing.Criteria(**criteria)
    return sorted(vm["name"] for vm in vms if selection.matches(vm))


@pytest.mark.parametrize("criteria, want", [
    ({}, ["arm01", "gpu01", "sql01", "web01"]),
    ({"resource_groups": ["rg-web"]}, ["arm01", "web01"]),          # RG-WEB and rg-web are one group
    ({"resource_groups": ["RG-DB", "rg-ml"]}, ["gpu01", "sql01"]),
    ({"names": ["web01", "nope"]}, ["web01"]),
    ({"name_regex": "^(sql|gpu)"}, ["gpu01", "sql01"]),
    ({"tags": ["migrate:kvm"]}, ["sql01", "web01"]),                  # tag names are case-insensitive
    ({"tags": ["migrate:KVM"]}, []),                                   # values are not
    ({"tags": ["owner"]}, ["web01"]),                                  # a bare name: any value
    ({"tags": ["migrate", "owner:web-team"]}, ["web01"]),
    ({"power_states": ["off"]}, ["arm01", "sql01"]),
    ({"power_states": ["on"], "tags": ["migrate:kvm"]}, ["web01"]),
    ({"resource_groups": ["rg-web"], "power_states": ["off"]}, ["arm01"]),
])
def test_criteria(vms, criteria, want):
    assert chosen(vms, **criteria) == want


def test_resource_groups_are_listed_once_each():
    assert listing.Criteria(resource_groups=["rg-web", "RG-WEB", "rg-db"]).resource_groups == ["rg-db", "rg-web"]
    assert listing.Criteria().resource_groups is None


def test_unmatched_names(vms):
    selection = listing.Criteria(names=["web01", "ghost", "db9"])
    assert selection.unmatched_names([vm for vm in vms if selection.matches(vm)]) == ["db9", "ghost"]


@pytest.mark.parametrize("tags, want", [
    (["env:prod"], [("env", "prod")]), (["Env"], [("env", None)]), (["url:https://x:1"], [("url", "https://x:1")]),
    (["empty:"], [("empty", "")]), (None, []),
])
def test_parse_tags(tags, want):
    assert listing.parse_tags(tags) == want


@pytest.mark.parametrize("criteria", [{"tags": [":prod"]}, {"name_regex": "("}])
def test_bad_criteria_are_clear_errors(criteria):
    with pytest.raises(InvalidInputError):
        listing.Criteria(**criteria)
