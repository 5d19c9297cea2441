# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline inspection of a converted guest disk: one appliance launch, read-only, facts out.

inspect() checks the image itself (explicit format from the header, no backing chain), starts one
libguestfs appliance with the disk attached read-only, lets libguestfs find the operating system,
mounts its filesystems read-only and collects what the repair and define stages need: OS, boot mode,
bootloader and kernel command line, initramfs tool and virtio readiness per kernel, fstab, network
configuration, VMware tools, SELinux, cloud-init. What makes a migration impossible is returned
as `blockers`; everything else worth knowing as `findings`.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

from ansible_collections.hyper2kvm.migrate.plugins.module_utils import _model
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._disk import chain
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import UnsupportedError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest import facts
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest.appliance import Appliance

BLOCKER_FIXES = {
    "no_os": "Check that this is the system disk of the VM; data disks are not inspected on their own.",
    "encrypted_root": "Unlock or decrypt the root filesystem before migrating; keys are not supported yet.",
    "multiple_os": "Migrate multi-boot disks by hand, or split them into one disk per operating system.",
    "windows": "Windows guests are not supported yet.",
    "unsupported_os": "Only Linux guests are supported.",
    "unknown_distro": "Check /etc/os-release in the guest; the distribution must be recognisable to repair it.",
    "no_kernel": "Install a kernel in the guest (/boot/vmlinuz-*) before migrating.",
    "no_virtio_kernel": "Install a kernel of version 2.6.25 or later with the virtio drivers before migrating.",
}


def _unknown(value):
    return None if value in (None, "", "unknown") else value


def _version(distro, major, minor):
    """The release the way people name it: debian 12, rhel 9.4, ubuntu 22.04."""
    if not major and not minor:
        return None
    if distro == "ubuntu":
        return "%d.%02d" % (major, minor)
    if distro == "debian" or not minor:  # a Debian minor is a point release of the same system
        return "%d" % major
    return "%d.%d" % (major, minor)


def check_image(image_path, image_format=None):
    """The image as libguestfs must open it: {"path", "format", "virtual_size", "findings"}."""
    found = chain.open_chain(image_path, image_format)
    layers = found["layers"]
    if len(layers) > 1:
        raise UnsupportedError("%s has a backing file (%s): inspection reads converted, flattened images only."
                               % (image_path, layers[1]["path"]),
                               fix="Convert the image with hyper2kvm.migrate.disk_convert first.")
    top = layers[0]
    return {"path": top["path"], "format": top["format"], "virtual_size": top["virtual_size"],
            "findings": [{"code": "format_override", "severity": "warning", "message": w}
                         for w in found["warnings"]]}


def _blocker(result, code, message):
    result["blockers"].append({"code": code, "message": message, "fix": BLOCKER_FIXES[code]})


def _os_facts(app, root):
    g = app.g
    get = app.try_call
    distro = _unknown(get(g.inspect_get_distro, root))
    major, minor = get(g.inspect_get_major_version, root) or 0, get(g.inspect_get_minor_version, root) or 0
    return {"root": root, "type": _unknown(get(g.inspect_get_type, root)), "distro": distro,
            "major_version": major, "minor_version": minor, "version": _version(distro, major, minor),
            "arch": _unknown(get(g.inspect_get_arch, root)), "hostname": _unknown(get(g.inspect_get_hostname, root)),
            "product_name": _unknown(get(g.inspect_get_product_name, root)),
            "package_format": _unknown(get(g.inspect_get_package_format, root)),
            "package_management": _unknown(get(g.inspect_get_package_management, root))}


def _linux(app, root, disks, result, readonly=True):
    mounted = facts.mount(app, root, readonly)
    packages = [a["app2_name"] for a in app.try_call(app.g.inspect_list_applications2, root) or []]
    efi = facts.efi_files(app, mounted)
    result.update({
        "mountpoints": mounted,
        "boot": facts.boot(app, disks, mounted, efi, packages),
        "bootloader": facts.bootloader_facts(app, efi),
        "initramfs": facts.kernels(app),
        "fstab": facts.fstab_facts(app),
        "network": facts.network_facts(app),
        "vmware_tools": facts.vmware_tools_facts(app, packages),
        "selinux": facts.selinux(app),
        "cloud_init": facts.cloud_init(app, packages),
        "packages_count": len(packages),
    })
    kernels = result["initramfs"]["kernels"]
    if not kernels:
        _blocker(result, "no_kernel", "No installed kernel was found in /boot.")
    elif not any(k["virtio_supported"] for k in kernels):
        _blocker(result, "no_virtio_kernel", "None of the installed kernels (%s) has the virtio_blk driver."
                 % ", ".join(k["version"] for k in kernels))
    _linux_findings(app, result)


def _linux_findings(app, result):
    for spec in result["fstab"]["unstable"]:
        app.finding("fstab_unstable_device", "/etc/fstab names %s by a device name that changes on the new bus."
                    % spec, "/etc/fstab", severity="info")
    loader = result["bootloader"]
    if loader["root_unstable"]:
        app.finding("cmdline_unstable_root", "The kernel command line (%s) boots from root=%s, a device name."
                    % (loader["cmdline_source"], loader["root"]), loader["cmdline_source"], severity="info")
    for kernel in result["initramfs"]["kernels"]:
        if kernel["initrd_missing_virtio"]:
            app.finding("initramfs_without_virtio", "The initramfs of kernel %s lacks %s."
                        % (kernel["version"], ", ".join(kernel["initrd_missing_virtio"])), kernel["initrd"],
                        severity="info")
    for nic in result["network"]["interfaces"]:
        if nic.get("mac_pinned") or nic.get("pinned_by"):
            where = ", ".join(p for p in (nic.get("config_path") if nic.get("mac_pinned") else None,
                                          nic.get("pinned_by")) if p)
            app.finding("nic_pinned_to_mac", "Interface %s is tied to MAC %s (%s): keep that MAC on the new NIC."
                        % (nic.get("name"), nic.get("mac"), where), nic.get("pinned_by") or nic.get("config_path"),
                        severity="info")
    tools = result["vmware_tools"]
    if tools["packages"] or tools["tarball_install"]:
        app.finding("vmware_tools", "VMware tools are installed (%s)."
                    % ", ".join(tools["packages"] or ["tarball install"]), severity="info")


def refine_vm(vm, result):
    """The VM description with what the inspection learned."""
    vm = _model.clone(_model.validate(vm))
    if result.get("vm_guest"):
        vm["guest"] = dict(vm.get("guest") or {}, **dict((k, v) for k, v in result["vm_guest"].items() if v))
    mode = (result.get("boot") or {}).get("mode")
    if mode in _model.FIRMWARES and vm.get("firmware") != mode:
        _model.add_note(vm, "inspect", "warning", "Firmware was %s in the source; the disk boots %s."
                        % (vm.get("firmware"), mode))
        vm["firmware"] = mode
    interfaces = (result.get("network") or {}).get("interfaces", [])
    by_mac = dict(((n.get("mac") or "").lower(), n.get("name")) for n in interfaces if n.get("mac"))
    for nic in vm.get("nics", []):
        name = by_mac.get((nic.get("mac") or "").lower())
        if name and not nic.get("name_in_guest"):
            nic["name_in_guest"] = name
    for blocker in result["blockers"]:
        _model.add_note(vm, "inspect", "blocker", blocker["message"], blocker["fix"])
    for finding in result["findings"]:
        _model.add_note(vm, "inspect", finding["severity"], finding["message"])
    return vm


def inspect(image_path, image_format=None, accel=None, vm=None):
    """Facts, blockers and findings for the guest on one flattened disk image.

    With vm (a VM description), the result also holds "vm": that description refined."""
    started = time.monotonic()
    if vm is not None:
        _model.validate(vm)
    image = check_image(image_path, image_format)
    result = new_result(image)
    drive = {"path": image["path"], "format": image["format"], "readonly": True}
    with Appliance([drive], accel=accel) as app:
        inspect_open(app, image, result)
    result["appliance"]["total_seconds"] = round(time.monotonic() - started, 2)
    if vm is not None:
        result["vm"] = refine_vm(vm, result)
    return result


def new_result(image):
    return {"image": {"path": image["path"], "format": image["format"], "virtual_size": image["virtual_size"]},
            "roots": [], "os": None, "vm_guest": None, "blockers": [], "findings": list(image["findings"])}


def inspect_open(app, image, result, readonly=True):
    """Fill result (see new_result) from a launched Appliance; mounts read-write with readonly=False
    (only ever on a repair overlay)."""
    disks = facts.storage(app)
    result.update({"filesystems": disks["filesystems"], "lvs": disks["lvs"],
                   "partition_tables": disks["partition_tables"]})
    roots = app.call(app.g.inspect_os)
    result["roots"] = [_os_facts(app, root) for root in roots]
    if not roots and disks["encrypted"]:
        _blocker(result, "encrypted_root", "No operating system is readable; %s is encrypted (LUKS)."
                 % ", ".join(disks["encrypted"]))
    elif not roots:
        _blocker(result, "no_os", "No operating system found on %s." % os.path.basename(image["path"]))
    elif len(roots) > 1:
        _blocker(result, "multiple_os", "%d operating systems found (%s): multi-boot disks are not migrated."
                 % (len(roots), ", ".join(r["root"] for r in result["roots"])))
    else:
        result["os"] = info = result["roots"][0]
        result["vm_guest"] = {"family": info["type"], "distro": info["distro"], "version": info["version"],
                              "arch": info["arch"], "hostname": info["hostname"]}
        if info["type"] == "windows":
            _blocker(result, "windows", "%s is Windows." % (info["product_name"] or "The guest"))
        elif info["type"] != "linux":
            _blocker(result, "unsupported_os", "The guest is %s, not Linux." % info["type"])
        else:
            if not info["distro"]:
                _blocker(result, "unknown_distro", "The Linux distribution could not be recognised.")
            _linux(app, roots[0], disks, result, readonly)
            if disks["encrypted"]:
                app.finding("encrypted_filesystem", "Encrypted filesystems are not inspected: %s."
                            % ", ".join(disks["encrypted"]))
    result["findings"].extend(app.findings)
    result["appliance"] = app.facts()
