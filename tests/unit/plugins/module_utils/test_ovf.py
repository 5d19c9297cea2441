# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""OVF descriptor -> VM description, against real descriptor shapes (tests/unit/fixtures/ovf)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import InvalidInputError, UnsafeInputError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._model import validate
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources import ovf

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "ovf")
GIB = 1 << 30


def parse_fixture(name, container="ova"):
    with open(os.path.join(FIXTURES, name), "rb") as handle:
        return ovf.parse(handle.read(), container, "/srv/in/x." + container, name)


def summary(vm):
    """The facts a reader checks, in one comparable shape."""
    return {
        "name": vm["name"], "id": vm["source"]["id"], "type": vm["source"]["type"],
        "cpus": vm["cpus"], "cores": vm["cores_per_socket"], "memory_mib": vm["memory_mib"],
        "firmware": vm["firmware"], "secure_boot": vm["secure_boot"], "power": vm["power_state"],
        "guest": (vm["guest"]["family"], vm["guest"]["distro"], vm["guest"]["version"], vm["guest"]["arch"]),
        "disks": [(d["id"], d["capacity_bytes"], d["controller"], d["unit"], d["boot"],
                   d["source"]["file"], d["source"]["format_hint"], d["source"]["controller_model"])
                  for d in vm["disks"]],
        "nics": [(n["mac"], n["network"], n["model"]) for n in vm["nics"]],
    }


EXPECTED = {
    "vmware-ovftool-efi.ovf": [{
        "name": "web01", "id": "web01", "type": "ova", "cpus": 4, "cores": 2, "memory_mib": 8192,
        "firmware": "uefi", "secure_boot": True, "power": "off",
        "guest": ("linux", "debian", "12", "x86_64"),
        "disks": [("vmdisk1", 16 * GIB, "scsi", 0, True, "web01-disk1.vmdk", "streamOptimized", "pvscsi"),
                  ("vmdisk2", 100 * GIB, "scsi", 1, False, "web01-disk2.vmdk", "streamOptimized", "pvscsi")],
        "nics": [("00:50:56:9a:12:34", "VM Network", "vmxnet3"), ("00:50:56:9a:56:78", "Backup", "e1000e")],
    }],
    "virtualbox7-sata-ide.ovf": [{
        "name": "devbox", "id": "devbox", "type": "ova", "cpus": 2, "cores": 1, "memory_mib": 4096,
        "firmware": "uefi", "secure_boot": False, "power": "off",
        "guest": ("linux", "debian", "12", "x86_64"),
        "disks": [("vmdisk1", 20 * GIB, "sata", 0, True, "devbox-disk001.vmdk", "streamOptimized", "ahci"),
                  ("vmdisk2", 4 * GIB, "sata", 1, False, "devbox-disk002.vmdk", "streamOptimized", "ahci")],
        "nics": [("08:00:27:c0:ff:ee", "NAT", "e1000")],  # MAC from vbox:Machine, slot 0
    }],
    "ovf2-sasd-epasd.ovf": [{
        "name": "appliance", "id": "appliance-1", "type": "ova", "cpus": 2, "cores": 1, "memory_mib": 4096,
        "firmware": "bios", "secure_boot": False, "power": "off",
        "guest": ("linux", "ubuntu", None, "x86_64"),  # CIM id 94 only
        "disks": [("rootdisk", 10 * GIB, "nvme", 0, True, "appliance-root.qcow2", "qcow2", "nvme")],
        "nics": [("52:54:00:12:34:56", "backend", "virtio")],
    }],
    "collection-two-systems.ovf": [{
        "name": "shop-db", "id": "shop-db", "type": "ova", "cpus": 2, "cores": 1, "memory_mib": 16384,
        "firmware": "bios", "secure_boot": False, "power": "off",
        "guest": ("linux", "rhel", "9", "x86_64"),
        "disks": [("vmdisk1", 32 * GIB, "scsi", 0, True, "db-disk1.vmdk", "streamOptimized", "lsilogic")],
        "nics": [("00:50:56:01:00:01", "App", "vmxnet3")],
    }, {
        "name": "shop-app", "id": "shop-app", "type": "ova", "cpus": 4, "cores": 4, "memory_mib": 8192,
        "firmware": "uefi", "secure_boot": False, "power": "off",
        "guest": ("windows", "windows", "2019", "x86_64"),
        "disks": [("vmdisk2", 64 * GIB, "scsi", 0, True, "app-disk1.vmdk", "streamOptimized", "lsilogicsas")],
        "nics": [("00:50:56:01:00:02", "App", "e1000e")],
    }],
    "minimal-generic.ovf": [{
        "name": "tiny", "id": "tiny", "type": "ova", "cpus": 1, "cores": 1, "memory_mib": 512,
        "firmware": "bios", "secure_boot": False, "power": "off",
        "guest": (None, None, None, None),
        "disks": [("d1", GIB, "ide", 0, True, "disk.raw", "raw", None)],
        "nics": [(None, None, None)],
    }],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_descriptions(name):
    parsed = parse_fixture(name)
    assert [summary(vm) for vm in parsed["vms"]] == EXPECTED[name]
    for vm in parsed["vms"]:
        validate(vm)
        assert vm["notes"] == [] and parsed["warnings"] == []
        assert vm["source"]["descriptor"] == name and vm["source"]["path"] == "/srv/in/x.ova"
        for disk in vm["disks"]:
            assert disk["source"]["container"] == "ova" and disk["source"]["ova"] == "/srv/in/x.ova"


def test_vmware_details():
    parsed = parse_fixture("vmware-ovftool-efi.ovf")
    vm = parsed["vms"][0]
    assert vm["source"]["virtual_system_type"] == "vmx-19" and vm["source"]["ovf_version"] == "1"
    first = vm["disks"][0]["source"]
    assert first["populated_bytes"] == 2684354560 and first["size"] == 1073741824
    assert first["compression"] is None and first["format_uri"].endswith("#streamOptimized")
    assert [f["href"] for f in parsed["files"]] == ["web01-disk1.vmdk", "web01-disk2.vmdk", "web01-file1.nvram"]


def test_ovf_container_and_version():
    parsed = parse_fixture("ovf2-sasd-epasd.ovf", container="ovf")
    vm = parsed["vms"][0]
    assert vm["source"]["type"] == "ovf" and vm["source"]["ovf_version"] == "2"
    assert vm["disks"][0]["source"]["ova"] is None and vm["disks"][0]["source"]["container"] == "ovf"
    assert vm["disks"][0]["source"]["populated_bytes"] == 1610612736


@pytest.mark.parametrize("units, factor", [
    (None, 1), ("", 1), ("byte", 1), ("bytes", 1), ("byte * 2^10", 1024), ("byte * 2^20", 1 << 20),
    ("byte*2^20", 1 << 20), ("BYTE * 2^30", GIB), ("byte * 1024", 1024), ("KiloBytes", 1024),
    ("MegaBytes", 1 << 20), ("GigaBytes", GIB), ("MB", 1 << 20), ("byte * 10^6", 10 ** 6),
])
def test_unit_multiplier(units, factor):
    assert ovf.unit_multiplier(units, "memory") == factor


@pytest.mark.parametrize("units", ["furlongs", "byte * 2^x", "hertz * 10^6", "byte * 2^99"])
def test_unit_multiplier_unknown(units):
    with pytest.raises(InvalidInputError) as err:
        ovf.unit_multiplier(units, "memory item")
    assert repr(units) in str(err.value) and "memory item" in str(err.value)


# --- inline variations on one small descriptor --------------------------------------------------

ENVELOPE = """<?xml version="1.0"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
  xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
  xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"
  xmlns:vmw="http://www.vmware.com/schema/ovf" xmlns:vbox="http://www.virtualbox.org/ovf/machine">
  <References>
    <File ovf:href="a.vmdk" ovf:id="f1"/>
    <File ovf:href="b.vmdk" ovf:id="f2"/>
  </References>
  <DiskSection><Info>d</Info>%(disks)s</DiskSection>
  <VirtualSystem ovf:id="vm1">
    <Info>v</Info>%(os)s
    <VirtualHardwareSection><Info>h</Info>%(system)s
      <Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>%(cpus)s</rasd:VirtualQuantity>%(cores)s</Item>
      <Item><rasd:AllocationUnits>%(units)s</rasd:AllocationUnits><rasd:InstanceID>2</rasd:InstanceID>
        <rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>%(memory)s</rasd:VirtualQuantity></Item>
      <Item><rasd:Address>0</rasd:Address><rasd:InstanceID>3</rasd:InstanceID>
        <rasd:ResourceSubType>%(subtype)s</rasd:ResourceSubType><rasd:ResourceType>%(rt)s</rasd:ResourceType></Item>
      <Item><rasd:AddressOnParent>0</rasd:AddressOnParent><rasd:HostResource>%(host1)s</rasd:HostResource>
        <rasd:InstanceID>4</rasd:InstanceID><rasd:Parent>3</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>
      <Item><rasd:AddressOnParent>1</rasd:AddressOnParent><rasd:HostResource>ovf:/disk/d2</rasd:HostResource>
        <rasd:InstanceID>5</rasd:InstanceID><rasd:Parent>3</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>
      <Item><rasd:Address>%(mac)s</rasd:Address><rasd:InstanceID>6</rasd:InstanceID>
        <rasd:ResourceSubType>%(nic)s</rasd:ResourceSubType><rasd:ResourceType>10</rasd:ResourceType></Item>
      %(config)s
    </VirtualHardwareSection>%(extra)s
  </VirtualSystem>
</Envelope>
"""
DEFAULTS = {
    "disks": '<Disk ovf:capacity="1" ovf:capacityAllocationUnits="byte * 2^30" ovf:diskId="d1" ovf:fileRef="f1"/>'
             '<Disk ovf:capacity="2147483648" ovf:diskId="d2" ovf:fileRef="f2"/>',
    "os": "", "system": "", "cpus": "2", "cores": "", "units": "byte * 2^20", "memory": "2048",
    "subtype": "lsilogic", "rt": "6", "host1": "ovf:/disk/d1", "mac": "00:50:56:00:00:01", "nic": "VmxNet3",
    "config": "", "extra": "",
}


def parse_inline(**changes):
    values = dict(DEFAULTS, **changes)
    return ovf.parse((ENVELOPE % values).encode(), "ova", "/srv/in/t.ova", "t.ovf")


def only_vm(**changes):
    parsed = parse_inline(**changes)
    assert len(parsed["vms"]) == 1
    return validate(parsed["vms"][0])


def note_text(vm):
    return " | ".join(n["message"] for n in vm["notes"])


def test_inline_defaults():
    vm = only_vm()
    assert (vm["cpus"], vm["memory_mib"], vm["firmware"]) == (2, 2048, "bios")
    disks = [(d["id"], d["capacity_bytes"], d["boot"]) for d in vm["disks"]]
    assert disks == [("d1", GIB, True), ("d2", 2 * GIB, False)]
    assert vm["notes"] == []


@pytest.mark.parametrize("rt, subtype, controller, model", [
    ("5", "PIIX4", "ide", "PIIX4"),
    ("6", "lsilogic", "scsi", "lsilogic"),
    ("6", "lsilogicsas", "scsi", "lsilogicsas"),
    ("6", "buslogic", "scsi", "buslogic"),
    ("6", "VirtualSCSI", "scsi", "pvscsi"),
    ("6", "VirtioSCSI", "scsi", "virtio-scsi"),
    ("20", "AHCI", "sata", "ahci"),
    ("20", "vmware.sata.ahci", "sata", "ahci"),
    ("20", "vmware.nvme.controller", "nvme", "nvme"),
    ("20", "NVMe", "nvme", "nvme"),
    ("20", "LsiLogicSas", "scsi", "lsilogicsas"),
])
def test_controllers(rt, subtype, controller, model):
    vm = only_vm(rt=rt, subtype=subtype)
    assert [(d["controller"], d["source"]["controller_model"]) for d in vm["disks"]] == [(controller, model)] * 2


def test_unknown_storage_controller_is_a_note():
    vm = only_vm(rt="20", subtype="fancy.raid")
    assert vm["disks"][0]["controller"] == "unknown" and "fancy.raid" in note_text(vm)


@pytest.mark.parametrize("subtype, model", [
    ("VmxNet3", "vmxnet3"), ("VmxNet2", "vmxnet2"), ("E1000", "e1000"), ("E1000e", "e1000e"),
    ("PCNet32", "pcnet"), ("virtio", "virtio"), ("Fancy", "fancy"), ("", None),
])
def test_nic_models(subtype, model):
    assert only_vm(nic=subtype)["nics"][0]["model"] == model


@pytest.mark.parametrize("raw, mac", [
    ("00:50:56:AA:BB:CC", "00:50:56:aa:bb:cc"), ("00-50-56-aa-bb-cc", "00:50:56:aa:bb:cc"),
    ("005056aabbcc", "00:50:56:aa:bb:cc"), ("", None),
])
def test_mac_normalisation(raw, mac):
    assert only_vm(mac=raw)["nics"][0]["mac"] == mac


def test_bad_mac_is_a_note():
    vm = only_vm(mac="not-a-mac")
    assert vm["nics"][0]["mac"] is None and "not-a-mac" in note_text(vm)


@pytest.mark.parametrize("memory, units, mib", [
    ("4", "byte * 2^30", 4096), ("4096", "MegaBytes", 4096), ("1", "GigaBytes", 1024),
    ("1073741824", "byte", 1024), ("1000", "byte * 2^20", 1000), ("1500000", "byte * 10^3", 1431),
])
def test_memory(memory, units, mib):
    assert only_vm(memory=memory, units=units)["memory_mib"] == mib


def test_memory_unknown_unit_fails():
    with pytest.raises(InvalidInputError) as err:
        parse_inline(units="pages")
    assert "'pages'" in str(err.value)


def test_cores_per_socket():
    vmw = '<vmw:CoresPerSocket ovf:required="false">%s</vmw:CoresPerSocket>'
    assert only_vm(cpus="8", cores=vmw % "4")["cores_per_socket"] == 4
    vm = only_vm(cpus="6", cores=vmw % "4")
    assert vm["cores_per_socket"] == 1 and "CoresPerSocket 4" in note_text(vm)


CONFIG = '<vmw:Config ovf:required="false" vmw:key="%s" vmw:value="%s"/>'


@pytest.mark.parametrize("config, firmware, secure", [
    ("", "bios", False),
    (CONFIG % ("firmware", "efi"), "uefi", False),
    (CONFIG % ("firmware", "bios"), "bios", False),
    (CONFIG % ("firmware", "efi") + CONFIG % ("uefi.secureBoot.enabled", "true"), "uefi", True),
    (CONFIG % ("firmware", "efi") + CONFIG % ("bootOptions.efiSecureBootEnabled", "TRUE"), "uefi", True),
    (CONFIG % ("firmware", "efi") + CONFIG % ("uefi.secureBoot.enabled", "false"), "uefi", False),
])
def test_vmware_firmware(config, firmware, secure):
    vm = only_vm(config=config)
    assert (vm["firmware"], vm["secure_boot"]) == (firmware, secure)


def test_secure_boot_without_efi_is_a_note():
    vm = only_vm(config=CONFIG % ("uefi.secureBoot.enabled", "true"))
    assert vm["secure_boot"] is False and "secure boot" in note_text(vm)


@pytest.mark.parametrize("system, firmware", [
    ("<System><vssd:VirtualSystemType>hyperv</vssd:VirtualSystemType>"
     "<vssd:VirtualSystemSubType>Microsoft:Hyper-V:SubType:2</vssd:VirtualSystemSubType></System>", "uefi"),
    ("<System><vssd:VirtualSystemSubType>Microsoft:Hyper-V:SubType:1</vssd:VirtualSystemSubType></System>", "bios"),
    ("<System><vssd:FirmwareType>UEFI</vssd:FirmwareType></System>", "uefi"),
])
def test_vssd_firmware(system, firmware):
    assert only_vm(system=system)["firmware"] == firmware


def test_vmware_boot_order_section_names_the_boot_disk():
    extra = ('<vmw:BootOrderSection vmw:instanceId="5" vmw:type="disk">'
             '<Info>Virtual hardware device boot order</Info></vmw:BootOrderSection>')
    vm = only_vm(extra=extra)
    assert [(d["id"], d["boot"]) for d in vm["disks"]] == [("d1", False), ("d2", True)]


OS = '<OperatingSystemSection ovf:id="%s" %s><Info>os</Info>%s</OperatingSystemSection>'
VBOX_OS = "<vbox:OSType ovf:required='false'>%s</vbox:OSType>"


# The OS-name tables are tested in test_guest_os.py; here: each place a descriptor keeps them.
@pytest.mark.parametrize("cim, attrs, body, guest", [
    ("96", 'vmw:osType="debian12_64Guest"', "", ("linux", "debian", "12", "x86_64")),
    ("1", 'vmw:osType="windows2019srv_64Guest"', "", ("windows", "windows", "2019", "x86_64")),
    ("96", "", VBOX_OS % "Ubuntu22_LTS_64", ("linux", "ubuntu", "22", "x86_64")),
    ("107", "", "", ("linux", "centos", None, "x86_64")),
    ("1", "", "<Description>Microsoft Windows Server</Description>", ("windows", None, None, None)),
    ("1", "", "", (None, None, None, None)),
])
def test_guest_hints(cim, attrs, body, guest):
    got = only_vm(os=OS % (cim, attrs, body))["guest"]
    assert (got["family"], got["distro"], got["version"], got["arch"]) == guest


def test_deployment_option_default_and_first():
    base = """<?xml version="1.0"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
  xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData">
  <DeploymentOptionSection><Info>o</Info>
    <Configuration ovf:id="a"%s><Label>A</Label></Configuration>
    <Configuration ovf:id="b"%s><Label>B</Label></Configuration>
  </DeploymentOptionSection>
  <VirtualSystem ovf:id="v"><Info>v</Info><VirtualHardwareSection><Info>h</Info>
    <Item ovf:configuration="a"><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType>
      <rasd:VirtualQuantity>2</rasd:VirtualQuantity></Item>
    <Item ovf:configuration="b c"><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType>
      <rasd:VirtualQuantity>6</rasd:VirtualQuantity></Item>
  </VirtualHardwareSection></VirtualSystem>
</Envelope>"""
    first = ovf.parse((base % ("", "")).encode(), "ovf", "/x/v.ovf", "v.ovf")
    chosen = ovf.parse((base % ("", ' ovf:default="true"')).encode(), "ovf", "/x/v.ovf", "v.ovf")
    assert first["vms"][0]["cpus"] == 2 and chosen["vms"][0]["cpus"] == 6


def test_disk_pointing_at_unknown_disk_fails():
    with pytest.raises(InvalidInputError) as err:
        parse_inline(host1="ovf:/disk/nope")
    assert "ovf:/disk/nope" in str(err.value) and "vm1" in str(err.value)


def test_disk_with_unreadable_host_resource_fails():
    with pytest.raises(InvalidInputError) as err:
        parse_inline(host1="somewhere-else")
    assert "somewhere-else" in str(err.value)


def test_disk_pointing_at_a_file_is_tolerated():
    vm = only_vm(host1="ovf:/file/f1")
    assert vm["disks"][0]["capacity_bytes"] is None and vm["disks"][0]["source"]["file"] == "a.vmdk"
    assert "points at file f1" in note_text(vm)


def test_old_style_host_resource():
    assert only_vm(host1="/disk/d1")["disks"][0]["id"] == "d1"


def test_disk_with_unknown_file_ref_fails():
    disks = '<Disk ovf:capacity="1" ovf:diskId="d1" ovf:fileRef="f9"/><Disk ovf:capacity="1" ovf:diskId="d2"/>'
    with pytest.raises(InvalidInputError) as err:
        parse_inline(disks=disks)
    assert "'f9'" in str(err.value)


def test_blank_disk_is_a_note():
    disks = '<Disk ovf:capacity="1" ovf:diskId="d1" ovf:fileRef="f1"/><Disk ovf:capacity="1" ovf:diskId="d2"/>'
    vm = only_vm(disks=disks)
    assert vm["disks"][1]["source"]["file"] is None and "blank" in note_text(vm)


def test_duplicate_disk_id_fails():
    disks = '<Disk ovf:capacity="1" ovf:diskId="d1"/><Disk ovf:capacity="1" ovf:diskId="d1"/>'
    with pytest.raises(InvalidInputError) as err:
        parse_inline(disks=disks)
    assert "'d1' twice" in str(err.value)


def test_property_capacity_fails_clearly():
    disks = '<Disk ovf:capacity="${disk.size}" ovf:diskId="d1"/><Disk ovf:capacity="1" ovf:diskId="d2"/>'
    with pytest.raises(InvalidInputError) as err:
        parse_inline(disks=disks)
    assert "${disk.size}" in str(err.value)


@pytest.mark.parametrize("doc, words", [
    (b"<NotAnEnvelope/>", ["not an OVF envelope", "NotAnEnvelope"]),
    (b'<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"/>', ["no VirtualSystem"]),
])
def test_not_a_vm_descriptor(doc, words):
    with pytest.raises(InvalidInputError) as err:
        ovf.parse(doc, "ovf", "/x/t.ovf", "t.ovf")
    for word in words:
        assert word in str(err.value)


def test_hostile_descriptor_is_refused():
    with open(os.path.join(FIXTURES, "hostile", "xxe.ovf"), "rb") as handle:
        with pytest.raises(UnsafeInputError) as err:
            ovf.parse(handle.read(), "ova", "/x/t.ova", "evil.ovf")
    assert "DOCTYPE" in str(err.value) and "evil.ovf" in str(err.value)


def test_no_hardware_and_foreign_namespace_are_notes():
    doc = b'<Envelope xmlns="urn:other"><VirtualSystem id="bare"><Info>x</Info></VirtualSystem></Envelope>'
    parsed = ovf.parse(doc, "ovf", "/x/t.ovf", "t.ovf")
    vm = validate(parsed["vms"][0])
    assert vm["name"] == "bare" and "VirtualHardwareSection" in note_text(vm)
    assert "urn:other" in parsed["warnings"][0]


def test_memory_rounds_up_with_a_note():
    vm = only_vm(memory="1572865", units="byte")
    assert vm["memory_mib"] == 2 and "rounded up" in note_text(vm)
