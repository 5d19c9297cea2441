# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Guest OS hints from the names VMware, VirtualBox and CIM give guest operating systems."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources import guest_os


@pytest.mark.parametrize("name, guest", [
    ("debian12_64Guest", ("linux", "debian", "12", "x86_64")),
    ("debian12-64", ("linux", "debian", "12", "x86_64")),           # the .vmx spelling
    ("debian12", ("linux", "debian", "12", "i686")),
    ("ubuntu64Guest", ("linux", "ubuntu", None, "x86_64")),
    ("ubuntu-64", ("linux", "ubuntu", None, "x86_64")),
    ("rhel8_64Guest", ("linux", "rhel", "8", "x86_64")),
    ("centos7_64Guest", ("linux", "centos", "7", "x86_64")),
    ("oracleLinux9_64Guest", ("linux", "oracle", "9", "x86_64")),
    ("sles15_64Guest", ("linux", "sles", "15", "x86_64")),
    ("amazonlinux2_64Guest", ("linux", "amazon", "2", "x86_64")),
    ("rockylinux_64Guest", ("linux", "rocky", None, "x86_64")),
    ("other5xLinux64Guest", ("linux", None, None, "x86_64")),
    ("otherLinuxGuest", ("linux", None, None, "i686")),
    ("otherGuest64", (None, None, None, "x86_64")),
    ("otherGuest", (None, None, None, "i686")),
    ("windows2022srvNext_64Guest", ("windows", "windows", "2022", "x86_64")),
    ("windows2019srv-64", ("windows", "windows", "2019", "x86_64")),
    ("windows9_64Guest", ("windows", "windows", None, "x86_64")),
    ("winNetStandardGuest", ("windows", "windows", None, "i686")),
    ("freebsd13_64Guest", ("bsd", "freebsd", "13", "x86_64")),
])
def test_vmware_guest_ids(name, guest):
    got = guest_os.hints(vmware_type=name)
    assert (got["family"], got["distro"], got["version"], got["arch"]) == guest


@pytest.mark.parametrize("name, guest", [
    ("Debian12_64", ("linux", "debian", "12", "x86_64")),
    ("Debian", ("linux", "debian", None, "i686")),
    ("RedHat_64", ("linux", "rhel", None, "x86_64")),
    ("RedHat9_x64", ("linux", "rhel", "9", "x86_64")),
    ("Oracle_64", ("linux", "oracle", None, "x86_64")),
    ("Ubuntu22_LTS_64", ("linux", "ubuntu", "22", "x86_64")),
    ("Ubuntu_arm64", ("linux", "ubuntu", None, "aarch64")),
    ("Linux26_64", ("linux", None, None, "x86_64")),
    ("Windows2019_64", ("windows", "windows", "2019", "x86_64")),
    ("Windows10_64", ("windows", "windows", "10", "x86_64")),
    ("Other", (None, None, None, "i686")),
])
def test_virtualbox_os_types(name, guest):
    got = guest_os.hints(virtualbox_type=name)
    assert (got["family"], got["distro"], got["version"], got["arch"]) == guest


@pytest.mark.parametrize("cim, guest", [
    ("96", ("linux", "debian", None, "x86_64")),
    (95, ("linux", "debian", None, None)),
    ("80", ("linux", "rhel", None, "x86_64")),
    ("101", ("linux", None, None, "x86_64")),
    ("122", ("windows", "windows", None, "x86_64")),
    ("1", (None, None, None, None)),
    ("102", (None, None, None, "x86_64")),
    ("not-a-number", (None, None, None, None)),
])
def test_cim_ids(cim, guest):
    got = guest_os.hints(cim_id=cim)
    assert (got["family"], got["distro"], got["version"], got["arch"]) == guest


def test_precedence_and_description():
    # The VMware id wins over a contradicting CIM id; CIM only fills what is still unknown.
    got = guest_os.hints(vmware_type="otherGuest64", cim_id="96")
    assert (got["family"], got["distro"], got["arch"]) == ("linux", "debian", "x86_64")
    got = guest_os.hints(vmware_type="rhel9_64Guest", virtualbox_type="Windows10_64", cim_id="122")
    assert got["distro"] == "rhel"
    assert guest_os.hints(description="Debian GNU/Linux 12")["family"] == "linux"
    assert guest_os.hints(description="Microsoft Windows Server 2022")["family"] == "windows"
    assert guest_os.hints(description="Plan 9")["family"] is None
    assert guest_os.hints() == {"family": None, "distro": None, "version": None, "arch": None}
