# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Termination signals as exceptions, so that cleanup in finally blocks runs when a job is stopped.

Inside raising_signals(), SIGTERM, SIGHUP and SIGINT raise Interrupted in the main thread (AWX and
ansible-runner stop a job with SIGTERM, a terminal with SIGINT). Inside shielded(), the cleanup
that must not be cut short (revoking access, deleting a snapshot) finishes first and the signal
is raised after it. Outside the main thread both do nothing special.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import signal
import threading

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import MigrationError

SIGNALS = ("SIGTERM", "SIGHUP", "SIGINT")
_state = {"shielded": 0, "pending": None}


class Interrupted(MigrationError):
    """The run was stopped by a signal."""


def _raise(signum):
    name = signal.Signals(signum).name
    return Interrupted("Stopped by %s; the cleanup ran (access revoked, temporary snapshots deleted)." % name,
                       fix="Run the task again: the download resumes where it stopped.", signal=name)


def _handler(signum, frame):
    if _state["shielded"]:
        _state["pending"] = signum
        return
    raise _raise(signum)


def _main_thread():
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def raising_signals():
    """Termination signals raise Interrupted inside the block; the previous handlers come back after."""
    if not _main_thread():
        yield
        return
    previous = dict((name, signal.signal(getattr(signal, name), _handler)) for name in SIGNALS)
    try:
        yield
    finally:
        for name, handler in previous.items():
            signal.signal(getattr(signal, name), handler)


@contextlib.contextmanager
def shielded():
    """Hold back termination signals until the block is done, then raise the one that came."""
    _state["shielded"] += 1
    try:
        yield
    finally:
        _state["shielded"] -= 1
        pending, _state["pending"] = _state["pending"], None
        if pending is not None and not _state["shielded"]:
            raise _raise(pending)
        if pending is not None:
            _state["pending"] = pending
