# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""VMware Tools in a Linux guest: which packages, installs and services to remove after migration.

On KVM the tools do nothing useful. open-vm-tools' units carry ConditionVirtualization=vmware and
skip themselves, so leaving them is harmless but untidy; the VMware-built tarball install
(vmware-install.pl) has no such guard: its init script loads its own kernel modules and reconfigures
itself (rebuilding modules and the initramfs) after kernel updates, so that one must go. Package
removal is preferred (the package manager cleans up); disabling the services is the fallback when
packages cannot be removed offline.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath
import re

# open-vm-tools and its subpackages (desktop, sdmp, salt-minion, containerinfo, dev), VMware's own
# OSP/RPM packagings (vmware-tools-*, vmware-open-vm-tools-*, VMwareTools), kmods and SUSE's library.
_PACKAGE = re.compile(r"^(open-vm-tools|open-vm-toolbox|open-vm-dkms|kmod-open-vm-tools|vmware-tools"
                      r"|vmware-open-vm-tools|vmwaretools|libvmtools\d*|libvgauth\d*)([-_.].*)?$", re.I)
_TARBALL_MARKERS = ("/etc/vmware-tools/installer.sh", "/etc/vmware-tools/locations",
                    "/usr/bin/vmware-uninstall-tools.pl", "/usr/local/bin/vmware-uninstall-tools.pl")
UNINSTALLERS = ("/usr/bin/vmware-uninstall-tools.pl", "/usr/local/bin/vmware-uninstall-tools.pl")
# Unit names: RHEL/Fedora/SUSE vmtoolsd + vgauthd, Debian/Ubuntu open-vm-tools + vgauth, the tarball's
# vmware-tools (also as a SysV script) and thinprint, the vmblock FUSE mount of the desktop tools.
UNITS = ("vmtoolsd.service", "vgauthd.service", "vgauth.service", "open-vm-tools.service",
         "vmware-tools.service", "vmware-tools-thinprint.service", "run-vmblock\\x2dfuse.mount")
_UNIT_DIRS = ("/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system")
_SYSV_DIRS = ("/etc/init.d", "/etc/rc.d/init.d")


def packages(installed):
    """The installed package names (as given, e.g. "open-vm-tools:amd64") that belong to VMware
    Tools, in the order given, without duplicates."""
    out = []
    for name in installed or ():
        if not isinstance(name, str) or name in out:
            continue
        if _PACKAGE.match(name.split(":", 1)[0].strip()):
            out.append(name)
    return out


def tarball_install(files):
    """True when VMware's own installer (vmware-install.pl) put the tools there: it leaves its
    uninstaller and /etc/vmware-tools/locations, which no package does."""
    present = set(p for p in (files or ()) if isinstance(p, str))
    return bool(present.intersection(_TARBALL_MARKERS))


def uninstaller(files):
    """The tarball install's uninstaller path, or None."""
    present = set(p for p in (files or ()) if isinstance(p, str))
    return next((path for path in UNINSTALLERS if path in present), None)


def services(files):
    """Unit names of VMware Tools services present in the guest (unit files, enablement links below
    *.wants/, or SysV scripts, which systemd runs as <name>.service), in UNITS order."""
    found = set()
    for path in files or ():
        if not isinstance(path, str):
            continue
        directory, name = posixpath.split(path)
        if name in UNITS and (directory in _UNIT_DIRS or posixpath.dirname(directory) in _UNIT_DIRS):
            found.add(name)
        elif directory in _SYSV_DIRS and name + ".service" in UNITS:
            found.add(name + ".service")
    return [unit for unit in UNITS if unit in found]
