"""migrate.yml from vSphere, end to end: the vsphere inventory plugin lists a VM of our build of govmomi's
simulator whose disk is the fixture guest (an ESXi-style descriptor + flat extent in the simulator's
datastore folder), and the playbook exports it over the datastore HTTPS endpoint, repairs it, defines
the domain and boots it on the isolated network to the guest's marker. A rerun changes nothing.
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

pytest.importorskip("pyVmomi", reason="pyvmomi missing from the venv: run scripts/setup.sh")

import vcsim  # noqa: E402  (tests/e2e is on sys.path, see conftest.py)
import vcsim_seed  # noqa: E402
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.vsphere import connection  # noqa: E402

pytestmark = [pytest.mark.e2e]

VM = "h2k-vsphere-deb12"
DOMAIN = "h2k-e2e-vsphere"
URI = "qemu:///system"
BIN = os.path.dirname(sys.executable)


def _undefine():
    subprocess.run(["virsh", "-q", "-c", URI, "destroy", DOMAIN], capture_output=True, check=False)
    subprocess.run(["virsh", "-q", "-c", URI, "undefine", "--nvram", DOMAIN], capture_output=True, check=False)


@pytest.fixture(scope="module")
def vcenter(tmp_path_factory):
    yield from vcsim.running(tmp_path_factory.mktemp("vcsim"), vms_per_pool=1, clusters=1)


def _seed_fixture_vm(sim, guest):
    """The fixture guest as a powered-off vSphere VM: its disk placed in the datastore as ESXi keeps it,
    its NIC (the MAC the guest pinned its interface name to) on "VM Network"."""
    raw = Path(guest["dir"]) / "disk.raw"

    def place(folder):
        subprocess.run(["cp", "--sparse=always", str(raw), os.path.join(folder, VM + "-flat.vmdk")], check=True)
        Path(folder, VM + ".vmdk").write_text(vcsim_seed.flat_descriptor(VM, os.path.getsize(raw)))
        return VM + ".vmdk"

    with connection.session(**sim.connect_args()) as si:
        vm, _folder = vcsim_seed.create_disk_vm(si, VM, "migrate", place, os.path.getsize(raw), "off")
        vcsim_seed.add_nic(si, vm, "vmxnet3", guest["mac"], "VM Network")


@pytest.fixture
def job(vcenter, fixture_guest, tmp_path):
    _seed_fixture_vm(vcenter, fixture_guest)
    # libvirt's account must reach the disks to boot them: pytest's own folders are private (0700).
    out = Path(tempfile.mkdtemp(prefix="h2k-e2e-", dir="/var/tmp"))
    os.chmod(out, 0o711)
    inventory = tmp_path / "inventory"
    (inventory / "group_vars").mkdir(parents=True)
    # The connection for the inventory plugin comes from the environment (as AWX's VMware credential
    # injects it); the export stage reads the same variables.
    (inventory / "h2k.vsphere.yml").write_text(
        "plugin: hyper2kvm.migrate.vsphere\nca_bundle: %s\nnames: [%s]\n" % (vcenter.certs["ca"], VM))
    (inventory / "group_vars" / "all.yml").write_text(json.dumps({
        "h2k_output_dir": str(out),
        "h2k_domain_name": DOMAIN,
        "h2k_boot_marker": fixture_guest["marker"],
        "h2k_vsphere": {"ca_bundle": vcenter.certs["ca"]},
    }))
    collections = str(Path(connection.__file__).parents[7])
    extra = [p for p in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(":") if p]
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=":".join([collections] + extra), ANSIBLE_NOCOLOR="1",
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCALHOST_WARNING="false",
               VMWARE_HOST=vcenter.host, VMWARE_PORT=str(vcenter.port), VMWARE_USER=vcsim.USERNAME,
               VMWARE_PASSWORD=vcenter.password)
    _undefine()
    yield inventory, out, env
    _undefine()
    shutil.rmtree(str(out), ignore_errors=True)


def _play(inventory, env):
    return subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", str(inventory), "hyper2kvm.migrate.migrate"],
                          env=env, capture_output=True, text=True, timeout=3600, check=False)


def test_vsphere_vm_migrates_boots_and_a_rerun_changes_nothing(job, vcenter, one_boot_at_a_time):
    inventory, out, env = job
    first = _play(inventory, env)
    assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-3000:]
    assert vcenter.password not in first.stdout + first.stderr

    run = json.loads((out / "run.json").read_text())
    assert [(o["vm"], o["status"], o["boot"]) for o in run["vms"]] == [(VM, "migrated", "pass")], run
    report = json.loads((out / VM / "report.json").read_text())
    exported = report["export"]["disks"]
    assert [d["transport"] for d in exported] == ["datastore"] and exported[0]["changed"] is True
    assert exported[0]["path"].startswith(str(out / VM) + "/") and exported[0]["format"] == "qcow2"
    assert report["convert"] == []  # the exported disk is the converted one: nothing converted twice
    assert report["repair"]["committed"] is True and report["validate"]["passed"] is True
    assert report["vm"]["disks"][0]["path"] == exported[0]["path"]
    print("export %.1f s at %s B/s; boot %s s" % (exported[0]["seconds"], exported[0]["bytes_per_second"],
                                                  report["validate"]["boot_seconds"]))
    macs = subprocess.run(["virsh", "-q", "-c", URI, "domiflist", DOMAIN], capture_output=True, text=True,
                          check=False).stdout
    assert "00:50:56:ab:cd:01" in macs

    second = _play(inventory, env)
    assert second.returncode == 0, second.stdout[-4000:]
    recap = [line for line in second.stdout.splitlines() if line.startswith(VM)]
    assert recap and "changed=0" in recap[-1] and "failed=0" in recap[-1], recap
