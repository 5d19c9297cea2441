# -*- coding: utf-8 -*-
"""Run a module's main() in-process and return what it printed as a dict."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import socket

import pytest
from ansible.module_utils.testing import patch_module_args


@pytest.fixture
def run_module(capsys):
    def run(module, args, check_mode=False, diff=False):
        args = dict(args)
        args["_ansible_check_mode"] = check_mode
        args["_ansible_diff"] = diff
        with patch_module_args(args):
            with pytest.raises(SystemExit):
                module.main()
        return json.loads(capsys.readouterr().out)
    return run


@pytest.fixture
def closed_port():
    """A 127.0.0.1 port that nothing listens on (bound for a moment, then released)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port
