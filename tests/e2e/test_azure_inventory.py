"""The hyper2kvm.migrate.azure inventory plugin as users run it: `ansible-inventory` and
`ansible-playbook --limit` against the test cloud of test_azure_info.py (our Resource Manager endpoint,
tests/e2e/arm_server.py, over TLS on 127.0.0.1, spoken to by the REAL azure-identity and
azure-mgmt-compute), with the credentials in the environment variables AWX's Azure credential sets.

Azurite is not started: the inventory never touches the blob data plane, so the endpoint runs
without a blob store. The endpoint runs in this process, so every request the ansible-inventory
subprocesses make is in cloud.state.requests: that is how paging and cache reuse are checked.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("azure.mgmt.compute", reason="azure-mgmt-compute missing from the venv: run scripts/setup.sh")

import arm_server  # noqa: E402  (tests/e2e is on sys.path, see conftest.py)
import test_azure_info as info  # noqa: E402  (the seeded subscription and its credentials)
from vcsim import make_certificates  # noqa: E402

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.azure import (  # noqa: E402
    connection, discover)

pytestmark = [pytest.mark.e2e]

BIN = os.path.dirname(sys.executable)
AWX_ENV = ("AZURE_SUBSCRIPTION_ID", "AZURE_TENANT", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_SECRET",
           "AZURE_CLIENT_SECRET", "AZURE_CLOUD_ENVIRONMENT", "AZURE_AUTHORITY_HOST")
# test_azure_info's five VMs plus two in a resource group whose name is no valid group name as it is:
# a second "web01" (VM names are unique per resource group only) and a stopped Windows VM.
LEGACY = "Legacy.Apps"
EXTRA = [
    dict(name="web01", resource_group=LEGACY, location="northeurope", size="Standard_B2ms", power="deallocated",
         image=info.DEBIAN, tags={"Migrate": "later"}, nics=[{"mac": "00-0D-3A-30-00-01"}]),
    dict(name="app_7", resource_group=LEGACY, location="northeurope", size="Standard_D2s_v5", power="stopped",
         image=info.WINDOWS, os_type="Windows", os_disk_gb=127, nics=[{"mac": "00-0D-3A-30-00-02"}]),
]
WEB01_RG_WEB, WEB01_LEGACY = "web01_rg-web", "web01_Legacy.Apps"
HOSTS = sorted(["app_7", "db01", "gpu01", WEB01_LEGACY, WEB01_RG_WEB, "web02", "win01"])


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    """The seeded subscription (7 VMs, 8 NICs, pages of 2) behind our Resource Manager endpoint."""
    certs = make_certificates(tmp_path_factory.mktemp("tls"), "arm")
    seed = [dict((k, v) for k, v in spec.items() if k != "want") for spec in info.SEED] + EXTRA
    state = arm_server.ArmState(info.TENANT, info.SUBSCRIPTION, info.CLIENT_ID, info.SECRET, seed,
                                page_size=info.PAGE_SIZE)
    with arm_server.ArmServer(state, certs["cert"], certs["key"]) as server:
        server.certs = certs
        yield server


@pytest.fixture(scope="module")
def described(cloud):
    """What azure_vm_info's discovery says, by ARM id."""
    result = discover.discover(connection.settings(info.options(cloud)))
    return dict((vm["source"]["id"], vm) for vm in result["vms"])


def environment(cloud, secret=info.SECRET, secret_variable="AZURE_SECRET", **extra):
    """The environment of an AWX inventory source with an Azure Resource Manager credential."""
    collections = str(Path(connection.__file__).parents[7])  # the root that holds ansible_collections/
    env = dict((k, v) for k, v in os.environ.items() if k not in AWX_ENV)
    env.update(ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_NOCOLOR="1", ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_FAILED="true",
               AZURE_SUBSCRIPTION_ID=info.SUBSCRIPTION, AZURE_TENANT=info.TENANT, AZURE_CLIENT_ID=info.CLIENT_ID)
    if secret is not None:
        env[secret_variable] = secret
    env.update(extra)
    return env


def write_config(folder, cloud, text="", name="test.azure.yml"):
    """A configuration naming only the endpoints of the test cloud; the credentials come from the environment."""
    path = Path(folder) / name
    path.write_text("plugin: hyper2kvm.migrate.azure\nauthority_host: %s\nresource_manager_endpoint: %s\n"
                    "ca_bundle: %s\ntimeout: 20\n%s" % (cloud.url, cloud.url, cloud.certs["ca"], text))
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


def run_inventory(config, env, *args):
    return subprocess.run([os.path.join(BIN, "ansible-inventory"), "-i", str(config), *args],
                          env=env, capture_output=True, text=True, timeout=300, check=False)


def inventory(config, env, *args):
    """(groups {name: sorted hosts}, hostvars, process) of `ansible-inventory -i config --list`."""
    proc = run_inventory(config, env, "--list", *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = plain(json.loads(proc.stdout))
    hostvars = data.pop("_meta", {}).get("hostvars", {})
    groups = dict((name, sorted(group.get("hosts", []))) for name, group in data.items())
    return groups, hostvars, proc


def oneline(text):
    return " ".join(text.split())


@pytest.fixture(scope="module")
def listed(cloud, tmp_path_factory):
    """One plain run of the plugin: (groups, hostvars, process, requests the endpoint saw)."""
    config = write_config(tmp_path_factory.mktemp("listed"), cloud)
    with cloud.state.lock:
        del cloud.state.requests[:]
    groups, hostvars, proc = inventory(config, environment(cloud))
    with cloud.state.lock:
        requests = list(cloud.state.requests)
    return groups, hostvars, proc, requests


# --- hosts, variables, default groups, paging ----------------------------------------------------------

def test_every_vm_is_a_host_with_its_description(listed, described):
    _groups, hostvars, proc, _requests = listed
    assert sorted(hostvars) == HOSTS
    for host, variables in hostvars.items():
        vm = described[variables["h2k_vm_id"]]
        assert variables["h2k_vm"] == vm  # exactly what azure_vm_info returns
        source = vm["source"]
        assert (variables["h2k_power_state"], variables["h2k_guest_family"], variables["h2k_subscription"],
                variables["h2k_resource_group"], variables["h2k_location"], variables["h2k_size"],
                variables["h2k_tags"]) == (
            vm["power_state"], vm["guest"]["family"], info.SUBSCRIPTION, source["resource_group"],
            source["location"], source["size"], source["tags"])
    # OS and data disks and NICs with their addresses, from the one listing of each kind.
    db01 = hostvars["db01"]["h2k_vm"]
    assert [(d["source"]["kind"], d["capacity_bytes"] // info.GIB) for d in db01["disks"]] == [
        ("os", 30), ("data", 64), ("data", 32)]
    assert [(n["mac"], n["ip"]) for n in hostvars["win01"]["h2k_vm"]["nics"]] == [
        ("00:0d:3a:20:00:02", ["10.0.0.4"]), ("00:0d:3a:20:00:03", ["10.0.1.9"])]
    assert hostvars[WEB01_LEGACY]["h2k_resource_group"] == LEGACY
    for host, group in ((WEB01_RG_WEB, "rg-web"), (WEB01_LEGACY, LEGACY)):
        assert "VM 'web01' of resource group '%s' shares its host name 'web01' with another VM: it is host '%s'." % (
            group, host) in oneline(proc.stderr)


def test_listing_is_paged_without_a_call_per_vm(listed):
    *_rest, requests = listed
    vm_lists = [r for r in requests if r[1].endswith("/Microsoft.Compute/virtualMachines")]
    nic_lists = [r for r in requests if r[1].endswith("/Microsoft.Network/networkInterfaces")]
    # 7 VMs and 8 NICs in pages of 2, nextLink followed.
    assert [query.get("$skiptoken") for _m, _p, query in vm_lists] == [None, "2", "4", "6"]
    assert all(query["$expand"] == "instanceView" for _m, _p, query in vm_lists)
    assert [query.get("$skiptoken") for _m, _p, query in nic_lists] == [None, "2", "4", "6"]
    assert [r for r in requests if "/virtualMachines/" in r[1] or "/networkInterfaces/" in r[1]] == []


def test_default_groups(listed):
    groups, *_rest = listed
    assert groups["linux"] == ["db01", "gpu01", WEB01_LEGACY, WEB01_RG_WEB, "web02"]
    assert groups["windows"] == ["app_7", "win01"]
    assert groups["powered_on"] == ["gpu01", WEB01_RG_WEB, "win01"]
    assert groups["powered_off"] == ["app_7", "db01", WEB01_LEGACY, "web02"]
    assert groups["resource_group_rg_web"] == ["gpu01", WEB01_RG_WEB, "web02"]
    assert groups["resource_group_rg_db"] == ["db01", "win01"]
    assert groups["resource_group_legacy_apps"] == ["app_7", WEB01_LEGACY]
    assert groups["location_westeurope"] == ["db01", "gpu01", WEB01_RG_WEB, "web02", "win01"]
    assert groups["location_northeurope"] == ["app_7", WEB01_LEGACY]
    assert "other" not in groups


def test_graph(cloud, tmp_path):
    proc = run_inventory(write_config(tmp_path, cloud), environment(cloud), "--graph", "resource_group_legacy_apps")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.split() == ["@resource_group_legacy_apps:", "|--app_7", "|--" + WEB01_LEGACY]


# --- filters and Constructable ----------------------------------------------------------------------------

@pytest.mark.parametrize("text, want", [
    ("resource_groups: [RG-DB]\n", ["db01", "win01"]),
    # Host names are made unique among the selected VMs: a lone web01 keeps its bare name.
    ("tags: ['migrate:kvm']\n", ["web01@rg-web", "web02"]),
    ("tags: [MIGRATE]\npower_state: ['off']\n", ["web01@" + LEGACY, "web02"]),
    ("name_regex: '^web'\n", [WEB01_LEGACY, WEB01_RG_WEB, "web02"]),
    ("names: [win01, app_7]\n", ["app_7", "win01"]),
])
def test_filters(cloud, tmp_path, text, want):
    _groups, hostvars, _proc = inventory(write_config(tmp_path, cloud, text), environment(cloud))
    got = [host + ("@" + hostvars[host]["h2k_resource_group"] if host == "web01" else "") for host in hostvars]
    assert sorted(got) == want


def test_resource_groups_are_listed_on_the_server(cloud, tmp_path):
    config = write_config(tmp_path, cloud, "resource_group: [rg-db, RG-DB]\nnic_details: false\n")
    with cloud.state.lock:
        del cloud.state.requests[:]
    _groups, hostvars, _proc = inventory(config, environment(cloud))
    assert sorted(hostvars) == ["db01", "win01"]
    assert all(nic["mac"] is None for host in hostvars.values() for nic in host["h2k_vm"]["nics"])
    assert [r[1] for r in cloud.requests_to("/virtualMachines$")] == [
        "/subscriptions/%s/resourceGroups/rg-db/providers/Microsoft.Compute/virtualMachines" % info.SUBSCRIPTION]
    assert not cloud.requests_to("/networkInterfaces")


def test_names_not_found_are_warned_about(cloud, tmp_path):
    _groups, hostvars, proc = inventory(write_config(tmp_path, cloud, "names: [db01, ghost]\n"), environment(cloud))
    assert sorted(hostvars) == ["db01"] and "No VM matched these names: ghost." in proc.stderr


def test_keyed_groups_groups_and_compose(cloud, tmp_path):
    config = write_config(tmp_path, cloud, """\
keyed_groups:
  - key: h2k_tags
    prefix: tag
  - key: h2k_vm.source.power_state
    prefix: azure
  - key: h2k_vm.guest.distro
    prefix: distro
groups:
  trusted_launch: h2k_vm.source.security_type == 'TrustedLaunch'
  has_data_disks: h2k_vm.disks | length > 1
compose:
  disk_count: h2k_vm.disks | length
  first_mac: h2k_vm.nics[0].mac
  h2k_domain_name: "'kvm-' ~ h2k_vm.name ~ '-' ~ h2k_resource_group | lower"
""")
    groups, hostvars, _proc = inventory(config, environment(cloud))
    assert groups["tag_tier_web"] == [WEB01_RG_WEB, "web02"]
    assert groups["tag_migrate_kvm"] == [WEB01_RG_WEB, "web02"]
    assert groups["tag_Migrate_later"] == [WEB01_LEGACY]
    assert groups["azure_deallocated"] == [WEB01_LEGACY, "web02"]
    assert groups["azure_stopped"] == ["app_7", "db01"]
    assert groups["azure_running"] == ["gpu01", WEB01_RG_WEB, "win01"]
    assert groups["distro_debian"] == [WEB01_LEGACY, "web02"]
    assert groups["trusted_launch"] == [WEB01_RG_WEB, "win01"]
    assert groups["has_data_disks"] == ["db01", WEB01_RG_WEB]
    assert (hostvars["db01"]["disk_count"], hostvars["db01"]["first_mac"]) == (3, "00:0d:3a:20:00:01")
    assert hostvars[WEB01_LEGACY]["h2k_domain_name"] == "kvm-web01-legacy.apps"


def test_strict_makes_a_bad_expression_fail_the_source(cloud, tmp_path):
    config = write_config(tmp_path, cloud, "strict: true\ncompose:\n  broken: h2k_vm.no_such_key.deeper\n")
    proc = run_inventory(config, environment(cloud), "--list")
    assert proc.returncode != 0 and "no_such_key" in proc.stderr


def test_other_file_names_are_declined(cloud, tmp_path):
    config = write_config(tmp_path, cloud, name="inventory.yml")
    proc = run_inventory(config, environment(cloud), "--list")
    assert proc.returncode != 0
    assert "inventory source '%s' could not be verified by inventory plugin 'hyper2kvm.migrate.azure'" % config in (
        oneline(proc.stderr))


# --- credentials and endpoints -------------------------------------------------------------------------

@pytest.mark.parametrize("secret_variable", ["AZURE_SECRET", "AZURE_CLIENT_SECRET"])
def test_awx_environment_credentials(cloud, tmp_path, secret_variable):
    """The configuration names no credential: AWX's credential injects them (AZURE_SECRET; the Azure SDK's
    own AZURE_CLIENT_SECRET works too). The sign-in endpoint also comes from the environment here."""
    config = tmp_path / "awx.azure.yml"
    config.write_text("plugin: hyper2kvm.migrate.azure\nresource_manager_endpoint: %s\nca_bundle: %s\n"
                      "tags: ['tier:db']\n" % (cloud.url, cloud.certs["ca"]))
    env = environment(cloud, secret_variable=secret_variable, AZURE_AUTHORITY_HOST=cloud.url)
    _groups, hostvars, proc = inventory(config, env)
    assert sorted(hostvars) == ["db01", "win01"]
    assert info.SECRET not in proc.stdout + proc.stderr


def test_credentials_in_the_file(cloud, tmp_path):
    config = write_config(tmp_path, cloud, "subscription_id: %s\ntenant_id: %s\nclient_id: %s\nclient_secret: %s\n"
                          "names: [gpu01]\n" % (info.SUBSCRIPTION, info.TENANT, info.CLIENT_ID, info.SECRET))
    env = dict((k, v) for k, v in environment(cloud).items() if not k.startswith("AZURE_"))
    _groups, hostvars, proc = inventory(config, env)
    assert sorted(hostvars) == ["gpu01"]
    assert info.SECRET not in proc.stdout + proc.stderr


def test_missing_credentials_are_named(cloud, tmp_path):
    env = dict((k, v) for k, v in environment(cloud).items() if k not in ("AZURE_CLIENT_ID", "AZURE_SECRET"))
    proc = run_inventory(write_config(tmp_path, cloud), env, "--list")
    assert proc.returncode != 0
    assert "Azure connection options: missing required arguments: client_id, secret." in oneline(proc.stderr)
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("where", ["environment", "file"])
def test_wrong_secret_is_a_clear_error_without_the_secret(cloud, tmp_path, where):
    wrong = "Wrong~" + info.SECRET[::-1]
    if where == "file":
        config, env = write_config(tmp_path, cloud, "secret: %s\n" % wrong), environment(cloud)
    else:
        config, env = write_config(tmp_path, cloud), environment(cloud, secret=wrong)
    proc = run_inventory(config, env, "--list")
    assert proc.returncode != 0
    assert "Azure sign-in refused the service principal: AADSTS7000215: Invalid client secret provided." in (
        oneline(proc.stderr))
    assert "AZURE_SECRET" in proc.stderr  # the fix names what to check
    assert "Traceback" not in proc.stderr
    assert wrong not in proc.stdout + proc.stderr and info.SECRET not in proc.stdout + proc.stderr
    # Even at -vvv, where Ansible shows more of the failure, the secrets stay out.
    proc = run_inventory(config, env, "--list", "-vvv")
    assert proc.returncode != 0
    assert wrong not in proc.stdout + proc.stderr and info.SECRET not in proc.stdout + proc.stderr


def test_untrusted_certificate_is_a_clear_error(cloud, tmp_path):
    other = make_certificates(tmp_path, "other")
    config = tmp_path / "other.azure.yml"
    config.write_text(write_config(tmp_path, cloud).read_text().replace(cloud.certs["ca"], other["ca"]))
    proc = run_inventory(config, environment(cloud), "--list")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "The TLS certificate of %s could not be verified: certificate verify failed" % cloud.url in (
        oneline(proc.stderr))


# --- caching --------------------------------------------------------------------------------------------

def test_cached_inventory_is_served_without_asking_azure(cloud, tmp_path):
    """A second run within cache_timeout makes no request at all (not even a sign-in); changed name
    and tag filters apply to the cached VMs; changed resource groups or --flush-cache list again.
    The cache never holds the secret."""
    cache_dir = tmp_path / "cache"
    cache = "cache: true\ncache_plugin: ansible.builtin.jsonfile\ncache_connection: %s\ncache_timeout: 600\n" % cache_dir
    config = write_config(tmp_path, cloud, cache)
    env = environment(cloud)

    def requests():
        with cloud.state.lock:
            seen = list(cloud.state.requests)
            del cloud.state.requests[:]
        return seen

    requests()
    _groups, fresh, _proc = inventory(config, env)
    assert sorted(fresh) == HOSTS and len(requests()) > 0
    assert info.SECRET not in "".join(path.read_text() for path in cache_dir.iterdir())

    _groups, cached, _proc = inventory(config, env)
    assert cached == fresh and requests() == []

    config.write_text(config.read_text() + "tags: [tier]\nnames: [db01, web02, ghost]\n")
    _groups, filtered, proc = inventory(config, env)
    assert sorted(filtered) == ["db01", "web02"] and "No VM matched these names: ghost." in proc.stderr
    assert requests() == []

    config.write_text(config.read_text() + "resource_groups: [rg-db]\n")  # another listing: not from the cache
    _groups, narrowed, _proc = inventory(config, env)
    assert sorted(narrowed) == ["db01"] and cloud.requests_to("/resourceGroups/rg-db/")
    requests()
    _groups, again, _proc = inventory(config, env)
    assert again == narrowed and requests() == []

    _groups, flushed, _proc = inventory(config, env, "--flush-cache")
    assert flushed == narrowed and [r for r in requests() if r[1].endswith("/virtualMachines")]


# --- --limit with ansible-playbook -------------------------------------------------------------------

PLAYBOOK = """\
- name: Show the selected VMs
  hosts: all
  gather_facts: false
  tasks:
    - name: Say which VM this is
      ansible.builtin.debug:
        msg: "{{ h2k_vm.name }} in {{ h2k_resource_group }}"
"""


@pytest.mark.parametrize("limit, want", [
    ("linux:&resource_group_rg_web", ["gpu01", WEB01_RG_WEB, "web02"]),
    ("windows:&powered_off", ["app_7"]),
    ("location_westeurope:!powered_on", ["db01", "web02"]),
])
def test_playbook_limit_selects_vms(cloud, tmp_path, limit, want):
    playbook = tmp_path / "show.yml"
    playbook.write_text(PLAYBOOK)
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", str(write_config(tmp_path, cloud)),
                           "--limit", limit, str(playbook)], env=environment(cloud),
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    recap = proc.stdout.split("PLAY RECAP", 1)[1]
    assert sorted(re.findall(r"^(\S+)\s+: ok=1 ", recap, re.M)) == want
    for host in want:
        assert '"msg": "%s in ' % host.split("_rg-")[0] in proc.stdout


def test_discover_playbook_takes_the_descriptions_from_the_inventory(cloud, tmp_path):
    """The collection's discover playbook (describe + preflight, no changes) on the selected VMs: it keeps
    h2k_vm from the inventory instead of discovering again."""
    plan = tmp_path / "plan.json"
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", str(write_config(tmp_path, cloud)),
                           "--limit", "resource_group_rg_db", "hyper2kvm.migrate.discover",
                           "-e", "h2k_plan_file=%s h2k_output_dir=%s" % (plan, tmp_path / "out")],
                          env=environment(cloud), capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    vms = json.loads(plan.read_text())["vms"]
    assert sorted((item["vm"]["name"], item["vm"]["source"]["type"], item["vm"]["source"]["resource_group"])
                  for item in vms) == [("db01", "azure", "rg-db"), ("win01", "azure", "rg-db")]
    ova_task = proc.stdout.split("TASK [Discover the VM from its OVA or OVF package]", 1)[1].split("TASK [", 1)[0]
    assert "skipping: [db01]" in ova_task and "skipping: [win01]" in ova_task
