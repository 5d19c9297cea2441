# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What vsphere_disk_export does to the VM: the power decision, shutdown with its timeout and fallback,
and the snapshot that is removed on every way out - on a scripted VM (the simulator covers the happy
paths end to end; these are the paths it cannot produce)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

pytest.importorskip("pyVmomi")

from pyVmomi import vim  # noqa: E402

from ansible_collections.hyper2kvm.migrate.plugins.module_utils import _interrupt  # noqa: E402
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (  # noqa: E402
    MigrationError, UnsupportedError)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.vsphere import power  # noqa: E402


@pytest.mark.parametrize("state, choice, how", [
    ("off", None, "off"), ("off", "snapshot", "off"), ("on", "shutdown", "shutdown"), ("on", "poweroff", "poweroff"),
    ("on", "snapshot", "snapshot"), ("suspended", "poweroff", "poweroff"), ("suspended", "snapshot", "snapshot"),
])
def test_mode(state, choice, how):
    assert power.mode(state, choice) == how


@pytest.mark.parametrize("state, choice, words", [
    ("on", None, "powered on: its disks are in use"),
    ("suspended", None, "off but suspended"),
    ("suspended", "shutdown", "cannot be shut down"),
    ("unknown", "poweroff", "power state 'unknown'"),
])
def test_mode_refuses(state, choice, words):
    with pytest.raises(UnsupportedError) as caught:
        power.mode(state, choice)
    assert words in str(caught.value)


def test_stale_snapshots_are_only_ours():
    ours = {"name": "hyper2kvm-export-1a2b3c4d", "description": power.SNAPSHOT_DESCRIPTION,
            "snapshot": "VirtualMachineSnapshot:snapshot-9"}
    lookalike = {"name": "hyper2kvm-export-by-hand", "description": "mine", "snapshot": "VirtualMachineSnapshot:s-2"}
    info = {"rootSnapshotList": [{"name": "before-upgrade", "snapshot": "VirtualMachineSnapshot:snapshot-1",
                                  "childSnapshotList": [ours, lookalike]}]}
    assert power.stale_snapshots(info) == ["VirtualMachineSnapshot:snapshot-9"]
    assert power.stale_snapshots(None) == []


def test_disk_chains():
    base = {"fileName": "[ds] a/a.vmdk"}
    middle = {"fileName": "[ds] a/a-000001.vmdk", "parent": base}
    devices = [{"_type": "VirtualDisk", "key": 2000, "backing": {"fileName": "[ds] a/a-000002.vmdk", "parent": middle}},
               {"_type": "VirtualCdrom", "key": 3000}, {"_type": "VirtualDisk", "key": 2001, "backing": {}}]
    assert power.disk_chains(devices) == {2000: ["[ds] a/a-000002.vmdk", "[ds] a/a-000001.vmdk", "[ds] a/a.vmdk"],
                                          2001: []}


# ---- a scripted VM --------------------------------------------------------------------------------------------

class Clock(object):
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class Snapshot(object):
    def __init__(self, vm, moid="snapshot-5"):
        self.vm, self._moId = vm, moid

    def RemoveSnapshot_Task(self, removeChildren, consolidate):
        self.vm.calls.append(("remove", self._moId, removeChildren, consolidate))
        if self.vm.remove_fails:
            raise vim.fault.TaskInProgress(msg="busy")
        return "remove-task"


class ApiVm(object):
    """The pyVmomi VM the code calls; states is what runtime.powerState reads, one per read (last repeats)."""

    def __init__(self, states=("poweredOn",), shutdown_fault=None):
        self.states, self.shutdown_fault, self.calls, self.remove_fails = list(states), shutdown_fault, [], False

    def ShutdownGuest(self):
        self.calls.append(("shutdown",))
        if self.shutdown_fault:
            raise self.shutdown_fault

    def PowerOffVM_Task(self):
        self.calls.append(("poweroff",))
        return "poweroff-task"

    def CreateSnapshot_Task(self, name, description, memory, quiesce):
        self.calls.append(("snapshot", name, memory, quiesce))
        return "create-task"


class ScriptedVm(power.Vm):
    def __init__(self, api_vm, task_results=None):
        self.clock = Clock()
        self.sleep, self.where, self.vm, self.vm_id = self.clock.sleep, "vc:443", api_vm, "vm-42"
        self.task_results = task_results or {}

    def power_state(self):
        return self.vm.states.pop(0) if len(self.vm.states) > 1 else self.vm.states[0]

    def wait(self, task, what):
        self.vm.calls.append(("wait", task))
        result = self.task_results.get(task)
        if isinstance(result, BaseException):
            raise result
        return result


def test_shutdown_waits_for_the_guest():
    vm = ScriptedVm(ApiVm(["poweredOn", "poweredOn", "poweredOff"]))
    assert vm.shutdown(300, "fail") == ["shut down the guest"]
    assert ("poweroff",) not in vm.vm.calls and vm.clock.now < 300


def test_shutdown_timeout_fails_and_leaves_the_vm_running():
    vm = ScriptedVm(ApiVm(["poweredOn"]))
    with pytest.raises(MigrationError) as caught:
        vm.shutdown(60, "fail")
    assert "did not shut down within 60 s" in str(caught.value) and "shutdown_fallback: poweroff" in str(caught.value)
    assert vm.vm.calls == [("shutdown",)] and 60 <= vm.clock.now < 70


def test_shutdown_timeout_then_power_off():
    vm = ScriptedVm(ApiVm(["poweredOn"]))
    assert vm.shutdown(60, "poweroff") == ["powered the VM off (the guest did not shut down within 60 s)"]
    assert vm.vm.calls[-2:] == [("poweroff",), ("wait", "poweroff-task")]


def test_shutdown_without_tools():
    vm = ScriptedVm(ApiVm(shutdown_fault=vim.fault.ToolsUnavailable(msg="no tools")))
    with pytest.raises(MigrationError) as caught:
        vm.shutdown(60, "fail")
    assert "VMware Tools are not running" in str(caught.value) and vm.clock.now == 0
    vm = ScriptedVm(ApiVm(shutdown_fault=vim.fault.ToolsUnavailable(msg="no tools")))
    assert vm.shutdown(60, "poweroff") == ["powered the VM off (VMware Tools are not running in the guest)"]


def test_no_permission_names_the_privilege():
    vm = ScriptedVm(ApiVm(shutdown_fault=vim.fault.NoPermission(msg="denied", privilegeId="VirtualMachine.Interact.PowerOff")))
    with pytest.raises(MigrationError) as caught:
        vm.shutdown(60, "fail")
    assert "lacks the privilege VirtualMachine.Interact.PowerOff" in str(caught.value)


def snapshot_vm(**task_results):
    api_vm = ApiVm()
    snap = Snapshot(api_vm)
    results = {"create-task": snap}
    results.update(task_results)
    return ScriptedVm(api_vm, results), snap


def test_snapshot_is_removed_after_success():
    vm, snap = snapshot_vm()
    report = {}
    with vm.snapshot(report, quiesce=True) as taken:
        assert taken is snap and report["taken"] is True and report["id"] == "snapshot-5"
    assert report["removed"] is True and report["name"].startswith(power.SNAPSHOT_PREFIX)
    assert vm.vm.calls[0] == ("snapshot", report["name"], False, True)
    assert ("remove", "snapshot-5", False, True) in vm.vm.calls


@pytest.mark.parametrize("error", [MigrationError("download failed"), _interrupt.Interrupted("Stopped by SIGTERM")])
def test_snapshot_is_removed_when_the_block_fails(error):
    vm, _snap = snapshot_vm()
    report = {}
    with pytest.raises(type(error)) as caught:
        with vm.snapshot(report):
            raise error
    assert caught.value is error and report["removed"] is True


def test_failed_removal_after_success_fails_the_task():
    vm, _snap = snapshot_vm()
    vm.vm.remove_fails = True
    report = {}
    with pytest.raises(MigrationError) as caught:
        with vm.snapshot(report):
            pass
    assert "could not remove a snapshot of VM vm-42: busy" in str(caught.value)
    assert report["removed"] is False and "busy" in report["removed_error"]


def test_failed_removal_after_a_failure_does_not_hide_the_first_error():
    vm, _snap = snapshot_vm()
    vm.vm.remove_fails = True
    report = {}
    with pytest.raises(MigrationError) as caught:
        with vm.snapshot(report):
            raise MigrationError("the download failed")
    assert str(caught.value) == "the download failed" and "busy" in report["removed_error"]


def test_snapshot_still_being_taken_when_stopped_is_waited_for_and_removed():
    """SIGTERM while the creation task runs: the cleanup waits for that task and removes what it made."""
    api_vm = ApiVm()
    snap = Snapshot(api_vm)
    answers = iter([_interrupt.Interrupted("Stopped by SIGTERM"), snap])

    class Stopped(ScriptedVm):
        def wait(self, task, what):
            self.vm.calls.append(("wait", task))
            result = next(answers) if task == "create-task" else None
            if isinstance(result, BaseException):
                raise result
            return result
    vm = Stopped(api_vm)
    report = {}
    with pytest.raises(_interrupt.Interrupted):
        with vm.snapshot(report):
            pass
    assert report["taken"] is True and report["removed"] is True
    assert ("remove", "snapshot-5", False, True) in api_vm.calls


def test_snapshot_that_failed_to_be_taken_needs_no_removal():
    vm, _snap = snapshot_vm(**{"create-task": vim.fault.InvalidState(msg="host busy")})
    report = {}
    with pytest.raises(MigrationError) as caught:
        with vm.snapshot(report):
            pass
    assert "could not take a snapshot of VM vm-42: host busy" in str(caught.value)
    assert report["taken"] is False and not [c for c in vm.vm.calls if c[0] == "remove"]
