# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""source_info end to end in-process: argument parsing, result shape, failure reporting."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import subprocess

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.modules import source_info

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "vmx")


def make_vm(directory, fixture="linux-pvscsi.vmx"):
    """The fixture .vmx in directory, with small real VMDKs under the names it gives them."""
    for name in ("web01.vmdk", "web01_1.vmdk"):
        subprocess.run(["qemu-img", "create", "-q", "-f", "vmdk", str(directory / name), "8M"], check=True)
    path = directory / "web01.vmx"
    shutil.copy(os.path.join(FIXTURES, fixture), str(path))
    return str(path)


@pytest.mark.parametrize("check_mode", [False, True])
def test_vmx(tmp_path, run_module, check_mode):
    out = run_module(source_info, {"type": "vmx", "path": make_vm(tmp_path)}, check_mode=check_mode)
    assert out["changed"] is False and "failed" not in out and not out.get("warnings")
    [vm] = out["vms"]
    assert (vm["name"], vm["cpus"], vm["memory_mib"], vm["source"]["type"]) == ("web01", 4, 8192, "vmx")
    assert vm["disks"][0]["capacity_bytes"] == 8 << 20 and vm["disks"][0]["source"]["format"] == "vmdk"
    assert vm["nics"][0]["mac"] == "00:50:56:3a:12:34"
    assert out["source"]["type"] == "vmx" and len(out["commands"]) == 2


def test_loose_disks_with_options(tmp_path, run_module):
    subprocess.run(["qemu-img", "create", "-q", "-f", "vhdx", str(tmp_path / "os.vhdx"), "8M"], check=True)
    out = run_module(source_info, {"type": "disk", "disks": [str(tmp_path / "os.vhdx")], "name": "hv01",
                                   "memory_mib": 4096, "firmware": "uefi",
                                   "nics": [{"mac": "00:15:5d:00:00:01", "network": "Prod"}]})
    [vm] = out["vms"]
    assert (vm["name"], vm["cpus"], vm["memory_mib"], vm["firmware"]) == ("hv01", 2, 4096, "uefi")
    assert vm["disks"][0]["source"]["format"] == "vhdx" and vm["disks"][0]["capacity_bytes"] == 8 << 20
    assert [(n["mac"], n["network"]) for n in vm["nics"]] == [("00:15:5d:00:00:01", "Prod")]


def test_warnings_reach_the_user(tmp_path, run_module):
    path = make_vm(tmp_path)
    (tmp_path / "web01.vmx.lck").mkdir()
    out = run_module(source_info, {"type": "vmx", "path": path})
    assert any("may be running" in str(w) for w in out["warnings"])


@pytest.mark.parametrize("fixture, extra, kind, words", [
    ("hostile/escape-dotdot.vmx", {}, "UnsafeInputError", ["'../outside/escape.vmdk'", "'..'", "Fix:"]),
    ("linux-pvscsi.vmx", {"cpus": 4}, "InvalidInputError", ["cpus cannot be used with type=vmx", "Fix:"]),
    (None, {"type": "disk", "disks": ["nothing.raw"]}, "InvalidInputError", ["nothing.raw", "cannot be read"]),
])
def test_failures_are_messages(tmp_path, run_module, fixture, extra, kind, words):
    args = {"type": "vmx", "path": make_vm(tmp_path, fixture) if fixture else None}
    args.update(extra)
    if args.get("disks"):
        args["disks"] = [str(tmp_path / name) for name in args["disks"]]
    out = run_module(source_info, dict((k, v) for k, v in args.items() if v is not None))
    assert out["failed"] is True and out["error_kind"] == kind
    for word in words:
        assert word in out["msg"]
    assert "Traceback" not in json.dumps(out)


@pytest.mark.parametrize("args, words", [
    ({"type": "vmx"}, ["type is vmx", "path"]),
    ({"type": "disk"}, ["type is disk", "disks"]),
    ({"type": "hyperv", "path": "/x"}, ["type", "vmx, disk"]),
])
def test_argument_errors(run_module, args, words):
    out = run_module(source_info, args)
    assert out["failed"] is True
    for word in words:
        assert word in out["msg"]
