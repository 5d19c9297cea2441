# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ARM VM JSON -> VM descriptions, on recorded answers."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils import _model as model
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.azure import describe, sizes

GIB = 1024 ** 3
SUB = "2b5e7c1a-58f4-4d0e-9b53-3c4a8f1e2d90"


@pytest.fixture(scope="module")
def described(vm_page, nics_by_id):
    return dict((vm["name"], describe.describe_vm(vm, nics_by_id)) for vm in vm_page["value"])


def summary(vm):
    guest = vm["guest"]
    return (vm["power_state"], vm["source"]["power_state"], vm["firmware"], vm["secure_boot"], vm["cpus"],
            vm["memory_mib"], guest["family"], guest["distro"], guest["version"], guest["arch"], guest["hostname"])


@pytest.mark.parametrize("name, want", [
    ("web01", ("on", "running", "uefi", True, 4, 16384, "linux", "ubuntu", "22.04", "x86_64", "web01")),
    ("sql01", ("off", "deallocated", "bios", False, 4, 65536, "windows", "windows", "2019", "x86_64", "SQL01")),
    ("arm01", ("off", "stopped", "uefi", False, 2, 8192, "linux", "debian", "12", "aarch64", "arm01")),
    ("gpu01", ("unknown", None, "bios", False, 1, 1024, "linux", "rhel", "8.9", None, "gpu01")),
])
def test_hardware_power_and_guest(described, name, want):
    assert summary(described[name]) == want
    assert model.validate(described[name])


def test_source_identifies_the_vm(described):
    source = described["web01"]["source"]
    assert source["id"] == ("/subscriptions/%s/resourceGroups/RG-WEB/providers/Microsoft.Compute/"
                            "virtualMachines/web01" % SUB)
    assert (source["type"], source["subscription"], source["resource_group"], source["location"]) == (
        "azure", SUB, "RG-WEB", "westeurope")
    assert (source["vm_id"], source["size"], source["zones"], source["security_type"], source["hyperv_generation"]) == (
        "8f3d1c2b-4a5e-4f60-9b7c-1d2e3f4a5b6c", "Standard_D4s_v5", ["1"], "TrustedLaunch", "V2")
    assert source["tags"] == {"Migrate": "kvm", "owner": "web-team"}
    assert source["image"]["offer"] == "0001-com-ubuntu-server-jammy"


def test_disks_os_first_then_data_by_lun(described):
    got = [(d["id"], d["capacity_bytes"] // GIB, d["controller"], d["unit"], d["boot"], d["source"]["kind"],
            d["source"]["lun"], d["source"]["caching"], d["source"]["storage_account_type"])
           for d in described["web01"]["disks"]]
    assert got == [
        ("web01_OsDisk_1_3c9a5e0f6b8d4c2aa1e7f9d0b2c4e6a8", 30, "scsi", 0, True, "os", None, "ReadWrite", "Premium_LRS"),
        ("web01-data", 256, "scsi", 1, False, "data", 0, "ReadOnly", "Premium_LRS"),
        ("web01-logs", 128, "scsi", 2, False, "data", 1, "None", "StandardSSD_LRS"),
    ]
    assert described["web01"]["disks"][1]["source"]["managed_disk_id"].endswith("/Microsoft.Compute/disks/web01-data")
    assert described["sql01"]["disks"][1]["source"]["write_accelerator"] is True
    assert [d["controller"] for d in described["arm01"]["disks"]] == ["nvme"]


def test_nics_with_mac_addresses_and_subnets(described):
    nic = described["web01"]["nics"][0]
    assert (nic["mac"], nic["network"], nic["model"], nic["ip"]) == (
        "00:0d:3a:2b:4c:5d", "hub-vnet/web", "netvsc", ["10.1.0.4", "10.1.0.5"])
    assert (nic["source"]["name"], nic["source"]["primary"], nic["source"]["accelerated_networking"]) == (
        "web01-nic", True, True)


def test_nic_without_mac_or_resource(described):
    first, second = described["sql01"]["nics"]
    # A deallocated VM's NIC has no MAC yet; a NIC missing from the listing is known by its id only.
    assert (first["mac"], first["ip"], first["network"], first["source"]["primary"]) == (
        None, ["10.2.0.10"], "db-vnet/sql", True)
    assert (second["mac"], second["ip"], second["network"], second["source"]["primary"]) == (None, [], None, False)
    assert second["source"]["name"] == "sql01-nic-b"


def test_without_nic_listing_nics_keep_their_ids(vm_page):
    vm = describe.describe_vm(vm_page["value"][0])
    assert [(n["mac"], n["source"]["id"].rsplit("/", 1)[1]) for n in vm["nics"]] == [(None, "web01-nic")]


def notes(vm):
    return [(n["severity"], n["message"].split(":")[0].split(";")[0]) for n in vm["notes"]]


def test_notes(described):
    assert notes(described["web01"]) == [("info", "The VM has a virtual TPM")]
    assert notes(described["sql01"]) == []
    assert notes(described["gpu01"]) == [
        ("warning", "The Hyper-V generation is unknown (no instance view)"),
        ("warning", "VM size Standard_NC6s_v3 is not in the built-in table"),
        ("error", "The OS disk is ephemeral"),
    ]


def test_trusted_launch_without_secure_boot(vm_page):
    vm = copy.deepcopy(vm_page["value"][0])
    vm["properties"]["securityProfile"]["uefiSettings"] = {"secureBootEnabled": False, "vTpmEnabled": False}
    got = describe.describe_vm(vm)
    assert (got["firmware"], got["secure_boot"], got["notes"]) == ("uefi", False, [])


def test_unmanaged_disk_is_noted(vm_page):
    vm = copy.deepcopy(vm_page["value"][2])
    os_disk = vm["properties"]["storageProfile"]["osDisk"]
    del os_disk["managedDisk"]
    os_disk["vhd"] = {"uri": "https://legacystore.blob.core.windows.net/vhds/arm01-os.vhd"}
    got = describe.describe_vm(vm)
    assert got["disks"][0]["source"]["vhd_uri"].endswith("/vhds/arm01-os.vhd")
    assert notes(got) == [("warning", "The VM has unmanaged disks (VHD page blobs in a storage account).")]


@pytest.mark.parametrize("code, want", [
    ("PowerState/running", ("on", "running")), ("PowerState/starting", ("on", "starting")),
    ("PowerState/stopping", ("on", "stopping")), ("PowerState/stopped", ("off", "stopped")),
    ("PowerState/deallocating", ("off", "deallocating")), ("PowerState/deallocated", ("off", "deallocated")),
    ("PowerState/hibernated", ("unknown", "hibernated")),
])
def test_power_states(code, want):
    vm = {"properties": {"instanceView": {"statuses": [{"code": "ProvisioningState/succeeded"}, {"code": code}]}}}
    assert describe.power_state(vm) == want


@pytest.mark.parametrize("publisher, offer, sku, want", [
    ("Canonical", "ubuntu-24_04-lts", "server", ("ubuntu", "24.04")),
    ("Canonical", "0001-com-ubuntu-server-focal", "20_04-lts-gen2", ("ubuntu", "20.04")),
    ("Debian", "debian-11", "11-backports-gen2", ("debian", "11")),
    ("RedHat", "RHEL", "9-lvm-gen2", ("rhel", "9")),
    ("OpenLogic", "CentOS", "7_9-gen2", ("centos", "7.9")),
    ("SUSE", "sles-15-sp5", "gen2", ("sles", "15")),
    ("almalinux", "almalinux-x86_64", "9-gen2", ("almalinux", "9")),
    ("resf", "rockylinux-x86_64", "9-base", ("rocky", "9")),
    ("Oracle", "Oracle-Linux", "ol94-lvm-gen2", ("oracle", None)),
    ("MicrosoftWindowsServer", "WindowsServer", "2022-datacenter-azure-edition", ("windows", "2022")),
    ("MicrosoftWindowsDesktop", "windows-11", "win11-23h2-pro", ("windows", "11")),
    ("kinvolk", "flatcar-container-linux-free", "stable-gen2", (None, None)),
])
def test_guest_from_image_reference(publisher, offer, sku, want):
    vm = {"name": "x", "id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/virtualMachines/x",
          "properties": {"storageProfile": {"imageReference": {"publisher": publisher, "offer": offer, "sku": sku},
                                            "osDisk": {"osType": "Linux"}}}}
    guest = describe.describe_vm(vm)["guest"]
    assert (guest["distro"], guest["version"]) == want


@pytest.mark.parametrize("size, want", [
    ("Standard_D2s_v3", (2, 8192, "x86_64")), ("standard_d16ads_v5", (16, 65536, "x86_64")),
    ("Standard_D4ls_v5", (4, 8192, "x86_64")), ("Standard_D8pds_v6", (8, 32768, "aarch64")),
    ("Standard_E4-2as_v5", (2, 32768, "x86_64")), ("Standard_E48s_v3", (48, 393216, "x86_64")),
    ("Standard_F8s_v2", (8, 16384, "x86_64")), ("Standard_B2ms", (2, 8192, "x86_64")),
    ("Standard_DS2_v2", (2, 7168, "x86_64")), ("Standard_B1ls", (1, 512, "x86_64")),
    ("Standard_E64s_v3", None), ("Standard_F4as_v6", None), ("Standard_D2_v2_Promo", None),
    ("Standard_NC24ads_A100_v4", None), ("", None), (None, None),
])
def test_sizes(size, want):
    got = sizes.lookup(size)
    assert (got and (got["cpus"], got["memory_mib"], got["arch"])) == want


def test_parse_id():
    assert describe.parse_id("/subscriptions/S/resourceGroups/R/providers/Microsoft.Network/virtualNetworks/V/"
                             "subnets/N") == {"subscriptions": "S", "resourcegroups": "R",
                                              "providers": "Microsoft.Network", "virtualnetworks": "V", "subnets": "N"}
    assert describe.parse_id(None) == {}
