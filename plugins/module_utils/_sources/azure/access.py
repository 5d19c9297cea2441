# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an export does to Azure: deallocate the VM, take and delete snapshots, grant and revoke
read access to a managed disk or snapshot (a SAS URL into its page blob).

granted() and snapshots() are context managers whose cleanup runs however the block ends (an
error, Interrupted from a signal) and is itself shielded from signals. A cleanup that fails after a
successful block fails the task; after a failed block it is reported next to the first error,
which it never hides.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import uuid

from ansible_collections.hyper2kvm.migrate.plugins.module_utils import _interrupt
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import MigrationError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.azure import connection

ROLE_FIX = ("Give the service principal a role that may deallocate VMs and grant disk access "
            "(Microsoft.Compute/virtualMachines/deallocate/action, disks/beginGetAccess/action, "
            "snapshots/write for snapshot: true), for example Virtual Machine Contributor plus "
            "Disk Snapshot Contributor, on the VM's resource group.")
RUNNING_FIX = ("Azure grants access to a disk only while its VM is deallocated: set deallocate: true, or "
               "snapshot: true to export snapshots of the running VM.")
NOT_FOUND_FIX = "Check the VM's resource group and that its disks still exist (azure_vm_info)."
FIXES = {403: ROLE_FIX, 404: NOT_FOUND_FIX, 409: RUNNING_FIX}
SNAPSHOT_TAG = "hyper2kvm-export"


class Target(object):
    """A managed disk or a snapshot: kind ("disks" or "snapshots"), resource group, name."""

    def __init__(self, kind, resource_group, name):
        self.kind, self.resource_group, self.name = kind, resource_group, name

    def operations(self, session):
        return getattr(session.compute, self.kind)

    def __str__(self):
        return "%s %s/%s" % ("disk" if self.kind == "disks" else "snapshot", self.resource_group, self.name)


def deallocate(session, resource_group, name):
    with connection.translated_errors(session.conf, FIXES):
        session.compute.virtual_machines.begin_deallocate(resource_group, name).result()


def _cleanup(report, key, what, action, body_failed):
    """Run action shielded from signals; its failure is raised only when the block itself succeeded."""
    with _interrupt.shielded():
        try:
            action()
            report[key] = True
        except Exception as exc:
            if isinstance(exc, MigrationError):
                error = exc
            else:
                error = MigrationError("%s failed: %s" % (what, exc))
            report["%s_error" % key] = str(error)
            if not body_failed:
                raise error


def _revoke(session, target):
    with connection.translated_errors(session.conf, FIXES):
        target.operations(session).begin_revoke_access(target.resource_group, target.name).result()


@contextlib.contextmanager
def granted(session, target, seconds, report):
    """The read SAS URL of target for seconds; revoked when the block ends. report gets granted/revoked."""
    report.update(target=str(target), granted=False, revoked=False)
    failed = False
    try:
        with connection.translated_errors(session.conf, FIXES):
            poller = target.operations(session).begin_grant_access(
                target.resource_group, target.name, {"access": "Read", "durationInSeconds": int(seconds)})
            sas = poller.result().access_sas
        report["granted"] = True
        yield sas
    except BaseException:
        failed = True
        raise
    finally:
        # Also after a failed or interrupted grant: the grant may have gone through all the same.
        _cleanup(report, "revoked", "Revoking access to %s" % target, lambda: _revoke(session, target), failed)


def snapshot_name(disk_name):
    """A new snapshot name for a disk (Azure allows 80 characters of letters, digits, _ . -)."""
    return "%s-h2k-%s" % (disk_name[:66], uuid.uuid4().hex[:8])


def _delete_snapshots(session, made):
    with connection.translated_errors(session.conf, FIXES):
        pollers = [session.compute.snapshots.begin_delete(target.resource_group, target.name) for target in made]
        for poller in pollers:
            poller.result()


@contextlib.contextmanager
def snapshots(session, disks, report):
    """{disk name: Target} of a new full snapshot of each disk, deleted when the block ends.

    disks are (resource group, disk name, disk JSON) triples; all snapshots are started before any
    is waited for, so that they are taken as close together in time as Azure allows.
    """
    made, failed = [], False
    report.update(snapshots=[], deleted=False)
    try:
        with connection.translated_errors(session.conf, FIXES):
            pollers = []
            for group, name, disk in disks:
                target = Target("snapshots", group, snapshot_name(name))
                body = {"location": disk["location"], "tags": {SNAPSHOT_TAG: name},
                        "properties": {"incremental": False,
                                       "creationData": {"createOption": "Copy", "sourceResourceId": disk["id"]}}}
                made.append(target)
                report["snapshots"].append(str(target))
                pollers.append((name, target, session.compute.snapshots.begin_create_or_update(group, target.name, body)))
            for _name, _target, poller in pollers:
                poller.result()
        yield dict((name, target) for name, target, _poller in pollers)
    except BaseException:
        failed = True
        raise
    finally:
        if made:
            _cleanup(report, "deleted", "Deleting the export snapshots", lambda: _delete_snapshots(session, made), failed)
