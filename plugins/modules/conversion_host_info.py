#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: conversion_host_info
short_description: Check that a host can convert, repair, define and boot-check migrated VMs
version_added: 0.1.0
description:
  - Checks, on the host it runs on, everything the migration stages need there. V(convert) needs
    C(qemu-img). V(repair) needs the libguestfs Python binding, importable by the very interpreter that
    runs the modules, and a readable kernel in C(/boot) for the libguestfs appliance. V(define) and
    V(validate) need the libvirt Python binding and a libvirt daemon that answers at O(uri).
    V(define) also looks for UEFI firmware for qemu.
  - Every check that fails carries the exact fix for this host's OS family and the packages that fix
    it, so a role can install exactly those.
  - Read-only. It reports; it never installs or starts anything.
author:
  - hyper2kvm maintainers (@hyper2kvm)
options:
  stages:
    description:
      - The stages this host will run. Only their checks are made.
    type: list
    elements: str
    choices: [convert, repair, define, validate]
    default: [convert, repair, define, validate]
  uri:
    description:
      - The libvirt connection URI the define and validate stages will use.
    type: str
    default: qemu:///system
extends_documentation_fragment:
  - hyper2kvm.migrate.attributes
  - hyper2kvm.migrate.attributes.INFO_MODULE
notes:
  - The libguestfs appliance runs on KVM when C(/dev/kvm) works and on TCG (much slower) otherwise;
    RV(accel) says which one this host will get and why.
seealso:
  - module: hyper2kvm.migrate.preflight_info
"""

EXAMPLES = r"""
- name: Check the conversion host
  hyper2kvm.migrate.conversion_host_info:
  register: host

- name: Stop with the fixes when something is missing
  ansible.builtin.assert:
    that: host.ok
    fail_msg: "{{ host.checks | rejectattr('ok') | map(attribute='fix') | list }}"

- name: Only conversion happens here
  hyper2kvm.migrate.conversion_host_info:
    stages: [convert]
"""

RETURN = r"""
ok:
  description: Whether every check passed.
  returned: always
  type: bool
  sample: false
checks:
  description: One entry per check, in stage order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: >-
        qemu_img, guestfs_python, appliance_kernel, libvirt_python, libvirt_daemon or uefi_firmware.
      type: str
    stage:
      description: The first stage that needs it.
      type: str
    ok:
      description: Whether the host has it.
      type: bool
    detail:
      description: What was found.
      type: str
      sample: /usr/bin/python3 cannot import guestfs - No module named 'guestfs'
    fix:
      description: The exact fix, or null when the check passed.
      type: str
      sample: apt-get install -y python3-guestfs libguestfs-tools
    packages:
      description: The OS packages that fix a failed check (empty when it passed).
      type: list
      elements: str
  sample:
    - {name: qemu_img, stage: convert, ok: true, detail: qemu-img 7.2.19, fix: null, packages: []}
missing:
  description: Names of the failed checks.
  returned: always
  type: list
  elements: str
  sample: [guestfs_python]
packages:
  description: Every package the failed checks need, without duplicates.
  returned: always
  type: list
  elements: str
  sample: [python3-guestfs, libguestfs-tools]
os_family:
  description: debian, redhat, or null when the family is not known (fixes then name both).
  returned: always
  type: str
  sample: debian
accel:
  description: How the libguestfs appliance will run on this host, and why.
  returned: when the repair stage was checked
  type: dict
  sample: {accel: tcg, reason: /dev/kvm is missing}
python:
  description: The interpreter that ran the checks.
  returned: always
  type: str
  sample: /usr/bin/python3
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import MigrationError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest import appliance
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._host import requirements


def main():
    module = AnsibleModule(
        argument_spec=dict(
            stages=dict(type="list", elements="str", choices=list(requirements.STAGES),
                        default=list(requirements.STAGES)),
            uri=dict(type="str", default="qemu:///system"),
        ),
        supports_check_mode=True,
    )
    stages = module.params["stages"]
    os_family = requirements.family(requirements.read_os_release())
    measured = requirements.probe(module.get_bin_path("qemu-img"), module.params["uri"], stages)
    checks = requirements.evaluate(measured, stages, os_family)
    result = dict(
        changed=False, ok=all(c["ok"] for c in checks), checks=checks, os_family=os_family,
        missing=[c["name"] for c in checks if not c["ok"]], python=measured["python"],
        packages=sorted(set(p for c in checks for p in c["packages"])),
    )
    if "repair" in stages:
        try:
            result["accel"] = appliance.detect_accel()
        except MigrationError as exc:
            module.fail_json(**exc.result())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
