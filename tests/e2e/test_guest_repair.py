"""guest_repair on the real fixture guest: the disk that fails on virtio-blk before the repair boots on
virtio-blk + virtio-net after it, with its MAC and interface name; check mode and failures leave the
image byte-identical; a rerun changes nothing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

import bootcheck
from support import boot_lock, sha256_file

guestfs = pytest.importorskip("guestfs", reason="python3-guestfs missing: run scripts/setup.sh")

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import MigrationError  # noqa: E402
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest import repair  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BOOT_TIMEOUT = 600


def _copy(source, dest):
    subprocess.run(["cp", "--sparse=always", source, str(dest)], check=True)
    return str(dest)


def _leftovers(folder):
    return [n for n in os.listdir(folder) if n.startswith(".h2k-repair-")]


@pytest.fixture(scope="module")
def repaired(converted_fixture, tmp_path_factory):
    """A copy of the converted fixture: previewed in check mode, then repaired for real."""
    image = _copy(converted_fixture, tmp_path_factory.mktemp("repair") / "guest.qcow2")
    original = sha256_file(image)
    with boot_lock():
        preview = repair.repair(image, "qcow2", check_mode=True)
        after_preview = sha256_file(image)
        result = repair.repair(image, "qcow2")
    return {"image": image, "original": original, "after_preview": after_preview, "preview": preview,
            "result": result}


def test_check_mode_plans_and_leaves_the_image_alone(repaired):
    preview = repaired["preview"]
    assert repaired["after_preview"] == repaired["original"]
    assert preview["changed"] is True and preview["committed"] is False and preview["steps"] == []
    diffs = dict((d["before_header"], d) for d in preview["diff"])
    assert "root=/dev/sda1" in diffs["/boot/grub/grub.cfg"]["before"]
    assert "root=/dev/sda1" not in diffs["/boot/grub/grub.cfg"]["after"]
    assert diffs["/etc/fstab"]["after"].startswith("#") and "UUID=" in diffs["/etc/fstab"]["after"]
    assert preview["kernels_rebuilt"] and "virtio_blk" in diffs["/etc/initramfs-tools/modules"]["after"]


def test_repair_changes_and_logs_every_step(repaired, fixture_guest):
    result = repaired["result"]
    assert result["changed"] is True and result["committed"] is True
    assert sha256_file(repaired["image"]) != repaired["original"]
    assert not _leftovers(os.path.dirname(repaired["image"]))
    by_path = dict((s.get("path"), s) for s in result["steps"])
    for path in ("/etc/fstab", "/etc/default/grub", "/boot/grub/grub.cfg", "/etc/initramfs-tools/modules"):
        step = by_path[path]
        assert step["status"] == "changed" and step["sha256_before"] != step["sha256_after"], step
    assert result["kernels_rebuilt"] == [fixture_guest["kernel"]]
    extended = next(s for s in result["steps"] if s.get("kernel"))
    assert extended["method"] == "append" and "virtio_blk" in extended["modules_added"]
    assert extended["sha256_before"] != extended["sha256_after"] and extended["bytes_appended"] > 0
    assert any(s["action"] == "remove_package" and s["status"] == "changed" for s in result["steps"])
    facts = result["facts"]
    assert facts["network"]["interfaces"][0]["pinned_by"]  # ens192 stays tied to its MAC: no change needed
    durations = result["durations"]
    print("repair durations: %s" % durations)
    assert durations["appliance_launch"] and durations["initramfs"] and durations["total"]


def test_repaired_guest_boots_on_virtio(repaired, fixture_guest, one_boot_at_a_time, tmp_path):
    log = tmp_path / "console-virtio.log"
    result = bootcheck.boot(
        repaired["image"], "qcow2", "virtio-blk", "virtio-net-pci", BOOT_TIMEOUT, str(log),
        success=[re.escape(fixture_guest["marker"])], mac=fixture_guest["mac"],
    )
    print("virtio boot: %s after %ss" % (result.status, result.seconds))
    assert result.status == "pass", "%s %s\n%s" % (result.status, result.matched, result.log_tail)
    assert fixture_guest["marker"] in result.matched


def test_rerun_changes_nothing(repaired):
    before = sha256_file(repaired["image"])
    with boot_lock():
        result = repair.repair(repaired["image"], "qcow2")
    assert result["changed"] is False and result["plan"] == [] and result["committed"] is False
    assert sha256_file(repaired["image"]) == before
    assert not _leftovers(os.path.dirname(repaired["image"]))


def test_failed_step_leaves_the_image_byte_identical(converted_fixture, tmp_path):
    image = _copy(converted_fixture, tmp_path / "guest.qcow2")
    before = sha256_file(image)

    def fail_after_fstab(step, app):
        if step["path"] == "/etc/fstab":
            assert app.read_text("/etc/fstab").count("UUID=") == 1  # the write did land, in the overlay
            raise MigrationError("injected failure")

    with boot_lock(), pytest.raises(MigrationError, match=r"step 01-fstab .*injected failure"):
        repair.repair(image, "qcow2", hook=fail_after_fstab)
    assert sha256_file(image) == before
    assert not _leftovers(str(tmp_path))
    shutil.rmtree(str(tmp_path), ignore_errors=True)
