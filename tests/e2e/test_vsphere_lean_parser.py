"""Our SOAP reader (soap.py, soap_answer.py) against pyVmomi's, on the seeded simulator of
test_vsphere_vm_info.py: the same records, object by object, through the same session; faults and a
VM deleted between pages come out as before."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("pyVmomi", reason="pyvmomi missing from the venv: run scripts/setup.sh")

import vcsim  # noqa: E402  (tests/e2e is on sys.path, see conftest.py)
import vcsim_seed  # noqa: E402
from pyVim.task import WaitForTask  # noqa: E402

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import ConnectionFailedError  # noqa: E402
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.vsphere import (  # noqa: E402
    connection, query, soap)

pytestmark = [pytest.mark.e2e]


@pytest.fixture(scope="module")
def vcenter(tmp_path_factory):
    def seed(sim):
        with connection.session(**sim.connect_args()) as si:
            vcsim_seed.seed(si)

    yield from vcsim.running(tmp_path_factory.mktemp("vcsim"), seed=seed)


@pytest.fixture
def no_fallback(monkeypatch):
    """Fail when an answer would be handed to pyVmomi: the simulator's answers must all be ours."""
    def refuse(stub, info, data, where):
        raise AssertionError("fell back to pyVmomi on:\n" + data[:2000].decode("utf-8", "replace"))
    monkeypatch.setattr(soap, "_pyvmomi_result", refuse)


def both_paths(vcenter, page_size):
    with connection.session(**vcenter.connect_args()) as si:
        assert soap.lean_stub(si.RetrieveContent().propertyCollector) is not None
        old = query.InventoryQuery(si, page_size=page_size, lean=False)
        new = query.InventoryQuery(si, page_size=page_size)
        return old.records(), new.records(), old.round_trips, new.round_trips


@pytest.mark.parametrize("page_size", [1000, 2])
def test_same_records_as_pyvmomi_record_by_record(vcenter, no_fallback, page_size):
    old, new, old_trips, new_trips = both_paths(vcenter, page_size)
    assert len(new) == len(old) > len(vcsim_seed.SEEDED)
    for want, got in zip(old, new):
        assert got == want, got["_ref"]
        assert json.dumps(got) == json.dumps(want), got["_ref"]  # same key order too
    assert new_trips == old_trips == (1 if page_size == 1000 else -(-len(old) // page_size))


def test_every_kind_of_value_was_compared(vcenter, no_fallback):
    """The comparison above is only as good as the values the simulator serves: make sure it covers
    references, enums, numbers, booleans, datetimes, arrays and nested data objects."""
    _old, new, _o, _n = both_paths(vcenter, 1000)
    seen = set()

    def walk(value):
        seen.add(type(value).__name__)
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
    for record in new:
        walk(record)
    assert {"dict", "list", "str", "int", "bool"} <= seen
    snapshot = [r["snapshot"] for r in new if r.get("snapshot")][0]
    assert "T" in snapshot["rootSnapshotList"][0]["createTime"]
    assert any(r.get("runtime.powerState") == "suspended" for r in new)


def test_a_vm_deleted_between_pages_reads_as_before(vcenter, no_fallback):
    with connection.session(**vcenter.connect_args()) as si:
        doomed = vcsim_seed.create_plain_vm(si, "doomed-lean")
        inventory = query.InventoryQuery(si, page_size=2)
        pages = inventory.pages()
        records = next(pages)
        WaitForTask(doomed.Destroy_Task())
        for page in pages:
            records.extend(page)
    gone = [r for r in records if r["_ref"] == "VirtualMachine:%s" % doomed._moId]
    assert len(gone) == 1 and set(gone[0]["_missing"].values()) == {"ManagedObjectNotFound"}


def test_a_session_lost_between_pages_is_the_same_clear_error(vcenter):
    with connection.session(**vcenter.connect_args()) as si:
        pages = query.InventoryQuery(si, page_size=2, where="vc:443").pages()
        next(pages)
        si.content.sessionManager.Logout()
        with pytest.raises(ConnectionFailedError) as caught:
            list(pages)  # the second page was asked for while the first was read: the third fails
    assert str(caught.value).startswith("vc:443 answered with the fault vim.fault.NotAuthenticated")
