# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ending every discovery (*_info) module shares: one error catch, warnings shown, nothing changed."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import MigrationError


def exit_with(module, produce):
    """Run produce() -> result dict; a MigrationError fails the task with its message and fix."""
    try:
        result = produce()
    except MigrationError as exc:
        module.fail_json(**exc.result())
    # Ansible collects module.warn() into the result's `warnings` and shows them to the user.
    for warning in result.pop("warnings", []):
        module.warn(warning)
    module.exit_json(changed=False, **result)
