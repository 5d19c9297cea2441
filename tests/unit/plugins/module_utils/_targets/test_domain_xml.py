"""domain_xml: spec from a VM description, XML rendering, and reading the spec back out of what libvirt
really defined (the fixtures are `virsh dumpxml --inactive` output of domains we defined)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils import _model
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import InvalidInputError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._targets import domain_xml

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "libvirt"
DISKS = [{"path": "/var/lib/hyper2kvm/web01/disk0.qcow2", "format": "qcow2"},
         {"path": "/var/lib/hyper2kvm/web01/disk1.raw", "format": "raw"}]


def web01():
    vm = _model.new_vm("web01", "vsphere")
    vm.update(cpus=4, cores_per_socket=2, memory_mib=4096)
    vm["nics"] = [_model.new_nic(mac="00:50:56:AB:CD:01", network="VM Network"), _model.new_nic(network="Backup")]
    return vm


def web01_spec(**options):
    base = {"domain_type": "qemu", "network_map": {"Backup": "bridge:br-backup"},
            "serial_log": "/var/log/libvirt/qemu/web01-serial0.log"}
    base.update(options)
    return domain_xml.spec_from_vm(web01(), DISKS, base)


def test_spec_from_vm_takes_the_description():
    spec = web01_spec()
    assert spec["name"] == "web01" and spec["memory_mib"] == 4096 and spec["vcpus"] == 4
    assert spec["topology"] == {"sockets": 2, "cores": 2, "threads": 1}
    assert [d["target"] for d in spec["disks"]] == ["vda", "vdb"]
    assert spec["disks"][1] == {"path": DISKS[1]["path"], "format": "raw", "bus": "virtio", "target": "vdb"}
    assert spec["nics"] == [
        {"mac": "00:50:56:ab:cd:01", "model": "virtio", "type": "network", "source": "default"},
        {"mac": None, "model": "virtio", "type": "bridge", "source": "br-backup"},
    ]
    assert spec["firmware"] == "bios" and spec["secure_boot"] is False and spec["clock"] == "utc"


@pytest.mark.parametrize("cpus,cores,expected", [
    (4, 2, {"sockets": 2, "cores": 2, "threads": 1}),
    (6, 4, {"sockets": 6, "cores": 1, "threads": 1}),  # 4 does not divide 6: one core per socket
    (1, 1, {"sockets": 1, "cores": 1, "threads": 1}),
])
def test_topology(cpus, cores, expected):
    vm = web01()
    vm.update(cpus=cpus, cores_per_socket=cores)
    assert domain_xml.spec_from_vm(vm, DISKS, {})["topology"] == expected


def test_network_map_star_and_default():
    vm = web01()
    spec = domain_xml.spec_from_vm(vm, DISKS, {"network_map": {"*": {"type": "bridge", "name": "br0"}}})
    assert [(n["type"], n["source"]) for n in spec["nics"]] == [("bridge", "br0"), ("bridge", "br0")]
    spec = domain_xml.spec_from_vm(vm, DISKS, {"default_network": "lab"})
    assert [(n["type"], n["source"]) for n in spec["nics"]] == [("network", "lab"), ("network", "lab")]


@pytest.mark.parametrize("change,message", [
    ({"name": "../../etc/x"}, "not usable"),
    ({"name": "a" * 64}, "not usable"),
    ({"nics": [{"mac": "00:50:56:zz:00:01", "network": None}]}, "invalid MAC"),
])
def test_bad_descriptions_are_refused(change, message):
    vm = web01()
    vm.update(change)
    with pytest.raises(InvalidInputError, match=message):
        domain_xml.spec_from_vm(vm, DISKS, {})


def test_bad_network_map_and_missing_disks_are_refused():
    with pytest.raises(InvalidInputError, match="neither a libvirt network nor a bridge"):
        domain_xml.spec_from_vm(web01(), DISKS, {"network_map": {"VM Network": "macvtap:eth0"}})
    with pytest.raises(InvalidInputError, match="no disks"):
        domain_xml.spec_from_vm(web01(), [], {})
    with pytest.raises(InvalidInputError, match="no path or format"):
        domain_xml.spec_from_vm(web01(), [{"path": "/x.qcow2"}], {})


def test_secure_boot_needs_q35():
    vm = web01()
    vm.update(firmware="uefi", secure_boot=True)
    with pytest.raises(InvalidInputError, match="q35"):
        domain_xml.spec_from_vm(vm, DISKS, {"machine": "pc"})
    assert domain_xml.spec_from_vm(vm, DISKS, {})["secure_boot"] is True


def test_windows_keeps_local_time():
    vm = web01()
    vm["guest"]["family"] = "windows"
    assert domain_xml.spec_from_vm(vm, DISKS, {})["clock"] == "localtime"


@pytest.mark.parametrize("options", [
    {}, {"disk_bus": "scsi", "graphics": "spice"}, {"disk_bus": "sata", "machine": "pc", "graphics": "none"},
    {"guest_agent": False, "rng": False, "domain_type": "kvm"},
])
def test_render_then_read_back_is_the_same_spec(options):
    spec = web01_spec(**options)
    assert domain_xml.spec_from_xml(domain_xml.render(spec)) == spec


def test_what_libvirt_defined_reads_back_as_what_we_asked_for():
    """libvirt adds addresses, controllers, a UUID and expands q35 to pc-q35-7.2: none of that counts."""
    defined = (FIXTURES / "web01-bios-defined.xml").read_text()
    assert "pc-q35-" in defined and "<address type='pci'" in defined
    current = domain_xml.spec_from_xml(defined)
    assert domain_xml.differences(current, web01_spec()) == []


def test_uefi_secure_boot_as_libvirt_defined_it():
    vm = _model.new_vm("app02", "ova")
    vm.update(firmware="uefi", secure_boot=True, memory_mib=2048)
    wanted = domain_xml.spec_from_vm(vm, DISKS[:1], {"domain_type": "qemu", "disk_bus": "scsi", "graphics": "spice",
                                                     "guest_agent": False, "rng": False})
    current = domain_xml.spec_from_xml((FIXTURES / "app02-uefi-secure-defined.xml").read_text())
    assert current["firmware"] == "efi" and current["secure_boot"] is True
    assert domain_xml.differences(current, wanted) == []
    wanted["secure_boot"] = False
    assert domain_xml.differences(current, wanted) == ["secure_boot"]


def test_differences_name_the_fields():
    current = domain_xml.spec_from_xml((FIXTURES / "web01-bios-defined.xml").read_text())
    wanted = web01_spec()
    wanted["memory_mib"] = 8192
    wanted["disks"][0]["path"] = "/elsewhere.qcow2"
    assert domain_xml.differences(current, wanted) == ["disks", "memory_mib"]


def test_a_mac_left_to_libvirt_matches_the_one_it_chose():
    current = domain_xml.spec_from_xml((FIXTURES / "web01-bios-defined.xml").read_text())
    assert current["nics"][1]["mac"]  # libvirt generated one
    wanted = web01_spec()
    assert wanted["nics"][1]["mac"] is None
    assert "nics" not in domain_xml.differences(current, wanted)
    pinned = copy.deepcopy(wanted)
    pinned["nics"][1]["mac"] = "52:54:00:00:00:01"
    assert "nics" in domain_xml.differences(current, pinned)


def test_a_console_open_to_the_network_is_a_difference():
    defined = (FIXTURES / "web01-bios-defined.xml").read_text().replace("127.0.0.1", "0.0.0.0")
    current = domain_xml.spec_from_xml(defined)
    assert current["graphics"] == "vnc@0.0.0.0"
    assert domain_xml.differences(current, web01_spec()) == ["graphics"]


def test_render_keeps_the_uuid_and_listens_on_localhost_only():
    text = domain_xml.render(web01_spec(), uuid="6c4e4c4a-1b0e-4f57-9a53-0d2e2e9c8b11")
    assert "<uuid>6c4e4c4a-1b0e-4f57-9a53-0d2e2e9c8b11</uuid>" in text
    assert domain_xml.uuid_of(text) == "6c4e4c4a-1b0e-4f57-9a53-0d2e2e9c8b11"
    assert 'listen="127.0.0.1"' in text and "0.0.0.0" not in text


def test_foreign_domain_xml_is_read_without_crashing():
    text = """<domain type='kvm'><name>legacy</name><memory unit='GiB'>2</memory><vcpu>2</vcpu>
      <os><type machine='pc-i440fx-2.12'>hvm</type><loader readonly='yes' secure='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.secboot.fd</loader></os>
      <devices><controller type='scsi' model='lsilogic'/>
        <disk type='block' device='disk'><driver name='qemu' type='raw'/><source dev='/dev/vg/legacy'/><target dev='sda' bus='scsi'/></disk>
        <disk type='file' device='cdrom'><target dev='hdc' bus='ide'/></disk>
        <interface type='user'><mac address='52:54:00:AA:BB:CC'/></interface>
        <graphics type='spice' autoport='yes'><listen type='address' address='0.0.0.0'/></graphics></devices></domain>"""
    spec = domain_xml.spec_from_xml(text)
    assert spec["memory_mib"] == 2048 and spec["machine"] == "pc" and spec["topology"]["sockets"] == 2
    assert spec["firmware"] == "efi" and spec["secure_boot"] is True
    assert spec["disks"] == [{"path": "/dev/vg/legacy", "format": "raw", "bus": "scsi/lsilogic", "target": "sda"}]
    assert spec["nics"] == [{"mac": "52:54:00:aa:bb:cc", "type": "user", "source": None, "model": None}]
    assert spec["graphics"] == "spice@0.0.0.0" and spec["serial_log"] is None
    domain_xml.render(spec)  # a diff of a foreign domain must render


def test_hostile_domain_xml_is_refused():
    with pytest.raises(Exception, match="(?i)doctype|entity"):
        domain_xml.spec_from_xml('<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/shadow">]><domain><name>&x;</name></domain>')


@pytest.mark.parametrize("bus,index,name", [("virtio", 0, "vda"), ("virtio", 25, "vdz"), ("virtio", 26, "vdaa"),
                                            ("sata", 1, "sdb"), ("scsi", 27, "sdab")])
def test_target_names(bus, index, name):
    assert domain_xml.target_name(bus, index) == name
