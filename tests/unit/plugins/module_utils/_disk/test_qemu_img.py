# -*- coding: utf-8 -*-
"""qemu-img argv builders, parsers (on output captured from qemu-img 7.2) and the runner."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._disk import qemu_img
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    CommandError, InvalidInputError, MigrationError, MissingDependencyError)

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "qemu_img")


def _fixture(name):
    with open(os.path.join(FIXTURES, name)) as fh:
        return fh.read()


def test_convert_argv_defaults():
    assert qemu_img.convert_argv("json:{}", "/o.qcow2", "qcow2") == [
        "qemu-img", "convert", "-O", "qcow2", "-S", "4k", "-m", "8", "-W", "json:{}", "/o.qcow2"]


def test_convert_argv_options():
    argv = qemu_img.convert_argv("json:{}", "/o.raw", "raw", coroutines=16, out_of_order=False,
                                 progress=True, dest_options={"b": "2", "a": "1"})
    assert argv == ["qemu-img", "convert", "-p", "-O", "raw", "-S", "4k", "-m", "16", "-o", "a=1,b=2",
                    "json:{}", "/o.raw"]


def test_convert_argv_refuses_other_outputs():
    with pytest.raises(InvalidInputError, match="Output format 'vmdk' is not supported"):
        qemu_img.convert_argv("json:{}", "/o", "vmdk")


def test_parse_info_stream_vmdk():
    info = qemu_img.parse_info(_fixture("info-stream-vmdk.json"))
    assert info == {"format": "vmdk", "virtual_size": 67108864, "actual_size": 12288, "cluster_size": 65536,
                    "dirty": False, "create_type": "streamOptimized", "corrupt": False}


def test_parse_info_backing_chain_takes_top():
    info = qemu_img.parse_info(_fixture("info-chain-qcow2.json"))
    assert (info["format"], info["virtual_size"]) == ("qcow2", 67108864)
    assert info["actual_size"] == json.loads(_fixture("info-chain-qcow2.json"))[0]["actual-size"]


def test_parse_check_and_measure():
    assert qemu_img.parse_check(_fixture("check-qcow2.json")) == {"errors": 0, "leaks": 0,
                                                                  "image_end_offset": 1376256}
    assert qemu_img.parse_measure('{"required": 1245184, "fully-allocated": 67567616}') == {
        "required": 1245184, "fully_allocated": 67567616}


def test_parse_rejects_non_json():
    with pytest.raises(Exception, match="not JSON"):
        qemu_img.parse_info("qemu-img: oops")


def test_run_translates_a_missing_source():
    spec = "json:" + json.dumps({"driver": "raw", "file": {"driver": "file", "filename": "/nonexistent/x"}})
    with pytest.raises(InvalidInputError, match="could not open the image") as err:
        qemu_img.run(qemu_img.info_argv(spec))
    assert err.value.details["rc"] == 1


def test_run_reports_a_missing_program(monkeypatch):
    monkeypatch.setattr(qemu_img, "QEMU_IMG", "qemu-img-that-is-not-installed")
    with pytest.raises(MissingDependencyError, match="apt-get install qemu-utils"):
        qemu_img.run(qemu_img.info_argv("x"))


def test_run_keeps_unknown_errors_as_command_errors():
    with pytest.raises(CommandError) as err:
        qemu_img.run(["qemu-img", "info", "--no-such-option"])
    assert err.value.details["cmd"][:2] == ["qemu-img", "info"]


def test_progress_file_is_written(tmp_path, qimg):
    src, dest, progress = tmp_path / "s.raw", tmp_path / "d.raw", tmp_path / "p.json"
    qimg("create", "-q", "-f", "raw", str(src), "8M")
    spec = "json:" + json.dumps({"driver": "raw", "file": {"driver": "file", "filename": str(src)}})
    qemu_img.run(qemu_img.convert_argv(spec, str(dest), "raw", progress=True), progress_path=str(progress))
    assert json.loads(progress.read_text())["percent"] == 100.0


def test_timeout_stops_qemu_img(tmp_path):
    """A FIFO with no writer blocks qemu-img in open() for ever: only the watchdog can end it."""
    fifo = tmp_path / "stalled"
    os.mkfifo(str(fifo))
    spec = "json:" + json.dumps({"driver": "raw", "file": {"driver": "file", "filename": str(fifo)}})
    with pytest.raises(MigrationError, match="did not finish within 0.5 seconds"):
        qemu_img.run(qemu_img.info_argv(spec), timeout=0.5)
