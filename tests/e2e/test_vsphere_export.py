"""vsphere_disk_export against a real vSphere API: our build of govmomi's simulator, started here with a
certificate made here. Its datastores are plain folders: the VMs' disks are placed there the way ESXi
keeps them (a text descriptor plus a flat extent; a delta chain for snapshots) and downloaded back over
the simulator's datastore HTTPS endpoint by the real module code.

The fixture guest (tests/fixtures/guest/build.sh) is exported once for real (qemu-img compare against
disk.raw, sparse output, rerun unchanged). Every other test uses a small synthetic disk of its own.
Failures of the transfer come from an HTTP CONNECT proxy of our own (vcsim.FaultyConnectProxy) that the
module is pointed at with proxy_host: it cuts tunnels after N bytes or fires a hook.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pyVmomi", reason="pyvmomi missing from the venv: run scripts/setup.sh")

import vcsim  # noqa: E402  (tests/e2e is on sys.path, see conftest.py)
import vcsim_seed  # noqa: E402
from ansible.module_utils.testing import patch_module_args  # noqa: E402
from pyVim.task import WaitForTask  # noqa: E402
from pyVmomi import vim  # noqa: E402

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.vsphere import (  # noqa: E402
    connection, export, power)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._transfer import download  # noqa: E402
from ansible_collections.hyper2kvm.migrate.plugins.modules import vsphere_disk_export  # noqa: E402

pytestmark = [pytest.mark.e2e]

MIB = 1024 ** 2
SIZE = 64 * MIB
# The synthetic disk: (offset, length) of its random data; everything else is a hole.
LAYOUT = [(0, MIB), (5 * MIB, 3 * MIB), (20 * MIB + 4096, 2 * MIB), (SIZE - MIB, MIB)]
DATA = sum(length for _offset, length in LAYOUT)


# --- the simulator and its VMs -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def vcenter(tmp_path_factory):
    yield from vcsim.running(tmp_path_factory.mktemp("vcsim"), vms_per_pool=1, clusters=1)


@contextlib.contextmanager
def api(vcenter):
    with connection.session(**vcenter.connect_args()) as si:
        yield si


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """A sparse raw disk of SIZE bytes with random data at LAYOUT."""
    raw = tmp_path_factory.mktemp("synthetic") / "disk.raw"
    rng = random.Random(7)
    with open(raw, "wb") as fh:
        fh.truncate(SIZE)
        for offset, length in LAYOUT:
            fh.seek(offset)
            fh.write(rng.randbytes(length))
    return raw


def flat_pair(raw, name):
    """disk_files for create_disk_vm: <name>.vmdk (an ESXi descriptor) and <name>-flat.vmdk (raw, sparse)."""
    def place(folder):
        subprocess.run(["cp", "--sparse=always", str(raw), os.path.join(folder, "%s-flat.vmdk" % name)], check=True)
        Path(folder, "%s.vmdk" % name).write_text(vcsim_seed.flat_descriptor(name, os.path.getsize(raw)))
        return "%s.vmdk" % name
    return place


_NUMBERS = iter(range(1, 1000))


def new_vm(vcenter, raw, power="off", request=None):
    name = "exp%03d" % next(_NUMBERS)
    with api(vcenter) as si:
        vm, folder = vcsim_seed.create_disk_vm(si, name, "export", flat_pair(raw, name), os.path.getsize(raw), power)
        vm_id = vm._moId
    return {"name": name, "id": vm_id, "folder": folder}


def vm_state(vcenter, vm_id):
    """(power state, [snapshot names]) of a VM, read afresh."""
    with api(vcenter) as si:
        vm = vim.VirtualMachine(vm_id, si._stub)
        names, pending = [], list(vm.snapshot.rootSnapshotList) if vm.snapshot else []
        while pending:
            node = pending.pop(0)
            names.append(node.name)
            pending.extend(node.childSnapshotList)
        return vm.runtime.powerState, names


def options(vcenter, dest_dir, **overrides):
    args = dict(vcenter.connect_args(), dest_dir=str(dest_dir), chunk_size_mib=1, workers=4)
    args.update(overrides)
    return args


@pytest.fixture
def cookies(monkeypatch):
    """The session cookies the module's API sessions had (the simulator accepts any; none may leak)."""
    seen, original = [], connection.session

    @contextlib.contextmanager
    def recording(**kwargs):
        with original(**kwargs) as si:
            seen.append(si._stub.cookie.split(";")[0].split("=", 1)[1])
            yield si
    monkeypatch.setattr(export.connection, "session", recording)
    return seen


def run_module(capsys, vcenter, args, check_mode=False, cookies=()):
    """The module in-process; its output must hold neither the password nor a session cookie."""
    with patch_module_args(dict(args, _ansible_check_mode=check_mode)):
        with pytest.raises(SystemExit):
            vsphere_disk_export.main()
    text = capsys.readouterr().out
    assert vcenter.password not in text
    for cookie in cookies:
        assert cookie not in text
    return json.loads(text)


def same_data(path, fmt, raw):
    proc = subprocess.run(["qemu-img", "compare", "-q", "-f", "raw", "-F", fmt, str(raw), str(path)],
                          capture_output=True, text=True, check=False)
    return proc.returncode == 0


def assert_nothing_final(dest_dir):
    assert not [p for p in os.listdir(dest_dir) if p.endswith((".qcow2", ".raw"))]


# --- the fixture guest, for real ----------------------------------------------------------------------------------

def test_fixture_guest_powered_off_and_exported(vcenter, fixture_guest, tmp_path, capsys, cookies):
    raw = Path(fixture_guest["dir"]) / "disk.raw"
    vm = new_vm(vcenter, raw, power="on")
    dest = tmp_path / "out"
    dest.mkdir()
    args = options(vcenter, dest, name=vm["name"], power="poweroff", chunk_size_mib=16)

    planned = run_module(capsys, vcenter, args, check_mode=True, cookies=cookies)
    assert planned["changed"] is True and planned["power_state"] == "on"
    assert planned["plan"][0] == "power off VM %s" % vm["name"]
    assert "read disk scsi0:0 (%d bytes, [LocalDS_0] %s/%s.vmdk)" % (raw.stat().st_size, vm["name"], vm["name"]) \
        in planned["plan"][1]
    assert planned["disks"][0]["size_bytes"] == raw.stat().st_size
    assert vm_state(vcenter, vm["id"])[0] == "poweredOn" and os.listdir(dest) == []

    out = run_module(capsys, vcenter, args, cookies=cookies)
    assert out.get("changed") is True, out
    assert out["actions"] == ["powered the VM off"] and vm_state(vcenter, vm["id"])[0] == "poweredOff"
    (disk,) = out["disks"]
    path = dest / ("%s-scsi0-0.qcow2" % vm["name"])
    assert disk["path"] == str(path) and disk["format"] == "qcow2" and disk["transport"] == "datastore"
    assert same_data(path, "qcow2", raw)
    virtual = raw.stat().st_size
    assert path.stat().st_blocks * 512 < virtual // 2  # sparse
    kinds = [(f["kind"], f["file"].rsplit("/", 1)[-1]) for f in disk["files"]]
    assert kinds == [("descriptor", "%s.vmdk" % vm["name"]), ("extent", "%s-flat.vmdk" % vm["name"])]
    assert len(disk["files"][0]["sha256"]) == 64 and disk["files"][1]["size"] == virtual
    assert disk["bytes_transferred"] == virtual + disk["files"][0]["size"] and disk["resumed"] is False
    assert disk["ranges"] == virtual // (16 * MIB) and disk["bytes_per_second"] > 0
    with capsys.disabled():
        print("\nfixture export: %d bytes in %.1f s (%.0f MB/s), conversion %.1f s, output %d bytes on disk"
              % (disk["bytes_transferred"], disk["seconds"], disk["bytes_per_second"] / 1e6, disk["convert_seconds"],
                 disk["actual_size"]))
    assert sorted(os.listdir(dest)) == sorted([path.name, path.name + ".export.json", path.name + ".hyper2kvm.json"])
    assert out["vm"]["disks"][0]["path"] == str(path) and out["vm"]["disks"][0]["format"] == "qcow2"
    assert out["vm"]["power_state"] == "on"  # the description as discovered, before the export

    again = run_module(capsys, vcenter, args, cookies=cookies)
    assert again["changed"] is False and again["actions"] == []
    assert again["disks"][0]["changed"] is False and again["disks"][0]["bytes_transferred"] == 0
    assert again["vm"]["disks"][0]["path"] == str(path)
    assert run_module(capsys, vcenter, args, check_mode=True, cookies=cookies)["changed"] is False
    assert len(cookies) >= 4  # the four module runs (and the test's own sessions)


# --- power states and snapshots -------------------------------------------------------------------------------------

def test_running_vm_needs_a_power_choice(vcenter, synthetic, tmp_path, capsys):
    vm = new_vm(vcenter, synthetic, power="on")
    out = run_module(capsys, vcenter, options(vcenter, tmp_path, name=vm["name"]))
    assert out["failed"] is True and out["error_kind"] == "UnsupportedError"
    assert "powered on" in out["msg"] and "power: shutdown" in out["msg"] and "power: snapshot" in out["msg"]
    assert vm_state(vcenter, vm["id"]) == ("poweredOn", []) and os.listdir(tmp_path) == []


def test_shutdown_then_export_raw(vcenter, synthetic, tmp_path, capsys):
    vm = new_vm(vcenter, synthetic, power="on")
    out = run_module(capsys, vcenter, options(vcenter, tmp_path, name=vm["name"], power="shutdown",
                                              dest_format="raw", keep_vmdk=True))
    assert out["changed"] is True and out["actions"] == ["shut down the guest"], out
    assert vm_state(vcenter, vm["id"])[0] == "poweredOff"
    (disk,) = out["disks"]
    assert same_data(disk["path"], "raw", synthetic)
    assert Path(disk["path"]).stat().st_blocks * 512 <= DATA + MIB  # sparse: the data and little else
    kept = Path(disk["vmdk_path"])
    assert kept.parent == tmp_path / ("%s-scsi0-0-vmdk" % vm["name"])
    assert (kept.parent / ("%s-flat.vmdk" % vm["name"])).stat().st_blocks * 512 <= DATA + MIB


def test_snapshot_keeps_the_vm_running_and_is_removed(vcenter, synthetic, tmp_path, capsys):
    vm = new_vm(vcenter, synthetic, power="on")
    with api(vcenter) as si:  # a user's snapshot, which the export must leave alone, and one a killed export left
        api_vm = vim.VirtualMachine(vm["id"], si._stub)
        WaitForTask(api_vm.CreateSnapshot_Task(name="mine", memory=False, quiesce=False))
        WaitForTask(api_vm.CreateSnapshot_Task(name="hyper2kvm-export-deadbeef", description=power.SNAPSHOT_DESCRIPTION,
                                               memory=False, quiesce=False))
    args = options(vcenter, tmp_path, name=vm["name"], power="snapshot")
    planned = run_module(capsys, vcenter, args, check_mode=True)
    assert planned["plan"][0].startswith("take a snapshot of VM %s (no memory, not quiesced)" % vm["name"])
    assert vm_state(vcenter, vm["id"]) == ("poweredOn", ["mine", "hyper2kvm-export-deadbeef"])

    out = run_module(capsys, vcenter, args)
    assert out.get("changed") is True, out
    snapshot = out["snapshot"]
    assert snapshot["taken"] is True and snapshot["removed"] is True
    assert snapshot["name"].startswith("hyper2kvm-export-") and snapshot["id"].startswith("snapshot-")
    assert out["actions"][0].startswith("removed snapshots left by an earlier export: snapshot-")
    assert out["actions"][1:] == ["took snapshot %s and removed it" % snapshot["name"]]
    assert vm_state(vcenter, vm["id"]) == ("poweredOn", ["mine"])
    assert same_data(out["disks"][0]["path"], "qcow2", synthetic)


def test_snapshot_is_removed_when_the_download_fails(vcenter, synthetic, tmp_path, capsys):
    vm = new_vm(vcenter, synthetic, power="on")
    os.unlink(os.path.join(vm["folder"], "%s-flat.vmdk" % vm["name"]))
    out = run_module(capsys, vcenter, options(vcenter, tmp_path, name=vm["name"], power="snapshot"))
    assert out["failed"] is True
    assert out["msg"].startswith("[LocalDS_0] %s/%s-flat.vmdk does not exist on the datastore (HTTP 404)"
                                 % (vm["name"], vm["name"]))
    assert out["snapshot"]["taken"] is True and out["snapshot"]["removed"] is True
    assert vm_state(vcenter, vm["id"]) == ("poweredOn", [])
    assert_nothing_final(tmp_path)


def test_sigterm_mid_download_removes_the_snapshot_and_resumes(vcenter, synthetic, tmp_path, capsys):
    """SIGTERM (how AWX stops a job) arrives while the extent is downloading."""
    vm = new_vm(vcenter, synthetic, power="on")
    args = options(vcenter, tmp_path, name=vm["name"], power="snapshot", workers=2, proxy_host="127.0.0.1")
    previous = signal.getsignal(signal.SIGTERM)
    with vcsim.FaultyConnectProxy() as proxy:
        proxy.on_bytes = (8 * MIB, lambda: os.kill(os.getpid(), signal.SIGTERM))
        out = run_module(capsys, vcenter, dict(args, proxy_port=proxy.port))
    assert signal.getsignal(signal.SIGTERM) is previous
    assert out["failed"] is True and out["error_kind"] == "Interrupted" and out["signal"] == "SIGTERM"
    assert out["snapshot"]["removed"] is True and vm_state(vcenter, vm["id"]) == ("poweredOn", [])
    assert_nothing_final(tmp_path)

    with vcsim.FaultyConnectProxy() as proxy:
        again = run_module(capsys, vcenter, dict(args, proxy_port=proxy.port))
    assert again["changed"] is True and again["disks"][0]["resumed"] is True, again
    assert again["disks"][0]["bytes_transferred"] < SIZE
    assert same_data(again["disks"][0]["path"], "qcow2", synthetic)
    assert vm_state(vcenter, vm["id"]) == ("poweredOn", [])


# --- interrupted downloads --------------------------------------------------------------------------------------------

def _journal_bytes(path):
    journal = json.loads(Path(download.journal_path(str(path))).read_text())
    return sum(end - start for start, end in journal["done"])


def test_interrupted_download_resumes_with_what_was_missing(vcenter, synthetic, tmp_path, capsys):
    vm = new_vm(vcenter, synthetic)
    args = options(vcenter, tmp_path, name=vm["name"], retries=0, workers=2, proxy_host="127.0.0.1")
    extent = tmp_path / ("%s-scsi0-0-vmdk" % vm["name"]) / ("%s-flat.vmdk" % vm["name"])
    with vcsim.FaultyConnectProxy() as proxy:
        proxy.cut_after = 10 * MIB  # per tunnel: the API's stays far below, each download connection gets cut
        failed = run_module(capsys, vcenter, dict(args, proxy_port=proxy.port))
        assert proxy.cuts >= 1 and set(proxy.targets) == {"127.0.0.1:%d" % vcenter.port}
    assert failed["failed"] is True and failed["error_kind"] == "ConnectionFailedError", failed
    assert "?<redacted>" in failed["msg"] and "failed 1 times" in failed["msg"]
    assert_nothing_final(tmp_path)
    done = _journal_bytes(extent)
    assert 8 * MIB <= done < SIZE

    with vcsim.FaultyConnectProxy() as proxy:
        resumed = run_module(capsys, vcenter, dict(args, proxy_port=proxy.port))
        through_proxy = proxy.downstream
    assert resumed["changed"] is True and resumed["disks"][0]["resumed"] is True, resumed
    (descriptor, flat) = resumed["disks"][0]["files"]
    assert flat["resumed"] is True and flat["bytes_transferred"] == SIZE - done
    assert through_proxy > SIZE - done  # the rest came through the proxy (plus TLS and the API)
    assert same_data(resumed["disks"][0]["path"], "qcow2", synthetic)
    assert not extent.parent.exists()
    with capsys.disabled():
        print("\nresume: %d of %d bytes were done before the cut; the rerun fetched %d"
              % (done, SIZE, flat["bytes_transferred"]))


# --- snapshot chains ---------------------------------------------------------------------------------------------------

def test_snapshot_chain_is_fetched_whole_and_flattened(vcenter, synthetic, tmp_path, capsys):
    """A VM whose disk is a delta on a base disk, as vSphere has it after a snapshot: the module fetches both
    descriptors and both extents and disk_convert flattens them."""
    name = "chain01"
    expected = tmp_path / "expected.raw"

    def chain_files(folder):
        flat_pair(synthetic, name)(folder)
        delta = "%s-000001.vmdk" % name
        subprocess.run(["qemu-img", "create", "-q", "-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse",
                        "-b", "%s.vmdk" % name, "-F", "vmdk", delta], cwd=folder, check=True)
        subprocess.run(["qemu-io", "-f", "vmdk", "-c", "write -P 0xcd 4M 192k", "-c", "write -P 0x5a 60M 64k", delta],
                       cwd=folder, check=True, capture_output=True)
        subprocess.run(["qemu-img", "convert", "-q", "-f", "vmdk", "-O", "raw", delta, str(expected)], cwd=folder,
                       check=True)
        return delta

    with api(vcenter) as si:
        vm, _folder = vcsim_seed.create_disk_vm(si, name, "export", chain_files, SIZE, chain=["%s.vmdk" % name])
    dest = tmp_path / "out"
    dest.mkdir()
    out = run_module(capsys, vcenter, options(vcenter, dest, name=name))
    assert out.get("changed") is True, out
    (disk,) = out["disks"]
    assert disk["chain"] == ["[LocalDS_0] %s/%s-000001.vmdk" % (name, name), "[LocalDS_0] %s/%s.vmdk" % (name, name)]
    assert [(f["kind"], f["file"].rsplit("/", 1)[-1]) for f in disk["files"]] == [
        ("descriptor", "%s-000001.vmdk" % name), ("extent", "%s-000001-s001.vmdk" % name),
        ("descriptor", "%s.vmdk" % name), ("extent", "%s-flat.vmdk" % name)]
    assert same_data(disk["path"], "qcow2", expected) and not same_data(disk["path"], "qcow2", synthetic)


# --- connection errors, options, the module as Ansible runs it ------------------------------------------------------

def test_wrong_password(vcenter, tmp_path, capsys):
    out = run_module(capsys, vcenter, options(vcenter, tmp_path, name="any", password="not-" + vcenter.password))
    assert out["failed"] is True and out["error_kind"] == "AuthenticationError"
    assert "refused the login: wrong user name or password" in out["msg"]
    assert os.listdir(tmp_path) == []


def test_untrusted_certificate_is_refused(vcenter, tmp_path, capsys):
    out = run_module(capsys, vcenter, options(vcenter, tmp_path, name="any", ca_bundle=None))
    assert out["failed"] is True and out["error_kind"] == "CertificateError"
    assert "could not be verified" in out["msg"] and "ca_bundle" in out["msg"]


def test_unknown_vm_and_foreign_file(vcenter, synthetic, tmp_path, capsys):
    out = run_module(capsys, vcenter, options(vcenter, tmp_path, name="no-such-vm"))
    assert out["failed"] is True and out["msg"].startswith("No VM named no-such-vm on 127.0.0.1.")
    vm = new_vm(vcenter, synthetic)
    (tmp_path / ("%s-scsi0-0.qcow2" % vm["name"])).write_text("mine")
    out = run_module(capsys, vcenter, options(vcenter, tmp_path, name=vm["name"]))
    assert out["failed"] is True and "was not written by vsphere_disk_export" in out["msg"]
    assert sorted(os.listdir(tmp_path)) == ["%s-scsi0-0.qcow2" % vm["name"]]


def test_vm_description_in_and_out(vcenter, synthetic, tmp_path, capsys):
    from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.vsphere import discover, filters

    vm = new_vm(vcenter, synthetic)
    (described,) = discover.discover(vcenter.connect_args(), criteria=filters.Criteria(names=[vm["name"]]))["vms"]
    described["notes"].append({"stage": "preflight", "severity": "info", "message": "kept"})
    out = run_module(capsys, vcenter, options(vcenter, tmp_path, vm=described, dest_format="raw"))
    assert out["changed"] is True
    assert out["vm"]["notes"][-1]["message"] == "kept"
    assert out["vm"]["disks"][0]["path"] == str(tmp_path / ("%s-scsi0-0.raw" % vm["name"]))
    assert out["vm"]["disks"][0]["format"] == "raw"


def test_module_through_ansible_with_awx_environment(vcenter, synthetic, tmp_path):
    """ansible -vvv prints the module's arguments and result: the password does not appear."""
    vm = new_vm(vcenter, synthetic)
    root = str(Path(vsphere_disk_export.__file__).parents[5])
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=root, ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_NOCOLOR="1",
               VMWARE_HOST=vcenter.host, VMWARE_PORT=str(vcenter.port), VMWARE_USER=vcsim.USERNAME,
               VMWARE_PASSWORD=vcenter.password)
    module_args = {"ca_bundle": vcenter.certs["ca"], "name": vm["name"], "dest_dir": str(tmp_path)}
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible"), "localhost", "-c", "local", "-i", "localhost,",
            "-m", "hyper2kvm.migrate.vsphere_disk_export", "-a", json.dumps(module_args), "-vvv"]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert '"changed": true' in output and vcenter.password not in output
    assert "vmware_soap_session" not in output
