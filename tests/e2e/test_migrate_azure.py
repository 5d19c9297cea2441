"""migrate.yml from Azure, end to end: the azure inventory plugin lists a deallocated VM of our local Azure
Resource Manager endpoint (arm_server.py, spoken to by the real SDKs) whose OS disk is the fixture guest as
a fixed VHD page blob in Azurite; the playbook exports it (grant, Get Page Ranges, ranged download,
revoke), repairs it, defines the domain and boots it on the isolated network to the guest's marker.
A rerun changes nothing and grants no access.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("azure.mgmt.compute", reason="azure-mgmt-compute missing from the venv: run scripts/setup.sh")

import arm_server  # noqa: E402  (tests/e2e is on sys.path, see conftest.py)
from vcsim import make_certificates  # noqa: E402

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.azure import connection  # noqa: E402

pytestmark = [pytest.mark.e2e]

TENANT = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"
SUBSCRIPTION = "7e6d5c4b-3a29-4817-9605-f4e3d2c1b0a9"
CLIENT_ID = "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d"
SECRET = "h2k-migrate~secret.value_0123456789"
VM = "deb12-azure"
DOMAIN = "h2k-e2e-azure"
URI = "qemu:///system"
BIN = os.path.dirname(sys.executable)
GIB = 1024 ** 3


def _undefine():
    subprocess.run(["virsh", "-q", "-c", URI, "destroy", DOMAIN], capture_output=True, check=False)
    subprocess.run(["virsh", "-q", "-c", URI, "undefine", "--nvram", DOMAIN], capture_output=True, check=False)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory, blobs, fixture_guest):
    """The test cloud with one deallocated Generation 1 (BIOS, like the fixture guest) Debian VM whose OS
    disk holds the fixture guest."""
    certs = make_certificates(tmp_path_factory.mktemp("tls"), "arm")
    state = arm_server.ArmState(TENANT, SUBSCRIPTION, CLIENT_ID, SECRET, [], blob_store=blobs)
    raw = Path(fixture_guest["dir"]) / "disk.raw"
    vhd = tmp_path_factory.mktemp("vhd") / "disk.vhd"
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "vpc", "-o", "subformat=fixed,force_size=on",
                    str(raw), str(vhd)], check=True)
    size_gb = raw.stat().st_size // GIB
    vm, disks, nics = arm_server.seed_vm(SUBSCRIPTION, dict(
        name=VM, resource_group="rg-migrate", power="deallocated", size="Standard_D2s_v5", os_disk_gb=size_gb,
        generation="V1", image=("Debian", "debian-12", "12", "latest")))
    with state.lock:
        state.vms[vm["id"].lower()] = vm
        state.disks.update((d["id"].lower(), d) for d in disks)
        state.nics.update((n["id"].lower(), n) for n in nics)
        disks[0]["properties"]["diskState"] = "Reserved"
    blobs.create(disks[0]["name"], size_gb * GIB + 512, source_file=str(vhd))
    vhd.unlink()
    with arm_server.ArmServer(state, certs["cert"], certs["key"]) as server:
        server.certs = certs
        yield server


@pytest.fixture
def job(cloud, fixture_guest, tmp_path):
    # libvirt's account must reach the disks to boot them: pytest's own folders are private (0700).
    out = Path(tempfile.mkdtemp(prefix="h2k-e2e-", dir="/var/tmp"))
    os.chmod(out, 0o711)
    inventory = tmp_path / "inventory"
    (inventory / "group_vars").mkdir(parents=True)
    endpoints = {"authority_host": cloud.url, "resource_manager_endpoint": cloud.url, "ca_bundle": cloud.certs["ca"]}
    (inventory / "h2k.azure.yml").write_text("plugin: hyper2kvm.migrate.azure\n" + "".join(
        "%s: %s\n" % item for item in sorted(endpoints.items())))
    (inventory / "group_vars" / "all.yml").write_text(json.dumps({
        "h2k_output_dir": str(out),
        "h2k_domain_name": DOMAIN,
        "h2k_boot_marker": fixture_guest["marker"],
        # Credentials come from the environment, as AWX's Azure credential injects them.
        "h2k_azure": endpoints,
    }))
    collections = str(Path(connection.__file__).parents[7])
    extra = [p for p in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(":") if p]
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=":".join([collections] + extra), ANSIBLE_NOCOLOR="1",
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCALHOST_WARNING="false",
               AZURE_SUBSCRIPTION_ID=SUBSCRIPTION, AZURE_TENANT=TENANT, AZURE_CLIENT_ID=CLIENT_ID, AZURE_SECRET=SECRET)
    _undefine()
    yield inventory, out, env
    _undefine()
    shutil.rmtree(str(out), ignore_errors=True)


def _play(inventory, env):
    return subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", str(inventory), "hyper2kvm.migrate.migrate"],
                          env=env, capture_output=True, text=True, timeout=3600, check=False)


def _grants(cloud):
    return cloud.requests_to("/beginGetAccess$")


def test_azure_vm_migrates_boots_and_a_rerun_changes_nothing(job, cloud, one_boot_at_a_time):
    inventory, out, env = job
    first = _play(inventory, env)
    assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-3000:]
    assert SECRET not in first.stdout + first.stderr and "sig=" not in first.stdout

    run = json.loads((out / "run.json").read_text())
    assert [(o["vm"], o["status"], o["boot"]) for o in run["vms"]] == [(VM, "migrated", "pass")], run
    report = json.loads((out / VM / "report.json").read_text())
    exported = report["export"]["disks"]
    assert len(exported) == 1 and exported[0]["path"].startswith(str(out / VM) + "/")
    assert report["convert"] == []  # the exported disk is the converted one: nothing converted twice
    assert report["repair"]["committed"] is True and report["validate"]["passed"] is True
    assert report["vm"]["firmware"] == "bios"
    grants = len(_grants(cloud))
    assert grants == 1

    second = _play(inventory, env)
    assert second.returncode == 0, second.stdout[-4000:]
    recap = [line for line in second.stdout.splitlines() if line.startswith(VM)]
    assert recap and "changed=0" in recap[-1] and "failed=0" in recap[-1], recap
    assert len(_grants(cloud)) == grants  # the rerun found its outputs: no new access grant
