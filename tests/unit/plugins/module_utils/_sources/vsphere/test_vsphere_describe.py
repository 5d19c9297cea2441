# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vSphere property records -> VM descriptions, on recorded inventories."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils import _model as model
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.vsphere import describe

GIB = 1024 ** 3


def by_name(records, server="vc.example.com"):
    vms, warnings = describe.describe_inventory(records, server=server)
    return dict((vm["name"], vm) for vm in vms), warnings


def hardware(vm):
    return (vm["power_state"], vm["firmware"], vm["secure_boot"], vm["cpus"], vm["cores_per_socket"],
            vm["memory_mib"], vm["guest"]["family"], vm["guest"]["distro"], vm["guest"]["version"],
            vm["guest"]["arch"])


def disks(vm):
    return [(d["id"], d["controller"], d["unit"], d["capacity_bytes"] // GIB, d["boot"], d["source"]["controller_model"],
             d["source"]["backing"], d["source"]["disk_mode"], d["source"]["thin"]) for d in vm["disks"]]


def nics(vm):
    return [(n["model"], n["mac"], n["network"]) for n in vm["nics"]]


def test_every_description_is_valid(seeded_records, edge_records):
    for records in (seeded_records, edge_records):
        vms, _warnings = describe.describe_inventory(records)
        assert vms and [model.validate(vm) for vm in vms] == vms


def test_sorted_by_name(seeded_records):
    vms, _warnings = describe.describe_inventory(seeded_records)
    assert [vm["name"] for vm in vms] == sorted(vm["name"] for vm in vms)


# --- the seeded simulator ------------------------------------------------------------------------

@pytest.mark.parametrize("name, want", [
    ("deb12-efi", ("on", "uefi", True, 2, 1, 2048, "linux", "debian", "12", "x86_64")),
    ("win2019", ("suspended", "uefi", False, 4, 2, 4096, "windows", "windows", "2019", "x86_64")),
    ("rhel9-snap", ("off", "bios", False, 1, 1, 1024, "linux", "rhel", "9", "x86_64")),
    ("DC0_C0_RP0_VM0", ("on", "bios", False, 1, 1, 32, None, None, None, "i686")),
])
def test_seeded_hardware(seeded_records, name, want):
    vms, warnings = by_name(seeded_records)
    assert warnings == []
    assert hardware(vms[name]) == want


@pytest.mark.parametrize("name, want", [
    ("deb12-efi", [("scsi0:0", "scsi", 0, 10, True, "pvscsi", "flat", "persistent", True),
                   ("scsi0:1", "scsi", 1, 20, False, "pvscsi", "flat", "independent_persistent", False)]),
    ("win2019", [("scsi0:0", "scsi", 0, 40, True, "lsisas1068", "flat", "persistent", True),
                 ("sata0:0", "sata", 0, 8, False, "ahci", "flat", "persistent", True)]),
    ("rhel9-snap", [("scsi0:0", "scsi", 0, 16, True, "lsilogic", "flat", "persistent", True),
                    ("sata0:1", "sata", 1, 4, False, "ahci", "flat", "persistent", True)]),
])
def test_seeded_disks(seeded_records, name, want):
    vms, _warnings = by_name(seeded_records)
    assert disks(vms[name]) == want
    for disk in vms[name]["disks"]:
        assert disk["source"]["datastore"] == "LocalDS_0"
        assert disk["source"]["file"] == "[LocalDS_0] %s" % disk["source"]["path"]
        assert disk["source"]["chain"] == [disk["source"]["file"]]


@pytest.mark.parametrize("name, want", [
    ("deb12-efi", [("vmxnet3", "00:50:56:3f:00:01", "VM Network"), ("vmxnet3", "00:50:56:3f:00:02", "DC0_DVPG1")]),
    ("win2019", [("e1000e", "00:50:56:3f:00:11", "DC0_DVPG0")]),
    ("rhel9-snap", [("e1000", "00:50:56:3f:00:21", "VM Network"), ("vmxnet3", "00:50:56:3f:00:22", "DC0_DVPG1")]),
])
def test_seeded_nics(seeded_records, name, want):
    vms, _warnings = by_name(seeded_records)
    assert nics(vms[name]) == want
    assert all(nic["source"]["address_type"] == "manual" for nic in vms[name]["nics"])


@pytest.mark.parametrize("name, want", [
    ("deb12-efi", ("DC0", "/DC0/vm/linux", "DC0_C0", "DC0_C0_H0")),
    ("win2019", ("DC0", "/DC0/vm/windows", "DC0_C1", "DC0_C1_H0")),
    ("DC0_C1_RP0_VM1", ("DC0", "/DC0/vm", "DC0_C1", "DC0_C1_H0")),
])
def test_seeded_placement(seeded_records, name, want):
    vms, _warnings = by_name(seeded_records, server="127.0.0.1")
    source = vms[name]["source"]
    assert (source["datacenter"], source["folder"], source["cluster"], source["host"]) == want
    assert source["type"] == "vsphere" and source["id"].startswith("vm-") and source["server"] == "127.0.0.1"
    assert source["instance_uuid"] and source["bios_uuid"]


def test_seeded_snapshot_and_cbt(seeded_records):
    vms, _warnings = by_name(seeded_records)
    flags = vms["rhel9-snap"]["source"]["flags"]
    assert (flags["snapshot"], flags["snapshot_count"], flags["current_snapshot"], flags["cbt"]) == (
        True, 1, "before-migration", True)
    assert vms["deb12-efi"]["source"]["flags"]["snapshot"] is False


# --- what only a real vCenter shows -------------------------------------------------------------

def test_edge_warnings(edge_records):
    vms, warnings = by_name(edge_records)
    assert "vm-104" not in [vm["source"]["id"] for vm in vms.values()]
    assert len(warnings) == 3
    assert "orphan (vm-103)" in warnings[0] and "orphaned" in warnings[0]
    assert "vm-104 was deleted while the inventory was being read" in warnings[1]
    assert "vm-105 could not be read (NoPermission)" in warnings[2]
    assert [note["severity"] for note in vms["orphan"]["notes"]] == ["warning"]


def test_encrypted_snapshotted_vm(edge_records):
    vm = by_name(edge_records)[0]["db01"]
    assert hardware(vm) == ("on", "uefi", True, 8, 4, 32768, "linux", "sles", "15", "x86_64")
    assert vm["guest"]["hostname"] == "db01.example.com"
    assert vm["source"]["flags"] == {
        "snapshot": True, "snapshot_count": 2, "current_snapshot": "post-upgrade", "cbt": True, "encrypted": True,
        "template": False, "passthrough": ["PCI device 0"], "usb": ["USB device 1"], "connection_state": "connected"}
    assert (vm["source"]["datacenter"], vm["source"]["folder"], vm["source"]["cluster"]) == (
        "Berlin", "/EMEA/Berlin/vm/prod/db", "prod-cluster")


def test_disk_chain_rdm_and_boot_order(edge_records):
    vm = by_name(edge_records)[0]["db01"]
    assert disks(vm) == [
        ("scsi0:0", "scsi", 0, 60, False, "pvscsi", "sesparse", "persistent", True),
        ("scsi1:0", "scsi", 0, 500, False, "lsisas1068", "rdm", "independent_persistent", False),
        ("nvme0:0", "nvme", 0, 20, True, "nvme", "flat", "persistent", False),  # first disk in the boot order
    ]
    first, rdm, nvme = vm["disks"]
    assert first["source"]["chain"] == ["[vsanDatastore] 0b1c-uuid/db01-000002.vmdk",
                                        "[vsanDatastore] 0b1c-uuid/db01-000001.vmdk",
                                        "[vsanDatastore] 0b1c-uuid/db01.vmdk"]
    assert first["source"]["encrypted"] is True and first["source"]["datastore"] == "vsanDatastore"
    assert (rdm["source"]["compatibility_mode"], rdm["source"]["sharing"], rdm["source"]["independent"]) == (
        "physicalMode", "sharingMultiWriter", True)
    assert rdm["source"]["lun_uuid"].startswith("0200000000600a0b8")
    assert (nvme["source"]["eager_zeroed"], nvme["capacity_bytes"]) == (True, 20 * GIB)  # capacityInKB only


def test_nic_networks_and_guest_ips(edge_records):
    vms = by_name(edge_records)[0]
    assert nics(vms["db01"]) == [("vmxnet3", "00:50:56:aa:bb:01", "prod-vlan10"),
                                 ("sriov", "00:50:56:aa:bb:02", "VM Network")]
    assert vms["db01"]["nics"][0]["ip"] == ["192.0.2.21", "fe80::250:56ff:feaa:bb01"]
    assert vms["db01"]["nics"][0]["source"]["portgroup_key"] == "dvportgroup-14"
    assert vms["db01"]["nics"][1]["source"]["connected"] is False
    # a network outside the query falls back to the backing's device name; NSX networks keep their id
    assert nics(vms["legacy-ide"]) == [("e1000", "00:0c:29:12:34:56", "Old Network"),
                                       ("vmxnet3", "00:50:56:aa:bb:03", "nsx-ls-42")]


def test_legacy_vm_without_boot_order(edge_records):
    vm = by_name(edge_records)[0]["legacy-ide"]
    # Windows' desktop-style numbering (windows9Server = 2016) gives no version; cores 0 means 1
    assert hardware(vm) == ("suspended", "bios", False, 2, 1, 2048, "windows", "windows", None, "x86_64")
    assert [(d["id"], d["boot"], d["source"]["controller_model"]) for d in vm["disks"]] == [
        ("ide0:0", False, "ide"), ("scsi0:3", True, "buslogic")]
    assert (vm["source"]["host"], vm["source"]["cluster"], vm["source"]["folder"]) == (
        "esx02.example.com", None, "/EMEA/Berlin/vm")


def test_template_and_vapp_child(edge_records):
    vms = by_name(edge_records)[0]
    assert vms["tmpl-centos7"]["source"]["flags"]["template"] is True
    child = vms["vapp-app"]
    assert (child["source"]["folder"], child["source"]["datacenter"], child["disks"], child["nics"]) == (
        None, None, [], [])
    assert child["source"]["cluster"] == "prod-cluster"


@pytest.mark.parametrize("path, want", [
    ("[ds1] web/web.vmdk", ("ds1", "web/web.vmdk")),
    ("[my ds] a b/c.vmdk", ("my ds", "a b/c.vmdk")),
    ("[ds1]", ("ds1", "")),
    ("/vmfs/volumes/ds1/web.vmdk", (None, "/vmfs/volumes/ds1/web.vmdk")),
    (None, (None, None)),
])
def test_parse_datastore_path(path, want):
    assert describe.parse_datastore_path(path) == want
