# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""/etc/fstab, /etc/crypttab and the initramfs-tools resume setting: read them, and replace device
names that depend on the disk bus with UUID=/PARTUUID= (see devices.py for which names those are).

Rewrites change only the one field they mean to change, in place: comments, alignment, tabs, CRLF
endings, octal escapes and every other line stay byte-identical, so the diff a user reviews is exactly
the repair. A rewrite of its own output changes nothing. Every rewrite returns
{"text", "changes": [{"lineno", "before", "after"}], "unmapped": [{"lineno", "spec"}]}: "unmapped" lists
the bus-dependent names the map did not know, which will not resolve on the new bus unless the caller
does something about them (they are reported, never guessed).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest.linux import devices
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest.linux._syntax import (
    assignment, bodies, is_comment, join_lines, split_lines)

# fstab(5) separates fields by blanks (spaces and tabs only); blanks inside a field are \040 / \011.
_FIELD = re.compile(r"[^ \t]+")
_OCTAL = re.compile(r"\\([0-7]{3})")


def unescape(field):
    """fstab's octal escapes (\\040 for a space) decoded, as libmount does."""
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field)


def _number(field):
    return int(field) if field is not None and field.isdigit() and len(field) < 10 else 0


def _rows(text, width):
    """(lineno, fields padded with None to width) of the non-comment lines with >= 2 fields."""
    for lineno, body in enumerate(bodies(text), 1):
        if is_comment(body):
            continue
        fields = _FIELD.findall(body)
        if len(fields) >= 2:
            yield lineno, fields + [None] * (width - len(fields))


def parse(text):
    """[{"spec", "file", "vfstype", "options", "freq", "passno", "lineno"}] of the mount lines.

    Lines with fewer than two fields are skipped. A missing type is None, missing options are
    "defaults", missing or non-numeric freq/passno are 0 (as mount treats them).
    """
    return [{"spec": unescape(fields[0]), "file": unescape(fields[1]),
             "vfstype": fields[2], "options": fields[3] or "defaults",
             "freq": _number(fields[4]), "passno": _number(fields[5]), "lineno": lineno}
            for lineno, fields in _rows(text, 6)]


def parse_crypttab(text):
    """[{"name", "device", "keyfile", "options", "lineno"}] of /etc/crypttab."""
    return [{"name": fields[0], "device": unescape(fields[1]), "keyfile": fields[2],
             "options": fields[3], "lineno": lineno}
            for lineno, fields in _rows(text, 4)]


def rewrite(text, uuid_by_device):
    """fstab with bus-dependent specs (first field) replaced by UUID=/PARTUUID=."""
    return _rewrite_field(text, uuid_by_device, 0)


def rewrite_crypttab(text, uuid_by_device):
    """crypttab with a bus-dependent source device (second field) replaced. The map must hold the
    UUID of the LUKS container (blkid of the encrypted partition), not of the filesystem inside."""
    return _rewrite_field(text, uuid_by_device, 1)


def _rewrite_field(text, uuid_by_device, index):
    lines = split_lines(text)
    changes, unmapped = [], []
    for lineno, line in enumerate(lines, 1):
        body = line[0]
        if is_comment(body):
            continue
        fields = []
        for match in _FIELD.finditer(body):
            fields.append(match)
            if len(fields) > max(index, 1):
                break
        if len(fields) < max(index + 1, 2):
            continue
        field = fields[index]
        spec = unescape(field.group(0))
        if not devices.is_unstable(spec):
            continue
        new = devices.stable_spec(spec, uuid_by_device)
        if new is None:
            unmapped.append({"lineno": lineno, "spec": spec})
            continue
        line[0] = body[:field.start()] + new + body[field.end():]
        changes.append({"lineno": lineno, "before": body, "after": line[0]})
    return {"text": join_lines(lines), "changes": changes, "unmapped": unmapped}


def rewrite_resume(text, uuid_by_device):
    """/etc/initramfs-tools/conf.d/resume (RESUME=/dev/sda5): the swap device the initramfs resumes
    from. Left bus-dependent, the initramfs waits for a device that never appears (a boot delay, and
    no resume). RESUME=none and RESUME=auto stay as they are."""
    lines = split_lines(text)
    changes, unmapped = [], []
    for lineno, line in enumerate(lines, 1):
        body = line[0]
        found = None if is_comment(body) else assignment(body)
        if not found or found["key"] != "RESUME" or not devices.is_unstable(found["value"]):
            continue
        new = devices.stable_spec(found["value"], uuid_by_device)
        if new is None:
            unmapped.append({"lineno": lineno, "spec": found["value"]})
            continue
        quote = found["quote"] if found["quote"] in ("'", '"') else ""
        line[0] = body[:found["start"]] + quote + new + quote + body[found["end"]:]
        changes.append({"lineno": lineno, "before": body, "after": line[0]})
    return {"text": join_lines(lines), "changes": changes, "unmapped": unmapped}
