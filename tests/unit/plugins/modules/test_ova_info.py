# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ova_info end to end in-process: argument parsing, result shape, failure reporting."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import io
import json
import os
import tarfile

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.hyper2kvm.migrate.plugins.modules import ova_info

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "ovf", "minimal-generic.ovf")


def make_ova(path, hostile=False, manifest=True):
    """The minimal fixture as an OVA (its one disk is a few fake bytes), optionally with a symlink."""
    with open(FIXTURE, "rb") as handle:
        descriptor = handle.read()
    members = [("tiny.ovf", descriptor), ("disk.raw", b"\0" * 4096)]
    if manifest:
        mf = "".join("SHA256(%s)= %s\n" % (n, hashlib.sha256(d).hexdigest()) for n, d in members)
        members.insert(1, ("tiny.mf", mf.encode()))
    with tarfile.open(str(path), "w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if hostile:
            link = tarfile.TarInfo("escape.vmdk")
            link.type, link.linkname = tarfile.SYMTYPE, "/etc/shadow"
            tar.addfile(link)
    return str(path)


def run_module(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exited:
            ova_info.main()
    out = json.loads(capsys.readouterr().out)
    return exited.value.code, out


@pytest.mark.parametrize("check_mode", [False, True])
def test_good_ova(tmp_path, capsys, check_mode):
    path = make_ova(tmp_path / "tiny.ova")
    code, out = run_module(capsys, {"path": path, "_ansible_check_mode": check_mode})
    assert code == 0 and out["changed"] is False and "failed" not in out
    assert (out["container"], out["descriptor"]) == ("ova", "tiny.ovf")
    assert out["manifest"]["verified"] is True and out["manifest"]["algorithm"] == "SHA256"
    [vm] = out["vms"]
    assert (vm["name"], vm["cpus"], vm["memory_mib"], vm["firmware"]) == ("tiny", 1, 512, "bios")
    assert vm["disks"][0]["source"]["file"] == "disk.raw" and vm["disks"][0]["boot"] is True
    assert [m["name"] for m in out["members"]] == ["tiny.ovf", "tiny.mf", "disk.raw"]
    assert not out.get("warnings")


def test_warnings_reach_the_user(tmp_path, capsys):
    path = make_ova(tmp_path / "tiny.ova", manifest=False)
    code, out = run_module(capsys, {"path": path, "verify_manifest": False})
    assert code == 0 and out["manifest"]["present"] is False
    assert any("No manifest" in str(w) for w in out["warnings"])


def test_hostile_ova_fails_with_a_message(tmp_path, capsys):
    path = make_ova(tmp_path / "evil.ova", hostile=True)
    code, out = run_module(capsys, {"path": path})
    assert code == 1 and out["failed"] is True
    assert "'escape.vmdk'" in out["msg"] and "symbolic link" in out["msg"] and "Fix:" in out["msg"]
    assert out["error_kind"] == "UnsafeInputError"
    assert "Traceback" not in json.dumps(out)


def test_missing_path_argument(capsys):
    code, out = run_module(capsys, {})
    assert code == 1 and "path" in out["msg"]
