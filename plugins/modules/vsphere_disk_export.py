#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: vsphere_disk_export
short_description: Export the disks of a vSphere VM as sparse local qcow2 or raw files
version_added: 0.1.0
description:
  - Exports every virtual disk of one VM of a vCenter Server or ESXi host to O(dest_dir) as
    C(<VM name>-<disk slot>.<dest_format>), for example C(web01-scsi0-0.qcow2).
  - The disks must hold still while they are read. A powered-off VM is read as it is. A running (or
    suspended) VM is shut down through VMware Tools (O(power=shutdown)), powered off (O(power=poweroff)),
    or kept running while a snapshot without memory is read (O(power=snapshot), a crash-consistent copy);
    without O(power) the task fails and says so. The snapshot is removed on every way out - success,
    failure, or the job being stopped (SIGTERM, SIGINT, SIGHUP). A powered-off VM stays off.
  - With O(transport=datastore) (the default) each disk's descriptor and extents - and the whole chain
    of snapshot deltas below it - are downloaded over the datastore HTTPS endpoint
    (C(/folder/...?dcPath=...&dsName=...)) with the API session's cookie, in parallel ranged requests,
    into sparse files. Each extent's size is checked against its descriptor, and each descriptor's
    SHA-256 is compared before and after the download, so that a disk written to meanwhile is noticed.
  - The chain is then flattened and converted with the code of M(hyper2kvm.migrate.disk_convert), which
    treats the downloaded descriptors as untrusted input (sparse, verified, atomic).
  - Transfers resume. An interrupted download leaves C(<extent>.partial) files and small journals in
    C(<VM name>-<disk slot>-vmdk/); the next run for the same unchanged disk downloads only what is
    still missing. Nothing ever appears under an output name before it is complete and verified.
  - A rerun that finds the outputs and their records (C(<output>.export.json)) of the same disks
    reports C(changed=false) and neither touches the VM nor reads the datastore.
  - O(transport=nfc) (ExportVm and an HttpNfcLease) and O(transport=vddk) (nbdkit's vddk plugin with
    VMware's VDDK) are used when requested. They read the same disks; they do not resume.
  - Neither the password nor the session cookie appears in results, messages, logs or command lines.
author:
  - hyper2kvm maintainers (@hyper2kvm)
options:
  name:
    description:
      - Name of the VM. Names may repeat across folders; then set O(folder) too.
    type: str
  folder:
    description:
      - Inventory folder of the VM named by O(name), for example C(/DC0/vm/web) (the C(source.folder)
        of M(hyper2kvm.migrate.vsphere_vm_info)).
    type: str
  vm:
    description:
      - A VM description from M(hyper2kvm.migrate.vsphere_vm_info), instead of O(name).
      - RV(vm) returns this description with the path and format of each disk filled in.
    type: dict
  dest_dir:
    description:
      - Directory that receives the disks; it must exist.
    type: path
    required: true
  dest_format:
    description:
      - Format of the outputs.
    type: str
    choices: [qcow2, raw]
    default: qcow2
  power:
    description:
      - What to do with a VM that is powered on or suspended. A powered-off VM is exported as it is.
      - V(shutdown) asks the guest to shut down through VMware Tools and waits up to O(shutdown_timeout)
        seconds; then O(shutdown_fallback) decides. The VM stays off.
      - V(poweroff) powers the VM off at once (like pulling the plug). The VM stays off.
      - V(snapshot) keeps the VM running and reads a new snapshot of it (crash-consistent; with O(quiesce)
        VMware Tools quiesce the file systems first). The snapshot is removed afterwards, whatever happens.
        Snapshots an earlier export could not remove (its process was killed) are removed first; a user's
        snapshots are never touched. Independent disks are not part of snapshots and make the task fail.
      - Unset, a VM that is not powered off makes the task fail and say so.
    type: str
    choices: [shutdown, poweroff, snapshot]
  shutdown_timeout:
    description:
      - Seconds to wait for the guest to shut down with O(power=shutdown).
    type: int
    default: 300
  shutdown_fallback:
    description:
      - With O(power=shutdown), what to do when the guest has not shut down in time, or VMware Tools do
        not run in it. V(fail) fails the task and leaves the VM running; V(poweroff) powers it off.
    type: str
    choices: [fail, poweroff]
    default: fail
  quiesce:
    description:
      - With O(power=snapshot), ask VMware Tools to quiesce the guest's file systems for the snapshot.
    type: bool
    default: false
  transport:
    description:
      - How the disk data is read.
      - V(datastore) downloads descriptors and extents over the datastore HTTPS endpoint of vCenter or
        ESXi (ranged, parallel, resumable).
      - V(nfc) asks vSphere to export the VM (or the snapshot) and streams each disk as a
        streamOptimized VMDK from the ESXi host; needs the privilege C(VApp.Export).
      - V(vddk) reads each disk through nbdkit's vddk plugin and VMware's VDDK library (see
        O(vddk_libdir)); needs C(nbdkit) with its vddk plugin on this host and ESXi's port 902.
    type: str
    choices: [datastore, nfc, vddk]
    default: datastore
  workers:
    description:
      - Parallel ranged requests per file (1 to 32), over one pooled connection each.
    type: int
    default: 4
  chunk_size_mib:
    description:
      - Largest range fetched by one request, in MiB (1 to 256).
    type: int
    default: 16
  retries:
    description:
      - Attempts after the first for each range that fails with a connection error, a stalled connection
        (no data for O(timeout) seconds), HTTP 408, 429 or 5xx, with exponential backoff.
    type: int
    default: 5
  timeout:
    description:
      - Seconds a download connection may stay silent before the range is retried (5 to 3600).
    type: int
    default: 60
  keep_vmdk:
    description:
      - Keep the downloaded descriptors and extents (in C(<VM name>-<disk slot>-vmdk/)) next to the output.
    type: bool
    default: false
  force:
    description:
      - Export again even when the outputs are current, and replace existing files that this module did not write.
    type: bool
    default: false
  vddk_libdir:
    description:
      - With O(transport=vddk), the folder of VMware's VDDK (the one that holds C(lib64/)).
    type: path
  vddk_transports:
    description:
      - With O(transport=vddk), the VDDK transport modes to try, in order (for example V(nbdssl), V(nbd)).
        Unset lets VDDK choose.
    type: list
    elements: str
notes:
  - The user needs, besides reading the inventory, C(Datastore.Browse) and C(Datastore.FileManagement) on the
    VM's datastores (transport V(datastore)), C(VirtualMachine.Interact.PowerOff) for O(power=shutdown) and
    O(power=poweroff), C(VirtualMachine.State.CreateSnapshot) and C(VirtualMachine.State.RemoveSnapshot) for
    O(power=snapshot), C(VApp.Export) for O(transport=nfc), and the VDDK privileges
    (C(VirtualMachine.Provisioning.DiskRandomRead)) for O(transport=vddk).
  - The datastore endpoint is verified like the API itself (O(validate_certs), O(ca_bundle)) and reached through
    the same proxy (O(proxy_host)).
  - Requires C(qemu-img), and the Python library requests.
seealso:
  - module: hyper2kvm.migrate.vsphere_vm_info
  - module: hyper2kvm.migrate.disk_convert
attributes:
  check_mode:
    support: full
    details: Reads the VM and returns the plan (power action or snapshot, the disks with their sizes and files,
      the downloads and conversions) without changing anything in vSphere or on disk.
  diff_mode:
    support: none
extends_documentation_fragment:
  - hyper2kvm.migrate.vsphere
  - hyper2kvm.migrate.attributes
"""

EXAMPLES = r"""
- name: Export a powered-off VM's disks to qcow2 (credentials from VMWARE_HOST/USER/PASSWORD, e.g. in AWX)
  hyper2kvm.migrate.vsphere_disk_export:
    name: web01
    dest_dir: /var/lib/libvirt/images/web01

- name: Discover the VMs of a folder, then export each, shutting running guests down
  hyper2kvm.migrate.vsphere_vm_info:
    folder: /DC1/vm/web
  register: found

- name: Export them
  hyper2kvm.migrate.vsphere_disk_export:
    vm: "{{ item }}"
    dest_dir: "/srv/migrate/{{ item.name }}"
    power: shutdown
    shutdown_timeout: 600
    shutdown_fallback: poweroff
    ca_bundle: /etc/pki/vcenter-ca.pem
  loop: "{{ found.vms }}"
  loop_control:
    label: "{{ item.name }}"
  register: exported

- name: Copy a running VM through a temporary snapshot, as raw files
  hyper2kvm.migrate.vsphere_disk_export:
    name: db01
    folder: /DC1/vm/db
    dest_dir: /srv/migrate/db01
    dest_format: raw
    power: snapshot
"""

RETURN = r"""
disks:
  description:
    - One entry per disk, in the order of the VM description.
    - C(path) and C(format) of the output; C(size_bytes) is the disk's capacity; C(chain) the datastore files
      from the current one down to the base disk; C(transport); C(files) what was read (each descriptor with its
      C(sha256), each extent with C(size), C(bytes_transferred) and C(resumed)); C(bytes_transferred) what came
      over the network in this run; C(ranges) the ranged requests made; C(seconds) and C(bytes_per_second) of
      the download; C(convert_seconds); C(resumed) when an earlier interrupted download was continued;
      C(vmdk_path) the kept local descriptor (O(keep_vmdk)); C(actual_size) the bytes the output occupies on
      disk; C(changed).
    - In check mode only C(id), C(path), C(format), C(size_bytes), C(chain) and C(changed).
  returned: always
  type: list
  elements: dict
  sample:
    - id: "scsi0:0"
      path: /srv/migrate/web01/web01-scsi0-0.qcow2
      format: qcow2
      size_bytes: 17179869184
      chain: ["[ds1] web01/web01.vmdk"]
      transport: datastore
      files:
        - {file: "[ds1] web01/web01.vmdk", kind: descriptor, size: 512, sha256: 9f2c...}
        - {file: "[ds1] web01/web01-flat.vmdk", kind: extent, size: 17179869184, bytes_transferred: 17179869184,
           resumed: false, requests: 1024}
      bytes_transferred: 17179869696
      ranges: 1024
      resumed: false
      seconds: 98.4
      bytes_per_second: 174592000
      convert_seconds: 21.3
      vmdk_path: null
      actual_size: 3154116608
      changed: true
vm:
  description: The VM description (the one given in O(vm), else the VM as vSphere describes it) with C(path) and
    C(format) filled in for every exported disk.
  returned: success
  type: dict
power_state:
  description: The VM's power state when the task started (C(on), C(off), C(suspended)).
  returned: success
  type: str
  sample: "on"
transport:
  description: The transport used (O(transport)).
  returned: success
  type: str
  sample: datastore
actions:
  description: What the task did to the VM (shutdown, power-off, snapshots taken and removed).
  returned: always
  type: list
  elements: str
  sample: ["shut down the guest"]
snapshot:
  description: With O(power=snapshot), the snapshot taken (C(name), C(id)) and whether it was removed
    (C(taken), C(removed), C(removed_error)).
  returned: when a snapshot was taken
  type: dict
  sample: {name: hyper2kvm-export-3f9a1c2e, id: snapshot-412, taken: true, removed: true}
lease:
  description: With O(transport=nfc), whether the export lease was completed or aborted.
  returned: with transport nfc
  type: dict
plan:
  description: In check mode, the steps the task would take.
  returned: check mode, when something would change
  type: list
  elements: str
findings:
  description: Things worth knowing (a destination directory that does not exist yet in check mode).
  returned: always
  type: list
  elements: str
seconds:
  description: Wall-clock time of the task.
  returned: always
  type: float
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import MigrationError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.vsphere import connection, export
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._transfer import http

OPTIONS = ("name", "folder", "vm", "dest_dir", "dest_format", "power", "shutdown_timeout", "shutdown_fallback",
           "quiesce", "transport", "workers", "chunk_size_mib", "retries", "timeout", "keep_vmdk", "force",
           "vddk_libdir", "vddk_transports")


def main():
    argument_spec = connection.argument_spec()
    argument_spec.update(
        name=dict(type="str"),
        folder=dict(type="str"),
        vm=dict(type="dict"),
        dest_dir=dict(type="path", required=True),
        dest_format=dict(type="str", choices=list(export.FORMATS), default="qcow2"),
        power=dict(type="str", choices=["shutdown", "poweroff", "snapshot"]),
        shutdown_timeout=dict(type="int", default=300),
        shutdown_fallback=dict(type="str", choices=["fail", "poweroff"], default="fail"),
        quiesce=dict(type="bool", default=False),
        transport=dict(type="str", choices=["datastore", "nfc", "vddk"], default="datastore"),
        workers=dict(type="int", default=4),
        chunk_size_mib=dict(type="int", default=16),
        retries=dict(type="int", default=5),
        timeout=dict(type="int", default=60),
        keep_vmdk=dict(type="bool", default=False),
        force=dict(type="bool", default=False),
        vddk_libdir=dict(type="path"),
        vddk_transports=dict(type="list", elements="str"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=[("name", "vm"), ("folder", "vm")], required_one_of=[("name", "vm")])
    if connection.pyvim_connect is None or http.requests is None:
        module.fail_json(msg=missing_required_lib(connection.PYVMOMI_LIB + " and requests"))
    try:
        request = export.Request(**dict((key, module.params[key]) for key in OPTIONS))
        result = export.export(connection.connection_params(module.params), request, check_mode=module.check_mode)
    except MigrationError as exc:
        module.fail_json(**exc.result())
    for finding in result["findings"]:
        module.warn(finding)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
