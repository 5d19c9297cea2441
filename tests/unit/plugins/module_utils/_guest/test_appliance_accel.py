# -*- coding: utf-8 -*-
"""KVM or TCG for the libguestfs appliance: a pure decision from the environment and host probes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import InvalidInputError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest import appliance

# (env, kvm_pvm loaded, /dev/kvm exists, /dev/kvm opens rw) -> accel, words the reason must contain
CASES = [
    ({}, False, True, True, "kvm", "usable"),                       # a real KVM host
    ({}, True, True, True, "tcg", "kvm_pvm"),                       # nested PVM: ioctls work, guests never run
    ({}, False, False, False, "tcg", "missing"),                    # no KVM at all (containers, CI)
    ({}, False, True, False, "tcg", "read-write"),                  # no permission on /dev/kvm
    ({"HYPER2KVM_ACCEL": "tcg"}, False, True, True, "tcg", "HYPER2KVM_ACCEL"),
    ({"HYPER2KVM_ACCEL": "kvm"}, True, True, True, "kvm", "HYPER2KVM_ACCEL"),  # the user knows better
    ({"HYPER2KVM_ACCEL": " KVM "}, False, False, False, "kvm", "HYPER2KVM_ACCEL"),
    ({"HYPER2KVM_ACCEL": "auto"}, True, True, True, "tcg", "kvm_pvm"),
    ({"HYPER2KVM_ACCEL": ""}, False, True, True, "kvm", "usable"),
    ({"LIBGUESTFS_BACKEND_SETTINGS": "force_tcg"}, False, True, True, "tcg", "force_tcg"),
    ({"LIBGUESTFS_BACKEND_SETTINGS": "foo:force_tcg"}, False, True, True, "tcg", "force_tcg"),
    ({"LIBGUESTFS_BACKEND_SETTINGS": "force_tcg", "HYPER2KVM_ACCEL": "kvm"}, False, True, True, "kvm",
     "HYPER2KVM_ACCEL"),
    ({"LIBGUESTFS_BACKEND_SETTINGS": "network_bridge=br0"}, False, True, True, "kvm", "usable"),
]


@pytest.mark.parametrize("env, pvm, exists, rw, accel, reason", CASES)
def test_decide_accel(env, pvm, exists, rw, accel, reason):
    decided = appliance.decide_accel(env, pvm, exists, rw)
    assert decided["accel"] == accel
    assert reason in decided["reason"]


@pytest.mark.parametrize("value", ["qemu", "hvf", "yes", "1"])
def test_invalid_override_is_refused(value):
    with pytest.raises(InvalidInputError) as err:
        appliance.decide_accel({"HYPER2KVM_ACCEL": value}, False, True, True)
    assert "HYPER2KVM_ACCEL" in str(err.value) and "tcg" in str(err.value)


def test_detect_accel_probes_this_host():
    decided = appliance.detect_accel({})
    assert decided["accel"] in ("kvm", "tcg") and decided["reason"]


@pytest.mark.parametrize("env, expected", [
    ({"LIBGUESTFS_CACHEDIR": "/srv/cache"}, "/srv/cache"),
    ({"XDG_CACHE_HOME": "/x"}, "/x/hyper2kvm/guestfs"),
])
def test_cachedir(env, expected):
    assert appliance.default_cachedir(env) == expected


@pytest.mark.parametrize("name, expected", [
    ("./usr/lib/modules/x/virtio_blk.ko", "usr/lib/modules/x/virtio_blk.ko"),
    ("/init", "init"), (".hidden", ".hidden"), ("usr", "usr"),
])
def test_initrd_names_are_relative(name, expected):
    assert appliance._relative(name) == expected


@pytest.mark.parametrize("path, inside", [
    ("/proc/self/environ", False), ("/proc", False), ("/sys/kernel", False), ("/dev/sda", False),
    ("/run/x", False), ("/etc/fstab", True), ("/processes", True), ("/usr/lib/os-release", True),
])
def test_pseudo_dirs(path, inside):
    assert appliance._in_pseudo_dir(path) is (not inside)


def test_missing_binding_is_a_clear_error(monkeypatch):
    from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import MissingDependencyError
    monkeypatch.setattr(appliance, "guestfs", None)
    with pytest.raises(MissingDependencyError) as err:
        appliance.Appliance([{"path": "/x", "format": "raw"}])
    assert "python3-guestfs" in str(err.value)


def test_drive_without_format_is_refused():
    if appliance.guestfs is None:
        pytest.skip("the guestfs binding is checked first")
    with pytest.raises(InvalidInputError):
        appliance.Appliance([{"path": "/x"}])
