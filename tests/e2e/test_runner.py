"""migrate.yml launched the way AWX launches a job: ansible-runner with a private_data_dir (project,
inventory with a vaulted group_vars file, env/passwords answering the vault prompt, extra vars).

The VM is the sample guest's VHDX as a loose disk (a Hyper-V source), converted and defined. Repair and
the boot check are proven by the migrate_playbook integration target and the molecule scenario, so this
test spends its minutes on the launch path, not on a third boot.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ansible_runner = pytest.importorskip("ansible_runner")

DOMAIN = "h2k-e2e-runner"
VAULT_PASSWORD = "runner-test-vault"
URI = "qemu:///system"


def _collections_path():
    """Our collection (the tree conftest made importable) first, then the vendored ones."""
    ours = next(p for p in sys.path if os.path.isdir(os.path.join(p, "ansible_collections", "hyper2kvm", "migrate")))
    extra = os.environ.get("ANSIBLE_COLLECTIONS_PATH", "")
    return ":".join([ours] + [p for p in extra.split(":") if p])


def _encrypt(path, text, password_file):
    subprocess.run(["ansible-vault", "encrypt", "--vault-password-file", password_file, "--output", str(path), "-"],
                   input=text, text=True, check=True, capture_output=True)


def _undefine():
    subprocess.run(["virsh", "-q", "-c", URI, "undefine", "--nvram", DOMAIN], capture_output=True, check=False)


@pytest.fixture
def private_data_dir(fixture_guest, tmp_path):
    root = tmp_path / "job"
    out = tmp_path / "out"
    for sub in ("project", "inventory/group_vars/all", "env"):
        (root / sub).mkdir(parents=True)
    os.chmod(tmp_path, 0o711)  # libvirt's account must reach the disk to start it later
    (root / "project" / "site.yml").write_text(
        "---\n- name: Migrate\n  ansible.builtin.import_playbook: hyper2kvm.migrate.migrate\n")
    (root / "inventory" / "hosts.yml").write_text(json.dumps({"all": {"hosts": {"hyperv-vm": {
        "h2k_source": {"type": "disk", "disks": [os.path.join(fixture_guest["dir"], "disk.vhdx")],
                       "name": "h2k-fixture-hyperv", "nics": [{"mac": "00:15:5d:01:02:03", "network": "LAN"}]},
        "h2k_domain_name": DOMAIN, "h2k_repair": False, "h2k_boot_check": False,
    }}}}))
    password_file = tmp_path / "vault-pass"
    password_file.write_text(VAULT_PASSWORD + "\n")
    # What a team keeps in Vault: here the libvirt URI (real ones can carry a user and host).
    _encrypt(root / "inventory" / "group_vars" / "all" / "vault.yml",
             "---\nh2k_libvirt_uri: %s\n" % URI, str(password_file))
    password_file.unlink()  # the job gets the password only through the prompt, like AWX's credential
    (root / "env" / "passwords").write_text(json.dumps({r"^Vault password:\s*?$": VAULT_PASSWORD}))
    (root / "env" / "cmdline").write_text("--ask-vault-pass")
    (root / "env" / "extravars").write_text(json.dumps({"h2k_output_dir": str(out)}))
    (root / "env" / "envvars").write_text(json.dumps({"ANSIBLE_COLLECTIONS_PATH": _collections_path()}))
    _undefine()
    yield root, out
    _undefine()


def _run(root):
    return ansible_runner.run(private_data_dir=str(root), playbook="site.yml", quiet=True)


@pytest.mark.e2e
def test_runner_job_migrates_a_vhdx_vm_and_a_rerun_changes_nothing(private_data_dir):
    root, out = private_data_dir
    first = _run(root)
    assert (first.status, first.rc) == ("successful", 0), first.stdout.read()[-3000:]
    assert first.stats["changed"].get("hyperv-vm", 0) > 0
    events = [e for e in first.events if e.get("event") == "runner_on_ok"]
    defined = [e for e in events if e["event_data"].get("task") == "Define the libvirt domain"]
    assert defined and defined[0]["event_data"]["res"]["actions"] == ["define"]

    run = json.loads((out / "run.json").read_text())
    assert [(o["vm"], o["status"]) for o in run["vms"]] == [("h2k-fixture-hyperv", "migrated")]
    state = subprocess.run(["virsh", "-q", "-c", URI, "domstate", DOMAIN], capture_output=True, text=True, check=False)
    assert state.stdout.strip() == "shut off"
    mac = subprocess.run(["virsh", "-q", "-c", URI, "domiflist", DOMAIN], capture_output=True, text=True, check=False).stdout
    assert "00:15:5d:01:02:03" in mac

    second = _run(root)
    assert (second.status, second.rc) == ("successful", 0)
    assert second.stats["changed"].get("hyperv-vm", 0) == 0, second.stats
