# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A source image as an explicit chain of layers that qemu-img may open.

open_chain() detects every layer from its own header, checks that every file the image refers to
(backing files, VMDK extents, qcow2 data files) stays inside the source directory, and returns
the layers top-first. block_spec() turns them into a qemu `json:` filename in which every driver
is explicit and the last layer has `backing: null`, so qemu-img neither probes a format nor opens
a file we have not checked.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._disk import formats
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    InvalidInputError, UnsafeInputError)

MAX_CHAIN_DEPTH = 32
# "nbd://", "json:{...}", "file:/x", "C:\\...": qemu would interpret these or they cannot be ours.
_PROTOCOL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
# Formats whose drivers open their own backing files and therefore accept a backing option.
_BACKING_DRIVERS = ("qcow2", "vmdk")


def resolve_reference(image_path, name, root_dir):
    """Absolute real path of a file an image refers to, or UnsafeInputError if it leaves root_dir."""
    where = "%s refers to %r" % (image_path, name)
    if not name or "\x00" in name or _PROTOCOL_RE.match(name):
        raise UnsafeInputError("%s, which is not a plain file name." % where,
                               fix="Only files inside the source directory are read; fix the image's metadata "
                                   "on a trusted host or provide a flattened image.")
    candidate = name if os.path.isabs(name) else os.path.join(os.path.dirname(image_path), name)
    real = os.path.realpath(candidate)
    root = os.path.realpath(root_dir)
    if os.path.commonpath([real, root]) != root:
        raise UnsafeInputError("%s, which is outside the source directory %s." % (where, root),
                               fix="Place the whole snapshot chain / all extents in one directory with relative "
                                   "names, or flatten the image first.")
    if not os.path.isfile(real):
        raise InvalidInputError("%s, which does not exist or is not a regular file." % where,
                                fix="Copy the missing file next to the image.")
    return real


def open_chain(path, fmt=None, offset=0, size=None):
    """{"layers": [...] top first, "warnings": [...]} for the image at path.

    fmt, when given, must agree with the header, except "raw": reading any bytes as raw is safe,
    so a declared raw is honoured (with a warning when the header says otherwise)."""
    real = os.path.realpath(path)
    if not os.path.isfile(real):
        raise InvalidInputError("Source image %s does not exist or is not a regular file." % path)
    root = os.path.dirname(real)
    layers, seen, warnings = [], set(), []
    current, cur_offset, cur_size, declared = real, offset, size, fmt
    while True:
        if current in seen:
            raise InvalidInputError("Backing chain of %s loops back to %s." % (path, current))
        if len(layers) >= MAX_CHAIN_DEPTH:
            raise InvalidInputError("Backing chain of %s is deeper than %d layers." % (path, MAX_CHAIN_DEPTH))
        seen.add(current)
        found = formats.detect(current, cur_offset, cur_size)
        _check_declared(current, found["format"], declared, cur_offset)
        if declared is not None and formats.normalise_format(declared) == "raw" and found["format"] != "raw":
            warnings.append("%s has a %s header but was declared raw: reading it as raw bytes."
                            % (current, found["format"]))
            found = {"format": "raw", "subformat": None, "references": [],
                     "virtual_size": size if size is not None else os.path.getsize(current) - offset}
        layer = {"path": current, "format": found["format"], "subformat": found["subformat"],
                 "offset": cur_offset, "size": cur_size, "virtual_size": found["virtual_size"]}
        layers.append(layer)
        backing = None
        for ref in found["references"]:
            if cur_offset:
                raise UnsafeInputError("%s inside an archive refers to another file (%s %r)."
                                       % (current, ref["kind"], ref["name"]),
                                       fix="Archive members must be self-contained disks.")
            resolved = resolve_reference(current, ref["name"], root)
            if ref["kind"] == "backing":
                backing = resolved
        if backing is None:
            return {"layers": layers, "warnings": warnings}
        current, cur_offset, cur_size, declared = backing, 0, None, None


def _check_declared(path, detected, declared, offset):
    """A header that contradicts what the user or the file name says is an error, not a guess."""
    if declared is not None:
        declared = formats.normalise_format(declared)
        if declared != detected and declared != "raw":
            raise InvalidInputError("%s was declared as %s but its header says %s." % (path, declared, detected),
                                    fix="Check the file; pass the format its header shows if it is right.")
        return
    by_name = None if offset else formats.format_from_extension(path)
    if by_name and by_name != detected:
        raise InvalidInputError(
            "%s is named like a %s image but its header says %s (truncated, mislabelled or crafted?)."
            % (path, by_name, detected),
            fix="Rename the file to match its content, or pass the format explicitly to read it as such.")


def block_spec(layers):
    """qemu block-driver tree for the chain, every driver explicit (never a bare protocol node,
    on which qemu would probe a format)."""
    spec = None
    for layer in reversed(layers):
        window = {}
        if layer["offset"] or layer["size"] is not None:
            window["offset"] = layer["offset"]
            if layer["size"] is not None:
                window["size"] = layer["size"]
        node = {"driver": "file", "filename": layer["path"]}
        if layer["format"] == "raw":
            node = dict({"driver": "raw", "file": node}, **window)
        else:
            if window:
                node = dict({"driver": "raw", "file": node}, **window)
            node = {"driver": layer["format"], "file": node}
            if layer["format"] == "vpc" and layer.get("subformat") == "fixed":
                # A fixed VHD holds exactly the footer's current size; qemu would otherwise size images
                # of creators it does not know (Azure's among them) by their CHS geometry, cutting them short.
                node["force_size_calc"] = "current_size"
            if layer["format"] in _BACKING_DRIVERS:
                node["backing"] = spec
        spec = node
    return spec


def json_filename(spec):
    return "json:" + json.dumps(spec, sort_keys=True, separators=(",", ":"))
