"""boot.signature: what a recorded pass is valid for. The definition is a real `virsh dumpxml --inactive`
fixture; its disk paths are pointed at real files here so their identity (device, inode) counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._targets import boot, console

FIXTURE = Path(__file__).resolve().parents[3] / "fixtures" / "libvirt" / "web01-bios-defined.xml"


def options(marker=None, patterns=None, **extra):
    success, agent = console.evidence(marker, patterns)
    base = {"success": console.compile_patterns(success, "success"), "agent_proves_boot": agent,
            "failure": console.compile_patterns(console.FAILURE_PATTERNS, "failure"),
            "wait_for_address": False, "isolate": True}
    base.update(extra)
    return base


@pytest.fixture
def definition(tmp_path):
    xml = FIXTURE.read_text()
    for name in ("disk0.qcow2", "disk1.raw"):
        (tmp_path / name).write_bytes(b"disk")
        xml = xml.replace("/var/lib/hyper2kvm/web01/" + name, str(tmp_path / name))
    return xml, tmp_path


@pytest.fixture
def xml(definition):
    return definition[0]


def test_same_definition_disks_and_demands_give_the_same_signature(xml):
    assert boot.signature(xml, boot.criteria(options())) == boot.signature(xml, boot.criteria(options()))


@pytest.mark.parametrize("changed", [
    {"marker": "^APP-READY"},
    {"patterns": ["Welcome"]},
    {"wait_for_address": True},
    {"isolate": False},
    {"failure": console.compile_patterns(["Oops"], "failure")},
])
def test_a_new_demand_invalidates_a_recorded_pass(xml, changed):
    assert boot.signature(xml, boot.criteria(options())) != boot.signature(xml, boot.criteria(options(**changed)))


def test_a_login_prompt_pass_does_not_answer_for_a_marker(xml):
    # The order of the fixture guest's console: the prompt came first and passed the default check.
    default, marked = boot.criteria(options()), boot.criteria(options("^H2K-BOOT-OK"))
    assert default["agent_proves_boot"] and not marked["agent_proves_boot"]
    assert marked["success"] == ["^H2K-BOOT-OK"]
    assert boot.signature(xml, default) != boot.signature(xml, marked)


def test_a_rewritten_disk_file_invalidates_a_recorded_pass(definition):
    xml, folder = definition
    before = boot.signature(xml, boot.criteria(options()))
    # A conversion writes a new file and renames it over the old one: a new inode.
    (folder / "disk1.raw.new").write_bytes(b"disk")
    (folder / "disk1.raw.new").rename(folder / "disk1.raw")
    assert boot.signature(xml, boot.criteria(options())) != before
