"""The hyper2kvm.migrate.vsphere inventory plugin as users run it: `ansible-inventory` and
`ansible-playbook --limit` against our build of govmomi's simulator (tests/e2e/vcsim.py), seeded
through pyVmomi, with verified TLS and the credentials in the AWX environment variables."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pyVmomi", reason="pyvmomi missing from the venv: run scripts/setup.sh")

import vcsim  # noqa: E402  (tests/e2e is on sys.path, see conftest.py)
import vcsim_seed  # noqa: E402
import test_vsphere_vm_info  # noqa: E402

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.vsphere import (  # noqa: E402
    connection, discover)

pytestmark = [pytest.mark.e2e]

BIN = os.path.dirname(sys.executable)
GENERATED = ["DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1", "DC0_C1_RP0_VM0", "DC0_C1_RP0_VM1"]  # -vm 2, 2 clusters
# A second "twin" in its own folder, and a name that is not a safe host name.
TWIN = {"folder": "twins", "cluster": "DC0_C1", "guest_id": "otherGuest64", "power": "off", "firmware": "bios",
        "secure_boot": False, "cpus": 1, "cores": 1, "memory_mib": 256, "controllers": {}, "disks": [], "nics": []}
ODD_NAME = "web 01 (old)"

vcenter = test_vsphere_vm_info.vcenter  # its seeded simulator: a module-scoped fixture, one per test module


@pytest.fixture(scope="module")
def vsphere(vcenter):
    """test_vsphere_vm_info's seeded simulator plus two VMs named "twin" and one with an odd name."""
    with connection.session(**vcenter.connect_args()) as si:
        vcsim_seed.seed(si, {"twin": TWIN})
        vcsim_seed.create_plain_vm(si, "twin")
        vcsim_seed.create_plain_vm(si, ODD_NAME)
    return vcenter


@pytest.fixture(scope="module")
def described(vsphere):
    """What vsphere_vm_info's discovery says, by managed object id."""
    return dict((vm["source"]["id"], vm) for vm in discover.discover(vsphere.connect_args())["vms"])


def environment(sim, password=None, **extra):
    collections = str(Path(connection.__file__).parents[7])  # the root that holds ansible_collections/
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_NOCOLOR="1",
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCALHOST_WARNING="false",
               VMWARE_HOST=sim.host, VMWARE_PORT=str(sim.port), VMWARE_USER=vcsim.USERNAME,
               VMWARE_PASSWORD=password or sim.password)
    env.update(extra)
    return env


def write_config(folder, sim, text="", name="test.vsphere.yml"):
    path = Path(folder) / name
    path.write_text("plugin: hyper2kvm.migrate.vsphere\nca_bundle: %s\n%s" % (sim.certs["ca"], text))
    return path


def plain(value):
    """ansible-inventory marks inventory strings as unsafe ({"__ansible_unsafe": "x"}): unwrap them."""
    if isinstance(value, dict):
        if list(value) == ["__ansible_unsafe"]:
            return value["__ansible_unsafe"]
        return dict((key, plain(item)) for key, item in value.items())
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def inventory(config, env, *args):
    """(groups {name: sorted hosts}, hostvars, process) of `ansible-inventory -i config --list`."""
    proc = subprocess.run([os.path.join(BIN, "ansible-inventory"), "-i", str(config), "--list", *args],
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = plain(json.loads(proc.stdout))
    hostvars = data.pop("_meta", {}).get("hostvars", {})
    groups = dict((name, sorted(group.get("hosts", []))) for name, group in data.items())
    return groups, hostvars, proc


def twin_hosts(described):
    return sorted("twin_" + vm_id for vm_id, vm in described.items() if vm["name"] == "twin")


# --- hosts, variables, default groups ---------------------------------------------------------------

def test_every_vm_is_a_host_with_its_description(vsphere, described, tmp_path):
    groups, hostvars, proc = inventory(write_config(tmp_path, vsphere), environment(vsphere))
    twins = twin_hosts(described)
    assert len(twins) == 2
    assert sorted(hostvars) == sorted(GENERATED + list(vcsim_seed.SEEDED) + twins + ["web_01__old_"])
    for host, variables in hostvars.items():
        vm = described[variables["h2k_vm_id"]]
        assert variables["h2k_vm"] == vm  # exactly what vsphere_vm_info returns
        assert (variables["h2k_power_state"], variables["h2k_guest_family"], variables["h2k_cluster"],
                variables["h2k_datacenter"], variables["h2k_folder"], variables["h2k_esxi_host"]) == (
            vm["power_state"], vm["guest"]["family"] or "unknown", vm["source"]["cluster"], "DC0",
            vm["source"]["folder"], vm["source"]["host"])
    assert hostvars["web_01__old_"]["h2k_vm"]["name"] == ODD_NAME
    for twin in twins:
        assert "VM 'twin' (%s) shares its host name 'twin' with another VM: it is host '%s'." % (
            twin[len("twin_"):], twin) in " ".join(proc.stderr.split())


def test_default_groups(vsphere, described, tmp_path):
    groups, _hostvars, _proc = inventory(write_config(tmp_path, vsphere), environment(vsphere))
    twins = twin_hosts(described)
    assert groups["linux"] == ["deb12-efi", "rhel9-snap"]
    assert groups["windows"] == ["win2019"]
    assert groups["other"] == sorted(GENERATED + twins + ["web_01__old_"])
    assert groups["powered_on"] == sorted(GENERATED + ["deb12-efi"])
    assert groups["powered_off"] == sorted(["rhel9-snap", "web_01__old_"] + twins)
    assert groups["suspended"] == ["win2019"]
    assert groups["cluster_DC0_C1"] == sorted(GENERATED[2:] + ["win2019", twins_in(described, "DC0_C1")])
    assert groups["datacenter_DC0"] == sorted(groups["linux"] + groups["windows"] + groups["other"])


def twins_in(described, cluster):
    return next("twin_" + vm_id for vm_id, vm in described.items()
                if vm["name"] == "twin" and vm["source"]["cluster"] == cluster)


def test_filters_keyed_groups_groups_and_compose(vsphere, tmp_path):
    config = write_config(tmp_path, vsphere, """\
guest_family: [linux, windows]
power_state: ["on", "off"]
page_size: 3
keyed_groups:
  - key: h2k_vm.guest.distro
    prefix: distro
  - key: h2k_vm.firmware
groups:
  has_snapshot: h2k_vm.source.flags.snapshot
compose:
  disk_count: h2k_vm.disks | length
  first_mac: h2k_vm.nics[0].mac
""")
    groups, hostvars, _proc = inventory(config, environment(vsphere))
    assert sorted(hostvars) == ["deb12-efi", "rhel9-snap"]
    assert (groups["distro_debian"], groups["distro_rhel"]) == (["deb12-efi"], ["rhel9-snap"])
    assert (groups["_uefi"], groups["_bios"]) == (["deb12-efi"], ["rhel9-snap"])
    assert groups["has_snapshot"] == ["rhel9-snap"]
    assert [(hostvars[h]["disk_count"], hostvars[h]["first_mac"]) for h in ("deb12-efi", "rhel9-snap")] == [
        (2, "00:50:56:3f:00:01"), (2, "00:50:56:3f:00:21")]


def test_strict_makes_a_bad_expression_fail_the_source(vsphere, tmp_path):
    config = write_config(tmp_path, vsphere, "strict: true\ncompose:\n  broken: h2k_vm.no_such_key.deeper\n")
    proc = subprocess.run([os.path.join(BIN, "ansible-inventory"), "-i", str(config), "--list"],
                          env=environment(vsphere, ANSIBLE_INVENTORY_UNPARSED_FAILED="true"),
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode != 0 and "no_such_key" in proc.stderr


# --- --limit with ansible-playbook -------------------------------------------------------------------

PLAYBOOK = """\
- name: Show the selected VMs
  hosts: all
  gather_facts: false
  tasks:
    - name: Say which VM this is
      ansible.builtin.debug:
        msg: "{{ h2k_vm.name }} in {{ h2k_cluster }}"
"""


@pytest.mark.parametrize("limit, want", [
    ("linux:&cluster_DC0_C0", ["deb12-efi", "rhel9-snap"]),
    ("linux:&powered_off", ["rhel9-snap"]),
    ("cluster_DC0_C1:!other", ["win2019"]),
])
def test_playbook_limit_selects_vms(vsphere, tmp_path, limit, want):
    playbook = tmp_path / "show.yml"
    playbook.write_text(PLAYBOOK)
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", str(write_config(tmp_path, vsphere)),
                           "--limit", limit, str(playbook)], env=environment(vsphere),
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    recap = proc.stdout.split("PLAY RECAP", 1)[1]
    assert sorted(re.findall(r"^(\S+)\s+: ok=1 ", recap, re.M)) == want
    for host in want:
        assert '"msg": "%s in ' % host in proc.stdout


def test_discover_playbook_takes_the_descriptions_from_the_inventory(vsphere, tmp_path):
    """The collection's discover playbook (describe + preflight, no changes) on the selected VMs:
    it keeps h2k_vm from the inventory instead of discovering again."""
    plan = tmp_path / "plan.json"
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", str(write_config(tmp_path, vsphere)),
                           "--limit", "linux:&cluster_DC0_C0", "hyper2kvm.migrate.discover",
                           "-e", "h2k_plan_file=%s h2k_output_dir=%s" % (plan, tmp_path / "out")],
                          env=environment(vsphere), capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    vms = json.loads(plan.read_text())["vms"]
    assert sorted((item["vm"]["name"], item["vm"]["source"]["type"]) for item in vms) == [
        ("deb12-efi", "vsphere"), ("rhel9-snap", "vsphere")]
    ova_task = proc.stdout.split("TASK [Discover the VM from its OVA or OVF package]", 1)[1].split("TASK [", 1)[0]
    assert "skipping: [deb12-efi]" in ova_task and "skipping: [rhel9-snap]" in ova_task


# --- caching ----------------------------------------------------------------------------------------

def test_cached_inventory_outlives_the_vcenter(tmp_path):
    """A second run is served from the cache: it still lists the VMs once the vCenter is gone, with
    the filters of the moment, and --flush-cache asks vSphere again. The cache never holds the password."""
    sim = vcsim.Simulator(vcsim.build(), tmp_path / "vcsim", password=secrets.token_urlsafe(12), vms_per_pool=1)
    cache_dir = tmp_path / "cache"
    with sim:
        config = write_config(tmp_path, sim, "cache: true\ncache_plugin: ansible.builtin.jsonfile\n"
                                             "cache_connection: %s\ncache_timeout: 600\n" % cache_dir)
        env = environment(sim, ANSIBLE_INVENTORY_UNPARSED_FAILED="true")
        _groups, fresh, _proc = inventory(config, env)
    assert sorted(fresh) == ["DC0_C0_RP0_VM0", "DC0_C1_RP0_VM0"]
    assert sim.password not in "".join(path.read_text() for path in cache_dir.iterdir())

    _groups, cached, _proc = inventory(config, env)
    assert cached == fresh

    config.write_text(config.read_text() + "name_regex: _C1_\nnames: [DC0_C1_RP0_VM0, gone]\n")
    _groups, filtered, proc = inventory(config, env)  # changed filters apply to the cached VMs
    assert sorted(filtered) == ["DC0_C1_RP0_VM0"] and "No VM matched these names: gone." in proc.stderr

    proc = subprocess.run([os.path.join(BIN, "ansible-inventory"), "-i", str(config), "--list", "--flush-cache"],
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode != 0 and "Cannot talk to 127.0.0.1:%d" % sim.port in " ".join(proc.stderr.split())


# --- credentials --------------------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["environment", "file"])
def test_wrong_password_is_a_clear_error_without_the_password(vsphere, tmp_path, where):
    wrong = "Wrong-" + secrets.token_urlsafe(12)
    if where == "file":
        config = write_config(tmp_path, vsphere, "password: %s\n" % wrong)
        env = environment(vsphere, ANSIBLE_INVENTORY_UNPARSED_FAILED="true")
    else:
        config = write_config(tmp_path, vsphere)
        env = environment(vsphere, password=wrong, ANSIBLE_INVENTORY_UNPARSED_FAILED="true")
    proc = subprocess.run([os.path.join(BIN, "ansible-inventory"), "-i", str(config), "--list", "-vvv"],
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "127.0.0.1:%d refused the login: wrong user name or password" % vsphere.port in " ".join(output.split())
    assert wrong not in output and vsphere.password not in output


def test_vaulted_password_in_the_file(vsphere, tmp_path):
    vault_password = tmp_path / "vault-pass"
    vault_password.write_text(secrets.token_urlsafe(16))
    encrypted = subprocess.run(
        [os.path.join(BIN, "ansible-vault"), "encrypt_string", "--vault-password-file", str(vault_password),
         "--name", "password", vsphere.password],
        capture_output=True, text=True, timeout=120, check=True, env=environment(vsphere)).stdout
    config = write_config(tmp_path, vsphere, encrypted)
    env = environment(vsphere, ANSIBLE_VAULT_PASSWORD_FILE=str(vault_password))
    del env["VMWARE_PASSWORD"]
    _groups, hostvars, _proc = inventory(config, env)
    assert "win2019" in hostvars
