# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place that starts libguestfs.

Guest filesystems are never mounted on the host kernel: every read goes through the libguestfs
appliance, a small VM. Appliance() chooses KVM or TCG by detection (nested "PVM" KVM accepts the
ioctls but never runs the appliance), keeps libguestfs' cache and temporary files in private
places, arms a watchdog so that a hung appliance becomes a clear error instead of a 10-minute
hang, and always shuts the appliance down. guestfs errors become MigrationError naming the call.

The read helpers treat the guest as hostile: config files larger than a limit or with NUL bytes,
symlinks into /proc, /sys, /dev or /run or to a file of another name, dangling or looping symlinks
and anything that is not a regular file are reported as findings and not read (see symlink_refusal).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import hashlib
import mmap
import os
import posixpath
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    InvalidInputError, MigrationError, MissingDependencyError)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest.linux import cpio

try:
    import guestfs
except ImportError:
    guestfs = None

GUESTFS_LIB = "guestfs (Debian: python3-guestfs, RHEL: python3-libguestfs)"
ACCEL_ENV = "HYPER2KVM_ACCEL"
KVM_PVM = "/sys/module/kvm_pvm"
DEV_KVM = "/dev/kvm"
TEXT_LIMIT = 1024 * 1024
INITRD_LIMIT = 512 * 1024 * 1024
PREAD_CHUNK = 1024 * 1024  # well below the protocol's 4 MiB message limit
TCG_MEMSIZE = 1024
LAUNCH_TIMEOUT = {"tcg": 300, "kvm": 120}
OP_TIMEOUT = 600
PSEUDO_DIRS = ("/proc", "/sys", "/dev", "/run")
MASK = "/dev/null"
# Config files that are the same file under another name (RHEL: /boot/grub/menu.lst -> grub.conf).
GRUB_CONFIG_NAMES = ("grub.cfg", "grub.conf", "menu.lst")
# Finding codes of files that were refused because reading them would be unsafe or meaningless; a
# repair does not edit a guest that has any (see unsafe_findings).
UNSAFE_CODES = ("symlink_outside_guest", "symlink_elsewhere", "not_a_regular_file", "file_too_large",
                "binary_file")
_TAIL = 40


def decide_accel(env, kvm_pvm, dev_kvm_exists, dev_kvm_rw):
    """{"accel": "kvm"|"tcg", "reason"} from the environment and what the host offers (pure)."""
    wanted = (env.get(ACCEL_ENV) or "auto").strip().lower()
    if wanted not in ("auto", "kvm", "tcg"):
        raise InvalidInputError("%s=%r is not valid." % (ACCEL_ENV, env.get(ACCEL_ENV)),
                                fix="Use kvm, tcg or auto (or leave it unset).")
    if wanted != "auto":
        return {"accel": wanted, "reason": "%s=%s" % (ACCEL_ENV, wanted)}
    if "force_tcg" in (env.get("LIBGUESTFS_BACKEND_SETTINGS") or "").split(":"):
        return {"accel": "tcg", "reason": "LIBGUESTFS_BACKEND_SETTINGS has force_tcg"}
    if kvm_pvm:
        return {"accel": "tcg", "reason": "KVM is nested PVM (%s), which cannot run the appliance" % KVM_PVM}
    if not dev_kvm_exists:
        return {"accel": "tcg", "reason": "%s is missing" % DEV_KVM}
    if not dev_kvm_rw:
        return {"accel": "tcg", "reason": "%s cannot be opened read-write" % DEV_KVM}
    return {"accel": "kvm", "reason": "%s is usable" % DEV_KVM}


def detect_accel(env=None):
    """decide_accel() with the real host probed."""
    rw = False
    try:
        fd = os.open(DEV_KVM, os.O_RDWR | os.O_CLOEXEC)
        os.close(fd)
        rw = True
    except OSError:
        pass
    return decide_accel(os.environ if env is None else env, os.path.exists(KVM_PVM),
                        os.path.exists(DEV_KVM), rw)


def default_cachedir(env=None):
    env = os.environ if env is None else env
    return env.get("LIBGUESTFS_CACHEDIR") or os.path.join(
        env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "hyper2kvm", "guestfs")


def _relative(name):
    """Initramfs member names as "usr/lib/...", whatever prefix the lister printed."""
    while name.startswith("./") or name.startswith("/"):
        name = name[1:] if name.startswith("/") else name[2:]
    return name


def _appended_names(local):
    """cpio.appended_names of a local file, read through mmap (an initramfs can be large)."""
    if os.path.getsize(local) == 0:
        return []
    with open(local, "rb") as handle:
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return cpio.appended_names(data)


def _sha256_file(local):
    digest = hashlib.sha256()
    with open(local, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest


def _in_pseudo_dir(path):
    return any(path == top or path.startswith(top + "/") for top in PSEUDO_DIRS)


def symlink_refusal(path, link, real):
    """(code, severity, why) when the guest file at path must not be read through its symlink, else None.

    link is the symlink's text (None when path is no symlink itself but resolves elsewhere through a
    linked directory), real the path it resolves to inside the guest (None when it resolves nowhere).
    libguestfs resolves links inside the guest, so an absolute link or a ../../ chain never reaches
    the host's files; the danger is another GUEST file read or edited under a config file's name:
    /etc/default/grub -> /etc/shadow would put the guest's password hashes into a diff, and a repair
    would write GRUB defaults into /etc/shadow. So a link is followed only to a file of the same name
    (/etc/grub.conf -> ../boot/grub/grub.conf), never into the pseudo filesystems, and a link to
    /dev/null is a mask (systemd, udev): nothing to read, nothing wrong (pure)."""
    lexical = posixpath.normpath(posixpath.join(posixpath.dirname(path), link)) if link else None
    shown = link or real
    if MASK in (lexical, real):
        return ("masked", "info", "is a symlink to %s (masked)" % MASK)
    if any(p and _in_pseudo_dir(p) for p in (lexical, real)):
        return ("symlink_outside_guest", "warning", "is a symlink to %s, outside the guest's files" % shown)
    if real is None:
        return ("dangling_symlink", "warning", "%s, which does not resolve inside the guest (missing target or "
                "a loop)" % ("is a symlink to " + link if link else "lies in a linked directory"))
    names = (posixpath.basename(path), posixpath.basename(real))
    if names[0] != names[1] and not all(n in GRUB_CONFIG_NAMES for n in names):
        return ("symlink_elsewhere", "warning", "is a symlink to %s, another file (%s)" % (shown, real))
    return None


def unsafe_findings(findings):
    """The findings about guest files refused as unsafe (UNSAFE_CODES), in order (pure)."""
    return [f for f in findings or () if f.get("code") in UNSAFE_CODES]


class Appliance(object):
    """with Appliance([{"path", "format", "readonly"}]) as app: ... app.g is the launched handle."""

    def __init__(self, drives, accel=None, memsize=None, launch_timeout=None, op_timeout=OP_TIMEOUT,
                 cachedir=None, verbose=False):
        if guestfs is None:
            raise MissingDependencyError("The libguestfs Python binding is not installed.",
                                         fix="Install %s on the host that runs the task." % GUESTFS_LIB)
        for drive in drives:
            if not drive.get("format"):
                raise InvalidInputError("Drive %s has no format: libguestfs must never probe one." % drive.get("path"))
        self.drives = [dict(d, readonly=d.get("readonly", True)) for d in drives]
        self.accel = detect_accel() if accel is None else {"accel": accel, "reason": "requested by caller"}
        self.memsize = memsize or (TCG_MEMSIZE if self.accel["accel"] == "tcg" else None)
        self.launch_timeout = launch_timeout or LAUNCH_TIMEOUT[self.accel["accel"]]
        self.op_timeout = op_timeout
        self.cachedir = cachedir or default_cachedir()
        self.verbose = verbose
        self.findings = []
        self.g = None
        self.tmpdir = None
        self.launch_seconds = None
        self._log = collections.deque(maxlen=_TAIL)
        self._dead = False
        self._listings = {}  # (guest path, size) -> (listing, hashlib sha256 object of the file)

    # --- lifecycle ---------------------------------------------------------------------------
    def __enter__(self):
        try:
            self.launch()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False

    def launch(self):
        os.makedirs(self.cachedir, mode=0o700, exist_ok=True)
        self.tmpdir = tempfile.mkdtemp(prefix="h2k-guestfs-")
        g = self.g = guestfs.GuestFS(python_return_dict=True, close_on_exit=False)
        g.set_backend(os.environ.get("LIBGUESTFS_BACKEND") or "direct")
        settings = [s for s in g.get_backend_settings() if s not in ("force_tcg", "force_kvm")]
        if self.accel["accel"] == "tcg":
            settings.append("force_tcg")
        elif os.environ.get(ACCEL_ENV, "").strip().lower() == "kvm":
            settings.append("force_kvm")
        g.set_backend_settings(settings)
        g.set_cachedir(self.cachedir)
        g.set_tmpdir(self.tmpdir)
        if self.memsize and not os.environ.get("LIBGUESTFS_MEMSIZE"):
            g.set_memsize(self.memsize)
        if self.verbose:
            g.set_verbose(True)
        g.set_event_callback(self._on_event, guestfs.EVENT_LIBRARY | guestfs.EVENT_WARNING
                             | guestfs.EVENT_APPLIANCE)
        for drive in self.drives:
            self.call(g.add_drive_opts, drive["path"], format=drive["format"], readonly=drive["readonly"])
        started = time.monotonic()
        try:
            self._guarded("launch", self.launch_timeout, g.launch)
        except MigrationError as exc:
            fix = ("KVM is not usable for the appliance on this host: set %s=tcg." % ACCEL_ENV
                   if self.accel["accel"] == "kvm" else
                   "Run libguestfs-test-tool to see why the appliance does not start (TCG is slow: "
                   "an idle host needs 20-60 s).")
            raise MigrationError("The libguestfs appliance did not start (accel %s, %s): %s"
                                 % (self.accel["accel"], self.accel["reason"], exc.message),
                                 fix=fix, log_tail=list(self._log))
        self.launch_seconds = round(time.monotonic() - started, 2)
        self.memsize = self.try_call(g.get_memsize) or self.memsize

    def close(self):
        if self.g is not None:
            try:
                if not self._dead:
                    self._guarded("shutdown", 60, self.g.shutdown)
            except MigrationError:
                pass
            finally:
                self.g.close()
                self.g = None
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    def facts(self):
        return {"accel": self.accel["accel"], "accel_reason": self.accel["reason"],
                "launch_seconds": self.launch_seconds, "memsize_mib": self.memsize,
                "backend": os.environ.get("LIBGUESTFS_BACKEND") or "direct"}

    def _on_event(self, event, event_handle, buf, array):
        text = buf.decode("utf-8", "replace") if isinstance(buf, bytes) else str(buf)
        for line in text.splitlines():
            if line.strip():
                self._log.append(line.rstrip()[:300])

    def _kill_qemu(self):
        """Stop the appliance of this handle: our own qemu child whose command line names our files."""
        me, marks = os.getpid(), [self.tmpdir] + [d["path"] for d in self.drives]
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % pid) as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
                if ppid != me:
                    continue
                with open("/proc/%s/cmdline" % pid, "rb") as fh:
                    argv = fh.read().decode("utf-8", "replace").split("\0")
            except (IOError, OSError, ValueError, IndexError):
                continue
            if "qemu" in os.path.basename(argv[0]) and any(m and m in " ".join(argv) for m in marks):
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
        self._dead = True

    # --- calls -------------------------------------------------------------------------------
    def _guarded(self, what, seconds, func, *args, **kwargs):
        """func(*args) with a deadline: a timer stops the appliance if it does not return in time
        (guestfs calls release the GIL, so the timer thread runs meanwhile)."""
        if self._dead:
            raise MigrationError("The libguestfs appliance is gone; %s was not run." % what)
        fired = []
        timer = threading.Timer(seconds, lambda: (fired.append(True), self._kill_qemu()))
        timer.daemon = True
        timer.start()
        try:
            return func(*args, **kwargs)
        except RuntimeError as exc:
            if fired:
                raise MigrationError("libguestfs %s did not finish within %d s (accel %s) and was stopped."
                                     % (what, seconds, self.accel["accel"]),
                                     fix="Check the host's load; with KVM problems set %s=tcg." % ACCEL_ENV,
                                     log_tail=list(self._log))
            raise MigrationError("libguestfs %s failed: %s" % (what, str(exc).strip()), log_tail=list(self._log))
        finally:
            timer.cancel()

    def call(self, func, *args, **kwargs):
        """Run one guestfs call (a bound method of app.g); errors become MigrationError."""
        what = "%s(%s)" % (getattr(func, "__name__", "call"), ", ".join(repr(a) for a in args))
        return self._guarded(what, self.op_timeout, func, *args, **kwargs)

    def try_call(self, func, *args, **kwargs):
        """call(), but a failing call returns None (a dead appliance still raises)."""
        try:
            return self.call(func, *args, **kwargs)
        except MigrationError:
            if self._dead:
                raise
            return None

    def finding(self, code, message, path=None, severity="warning"):
        item = {"code": code, "severity": severity, "message": message}
        if path:
            item["path"] = path
        self.findings.append(item)
        return item

    # --- guest files -------------------------------------------------------------------------
    def exists(self, path):
        return bool(self.try_call(self.g.exists, path))

    def is_dir(self, path):
        return bool(self.try_call(self.g.is_dir, path))

    def list_dir(self, path):
        """Sorted names in a guest directory, [] when it is missing or not a directory."""
        if not self.is_dir(path):
            return []
        return sorted(self.try_call(self.g.ls, path) or [])

    def mount_ro(self, device, mountpoint):
        self.call(self.g.mount_ro, device, mountpoint)

    def mount_rw(self, device, mountpoint):
        """Read-write: only for a drive added with readonly=False (a repair overlay, never a source)."""
        self.call(self.g.mount, device, mountpoint)

    def regular_file(self, path, what="file"):
        """The guest path of the regular file at path after symlinks (see symlink_refusal), or None with
        a finding."""
        st = self.try_call(self.g.lstatns, path)
        if st is None:
            return None
        link = self.try_call(self.g.readlink, path) if stat.S_ISLNK(st["st_mode"]) else None
        real = self.try_call(self.g.realpath, path)
        if link is not None or real != posixpath.normpath(path):
            refused = symlink_refusal(path, link, real)
            if refused:
                self.finding(refused[0], "%s %s %s: not read." % (what, path, refused[2]), path, refused[1])
                return None
        target = real or path
        if not self.try_call(self.g.is_file, target, followsymlinks=False):
            self.finding("not_a_regular_file", "%s %s is not a regular file: not read." % (what, path), path)
            return None
        return target

    def read_bytes(self, path, limit=TEXT_LIMIT, what="file"):
        """(guest path read, bytes) of a regular guest file of at most limit bytes, or None with a finding."""
        target = self.regular_file(path, what)
        if target is None:
            return None
        size = self.try_call(self.g.filesize, target)
        if size is None or size > limit:
            self.finding("file_too_large", "%s %s is %s bytes, more than the %d bytes allowed: not read."
                         % (what, path, size, limit), path)
            return None
        return target, self._fetch(target, size)

    def _fetch(self, target, size):
        """The bytes of a guest file, in pread chunks: read_file costs about 0.3 s a call under TCG
        whatever the size, pread a few milliseconds per MiB (and stays below the 4 MiB message limit)."""
        chunks, offset = [], 0
        while offset < size:
            data = self.call(self.g.pread, target, min(PREAD_CHUNK, size - offset), offset)
            if not data:
                break
            chunks.append(data)
            offset += len(data)
        return b"".join(chunks)

    def read_text(self, path, limit=TEXT_LIMIT, what="file"):
        """Text of a guest file, or None with a finding. A file with NUL bytes is binary, not config,
        and is not read; other undecodable bytes (a Latin-1 comment) are replaced and reported."""
        found = self.read_bytes(path, limit, what)
        if found is None:
            return None
        data = found[1] if isinstance(found[1], bytes) else found[1].encode("utf-8")
        if b"\0" in data:
            self.finding("binary_file", "%s %s holds binary data (NUL bytes), not text: not read." % (what, path),
                         path)
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            self.finding("not_utf8", "%s %s is not UTF-8: read with the undecodable bytes replaced." % (what, path),
                         path, severity="info")
            return data.decode("utf-8", "replace")

    def initrd_listing(self, path):
        """Paths inside an initramfs, or None with a finding: the main archive as libguestfs or the host's
        lsinitramfs/lsinitrd list it (early-microcode prefixes and compression included), plus the
        uncompressed archives appended after it (cpio.appended_names), which those tools do not show.
        Remembered per file and size, so that inspection and repair list an image once."""
        target = self.regular_file(path, "initramfs")
        if target is None:
            return None
        size = self.try_call(self.g.filesize, target) or 0
        if size > INITRD_LIMIT:
            self.finding("file_too_large", "initramfs %s is %d bytes: not listed." % (path, size), path)
            return None
        key = (target, size)
        if key not in self._listings:
            local = os.path.join(self.tmpdir, "initrd.copy")
            try:
                self.call(self.g.download, target, local)
                listing = self.try_call(self.g.initrd_list, target)
                main = [_relative(n) for n in listing] if listing else self._initrd_listing_on_host(path, local)
                if main is None:
                    return None
                self._listings[key] = (main + [_relative(n) for n in _appended_names(local)], _sha256_file(local))
            finally:
                if os.path.exists(local):
                    os.unlink(local)
        return list(self._listings[key][0])

    def initrd_digest(self, path):
        """A copy of the hashlib SHA-256 object of the initramfs as initrd_listing read it, or None."""
        target = self.try_call(self.g.realpath, path) or path
        size = self.try_call(self.g.filesize, target)
        entry = self._listings.get((target, size))
        return entry[1].copy() if entry else None

    def initrd_extended(self, path, listing, digest):
        """Remember what an initramfs that was just extended in the guest holds (its listing and digest),
        so that it is not downloaded again."""
        target = self.try_call(self.g.realpath, path) or path
        self._listings[(target, self.call(self.g.filesize, target))] = (list(listing), digest.copy())

    def _initrd_listing_on_host(self, path, local):
        """The listing of the downloaded copy (never mounted) by the host's tools, or None with a finding."""
        tools = [t for t in (shutil.which("lsinitramfs"), shutil.which("lsinitrd")) if t]
        if not tools:
            self.finding("initramfs_unlisted", "Cannot list %s: libguestfs could not, and the host has neither "
                         "lsinitramfs (initramfs-tools-core) nor lsinitrd (dracut)." % path, path)
            return None
        try:
            proc = subprocess.run([tools[0], local], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300,
                                  check=False)
        except subprocess.TimeoutExpired:
            proc = None
        if proc is None or proc.returncode != 0:
            self.finding("initramfs_unlisted", "Cannot list initramfs %s: %s" % (
                path, "timed out" if proc is None else proc.stderr.decode("utf-8", "replace").strip()[:300]), path)
            return None
        out = []
        for line in proc.stdout.decode("utf-8", "replace").splitlines():
            name = line.split()[-1] if tools[0].endswith("lsinitrd") and line.strip() else line.strip()
            if name:
                out.append(_relative(name))
        return out
