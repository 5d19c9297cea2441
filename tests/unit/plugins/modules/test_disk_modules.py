# -*- coding: utf-8 -*-
"""disk_info and disk_convert as Ansible modules: argument handling, check mode, diff, errors."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess

from ansible_collections.hyper2kvm.migrate.plugins.modules import disk_convert, disk_info


def _image(path, fmt="vmdk", size="32M", *extra):
    subprocess.run(["qemu-img", "create", "-q", "-f", fmt] + list(extra) + [str(path), size], check=True)
    return str(path)


def test_disk_info_reports_format_and_size(tmp_path, run_module):
    result = run_module(disk_info, {"path": _image(tmp_path / "d.vmdk")}, check_mode=True)
    assert result["changed"] is False
    assert (result["format"], result["subformat"], result["virtual_size"]) == ("vmdk", "monolithicSparse", 32 << 20)


def test_disk_info_fails_cleanly_on_a_hostile_image(tmp_path, run_module):
    path = _image(tmp_path / "evil.qcow2", "qcow2", "32M", "-u", "-b", "/etc/passwd", "-F", "raw")
    result = run_module(disk_info, {"path": path})
    assert result["failed"] is True
    assert result["error_kind"] == "UnsafeInputError"
    assert "/etc/passwd" in result["msg"] and "Fix:" in result["msg"]
    assert "Traceback" not in result["msg"]


def test_disk_info_format_alias_and_mismatch(tmp_path, run_module):
    path = _image(tmp_path / "d.img", "vpc")
    assert run_module(disk_info, {"path": path, "format": "vhd"})["format"] == "vpc"
    assert "header says vpc" in run_module(disk_info, {"path": path, "format": "qcow2"})["msg"]


def test_disk_convert_check_then_real_then_idempotent_with_diff(tmp_path, run_module):
    src = _image(tmp_path / "d.vmdk")
    args = {"src": src, "dest": str(tmp_path / "d.qcow2")}
    planned = run_module(disk_convert, args, check_mode=True, diff=True)
    assert planned["changed"] is True
    assert planned["diff"]["before"] == {}
    assert planned["diff"]["after"]["source"]["chain"][0]["format"] == "vmdk"
    assert not os.path.exists(args["dest"])
    done = run_module(disk_convert, args)
    assert done["changed"] is True and os.path.exists(args["dest"])
    again = run_module(disk_convert, args, diff=True)
    assert again["changed"] is False
    assert again["diff"]["before"] == again["diff"]["after"]


def test_disk_convert_rejects_bad_arguments(tmp_path, run_module):
    result = run_module(disk_convert, {"src": str(tmp_path / "x"), "dest": str(tmp_path / "y"), "dest_format": "vmdk"})
    assert result["failed"] is True and "dest_format" in result["msg"]
    result = run_module(disk_convert, {"src": str(tmp_path / "missing.vmdk"), "dest": str(tmp_path / "y.qcow2")})
    assert result["failed"] is True and "does not exist" in result["msg"]
