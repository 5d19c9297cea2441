# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The repair record: proof that this very image was repaired with these options.

Asking the appliance whether a repaired guest needs anything costs a launch (minutes under TCG). The
record lets a rerun answer at once, and only for the same file (path, inode, device: a reconversion
writes a new file) and the same options (including the NIC MACs). The guest changing its own disk after
the repair (booting, updating) does not void it: that is the guest's business, not a new migration.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.hyper2kvm.migrate.plugins.module_utils import _records

VERSION = 1


def load(record_path, image_path, options):
    """The recorded result for this image and options, or None."""
    data = _records.read_json(record_path)
    if not data or data.get("version") != VERSION:
        return None
    try:
        image = _records.file_identity(image_path)
    except OSError:
        return None
    # Compare as JSON sees them (tuples and lists alike).
    if data.get("image") != image or data.get("options") != json.loads(json.dumps(options)):
        return None
    return data.get("result")


def save(record_path, image_path, options, result):
    _records.write_json(record_path, {"version": VERSION, "image": _records.file_identity(image_path),
                                      "options": options, "result": result})
