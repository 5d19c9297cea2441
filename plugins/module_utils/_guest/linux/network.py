# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keeping a migrated guest's network working: what its configuration binds to, and the small set of
changes that keep those bindings true on the KVM virtio NIC.

The problem: a guest configures its NIC by name (ifupdown "iface ens192", networkd Name=ens192, ifcfg
DEVICE=, NM interface-name=, netplan ids and bridge/bond member lists) or by MAC (ifcfg HWADDR=, NM
mac-address=, netplan match.macaddress, networkd MACAddress=, 70-persistent-net.rules). On virtio the
same NIC gets another predictable name (ens192 -> enp1s0), and with a new MAC the MAC bindings miss
too: the guest boots without network (virt-v2v's outcome for ifupdown/networkd guests).

The strategy:
1. Keep the source MAC: the domain's virtio NIC is defined with it. Every MAC binding stays true.
2. Pin the old name to that MAC with a systemd .link file (pin_name: [Match] MACAddress=, [Link]
   Name=). udev applies .link files on every systemd distro whatever stack reads the configuration
   (ifupdown, NM, ifcfg, wicked, networkd, netplan), so every name binding stays true too. Systems
   whose udev predates .link files (systemd < 209: RHEL 6, SLES 11, Ubuntu 14.04) get a udev rule
   instead (pin_name_udev). Write the pin before rebuilding the initramfs: images that carry udev
   name the NIC there first.
3. Touch configuration files only where 1 and 2 cannot help (needs_attention says where):
   - the MAC cannot be kept (the user or the target assigns one): replace_mac() in every file bound
     to the old MAC (ifcfg HWADDR, NM mac-address, netplan, networkd, udev rules), pin the name to the
     new MAC, and comment out persistent-net rules for MACs that are gone (stale_persistent_net_rules);
   - a configuration matches the NIC's driver (cloud images: netplan match.driver hv_netvsc, networkd
     Driver=vmxnet3): retarget_driver_match();
   - a configuration matches the PCI path (networkd Path=): reported, not guessed.
Why not rewrite every configuration to the new name instead? Because names hide in many places we
would have to find and parse (bridge_ports, bond slaves, VLAN parents, firewall zones, daemons' listen
directives, scripts), six stacks have six syntaxes, and an unrecognised file would silently break.
Renaming the NIC back to the name the guest knows keeps all of them valid without reading them.
Caveats: pinning to kernel-style names (eth0) can race the kernel's own naming when a guest has
several NICs; define them in the source order so that the kernel's order agrees with the pins.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import InvalidInputError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest.linux import network_stacks
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest.linux._syntax import (
    append_lines, as_text, is_comment, join_lines, split_lines)

normalize_mac = network_stacks.normalize_mac
STACKS = ("netplan", "ifupdown", "networkmanager", "ifcfg", "wicked", "networkd")
UDEV_RULES = "/etc/udev/rules.d/70-hyper2kvm-net.rules"
TARGET_DRIVER = "virtio_net"
# Linux interface names: at most 15 bytes, no "/", ":" or whitespace, not "." or "..".
_IFNAME = re.compile(r"^[A-Za-z0-9_.@+-]{1,15}\Z")
_UDEV_ADDRESS = re.compile(r'ATTR\{address\}=="([^"]*)"')


def interfaces(files):
    """[{"name", "stack", "kind", "mac", "mac_pinned", "addresses", "dhcp", "config_path",
    "match_driver", "match_path"}] over every stack's configuration in files ({guest path: text})."""
    return network_stacks.read_all(files)


def stacks(files):
    """The stacks with configuration in the guest, in STACKS order. NetworkManager counts when its
    NetworkManager.conf is there even without keyfiles (it then runs DHCP on every NIC)."""
    files = files or {}
    found = set(e["stack"] for e in interfaces(files))
    if network_stacks.netplan_files(dict((p, "") for p in files if isinstance(p, str))):
        found.add("netplan")
    if "/etc/NetworkManager/NetworkManager.conf" in files:
        found.add("networkmanager")
    return [stack for stack in STACKS if stack in found]


def renames(files):
    """Renames already configured in the guest (.link files, udev NAME= rules); see network_stacks."""
    files = dict((p, as_text(t)) for p, t in (files or {}).items() if isinstance(p, str))
    return network_stacks.renames(files)


def _checked(name, mac):
    if not isinstance(name, str) or not _IFNAME.match(name) or name in (".", ".."):
        raise InvalidInputError("%r is not a network interface name (1-15 characters: letters, digits, "
                                "_.@+-)." % (name,))
    normal = normalize_mac(mac)
    if normal is None or int(normal[:2], 16) & 1 or normal == "00:00:00:00:00:00":
        raise InvalidInputError("%r is not a unicast MAC address." % (mac,))
    return name, normal


def pin_name(name, mac):
    """{"path", "text"} of the .link file that gives the NIC with this MAC its old name."""
    name, mac = _checked(name, mac)
    text = ("# Written by hyper2kvm: the NIC with this MAC keeps the name it had before migration,\n"
            "# which this guest's network configuration uses.\n"
            "[Match]\nMACAddress=%s\n\n[Link]\nName=%s\n" % (mac, name))
    return {"path": "/etc/systemd/network/10-hyper2kvm-%s.link" % name, "text": text}


def pin_name_udev(name, mac, existing=""):
    """{"path", "text", "changes"}: UDEV_RULES with a rule naming the NIC with this MAC, merged into the
    file's existing text (a rule for the same MAC or name is replaced), for udev without .link support."""
    name, mac = _checked(name, mac)
    rule = ('SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", ATTR{address}=="%s", ATTR{type}=="1", '
            'NAME="%s"' % (mac, name))
    lines = split_lines(existing)
    changes = []
    kept = []
    for lineno, line in enumerate(lines, 1):
        address = _UDEV_ADDRESS.search(line[0])
        ours = not is_comment(line[0]) and ((address and normalize_mac(address.group(1)) == mac)
                                            or 'NAME="%s"' % name in line[0])
        if ours and line[0] != rule:
            changes.append({"lineno": lineno, "before": line[0], "after": None})
            continue
        kept.append(line)
    if not any(line[0] == rule for line in kept):
        if not kept:
            kept.append(["# Written by hyper2kvm: NICs keep the names they had before migration.", "\n"])
        append_lines(kept, [rule])
        changes.append({"lineno": len(kept), "before": None, "after": rule})
    return {"path": UDEV_RULES, "text": join_lines(kept) if changes else as_text(existing), "changes": changes}


def _macs(macs):
    out = set()
    for mac in macs or ():
        normal = normalize_mac(mac)
        if normal is None:
            raise InvalidInputError("%r is not a MAC address." % (mac,))
        out.add(normal)
    return out


def stale_persistent_net_rules(text, keep_macs):
    """70-persistent-net.rules with the rules for MACs not in keep_macs commented out: such a rule
    reserves its name (eth0) for a NIC that is gone, so the new NIC would become eth1."""
    keep = _macs(keep_macs)
    lines = split_lines(text)
    changes = []
    for lineno, line in enumerate(lines, 1):
        address = None if is_comment(line[0]) else _UDEV_ADDRESS.search(line[0])
        if address and normalize_mac(address.group(1)) not in keep:
            before = line[0]
            line[0] = "# hyper2kvm: NIC no longer present: " + before
            changes.append({"lineno": lineno, "before": before, "after": line[0]})
    return {"text": join_lines(lines), "changes": changes}


def replace_mac(text, old_mac, new_mac):
    """Every occurrence of old_mac (colon or dash form, any case) replaced by new_mac written in the
    same case and separator style; for configurations bound to a MAC the target does not keep."""
    old, new = normalize_mac(old_mac), normalize_mac(new_mac)
    if old is None or new is None:
        raise InvalidInputError("replace_mac needs two MAC addresses, got %r and %r." % (old_mac, new_mac))
    pattern = re.compile(r"(?<![\w:-])%s(?![\w:-])" % "[:-]".join(old.split(":")), re.I)

    def styled(match):
        found = match.group(0)
        out = new.replace(":", found[2])
        return out.upper() if found.isupper() else out

    lines = split_lines(text)
    changes = []
    for lineno, line in enumerate(lines, 1):
        before = line[0]
        line[0] = pattern.sub(styled, before)
        if line[0] != before:
            changes.append({"lineno": lineno, "before": before, "after": line[0]})
    return {"text": join_lines(lines), "changes": changes}


def retarget_driver_match(text, path, driver=TARGET_DRIVER):
    """A configuration that matches the NIC by driver, made to match the target's driver: netplan
    "match: driver: hv_netvsc" (block form; the flow form "match: {driver: ...}" is left for the user,
    needs_attention keeps reporting it) and the [Match] Driver= of networkd .network/.link files."""
    lines = split_lines(text)
    changes = []
    section = None
    for lineno, line in enumerate(lines, 1):
        body = line[0]
        if str(path).endswith((".yaml", ".yml")):
            match = re.match(r"^(\s*driver:\s*)(.*?)(\s+#.*)?$", body)
            if not match or _yaml_parent(lines, lineno - 1) != "match":
                continue
            value = match.group(2)
        else:
            stripped = body.strip()
            if stripped.startswith("[") and stripped.endswith("]"):
                section = stripped[1:-1].strip()
            match = re.match(r"^(\s*Driver\s*=\s*)(.*?)(\s*)$", body)
            if section != "Match" or not match:
                continue
            value = match.group(2)
        if value.strip("'\"") == driver:
            continue
        line[0] = match.group(1) + driver + (match.group(3) or "")
        changes.append({"lineno": lineno, "before": body, "after": line[0]})
    return {"text": join_lines(lines), "changes": changes}


def _yaml_parent(lines, index):
    """The key of the block a YAML line sits in (the nearest line above with less indentation)."""
    indent = len(lines[index][0]) - len(lines[index][0].lstrip())
    for body in reversed([line[0] for line in lines[:index]]):
        if is_comment(body):
            continue
        if len(body) - len(body.lstrip()) < indent:
            return body.strip().lstrip("- ").split(":")[0].strip("'\"")
    return None


def needs_attention(entries, target_macs, driver=TARGET_DRIVER):
    """The configurations that keeping the MAC and pinning the name cannot keep valid:
    [{"config_path", "name", "reason", "fix"}] for interfaces() entries against the target's MACs."""
    keep = _macs(target_macs)
    out = []
    for found in entries or ():
        if found.get("mac_pinned") and found.get("mac") not in keep:
            out.append({"config_path": found["config_path"], "name": found.get("name"), "fix": "replace_mac",
                        "reason": "bound to MAC %s, which no target NIC has" % found["mac"]})
        if found.get("match_driver") and found["match_driver"] != driver:
            out.append({"config_path": found["config_path"], "name": found.get("name"),
                        "fix": "retarget_driver_match",
                        "reason": "matches driver %s; the target NIC is %s" % (found["match_driver"], driver)})
        if found.get("match_path"):
            out.append({"config_path": found["config_path"], "name": found.get("name"), "fix": None,
                        "reason": "matches PCI path %s, which differs on the target" % found["match_path"]})
    return out
