"""preflight rules: each finding on a description and measured host facts (pure)."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils import _model
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._preflight import host as host_facts
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._preflight import rules

GIB = 1024 ** 3


def _vm(**changes):
    vm = _model.new_vm("web01", "ova", "web01")
    vm.update(cpus=2, memory_mib=2048, guest=dict(vm["guest"], family="linux", distro="debian"))
    vm["disks"] = [_model.new_disk("disk0", 20 * GIB, "scsi", 0, True,
                                   {"ova": "/src/web01.ova", "file": "web01-disk1.vmdk", "size": 2 * GIB,
                                    "format_hint": "streamOptimized", "populated_bytes": None})]
    vm.update(changes)
    return vm


HOST = {"output_dir": "/var/lib/hyper2kvm/web01", "free_bytes": 100 * GIB, "converted": [], "missing_sources": [],
        "uefi_firmware": ["50-edk2-ovmf-4m.json"], "memory_mib": 24000, "cpus": 2}


def codes(findings):
    return [(f["code"], f["severity"]) for f in findings]


def test_a_plain_linux_vm_on_a_roomy_host_has_no_findings():
    assert rules.evaluate(_vm(), HOST) == []


def test_estimate_grows_compressed_streams_and_prefers_populated_bytes():
    disk = _vm()["disks"][0]
    assert rules.estimate_bytes(disk) == 6 * GIB
    disk["source"]["populated_bytes"] = 3 * GIB
    assert rules.estimate_bytes(disk) == 3 * GIB
    disk["source"].update(populated_bytes=None, size=None)
    assert rules.estimate_bytes(disk) == 20 * GIB


@pytest.mark.parametrize("free, expected", [
    (4 * GIB, [("disk_space", "blocker")]),
    (10 * GIB, [("disk_space_if_full", "warning")]),
    (30 * GIB, []),
])
def test_free_space_against_likely_and_worst_need(free, expected):
    assert codes(rules.evaluate(_vm(), dict(HOST, free_bytes=free))) == expected


def test_converted_disks_do_not_count_again():
    assert rules.evaluate(_vm(), dict(HOST, free_bytes=GIB, converted=["disk0"])) == []


def test_blockers_come_first_and_waiving_downgrades():
    vm = _vm(firmware="uefi", memory_mib=64000, disks=[])
    host = dict(HOST, uefi_firmware=[])
    expected = [("no_disks", "blocker"), ("uefi_firmware_missing", "blocker"), ("memory_exceeds_host", "warning")]
    assert codes(rules.evaluate(vm, host)) == expected
    waived = rules.evaluate(vm, host, waived=["uefi_firmware_missing"])
    assert ("uefi_firmware_missing", "warning") in codes(waived)
    assert [f for f in waived if f["code"] == "uefi_firmware_missing"][0]["waived"] is True


def test_missing_source_is_a_blocker_with_the_path():
    (finding,) = rules.evaluate(_vm(), dict(HOST, missing_sources=["/src/web01.ova"]))
    assert finding["code"] == "source_missing" and "/src/web01.ova" in finding["message"]


@pytest.mark.parametrize("family, expected", [
    ("windows", [("windows_guest", "warning")]),
    ("solaris", [("unsupported_guest", "warning")]),
    (None, [("guest_unknown", "info")]),
])
def test_guest_family(family, expected):
    vm = _vm()
    vm["guest"]["family"] = family
    assert codes(rules.evaluate(vm, HOST)) == expected


def test_blockers_from_earlier_stages_are_carried_but_not_our_own_notes():
    vm = _vm()
    _model.add_note(vm, "inspect", "blocker", "The root filesystem is encrypted.", "Give the key.")
    _model.add_note(vm, "preflight", "blocker", "an earlier preflight finding")
    assert codes(rules.evaluate(vm, HOST)) == [("source_inspect", "blocker")]


def test_cpus_beyond_the_host_are_information():
    assert codes(rules.evaluate(_vm(cpus=8), HOST)) == [("cpus_exceed_host", "info")]


def test_measure_finds_missing_sources_and_existing_outputs(tmp_path):
    vm = copy.deepcopy(_vm())
    vm["disks"][0]["source"]["ova"] = str(tmp_path / "gone.ova")
    done = tmp_path / "out" / "disk0.qcow2"
    done.parent.mkdir()
    done.write_bytes(b"x")
    facts = host_facts.measure(vm, str(tmp_path / "out" / "deeper"), [str(done)])
    assert facts["missing_sources"] == [str(tmp_path / "gone.ova")]
    assert facts["converted"] == ["disk0"]
    assert facts["free_bytes"] > 0 and facts["memory_mib"] > 0


def _vsphere_vm(flags=None, **disk_source):
    vm = _vm()
    vm["source"] = {"type": "vsphere", "id": "vm-42", "flags": dict(flags or {})}
    vm["disks"][0]["source"] = dict({"label": "Hard disk 1", "backing": "flat", "sharing": "sharingNone",
                                     "independent": False, "populated_bytes": GIB}, **disk_source)
    return vm


@pytest.mark.parametrize("source_type", ["vsphere", "azure"])
def test_exported_disks_are_not_looked_for_on_this_host(tmp_path, source_type):
    """A vSphere disk's path names a datastore file (an Azure one a managed disk): the export stage
    fetches it, so its absence here is no blocker."""
    vm = _vsphere_vm(path="web01/web01.vmdk")
    vm["source"]["type"] = source_type
    assert host_facts.measure(vm, str(tmp_path), [])["missing_sources"] == []


@pytest.mark.parametrize("disk_source, expected", [
    ({"backing": "rdm", "compatibility_mode": "physicalMode"}, [("rdm_disk", "blocker")]),
    ({"backing": "host_device"}, [("rdm_disk", "blocker")]),
    ({"sharing": "sharingMultiWriter"}, [("shared_disk", "blocker")]),
    ({"independent": True, "disk_mode": "independent_persistent"}, [("independent_disk", "warning")]),
])
def test_vsphere_disks_a_file_export_cannot_copy(disk_source, expected):
    findings = rules.evaluate(_vsphere_vm(**disk_source), HOST)
    assert codes(findings) == expected
    assert "disk0 (Hard disk 1)" in findings[0]["message"]


@pytest.mark.parametrize("flags, expected", [
    ({"template": True}, [("template", "blocker")]),
    ({"connection_state": "orphaned"}, [("not_connected", "blocker")]),
    ({"encrypted": True}, [("encrypted_vm", "blocker")]),
    ({"snapshot": True, "snapshot_count": 2, "current_snapshot": "before-upgrade"}, [("snapshots", "warning")]),
    ({"passthrough": ["PCI device 0"], "usb": ["USB controller"]},
     [("passthrough_devices", "warning"), ("usb_devices", "warning")]),
    ({"cbt": True, "connection_state": "connected"}, [("cbt_enabled", "info")]),
])
def test_vsphere_vm_flags(flags, expected):
    assert codes(rules.evaluate(_vsphere_vm(flags), HOST)) == expected


def test_snapshot_message_names_the_current_state():
    (finding,) = rules.evaluate(_vsphere_vm({"snapshot": True, "snapshot_count": 2, "current_snapshot": "pre"}), HOST)
    assert "2 snapshot(s)" in finding["message"] and "(pre)" in finding["message"]
