# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: azure
short_description: The virtual machines of an Azure subscription as inventory hosts
version_added: 0.1.0
description:
  - Lists the virtual machines of an Azure subscription (or of some of its resource groups) with the
    discovery of M(hyper2kvm.migrate.azure_vm_info) and makes every selected virtual machine an
    inventory host. The power state comes in the same paged listing (C($expand=instanceView)), never
    from a request per VM; MAC and private addresses come from one paged listing of network interfaces.
  - Each host carries its VM description in C(h2k_vm), exactly as M(hyper2kvm.migrate.azure_vm_info)
    returns it (OS and data disks, NICs, firmware, size), so the C(hyper2kvm.migrate.migrate) playbook
    runs on these hosts without discovering them again. Flat copies of what people select on are
    there too (C(h2k_vm_id), C(h2k_power_state), C(h2k_guest_family), C(h2k_subscription),
    C(h2k_resource_group), C(h2k_location), C(h2k_size), C(h2k_tags)).
  - Host names are the VM names, with characters other than letters, digits, C(.), C(_) and C(-)
    replaced by C(_). Azure allows equal VM names in different resource groups; such VMs are all
    named C(<name>_<resource group>), with a warning, so that a pattern never picks one of them by chance.
  - "Every host joins these groups: its guest family (C(linux), C(windows) or C(other)), its power state
    (C(powered_on), C(powered_off)), C(resource_group_<group>) and C(location_<location>) (lower case,
    characters other than letters, digits and C(_) replaced by C(_); Azure itself spells resource group
    names in varying case). So C(--limit 'linux:&resource_group_rg_web') selects the Linux VMs of the
    resource group C(rg-web)."
  - The configuration file name must end in C(azure.yml) or C(azure.yaml).
  - Read-only; never changes anything in Azure. The connection options are those of
    M(hyper2kvm.migrate.azure_vm_info), resolved the same way (same environment variables).
author:
  - hyper2kvm maintainers (@hyper2kvm)
options:
  plugin:
    description: Marks this file as a configuration of this plugin.
    type: str
    required: true
    choices: [hyper2kvm.migrate.azure]
  resource_groups:
    description:
      - Only VMs in these resource groups (names are case-insensitive). The plugin then lists each group
        instead of the whole subscription.
      - A resource group that does not exist fails the inventory source.
    type: list
    elements: str
    aliases: [resource_group]
  tags:
    description:
      - Only VMs that carry every one of these tags, each written V(NAME) (any value) or V(NAME:VALUE).
      - Tag names are compared case-insensitively, values exactly, as Azure does.
    type: list
    elements: str
  power_state:
    description:
      - Only VMs in one of these power states. Stopped and deallocated VMs are both V(off);
        C(h2k_vm.source.power_state) tells them apart. Quote V("on") and V("off") in YAML.
    type: list
    elements: str
    choices: ["on", "off"]
  nic_details:
    description:
      - Read the subscription's network interfaces (one paged listing) for each NIC's MAC address,
        private IP addresses and subnet.
      - Without read access to network interfaces a warning says so and the MACs are left empty.
    type: bool
    default: true
notes:
  - The connection options fall back to E(AZURE_SUBSCRIPTION_ID), E(AZURE_TENANT), E(AZURE_CLIENT_ID) and
    E(AZURE_SECRET) (or E(AZURE_CLIENT_SECRET)), which an AWX inventory source with a Microsoft Azure
    Resource Manager credential sets.
  - The Python libraries must be installed where the inventory is read (the controller, or the
    execution environment of an AWX inventory source).
  - With O(cache=true) the VM descriptions (never the secret) are kept in the cache plugin and the
    name, tag and power state filters apply to them, so changing those takes effect at once. A changed
    O(subscription_id), O(resource_groups), O(nic_details), O(cloud_environment) or
    O(resource_manager_endpoint) makes the plugin list Azure again; so do C(--flush-cache) and the
    C(refresh_inventory) meta task.
seealso:
  - module: hyper2kvm.migrate.azure_vm_info
  - module: hyper2kvm.migrate.azure_disk_export
extends_documentation_fragment:
  - hyper2kvm.migrate.azure
  - hyper2kvm.migrate.name_filters
  - constructed
  - inventory_cache
"""

EXAMPLES = r"""
# inventory/prod.azure.yml; credentials from AZURE_SUBSCRIPTION_ID, AZURE_TENANT, AZURE_CLIENT_ID and
# AZURE_SECRET (an AWX inventory source with an Azure Resource Manager credential sets them)
plugin: hyper2kvm.migrate.azure
---
# inventory/web.azure.yml: the Linux VMs tagged for migration in two resource groups, cached for an hour
plugin: hyper2kvm.migrate.azure
subscription_id: 2b5e7c1a-58f4-4d0e-9b53-3c4a8f1e2d90
tenant: contoso.onmicrosoft.com
client_id: 0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0
secret: !vault |
  $ANSIBLE_VAULT;1.1;AES256
  ...
resource_groups: [rg-web, rg-db]
tags: ["migrate:kvm"]
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/hyper2kvm/inventory
cache_timeout: 3600
keyed_groups:
  # tag_<name>_<value>, for example tag_tier_web
  - key: h2k_tags
    prefix: tag
  # azure_running, azure_stopped, azure_deallocated (Azure's own word for the power state)
  - key: h2k_vm.source.power_state
    prefix: azure
groups:
  big: h2k_vm.memory_mib >= 16384
  trusted_launch: h2k_vm.source.security_type == 'TrustedLaunch'
compose:
  h2k_domain_name: "'kvm-' ~ h2k_vm.name"
---
# inventory/stack.azure.yml: an Azure Stack Hub
plugin: hyper2kvm.migrate.azure
authority_host: https://adfs.local.azurestack.external
tenant: adfs
resource_manager_endpoint: https://management.local.azurestack.external
audience: https://management.adfs.azurestack.local/1a2b3c4d-0000-0000-0000-000000000000
ca_bundle: /etc/pki/azurestack-root.pem

# then: ansible-playbook hyper2kvm.migrate.migrate -i inventory/web.azure.yml --limit 'linux:&azure_deallocated'
"""

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.display import Display

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import MigrationError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.azure import (
    connection,
    discover,
    listing,
)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.inventory_hosts import (
    FAMILY_GROUPS,
    guest_family,
    safe_group_name,
    safe_host_name,
    unique_host_names,
)
from ansible_collections.hyper2kvm.migrate.plugins.plugin_utils import connection_options

display = Display()

# Azure knows only on and off (stopped and deallocated are both off); "unknown" joins no group.
POWER_GROUPS = {"on": "powered_on", "off": "powered_off"}


def host_names(vms):
    """[(host name, vm)] and warnings: VM names are unique only within a resource group, so VMs that
    share a host name are each named '<name>_<resource group>'."""
    def group(vm):
        return vm["source"].get("resource_group") or ""

    return unique_host_names(vms, lambda vm: safe_host_name(group(vm)),
                             lambda vm: "VM %r of resource group %r" % (vm["name"], group(vm)))


def host_vars(vm):
    """h2k_vm (what the playbooks read) and flat copies of what people filter and group on."""
    source = vm.get("source") or {}
    return {
        "h2k_vm": vm,
        "h2k_vm_id": source.get("id"),
        "h2k_power_state": vm.get("power_state"),
        "h2k_guest_family": guest_family(vm),
        "h2k_subscription": source.get("subscription"),
        "h2k_resource_group": source.get("resource_group"),
        "h2k_location": source.get("location"),
        "h2k_size": source.get("size"),
        "h2k_tags": source.get("tags") or {},
    }


def default_groups(vm):
    """Guest family, power state, resource_group_<name> and location_<name>."""
    source = vm.get("source") or {}
    groups = [FAMILY_GROUPS.get(guest_family(vm), "other")]
    if vm.get("power_state") in POWER_GROUPS:
        groups.append(POWER_GROUPS[vm["power_state"]])
    # Lower case: Azure returns the same resource group as rg-web in one id and RG-WEB in another.
    if source.get("resource_group"):
        groups.append("resource_group_" + safe_group_name(source["resource_group"].lower()))
    if source.get("location"):
        groups.append("location_" + safe_group_name(source["location"].lower()))
    return groups


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "hyper2kvm.migrate.azure"

    def __init__(self):
        super(InventoryModule, self).__init__()
        self._secrets = []

    def verify_file(self, path):
        return super(InventoryModule, self).verify_file(path) and path.endswith(("azure.yml", "azure.yaml"))

    def set_options(self, task_keys=None, var_options=None, direct=None):
        """Resolve the connection options with azure_vm_info's argument spec (aliases, AZURE_*
        environment fallbacks, types), then let Ansible check every documented option."""
        direct, self._secrets = connection_options.resolve(connection.argument_spec(), direct, "Azure connection options")
        super(InventoryModule, self).set_options(task_keys=task_keys, var_options=var_options, direct=direct)

    def _scrub(self, text):
        return connection_options.scrub(text, self._secrets)

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache=cache)
        self._read_config_data(path)
        criteria = self._criteria()
        # The cache holds every VM of the listing, so that changed name, tag and power filters apply at
        # once to a cached inventory. What changes the listing itself is stored beside the VMs: a
        # cache made for another subscription or other resource groups is not used.
        key = self.get_cache_key(path)
        scope = self._listing_scope(criteria)
        vms = None
        if cache and self.get_option("cache"):
            cached = self._cache.get(key)
            if isinstance(cached, dict) and cached.get("scope") == scope:
                vms = cached.get("vms")
        if vms is None:
            vms = self._discover(criteria)
            if self.get_option("cache"):
                self._cache[key] = {"scope": scope, "vms": vms}
        selected = [vm for vm in vms if criteria.matches(vm)]
        missing = criteria.unmatched_names(selected)
        if missing:
            display.warning("No VM matched these names: %s." % ", ".join(missing))
        self._populate(selected)

    def _criteria(self):
        try:
            return listing.Criteria(
                resource_groups=self.get_option("resource_groups"), names=self.get_option("names"),
                name_regex=self.get_option("name_regex"), tags=self.get_option("tags"),
                power_states=self.get_option("power_state"))
        except MigrationError as exc:
            raise AnsibleParserError(self._scrub(str(exc)))

    def _listing_scope(self, criteria):
        """The options that decide what the listing returns (plain values, never the secret)."""
        endpoint = self.get_option("resource_manager_endpoint")
        return {
            "subscription_id": self.get_option("subscription_id"),
            "cloud_environment": self.get_option("cloud_environment"),
            "resource_manager_endpoint": endpoint.rstrip("/") if endpoint else None,
            "resource_groups": [group.lower() for group in criteria.resource_groups or []],
            "nic_details": self.get_option("nic_details"),
        }

    def _discover(self, criteria):
        """Every VM of the subscription or of the chosen resource groups (other filters apply in parse)."""
        listed = listing.Criteria(resource_groups=criteria.resource_groups)
        try:
            conf = connection.settings(connection.connection_params(self.get_options()))
            result = discover.discover(conf, criteria=listed, nic_details=self.get_option("nic_details"))
        except MigrationError as exc:
            # from None: the SDK errors underneath are already summed up in the message, and their
            # text is not ours to vouch for (it is not scrubbed).
            raise AnsibleParserError(self._scrub(str(exc))) from None
        for warning in result["warnings"]:
            display.warning(self._scrub(warning))
        return result["vms"]

    def _populate(self, vms):
        strict = self.get_option("strict")
        named, warnings = host_names(vms)
        for warning in warnings:
            display.warning(warning)
        for host, vm in named:
            self.inventory.add_host(host)
            variables = host_vars(vm)
            for name, value in variables.items():
                self.inventory.set_variable(host, name, value)
            for group in default_groups(vm):
                self.inventory.add_group(group)
                self.inventory.add_child(group, host)
            self._set_composite_vars(self.get_option("compose"), variables, host, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), variables, host, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, host, strict=strict)
