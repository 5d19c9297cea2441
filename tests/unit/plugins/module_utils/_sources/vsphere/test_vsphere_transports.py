# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The NFC (ExportVm / HttpNfcLease) and VDDK (nbdkit) transports of vsphere_disk_export.

This is a boundary the simulator cannot reach: govmomi's simulator implements neither ExportVm nor
HttpNfcLease, and VDDK is VMware's proprietary library. Their request logic is tested here with a fake
lease and fake processes; the datastore transport runs end to end in tests/e2e/test_vsphere_export.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import json
import os
import shutil
import stat
import subprocess
from types import SimpleNamespace

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils import _interrupt
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    InvalidInputError, MigrationError, MissingDependencyError)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.vsphere import transports

DISKS = [{"id": "scsi0:0", "capacity_bytes": 100}, {"id": "scsi0:1", "capacity_bytes": 300},
         {"id": "sata0:0", "capacity_bytes": 0}]


# ---- NFC: device URLs ----------------------------------------------------------------------------------------

def device(key, url, disk=True, target=None, size=None):
    return {"key": key, "url": url, "disk": disk, "targetId": target, "fileSize": size}


def test_nfc_urls_map_device_keys_to_disks_and_fill_in_the_host():
    urls = transports.nfc_disk_urls([
        device("/vm-42/VirtualLsiLogicController0:1", "https://*/nfc/52a1/disk-1.vmdk", target="disk-1.vmdk"),
        device("/vm-42/nvram", "https://*/nfc/52a1/vm.nvram", disk=False),
        device("/vm-42/VirtualAHCIController0:0", "https://esx01.example.com/nfc/52a1/disk-2.vmdk"),
        device("/vm-42/ParaVirtualSCSIController0:0", "https://*:443/nfc/52a1/disk-0.vmdk", size=4096),
    ], "vc.example.com", DISKS)
    assert urls == {
        "scsi0:0": {"url": "https://vc.example.com:443/nfc/52a1/disk-0.vmdk", "target": None, "size": 4096},
        "scsi0:1": {"url": "https://vc.example.com/nfc/52a1/disk-1.vmdk", "target": "disk-1.vmdk", "size": None},
        "sata0:0": {"url": "https://esx01.example.com/nfc/52a1/disk-2.vmdk", "target": None, "size": None},
    }


def test_nfc_urls_without_usable_keys_are_taken_in_order():
    urls = transports.nfc_disk_urls([device("disk-a", "https://*/a"), device("disk-b", "https://*/b")],
                                    "fd00::5", DISKS[:2])
    assert [urls[d["id"]]["url"] for d in DISKS[:2]] == ["https://[fd00::5]/a", "https://[fd00::5]/b"]


# ---- NFC: the lease ----------------------------------------------------------------------------------------------

class Clock(object):
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class FakeLease(object):
    """An HttpNfcLease: states are returned one per read of .state (the last one repeats)."""

    def __init__(self, states=("initializing", "ready"), error=None, device_urls=()):
        self.states, self.error, self.calls = list(states), error, []
        self.info = SimpleNamespace(deviceUrl=[SimpleNamespace(**d) for d in device_urls])

    @property
    def state(self):
        return self.states.pop(0) if len(self.states) > 1 else self.states[0]

    def HttpNfcLeaseProgress(self, percent):
        self.calls.append(("progress", percent))

    def HttpNfcLeaseComplete(self):
        self.calls.append(("complete",))

    def HttpNfcLeaseAbort(self):
        self.calls.append(("abort",))


def test_lease_waits_until_ready():
    clock = Clock()
    lease = FakeLease(["initializing", "initializing", "ready"])
    assert transports.Lease(lease, 100, clock, clock.sleep).wait_ready() is lease.info
    assert clock.now == 2.0


@pytest.mark.parametrize("states, error, words", [
    (["error"], SimpleNamespace(msg="The operation is not allowed in the current state."), "refused the export lease"),
    (["done"], None, "ended before it was used"),
    (["initializing"], None, "not ready within 300 s"),
])
def test_lease_that_never_gets_ready(states, error, words):
    clock = Clock()
    with pytest.raises(MigrationError) as caught:
        transports.Lease(FakeLease(states, error), 100, clock, clock.sleep).wait_ready()
    assert words in str(caught.value)


def test_lease_progress_is_reported_now_and_then():
    clock = Clock()
    lease = FakeLease()
    keeper = transports.Lease(lease, 1000, clock, clock.sleep)
    for _step in range(10):
        keeper.add(100)
        clock.now += 10
    # At once, then every 30 s; never 100 % before the lease is completed.
    assert lease.calls == [("progress", 10), ("progress", 40), ("progress", 70), ("progress", 99)]


def test_leased_completes_on_success_and_aborts_on_every_failure():
    clock = Clock()
    lease, report = FakeLease(), {}
    with transports.leased(lease, 100, report, clock, clock.sleep):
        pass
    assert lease.calls == [("complete",)] and report == {"lease": True, "completed": True, "aborted": False}

    for error in (MigrationError("download failed"), _interrupt.Interrupted("Stopped by SIGTERM")):
        lease, report = FakeLease(), {}
        with pytest.raises(type(error)):
            with transports.leased(lease, 100, report, clock, clock.sleep):
                raise error
        assert lease.calls == [("abort",)] and report["aborted"] is True and report["completed"] is False

    lease, report = FakeLease(["error"], SimpleNamespace(msg="no")), {}
    with pytest.raises(MigrationError):
        with transports.leased(lease, 100, report, clock, clock.sleep):
            pass
    assert lease.calls == [("abort",)]


def test_failed_abort_does_not_hide_the_first_error():
    class Stubborn(FakeLease):
        def HttpNfcLeaseAbort(self):
            raise RuntimeError("session gone")
    report = {}
    with pytest.raises(MigrationError) as caught:
        with transports.leased(Stubborn(), 100, report):
            raise MigrationError("download failed")
    assert str(caught.value) == "download failed" and report["abort_error"] == "session gone"


class FakeVm(object):
    """power.Vm as the NFC transport uses it."""

    def __init__(self, lease):
        self.vm = SimpleNamespace(ExportVm=lambda: lease)

    @contextlib.contextmanager
    def calling(self, what, privileges=None):
        yield


def test_nfc_transport_streams_each_disk_under_one_lease(tmp_path):
    lease = FakeLease(device_urls=[
        {"key": "/vm-42/ParaVirtualSCSIController0:0", "url": "https://*/nfc/52a1/disk-0.vmdk", "targetId": "disk-0.vmdk",
         "disk": True, "fileSize": None}])
    fetched, report = [], {}

    def stream(client, url, dest, on_bytes):
        fetched.append(url)
        with open(dest, "wb") as fh:
            fh.write(b"KDMV" + b"\0" * 60)
        on_bytes(64)
        return 64
    clock = Clock()
    nfc = transports.NfcTransport("client", "vc.example.com", DISKS[:1], report, stream=stream, clock=clock,
                                  sleep=clock.sleep)
    with nfc.opened(FakeVm(lease), None) as opened:
        got = opened.fetch({"id": "scsi0:0", "base": "web01-scsi0-0"}, [], str(tmp_path / "stage"))
    assert fetched == ["https://vc.example.com/nfc/52a1/disk-0.vmdk"]
    assert got["kind"] == "file" and got["path"] == str(tmp_path / "stage" / "disk-0.vmdk") and got["format"] == "vmdk"
    assert got["stats"]["bytes_transferred"] == 64
    assert lease.calls == [("progress", 64), ("complete",)] and report["completed"] is True


def test_nfc_transport_refuses_unsafe_target_names(tmp_path):
    lease = FakeLease(device_urls=[
        {"key": "/vm-42/ParaVirtualSCSIController0:0", "url": "https://*/x", "targetId": "..", "disk": True,
         "fileSize": None}])
    nfc = transports.NfcTransport("client", "vc", DISKS[:1], {}, stream=None)
    with pytest.raises(MigrationError):
        with nfc.opened(FakeVm(lease), None) as opened:
            opened.fetch({"id": "scsi0:0", "base": "b"}, [], str(tmp_path))
    assert lease.calls == [("abort",)]


# ---- VDDK ------------------------------------------------------------------------------------------------------------

SECRET = "s3cret-Pa55word"


def config(**overrides):
    values = dict(server="vc.example.com", user="migrate@vsphere.local", password_file="/run/h2k/password",
                  thumbprint="AB:CD", vm_id="vm-42", file_name="[ds1] web01/web01.vmdk")
    values.update(overrides)
    return transports.VddkConfig(**values)


def test_nbdkit_argv_holds_no_secret():
    argv = transports.nbdkit_argv(config(), "/tmp/h2k/nbd.sock")
    assert argv == ["nbdkit", "--readonly", "--exit-with-parent", "--foreground", "--unix", "/tmp/h2k/nbd.sock",
                    "vddk", "server=vc.example.com", "user=migrate@vsphere.local", "password=+/run/h2k/password",
                    "thumbprint=AB:CD", "vm=moref=vm-42", "file=[ds1] web01/web01.vmdk"]


def test_nbdkit_argv_with_every_option():
    argv = transports.nbdkit_argv(config(port=8443, snapshot_id="snapshot-7", libdir="/opt/vddk",
                                         transports=["nbdssl", "nbd"]), "/s")
    assert argv[7:] == ["libdir=/opt/vddk", "server=vc.example.com", "user=migrate@vsphere.local",
                        "password=+/run/h2k/password", "thumbprint=AB:CD", "vm=moref=vm-42", "port=8443",
                        "snapshot=snapshot-7", "transports=nbdssl:nbd", "file=[ds1] web01/web01.vmdk"]


@pytest.mark.parametrize("field", ["server", "user", "vm_id", "file_name"])
def test_nbdkit_argv_refuses_line_breaks(field):
    with pytest.raises(InvalidInputError):
        transports.nbdkit_argv(config(**{field: "x\ny"}), "/s")


def test_password_file_is_private_and_removed():
    with transports.password_file(SECRET) as path:
        assert open(path).read() == SECRET
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert not os.path.exists(path) and not os.path.exists(os.path.dirname(path))


def test_thumbprint_format():
    assert transports.thumbprint(b"abc") == "A9:99:3E:36:47:06:81:6A:BA:3E:25:71:78:50:C2:6C:9C:D0:D8:9D"


def test_nbd_source_states_the_format():
    assert json.loads(transports.nbd_source("/s")[len("json:"):]) == {
        "driver": "raw", "file": {"driver": "nbd", "server": {"type": "unix", "path": "/s"}}}


def test_check_vddk_without_nbdkit():
    with pytest.raises(MissingDependencyError) as caught:
        transports.check_vddk(which=lambda name: None)
    assert "needs nbdkit" in str(caught.value) and "transport: datastore" in str(caught.value)


def test_check_vddk_without_the_plugin_or_the_library(tmp_path):
    def run(argv, **kwargs):
        assert argv == ["nbdkit", "--dump-plugin", "vddk"]
        return SimpleNamespace(returncode=1, stderr=b"nbdkit: error: cannot open plugin 'vddk'\n")
    with pytest.raises(MissingDependencyError) as caught:
        transports.check_vddk(which=lambda name: "/usr/bin/nbdkit", run=run)
    assert "nbdkit has no vddk plugin: nbdkit: error: cannot open plugin 'vddk'" in str(caught.value)

    def ok(argv, **kwargs):
        return SimpleNamespace(returncode=0, stderr=b"")
    with pytest.raises(MissingDependencyError) as caught:
        transports.check_vddk(str(tmp_path), which=lambda name: "/usr/bin/nbdkit", run=ok)
    assert "is not a VDDK folder" in str(caught.value)
    (tmp_path / "lib64").mkdir()
    transports.check_vddk(str(tmp_path), which=lambda name: "/usr/bin/nbdkit", run=ok)


@pytest.mark.skipif(shutil.which("nbdkit") is None, reason="nbdkit is not installed here")
def test_check_vddk_with_the_real_nbdkit():
    """Debian's nbdkit comes without the vddk plugin: the real check must say so (or pass where it is)."""
    has_plugin = subprocess.run(["nbdkit", "--dump-plugin", "vddk"], capture_output=True, check=False).returncode == 0
    if has_plugin:
        transports.check_vddk()
        return
    with pytest.raises(MissingDependencyError) as caught:
        transports.check_vddk()
    assert "nbdkit has no vddk plugin" in str(caught.value)


class FakeProcess(object):
    def __init__(self, argv, creates=None, **kwargs):
        self.argv, self.returncode, self.stderr = argv, None, None
        if creates:
            open(creates, "w").close()

    def poll(self):
        return self.returncode

    def terminate(self):
        self.returncode = -15

    def wait(self, timeout=None):
        return self.returncode


def test_vddk_transport_gives_nbdkit_the_password_file_only(tmp_path, monkeypatch):
    started, conversions = [], []

    def popen(argv, **kwargs):
        started.append(argv)
        return FakeProcess(argv, creates=argv[5])

    def run(argv, **kwargs):
        conversions.append(argv)
        if argv[1] == "convert":
            open(argv[-1], "wb").close()
        return 0, json.dumps({"virtual-size": 4096, "format": "qcow2"}), 0.1
    monkeypatch.setattr(transports.qemu_img, "run", run)
    monkeypatch.setattr(transports, "server_thumbprint", lambda host, port, context: "AB:CD")
    args = {"hostname": "vc.example.com", "username": "migrate@vsphere.local", "password": SECRET, "port": 443}
    vddk = transports.VddkTransport(args, "vm-42", "qcow2", None, popen=popen, check=lambda libdir: None)
    with vddk.opened(None, SimpleNamespace(_moId="snapshot-7")) as opened:
        password_path = opened.password_path
        assert open(password_path).read() == SECRET
        got = opened.fetch({"id": "scsi0:0", "path": str(tmp_path / "web01-scsi0-0.qcow2"), "capacity_bytes": 4096},
                           ["[ds1] web01/web01-000001.vmdk", "[ds1] web01/web01.vmdk"], str(tmp_path / "stage"))
    assert got["kind"] == "converted" and (tmp_path / "web01-scsi0-0.qcow2").exists()
    (argv,) = started
    assert "password=+%s" % password_path in argv and not any(SECRET in item for item in argv)
    assert "snapshot=snapshot-7" in argv and argv[-1] == "file=[ds1] web01/web01-000001.vmdk"
    assert not any(SECRET in item for command in conversions for item in command)
    assert conversions[0][-2].startswith("json:") and '"driver":"nbd"' in conversions[0][-2]
    assert not os.path.exists(password_path) and not os.path.exists(str(tmp_path / "stage" / "nbd.sock"))
