"""guest_info and guest_repair on hostile copies of the real fixture guest, and a real repair step that
fails because of what the guest holds. The hostile content is planted INSIDE the guest images with
libguestfs (one appliance launch for all of them); nothing hostile ever exists on the host. Every
test checks that the image is byte-identical afterwards (or only changed as asked), that no overlay
is left behind and that the host's own files are untouched."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from support import boot_lock, sha256_file

guestfs = pytest.importorskip("guestfs", reason="python3-guestfs missing: run scripts/setup.sh")

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (  # noqa: E402
    MigrationError, UnsafeInputError, UnsupportedError)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest import inspect as guest  # noqa: E402
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest import repair  # noqa: E402
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest.appliance import Appliance  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

GUEST_CANARY = "h2k-guest-canary:$6$GUEST-SHADOW-SECRET:19000:0:99999:7:::\n"
HOST_CANARY = "HOST-ONLY-SECRET"
BROKEN_TOOL = b"#!/bin/sh\necho 'update-initramfs: broken on purpose by the h2k test' >&2\nexit 1\n"


def _leftovers(folder):
    return [n for n in os.listdir(folder) if n.startswith(".h2k-repair-")]


def _plant_links(g, host_secret):
    """Symlinks out of the guest and onto other guest files, binary/huge files, a FIFO, and what a
    normal guest has too (a drop-in folder, a /dev/null mask), which must raise no warning."""
    g.write_append("/etc/shadow", GUEST_CANARY.encode())
    g.rm("/etc/default/grub")
    g.ln_s("../../../../../../etc/shadow", "/etc/default/grub")       # ../ chain onto the guest's secrets
    g.rm("/etc/fstab")
    g.ln_s("/proc/self/mounts", "/etc/fstab")                          # into the appliance's /proc
    g.write("/etc/network/interfaces", b"auto ens192\niface ens192 inet dhcp\n\0\0\0\x7fELF\x02\x01")
    g.mkdir_p("/etc/selinux")
    g.write("/etc/selinux/config", b"SELINUX=enforcing\n" + b"#" * (2 * 1024 * 1024) + b"\n")
    g.mkdir_p("/etc/network/interfaces.d")
    g.mkfifo(0o644, "/etc/network/interfaces.d/fifo")
    g.ln_s(host_secret, "/etc/systemd/network/20-host.network")          # a path that exists on the HOST only
    g.mkdir_p("/etc/systemd/network/50-dropin.network.d")
    g.write("/etc/systemd/network/50-dropin.network.d/mtu.conf", b"[Link]\nMTUBytes=1500\n")
    g.mkdir_p("/etc/udev/rules.d")
    g.ln_s("/dev/null", "/etc/udev/rules.d/80-net-setup-link.rules")


@pytest.fixture(scope="module")
def images(converted_fixture, tmp_path_factory):
    """Three guests made in one appliance launch: "links" (hostile files), "broken" (the fixture with a
    failing update-initramfs) and "empty" (a partitioned disk with data but no OS)."""
    folder = tmp_path_factory.mktemp("hostile")
    host_secret = folder / "host-secret"
    host_secret.write_text(HOST_CANARY + "\n")
    paths = {}
    for name in ("links", "broken"):
        paths[name] = str(folder / name / "guest.qcow2")
        os.makedirs(os.path.dirname(paths[name]))
        subprocess.run(["cp", "--sparse=always", converted_fixture, paths[name]], check=True)
    paths["empty"] = str(folder / "empty" / "guest.qcow2")
    os.makedirs(os.path.dirname(paths["empty"]))
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", paths["empty"], "64M"], check=True)
    drives = [{"path": paths[n], "format": "qcow2", "readonly": False} for n in ("links", "broken", "empty")]
    with boot_lock(), Appliance(drives) as app:
        g = app.g
        g.mount("/dev/sda1", "/")
        _plant_links(g, str(host_secret))
        g.umount_all()
        g.mount("/dev/sdb1", "/")
        assert g.is_file("/usr/sbin/update-initramfs")
        g.write("/usr/sbin/update-initramfs", BROKEN_TOOL)
        g.chmod(0o755, "/usr/sbin/update-initramfs")
        g.umount_all()
        g.part_disk("/dev/sdc", "mbr")
        g.mkfs("ext4", "/dev/sdc1")
        g.mount("/dev/sdc1", "/")
        g.write("/data.csv", b"id,value\n1,2\n")
        g.umount_all()
        g.shutdown()
    return dict(paths, host_secret=str(host_secret))


def _by_path(findings):
    return dict((f.get("path"), f) for f in findings)


def test_guest_info_reports_hostile_files_and_reads_none(images):
    image = images["links"]
    before = sha256_file(image)
    with boot_lock():
        result = guest.inspect(image, "qcow2")
    assert sha256_file(image) == before
    assert (result["os"]["type"], result["os"]["distro"]) == ("linux", "debian")
    assert result["blockers"] == []
    found = _by_path(result["findings"])
    expected = {
        "/etc/default/grub": ("symlink_elsewhere", "/etc/shadow"),
        "/etc/fstab": ("symlink_outside_guest", "/proc/self/mounts"),
        "/etc/network/interfaces": ("binary_file", "NUL"),
        "/etc/selinux/config": ("file_too_large", "bytes"),
        "/etc/network/interfaces.d/fifo": ("not_a_regular_file", "regular file"),
        "/etc/systemd/network/20-host.network": ("dangling_symlink", "does not resolve inside the guest"),
        "/etc/udev/rules.d/80-net-setup-link.rules": ("masked", "/dev/null"),
    }
    for path, (code, words) in expected.items():
        assert path in found, (path, result["findings"])
        assert found[path]["code"] == code and words in found[path]["message"], found[path]
        assert found[path]["severity"] == ("info" if code == "masked" else "warning")
    assert not [p for p in found if p and ".network.d" in p]  # a drop-in folder is no config file
    assert result["fstab"] == {"readable": False, "entries": [], "unstable": []}
    assert result["bootloader"]["defaults"] == {} and result["selinux"]["mode"] is None
    dumped = json.dumps(result)
    assert "GUEST-SHADOW-SECRET" not in dumped and HOST_CANARY not in dumped


def test_guest_repair_refuses_hostile_files_and_leaves_the_image(images):
    image = images["links"]
    before = sha256_file(image)
    with boot_lock(), pytest.raises(UnsafeInputError) as err:
        repair.repair(image, "qcow2")
    message = str(err.value)
    assert "/etc/default/grub" in message and "/etc/shadow" in message and "/etc/fstab" in message
    assert err.value.fix and "regular text files" in err.value.fix
    assert "GUEST-SHADOW-SECRET" not in message and HOST_CANARY not in message
    assert sha256_file(image) == before
    assert not _leftovers(os.path.dirname(image))


def test_guest_repair_refuses_a_disk_without_os(images):
    image = images["empty"]
    before = sha256_file(image)
    with boot_lock(), pytest.raises(UnsupportedError) as err:
        repair.repair(image, "qcow2", check_mode=True)
    assert "No operating system found" in str(err.value) and "system disk" in str(err.value)
    assert sha256_file(image) == before


def test_real_failing_initramfs_rebuild_leaves_the_image_byte_identical(images):
    """The guest's own update-initramfs fails: no test hook, the repair fails for real in its last step
    after four files were written to the overlay, and none of it reaches the image."""
    image = images["broken"]
    before = sha256_file(image)
    with boot_lock(), pytest.raises(MigrationError) as err:
        repair.repair(image, "qcow2", options={"remove_vmware_tools": False, "initramfs_method": "rebuild"})
    message = str(err.value)
    print("failure:", message)
    assert "step" in message and "initramfs" in message
    assert "failed in the guest (exit status 1)" in message and "broken on purpose" in message
    assert err.value.fix and "source VM" in err.value.fix
    done = err.value.details["steps_done"]
    assert [s["path"] for s in done if s["action"] == "write_file"] == [
        "/etc/fstab", "/etc/default/grub", "/boot/grub/grub.cfg", "/etc/initramfs-tools/modules"]
    assert all(s["status"] == "changed" for s in done)
    assert sha256_file(image) == before
    assert not _leftovers(os.path.dirname(image))
    assert subprocess.run(["qemu-img", "check", "-q", image], check=False).returncode == 0
