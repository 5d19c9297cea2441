"""Shared fixtures for end-to-end tests: the real fixture guest and a one-boot-at-a-time lock."""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
BUILD_SCRIPT = REPO / "tests" / "fixtures" / "guest" / "build.sh"
BUILD_TIMEOUT = 3600

if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


def _make_collection_importable():
    """The tests import the collection's module_utils: from a staged .../ansible_collections/
    hyper2kvm/migrate tree directly, from a plain checkout through a private symlink tree."""
    if REPO.parent.name == "hyper2kvm" and REPO.parents[1].name == "ansible_collections":
        root = str(REPO.parents[2])
    else:
        root = tempfile.mkdtemp(prefix="h2k-e2e-coll-")
        atexit.register(shutil.rmtree, root, True)
        os.makedirs(os.path.join(root, "ansible_collections", "hyper2kvm"))
        os.symlink(str(REPO), os.path.join(root, "ansible_collections", "hyper2kvm", "migrate"))
    if root not in sys.path:
        sys.path.insert(0, root)


_make_collection_importable()

from support import boot_lock  # noqa: E402  (this folder is on sys.path from here on)


# Host files whose guest namesakes hostile guests link to, or that the code edits inside guests: no
# e2e test may change them on the host (checked around every test).
HOST_FILES = ("/etc/shadow", "/etc/passwd", "/etc/hosts", "/etc/fstab", "/etc/default/grub",
              "/etc/network/interfaces", "/etc/selinux/config", "/usr/sbin/update-initramfs")


def _host_fingerprint():
    out = {}
    for path in HOST_FILES:
        try:
            with open(path, "rb") as fh:
                out[path] = hashlib.sha256(fh.read()).hexdigest()
        except OSError:
            out[path] = None
    return out


@pytest.fixture(autouse=True)
def host_files_untouched():
    before = _host_fingerprint()
    yield
    changed = [p for p, digest in _host_fingerprint().items() if digest != before[p]]
    assert not changed, "a test modified host files: %s" % ", ".join(changed)


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: end-to-end test with real images and tools")
    config.addinivalue_line("markers", "slow: takes minutes (builds or boots a real guest)")


@pytest.fixture(scope="session")
def fixture_guest():
    """Build the fixture guest (cached by build.sh) and yield its facts from guest.json.

    The facts get one more key, "dir": the folder that holds the images.
    """
    if shutil.which("qemu-img") is None:
        pytest.skip("qemu-img missing (Debian package qemu-utils): run scripts/setup.sh")
    proc = subprocess.run(
        [str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False
    )
    if proc.returncode != 0:
        pytest.fail(f"{BUILD_SCRIPT} failed ({proc.returncode}):\n{proc.stderr[-4000:]}", pytrace=False)
    folder = Path(proc.stdout.strip().splitlines()[-1])
    facts = json.loads((folder / "guest.json").read_text(encoding="utf-8"))
    facts["dir"] = str(folder)
    yield facts


@pytest.fixture(scope="session")
def converted_fixture(fixture_guest, tmp_path_factory):
    """The fixture guest's disk as the product converts it: straight out of the OVA to qcow2."""
    from ansible_collections.hyper2kvm.migrate.plugins.module_utils._disk import convert

    dest = tmp_path_factory.mktemp("converted") / "h2k-fixture.qcow2"
    request = convert.Request(os.path.join(fixture_guest["dir"], "h2k-fixture.ova"), str(dest),
                              member="h2k-fixture-disk1.vmdk")
    result = convert.convert(request)
    assert result["changed"] is True
    # The OVA's streamOptimized disk goes through our own reader (parallel inflate): the boots below prove its output.
    assert result["engine"] == "sparse-vmdk"
    return str(dest)


@pytest.fixture()
def one_boot_at_a_time():
    """Hold the host-wide boot lock while a test boots a guest."""
    with boot_lock():
        yield


@pytest.fixture(scope="module")
def blobs(tmp_path_factory):
    """Azurite (installed into the cache by scripts/setup-azure.sh when missing) on 127.0.0.1, as the
    DiskBlobs of tests/e2e/azurite.py; one per test module, stopped by PID afterwards."""
    import azurite

    try:
        launcher = azurite.install()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    with azurite.Azurite(launcher, tmp_path_factory.mktemp("azurite")) as service:
        yield azurite.DiskBlobs(service)
    assert service.proc.returncode == 0, service.log.read_text()[-2000:]
