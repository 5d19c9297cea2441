# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vSphere VM descriptions as inventory hosts: host names, variables and default groups. Pure.

The hyper2kvm.migrate.vsphere inventory plugin is a thin shell around these functions, so that
naming rules are tested without Ansible's inventory machinery and without a vCenter.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.inventory_hosts import (
    FAMILY_GROUPS,
    guest_family,
    safe_group_name,
    unique_host_names,
)

POWER_GROUPS = {"on": "powered_on", "off": "powered_off", "suspended": "suspended"}


def host_names(vms):
    """[(host name, vm)] and warnings: VMs that share a name (vSphere allows equal names in
    different folders or datacenters) are each named '<name>_<managed object id>'."""
    return unique_host_names(vms, lambda vm: vm["source"]["id"],
                             lambda vm: "VM %r (%s)" % (vm["name"], vm["source"]["id"]))


def host_vars(vm):
    """h2k_vm (the VM description, what the playbooks read) and flat copies of what people filter on."""
    source = vm.get("source") or {}
    return {
        "h2k_vm": vm,
        "h2k_vm_id": source.get("id"),
        "h2k_power_state": vm.get("power_state"),
        "h2k_guest_family": guest_family(vm),
        "h2k_datacenter": source.get("datacenter"),
        "h2k_cluster": source.get("cluster"),
        "h2k_esxi_host": source.get("host"),
        "h2k_folder": source.get("folder"),
    }


def default_groups(vm):
    """The groups every host joins: guest family, power state, cluster_<name>, datacenter_<name>."""
    source = vm.get("source") or {}
    groups = [FAMILY_GROUPS.get(guest_family(vm), "other")]
    if vm.get("power_state") in POWER_GROUPS:
        groups.append(POWER_GROUPS[vm["power_state"]])
    if source.get("cluster"):
        groups.append("cluster_" + safe_group_name(source["cluster"]))
    if source.get("datacenter"):
        groups.append("datacenter_" + safe_group_name(source["datacenter"]))
    return groups
