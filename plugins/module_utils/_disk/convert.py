# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Convert one source disk (flattening its chain) to a sparse qcow2 or raw file, atomically.

The output is written to a hidden temporary name in the destination directory, verified, and only
then renamed over the destination. A small state file next to the output records what it was made
from; a rerun whose source and options are unchanged does nothing (changed=False).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import shutil
import time

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._disk import qemu_img, source, sparse_vmdk
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    IntegrityError, InvalidInputError, MigrationError)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._transfer import destination

STATE_SUFFIX = ".hyper2kvm.json"
STATE_VERSION = 1
ENGINES = ("auto", "qemu-img")


class Request(object):
    """What the caller asked for, validated once."""

    def __init__(self, src, dest, src_format=None, member=None, dest_format="qcow2", coroutines=8,
                 out_of_order=True, compare=False, checksum=None, progress_file=None, force=False,
                 timeout=None, keep_modified=False, engine="auto", read_threads=None):
        if dest_format not in qemu_img.OUTPUT_FORMATS:
            raise InvalidInputError("dest_format must be one of %s." % ", ".join(qemu_img.OUTPUT_FORMATS))
        if not 1 <= int(coroutines) <= 16:
            raise InvalidInputError("coroutines must be between 1 and 16 (qemu-img's limit), got %s." % coroutines)
        if engine not in ENGINES:
            raise InvalidInputError("engine must be one of %s." % ", ".join(ENGINES))
        if read_threads is not None and not 1 <= int(read_threads) <= 64:
            raise InvalidInputError("read_threads must be between 1 and 64, got %s." % read_threads)
        if checksum not in (None, "sha256"):
            raise InvalidInputError("checksum must be sha256 or unset.")
        self.src, self.dest = src, os.path.abspath(dest)
        self.src_format, self.member, self.dest_format = src_format, member, dest_format
        self.coroutines, self.out_of_order = int(coroutines), out_of_order
        self.compare, self.checksum, self.progress_file = compare, checksum, progress_file
        self.force, self.timeout, self.keep_modified = force, timeout, keep_modified
        self.engine = engine
        self.read_threads = int(read_threads) if read_threads else sparse_vmdk.default_threads()

    @property
    def state_path(self):
        return self.dest + STATE_SUFFIX

    @property
    def partial_path(self):
        head, tail = os.path.split(self.dest)
        return os.path.join(head, ".%s.partial" % tail)


def _stat_fingerprint(path):
    st = os.stat(path)
    return {"path": os.path.realpath(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino}


def _source_fingerprint(req, opened):
    return {
        "member": req.member,
        "layers": [dict(_stat_fingerprint(layer["path"]), format=layer["format"],
                        offset=layer["offset"], window=layer["size"]) for layer in opened["layers"]],
        "dest_format": req.dest_format,
    }


def read_state(req):
    try:
        with open(req.state_path) as fh:
            return json.load(fh)
    except (IOError, OSError, ValueError):
        return None


def is_up_to_date(req, fingerprint, state):
    """Same source, same options, and the output is the very file we wrote - unchanged, or (with
    keep_modified) changed in place since, as guest_repair and a first boot do."""
    if not state or state.get("version") != STATE_VERSION or not os.path.exists(req.dest):
        return False
    if state.get("source") != fingerprint:
        return False
    now, written = _stat_fingerprint(req.dest), state.get("output") or {}
    if now == written:
        return True
    # Our rename put a new inode in place; another file put there since has another one.
    return bool(req.keep_modified) and all(now[k] == written.get(k) for k in ("path", "inode"))


def _check_destination(req, state, check_mode, findings):
    destination.check([{"path": req.dest, "record": state}], os.path.dirname(req.dest), req.force, findings,
                      check_mode, "disk_convert", option="dest")
    if os.path.realpath(req.src) == os.path.realpath(req.dest):
        raise InvalidInputError("dest is the source itself; the source is never modified.",
                                fix="Choose another dest.")


def _check_space(req, required):
    free = shutil.disk_usage(os.path.dirname(req.dest)).free
    if required and free < required:
        raise MigrationError("Not enough space in %s: the output needs %d bytes, %d are free."
                             % (os.path.dirname(req.dest), required, free),
                             fix="Free space or choose a destination on a larger file system.",
                             required_bytes=required, free_bytes=free)


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(4 * 1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path, directory=False):
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_state(req, fingerprint, result):
    state = {"version": STATE_VERSION, "source": fingerprint, "output": _stat_fingerprint(req.dest),
             "virtual_size": result["virtual_size"], "sha256": result.get("sha256"),
             "written_at": int(time.time())}
    tmp = req.state_path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(state, fh, indent=1, sort_keys=True)
    os.replace(tmp, req.state_path)


def convert(req, check_mode=False):
    """Plan (check_mode) or perform the conversion; returns the module result."""
    opened = source.open_source(req.src, fmt=req.src_format, member=req.member)
    fingerprint = _source_fingerprint(req, opened)
    state = read_state(req)
    argv = qemu_img.convert_argv(opened["spec"], req.partial_path, req.dest_format, req.coroutines,
                                 req.out_of_order, progress=bool(req.progress_file))
    result = {"changed": False, "dest": req.dest, "dest_format": req.dest_format, "state_file": req.state_path,
              "src": {"path": os.path.realpath(req.src), "member": req.member,
                      "chain": [{k: layer[k] for k in ("path", "format", "subformat", "offset", "size")}
                                for layer in opened["layers"]]},
              "findings": list(opened["warnings"]), "commands": []}
    if is_up_to_date(req, fingerprint, state) and not req.force:
        result.update(virtual_size=state.get("virtual_size"), actual_size=_allocated(req.dest))
        if _stat_fingerprint(req.dest) != state.get("output"):
            result["findings"].append("%s was changed in place after its conversion (keep_modified): kept." % req.dest)
        if req.checksum:
            # Asking for a checksum of a current output does not justify reconverting it.
            result["sha256"] = state.get("sha256") or _sha256(req.dest)
            if not check_mode and not state.get("sha256"):
                _write_state(req, fingerprint, result)
        return result
    _check_destination(req, state, check_mode, result["findings"])
    measure = qemu_img.measure_argv(opened["spec"], req.dest_format)
    required = qemu_img.parse_measure(qemu_img.run(measure)[1])["required"]
    grains = _sparse_vmdk_layout(req, opened)
    result.update(changed=True, required_bytes=required, commands=[measure] if grains else [measure, argv],
                  engine="sparse-vmdk" if grains else "qemu-img")
    if check_mode:
        return result
    _check_space(req, required)
    try:
        _remove(req.partial_path)
        if grains:
            seconds = _sparse_vmdk_convert(req, opened, grains, result)
        else:
            seconds = qemu_img.run(argv, timeout=req.timeout, progress_path=req.progress_file)[2]
        result["commands"].extend(_verify(req, opened, result))
        _fsync(req.partial_path)
        os.replace(req.partial_path, req.dest)
        _fsync(os.path.dirname(req.dest), directory=True)
    except BaseException:
        _remove(req.partial_path)
        raise
    if req.checksum:
        result["sha256"] = _sha256(req.dest)
    result["actual_size"] = _allocated(req.dest)
    result["duration_seconds"] = round(seconds, 3)
    result["bytes_per_second"] = int(result["actual_size"] / seconds) if seconds > 0 else None
    _write_state(req, fingerprint, result)
    return result


def _sparse_vmdk_layout(req, opened):
    """The layout of a sparse VMDK we read ourselves, or None when qemu-img converts.

    Reading the grain tables here, also in check mode, finds a corrupt or truncated file before
    anything is written."""
    layers = opened["layers"]
    if req.engine != "auto" or len(layers) != 1:
        return None
    layer = layers[0]
    if layer["format"] != "vmdk" or layer["subformat"] not in sparse_vmdk.SUBFORMATS:
        return None
    try:
        return sparse_vmdk.open_layout(layer["path"], layer["offset"], _window_size(layer))
    except sparse_vmdk.Unsupported:
        return None


def _window_size(layer):
    return os.path.getsize(layer["path"]) - layer["offset"] if layer["size"] is None else layer["size"]


def _sparse_vmdk_convert(req, opened, layout, result):
    layer = opened["layers"][0]
    progress = None
    if req.progress_file:
        def progress(fraction, seconds):
            qemu_img.write_progress(req.progress_file, 100.0 * fraction, seconds)
    done = sparse_vmdk.convert(layer["path"], layer["offset"], _window_size(layer), layout, req.partial_path,
                               req.dest_format, req.read_threads, progress=progress, timeout=req.timeout)
    result["sparse_vmdk"] = {key: done[key] for key in ("subformat", "inflate", "threads", "grains")}
    return done["seconds"]


def _verify(req, opened, result):
    """The output must be a sound image of the same virtual size (and identical, if asked)."""
    commands = []
    info_argv = qemu_img.info_argv(source.plain_spec(req.partial_path, req.dest_format))
    commands.append(info_argv)
    out_info = qemu_img.parse_info(qemu_img.run(info_argv)[1])
    expected = opened["layers"][0]["virtual_size"]
    result["virtual_size"] = out_info["virtual_size"]
    if expected is not None and out_info["virtual_size"] != expected:
        raise IntegrityError("Converted image has virtual size %s, the source %s."
                             % (out_info["virtual_size"], expected))
    if req.dest_format == "qcow2":
        argv = qemu_img.check_argv(req.partial_path, "qcow2")
        commands.append(argv)
        checked = qemu_img.parse_check(qemu_img.run(argv, ok_codes=(0, 2, 3))[1])
        if checked["errors"]:
            raise IntegrityError("qemu-img check found %d errors in the converted image." % checked["errors"])
    if req.compare:
        argv = qemu_img.compare_argv(opened["spec"], req.partial_path, req.dest_format)
        commands.append(argv)
        rc = qemu_img.run(argv, ok_codes=(0, 1))[0]
        if rc == 1:
            raise IntegrityError("The converted image differs from the source (qemu-img compare).")
    return commands


def _allocated(path):
    return os.stat(path).st_blocks * 512


def _remove(path):
    try:
        os.unlink(path)
    except OSError:
        pass
