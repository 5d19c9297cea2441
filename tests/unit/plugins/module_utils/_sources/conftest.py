# -*- coding: utf-8 -*-
"""Real disk images for the source tests, made by qemu-img (never hand-built headers)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess

import pytest

BACKING_FORMATS = {".qcow2": "qcow2", ".vmdk": "vmdk", ".raw": "raw", ".img": "raw"}


@pytest.fixture
def make_image():
    """make_image(path, fmt, size, *qemu_img_options, backing=None) -> str path of a new image.

    backing is a name relative to the image's folder (as a snapshot delta names its parent); size may
    be None when a backing file gives it."""
    def make(path, fmt, size, *options, **kwargs):
        path = str(path)
        folder = os.path.dirname(path)
        if not os.path.isdir(folder):
            os.makedirs(folder)
        argv = ["qemu-img", "create", "-q", "-f", fmt] + list(options)
        backing = kwargs.get("backing")
        if backing:
            argv += ["-b", backing, "-F", BACKING_FORMATS[os.path.splitext(backing)[1]]]
        argv.append(path)
        if size is not None:
            argv.append(size)
        subprocess.run(argv, check=True, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return path
    return make
