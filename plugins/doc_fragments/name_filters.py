# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The VM name filters every discovery module and inventory plugin offers."""

    DOCUMENTATION = r"""
options:
  names:
    description:
      - Only VMs with one of these exact names. A warning names any that were not found.
    type: list
    elements: str
  name_regex:
    description:
      - Only VMs whose name matches this Python regular expression (searched, not anchored; use
        C(^) and C($) to anchor it).
    type: str
"""
