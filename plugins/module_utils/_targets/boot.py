# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Boot a defined domain in isolation and collect evidence that the guest came up.

Isolation: the domain is started from a live copy of its definition whose NICs (MACs kept) are moved
onto an isolated libvirt network (a bridge with no forwarding and no host address), so a migrated
guest can never answer on a production network while its source still runs there. The persistent
definition is not changed.

Evidence: a success pattern on the serial console log that virtlogd writes - by default a login
prompt, or a guest-agent ping when the guest has an agent; the user's marker or patterns instead when
named (console.evidence) - optionally an address on a NIC;
a failure pattern (no root fs, emergency shell, panic) ends the wait early. A console screenshot
(PNG) and the console log are kept in the evidence folder with a JSON record of the result.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import time
import xml.etree.ElementTree as ET

from ansible_collections.hyper2kvm.migrate.plugins.module_utils import _xml
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import MigrationError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._targets import console, domain, domain_xml, png
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._targets import libvirt as lv

try:
    import libvirt_qemu
except ImportError:
    libvirt_qemu = None

ISOLATED_NETWORK = "hyper2kvm-isolated"
ISOLATED_BRIDGE = "h2k-iso0"
RECORD = "boot_check.json"
LOG_LIMIT = 4 * 1024 * 1024
POLL = 1.0
AGENT_EVERY = 5.0


def _error_code(exc):
    return exc.get_error_code() if hasattr(exc, "get_error_code") else None


def ensure_isolated_network(conn, name=ISOLATED_NETWORK, bridge=ISOLATED_BRIDGE):
    """The isolated network, defined and started when missing. Returns the actions taken."""
    actions = []
    try:
        net = conn.networkLookupByName(name)
    except lv.libvirt.libvirtError as exc:
        if _error_code(exc) != lv.libvirt.VIR_ERR_NO_NETWORK:
            raise MigrationError("libvirt could not look up network %s: %s" % (name, exc.get_error_message()))
        xml = "<network><name>%s</name><bridge name='%s' stp='on' delay='0'/></network>" % (name, bridge)
        net = domain.call("define the isolated network %s" % name, conn.networkDefineXML, xml)
        actions.append("define network %s" % name)
    root = _xml.parse(net.XMLDesc(0).encode("utf-8"), what="libvirt network XML")
    if root.find("forward") is not None or root.find("ip") is not None:
        raise MigrationError(
            "libvirt network %s exists but is not isolated (it forwards traffic or gives the host an address)." % name,
            fix="Remove or rename that network, or name another one with isolated_network.")
    if not net.isActive():
        domain.call("start network %s" % name, net.create)
        actions.append("start network %s" % name)
    return actions


def isolated_definition(xml_text, network):
    """The domain XML with every NIC moved onto network (MAC and model kept)."""
    root = _xml.parse(xml_text.encode("utf-8"), what="libvirt domain XML")
    devices = root.find("devices")
    for nic in devices.findall("interface") if devices is not None else []:
        for child in list(nic):
            if child.tag in ("source", "target", "virtualport", "vlan", "bandwidth", "ip", "route", "backend"):
                nic.remove(child)
        nic.attrib.clear()
        nic.set("type", "network")
        source = ET.Element("source", {"network": network})
        nic.insert(0, source)
    return ET.tostring(root, encoding="unicode")


def criteria(options):
    """What a check demands of the guest. A pass is only valid for the same demands: a record that a
    login prompt appeared says nothing about a marker asked for later."""
    return {
        "success": [p.pattern for p in options["success"]],
        "failure": [p.pattern for p in options["failure"]],
        "agent_proves_boot": bool(options["agent_proves_boot"]),
        "wait_for_address": bool(options["wait_for_address"]),
        "isolate": bool(options["isolate"]),
    }


def signature(xml_text, demands):
    """What a passed check is valid for: the managed definition, the identity of its disk files
    (conversion writes a new file, so a re-converted disk is a new inode) and what the check demanded
    (criteria)."""
    spec = domain_xml.spec_from_xml(xml_text)
    disks = []
    for disk in spec["disks"]:
        try:
            st = os.stat(disk["path"])
            disks.append([disk["path"], st.st_dev, st.st_ino])
        except OSError:
            disks.append([disk["path"], None, None])
    spec = dict(spec, serial_log=None)
    blob = json.dumps({"spec": spec, "disks": disks, "criteria": demands}, sort_keys=True).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


def _read_log(path):
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - LOG_LIMIT))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _agent_ping(dom):
    if libvirt_qemu is None:
        return False
    try:
        libvirt_qemu.qemuAgentCommand(dom, '{"execute": "guest-ping"}', 2, 0)
        return True
    except lv.libvirt.libvirtError:
        return False


def _agent_addresses(dom):
    try:
        found = dom.interfaceAddresses(lv.libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT, 0)
    except lv.libvirt.libvirtError:
        return []
    out = []
    for ifname, info in sorted(found.items()):
        for addr in info.get("addrs") or []:
            if ifname != "lo" and not addr["addr"].startswith(("127.", "::1", "fe80:")):
                out.append({"interface": ifname, "mac": info.get("hwaddr"), "address": addr["addr"],
                            "prefix": addr.get("prefix")})
    return out


def _screenshot(conn, dom, dest):
    """Save the console as PNG; returns (path, None) or (None, why not)."""
    stream = conn.newStream(0)
    try:
        mime = dom.screenshot(stream, 0, 0)
        chunks = []
        while True:
            data = stream.recv(256 * 1024)
            if not data or data == -2:
                break
            chunks.append(data)
        stream.finish()
    except lv.libvirt.libvirtError as exc:
        try:
            stream.abort()
        except lv.libvirt.libvirtError:
            pass
        return None, exc.get_error_message()
    data = b"".join(chunks)
    # QEMU 7.1+ sends PNG itself; older ones send PPM.
    if mime != "image/png" and not data.startswith(b"\x89PNG"):
        try:
            data = png.ppm_to_png(data)
        except MigrationError as exc:
            return None, str(exc)
    _write(dest, data)
    return dest, None


def _write(path, data):
    tmp = "%s.partial" % path
    with open(tmp, "wb") as fh:
        fh.write(data if isinstance(data, bytes) else data.encode("utf-8"))
    os.rename(tmp, path)


def load_record(evidence_dir):
    try:
        with open(os.path.join(evidence_dir, RECORD), encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def _watch(conn, dom, spec, options, started):
    """Wait for the verdict: (status, matched line, agent answered, addresses, console text, seconds)."""
    status, matched, agent, text = None, None, False, ""
    next_agent = started + AGENT_EVERY
    while status is None:
        time.sleep(POLL)
        text = _read_log(spec["serial_log"])
        status, matched = console.verdict(text, options["success"], options["failure"])
        now = time.monotonic()
        if status is None and options["agent_proves_boot"] and spec["guest_agent"] and now >= next_agent:
            next_agent = now + AGENT_EVERY
            if _agent_ping(dom):
                agent, status, matched = True, "pass", "the guest agent answered guest-ping"
        if status is None and not dom.isActive():
            status, matched = "fail", "the domain stopped by itself (%s)" % lv.state_name(dom)
        elif status is None and now - started > options["timeout"]:
            status, matched = "timeout", "no evidence within %s s (waiting for %s)%s" % (
                options["timeout"], " or ".join(repr(p.pattern) for p in options["success"]),
                "" if text.strip() else " and the serial console stayed silent (a "
                "firmware or bootloader problem shows on the screenshot)")
    seconds = round(time.monotonic() - started, 1)

    addresses = []
    if status == "pass" and spec["guest_agent"]:
        agent = agent or _agent_ping(dom)
        deadline = time.monotonic() + (options["timeout"] - seconds if options["wait_for_address"] else 0)
        addresses = _agent_addresses(dom) if agent else []
        while agent and options["wait_for_address"] and not addresses and time.monotonic() < deadline:
            time.sleep(POLL * 2)
            addresses = _agent_addresses(dom)
    if status == "pass" and options["wait_for_address"] and not addresses:
        status, matched = "fail", "booted, but no address appeared on a NIC (needs the guest agent)"
    return status, matched, agent, addresses, text, seconds


def check(conn, name, options, check_mode=False):
    """Boot-check the domain name. options: isolate, isolated_network, success, failure (compiled),
    agent_proves_boot, timeout, wait_for_address, final_state, evidence_dir, force, shutdown_timeout."""
    dom = lv.lookup(conn, name)
    if dom is None:
        raise MigrationError("Domain %s is not defined." % name,
                             fix="Define it first (hyper2kvm.migrate.libvirt_domain).")
    xml_text = domain.inactive_xml(dom)
    spec = domain_xml.spec_from_xml(xml_text)
    if not spec["serial_log"]:
        raise MigrationError("Domain %s keeps no serial console log, so its boot cannot be watched." % name,
                             fix="Define it with hyper2kvm.migrate.libvirt_domain, which adds one (serial_log).")
    evidence_dir = options["evidence_dir"]
    sig = signature(xml_text, criteria(options))
    record = load_record(evidence_dir)
    if not options["force"] and record and record.get("passed") and record.get("signature") == sig:
        record.update(changed=False, cached=True, actions=[])
        # The check is on record; the final state asked for still holds. Only "running" is enforced:
        # a guest someone started after its check (the cutover) is never shut down by a rerun.
        if options["final_state"] == "running" and not dom.isActive():
            record.update(changed=True, actions=["start"])
            if not check_mode:
                domain.call("start %s" % name, dom.create)
        record["final_state"] = "running" if record["actions"] else lv.state_name(dom)
        return record
    if dom.isActive():
        raise MigrationError(
            "Domain %s is running; a boot check has to watch the guest start." % name,
            fix="Shut it down first (hyper2kvm.migrate.libvirt_domain state=shutdown).")
    plan = (["start %s on isolated network %s" % (name, options["isolated_network"])] if options["isolate"]
            else ["start %s" % name]) + ["leave it %s" % options["final_state"]]
    if check_mode:
        return {"changed": True, "passed": None, "cached": False, "plan": plan}

    if not os.path.isdir(evidence_dir):
        os.makedirs(evidence_dir, 0o750)
    actions = []
    if options["isolate"] and spec["nics"]:
        actions += ensure_isolated_network(conn, options["isolated_network"])
        started = time.monotonic()
        live = isolated_definition(xml_text, options["isolated_network"])
        domain.call("start %s isolated" % name, conn.createXML, live, 0)
        actions.append("start isolated")
    else:
        started = time.monotonic()
        domain.call("start %s" % name, dom.create)
        actions.append("start")

    try:
        outcome = _watch(conn, dom, spec, options, started)
    except BaseException:
        if dom.isActive():  # never leave a half-checked guest running
            dom.destroy()
        raise
    status, matched, agent, addresses, text, seconds = outcome
    screenshot, screenshot_error = (None, "the domain is not running")
    if dom.isActive():
        screenshot, screenshot_error = _screenshot(conn, dom, os.path.join(evidence_dir, "console.png"))
        if status == "pass":
            actions.append(domain.power_off(dom, options["shutdown_timeout"]))
        else:
            domain.call("stop %s" % name, dom.destroy)
            actions.append("destroy")
    log_copy = os.path.join(evidence_dir, "console.log")
    _write(log_copy, console.clean(text))
    if options["final_state"] == "running":
        domain.call("start %s" % name, dom.create)
        actions.append("start")

    result = {
        "changed": True, "cached": False, "passed": status == "pass", "status": status, "name": name,
        "boot_seconds": seconds, "timeout": options["timeout"], "isolated": bool(options["isolate"]),
        "evidence": {"console": matched, "guest_agent": agent, "addresses": addresses},
        "serial_log": log_copy, "screenshot": screenshot, "screenshot_error": screenshot_error,
        "log_tail": console.tail(text), "actions": actions, "final_state": lv.state_name(dom),
        "signature": sig, "checked_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    _write(os.path.join(evidence_dir, RECORD), json.dumps(result, indent=2, sort_keys=True))
    return result
