# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which Azure VMs there are, and which of them the user asked for.

The VMs come from one paged list with $expand=instanceView (power state and Hyper-V generation in the
same answer, never a call per VM): the subscription-wide list, or one list per resource group when
the user named resource groups. Network interfaces, which hold the MAC addresses, come from one
paged list for the whole subscription. Criteria select among the described VMs (pure).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import InvalidInputError

try:
    from azure.core.exceptions import HttpResponseError
except ImportError:
    HttpResponseError = None

NETWORK_API_VERSION = "2024-05-01"
POWER_STATE_CHOICES = ("on", "off")


def arm_json(model):
    """A model of azure-mgmt-compute as the JSON Resource Manager sent (camelCase keys): as_dict() of
    the current models, serialize() of the msrest-based ones of older releases."""
    if hasattr(model, "serialize"):
        return model.serialize(keep_readonly=True)
    return model.as_dict()


def list_vms(session, resource_groups=None):
    """(ARM JSON of every VM, number of list requests) for the subscription or the resource groups."""
    compute = session.compute
    if resource_groups:
        pagers = [compute.virtual_machines.list(group, expand="instanceView") for group in resource_groups]
    else:
        pagers = [compute.virtual_machines.list_all(expand="instanceView")]
    vms, requests = [], 0
    for pager in pagers:
        for page in pager.by_page():
            requests += 1
            vms.extend(arm_json(model) for model in page)
    return vms, requests


def list_nics(session):
    """({lower-cased NIC id: NIC JSON}, number of requests, warning or None) for the subscription.

    A principal that may read VMs but not network interfaces gets a warning, not a failure.
    """
    url = "/subscriptions/%s/providers/Microsoft.Network/networkInterfaces?api-version=%s" % (
        session.conf["subscription_id"], NETWORK_API_VERSION)
    nics, requests = {}, 0
    while url:
        response = session.get(url)
        requests += 1
        try:
            response.raise_for_status()
        except HttpResponseError:
            if response.status_code == 403:
                return {}, requests, ("The service principal may not read network interfaces "
                                      "(Microsoft.Network/networkInterfaces/read): MAC and IP addresses are unknown.")
            raise
        page = response.json()
        for nic in page.get("value") or []:
            nics[(nic.get("id") or "").lower()] = nic
        url = page.get("nextLink")
    return nics, requests, None


def parse_tags(tags):
    """[(lower-cased name, value or None)] from ["env:prod", "backup"] (a bare name: any value)."""
    parsed = []
    for tag in tags or []:
        name, sep, value = tag.partition(":")
        if not name.strip():
            raise InvalidInputError("Tag filter %r has no tag name." % tag, fix="Write tags as NAME or NAME:VALUE.")
        parsed.append((name.strip().lower(), value if sep else None))
    return parsed


class Criteria(object):
    """What to select; criteria left unset match everything, the ones set must all match."""

    def __init__(self, resource_groups=None, names=None, name_regex=None, tags=None, power_states=None):
        # Resource group names are case-insensitive in Azure; listing asks for each group once.
        groups = {}
        for group in resource_groups or []:
            groups.setdefault(group.lower(), group)
        self.resource_groups = [groups[key] for key in sorted(groups)] or None
        self.names = set(names) if names else None
        try:
            self.name_regex = re.compile(name_regex) if name_regex else None
        except re.error as exc:
            raise InvalidInputError("name_regex %r is not a valid regular expression: %s." % (name_regex, exc))
        self.tags = parse_tags(tags)
        self.power_states = set(power_states) if power_states else None

    def _tags_match(self, tags):
        present = dict((name.lower(), value) for name, value in (tags or {}).items())
        return all(name in present and (value is None or present[name] == value) for name, value in self.tags)

    def matches(self, vm):
        source = vm.get("source") or {}
        groups = self.resource_groups
        return all((
            groups is None or (source.get("resource_group") or "").lower() in [g.lower() for g in groups],
            self.names is None or vm["name"] in self.names,
            self.name_regex is None or self.name_regex.search(vm["name"]) is not None,
            self._tags_match(source.get("tags")),
            self.power_states is None or vm.get("power_state") in self.power_states,
        ))

    def unmatched_names(self, vms):
        """Names asked for by name that no selected VM has, sorted."""
        if not self.names:
            return []
        return sorted(self.names - set(vm["name"] for vm in vms))
