# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""azure_disk_export in-process: options and failures that need no Azure.
The export against a local ARM endpoint and Azurite with the real SDKs is in tests/e2e/test_azure_export.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils import _model
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    InvalidInputError,
    UnsafeInputError,
    UnsupportedError,
)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.azure import plan
from ansible_collections.hyper2kvm.migrate.plugins.modules import azure_disk_export

CONNECTION = {"subscription_id": "s", "tenant": "t", "client_id": "c", "secret": "s3cret-value"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("AZURE_SUBSCRIPTION_ID", "AZURE_TENANT", "AZURE_CLIENT_ID", "AZURE_SECRET", "AZURE_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("args, message", [
    ({"dest_dir": "/tmp"}, "one of the following is required: name, vm"),
    ({"dest_dir": "/tmp", "name": "web01"}, "parameters are required together: name, resource_group"),
    ({"dest_dir": "/tmp", "name": "web01", "resource_group": "rg", "vm": {}}, "mutually exclusive"),
    ({"name": "web01", "resource_group": "rg"}, "dest_dir"),
])
def test_options_are_checked(run_module, args, message):
    out = run_module(azure_disk_export, dict(CONNECTION, **args))
    assert out["failed"] is True and message in out["msg"]


def test_out_of_range_options_fail_cleanly(run_module):
    pytest.importorskip("azure.mgmt.compute")
    out = run_module(azure_disk_export, dict(CONNECTION, name="web01", resource_group="rg", dest_dir="/tmp", workers=0))
    assert out["failed"] is True and out["error_kind"] == "InvalidInputError"
    assert "workers must be between 1 and 32" in out["msg"] and "s3cret-value" not in repr(out)


def test_a_description_of_another_source_is_refused():
    vm = _model.new_vm("web01", "vsphere", "vm-42")
    with pytest.raises(InvalidInputError, match="description of a vsphere VM"):
        plan.Request("/tmp", vm=vm)
    with pytest.raises(InvalidInputError, match="Invalid VM description"):
        plan.Request("/tmp", vm={"name": "x"})


def test_a_description_names_the_vm():
    vm = _model.new_vm("web01", "azure", "/subscriptions/s/resourceGroups/rg-web/providers/Microsoft.Compute/"
                       "virtualMachines/web01", resource_group="rg-web")
    req = plan.Request("/srv/out", vm=vm, dest_format="raw")
    assert (req.name, req.resource_group) == ("web01", "rg-web")
    assert req.paths("web01_OsDisk_1_abc") == ("/srv/out/web01_OsDisk_1_abc.raw", "/srv/out/web01_OsDisk_1_abc.vhd")


@pytest.mark.parametrize("name", ["../etc/passwd", ".hidden", "a/b", "", None])
def test_disk_names_that_cannot_name_a_file_are_refused(name):
    with pytest.raises(UnsafeInputError):
        plan.Request("/srv/out", name="web01", resource_group="rg").paths(name)


@pytest.mark.parametrize("power, deallocate, snapshot, want", [
    ("deallocated", False, False, "disk"),
    ("deallocated", True, True, "disk"),
    ("running", True, False, "deallocate"),
    ("stopped", True, True, "deallocate"),
    ("running", False, True, "snapshot"),
    ("running", False, False, None),
    (None, False, False, None),
])
def test_how_the_disks_are_read(power, deallocate, snapshot, want):
    req = plan.Request("/srv/out", name="web01", resource_group="rg", deallocate=deallocate, snapshot=snapshot)
    if want is None:
        with pytest.raises(UnsupportedError, match="deallocate: true"):
            plan.mode(power, req)
    else:
        assert plan.mode(power, req) == want
