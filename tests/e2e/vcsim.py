"""A real vSphere API for tests: our build of govmomi's simulator (scripts/setup-vcsim.sh), started on
a free 127.0.0.1 port with a certificate made here, and stopped by PID.

Certificates: a fresh 2048-bit CA and a server certificate for 127.0.0.1 signed by it, made with the
`cryptography` package (openssl CLI when it is missing). Clients verify with `ca_file` explicitly;
REQUESTS_CA_BUNDLE, which this machine exports, plays no part because we build every SSL context.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import secrets
import selectors
import signal
import socket
import socketserver
import ssl
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SETUP_SCRIPT = REPO / "scripts" / "setup-vcsim.sh"
BUILD_TIMEOUT = 1200
START_TIMEOUT = 60
USERNAME = "h2k-tester"


def build() -> str:
    """Path of the simulator binary, built (or rebuilt after a change) by scripts/setup-vcsim.sh."""
    proc = subprocess.run(["bash", str(SETUP_SCRIPT)], capture_output=True, text=True,
                          timeout=BUILD_TIMEOUT, check=False)
    if proc.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s" % (SETUP_SCRIPT, proc.returncode, proc.stderr[-4000:]))
    return proc.stdout.strip().splitlines()[-1]


def running(workdir: Path, seed=None, **options):
    """For a pytest fixture (`yield from vcsim.running(...)`): the simulator built (or taken from the
    cache) and running in workdir with a fresh password, seed(sim) called once it is up. It must stop
    cleanly at teardown; a failed build fails the test that needs it (not an error in the fixture)."""
    import pytest  # test support only: every caller is a pytest fixture

    try:
        binary = build()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    sim = Simulator(binary, workdir, password=secrets.token_urlsafe(12), **options)
    with sim:
        if seed is not None:
            seed(sim)
        yield sim
    assert sim.proc.returncode == 0, "the simulator did not stop cleanly:\n" + sim.log.read_text()[-2000:]


def make_certificates(folder: Path, name: str = "h2k-test") -> dict:
    """{"ca", "cert", "key"}: PEM files of a new CA and of a 127.0.0.1 server certificate it signed."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {kind: folder / ("%s-%s.pem" % (name, kind)) for kind in ("ca", "ca-key", "cert", "key")}
    try:
        import cryptography  # noqa: F401  (ansible-core depends on it, so the venv has it)
    except ImportError:
        _certificates_with_openssl(paths)
    else:
        _certificates_with_cryptography(paths, name)
    return {"ca": str(paths["ca"]), "cert": str(paths["cert"]), "key": str(paths["key"])}


def _certificates_with_cryptography(paths, name):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def new_key(path):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        os.chmod(path, 0o600)
        return key

    def builder(subject, issuer, public_key):
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=2))
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))

    ca_key = new_key(paths["ca-key"])
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "%s test CA" % name)])
    ca = (builder(ca_name, ca_name, ca_key.public_key())
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))

    key = new_key(paths["key"])
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    cert = (builder(subject, ca_name, key.public_key())
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _certificates_with_openssl(paths):
    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=h2k test CA",
            "-keyout", str(paths["ca-key"]), "-out", str(paths["ca"]),
            "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    csr = paths["cert"].with_suffix(".csr")
    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", str(paths["key"]), "-out", str(csr))
    ext = paths["cert"].with_suffix(".ext")
    ext.write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(paths["ca"]), "-CAkey", str(paths["ca-key"]),
            "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(paths["cert"]))


class Simulator:
    """One running simulator. Use as a context manager, or call start() and stop()."""

    def __init__(self, binary: str, workdir: Path, password: str, vms_per_pool: int = 2, clusters: int = 2,
                 hosts_per_cluster: int = 1, portgroups: int = 2):
        self.binary = binary
        self.workdir = Path(workdir)
        self.password = password
        self.args = ["-vm", str(vms_per_pool), "-standalone-host", "0", "-cluster", str(clusters),
                     "-cluster-host", str(hosts_per_cluster), "-pg", str(portgroups)]
        self.proc = None
        self.host = "127.0.0.1"
        self.port = None
        self.url = None
        self.certs = None

    @property
    def log(self) -> Path:
        return self.workdir / "vcsim.log"

    def start(self) -> "Simulator":
        self.certs = make_certificates(self.workdir / "tls")
        ready = self.workdir / "ready.json"
        env = dict(os.environ, VCSIM_PASSWORD=self.password)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [self.binary, "-listen", "127.0.0.1:0", "-tls-cert", self.certs["cert"],
                 "-tls-key", self.certs["key"], "-ready-file", str(ready),
                 "-datastore-dir", str(self.workdir / "datastores"), "-username", USERNAME, *self.args],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + START_TIMEOUT
        while not ready.exists():
            self._check_alive()
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the simulator did not start in %ds; log:\n%s" % (START_TIMEOUT, self._log_tail()))
            time.sleep(0.1)
        info = json.loads(ready.read_text())
        self.port = int(info["port"])
        self.url = info["url"]
        self._wait_answering(deadline)
        return self

    def _check_alive(self):
        if self.proc.poll() is not None:
            raise RuntimeError("the simulator exited with %s; log:\n%s" % (self.proc.returncode, self._log_tail()))

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-4000:]
        except OSError:
            return "(no log)"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.certs["ca"])

    def _wait_answering(self, deadline):
        opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=self.ssl_context()),
                                             urllib.request.ProxyHandler({}))
        while True:
            self._check_alive()
            try:
                with opener.open("https://%s:%d/about" % (self.host, self.port), timeout=5) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the simulator does not answer on port %s" % self.port)
            time.sleep(0.2)

    def connect_args(self, **overrides) -> dict:
        """Keyword arguments for the collection's connection.session() (and the module's options)."""
        args = dict(hostname=self.host, username=USERNAME, password=self.password, port=self.port,
                    validate_certs=True, ca_bundle=self.certs["ca"], proxy_host=None, proxy_port=None)
        args.update(overrides)
        return args

    def stop(self):
        """SIGTERM by PID (the simulator then removes its datastore folders); SIGKILL if it hangs."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class ConnectProxy(socketserver.ThreadingTCPServer):
    """A minimal HTTP CONNECT proxy on 127.0.0.1 that records the targets it tunnels to."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _TunnelHandler)
        self.port = self.server_address[1]
        self.targets = []
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()


class _TunnelHandler(socketserver.StreamRequestHandler):
    def handle(self):
        method, target, _version = self.rfile.readline().decode("latin-1").split()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        if method != "CONNECT":
            self.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
            return
        self.server.targets.append(target)
        host, port = target.rsplit(":", 1)
        with socket.create_connection((host, int(port))) as upstream:
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.wfile.flush()
            _relay(self.connection, upstream)


def _relay(one, other):
    """Copy bytes both ways until either side closes."""
    with selectors.DefaultSelector() as selector:
        selector.register(one, selectors.EVENT_READ, other)
        selector.register(other, selectors.EVENT_READ, one)
        while True:
            for key, _events in selector.select():
                data = key.fileobj.recv(65536)
                if not data:
                    return
                key.data.sendall(data)


class FaultyConnectProxy(ConnectProxy):
    """A ConnectProxy that counts what the server sends through each tunnel and can misbehave:
    cut_after = N closes a tunnel once it relayed N bytes from the server (TLS runs end to end, so
    only the volume is seen: API tunnels stay far below what a disk download moves), and
    on_bytes = (N, fn) calls fn() once when all tunnels together relayed N bytes from the server."""

    def __init__(self):
        super().__init__()
        self.RequestHandlerClass = _CountingTunnelHandler
        self.lock = threading.Lock()
        self.cut_after = None
        self.on_bytes = None
        self.downstream = 0
        self.cuts = 0

    def count(self, nbytes) -> None:
        fire = None
        with self.lock:
            self.downstream += nbytes
            if self.on_bytes is not None and self.downstream >= self.on_bytes[0]:
                fire, self.on_bytes = self.on_bytes[1], None
        if fire is not None:
            fire()


class _CountingTunnelHandler(_TunnelHandler):
    def handle(self):
        method, target, _version = self.rfile.readline().decode("latin-1").split()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        self.server.targets.append(target)
        host, port = target.rsplit(":", 1)
        with socket.create_connection((host, int(port))) as upstream:
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.wfile.flush()
            relayed = 0
            with selectors.DefaultSelector() as selector:
                selector.register(self.connection, selectors.EVENT_READ, upstream)
                selector.register(upstream, selectors.EVENT_READ, self.connection)
                while True:
                    for key, _events in selector.select():
                        data = key.fileobj.recv(65536)
                        if not data:
                            return
                        if key.fileobj is upstream:
                            relayed += len(data)
                            self.server.count(len(data))
                            limit = self.server.cut_after
                            if limit is not None and relayed > limit:
                                self.server.cuts += 1
                                return  # both sockets close: the client sees the answer break off
                        key.data.sendall(data)
