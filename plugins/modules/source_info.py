#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: source_info
short_description: Describe a VMware .vmx with its disks, or loose disk images, as a VM
version_added: 0.1.0
description:
  - Turns a local source that is not an OVA/OVF into one neutral VM description
    (C(hyper2kvm.migrate/vm) v1), the same shape M(hyper2kvm.migrate.ova_info) returns, ready for the
    later stages of a migration (convert, repair, define).
  - With O(type=vmx), reads a VMware C(.vmx) file (Workstation, Fusion, ESXi) and the VMDKs it names,
    and reports the name, CPUs and cores per socket, memory, BIOS or UEFI and secure boot, guest OS,
    disks on IDE, SATA, SCSI (pvscsi, lsilogic, lsisas1068, buslogic) and NVMe controllers, and network
    adapters with their MAC addresses and networks. CD/DVD drives are skipped.
  - With O(type=disk), describes loose disk images (raw, qcow2, VMDK of any subformat, VHD, VHDX)
    as one VM, with the hardware given by the options.
  - Every disk's format is detected from its own header, never probed, and every file it refers to
    (VMDK extents, snapshot parents, backing files) must sit in the disk's directory. Its size comes
    from C(qemu-img info) on an explicit block spec, as in M(hyper2kvm.migrate.disk_info).
  - Read-only; never modifies the source.
author:
  - hyper2kvm maintainers (@hyper2kvm)
options:
  type:
    description:
      - The kind of source.
      - V(vmx) reads O(path); V(disk) reads O(disks).
    type: str
    required: true
    choices: [vmx, disk]
  path:
    description:
      - The C(.vmx) file, with type V(vmx). Its disks must be in the same directory (or below it).
    type: path
  disks:
    description:
      - The disk images, with type V(disk). The first one is the boot disk.
      - A distinctive extension (.qcow2, .vmdk, .vhd, .vhdx, .raw) must agree with the header.
    type: list
    elements: path
  name:
    description:
      - Name of the VM, with type V(disk). Defaults to the first disk's file name without extension.
    type: str
  cpus:
    description:
      - Number of virtual CPUs, with type V(disk). Defaults to V(2).
    type: int
  memory_mib:
    description:
      - Memory in MiB, with type V(disk). Defaults to V(2048).
    type: int
  firmware:
    description:
      - Firmware the guest was installed for, with type V(disk). Defaults to V(bios).
    type: str
    choices: [bios, uefi]
  nics:
    description:
      - Network adapters, with type V(disk). Defaults to one adapter without a fixed MAC address.
      - An empty list describes a VM without network adapters.
    type: list
    elements: dict
    suboptions:
      mac:
        description:
          - MAC address to keep, so that the guest finds its network configuration again.
        type: str
      network:
        description:
          - Name of the source network, for the network map of the define stage.
        type: str
notes:
  - Supports check mode; the module never changes anything.
  - Requires C(qemu-img) (Debian C(qemu-utils), RHEL C(qemu-img)) on the host that runs it.
  - The source is treated as untrusted input. A C(.vmx) larger than 1 MiB or holding binary data is
    refused. Its C(.encoding) setting is honoured when it names an ASCII-compatible character set;
    otherwise it is read as UTF-8.
  - A C(.vmx) may only name disks inside its own directory. C(..), absolute paths elsewhere (such as
    another datastore under C(/vmfs/volumes)) and symbolic links that lead out are refused; copy
    those disks next to the C(.vmx) and give their plain file names.
  - A disk that is a snapshot delta (C(name-000001.vmdk)) is described with its parent chain in
    C(source.backing_chain); M(hyper2kvm.migrate.disk_convert) flattens it into one image holding the
    current state.
  - Without C(bios.hddOrder) in the C(.vmx), the boot disk is the first one on IDE, then SATA, SCSI
    and NVMe, by controller and unit number. The boot disk is listed first.
  - Compressed files, archives, ISO images and empty files are refused as disks.
seealso:
  - module: hyper2kvm.migrate.ova_info
  - module: hyper2kvm.migrate.disk_info
  - module: hyper2kvm.migrate.disk_convert
extends_documentation_fragment:
  - hyper2kvm.migrate.attributes
  - hyper2kvm.migrate.attributes.info_module
"""

EXAMPLES = r"""
- name: Describe a VMware Workstation VM
  hyper2kvm.migrate.source_info:
    type: vmx
    path: /srv/migrate/web01/web01.vmx
  register: src

- name: Show the boot disk
  ansible.builtin.debug:
    msg: "{{ src.vms[0].disks | selectattr('boot') | first }}"

- name: Describe a Hyper-V export as a UEFI VM that keeps its MAC address
  hyper2kvm.migrate.source_info:
    type: disk
    disks:
      - /srv/migrate/hv01/os.vhdx
      - /srv/migrate/hv01/data.vhdx
    name: hv01
    cpus: 4
    memory_mib: 8192
    firmware: uefi
    nics:
      - mac: "00:15:5d:01:02:03"
        network: Production
"""

RETURN = r"""
vms:
  description:
    - One VM description, in a list so that the result has the shape of M(hyper2kvm.migrate.ova_info)'s.
    - Each disk's C(source) says where its data is (C(path), the real path of the top image; C(file),
      the name as given) and what its header says (C(format), C(subformat)), with C(populated_bytes),
      C(backing_chain) (parent images, top-down) and C(snapshot_delta). Disks from a C(.vmx) also carry
      C(controller_model), C(controller_index) and C(mode).
    - C(path) and C(format) of the disk itself stay null until the convert stage fills them in.
    - Findings that need no action (a CD/DVD drive skipped, a guessed boot disk) are in C(notes); those
      that may need some are also returned as RV(warnings).
  returned: success
  type: list
  elements: dict
  sample:
    - hyper2kvm.migrate/vm: v1
      name: web01
      source: {type: vmx, id: 421a6f0e-8f2b-4c1d-9e3a-5b7c8d9e0f1a, path: /srv/migrate/web01/web01.vmx,
               encoding: utf-8, virtual_hw_version: "19", guest_id: debian12-64}
      power_state: "off"
      firmware: bios
      secure_boot: false
      cpus: 4
      cores_per_socket: 2
      memory_mib: 8192
      guest: {family: linux, distro: debian, version: "12", arch: x86_64, hostname: null}
      disks:
        - id: "scsi0:0"
          capacity_bytes: 17179869184
          controller: scsi
          unit: 0
          boot: true
          path: null
          format: null
          source: {container: vmx, file: web01-000001.vmdk, path: /srv/migrate/web01/web01-000001.vmdk,
                   format: vmdk, subformat: monolithicSparse, populated_bytes: 2684354560,
                   backing_chain: [/srv/migrate/web01/web01.vmdk], snapshot_delta: true,
                   controller_model: pvscsi, controller_index: 0, mode: null}
      nics:
        - {mac: "00:50:56:3a:12:34", network: VM Network, model: vmxnet3, name_in_guest: null, ip: []}
      notes:
        - {stage: discover, severity: info, message: "sata0:0 is a CD/DVD drive (debian-12.iso); not migrated."}
source:
  description: What was read.
  returned: success
  type: dict
  contains:
    type:
      description: V(vmx) or V(disk).
      type: str
    path:
      description: The C(.vmx) file (type V(vmx)).
      type: str
    directory:
      description: The real directory the C(.vmx)'s disks must stay in (type V(vmx)).
      type: str
    encoding:
      description: Character set the C(.vmx) was read with (type V(vmx)).
      type: str
    files:
      description: Real paths of the top image of every disk the C(.vmx) names (type V(vmx)).
      type: list
      elements: str
    paths:
      description: Real paths of the disk images (type V(disk)).
      type: list
      elements: str
  sample: {type: vmx, path: /srv/migrate/web01/web01.vmx, directory: /srv/migrate/web01,
           encoding: utf-8, files: [/srv/migrate/web01/web01-000001.vmdk]}
commands:
  description: The C(qemu-img info) command lines that ran, one per image layer.
  returned: success
  type: list
  elements: list
warnings:
  description: Things worth knowing that did not stop the reading (odd settings, a possibly running VM).
  returned: when there are any
  type: list
  elements: str
  sample:
    - "VM web01: ethernet1.address '00:50:56' is not a MAC address; ignored."
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hyper2kvm.migrate.plugins.module_utils import _info_module
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources import local


def main():
    module = AnsibleModule(
        argument_spec=dict(
            type=dict(type="str", required=True, choices=["vmx", "disk"]),
            path=dict(type="path"),
            disks=dict(type="list", elements="path"),
            name=dict(type="str"),
            cpus=dict(type="int"),
            memory_mib=dict(type="int"),
            firmware=dict(type="str", choices=["bios", "uefi"]),
            nics=dict(type="list", elements="dict", options=dict(
                mac=dict(type="str"),
                network=dict(type="str"),
            )),
        ),
        required_if=[("type", "vmx", ["path"]), ("type", "disk", ["disks"])],
        supports_check_mode=True,
    )
    _info_module.exit_with(module, lambda: local.describe(module.params))


if __name__ == "__main__":
    main()
