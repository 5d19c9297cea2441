"""azure_disk_export against the test cloud: Azurite (the blob data plane) and our local Azure Resource
Manager endpoint over TLS (arm_server.py), spoken to by the REAL azure-identity, azure-mgmt-compute and
our downloader. Failures of the data plane come from a fault-injecting proxy of our own (blob_proxy.py)
that the granted SAS URLs point through.

The fixture guest (tests/fixtures/guest/build.sh) is seeded as a fixed VHD page blob and exported
once for real (qemu-img compare against disk.raw, sparse output, access revoked, rerun unchanged).
Every other test uses a small synthetic disk of its own: 1 GiB virtual with 14 MiB of data.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

pytest.importorskip("azure.mgmt.compute", reason="azure-mgmt-compute missing from the venv: run scripts/setup.sh")
pytest.importorskip("azure.storage.blob", reason="azure-storage-blob missing from the venv: run scripts/setup.sh")

import arm_server  # noqa: E402  (tests/e2e is on sys.path, see conftest.py)
from ansible.module_utils.testing import patch_module_args  # noqa: E402
from blob_proxy import BlobProxy  # noqa: E402
from vcsim import make_certificates  # noqa: E402

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.azure import connection, export  # noqa: E402
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._transfer import download  # noqa: E402
from ansible_collections.hyper2kvm.migrate.plugins.modules import azure_disk_export  # noqa: E402

pytestmark = [pytest.mark.e2e]

TENANT = "5d2c1b0a-9f8e-4d7c-8b6a-5f4e3d2c1b0a"
SUBSCRIPTION = "9c8b7a65-4321-4fed-8cba-0123456789ab"
CLIENT_ID = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
SECRET = "h2k-export~secret.value_9876543210"
GIB = 1024 ** 3
MIB = 1024 ** 2
FOOTER = 512
# The synthetic disk: (offset, length) of its data; everything else is a hole.
LAYOUT = [(0, MIB), (5 * MIB, 3 * MIB), (100 * MIB + 4096, 4 * MIB), (512 * MIB, 2 * MIB),
          (700 * MIB, 64 * 1024), (GIB - 4 * MIB, 4 * MIB)]
# DiskBlobs.create uploads whole 4 MiB chunks: the pages Azure reports are the chunks LAYOUT touches, and the footer.
CHUNKS = sorted(set(c for offset, length in LAYOUT for c in range(offset // (4 * MIB), (offset + length - 1) // (4 * MIB) + 1)))
ALLOCATED = len(CHUNKS) * 4 * MIB + FOOTER


# --- the test cloud --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def proxy(blobs):
    with BlobProxy(blobs.azurite.blob_url) as running:
        yield running


@pytest.fixture(scope="module")
def cloud(tmp_path_factory, blobs):
    certs = make_certificates(tmp_path_factory.mktemp("tls"), "arm")
    state = arm_server.ArmState(TENANT, SUBSCRIPTION, CLIENT_ID, SECRET, [], blob_store=blobs)
    with arm_server.ArmServer(state, certs["cert"], certs["key"]) as server:
        server.certs = certs
        yield server


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    """Our endpoint finishes long-running operations at once (Retry-After: 0); retries need no long waits."""
    monkeypatch.setattr(connection, "POLLING_INTERVAL", 0)
    monkeypatch.setattr(export, "RETRY_BACKOFF", 0.05)


@pytest.fixture
def through_proxy(blobs, proxy):
    """Grants of this test hand out SAS URLs that point through the fault-injecting proxy."""
    blobs.public_url = proxy.url
    proxy.clear()
    yield proxy
    proxy.clear()
    blobs.public_url = None


def add_vm(cloud, blobs, name, power="deallocated", disk_gb=1, source_file=None):
    """Seed a VM with one OS disk of disk_gb GiB whose page blob holds source_file (a fixed VHD)."""
    vm, disks, nics = arm_server.seed_vm(SUBSCRIPTION, dict(name=name, resource_group="rg-mig", power=power,
                                                            size="Standard_D2s_v5", os_disk_gb=disk_gb,
                                                            image=("Debian", "debian-12", "12-gen2", "latest")))
    state = cloud.state
    with state.lock:
        state.vms[vm["id"].lower()] = vm
        state.disks.update((d["id"].lower(), d) for d in disks)
        state.nics.update((n["id"].lower(), n) for n in nics)
        if power == "deallocated":
            disks[0]["properties"]["diskState"] = "Reserved"
    blobs.create(disks[0]["name"], disk_gb * GIB + FOOTER, source_file=source_file)
    return disks[0]["name"]


def fixed_footer(size, creator=b"wa\0\0"):
    """A fixed-VHD footer for size bytes of data, from qemu-img, with a creator qemu does not know (so that
    qemu on its own would size the disk by its CHS geometry) and the checksum redone."""
    footer = bytearray(_QEMU_FOOTERS.setdefault(size, _qemu_footer(size)))
    footer[28:32] = creator
    footer[64:68] = b"\0\0\0\0"
    footer[64:68] = struct.pack(">I", ~sum(footer) & 0xFFFFFFFF)
    return bytes(footer)


_QEMU_FOOTERS = {}


def _qemu_footer(size):
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "f.vhd")
        subprocess.run(["qemu-img", "create", "-q", "-f", "vpc", "-o", "subformat=fixed,force_size=on", path, str(size)],
                       check=True)
        with open(path, "rb") as fh:
            fh.seek(-FOOTER, os.SEEK_END)
            return fh.read()


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """(raw data file, fixed VHD file) of the synthetic 1 GiB disk: random data at LAYOUT, holes elsewhere."""
    import random

    folder = tmp_path_factory.mktemp("synthetic")
    raw, vhd = folder / "disk.raw", folder / "disk.vhd"
    rng = random.Random(6)
    with open(raw, "wb") as fh:
        fh.truncate(GIB)
        for offset, length in LAYOUT:
            fh.seek(offset)
            fh.write(rng.randbytes(length))
    subprocess.run(["cp", "--sparse=always", str(raw), str(vhd)], check=True)
    with open(vhd, "r+b") as fh:
        fh.seek(GIB)
        fh.write(fixed_footer(GIB))
    return raw, vhd


_VM_NUMBERS = iter(range(1, 1000))


@pytest.fixture
def vm(request, cloud, blobs, synthetic):
    """A deallocated VM of its own whose disk holds the synthetic disk."""
    name = "vm%03d-%s" % (next(_VM_NUMBERS), request.node.originalname[5:30].replace("_", "-"))
    disk = add_vm(cloud, blobs, name, source_file=str(synthetic[1]), power=getattr(request, "param", "deallocated"))
    return {"name": name, "disk": disk}


def options(cloud, dest_dir, **overrides):
    args = dict(subscription_id=SUBSCRIPTION, tenant=TENANT, client_id=CLIENT_ID, secret=SECRET,
                authority_host=cloud.url, resource_manager_endpoint=cloud.url, ca_bundle=cloud.certs["ca"],
                timeout=20, resource_group="rg-mig", dest_dir=str(dest_dir), chunk_size_mib=1, workers=4)
    args.update(overrides)
    return args


def run_module(capsys, cloud, args, check_mode=False):
    """The module in-process; the output must hold neither the secret nor any SAS (or part of one)."""
    with patch_module_args(dict(args, _ansible_check_mode=check_mode)):
        with pytest.raises(SystemExit):
            azure_disk_export.main()
    text = capsys.readouterr().out
    assert SECRET not in text and "sig=" not in text
    for sas in cloud.state.issued:
        assert sas.split("?", 1)[1] not in text
    return json.loads(text)


def refused(cloud, sas):
    """The HTTP status a ranged GET with this SAS gets now from Azurite (not through the test's proxy)."""
    direct = urlsplit(cloud.state.blob_store.azurite.blob_url)
    request = urllib.request.Request(urlunsplit(urlsplit(sas)._replace(netloc=direct.netloc)),
                                     headers={"Range": "bytes=0-511"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def grant_calls(cloud, name=""):
    return [r for r in cloud.requests_to("/beginGetAccess$") if name in r[1]]


def revoke_calls(cloud, name=""):
    return [r for r in cloud.requests_to("/endGetAccess$") if name in r[1]]


def assert_nothing_final(dest_dir, disk, formats=("qcow2", "raw", "vhd")):
    for fmt in formats:
        assert not (Path(dest_dir) / ("%s.%s" % (disk, fmt))).exists()


def assert_revoked(cloud, out, disk):
    assert len(revoke_calls(cloud, disk)) == len(grant_calls(cloud, disk)) >= 1
    assert all(g["revoked"] for g in out["grants"]), out["grants"]
    for sas in [s for s in cloud.state.issued if "/%s?" % disk in s]:
        assert refused(cloud, sas) == 403


def same_data(path, fmt, raw):
    proc = subprocess.run(["qemu-img", "compare", "-q", "-f", "raw", "-F", fmt, str(raw), str(path)],
                          capture_output=True, text=True, check=False)
    return proc.returncode == 0


# --- the fixture guest, for real ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fixture_vm(cloud, blobs, fixture_guest, tmp_path_factory):
    """The fixture guest's disk as a fixed VHD in the page blob of a deallocated VM's OS disk."""
    raw = Path(fixture_guest["dir"]) / "disk.raw"
    vhd = tmp_path_factory.mktemp("fixture-vhd") / "disk.vhd"
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "vpc", "-o", "subformat=fixed,force_size=on",
                    str(raw), str(vhd)], check=True)
    size = raw.stat().st_size
    assert size % GIB == 0 and vhd.stat().st_size == size + FOOTER
    disk = add_vm(cloud, blobs, "fixture01", disk_gb=size // GIB, source_file=str(vhd))
    vhd.unlink()
    return {"name": "fixture01", "disk": disk, "raw": raw}


def test_fixture_guest_exports_sparse_verified_and_revoked(cloud, fixture_vm, tmp_path, capsys):
    dest = tmp_path / "out"
    dest.mkdir()
    args = options(cloud, dest, name="fixture01", chunk_size_mib=16)

    planned = run_module(capsys, cloud, args, check_mode=True)
    assert planned["changed"] is True and not grant_calls(cloud, fixture_vm["disk"])
    assert any("grant read access to disk %s" % fixture_vm["disk"] in step for step in planned["plan"])
    assert os.listdir(dest) == []

    out = run_module(capsys, cloud, args)
    assert out["changed"] is True, out
    (disk,) = out["disks"]
    path = dest / ("%s.qcow2" % fixture_vm["disk"])
    assert disk["path"] == str(path) and disk["format"] == "qcow2" and disk["from"] == "disk"
    assert same_data(path, "qcow2", fixture_vm["raw"])
    virtual = fixture_vm["raw"].stat().st_size
    assert disk["size_bytes"] == virtual
    # Only the allocated data came over the network, and the output stays sparse.
    assert disk["allocated_bytes"] < virtual // 2 and disk["bytes_transferred"] < virtual // 2
    assert path.stat().st_blocks * 512 < virtual // 2
    assert disk["resumed"] is False and disk["bytes_per_second"] > 0 and disk["page_list_requests"] == 1
    assert sorted(os.listdir(dest)) == sorted([path.name, path.name + ".export.json", path.name + ".hyper2kvm.json"])
    assert out["vm"]["disks"][0]["path"] == str(path) and out["vm"]["disks"][0]["format"] == "qcow2"
    assert_revoked(cloud, out, fixture_vm["disk"])

    grants = len(grant_calls(cloud))
    again = run_module(capsys, cloud, args)
    assert again["changed"] is False and again["disks"][0]["changed"] is False
    assert again["disks"][0]["bytes_transferred"] == 0 and again["vm"]["disks"][0]["path"] == str(path)
    assert len(grant_calls(cloud)) == grants
    assert run_module(capsys, cloud, args, check_mode=True)["changed"] is False


# --- power states, snapshots ----------------------------------------------------------------------------------

@pytest.mark.parametrize("vm", ["running"], indirect=True)
def test_running_vm_needs_deallocate_or_snapshot(cloud, vm, tmp_path, capsys):
    out = run_module(capsys, cloud, options(cloud, tmp_path, name=vm["name"]))
    assert out["failed"] is True and out["error_kind"] == "UnsupportedError"
    assert "is running" in out["msg"] and "deallocate: true" in out["msg"] and "snapshot: true" in out["msg"]
    assert not grant_calls(cloud, vm["disk"]) and os.listdir(tmp_path) == []


@pytest.mark.parametrize("vm", ["running"], indirect=True)
def test_deallocate_then_export_raw(cloud, vm, synthetic, tmp_path, capsys):
    args = options(cloud, tmp_path, name=vm["name"], deallocate=True, dest_format="raw")
    planned = run_module(capsys, cloud, args, check_mode=True)
    assert planned["plan"][0] == "deallocate VM rg-mig/%s" % vm["name"]
    assert cloud.state.power("rg-mig", vm["name"]) == "running"

    out = run_module(capsys, cloud, args)
    assert out["changed"] is True and out["actions"] == ["deallocated VM rg-mig/%s" % vm["name"]]
    assert cloud.state.power("rg-mig", vm["name"]) == "deallocated"
    path = Path(out["disks"][0]["path"])
    assert same_data(path, "raw", synthetic[0]) and path.stat().st_size == GIB
    assert path.stat().st_blocks * 512 < 32 * MIB  # sparse: the 14 MiB of data and little else
    assert out["disks"][0]["allocated_bytes"] == ALLOCATED
    assert not (tmp_path / ("%s.vhd" % vm["disk"])).exists()
    assert_revoked(cloud, out, vm["disk"])


@pytest.mark.parametrize("vm", ["running"], indirect=True)
def test_running_vm_exported_through_snapshot(cloud, vm, synthetic, tmp_path, capsys):
    out = run_module(capsys, cloud, options(cloud, tmp_path, name=vm["name"], snapshot=True, dest_format="vhd"))
    assert out["changed"] is True, out
    assert cloud.state.power("rg-mig", vm["name"]) == "running"
    (disk,) = out["disks"]
    assert disk["from"] == "snapshot" and disk["format"] == "vhd" and disk["vhd_path"] == disk["path"]
    assert out["snapshots"]["deleted"] is True and len(out["snapshots"]["snapshots"]) == 1
    assert not cloud.state.snapshots and not grant_calls(cloud, "/disks/%s/" % vm["disk"])
    # The VHD is the disk plus its footer, byte for byte, and sparse.
    path = Path(disk["path"])
    assert path.stat().st_size == GIB + FOOTER and path.stat().st_blocks * 512 < 32 * MIB
    with open(path, "rb") as fh:
        fh.seek(GIB)
        assert fh.read() == fixed_footer(GIB)
    subprocess.run(["truncate", "-s", str(GIB), str(path)], check=True)
    assert same_data(path, "raw", synthetic[0])
    snapshot = out["grants"][0]["target"].split("/")[-1]
    assert out["grants"][0]["revoked"] is True and len(revoke_calls(cloud, snapshot)) == 1


def test_snapshot_is_deleted_when_the_download_fails(cloud, vm, through_proxy, tmp_path, capsys):
    cloud.state.set_power("rg-mig", vm["name"], "running")
    through_proxy.inject("status", 500, times=None)
    out = run_module(capsys, cloud, options(cloud, tmp_path, name=vm["name"], snapshot=True, retries=1))
    assert out["failed"] is True and out["error_kind"] == "ConnectionFailedError"
    assert out["snapshots"]["deleted"] is True and not cloud.state.snapshots
    assert all(g["revoked"] for g in out["grants"])
    assert_nothing_final(tmp_path, vm["disk"])


# --- Resource Manager refusing -----------------------------------------------------------------------------------

def test_vm_started_between_plan_and_grant_gets_409(cloud, vm, tmp_path, capsys):
    """The VM was deallocated when read, and running when access was asked for: Azure's 409 says why."""
    def start_vm(state):
        vm_json = state.vms[arm_server._arm_id(SUBSCRIPTION, "rg-mig", "Microsoft.Compute", "virtualMachines",
                                               vm["name"]).lower()]
        vm_json["_power"] = "running"
    hook = ("POST", "/disks/%s/beginGetAccess$" % vm["disk"], start_vm)
    cloud.state.hooks.append(hook)
    try:
        out = run_module(capsys, cloud, options(cloud, tmp_path, name=vm["name"]))
    finally:
        cloud.state.hooks.remove(hook)
    assert out["failed"] is True and "409 (OperationNotAllowed)" in out["msg"]
    assert "not deallocated" in out["msg"] and "deallocate: true" in out["msg"]
    assert len(revoke_calls(cloud, vm["disk"])) == 1 and out["grants"][0]["revoked"] is True
    assert_nothing_final(tmp_path, vm["disk"])


def test_grant_forbidden_names_the_role(cloud, vm, tmp_path, capsys):
    cloud.state.forbidden.append("/disks/%s/beginGetAccess$" % vm["disk"])
    try:
        out = run_module(capsys, cloud, options(cloud, tmp_path, name=vm["name"]))
    finally:
        del cloud.state.forbidden[:]
    assert out["failed"] is True and out["error_kind"] == "AuthenticationError"
    assert "AuthorizationFailed" in out["msg"] and "beginGetAccess/action" in out["msg"]
    assert len(revoke_calls(cloud, vm["disk"])) == 1
    assert_nothing_final(tmp_path, vm["disk"])


def test_missing_disk_is_a_clear_error(cloud, vm, tmp_path, capsys):
    key = arm_server._arm_id(SUBSCRIPTION, "rg-mig", "Microsoft.Compute", "disks", vm["disk"]).lower()
    with cloud.state.lock:
        saved = cloud.state.disks.pop(key)
    try:
        out = run_module(capsys, cloud, options(cloud, tmp_path, name=vm["name"]))
    finally:
        with cloud.state.lock:
            cloud.state.disks[key] = saved
    assert out["failed"] is True and "404 (ResourceNotFound)" in out["msg"] and "still exist" in out["msg"]
    assert not grant_calls(cloud, vm["disk"])


def test_unknown_vm_is_a_clear_error(cloud, tmp_path, capsys):
    out = run_module(capsys, cloud, options(cloud, tmp_path, name="no-such-vm"))
    assert out["failed"] is True and "ResourceNotFound" in out["msg"]


# --- the data plane failing ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["revoke", "expire"])
def test_access_lost_mid_download(cloud, blobs, vm, through_proxy, tmp_path, capsys, how):
    through_proxy.inject("call", lambda: getattr(blobs, how)(vm["disk"]), skip=3)
    out = run_module(capsys, cloud, options(cloud, tmp_path, name=vm["name"]))
    assert out["failed"] is True and out["error_kind"] == "AuthenticationError"
    assert "HTTP 403" in out["msg"] and "expired or was revoked" in out["msg"] and "resumes" in out["msg"]
    assert_nothing_final(tmp_path, vm["disk"])
    assert_revoked(cloud, out, vm["disk"])
    vhd = tmp_path / ("%s.vhd" % vm["disk"])
    assert download.partial_path(str(vhd)) in [str(p) for p in tmp_path.iterdir()]


def test_blob_gone_after_grant_is_404(cloud, blobs, vm, through_proxy, tmp_path, capsys):
    through_proxy.inject("call", lambda: blobs.delete(vm["disk"]), kind="pagelist")
    out = run_module(capsys, cloud, options(cloud, tmp_path, name=vm["name"]))
    assert out["failed"] is True and "is gone (HTTP 404 BlobNotFound)" in out["msg"]
    assert out["grants"][0]["revoked"] is True
    assert_nothing_final(tmp_path, vm["disk"])


def test_server_error_bursts_are_retried(cloud, vm, synthetic, through_proxy, tmp_path, capsys):
    through_proxy.inject("status", 503, times=3)
    through_proxy.inject("status", 500, skip=5, times=2)
    through_proxy.inject("status", 503, kind="pagelist", times=2)
    through_proxy.inject("reset", skip=8, times=2)
    out = run_module(capsys, cloud, options(cloud, tmp_path, name=vm["name"], dest_format="raw"))
    assert out["changed"] is True, out
    assert same_data(out["disks"][0]["path"], "raw", synthetic[0])
    assert through_proxy.count("range") == out["disks"][0]["ranges"] + 7
    assert through_proxy.count("pagelist") == 3
    assert_revoked(cloud, out, vm["disk"])


def test_server_errors_that_last_fail_clearly(cloud, vm, through_proxy, tmp_path, capsys):
    through_proxy.inject("status", 503, skip=2, times=None)
    out = run_module(capsys, cloud, options(cloud, tmp_path, name=vm["name"], retries=2))
    assert out["failed"] is True and out["error_kind"] == "ConnectionFailedError"
    assert "failed 3 times; the last attempt: HTTP 503 (ServerBusy)" in out["msg"]
    assert "?<redacted>" in out["msg"]
    assert_nothing_final(tmp_path, vm["disk"])
    assert_revoked(cloud, out, vm["disk"])


def test_stalled_connection_is_retried(cloud, vm, synthetic, through_proxy, tmp_path, capsys):
    through_proxy.inject("stall", 6, skip=1)
    out = run_module(capsys, cloud, options(cloud, tmp_path, name=vm["name"], dest_format="raw", timeout=2))
    assert out["changed"] is True, out
    assert same_data(out["disks"][0]["path"], "raw", synthetic[0])
    assert through_proxy.count("range") == out["disks"][0]["ranges"] + 1


def test_connection_that_keeps_stalling_fails_clearly(cloud, vm, through_proxy, tmp_path, capsys):
    through_proxy.inject("stall", 4, times=None)
    out = run_module(capsys, cloud, options(cloud, tmp_path, name=vm["name"], timeout=1, retries=1, workers=2))
    assert out["failed"] is True and "no data for 1 seconds (stalled connection)" in out["msg"]
    assert_nothing_final(tmp_path, vm["disk"])
    assert_revoked(cloud, out, vm["disk"])


@pytest.mark.parametrize("when", ["pagelist", "range"])
def test_disk_resized_after_grant(cloud, blobs, vm, through_proxy, tmp_path, capsys, when):
    through_proxy.inject("call", lambda: blobs.resize(vm["disk"], 2 * GIB + FOOTER), kind=when,
                         skip=0 if when == "pagelist" else 2)
    out = run_module(capsys, cloud, options(cloud, tmp_path, name=vm["name"]))
    assert out["failed"] is True
    if when == "pagelist":
        assert "changed size between the grant and the download" in out["msg"]
    else:
        assert out["error_kind"] == "IntegrityError" and "changed during the download" in out["msg"]
    assert_nothing_final(tmp_path, vm["disk"])
    assert_revoked(cloud, out, vm["disk"])


def test_page_list_across_several_pages(cloud, vm, synthetic, through_proxy, tmp_path, capsys):
    through_proxy.page_size = 2
    out = run_module(capsys, cloud, options(cloud, tmp_path, name=vm["name"], dest_format="raw"))
    assert out["changed"] is True, out
    (disk,) = out["disks"]
    assert disk["page_list_requests"] == through_proxy.count("pagelist") >= 3
    assert disk["page_list_requests"] == -(-disk["page_ranges"] // 2)
    assert same_data(disk["path"], "raw", synthetic[0])


# --- interruptions and resuming ---------------------------------------------------------------------------------------

def _journal_bytes(vhd):
    journal = json.loads(Path(download.journal_path(str(vhd))).read_text())
    return sum(end - start for start, end in journal["done"])


def test_interrupted_download_resumes_with_what_was_missing(cloud, vm, synthetic, through_proxy, tmp_path, capsys):
    args = options(cloud, tmp_path, name=vm["name"], retries=0, workers=2)
    through_proxy.inject("status", 500, skip=6, times=None)
    failed = run_module(capsys, cloud, args)
    assert failed["failed"] is True
    assert_nothing_final(tmp_path, vm["disk"])
    vhd = tmp_path / ("%s.vhd" % vm["disk"])
    done = _journal_bytes(vhd)
    assert done >= 4 * MIB  # six ranges of 1 MiB were answered; one may have been cut off by the failure

    through_proxy.clear()
    resumed = run_module(capsys, cloud, args)
    assert resumed["changed"] is True and resumed["disks"][0]["resumed"] is True
    assert same_data(resumed["disks"][0]["path"], "qcow2", synthetic[0])
    assert not os.path.exists(download.journal_path(str(vhd))) and not vhd.exists()

    full = run_module(capsys, cloud, dict(args, force=True))
    assert full["disks"][0]["resumed"] is False
    assert resumed["disks"][0]["bytes_transferred"] == full["disks"][0]["bytes_transferred"] - done
    assert_revoked(cloud, full, vm["disk"])


def test_sigterm_mid_download_revokes_and_resumes(cloud, vm, synthetic, through_proxy, tmp_path, capsys):
    """SIGTERM (how AWX stops a job) arrives while ranges are downloading."""
    through_proxy.inject("call", lambda: os.kill(os.getpid(), signal.SIGTERM), skip=4)
    previous = signal.getsignal(signal.SIGTERM)
    args = options(cloud, tmp_path, name=vm["name"], workers=2, dest_format="raw")
    out = run_module(capsys, cloud, args)
    assert signal.getsignal(signal.SIGTERM) is previous
    assert out["failed"] is True and out["error_kind"] == "Interrupted" and out["signal"] == "SIGTERM"
    assert_nothing_final(tmp_path, vm["disk"])
    assert_revoked(cloud, out, vm["disk"])
    vhd = tmp_path / ("%s.vhd" % vm["disk"])
    done = _journal_bytes(vhd)
    assert done > 0

    through_proxy.clear()
    again = run_module(capsys, cloud, args)
    assert again["disks"][0]["resumed"] is True and same_data(again["disks"][0]["path"], "raw", synthetic[0])
    assert again["disks"][0]["bytes_transferred"] < again["disks"][0]["allocated_bytes"]


def test_local_write_failure_is_a_clear_error(cloud, vm, tmp_path, capsys):
    (tmp_path / ("%s.vhd.partial" % vm["disk"])).mkdir()  # the partial file cannot be opened
    out = run_module(capsys, cloud, options(cloud, tmp_path, name=vm["name"]))
    assert out["failed"] is True and out["msg"].startswith("Writing in %s failed: [Errno 21] Is a directory" % tmp_path)
    assert "exception" not in out
    assert_revoked(cloud, out, vm["disk"])


# --- options and the module as Ansible runs it ---------------------------------------------------------------------------

def test_vm_description_in_and_out(cloud, vm, tmp_path, capsys):
    from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.azure import discover, listing

    conf = connection.settings(dict(options(cloud, tmp_path), cloud_environment="AzureCloud", audience=None,
                                    validate_certs=True))
    (described,) = discover.discover(conf, criteria=listing.Criteria(names=[vm["name"]]))["vms"]
    described["notes"].append({"stage": "preflight", "severity": "info", "message": "kept"})
    args = {k: v for k, v in options(cloud, tmp_path, vm=described, dest_format="vhd").items() if k != "resource_group"}
    out = run_module(capsys, cloud, args)
    assert out["changed"] is True
    assert out["vm"]["notes"][-1]["message"] == "kept"
    assert out["vm"]["disks"][0]["path"] == str(tmp_path / ("%s.vhd" % vm["disk"]))
    assert out["vm"]["disks"][0]["format"] == "vhd"


def test_foreign_file_is_not_overwritten(cloud, vm, tmp_path, capsys):
    (tmp_path / ("%s.qcow2" % vm["disk"])).write_text("mine")
    out = run_module(capsys, cloud, options(cloud, tmp_path, name=vm["name"]))
    assert out["failed"] is True and "was not written by azure_disk_export" in out["msg"]
    assert not grant_calls(cloud, vm["disk"])


def test_module_through_ansible_with_awx_environment(cloud, vm, tmp_path):
    """ansible -vvv prints the module's arguments and result: neither the secret nor a SAS appears."""
    root = str(Path(azure_disk_export.__file__).parents[5])
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=root, ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_NOCOLOR="1",
               AZURE_SUBSCRIPTION_ID=SUBSCRIPTION, AZURE_TENANT=TENANT, AZURE_CLIENT_ID=CLIENT_ID,
               AZURE_SECRET=SECRET, AZURE_AUTHORITY_HOST=cloud.url)
    module_args = {"resource_manager_endpoint": cloud.url, "ca_bundle": cloud.certs["ca"], "name": vm["name"],
                   "resource_group": "rg-mig", "dest_dir": str(tmp_path), "dest_format": "raw"}
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible"), "localhost", "-c", "local", "-i", "localhost,",
            "-m", "hyper2kvm.migrate.azure_disk_export", "-a", json.dumps(module_args), "-vvv"]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert '"changed": true' in output and SECRET not in output and "sig=" not in output
    assert all(sas.split("?", 1)[1] not in output for sas in cloud.state.issued)
