#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: preflight_info
short_description: Find what would stop a VM's migration before any work is done
version_added: 0.1.0
description:
  - Runs the preflight rules over a VM description and what it measures on the conversion host it runs
    on. Each finding has a code, a severity (V(blocker), V(warning) or V(info)), a message and a fix.
  - "Rules today: no disks; source files that cannot be read; free space in the output directory
    (likely need from the populated data, warning when the disks could outgrow it); UEFI firmware for
    UEFI guests; guest OS that repair does not cover (Windows, unknown); memory and vCPUs beyond the host;
    blockers that discovery or inspection wrote into the description."
  - "For vSphere sources (from the flags M(hyper2kvm.migrate.vsphere_vm_info) records): RDM / host-device
    disks and vSphere-encrypted VMs, templates and disconnected/orphaned VMs, multi-writer shared disks
    (blockers); independent disks, existing snapshots, PCI passthrough/vGPU and USB devices (warnings);
    changed block tracking (information)."
  - Read-only. The returned RV(vm) carries the findings as C(preflight) notes for the report.
author:
  - hyper2kvm maintainers (@hyper2kvm)
options:
  vm:
    description:
      - The VM description (C(hyper2kvm.migrate/vm) v1) from a discovery module.
    type: dict
    required: true
  output_dir:
    description:
      - Where the converted disks will be written; its free space is checked (the nearest existing parent
        when it does not exist yet).
    type: path
  outputs:
    description:
      - The converted path planned for each disk, in the order of the description's disks. Disks whose
        output already exists (an earlier run) do not count against the free space.
    type: list
    elements: path
    default: []
  waive:
    description:
      - Finding codes the user accepts. A waived blocker is reported as a warning with C(waived=true).
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - hyper2kvm.migrate.attributes
  - hyper2kvm.migrate.attributes.INFO_MODULE
seealso:
  - module: hyper2kvm.migrate.conversion_host_info
"""

EXAMPLES = r"""
- name: Preflight a VM found in an OVA
  hyper2kvm.migrate.preflight_info:
    vm: "{{ found.vms[0] }}"
    output_dir: /var/lib/hyper2kvm/web01
  register: preflight

- name: Stop on blockers
  ansible.builtin.assert:
    that: not preflight.blocked
    fail_msg: "{{ preflight.findings | selectattr('severity', '==', 'blocker') | list }}"

- name: Accept a guest memory larger than this host
  hyper2kvm.migrate.preflight_info:
    vm: "{{ found.vms[0] }}"
    waive: [memory_exceeds_host]
"""

RETURN = r"""
blocked:
  description: Whether any finding is a blocker.
  returned: always
  type: bool
  sample: false
findings:
  description: Blockers first, then warnings, then information.
  returned: always
  type: list
  elements: dict
  contains:
    code:
      description: Stable identifier of the rule's finding, for O(waive).
      type: str
      sample: disk_space
    severity:
      description: blocker, warning or info.
      type: str
    message:
      description: What was found.
      type: str
    fix:
      description: What to do about it.
      type: str
    waived:
      description: Present and true on a blocker the user waived.
      type: bool
counts:
  description: Number of findings per severity.
  returned: always
  type: dict
  sample: {blocker: 0, warning: 1, info: 0}
host:
  description: What was measured on the conversion host.
  returned: always
  type: dict
  sample: {free_bytes: 52613349376, memory_mib: 24036, cpus: 2, uefi_firmware: [50-edk2-ovmf-4m.json]}
vm:
  description: The description with the findings as its C(preflight) notes (earlier preflight notes replaced).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hyper2kvm.migrate.plugins.module_utils import _model
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import MigrationError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._preflight import host as host_facts
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._preflight import rules


def main():
    module = AnsibleModule(
        argument_spec=dict(
            vm=dict(type="dict", required=True),
            output_dir=dict(type="path"),
            outputs=dict(type="list", elements="path", default=[]),
            waive=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        vm = _model.clone(_model.validate(params["vm"]))
        host = host_facts.measure(vm, params["output_dir"], params["outputs"])
    except MigrationError as exc:
        module.fail_json(**exc.result())
    except OSError as exc:
        module.fail_json(msg="Could not measure the conversion host: %s." % exc)
    findings = rules.evaluate(vm, host, waived=params["waive"])
    vm["notes"] = [n for n in vm.get("notes", []) if n.get("stage") != "preflight"]
    for item in findings:
        _model.add_note(vm, "preflight", item["severity"], item["message"], item["fix"])
    counts = dict((s, sum(1 for f in findings if f["severity"] == s)) for s in rules.SEVERITIES)
    module.exit_json(changed=False, blocked=counts["blocker"] > 0, findings=findings, counts=counts,
                     host=host, vm=vm)


if __name__ == "__main__":
    main()
