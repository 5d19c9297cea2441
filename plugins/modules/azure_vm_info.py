#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: azure_vm_info
short_description: Discover the virtual machines of an Azure subscription
version_added: 0.1.0
description:
  - Lists the virtual machines of an Azure subscription (or of some of its resource groups) through
    Azure Resource Manager and returns one neutral VM description (C(hyper2kvm.migrate/vm) v1) per VM,
    ready for the later stages of a migration (export, convert, repair, define).
  - The power state and Hyper-V generation come in the same paged listing (C($expand=instanceView)),
    never from a request per VM. MAC and private IP addresses come from one paged listing of the
    subscription's network interfaces.
  - Each description names the VM's ARM id, resource group, location and size, its firmware (UEFI
    and secure boot for Trusted Launch and generation 2 VMs), vCPUs and memory (from a built-in table of
    common sizes), the guest OS as the image and the VM agent report it, the OS and data disks with
    their managed disk ids, and the NICs.
  - Filters are applied after the listing, except O(resource_groups), which narrows the listing itself.
  - Read-only; never changes anything in Azure.
author:
  - hyper2kvm maintainers (@hyper2kvm)
options:
  resource_groups:
    description:
      - Only VMs in these resource groups (names are case-insensitive). The module then lists each group
        instead of the whole subscription.
      - A resource group that does not exist fails the task.
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
        C(source.power_state) in RV(vms) tells them apart.
    type: list
    elements: str
    choices: ["on", "off"]
  nic_details:
    description:
      - Read the subscription's network interfaces (one paged listing) to report each NIC's MAC address,
        private IP addresses and subnet.
      - Without read access to network interfaces a warning says so and the MACs are left empty.
      - V(false) skips that listing; the NICs are then reported by id only.
    type: bool
    default: true
notes:
  - Supports check mode; the module never changes anything.
  - The vCPUs and memory come from the VM size. A size missing from the built-in table keeps placeholder
    values and gets a note in its C(notes) saying so.
  - The guest OS comes from the image reference and, while the VM runs, from what the Azure VM agent
    reports; inspecting the disks (M(hyper2kvm.migrate.guest_info)) later says what is really installed.
seealso:
  - module: hyper2kvm.migrate.vsphere_vm_info
  - module: hyper2kvm.migrate.guest_info
extends_documentation_fragment:
  - hyper2kvm.migrate.azure
  - hyper2kvm.migrate.name_filters
  - hyper2kvm.migrate.attributes
  - hyper2kvm.migrate.attributes.info_module
"""

EXAMPLES = r"""
- name: Discover every VM of the subscription (credentials from AZURE_* variables, e.g. in AWX)
  hyper2kvm.migrate.azure_vm_info:
  register: azure

- name: Discover the deallocated VMs tagged for migration in two resource groups
  hyper2kvm.migrate.azure_vm_info:
    subscription_id: "{{ azure_subscription_id }}"
    tenant: "{{ azure_tenant }}"
    client_id: "{{ azure_client_id }}"
    secret: "{{ vault_azure_secret }}"
    resource_groups: [rg-web, rg-db]
    tags: ["migrate:kvm"]
    power_state: ["off"]
  register: batch

- name: Discover the VMs of an Azure Stack Hub
  hyper2kvm.migrate.azure_vm_info:
    authority_host: https://adfs.local.azurestack.external
    tenant: adfs
    resource_manager_endpoint: https://management.local.azurestack.external
    audience: https://management.adfs.azurestack.local/1a2b3c4d-0000-0000-0000-000000000000
    ca_bundle: /etc/pki/azurestack-root.pem

- name: List the VMs that use Trusted Launch
  ansible.builtin.debug:
    msg: "{{ azure.vms | selectattr('source.security_type', 'equalto', 'TrustedLaunch') | map(attribute='name') | list }}"
"""

RETURN = r"""
vms:
  description:
    - One VM description per selected VM, sorted by name.
    - C(source) holds the Azure identity (C(id) is the ARM id, C(subscription), C(resource_group),
      C(location), C(vm_id)), the C(size), C(zones), C(tags), Azure's own C(power_state) word
      (C(running), C(stopped), C(deallocated), ...), the C(security_type), the C(hyperv_generation)
      and the C(image) reference.
    - Each disk's C(id) is the managed disk's name; the OS disk is unit 0 and data disk LUN n is unit
      n+1. Its C(source) holds C(kind) (C(os) or C(data)), C(managed_disk_id), C(storage_account_type),
      C(lun), C(caching), C(write_accelerator) and, for unmanaged disks, C(vhd_uri).
    - Each NIC's C(source) holds its ARM C(id), C(name), C(primary) and C(accelerated_networking);
      C(network) is C(virtual network/subnet).
  returned: success
  type: list
  elements: dict
  sample:
    - hyper2kvm.migrate/vm: v1
      name: web01
      source:
        type: azure
        id: /subscriptions/2b5e.../resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/web01
        subscription: 2b5e7c1a-58f4-4d0e-9b53-3c4a8f1e2d90
        resource_group: rg-web
        location: westeurope
        vm_id: 8f3d1c2b-4a5e-4f60-9b7c-1d2e3f4a5b6c
        size: Standard_D4s_v5
        zones: ["1"]
        tags: {migrate: kvm}
        power_state: deallocated
        security_type: TrustedLaunch
        hyperv_generation: V2
        image: {publisher: Debian, offer: debian-12, sku: 12-gen2, version: latest}
      power_state: "off"
      firmware: uefi
      secure_boot: true
      cpus: 4
      cores_per_socket: 4
      memory_mib: 16384
      guest: {family: linux, distro: debian, version: "12", arch: x86_64, hostname: web01}
      disks:
        - id: web01_OsDisk_1_3c9a...
          capacity_bytes: 32212254720
          controller: scsi
          unit: 0
          boot: true
          source: {kind: os, name: web01_OsDisk_1_3c9a..., managed_disk_id: /subscriptions/.../disks/web01_OsDisk_1_3c9a...,
                   storage_account_type: Premium_LRS, lun: null, caching: ReadWrite, write_accelerator: false,
                   vhd_uri: null}
          path: null
          format: null
      nics:
        - mac: "00:0d:3a:2b:4c:5d"
          network: rg-web-vnet/default
          model: netvsc
          name_in_guest: null
          ip: [10.0.0.4]
          source: {id: /subscriptions/.../networkInterfaces/web01-nic, name: web01-nic, primary: true,
                   accelerated_networking: true}
      notes:
        - {stage: discover, severity: info, message: "The VM has a virtual TPM; its contents are not migrated.",
           fix: "Re-seal anything bound to the TPM (BitLocker, LUKS with TPM) after migration."}
count:
  description: Number of VMs in RV(vms).
  returned: success
  type: int
  sample: 1
round_trips:
  description: List requests made to Resource Manager (one per page of VMs and of network interfaces).
  returned: success
  type: int
  sample: 2
seconds:
  description: Wall-clock time of the discovery (sign-in and listings), in seconds.
  returned: success
  type: float
  sample: 1.27
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.hyper2kvm.migrate.plugins.module_utils import _info_module
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.azure import (
    connection,
    discover,
    listing,
)


def main():
    argument_spec = connection.argument_spec()
    argument_spec.update(
        resource_groups=dict(type="list", elements="str", aliases=["resource_group"]),
        names=dict(type="list", elements="str"),
        name_regex=dict(type="str"),
        tags=dict(type="list", elements="str"),
        power_state=dict(type="list", elements="str", choices=list(listing.POWER_STATE_CHOICES)),
        nic_details=dict(type="bool", default=True),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if connection.ComputeManagementClient is None:
        module.fail_json(msg=missing_required_lib(connection.AZURE_LIBS))
    params = module.params
    _info_module.exit_with(module, lambda: discover.discover(
        connection.settings(connection.connection_params(params)), nic_details=params["nic_details"],
        criteria=listing.Criteria(resource_groups=params["resource_groups"], names=params["names"],
                                  name_regex=params["name_regex"], tags=params["tags"],
                                  power_states=params["power_state"])))


if __name__ == "__main__":
    main()
