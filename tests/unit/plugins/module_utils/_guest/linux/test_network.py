# -*- coding: utf-8 -*-
"""Keeping the network of a migrated guest: stacks, name pins, and the few config edits still needed."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import InvalidInputError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest.linux import network

MAC = "00:50:56:ab:cd:01"
RULES = "/etc/udev/rules.d/70-persistent-net.rules"


@pytest.mark.parametrize("guest, stacks", [
    ("debian12-ifupdown", ["ifupdown"]), ("ubuntu2204-netplan", ["netplan"]),
    ("ubuntu-azure-netplan", ["netplan"]), ("rhel9-nm", ["networkmanager"]),
    ("ubuntu1204-nm", ["networkmanager"]), ("rhel7-ifcfg", ["ifcfg"]), ("sles12-wicked", ["wicked"]),
    ("networkd", ["networkd"]),
])
def test_stacks(guest_tree, guest, stacks):
    assert network.stacks(guest_tree("network/" + guest)) == stacks


def test_stacks_edges():
    assert network.stacks(None) == [] and network.stacks({}) == []
    # NetworkManager without keyfiles runs DHCP on every NIC: still the stack in use
    assert network.stacks({"/etc/NetworkManager/NetworkManager.conf": "[main]\n"}) == ["networkmanager"]
    # netplan with a file it cannot read still means netplan generates the configuration
    assert network.stacks({"/etc/netplan/50.yaml": "\x00junk", "/etc/network/interfaces":
                           "auto lo\niface lo inet loopback\n"}) == ["netplan"]


def test_interfaces_and_renames_delegate(guest_tree):
    files = guest_tree("network/sles12-wicked")
    assert [e["name"] for e in network.interfaces(files)] == ["eth0", "eth1"]
    assert [r["name"] for r in network.renames(files)] == ["eth0", "eth1"]
    assert network.renames({RULES: b'SUBSYSTEM=="net", ATTR{address}=="00:50:56:AB:CD:01", NAME="eth0"'})[0]["mac"] \
        == MAC


def test_pin_name():
    assert network.pin_name("ens192", "00:50:56:AB:CD:01") == {
        "path": "/etc/systemd/network/10-hyper2kvm-ens192.link",
        "text": "# Written by hyper2kvm: the NIC with this MAC keeps the name it had before migration,\n"
                "# which this guest's network configuration uses.\n"
                "[Match]\nMACAddress=00:50:56:ab:cd:01\n\n[Link]\nName=ens192\n"}


@pytest.mark.parametrize("name, mac", [
    ("ens192/../x", MAC), ("a" * 16, MAC), ("", MAC), (".", MAC), ("eth 0", MAC), ("eth0\n", MAC),
    ("eth:0", MAC), (None, MAC), ("eth0", "01:00:5e:00:00:01"), ("eth0", "00:00:00:00:00:00"),
    ("eth0", "nonsense"), ("eth0", None),
])
def test_pins_refuse_bad_names_and_macs(name, mac):
    with pytest.raises(InvalidInputError):
        network.pin_name(name, mac)
    with pytest.raises(InvalidInputError):
        network.pin_name_udev(name, mac)


RULE = ('SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", ATTR{address}=="%s", ATTR{type}=="1", NAME="%s"')


def test_pin_name_udev_new_file_merge_and_idempotence():
    first = network.pin_name_udev("eth0", MAC)
    header = "# Written by hyper2kvm: NICs keep the names they had before migration.\n"
    assert first["path"] == "/etc/udev/rules.d/70-hyper2kvm-net.rules"
    assert first["text"] == header + RULE % (MAC, "eth0") + "\n"
    second = network.pin_name_udev("eth1", "00:50:56:ab:cd:02", existing=first["text"])
    assert second["text"] == first["text"] + RULE % ("00:50:56:ab:cd:02", "eth1") + "\n"
    assert network.pin_name_udev("eth1", "00:50:56:ab:cd:02", existing=second["text"]) == {
        "path": first["path"], "text": second["text"], "changes": []}
    # the same MAC pinned to another name replaces its rule; so does the same name on another MAC
    moved = network.pin_name_udev("lan0", MAC, existing=second["text"])
    assert moved["text"] == header + RULE % ("00:50:56:ab:cd:02", "eth1") + "\n" + RULE % (MAC, "lan0") + "\n"
    assert [c["after"] for c in moved["changes"]] == [None, RULE % (MAC, "lan0")]


def test_stale_persistent_net_rules(guest_tree):
    text = guest_tree("network/sles12-wicked")[RULES]
    got = network.stale_persistent_net_rules(text, keep_macs=["00:50:56:AB:CD:0A"])
    line = [body for body in text.splitlines() if "cd:09" in body][0]
    assert got["text"] == text.replace(line, "# hyper2kvm: NIC no longer present: " + line)
    assert got["changes"] == [{"lineno": 8, "before": line, "after": "# hyper2kvm: NIC no longer present: " + line}]
    assert network.stale_persistent_net_rules(got["text"], ["00:50:56:ab:cd:0a"])["changes"] == []
    kept = network.stale_persistent_net_rules(text, ["00:50:56:ab:cd:09", "00-50-56-ab-cd-0a"])
    assert kept == {"text": text, "changes": []}
    with pytest.raises(InvalidInputError):
        network.stale_persistent_net_rules(text, ["not-a-mac"])


NEW_MAC = "52:54:00:ab:cd:ef"


@pytest.mark.parametrize("text, expected", [
    ("HWADDR=00:50:56:AB:CD:07\n", "HWADDR=52:54:00:AB:CD:EF\n"),          # ifcfg writes upper case
    ('HWADDR="00:50:56:ab:cd:07"\r\n', 'HWADDR="52:54:00:ab:cd:ef"\r\n'),
    ("mac-address=00:50:56:AB:CD:07\n", "mac-address=52:54:00:AB:CD:EF\n"),
    ("        macaddress: 00-50-56-ab-cd-07\n", "        macaddress: 52-54-00-ab-cd-ef\n"),
    ("MACAddress=00:50:56:ab:cd:07 00:50:56:ab:cd:0700\n", "MACAddress=52:54:00:ab:cd:ef 00:50:56:ab:cd:0700\n"),
    ('ATTR{address}=="00:50:56:ab:cd:07", NAME="eth0"', 'ATTR{address}=="52:54:00:ab:cd:ef", NAME="eth0"'),
    ("x00:50:56:ab:cd:07\n11:00:50:56:ab:cd:07\n00:50:56:ab:cd:07_\n",
     "x00:50:56:ab:cd:07\n11:00:50:56:ab:cd:07\n00:50:56:ab:cd:07_\n"),
])
def test_replace_mac(text, expected):
    got = network.replace_mac(text, "00:50:56:ab:cd:07", NEW_MAC)
    assert got["text"] == expected
    assert [c["after"] for c in got["changes"]] == [line.rstrip("\r") for line in expected.split("\n")
                                                    if NEW_MAC in line.lower() or "52-54" in line]
    assert network.replace_mac(got["text"], "00:50:56:ab:cd:07", NEW_MAC)["changes"] == []


def test_replace_mac_refuses_non_macs():
    with pytest.raises(InvalidInputError):
        network.replace_mac("x", "00:50:56:ab:cd:07", ".*")


def test_retarget_driver_match_netplan(guest_tree):
    path = "/etc/netplan/50-cloud-init.yaml"
    text = guest_tree("network/ubuntu-azure-netplan")[path]
    got = network.retarget_driver_match(text, path)
    assert got["text"] == text.replace("driver: hv_netvsc", "driver: virtio_net")
    assert got["changes"] == [{"lineno": 14, "before": "                driver: hv_netvsc",
                               "after": "                driver: virtio_net"}]
    assert network.retarget_driver_match(got["text"], path)["changes"] == []


@pytest.mark.parametrize("path, text, expected", [
    ("/etc/netplan/a.yaml", "network:\n  ethernets:\n    e:\n      match:\n        driver: [\"hv_netvsc\", mlx5_core]"
     "  # both\n      driver: left-alone\n",
     "network:\n  ethernets:\n    e:\n      match:\n        driver: virtio_net  # both\n      driver: left-alone\n"),
    ("/etc/netplan/a.yaml", "driver: top-level\n", "driver: top-level\n"),
    ("/etc/systemd/network/20-uplink.network", "[Match]\nMACAddress=00:50:56:ab:cd:0b\nDriver=vmxnet3\n\n"
     "[Network]\nDriver=not-a-match-key\n",
     "[Match]\nMACAddress=00:50:56:ab:cd:0b\nDriver=virtio_net\n\n[Network]\nDriver=not-a-match-key\n"),
    ("/etc/systemd/network/99.link", "[Match]\nDriver = vmxnet3 e1000\n[Link]\nName=lan0\n",
     "[Match]\nDriver = virtio_net\n[Link]\nName=lan0\n"),
])
def test_retarget_driver_match(path, text, expected):
    got = network.retarget_driver_match(text, path)
    assert got["text"] == expected
    assert network.retarget_driver_match(got["text"], path)["changes"] == []


def test_needs_attention(guest_tree):
    entries = (network.interfaces(guest_tree("network/rhel7-ifcfg"))
               + network.interfaces(guest_tree("network/ubuntu-azure-netplan"))
               + network.interfaces(guest_tree("network/networkd")))
    kept = ["00:50:56:ab:cd:07", "00:0d:3a:5e:7f:81", "00:50:56:ab:cd:0b"]
    got = network.needs_attention(entries, kept)
    assert [(a["config_path"], a["fix"]) for a in got] == [
        ("/etc/sysconfig/network-scripts/ifcfg-eth1", "replace_mac"),
        ("/etc/netplan/50-cloud-init.yaml", "retarget_driver_match"),
        ("/etc/systemd/network/20-uplink.network", "retarget_driver_match"),
        ("/etc/systemd/network/31-br0-ports.network", None)]
    assert got[0]["reason"] == "bound to MAC 00:50:56:ab:cd:08, which no target NIC has"
    assert network.needs_attention([], kept) == [] and network.needs_attention(None, []) == []


def test_validators_reject_a_trailing_newline():
    # "$" in a regular expression also matches before a final newline: every validator must not
    with pytest.raises(InvalidInputError):
        network.pin_name("eth0\n", MAC)
