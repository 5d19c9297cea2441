# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Discovery of Azure VMs: sign in, one paged VM listing, describe, filter, add NIC details."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.azure import (
    connection,
    describe,
    listing,
)


def discover(conf, criteria=None, nic_details=True, clock=time.monotonic):
    """{"vms", "count", "round_trips", "seconds", "warnings"} for the VMs matching criteria.

    conf is connection.settings() of the connection options.
    """
    started = clock()
    criteria = criteria or listing.Criteria()
    warnings = []
    with connection.session(conf) as session:
        raw, round_trips = listing.list_vms(session, criteria.resource_groups)
        chosen = [vm for vm in raw if criteria.matches(describe.describe_vm(vm))]
        nics = {}
        if nic_details and chosen:
            nics, nic_trips, warning = listing.list_nics(session)
            round_trips += nic_trips
            warnings.extend([warning] if warning else [])
    vms = sorted((describe.describe_vm(vm, nics) for vm in chosen),
                 key=lambda vm: (vm["name"].lower(), vm["source"]["id"].lower()))
    missing = criteria.unmatched_names(vms)
    if missing:
        warnings.append("No VM matched these names: %s." % ", ".join(missing))
    return {
        "vms": vms,
        "count": len(vms),
        "round_trips": round_trips,
        "seconds": round(clock() - started, 3),
        "warnings": warnings,
    }
