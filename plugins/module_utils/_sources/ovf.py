# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""OVF descriptor -> VM descriptions (one per VirtualSystem).

Pure: takes the descriptor bytes and says where it came from; never opens a file. The container
layer (ova.py) checks that every referenced file exists and is safe to read.

Tolerant by design: OVF 1.x and 2.0, ovftool, VirtualBox and hand-written descriptors disagree on
namespaces, units and which properties they fill. Anything odd becomes a note on the VM; we fail
only where guessing would produce a wrong description (a disk item naming an undefined disk, a
memory unit we cannot read).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.hyper2kvm.migrate.plugins.module_utils import _xml
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import InvalidInputError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._model import add_note, new_disk, new_nic, new_vm
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources import guest_os

# CIM ResourceType values (DSP1041 / CIM_ResourceAllocationSettingData).
RT_CPU, RT_MEMORY, RT_IDE, RT_SCSI, RT_NIC, RT_DISK, RT_OTHER_STORAGE = 3, 4, 5, 6, 10, 17, 20
ITEM_TAGS = ("Item", "StorageItem", "EthernetPortItem")  # OVF 1.x rasd items; OVF 2 sasd/epasd items

MIB = 1 << 20
_NAMED_UNITS = {
    "byte": 1, "bytes": 1,
    "kilobyte": 1 << 10, "kilobytes": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
    "megabyte": MIB, "megabytes": MIB, "mb": MIB, "mib": MIB,
    "gigabyte": 1 << 30, "gigabytes": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
    "terabyte": 1 << 40, "terabytes": 1 << 40, "tb": 1 << 40, "tib": 1 << 40,
}
_POWER_UNIT = re.compile(r"^bytes?\*(\d+)\^(\d+)$")   # DMTF programmatic units: "byte * 2^20"
_FACTOR_UNIT = re.compile(r"^bytes?\*(\d+)$")
_HOST_RESOURCE = re.compile(r"^(?:ovf:)?/+(disk|file)/(.+)$", re.IGNORECASE)
_MAC = re.compile(r"^[0-9a-f]{12}$")

_NIC_MODELS = {"vmxnet3": "vmxnet3", "vmxnet2": "vmxnet2", "vmxnet": "vmxnet", "e1000": "e1000",
               "e1000e": "e1000e", "pcnet32": "pcnet", "pcnet": "pcnet", "virtio": "virtio",
               "virtio-net": "virtio", "rtl8139": "rtl8139", "sriovethernetcard": "sriov"}
_SCSI_MODELS = {"lsilogic": "lsilogic", "lsilogicsas": "lsilogicsas", "buslogic": "buslogic",
                "virtualscsi": "pvscsi", "pvscsi": "pvscsi", "virtioscsi": "virtio-scsi"}

_TRUE = ("true", "1", "yes", "on")
# Substrings of DiskSection format URIs that are not VMware's (qcow2 spec page, VHD "LinkId=137171").
_FORMAT_MARKERS = (("qcow", "qcow2"), ("vhdx", "vhdx"), ("vhd", "vhd"), ("137171", "vhd"),
                   ("raw", "raw"))


def parse(data, container, path, descriptor):
    """Read an OVF descriptor.

    container: "ova" or "ovf"; path: the .ova file, or the .ovf file of an OVF directory;
    descriptor: the descriptor's member or file name (for messages).
    Returns {"vms": [...], "files": [{"id", "href", "size", "compression", "chunk_size"}],
    "warnings": [...]}.
    """
    what = "OVF descriptor %s" % descriptor
    root = _xml.parse(data, what)
    if _xml.local_name(root.tag) != "Envelope":
        raise InvalidInputError("%s is not an OVF envelope (root element <%s>)."
                                % (what, _xml.local_name(root.tag)),
                                fix="Pass an .ova archive or an .ovf descriptor.")
    warnings = []
    ns = _xml.namespace(root.tag)
    if ns not in _xml.OVF_NS:
        warnings.append("%s uses envelope namespace %r, not OVF 1.x/2.0; read tolerantly." % (what, ns))
    ctx = {
        "container": container,
        "path": path,
        "descriptor": descriptor,
        "ovf_version": "2" if ns.endswith("/2") else "1",
        "files": _references(root, what),
        "config": _default_configuration(root),
    }
    ctx["disks"] = _disk_section(root, what, ctx["files"])
    systems = _xml.descendants(root, "VirtualSystem")  # also those inside a VirtualSystemCollection
    if not systems:
        raise InvalidInputError("%s describes no VirtualSystem." % what,
                                fix="Check that the export finished; the descriptor holds no VM.")
    vms = [_vm(vs, index, ctx) for index, vs in enumerate(systems)]
    ids = [vm["source"]["id"] for vm in vms]
    for dup in sorted(set(i for i in ids if ids.count(i) > 1)):
        warnings.append("%s has several VirtualSystems with id %r." % (what, dup))
    return {"vms": vms, "files": list(ctx["files"].values()), "warnings": warnings}


def unit_multiplier(units, what):
    """Bytes per unit for an AllocationUnits string ('byte * 2^20', 'MegaBytes', '')."""
    if units is None or not units.strip():
        return 1
    compact = re.sub(r"\s+", "", units).lower()
    if compact in _NAMED_UNITS:
        return _NAMED_UNITS[compact]
    match = _POWER_UNIT.match(compact)
    if match and int(match.group(2)) <= 60:
        return int(match.group(1)) ** int(match.group(2))
    match = _FACTOR_UNIT.match(compact)
    if match:
        return int(match.group(1))
    raise InvalidInputError("%s uses allocation units %r, which we cannot read." % (what, units),
                            fix="Use units like 'byte * 2^20' or 'MegaBytes' in the descriptor.")


def _int(value, what):
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise InvalidInputError("%s is %r, not an integer." % (what, value),
                                fix="Re-export the VM; OVF properties (${...}) are not supported here.")


def _references(root, what):
    files = {}
    refs = _xml.child(root, "References")
    for elem in _xml.children(refs, "File") if refs is not None else []:
        file_id, href = _xml.attr(elem, "id"), _xml.attr(elem, "href")
        if not file_id or not href:
            raise InvalidInputError("%s has a References/File without ovf:id or ovf:href." % what)
        if file_id in files:
            raise InvalidInputError("%s defines file id %r twice." % (what, file_id))
        size = _xml.attr(elem, "size")
        chunk = _xml.attr(elem, "chunkSize")
        files[file_id] = {
            "id": file_id, "href": href,
            "size": _int(size, "%s size of %s" % (what, href)) if size else None,
            "compression": _xml.attr(elem, "compression") or None,
            "chunk_size": _int(chunk, "%s chunkSize of %s" % (what, href)) if chunk else None,
        }
    return files


def _disk_section(root, what, files):
    disks = {}
    for section in _xml.children(root, "DiskSection") + _xml.children(root, "VirtualDiskSection"):
        for elem in _xml.children(section, "Disk"):
            disk_id = _xml.attr(elem, "diskId")
            if not disk_id:
                raise InvalidInputError("%s has a DiskSection/Disk without ovf:diskId." % what)
            if disk_id in disks:
                raise InvalidInputError("%s defines disk id %r twice." % (what, disk_id))
            label = "%s disk %s" % (what, disk_id)
            file_ref = _xml.attr(elem, "fileRef")
            if file_ref and file_ref not in files:
                raise InvalidInputError("%s refers to file %r, which References does not define."
                                        % (label, file_ref), fix="Re-export the VM.")
            capacity = _xml.attr(elem, "capacity")
            populated = _xml.attr(elem, "populatedSize")
            disks[disk_id] = {
                "capacity_bytes": _int(capacity, label + " capacity") * unit_multiplier(
                    _xml.attr(elem, "capacityAllocationUnits"), label) if capacity else None,
                "populated_bytes": _int(populated, label + " populatedSize") if populated else None,
                "format_uri": _xml.attr(elem, "format"),
                "file": files.get(file_ref),
            }
    return disks


def _default_configuration(root):
    # Items tagged ovf:configuration apply only to that deployment option; we describe the default.
    section = _xml.child(root, "DeploymentOptionSection")
    configs = _xml.children(section, "Configuration") if section is not None else []
    for conf in configs:
        if (_xml.attr(conf, "default") or "").lower() == "true":
            return _xml.attr(conf, "id")
    return _xml.attr(configs[0], "id") if configs else None


def _props(item):
    """Local property name -> list of texts; HostResource and Connection may repeat."""
    out = {}
    for elem in item:
        out.setdefault(_xml.local_name(elem.tag), []).append((elem.text or "").strip())
    return out


def _one(props, name):
    for value in props.get(name, ()):
        if value:
            return value
    return None


def _items(hardware, config):
    items = []
    for elem in hardware:
        if _xml.local_name(elem.tag) not in ITEM_TAGS:
            continue
        wanted = _xml.attr(elem, "configuration")
        if wanted and config and config not in wanted.split():
            continue
        props = _props(elem)
        props["_rt"] = _one(props, "ResourceType")
        props["_label"] = _one(props, "ElementName") or "item %s" % _one(props, "InstanceID")
        items.append(props)
    return items


def _vmware_config(hardware):
    """vmw:Config / vmw:ExtraConfig key -> value (Config wins)."""
    out = {}
    for tag in ("ExtraConfig", "Config"):
        for elem in _xml.children(hardware, tag):
            key = _xml.attr(elem, "key")
            if key:
                out[key] = _xml.attr(elem, "value", "")
    return out


def _vm(vs, index, ctx):
    vs_id = _xml.attr(vs, "id")
    hardware_sections = _xml.children(vs, "VirtualHardwareSection")
    hardware = hardware_sections[0] if hardware_sections else None
    system = _xml.child(hardware, "System") if hardware is not None else None
    machine = _xml.child(vs, "Machine")  # VirtualBox's own full configuration
    name = (_xml.text(vs, "Name") or _xml.text(system, "VirtualSystemIdentifier")
            or vs_id or _xml.attr(machine, "name")
            or "%s-%d" % (os.path.splitext(os.path.basename(ctx["descriptor"]))[0], index + 1))
    source_type = "ova" if ctx["container"] == "ova" else "ovf"
    vm = new_vm(name, source_type, vs_id or name, path=ctx["path"], descriptor=ctx["descriptor"],
                ovf_version=ctx["ovf_version"],
                virtual_system_type=_xml.text(system, "VirtualSystemType"))
    vm["power_state"] = "off"  # an export is a powered-off copy
    vm["guest"].update(_guest(_xml.child(vs, "OperatingSystemSection")))
    if hardware is None:
        add_note(vm, "discover", "warning", "no VirtualHardwareSection: CPU, memory and disks unknown.",
                 fix="Set cpus/memory_mib in the description by hand.")
        return vm
    if len(hardware_sections) > 1:
        add_note(vm, "discover", "info", "%d VirtualHardwareSections; used the first."
                 % len(hardware_sections))
    items = _items(hardware, ctx["config"])
    _compute(vm, items)
    _firmware(vm, _vmware_config(hardware), machine, system)
    controllers = _controllers(vm, items)
    _disks(vm, vs, items, controllers, ctx)
    _nics(vm, items, machine)
    return vm


def _compute(vm, items):
    for props in items:
        if props["_rt"] == str(RT_CPU) and _one(props, "VirtualQuantity"):
            vm["cpus"] = max(1, _int(_one(props, "VirtualQuantity"), "CPU count"))
            cores = _one(props, "CoresPerSocket")  # vmw:CoresPerSocket
            if cores:
                cores = _int(cores, "CoresPerSocket")
                if cores >= 1 and vm["cpus"] % cores == 0:
                    vm["cores_per_socket"] = cores
                else:
                    add_note(vm, "discover", "warning", "CoresPerSocket %d does not divide %d CPUs; "
                             "using 1 core per socket." % (cores, vm["cpus"]))
        elif props["_rt"] == str(RT_MEMORY) and _one(props, "VirtualQuantity"):
            quantity = _int(_one(props, "VirtualQuantity"), "memory size")
            size = quantity * unit_multiplier(_one(props, "AllocationUnits"), "memory item")
            vm["memory_mib"] = max(1, -(-size // MIB))  # round up: never give a guest less
            if size % MIB:
                add_note(vm, "discover", "info", "memory of %d bytes rounded up to %d MiB."
                         % (size, vm["memory_mib"]))


def _firmware(vm, config, machine, system):
    firmware = (config.get("firmware") or "").lower()
    if machine is not None:
        for elem in _xml.descendants(machine, "Firmware"):  # VirtualBox <Firmware type="EFI"/>
            firmware = (_xml.attr(elem, "type") or firmware).lower()
    if system is not None and not firmware:
        # OVF 2 / CIM: a firmware property on VSSD, or Hyper-V's "SubType:2" (generation 2 = UEFI).
        for elem in system:
            tag, value = _xml.local_name(elem.tag).lower(), (elem.text or "").lower()
            if "firmware" in tag or (tag == "virtualsystemsubtype" and value.endswith("subtype:2")):
                firmware = "efi" if ("efi" in value or "subtype:2" in value) else "bios"
    vm["firmware"] = "uefi" if firmware.startswith("efi") or firmware == "uefi" else "bios"
    secure = config.get("uefi.secureBoot.enabled") or config.get("bootOptions.efiSecureBootEnabled")
    if (secure or "").lower() in _TRUE:
        if vm["firmware"] == "uefi":
            vm["secure_boot"] = True
        else:
            add_note(vm, "discover", "warning", "secure boot is enabled but firmware is BIOS; ignored.")


def _controllers(vm, items):
    """InstanceID -> controller facts, in the order the descriptor lists them."""
    out = {}
    for props in items:
        rt, subtype = props["_rt"], (_one(props, "ResourceSubType") or "")
        key = subtype.lower().replace("_", "").replace("-", "")
        if rt == str(RT_IDE):
            kind, model = "ide", subtype or None
        elif rt == str(RT_SCSI):
            kind, model = "scsi", _SCSI_MODELS.get(key, subtype or None)
        elif rt == str(RT_OTHER_STORAGE):
            if "nvme" in key:
                kind, model = "nvme", "nvme"
            elif "ahci" in key or "sata" in key:
                kind, model = "sata", "ahci"
            elif "sas" in key:
                kind, model = "scsi", _SCSI_MODELS.get(key, subtype)
            else:
                kind, model = "unknown", subtype or None
                add_note(vm, "discover", "warning", "storage controller %r has subtype %r, which we "
                         "do not know." % (props["_label"], subtype))
        else:
            continue
        address = _one(props, "Address")
        out[_one(props, "InstanceID")] = {
            "kind": kind, "model": model, "position": len(out),
            "index": int(address) if address and address.isdigit() else None,
        }
    return out


def _boot_item(vs):
    # VMware: <vmw:BootOrderSection vmw:instanceId="8" vmw:type="disk"> names the boot disk item.
    for section in _xml.descendants(vs, "BootOrderSection"):
        if (_xml.attr(section, "type") or "").lower() == "disk" and _xml.attr(section, "instanceId"):
            return _xml.attr(section, "instanceId")
    return None


def _disk_source(ctx, disk):
    info = disk["file"] if disk else None
    href = info["href"] if info else None
    while href and href.startswith("./"):  # the archive member / file name the href means
        href = href[2:]
    fmt = (disk or {}).get("format_uri") or ""
    # VMware's URI ends in the VMDK subformat (#streamOptimized); others name a spec page.
    hint = fmt.rsplit("#", 1)[1] if "#" in fmt else None
    if not hint and fmt:
        hint = next((name for marker, name in _FORMAT_MARKERS if marker in fmt.lower()), None)
    return {
        "container": ctx["container"],
        "file": href,
        "ova": ctx["path"] if ctx["container"] == "ova" else None,
        "path": None,  # an OVF directory's file: filled in by ova.py once it is proven safe
        "size": info["size"] if info else None,
        "format_hint": hint,
        "format_uri": fmt or None,
        "compression": info["compression"] if info else None,
        "populated_bytes": (disk or {}).get("populated_bytes"),
    }


def _disks(vm, vs, items, controllers, ctx):
    found = []
    boot_item = _boot_item(vs)
    for props in items:
        if props["_rt"] != str(RT_DISK):
            continue
        host = _one(props, "HostResource")
        if not host:
            add_note(vm, "discover", "info", "disk item %r has no HostResource; skipped." % props["_label"])
            continue
        match = _HOST_RESOURCE.match(host)
        if not match:
            raise InvalidInputError("Disk item %r of VM %r has HostResource %r; expected ovf:/disk/<id>."
                                    % (props["_label"], vm["name"], host), fix="Re-export the VM.")
        kind, ref = match.group(1).lower(), match.group(2)
        disk = ctx["disks"].get(ref) if kind == "disk" else None
        if kind == "file" and ref in ctx["files"]:
            # Old generators point a disk straight at a file: usable, but the capacity is unknown.
            disk = {"capacity_bytes": None, "populated_bytes": None, "format_uri": None,
                    "file": ctx["files"][ref]}
            add_note(vm, "discover", "warning", "disk item %r points at file %s directly; its capacity "
                     "is unknown until the image is read." % (props["_label"], ref))
        if disk is None:
            raise InvalidInputError("Disk item %r of VM %r points at %s, which the descriptor does not "
                                    "define." % (props["_label"], vm["name"], host),
                                    fix="Re-export the VM; the descriptor is inconsistent.")
        controller = controllers.get(_one(props, "Parent"))
        if controller is None:
            controller = {"kind": "unknown", "model": None, "position": len(controllers), "index": None}
            add_note(vm, "discover", "warning", "disk %s has no known parent controller." % ref)
        unit = _one(props, "AddressOnParent")
        unit = _int(unit, "AddressOnParent of %r" % props["_label"]) if unit else None
        source = _disk_source(ctx, disk)
        source.update(controller_model=controller["model"], controller_index=controller["index"])
        if source["file"] is None:
            add_note(vm, "discover", "warning", "disk %s has no file: it is blank in the export." % ref)
        if source["compression"]:
            add_note(vm, "discover", "warning", "disk %s is stored %s-compressed in the export; it must be "
                     "decompressed before conversion." % (ref, source["compression"]))
        item = new_disk(ref, disk["capacity_bytes"], controller["kind"], unit or 0, False, source)
        found.append(((controller["position"], controller["index"] or 0, unit or 0),
                      _one(props, "InstanceID"), item))
    # Boot disk: what the descriptor says, else the first disk in controller order (what a BIOS
    # that enumerates controllers in slot order, and virt-v2v, would pick).
    found.sort(key=lambda entry: entry[0])
    vm["disks"] = [entry[2] for entry in found]
    boot = [entry[2] for entry in found if boot_item and entry[1] == boot_item]
    if vm["disks"]:
        (boot or vm["disks"])[0]["boot"] = True


def _normal_mac(value):
    compact = re.sub(r"[:\-.]", "", value or "").lower()
    if not _MAC.match(compact):
        return None
    return ":".join(compact[i:i + 2] for i in range(0, 12, 2))


def _nics(vm, items, machine):
    for props in items:
        if props["_rt"] != str(RT_NIC):
            continue
        raw_mac = _one(props, "Address")
        mac = _normal_mac(raw_mac)
        if raw_mac and not mac:
            add_note(vm, "discover", "warning", "NIC %r has address %r, not a MAC; ignored."
                     % (props["_label"], raw_mac))
        subtype = _one(props, "ResourceSubType") or ""
        model = _NIC_MODELS.get(subtype.lower().replace("_", ""), subtype.lower() or None)
        vm["nics"].append(new_nic(mac=mac, network=_one(props, "Connection"), model=model))
    if machine is not None:
        _vbox_macs(vm, machine)


def _vbox_macs(vm, machine):
    # VirtualBox leaves rasd:Address empty and keeps MACs in its own section, by adapter slot.
    adapters = [a for a in _xml.descendants(machine, "Adapter")
                if (_xml.attr(a, "enabled") or "").lower() == "true"]
    adapters.sort(key=lambda a: _xml.attr(a, "slot", "0").zfill(4))
    for nic, adapter in zip(vm["nics"], adapters):
        if not nic["mac"]:
            nic["mac"] = _normal_mac(_xml.attr(adapter, "MACAddress"))


def _guest(section):
    if section is None:
        return guest_os.hints()
    return guest_os.hints(vmware_type=_xml.attr(section, "osType"),          # vmw:osType
                          virtualbox_type=_xml.text(section, "OSType"),      # vbox:OSType
                          cim_id=_xml.attr(section, "id"),
                          description=_xml.text(section, "Description"))
