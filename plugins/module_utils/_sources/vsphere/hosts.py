# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vSphere VM descriptions as inventory hosts: host names, variables and default groups. Pure.

The hyper2kvm.migrate.vsphere inventory plugin is a thin shell around these functions, so that
naming rules are tested without Ansible's inventory machinery and without a vCenter.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

_UNSAFE_IN_HOST = re.compile(r"[^A-Za-z0-9_.-]")
_UNSAFE_IN_GROUP = re.compile(r"[^A-Za-z0-9_]")
# guest.family -> group; whatever is neither Linux nor Windows (BSD, unknown) goes to "other".
FAMILY_GROUPS = {"linux": "linux", "windows": "windows"}
POWER_GROUPS = {"on": "powered_on", "off": "powered_off", "suspended": "suspended"}


def safe_host_name(name):
    """A VM name usable in host patterns (--limit): characters other than letters, digits, '.', '_'
    and '-' become '_' ('web 01 (old)' -> 'web_01__old_')."""
    return _UNSAFE_IN_HOST.sub("_", name or "") or "_"


def safe_group_name(name):
    """A valid Ansible group name part: characters other than letters, digits and '_' become '_'."""
    return _UNSAFE_IN_GROUP.sub("_", name or "")


def host_names(vms):
    """[(host name, vm)] in the order given, and warnings.

    A host is named after its VM (made safe for host patterns). When several VMs end up with the
    same name (vSphere allows equal names in different folders or datacenters), none of them gets
    the bare name: each is named '<name>_<managed object id>', so that a pattern never picks one
    of them by chance.
    """
    wanted = [safe_host_name(vm["name"]) for vm in vms]
    counts = {}
    for name in wanted:
        counts[name] = counts.get(name, 0) + 1
    named, warnings = [], []
    for name, vm in zip(wanted, vms):
        if counts[name] > 1:
            unique = "%s_%s" % (name, vm["source"]["id"])
            warnings.append("VM %r (%s) shares its host name %r with another VM: it is host %r."
                            % (vm["name"], vm["source"]["id"], name, unique))
            name = unique
        named.append((name, vm))
    return named, warnings


def guest_family(vm):
    """linux, windows, bsd or unknown (the values of the guest_family filter)."""
    return (vm.get("guest") or {}).get("family") or "unknown"


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
