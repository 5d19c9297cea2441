# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Guest OS hints (family, distro, version, arch) from the OS names hypervisors record.

Discovery only knows what the source says about the guest: VMware's guest id ("debian12_64Guest" in
OVF, "debian12-64" in a .vmx), VirtualBox's OS type ("Debian12_64"), the coarse CIM OS id of the OVF
OperatingSystemSection, or a free-text description. Inspection of the disk refines these later, so
an unknown value stays None rather than being guessed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# Name prefixes -> distro. VMware and VirtualBox spell some differently (rhel/redhat, oracleLinux/Oracle).
DISTROS = {"debian": "debian", "ubuntu": "ubuntu", "rhel": "rhel", "redhat": "rhel",
           "centos": "centos", "oraclelinux": "oracle", "oracle": "oracle", "almalinux": "almalinux",
           "rockylinux": "rocky", "fedora": "fedora", "sles": "sles", "opensuse": "opensuse",
           "photon": "photon", "amazonlinux": "amazon", "archlinux": "arch", "gentoo": "gentoo"}
# CIM_OperatingSystem.OSType values (DSP0243 OperatingSystemSection ovf:id).
_CIM_LINUX = {36: None, 79: "rhel", 80: "rhel", 82: "suse", 83: "suse", 84: "sles", 85: "sles",
              89: "mandriva", 90: "mandriva", 93: "ubuntu", 94: "ubuntu", 95: "debian", 96: "debian",
              97: None, 98: None, 99: None, 100: None, 101: None, 106: "centos", 107: "centos",
              108: "oracle", 109: "oracle"}
_CIM_WINDOWS = set([18, 58, 63, 67, 69, 70, 71, 72, 73, 74, 76, 77, 103, 105, 111, 112, 113, 114,
                    115, 116, 117, 118, 119, 120, 121, 122, 123, 124])
_CIM_64BIT = set([70, 71, 74, 77, 80, 83, 85, 90, 94, 96, 98, 100, 101, 102, 103, 107, 109, 113,
                  115, 116, 117, 119, 121, 122, 123, 124])


def hints(vmware_type=None, virtualbox_type=None, cim_id=None, description=None):
    """{"family", "distro", "version", "arch"}, most specific source first, None where unknown."""
    out = {"family": None, "distro": None, "version": None, "arch": None}
    if vmware_type:
        _from_vmware(vmware_type, out)
    elif virtualbox_type:
        _from_virtualbox(virtualbox_type, out)
    if cim_id is not None and str(cim_id).strip().isdigit():
        _from_cim(int(cim_id), out)
    text = (description or "").lower()
    if out["family"] is None and text:
        if "windows" in text:
            out["family"] = "windows"
        elif "linux" in text or any(name in text for name in DISTROS):
            out["family"] = "linux"
    return out


def _set_distro(stem, out):
    """Family/distro/version from a stem such as 'debian12', 'oraclelinux9', 'other5xlinux'."""
    match = re.match(r"^([a-z]+)(\d*)", stem)
    name, version = (match.group(1), match.group(2) or None) if match else ("", None)
    if name.startswith("win"):
        out["family"], out["distro"] = "windows", "windows"
    elif name in DISTROS:
        out["family"], out["distro"], out["version"] = "linux", DISTROS[name], version
    elif "linux" in stem:
        out["family"] = "linux"
    elif "bsd" in name:
        out["family"], out["distro"], out["version"] = "bsd", name, version


def _from_vmware(os_type, out):
    # OVF "debian12_64Guest", "ubuntu64Guest", "otherGuest64"; .vmx "debian12-64", "windows2019srv-64"
    lowered = os_type.lower()
    out["arch"] = "x86_64" if re.search(r"(64guest|guest64|-64)$", lowered) else "i686"
    stem = re.sub(r"([-_]?64)?(guest)?(64)?$", "", lowered)
    _set_distro(stem, out)
    if out["family"] == "windows":
        year = re.search(r"(20\d\d)", stem)  # VMware's desktop numbering (windows9 = 10) is not a version
        out["version"] = year.group(1) if year else None


def _from_virtualbox(os_type, out):
    # "Debian12_64", "Ubuntu22_LTS_64", "RedHat9_x64", "Windows2019_64", "Ubuntu_arm64"
    lowered = os_type.lower()
    if lowered.endswith("arm64"):
        out["arch"] = "aarch64"
    elif lowered.endswith("64"):
        out["arch"] = "x86_64"
    else:
        out["arch"] = "i686"
    _set_distro(lowered, out)
    if out["family"] == "windows":  # VirtualBox numbers Windows plainly: Windows10_64, Windows2019_64
        match = re.match(r"^windows(\d+)", lowered)
        out["version"] = match.group(1) if match else None


def _from_cim(cim, out):
    if out["family"] is None:
        if cim in _CIM_WINDOWS:
            out["family"], out["distro"] = "windows", "windows"
        elif cim in _CIM_LINUX:
            out["family"], out["distro"] = "linux", _CIM_LINUX[cim]
    if out["arch"] is None and cim in _CIM_64BIT:
        out["arch"] = "x86_64"
