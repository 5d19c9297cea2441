# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options of an inventory plugin, resolved with the argument spec of the modules that share
them: the same aliases, environment fallbacks (what AWX's credentials inject) and types, so that an
inventory file and a task accept exactly the same options."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleParserError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

MASK = "********"


def resolve(spec, direct, what):
    """(direct with the connection options validated, canonically named and filled in from the
    environment, [secret values]). AnsibleParserError naming what ("vSphere connection options") when
    they are wrong, without any secret in its text."""
    names = set(spec)
    for option in spec.values():
        names.update(option.get("aliases", []))
    direct = dict(direct or {})
    result = ArgumentSpecValidator(spec).validate(dict((k, v) for k, v in direct.items() if k in names))
    values = dict((k, v) for k, v in result.validated_parameters.items() if k in spec)
    secrets = [values[k] for k in spec if spec[k].get("no_log") and values.get(k)]
    if result.error_messages:
        raise AnsibleParserError(scrub("%s: %s." % (what, "; ".join(result.error_messages)), secrets))
    for key in names - set(spec):
        direct.pop(key, None)
    direct.update((k, v) for k, v in values.items() if v is not None)
    return direct, secrets


def scrub(text, secrets):
    """text with every secret value masked."""
    for secret in secrets:
        text = text.replace(str(secret), MASK)
    return text
