# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an export does to the VM so that its disks hold still: shut the guest down (with a timeout
and an optional power-off after it), power it off, or keep it running and take a crash-consistent
snapshot that is removed however the export ends (errors and termination signals included).

Tasks are followed by reading info.state/info.error/info.result through the PropertyCollector
rather than task.info: some servers (the simulator among them) put a snapshot into info.entity,
which pyVmomi refuses to decode, and the properties read here are all a caller needs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import time
import uuid

from ansible_collections.hyper2kvm.migrate.plugins.module_utils import _interrupt
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    AuthenticationError,
    MigrationError,
    UnsupportedError,
)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.vsphere import connection, query

try:
    from pyVmomi import vim, vmodl
except ImportError:
    vim = vmodl = None

POWER_CHOICES = ("shutdown", "poweroff", "snapshot")
FALLBACK_CHOICES = ("fail", "poweroff")
SNAPSHOT_PREFIX = "hyper2kvm-export-"
SNAPSHOT_DESCRIPTION = "Temporary snapshot of hyper2kvm.migrate.vsphere_disk_export; removed when the export ends."
TASK_TIMEOUTS = {"power off": 600, "take snapshot": 3600, "remove snapshot": 4 * 3600}
POLL_FIRST, POLL_MAX = 0.2, 2.0
RUNNING_FIX = ("Choose how the disks are made to hold still: power: shutdown (guest shutdown through VMware Tools), "
               "power: poweroff, or power: snapshot (the VM keeps running; the copy is crash-consistent).")
PRIVILEGES = {
    "shutdown": "VirtualMachine.Interact.PowerOff",
    "poweroff": "VirtualMachine.Interact.PowerOff",
    "snapshot": "VirtualMachine.State.CreateSnapshot and VirtualMachine.State.RemoveSnapshot",
}


def mode(power_state, power):
    """How the disks are read: "off" (nothing to do), "shutdown", "poweroff" or "snapshot"."""
    if power_state == "off":
        return "off"
    if power_state not in ("on", "suspended"):
        raise UnsupportedError("The VM is in the power state %r; its disks cannot be exported now." % power_state,
                               fix="Make the VM accessible in vSphere (reconnect its host), then export again.")
    if power is None:
        state = "on" if power_state == "on" else "off but suspended"
        raise UnsupportedError("The VM is powered %s: its disks are in use." % state, fix=RUNNING_FIX)
    if power == "shutdown" and power_state == "suspended":
        raise UnsupportedError("The VM is suspended: its guest cannot be shut down.",
                               fix="Resume the VM first, or use power: poweroff (discards the suspended state) "
                                   "or power: snapshot.")
    if power not in POWER_CHOICES:
        raise UnsupportedError("power must be one of %s." % ", ".join(POWER_CHOICES))
    return power


def stale_snapshots(snapshot_info):
    """Morefs ('VirtualMachineSnapshot:snapshot-7') of snapshots an earlier, killed export left behind.

    snapshot_info is the VM's "snapshot" property as query.to_plain() makes it. Only snapshots with our
    name prefix and our description count: a user's snapshot is never touched.
    """
    found, pending = [], list((snapshot_info or {}).get("rootSnapshotList") or [])
    while pending:
        node = pending.pop(0)
        if (node.get("name") or "").startswith(SNAPSHOT_PREFIX) and node.get("description") == SNAPSHOT_DESCRIPTION:
            found.append(node.get("snapshot"))
        pending.extend(node.get("childSnapshotList") or [])
    return [ref for ref in found if ref]


def disk_chains(devices):
    """{device key: [datastore paths, top first]} of the virtual disks in a plain device list."""
    chains = {}
    for device in devices or []:
        if device.get("_type") != "VirtualDisk":
            continue
        files, backing = [], device.get("backing") or {}
        while backing.get("fileName") and backing["fileName"] not in files:
            files.append(backing["fileName"])
            backing = backing.get("parent") or {}
        chains[device.get("key")] = files
    return chains


class Vm(object):
    """One VM of a logged-in session: its power operations and snapshots."""

    def __init__(self, si, vm_id, where, clock=time.monotonic, sleep=time.sleep):
        self.si, self.where, self.clock, self.sleep = si, where, clock, sleep
        self.vm = vim.VirtualMachine(vm_id, si._stub)
        self.vm_id = vm_id

    @contextlib.contextmanager
    def calling(self, what, privileges=None):
        """vSphere faults of `what` as MigrationErrors that name the operation (and privileges)."""
        with connection.translated_errors(self.where):
            try:
                yield
            except vim.fault.NoPermission as exc:
                raise AuthenticationError("vSphere refused to %s VM %s: the user lacks the privilege %s."
                                          % (what, self.vm_id, getattr(exc, "privilegeId", None) or "needed"),
                                          fix="Give the user %s on the VM." % (privileges or "that privilege"))
            except vmodl.MethodFault as exc:
                fault = type(exc).__name__.split(".")[-1]
                raise MigrationError("vSphere could not %s VM %s: %s (%s)." % (what, self.vm_id, exc.msg or "no message", fault),
                                     fix="Look at the VM's tasks and events in vSphere, fix the cause, then run "
                                         "the task again.")

    def props(self, obj, kind, paths):
        """{path: value} of obj's properties that are set, read in one round trip."""
        pc = vmodl.query.PropertyCollector
        spec = pc.FilterSpec(objectSet=[pc.ObjectSpec(obj=obj)], propSet=[pc.PropertySpec(type=kind, pathSet=list(paths))])
        result = self.si.RetrieveContent().propertyCollector.RetrievePropertiesEx(specSet=[spec],
                                                                                  options=pc.RetrieveOptions())
        objects = getattr(result, "objects", None) or []
        return dict((prop.name, prop.val) for prop in (objects[0].propSet if objects else []) or [])

    def power_state(self):
        return self.props(self.vm, vim.VirtualMachine, ["runtime.powerState"]).get("runtime.powerState")

    def wait(self, task, what):
        """info.result of a task once it succeeded; its fault as a MigrationError when it failed."""
        deadline, delay = self.clock() + TASK_TIMEOUTS[what], POLL_FIRST
        while True:
            info = self.props(task, vim.Task, ["info.state", "info.error", "info.result"])
            if info.get("info.state") == "success":
                return info.get("info.result")
            if info.get("info.state") == "error":
                raise info.get("info.error") or vmodl.MethodFault(msg="the task failed without saying why")
            if self.clock() > deadline:
                raise MigrationError("vSphere did not finish the task to %s VM %s within %d s."
                                     % (what, self.vm_id, TASK_TIMEOUTS[what]),
                                     fix="Look at the task in vSphere; run the export again once it is done.")
            self.sleep(delay)
            delay = min(delay * 2, POLL_MAX)

    # ---- power ------------------------------------------------------------------------------------------
    def power_off(self):
        with self.calling("power off", PRIVILEGES["poweroff"]):
            try:
                self.wait(self.vm.PowerOffVM_Task(), "power off")
            except vim.fault.InvalidPowerState:
                pass  # it went off on its own in the meantime

    def shutdown(self, timeout, fallback):
        """Ask the guest to shut down and wait up to timeout seconds; then fail or power off (fallback).
        Returns what was done, for the result's actions."""
        with self.calling("shut down", PRIVILEGES["shutdown"]):
            try:
                self.vm.ShutdownGuest()
            except vim.fault.InvalidPowerState:
                return ["the VM was already powered off"]
            except vim.fault.ToolsUnavailable:
                return self._fallback(fallback, "VMware Tools are not running in the guest")
        deadline = self.clock() + timeout
        while self.clock() < deadline:
            with self.calling("read the power state of"):
                if self.power_state() == "poweredOff":
                    return ["shut down the guest"]
            self.sleep(min(POLL_MAX * 2, max(0.1, deadline - self.clock())))
        with self.calling("read the power state of"):
            if self.power_state() == "poweredOff":
                return ["shut down the guest"]
        return self._fallback(fallback, "the guest did not shut down within %d s" % timeout)

    def _fallback(self, fallback, why):
        if fallback != "poweroff":
            raise MigrationError("The guest of VM %s could not be shut down: %s." % (self.vm_id, why),
                                 fix="Shut the guest down yourself, raise shutdown_timeout, or set "
                                     "shutdown_fallback: poweroff to power the VM off after the timeout.")
        self.power_off()
        return ["powered the VM off (%s)" % why]

    # ---- snapshots --------------------------------------------------------------------------------------
    def _snapshot(self, ref):
        return vim.vm.Snapshot(ref.split(":", 1)[-1], self.si._stub)

    def remove_snapshot(self, snapshot):
        with self.calling("remove a snapshot of", PRIVILEGES["snapshot"]):
            self.wait(snapshot.RemoveSnapshot_Task(removeChildren=False, consolidate=True), "remove snapshot")

    def remove_stale(self, refs):
        """Remove snapshots that earlier exports could not (the process was killed); returns their ids."""
        removed = []
        for ref in refs:
            self.remove_snapshot(self._snapshot(ref))
            removed.append(ref.split(":", 1)[-1])
        return removed

    def snapshot_chains(self, snapshot):
        """{device key: chain} of the disks as the snapshot keeps them (the files it froze)."""
        with self.calling("read a snapshot of"):
            devices = self.props(snapshot, vim.vm.Snapshot, ["config.hardware.device"]).get("config.hardware.device")
        return disk_chains(query.to_plain(devices or []))

    @contextlib.contextmanager
    def snapshot(self, report, quiesce=False):
        """A new snapshot without memory, removed when the block ends (however it ends). report gets
        name, id, taken, removed (and removed_error)."""
        report.update(name=SNAPSHOT_PREFIX + uuid.uuid4().hex[:8], id=None, taken=False, removed=False)
        made, task, failed = [], [], False
        try:
            with self.calling("take a snapshot of", PRIVILEGES["snapshot"]):
                task.append(self.vm.CreateSnapshot_Task(name=report["name"], description=SNAPSHOT_DESCRIPTION,
                                                        memory=False, quiesce=bool(quiesce)))
                made.append(self.wait(task[0], "take snapshot"))
            report.update(id=made[0]._moId, taken=True)
            yield made[0]
        except BaseException:
            failed = True
            raise
        finally:
            if task:
                _cleanup(report, lambda: self._remove_taken(made, task[0], report), failed)

    def _remove_taken(self, made, task, report):
        """Remove the snapshot; one whose task was still running when the export stopped is waited for."""
        if not made:
            try:
                with self.calling("take a snapshot of"):
                    made.append(self.wait(task, "take snapshot"))
            except MigrationError:
                return False  # the snapshot was never made: nothing to remove
            report.update(id=made[0]._moId, taken=True)
        self.remove_snapshot(made[0])
        return True


def _cleanup(report, action, body_failed):
    """Run action shielded from signals; its failure is raised only when the block itself succeeded."""
    with _interrupt.shielded():
        try:
            report["removed"] = bool(action())
        except Exception as exc:
            error = exc if isinstance(exc, MigrationError) else MigrationError("Removing the snapshot failed: %s" % exc)
            report["removed_error"] = str(error)
            if not body_failed:
                raise error
