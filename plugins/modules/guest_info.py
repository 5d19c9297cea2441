#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: guest_info
short_description: Inspect the guest on a converted disk image offline, read-only, with libguestfs
version_added: 0.1.0
description:
  - Starts one libguestfs appliance (a small VM) with the disk attached read-only, finds the operating
    system and mounts its filesystems read-only inside the appliance. Guest filesystems are never
    mounted on the host.
  - Reports the operating system, boot mode (BIOS/UEFI, MBR/GPT, EFI system partition), bootloader and
    kernel command line C(root=), the initramfs tool and, for each installed kernel, whether its
    initramfs carries the virtio drivers, C(/etc/fstab) entries with unstable device names, network
    stacks and interfaces (with MAC pinning), VMware tools, SELinux mode and cloud-init.
  - What makes a migration impossible (no operating system, Windows, encrypted root, several
    operating systems, no kernel with virtio support, unknown distribution) is returned in
    RV(blockers); the task itself succeeds so that a plan can show every VM's blockers at once.
  - The image format is detected from the header by the collection's own code and passed to
    libguestfs explicitly. Images with a backing file are refused; inspect the output of
    M(hyper2kvm.migrate.disk_convert).
  - The image file is never modified (writes go to a throw-away overlay).
author:
  - hyper2kvm maintainers (@hyper2kvm)
options:
  path:
    description:
      - The disk image holding the guest's system disk (usually the qcow2 written by
        M(hyper2kvm.migrate.disk_convert)).
    type: path
    required: true
  format:
    description:
      - The format you expect the image to be in; the task fails if its header says otherwise
        (V(raw) is always honoured). Without it the format is detected from the header.
    type: str
    choices: [raw, qcow2, vmdk, vpc, vhd, vhdx, vdi]
  vm:
    description:
      - A VM description (from M(hyper2kvm.migrate.ova_info) or another C(*_info) module). When given,
        it is returned as RV(vm) with its C(guest) facts filled in, C(firmware) set from the detected
        boot mode, NIC names in the guest matched by MAC, and the blockers and findings added to its
        C(notes).
    type: dict
notes:
  - Requires libguestfs and its Python binding on the host that runs the task (Debian
    C(python3-guestfs) and C(linux-image-amd64) for the appliance kernel; RHEL C(python3-libguestfs)).
    Run the task with an interpreter that sees the binding (on Debian C(/usr/bin/python3)).
  - The appliance uses KVM when C(/dev/kvm) is usable and TCG (software emulation) otherwise, also on
    hosts whose KVM is a nested C(kvm_pvm) that cannot run it. Set E(HYPER2KVM_ACCEL=tcg) or
    E(HYPER2KVM_ACCEL=kvm) to override the detection. Under TCG one inspection takes about a minute.
  - A launch that does not finish in time (300 s under TCG, 120 s under KVM) is stopped and reported.
  - libguestfs' appliance cache goes to E(LIBGUESTFS_CACHEDIR), by default
    C(~/.cache/hyper2kvm/guestfs) (about 700 MB, built on first use); temporary files to a private
    directory under E(TMPDIR). E(LIBGUESTFS_BACKEND) (default C(direct)), E(LIBGUESTFS_MEMSIZE) and
    E(LIBGUESTFS_DEBUG) are honoured.
seealso:
  - module: hyper2kvm.migrate.disk_convert
  - module: hyper2kvm.migrate.ova_info
extends_documentation_fragment:
  - hyper2kvm.migrate.attributes
  - hyper2kvm.migrate.attributes.info_module
"""

EXAMPLES = r"""
- name: Inspect a converted disk
  hyper2kvm.migrate.guest_info:
    path: /var/lib/libvirt/images/web01.qcow2
  register: guest

- name: Stop when the guest cannot be migrated
  ansible.builtin.assert:
    that: guest.blockers | length == 0
    fail_msg: "{{ guest.blockers | map(attribute='message') | join('; ') }}"

- name: Refine the VM description discovered from the OVA
  hyper2kvm.migrate.guest_info:
    path: /var/lib/libvirt/images/appliance.qcow2
    format: qcow2
    vm: "{{ ova.vms[0] }}"
  register: inspected
  environment:
    HYPER2KVM_ACCEL: tcg  # only where /dev/kvm cannot run guests
"""

RETURN = r"""
image:
  description: The image as opened (path, format, virtual_size).
  returned: always
  type: dict
os:
  description:
    - The operating system found (type, distro, version, major_version, minor_version, arch, hostname,
      product_name, package_format, package_management, root device). Null unless exactly one was found.
  returned: always
  type: dict
  sample: {"type": "linux", "distro": "debian", "version": "12", "arch": "x86_64", "hostname": "web01"}
roots:
  description: Every operating system found (usually one), with the same keys as RV(os).
  returned: always
  type: list
  elements: dict
vm_guest:
  description: The C(guest) section of a VM description (family, distro, version, arch, hostname).
  returned: when exactly one operating system was found
  type: dict
filesystems:
  description: Filesystems on the disk (device, type, label, uuid), LVM logical volumes included.
  returned: always
  type: list
  elements: dict
partition_tables:
  description: Partition table per disk (C(mbr), C(gpt) or null).
  returned: always
  type: dict
mountpoints:
  description: Mountpoint to device, as mounted read-only for the inspection.
  returned: for Linux guests
  type: dict
boot:
  description: Boot mode (C(bios), C(uefi) or C(hybrid)), partition table, EFI system partitions and the hints used.
  returned: for Linux guests
  type: dict
bootloader:
  description: Bootloader flavour, config files, kernel command line and its C(root=), whether that is an
    unstable device name, GRUB defaults (C(disable_linux_uuid)) and the guest's GRUB configuration tool
    (C(mkconfig), C(grub-mkconfig) or C(grub2-mkconfig)).
  returned: for Linux guests
  type: dict
initramfs:
  description: The initramfs tool and the installed kernels, each with virtio support and the virtio
    drivers its initramfs lacks (C(initrd_missing_virtio)).
  returned: for Linux guests
  type: dict
fstab:
  description: C(/etc/fstab) entries, each flagged C(unstable) when it names a device by a bus-dependent name.
  returned: for Linux guests
  type: dict
network:
  description:
    - Network stacks in use, interfaces (name, stack, kind, mac, mac_pinned when the configuration binds
      to the MAC, addresses, dhcp, config_path, pinned_by/pinned_mac when a C(.link) file or udev rule
      gives the name to one MAC), the renames found and the files read.
  returned: for Linux guests
  type: dict
vmware_tools:
  description: VMware tools packages, tarball installation and services.
  returned: for Linux guests
  type: dict
selinux:
  description: SELinux mode and policy type from C(/etc/selinux/config).
  returned: for Linux guests
  type: dict
cloud_init:
  description: Whether cloud-init is installed and disabled.
  returned: for Linux guests
  type: dict
blockers:
  description: Reasons the guest cannot be migrated, each with code, message and fix. Empty when it can.
  returned: always
  type: list
  elements: dict
findings:
  description: Things worth knowing, each with code, severity (C(info) for what the repair stage handles,
    C(warning) for the unusual) and message; files refused as unsafe are reported here.
  returned: always
  type: list
  elements: dict
appliance:
  description: How the appliance ran (accel C(kvm)/C(tcg) and why, launch_seconds, total_seconds, memsize_mib).
  returned: always
  type: dict
vm:
  description: The VM description from O(vm), refined with the inspection.
  returned: when O(vm) is given
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._disk import formats
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import MigrationError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest import appliance, inspect


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            format=dict(type="str", choices=formats.FORMAT_CHOICES),
            vm=dict(type="dict"),
        ),
        supports_check_mode=True,
    )
    if appliance.guestfs is None:
        module.fail_json(msg=missing_required_lib(appliance.GUESTFS_LIB))
    try:
        result = inspect.inspect(module.params["path"], image_format=module.params["format"],
                                 vm=module.params["vm"])
    except MigrationError as exc:
        module.fail_json(**exc.result())
    for blocker in result["blockers"]:
        module.warn("Blocker: %s %s" % (blocker["message"], blocker["fix"]))
    for finding in result["findings"]:
        if finding["severity"] == "warning":
            module.warn(finding["message"])
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
