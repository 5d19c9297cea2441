# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: vsphere
short_description: The virtual machines of a vCenter Server or ESXi host as inventory hosts
version_added: 0.1.0
description:
  - Reads the whole inventory of a vCenter Server or ESXi host with the discovery of
    M(hyper2kvm.migrate.vsphere_vm_info) (one paged PropertyCollector query) and makes every
    selected virtual machine an inventory host.
  - Each host carries its VM description in C(h2k_vm), exactly as M(hyper2kvm.migrate.vsphere_vm_info)
    returns it, so the C(hyper2kvm.migrate.migrate) playbook runs on these hosts without discovering
    them again. Flat copies of what people select on are there too (C(h2k_vm_id), C(h2k_power_state),
    C(h2k_guest_family), C(h2k_datacenter), C(h2k_cluster), C(h2k_esxi_host), C(h2k_folder)).
  - Host names are the VM names, with characters other than letters, digits, C(.), C(_) and C(-)
    replaced by C(_). VMs whose names end up equal are all named C(<name>_<managed object id>),
    with a warning, so that a pattern never picks one of them by chance.
  - "Every host joins these groups: its guest family (C(linux), C(windows) or C(other)), its power state
    (C(powered_on), C(powered_off), C(suspended)), C(cluster_<cluster>) and C(datacenter_<datacenter>)
    (characters other than letters, digits and C(_) replaced by C(_)). So
    C(--limit 'linux:&cluster_prod') selects the Linux VMs of the cluster C(prod)."
  - The configuration file name must end in C(vsphere.yml) or C(vsphere.yaml).
  - Read-only; never changes anything in vSphere. The connection options are those of
    M(hyper2kvm.migrate.vsphere_vm_info), resolved the same way (same environment variables).
author:
  - hyper2kvm maintainers (@hyper2kvm)
options:
  plugin:
    description: Marks this file as a configuration of this plugin.
    type: str
    required: true
    choices: [hyper2kvm.migrate.vsphere]
  page_size:
    description:
      - Number of objects asked for per round trip of the inventory query.
    type: int
    default: 1000
  folder:
    description:
      - Only VMs in this inventory folder or below it, for example C(/DC0/vm/web) (the C(h2k_folder)
        variable of each host shows the paths).
    type: str
  cluster:
    description:
      - Only VMs running on a host of the cluster with this name.
    type: str
  power_state:
    description:
      - Only VMs in one of these power states. Quote V("on") and V("off") in YAML.
    type: list
    elements: str
    choices: ["on", "off", suspended]
  guest_family:
    description:
      - Only VMs whose configured guest OS belongs to one of these families.
    type: list
    elements: str
    choices: [linux, windows, bsd, unknown]
notes:
  - The connection options fall back to E(VMWARE_HOST), E(VMWARE_USER), E(VMWARE_PASSWORD),
    E(VMWARE_PORT) and E(VMWARE_VALIDATE_CERTS), which an AWX inventory source with a VMware vCenter
    credential sets.
  - With O(cache=true) the VM descriptions of every VM (never the password) are kept in the cache
    plugin and the filters apply to them, so changed filters take effect at once; C(--flush-cache)
    or the C(refresh_inventory) meta task read vSphere again.
seealso:
  - module: hyper2kvm.migrate.vsphere_vm_info
extends_documentation_fragment:
  - hyper2kvm.migrate.vsphere
  - hyper2kvm.migrate.name_filters
  - constructed
  - inventory_cache
"""

EXAMPLES = r"""
# inventory/prod.vsphere.yml; credentials from VMWARE_HOST, VMWARE_USER and VMWARE_PASSWORD
plugin: hyper2kvm.migrate.vsphere
ca_bundle: /etc/pki/vcenter-ca.pem
---
# inventory/web.vsphere.yml: the Linux VMs of one folder, cached for an hour, extra groups
plugin: hyper2kvm.migrate.vsphere
hostname: vcenter.example.com
username: migrate@vsphere.local
password: !vault |
  $ANSIBLE_VAULT;1.1;AES256
  ...
folder: /DC1/vm/web
guest_family: [linux]
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/hyper2kvm/inventory
cache_timeout: 3600
keyed_groups:
  - key: h2k_vm.guest.distro
    prefix: distro
groups:
  big: h2k_vm.memory_mib >= 16384
  has_snapshots: h2k_vm.source.flags.snapshot
compose:
  h2k_domain_name: "'kvm-' ~ h2k_vm.name"

# then: ansible-playbook hyper2kvm.migrate.migrate -i inventory/web.vsphere.yml --limit 'linux:&cluster_prod'
"""

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.display import Display

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import MigrationError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.vsphere import (
    connection,
    discover,
    filters,
    hosts,
)
from ansible_collections.hyper2kvm.migrate.plugins.plugin_utils import connection_options

display = Display()


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "hyper2kvm.migrate.vsphere"

    def __init__(self):
        super(InventoryModule, self).__init__()
        self._secrets = []

    def verify_file(self, path):
        return super(InventoryModule, self).verify_file(path) and path.endswith(("vsphere.yml", "vsphere.yaml"))

    def set_options(self, task_keys=None, var_options=None, direct=None):
        """Resolve the connection options with vsphere_vm_info's argument spec (aliases, VMWARE_*
        environment fallbacks, types), then let Ansible check every documented option."""
        direct, self._secrets = connection_options.resolve(connection.argument_spec(), direct, "vSphere connection options")
        super(InventoryModule, self).set_options(task_keys=task_keys, var_options=var_options, direct=direct)

    def _scrub(self, text):
        return connection_options.scrub(text, self._secrets)

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache=cache)
        self._read_config_data(path)
        criteria = self._criteria()
        # The cache holds every VM, so that changed filters apply at once to a cached inventory.
        key = self.get_cache_key(path)
        vms = None
        if cache and self.get_option("cache"):
            vms = self._cache.get(key)
        if vms is None:
            vms = self._discover()
            if self.get_option("cache"):
                self._cache[key] = vms
        selected = filters.select(vms, criteria)
        missing = criteria.unmatched_names(selected)
        if missing:
            display.warning("No VM matched these names: %s." % ", ".join(missing))
        self._populate(selected)

    def _criteria(self):
        try:
            return filters.Criteria(
                names=self.get_option("names"), name_regex=self.get_option("name_regex"),
                folder=self.get_option("folder"), cluster=self.get_option("cluster"),
                power_states=self.get_option("power_state"), guest_families=self.get_option("guest_family"))
        except MigrationError as exc:
            raise AnsibleParserError(self._scrub(str(exc)))

    def _discover(self):
        """Every VM of the vCenter (filters apply afterwards, in parse)."""
        if self.get_option("page_size") < 1:
            raise AnsibleParserError("page_size must be at least 1, got %d." % self.get_option("page_size"))
        try:
            result = discover.discover(connection.connection_params(self.get_options()),
                                       page_size=self.get_option("page_size"))
        except MigrationError as exc:
            raise AnsibleParserError(self._scrub(str(exc)))
        for warning in result["warnings"]:
            display.warning(self._scrub(warning))
        return result["vms"]

    def _populate(self, vms):
        strict = self.get_option("strict")
        named, warnings = hosts.host_names(vms)
        for warning in warnings:
            display.warning(warning)
        for host, vm in named:
            self.inventory.add_host(host)
            variables = hosts.host_vars(vm)
            for name, value in variables.items():
                self.inventory.set_variable(host, name, value)
            for group in hosts.default_groups(vm):
                self.inventory.add_group(group)
                self.inventory.add_child(group, host)
            self._set_composite_vars(self.get_option("compose"), variables, host, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), variables, host, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, host, strict=strict)
