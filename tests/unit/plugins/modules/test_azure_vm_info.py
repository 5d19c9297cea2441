# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""azure_vm_info in-process: options, environment fallbacks and failures that need no Azure.
Discovery against a local ARM endpoint with the real SDKs is in tests/e2e/test_azure_info.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.modules import azure_vm_info

ENV = ("AZURE_SUBSCRIPTION_ID", "AZURE_TENANT", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_SECRET",
       "AZURE_CLIENT_SECRET", "AZURE_CLOUD_ENVIRONMENT", "AZURE_AUTHORITY_HOST")
SECRET = "s3cret-value"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def test_credentials_are_required(run_module):
    out = run_module(azure_vm_info, {})
    assert out["failed"] is True
    for name in ("subscription_id", "tenant", "client_id", "secret"):
        assert name in out["msg"]


def test_bad_regex_fails_cleanly(run_module):
    out = run_module(azure_vm_info, {"subscription_id": "s", "tenant": "t", "client_id": "c", "secret": SECRET,
                                     "name_regex": "("})
    assert out["failed"] is True and out["error_kind"] == "InvalidInputError"
    assert "name_regex" in out["msg"]


def test_environment_reaches_the_module_and_the_secret_stays_hidden(run_module, monkeypatch, closed_port):
    pytest.importorskip("azure.identity")
    endpoint = "https://127.0.0.1:%d" % closed_port
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", "sub")
    monkeypatch.setenv("AZURE_TENANT", "tenant")
    monkeypatch.setenv("AZURE_CLIENT_ID", "app")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", endpoint)
    out = run_module(azure_vm_info, {"resource_manager_endpoint": endpoint, "timeout": 5}, check_mode=True)
    assert out["failed"] is True and out["error_kind"] == "ConnectionFailedError"
    assert out["msg"].startswith("Cannot reach the Azure sign-in endpoint %s" % endpoint)
    assert SECRET not in repr(out)
