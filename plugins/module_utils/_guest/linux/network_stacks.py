# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Readers for the network configurations Linux guests use, one per stack, all returning the same
entry shape (see network.interfaces, which combines them; network.py holds the repair strategy).

Each reader takes {guest path: file text} and reads only the files of its stack from it; a missing
file is an empty result, an unreadable one is skipped. Entries name the interface as the file does
(ifcfg DEVICE=, NM interface-name=, networkd Name= may be a pattern such as "en*"), the MAC it binds
to or sets, its static addresses (address/prefix) and whether it uses DHCP.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import posixpath
import re

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest.linux._syntax import (
    as_text, bodies, ini_get, ini_items, shell_vars, yaml_load)

IFUPDOWN_MAIN = "/etc/network/interfaces"
NETPLAN_DIRS = ("/etc/netplan", "/run/netplan", "/lib/netplan")
NM_DIR = "/etc/NetworkManager/system-connections"
IFCFG_RH_DIR = "/etc/sysconfig/network-scripts"
IFCFG_SUSE_DIR = "/etc/sysconfig/network"
NETWORKD_DIR = "/etc/systemd/network"
# Files initscripts and wicked ignore: editor and package-manager leftovers.
_IFCFG_IGNORED = re.compile(r"(~|\.(bak|orig|old|rpmnew|rpmorig|rpmsave|template))\Z")
_HEX_MAC = re.compile(r"^([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?"
                      r"([0-9a-f]{2})[:-]?([0-9a-f]{2})\Z")
_NM_KINDS = {"ethernet": "ethernet", "802-3-ethernet": "ethernet", "bridge": "bridge", "bond": "bond",
             "vlan": "vlan", "wifi": "wifi", "802-11-wireless": "wifi", "team": "team"}
_TRUE = ("yes", "true", "on", "1")


def normalize_mac(mac):
    """"00:50:56:ab:cd:01" for 00:50:56:AB:CD:01, 00-50-56-ab-cd-01, 005056abcd01 or NetworkManager's
    old byte list "0;80;86;171;205;1;"; None for anything else."""
    if not isinstance(mac, str):
        return None
    mac = mac.strip().strip("'\"").lower()
    if ";" in mac:
        parts = [p for p in mac.split(";") if p]
        if len(parts) == 6 and all(p.isdigit() and int(p) < 256 for p in parts):
            return ":".join("%02x" % int(p) for p in parts)
        return None
    match = _HEX_MAC.match(mac)
    return ":".join(match.groups()) if match else None


def entry(name, stack, path, kind="ethernet"):
    return {"name": name, "stack": stack, "kind": kind, "mac": None, "mac_pinned": False, "addresses": [],
            "dhcp": False, "config_path": path, "match_driver": None, "match_path": None}


def _prefix(netmask):
    """24 for 255.255.255.0 or "24"; None when it is neither."""
    netmask = (netmask or "").strip()
    if netmask.isdigit() and int(netmask) <= 128:
        return int(netmask)
    parts = netmask.split(".")
    if len(parts) != 4 or not all(p.isdigit() and int(p) < 256 for p in parts):
        return None
    bits = "".join("{0:08b}".format(int(p)) for p in parts)
    return None if "01" in bits else bits.count("1")


def _address(address, netmask=None):
    address = (address or "").strip()
    if not address or "/" in address:
        return address or None
    prefix = _prefix(netmask)
    return address if prefix is None else "%s/%d" % (address, prefix)


def _in_dir(files, directory, pattern="*"):
    return sorted(p for p in files if posixpath.dirname(p) == directory
                  and fnmatch.fnmatchcase(posixpath.basename(p), pattern))


# --- ifupdown ----------------------------------------------------------------------------------------

def _logical_lines(text):
    """Lines with backslash continuations joined; comments and blanks dropped."""
    out, pending = [], ""
    for body in bodies(text):
        if body.endswith("\\"):
            pending += body[:-1] + " "
            continue
        line = (pending + body).strip()
        pending = ""
        if line and not line.startswith("#"):
            out.append(line)
    return out


def _ifupdown_files(files):
    """/etc/network/interfaces and what it sources (source globs, source-directory), in reading
    order, only among the given files, each once."""
    order = []

    def visit(path, depth):
        if path in order or path not in files or depth > 8:
            return
        order.append(path)
        for line in _logical_lines(files[path]):
            words = line.split()
            if words[0] not in ("source", "source-directory") or len(words) < 2:
                continue
            target = posixpath.normpath(posixpath.join(posixpath.dirname(path), words[1]))
            if words[0] == "source":
                found = _in_dir(files, posixpath.dirname(target), posixpath.basename(target))
            else:   # run-parts naming: letters, digits, _ and - only
                found = [p for p in _in_dir(files, target) if re.match(r"^[A-Za-z0-9_-]+\Z", posixpath.basename(p))]
            for child in found:
                visit(child, depth + 1)

    visit(IFUPDOWN_MAIN, 0)
    return order


def ifupdown(files):
    found = {}
    for path in _ifupdown_files(files):
        current = None
        for line in _logical_lines(files[path]):
            words = line.split()
            if words[0] == "iface":
                name = words[1] if len(words) > 1 else None
                method = words[3] if len(words) > 3 else None
                current = None
                if name and name != "lo" and method != "loopback":
                    current = found.setdefault((path, name), entry(name, "ifupdown", path))
                    current["dhcp"] = current["dhcp"] or method == "dhcp"
                    if "." in name:
                        current["kind"] = "vlan"
            elif words[0] in ("auto", "mapping", "source", "source-directory", "rename", "template") \
                    or words[0].startswith("allow-"):
                current = None
            elif current is not None and len(words) > 1:
                _ifupdown_option(current, words[0].replace("_", "-"), words[1:])
    return list(found.values())


def _ifupdown_option(current, option, values):
    if option == "address":
        current["addresses"].append(values[0])
    elif option == "netmask" and current["addresses"] and "/" not in current["addresses"][-1]:
        current["addresses"][-1] = _address(current["addresses"][-1], values[0])
    elif option == "hwaddress":
        current["mac"] = normalize_mac(values[-1])
    elif option == "bridge-ports":
        current["kind"] = "bridge"
    elif option in ("bond-slaves", "bond-mode"):
        current["kind"] = "bond"
    elif option == "vlan-raw-device":
        current["kind"] = "vlan"


# --- netplan -----------------------------------------------------------------------------------------

def netplan_files(files):
    return [p for d in NETPLAN_DIRS for p in _in_dir(files, d, "*.yaml")]


def netplan(files):
    out = []
    for path in netplan_files(files):
        doc = yaml_load(files[path])
        net = doc.get("network") if isinstance(doc, dict) else None
        if not isinstance(net, dict):
            continue
        for section, kind in (("ethernets", "ethernet"), ("bonds", "bond"), ("bridges", "bridge"),
                              ("vlans", "vlan"), ("wifis", "wifi")):
            devices = net.get(section)
            for ifid, conf in (devices.items() if isinstance(devices, dict) else ()):
                out.append(_netplan_device(str(ifid), conf if isinstance(conf, dict) else {}, kind, path))
    return out


def _netplan_device(ifid, conf, kind, path):
    match = conf.get("match") if isinstance(conf.get("match"), dict) else None
    name = conf.get("set-name") or (match.get("name") if match else None) or (None if match else ifid)
    found = entry(name if isinstance(name, str) else None, "netplan", path, kind)
    if match and normalize_mac(match.get("macaddress")):
        found["mac"], found["mac_pinned"] = normalize_mac(match["macaddress"]), True
    else:
        found["mac"] = normalize_mac(conf.get("macaddress"))
    if match and match.get("driver"):
        driver = match["driver"]
        found["match_driver"] = " ".join(map(str, driver)) if isinstance(driver, list) else str(driver)
    found["dhcp"] = conf.get("dhcp4") is True or conf.get("dhcp6") is True
    addresses = conf.get("addresses")
    for address in addresses if isinstance(addresses, list) else ():
        if isinstance(address, dict):
            found["addresses"].extend(str(key) for key in address)
        elif address is not None:
            found["addresses"].append(str(address))
    return found


# --- NetworkManager keyfiles ---------------------------------------------------------------------------

def networkmanager(files):
    out = []
    for path in _in_dir(files, NM_DIR):
        items = ini_items(files[path])
        kind = _NM_KINDS.get(ini_get(items, "connection", "type", ""), None)
        if kind is None:
            continue    # loopback, tun, wireguard, vpn...: not a NIC
        found = entry(ini_get(items, "connection", "interface-name") or None, "networkmanager", path, kind)
        section = "ethernet" if ini_get(items, "ethernet", "mac-address") or \
            ini_get(items, "ethernet", "cloned-mac-address") else "802-3-ethernet"
        bound = normalize_mac(ini_get(items, section, "mac-address"))
        found["mac"] = bound or normalize_mac(ini_get(items, section, "cloned-mac-address"))
        found["mac_pinned"] = bound is not None
        port = ini_get(items, "connection", "slave-type") or ini_get(items, "connection", "port-type")
        found["dhcp"] = not port and (ini_get(items, "ipv4", "method", "auto") == "auto"
                                      or ini_get(items, "ipv6", "method") == "dhcp")
        for item in items:
            if item["section"] in ("ipv4", "ipv6") and re.match(r"^address(es)?\d*$", item["key"]):
                found["addresses"].extend(_nm_address(item["value"]))
        out.append(found)
    return out


def _nm_address(value):
    """address1=192.168.1.10/24,192.168.1.1 (NM >= 1.0) or addresses1=192.168.1.10;24;192.168.1.1; (0.9)."""
    parts = [p.strip() for p in value.split(",")[0].split(";") if p.strip()]
    if len(parts) >= 2 and "/" not in parts[0] and parts[1].isdigit():
        return ["%s/%s" % (parts[0], parts[1])]
    return [p for p in parts if "/" in p] or parts[:1]


# --- ifcfg: RHEL network-scripts and SUSE wicked -------------------------------------------------------

def ifcfg(files):
    out = []
    for directory, stack in ((IFCFG_RH_DIR, "ifcfg"), (IFCFG_SUSE_DIR, "wicked")):
        for path in _in_dir(files, directory, "ifcfg-*"):
            suffix = posixpath.basename(path)[len("ifcfg-"):]
            if not suffix or suffix == "lo" or ":" in suffix or _IFCFG_IGNORED.search(suffix):
                continue
            values = shell_vars(files[path])
            if stack == "ifcfg":
                out.append(_ifcfg_rh(values, suffix, path))
            else:
                out.append(_ifcfg_suse(values, suffix, path))
    return [found for found in out if found["name"] != "lo"]


def _numbered(values, key, mask_keys, sep=""):
    """IPADDR, IPADDR0.. (RHEL) / IPADDR_x (SUSE) with their PREFIX/NETMASK."""
    out = []
    for name in sorted(values):
        match = re.match(r"^%s(%s\w*)?$" % (key, sep) if sep else r"^%s(\d*)$" % key, name)
        if not match or not values[name]:
            continue
        suffix = match.group(1) or ""
        mask = next((values[m + suffix] for m in mask_keys if values.get(m + suffix)), None)
        out.append(_address(values[name], mask))
    return out


def _ifcfg_rh(values, suffix, path):
    found = entry(values.get("DEVICE") or suffix, "ifcfg", path, _ifcfg_kind(values))
    hwaddr = normalize_mac(values.get("HWADDR"))
    found["mac"] = hwaddr or normalize_mac(values.get("MACADDR"))
    found["mac_pinned"] = hwaddr is not None
    found["dhcp"] = values.get("BOOTPROTO", "").lower() in ("dhcp", "bootp") or \
        values.get("DHCPV6C", "").lower() in _TRUE
    found["addresses"] = _numbered(values, "IPADDR", ("PREFIX", "NETMASK"))
    for key in ("IPV6ADDR", "IPV6ADDR_SECONDARIES"):
        found["addresses"].extend(values.get(key, "").split())
    return found


def _ifcfg_suse(values, suffix, path):
    found = entry(suffix, "wicked", path, _ifcfg_kind(values))
    found["mac"] = normalize_mac(values.get("LLADDR"))
    found["dhcp"] = values.get("BOOTPROTO", "").lower().startswith("dhcp")
    found["addresses"] = _numbered(values, "IPADDR", ("PREFIXLEN", "NETMASK"), sep="_")
    return found


def _ifcfg_kind(values):
    kind = values.get("TYPE", "").lower()
    if kind in ("bridge", "bond", "vlan", "team"):
        return kind
    if values.get("BRIDGE", "").lower() == "yes":       # SUSE; RHEL's BRIDGE=br0 marks a bridge port
        return "bridge"
    if values.get("BONDING_MASTER", "").lower() == "yes" or values.get("BONDING_OPTS"):
        return "bond"
    if values.get("VLAN", "").lower() == "yes" or values.get("ETHERDEVICE"):
        return "vlan"
    return "ethernet"


# --- systemd-networkd ----------------------------------------------------------------------------------

def networkd(files):
    kinds = {}
    for path in _in_dir(files, NETWORKD_DIR, "*.netdev"):
        items = ini_items(files[path])
        if ini_get(items, "NetDev", "Name"):
            kinds[ini_get(items, "NetDev", "Name")] = ini_get(items, "NetDev", "Kind", "").lower()
    out = []
    for path in _in_dir(files, NETWORKD_DIR, "*.network"):
        items = ini_items(files[path])
        names = " ".join(_all(items, "Match", "Name")).split()
        macs = [normalize_mac(m) for m in " ".join(_all(items, "Match", "MACAddress")).split()]
        kind = kinds.get(names[0]) if len(names) == 1 else None
        found = entry(" ".join(names) or None, "networkd", path,
                      kind if kind in ("bridge", "bond", "vlan") else "ethernet")
        if len(macs) == 1 and macs[0]:
            found["mac"], found["mac_pinned"] = macs[0], True
        found["match_driver"] = " ".join(_all(items, "Match", "Driver")) or None
        found["match_path"] = " ".join(_all(items, "Match", "Path")) or None
        found["dhcp"] = ini_get(items, "Network", "DHCP", "no").lower() in _TRUE + ("ipv4", "ipv6", "both")
        found["addresses"] = _all(items, "Network", "Address") + _all(items, "Address", "Address")
        out.append(found)
    return out


def _all(items, section, key):
    return [i["value"] for i in items if i["section"] == section and i["key"] == key and i["value"]]


def renames(files):
    """[{"path", "name", "mac", "match_driver", "match_path"}]: the interface renames already in the
    guest, from systemd .link files ([Link] Name=) and udev rules (NAME="...")."""
    out = []
    for path in _in_dir(files, NETWORKD_DIR, "*.link"):
        items = ini_items(files[path])
        name = ini_get(items, "Link", "Name")
        if name:
            out.append({"path": path, "name": name,
                        "mac": normalize_mac(ini_get(items, "Match", "MACAddress")),
                        "match_driver": ini_get(items, "Match", "Driver"),
                        "match_path": ini_get(items, "Match", "Path")})
    for path in _in_dir(files, "/etc/udev/rules.d", "*.rules"):
        for body in bodies(files[path]):
            name = re.search(r'(?:^|[\s,])NAME:?="([^"]+)"', body)
            if body.lstrip().startswith("#") or not name or 'SUBSYSTEM=="net"' not in body:
                continue
            mac = re.search(r'ATTR\{address\}=="([^"]+)"', body)
            driver = re.search(r'DRIVERS?=="([^"?*]+)"', body)
            kernels = re.search(r'KERNELS=="([^"]+)"', body)
            out.append({"path": path, "name": name.group(1), "mac": normalize_mac(mac.group(1)) if mac else None,
                        "match_driver": driver.group(1) if driver else None,
                        "match_path": kernels.group(1) if kernels else None})
    return out


def read_all(files):
    """Every stack's entries, with file contents made text first (bytes, None and junk tolerated)."""
    files = dict((p, as_text(t)) for p, t in (files or {}).items() if isinstance(p, str))
    return ifupdown(files) + netplan(files) + networkmanager(files) + ifcfg(files) + networkd(files)
