# -*- coding: utf-8 -*-
"""Real images for the disk-layer tests, made with the real qemu-img / qemu-io in tmp_path."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import shutil
import subprocess

import pytest

MIB = 1024 * 1024


def _require(tool):
    if shutil.which(tool) is None:
        pytest.fail("%s is not installed: run scripts/setup.sh" % tool)


@pytest.fixture
def qimg():
    _require("qemu-img")

    def run(*args):
        return subprocess.run(("qemu-img",) + args, check=True, capture_output=True, text=True).stdout
    return run


@pytest.fixture
def write_pattern():
    """Write a byte pattern into an image through qemu-io (explicit format)."""
    _require("qemu-io")

    def run(path, fmt, pattern, offset, length):
        subprocess.run(["qemu-io", "-f", fmt, "-c", "write -P %d %d %d" % (pattern, offset, length), str(path)],
                       check=True, capture_output=True)
    return run
