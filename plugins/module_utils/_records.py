# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small JSON records that let a rerun recognise finished work (conversion, repair, boot check)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os


def read_json(path):
    """The record's content, or None when it is missing or unreadable (a rerun then does the work)."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_json(path, data):
    """Write atomically: a crash leaves the old record or none, never half of one."""
    tmp = "%s.tmp" % path
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, path)


def file_identity(path):
    """The file itself, not its content: a replaced file (new conversion) gets a new inode."""
    st = os.stat(path)
    return {"path": os.path.realpath(path), "inode": st.st_ino, "device": st.st_dev}
