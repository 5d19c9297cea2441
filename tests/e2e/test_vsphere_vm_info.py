"""vsphere_vm_info against a real vSphere API: our build of govmomi's simulator (scripts/vcsim/),
started here on a free 127.0.0.1 port with a certificate made here, seeded through pyVmomi, and
stopped by PID at the end of the session."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pyVmomi", reason="pyvmomi missing from the venv: run scripts/setup.sh")

import vcsim  # noqa: E402  (tests/e2e is on sys.path, see conftest.py)
import vcsim_seed  # noqa: E402
from pyVim.task import WaitForTask  # noqa: E402
from pyVmomi import vim, vmodl  # noqa: E402

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (  # noqa: E402
    AuthenticationError, CertificateError)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.vsphere import (  # noqa: E402
    connection, describe, discover, filters, query)
from ansible_collections.hyper2kvm.migrate.plugins.modules import vsphere_vm_info  # noqa: E402

pytestmark = [pytest.mark.e2e]

GIB = 1024 ** 3
GENERATED = ["DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1", "DC0_C1_RP0_VM0", "DC0_C1_RP0_VM1"]  # -vm 2, 2 clusters


def _seed(sim):
    with connection.session(**sim.connect_args()) as si:
        vcsim_seed.seed(si)


@pytest.fixture(scope="module")
def vcenter(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("vcsim")
    yield from vcsim.running(workdir, seed=_seed)
    assert not any((workdir / "datastores").iterdir()), "datastore folders left behind"


@pytest.fixture(scope="module")
def everything(vcenter):
    return discover.discover(vcenter.connect_args())


def by_name(result):
    return {vm["name"]: vm for vm in result["vms"]}


# --- listing and hardware mapping -----------------------------------------------------------------

def test_lists_every_vm_in_one_round_trip(everything):
    assert sorted(by_name(everything)) == sorted(GENERATED + list(vcsim_seed.SEEDED))
    assert everything["count"] == len(everything["vms"])
    assert everything["round_trips"] == 1
    assert everything["warnings"] == []
    assert 0 < everything["seconds"] < 30


@pytest.mark.parametrize("name", sorted(vcsim_seed.SEEDED))
def test_seeded_hardware_is_mapped(everything, name):
    want = vcsim_seed.SEEDED[name]
    vm = by_name(everything)[name]
    family = "windows" if want["guest_id"].startswith("windows") else "linux"
    assert (vm["power_state"], vm["firmware"], vm["secure_boot"], vm["cpus"], vm["cores_per_socket"],
            vm["memory_mib"]) == (want["power"], want["firmware"], want["secure_boot"], want["cpus"],
                                  want["cores"], want["memory_mib"])
    assert (vm["guest"]["family"], vm["guest"]["arch"]) == (family, "x86_64")
    assert (vm["source"]["folder"], vm["source"]["cluster"], vm["source"]["datacenter"]) == (
        "/DC0/vm/" + want["folder"], want["cluster"], "DC0")
    assert [(d["id"], d["capacity_bytes"] // GIB, d["source"]["thin"], d["source"]["disk_mode"])
            for d in vm["disks"]] == [tuple(disk) for disk in want["disks"]]
    assert set(d["source"]["controller_model"] for d in vm["disks"]) == set(want["controllers"])
    assert [d["boot"] for d in vm["disks"]] == [True] + [False] * (len(vm["disks"]) - 1)
    assert [(n["model"], n["mac"], n["network"]) for n in vm["nics"]] == [tuple(nic) for nic in want["nics"]]
    flags = vm["source"]["flags"]
    assert (flags["snapshot"], flags["current_snapshot"], flags["cbt"]) == (
        bool(want.get("snapshot")), want.get("snapshot"), bool(want.get("cbt")))


def test_guest_distro_and_version(everything):
    vms = by_name(everything)
    assert [(vms[n]["guest"]["distro"], vms[n]["guest"]["version"]) for n in ("deb12-efi", "rhel9-snap", "win2019")] \
        == [("debian", "12"), ("rhel", "9"), ("windows", "2019")]


# --- paging -----------------------------------------------------------------------------------------

def test_paging_takes_several_round_trips_and_finds_the_same(vcenter, everything):
    with connection.session(**vcenter.connect_args()) as si:
        objects = len(query.InventoryQuery(si, page_size=1000).records())
    paged = discover.discover(vcenter.connect_args(), page_size=2)
    assert paged["round_trips"] == math.ceil(objects / 2.0) >= 3
    assert paged["vms"] == everything["vms"]


def test_vm_deleted_between_pages_is_skipped_with_a_warning(vcenter):
    with connection.session(**vcenter.connect_args()) as si:
        doomed = vcsim_seed.create_plain_vm(si, "doomed")
        doomed_id = doomed._moId
        inventory = query.InventoryQuery(si, page_size=2)
        pages = inventory.pages()
        records = next(pages)
        assert "VirtualMachine:%s" % doomed_id not in [r["_ref"] for r in records]
        WaitForTask(doomed.Destroy_Task())
        for page in pages:
            records.extend(page)
    vms, warnings = describe.describe_inventory(records)
    names = [vm["name"] for vm in vms]
    assert "doomed" not in names and set(vcsim_seed.SEEDED) <= set(names)
    assert warnings == ["VM %s was deleted while the inventory was being read; it is left out." % doomed_id]


# --- filters ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("criteria, want", [
    ({"folder": "/DC0/vm/linux"}, ["deb12-efi", "rhel9-snap"]),
    ({"cluster": "DC0_C1"}, ["DC0_C1_RP0_VM0", "DC0_C1_RP0_VM1", "win2019"]),
    ({"power_states": ["off", "suspended"]}, ["rhel9-snap", "win2019"]),
    ({"guest_families": ["windows"]}, ["win2019"]),
    ({"name_regex": "^DC0_C0", "power_states": ["on"]}, ["DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1"]),
])
def test_filters(vcenter, criteria, want):
    result = discover.discover(vcenter.connect_args(), criteria=filters.Criteria(**criteria), page_size=5)
    assert [vm["name"] for vm in result["vms"]] == want and result["count"] == len(want)


def test_names_not_found_are_warned_about(vcenter):
    result = discover.discover(vcenter.connect_args(), criteria=filters.Criteria(names=["win2019", "ghost"]))
    assert [vm["name"] for vm in result["vms"]] == ["win2019"]
    assert result["warnings"] == ["No VM matched these names: ghost."]


# --- connection errors and TLS --------------------------------------------------------------------------

def test_wrong_password(vcenter):
    with pytest.raises(AuthenticationError) as caught:
        discover.discover(vcenter.connect_args(password="not-" + vcenter.password))
    assert "refused the login: wrong user name or password" in str(caught.value)
    assert vcenter.password not in str(caught.value)


def test_untrusted_certificate_is_refused(vcenter):
    with pytest.raises(CertificateError) as caught:
        discover.discover(vcenter.connect_args(ca_bundle=None))
    assert "could not be verified" in str(caught.value) and "ca_bundle" in str(caught.value)


def test_another_ca_is_refused(vcenter, tmp_path):
    other = vcsim.make_certificates(tmp_path, name="other")
    with pytest.raises(CertificateError):
        discover.discover(vcenter.connect_args(ca_bundle=other["ca"]))


def test_our_ca_bundle_works_whatever_requests_is_told(vcenter, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/bundle.pem")
    result = discover.discover(vcenter.connect_args(), criteria=filters.Criteria(names=["deb12-efi"]))
    assert result["count"] == 1


def test_validate_certs_false_skips_verification(vcenter):
    result = discover.discover(vcenter.connect_args(ca_bundle=None, validate_certs=False),
                               criteria=filters.Criteria(names=["win2019"]))
    assert result["count"] == 1


def test_through_an_http_proxy(vcenter):
    with vcsim.ConnectProxy() as proxy:
        result = discover.discover(vcenter.connect_args(proxy_host="127.0.0.1", proxy_port=proxy.port),
                                   criteria=filters.Criteria(names=["rhel9-snap"]))
    assert result["count"] == 1
    assert set(proxy.targets) == {"127.0.0.1:%d" % vcenter.port}


# --- our fixes to the simulator (scripts/vcsim/*.patch) ------------------------------------------------

def test_simulator_fixes_that_pyvmomi_clients_need(vcenter):
    with connection.session(**vcenter.connect_args()) as si:
        content = si.RetrieveContent()
        vm = content.searchIndex.FindByInventoryPath("DC0/vm/linux/deb12-efi")
        assert vm.snapshot is None  # an unset property reads as unset instead of crashing the handler
        disks = [d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualDisk)]
        assert [d.capacityInBytes for d in disks] == [d.capacityInKB * 1024 for d in disks] == [10 * GIB, 20 * GIB]
        collector = content.propertyCollector
        spec = vmodl.query.PropertyCollector.FilterSpec(
            objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=content.rootFolder)],
            propSet=[vmodl.query.PropertyCollector.PropertySpec(type=vim.Folder, pathSet=["name"])])
        first = collector.RetrievePropertiesEx(
            specSet=[spec, spec], options=vmodl.query.PropertyCollector.RetrieveOptions(maxObjects=1))
        assert len(first.objects) == 1 and first.token is None  # one object: no token
        with pytest.raises(vmodl.fault.InvalidArgument):
            collector.ContinueRetrievePropertiesEx(token="no-such-token")
        collector.CancelRetrievePropertiesEx(token="no-such-token")


# --- the module as Ansible runs it ------------------------------------------------------------------

def _collections_root():
    return str(Path(vsphere_vm_info.__file__).parents[5])


def _run_ansible(vcenter, tmp_path, module_args, check=False, password=None):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=_collections_root(), ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_NOCOLOR="1",
               VMWARE_HOST=vcenter.host, VMWARE_PORT=str(vcenter.port), VMWARE_USER=vcsim.USERNAME,
               VMWARE_PASSWORD=password or vcenter.password)
    tree = tmp_path / "tree"
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible"), "localhost", "-c", "local", "-i", "localhost,",
            "-m", "hyper2kvm.migrate.vsphere_vm_info", "-a", json.dumps(module_args), "-t", str(tree)]
    if check:
        argv.append("--check")
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert (tree / "localhost").exists(), proc.stdout + proc.stderr
    return json.loads((tree / "localhost").read_text()), proc


@pytest.mark.parametrize("check", [False, True])
def test_module_through_ansible_with_awx_environment(vcenter, tmp_path, check):
    result, proc = _run_ansible(vcenter, tmp_path, {"ca_bundle": vcenter.certs["ca"], "page_size": 3,
                                                    "guest_family": ["linux"]}, check=check)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert result["changed"] is False and result["count"] == 2
    assert [vm["name"] for vm in result["vms"]] == ["deb12-efi", "rhel9-snap"]
    assert result["round_trips"] >= 3
    assert vcenter.password not in proc.stdout + proc.stderr


def test_module_reports_a_wrong_password_without_traceback(vcenter, tmp_path):
    result, proc = _run_ansible(vcenter, tmp_path, {"ca_bundle": vcenter.certs["ca"]}, password="wrong-password")
    assert proc.returncode != 0
    assert result["error_kind"] == "AuthenticationError"  # the tree callback leaves "failed" out
    assert result["msg"].startswith("127.0.0.1:%d refused the login" % vcenter.port)
    assert "Traceback" not in proc.stdout + proc.stderr and "exception" not in result
