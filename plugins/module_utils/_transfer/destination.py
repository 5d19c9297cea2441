# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The destination checks every module that writes disks (exports, disk_convert) makes before it writes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import InvalidInputError, MigrationError


def check(plans, dest_dir, force, findings, check_mode, writer, option="dest_dir"):
    """The destination folder must exist (in check mode a finding says it does not yet: the task that
    creates it did not run either), and no planned output may be a file this module (writer) did not
    write, unless force: a user's file is never lost. option names the module's destination option."""
    if not os.path.isdir(dest_dir):
        if check_mode:
            findings.append("Destination directory %s does not exist (yet)." % dest_dir)
            return
        raise InvalidInputError("Destination directory %s does not exist." % dest_dir,
                                fix="Create it first (ansible.builtin.file state=directory).")
    for plan in plans:
        if os.path.exists(plan["path"]) and plan["record"] is None and not force:
            raise MigrationError("%s exists and was not written by %s; refusing to overwrite it." % (plan["path"], writer),
                                 fix="Choose another %s, remove the file, or set force: true." % option)
