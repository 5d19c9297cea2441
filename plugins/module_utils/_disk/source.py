# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Open a source disk (a file, or a member of an OVA read in place) and describe it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._disk import chain, qemu_img


def open_source(path, fmt=None, member=None):
    """Checked chain for a disk; with member, the disk is read straight out of the OVA at path."""
    offset, size = 0, None
    if member:
        # Imported here: only OVA sources need the archive code.
        from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources import ova
        offset, size = ova.locate_member(path, member)
    opened = chain.open_chain(path, fmt=fmt, offset=offset, size=size)
    opened["spec"] = chain.json_filename(chain.block_spec(opened["layers"]))
    return opened


def layer_spec(layer):
    """A single layer with backing cut off, for per-layer qemu-img info."""
    return chain.json_filename(chain.block_spec([layer]))


def plain_spec(path, fmt):
    """An image we wrote ourselves (trusted format, no backing)."""
    return layer_spec({"path": path, "format": fmt, "offset": 0, "size": None})


def describe(path, fmt=None, member=None):
    """disk_info's answer: what the header and qemu-img say about every layer."""
    opened = open_source(path, fmt=fmt, member=member)
    commands, chain_out = [], []
    for layer in opened["layers"]:
        argv = qemu_img.info_argv(layer_spec(layer))
        commands.append(argv)
        info = qemu_img.parse_info(qemu_img.run(argv)[1])
        chain_out.append({
            "path": layer["path"], "format": layer["format"], "subformat": layer["subformat"],
            "offset": layer["offset"], "size": layer["size"],
            "virtual_size": info["virtual_size"],
            # For an archive member qemu-img reports the whole archive's allocation.
            "actual_size": info["actual_size"] if layer["size"] is None else layer["size"],
            "dirty": info["dirty"], "corrupt": info["corrupt"],
        })
    top = chain_out[0]
    warnings = list(opened["warnings"])
    if len(chain_out) > 1:
        warnings.append("%s is a chain of %d layers; disk_convert flattens it." % (path, len(chain_out)))
    for layer in chain_out:
        if layer["dirty"] or layer["corrupt"]:
            warnings.append("%s is marked %s; convert only after checking it."
                            % (layer["path"], "corrupt" if layer["corrupt"] else "dirty (not closed cleanly)"))
    return {
        "path": os.path.realpath(path),
        "member": member,
        "format": top["format"],
        "subformat": top["subformat"],
        "virtual_size": top["virtual_size"],
        "actual_size": sum(layer["actual_size"] or 0 for layer in chain_out),
        "backing_chain": chain_out[1:],
        "layers": chain_out,
        "findings": warnings,
        "commands": commands,
    }
