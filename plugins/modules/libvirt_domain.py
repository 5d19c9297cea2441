#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: libvirt_domain
short_description: Define a migrated VM as a libvirt domain from its VM description, idempotently
version_added: 0.1.0
description:
  - Builds the domain XML from a VM description (name, memory, vCPUs and topology, BIOS or UEFI firmware
    with secure boot when the source had it, disks, NICs with their source MAC addresses) and the options
    below, and brings the domain to O(state).
  - "What the module manages: domain type, memory, vCPUs and topology, machine type, firmware and secure
    boot, clock offset, disks (path, format, bus, target), NICs (MAC, network or bridge, model), the serial
    console and its log file, the guest-agent channel, the virtio RNG and the graphics console (always on
    127.0.0.1). The defined domain is compared with what is wanted on these fields only, so what libvirt
    adds by itself (PCI addresses, controllers, versioned machine types, firmware paths) never counts as a
    change, and an unchanged rerun reports C(changed=false) in check and real mode. When a managed field
    differs the domain is redefined from the generated XML (keeping its UUID)."
  - With O(domain_type=auto) the domain type is C(kvm) when this host can run KVM guests and C(qemu)
    (TCG emulation, much slower) otherwise; nested KVM that cannot boot guests is detected, not assumed.
  - Disk images are never created, changed or deleted, not even with O(state=absent).
author:
  - hyper2kvm maintainers (@hyper2kvm)
options:
  name:
    description: Domain name. Defaults to the name in O(vm). Required with O(state=absent) when O(vm) is not given.
    type: str
  vm:
    description: The VM description (from a C(*_info) module, refined by M(hyper2kvm.migrate.guest_info)).
      Required unless O(state=absent).
    type: dict
  disks:
    description: The converted disk images in boot order. Defaults to the C(path) and C(format) that the
      disks of O(vm) carry (boot disk first).
    type: list
    elements: dict
    suboptions:
      path:
        description: Image path on the libvirt host.
        type: path
        required: true
      format:
        description: Image format.
        type: str
        choices: [qcow2, raw]
        default: qcow2
  state:
    description:
      - C(defined) makes the definition match and leaves the power state alone; C(running) also starts the
        domain; C(shutdown) stops it (ACPI shutdown, then a hard stop after O(shutdown_timeout));
        C(absent) stops and undefines it (with its NVRAM), leaving the disks.
    type: str
    choices: [defined, running, shutdown, absent]
    default: defined
  uri:
    description: libvirt connection URI.
    type: str
    default: qemu:///system
  domain_type:
    description: C(kvm), C(qemu) (TCG) or C(auto) (detected).
    type: str
    choices: [auto, kvm, qemu]
    default: auto
  machine:
    description: Machine type. C(q35) is required for secure boot.
    type: str
    choices: [q35, pc]
    default: q35
  disk_bus:
    description: Bus of the disks. C(virtio) (virtio-blk) is fastest; C(scsi) is virtio-scsi (discard,
      many disks); C(sata) is for guests without virtio drivers.
    type: str
    choices: [virtio, scsi, sata]
    default: virtio
  nic_model:
    description: NIC model.
    type: str
    choices: [virtio, e1000e, e1000, rtl8139]
    default: virtio
  network_map:
    description:
      - Source network name to libvirt network or bridge. A value is a libvirt network name
        (V(default) or V(network:default)), V(bridge:br0), or a mapping C({type, name}).
      - The key C(*) applies to networks not listed; without it O(default_network) is used.
    type: dict
    default: {}
  default_network:
    description: libvirt network for NICs whose source network is not in O(network_map).
    type: str
    default: default
  graphics:
    description: Graphics console, listening on 127.0.0.1 only (reach it through an SSH tunnel).
      C(none) also removes the video device (no screenshots for M(hyper2kvm.migrate.boot_check)).
    type: str
    choices: [vnc, spice, none]
    default: vnc
  serial_log:
    description: File that keeps the serial console output of the current boot (written by virtlogd).
      Defaults to C(/var/log/libvirt/qemu/<name>-serial0.log); M(hyper2kvm.migrate.boot_check) reads it.
    type: path
  guest_agent:
    description: Add the qemu-guest-agent channel.
    type: bool
    default: true
  rng:
    description: Add a virtio RNG fed by the host's C(/dev/urandom).
    type: bool
    default: true
  shutdown_timeout:
    description: Seconds to wait for an ACPI shutdown before a hard stop (O(state=shutdown)).
    type: int
    default: 120
notes:
  - The guest runs as the account in C(/etc/libvirt/qemu.conf) (C(libvirt-qemu) on Debian). libvirt hands
    it the image files but not the folders above them; a folder it cannot enter gives a warning here and
    a failure at start.
requirements:
  - libvirt-python (Debian C(python3-libvirt))
  - a running libvirt daemon (see the C(hyper2kvm.migrate.conversion_host) role)
seealso:
  - module: hyper2kvm.migrate.boot_check
  - module: hyper2kvm.migrate.guest_repair
extends_documentation_fragment:
  - hyper2kvm.migrate.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The diff shows the managed part of the definition, rendered as XML, before and after.
"""

EXAMPLES = r"""
- name: Define the migrated VM with its converted disk
  hyper2kvm.migrate.libvirt_domain:
    vm: "{{ h2k_vm }}"
    disks:
      - path: /var/lib/hyper2kvm/web01/disk0.qcow2
    network_map:
      "VM Network": bridge:br0
      "*": default

- name: Start it
  hyper2kvm.migrate.libvirt_domain:
    vm: "{{ h2k_vm }}"
    state: running

- name: Remove the definition, keep the disks
  hyper2kvm.migrate.libvirt_domain:
    name: web01
    state: absent
"""

RETURN = r"""
domain:
  description: The domain after the task (name, uuid, state as libvirt reports it, and its inactive XML).
    In check mode, what exists now.
  returned: always
  type: dict
  sample: {"name": "web01", "uuid": "3f0c...", "state": "running", "xml": "<domain type='kvm'>..."}
actions:
  description: What was done (or would be, in check mode), in order - define, start, shutdown, destroy, undefine.
  returned: always
  type: list
  elements: str
differences:
  description: Managed fields that differed from the definition (C(new) when the domain did not exist).
  returned: always
  type: list
  elements: str
spec:
  description: The managed fields as wanted (what the diff's after side renders).
  returned: unless O(state=absent)
  type: dict
domain_type:
  description: The domain type chosen and why.
  returned: unless O(state=absent)
  type: dict
  sample: {"type": "qemu", "reason": "KVM is nested PVM (/sys/module/kvm_pvm), which cannot run the appliance"}
notes:
  description: Things the user should know (a running domain keeps its old definition until restarted...).
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.hyper2kvm.migrate.plugins.module_utils import _model
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import MigrationError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._targets import domain, domain_xml
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._targets import libvirt as lv

SERIAL_LOG = "/var/log/libvirt/qemu/%s-serial0.log"


def _disks_of(vm):
    """Converted disks from the description, boot disk first."""
    disks = [d for d in vm.get("disks") or [] if d.get("path")]
    return sorted(disks, key=lambda d: not d.get("boot"))


def _check_disks(module, disks):
    account = lv.qemu_user()
    for disk in disks:
        if not os.path.exists(disk["path"]):
            if module.check_mode:
                module.warn("%s does not exist (yet); in check mode that is expected before conversion." % disk["path"])
                continue
            raise MigrationError("Disk image %s does not exist." % disk["path"],
                                 fix="Convert the disk first (hyper2kvm.migrate.disk_convert) or correct the path.")
        blocked = lv.unreachable_dir(disk["path"], account)
        if blocked:
            module.warn("%s cannot be entered by %s, the account guests run as, so the domain cannot start. "
                        "Fix: keep images under a folder that account can reach (e.g. /var/lib/hyper2kvm), "
                        "or chmod o+x %s." % (blocked, account.pw_name, blocked))


def run(module):
    params = module.params
    state = params["state"]
    vm = params["vm"]
    if vm is not None:
        _model.validate(vm)
    name = params["name"] or (vm or {}).get("name")
    if not name:
        raise MigrationError("No domain name.", fix="Set name, or pass vm.")
    conn = lv.connect(params["uri"])
    try:
        if state == "absent":
            return domain.ensure(conn, {"name": name}, state, check_mode=module.check_mode)
        if vm is None:
            raise MigrationError("state=%s needs the VM description." % state, fix="Pass vm.")
        disks = [dict(path=d["path"], format=d.get("format") or "qcow2") for d in (params["disks"] or _disks_of(vm))]
        _check_disks(module, disks)
        dtype, reason = lv.choose_domain_type(conn, params["domain_type"])
        keys = ("machine", "disk_bus", "nic_model", "network_map", "default_network", "graphics", "guest_agent", "rng")
        options = dict((k, params[k]) for k in keys)
        options.update(name=name, domain_type=dtype, serial_log=params["serial_log"] or SERIAL_LOG % name)
        spec = domain_xml.spec_from_vm(vm, disks, options)
        result = domain.ensure(conn, spec, state, check_mode=module.check_mode,
                               shutdown_timeout=params["shutdown_timeout"])
        result["spec"] = spec
        result["domain_type"] = {"type": dtype, "reason": reason}
        return result
    finally:
        conn.close()


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str"),
            vm=dict(type="dict"),
            disks=dict(type="list", elements="dict", options=dict(
                path=dict(type="path", required=True),
                format=dict(type="str", choices=["qcow2", "raw"], default="qcow2"),
            )),
            state=dict(type="str", choices=list(domain.STATES), default="defined"),
            uri=dict(type="str", default=lv.DEFAULT_URI),
            domain_type=dict(type="str", choices=["auto", "kvm", "qemu"], default="auto"),
            machine=dict(type="str", choices=list(domain_xml.MACHINES), default="q35"),
            disk_bus=dict(type="str", choices=list(domain_xml.DISK_BUSES), default="virtio"),
            nic_model=dict(type="str", choices=list(domain_xml.NIC_MODELS), default="virtio"),
            network_map=dict(type="dict", default={}),
            default_network=dict(type="str", default="default"),
            graphics=dict(type="str", choices=list(domain_xml.GRAPHICS), default="vnc"),
            serial_log=dict(type="path"),
            guest_agent=dict(type="bool", default=True),
            rng=dict(type="bool", default=True),
            shutdown_timeout=dict(type="int", default=120),
        ),
        required_one_of=[("name", "vm")],
        supports_check_mode=True,
    )
    if lv.libvirt is None:
        module.fail_json(msg=missing_required_lib(lv.LIBVIRT_LIB))
    try:
        result = run(module)
    except MigrationError as exc:
        module.fail_json(**exc.result())
    diff = result.pop("diff")
    if module._diff and result["changed"]:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
