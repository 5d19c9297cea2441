# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bring a libvirt domain to a state: defined (with the spec we manage), running, shutdown, absent.

The definition is compared through domain_xml.spec_from_xml, so libvirt's own additions never
cause a redefinition and an unchanged rerun changes nothing. Disks are never touched, not even by
state=absent: removing what a failed migration left is the cleanup role's job.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import MigrationError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._targets import domain_xml
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._targets import libvirt as lv

STATES = ("defined", "running", "shutdown", "absent")
POLL = 0.5


def call(what, func, *args):
    try:
        return func(*args)
    except lv.libvirt.libvirtError as exc:
        raise MigrationError("libvirt could not %s: %s" % (what, exc.get_error_message()))


def inactive_xml(dom):
    return call("read the definition of %s" % dom.name(), dom.XMLDesc, lv.libvirt.VIR_DOMAIN_XML_INACTIVE)


def wait_inactive(dom, timeout):
    deadline = time.monotonic() + timeout
    while dom.isActive():
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL)
    return True


def power_off(dom, timeout):
    """ACPI shutdown, then a hard stop when the guest does not go within timeout; returns the action."""
    call("shut down %s" % dom.name(), dom.shutdown)
    if wait_inactive(dom, timeout):
        return "shutdown"
    if dom.isActive():
        call("stop %s" % dom.name(), dom.destroy)
    return "destroy"


def ensure(conn, spec, state, check_mode=False, shutdown_timeout=120):
    """Bring the domain named in spec to state. spec may be None for state=absent."""
    name = spec["name"]
    dom = lv.lookup(conn, name)
    result = {"changed": False, "actions": [], "differences": [], "notes": [],
              "diff": {"before": "", "after": "", "before_header": name, "after_header": name}}
    current = domain_xml.spec_from_xml(inactive_xml(dom)) if dom is not None else None
    if current is not None:
        result["diff"]["before"] = domain_xml.render(current)

    if state == "absent":
        if dom is not None:
            result["actions"] = (["destroy"] if dom.isActive() else []) + ["undefine"]
            if not check_mode:
                if dom.isActive():
                    call("stop %s" % name, dom.destroy)
                flags = (lv.libvirt.VIR_DOMAIN_UNDEFINE_NVRAM | lv.libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
                call("undefine %s" % name, dom.undefineFlags, flags)
        result["changed"] = bool(result["actions"])
        result["domain"] = {"name": name, "state": "absent"}
        return result

    result["diff"]["after"] = domain_xml.render(spec)
    result["differences"] = domain_xml.differences(current, spec) if current is not None else ["new"]
    if result["differences"]:
        result["actions"].append("define")
        if dom is not None and dom.isActive():
            result["notes"].append("%s is running: the new definition takes effect at its next start." % name)
        if not check_mode:
            uuid = domain_xml.uuid_of(inactive_xml(dom)) if dom is not None else None
            dom = call("define %s" % name, conn.defineXML, domain_xml.render(spec, uuid=uuid))
    else:
        result["diff"]["after"] = result["diff"]["before"]

    active = dom is not None and dom.isActive()
    if state == "running" and not active:
        result["actions"].append("start")
        if not check_mode:
            call("start %s" % name, dom.create)
    elif state == "shutdown" and active:
        if check_mode:
            result["actions"].append("shutdown")
        else:
            result["actions"].append(power_off(dom, shutdown_timeout))
    result["changed"] = bool(result["actions"])

    if dom is not None:
        result["domain"] = {"name": name, "uuid": dom.UUIDString(), "state": lv.state_name(dom),
                            "xml": inactive_xml(dom)}
    else:
        result["domain"] = {"name": name, "state": "absent"}
    return result
