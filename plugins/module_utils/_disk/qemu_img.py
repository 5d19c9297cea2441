# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""qemu-img: pure argv builders, JSON parsers, and the one place that runs it.

Sources are always given as an explicit `json:` block spec (see chain.py) and outputs with -O, so
no qemu-img call ever probes a format. The builders take plain values and are unit-tested; run()
is the only function that starts a process.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import subprocess
import tempfile
import threading
import time

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    CommandError, IntegrityError, InvalidInputError, MigrationError, MissingDependencyError)

QEMU_IMG = "qemu-img"
OUTPUT_FORMATS = ("qcow2", "raw")
_PROGRESS_RE = re.compile(rb"\((\d+(?:\.\d+)?)/100%\)")


def info_argv(source):
    return [QEMU_IMG, "info", "--output=json", "-U", source]


def measure_argv(source, dest_format):
    return [QEMU_IMG, "measure", "--output=json", "-O", dest_format, source]


def convert_argv(source, dest, dest_format, coroutines=8, out_of_order=True, progress=False,
                 dest_options=None):
    """qemu-img convert from an explicit source spec; sparse output (-S 4k is qemu's default,
    stated so the intent is visible)."""
    if dest_format not in OUTPUT_FORMATS:
        raise InvalidInputError("Output format %r is not supported." % dest_format,
                                fix="Use one of: %s." % ", ".join(OUTPUT_FORMATS))
    argv = [QEMU_IMG, "convert"]
    if progress:
        argv.append("-p")
    argv += ["-O", dest_format, "-S", "4k", "-m", str(int(coroutines))]
    if out_of_order:
        argv.append("-W")
    options = dict(dest_options or {})
    if options:
        argv += ["-o", ",".join("%s=%s" % (k, options[k]) for k in sorted(options))]
    argv += [source, dest]
    return argv


def check_argv(path, fmt):
    return [QEMU_IMG, "check", "-f", fmt, "--output=json", path]


def compare_argv(source, dest, dest_format):
    """Content only: allocation differs by design (holes are skipped), sizes are checked apart."""
    return [QEMU_IMG, "compare", source, "-F", dest_format, dest]


def overlay_argv(backing, backing_format, overlay):
    """A qcow2 overlay on an absolute backing path with its format stated (never probed)."""
    if backing_format not in OUTPUT_FORMATS:
        raise InvalidInputError("Backing format %r is not supported for an overlay." % backing_format,
                                fix="Use one of: %s." % ", ".join(OUTPUT_FORMATS))
    if not os.path.isabs(backing):
        raise InvalidInputError("The overlay's backing file must be an absolute path, not %r." % backing)
    return [QEMU_IMG, "create", "-q", "-f", "qcow2", "-b", backing, "-F", backing_format, overlay]


def commit_argv(overlay):
    """Write an overlay's clusters into its backing file (the format named in the overlay header)."""
    return [QEMU_IMG, "commit", "-q", "-f", "qcow2", overlay]


def _load(text, what):
    try:
        return json.loads(text)
    except ValueError:
        raise MigrationError("qemu-img %s printed something that is not JSON: %.200s" % (what, text))


def parse_info(text):
    data = _load(text, "info")
    if isinstance(data, list):
        data = data[0] if data else {}
    specific = (data.get("format-specific") or {}).get("data") or {}
    return {
        "format": data.get("format"),
        "virtual_size": data.get("virtual-size"),
        "actual_size": data.get("actual-size"),
        "cluster_size": data.get("cluster-size"),
        "dirty": bool(data.get("dirty-flag", False)),
        "create_type": specific.get("create-type"),
        "corrupt": bool(specific.get("corrupt", False)),
    }


def parse_measure(text):
    data = _load(text, "measure")
    return {"required": data.get("required"), "fully_allocated": data.get("fully-allocated")}


def parse_check(text):
    """qemu-img check exits 2 on corruption and 3 on leaks; its JSON says which."""
    data = _load(text, "check")
    return {
        "errors": int(data.get("check-errors", 0) or 0) + int(data.get("corruptions", 0) or 0),
        "leaks": int(data.get("leaks", 0) or 0),
        "image_end_offset": data.get("image-end-offset"),
    }


# stderr fragments -> (class, message, fix). First match wins.
_TRANSLATIONS = (
    ("No space left on device", MigrationError, "The destination file system is full.",
     "Free space or choose another destination (see required_bytes)."),
    ("Permission denied", MigrationError, "Permission denied.",
     "Run as a user that can read the source and write the destination."),
    ("Failed to get", MigrationError, "The image is locked by another process (a running VM?).",
     "Power off the VM or stop the process that holds the image."),
    ("corrupt", IntegrityError, "The image is corrupt.",
     "Re-export or re-download the image; do not migrate a corrupt disk."),
    ("Invalid footer", InvalidInputError, "The image footer is invalid (truncated or damaged file).",
     "Copy or download the file again."),
    ("Could not open", InvalidInputError, "qemu-img could not open the image (damaged or truncated?).",
     "Check the file; copy or download it again."),
    ("error while reading", InvalidInputError, "qemu-img could not read the source (truncated or damaged image).",
     "Copy, export or download the image again."),
    ("Could not read", InvalidInputError, "qemu-img could not read the image (truncated?).",
     "Copy or download the file again."),
)


def _translate(argv, rc, stderr):
    for needle, cls, message, fix in _TRANSLATIONS:
        if needle in stderr:
            return cls("%s (qemu-img %s exited %s: %s)" % (message, argv[1], rc, stderr.strip()[-500:]),
                       fix=fix, cmd=list(argv), rc=rc)
    return CommandError(argv, rc, stderr)


def run(argv, ok_codes=(0,), timeout=None, progress_path=None):
    """Run qemu-img; return (rc, stdout text, seconds). Progress (from -p) goes to progress_path.

    A timeout kills qemu-img from a watchdog thread: reading its output blocks, so a check in the
    read loop would only fire when qemu-img prints something."""
    env = dict(os.environ, LC_ALL="C")
    started = time.time()
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, env=env)
        except OSError as exc:
            raise MissingDependencyError("Cannot run %s: %s." % (argv[0], exc),
                                         fix="Install it: apt-get install qemu-utils (Debian/Ubuntu) or "
                                             "dnf install qemu-img (RHEL/Fedora).")
        expired = []

        def expire():
            expired.append(True)
            proc.kill()
        watchdog = threading.Timer(timeout, expire) if timeout else None
        try:
            if watchdog:
                watchdog.start()
            out = _read_output(proc, progress_path, started)
            proc.wait()
        finally:
            if watchdog:
                watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    seconds = time.time() - started
    if expired:
        raise MigrationError("qemu-img %s did not finish within %s seconds and was stopped." % (argv[1], timeout),
                             fix="Raise the timeout, or check the storage for stalls.", cmd=list(argv))
    if proc.returncode not in ok_codes:
        raise _translate(argv, proc.returncode, stderr)
    return proc.returncode, out.decode("utf-8", "replace"), seconds


def _read_output(proc, progress_path, started):
    chunks, last_write = [], 0.0
    while True:
        chunk = proc.stdout.read1(65536)
        if not chunk:
            return b"".join(chunks)
        if not progress_path:
            chunks.append(chunk)
            continue
        found = _PROGRESS_RE.findall(chunk)
        now = time.time()
        if found and (now - last_write >= 1.0 or found[-1].startswith(b"100")):
            write_progress(progress_path, float(found[-1]), now - started)
            last_write = now


def write_progress(path, percent, seconds):
    """Atomic one-line JSON progress, for a human or a polling task to read."""
    tmp = "%s.tmp" % path
    with open(tmp, "w") as fh:
        json.dump({"percent": round(percent, 2), "elapsed_seconds": round(seconds, 1)}, fh)
    os.replace(tmp, path)
