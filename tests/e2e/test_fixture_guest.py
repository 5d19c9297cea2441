"""The fixture guest is what it claims to be: a VMware-installed Debian that boots on VMware's devices,
fails on virtio (root=/dev/sda1, no virtio in its initramfs), packed as a well-formed OVA."""

from __future__ import annotations

import re
import subprocess
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import bootcheck
from support import sha256_stream

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BOOT_TIMEOUT = 600
ROOT_NOT_FOUND = r"ALERT!|\(initramfs\)|Gave up waiting for root"
NS = {
    "ovf": "http://schemas.dmtf.org/ovf/envelope/1",
    "rasd": "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData",
    "vssd": "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData",
    "vmw": "http://www.vmware.com/schema/ovf",
}
OVF_ATTR = "{%s}" % NS["ovf"]
VMW_ATTR = "{%s}" % NS["vmw"]


def _path(guest, key):
    return Path(guest["dir"]) / guest["files"][key]


def _boot_report(result, log):
    return f"{result.status} after {result.seconds}s, matched={result.matched!r}, log={log}\n{result.log_tail}"


# --- structure (fast) ---------------------------------------------------------------------------------

def test_ova_members_and_manifest(fixture_guest):
    ova = _path(fixture_guest, "ova")
    name = fixture_guest["hostname"]
    with tarfile.open(ova, "r:") as tar:
        members = tar.getmembers()
        names = [m.name for m in members]
        assert names == [f"{name}.ovf", f"{name}.mf", f"{name}-disk1.vmdk"] == fixture_guest["ova_members"]
        assert all(m.isfile() and not m.mode & 0o022 for m in members)
        digests = {m.name: sha256_stream(tar.extractfile(m)) for m in members}
        manifest = tar.extractfile(f"{name}.mf").read().decode("ascii")
        ovf_bytes = tar.extractfile(f"{name}.ovf").read()
        disk_size = tar.getmember(f"{name}-disk1.vmdk").size

    with open(ova, "rb") as fh:  # plain POSIX ustar headers, no pax/GNU extension records
        for member in members:
            fh.seek(member.offset)
            header = fh.read(512)
            assert header[257:265] == b"ustar\x0000", member.name
            assert header[156:157] == b"0", member.name

    listed = {}
    for line in manifest.splitlines():
        m = re.fullmatch(r"SHA256\((?P<file>[^)]+)\)= (?P<hex>[0-9a-f]{64})", line)
        assert m, f"bad manifest line {line!r}"
        listed[m["file"]] = m["hex"]
    assert set(listed) == {f"{name}.ovf", f"{name}-disk1.vmdk"}
    for member, hexdigest in listed.items():
        assert digests[member] == hexdigest, member
    with open(_path(fixture_guest, "vmdk_stream"), "rb") as fh:
        assert sha256_stream(fh) == listed[f"{name}-disk1.vmdk"], "the OVA must carry the streamOptimized VMDK"

    # The OVF describes the VM the way ovftool would.
    root = ET.fromstring(ovf_bytes)
    ref = root.find("ovf:References/ovf:File", NS)
    assert ref.get(OVF_ATTR + "href") == f"{name}-disk1.vmdk"
    assert int(ref.get(OVF_ATTR + "size")) == disk_size
    disk = root.find("ovf:DiskSection/ovf:Disk", NS)
    assert int(disk.get(OVF_ATTR + "capacity")) == fixture_guest["disk_virtual_size"]
    assert disk.get(OVF_ATTR + "capacityAllocationUnits") == "byte"
    assert disk.get(OVF_ATTR + "format").endswith("vmdk.html#streamOptimized")
    assert 0 < int(disk.get(OVF_ATTR + "populatedSize")) < fixture_guest["disk_virtual_size"]
    system = root.find("ovf:VirtualSystem", NS)
    assert system.get(OVF_ATTR + "id") == name
    os_section = system.find("ovf:OperatingSystemSection", NS)
    assert os_section.get(VMW_ATTR + "osType") == "debian12_64Guest"
    hw = system.find("ovf:VirtualHardwareSection", NS)
    assert hw.find("ovf:System/vssd:VirtualSystemType", NS).text == "vmx-19"
    items = {}
    for item in hw.findall("ovf:Item", NS):
        items.setdefault(item.find("rasd:ResourceType", NS).text, []).append(item)
    assert items["3"][0].find("rasd:VirtualQuantity", NS).text == str(fixture_guest["cpus"])
    assert items["4"][0].find("rasd:VirtualQuantity", NS).text == str(fixture_guest["memory_mib"])
    scsi = items["6"][0]
    assert scsi.find("rasd:ResourceSubType", NS).text == "VirtualSCSI"
    hdd = items["17"][0]
    assert hdd.find("rasd:HostResource", NS).text == "ovf:/disk/vmdisk1"
    assert hdd.find("rasd:Parent", NS).text == scsi.find("rasd:InstanceID", NS).text
    assert hdd.find("rasd:AddressOnParent", NS).text == "0"
    nic = items["10"][0]
    assert nic.find("rasd:ResourceSubType", NS).text == "VmxNet3"
    assert nic.find("rasd:Address", NS).text == fixture_guest["mac"]
    assert nic.find("rasd:Connection", NS).text == "VM Network"
    config = {c.get(VMW_ATTR + "key"): c.get(VMW_ATTR + "value") for c in hw.findall("vmw:Config", NS)}
    assert config["firmware"] == "bios"


@pytest.mark.parametrize(
    "key, fmt, subformat",
    [("vmdk_stream", "vmdk", "streamOptimized"), ("vmdk_sparse", "vmdk", "monolithicSparse"),
     ("vhdx", "vhdx", None)],
)
def test_exports_identical_to_raw(fixture_guest, key, fmt, subformat):
    raw, image = _path(fixture_guest, "raw"), _path(fixture_guest, key)
    info = subprocess.run(["qemu-img", "info", "-f", fmt, str(image)],
                          capture_output=True, text=True, check=True).stdout
    if subformat:
        assert f"create type: {subformat}" in info
    cmp = subprocess.run(["qemu-img", "compare", "-f", "raw", "-F", fmt, str(raw), str(image)],
                         capture_output=True, text=True, check=False)
    assert cmp.returncode == 0, cmp.stdout + cmp.stderr
    assert "Images are identical" in cmp.stdout


def test_raw_image_is_sparse(fixture_guest):
    raw = _path(fixture_guest, "raw")
    st = raw.stat()
    assert st.st_size == fixture_guest["disk_virtual_size"]
    assert st.st_blocks * 512 < st.st_size // 2, "disk.raw should stay sparse (fstrim before packing)"


# --- real boots (one at a time) -----------------------------------------------------------------------

def test_converted_disk_boots_on_vmware_devices(fixture_guest, converted_fixture, one_boot_at_a_time, tmp_path):
    """The qcow2 that disk_convert made straight out of the OVA boots on pvscsi + vmxnet3 (as on
    VMware): the fixture is a working guest, and conversion kept it bootable."""
    log = tmp_path / "console-pvscsi.log"
    result = bootcheck.boot(
        converted_fixture, "qcow2", "pvscsi", "vmxnet3", BOOT_TIMEOUT, str(log),
        success=[re.escape(fixture_guest["marker"])], mac=fixture_guest["mac"],
    )
    assert result.status == "pass", _boot_report(result, log)
    assert fixture_guest["marker"] in result.matched


def test_fails_on_virtio_blk(fixture_guest, one_boot_at_a_time, tmp_path):
    log = tmp_path / "console-virtio.log"
    result = bootcheck.boot(
        str(_path(fixture_guest, "raw")), "raw", "virtio-blk", "virtio-net-pci", BOOT_TIMEOUT, str(log),
        success=[re.escape(fixture_guest["marker"])], mac=fixture_guest["mac"],
    )
    assert result.status == "fail", _boot_report(result, log)
    assert re.search(ROOT_NOT_FOUND, result.matched), _boot_report(result, log)
