# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP for downloads: one pooled session, ranged GETs that are checked, retries with backoff.

A Client is made per download and shared by its worker threads: one requests.Session whose pool
holds at most `workers` connections, TLS verified as the caller says (True, a CA bundle path, or
False). Every request passes verify itself: requests would otherwise let REQUESTS_CA_BUNDLE win
over a session's CA bundle.

What is retried, with exponential backoff (or the server's Retry-After): connection failures and
resets, answers that stop arriving for `timeout` seconds (a stalled connection), bodies cut short,
HTTP 408, 429 and 5xx. Anything else fails at once with an HttpStatusError naming status and the
service's error code.

Download URLs often carry their credential in the query string (Azure SAS, S3 presigned URLs):
every message this module makes names a URL through redact() and passes library errors through
scrub(), so a signature never reaches an exception, a log or a result.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import time

from ansible.module_utils.six.moves.urllib.parse import urlsplit, urlunsplit

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    CertificateError,
    ConnectionFailedError,
    IntegrityError,
)

try:
    import requests
    from requests.adapters import HTTPAdapter
except ImportError:
    requests = HTTPAdapter = None

BLOCK = 1024 * 1024  # bytes handed to the sink at a time
RETRY_STATUSES = (408, 429, 500, 502, 503, 504)
REDACTED = "<redacted>"
_QUERY_IN_TEXT = re.compile(r"\?[^\s'\"()<>]*=[^\s'\"()<>]*")
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


def redact(url):
    """The URL without its query string and user info: safe to show. "https://h/p?sig=x" -> "https://h/p?<redacted>"."""
    parts = urlsplit(url or "")
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, REDACTED if parts.query else "", ""))


def scrub(text, secrets=()):
    """Text (a library's error message) with every query string of a URL in it and the given secrets removed."""
    text = str(text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _QUERY_IN_TEXT.sub("?" + REDACTED, text)


class HttpStatusError(ConnectionFailedError):
    """The server refused a request with a status that retrying does not change (403, 404, 409, ...)."""

    def __init__(self, what, url, status, code=None):
        super(HttpStatusError, self).__init__(
            "%s %s was refused: HTTP %d%s." % (what, redact(url), status, " (%s)" % code if code else ""),
            fix="Check that the URL is still valid and that this host may read it.")
        self.status, self.code = status, code


class Cancelled(Exception):
    """The caller's cancel event was set while a body was being read."""


class _Transient(Exception):
    """A failure worth another attempt; retry_after is the server's wish in seconds, if it said one."""

    def __init__(self, reason, retry_after=None):
        super(_Transient, self).__init__(reason)
        self.reason, self.retry_after = reason, retry_after


def _retry_after(response):
    try:
        return max(0.0, float(response.headers.get("Retry-After")))
    except (TypeError, ValueError):
        return None


class Client(object):
    """One pooled session for one download. Use as a context manager or call close()."""

    def __init__(self, verify=True, workers=4, timeout=60, retries=5, backoff=1.0, max_backoff=30.0,
                 headers=None, sleep=time.sleep):
        if requests is None:
            raise ConnectionFailedError("The Python library requests is missing.", fix="pip install requests")
        self.verify = verify
        # (connect, read): read is also the longest silence tolerated in the middle of a body.
        self.timeout = (min(timeout, 30), timeout)
        self.retries, self.backoff, self.max_backoff = retries, backoff, max_backoff
        self.headers = dict(headers or {})
        self._sleep = sleep
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(1, workers), pool_block=True, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def close(self):
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- the retry loop -----------------------------------------------------------------------------------
    def _retrying(self, what, url, attempt):
        delay = self.backoff
        for tries in range(self.retries + 1):
            try:
                return attempt()
            except _Transient as exc:
                last = exc
                if tries == self.retries:
                    break
                wait = delay if exc.retry_after is None else exc.retry_after
                self._sleep(min(wait, self.max_backoff))
                delay = min(delay * 2, self.max_backoff)
        raise ConnectionFailedError(
            "%s %s failed %d times; the last attempt: %s." % (what, redact(url), self.retries + 1, last.reason),
            fix="Check the network path to the storage service and try again; a rerun resumes the download.")

    def _send(self, what, url, headers, params=None):
        """The response (streamed) to a GET, or _Transient / HttpStatusError / CertificateError."""
        try:
            response = self.session.get(url, headers=dict(self.headers, **headers), params=params, stream=True,
                                        timeout=self.timeout, verify=self.verify)
        except requests.exceptions.SSLError as exc:
            raise CertificateError("The TLS certificate of %s could not be verified: %s"
                                   % (redact(url), scrub(exc, [url])),
                                   fix="Give the CA that signed it in ca_bundle, or set validate_certs: false on a "
                                       "lab system only.")
        except requests.exceptions.Timeout:
            raise _Transient("no answer within %d seconds" % self.timeout[1])
        except requests.exceptions.RequestException as exc:
            raise _Transient("connection failed (%s)" % scrub(exc, [url]))
        if response.status_code in RETRY_STATUSES:
            response.close()
            raise _Transient("HTTP %d%s" % (response.status_code, _code(response)), _retry_after(response))
        if response.status_code >= 400:
            response.close()
            raise HttpStatusError(what, url, response.status_code, response.headers.get("x-ms-error-code"))
        return response

    # ---- requests --------------------------------------------------------------------------------------------
    def get(self, url, params=None, headers=None, what="GET"):
        """(status, headers, body) of a small GET (a listing), retried as a whole."""
        def attempt():
            response = self._send(what, url, headers or {}, params)
            try:
                return response.status_code, dict(response.headers), response.content
            except requests.exceptions.RequestException as exc:
                raise _Transient("reading the answer failed (%s)" % scrub(exc, [url]))
            finally:
                response.close()
        return self._retrying(what, url, attempt)

    def read_range(self, url, start, end, sink, total=None, cancelled=None):
        """GET bytes [start, end) and hand them to sink(offset, data) block by block.

        The answer must be 206 with a Content-Range of exactly that range (and of a resource of total
        bytes, when given) and a body of that length. Returns the bytes received over the network,
        retried attempts included. cancelled, a threading.Event, stops it between blocks (Cancelled).
        """
        what = "GET bytes %d-%d of" % (start, end - 1)
        received = [0]

        def attempt():
            response = self._send(what, url, {"Range": "bytes=%d-%d" % (start, end - 1)})
            try:
                _check_range(response, what, url, start, end, total)
                offset = start
                for data in response.iter_content(BLOCK):
                    if cancelled is not None and cancelled.is_set():
                        raise Cancelled()
                    received[0] += len(data)
                    if offset + len(data) > end:
                        raise IntegrityError("%s %s: the server sent more than asked for." % (what, redact(url)))
                    sink(offset, data)
                    offset += len(data)
                if offset != end:
                    raise _Transient("the answer ended after %d of %d bytes" % (offset - start, end - start))
            except requests.exceptions.RequestException as exc:
                if _timed_out(exc):
                    raise _Transient("no data for %d seconds (stalled connection)" % self.timeout[1])
                raise _Transient("the answer broke off (%s)" % scrub(exc, [url]))
            finally:
                response.close()
        self._retrying(what, url, attempt)
        return received[0]


def _timed_out(exc):
    """Whether a requests error is a read timeout (requests wraps those met in a body as ConnectionError)."""
    if isinstance(exc, requests.exceptions.Timeout):
        return True
    return any(type(arg).__name__ in ("ReadTimeoutError", "timeout", "TimeoutError") for arg in exc.args)


def _code(response):
    code = response.headers.get("x-ms-error-code") or response.headers.get("x-amz-error-code")
    return " (%s)" % code if code else ""


def _check_range(response, what, url, start, end, total):
    if response.status_code != 206:
        raise IntegrityError("%s %s: expected a partial answer (206), got %d." % (what, redact(url), response.status_code),
                             fix="The server ignores Range requests; this download needs a server that honours them.")
    match = _CONTENT_RANGE.match(response.headers.get("Content-Range", "").strip())
    if not match or (int(match.group(1)), int(match.group(2)) + 1) != (start, end):
        raise IntegrityError("%s %s: the server answered with another range (%s)."
                             % (what, redact(url), response.headers.get("Content-Range")))
    if total is not None and match.group(3) != str(total):
        raise IntegrityError("%s %s: the source is now %s bytes long, not %d: it changed during the download."
                             % (what, redact(url), match.group(3), total),
                             fix="Make sure nothing writes to or resizes the source while it is exported, then rerun.")
    length = response.headers.get("Content-Length")
    if length is not None and int(length) != end - start:
        raise IntegrityError("%s %s: the answer announces %s bytes instead of %d." % (what, redact(url), length, end - start))
