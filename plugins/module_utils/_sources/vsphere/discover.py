# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Discovery of vSphere VMs: connect, one paged inventory query, describe, filter."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.vsphere import (
    connection,
    describe,
    filters,
    query,
)


def discover(connect_args, criteria=None, page_size=query.DEFAULT_PAGE_SIZE, clock=time.monotonic):
    """{"vms", "count", "round_trips", "seconds", "warnings"} for the VMs matching criteria.

    connect_args are connection.session()'s keyword arguments.
    """
    started = clock()
    where = connection.endpoint(connect_args["hostname"], connect_args.get("port") or 443)
    with connection.session(**connect_args) as si:
        inventory = query.InventoryQuery(si, page_size=page_size, where=where)
        records = inventory.records()
    vms, warnings = describe.describe_inventory(records, server=connect_args["hostname"])
    criteria = criteria or filters.Criteria()
    selected = filters.select(vms, criteria)
    missing = criteria.unmatched_names(selected)
    if missing:
        warnings.append("No VM matched these names: %s." % ", ".join(missing))
    return {
        "vms": selected,
        "count": len(selected),
        "round_trips": inventory.round_trips,
        "seconds": round(clock() - started, 3),
        "warnings": warnings,
    }
