# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Azure VMs as VM descriptions. Pure functions over ARM JSON; no SDK, no network.

Input is a VM resource as Azure Resource Manager returns it (camelCase JSON, with
properties.instanceView when listed with $expand=instanceView) and optionally the subscription's
network interface resources by lower-cased ARM id, which carry the MAC and private addresses.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hyper2kvm.migrate.plugins.module_utils import _model
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources import guest_os
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.azure import sizes

GIB = 1024 ** 3
STAGE = "discover"
# PowerState/<code> of the instance view -> neutral power state
POWER_STATES = {"running": "on", "starting": "on", "stopping": "on", "stopped": "off",
                "deallocating": "off", "deallocated": "off"}
UEFI_SECURITY_TYPES = ("trustedlaunch", "confidentialvm")
_NOT_VERSIONS = re.compile(r"x86_64|x64|arm64|aarch64|gen[12]")


def parse_id(arm_id):
    """The name/value pairs of an ARM id, with lower-cased names:
    /subscriptions/S/resourceGroups/R/providers/Microsoft.Compute/virtualMachines/V ->
    {"subscriptions": S, "resourcegroups": R, "providers": "Microsoft.Compute", "virtualmachines": V}."""
    parts = [part for part in (arm_id or "").split("/") if part]
    return dict((parts[i].lower(), parts[i + 1]) for i in range(0, len(parts) - 1, 2))


def _props(resource):
    return (resource or {}).get("properties") or {}


def power_state(vm):
    """(neutral power state, Azure's own word or None) from the instance view statuses."""
    view = _props(vm).get("instanceView") or {}
    for status in view.get("statuses") or []:
        code = status.get("code") or ""
        if code.startswith("PowerState/"):
            raw = code.split("/", 1)[1]
            return POWER_STATES.get(raw, "unknown"), raw
    return "unknown", None


def _firmware(vm, desc):
    props = _props(vm)
    security = props.get("securityProfile") or {}
    security_type = (security.get("securityType") or "").lower()
    generation = (props.get("instanceView") or {}).get("hyperVGeneration")
    if security_type in UEFI_SECURITY_TYPES:
        uefi = security.get("uefiSettings") or {}
        desc["firmware"] = "uefi"
        desc["secure_boot"] = bool(uefi.get("secureBootEnabled"))
        if uefi.get("vTpmEnabled"):
            _model.add_note(desc, STAGE, "info", "The VM has a virtual TPM; its contents are not migrated.",
                            fix="Re-seal anything bound to the TPM (BitLocker, LUKS with TPM) after migration.")
    elif generation:
        desc["firmware"] = "uefi" if generation.upper() == "V2" else "bios"
    else:
        sku = ((props.get("storageProfile") or {}).get("imageReference") or {}).get("sku") or ""
        desc["firmware"] = "uefi" if "gen2" in sku.lower() else "bios"
        _model.add_note(desc, STAGE, "warning",
                        "The Hyper-V generation is unknown (no instance view); firmware %s is a guess."
                        % desc["firmware"], fix="Inspect the disk (guest_info) to confirm the boot mode.")
    return generation


def _version(text):
    """'22.04' from '22_04-lts-gen2', '12' from 'debian-12', '2022' from '2022-datacenter', else None."""
    cleaned = _NOT_VERSIONS.sub("", text.lower())
    # A number not glued to letters and without a leading zero (offers like "0001-com-ubuntu-server").
    match = re.search(r"(?:^|[^a-z0-9])([1-9]\d*)(?:[._](\d+))?(?=$|[^0-9])", cleaned)
    if not match:
        return None
    return match.group(1) + ("." + match.group(2) if match.group(2) else "")


def _guest(vm, desc):
    props = _props(vm)
    storage = props.get("storageProfile") or {}
    image = storage.get("imageReference") or {}
    view = props.get("instanceView") or {}
    guest = desc["guest"]
    os_type = ((storage.get("osDisk") or {}).get("osType") or "").lower()
    guest["family"] = os_type if os_type in ("linux", "windows") else None
    offer, sku = image.get("offer") or "", image.get("sku") or ""
    words = re.split(r"[-_ ]+", ("%s %s %s" % (image.get("publisher") or "", offer, sku)).lower())
    for word in words:
        if word in guest_os.DISTROS:
            guest["distro"] = guest_os.DISTROS[word]
            break
        if word.startswith("windows"):
            guest["distro"] = "windows"
            break
    guest["version"] = (_version(offer) or _version(sku)) if guest["distro"] else None
    os_name, os_version = (view.get("osName") or "").lower(), view.get("osVersion")
    if os_name and guest["family"] == "linux" and os_name in guest_os.DISTROS:  # reported by the VM agent
        guest["distro"], guest["version"] = guest_os.DISTROS[os_name], os_version or guest["version"]
    elif os_name.startswith("windows"):
        year = re.search(r"20\d\d", os_name)
        guest["distro"], guest["version"] = "windows", year.group(0) if year else guest["version"]
    guest["hostname"] = (props.get("osProfile") or {}).get("computerName") or view.get("computerName")
    if "arm64" in sku.lower():
        guest["arch"] = "aarch64"


def _disk(entry, kind, controller, unit):
    managed = entry.get("managedDisk") or {}
    size_gb = entry.get("diskSizeGB")
    source = {
        "kind": kind,
        "name": entry.get("name"),
        "managed_disk_id": managed.get("id"),
        "storage_account_type": managed.get("storageAccountType"),
        "lun": entry.get("lun"),
        "caching": entry.get("caching"),
        "write_accelerator": bool(entry.get("writeAcceleratorEnabled")),
        "vhd_uri": (entry.get("vhd") or {}).get("uri"),
    }
    return _model.new_disk(entry.get("name") or ("os" if kind == "os" else "lun%s" % entry.get("lun")),
                           size_gb * GIB if isinstance(size_gb, int) else None,
                           controller=controller, unit=unit, boot=kind == "os", source=source)


def _disks(vm, desc):
    storage = _props(vm).get("storageProfile") or {}
    controller = (storage.get("diskControllerType") or "scsi").lower()
    if controller not in _model.CONTROLLERS:
        controller = "unknown"
    os_disk = storage.get("osDisk") or {}
    desc["disks"].append(_disk(os_disk, "os", controller, 0))
    if os_disk.get("diffDiskSettings"):
        _model.add_note(desc, STAGE, "error", "The OS disk is ephemeral: Azure cannot export it.",
                        fix="Capture the VM to an image or snapshot first, or migrate its data another way.")
    # The OS disk takes unit 0; data disk LUN n becomes unit n + 1 (source.lun keeps Azure's number).
    for entry in sorted(storage.get("dataDisks") or [], key=lambda d: d.get("lun") or 0):
        desc["disks"].append(_disk(entry, "data", controller, (entry.get("lun") or 0) + 1))
    if any(d["source"]["vhd_uri"] for d in desc["disks"]):
        _model.add_note(desc, STAGE, "warning", "The VM has unmanaged disks (VHD page blobs in a storage account).",
                        fix="Convert them to managed disks, or export the page blobs with storage credentials.")


def _mac(value):
    """'00-0D-3A-AA-BB-01' (Azure's spelling) -> '00:0d:3a:aa:bb:01'."""
    return value.replace("-", ":").lower() if value else None


def _nics(vm, desc, nics_by_id):
    refs = (_props(vm).get("networkProfile") or {}).get("networkInterfaces") or []
    for ref in refs:
        nic_id = ref.get("id") or ""
        resource = (nics_by_id or {}).get(nic_id.lower())
        props = _props(resource)
        configs = [_props(c) for c in props.get("ipConfigurations") or []]
        subnet = parse_id(((configs[0].get("subnet") if configs else None) or {}).get("id"))
        network = "%s/%s" % (subnet["virtualnetworks"], subnet["subnets"]) if "subnets" in subnet else None
        nic = _model.new_nic(mac=_mac(props.get("macAddress")), network=network, model="netvsc",
                             ip=[c["privateIPAddress"] for c in configs if c.get("privateIPAddress")])
        nic["source"] = {"id": nic_id, "name": parse_id(nic_id).get("networkinterfaces"),
                         "primary": bool(_props(ref).get("primary", len(refs) == 1)),
                         "accelerated_networking": bool(props.get("enableAcceleratedNetworking"))}
        desc["nics"].append(nic)


def _hardware(vm, desc):
    size = (_props(vm).get("hardwareProfile") or {}).get("vmSize")
    known = sizes.lookup(size)
    if known is None:
        _model.add_note(desc, STAGE, "warning",
                        "VM size %s is not in the built-in table: cpus and memory_mib are placeholders." % size,
                        fix="Set cpus and memory_mib on the description (see 'az vm list-sizes') before defining it.")
        return
    desc["cpus"] = desc["cores_per_socket"] = known["cpus"]
    desc["memory_mib"] = known["memory_mib"]
    desc["guest"]["arch"] = desc["guest"]["arch"] or known["arch"]


def describe_vm(vm, nics_by_id=None):
    """The VM description (hyper2kvm.migrate/vm v1) of one ARM VM resource."""
    props = _props(vm)
    ids = parse_id(vm.get("id"))
    neutral, raw = power_state(vm)
    security = props.get("securityProfile") or {}
    desc = _model.new_vm(
        vm.get("name"), "azure", vm.get("id"),
        subscription=ids.get("subscriptions"), resource_group=ids.get("resourcegroups"),
        location=vm.get("location"), vm_id=props.get("vmId"),
        size=(props.get("hardwareProfile") or {}).get("vmSize"), zones=list(vm.get("zones") or []),
        tags=dict(vm.get("tags") or {}), power_state=raw, security_type=security.get("securityType"),
        image=dict((props.get("storageProfile") or {}).get("imageReference") or {}) or None)
    desc["power_state"] = neutral
    desc["source"]["hyperv_generation"] = _firmware(vm, desc)
    _guest(vm, desc)
    _hardware(vm, desc)
    _disks(vm, desc)
    _nics(vm, desc, nics_by_id)
    return _model.validate(desc)
