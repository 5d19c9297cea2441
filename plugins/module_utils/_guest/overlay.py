# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A throw-away qcow2 overlay on a disk image: every write of a repair lands in it, and reaches the
image only through commit() after the whole repair was verified. Discarding it leaves the image
byte-identical."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import tempfile

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._disk import qemu_img

CREATE_TIMEOUT = 120
COMMIT_TIMEOUT = 3600


class Overlay(object):
    """with Overlay(image, fmt) as ov: ... ov.path is the overlay; ov.commit() writes it into the image.
    The private directory (next to the image, so that commit stays on one filesystem) is always removed."""

    def __init__(self, image, image_format):
        self.image = os.path.abspath(image)
        self.format = image_format
        self.dir = None
        self.path = None
        self.committed = False
        self.commit_seconds = None

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix=".h2k-repair-", dir=os.path.dirname(self.image))
        self.path = os.path.join(self.dir, "overlay.qcow2")
        try:
            qemu_img.run(qemu_img.overlay_argv(self.image, self.format, self.path), timeout=CREATE_TIMEOUT)
        except BaseException:
            self.discard()
            raise
        return self

    def __exit__(self, *exc_info):
        self.discard()
        return False

    def commit(self):
        seconds = qemu_img.run(qemu_img.commit_argv(self.path), timeout=COMMIT_TIMEOUT)[2]
        self.committed = True
        self.commit_seconds = round(seconds, 2)

    def discard(self):
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
