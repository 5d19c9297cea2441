"""requirements: a conversion host's checks and the exact fix for each missing piece (pure parts)."""

from __future__ import annotations

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._host import requirements

DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nID=debian\n'
UBUNTU = 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n'
ROCKY = 'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n'
ARCH = 'NAME="Arch Linux"\nID=arch\n'

ALL_GOOD = {"python": "/usr/bin/python3", "qemu_img": "7.2.19", "guestfs_python": None,
            "kernels": ["/boot/vmlinuz-6.1.0-27-amd64"], "kernels_unreadable": [], "libvirt_python": None,
            "libvirt": None, "uri": "qemu:///system", "firmware": ["50-edk2-ovmf-4m.json"]}


@pytest.mark.parametrize("text, family", [(DEBIAN, "debian"), (UBUNTU, "debian"), (ROCKY, "redhat"),
                                          (ARCH, None), ("", None)])
def test_family_from_os_release(text, family):
    assert requirements.family(text) == family


def test_a_complete_host_passes_every_check_once():
    checks = requirements.evaluate(ALL_GOOD, requirements.STAGES, "debian")
    assert [c["name"] for c in checks] == ["qemu_img", "guestfs_python", "appliance_kernel", "libvirt_python",
                                           "libvirt_daemon", "uefi_firmware"]
    assert all(c["ok"] and c["fix"] is None and c["packages"] == [] for c in checks)


def test_only_the_stages_asked_for_are_checked():
    checks = requirements.evaluate(ALL_GOOD, ["convert"], "debian")
    assert [c["name"] for c in checks] == ["qemu_img"]


@pytest.mark.parametrize("family, command", [("debian", "apt-get install -y python3-guestfs libguestfs-tools"),
                                             ("redhat", "dnf install -y python3-libguestfs libguestfs")])
def test_a_venv_without_guestfs_gets_the_package_and_the_interpreter_advice(family, command):
    measured = dict(ALL_GOOD, python="/opt/venv/bin/python", guestfs_python="No module named 'guestfs'")
    (check,) = [c for c in requirements.evaluate(measured, ["repair"], family) if not c["ok"]]
    assert check["name"] == "guestfs_python"
    assert "/opt/venv/bin/python cannot import guestfs" in check["detail"]
    assert check["fix"].startswith(command)
    assert "--system-site-packages" in check["fix"]


def test_unknown_family_names_both_package_sets():
    measured = dict(ALL_GOOD, qemu_img=None)
    (check,) = requirements.evaluate(measured, ["convert"], None)
    assert check["fix"] == "install qemu-utils (Debian/Ubuntu) or qemu-img (RHEL/Fedora)"


def test_unreadable_ubuntu_kernel_gets_chmod_not_a_package():
    measured = dict(ALL_GOOD, kernels=[], kernels_unreadable=["/boot/vmlinuz-6.8.0-45-generic"])
    (check,) = [c for c in requirements.evaluate(measured, ["repair"], "debian") if not c["ok"]]
    assert check["name"] == "appliance_kernel"
    assert check["fix"].startswith("chmod 0644 /boot/vmlinuz-6.8.0-45-generic")


def test_a_silent_libvirtd_says_how_to_start_it_and_a_missing_binding_skips_the_daemon_check():
    down = dict(ALL_GOOD, libvirt="Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file")
    (check,) = [c for c in requirements.evaluate(down, ["define", "validate"], "debian") if not c["ok"]]
    assert check["name"] == "libvirt_daemon" and "virtlogd -d && libvirtd -d" in check["fix"]
    nobinding = dict(ALL_GOOD, libvirt_python="No module named 'libvirt'")
    names = [c["name"] for c in requirements.evaluate(nobinding, ["define"], "debian")]
    assert "libvirt_daemon" not in names and "libvirt_python" in names


def test_probe_measures_this_host(tmp_path):
    measured = requirements.probe(None, "test:///default", ["convert", "define"])
    assert measured["qemu_img"] is None  # no binary given
    assert measured["libvirt"] is None or isinstance(measured["libvirt"], str)
    assert isinstance(measured["firmware"], list)
