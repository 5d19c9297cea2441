# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Measure, on the conversion host, what the preflight rules need to know about it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._host import requirements


def _existing_ancestor(path):
    path = os.path.abspath(path)
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def free_bytes(path):
    st = os.statvfs(_existing_ancestor(path))
    return st.f_bavail * st.f_frsize


def memory_mib(meminfo="/proc/meminfo"):
    try:
        with open(meminfo) as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


# Their disks are read through the platform's API by the export stage, not from a file on this host.
EXPORTED_SOURCES = ("vsphere", "azure")


def source_files(vm):
    """The local files the disks are read from (the OVA, or each disk's own file); none for a VM whose
    disks the export stage fetches from its platform (their paths name datastore files, not ours)."""
    if (vm.get("source") or {}).get("type") in EXPORTED_SOURCES:
        return []
    files = []
    for disk in vm.get("disks", []):
        src = disk.get("source") or {}
        path = src.get("ova") or src.get("path")
        if path and path not in files:
            files.append(path)
    return files


def measure(vm, output_dir, outputs):
    """Facts for rules.evaluate(). outputs: the planned converted path of each disk, in order."""
    disks = vm.get("disks", [])
    return {
        "output_dir": output_dir,
        "free_bytes": free_bytes(output_dir) if output_dir else None,
        "converted": [d.get("id") for d, out in zip(disks, outputs or []) if out and os.path.exists(out)],
        "missing_sources": [p for p in source_files(vm) if not os.access(p, os.R_OK)],
        "uefi_firmware": requirements.uefi_descriptors(),
        "memory_mib": memory_mib(),
        "cpus": os.cpu_count(),
    }
