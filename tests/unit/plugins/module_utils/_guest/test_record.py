"""repair record: a rerun on the same file with the same options answers from it; anything else does not."""

from __future__ import annotations

import os

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest import record

OPTIONS = {"remove_vmware_tools": True, "nic_macs": {"ens192": "00:50:56:ab:cd:01"},
           "source_macs": ("00:50:56:ab:cd:01",)}
RESULT = {"changed": True, "committed": True, "steps": [{"id": "fstab"}], "facts": {"os": "linux"}}


def _setup(tmp_path):
    image = tmp_path / "disk0.qcow2"
    image.write_bytes(b"QFI\xfb")
    rec = str(tmp_path / "disk0.qcow2.repair.json")
    record.save(rec, str(image), OPTIONS, RESULT)
    return image, rec


def test_same_file_same_options_returns_the_result(tmp_path):
    image, rec = _setup(tmp_path)
    image.write_bytes(b"QFI\xfb changed by the guest's own boot")  # same inode
    assert record.load(rec, str(image), OPTIONS) == RESULT


def test_other_options_or_a_replaced_file_do_not_match(tmp_path):
    image, rec = _setup(tmp_path)
    assert record.load(rec, str(image), dict(OPTIONS, remove_vmware_tools=False)) is None
    replacement = tmp_path / "new.qcow2"
    replacement.write_bytes(b"QFI\xfb")
    os.replace(str(replacement), str(image))  # what a reconversion does: a new file under the name
    assert record.load(rec, str(image), OPTIONS) is None


def test_missing_corrupt_or_foreign_records_are_ignored(tmp_path):
    image, rec = _setup(tmp_path)
    assert record.load(str(tmp_path / "none.json"), str(image), OPTIONS) is None
    with open(rec, "w") as fh:
        fh.write("{half")
    assert record.load(rec, str(image), OPTIONS) is None
    with open(rec, "w") as fh:
        fh.write('{"version": 99}')
    assert record.load(rec, str(image), OPTIONS) is None
    assert record.load(rec, str(tmp_path / "gone.qcow2"), OPTIONS) is None
