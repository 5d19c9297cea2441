"""Seed the simulator through pyVmomi, the way an administrator's tooling would: CreateVM_Task with
varied hardware, ReconfigVM_Task, power operations and a snapshot. SEEDED says what was made, for
the tests to compare with what discovery reports."""

from __future__ import annotations

from pyVim.task import WaitForTask
from pyVmomi import vim

GIB = 1024 ** 3
DATASTORE = "LocalDS_0"

# name -> what was configured (folder relative to /DC0/vm; disks as (controller id, GiB, thin, mode);
# nics as (model, mac, network)).
SEEDED = {
    "deb12-efi": {
        "folder": "linux", "cluster": "DC0_C0", "guest_id": "debian12_64Guest", "power": "on",
        "firmware": "uefi", "secure_boot": True, "cpus": 2, "cores": 1, "memory_mib": 2048,
        "controllers": {"pvscsi": 0},
        "disks": [("scsi0:0", 10, True, "persistent"), ("scsi0:1", 20, False, "independent_persistent")],
        "nics": [("vmxnet3", "00:50:56:3f:00:01", "VM Network"), ("vmxnet3", "00:50:56:3f:00:02", "DC0_DVPG1")],
    },
    "win2019": {
        "folder": "windows", "cluster": "DC0_C1", "guest_id": "windows2019srv_64Guest", "power": "suspended",
        "firmware": "uefi", "secure_boot": False, "cpus": 4, "cores": 2, "memory_mib": 4096,
        "controllers": {"lsisas1068": 0, "ahci": 0},
        "disks": [("scsi0:0", 40, True, "persistent"), ("sata0:0", 8, True, "persistent")],
        "nics": [("e1000e", "00:50:56:3f:00:11", "DC0_DVPG0")],
    },
    "rhel9-snap": {
        "folder": "linux", "cluster": "DC0_C0", "guest_id": "rhel9_64Guest", "power": "off",
        "firmware": "bios", "secure_boot": False, "cpus": 1, "cores": 1, "memory_mib": 1024,
        "controllers": {"lsilogic": 0, "ahci": 0},
        "disks": [("scsi0:0", 16, True, "persistent"), ("sata0:1", 4, True, "persistent")],
        "nics": [("e1000", "00:50:56:3f:00:21", "VM Network"), ("vmxnet3", "00:50:56:3f:00:22", "DC0_DVPG1")],
        "snapshot": "before-migration", "cbt": True,
    },
}

_CONTROLLER_CLASSES = {
    "pvscsi": vim.vm.device.ParaVirtualSCSIController,
    "lsilogic": vim.vm.device.VirtualLsiLogicController,
    "lsisas1068": vim.vm.device.VirtualLsiLogicSASController,
}
_NIC_CLASSES = {"vmxnet3": vim.vm.device.VirtualVmxnet3, "e1000": vim.vm.device.VirtualE1000,
                "e1000e": vim.vm.device.VirtualE1000e}


def _add(device, create_file=False):
    spec = vim.vm.device.VirtualDeviceSpec(operation=vim.vm.device.VirtualDeviceSpec.Operation.add, device=device)
    if create_file:
        spec.fileOperation = vim.vm.device.VirtualDeviceSpec.FileOperation.create
    return spec


def _controller(model, key, bus):
    if model == "ahci":
        return vim.vm.device.VirtualAHCIController(key=key, busNumber=bus)
    return _CONTROLLER_CLASSES[model](key=key, busNumber=bus, sharedBus="noSharing")


def _disk(name, key, controller_key, unit, gib, thin, mode, index):
    backing = vim.vm.device.VirtualDisk.FlatVer2BackingInfo(
        fileName="[%s] %s/%s_%d.vmdk" % (DATASTORE, name, name, index), diskMode=mode, thinProvisioned=thin)
    return vim.vm.device.VirtualDisk(key=key, controllerKey=controller_key, unitNumber=unit,
                                     capacityInKB=gib * GIB // 1024, backing=backing)


def _nic(model, key, mac, network):
    if isinstance(network, vim.dvs.DistributedVirtualPortgroup):
        port = vim.dvs.PortConnection(portgroupKey=network.key,
                                      switchUuid=network.config.distributedVirtualSwitch.uuid)
        backing = vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo(port=port)
    else:
        backing = vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(deviceName=network.name, network=network)
    return _NIC_CLASSES[model](key=key, macAddress=mac, addressType="manual", backing=backing)


def _datacenter(content):
    return next(entity for entity in content.rootFolder.childEntity if isinstance(entity, vim.Datacenter))


def _device_specs(name, want, networks, nic_slice):
    """Controllers and disks (and the NICs in nic_slice) of one seeded VM as add specs."""
    specs, controller_keys = [], {}
    for index, (model, bus) in enumerate(sorted(want["controllers"].items())):
        key = -100 - index
        controller_keys["sata" if model == "ahci" else "scsi"] = key
        specs.append(_add(_controller(model, key, bus)))
    for index, (slot, gib, thin, mode) in enumerate(want["disks"]):
        kind, unit = slot.split(":")
        specs.append(_add(_disk(name, -200 - index, controller_keys[kind[:-1]], int(unit), gib, thin, mode, index),
                          create_file=True))
    for index, (model, mac, network) in enumerate(want["nics"][nic_slice]):
        specs.append(_add(_nic(model, -300 - index, mac, networks[network])))
    return specs


def seed(si, seeded=None):
    """Create the SEEDED VMs; return {name: vim.VirtualMachine}."""
    seeded = seeded or SEEDED
    content = si.RetrieveContent()
    dc = _datacenter(content)
    folders = {name: dc.vmFolder.CreateFolder(name) for name in sorted({w["folder"] for w in seeded.values()})}
    clusters = {c.name: c for c in dc.hostFolder.childEntity if isinstance(c, vim.ClusterComputeResource)}
    networks = {net.name: net for net in dc.network}
    made = {}
    for name, want in seeded.items():
        # The first NIC comes with CreateVM_Task, any others with ReconfigVM_Task.
        config = vim.vm.ConfigSpec(
            name=name, guestId=want["guest_id"], numCPUs=want["cpus"], numCoresPerSocket=want["cores"],
            memoryMB=want["memory_mib"], firmware="efi" if want["firmware"] == "uefi" else "bios",
            files=vim.vm.FileInfo(vmPathName="[%s]" % DATASTORE),
            deviceChange=_device_specs(name, want, networks, slice(0, 1)))
        if want["firmware"] == "uefi":
            config.bootOptions = vim.vm.BootOptions(efiSecureBootEnabled=want["secure_boot"])
        WaitForTask(folders[want["folder"]].CreateVM_Task(config=config, pool=clusters[want["cluster"]].resourcePool))
        vm = next(child for child in folders[want["folder"]].childEntity if child.name == name)
        more = [_add(_nic(model, -310 - i, mac, networks[net]))
                for i, (model, mac, net) in enumerate(want["nics"][1:])]
        reconfig = vim.vm.ConfigSpec(deviceChange=more, changeTrackingEnabled=want.get("cbt") or None)
        WaitForTask(vm.ReconfigVM_Task(spec=reconfig))
        if want.get("snapshot"):
            WaitForTask(vm.CreateSnapshot_Task(name=want["snapshot"], memory=False, quiesce=False))
        if want["power"] in ("on", "suspended"):
            WaitForTask(vm.PowerOnVM_Task())
        if want["power"] == "suspended":
            WaitForTask(vm.SuspendVM_Task())
        made[name] = vm
    return made


def create_plain_vm(si, name):
    """A powered-off VM with no devices (the one the vanished-mid-run test deletes)."""
    content = si.RetrieveContent()
    dc = _datacenter(content)
    cluster = next(c for c in dc.hostFolder.childEntity if isinstance(c, vim.ClusterComputeResource))
    config = vim.vm.ConfigSpec(name=name, guestId="otherGuest64", files=vim.vm.FileInfo(vmPathName="[%s]" % DATASTORE))
    WaitForTask(dc.vmFolder.CreateVM_Task(config=config, pool=cluster.resourcePool))
    return next(child for child in dc.vmFolder.childEntity if child.name == name)


# --- VMs with real disks, for the export tests (kept apart from SEEDED, which discovery tests compare with) ---

def datastore_dir(si, name=DATASTORE) -> str:
    """The local folder behind a simulator datastore (its info.url is a plain path)."""
    dc = _datacenter(si.RetrieveContent())
    return next(ds for ds in dc.datastore if ds.name == name).info.url


def flat_descriptor(name: str, size: int, cid: str = "3f1a2b4c") -> str:
    """The descriptor ESXi writes for a thin disk of size bytes whose data is <name>-flat.vmdk."""
    sectors = size // 512
    return ("# Disk DescriptorFile\nversion=1\nencoding=\"UTF-8\"\nCID=%s\nparentCID=ffffffff\ncreateType=\"vmfs\"\n\n"
            "# Extent description\nRW %d VMFS \"%s-flat.vmdk\"\n\n# The Disk Data Base\n#DDB\n\n"
            "ddb.adapterType = \"lsilogic\"\nddb.geometry.cylinders = \"%d\"\nddb.geometry.heads = \"255\"\n"
            "ddb.geometry.sectors = \"63\"\nddb.thinProvisioned = \"1\"\nddb.virtualHWVersion = \"19\"\n"
            % (cid, sectors, name, max(1, sectors // (255 * 63))))


def create_disk_vm(si, name, folder_name, disk_files, capacity, power="off", chain=None):
    """A VM whose one disk (pvscsi 0:0) is the file disk_files(folder) puts into the VM's own datastore folder.

    disk_files(path) must write the disk's files into path and return the top descriptor's name; chain,
    when given, lists the parent descriptors below it (top first), as vSphere reports a snapshot chain.
    The VM is made first (the simulator names its folder) and the disk added with ReconfigVM_Task, with
    no fileOperation: the files are ours. The simulator insists that <top>-flat.vmdk exists for any disk
    it attaches, so a delta on top gets an empty file of that name (nothing reads it).
    """
    import os

    content = si.RetrieveContent()
    dc = _datacenter(content)
    cluster = next(c for c in dc.hostFolder.childEntity if isinstance(c, vim.ClusterComputeResource))
    folders = {f.name: f for f in dc.vmFolder.childEntity if isinstance(f, vim.Folder)}
    target = folders.get(folder_name) or dc.vmFolder.CreateFolder(folder_name)
    controller = vim.vm.device.ParaVirtualSCSIController(key=-100, busNumber=0, sharedBus="noSharing")
    config = vim.vm.ConfigSpec(name=name, guestId="debian12_64Guest", numCPUs=1, memoryMB=1024,
                               files=vim.vm.FileInfo(vmPathName="[%s]" % DATASTORE), deviceChange=[_add(controller)])
    WaitForTask(target.CreateVM_Task(config=config, pool=cluster.resourcePool))
    vm = next(child for child in target.childEntity if child.name == name)
    vm_dir = vm.config.files.vmPathName.split("] ", 1)[1].rsplit("/", 1)[0]
    local = os.path.join(datastore_dir(si), vm_dir)
    top = disk_files(local)
    flat = os.path.join(local, top.replace(".vmdk", "-flat.vmdk"))
    if not os.path.exists(flat):
        open(flat, "wb").close()
    parent = None
    for item in reversed(chain or []):
        parent = vim.vm.device.VirtualDisk.FlatVer2BackingInfo(
            fileName="[%s] %s/%s" % (DATASTORE, vm_dir, item), diskMode="persistent", parent=parent)
    backing = vim.vm.device.VirtualDisk.FlatVer2BackingInfo(
        fileName="[%s] %s/%s" % (DATASTORE, vm_dir, top), diskMode="persistent", thinProvisioned=True, parent=parent)
    scsi = next(d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.ParaVirtualSCSIController))
    disk = vim.vm.device.VirtualDisk(key=-200, controllerKey=scsi.key, unitNumber=0, capacityInKB=capacity // 1024,
                                     backing=backing)
    WaitForTask(vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(deviceChange=[_add(disk)])))
    if power == "on":
        WaitForTask(vm.PowerOnVM_Task())
    return vm, local


def add_nic(si, vm, model, mac, network_name):
    """Give vm one more NIC (model as in SEEDED, a fixed MAC) on the named network."""
    networks = {net.name: net for net in _datacenter(si.RetrieveContent()).network}
    nic = _nic(model, -300 - len(vm.config.hardware.device), mac, networks[network_name])
    WaitForTask(vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(deviceChange=[_add(nic)])))
