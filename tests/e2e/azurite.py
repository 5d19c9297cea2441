"""Azurite, the Azure Storage emulator, as the blob data plane of the Azure tests.

install() runs scripts/setup-azure.sh (npm, cached). Azurite runs on a free 127.0.0.1 port, in memory,
without telemetry and without its API-version check (azure-storage-blob sends a newer x-ms-version
than Azurite knows), and is stopped by PID. DiskBlobs keeps one page blob per managed disk and hands
out read SAS URLs the way Azure's disk grant access does: each SAS names a stored access policy, and
revoking deletes the policy, so every SAS issued for the disk stops working at once.
"""

from __future__ import annotations

import datetime
import re
import socket
import subprocess
import time
from pathlib import Path

from support import stop_process

REPO = Path(__file__).resolve().parents[2]
SETUP_SCRIPT = REPO / "scripts" / "setup-azure.sh"
INSTALL_TIMEOUT = 600
START_TIMEOUT = 60
ACCOUNT = "devstoreaccount1"
# The well-known key of Azurite's development account (published by Microsoft; not a secret).
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
PAGE = 512
UPLOAD_CHUNK = 4 * 1024 * 1024  # the most one Put Page may carry


def install() -> str:
    """Path of the azurite-blob launcher, installed when missing by scripts/setup-azure.sh."""
    proc = subprocess.run(["bash", str(SETUP_SCRIPT)], capture_output=True, text=True,
                          timeout=INSTALL_TIMEOUT, check=False)
    if proc.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s" % (SETUP_SCRIPT, proc.returncode, proc.stderr[-4000:]))
    return proc.stdout.strip().splitlines()[-1]


class Azurite:
    """One Azurite blob service. Use as a context manager, or call start() and stop()."""

    def __init__(self, launcher: str, workdir: Path):
        self.launcher = launcher
        self.workdir = Path(workdir)
        self.proc = None
        self.port = None

    @property
    def log(self) -> Path:
        return self.workdir / "azurite.log"

    @property
    def blob_url(self) -> str:
        return "http://127.0.0.1:%d/%s" % (self.port, ACCOUNT)

    def start(self) -> "Azurite":
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [self.launcher, "--blobHost", "127.0.0.1", "--blobPort", "0", "--inMemoryPersistence",
                 "--skipApiVersionCheck", "--disableTelemetry", "--silent"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=str(self.workdir))
        deadline = time.monotonic() + START_TIMEOUT
        while self.port is None:
            if self.proc.poll() is not None:
                raise RuntimeError("Azurite exited with %s:\n%s" % (self.proc.returncode, self._log_tail()))
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("Azurite did not start in %ds:\n%s" % (START_TIMEOUT, self._log_tail()))
            # "Azurite Blob service successfully listens on http://127.0.0.1:40123"
            match = re.search(r"listens on http://127\.0\.0\.1:(\d+)", self._log_tail())
            if match:
                self.port = int(match.group(1))
            else:
                time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5):
            pass
        return self

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self):
        """SIGTERM by PID; SIGKILL if it does not exit."""
        stop_process(self.proc)

    def service(self):
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient(self.blob_url, credential={"account_name": ACCOUNT, "account_key": ACCOUNT_KEY})

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class DiskBlobs:
    """Page blobs standing in for managed disks, with grant/revoke like Azure's disk access."""

    def __init__(self, azurite: Azurite):
        self.azurite = azurite
        self.service = azurite.service()
        self.containers = {}  # disk name -> container name
        # Where granted SAS URLs point: Azurite itself, or a test proxy in front of it.
        self.public_url = None

    def _container(self, disk_name):
        if disk_name not in self.containers:
            # Container names are lower-case letters, digits and dashes: one numbered container per disk,
            # so that each disk has its own stored access policies (at most five per container).
            self.containers[disk_name] = "disk%03d" % len(self.containers)
            self.service.create_container(self.containers[disk_name])
        return self.service.get_container_client(self.containers[disk_name])

    def create(self, disk_name, size_bytes, source_file=None):
        """A page blob of size_bytes; with source_file, its non-zero 4 MiB chunks are written into it."""
        if size_bytes % PAGE:
            raise ValueError("a page blob size must be a multiple of 512, got %d" % size_bytes)
        blob = self._container(disk_name).get_blob_client(disk_name)
        blob.create_page_blob(size_bytes)
        if source_file:
            with open(source_file, "rb") as fh:
                offset = 0
                for chunk in iter(lambda: fh.read(UPLOAD_CHUNK), b""):
                    if chunk.count(0) != len(chunk):
                        padded = chunk + b"\0" * (-len(chunk) % PAGE)
                        blob.upload_page(padded, offset=offset, length=len(padded))
                    offset += len(chunk)
        return blob

    def write(self, disk_name, offset, data):
        self._container(disk_name).get_blob_client(disk_name).upload_page(data, offset=offset, length=len(data))

    def grant(self, disk_name, seconds):
        """A read SAS URL of the disk's blob, naming a new stored access policy."""
        from azure.storage.blob import AccessPolicy, ContainerSasPermissions, generate_blob_sas

        container = self._container(disk_name)
        policy_id = "grant-%d" % time.monotonic_ns()
        start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
        expiry = start + datetime.timedelta(minutes=5, seconds=seconds)
        policy = AccessPolicy(permission=ContainerSasPermissions(read=True), start=start, expiry=expiry)
        container.set_container_access_policy(signed_identifiers={policy_id: policy})
        sas = generate_blob_sas(ACCOUNT, container.container_name, disk_name, account_key=ACCOUNT_KEY,
                                policy_id=policy_id)
        return "%s/%s/%s?%s" % (self.public_url or self.azurite.blob_url, container.container_name, disk_name, sas)

    def revoke(self, disk_name):
        """Delete every stored access policy of the disk's container: its SAS URLs stop working."""
        self._container(disk_name).set_container_access_policy(signed_identifiers={})

    def expire(self, disk_name):
        """Move the expiry of every stored access policy of the disk into the past, as time would."""
        from azure.storage.blob import AccessPolicy, ContainerSasPermissions

        container = self._container(disk_name)
        past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=1)
        policies = container.get_container_access_policy()["signed_identifiers"]
        container.set_container_access_policy(signed_identifiers={
            policy.id: AccessPolicy(permission=ContainerSasPermissions(read=True), start=past - datetime.timedelta(hours=1),
                                    expiry=past) for policy in policies})

    def blob(self, disk_name):
        return self._container(disk_name).get_blob_client(disk_name)

    def copy(self, source_name, target_name):
        """A new page blob target_name with the content of source_name (a snapshot), copied page range by range."""
        source = self.blob(source_name)
        size = source.get_blob_properties().size
        target = self._container(target_name).get_blob_client(target_name)
        target.create_page_blob(size)
        for page in source.list_page_ranges():
            for offset in range(page.start, page.end + 1, UPLOAD_CHUNK):
                length = min(UPLOAD_CHUNK, page.end + 1 - offset)
                data = source.download_blob(offset=offset, length=length).readall()
                target.upload_page(data, offset=offset, length=length)
        return target

    def delete(self, disk_name):
        self.blob(disk_name).delete_blob()

    def resize(self, disk_name, size_bytes):
        self.blob(disk_name).resize_blob(size_bytes)
