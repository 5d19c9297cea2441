# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one error hierarchy of the collection.

Every failure a user can meet is a MigrationError that says what failed, why, and what to do.
Modules catch MigrationError once and turn it into fail_json; nothing else should reach the user
as a traceback. SDK and CLI errors are translated into these classes where they are raised.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class MigrationError(Exception):
    """A failure with a message for people and an optional fix."""

    def __init__(self, message, fix=None, **details):
        super(MigrationError, self).__init__(message)
        self.message = message
        self.fix = fix
        self.details = details

    def __str__(self):
        if self.fix:
            return "%s Fix: %s" % (self.message, self.fix)
        return self.message

    def result(self):
        """Keyword arguments for AnsibleModule.fail_json."""
        out = dict(self.details)
        out["msg"] = str(self)
        out["error_kind"] = type(self).__name__
        return out


class UnsafeInputError(MigrationError):
    """Input that would make us read or write outside what the user handed us."""


class InvalidInputError(MigrationError):
    """Input that is malformed, truncated or contradicts itself."""


class UnsupportedError(MigrationError):
    """Input we understand but cannot handle (yet)."""


class IntegrityError(MigrationError):
    """A checksum, size or verification that did not match."""


class CommandError(MigrationError):
    """An external command failed."""

    def __init__(self, argv, rc, stderr, message=None, fix=None):
        text = (stderr or "").strip()
        if len(text) > 2000:
            text = "..." + text[-2000:]
        message = message or "%s failed with exit code %s: %s" % (argv[0], rc, text or "(no output)")
        super(CommandError, self).__init__(message, fix=fix, cmd=list(argv), rc=rc, stderr=text)


class MissingDependencyError(MigrationError):
    """A program or library the conversion host lacks."""


class ConnectionFailedError(MigrationError):
    """A remote service (vCenter, a cloud API) could not be reached, or the conversation broke off."""


class AuthenticationError(ConnectionFailedError):
    """The service refused the credentials."""


class CertificateError(ConnectionFailedError):
    """The service's TLS certificate could not be verified."""
