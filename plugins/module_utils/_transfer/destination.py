# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The destination checks every disk export makes before it downloads anything."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import InvalidInputError, MigrationError


def check(plans, dest_dir, force, findings, check_mode, writer):
    """The destination folder must exist (in check mode a finding says it does not yet), and no planned
    output may be a file this module (writer) did not write, unless force: a user's file is never lost."""
    if not os.path.isdir(dest_dir):
        if check_mode:
            findings.append("Destination directory %s does not exist (yet)." % dest_dir)
            return
        raise InvalidInputError("Destination directory %s does not exist." % dest_dir,
                                fix="Create it first (ansible.builtin.file state=directory).")
    for plan in plans:
        if os.path.exists(plan["path"]) and plan["record"] is None and not force:
            raise MigrationError("%s exists and was not written by %s; refusing to overwrite it." % (plan["path"], writer),
                                 fix="Choose another dest_dir, remove the file, or set force: true.")
