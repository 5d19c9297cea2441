# -*- coding: utf-8 -*-
"""VMware Tools left in a migrated Linux guest: packages, tarball installs, services."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest.linux import vmware_tools


@pytest.mark.parametrize("installed, remove", [
    (["bash", "open-vm-tools", "open-vm-tools-desktop", "open-vm-tools-sdmp", "openssh-server"],
     ["open-vm-tools", "open-vm-tools-desktop", "open-vm-tools-sdmp"]),                          # Debian/Ubuntu
    (["open-vm-tools:amd64", "libc6:amd64"], ["open-vm-tools:amd64"]),                         # dpkg with arch
    (["open-vm-tools", "open-vm-tools-desktop", "open-vm-tools-salt-minion", "open-vm-tools-test",
      "open-vm-tools-containerinfo"],
     ["open-vm-tools", "open-vm-tools-desktop", "open-vm-tools-salt-minion", "open-vm-tools-test",
      "open-vm-tools-containerinfo"]),                                                           # RHEL/Fedora
    (["open-vm-tools", "libvmtools0", "open-vm-tools-desktop", "libvmtools-devel"],
     ["open-vm-tools", "libvmtools0", "open-vm-tools-desktop", "libvmtools-devel"]),             # SUSE
    (["vmware-tools-core", "vmware-tools-esx-kmods-2.6.32-754.el6.x86_64", "vmware-tools-plugins-vix",
      "vmware-open-vm-tools-kmod", "VMwareTools", "kmod-open-vm-tools", "open-vm-toolbox", "open-vm-dkms"],
     ["vmware-tools-core", "vmware-tools-esx-kmods-2.6.32-754.el6.x86_64", "vmware-tools-plugins-vix",
      "vmware-open-vm-tools-kmod", "VMwareTools", "kmod-open-vm-tools", "open-vm-toolbox", "open-vm-dkms"]),
    (["open-vm-tools", "open-vm-tools"], ["open-vm-tools"]),
    (["vmware-horizon-agent", "vmware-toolsy", "my-open-vm-tools", "openvm-tools", "tools", "", None, 3], []),
    (None, []), ([], []),
])
def test_packages(installed, remove):
    assert vmware_tools.packages(installed) == remove


@pytest.mark.parametrize("files, tarball, uninstaller", [
    ({"/etc/vmware-tools/installer.sh", "/etc/vmware-tools/locations", "/usr/bin/vmware-uninstall-tools.pl"},
     True, "/usr/bin/vmware-uninstall-tools.pl"),
    ({"/etc/vmware-tools/locations"}, True, None),
    ({"/usr/local/bin/vmware-uninstall-tools.pl"}, True, "/usr/local/bin/vmware-uninstall-tools.pl"),
    ({"/etc/vmware-tools/tools.conf", "/etc/vmware-tools/vgauth.conf", "/usr/bin/vmtoolsd"}, False, None),  # packaged
    (set(), False, None), (None, False, None), ({None, 1}, False, None),
])
def test_tarball_install(files, tarball, uninstaller):
    assert vmware_tools.tarball_install(files) is tarball
    assert vmware_tools.uninstaller(files) == uninstaller


@pytest.mark.parametrize("files, units", [
    ({"/lib/systemd/system/open-vm-tools.service", "/lib/systemd/system/vgauth.service",
      "/etc/systemd/system/multi-user.target.wants/open-vm-tools.service",
      "/lib/systemd/system/run-vmblock\\x2dfuse.mount"},
     ["vgauth.service", "open-vm-tools.service", "run-vmblock\\x2dfuse.mount"]),                  # Debian
    ({"/usr/lib/systemd/system/vmtoolsd.service", "/usr/lib/systemd/system/vgauthd.service"},
     ["vmtoolsd.service", "vgauthd.service"]),                                                   # RHEL
    ({"/etc/init.d/vmware-tools", "/etc/rc.d/init.d/vmware-tools-thinprint", "/etc/init.d/ssh"},
     ["vmware-tools.service", "vmware-tools-thinprint.service"]),                                # tarball, SysV
    ({"/etc/systemd/system/vmtoolsd.service.d/override.conf", "/home/u/vmtoolsd.service",
      "/usr/lib/systemd/user/vmtoolsd.service"}, []),
    (set(), []), (None, []),
])
def test_services(files, units):
    assert vmware_tools.services(files) == units
