#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: azure_disk_export
short_description: Download the managed disks of an Azure VM as sparse local qcow2, raw or VHD files
version_added: 0.1.0
description:
  - Exports every managed disk (OS and data) of one Azure VM to O(dest_dir) as C(<disk name>.<dest_format>).
  - Per disk it grants read access (a SAS URL into the disk's page blob), asks the storage service
    which ranges hold data (Get Page Ranges), downloads only those, in parallel ranged requests over
    one pooled HTTPS session, into a sparse file, verifies its size and fixed-VHD footer, and revokes
    access. Access is revoked on every way out - success, failure, or the job being stopped
    (SIGTERM, SIGINT, SIGHUP).
  - The fixed VHD is then converted with the code of M(hyper2kvm.migrate.disk_convert) (sparse,
    verified, atomic); with O(dest_format=vhd) the download itself is the output.
  - Azure grants access to a disk only while its VM is deallocated. A running or stopped VM is
    deallocated with O(deallocate=true), or exported through full snapshots of all its disks with
    O(snapshot=true) (taken together, deleted afterwards); otherwise the task fails and says so.
  - Transfers resume. An interrupted download leaves C(<disk>.vhd.partial) and a small journal;
    the next run for the same unchanged disk downloads only the ranges still missing. Nothing ever
    appears under an output name before it is complete and verified.
  - A rerun that finds the outputs and their records (C(<output>.export.json)) of the same disks
    reports C(changed=false) and neither deallocates nor grants anything.
  - The SAS URL never appears in results, messages or logs.
author:
  - hyper2kvm maintainers (@hyper2kvm)
options:
  name:
    description:
      - Name of the VM. Needs O(resource_group).
    type: str
  resource_group:
    description:
      - Resource group of the VM named by O(name).
    type: str
  vm:
    description:
      - A VM description from M(hyper2kvm.migrate.azure_vm_info), instead of O(name) and O(resource_group).
      - RV(vm) returns this description with the path and format of each disk filled in.
    type: dict
  dest_dir:
    description:
      - Directory that receives the disks; it must exist.
    type: path
    required: true
  dest_format:
    description:
      - Format of the outputs. V(vhd) keeps the fixed VHD as downloaded (sparse).
    type: str
    choices: [qcow2, raw, vhd]
    default: qcow2
  deallocate:
    description:
      - Deallocate a VM that is running or stopped, so that its disks can be read. The VM stays
        deallocated.
    type: bool
    default: false
  snapshot:
    description:
      - For a VM that is not deallocated (and O(deallocate=false)), take a full snapshot of each disk
        and export the snapshots; the VM keeps running and the copy is crash-consistent. The snapshots
        are deleted afterwards, whatever happens.
    type: bool
    default: false
  access_duration:
    description:
      - Seconds the read access to each disk is granted for (300 to 604800). Access is revoked as
        soon as the disk is downloaded; this only bounds how long a SAS could stay valid if the host
        died. A grant that expires during the download fails the task; the next run resumes.
    type: int
    default: 14400
  workers:
    description:
      - Parallel ranged requests per disk (1 to 32), over one pooled connection each.
    type: int
    default: 4
  chunk_size_mib:
    description:
      - Largest range fetched by one request, in MiB (1 to 256). Allocated ranges less than 1 MiB
        apart are fetched together.
    type: int
    default: 16
  retries:
    description:
      - Attempts after the first for each range that fails with a connection error, a stalled
        connection (no data for O(timeout) seconds), HTTP 408, 429 or 5xx, with exponential backoff.
    type: int
    default: 5
  keep_vhd:
    description:
      - Keep the downloaded fixed VHD (C(<disk name>.vhd)) next to a qcow2 or raw output.
    type: bool
    default: false
  force:
    description:
      - Export again even when the outputs are current, and replace existing files that this module did not write.
    type: bool
    default: false
notes:
  - O(timeout) also bounds how long a download connection may stay silent before the range is retried.
  - The service principal needs, on the VM's resource group, read access to VMs and disks and the actions
    C(Microsoft.Compute/disks/beginGetAccess/action) and C(endGetAccess/action); with O(deallocate)
    C(virtualMachines/deallocate/action); with O(snapshot) C(snapshots/write), C(snapshots/delete) and the
    snapshots' access actions (Virtual Machine Contributor plus Disk Snapshot Contributor cover them).
  - Requires C(qemu-img) for qcow2 and raw outputs, and the Python library requests (a dependency of azure-core).
seealso:
  - module: hyper2kvm.migrate.azure_vm_info
  - module: hyper2kvm.migrate.disk_convert
attributes:
  check_mode:
    support: full
    details: Reads the VM and its disks and returns the plan (deallocation or snapshots, grants, downloads,
      conversions) without changing anything in Azure or on disk.
  diff_mode:
    support: none
extends_documentation_fragment:
  - hyper2kvm.migrate.azure
  - hyper2kvm.migrate.attributes
"""

EXAMPLES = r"""
- name: Export a deallocated VM's disks to qcow2 (credentials from the AZURE_* variables, e.g. in AWX)
  hyper2kvm.migrate.azure_disk_export:
    name: web01
    resource_group: rg-web
    dest_dir: /var/lib/libvirt/images/web01

- name: Discover, then export every VM tagged for migration, deallocating running ones
  hyper2kvm.migrate.azure_vm_info:
    tags: ["migrate:kvm"]
  register: azure

- name: Export them
  hyper2kvm.migrate.azure_disk_export:
    vm: "{{ item }}"
    dest_dir: "/srv/migrate/{{ item.name }}"
    deallocate: true
  loop: "{{ azure.vms }}"
  loop_control:
    label: "{{ item.name }}"
  register: exported

- name: Export a running VM through snapshots, keep the fixed VHDs
  hyper2kvm.migrate.azure_disk_export:
    name: db01
    resource_group: rg-db
    dest_dir: /srv/migrate/db01
    dest_format: raw
    snapshot: true
    keep_vhd: true
"""

RETURN = r"""
disks:
  description:
    - One entry per disk, in the order of the VM description (OS disk first).
    - C(path) and C(format) of the output; C(vhd_path) of the kept fixed VHD (or null); C(from) is
      C(disk) or C(snapshot); C(size_bytes) is the disk's size; C(allocated_bytes) the data Azure reported;
      C(bytes_transferred) what came over the network in this run; C(ranges) the ranged requests made;
      C(page_ranges) the ranges in Azure's page list and C(page_list_requests) its pages; C(seconds) and
      C(bytes_per_second) of the download; C(convert_seconds); C(resumed) when an earlier interrupted
      download was continued; C(actual_size) the bytes the output occupies on disk; C(changed).
    - In check mode only C(id), C(path), C(format), C(size_bytes) and C(changed).
  returned: always
  type: list
  elements: dict
  sample:
    - id: web01_OsDisk_1_3c9a
      managed_disk_id: /subscriptions/.../resourceGroups/rg-web/providers/Microsoft.Compute/disks/web01_OsDisk_1_3c9a
      from: disk
      path: /var/lib/libvirt/images/web01/web01_OsDisk_1_3c9a.qcow2
      format: qcow2
      vhd_path: null
      size_bytes: 32212254720
      allocated_bytes: 2154823680
      bytes_transferred: 2155872256
      ranges: 214
      page_ranges: 1873
      page_list_requests: 1
      seconds: 41.2
      bytes_per_second: 52326000
      convert_seconds: 9.8
      resumed: false
      actual_size: 1450704896
      changed: true
vm:
  description: The VM description (the one given in O(vm), else the VM as Azure describes it) with C(path) and
    C(format) filled in for every exported disk.
  returned: success
  type: dict
power_state:
  description: Azure's power state of the VM when the task started (C(running), C(deallocated), ...).
  returned: success
  type: str
  sample: deallocated
actions:
  description: What the task did to the VM besides granting access (deallocation, snapshots taken and deleted).
  returned: always
  type: list
  elements: str
  sample: ["deallocated VM rg-web/web01"]
grants:
  description: Per disk or snapshot, whether read access was granted and whether it was revoked afterwards
    (C(revoked_error) says why not).
  returned: always
  type: list
  elements: dict
  sample: [{disk: web01_OsDisk_1_3c9a, target: disk rg-web/web01_OsDisk_1_3c9a, granted: true, revoked: true}]
snapshots:
  description: With O(snapshot=true), the snapshots taken and whether they were deleted.
  returned: when snapshots were taken
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
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.azure import connection, export, plan
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._transfer import http

OPTIONS = ("name", "resource_group", "vm", "dest_dir", "dest_format", "deallocate", "snapshot", "access_duration",
           "workers", "chunk_size_mib", "retries", "keep_vhd", "force")


def main():
    argument_spec = connection.argument_spec()
    argument_spec.update(
        name=dict(type="str"),
        resource_group=dict(type="str"),
        vm=dict(type="dict"),
        dest_dir=dict(type="path", required=True),
        dest_format=dict(type="str", choices=list(plan.FORMATS), default="qcow2"),
        deallocate=dict(type="bool", default=False),
        snapshot=dict(type="bool", default=False),
        access_duration=dict(type="int", default=14400),
        workers=dict(type="int", default=4),
        chunk_size_mib=dict(type="int", default=16),
        retries=dict(type="int", default=5),
        keep_vhd=dict(type="bool", default=False),
        force=dict(type="bool", default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=[("name", "vm"), ("resource_group", "vm")],
                           required_one_of=[("name", "vm")], required_together=[("name", "resource_group")])
    if connection.ComputeManagementClient is None or http.requests is None:
        module.fail_json(msg=missing_required_lib(connection.AZURE_LIBS + " and requests"))
    try:
        request = plan.Request(**dict((key, module.params[key]) for key in OPTIONS))
        result = export.export(connection.settings(connection.connection_params(module.params)), request,
                               check_mode=module.check_mode)
    except MigrationError as exc:
        module.fail_json(**exc.result())
    for finding in result["findings"]:
        module.warn(finding)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
