# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which discovered VMs a user asked for. Pure functions over VM descriptions.

Every criterion left unset matches everything; the criteria that are set must all match.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import InvalidInputError

POWER_STATE_CHOICES = ("on", "off", "suspended")
GUEST_FAMILY_CHOICES = ("linux", "windows", "bsd", "unknown")  # unknown: the source does not say


def normalize_folder(path):
    """'/DC0/vm/web' from 'DC0/vm/web/' (inventory paths start at the top, below the root folder)."""
    return "/" + "/".join(part for part in (path or "").split("/") if part)


class Criteria(object):
    def __init__(self, names=None, name_regex=None, folder=None, cluster=None, power_states=None,
                 guest_families=None):
        self.names = set(names) if names else None
        try:
            self.name_regex = re.compile(name_regex) if name_regex else None
        except re.error as exc:
            raise InvalidInputError("name_regex %r is not a valid regular expression: %s." % (name_regex, exc))
        self.folder = normalize_folder(folder) if folder else None
        self.cluster = cluster or None
        self.power_states = set(power_states) if power_states else None
        self.guest_families = set(guest_families) if guest_families else None

    def matches(self, vm):
        source = vm.get("source") or {}
        family = (vm.get("guest") or {}).get("family") or "unknown"
        checks = (
            self.names is None or vm["name"] in self.names,
            self.name_regex is None or self.name_regex.search(vm["name"]) is not None,
            self.folder is None or _below(source.get("folder"), self.folder),
            self.cluster is None or source.get("cluster") == self.cluster,
            self.power_states is None or vm.get("power_state") in self.power_states,
            self.guest_families is None or family in self.guest_families,
        )
        return all(checks)

    def unmatched_names(self, vms):
        """Names asked for by name that no selected VM has, sorted."""
        if not self.names:
            return []
        return sorted(self.names - set(vm["name"] for vm in vms))


def _below(folder, wanted):
    return folder is not None and (folder == wanted or folder.startswith(wanted.rstrip("/") + "/"))


def select(vms, criteria):
    return [vm for vm in vms if criteria.matches(vm)]
