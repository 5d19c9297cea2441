"""The real guest's disk in VMware's streamOptimized layout, converted by disk_convert's own reader.

The fixture's OVA holds qemu-img's layout of streamOptimized (grain tables in the header area).
VMware's exporters write grain tables after their grains and the grain directory in a footer; this
test writes the fixture's raw disk that way (vmware_stream.py), lets qemu-img confirm the stream
reads back as the raw disk, and then requires disk_convert's output, as qcow2 and as raw, to be
identical to the raw disk that the other tests boot."""

from __future__ import annotations

import os
import struct
import subprocess

import pytest

import vmware_stream

pytestmark = pytest.mark.e2e


def _identical(fmt_a, path_a, fmt_b, path_b):
    proc = subprocess.run(["qemu-img", "compare", "-f", fmt_a, "-F", fmt_b, str(path_a), str(path_b)],
                          capture_output=True, text=True, check=False)
    return proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def vmware_layout_disk(fixture_guest, tmp_path_factory):
    raw = os.path.join(fixture_guest["dir"], "disk.raw")
    stream = tmp_path_factory.mktemp("vmware-stream") / "h2k-fixture-disk1.vmdk"
    grains = vmware_stream.write(raw, str(stream))
    assert grains > 1000
    with open(stream, "rb") as fh:
        head = fh.read(512)
    assert struct.unpack_from("<Q", head, 56)[0] == vmware_stream.GD_AT_END  # the directory is in the footer
    same, detail = _identical("raw", raw, "vmdk", stream)
    assert same, "qemu-img does not read the written stream as the raw disk: " + detail
    return raw, stream


@pytest.mark.parametrize("dest_format", ["qcow2", "raw"])
def test_vmware_layout_stream_converts_identical_to_the_raw_disk(vmware_layout_disk, dest_format, tmp_path):
    from ansible_collections.hyper2kvm.migrate.plugins.module_utils._disk import convert

    raw, stream = vmware_layout_disk
    dest = tmp_path / ("disk." + dest_format)
    result = convert.convert(convert.Request(str(stream), str(dest), dest_format=dest_format))
    assert result["engine"] == "sparse-vmdk"
    assert result["sparse_vmdk"]["subformat"] == "streamOptimized"
    assert result["src"]["chain"][0]["subformat"] == "streamOptimized"
    same, detail = _identical("raw", raw, dest_format, dest)
    assert same, detail
    # Sparse like the source: far less than the 2 GiB virtual size is allocated.
    assert os.stat(str(dest)).st_blocks * 512 < 1.5 * 1024 ** 3
