# -*- coding: utf-8 -*-
"""Sample guest files for the Linux repair knowledge: single files and whole guest trees."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

GUEST = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "fixtures", "guest")


def _read(path):
    # newline="" keeps the bytes of line endings exactly as stored
    with open(path, encoding="utf-8", newline="") as fh:
        return fh.read()


@pytest.fixture
def sample():
    """sample("fstab/debian12-vmware.fstab") -> the file's text."""
    return lambda relative: _read(os.path.join(GUEST, relative))


@pytest.fixture
def guest_tree():
    """guest_tree("network/rhel9-nm") -> {"/etc/...": text} of every file below that folder."""
    def load(relative):
        root = os.path.join(GUEST, relative)
        out = {}
        for folder, dummy, names in os.walk(root):
            for name in names:
                path = os.path.join(folder, name)
                out["/" + os.path.relpath(path, root).replace(os.sep, "/")] = _read(path)
        return out
    return load
