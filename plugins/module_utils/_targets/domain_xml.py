# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt domain XML: a "spec" (the part of a domain we manage) built from a VM description,
rendered as XML, and read back out of whatever libvirt has defined.

Idempotence rests on one rule: spec_from_xml(render(spec)) == spec, and spec_from_xml() ignores
everything libvirt adds on its own (PCI addresses, default controllers, expanded machine types,
firmware paths, UUIDs). Comparing the spec we want with the spec read from the defined domain
therefore says exactly whether anything we manage differs; diffs are rendered from both specs so
they show only such differences.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import xml.etree.ElementTree as ET

from ansible_collections.hyper2kvm.migrate.plugins.module_utils import _xml
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import InvalidInputError

MACHINES = ("q35", "pc")
DISK_BUSES = ("virtio", "sata", "scsi")
GRAPHICS = ("vnc", "spice", "none")
DOMAIN_TYPES = ("kvm", "qemu")
NIC_MODELS = ("virtio", "e1000e", "e1000", "rtl8139")
GUEST_AGENT_CHANNEL = "org.qemu.guest_agent.0"
LOCALHOST = "127.0.0.1"
# libvirt accepts almost any name; we keep to what is safe in file names, logs and shells.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,62}$")
MAC_RE = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")
_TARGET_PREFIX = {"virtio": "vd", "sata": "sd", "scsi": "sd"}
_KIB_PER = {"b": 1.0 / 1024, "bytes": 1.0 / 1024, "k": 1, "kib": 1, "kb": 1000.0 / 1024,
            "m": 1024, "mib": 1024, "mb": 1000.0 ** 2 / 1024, "g": 1024 ** 2, "gib": 1024 ** 2,
            "gb": 1000.0 ** 3 / 1024, "t": 1024 ** 3, "tib": 1024 ** 3, "tb": 1000.0 ** 4 / 1024}


def target_name(bus, index):
    """vda, vdb, ... vdz, vdaa: the naming libvirt and the Linux kernel use."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("a") + rem) + letters
    return _TARGET_PREFIX[bus] + letters


def _topology(vcpus, cores_per_socket):
    cores = cores_per_socket if cores_per_socket and vcpus % cores_per_socket == 0 else 1
    return {"sockets": vcpus // cores, "cores": cores, "threads": 1}


def _nic_source(network, network_map, default_network):
    """Map a source network name to {"type": network|bridge, "source": name}."""
    target = network_map.get(network) if network is not None else None
    if target is None:
        target = network_map.get("*", default_network)
    if isinstance(target, dict):
        kind = target.get("type", "network")
        name = target.get("name")
    else:
        kind, _sep, name = str(target).rpartition(":")
        kind = kind or "network"
    if kind not in ("network", "bridge") or not name:
        raise InvalidInputError(
            "network_map entry for %r is %r, which names neither a libvirt network nor a bridge." % (network, target),
            fix="Use a libvirt network name ('default' or 'network:default'), 'bridge:br0', or "
                "{type: bridge, name: br0}.")
    return {"type": kind, "source": name}


def spec_from_vm(vm, disks, options):
    """The spec for a VM description, its converted disks [{"path", "format"}] (boot disk first) and
    the module options (name, domain_type, machine, disk_bus, nic_model, network_map, default_network,
    graphics, serial_log, guest_agent, rng)."""
    name = options.get("name") or vm["name"]
    if not NAME_RE.match(name):
        raise InvalidInputError(
            "Domain name %r is not usable: use 1-63 letters, digits, '.', '_', '+' or '-', starting with "
            "a letter or digit." % (name,), fix="Set the name option to a plain name.")
    if not disks:
        raise InvalidInputError("The domain %s has no disks." % name,
                                fix="Pass the converted disk images (disks option, or paths in the VM description).")
    bus = options.get("disk_bus") or "virtio"
    spec_disks = []
    for index, disk in enumerate(disks):
        if not disk.get("path") or not disk.get("format"):
            raise InvalidInputError("Disk %d of %s has no path or format." % (index, name),
                                    fix="Give every disk a path and a format (qcow2 or raw).")
        spec_disks.append({"path": disk["path"], "format": disk["format"], "bus": bus,
                           "target": target_name(bus, index)})
    nics = []
    network_map = options.get("network_map") or {}
    for index, nic in enumerate(vm.get("nics") or []):
        mac = (nic.get("mac") or "").lower() or None
        if mac is not None and not MAC_RE.match(mac):
            raise InvalidInputError("NIC %d of %s has an invalid MAC %r." % (index, name, nic.get("mac")),
                                    fix="Correct the MAC in the VM description or remove it to get a new one.")
        entry = {"mac": mac, "model": options.get("nic_model") or "virtio"}
        entry.update(_nic_source(nic.get("network"), network_map, options.get("default_network") or "default"))
        nics.append(entry)
    firmware = "efi" if vm.get("firmware") == "uefi" else "bios"
    machine = options.get("machine") or "q35"
    if firmware == "efi" and vm.get("secure_boot") and machine != "q35":
        raise InvalidInputError("%s uses UEFI secure boot, which needs the q35 machine type." % name,
                                fix="Set machine to q35.")
    vcpus = int(vm.get("cpus") or 1)
    guest_family = (vm.get("guest") or {}).get("family")
    return {
        "name": name,
        "type": options.get("domain_type") or "kvm",
        "memory_mib": int(vm.get("memory_mib") or 1024),
        "vcpus": vcpus,
        "topology": _topology(vcpus, int(vm.get("cores_per_socket") or 1)),
        "machine": machine,
        "firmware": firmware,
        "secure_boot": bool(firmware == "efi" and vm.get("secure_boot")),
        # Windows keeps its clock in local time; everything else in UTC.
        "clock": "localtime" if guest_family == "windows" else "utc",
        "disks": spec_disks,
        "nics": nics,
        "serial_log": options.get("serial_log"),
        "guest_agent": bool(options.get("guest_agent", True)),
        "rng": bool(options.get("rng", True)),
        "graphics": options.get("graphics") or "vnc",
    }


def _sub(parent, tag, text=None, **attrs):
    elem = ET.SubElement(parent, tag, dict((k, str(v)) for k, v in attrs.items() if v is not None))
    if text is not None:
        elem.text = str(text)
    return elem


def render(spec, uuid=None):
    """Domain XML (text) for a spec; uuid keeps the identity of an already defined domain."""
    dom = ET.Element("domain", {"type": spec["type"]})
    _sub(dom, "name", spec["name"])
    if uuid:
        _sub(dom, "uuid", uuid)
    _sub(dom, "memory", spec["memory_mib"] * 1024, unit="KiB")
    _sub(dom, "currentMemory", spec["memory_mib"] * 1024, unit="KiB")
    _sub(dom, "vcpu", spec["vcpus"], placement="static")
    os_elem = _sub(dom, "os", firmware="efi" if spec["firmware"] == "efi" else None)
    _sub(os_elem, "type", "hvm", arch="x86_64", machine=spec["machine"])
    if spec["firmware"] == "efi":
        fw = _sub(os_elem, "firmware")
        enabled = "yes" if spec["secure_boot"] else "no"
        _sub(fw, "feature", enabled=enabled, name="enrolled-keys")
        _sub(fw, "feature", enabled=enabled, name="secure-boot")
    _sub(os_elem, "boot", dev="hd")
    features = _sub(dom, "features")
    _sub(features, "acpi")
    _sub(features, "apic")
    if spec["secure_boot"]:
        _sub(features, "smm", state="on")
    # Under KVM the guest sees the host CPU; under TCG "maximum" gives it every feature QEMU can
    # emulate (x86-64-v2 and later), which newer distributions require.
    cpu = _sub(dom, "cpu", mode="host-passthrough" if spec["type"] == "kvm" else "maximum",
               check="none" if spec["type"] == "kvm" else None, migratable="on")
    _sub(cpu, "topology", sockets=spec["topology"]["sockets"], dies=1, cores=spec["topology"]["cores"],
         threads=spec["topology"]["threads"])
    _sub(dom, "clock", offset=spec["clock"])
    _sub(dom, "on_poweroff", "destroy")
    _sub(dom, "on_reboot", "restart")
    _sub(dom, "on_crash", "destroy")
    devices = _sub(dom, "devices")
    if any(d["bus"] == "scsi" for d in spec["disks"]):
        _sub(devices, "controller", type="scsi", index=0, model="virtio-scsi")
    for disk in spec["disks"]:
        elem = _sub(devices, "disk", type="file", device="disk")
        _sub(elem, "driver", name="qemu", type=disk["format"], discard="unmap")
        _sub(elem, "source", file=disk["path"])
        _sub(elem, "target", dev=disk["target"], bus=disk["bus"])
    for nic in spec["nics"]:
        elem = _sub(devices, "interface", type=nic["type"])
        if nic["mac"]:
            _sub(elem, "mac", address=nic["mac"])
        _sub(elem, "source", **{nic["type"]: nic["source"]})
        _sub(elem, "model", type=nic["model"])
    serial = _sub(devices, "serial", type="pty")
    if spec["serial_log"]:
        _sub(serial, "log", file=spec["serial_log"], append="off")
    _sub(serial, "target", port=0)
    console = _sub(devices, "console", type="pty")
    _sub(console, "target", type="serial", port=0)
    if spec["guest_agent"]:
        channel = _sub(devices, "channel", type="unix")
        _sub(channel, "target", type="virtio", name=GUEST_AGENT_CHANNEL)
    if spec["graphics"] != "none":
        graphics = _sub(devices, "graphics", type=spec["graphics"], autoport="yes", listen=LOCALHOST)
        _sub(graphics, "listen", type="address", address=LOCALHOST)
        video = _sub(devices, "video")
        _sub(video, "model", type="virtio" if spec["machine"] == "q35" else "vga", heads=1, primary="yes")
    if spec["rng"]:
        rng = _sub(devices, "rng", model="virtio")
        _sub(rng, "backend", "/dev/urandom", model="random")
    _sub(devices, "memballoon", model="virtio")
    if hasattr(ET, "indent"):  # Python 3.9+; older ones get one long line, which libvirt reads the same
        ET.indent(dom)
    return ET.tostring(dom, encoding="unicode") + "\n"


def _kib(elem):
    if elem is None or not (elem.text or "").strip():
        return None
    unit = (elem.get("unit") or "KiB").lower()
    return int(round(int(elem.text.strip()) * _KIB_PER.get(unit, 1)))


def _machine(value):
    value = value or ""
    if "q35" in value:
        return "q35"
    if value == "pc" or value.startswith("pc-i440fx") or value.startswith("pc-"):
        return "pc"
    return value or None


def _firmware(os_elem):
    if os_elem is None:
        return "bios", False
    loader = os_elem.find("loader")
    efi = os_elem.get("firmware") == "efi" or (loader is not None and (
        loader.get("type") == "pflash" or "OVMF" in (loader.text or "") or "edk2" in (loader.text or "")))
    if not efi:
        return "bios", False
    secure = loader is not None and loader.get("secure") == "yes"
    for feature in os_elem.findall("firmware/feature"):
        if feature.get("name") == "secure-boot":
            secure = feature.get("enabled") == "yes"
    return "efi", secure


def _disks(devices):
    scsi_models = [c.get("model") for c in devices.findall("controller") if c.get("type") == "scsi"]
    out = []
    for disk in devices.findall("disk"):
        if disk.get("device", "disk") != "disk":
            continue
        source, target, driver = disk.find("source"), disk.find("target"), disk.find("driver")
        bus = target.get("bus") if target is not None else None
        if bus == "scsi" and scsi_models and "virtio-scsi" not in scsi_models:
            bus = "scsi/%s" % scsi_models[0]  # a SCSI disk, but not on the controller we would choose
        out.append({
            "path": source.get("file") or source.get("dev") if source is not None else None,
            "format": driver.get("type") if driver is not None else None,
            "bus": bus,
            "target": target.get("dev") if target is not None else None,
        })
    return out


def _nics(devices):
    out = []
    for nic in devices.findall("interface"):
        kind = nic.get("type")
        source = nic.find("source")
        mac, model = nic.find("mac"), nic.find("model")
        out.append({
            "mac": (mac.get("address") or "").lower() or None if mac is not None else None,
            "type": kind,
            "source": source.get(kind) if source is not None and kind in ("network", "bridge") else None,
            "model": model.get("type") if model is not None else None,
        })
    return out


def _graphics(devices):
    graphics = devices.find("graphics")
    if graphics is None:
        return "none", None
    listens = set()
    if graphics.get("listen"):
        listens.add(graphics.get("listen"))
    for listen in graphics.findall("listen"):
        listens.add(listen.get("address") or listen.get("type"))
    return graphics.get("type"), sorted(listens)


def spec_from_xml(text):
    """The managed spec of a domain XML document (libvirt's or ours)."""
    root = _xml.parse(text.encode("utf-8") if not isinstance(text, bytes) else text, what="libvirt domain XML")
    os_elem = root.find("os")
    type_elem = os_elem.find("type") if os_elem is not None else None
    firmware, secure = _firmware(os_elem)
    cpu = root.find("cpu")
    topo = cpu.find("topology") if cpu is not None else None
    vcpus = int((root.findtext("vcpu") or "1").strip())
    devices = root.find("devices")
    if devices is None:
        devices = ET.Element("devices")
    serial = devices.find("serial")
    log = serial.find("log") if serial is not None else None
    graphics, listens = _graphics(devices)
    clock = root.find("clock")
    spec = {
        "name": root.findtext("name"),
        "type": root.get("type"),
        "memory_mib": (_kib(root.find("memory")) or 0) // 1024,
        "vcpus": vcpus,
        "topology": {
            "sockets": int(topo.get("sockets", 1)) if topo is not None else vcpus,
            "cores": int(topo.get("cores", 1)) if topo is not None else 1,
            "threads": int(topo.get("threads", 1)) if topo is not None else 1,
        },
        "machine": _machine(type_elem.get("machine") if type_elem is not None else None),
        "firmware": firmware,
        "secure_boot": secure,
        "clock": clock.get("offset") if clock is not None else "utc",
        "disks": _disks(devices),
        "nics": _nics(devices),
        "serial_log": log.get("file") if log is not None else None,
        "guest_agent": any(
            ch.find("target") is not None and ch.find("target").get("name") == GUEST_AGENT_CHANNEL
            for ch in devices.findall("channel")),
        "rng": devices.find("rng") is not None,
        "graphics": graphics,
    }
    if listens is not None and listens != [LOCALHOST]:
        # A console reachable from the network is a difference we always correct.
        spec["graphics"] = "%s@%s" % (graphics, ",".join(str(x) for x in listens))
    return spec


def differences(current, wanted):
    """Names of the managed fields that differ (a MAC we left to libvirt matches any MAC)."""
    out = []
    for key in sorted(wanted):
        have, want = current.get(key), wanted[key]
        if key == "nics" and isinstance(have, list) and len(have) == len(want):
            have = [dict(h, mac=None) if w["mac"] is None else h for h, w in zip(have, want)]
        if have != want:
            out.append(key)
    return out


def uuid_of(text):
    return _xml.parse(text.encode("utf-8"), what="libvirt domain XML").findtext("uuid")
