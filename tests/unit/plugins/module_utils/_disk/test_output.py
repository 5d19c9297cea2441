# -*- coding: utf-8 -*-
"""The qcow2 and raw writers, judged by real qemu-img check and qemu-io reads."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._disk import output

CLUSTER = output.CLUSTER
TIB = 1024 ** 4


def _cluster(value):
    return bytes([value]) * CLUSTER


def _read_pattern(path, fmt, value, offset, length):
    out = subprocess.run(["qemu-io", "-f", fmt, "-r", "-c", "read -P %d %d %d" % (value, offset, length), str(path)],
                         capture_output=True, text=True, check=True).stdout
    return "Pattern verification failed" not in out


def _check(path):
    checked = subprocess.run(["qemu-img", "check", "-f", "qcow2", str(path)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0 and "No errors were found" in checked.stdout, checked.stdout + checked.stderr


@pytest.mark.parametrize("fmt", ["qcow2", "raw"])
def test_a_huge_sparse_disk_with_a_partial_last_cluster(tmp_path, fmt):
    """5 TiB + 3 sectors: the qcow2 L1 table needs two clusters, the last cluster is cut by the end."""
    size = 5 * TIB + 1536
    path = tmp_path / ("disk." + fmt)
    writer = output.open_writer(str(path), fmt, size)
    last = size - size % CLUSTER
    writer.write([(0, _cluster(1)), (4 * TIB + 7 * CLUSTER, _cluster(2))])
    writer.write([(last, _cluster(3))])
    writer.finish()
    if fmt == "qcow2":
        _check(path)
        assert writer.l1_clusters == 2
    assert _read_pattern(path, fmt, 1, 0, CLUSTER)
    assert _read_pattern(path, fmt, 0, CLUSTER, CLUSTER)  # never written: zeros
    assert _read_pattern(path, fmt, 2, 4 * TIB + 7 * CLUSTER, CLUSTER)
    assert _read_pattern(path, fmt, 3, last, 1536)
    info = subprocess.run(["qemu-img", "info", "-f", fmt, str(path)], capture_output=True, text=True, check=True).stdout
    assert "(%d bytes)" % size in info
    # Three data clusters; for qcow2 also the header, two L1, three L2, a refcount table and block.
    assert os.stat(str(path)).st_blocks * 512 < 12 * CLUSTER


def test_refcounts_spanning_several_blocks(tmp_path):
    """More than 32768 clusters (2 GiB) need a second 16-bit refcount block; it must count itself."""
    path = tmp_path / "big.qcow2"
    clusters = 33000
    writer = output.Qcow2Writer(str(path), clusters * CLUSTER)
    data = _cluster(7)
    for start in range(0, clusters, 1000):
        writer.write([((start + index) * CLUSTER, data) for index in range(min(1000, clusters - start))])
    writer.finish()
    _check(path)
    assert _read_pattern(path, "qcow2", 7, (clusters - 1) * CLUSTER, CLUSTER)
    os.unlink(str(path))


def test_clusters_outside_the_disk_or_misaligned_are_refused(tmp_path):
    writer = output.open_writer(str(tmp_path / "d.qcow2"), "qcow2", 4 * CLUSTER)
    for bad in [(4 * CLUSTER, _cluster(1)), (100, _cluster(1)), (0, b"\x01" * 100)]:
        with pytest.raises(ValueError):
            writer.write([bad])
    writer.close()


def test_an_existing_file_is_never_overwritten(tmp_path):
    path = tmp_path / "taken.raw"
    path.write_bytes(b"keep")
    with pytest.raises(OSError):
        output.open_writer(str(path), "raw", CLUSTER)
    assert path.read_bytes() == b"keep"


def test_l2_tables_evicted_from_memory_are_read_back(tmp_path):
    """More 512 MiB regions touched than L2 tables kept in memory, then the first region again."""
    region = CLUSTER * CLUSTER // 8  # what one L2 table maps
    regions = output._L2_CACHE + 16
    path = tmp_path / "wide.qcow2"
    writer = output.Qcow2Writer(str(path), regions * region)
    writer.write([(index * region, _cluster(index % 250 + 1)) for index in range(regions)])
    assert len(writer.l2_cache) == output._L2_CACHE
    writer.write([(CLUSTER, _cluster(251)), ((regions - 1) * region + CLUSTER, _cluster(252))])
    writer.finish()
    _check(path)
    for index in (0, 1, output._L2_CACHE, regions - 1):
        assert _read_pattern(path, "qcow2", index % 250 + 1, index * region, CLUSTER)
    assert _read_pattern(path, "qcow2", 251, CLUSTER, CLUSTER)
    assert _read_pattern(path, "qcow2", 252, (regions - 1) * region + CLUSTER, CLUSTER)
    assert _read_pattern(path, "qcow2", 0, 2 * CLUSTER, CLUSTER)
