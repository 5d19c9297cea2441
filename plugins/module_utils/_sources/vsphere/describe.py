# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vSphere property records -> VM descriptions (hyper2kvm.migrate/vm v1). Pure: no pyVmomi, no I/O.

A record is one object of the inventory query as query.to_record() makes it: {"_ref": "Type:id",
"<property path>": plain value, "_missing": {path: fault}}. Properties vSphere leaves unset are
absent and read as None. Data objects are dicts carrying their vSphere type in "_type", managed
object references are "Type:id" strings that index the other records of the same query.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hyper2kvm.migrate.plugins.module_utils import _model as model
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources import guest_os

POWER_STATES = {"poweredOn": "on", "poweredOff": "off", "suspended": "suspended"}
# controller device type -> (controller kind in the description, model)
CONTROLLERS = {
    "ParaVirtualSCSIController": ("scsi", "pvscsi"),
    "VirtualLsiLogicController": ("scsi", "lsilogic"),
    "VirtualLsiLogicSASController": ("scsi", "lsisas1068"),
    "VirtualBusLogicController": ("scsi", "buslogic"),
    "VirtualAHCIController": ("sata", "ahci"),
    "VirtualSATAController": ("sata", "sata"),
    "VirtualIDEController": ("ide", "ide"),
    "VirtualNVMEController": ("nvme", "nvme"),
}
# Without a disk in the boot order, the first disk in this controller order is taken as the boot disk.
BOOT_RANK = {"scsi": 0, "sata": 1, "nvme": 2, "ide": 3, "unknown": 4}
DISK_BACKINGS = {
    "VirtualDiskFlatVer2BackingInfo": "flat",
    "VirtualDiskFlatVer1BackingInfo": "flat",
    "VirtualDiskSeSparseBackingInfo": "sesparse",
    "VirtualDiskSparseVer2BackingInfo": "sparse",
    "VirtualDiskSparseVer1BackingInfo": "sparse",
    "VirtualDiskRawDiskMappingVer1BackingInfo": "rdm",
    "VirtualDiskRawDiskVer2BackingInfo": "host_device",
    "VirtualDiskPartitionedRawDiskVer2BackingInfo": "host_device",
    "VirtualDiskLocalPMemBackingInfo": "pmem",
}
NIC_MODELS = {
    "VirtualVmxnet3": "vmxnet3", "VirtualVmxnet3Vrdma": "vrdma", "VirtualVmxnet2": "vmxnet2",
    "VirtualVmxnet": "vmxnet", "VirtualE1000": "e1000", "VirtualE1000e": "e1000e",
    "VirtualPCNet32": "pcnet32", "VirtualSriovEthernetCard": "sriov",
}
PASSTHROUGH_DEVICES = ("VirtualPCIPassthrough",)  # PCI, dynamic DirectPath and vGPU alike
USB_DEVICES = ("VirtualUSB",)
_DATASTORE_PATH = re.compile(r"^\[([^\]]*)\]\s*(.*)$")


def kind_of(ref):
    """'VirtualMachine' from 'VirtualMachine:vm-42'."""
    return (ref or "").split(":", 1)[0]


def id_of(ref):
    """'vm-42' from 'VirtualMachine:vm-42'."""
    return (ref or "").split(":", 1)[-1]


def parse_datastore_path(path):
    """('ds1', 'web/web.vmdk') from '[ds1] web/web.vmdk'; (None, path) for anything else."""
    match = _DATASTORE_PATH.match(path or "")
    if not match:
        return None, path
    return match.group(1), match.group(2)


class Inventory(object):
    """The records of one query, indexed to name what a VM's references point at."""

    def __init__(self, records):
        self.by_ref = dict((record["_ref"], record) for record in records)
        self.portgroups = dict((record["key"], record) for record in records
                               if kind_of(record["_ref"]) == "DistributedVirtualPortgroup" and record.get("key"))

    def name(self, ref):
        return (self.by_ref.get(ref) or {}).get("name")

    def portgroup_name(self, key):
        record = self.portgroups.get(key) or self.by_ref.get("DistributedVirtualPortgroup:%s" % key)
        return (record or {}).get("name")

    def placement(self, vm_record):
        """{datacenter, folder, host, cluster} of a VM; folder is the inventory path, e.g. /DC0/vm/web."""
        host = self.by_ref.get(vm_record.get("runtime.host")) or {}
        compute = self.by_ref.get(host.get("parent")) or {}
        cluster = compute.get("name") if kind_of(compute.get("_ref")) == "ClusterComputeResource" else None
        names, datacenter, seen = [], None, set()
        ref = vm_record.get("parent")
        while ref in self.by_ref and ref not in seen:
            seen.add(ref)
            node = self.by_ref[ref]
            if kind_of(ref) == "Folder" and not node.get("parent"):
                break  # the root folder ("Datacenters") is not part of inventory paths
            if kind_of(ref) == "Datacenter" and datacenter is None:
                datacenter = node.get("name")
            names.append(node.get("name") or id_of(ref))
            ref = node.get("parent")
        folder = "/" + "/".join(reversed(names)) if names else None
        return {"datacenter": datacenter, "folder": folder, "host": host.get("name"), "cluster": cluster}


def unreadable(record):
    """Why a VM record cannot be described (it vanished, or nothing could be read), else None."""
    missing = record.get("_missing") or {}
    if "ManagedObjectNotFound" in missing.values():
        return ("VM %s was deleted while the inventory was being read; it is left out."
                % id_of(record["_ref"]))
    if not record.get("name"):
        faults = ", ".join(sorted(set(missing.values()))) or "no properties returned"
        return "VM %s could not be read (%s); it is left out." % (id_of(record["_ref"]), faults)
    return None


def _label(device):
    return (device.get("deviceInfo") or {}).get("label") or "device %s" % device.get("key")


def _chain(backing):
    """Files of a disk from the VM's current (snapshot delta) file down to the base disk."""
    files, seen = [], set()
    while backing and backing.get("fileName") and backing["fileName"] not in seen:
        seen.add(backing["fileName"])
        files.append(backing["fileName"])
        backing = backing.get("parent")
    return files


def _boot_disk_key(boot_order, disks):
    for item in boot_order or []:
        if item.get("_type") == "VirtualMachineBootOptionsBootableDiskDevice":
            return item.get("deviceKey")
    if not disks:
        return None
    first = min(disks, key=lambda d: (BOOT_RANK[d["controller"]], d["source"]["controller_bus"], d["unit"]))
    return first["source"]["key"]


def _disks(devices, boot_order, inventory):
    controllers = dict((d.get("key"), d) for d in devices if d.get("_type") in CONTROLLERS)
    disks = []
    for device in devices:
        if device.get("_type") != "VirtualDisk":
            continue
        controller = controllers.get(device.get("controllerKey")) or {}
        kind, controller_model = CONTROLLERS.get(controller.get("_type"), ("unknown", None))
        bus = controller.get("busNumber", 0)
        unit = device.get("unitNumber", 0)
        backing = device.get("backing") or {}
        ds_name, ds_path = parse_datastore_path(backing.get("fileName"))
        disk_mode = backing.get("diskMode")
        rdm = backing.get("_type") == "VirtualDiskRawDiskMappingVer1BackingInfo"
        capacity = device.get("capacityInBytes") or (device.get("capacityInKB") or 0) * 1024
        source = {
            "key": device.get("key"),
            "label": _label(device),
            "datastore": inventory.name(backing.get("datastore")) or ds_name,
            "file": backing.get("fileName"),
            "path": ds_path,
            "backing": DISK_BACKINGS.get(backing.get("_type"), backing.get("_type")),
            "disk_mode": disk_mode,
            "independent": bool(disk_mode and disk_mode.startswith("independent")),
            "sharing": backing.get("sharing"),
            "thin": bool(backing.get("thinProvisioned")),
            "eager_zeroed": bool(backing.get("eagerlyScrub")),
            "compatibility_mode": backing.get("compatibilityMode") if rdm else None,
            "lun_uuid": backing.get("lunUuid") if rdm else None,
            "uuid": backing.get("uuid"),
            "encrypted": bool(backing.get("keyId")),
            "chain": _chain(backing),
            "controller_model": controller_model,
            "controller_bus": bus,
        }
        disk_id = "%s%d:%d" % (kind, bus, unit) if kind != "unknown" else "disk-%s" % device.get("key")
        disks.append(model.new_disk(disk_id, capacity, controller=kind, unit=unit, source=source))
    boot_key = _boot_disk_key(boot_order, disks)
    for disk in disks:
        disk["boot"] = disk["source"]["key"] == boot_key
    return disks


def _nic_network(backing, inventory):
    """(network name, port group key, switch uuid) of a NIC backing."""
    kind = backing.get("_type")
    if kind == "VirtualEthernetCardDistributedVirtualPortBackingInfo":
        port = backing.get("port") or {}
        key = port.get("portgroupKey")
        return inventory.portgroup_name(key) or key, key, port.get("switchUuid")
    if kind == "VirtualEthernetCardOpaqueNetworkBackingInfo":
        return backing.get("opaqueNetworkId"), None, None
    return inventory.name(backing.get("network")) or backing.get("deviceName"), None, None


def _nics(devices, guest_net, inventory):
    ips = {}
    for entry in guest_net or []:
        if entry.get("macAddress"):
            ips.setdefault(entry["macAddress"].lower(), []).extend(entry.get("ipAddress") or [])
    nics = []
    for device in devices:
        if device.get("_type") not in NIC_MODELS:
            continue
        mac = (device.get("macAddress") or "").lower() or None
        network, portgroup_key, switch_uuid = _nic_network(device.get("backing") or {}, inventory)
        connectable = device.get("connectable") or {}
        nic = model.new_nic(mac=mac, network=network, model=NIC_MODELS[device["_type"]], ip=ips.get(mac))
        nic["source"] = {
            "key": device.get("key"),
            "label": _label(device),
            "address_type": device.get("addressType"),
            "portgroup_key": portgroup_key,
            "switch_uuid": switch_uuid,
            "start_connected": connectable.get("startConnected"),
            "connected": connectable.get("connected"),
        }
        nics.append(nic)
    return nics


def _snapshots(info):
    """(names in tree order, name of the current snapshot) from a VirtualMachineSnapshotInfo."""
    names, current = [], None
    pending = list((info or {}).get("rootSnapshotList") or [])
    while pending:
        node = pending.pop(0)
        names.append(node.get("name"))
        if node.get("snapshot") and node.get("snapshot") == (info or {}).get("currentSnapshot"):
            current = node.get("name")
        pending[0:0] = node.get("childSnapshotList") or []
    return names, current


def _flags(record, devices, disks):
    """What preflight needs to know and the description has no field for."""
    names, current = _snapshots(record.get("snapshot"))
    return {
        "snapshot": bool(names),
        "snapshot_count": len(names),
        "current_snapshot": current,
        "cbt": bool(record.get("config.changeTrackingEnabled")),
        "encrypted": bool(record.get("config.keyId")) or any(d["source"]["encrypted"] for d in disks),
        "template": bool(record.get("config.template")),
        "passthrough": [_label(d) for d in devices if d.get("_type") in PASSTHROUGH_DEVICES],
        "usb": [_label(d) for d in devices if d.get("_type") in USB_DEVICES],
        "connection_state": record.get("runtime.connectionState"),
    }


def describe_vm(record, inventory, server=None):
    """One VM description from a VirtualMachine record; returns (description, warnings)."""
    warnings = []
    placement = inventory.placement(record)
    vm = model.new_vm(
        record["name"], "vsphere", id_of(record["_ref"]), server=server,
        instance_uuid=record.get("config.instanceUuid"), bios_uuid=record.get("config.uuid"),
        vmx_path=record.get("config.files.vmPathName"), hardware_version=record.get("config.version"),
        **placement)
    vm["power_state"] = POWER_STATES.get(record.get("runtime.powerState"), "unknown")
    vm["firmware"] = "uefi" if record.get("config.firmware") == "efi" else "bios"
    vm["secure_boot"] = vm["firmware"] == "uefi" and bool(record.get("config.bootOptions.efiSecureBootEnabled"))
    vm["cpus"] = record.get("config.hardware.numCPU") or vm["cpus"]
    vm["cores_per_socket"] = record.get("config.hardware.numCoresPerSocket") or 1
    vm["memory_mib"] = record.get("config.hardware.memoryMB") or vm["memory_mib"]
    guest = guest_os.hints(vmware_type=record.get("config.guestId"), description=record.get("config.guestFullName"))
    guest["hostname"] = record.get("guest.hostName")
    vm["guest"] = guest
    devices = record.get("config.hardware.device") or []
    vm["disks"] = _disks(devices, record.get("config.bootOptions.bootOrder"), inventory)
    vm["nics"] = _nics(devices, record.get("guest.net"), inventory)
    vm["source"]["flags"] = _flags(record, devices, vm["disks"])
    if "config.hardware.memoryMB" not in record:
        message = ("The configuration of VM %s (%s) could not be read (connection state: %s): its hardware "
                   "is unknown." % (vm["name"], vm["source"]["id"], record.get("runtime.connectionState")))
        model.add_note(vm, "discover", "warning", message,
                       fix="Make the VM accessible in vCenter (reconnect its host, re-register it) and discover again.")
        warnings.append(message)
    return vm, warnings


def describe_inventory(records, server=None):
    """(VM descriptions sorted by name, warnings) from all records of one inventory query."""
    inventory = Inventory(records)
    vms, warnings = [], []
    for record in records:
        if kind_of(record["_ref"]) != "VirtualMachine":
            continue
        problem = unreadable(record)
        if problem:
            warnings.append(problem)
            continue
        vm, vm_warnings = describe_vm(record, inventory, server)
        vms.append(vm)
        warnings.extend(vm_warnings)
    vms.sort(key=lambda vm: (vm["name"], vm["source"]["id"]))
    return vms, warnings
