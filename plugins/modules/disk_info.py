#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: disk_info
short_description: Identify a disk image safely and report its size and backing chain
version_added: 0.1.0
description:
  - Detects the image format from the file's own header (VMDK sparse, stream-optimized and text
    descriptors, VHD, VHDX, qcow2, VDI, raw) with the collection's own code, never by letting
    C(qemu-img) probe it.
  - Checks that every file the image refers to (backing files, VMDK extents, qcow2 external data
    files) lies inside the source directory, then runs C(qemu-img info) on an explicit block spec
    for each layer.
  - Can read a disk straight out of an OVA archive member without extracting it.
  - Read-only; never modifies the image.
author:
  - hyper2kvm maintainers (@hyper2kvm)
options:
  path:
    description:
      - The disk image, or the OVA archive when O(member) is set.
    type: path
    required: true
  format:
    description:
      - The format you expect. The task fails when the header says otherwise, except for V(raw),
        which reads any file as raw bytes.
      - Without it, a distinctive file extension (.qcow2, .vmdk, .vhd, .vhdx, .vdi, .raw) must agree
        with the header.
    type: str
    choices: [raw, qcow2, vmdk, vpc, vhd, vhdx, vdi]
  member:
    description:
      - Name of an uncompressed disk member inside the OVA at O(path), read in place.
    type: str
notes:
  - Supports check mode; the module never changes anything.
  - Requires C(qemu-img) (Debian C(qemu-utils), RHEL C(qemu-img)) on the host that runs it.
seealso:
  - module: hyper2kvm.migrate.disk_convert
  - module: hyper2kvm.migrate.ova_info
extends_documentation_fragment:
  - hyper2kvm.migrate.attributes
  - hyper2kvm.migrate.attributes.info_module
"""

EXAMPLES = r"""
- name: Inspect a VMDK exported from vSphere
  hyper2kvm.migrate.disk_info:
    path: /srv/migrate/web01/web01.vmdk
  register: disk

- name: Inspect the disk inside an OVA without unpacking it
  hyper2kvm.migrate.disk_info:
    path: /srv/migrate/appliance.ova
    member: appliance-disk1.vmdk

- name: Refuse anything but a VHDX
  hyper2kvm.migrate.disk_info:
    path: /srv/migrate/hv01.vhdx
    format: vhdx
"""

RETURN = r"""
format:
  description: qemu driver name of the top layer as detected from its header.
  returned: success
  type: str
  sample: vmdk
subformat:
  description: Variant of the format (VMDK create type, VHD type, qcow2 version).
  returned: success
  type: str
  sample: streamOptimized
virtual_size:
  description: Size of the disk as the guest sees it, in bytes.
  returned: success
  type: int
  sample: 2147483648
actual_size:
  description: Bytes allocated on the host for all layers (the member size for an OVA member).
  returned: success
  type: int
  sample: 771751936
backing_chain:
  description: Layers below the top one, top-down, each with path, format, sizes and flags.
  returned: success
  type: list
  elements: dict
layers:
  description: All layers including the top one.
  returned: success
  type: list
  elements: dict
findings:
  description: Things worth knowing before conversion (chains, dirty or corrupt flags, format overrides).
  returned: success
  type: list
  elements: str
commands:
  description: The qemu-img command lines that ran.
  returned: success
  type: list
  elements: list
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._disk import formats, source
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import MigrationError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            format=dict(type="str", choices=formats.FORMAT_CHOICES),
            member=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    try:
        result = source.describe(module.params["path"], fmt=module.params["format"],
                                 member=module.params["member"])
    except MigrationError as exc:
        module.fail_json(**exc.result())
    for finding in result["findings"]:
        module.warn(finding)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
