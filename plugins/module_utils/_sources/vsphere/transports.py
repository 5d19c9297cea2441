# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ways disk data leaves vSphere, behind one small interface.

A transport is opened once per export (with the snapshot whose disks are read, or None for a VM
that is off) and then asked for each disk: fetch(plan, chain, staging) returns
  {"kind": "file", "path": <local image>, "format": "vmdk", "stats": {...}}   the export converts it, or
  {"kind": "converted", "stats": {...}}                                      the output is already written.

- datastore: the datastore HTTPS endpoint (datastore.py): descriptors and extents, ranged, parallel,
  resumable. The default, and the one the simulator can serve.
- nfc: ExportVm (or ExportSnapshot) and its HttpNfcLease: each disk streamed as a streamOptimized VMDK,
  lease progress reported, the lease completed on success and aborted on every other way out.
- vddk: nbdkit's vddk plugin (VMware's VDDK library) serving each disk over a private Unix socket to
  qemu-img convert. The password reaches nbdkit through a 0600 file in a private folder, never argv.

The simulator implements neither ExportVm nor VDDK: the request logic of both is unit-tested with
fakes (tests/unit/.../vsphere/test_vsphere_transports.py); only the datastore transport runs end to end.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

from ansible_collections.hyper2kvm.migrate.plugins.module_utils import _interrupt
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._disk import qemu_img, source
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    CertificateError,
    ConnectionFailedError,
    IntegrityError,
    InvalidInputError,
    MigrationError,
    MissingDependencyError,
)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.vsphere import datastore, describe
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._transfer import http

TRANSPORTS = ("datastore", "nfc", "vddk")


# ---- datastore ------------------------------------------------------------------------------------------------

class DatastoreTransport(object):
    name = "datastore"

    def __init__(self, reader, chunk_size, workers):
        self.reader, self.chunk_size, self.workers = reader, chunk_size, workers

    @contextlib.contextmanager
    def opened(self, vm, snapshot):
        yield self

    def fetch(self, plan, chain, staging):
        stats = datastore.fetch_disk(self.reader, chain, plan["capacity_bytes"], staging, self.chunk_size, self.workers)
        return {"kind": "file", "path": stats.pop("path"), "format": "vmdk", "stats": stats}


# ---- NFC (ExportVm / HttpNfcLease) -------------------------------------------------------------------------------

LEASE_READY_TIMEOUT = 300
LEASE_PROGRESS_EVERY = 30.0   # vSphere drops a lease that reports no progress for its timeout (300 s by default)
_DEVICE_KEY = re.compile(r"([A-Za-z]+?)(\d+):(\d+)$")


def nfc_disk_urls(device_urls, hostname, disks):
    """{disk id: {"url", "target", "size"}} from a lease's deviceUrl list.

    An URL's host "*" means "the server you are talking to". A device key ends in the controller's type,
    its bus and the unit ("/vm-42/VirtualLsiLogicController0:1" is scsi0:1); keys that say nothing usable
    are matched to the disks in order.
    """
    by_slot = dict((disk["id"], disk) for disk in disks)
    out, unmatched = {}, []
    for item in device_urls or []:
        if not item.get("disk"):
            continue  # the .nvram and other non-disk files of the VM
        url = re.sub(r"^(https?://)\*([:/])", lambda m: m.group(1) + _url_host(hostname) + m.group(2), item["url"])
        entry = {"url": url, "target": item.get("targetId"), "size": item.get("fileSize")}
        match = _DEVICE_KEY.search(item.get("key") or "")
        kind = describe.CONTROLLERS.get(match.group(1), (None,))[0] if match else None
        slot = "%s%s:%s" % (kind, match.group(2), match.group(3)) if kind else None
        if slot in by_slot and slot not in out:
            out[slot] = entry
        else:
            unmatched.append(entry)
    for disk in disks:
        if disk["id"] not in out and unmatched:
            out[disk["id"]] = unmatched.pop(0)
    return out


def _url_host(hostname):
    return "[%s]" % hostname if ":" in hostname and not hostname.startswith("[") else hostname


class Lease(object):
    """One HttpNfcLease: wait until it is ready, report progress, complete it or abort it.

    Works on anything with the lease's methods and properties (state, error, info,
    HttpNfcLeaseProgress/Complete/Abort): pyVmomi's object, or a test's fake.
    """

    def __init__(self, lease, total_bytes, clock=time.monotonic, sleep=time.sleep):
        self.lease, self.total = lease, max(1, int(total_bytes or 1))
        self.clock, self.sleep = clock, sleep
        self.done_bytes, self.reported_at, self.percent = 0, None, 0

    def wait_ready(self, timeout=LEASE_READY_TIMEOUT):
        deadline = self.clock() + timeout
        while True:
            state = str(self.lease.state)
            if state == "ready":
                return self.lease.info
            if state == "error":
                error = self.lease.error
                raise MigrationError("vSphere refused the export lease: %s." % (getattr(error, "msg", None) or error),
                                     fix="Check that the VM is powered off (or exported through a snapshot) and that "
                                         "the user has VApp.Export, then run the task again.")
            if state == "done":
                raise MigrationError("The export lease ended before it was used.", fix="Run the task again.")
            if self.clock() > deadline:
                raise MigrationError("The export lease was not ready within %d s." % timeout,
                                     fix="Look at the VM's tasks in vSphere; run the task again later.")
            self.sleep(1.0)

    def add(self, count):
        """Count transferred bytes; tell vSphere the percentage now and then, so that the lease stays alive."""
        self.done_bytes += count
        now = self.clock()
        percent = min(99, int(self.done_bytes * 100 // self.total))
        if self.reported_at is None or now - self.reported_at >= LEASE_PROGRESS_EVERY:
            self.lease.HttpNfcLeaseProgress(percent=percent)
            self.reported_at, self.percent = now, percent

    def complete(self):
        self.lease.HttpNfcLeaseComplete()

    def abort(self):
        self.lease.HttpNfcLeaseAbort()


@contextlib.contextmanager
def leased(lease, total_bytes, report, clock=time.monotonic, sleep=time.sleep):
    """The ready Lease for the block; completed when it succeeds, aborted on every other way out."""
    keeper = Lease(lease, total_bytes, clock, sleep)
    report.update(lease=True, completed=False, aborted=False)
    failed = False
    try:
        keeper.wait_ready()
        yield keeper
    except BaseException:
        failed = True
        raise
    finally:
        with _interrupt.shielded():
            if not failed:
                keeper.complete()
                report["completed"] = True
            else:
                try:
                    keeper.abort()
                    report["aborted"] = True
                except Exception as exc:  # the first error is the one to report
                    report["abort_error"] = str(exc)


def stream_to_file(client, url, dest, on_bytes, cancelled=None):
    """GET url whole (NFC serves no byte ranges) into dest.partial, renamed to dest when complete."""
    partial = dest + ".partial"
    try:
        response = client.session.get(url, headers=client.headers, stream=True, timeout=client.timeout,
                                      verify=client.verify)
    except http.requests.exceptions.SSLError as exc:
        raise CertificateError("The TLS certificate of %s could not be verified: %s" % (http.redact(url), http.scrub(exc)),
                               fix="Give the CA that signed the ESXi host's certificate in ca_bundle.")
    except http.requests.exceptions.RequestException as exc:
        raise ConnectionFailedError("GET %s failed: %s." % (http.redact(url), http.scrub(exc)),
                                    fix="Check that this host reaches the ESXi hosts on port 443, then run the task again.")
    written = 0
    try:
        if response.status_code >= 400:
            raise http.HttpStatusError("GET", url, response.status_code)
        with open(partial, "wb") as fh:
            for data in response.iter_content(http.BLOCK):
                if cancelled is not None and cancelled():
                    raise MigrationError("The download of %s was stopped." % http.redact(url))
                fh.write(data)
                written += len(data)
                on_bytes(len(data))
            fh.flush()
            os.fsync(fh.fileno())
    except http.requests.exceptions.RequestException as exc:
        raise ConnectionFailedError("The download of %s broke off: %s." % (http.redact(url), http.scrub(exc)),
                                    fix="Run the task again (an NFC download starts over).")
    finally:
        response.close()
    os.replace(partial, dest)
    return written


class NfcTransport(object):
    name = "nfc"

    def __init__(self, client, hostname, disks, report, stream=stream_to_file, clock=time.monotonic,
                 sleep=time.sleep):
        self.client, self.hostname, self.disks, self.report = client, hostname, disks, report
        self.stream, self.clock, self.sleep = stream, clock, sleep
        self.urls, self.keeper = {}, None

    @contextlib.contextmanager
    def opened(self, vm, snapshot):
        """vm: a power.Vm; snapshot: the pyVmomi snapshot to export instead of the VM, or None."""
        with vm.calling("start an export of", "VApp.Export"):
            lease = snapshot.ExportSnapshot() if snapshot is not None else vm.vm.ExportVm()
        total = sum(disk["capacity_bytes"] or 0 for disk in self.disks)
        with leased(lease, total, self.report, self.clock, self.sleep) as keeper:
            self.keeper = keeper
            urls = [{"key": d.key, "url": d.url, "targetId": d.targetId, "disk": d.disk, "fileSize": d.fileSize}
                    for d in keeper.lease.info.deviceUrl or []]
            self.urls = nfc_disk_urls(urls, self.hostname, self.disks)
            try:
                yield self
            finally:
                self.keeper = None  # the lease ends with the block: completed or aborted by leased()

    def fetch(self, plan, chain, staging):
        entry = self.urls.get(plan["id"])
        if entry is None:
            raise MigrationError("The export lease offers no file for disk %s." % plan["id"],
                                 fix="Use transport: datastore for this VM.")
        name = datastore.plain_name(os.path.basename(entry["target"] or "%s.vmdk" % plan["base"]), "the export lease")
        if not os.path.isdir(staging):
            os.makedirs(staging, 0o700)
        path = os.path.join(staging, name)
        started = self.clock()
        got = self.stream(self.client, entry["url"], path, self.keeper.add)
        seconds = round(self.clock() - started, 3)
        return {"kind": "file", "path": path, "format": "vmdk",
                "stats": {"bytes_transferred": got, "size_bytes": got, "requests": 1, "resumed": False,
                          "seconds": seconds, "files": [{"file": entry["target"], "kind": "stream", "size": got}]}}


# ---- VDDK (nbdkit) -----------------------------------------------------------------------------------------------

NBDKIT = "nbdkit"
SOCKET_TIMEOUT = 60


class VddkConfig(object):
    """What nbdkit's vddk plugin needs to open one disk; password_file, never the password."""

    def __init__(self, server, user, password_file, thumbprint, vm_id, file_name, port=443, snapshot_id=None,
                 libdir=None, transports=None):
        self.server, self.user, self.password_file, self.thumbprint = server, user, password_file, thumbprint
        self.vm_id, self.file_name, self.port, self.snapshot_id = vm_id, file_name, port, snapshot_id
        self.libdir, self.transports = libdir, list(transports or [])


def nbdkit_argv(config, socket_path):
    """nbdkit serving one disk read-only on a Unix socket, in the foreground, dying with its parent."""
    for value in (config.server, config.user, config.vm_id, config.file_name):
        if not value or "\n" in value or "\x00" in value:
            raise InvalidInputError("A VDDK parameter is empty or has a line break: %r." % value)
    argv = [NBDKIT, "--readonly", "--exit-with-parent", "--foreground", "--unix", socket_path, "vddk"]
    if config.libdir:
        argv.append("libdir=%s" % config.libdir)
    argv += ["server=%s" % config.server, "user=%s" % config.user, "password=+%s" % config.password_file,
             "thumbprint=%s" % config.thumbprint, "vm=moref=%s" % config.vm_id]
    if int(config.port) != 443:
        argv.append("port=%d" % int(config.port))
    if config.snapshot_id:
        argv.append("snapshot=%s" % config.snapshot_id)
    if config.transports:
        argv.append("transports=%s" % ":".join(config.transports))
    argv.append("file=%s" % config.file_name)
    return argv


def nbd_source(socket_path):
    """The qemu block spec of the raw disk nbdkit serves (format stated: nothing is probed)."""
    return "json:" + json.dumps({"driver": "raw", "file": {"driver": "nbd", "server": {"type": "unix", "path": socket_path}}},
                                sort_keys=True, separators=(",", ":"))


def check_vddk(libdir=None, which=shutil.which, run=subprocess.run):
    """MissingDependencyError unless nbdkit, its vddk plugin and (when given) the VDDK library are there."""
    if which(NBDKIT) is None:
        raise MissingDependencyError("transport: vddk needs nbdkit, which is not installed.",
                                     fix="Install nbdkit with its vddk plugin (RHEL/Fedora: nbdkit nbdkit-vddk-plugin) "
                                         "and VMware's VDDK, or use transport: datastore.")
    proc = run([NBDKIT, "--dump-plugin", "vddk"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if proc.returncode != 0:
        detail = (proc.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        raise MissingDependencyError("nbdkit has no vddk plugin: %s" % (detail[0] if detail else "it did not load"),
                                     fix="Install nbdkit's vddk plugin (RHEL/Fedora: nbdkit-vddk-plugin; Debian and "
                                         "Ubuntu build nbdkit without it) or use transport: datastore.")
    if libdir and not os.path.isdir(os.path.join(libdir, "lib64")):
        raise MissingDependencyError("%s is not a VDDK folder (it has no lib64/)." % libdir,
                                     fix="Unpack VMware's VDDK (VMware-vix-disklib-*.tar.gz) and point vddk_libdir at "
                                         "its vmware-vix-disklib-distrib folder.")


def thumbprint(der_certificate):
    """The SHA-1 thumbprint VDDK checks a server against, as 'AB:CD:...'."""
    digest = hashlib.sha1(der_certificate).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def server_thumbprint(hostname, port, context):
    """The thumbprint of the certificate the server shows (verified by context as usual)."""
    with socket.create_connection((hostname, port), timeout=30) as sock:
        with context.wrap_socket(sock, server_hostname=hostname) as tls:
            return thumbprint(tls.getpeercert(binary_form=True))


@contextlib.contextmanager
def password_file(password):
    """A file that holds the password, mode 0600 in a private 0700 folder, removed when the block ends."""
    folder = tempfile.mkdtemp(prefix="h2k-vddk-")
    path = os.path.join(folder, "password")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(password)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class VddkTransport(object):
    name = "vddk"

    def __init__(self, connect_args, vm_id, dest_format, context, libdir=None, transports=None,
                 popen=subprocess.Popen, check=check_vddk, clock=time.monotonic, sleep=time.sleep):
        self.args, self.vm_id, self.dest_format, self.context = connect_args, vm_id, dest_format, context
        self.libdir, self.transports = libdir, transports
        self.popen, self.check, self.clock, self.sleep = popen, check, clock, sleep
        self.snapshot_id = self.password_path = self.thumbprint = None

    @contextlib.contextmanager
    def opened(self, vm, snapshot):
        self.check(self.libdir)
        self.thumbprint = server_thumbprint(self.args["hostname"], self.args.get("port") or 443, self.context)
        self.snapshot_id = snapshot._moId if snapshot is not None else None
        with password_file(self.args["password"]) as path:
            self.password_path = path
            yield self

    def config(self, file_name):
        return VddkConfig(self.args["hostname"], self.args["username"], self.password_path, self.thumbprint,
                          self.vm_id, file_name, port=self.args.get("port") or 443, snapshot_id=self.snapshot_id,
                          libdir=self.libdir, transports=self.transports)

    def fetch(self, plan, chain, staging):
        """nbdkit serves the top of the chain (VDDK reads through the snapshots); qemu-img writes the output."""
        if not os.path.isdir(staging):
            os.makedirs(staging, 0o700)
        sock = os.path.join(staging, "nbd.sock")
        argv = nbdkit_argv(self.config(chain[0]), sock)
        started = self.clock()
        proc = self.popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        partial = plan["path"] + ".partial"
        try:
            self._wait_socket(proc, sock)
            qemu_img.run(qemu_img.convert_argv(nbd_source(sock), partial, self.dest_format))
            info = qemu_img.parse_info(qemu_img.run(qemu_img.info_argv(source.plain_spec(partial, self.dest_format)))[1])
            if info["virtual_size"] != plan["capacity_bytes"]:
                raise IntegrityError("The disk read through VDDK has %s bytes, vSphere says %s."
                                     % (info["virtual_size"], plan["capacity_bytes"]))
            os.replace(partial, plan["path"])
        finally:
            _stop(proc)
            for path in (partial, sock):
                if os.path.exists(path):
                    os.unlink(path)
        seconds = round(self.clock() - started, 3)
        return {"kind": "converted", "stats": {"bytes_transferred": None, "size_bytes": plan["capacity_bytes"],
                                               "requests": None, "resumed": False, "seconds": seconds, "files": []}}

    def _wait_socket(self, proc, sock):
        deadline = self.clock() + SOCKET_TIMEOUT
        while not os.path.exists(sock):
            if proc.poll() is not None:
                err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
                raise MigrationError("nbdkit (vddk) stopped before serving the disk: %s"
                                     % (err.strip()[-1000:] or "exit code %s" % proc.returncode),
                                     fix="Check vddk_libdir, the user's privileges and that this host reaches the "
                                         "ESXi hosts on port 902.")
            if self.clock() > deadline:
                raise MigrationError("nbdkit (vddk) did not serve the disk within %d s." % SOCKET_TIMEOUT)
            self.sleep(0.1)


def _stop(proc):
    """End the nbdkit we started, by its PID."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
