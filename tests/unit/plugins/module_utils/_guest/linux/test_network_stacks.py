# -*- coding: utf-8 -*-
"""Reading every network stack's configuration into one entry shape, on sample guest trees."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest.linux import network_stacks


def _entry(name, stack, path, kind="ethernet", mac=None, pinned=False, addresses=(), dhcp=False, driver=None,
           pci=None):
    return {"name": name, "stack": stack, "kind": kind, "mac": mac, "mac_pinned": pinned,
            "addresses": list(addresses), "dhcp": dhcp, "config_path": path, "match_driver": driver,
            "match_path": pci}


IFUPDOWN = "/etc/network/interfaces"
NM = "/etc/NetworkManager/system-connections/"
RH = "/etc/sysconfig/network-scripts/"
SUSE = "/etc/sysconfig/network/"
ND = "/etc/systemd/network/"

EXPECTED = {
    "debian12-ifupdown": [
        _entry("ens192", "ifupdown", IFUPDOWN, addresses=["192.168.122.50/24"]),
        _entry("br0", "ifupdown", IFUPDOWN + ".d/br0", kind="bridge", dhcp=True),
        _entry("ens224", "ifupdown", IFUPDOWN + ".d/ens224", mac="00:50:56:ab:cd:02",
               addresses=["10.10.0.5/24", "2001:db8:10::5/64"]),
    ],
    "ubuntu2204-netplan": [
        _entry("ens160", "netplan", "/etc/netplan/00-installer-config.yaml", addresses=["192.168.10.21/24"]),
        _entry("lan1", "netplan", "/etc/netplan/00-installer-config.yaml", mac="00:50:56:8a:1b:2c", pinned=True,
               dhcp=True),
    ],
    "ubuntu-azure-netplan": [
        _entry("eth0", "netplan", "/etc/netplan/50-cloud-init.yaml", mac="00:0d:3a:5e:7f:81", pinned=True,
               dhcp=True, driver="hv_netvsc"),
    ],
    "rhel9-nm": [
        _entry(None, "networkmanager", NM + "Wired connection 1.nmconnection", mac="00:50:56:ab:cd:05",
               pinned=True, dhcp=True),
        _entry("ens192", "networkmanager", NM + "ens192.nmconnection", addresses=["192.168.1.20/24"]),
    ],
    "ubuntu1204-nm": [
        _entry(None, "networkmanager", NM + "Auto eth0", mac="00:50:56:ab:cd:06", pinned=True,
               addresses=["10.0.0.7/24"]),
    ],
    "rhel7-ifcfg": [
        _entry("ens192", "ifcfg", RH + "ifcfg-ens192", mac="00:50:56:ab:cd:07", pinned=True,
               addresses=["192.168.1.30/24", "192.168.1.31/24"]),
        _entry("eth1", "ifcfg", RH + "ifcfg-eth1", mac="00:50:56:ab:cd:08", pinned=True, dhcp=True),
    ],
    "sles12-wicked": [
        _entry("eth0", "wicked", SUSE + "ifcfg-eth0", addresses=["192.168.1.40/24", "10.0.0.4/16"]),
        _entry("eth1", "wicked", SUSE + "ifcfg-eth1", mac="00:50:56:ab:cd:0a", dhcp=True),
    ],
    "networkd": [
        _entry("ens192", "networkd", ND + "10-ens192.network", addresses=["192.168.50.10/24", "192.168.50.11/24"]),
        _entry(None, "networkd", ND + "20-uplink.network", mac="00:50:56:ab:cd:0b", pinned=True, dhcp=True,
               driver="vmxnet3"),
        _entry("br0", "networkd", ND + "30-br0.network", kind="bridge", dhcp=True),
        _entry("en*", "networkd", ND + "31-br0-ports.network", pci="pci-0000:0b:00.0"),
    ],
}


@pytest.mark.parametrize("guest", sorted(EXPECTED))
def test_read_all_samples(guest_tree, guest):
    assert network_stacks.read_all(guest_tree("network/" + guest)) == EXPECTED[guest]


def test_renames_from_link_files_and_udev_rules(guest_tree):
    assert network_stacks.renames(guest_tree("network/networkd")) == [
        {"path": ND + "50-lan.link", "name": "lan0", "mac": "00:50:56:ab:cd:0c", "match_driver": None,
         "match_path": None}]
    rules = "/etc/udev/rules.d/70-persistent-net.rules"
    assert network_stacks.renames(guest_tree("network/sles12-wicked")) == [
        {"path": rules, "name": "eth0", "mac": "00:50:56:ab:cd:09", "match_driver": None, "match_path": None},
        {"path": rules, "name": "eth1", "mac": "00:50:56:ab:cd:0a", "match_driver": None, "match_path": None}]
    pci = {"/etc/udev/rules.d/70-persistent-net.rules":
           'SUBSYSTEM=="net", ACTION=="add", DRIVERS=="vmxnet3", KERNELS=="0000:0b:00.0", NAME="eth0"\n'
           '#SUBSYSTEM=="net", NAME="eth9"\nKERNEL=="sda", NAME="disk"\n'}
    assert network_stacks.renames(pci) == [{"path": "/etc/udev/rules.d/70-persistent-net.rules", "name": "eth0",
                                            "mac": None, "match_driver": "vmxnet3", "match_path": "0000:0b:00.0"}]


@pytest.mark.parametrize("mac, normal", [
    ("00:50:56:AB:CD:01", "00:50:56:ab:cd:01"), ("00-50-56-ab-cd-01", "00:50:56:ab:cd:01"),
    ("005056abcd01", "00:50:56:ab:cd:01"), ("'00:50:56:ab:cd:01'", "00:50:56:ab:cd:01"),
    ("0;80;86;171;205;1;", "00:50:56:ab:cd:01"), ("0;80;86;171;205;256;", None), ("0;80;86;", None),
    ("00:50:56:ab:cd", None), ("00:50:56:ab:cd:01:02", None), ("zz:50:56:ab:cd:01", None), ("", None),
    (None, None), (5, None),
])
def test_normalize_mac(mac, normal):
    assert network_stacks.normalize_mac(mac) == normal


def test_ifupdown_follows_sources_only_inside_the_given_files():
    files = {
        IFUPDOWN: "source interfaces.d/*.cfg\nsource-directory /etc/network/more\nsource /etc/network/interfaces\n"
                  "source /etc/shadow\nsource\n",
        "/etc/network/interfaces.d/a.cfg": "iface eth0 inet dhcp\nsource ../interfaces.d/a.cfg\n",
        "/etc/network/interfaces.d/b.txt": "iface eth9 inet dhcp\n",
        "/etc/network/interfaces.d/sub/c.cfg": "iface eth8 inet dhcp\n",
        "/etc/network/more/eth1": "iface eth1 inet static\n  address 10.0.0.1\n  netmask 255.255.0.0\n",
        "/etc/network/more/eth2.bak": "iface eth2 inet dhcp\n",
        "/etc/network/unreferenced": "iface eth3 inet dhcp\n",
    }
    got = network_stacks.ifupdown(files)
    assert [(e["name"], e["config_path"], e["addresses"], e["dhcp"]) for e in got] == [
        ("eth0", "/etc/network/interfaces.d/a.cfg", [], True),
        ("eth1", "/etc/network/more/eth1", ["10.0.0.1/16"], False)]


def test_ifupdown_stanzas():
    text = ("auto lo eth0\niface lo inet loopback\n  address 127.0.0.1\n"
            "iface eth0 inet manual\n  hwaddress 00:50:56:ab:cd:0f\n"
            "auto bond0\niface bond0 inet static\n  bond-slaves eth1 eth2\n  address 10.1.1.1/24\n"
            "iface eth0.100 inet static\n  address 10.2.2.2\n  netmask 24\n"
            "iface vlan5 inet dhcp\n  vlan-raw-device eth0\n"
            "mapping eth3\n  script /bin/true\n  address 9.9.9.9\n"
            "iface eth4 inet static\n  netmask 255.0.255.0\n  address 10.3.3.3\n  netmask 255.0.255.0\n"
            "iface\n")
    got = network_stacks.ifupdown({IFUPDOWN: text})
    assert [(e["name"], e["kind"], e["mac"], e["addresses"], e["dhcp"]) for e in got] == [
        ("eth0", "ethernet", "00:50:56:ab:cd:0f", [], False),
        ("bond0", "bond", None, ["10.1.1.1/24"], False),
        ("eth0.100", "vlan", None, ["10.2.2.2/24"], False),
        ("vlan5", "vlan", None, [], True),
        ("eth4", "ethernet", None, ["10.3.3.3"], False)]


def test_netplan_shapes():
    files = {
        "/etc/netplan/01.yaml": "network:\n  version: 2\n  renderer: NetworkManager\n  ethernets:\n"
                                "    id0:\n      match:\n        name: en*\n      dhcp6: yes\n"
                                "    eth0:\n      macaddress: 52:54:00:12:34:56\n      addresses:\n"
                                "        - 10.0.0.5/24:\n            label: eth0:svc\n        - 10.0.0.6/24\n"
                                "  bonds:\n    bond0:\n      interfaces: [id0]\n      addresses: [10.9.0.1/24]\n"
                                "  vlans:\n    vl5: {id: 5, link: bond0, dhcp4: true}\n",
        "/etc/netplan/02.yml": "network:\n  ethernets:\n    ignored: {}\n",
        "/etc/netplan/03.yaml": "- not a mapping\n",
        "/etc/netplan/04.yaml": "network:\n  ethernets: [x]\n",
        "/etc/netplan/05.yaml": "network:\n  ethernets:\n    e: just-a-string\n",
        "/etc/netplan/sub/06.yaml": "network:\n  ethernets:\n    nested: {}\n",
    }
    got = network_stacks.netplan(files)
    assert [(e["name"], e["kind"], e["mac"], e["mac_pinned"], e["addresses"], e["dhcp"]) for e in got] == [
        ("en*", "ethernet", None, False, [], True),
        ("eth0", "ethernet", "52:54:00:12:34:56", False, ["10.0.0.5/24", "10.0.0.6/24"], False),
        ("bond0", "bond", None, False, ["10.9.0.1/24"], False),
        ("vl5", "vlan", None, False, [], True),
        ("e", "ethernet", None, False, [], False)]


def test_networkmanager_keyfile_variants():
    files = {
        NM + "bridge.nmconnection": "[connection]\ntype=bridge\ninterface-name=br0\n[ipv4]\nmethod=auto\n",
        NM + "port.nmconnection": "[connection]\ntype=ethernet\ninterface-name=ens192\nmaster=br0\n"
                                  "slave-type=bridge\n",
        NM + "v6.nmconnection": "[connection]\ntype=ethernet\n[ethernet]\ncloned-mac-address=52:54:00:00:00:01\n"
                                "[ipv4]\nmethod=disabled\n[ipv6]\nmethod=dhcp\naddress1=2001:db8::5/64\n",
        NM + "vpn.nmconnection": "[connection]\ntype=wireguard\ninterface-name=wg0\n",
        NM + "junk": "\x00\xff[[[\n=\n",
        NM + "sub/x.nmconnection": "[connection]\ntype=ethernet\n",
    }
    got = network_stacks.networkmanager(files)
    assert [(e["name"], e["kind"], e["mac"], e["mac_pinned"], e["addresses"], e["dhcp"]) for e in got] == [
        ("br0", "bridge", None, False, [], True),
        ("ens192", "ethernet", None, False, [], False),
        (None, "ethernet", "52:54:00:00:00:01", False, ["2001:db8::5/64"], True)]


def test_ifcfg_variants():
    files = {
        RH + "ifcfg-bond0": "DEVICE=bond0\nTYPE=Bond\nBONDING_OPTS='mode=1'\nIPADDR0=10.0.0.2\nPREFIX0=24\n"
                            "IPV6ADDR=2001:db8::2/64\nIPV6ADDR_SECONDARIES='2001:db8::3/64 2001:db8::4/64'\n",
        RH + "ifcfg-eth0:1": "DEVICE=eth0:1\nIPADDR=10.0.0.9\n",
        RH + "ifcfg-eth0~": "DEVICE=eth0\n", RH + "ifcfg-eth0.rpmsave": "DEVICE=eth0\n",
        RH + "ifcfg-": "DEVICE=x\n", RH + "ifcfg-loop": "DEVICE=lo\n",
        RH + "ifcfg-vlan": "DEVICE=eth0.5\nVLAN=yes\nMACADDR=52:54:00:aa:bb:cc\nBOOTPROTO=bootp\n",
        SUSE + "ifcfg-br0": "BRIDGE='yes'\nBRIDGE_PORTS='eth0'\nBOOTPROTO='dhcp4'\n",
        SUSE + "ifcfg-bond0": "BONDING_MASTER='yes'\nIPADDR='10.5.0.1'\nPREFIXLEN='16'\n",
        SUSE + "ifcfg-vlan7": "ETHERDEVICE='eth0'\nBOOTPROTO='static'\nIPADDR_a='10.7.0.1/24'\n",
        SUSE + "ifcfg.template": "BOOTPROTO='dhcp'\n",
    }
    got = network_stacks.ifcfg(files)
    assert [(e["name"], e["stack"], e["kind"], e["mac"], e["mac_pinned"], e["addresses"], e["dhcp"])
            for e in got] == [
        ("bond0", "ifcfg", "bond", None, False,
         ["10.0.0.2/24", "2001:db8::2/64", "2001:db8::3/64", "2001:db8::4/64"], False),
        ("eth0.5", "ifcfg", "vlan", "52:54:00:aa:bb:cc", False, [], True),
        ("bond0", "wicked", "bond", None, False, ["10.5.0.1/16"], False),
        ("br0", "wicked", "bridge", None, False, [], True),
        ("vlan7", "wicked", "vlan", None, False, ["10.7.0.1/24"], False)]


def test_networkd_variants():
    files = {
        ND + "a.network": "[Match]\nName=eth0 eth1\nMACAddress=00:50:56:ab:cd:01 00:50:56:ab:cd:02\n"
                          "[Network]\nDHCP=no\n",
        ND + "b.network": "[Network]\nDHCP=true\nAddress=\n",
        ND + "c.netdev": "[NetDev]\nKind=bond\n",
        ND + "sub/d.network": "[Match]\nName=x\n",
    }
    got = network_stacks.networkd(files)
    assert [(e["name"], e["mac"], e["mac_pinned"], e["addresses"], e["dhcp"]) for e in got] == [
        ("eth0 eth1", None, False, [], False), (None, None, False, [], True)]


@pytest.mark.parametrize("files", [
    None, {}, {None: "x", 3: "y"}, {IFUPDOWN: None}, {IFUPDOWN: b"iface eth0 inet dhcp\n\xff\n"},
    {"/etc/netplan/a.yaml": "\x00" * 1000}, {"/etc/netplan/a.yaml": "network: " + "[" * 100000},
    {IFUPDOWN: "iface eth0 inet static\n address " + "1" * (5 << 20) + "\n"},
    {RH + "ifcfg-eth0": "IPADDR=" + "x" * (2 << 20)}, {NM + "a": "[connection]\ntype=ethernet\n" * 10000},
])
def test_readers_are_total(files):
    network_stacks.read_all(files)
