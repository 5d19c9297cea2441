# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vsphere_vm_info in-process: options, environment fallbacks and failures that need no vCenter.
Discovery against a real (simulated) vCenter is in tests/e2e/test_vsphere_vm_info.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.vsphere import connection
from ansible_collections.hyper2kvm.migrate.plugins.modules import vsphere_vm_info

ENV = ("VMWARE_HOST", "VMWARE_USER", "VMWARE_PASSWORD", "VMWARE_PORT", "VMWARE_VALIDATE_CERTS")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def closed_port():
    """A 127.0.0.1 port nobody listens on."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_credentials_are_required(run_module):
    out = run_module(vsphere_vm_info, {})
    assert out["failed"] is True
    assert "hostname" in out["msg"] and "password" in out["msg"]


def test_argument_spec_falls_back_to_awx_environment(monkeypatch):
    spec = connection.argument_spec()
    assert spec["password"]["no_log"] is True
    assert spec["validate_certs"]["default"] is True and spec["port"]["default"] == 443
    assert dict((name, spec[name]["fallback"][1]) for name in spec if "fallback" in spec[name]) == {
        "hostname": ["VMWARE_HOST"], "username": ["VMWARE_USER"], "password": ["VMWARE_PASSWORD"],
        "port": ["VMWARE_PORT"], "validate_certs": ["VMWARE_VALIDATE_CERTS"]}


def test_environment_reaches_the_module(run_module, monkeypatch):
    monkeypatch.setenv("VMWARE_HOST", "127.0.0.1")
    monkeypatch.setenv("VMWARE_USER", "reader")
    monkeypatch.setenv("VMWARE_PASSWORD", "s3cret-value")
    out = run_module(vsphere_vm_info, {"page_size": 0}, check_mode=True)
    assert out["failed"] is True and out["msg"] == "page_size must be at least 1, got 0."
    assert "s3cret-value" not in repr(out)


def test_bad_regex_fails_cleanly(run_module):
    out = run_module(vsphere_vm_info, {"hostname": "127.0.0.1", "username": "reader", "password": "pw-for-tests",
                                       "name_regex": "(unclosed"})
    assert out["failed"] is True and out["error_kind"] == "InvalidInputError"


def test_missing_ca_bundle_is_reported(run_module, tmp_path):
    pytest.importorskip("pyVmomi")
    out = run_module(vsphere_vm_info, {"hostname": "127.0.0.1", "username": "reader", "password": "pw-for-tests",
                                       "ca_bundle": str(tmp_path / "absent.pem")})
    assert out["failed"] is True and out["error_kind"] == "InvalidInputError"
    assert "absent.pem does not exist" in out["msg"]


def test_unreachable_host_is_a_clear_error(run_module):
    pytest.importorskip("pyVmomi")
    port = closed_port()
    out = run_module(vsphere_vm_info, {"hostname": "127.0.0.1", "port": port, "username": "reader",
                                       "password": "s3cret-value"})
    assert out["failed"] is True and out["error_kind"] == "ConnectionFailedError"
    assert out["msg"].startswith("Cannot talk to 127.0.0.1:%d:" % port)
    assert "Fix:" in out["msg"] and "s3cret-value" not in repr(out)


def test_proxy_port_is_needed_with_a_proxy(run_module):
    pytest.importorskip("pyVmomi")
    out = run_module(vsphere_vm_info, {"hostname": "127.0.0.1", "username": "reader", "password": "pw-for-tests",
                                       "proxy_host": "proxy.example.com"})
    assert out["failed"] is True and "proxy_port" in out["msg"]
