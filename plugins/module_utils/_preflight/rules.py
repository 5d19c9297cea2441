# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight: what stands between a described VM and a working migration, decided before any work.

Every rule is a pure function (vm, host) -> findings, listed in RULES; `host` is what the module
measured on the conversion host (free space, firmware, memory, which source files exist). A finding is
{code, severity (blocker|warning|info), message, fix}: a blocker stops the VM's migration unless the
user waives that code, a warning is printed and recorded in the report.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

SEVERITIES = ("blocker", "warning", "info")
GIB = 1024 ** 3
# A streamOptimized VMDK is deflate-compressed; its data usually grows 1.5-3x when converted.
STREAM_GROWTH = 3


def finding(code, severity, message, fix=None):
    return {"code": code, "severity": severity, "message": message, "fix": fix}


def _gib(n):
    return "%.1f GiB" % (float(n) / GIB)


def estimate_bytes(disk):
    """Bytes the converted disk will likely take: populated data when known, else the source's size."""
    src = disk.get("source") or {}
    capacity = disk.get("capacity_bytes") or 0
    if src.get("populated_bytes"):
        guess = src["populated_bytes"]
    elif src.get("size"):
        grow = STREAM_GROWTH if (src.get("format_hint") or "").lower() == "streamoptimized" else 1
        guess = src["size"] * grow
    else:
        guess = capacity
    return min(guess, capacity) if capacity else guess


def no_disks(vm, host):
    if not vm.get("disks"):
        return [finding("no_disks", "blocker", "The description of %s lists no disks." % vm["name"],
                        "Check the source: an OVF with its disks removed, or a VM whose disks are all RDMs "
                        "or CD-ROMs, has nothing to migrate.")]
    return []


def source_files(vm, host):
    out = []
    for path in host.get("missing_sources", []):
        out.append(finding("source_missing", "blocker", "Source file %s cannot be read." % path,
                           "Make it readable on the conversion host (path, permissions, mount) and rerun."))
    return out


def disk_space(vm, host):
    pending = [d for d in vm.get("disks", []) if d.get("id") not in host.get("converted", [])]
    if not pending or host.get("free_bytes") is None:
        return []
    likely = sum(estimate_bytes(d) for d in pending)
    worst = sum(d.get("capacity_bytes") or 0 for d in pending)
    free = host["free_bytes"]
    where = host.get("output_dir")
    if free < likely:
        return [finding("disk_space", "blocker",
                        "%s needs about %s in %s for its converted disks; %s is free." % (
                            vm["name"], _gib(likely), where, _gib(free)),
                        "Free space there, or set another output directory.")]
    if free < worst:
        return [finding("disk_space_if_full", "warning",
                        "%s's disks hold about %s but may grow to %s; %s has %s free." % (
                            vm["name"], _gib(likely), _gib(worst), where, _gib(free)),
                        "Fine for a migration; leave room before the guest fills its disks.")]
    return []


def uefi_firmware(vm, host):
    if vm.get("firmware") == "uefi" and not host.get("uefi_firmware"):
        return [finding("uefi_firmware_missing", "blocker",
                        "%s boots with UEFI but the conversion host has no UEFI firmware for qemu." % vm["name"],
                        "Install OVMF (Debian: apt-get install ovmf; RHEL: dnf install edk2-ovmf).")]
    return []


def guest_family(vm, host):
    family = ((vm.get("guest") or {}).get("family") or "").lower()
    if family == "windows":
        return [finding("windows_guest", "warning",
                        "%s is a Windows guest; offline repair covers Linux only, so it may not find its disk "
                        "on virtio." % vm["name"],
                        "Install the virtio drivers in the guest before migrating, or define it with disk_bus "
                        "sata and switch after installing them.")]
    if family and family != "linux":
        return [finding("unsupported_guest", "warning", "%s runs %s, which repair does not know." % (
            vm["name"], family), "Expect manual work after the first boot.")]
    if not family:
        return [finding("guest_unknown", "info", "The source does not say which OS %s runs." % vm["name"],
                        "Inspection finds out during repair.")]
    return []


def resources(vm, host):
    out = []
    memory = vm.get("memory_mib") or 0
    if host.get("memory_mib") and memory > host["memory_mib"]:
        out.append(finding("memory_exceeds_host", "warning",
                           "%s has %d MiB of memory; the conversion host has %d MiB, so the boot check "
                           "may fail to start it." % (vm["name"], memory, host["memory_mib"]),
                           "Boot-check on a larger host, or lower memory_mib in the description."))
    if host.get("cpus") and (vm.get("cpus") or 0) > host["cpus"]:
        out.append(finding("cpus_exceed_host", "info", "%s has %d vCPUs; the host has %d." % (
            vm["name"], vm["cpus"], host["cpus"]), "libvirt runs it overcommitted; performance will differ."))
    return out


def description_notes(vm, host):
    """Blockers earlier stages (discovery, inspection) wrote into the description."""
    return [finding("source_" + (n.get("stage") or "note"), "blocker", n["message"], n.get("fix"))
            for n in vm.get("notes", []) if n.get("severity") == "blocker" and n.get("stage") != "preflight"]


def _disk_names(disks):
    return ", ".join("%s (%s)" % (d.get("id"), (d.get("source") or {}).get("label") or "?") for d in disks)


def source_disks(vm, host):
    """Disks a file-level export cannot copy or cannot copy consistently (vSphere backings today)."""
    out = []
    disks = vm.get("disks", [])

    def having(test):
        return [d for d in disks if test(d.get("source") or {})]

    lun = having(lambda s: s.get("backing") in ("rdm", "host_device", "pmem"))
    if lun:
        out.append(finding("rdm_disk", "blocker",
                           "%s has raw device mappings or host devices: %s. They are LUNs, not datastore files, "
                           "so the export cannot copy them." % (vm["name"], _disk_names(lun)),
                           "Present the LUN to the KVM host and attach it after the migration; waive rdm_disk "
                           "to migrate the other disks."))
    shared = having(lambda s: s.get("sharing") == "sharingMultiWriter")
    if shared:
        out.append(finding("shared_disk", "blocker",
                           "%s has multi-writer (shared) disks: %s. Another VM writes them too." % (
                               vm["name"], _disk_names(shared)),
                           "Migrate the cluster's nodes together with the shared disk attached to all of them "
                           "(libvirt <shareable/>), or waive shared_disk to copy it once."))
    independent = having(lambda s: s.get("independent"))
    if independent:
        out.append(finding("independent_disk", "warning",
                           "%s has independent disks (%s): snapshots do not cover them, so a copy of the "
                           "running VM is not consistent." % (vm["name"], _disk_names(independent)),
                           "Export with the VM shut down (the default cold export)."))
    return out


def source_state(vm, host):
    """What the source platform says about the VM as a whole (vSphere's flags today)."""
    flags = (vm.get("source") or {}).get("flags") or {}
    name, out = vm["name"], []
    if flags.get("template"):
        out.append(finding("template", "blocker", "%s is a template, not a VM." % name,
                           "Deploy a VM from it and migrate that, or convert the template to a VM."))
    if flags.get("connection_state") not in (None, "connected"):
        out.append(finding("not_connected", "blocker", "%s is %s in vCenter." % (name, flags["connection_state"]),
                           "Reconnect its host or re-register the VM, then discover again."))
    if flags.get("encrypted"):
        out.append(finding("encrypted_vm", "blocker",
                           "%s is encrypted by vSphere: its disk files are ciphertext outside vCenter." % name,
                           "Decrypt the VM in vCenter (Edit Settings > VM Options > Encryption) first."))
    if flags.get("snapshot"):
        out.append(finding("snapshots", "warning",
                           "%s has %d snapshot(s); the export flattens the disks at the current state (%s) and "
                           "the snapshot tree is not migrated." % (name, flags.get("snapshot_count") or 1,
                                                                   flags.get("current_snapshot") or "?"),
                           "Consolidate or delete the snapshots you do not need before migrating."))
    if flags.get("passthrough"):
        out.append(finding("passthrough_devices", "warning",
                           "%s uses passthrough devices (%s); the KVM guest will not have them." % (
                               name, ", ".join(flags["passthrough"])),
                           "Configure PCI passthrough / mediated devices on the KVM host and add them by hand."))
    if flags.get("usb"):
        out.append(finding("usb_devices", "warning", "%s has USB devices (%s); they are not migrated." % (
            name, ", ".join(flags["usb"])), "Attach the devices to the KVM host and the domain by hand."))
    if flags.get("cbt"):
        out.append(finding("cbt_enabled", "info",
                           "%s has changed block tracking on; the cold export copies whole disks." % name,
                           "Nothing to do."))
    return out


RULES = (no_disks, source_files, disk_space, uefi_firmware, guest_family, resources, source_disks, source_state,
         description_notes)


def evaluate(vm, host, waived=()):
    """All findings, blockers first; a waived code is kept but downgraded to a warning."""
    findings = []
    for rule in RULES:
        for item in rule(vm, host):
            if item["code"] in waived and item["severity"] == "blocker":
                item = dict(item, severity="warning", waived=True)
            findings.append(item)
    findings.sort(key=lambda f: SEVERITIES.index(f["severity"]))
    return findings
