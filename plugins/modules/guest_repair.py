#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: guest_repair
short_description: Repair a converted Linux guest offline so that it boots on virtio with its identity intact
version_added: 0.1.0
description:
  - Inspects the guest on a converted disk image and makes it boot on KVM's virtio devices. C(/etc/fstab)
    and the kernel command line (C(/etc/default/grub), C(grub.cfg) and Boot Loader Specification entries)
    name the root and other filesystems by UUID instead of bus-dependent device names such as
    C(/dev/sda1) (names that move with the disk, such as C(UUID=), C(LABEL=) and LVM's
    C(/dev/mapper/vg-root), are left as they are); the virtio drivers are added to the initramfs configuration (so that every later
    rebuild includes them) and, only for the kernels whose initramfs lacks them, appended to that
    initramfs (or it is rebuilt, see O(initramfs_method)), which is then listed to prove it;
    network interfaces without a name pinned to their MAC get a C(.link) file that keeps the old name
    (the domain reuses the source MAC); VMware tools are removed (their services are masked when the
    package manager fails).
  - On a UEFI guest whose EFI system partition has no removable-media fallback loader
    (C(EFI/BOOT/BOOTX64.EFI); C(BOOTAA64.EFI) on aarch64), the guest's own loader is copied there (shim with
    the GRUB and MokManager it starts from its own folder, else GRUB, else systemd-boot; and a C(grub.cfg)
    beside the loader). VMware's NVRAM named the vendor loader (C(EFI/debian/shimx64.efi)); the new
    domain's NVRAM is empty, so without the fallback the firmware finds nothing to start. Each copy is
    verified by SHA-256.
  - All writes go to a qcow2 overlay in a private directory next to the image, through one libguestfs
    appliance (guest filesystems are never mounted on the host). Every step is verified (files read back
    and compared by SHA-256, rebuilt initramfs images listed, removed packages looked up). Only when all
    steps and checks passed is the overlay committed into the image; on any failure the overlay is
    deleted and the image is left byte-identical.
  - A guest that needs nothing reports C(changed=false) and the image is not written.
  - The guest is untrusted input. A guest whose configuration files M(hyper2kvm.migrate.guest_info) reports
    as unsafe (symlinks out of the guest or onto another file such as C(/etc/default/grub -> /etc/shadow),
    FIFOs, devices, huge or binary files) is refused with C(error_kind=UnsafeInputError) before anything is
    written; files that are not UTF-8 text are not edited (C(InvalidInputError)).
author:
  - hyper2kvm maintainers (@hyper2kvm)
options:
  path:
    description: The disk image with the guest's system disk (the output of M(hyper2kvm.migrate.disk_convert)).
    type: path
    required: true
  format:
    description: The image format. Without it the format is detected from the header.
    type: str
    choices: [qcow2, raw]
  remove_vmware_tools:
    description: Remove VMware tools packages (C(dpkg --purge) / C(rpm -e) inside the guest). When that
      fails their services are masked instead and a note says so.
    type: bool
    default: true
  serial_console:
    description: Add C(console=ttyS0,115200) to the kernel command line unless it has a C(ttyS0) console.
    type: bool
    default: false
  update_grub:
    description: After rewriting C(grub.cfg), also regenerate it with the guest's C(grub-mkconfig) or
      C(grub2-mkconfig) inside the guest and re-check its C(root=). The file regenerated is the one that
      holds the boot entries (C(/boot/grub/grub.cfg), C(/boot/grub2/grub.cfg), or on older UEFI RHEL the
      one on the EFI system partition), never the stub on the ESP that only loads it.
    type: bool
    default: false
  initramfs_method:
    description:
      - How an initramfs without the virtio drivers gets them now (the configuration is written either way).
      - C(append) adds one uncompressed cpio archive at the end of the existing initramfs with the drivers,
        their dependencies and the kernel's module indexes. The kernel unpacks every archive in the file,
        so the image boots from virtio; it takes seconds where a rebuild inside the appliance takes minutes
        without KVM. The guest's own C(lsinitramfs)/C(lsinitrd) do not show the appended archive; the next
        kernel update rebuilds the image from the configuration. When appending is not possible (no
        C(modules.dep), a driver file missing, an initramfs that cannot be listed) the image is rebuilt
        and a note says why.
      - C(rebuild) runs the guest's C(update-initramfs -u -k <version>) or C(dracut -f) in the appliance.
    type: str
    choices: [append, rebuild]
    default: append
  vm:
    description: A VM description (from a C(*_info) module). Returned as RV(vm), refined by the inspection
      and with the repair recorded in its C(notes). Its NICs' MACs pin interfaces whose configuration
      names no MAC (by C(name_in_guest), or the one MAC left for the one interface without one).
    type: dict
  record:
    description:
      - A JSON file that remembers a successful repair of this very image (same path, inode and device)
        with the same options. When it matches, the module returns the recorded result with
        RV(cached=true) and C(changed=false) without launching the appliance (a launch takes minutes
        without KVM). A reconverted image is a new file and is repaired again.
      - Written after every successful real run. Delete it to force a fresh look at the guest.
    type: path
notes:
  - Requires libguestfs and its Python binding (see M(hyper2kvm.migrate.guest_info)). Under TCG a repair
    that rebuilds one initramfs takes about three minutes; appending to it takes seconds.
seealso:
  - module: hyper2kvm.migrate.guest_info
  - module: hyper2kvm.migrate.disk_convert
extends_documentation_fragment:
  - hyper2kvm.migrate.attributes
attributes:
  check_mode:
    support: full
    details: Inspects the image read-only and returns the plan and the diff of every file it would write.
  diff_mode:
    support: full
    details: Returns before/after text for every guest file written (or, in check mode, to be written).
"""

EXAMPLES = r"""
- name: Make the converted guest bootable on virtio
  hyper2kvm.migrate.guest_repair:
    path: /var/lib/libvirt/images/web01.qcow2
  register: repaired

- name: Preview the repair
  hyper2kvm.migrate.guest_repair:
    path: /var/lib/libvirt/images/web01.qcow2
    serial_console: true
    vm: "{{ ova.vms[0] }}"
  check_mode: true
  diff: true
"""

RETURN = r"""
steps:
  description: The change log, one entry per step done (id, action, path, reason, status, seconds,
    sha256_before/sha256_after for files and extended initramfs images, command and output for commands,
    kernel for initramfs steps, with method C(append) (modules_added, bytes_appended) or C(rebuild)).
    Action C(copy_file) (the UEFI fallback loader) also names the source file copied.
  returned: always
  type: list
  elements: dict
plan:
  description: The steps planned (in check mode, the ones that would change something).
  returned: always
  type: list
  elements: dict
kernels_rebuilt:
  description: Kernel versions whose initramfs was (or would be) given the virtio drivers (appended or rebuilt).
  returned: always
  type: list
  elements: str
committed:
  description: Whether the overlay was committed into the image.
  returned: always
  type: bool
durations:
  description: Seconds for appliance_launch, initramfs (rebuilds), commit and total.
  returned: always
  type: dict
notes:
  description: What the repair left alone and why (for example an interface it could not pin).
  returned: always
  type: list
  elements: str
cached:
  description: Whether the result came from O(record) instead of a look at the guest.
  returned: always
  type: bool
image:
  description: The image repaired (path, format).
  returned: always
  type: dict
vm:
  description: The O(vm) description, refined and with repair notes.
  returned: when O(vm) is given
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.hyper2kvm.migrate.plugins.module_utils import _model
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import MigrationError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest import appliance, inspect, record, repair


def _nic_macs(vm):
    return dict((nic["name_in_guest"], nic["mac"]) for nic in (vm or {}).get("nics", [])
                if nic.get("name_in_guest") and nic.get("mac"))


def _recorded(params, options):
    """The result on record for this image and options, marked cached and unchanged, or None."""
    if not params["record"]:
        return None
    result = record.load(params["record"], params["path"], options)
    if result is not None:
        result.update(changed=False, cached=True)
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            format=dict(type="str", choices=["qcow2", "raw"]),
            remove_vmware_tools=dict(type="bool", default=True),
            serial_console=dict(type="bool", default=False),
            update_grub=dict(type="bool", default=False),
            initramfs_method=dict(type="str", choices=["append", "rebuild"], default="append"),
            vm=dict(type="dict"),
            record=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    if appliance.guestfs is None:
        module.fail_json(msg=missing_required_lib(appliance.GUESTFS_LIB))
    params = module.params
    options = dict((k, params[k]) for k in ("remove_vmware_tools", "serial_console", "update_grub",
                                            "initramfs_method"))
    options["nic_macs"] = _nic_macs(params["vm"])
    options["source_macs"] = [nic["mac"] for nic in (params["vm"] or {}).get("nics", []) if nic.get("mac")]
    try:
        if params["vm"] is not None:
            _model.validate(params["vm"])
        result = _recorded(params, options)
        if result is None:
            result = repair.repair(params["path"], image_format=params["format"], options=options,
                                   check_mode=module.check_mode)
            result["cached"] = False
            if params["record"] and not module.check_mode:
                record.save(params["record"], params["path"], options,
                            dict((k, v) for k, v in result.items() if k != "diff"))
    except MigrationError as exc:
        module.fail_json(**exc.result())
    except OSError as exc:
        module.fail_json(msg="Could not write the repair record %s: %s." % (params["record"], exc))
    facts = result.pop("facts")
    diff = result.pop("diff", [])
    if module._diff:
        result["diff"] = diff
    if params["vm"] is not None:
        vm = inspect.refine_vm(params["vm"], facts)
        for step in result["steps"] or result["plan"]:
            _model.add_note(vm, "repair", "info", "%s%s" % ("" if result["steps"] else "(planned) ", step["reason"]))
        for note in result["notes"]:
            _model.add_note(vm, "repair", "warning", note)
        result["vm"] = vm
    module.exit_json(**result)


if __name__ == "__main__":
    main()
