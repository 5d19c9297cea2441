#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: ova_info
short_description: Read an OVA archive or OVF package safely and describe its virtual machines
version_added: 0.1.0
description:
  - Reads an OVA (a tar archive) or an OVF descriptor with its files beside it, and returns one
    neutral VM description (C(hyper2kvm.migrate/vm) v1) per C(VirtualSystem), ready for the later
    stages of a migration (convert, repair, define).
  - Understands OVF 1.x and 2.0, VMware ovftool and VirtualBox exports, and C(VirtualSystemCollection)
    packages holding several VMs. Odd but readable descriptors produce warnings, not failures.
  - Verifies the package manifest (C(.mf), SHA1/SHA256/SHA512) by streaming every listed file;
    nothing is extracted or copied.
  - Read-only; never modifies the package.
author:
  - hyper2kvm maintainers (@hyper2kvm)
options:
  path:
    description:
      - The C(.ova) archive, or the C(.ovf) descriptor of an OVF package whose referenced files sit
        in the same directory.
      - The kind is detected from the file's content, not its name.
    type: path
    required: true
  verify_manifest:
    description:
      - Check the digests in the package manifest against the files.
      - A mismatch fails the task. Without a manifest, RV(manifest.verified) is V(false) and a warning
        says so.
      - Set to V(false) to skip the hashing pass on very large packages you have already verified.
    type: bool
    default: true
notes:
  - Supports check mode; the module never changes anything.
  - The package is treated as untrusted input. The descriptor is parsed with DOCTYPE and entity
    declarations refused (no XXE, no entity expansion) and with a size limit.
  - Archive members are never extracted. The task fails on members with absolute or C(..) names,
    symbolic or hard links, devices or FIFOs, duplicate names, and on truncated archives.
    World-writable member modes are reported masked to at most C(0755).
  - Compressed OVAs (gzip, bzip2, xz, zstd) and GNU sparse members are refused, because disks must be
    readable in place; decompress the archive first.
  - In an OVF package every C(ovf:href) must be a plain relative path inside the descriptor's
    directory; URLs, absolute paths, C(..) and symbolic links leading outside are refused.
  - Certificates (C(.cert)) are reported but not verified.
seealso:
  - module: hyper2kvm.migrate.disk_info
  - module: hyper2kvm.migrate.disk_convert
extends_documentation_fragment:
  - hyper2kvm.migrate.attributes
  - hyper2kvm.migrate.attributes.info_module
"""

EXAMPLES = r"""
- name: Describe the VMs inside an OVA
  hyper2kvm.migrate.ova_info:
    path: /srv/migrate/web01.ova
  register: ova

- name: Show the boot disk of the first VM
  ansible.builtin.debug:
    msg: "{{ ova.vms[0].disks | selectattr('boot') | first }}"

- name: Describe an OVF package exported as a directory, without re-hashing its disks
  hyper2kvm.migrate.ova_info:
    path: /srv/migrate/web01/web01.ovf
    verify_manifest: false
"""

RETURN = r"""
vms:
  description:
    - One VM description per C(VirtualSystem) in the descriptor, in document order.
    - Each disk's C(source) says where its data is (C(container), C(file), C(ova) or C(path)) and what
      the descriptor claims about it (C(format_hint), C(compression), C(populated_bytes), C(size),
      C(controller_model), C(controller_index)).
  returned: success
  type: list
  elements: dict
  sample:
    - hyper2kvm.migrate/vm: v1
      name: web01
      source: {type: ova, id: web01, path: /srv/migrate/web01.ova, descriptor: web01.ovf}
      power_state: "off"
      firmware: uefi
      secure_boot: true
      cpus: 4
      cores_per_socket: 2
      memory_mib: 8192
      guest: {family: linux, distro: debian, version: "12", arch: x86_64, hostname: null}
      disks:
        - id: vmdisk1
          capacity_bytes: 17179869184
          controller: scsi
          unit: 0
          boot: true
          source: {container: ova, file: web01-disk1.vmdk, ova: /srv/migrate/web01.ova,
                   format_hint: streamOptimized, compression: null, populated_bytes: 2684354560}
      nics:
        - {mac: "00:50:56:9a:12:34", network: VM Network, model: vmxnet3}
      notes: []
manifest:
  description: What the package manifest says and whether every listed file matched it.
  returned: success
  type: dict
  contains:
    present:
      description: Whether the package has a manifest.
      type: bool
    verified:
      description:
        - V(true) only when the manifest was checked, every entry matched, and it covers the descriptor
          and every file the descriptor references.
      type: bool
    algorithm:
      description: Digest algorithm(s) used by the manifest, for example V(SHA256).
      type: str
    name:
      description: Member or file name of the manifest.
      type: str
    certificate:
      description: Member or file name of the signing certificate, if any (not verified).
      type: str
    files:
      description: Per file, its C(algorithm), C(expected) and C(actual) digests and C(ok).
      type: dict
  sample:
    present: true
    verified: true
    algorithm: SHA256
    name: web01.mf
    certificate: null
    files:
      web01-disk1.vmdk: {algorithm: SHA256, expected: 3f5a..., actual: 3f5a..., ok: true}
descriptor:
  description: Member name (OVA) or file name (OVF package) of the descriptor.
  returned: success
  type: str
  sample: web01.ovf
container:
  description: V(ova) for a tar archive, V(ovf) for a descriptor with files beside it.
  returned: success
  type: str
  sample: ova
members:
  description: OVA members in archive order with data offset, size and masked mode (empty for an OVF package).
  returned: success
  type: list
  elements: dict
  sample:
    - {name: web01.ovf, offset: 512, size: 7704, mode: 420}
warnings:
  description: Things worth knowing that did not stop the reading (no manifest, odd descriptor details).
  returned: when there are any
  type: list
  elements: str
  sample:
    - "No manifest (.mf): file integrity was not checked."
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hyper2kvm.migrate.plugins.module_utils import _info_module
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources import ova


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            verify_manifest=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    _info_module.exit_with(module, lambda: ova.describe(module.params["path"],
                                                        verify_manifest=module.params["verify_manifest"]))


if __name__ == "__main__":
    main()
