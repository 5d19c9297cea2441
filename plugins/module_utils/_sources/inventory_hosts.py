# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Naming rules every source's inventory plugin shares: VM names made safe for host patterns and
group names, unique host names when VMs share a name, the guest family groups. Pure."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

_UNSAFE_IN_HOST = re.compile(r"[^A-Za-z0-9_.-]")
_UNSAFE_IN_GROUP = re.compile(r"[^A-Za-z0-9_]")
# guest.family -> group; whatever is neither Linux nor Windows (BSD, unknown) goes to "other".
FAMILY_GROUPS = {"linux": "linux", "windows": "windows"}


def safe_host_name(name):
    """A VM name usable in host patterns (--limit): characters other than letters, digits, '.', '_'
    and '-' become '_' ('web 01 (old)' -> 'web_01__old_')."""
    return _UNSAFE_IN_HOST.sub("_", name or "") or "_"


def safe_group_name(name):
    """A valid Ansible group name part: characters other than letters, digits and '_' become '_'."""
    return _UNSAFE_IN_GROUP.sub("_", name or "")


def guest_family(vm):
    """linux, windows, bsd or unknown (the values of the guest_family filter)."""
    return (vm.get("guest") or {}).get("family") or "unknown"


def unique_host_names(vms, suffix, who):
    """[(host name, vm)] in the order given, and warnings.

    A host is named after its VM (made safe for host patterns). When several VMs end up with the same
    name (equal names in different folders, datacenters or resource groups), none of them gets the
    bare name, so that a pattern never picks one of them by chance: each is named
    '<name>_<suffix(vm)>'. who(vm) names the VM in the warning ("VM 'web' (vm-7)").
    """
    wanted = [safe_host_name(vm["name"]) for vm in vms]
    counts = {}
    for name in wanted:
        counts[name] = counts.get(name, 0) + 1
    named, warnings = [], []
    for name, vm in zip(wanted, vms):
        if counts[name] > 1:
            unique = "%s_%s" % (name, suffix(vm))
            warnings.append("%s shares its host name %r with another VM: it is host %r." % (who(vm), name, unique))
            name = unique
        named.append((name, vm))
    return named, warnings
