"""azure_vm_info against the test cloud: Azurite (npm, scripts/setup-azure.sh) for the blob data plane
and our local Azure Resource Manager endpoint (arm_server.py) over TLS for the control plane, both on
127.0.0.1, spoken to by the REAL azure-identity and azure-mgmt-compute.

TLS: the endpoint's certificate is signed by a CA made here. The clients trust it only through the
module's ca_bundle option (handed to the SDKs as connection_verify); REQUESTS_CA_BUNDLE, which this
machine exports, stays in place and does not contain it, so a client without ca_bundle is refused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("azure.mgmt.compute", reason="azure-mgmt-compute missing from the venv: run scripts/setup.sh")
pytest.importorskip("azure.storage.blob", reason="azure-storage-blob missing from the venv: run scripts/setup.sh")

import arm_server  # noqa: E402  (tests/e2e is on sys.path, see conftest.py)
from support import closed_port  # noqa: E402
from ansible.module_utils.testing import patch_module_args  # noqa: E402
from azure.identity import ClientSecretCredential  # noqa: E402
from azure.mgmt.compute import ComputeManagementClient  # noqa: E402
from vcsim import make_certificates  # noqa: E402

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (  # noqa: E402
    AuthenticationError, CertificateError, ConnectionFailedError, InvalidInputError)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.azure import (  # noqa: E402
    connection, discover, listing)
from ansible_collections.hyper2kvm.migrate.plugins.modules import azure_vm_info  # noqa: E402

pytestmark = [pytest.mark.e2e]

TENANT = "7a1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"
SUBSCRIPTION = "2b5e7c1a-58f4-4d0e-9b53-3c4a8f1e2d90"
CLIENT_ID = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
SECRET = "h2k-test~secret.value_0123456789"
PAGE_SIZE = 2
GIB = 1024 ** 3
UBUNTU = ("Canonical", "0001-com-ubuntu-server-jammy", "22_04-lts-gen2", "latest")
DEBIAN = ("Debian", "debian-12", "12-gen2", "latest")
RHEL = ("RedHat", "RHEL", "8_9", "latest")
WINDOWS = ("MicrosoftWindowsServer", "WindowsServer", "2022-datacenter-azure-edition", "latest")

# The seeded subscription: five VMs in two resource groups (three pages of two), varied sizes, OS,
# power states and security types. "want" is what the description must say.
SEED = [
    dict(name="web01", resource_group="rg-web", size="Standard_D2s_v5", power="running", image=UBUNTU,
         security="TrustedLaunch", os_name="ubuntu", os_version="22.04", tags={"migrate": "kvm", "tier": "web"},
         data_disks=[{"lun": 0, "size_gb": 8, "caching": "ReadOnly"}], nics=[{"mac": "00-0D-3A-10-00-01"}],
         want=("on", "uefi", True, 2, 8192, "linux", "ubuntu", "22.04", [30, 8], ["00:0d:3a:10:00:01"])),
    dict(name="web02", resource_group="rg-web", size="Standard_B2ms", power="deallocated", image=DEBIAN,
         tags={"migrate": "kvm", "tier": "web"}, nics=[{}],
         want=("off", "uefi", False, 2, 8192, "linux", "debian", "12", [30], [None])),
    dict(name="db01", resource_group="rg-db", size="Standard_E4s_v5", power="stopped", image=RHEL, generation="V1",
         tags={"tier": "db"}, data_disks=[{"lun": 0, "size_gb": 64}, {"lun": 1, "size_gb": 32}],
         nics=[{"mac": "00-0D-3A-20-00-01"}],
         want=("off", "bios", False, 4, 32768, "linux", "rhel", "8.9", [30, 64, 32], ["00:0d:3a:20:00:01"])),
    dict(name="win01", resource_group="rg-db", size="Standard_D4s_v3", power="running", image=WINDOWS,
         os_type="Windows", os_disk_gb=127, security="TrustedLaunch", secure_boot=False, tags={"tier": "db"},
         os_name="Windows Server 2022 Datacenter", os_version="10.0.20348.2402",
         nics=[{"mac": "00-0D-3A-20-00-02"}, {"mac": "00-0D-3A-20-00-03", "ip": "10.0.1.9"}],
         want=("on", "uefi", False, 4, 16384, "windows", "windows", "2022", [127],
               ["00:0d:3a:20:00:02", "00:0d:3a:20:00:03"])),
    dict(name="gpu01", resource_group="rg-web", size="Standard_NC6s_v3", power="running", image=None,
         nics=[{"mac": "00-0D-3A-10-00-09"}],
         want=("on", "uefi", False, 1, 1024, "linux", None, None, [30], ["00:0d:3a:10:00:09"])),
]
NAMES = sorted(spec["name"] for spec in SEED)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory, blobs):
    certs = make_certificates(tmp_path_factory.mktemp("tls"), "arm")
    state = arm_server.ArmState(TENANT, SUBSCRIPTION, CLIENT_ID, SECRET,
                                [{k: v for k, v in spec.items() if k != "want"} for spec in SEED],
                                page_size=PAGE_SIZE, blob_store=blobs)
    for disk in state.disks.values():
        blobs.create(disk["name"], disk["properties"]["diskSizeBytes"])
    with arm_server.ArmServer(state, certs["cert"], certs["key"]) as server:
        server.certs = certs
        yield server


def options(cloud, **overrides):
    """The module's options for the test cloud."""
    args = dict(subscription_id=SUBSCRIPTION, tenant=TENANT, client_id=CLIENT_ID, secret=SECRET,
                cloud_environment="AzureCloud", authority_host=cloud.url, resource_manager_endpoint=cloud.url,
                audience=None, validate_certs=True, ca_bundle=cloud.certs["ca"], timeout=20)
    args.update(overrides)
    return args


def run_discover(cloud, criteria=None, nic_details=True, **overrides):
    return discover.discover(connection.settings(options(cloud, **overrides)), criteria=criteria,
                             nic_details=nic_details)


@pytest.fixture(scope="module")
def everything(cloud):
    del cloud.state.requests[:]
    result = run_discover(cloud)
    result["requests"] = list(cloud.state.requests)
    return result


def by_name(result):
    return dict((vm["name"], vm) for vm in result["vms"])


# --- listing, paging and the descriptions ---------------------------------------------------------------

def test_lists_every_vm_across_pages_without_a_call_per_vm(everything):
    assert [vm["name"] for vm in everything["vms"]] == NAMES
    assert everything["count"] == 5 and everything["warnings"] == []
    vm_lists = [r for r in everything["requests"] if r[1].endswith("/Microsoft.Compute/virtualMachines")]
    nic_lists = [r for r in everything["requests"] if r[1].endswith("/Microsoft.Network/networkInterfaces")]
    assert len(vm_lists) == 3 and len(nic_lists) == 3  # 5 VMs and 6 NICs, pages of 2
    assert everything["round_trips"] == 6
    queries = [request[2] for request in vm_lists]
    assert all(query["$expand"] == "instanceView" for query in queries)
    assert [query.get("$skiptoken") for query in queries] == [None, "2", "4"]
    per_vm = [r for r in everything["requests"] if "/virtualMachines/" in r[1] or "/networkInterfaces/" in r[1]]
    assert per_vm == []
    assert 0 < everything["seconds"] < 30


@pytest.mark.parametrize("spec", SEED, ids=[spec["name"] for spec in SEED])
def test_seeded_vms_are_described(everything, spec):
    vm = by_name(everything)[spec["name"]]
    got = (vm["power_state"], vm["firmware"], vm["secure_boot"], vm["cpus"], vm["memory_mib"], vm["guest"]["family"],
           vm["guest"]["distro"], vm["guest"]["version"], [d["capacity_bytes"] // GIB for d in vm["disks"]],
           [nic["mac"] for nic in vm["nics"]])
    assert got == spec["want"]
    source = vm["source"]
    assert source["id"] == "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/%s" % (
        SUBSCRIPTION, spec["resource_group"], spec["name"])
    assert (source["type"], source["subscription"], source["resource_group"], source["location"], source["size"]) == (
        "azure", SUBSCRIPTION, spec["resource_group"], "westeurope", spec["size"])
    assert source["power_state"] == spec["power"] and source["tags"] == spec.get("tags", {})
    assert [d["source"]["lun"] for d in vm["disks"]] == [None] + [d["lun"] for d in spec.get("data_disks", [])]
    assert all(d["source"]["managed_disk_id"].startswith("/subscriptions/%s/resourceGroups/%s/providers/"
                                                         "Microsoft.Compute/disks/" % (SUBSCRIPTION, spec["resource_group"]))
               for d in vm["disks"])


def test_unknown_size_is_noted(everything):
    notes = [n["message"] for n in by_name(everything)["gpu01"]["notes"]]
    assert notes == ["VM size Standard_NC6s_v3 is not in the built-in table: cpus and memory_mib are placeholders."]


def test_nics_carry_addresses_and_subnets(everything):
    nics = by_name(everything)["win01"]["nics"]
    assert [(n["ip"], n["network"], n["source"]["primary"]) for n in nics] == [
        (["10.0.0.4"], "rg-db-vnet/default", True), (["10.0.1.9"], "rg-db-vnet/default", False)]


def test_without_nic_details_there_is_no_network_listing(cloud):
    del cloud.state.requests[:]
    result = run_discover(cloud, nic_details=False)
    assert result["round_trips"] == 3 and all(n["mac"] is None for vm in result["vms"] for n in vm["nics"])
    assert not cloud.requests_to("/networkInterfaces")


# --- filters -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("criteria, want", [
    ({"resource_groups": ["RG-DB"]}, ["db01", "win01"]),
    ({"tags": ["migrate:kvm"]}, ["web01", "web02"]),
    ({"tags": ["TIER:web"], "power_states": ["on"]}, ["web01"]),
    ({"power_states": ["off"]}, ["db01", "web02"]),
    ({"names": ["gpu01", "win01"]}, ["gpu01", "win01"]),
    ({"name_regex": "^web"}, ["web01", "web02"]),
    ({"resource_groups": ["rg-web"], "name_regex": "1$"}, ["gpu01", "web01"]),
])
def test_filters(cloud, criteria, want):
    result = run_discover(cloud, criteria=listing.Criteria(**criteria))
    assert [vm["name"] for vm in result["vms"]] == want


def test_resource_groups_are_listed_on_the_server(cloud):
    del cloud.state.requests[:]
    result = run_discover(cloud, criteria=listing.Criteria(resource_groups=["rg-db", "RG-DB"]), nic_details=False)
    assert result["count"] == 2 and result["round_trips"] == 1
    assert [r[1] for r in cloud.requests_to("/virtualMachines$")] == [
        "/subscriptions/%s/resourceGroups/rg-db/providers/Microsoft.Compute/virtualMachines" % SUBSCRIPTION]


def test_missing_resource_group_is_a_clear_error(cloud):
    with pytest.raises(InvalidInputError) as caught:
        run_discover(cloud, criteria=listing.Criteria(resource_groups=["rg-nope"]))
    assert str(caught.value).startswith("(ResourceGroupNotFound) Resource group 'rg-nope' could not be found.")


def test_names_not_found_are_warned_about(cloud):
    result = run_discover(cloud, criteria=listing.Criteria(names=["web01", "ghost"]))
    assert result["warnings"] == ["No VM matched these names: ghost."]


@pytest.fixture
def forbidden(cloud):
    """Paths the service principal may not read, for one test."""
    yield cloud.state.forbidden
    del cloud.state.forbidden[:]


def test_network_interfaces_not_readable_is_a_warning(cloud, forbidden):
    forbidden.append("/Microsoft.Network/")
    result = run_discover(cloud, criteria=listing.Criteria(names=["web01"]))
    assert result["count"] == 1 and result["vms"][0]["nics"][0]["mac"] is None
    assert result["warnings"] == ["The service principal may not read network interfaces "
                                  "(Microsoft.Network/networkInterfaces/read): MAC and IP addresses are unknown."]


def test_virtual_machines_not_readable_is_a_clear_error(cloud, forbidden):
    forbidden.append("/virtualMachines$")
    with pytest.raises(AuthenticationError) as caught:
        run_discover(cloud)
    assert caught.value.message.startswith("The service principal may not do this in subscription %s: "
                                           "(AuthorizationFailed)" % SUBSCRIPTION)
    assert "Reader" in caught.value.fix


# --- credentials, endpoints and TLS -----------------------------------------------------------------------

def test_wrong_secret(cloud):
    with pytest.raises(AuthenticationError) as caught:
        run_discover(cloud, secret="not-the-secret")
    assert "Azure sign-in refused the service principal: AADSTS7000215: Invalid client secret" in caught.value.message
    assert "AZURE_SECRET" in caught.value.fix and SECRET not in str(caught.value)


def test_unknown_client_and_tenant(cloud):
    with pytest.raises(AuthenticationError, match="AADSTS700016"):
        run_discover(cloud, client_id="11111111-2222-3333-4444-555555555555")
    with pytest.raises(AuthenticationError, match="does not know the tenant 'contoso.example'"):
        run_discover(cloud, tenant="contoso.example")


def test_wrong_subscription(cloud):
    with pytest.raises(InvalidInputError, match="SubscriptionNotFound"):
        run_discover(cloud, subscription_id="00000000-0000-0000-0000-000000000000")


def test_untrusted_certificate_is_refused(cloud):
    assert os.environ.get("REQUESTS_CA_BUNDLE") != cloud.certs["ca"]
    with pytest.raises(CertificateError) as caught:
        run_discover(cloud, ca_bundle=None)
    assert caught.value.message.startswith("The TLS certificate of %s could not be verified: certificate verify "
                                           "failed" % cloud.url)
    assert "ca_bundle" in caught.value.fix


def test_another_ca_is_refused(cloud, tmp_path):
    other = make_certificates(tmp_path, "other")
    with pytest.raises(CertificateError):
        run_discover(cloud, ca_bundle=other["ca"])


def test_our_ca_bundle_wins_over_requests_ca_bundle(cloud, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/bundle.pem")
    assert run_discover(cloud, criteria=listing.Criteria(names=["web01"]))["count"] == 1


def test_validate_certs_false_skips_verification(cloud):
    result = run_discover(cloud, ca_bundle=None, validate_certs=False, criteria=listing.Criteria(names=["db01"]))
    assert result["count"] == 1


def test_unreachable_endpoint(cloud):
    closed = "https://127.0.0.1:%d" % closed_port()
    with pytest.raises(ConnectionFailedError) as caught:
        run_discover(cloud, resource_manager_endpoint=closed, timeout=5)
    assert caught.value.message.startswith("Cannot talk to Azure Resource Manager at %s" % closed)
    with pytest.raises(ConnectionFailedError, match="Cannot reach the Azure sign-in endpoint"):
        run_discover(cloud, authority_host=closed, timeout=5)


# --- the module: in-process and as Ansible runs it ----------------------------------------------------------

AWX_ENV = ("AZURE_SUBSCRIPTION_ID", "AZURE_TENANT", "AZURE_CLIENT_ID", "AZURE_SECRET", "AZURE_CLIENT_SECRET")


def run_module(capsys, args, check_mode=False):
    args = dict(args, _ansible_check_mode=check_mode)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            azure_vm_info.main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("secret_variable", ["AZURE_SECRET", "AZURE_CLIENT_SECRET"])
def test_module_with_awx_environment_credentials(cloud, capsys, monkeypatch, secret_variable):
    for name in AWX_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION)
    monkeypatch.setenv("AZURE_TENANT", TENANT)
    monkeypatch.setenv("AZURE_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv(secret_variable, SECRET)
    out = run_module(capsys, {"authority_host": cloud.url, "resource_manager_endpoint": cloud.url,
                              "ca_bundle": cloud.certs["ca"], "tags": ["tier:db"]}, check_mode=True)
    assert out["changed"] is False and out["count"] == 2, out
    assert [vm["name"] for vm in out["vms"]] == ["db01", "win01"]
    assert SECRET not in json.dumps(out)


def test_module_fails_cleanly_on_a_wrong_secret(cloud, capsys):
    out = run_module(capsys, {k: v for k, v in options(cloud, secret="wrong").items() if v is not None})
    assert out["failed"] is True and out["error_kind"] == "AuthenticationError"
    assert "AADSTS7000215" in out["msg"] and "exception" not in out


def _run_ansible(cloud, tmp_path, module_args, env):
    root = str(Path(azure_vm_info.__file__).parents[5])
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=root, ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_NOCOLOR="1",
               **env)
    tree = tmp_path / "tree"
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible"), "localhost", "-c", "local", "-i", "localhost,",
            "-m", "hyper2kvm.migrate.azure_vm_info", "-a", json.dumps(module_args), "-t", str(tree)]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert (tree / "localhost").exists(), proc.stdout + proc.stderr
    return json.loads((tree / "localhost").read_text()), proc


def test_module_through_ansible_with_awx_environment(cloud, tmp_path):
    env = {"AZURE_SUBSCRIPTION_ID": SUBSCRIPTION, "AZURE_TENANT": TENANT, "AZURE_CLIENT_ID": CLIENT_ID,
           "AZURE_SECRET": SECRET, "AZURE_AUTHORITY_HOST": cloud.url}
    result, proc = _run_ansible(cloud, tmp_path, {"resource_manager_endpoint": cloud.url,
                                                  "ca_bundle": cloud.certs["ca"], "power_state": ["on"]}, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [vm["name"] for vm in result["vms"]] == ["gpu01", "web01", "win01"]
    assert result["round_trips"] == 6 and SECRET not in proc.stdout + proc.stderr


# --- the test cloud itself: what azure_disk_export will build on ---------------------------------------------

@pytest.fixture
def win01_restored(cloud):
    yield
    cloud.state.set_power("rg-db", "win01", "running")


def test_test_cloud_deallocate_grant_and_revoke_with_the_real_sdk(cloud, blobs, win01_restored):
    """Grant access fails while the VM runs, works once it is deallocated (a SAS into Azurite naming a stored
    access policy), and revoking makes that SAS fail."""
    credential = ClientSecretCredential(TENANT, CLIENT_ID, SECRET, authority=cloud.url, disable_instance_discovery=True,
                                        connection_verify=cloud.certs["ca"])
    compute = ComputeManagementClient(credential, SUBSCRIPTION, base_url=cloud.url, polling_interval=0,
                                      credential_scopes=[cloud.url + "/.default"], connection_verify=cloud.certs["ca"])
    disk_name = compute.virtual_machines.get("rg-db", "win01").storage_profile.os_disk.name
    blobs.write(disk_name, GIB, b"h2k!" * 128)
    with pytest.raises(Exception) as caught:
        compute.disks.begin_grant_access("rg-db", disk_name, {"access": "Read", "durationInSeconds": 600}).result()
    assert getattr(caught.value, "status_code", None) == 409 and "OperationNotAllowed" in str(caught.value)

    compute.virtual_machines.begin_deallocate("rg-db", "win01").result()
    assert cloud.state.power("rg-db", "win01") == "deallocated"
    view = compute.virtual_machines.get("rg-db", "win01", expand="instanceView").instance_view
    assert [s.code for s in view.statuses][-1] == "PowerState/deallocated"

    sas = compute.disks.begin_grant_access("rg-db", disk_name, {"access": "Read", "durationInSeconds": 600}).result()
    assert "si=" in sas.access_sas and compute.disks.get("rg-db", disk_name).disk_state == "ActiveSAS"
    request = urllib.request.Request(sas.access_sas, headers={"x-ms-range": "bytes=%d-%d" % (GIB, GIB + 511)})
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 206 and answer.read() == b"h2k!" * 128

    compute.disks.begin_revoke_access("rg-db", disk_name).result()
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 403
    assert compute.disks.get("rg-db", disk_name).disk_state == "Reserved"
    compute.close()
    credential.close()
