#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: disk_convert
short_description: Convert a source disk to a sparse qcow2 or raw image, safely and idempotently
version_added: 0.1.0
description:
  - Converts VMDK (all common variants), VHD, VHDX, qcow2, VDI or raw images to qcow2 or raw with
    C(qemu-img convert), flattening snapshot chains (VMDK delta disks, qcow2 backing files).
  - The source format is detected from the header by the collection's own code and passed to
    qemu-img explicitly, with every layer of the chain named; qemu-img never probes a format or opens
    a file outside the source directory.
  - Reads a disk straight out of an uncompressed OVA member without extracting it (no second copy).
  - A sparse VMDK in one file (streamOptimized, the disk inside OVAs, or monolithicSparse) without a
    parent is converted by the collection's own reader. Grains are read in file order in large blocks
    by several threads, which also inflate compressed grains (with libdeflate when the host has it,
    zlib otherwise), and written to a plain qcow2 or raw file. qemu-img reads one grain at a time and
    inflates on one core. Which grain holds which part of the disk is read from the grain directory
    and tables, as qemu and VMware read it. Layouts it does not handle (another grain size or
    compression, compressed grains without markers) go to qemu-img, as does every other format and
    every snapshot chain. See O(engine).
  - The output stays sparse (work grows with allocated data, not virtual size). Parallel
    coroutines and out-of-order writes are used by default.
  - The output is written under a hidden temporary name in the destination directory, verified
    (virtual size, C(qemu-img check) for qcow2, optional full C(qemu-img compare)) and renamed into
    place only when complete. A failed run leaves no file under the destination name.
  - A state file C(<dest>.hyper2kvm.json) records the source it was made from; a rerun with the
    same source and options reports C(changed=false) and does nothing.
  - The source is never modified.
author:
  - hyper2kvm maintainers (@hyper2kvm)
options:
  src:
    description:
      - The source disk image, or the OVA archive when O(member) is set.
    type: path
    required: true
  src_format:
    description:
      - The format you expect the source to be in; the task fails if its header says otherwise
        (V(raw) is always honoured). Without it, a distinctive file extension must agree with the header.
    type: str
    choices: [raw, qcow2, vmdk, vpc, vhd, vhdx, vdi]
  member:
    description:
      - Name of an uncompressed disk member inside the OVA at O(src), read in place.
    type: str
  dest:
    description:
      - The output file. Its directory must exist. An existing file not written by this module is
        only replaced with O(force=true).
    type: path
    required: true
  dest_format:
    description:
      - Output format.
    type: str
    choices: [qcow2, raw]
    default: qcow2
  engine:
    description:
      - V(auto) converts single-file sparse VMDKs with the collection's reader and everything else
        with qemu-img; V(qemu-img) always uses qemu-img. Both outputs are verified the same way.
    type: str
    choices: [auto, qemu-img]
    default: auto
  read_threads:
    description:
      - Threads that read (and for streamOptimized, inflate) the grains of a sparse VMDK, 1 to 64.
        Default one per CPU the task may run on (at most 16).
    type: int
  coroutines:
    description:
      - Parallel coroutines for qemu-img (C(-m)), 1 to 16.
    type: int
    default: 8
  out_of_order:
    description:
      - Allow out-of-order writes (C(-W)), faster on most storage.
    type: bool
    default: true
  compare:
    description:
      - After conversion, compare the output with the source byte for byte (C(qemu-img compare)).
        This reads both images fully.
    type: bool
    default: false
  checksum:
    description:
      - Also compute the SHA-256 of the output file and return it (reads the output once more).
    type: str
    choices: [sha256]
  progress_file:
    description:
      - A file that receives the conversion progress as one line of JSON (C(percent),
        C(elapsed_seconds)), updated about once a second. Read it from another task or a shell
        while the conversion runs with C(async).
    type: path
  timeout:
    description:
      - Seconds after which the conversion is aborted (the temporary output is removed).
    type: int
  force:
    description:
      - Replace an existing O(dest) that this module did not write, and reconvert even when the
        state file says the output is current.
    type: bool
    default: false
  keep_modified:
    description:
      - Keep an output that this module converted from the same source and that was changed in place
        since (by M(hyper2kvm.migrate.guest_repair) or a first boot), instead of converting again.
        The migrate playbook sets it, so that a rerun resumes after the conversion. A file put in the
        output's place by anything else is still detected (it is another inode).
    type: bool
    default: false
notes:
  - Requires C(qemu-img) on the host that runs it.
  - For long conversions use C(async) and C(poll) with O(progress_file); see the examples.
seealso:
  - module: hyper2kvm.migrate.disk_info
  - module: hyper2kvm.migrate.ova_info
attributes:
  check_mode:
    support: full
    details: Detects the source, measures the space needed and returns the commands it would run.
  diff_mode:
    support: full
    details: Shows the destination's state file before and after.
extends_documentation_fragment:
  - hyper2kvm.migrate.attributes
"""

EXAMPLES = r"""
- name: Convert a vSphere export to qcow2
  hyper2kvm.migrate.disk_convert:
    src: /srv/migrate/web01/web01.vmdk
    dest: /var/lib/libvirt/images/web01.qcow2

- name: Convert the disk of an OVA without unpacking the archive
  hyper2kvm.migrate.disk_convert:
    src: /srv/migrate/appliance.ova
    member: appliance-disk1.vmdk
    dest: /var/lib/libvirt/images/appliance.qcow2

- name: Long conversion in the background with visible progress
  hyper2kvm.migrate.disk_convert:
    src: /srv/migrate/db01.vhdx
    dest: /var/lib/libvirt/images/db01.raw
    dest_format: raw
    progress_file: /var/tmp/db01.progress.json
  async: 7200
  poll: 0
  register: conversion

- name: Wait for it
  ansible.builtin.async_status:
    jid: "{{ conversion.ansible_job_id }}"
  register: job
  until: job.finished
  retries: 720
  delay: 10
"""

RETURN = r"""
dest:
  description: Absolute path of the output.
  returned: always
  type: str
dest_format:
  description: Output format.
  returned: always
  type: str
src:
  description: The source as read, with its checked chain (path, format, subformat, offset, size per layer).
  returned: always
  type: dict
virtual_size:
  description: Virtual size of the output in bytes.
  returned: when converted or already current
  type: int
actual_size:
  description: Bytes allocated for the output on the host.
  returned: when converted or already current
  type: int
required_bytes:
  description: Space the output needs, from C(qemu-img measure).
  returned: when a conversion is (or would be) done
  type: int
duration_seconds:
  description: Wall time of the conversion.
  returned: when converted
  type: float
bytes_per_second:
  description: Allocated output bytes per second of conversion.
  returned: when converted
  type: int
sha256:
  description: SHA-256 of the output file.
  returned: when O(checksum=sha256)
  type: str
engine:
  description: What converts (or would convert) the disk, V(sparse-vmdk) (the collection's reader) or V(qemu-img).
  returned: when a conversion is (or would be) done
  type: str
sparse_vmdk:
  description: How the collection's reader converted a sparse VMDK.
  returned: when converted by the sparse-vmdk engine
  type: dict
  contains:
    subformat:
      description: V(streamOptimized) or V(monolithicSparse).
      type: str
    inflate:
      description: V(libdeflate) or V(zlib) for compressed grains, null otherwise.
      type: str
    threads:
      description: Reading (and inflating) threads.
      type: int
    grains:
      description: Grains read.
      type: int
commands:
  description: qemu-img command lines run (or, in check mode, planned).
  returned: always
  type: list
  elements: list
state_file:
  description: The state file that makes reruns idempotent.
  returned: always
  type: str
findings:
  description: Things worth knowing (format overrides).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._disk import convert, formats
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import MigrationError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type="path", required=True),
            src_format=dict(type="str", choices=formats.FORMAT_CHOICES),
            member=dict(type="str"),
            dest=dict(type="path", required=True),
            dest_format=dict(type="str", choices=["qcow2", "raw"], default="qcow2"),
            coroutines=dict(type="int", default=8),
            out_of_order=dict(type="bool", default=True),
            compare=dict(type="bool", default=False),
            checksum=dict(type="str", choices=["sha256"]),
            progress_file=dict(type="path"),
            timeout=dict(type="int"),
            force=dict(type="bool", default=False),
            keep_modified=dict(type="bool", default=False),
            engine=dict(type="str", choices=["auto", "qemu-img"], default="auto"),
            read_threads=dict(type="int"),
        ),
        supports_check_mode=True,
    )
    params = dict(module.params)
    try:
        request = convert.Request(**params)
        before = convert.read_state(request)
        result = convert.convert(request, check_mode=module.check_mode)
    except MigrationError as exc:
        module.fail_json(**exc.result())
    if module._diff:
        result["diff"] = {"before": before or {}, "before_header": request.state_path,
                          "after": {"source": result["src"], "dest_format": result["dest_format"]}
                          if result["changed"] else (before or {}),
                          "after_header": request.state_path}
    for finding in result["findings"]:
        module.warn(finding)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
