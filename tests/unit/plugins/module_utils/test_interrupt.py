# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Termination signals become Interrupted inside raising_signals(), and wait for shielded() cleanup."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import signal
import time

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils import _interrupt


def _deliver(signum):
    os.kill(os.getpid(), signum)
    time.sleep(0.05)  # the handler runs at the next bytecode boundary of the main thread


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signals_raise_inside_and_handlers_come_back(signum):
    before = signal.getsignal(signum)
    with pytest.raises(_interrupt.Interrupted) as caught:
        with _interrupt.raising_signals():
            _deliver(signum)
    assert caught.value.details["signal"] == signal.Signals(signum).name
    assert "resumes" in str(caught.value)
    assert signal.getsignal(signum) is before


def test_shielded_cleanup_finishes_before_the_signal_is_raised():
    steps = []
    with pytest.raises(_interrupt.Interrupted):
        with _interrupt.raising_signals():
            try:
                steps.append("work")
            finally:
                with _interrupt.shielded():
                    _deliver(signal.SIGTERM)
                    steps.append("revoked")
            steps.append("never")
    assert steps == ["work", "revoked"]


def test_nested_shields_raise_once_at_the_outermost():
    with pytest.raises(_interrupt.Interrupted):
        with _interrupt.raising_signals():
            with _interrupt.shielded():
                with _interrupt.shielded():
                    _deliver(signal.SIGTERM)
                time.sleep(0.01)  # still shielded: nothing raised here
    assert _interrupt._state == {"shielded": 0, "pending": None}
