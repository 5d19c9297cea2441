# -*- coding: utf-8 -*-
"""disk conversion end to end on real images: flattening, idempotence, atomicity, OVA members."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import tarfile

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._disk import convert
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    InvalidInputError, MigrationError)

MIB = 1024 * 1024
# What qemu-img's translated error and our streamOptimized reader say about a file cut short.
TRUNCATED = "truncated or damaged|lies beyond the end of the file"


def _assert_pattern(path, fmt, pattern, offset, length):
    """Read back through qemu-io, independently of the code under test."""
    out = subprocess.run(["qemu-io", "-f", fmt, "-r", "-c", "read -P %d %d %d" % (pattern, offset, length), str(path)],
                         capture_output=True, text=True, check=True).stdout
    assert "Pattern verification failed" not in out, out


@pytest.fixture
def delta_chain(tmp_path, qimg, write_pattern):
    """A VMware-style snapshot chain: base.vmdk <- delta.vmdk (parentFileNameHint)."""
    base, delta = tmp_path / "base.vmdk", tmp_path / "delta.vmdk"
    qimg("create", "-q", "-f", "vmdk", str(base), "64M")
    write_pattern(base, "vmdk", 0x11, 0, MIB)
    qimg("create", "-q", "-f", "vmdk", "-b", "base.vmdk", "-F", "vmdk", str(delta))
    write_pattern(delta, "vmdk", 0x22, 8 * MIB, MIB)
    return delta


def _request(src, dest, **kw):
    return convert.Request(str(src), str(dest), **kw)


def test_flattens_a_vmdk_snapshot_chain(tmp_path, delta_chain):
    dest = tmp_path / "out" / "disk.qcow2"
    dest.parent.mkdir()
    result = convert.convert(_request(delta_chain, dest, compare=True, checksum="sha256"))
    assert result["changed"] is True
    assert [layer["format"] for layer in result["src"]["chain"]] == ["vmdk", "vmdk"]
    _assert_pattern(dest, "qcow2", 0x11, 0, MIB)
    _assert_pattern(dest, "qcow2", 0x22, 8 * MIB, MIB)
    _assert_pattern(dest, "qcow2", 0x00, 20 * MIB, MIB)
    assert result["virtual_size"] == 64 * MIB
    assert len(result["sha256"]) == 64
    assert not (tmp_path / "out" / ".disk.qcow2.partial").exists()
    subprocess.run(["qemu-img", "info", "-f", "qcow2", str(dest)], check=True, capture_output=True)
    assert "backing" not in subprocess.run(["qemu-img", "info", "-f", "qcow2", str(dest)],
                                           capture_output=True, text=True, check=True).stdout


def test_rerun_changes_nothing_until_the_source_changes(tmp_path, delta_chain, write_pattern):
    dest = tmp_path / "disk.qcow2"
    convert.convert(_request(delta_chain, dest))
    before = os.stat(str(dest)).st_mtime_ns
    again = convert.convert(_request(delta_chain, dest))
    assert again["changed"] is False
    assert os.stat(str(dest)).st_mtime_ns == before
    assert convert.convert(_request(delta_chain, dest), check_mode=True)["changed"] is False
    write_pattern(delta_chain, "vmdk", 0x33, 16 * MIB, MIB)
    assert convert.convert(_request(delta_chain, dest), check_mode=True)["changed"] is True
    assert convert.convert(_request(delta_chain, dest))["changed"] is True
    _assert_pattern(dest, "qcow2", 0x33, 16 * MIB, MIB)


def test_an_output_changed_in_place_is_kept_only_with_keep_modified(tmp_path, delta_chain, write_pattern):
    """The pipeline repairs the converted disk in place; a rerun must not throw that work away."""
    dest = tmp_path / "disk.qcow2"
    convert.convert(_request(delta_chain, dest))
    write_pattern(dest, "qcow2", 0x44, 4 * MIB, MIB)  # what guest_repair / a first boot do
    kept = convert.convert(_request(delta_chain, dest, keep_modified=True))
    assert kept["changed"] is False and any("changed in place" in f for f in kept["findings"])
    _assert_pattern(dest, "qcow2", 0x44, 4 * MIB, MIB)
    assert convert.convert(_request(delta_chain, dest), check_mode=True)["changed"] is True
    # Another file in the output's place is not "our output, modified": it is converted again.
    other = tmp_path / "other.qcow2"
    subprocess.run(["cp", str(dest), str(other)], check=True)
    os.rename(str(other), str(dest))
    assert convert.convert(_request(delta_chain, dest, keep_modified=True))["changed"] is True
    _assert_pattern(dest, "qcow2", 0x00, 4 * MIB, MIB)


def test_other_options_are_a_different_output(tmp_path, delta_chain):
    dest = tmp_path / "disk.img"
    convert.convert(_request(delta_chain, dest, dest_format="raw"))
    assert convert.convert(_request(delta_chain, dest, dest_format="qcow2"), check_mode=True)["changed"] is True


def test_check_mode_writes_nothing_and_reports_the_plan(tmp_path, delta_chain):
    dest = tmp_path / "disk.qcow2"
    result = convert.convert(_request(delta_chain, dest), check_mode=True)
    assert result["changed"] is True
    assert result["required_bytes"] > 0
    assert [argv[1] for argv in result["commands"]] == ["measure", "convert"]
    assert sorted(os.listdir(str(tmp_path))) == ["base.vmdk", "delta.vmdk"]


def test_raw_output_stays_sparse(tmp_path, qimg, write_pattern):
    src = tmp_path / "big.vhdx"
    qimg("create", "-q", "-f", "vhdx", str(src), "4G")
    write_pattern(src, "vhdx", 0x44, 1024 * MIB, 4 * MIB)
    dest = tmp_path / "big.raw"
    result = convert.convert(_request(src, dest, dest_format="raw"))
    assert os.path.getsize(str(dest)) == 4096 * MIB
    assert result["actual_size"] < 16 * MIB
    _assert_pattern(dest, "raw", 0x44, 1024 * MIB, 4 * MIB)


def test_refuses_to_overwrite_a_foreign_file(tmp_path, delta_chain):
    dest = tmp_path / "precious.qcow2"
    dest.write_bytes(b"user data")
    with pytest.raises(MigrationError, match="was not written by disk_convert"):
        convert.convert(_request(delta_chain, dest))
    assert dest.read_bytes() == b"user data"
    assert convert.convert(_request(delta_chain, dest, force=True))["changed"] is True


def test_missing_destination_directory(tmp_path, delta_chain):
    dest = tmp_path / "nope" / "d.qcow2"
    with pytest.raises(InvalidInputError, match="Destination directory .* does not exist"):
        convert.convert(_request(delta_chain, dest))
    # In check mode the task that would create it did not run either: plan, and say so.
    planned = convert.convert(_request(delta_chain, dest), check_mode=True)
    assert planned["changed"] is True
    assert "does not exist (yet)" in planned["findings"][0]


@pytest.mark.parametrize("engine", ["auto", "qemu-img"])
def test_failed_conversion_leaves_nothing_behind(tmp_path, qimg, engine):
    """A stream-optimized VMDK cut in half: our reader (auto) or qemu-img fails; no output, no state."""
    full, src = tmp_path / "full.raw", tmp_path / "cut.vmdk"
    full.write_bytes(os.urandom(8 * MIB))
    qimg("convert", "-q", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", str(full), str(tmp_path / "s.vmdk"))
    data = (tmp_path / "s.vmdk").read_bytes()
    src.write_bytes(data[:len(data) // 2])
    dest = tmp_path / "out.qcow2"
    with pytest.raises(InvalidInputError, match=TRUNCATED):
        convert.convert(_request(src, dest, engine=engine))
    leftovers = [name for name in os.listdir(str(tmp_path)) if name.startswith((".out", "out"))]
    assert leftovers == []


def test_previous_output_survives_a_failed_rerun(tmp_path, qimg):
    src, dest = tmp_path / "s.vmdk", tmp_path / "disk.qcow2"
    (tmp_path / "full.raw").write_bytes(os.urandom(8 * MIB))
    qimg("convert", "-q", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized",
         str(tmp_path / "full.raw"), str(src))
    convert.convert(_request(src, dest))
    content = dest.read_bytes()
    data = src.read_bytes()
    src.write_bytes(data[:len(data) // 2])
    with pytest.raises(InvalidInputError, match=TRUNCATED):
        convert.convert(_request(src, dest))
    assert dest.read_bytes() == content
    assert not (tmp_path / ".disk.qcow2.partial").exists()


def test_converts_a_disk_straight_out_of_an_ova(tmp_path, qimg, write_pattern):
    raw = tmp_path / "d.raw"
    qimg("create", "-q", "-f", "raw", str(raw), "64M")
    write_pattern(raw, "raw", 0x5A, 3 * MIB, MIB)
    disk = tmp_path / "vm-disk1.vmdk"
    qimg("convert", "-q", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", str(raw), str(disk))
    ovf = tmp_path / "vm.ovf"
    ovf.write_text("<?xml version='1.0'?><Envelope xmlns='http://schemas.dmtf.org/ovf/envelope/1'/>")
    ova = tmp_path / "vm.ova"
    with tarfile.open(str(ova), "w", format=tarfile.USTAR_FORMAT) as tar:
        tar.add(str(ovf), arcname="vm.ovf")
        tar.add(str(disk), arcname="vm-disk1.vmdk")
    os.unlink(str(disk))
    dest = tmp_path / "vm.qcow2"
    result = convert.convert(_request(ova, dest, member="vm-disk1.vmdk"))
    assert result["src"]["chain"][0]["offset"] > 0
    _assert_pattern(dest, "qcow2", 0x5A, 3 * MIB, MIB)
    assert convert.convert(_request(ova, dest, member="vm-disk1.vmdk"))["changed"] is False


def test_not_enough_space_is_said_before_writing(tmp_path, delta_chain):
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs")
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)], check=True)
    try:
        with pytest.raises(MigrationError, match="Not enough space") as err:
            convert.convert(_request(delta_chain, small / "d.qcow2"))
        assert err.value.details["required_bytes"] > err.value.details["free_bytes"]
        assert os.listdir(str(small)) == []
    finally:
        subprocess.run(["umount", str(small)], check=True)


def test_request_validation():
    with pytest.raises(InvalidInputError, match="coroutines must be between 1 and 16"):
        convert.Request("a", "b", coroutines=32)
