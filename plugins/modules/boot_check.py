#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: boot_check
short_description: Boot a migrated libvirt domain in isolation and prove that the guest came up
version_added: 0.1.0
description:
  - Starts a defined, shut-off domain and waits for evidence that its guest booted - by default a login
    prompt on the serial console or an answer from the qemu guest agent; with O(marker) or
    O(success_patterns) only those lines count - and optionally for an address on a NIC. A failure
    pattern (root filesystem not found, initramfs or emergency shell, kernel panic, nothing bootable)
    ends the wait at once.
  - With O(isolate=true) (the default) the guest boots from a live copy of its definition whose NICs
    keep their MACs but are attached to an isolated libvirt network (created when missing, as a bridge with
    no forwarding and no host address). The migrated guest therefore cannot clash with its source, which
    may still run with the same addresses. The persistent definition is not changed.
  - The console log, a console screenshot (PNG) and a JSON record of the result are written to
    O(evidence_dir). A guest that does not boot fails the task with the end of its console log.
  - After a passed check a rerun with the same definition, the same disk files and the same demands
    (marker, patterns, O(wait_for_address), O(isolate)) returns the recorded result with
    C(changed=false) instead of booting again (O(force) boots anyway). Asking for more, such as a
    marker, boots again.
author:
  - hyper2kvm maintainers (@hyper2kvm)
options:
  name:
    description: The domain to boot. It must be defined (M(hyper2kvm.migrate.libvirt_domain)) and shut off.
    type: str
    required: true
  uri:
    description: libvirt connection URI.
    type: str
    default: qemu:///system
  isolate:
    description: Boot with every NIC on the isolated network O(isolated_network).
    type: bool
    default: true
  isolated_network:
    description: Name of the isolated libvirt network. If it exists it must have no forwarding and no address.
    type: str
    default: hyper2kvm-isolated
  marker:
    description: A line the guest prints on the serial console when it is up (a regular expression).
      When set, the boot is proven by this line (or one of O(success_patterns)) only; a login prompt or a
      guest-agent answer that comes earlier does not end the wait.
    type: str
  success_patterns:
    description: Regular expressions that prove the boot (any one). When neither this nor O(marker) is
      set, a getty login prompt or a guest-agent answer proves it.
    type: list
    elements: str
  failure_patterns:
    description: Regular expressions that prove the boot failed. Replaces the built-in list, which covers
      missing root devices (initramfs-tools and dracut), emergency and rescue shells, kernel panics and
      firmware without a bootable disk.
    type: list
    elements: str
  timeout:
    description: Seconds to wait for evidence. A guest on TCG (no usable KVM) needs minutes.
    type: int
    default: 600
  wait_for_address:
    description: After the boot, also wait for an address on a NIC, as reported by the guest agent.
    type: bool
    default: false
  final_state:
    description:
      - C(shutdown) (the default) stops the guest after the check (ACPI shutdown, hard stop after
        O(shutdown_timeout)); the source may still be running, so starting the copy on production
        networks is a decision for the cutover.
      - C(running) then starts it from its persistent definition, on its own networks.
      - When the check is on record (not repeated), C(running) still starts a shut-off guest
        (C(changed=true), RV(actions) C([start])); C(shutdown) never stops a guest that runs, since
        someone may have started it on purpose after its check.
    type: str
    choices: [shutdown, running]
    default: shutdown
  shutdown_timeout:
    description: Seconds to wait for an ACPI shutdown before a hard stop.
    type: int
    default: 120
  evidence_dir:
    description: Folder for C(console.log), C(console.png) and C(boot_check.json).
      Defaults to C(/var/lib/hyper2kvm/evidence/<name>).
    type: path
  force:
    description: Boot even when a passed check for the same definition, disks and demands is on record.
    type: bool
    default: false
requirements:
  - libvirt-python (Debian C(python3-libvirt))
  - virtlogd running (it writes the serial console log)
seealso:
  - module: hyper2kvm.migrate.libvirt_domain
extends_documentation_fragment:
  - hyper2kvm.migrate.attributes
attributes:
  check_mode:
    support: full
    details: Reports the plan without starting anything (or the recorded result when one is valid).
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Prove that the migrated guest boots
  hyper2kvm.migrate.boot_check:
    name: web01
    timeout: 900
  register: boot

- name: Boot until the guest's own marker, keep it running afterwards
  hyper2kvm.migrate.boot_check:
    name: web01
    marker: "^APP-READY"
    final_state: running
    isolate: false
"""

RETURN = r"""
passed:
  description: Whether the guest booted (null in check mode when no record applies).
  returned: always
  type: bool
status:
  description: C(pass), C(fail) or C(timeout).
  returned: when a check ran or was recorded
  type: str
boot_seconds:
  description: Seconds from the start of the domain to the evidence.
  returned: when a check ran or was recorded
  type: float
evidence:
  description: The console line that decided (C(console)), whether the guest agent answered, addresses found.
  returned: when a check ran or was recorded
  type: dict
  sample: {"console": "web01 login:", "guest_agent": false, "addresses": []}
serial_log:
  description: Path of the saved console log.
  returned: when a check ran or was recorded
  type: str
screenshot:
  description: Path of the console screenshot (PNG), or null with RV(screenshot_error) saying why.
  returned: when a check ran or was recorded
  type: str
screenshot_error:
  description: Why no screenshot was taken.
  returned: when a check ran or was recorded
  type: str
log_tail:
  description: The last lines of the console log.
  returned: when a check ran or was recorded
  type: str
actions:
  description: What was done (network created, start isolated, shutdown/destroy, start).
  returned: when a check ran or was recorded
  type: list
  elements: str
cached:
  description: True when the result comes from the record of an earlier passed check.
  returned: always
  type: bool
plan:
  description: What would be done.
  returned: in check mode when no record applies
  type: list
  elements: str
final_state:
  description: The domain's state after the task, as libvirt reports it.
  returned: when a check ran or was recorded
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import MigrationError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._targets import boot, console
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._targets import libvirt as lv

EVIDENCE_ROOT = "/var/lib/hyper2kvm/evidence"


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            uri=dict(type="str", default=lv.DEFAULT_URI),
            isolate=dict(type="bool", default=True),
            isolated_network=dict(type="str", default=boot.ISOLATED_NETWORK),
            marker=dict(type="str"),
            success_patterns=dict(type="list", elements="str"),
            failure_patterns=dict(type="list", elements="str"),
            timeout=dict(type="int", default=600),
            wait_for_address=dict(type="bool", default=False),
            final_state=dict(type="str", choices=["shutdown", "running"], default="shutdown"),
            shutdown_timeout=dict(type="int", default=120),
            evidence_dir=dict(type="path"),
            force=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    if lv.libvirt is None:
        module.fail_json(msg=missing_required_lib(lv.LIBVIRT_LIB))
    params = module.params
    try:
        success, agent_proves_boot = console.evidence(params["marker"], params["success_patterns"])
        keys = ("isolate", "isolated_network", "timeout", "wait_for_address", "final_state", "shutdown_timeout", "force")
        options = dict((k, params[k]) for k in keys)
        options.update(
            success=console.compile_patterns(success, "success"), agent_proves_boot=agent_proves_boot,
            failure=console.compile_patterns(params["failure_patterns"] or console.FAILURE_PATTERNS, "failure"),
            evidence_dir=params["evidence_dir"] or os.path.join(EVIDENCE_ROOT, params["name"]),
        )
        conn = lv.connect(params["uri"])
        try:
            result = boot.check(conn, params["name"], options, check_mode=module.check_mode)
        finally:
            conn.close()
    except MigrationError as exc:
        module.fail_json(**exc.result())
    if result.get("passed") is False:
        module.fail_json(msg="%s did not boot: %s (after %ss). Console log %s ends with:\n%s" % (
            params["name"], result["evidence"]["console"], result["boot_seconds"], result["serial_log"],
            result["log_tail"]), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
