# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The libvirt connection: opening it with errors that say what to do, finding domains, and
choosing the domain type (kvm when KVM really works here, qemu/TCG otherwise)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pwd
import stat

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    MigrationError, MissingDependencyError)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest import appliance

try:
    import libvirt
except ImportError:
    libvirt = None

LIBVIRT_LIB = "libvirt-python (Debian: python3-libvirt, RHEL: python3-libvirt)"
DEFAULT_URI = "qemu:///system"
START_HINT = ("Start libvirtd (systemctl enable --now libvirtd; without an init system: virtlogd -d && "
              "libvirtd -d), or run the hyper2kvm.migrate.conversion_host role, which does it.")
STATE_NAMES = {0: "nostate", 1: "running", 2: "blocked", 3: "paused", 4: "shutdown", 5: "shutoff",
               6: "crashed", 7: "pmsuspended"}


def _quiet(_ctx, _err):
    """libvirt prints every error to stderr unless a handler is set; we raise them instead."""


def require():
    if libvirt is None:
        raise MissingDependencyError("The libvirt Python bindings are missing.",
                                     fix="Install %s on the conversion host." % LIBVIRT_LIB)
    libvirt.registerErrorHandler(_quiet, None)
    return libvirt


def connect(uri):
    require()
    try:
        return libvirt.open(uri)
    except libvirt.libvirtError as exc:
        raise MigrationError("Cannot connect to libvirt at %s: %s" % (uri, exc.get_error_message()),
                             fix=START_HINT if uri.startswith("qemu:///") else
                             "Check the URI and that the libvirt daemon it names runs.")


def lookup(conn, name):
    """The domain called name, or None."""
    try:
        return conn.lookupByName(name)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return None
        raise MigrationError("libvirt could not look up domain %s: %s" % (name, exc.get_error_message()))


def state_name(dom):
    return STATE_NAMES.get(dom.state()[0], "unknown")


def choose_domain_type(conn, wanted="auto"):
    """("kvm"|"qemu", reason). auto: kvm only when this host can really run KVM guests (the same
    probe the libguestfs appliance uses, which also catches nested PVM) and libvirt offers it."""
    if wanted in ("kvm", "qemu"):
        return wanted, "requested"
    accel = appliance.detect_accel()
    if accel["accel"] != "kvm":
        return "qemu", accel["reason"]
    if "<domain type='kvm'" not in conn.getCapabilities():
        return "qemu", "libvirt does not offer KVM on this host"
    return "kvm", accel["reason"]


def qemu_user(conf="/etc/libvirt/qemu.conf"):
    """The account qemu:///system runs guests as (qemu.conf 'user', Debian's default otherwise)."""
    user = None
    try:
        with open(conf, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, sep, value = line.partition("=")
                if sep and key.strip() == "user":
                    user = value.strip().strip('"')
    except OSError:
        pass
    for candidate in ([user] if user else []) + ["libvirt-qemu", "qemu"]:
        try:
            return pwd.getpwnam(candidate)
        except KeyError:
            continue
    return None


def unreachable_dir(path, account):
    """The first folder above path that account cannot enter (libvirt gives the image itself to the
    guest's account, never the folders above it), or None."""
    if account is None or account.pw_uid == 0:
        return None
    groups = set([account.pw_gid] + list(os.getgrouplist(account.pw_name, account.pw_gid)))
    folder = os.path.dirname(os.path.abspath(path))
    while True:
        try:
            st = os.stat(folder)
        except OSError:
            return folder
        if st.st_uid == account.pw_uid:
            ok = st.st_mode & stat.S_IXUSR
        elif st.st_gid in groups:
            ok = st.st_mode & stat.S_IXGRP
        else:
            ok = st.st_mode & stat.S_IXOTH
        if not ok:
            return folder
        if folder == "/":
            return None
        folder = os.path.dirname(folder)
