# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vCPUs and memory of Azure VM sizes, without asking Azure.

An ARM VM names only its size ("Standard_D4s_v5"). Common sizes whose memory follows no rule are
listed; the general-purpose, memory- and compute-optimised families of generation 3 and later follow
one (D v3-v6: 4 GiB per vCPU, 2 with the "l" feature; E v3-v6: 8; F v2: 2) up to the sizes where
Azure breaks it.
Anything else is unknown and the caller says so.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# size (lower case) -> (vCPUs, memory MiB)
KNOWN = {
    "standard_b1ls": (1, 512), "standard_b1s": (1, 1024), "standard_b1ms": (1, 2048),
    "standard_b2s": (2, 4096), "standard_b2ms": (2, 8192), "standard_b4ms": (4, 16384),
    "standard_b8ms": (8, 32768), "standard_b2ats_v2": (2, 1024), "standard_b2als_v2": (2, 4096),
    "standard_b2s_v2": (2, 8192), "standard_b4s_v2": (4, 16384),
    "standard_a1_v2": (1, 2048), "standard_a2_v2": (2, 4096), "standard_a4_v2": (4, 8192),
    "standard_a8_v2": (8, 16384), "standard_a2m_v2": (2, 16384), "standard_a4m_v2": (4, 32768),
    "standard_d1_v2": (1, 3584), "standard_d2_v2": (2, 7168), "standard_d3_v2": (4, 14336),
    "standard_d4_v2": (8, 28672), "standard_ds1_v2": (1, 3584), "standard_ds2_v2": (2, 7168),
    "standard_ds3_v2": (4, 14336), "standard_ds4_v2": (8, 28672), "standard_ds5_v2": (16, 57344),
    "standard_f1s": (1, 2048), "standard_f2s": (2, 4096), "standard_f4s": (4, 8192),
}
# family letter -> (GiB per vCPU, largest vCPU count the ratio holds for, generations it holds for)
RATIOS = {"d": (4, 96, (3, 4, 5, 6)), "e": (8, 48, (3, 4, 5, 6)), "f": (2, 72, (2,))}
_PATTERN = re.compile(r"^standard_([def])(\d+)(?:-(\d+))?([a-z]*)_v(\d+)$")


def lookup(size):
    """{"cpus", "memory_mib", "arch"} for a size name, or None when it is not known."""
    name = (size or "").strip().lower()
    if name in KNOWN:
        cpus, memory = KNOWN[name]
        return {"cpus": cpus, "memory_mib": memory, "arch": "x86_64"}
    match = _PATTERN.match(name)
    if not match:
        return None
    family, vcpus, active, features = match.group(1), int(match.group(2)), match.group(3), match.group(4)
    per_cpu, largest, generations = RATIOS[family]
    if vcpus > largest or int(match.group(5)) not in generations:
        return None
    if family == "d" and "l" in features:
        per_cpu = 2
    # Constrained sizes ("E8-4s_v5") keep the memory of the full size and run fewer vCPUs.
    return {"cpus": int(active) if active else vcpus, "memory_mib": vcpus * per_cpu * 1024,
            "arch": "aarch64" if "p" in features else "x86_64"}
