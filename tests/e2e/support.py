"""Helpers shared by the end-to-end tests (importable: conftest puts this folder on sys.path)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import signal
import socket
import subprocess
import threading
from pathlib import Path


def cache_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hyper2kvm"
    return Path(os.environ.get("HYPER2KVM_CACHE", default))


@contextlib.contextmanager
def boot_lock():
    """Host-wide lock held while a guest or a libguestfs appliance runs: two TCG guests at once
    would starve each other on two cores."""
    cache_dir().mkdir(parents=True, exist_ok=True)
    with open(cache_dir() / "boot.lock", "w", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def sha256_stream(fh) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: fh.read(1 << 20), b""):
        digest.update(chunk)
    return digest.hexdigest()


def sha256_file(path) -> str:
    with open(path, "rb") as fh:
        return sha256_stream(fh)


def stop_process(proc: subprocess.Popen, grace: float = 20):
    """End a server the test started: SIGTERM by PID, SIGKILL if it has not exited after `grace` seconds."""
    if proc is None or proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def closed_port() -> int:
    """A 127.0.0.1 port that nothing listens on (bound for a moment, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerThread:
    """An http.server server (self.httpd) serving in a daemon thread of the test process. Context manager."""

    thread_name = "test-server"

    def __init__(self, httpd):
        self.httpd = httpd
        self.thread = None

    def start(self):
        self.thread = threading.Thread(target=self.httpd.serve_forever, name=self.thread_name, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
