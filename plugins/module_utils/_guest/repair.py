# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline repair of a converted Linux guest: plan, apply, verify, commit.

Check mode inspects the image read-only and returns the plan with the diff of every file it would
write. A real repair puts a qcow2 overlay on the image, launches ONE appliance read-write on the
overlay (the image itself is only ever opened read-only), inspects, plans (linux_repair.plan), applies
each step and verifies it (files re-read and compared by SHA-256, rebuilt initramfs images listed,
removed packages looked up), shuts the appliance down cleanly and only then commits the overlay into
the image. Any failure discards the overlay: the image stays byte-identical. Guest filesystems are
never mounted on the host.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import posixpath
import time

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    CommandError, IntegrityError, InvalidInputError, MigrationError, UnsafeInputError, UnsupportedError)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest import inspect, linux_repair
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest.appliance import Appliance, unsafe_findings
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest.linux import cpio, initramfs
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest.overlay import Overlay

FORMATS = ("qcow2", "raw")
SHELL_ENV = "PATH=/usr/sbin:/usr/bin:/sbin:/bin; export PATH; DEBIAN_FRONTEND=noninteractive; export DEBIAN_FRONTEND; "
_TAIL = 1500
_RC_MARK = "h2k-exit-status="
_APPEND_CHUNK = 1024 * 1024  # below the library's 4 MiB message limit
_MODULE_LIMIT = 64 * 1024 * 1024
# Errors a step passes on with their own class; anything else becomes a plain MigrationError.
_KEPT_ERRORS = (MigrationError, IntegrityError, InvalidInputError, UnsafeInputError, UnsupportedError)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def _quote(arg):
    return "'" + arg.replace("'", "'\\''") + "'"


def _facts(app, image, readonly):
    facts = inspect.new_result(image)
    inspect.inspect_open(app, image, facts, readonly=readonly)
    if facts["blockers"]:
        raise UnsupportedError("The guest cannot be repaired: %s" % "; ".join(b["message"] for b in facts["blockers"]),
                               fix=" ".join(b["fix"] for b in facts["blockers"]), blockers=facts["blockers"])
    refuse_unsafe(facts["findings"])
    return facts


def refuse_unsafe(findings):
    """UnsafeInputError when the inspection refused guest files as unsafe (symlinks out of the guest or to
    other files, FIFOs and devices, huge or binary files): the plan would rest on files that were not
    read, and editing through such a link could write another guest file (pure)."""
    unsafe = unsafe_findings(findings)
    if unsafe:
        paths = sorted(set(f.get("path") or "?" for f in unsafe))
        raise UnsafeInputError("The guest is not repaired: files it depends on cannot be read safely: %s"
                               % " ".join(f["message"] for f in unsafe),
                               fix="In the source VM, make %s regular text files (or remove them), then export "
                                   "and migrate again." % ", ".join(paths), findings=unsafe)


def _read(app, step):
    """(guest path to write, current bytes or None when absent) of a write_file step's file."""
    path = step["path"]
    if not app.exists(path) and not app.try_call(app.g.is_symlink, path):
        _check_parent(app, path)
        return path, None
    before = len(app.findings)
    found = app.read_bytes(path, what="file to repair")
    if found is None:
        reason = app.findings[-1]["message"] if len(app.findings) > before else "%s cannot be read." % path
        raise UnsafeInputError(reason, fix="Make %s a regular text file (or remove it) in the source VM, then "
                                           "export and migrate again." % path)
    return found


def _check_parent(app, path):
    """A new file must land where its path says: refuse when a folder on the way is a symlink (a
    linked /etc/systemd/network would put the file somewhere else in the guest)."""
    folder = posixpath.dirname(path)
    while folder != "/" and not app.exists(folder):  # exists() is true for a dangling link too
        folder = posixpath.dirname(folder)
    real = app.try_call(app.g.realpath, folder)
    if real != folder:
        raise UnsafeInputError("%s cannot be created: %s is a symlink (to %s)." % (path, folder, real or "nowhere"),
                               fix="Make %s a real directory (or remove it) in the source VM, then export and "
                                   "migrate again." % folder)


def _utf8_text(data):
    """data decoded strictly, or None for binary (NUL bytes) or non-UTF-8 files: writing back text with
    replacement characters would corrupt them."""
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _render(app, step, umap):
    """step + before/after texts and hashes; "change" is False when the file is right already."""
    target, data = _read(app, step)
    text = _utf8_text(data) if data is not None else None
    if data is not None and text is None:
        raise InvalidInputError("%s is not UTF-8 text (binary data or another encoding): it is not edited."
                                % step["path"], fix="Convert %s to UTF-8 text in the source VM, then export and "
                                                    "migrate again." % step["path"])
    out = linux_repair.render(step, text, umap)
    new = out["text"]
    step.update({"target": target, "before": text, "after": new, "change": new != (text or "") or data is None,
                 "sha256_before": sha256(data) if data is not None else None,
                 "sha256_after": sha256(new.encode("utf-8")), "unmapped": out.get("unmapped") or []})
    return step


def split_status(text):
    """(output, exit status as a string or None when missing) of a guest command run by _sh (pure)."""
    body, mark, rc = text.rpartition(_RC_MARK)
    return (body, rc.strip()) if mark else (text, None)


def _sh(app, step, argv):
    """Output of argv run in the guest; CommandError with that output when it fails. The exit status is
    echoed after the output because libguestfs reports only stderr on failure, which 2>&1 empties."""
    output = app.call(app.g.sh, SHELL_ENV + " ".join(_quote(a) for a in argv) + " 2>&1; echo " + _RC_MARK + "$?")
    body, rc = split_status(output.decode("utf-8", "replace") if isinstance(output, bytes) else output or "")
    if rc != "0":
        command = " ".join(argv)
        raise CommandError(argv, rc, body[-_TAIL:], message="%s failed in the guest (exit status %s): %s"
                           % (command, rc or "unknown", body.strip()[-500:] or "(no output)"),
                           fix="Run '%s' in the source VM to see why it fails there, fix that, then export and "
                               "migrate again." % command)
    return body[-_TAIL:]


def _apply_write(app, step, umap):
    _render(app, step, umap)
    if not step["change"]:
        return "unchanged"
    app.call(app.g.mkdir_p, posixpath.dirname(step["target"]))
    app.call(app.g.write, step["target"], step["after"].encode("utf-8"))
    written = sha256(app.call(app.g.read_file, step["target"]))
    if written != step["sha256_after"]:
        raise IntegrityError("Step %s: %s reads back with SHA-256 %s, not %s." % (
            step["id"], step["path"], written, step["sha256_after"]))
    return "changed"


def _regular_file(app, path, role):
    """Refuse a symlink, folder or other non-regular file where a regular file is copied from or over."""
    if app.try_call(app.g.is_symlink, path) or not app.try_call(app.g.is_file, path):
        raise UnsafeInputError("%s %s is not a regular file: it is not copied %s." % (
            role, path, "from" if role == "Source" else "over"),
            fix="Make %s a regular file (or remove it) in the source VM, then export and migrate again." % path)


def _apply_copy(app, step):
    """A guest file copied inside the guest (the EFI fallback loader), verified by its SHA-256."""
    source, target = step["source"], step["path"]
    _regular_file(app, source, "Source")
    want = app.call(app.g.checksum, "sha256", source)
    before = None
    if app.exists(target) or app.try_call(app.g.is_symlink, target):
        _regular_file(app, target, "Target")
        before = app.call(app.g.checksum, "sha256", target)
    else:
        _check_parent(app, target)
    step.update(sha256_before=before, sha256_after=want)
    if before == want:
        return "unchanged"
    app.call(app.g.mkdir_p, posixpath.dirname(target))
    app.call(app.g.cp, source, target)
    written = app.call(app.g.checksum, "sha256", target)
    if written != want:
        raise IntegrityError("Step %s: %s reads back with SHA-256 %s, not %s (the SHA-256 of %s)."
                             % (step["id"], target, written, want, source))
    return "changed"


def _verify_initramfs(app, step, done):
    listing = app.initrd_listing(step["path"])
    missing = initramfs.missing_virtio(listing, step.get("builtin")) if listing is not None else None
    if missing is None or missing:
        raise IntegrityError("Step %s: the %s initramfs %s %s." % (
            step["id"], done, step["path"], "cannot be listed" if missing is None else "still lacks " + ", ".join(missing)),
            fix="Check the guest's initramfs configuration (%s)." % (step.get("output") or "")[-300:])


def _apply_run(app, step, facts):
    step["output"] = _sh(app, step, step["command"])
    if step.get("kind") == "initramfs":
        step["method"] = "rebuild"
        _verify_initramfs(app, step, "rebuilt")
    return "changed"


class _CannotAppend(Exception):
    pass


def _virtio_archive(app, step):
    """(cpio archive bytes, module names) that give the initramfs of step["kernel"] the virtio drivers
    it lacks, with their dependencies and the kernel's module indexes; _CannotAppend saying why not."""
    listing = app.initrd_listing(step["path"])
    if listing is None:
        raise _CannotAppend("the initramfs cannot be listed")
    folder = step["modules_dir"]
    dep = app.read_text(folder + "/modules.dep", limit=_MODULE_LIMIT, what="module index")
    if dep is None:
        raise _CannotAppend("%s/modules.dep cannot be read" % folder)
    try:
        paths = initramfs.modules_to_append(listing, initramfs.parse_modules_dep(dep), step.get("builtin"))
    except InvalidInputError as exc:
        raise _CannotAppend(exc.message)
    root = initramfs.modules_root(listing, step["kernel"])
    members = []
    for name in paths + [i for i in initramfs.MODULE_INDEXES if app.exists(folder + "/" + i)]:
        found = app.read_bytes(folder + "/" + name, limit=_MODULE_LIMIT, what="kernel module file")
        if found is None:
            raise _CannotAppend("%s/%s cannot be read" % (folder, name))
        members.append((root + "/" + name, found[1]))
    entries = [(d, None) for d in cpio.parent_dirs([m[0] for m in members], root)] + members
    return cpio.archive(entries, mtime=int(time.time())), [initramfs.module_name(p) for p in paths]


def _apply_append(app, step, notes):
    """Append the drivers to the initramfs as one more archive (see cpio.py); rebuild it instead when
    that is not possible (no modules.dep, a driver file missing, an initramfs that cannot be listed)."""
    try:
        segment, added = _virtio_archive(app, step)
    except _CannotAppend as exc:
        notes.append("The initramfs of %s could not be extended (%s): it was rebuilt instead." % (step["kernel"], exc))
        step["method"] = "rebuild"
        return _apply_run(app, step, None)
    target = app.regular_file(step["path"], "initramfs")
    listing, digest = app.initrd_listing(step["path"]), app.initrd_digest(step["path"])
    size = app.call(app.g.filesize, target)
    data = b"\0" * ((4 - size % 4) % 4) + segment  # the kernel reads archive headers at 4-byte boundaries
    before = digest.hexdigest()
    digest.update(data)
    written = 0
    while written < len(data):  # pwrite may write less than asked
        done = app.call(app.g.pwrite, target, data[written:written + _APPEND_CHUNK], size + written)
        if done <= 0:
            raise IntegrityError("Step %s: writing to %s stopped at byte %d." % (step["id"], step["path"], size + written))
        written += done
    # The file must now be the initramfs as listed plus exactly our archive; the guest computes the
    # digest of what it holds, we compute what it must be.
    after = app.call(app.g.checksum, "sha256", target)
    if after != digest.hexdigest():
        raise IntegrityError("Step %s: %s reads back with SHA-256 %s, not %s." % (
            step["id"], step["path"], after, digest.hexdigest()))
    app.initrd_extended(target, listing + cpio.names(segment), digest)
    step.update(method="append", modules_added=added, bytes_appended=len(data), sha256_before=before,
                sha256_after=after)
    _verify_initramfs(app, step, "extended")
    return "changed"


def _mask(app, unit):
    link = "/etc/systemd/system/" + unit
    app.call(app.g.mkdir_p, "/etc/systemd/system")
    app.call(app.g.ln_sf, "/dev/null", link)
    if app.call(app.g.readlink, link) != "/dev/null":
        raise IntegrityError("%s could not be masked." % unit)


def _apply_remove(app, step, facts, notes):
    try:
        step["output"] = _sh(app, step, step["command"])
    except MigrationError as exc:
        step["output"] = exc.message[-_TAIL:]
        for unit in step.get("services") or []:
            _mask(app, unit)
        notes.append("Removing %s failed (%s); the services %s were masked instead."
                     % (", ".join(step["packages"]), exc.message[-200:], ", ".join(step.get("services") or [])))
        return "services_masked"
    left = [a["app2_name"] for a in app.try_call(app.g.inspect_list_applications2, facts["os"]["root"]) or []]
    still = [p for p in step["packages"] if p in left]
    if still:
        raise IntegrityError("Step %s: %s still installed after %s."
                             % (step["id"], ", ".join(still), " ".join(step["command"])))
    return "changed"


def _apply(app, steps, facts, notes, hook):
    umap = linux_repair.uuid_map(facts)
    done = []
    for step in steps:
        started = time.monotonic()
        try:
            if step["action"] == "write_file":
                status = _apply_write(app, step, umap)
            elif step["action"] == "copy_file":
                status = _apply_copy(app, step)
            elif step["action"] == "run":
                status = _apply_run(app, step, facts)
            elif step["action"] == "append_initramfs":
                status = _apply_append(app, step, notes)
            elif step["action"] == "remove_package":
                status = _apply_remove(app, step, facts, notes)
            else:
                _mask(app, step["unit"])
                status = "changed"
            if hook:
                hook(step, app)
        except MigrationError as exc:
            cls = type(exc) if type(exc) in _KEPT_ERRORS else MigrationError
            raise cls("Repair step %s (%s %s) failed: %s"
                      % (step["id"], step["action"], step.get("path") or "", exc.message),
                      fix=exc.fix, step=step["id"], steps_done=done)
        step.update(status=status, seconds=round(time.monotonic() - started, 2))
        done.append(_log_entry(step))
    return done


def _log_entry(step):
    keys = ("id", "action", "path", "source", "reason", "status", "seconds", "sha256_before", "sha256_after",
            "command",
            "packages", "unit", "kernel", "method", "modules_added", "bytes_appended", "output")
    return dict((k, step[k]) for k in keys if step.get(k) is not None)


def _diff(steps):
    return [{"before_header": s["path"], "after_header": s["path"], "before": s.get("before") or "",
             "after": s["after"]} for s in steps if s["action"] == "write_file" and s.get("change")]


def repair(image_path, image_format=None, options=None, check_mode=False, accel=None, hook=None):
    """Repair the guest on a flattened qcow2/raw image in place (see module doc). hook(step, app) runs
    after each verified step (tests use it to fail on purpose)."""
    started = time.monotonic()
    options = linux_repair.options_with_defaults(options)
    image = inspect.check_image(image_path, image_format)
    if image["format"] not in FORMATS:
        raise UnsupportedError("%s is %s; guest_repair edits qcow2 or raw images." % (image_path, image["format"]),
                               fix="Convert it with hyper2kvm.migrate.disk_convert first.")
    result = {"changed": False, "image": {"path": image["path"], "format": image["format"]}, "steps": [],
              "plan": [], "diff": [], "notes": [], "kernels_rebuilt": [], "committed": False,
              "durations": {"appliance_launch": None, "initramfs": 0.0, "commit": None, "total": None}}
    if check_mode:
        drive = {"path": image["path"], "format": image["format"], "readonly": True}
        with Appliance([drive], accel=accel) as app:
            facts = _facts(app, image, True)
            steps, result["notes"] = linux_repair.plan(facts, options)
            umap = linux_repair.uuid_map(facts)
            steps = [s for s in steps if not s["id"].endswith("-recheck")]  # it checks what a real run writes
            for step in steps:
                if step["action"] == "write_file":
                    _render(app, step, umap)
            result["durations"]["appliance_launch"] = app.launch_seconds
        kept = [s for s in steps if s["action"] != "write_file" or s.get("change")]
        result.update(changed=bool(kept), plan=[_log_entry(s) for s in kept], diff=_diff(kept),
                      kernels_rebuilt=[s["kernel"] for s in kept if s.get("kind") == "initramfs"])
    else:
        with Overlay(image["path"], image["format"]) as ov:
            drive = {"path": ov.path, "format": "qcow2", "readonly": False}
            with Appliance([drive], accel=accel) as app:
                facts = _facts(app, image, False)
                steps, result["notes"] = linux_repair.plan(facts, options)
                result["plan"] = [_log_entry(s) for s in steps]
                done = _apply(app, steps, facts, result["notes"], hook)
                result["durations"]["appliance_launch"] = app.launch_seconds
                changed = any(s["status"] != "unchanged" for s in done)
                if changed:  # everything flushed before anything reaches the image
                    app.call(app.g.umount_all)
                    app.call(app.g.shutdown)
            if changed:
                ov.commit()
                result["durations"]["commit"] = ov.commit_seconds
        result.update(changed=changed, committed=ov.committed, steps=done, diff=_diff(steps),
                      kernels_rebuilt=[s["kernel"] for s in steps if s.get("kind") == "initramfs"])
        result["durations"]["initramfs"] = round(sum(s["seconds"] for s in done if s.get("kernel")), 2)
    result["facts"] = facts
    result["durations"]["total"] = round(time.monotonic() - started, 2)
    return result
