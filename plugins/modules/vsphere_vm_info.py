#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: vsphere_vm_info
short_description: Discover the virtual machines of a vCenter Server or ESXi host
version_added: 0.1.0
description:
  - Reads the whole inventory of a vCenter Server or ESXi host in one paged PropertyCollector query
    (one container view, only the properties needed, page after page) and returns one neutral VM
    description (C(hyper2kvm.migrate/vm) v1) per virtual machine, ready for the later stages of a
    migration (export, convert, repair, define).
  - Each description names the VM's datacenter, inventory folder, host and cluster, its firmware,
    CPUs, memory and guest OS as vSphere records it, every disk with its datastore file, backing,
    disk mode, sharing and snapshot chain, and every NIC with its MAC address, network and model.
  - C(source.flags) of each VM in RV(vms) carries what a preflight check needs to know (snapshots,
    changed block tracking, encryption, templates, PCI passthrough and USB devices).
  - Filters are applied after the query; they never cause more requests.
  - Read-only; never changes anything in vSphere.
author:
  - hyper2kvm maintainers (@hyper2kvm)
options:
  page_size:
    description:
      - Number of objects asked for per round trip (the C(maxObjects) of the query). The server may
        return fewer.
      - Larger pages mean fewer round trips and more memory per answer. Each next page is asked for
        (on a second connection of the session) while the current one is read, so the server prepares
        it meanwhile.
    type: int
    default: 1000
  folder:
    description:
      - Only VMs in this inventory folder or below it, written as a path from the top of the
        inventory, for example C(/DC0/vm/web) (C(source.folder) of each VM in RV(vms) shows the paths).
    type: str
  cluster:
    description:
      - Only VMs running on a host of the cluster with this name.
    type: str
  power_state:
    description:
      - Only VMs in one of these power states.
    type: list
    elements: str
    choices: ["on", "off", suspended]
  guest_family:
    description:
      - Only VMs whose configured guest OS belongs to one of these families. V(unknown) selects VMs
        whose guest OS setting says nothing usable (for example C(otherGuest)).
    type: list
    elements: str
    choices: [linux, windows, bsd, unknown]
notes:
  - Supports check mode; the module never changes anything.
  - VMs deleted while the inventory is being read are left out with a warning.
  - The guest OS comes from the VM's configuration (C(guestId)); inspecting the disks
    (M(hyper2kvm.migrate.guest_info)) later says what is really installed.
seealso:
  - module: hyper2kvm.migrate.ova_info
  - module: hyper2kvm.migrate.guest_info
extends_documentation_fragment:
  - hyper2kvm.migrate.vsphere
  - hyper2kvm.migrate.name_filters
  - hyper2kvm.migrate.attributes
  - hyper2kvm.migrate.attributes.info_module
"""

EXAMPLES = r"""
- name: Discover every VM of a vCenter (credentials from VMWARE_HOST/USER/PASSWORD, e.g. in AWX)
  hyper2kvm.migrate.vsphere_vm_info:
  register: inventory

- name: Discover the powered-off Linux VMs of one folder, trusting the vCenter's own CA
  hyper2kvm.migrate.vsphere_vm_info:
    hostname: vcenter.example.com
    username: migrate@vsphere.local
    password: "{{ vault_vcenter_password }}"
    ca_bundle: /etc/pki/vcenter-ca.pem
    folder: /DC1/vm/web
    power_state: ["off"]
    guest_family: [linux]
  register: web

- name: List the VMs that still have snapshots
  ansible.builtin.debug:
    msg: "{{ inventory.vms | selectattr('source.flags.snapshot') | map(attribute='name') | list }}"
"""

RETURN = r"""
vms:
  description:
    - One VM description per selected VM, sorted by name.
    - C(source) holds the vSphere identity and placement (C(id) is the managed object id, C(server),
      C(instance_uuid), C(bios_uuid), C(datacenter), C(folder), C(host), C(cluster), C(vmx_path),
      C(hardware_version)) and C(flags).
    - Each disk's C(id) is its controller slot (C(scsi0:1)); its C(source) says where the data is
      (C(datastore), C(path), C(file), C(chain) from the current snapshot delta to the base disk) and
      how it is attached (C(backing), C(disk_mode), C(independent), C(sharing), C(thin),
      C(compatibility_mode) for RDMs, C(controller_model), C(encrypted)).
    - Each NIC's C(ip) lists the addresses VMware Tools reported, if any.
  returned: success
  type: list
  elements: dict
  sample:
    - hyper2kvm.migrate/vm: v1
      name: web01
      source:
        type: vsphere
        id: vm-42
        server: vcenter.example.com
        instance_uuid: 5003a1b2-0c1d-4e5f-8a9b-0c1d2e3f4a5b
        bios_uuid: 4203a1b2-0c1d-4e5f-8a9b-0c1d2e3f4a5b
        datacenter: DC1
        folder: /DC1/vm/web
        host: esx01.example.com
        cluster: prod
        vmx_path: "[ds1] web01/web01.vmx"
        hardware_version: vmx-19
        flags: {snapshot: false, snapshot_count: 0, current_snapshot: null, cbt: false, encrypted: false,
                template: false, passthrough: [], usb: [], connection_state: connected}
      power_state: "on"
      firmware: uefi
      secure_boot: true
      cpus: 4
      cores_per_socket: 2
      memory_mib: 8192
      guest: {family: linux, distro: debian, version: "12", arch: x86_64, hostname: web01}
      disks:
        - id: "scsi0:0"
          capacity_bytes: 17179869184
          controller: scsi
          unit: 0
          boot: true
          source: {key: 2000, label: Hard disk 1, datastore: ds1, file: "[ds1] web01/web01.vmdk",
                   path: web01/web01.vmdk, backing: flat, disk_mode: persistent, independent: false,
                   sharing: sharingNone, thin: true, eager_zeroed: false, compatibility_mode: null,
                   lun_uuid: null, uuid: 6000C29a-1234-5678-9abc-def012345678, encrypted: false,
                   chain: ["[ds1] web01/web01.vmdk"], controller_model: pvscsi, controller_bus: 0}
          path: null
          format: null
      nics:
        - mac: "00:50:56:9a:12:34"
          network: VM Network
          model: vmxnet3
          name_in_guest: null
          ip: [192.0.2.10]
          source: {key: 4000, label: Network adapter 1, address_type: manual, portgroup_key: null,
                   switch_uuid: null, start_connected: true, connected: true}
      notes: []
count:
  description: Number of VMs in RV(vms).
  returned: success
  type: int
  sample: 1
round_trips:
  description: PropertyCollector requests the query needed (one per page).
  returned: success
  type: int
  sample: 3
seconds:
  description: Wall-clock time of the discovery (log in, query, log out), in seconds.
  returned: success
  type: float
  sample: 1.84
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.hyper2kvm.migrate.plugins.module_utils import _info_module
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.vsphere import (
    connection,
    discover,
    filters,
)


def main():
    argument_spec = connection.argument_spec()
    argument_spec.update(
        page_size=dict(type="int", default=1000),
        names=dict(type="list", elements="str"),
        name_regex=dict(type="str"),
        folder=dict(type="str"),
        cluster=dict(type="str"),
        power_state=dict(type="list", elements="str", choices=list(filters.POWER_STATE_CHOICES)),
        guest_family=dict(type="list", elements="str", choices=list(filters.GUEST_FAMILY_CHOICES)),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if connection.pyvim_connect is None:
        module.fail_json(msg=missing_required_lib(connection.PYVMOMI_LIB))
    params = module.params
    if params["page_size"] < 1:
        module.fail_json(msg="page_size must be at least 1, got %d." % params["page_size"])
    _info_module.exit_with(module, lambda: discover.discover(
        connection.connection_params(params), page_size=params["page_size"],
        criteria=filters.Criteria(names=params["names"], name_regex=params["name_regex"], folder=params["folder"],
                                  cluster=params["cluster"], power_states=params["power_state"],
                                  guest_families=params["guest_family"])))


if __name__ == "__main__":
    main()
