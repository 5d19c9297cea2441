"""guest_info on real images through the real libguestfs appliance: the fixture guest as disk_convert
writes it, and small hostile images built here without mounting anything on the host."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from support import boot_lock, sha256_file

guestfs = pytest.importorskip("guestfs", reason="python3-guestfs missing: run scripts/setup.sh")

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (  # noqa: E402
    InvalidInputError, UnsupportedError)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest import inspect as guest  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _fingerprint(path):
    st = os.stat(path)
    return sha256_file(path), st.st_size, st.st_mtime_ns


def _codes(items):
    return [item["code"] for item in items]


@pytest.fixture(scope="session")
def inspected(converted_fixture):
    """One inspection of the converted fixture (one appliance launch), with the image's fingerprint around it."""
    before = _fingerprint(converted_fixture)
    with boot_lock():
        result = guest.inspect(converted_fixture)
    return {"result": result, "before": before, "after": _fingerprint(converted_fixture)}


# --- the fixture guest ----------------------------------------------------------------------------

def test_image_untouched(inspected):
    assert inspected["after"] == inspected["before"]


def test_os(inspected, fixture_guest):
    result = inspected["result"]
    assert result["image"]["format"] == "qcow2"
    assert len(result["roots"]) == 1
    os_facts = result["os"]
    assert (os_facts["type"], os_facts["distro"], os_facts["major_version"]) == ("linux", "debian", 12)
    assert os_facts["package_format"] == "deb"
    assert result["vm_guest"] == {"family": "linux", "distro": "debian", "version": "12", "arch": "x86_64",
                                  "hostname": fixture_guest["hostname"]}


def test_no_blockers(inspected):
    assert inspected["result"]["blockers"] == []


def test_boot_is_bios_on_mbr(inspected):
    result = inspected["result"]
    assert result["boot"]["mode"] == "bios"
    assert result["boot"]["partition_table"] == "mbr"
    assert result["boot"]["esp"] == []
    assert result["mountpoints"] == {"/": "/dev/sda1"}
    assert [(fs["device"], fs["type"]) for fs in result["filesystems"]] == [("/dev/sda1", "ext4")]


def test_fstab_root_is_unstable(inspected, fixture_guest):
    fstab = inspected["result"]["fstab"]
    root = [e for e in fstab["entries"] if e["file"] == "/"]
    assert len(root) == 1 and root[0]["spec"] == fixture_guest["root_device"] and root[0]["unstable"] is True
    assert fstab["unstable"] == ["/dev/sda1"]
    assert "fstab_unstable_device" in _codes(inspected["result"]["findings"])


def test_bootloader(inspected):
    loader = inspected["result"]["bootloader"]
    assert loader["flavour"] == "grub2"
    assert loader["cmdline_source"] == "/boot/grub/grub.cfg"
    assert loader["root"] == "/dev/sda1" and loader["root_unstable"] is True
    assert "console=ttyS0,115200n8" in loader["cmdline"]
    assert loader["disable_linux_uuid"] is True
    assert "/etc/default/grub" in loader["config_files"]


def test_initramfs_lacks_virtio(inspected, fixture_guest):
    initramfs = inspected["result"]["initramfs"]
    assert initramfs["tool"] == "initramfs-tools"
    assert [k["version"] for k in initramfs["kernels"]] == [fixture_guest["kernel"]]
    kernel = initramfs["kernels"][0]
    assert kernel["virtio_supported"] is True  # the kernel has the modules; its initramfs does not
    assert kernel["initrd_listed"] is True
    assert "virtio_blk" in kernel["initrd_missing_virtio"]
    assert "initramfs_without_virtio" in _codes(inspected["result"]["findings"])


def test_network(inspected, fixture_guest):
    network = inspected["result"]["network"]
    assert "ifupdown" in network["stacks"]
    nics = {nic["name"]: nic for nic in network["interfaces"]}
    nic = nics[fixture_guest["nic_name"]]
    assert nic["stack"] == "ifupdown" and nic["dhcp"] is False
    assert "%s/%s" % (fixture_guest["ip"], fixture_guest["prefix"]) in nic["addresses"]
    assert nic["mac"] == nic["pinned_mac"] == fixture_guest["mac"]
    assert nic["pinned_by"] == "/etc/systemd/network/10-%s.link" % fixture_guest["nic_name"]
    assert "nic_pinned_to_mac" in _codes(inspected["result"]["findings"])


def test_vmware_tools_and_the_rest(inspected):
    result = inspected["result"]
    assert "open-vm-tools" in result["vmware_tools"]["packages"]
    assert result["vmware_tools"]["tarball_install"] is False
    assert result["selinux"]["configured"] is False
    assert result["cloud_init"]["installed"] is False
    assert not [f for f in result["findings"] if f["severity"] == "warning"], result["findings"]
    appliance = result["appliance"]
    assert appliance["accel"] in ("kvm", "tcg") and appliance["launch_seconds"] > 0
    print("appliance:", json.dumps(appliance))


# --- the module ---------------------------------------------------------------------------------

def _run_module(args, capsys):
    from ansible.module_utils.testing import patch_module_args
    from ansible_collections.hyper2kvm.migrate.plugins.modules import guest_info

    args = dict(args, _ansible_check_mode=False, _ansible_diff=False)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            guest_info.main()
    return json.loads(capsys.readouterr().out)


def test_module_refines_the_description(converted_fixture, fixture_guest, one_boot_at_a_time, capsys):
    from ansible_collections.hyper2kvm.migrate.plugins.module_utils import _model

    vm = _model.new_vm("h2k-fixture", "ova")
    vm["firmware"] = "uefi"
    vm["nics"].append(_model.new_nic(mac=fixture_guest["mac"].upper(), network="VM Network"))
    before = _fingerprint(converted_fixture)
    out = _run_module({"path": converted_fixture, "format": "qcow2", "vm": vm}, capsys)
    assert _fingerprint(converted_fixture) == before
    assert out.get("failed") is not True, out.get("msg")
    assert out["changed"] is False
    assert out["blockers"] == []
    refined = out["vm"]
    assert refined["guest"]["distro"] == "debian" and refined["guest"]["hostname"] == fixture_guest["hostname"]
    assert refined["firmware"] == "bios"
    assert refined["nics"][0]["name_in_guest"] == fixture_guest["nic_name"]
    assert any("initramfs" in note["message"] for note in refined["notes"])
    _model.validate(refined)


def test_module_refuses_a_format_mismatch(converted_fixture, capsys):
    out = _run_module({"path": converted_fixture, "format": "vmdk"}, capsys)
    assert out["failed"] is True and out["error_kind"] == "InvalidInputError"
    assert "qcow2" in out["msg"]


def test_backing_chain_is_refused_before_launch(tmp_path):
    overlay = tmp_path / "overlay.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(tmp_path / "base.qcow2"), "16M"], check=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", "base.qcow2", str(overlay)],
                   check=True, cwd=tmp_path)
    with pytest.raises(UnsupportedError) as err:
        guest.inspect(str(overlay))
    assert "backing file" in str(err.value) and "disk_convert" in str(err.value)
    with pytest.raises(InvalidInputError):
        guest.inspect(str(tmp_path / "missing.qcow2"))


# --- empty guests (built with mkfs.ext4: nothing is mounted on the host; hostile ones: test_hostile_guests.py)

def _mkfs(path, size="24M"):
    if shutil.which("mkfs.ext4") is None:
        pytest.skip("mkfs.ext4 missing (Debian package e2fsprogs)")
    argv = ["mkfs.ext4", "-q", "-F", "-L", "h2k-empty", str(path), size]
    subprocess.run(argv, check=True, capture_output=True)
    return str(path)


def test_blank_disk_has_no_os(tmp_path, one_boot_at_a_time):
    image = _mkfs(tmp_path / "blank.raw", size="16M")
    result = guest.inspect(image)
    assert result["os"] is None and result["roots"] == [] and result["vm_guest"] is None
    assert _codes(result["blockers"]) == ["no_os"]
    assert "No operating system found" in result["blockers"][0]["message"]
    assert [fs["type"] for fs in result["filesystems"]] == ["ext4"]


def _qemu_children():
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                argv0 = fh.read().split(b"\0")[0]
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and b"qemu" in argv0:
            out.append(int(pid))
    return out


def test_hung_launch_is_stopped_with_a_clear_error(tmp_path, one_boot_at_a_time):
    """A launch that overruns its deadline (as with KVM on nested PVM) stops the appliance and says why."""
    from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import MigrationError
    from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest.appliance import Appliance

    image = _mkfs(tmp_path / "small.raw", size="8M")
    app = Appliance([{"path": image, "format": "raw"}], launch_timeout=3)
    with pytest.raises(MigrationError) as err:
        with app:
            pass
    message = str(err.value)
    assert "did not start" in message and "within 3 s" in message
    assert ("accel %s" % app.accel["accel"]) in message and "Fix:" in message
    assert _qemu_children() == []
    assert app.g is None and app.tmpdir is None
