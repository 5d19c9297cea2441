# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a guest's serial console: did it boot, fail, or is it still on its way? (pure)"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import InvalidInputError

# A getty prompt ("web01 login:") is the classic evidence that a Linux guest reached multi-user.
LOGIN_PROMPT = r"(?m)^[A-Za-z0-9][A-Za-z0-9._-]* login: ?$"

# What guests print when they will not get any further on their own: no root filesystem, an
# initramfs or emergency shell waiting for a human, a panic, a firmware with nothing to boot.
FAILURE_PATTERNS = (
    r"ALERT! .* does not exist",
    r"Gave up waiting for (root|suspend/resume) (file system )?device",
    r"\(initramfs\) ?$",
    r"dracut-initqueue.*[Tt]imeout",
    r"dracut:/# ?$",
    r"You are in emergency mode",
    r"Give root password for maintenance",
    r"Kernel panic - not syncing",
    r"VFS: Unable to mount root fs",
    r"grub rescue> ?$",
    r"No bootable device",
    r"Boot failed: not a bootable disk",
    # OVMF with no boot entry it can start (a UEFI guest without the EFI/BOOT fallback loader): newer
    # builds say so, older ones fall through to the built-in shell.
    r"No bootable option or device was found",
    r"BdsDxe: (loading|starting) Boot[0-9A-F]{4} \"EFI Internal Shell\"",
    r"UEFI Interactive Shell",
)

TAIL_LINES = 40


def compile_patterns(patterns, what):
    out = []
    for pattern in patterns:
        try:
            out.append(re.compile(pattern, re.MULTILINE))
        except re.error as exc:
            raise InvalidInputError("%s pattern %r is not a valid regular expression: %s." % (what, pattern, exc),
                                    fix="Use Python regular expression syntax.")
    return out


def evidence(marker=None, success_patterns=None):
    """(success patterns, whether a guest-agent answer proves the boot too) for what the user asked.

    The defaults - a login prompt or the agent - apply only when no evidence of the user's own is named.
    A marker usually announces something that comes up after getty (an application, a network check);
    if the login prompt or the agent still counted, they would win the race and the marker would prove
    nothing.
    """
    if not marker and not success_patterns:
        return [LOGIN_PROMPT], True
    return list(success_patterns or []) + ([marker] if marker else []), False


def clean(text):
    """Console text without ANSI escapes and carriage returns, so patterns match what a person sees."""
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1b[=>]", "", text)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def verdict(text, success, failure):
    """("pass"|"fail", matched line) for the first pattern found in the console text, or (None, None).

    Failure wins over success when both are present: a marker printed before a later panic is no proof.
    """
    text = clean(text)
    for kind, patterns in (("fail", failure), ("pass", success)):
        for pattern in patterns:
            found = pattern.search(text)
            if found:
                start = text.rfind("\n", 0, found.start()) + 1
                end = text.find("\n", found.end())
                return kind, text[start:end if end >= 0 else len(text)].strip()
    return None, None


def tail(text, lines=TAIL_LINES):
    return "\n".join(clean(text).rstrip("\n").split("\n")[-lines:])
