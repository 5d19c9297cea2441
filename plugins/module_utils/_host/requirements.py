# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a conversion host needs for each stage, how to tell whether it has it, and the exact fix.

The checks run inside the module, that is with the very interpreter that will later import guestfs and
libvirt, so "python3-guestfs is installed" is never confused with "this Python can use it".
`evaluate` is pure: it takes what `probe` measured and turns it into checks with fixes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import json
import os
import re
import subprocess
import sys

STAGES = ("convert", "repair", "define", "validate")

# Package names per family. The role installs exactly the packages of the failed checks.
PACKAGES = {
    "debian": {
        "qemu_img": ["qemu-utils"],
        "guestfs_python": ["python3-guestfs", "libguestfs-tools"],
        "appliance_kernel": ["linux-image-amd64"],
        "libvirt_python": ["python3-libvirt"],
        "libvirt_daemon": ["libvirt-daemon-system", "qemu-system-x86"],
        "uefi_firmware": ["ovmf"],
    },
    "redhat": {
        "qemu_img": ["qemu-img"],
        "guestfs_python": ["python3-libguestfs", "libguestfs"],
        "appliance_kernel": ["kernel-core"],
        "libvirt_python": ["python3-libvirt"],
        "libvirt_daemon": ["libvirt-daemon-kvm"],
        "uefi_firmware": ["edk2-ovmf"],
    },
}
INSTALL_COMMAND = {"debian": "apt-get install -y", "redhat": "dnf install -y"}
FIRMWARE_DESCRIPTORS = ("/usr/share/qemu/firmware", "/etc/qemu/firmware")
KERNEL_GLOB = "/boot/vmlinuz-*"
LIBVIRT_START = ("systemctl enable --now libvirtd virtlogd (without systemd: virtlogd -d && libvirtd -d; "
                 "this collection's scripts/start-libvirt.sh does that)")


def family(os_release_text):
    """'debian', 'redhat' or None from the text of /etc/os-release (pure)."""
    fields = {}
    for line in os_release_text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value.strip().strip('"').strip("'")
    words = (fields.get("ID", "") + " " + fields.get("ID_LIKE", "")).lower().split()
    if any(w in ("debian", "ubuntu") for w in words):
        return "debian"
    if any(w in ("rhel", "fedora", "centos", "rocky", "almalinux") for w in words):
        return "redhat"
    return None


def _fix(check, os_family):
    """The fix for a missing piece: the package command when we know the family, else the names."""
    names = PACKAGES.get(os_family or "debian", {}).get(check, [])
    if os_family in INSTALL_COMMAND and names:
        return "%s %s" % (INSTALL_COMMAND[os_family], " ".join(names))
    debian = " ".join(PACKAGES["debian"].get(check, []))
    redhat = " ".join(PACKAGES["redhat"].get(check, []))
    return "install %s (Debian/Ubuntu) or %s (RHEL/Fedora)" % (debian, redhat)


def evaluate(measured, stages, os_family):
    """Checks for the stages asked for: [{name, stage, ok, detail, fix, packages}] (pure).

    measured holds what probe() found: qemu_img (version or None), guestfs_python / libvirt_python
    (None when importable, else the import error), kernels (readable kernel paths), kernels_unreadable,
    libvirt (None when the URI answered, else the error), firmware (UEFI descriptors found), python.
    """
    wanted = set(stages)
    checks = []

    def add(name, stage, ok, detail, fix):
        if stage not in wanted:
            return
        checks.append({"name": name, "stage": stage, "ok": ok, "detail": detail,
                       "fix": None if ok else fix,
                       "packages": [] if ok else list(PACKAGES.get(os_family or "debian", {}).get(name, []))})

    python = measured["python"]
    add("qemu_img", "convert", measured["qemu_img"] is not None,
        "qemu-img %s" % measured["qemu_img"] if measured["qemu_img"] else "qemu-img is not on PATH",
        _fix("qemu_img", os_family))
    add("guestfs_python", "repair", measured["guestfs_python"] is None,
        "%s imports guestfs" % python if measured["guestfs_python"] is None
        else "%s cannot import guestfs: %s" % (python, measured["guestfs_python"]),
        "%s; if %s is a virtualenv, create it with --system-site-packages from the system Python, or point "
        "ansible_python_interpreter of the conversion host at /usr/bin/python3" % (
            _fix("guestfs_python", os_family), python))
    kernels, unreadable = measured["kernels"], measured["kernels_unreadable"]
    add("appliance_kernel", "repair", bool(kernels),
        "kernel for the libguestfs appliance: %s" % kernels[-1] if kernels
        else ("kernels in /boot are not readable: %s" % ", ".join(unreadable) if unreadable
              else "no kernel in /boot for the libguestfs appliance"),
        "chmod 0644 %s (Ubuntu ships kernels readable by root only; run as root or use "
        "dpkg-statoverride)" % " ".join(unreadable) if unreadable
        else _fix("appliance_kernel", os_family))
    for stage in ("define", "validate"):
        add("libvirt_python", stage, measured["libvirt_python"] is None,
            "%s imports libvirt" % python if measured["libvirt_python"] is None
            else "%s cannot import libvirt: %s" % (python, measured["libvirt_python"]),
            "%s; a virtualenv needs --system-site-packages or the libvirt-python wheel" % _fix(
                "libvirt_python", os_family))
        if measured["libvirt_python"] is None:
            add("libvirt_daemon", stage, measured["libvirt"] is None,
                "libvirt answers at %s" % measured["uri"] if measured["libvirt"] is None
                else "libvirt does not answer at %s: %s" % (measured["uri"], measured["libvirt"]),
                "%s, then start it: %s" % (_fix("libvirt_daemon", os_family), LIBVIRT_START))
    add("uefi_firmware", "define", bool(measured["firmware"]),
        "UEFI firmware descriptors: %s" % ", ".join(measured["firmware"]) if measured["firmware"]
        else "no UEFI firmware descriptor for qemu (UEFI guests cannot be defined)",
        _fix("uefi_firmware", os_family))
    # A check may be asked for by two stages; report it once.
    seen, unique = set(), []
    for check in checks:
        if check["name"] not in seen:
            seen.add(check["name"])
            unique.append(check)
    return unique


def _qemu_img_version(path):
    if not path:
        return None
    try:
        out = subprocess.run([path, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             timeout=30, check=False).stdout.decode("utf-8", "replace")
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"version\s+([0-9][0-9.]*)", out)
    return match.group(1) if match else "unknown version"


def _import_error(name):
    try:
        __import__(name)
    except ImportError as exc:
        return str(exc)
    return None


def _libvirt_error(uri):
    # Only called after the import check passed.
    import libvirt  # pylint: disable=import-error
    try:
        conn = libvirt.open(uri)
    except libvirt.libvirtError as exc:
        return exc.get_error_message() or str(exc)
    try:
        conn.getVersion()
    finally:
        conn.close()
    return None


def uefi_descriptors():
    found = []
    for folder in FIRMWARE_DESCRIPTORS:
        for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
            try:
                with open(path) as fh:
                    if "uefi" in json.load(fh).get("interface-types", []):
                        found.append(os.path.basename(path))
            except (OSError, ValueError, AttributeError):
                continue
    return found


def probe(qemu_img_path, uri, stages):
    """Measure this host. Only what the stages need is touched (no libvirt connection for convert)."""
    wanted = set(stages)
    kernels = sorted(glob.glob(KERNEL_GLOB))
    measured = {
        "python": sys.executable,
        "qemu_img": _qemu_img_version(qemu_img_path),
        "guestfs_python": _import_error("guestfs") if "repair" in wanted else None,
        "kernels": [k for k in kernels if os.access(k, os.R_OK)],
        "kernels_unreadable": [k for k in kernels if not os.access(k, os.R_OK)],
        "libvirt_python": None,
        "libvirt": None,
        "uri": uri,
        "firmware": uefi_descriptors(),
    }
    if wanted & set(["define", "validate"]):
        measured["libvirt_python"] = _import_error("libvirt")
        if measured["libvirt_python"] is None:
            measured["libvirt"] = _libvirt_error(uri)
    return measured


def read_os_release(path="/etc/os-release"):
    try:
        with open(path) as fh:
            return fh.read(64 * 1024)
    except OSError:
        return ""
