# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vsphere inventory plugin without a vCenter: its options are the module's (one argument spec,
one doc fragment), the AWX environment reaches it, and failures never show the password.
Inventories from a real (simulated) vCenter are in tests/e2e/test_vsphere_inventory.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket

import pytest
import yaml
from ansible.errors import AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import inventory_loader

from ansible_collections.hyper2kvm.migrate.plugins.doc_fragments import name_filters
from ansible_collections.hyper2kvm.migrate.plugins.inventory import vsphere as vsphere_inventory
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.vsphere import connection
from ansible_collections.hyper2kvm.migrate.plugins.modules import vsphere_vm_info

ENV = ("VMWARE_HOST", "VMWARE_USER", "VMWARE_PASSWORD", "VMWARE_PORT", "VMWARE_VALIDATE_CERTS")
SECRET = "pa55-Word-never-shown"
FILTERS = ("page_size", "names", "name_regex", "folder", "cluster", "power_state", "guest_family")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def plugin():
    return inventory_loader.get("hyper2kvm.migrate.vsphere")


def test_connection_options_are_the_argument_spec(plugin):
    plugin.set_options(direct={"plugin": "hyper2kvm.migrate.vsphere", "hostname": "vc", "user": "u", "pass": "p"})
    options = plugin.get_options()
    assert set(connection.argument_spec()) <= set(options)
    assert connection.connection_params(options) == {
        "hostname": "vc", "username": "u", "password": "p", "port": 443, "validate_certs": True,
        "ca_bundle": None, "proxy_host": None, "proxy_port": None}


def _options(documentation):
    """The documented options, with those of the shared name-filter fragment when it is extended."""
    doc = yaml.safe_load(documentation)
    options = dict(doc["options"])
    if "hyper2kvm.migrate.name_filters" in doc.get("extends_documentation_fragment", []):
        options.update(yaml.safe_load(name_filters.ModuleDocFragment.DOCUMENTATION)["options"])
    return options


def test_filter_options_match_the_module():
    """Same names, types, choices and defaults as vsphere_vm_info's filters."""
    module_doc = _options(vsphere_vm_info.DOCUMENTATION)
    plugin_doc = _options(vsphere_inventory.DOCUMENTATION)

    def shape(option):
        return dict((key, option.get(key)) for key in ("type", "elements", "choices", "default"))

    assert dict((name, shape(plugin_doc[name])) for name in FILTERS) == \
        dict((name, shape(module_doc[name])) for name in FILTERS)


def test_awx_environment_reaches_the_plugin(plugin, monkeypatch):
    monkeypatch.setenv("VMWARE_HOST", "vcenter.example.com")
    monkeypatch.setenv("VMWARE_USER", "reader")
    monkeypatch.setenv("VMWARE_PASSWORD", SECRET)
    monkeypatch.setenv("VMWARE_PORT", "8443")
    monkeypatch.setenv("VMWARE_VALIDATE_CERTS", "no")
    plugin.set_options(direct={"plugin": "hyper2kvm.migrate.vsphere"})
    assert connection.connection_params(plugin.get_options()) == {
        "hostname": "vcenter.example.com", "username": "reader", "password": SECRET, "port": 8443,
        "validate_certs": False, "ca_bundle": None, "proxy_host": None, "proxy_port": None}


def test_the_file_wins_over_the_environment(plugin, monkeypatch):
    monkeypatch.setenv("VMWARE_HOST", "from-env")
    plugin.set_options(direct={"plugin": "hyper2kvm.migrate.vsphere", "hostname": "from-file", "username": "u",
                               "password": "p"})
    assert plugin.get_option("hostname") == "from-file"


def test_missing_credentials_are_named(plugin):
    with pytest.raises(AnsibleParserError) as caught:
        plugin.set_options(direct={"plugin": "hyper2kvm.migrate.vsphere", "hostname": "vc", "password": SECRET})
    assert "missing required arguments: username" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_bad_port_is_refused_without_the_password(plugin):
    with pytest.raises(AnsibleParserError) as caught:
        plugin.set_options(direct={"plugin": "hyper2kvm.migrate.vsphere", "hostname": "vc", "username": "u",
                                   "password": SECRET, "port": "https"})
    assert "port" in str(caught.value) and SECRET not in str(caught.value)


@pytest.mark.parametrize("name, accepted", [
    ("prod.vsphere.yml", True), ("vsphere.yaml", True), ("prod.vmware.yml", False), ("vsphere.yml.bak", False)])
def test_verify_file(plugin, tmp_path, name, accepted):
    path = tmp_path / name
    path.write_text("plugin: hyper2kvm.migrate.vsphere\n")
    assert plugin.verify_file(str(path)) is accepted


def test_unreachable_vcenter_fails_the_source_clearly(plugin, tmp_path):
    path = tmp_path / "down.vsphere.yml"
    with socket.socket() as bound:  # bound but never listening: connections to it are refused
        bound.bind(("127.0.0.1", 0))
        path.write_text("plugin: hyper2kvm.migrate.vsphere\nhostname: 127.0.0.1\nport: %d\nusername: u\n"
                        "password: %s\n" % (bound.getsockname()[1], SECRET))
        with pytest.raises(AnsibleParserError) as caught:
            plugin.parse(InventoryData(), DataLoader(), str(path), cache=False)
    assert "Cannot talk to 127.0.0.1:" in str(caught.value) and SECRET not in str(caught.value)


def test_bad_filter_fails_the_source_clearly(plugin, tmp_path):
    path = tmp_path / "bad.vsphere.yml"
    path.write_text("plugin: hyper2kvm.migrate.vsphere\nhostname: vc\nusername: u\npassword: %s\nname_regex: '('\n"
                    % SECRET)
    with pytest.raises(AnsibleParserError, match="name_regex '\\(' is not a valid regular expression"):
        plugin.parse(InventoryData(), DataLoader(), str(path), cache=False)
