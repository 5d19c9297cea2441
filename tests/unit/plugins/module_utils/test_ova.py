# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""OVA archives and OVF directories: real tars built in tmp_path, every hostile shape refused.

Disk payloads are small fake bytes: these tests are about the archive logic, not disk formats.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import io
import os
import re
import shutil
import subprocess
import tarfile

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    IntegrityError,
    InvalidInputError,
    UnsafeInputError,
    UnsupportedError,
)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._model import validate
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources import ova

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "ovf")
VMWARE = "vmware-ovftool-efi.ovf"
FIXTURE_NAMES = sorted(n for n in os.listdir(FIXTURES) if n.endswith(".ovf"))


def fake_payload(name):
    # Distinct, non-repeating bytes per file, longer than a tar block, not a multiple of 512.
    seed = hashlib.sha256(name.encode()).digest()
    return b"KDMV" + b"".join(hashlib.sha256(seed + bytes([i])).digest() for i in range(40)) + name.encode()


def descriptor_and_files(fixture=VMWARE):
    """The fixture's text with ovf:size fitted to fake payloads, and {href: payload}."""
    with open(os.path.join(FIXTURES, fixture)) as handle:
        text = handle.read()
    files = {}
    for href in re.findall(r'ovf:href="([^"]+)"', text):
        name = href[2:] if href.startswith("./") else href
        files[name] = fake_payload(name)
        text = re.sub(r'(ovf:href="%s"[^>]*?ovf:size=")\d+"' % re.escape(href),
                      r'\g<1>%d"' % len(files[name]), text)
    return text.encode(), files


def manifest_text(files, algorithm="SHA256", fmt="%s(%s)= %s\n"):
    return "".join(fmt % (algorithm, name, hashlib.new(algorithm.lower(), data).hexdigest())
                   for name, data in files.items()).encode()


def entry(name, data=b"", kind=tarfile.REGTYPE, mode=0o644, linkname=""):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname, info.mtime = kind, mode, linkname, 1700000000
    info.size = len(data) if kind in (tarfile.REGTYPE, tarfile.AREGTYPE) else 0
    return info, data


def write_tar(path, entries, fmt=tarfile.USTAR_FORMAT, mode="w"):
    with tarfile.open(str(path), mode, format=fmt) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return str(path)


def build_ova(tmp_path, fixture=VMWARE, stem="web01", manifest="SHA256", fmt=tarfile.USTAR_FORMAT,
              extra=(), omit=(), replace=None, order=None, name_prefix=""):
    """A well-formed OVA from a fixture: .ovf, .mf, then the files. Returns (path, {name: payload})."""
    descriptor, files = descriptor_and_files(fixture)
    contents = dict([(stem + ".ovf", descriptor)] + list(files.items()))
    if manifest:
        contents[stem + ".mf"] = manifest_text(contents, manifest)
    contents.update(replace or {})
    names = order or [stem + ".ovf"] + ([stem + ".mf"] if manifest else []) + list(files)
    entries = [entry(name_prefix + n, contents[n]) for n in names if n not in omit]
    return write_tar(tmp_path / (stem + ".ova"), entries + list(extra), fmt=fmt), files


def assert_raises(cls, words, func, *args, **kwargs):
    with pytest.raises(cls) as err:
        func(*args, **kwargs)
    text = str(err.value)
    for word in words:
        assert word in text, "%r not in %r" % (word, text)
    return err.value


# --- good archives ----------------------------------------------------------------------------


def test_describe_vmware_ova(tmp_path):
    path, files = build_ova(tmp_path)
    out = ova.describe(path)
    assert (out["container"], out["descriptor"]) == ("ova", "web01.ovf")
    assert out["warnings"] == []
    manifest = out["manifest"]
    assert (manifest["present"], manifest["verified"], manifest["algorithm"]) == (True, True, "SHA256")
    assert sorted(manifest["files"]) == sorted(list(files) + ["web01.ovf"])
    assert all(f["ok"] and f["expected"] == f["actual"] for f in manifest["files"].values())
    [vm] = out["vms"]
    validate(vm)
    assert vm["source"]["type"] == "ova" and vm["source"]["path"] == os.path.abspath(path)
    disk = vm["disks"][0]
    assert disk["source"]["ova"] == os.path.abspath(path) and disk["source"]["file"] == "web01-disk1.vmdk"
    assert [m["name"] for m in out["members"]] == ["web01.ovf", "web01.mf"] + list(files)
    assert all(m["mode"] == 0o644 for m in out["members"])


@pytest.mark.parametrize("fixture", FIXTURE_NAMES)
def test_every_fixture_as_an_ova(tmp_path, fixture):
    path, files = build_ova(tmp_path, fixture=fixture, stem="pkg")
    out = ova.describe(path)
    assert out["manifest"]["verified"] and out["warnings"] == []
    for vm in out["vms"]:
        validate(vm)
        for disk in vm["disks"]:
            offset, size = ova.locate_member(path, disk["source"]["file"])
            with open(path, "rb") as handle:
                handle.seek(offset)
                assert handle.read(size) == files[disk["source"]["file"]]


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_locate_member_reads_the_payload_in_place(tmp_path, fmt):
    long_name = "d" * 120 + ".vmdk"  # needs a GNU longname / pax header before the data
    payload = fake_payload(long_name) * 3
    entries = [entry("x.ovf", b"<Envelope/>"), entry("x.mf", b""), entry(long_name, payload)]
    if fmt == tarfile.USTAR_FORMAT:
        entries[2] = entry("disk.vmdk", payload)
        long_name = "disk.vmdk"
    path = write_tar(tmp_path / "x.ova", entries, fmt=fmt)
    offset, size = ova.locate_member(path, long_name)
    assert size == len(payload)
    with open(path, "rb") as handle:
        handle.seek(offset)
        assert handle.read(size) == payload
    assert ova.locate_member(path, "./" + long_name) == (offset, size)


def test_locate_member_absent(tmp_path):
    path, _files = build_ova(tmp_path)
    assert_raises(InvalidInputError, ["'nope.vmdk'", "web01-disk1.vmdk"], ova.locate_member, path, "nope.vmdk")


def test_locate_member_compressed_payload(tmp_path):
    import gzip
    packed = gzip.compress(b"disk data" * 100)
    path = write_tar(tmp_path / "c.ova", [entry("c.ovf", b"<Envelope/>"), entry("disk.vmdk.gz", packed)])
    assert_raises(UnsupportedError, ["'disk.vmdk.gz'", "gzip-compressed"], ova.locate_member, path, "disk.vmdk.gz")


@pytest.mark.parametrize("algorithm, fmt", [
    ("SHA256", "%s(%s)= %s\n"),
    ("SHA1", "%s(%s)= %s\n"),
    ("SHA512", "%s(%s)= %s\n"),
    ("SHA256", "%s (%s) = %s\r\n"),
    ("sha256", "%s(%s)=%s\n"),
    ("SHA256", "  %s( %s )=  %s  \n\n"),
])
def test_manifest_variants(tmp_path, algorithm, fmt):
    descriptor, files = descriptor_and_files()
    contents = dict([("web01.ovf", descriptor)] + list(files.items()))
    mf = manifest_text(contents, algorithm, fmt)
    path, _files = build_ova(tmp_path, replace={"web01.mf": mf})
    manifest = ova.describe(path)["manifest"]
    assert manifest["verified"] and manifest["algorithm"] == algorithm.upper()
    assert len(manifest["files"]) == 4


def test_manifest_uppercase_digest(tmp_path):
    descriptor, files = descriptor_and_files()
    contents = dict([("web01.ovf", descriptor)] + list(files.items()))
    mf = manifest_text(contents).decode()
    mf = re.sub(r"= ([0-9a-f]+)", lambda m: "= " + m.group(1).upper(), mf).encode()
    path, _files = build_ova(tmp_path, replace={"web01.mf": mf})
    assert ova.describe(path)["manifest"]["verified"]


def test_manifest_absent(tmp_path):
    path, _files = build_ova(tmp_path, manifest=None)
    out = ova.describe(path)
    assert out["manifest"]["present"] is False and out["manifest"]["verified"] is False
    assert any("No manifest" in w for w in out["warnings"])


def test_manifest_skip_verification(tmp_path):
    path, _files = build_ova(tmp_path, replace={"web01-disk2.vmdk": b"tampered"})
    out = ova.describe(path, verify_manifest=False)
    manifest = out["manifest"]
    assert manifest["present"] and not manifest["verified"]
    assert all(f["actual"] is None and f["ok"] is None and f["expected"] for f in manifest["files"].values())
    assert any("skipped" in w for w in out["warnings"])


def test_manifest_not_covering_a_file(tmp_path):
    descriptor, files = descriptor_and_files()
    partial = dict([("web01.ovf", descriptor), ("web01-disk1.vmdk", files["web01-disk1.vmdk"])])
    path, _files = build_ova(tmp_path, replace={"web01.mf": manifest_text(partial) + b"garbage line\n"})
    out = ova.describe(path)
    assert out["manifest"]["verified"] is False
    assert any("does not cover web01-disk2.vmdk, web01-file1.nvram" in w for w in out["warnings"])
    assert any("lines 3" in w for w in out["warnings"])


def test_certificate_is_noted(tmp_path):
    path, _files = build_ova(tmp_path, extra=[entry("web01.cert", b"-----BEGIN CERTIFICATE-----\n")])
    out = ova.describe(path)
    assert out["manifest"]["certificate"] == "web01.cert"
    assert any("web01.cert" in w and "not verified" in w for w in out["warnings"])


def test_descriptor_not_first_is_a_warning(tmp_path):
    _descriptor, files = descriptor_and_files()
    order = list(files) + ["web01.ovf", "web01.mf"]
    path, _files = build_ova(tmp_path, order=order)
    out = ova.describe(path)
    assert out["manifest"]["verified"]
    assert any("not the first member" in w for w in out["warnings"])


def test_dot_slash_names_and_directories(tmp_path):
    path, _files = build_ova(tmp_path, name_prefix="./",
                             extra=[entry("./", kind=tarfile.DIRTYPE, mode=0o755)])
    out = ova.describe(path)
    assert out["descriptor"] == "web01.ovf" and out["manifest"]["verified"]


def test_world_writable_member_is_masked(tmp_path):
    descriptor, files = descriptor_and_files()
    entries = [entry("web01.ovf", descriptor, mode=0o666)]
    entries += [entry(n, d, mode=0o777 if n.endswith("disk1.vmdk") else 0o644) for n, d in files.items()]
    path = write_tar(tmp_path / "ww.ova", entries)
    out = ova.describe(path)
    modes = dict((m["name"], m["mode"]) for m in out["members"])
    assert modes["web01-disk1.vmdk"] == 0o755 and modes["web01.ovf"] == 0o644
    assert all(mode & 0o022 == 0 for mode in modes.values())
    assert any("'web01-disk1.vmdk' has mode 0777 (world-writable); treated as 0755" in w for w in out["warnings"])


def test_declared_size_mismatch_is_a_warning(tmp_path):
    path, _files = build_ova(tmp_path, manifest=None, replace={"web01-disk2.vmdk": b"short"})
    out = ova.describe(path)
    assert any("'web01-disk2.vmdk' is 5 bytes but the descriptor says" in w for w in out["warnings"])


def test_tar_magic_wins_over_a_leading_angle_bracket(tmp_path):
    descriptor, files = descriptor_and_files()
    entries = [entry("<odd>.ovf", descriptor)] + [entry(n, d) for n, d in files.items()]
    out = ova.describe(write_tar(tmp_path / "odd.ova", entries))
    assert out["container"] == "ova" and out["descriptor"] == "<odd>.ovf"


def test_sniffs_content_not_extension(tmp_path):
    path, _files = build_ova(tmp_path)
    renamed = tmp_path / "looks-like.ovf"
    os.rename(path, str(renamed))
    assert ova.describe(str(renamed))["container"] == "ova"


# --- hostile archives -------------------------------------------------------------------------

HOSTILE = [
    ("dotdot", [entry("../evil.vmdk", b"x")], UnsafeInputError, ["'../evil.vmdk'", "'..'"]),
    ("nested-dotdot", [entry("disks/../../evil", b"x")], UnsafeInputError, ["disks/../../evil", "'..'"]),
    ("absolute", [entry("/etc/cron.d/evil", b"x")], UnsafeInputError, ["'/etc/cron.d/evil'", "absolute"]),
    ("symlink", [entry("link.vmdk", kind=tarfile.SYMTYPE, linkname="/etc/shadow")], UnsafeInputError,
     ["'link.vmdk'", "symbolic link", "/etc/shadow"]),
    ("hardlink", [entry("hard.vmdk", kind=tarfile.LNKTYPE, linkname="web01.ovf")], UnsafeInputError,
     ["'hard.vmdk'", "hard link"]),
    ("chardev", [entry("null", kind=tarfile.CHRTYPE)], UnsafeInputError, ["'null'", "character device"]),
    ("blockdev", [entry("sda", kind=tarfile.BLKTYPE)], UnsafeInputError, ["'sda'", "block device"]),
    ("fifo", [entry("pipe", kind=tarfile.FIFOTYPE)], UnsafeInputError, ["'pipe'", "FIFO"]),
    ("duplicate", [entry("web01-disk1.vmdk", b"shadow copy")], UnsafeInputError,
     ["'web01-disk1.vmdk' twice"]),
    ("duplicate-dot-slash", [entry("./web01-disk1.vmdk", b"shadow copy")], UnsafeInputError,
     ["'web01-disk1.vmdk' twice"]),
]


@pytest.mark.parametrize("case, extra, cls, words", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_members(tmp_path, case, extra, cls, words):
    path, _files = build_ova(tmp_path, extra=extra)
    assert_raises(cls, words + [path], ova.describe, path)
    # The converter's entry point refuses the same archive, even for a harmless member.
    assert_raises(cls, words, ova.locate_member, path, "web01-disk1.vmdk")


@pytest.mark.parametrize("fixture, words", [
    ("xxe.ovf", ["DOCTYPE", "XXE", "web01.ovf"]),
    ("billion-laughs.ovf", ["DOCTYPE", "entity expansion", "web01.ovf"]),
])
def test_hostile_descriptor_in_ova(tmp_path, fixture, words):
    with open(os.path.join(FIXTURES, "hostile", fixture), "rb") as handle:
        evil = handle.read()
    path, _files = build_ova(tmp_path, replace={"web01.ovf": evil}, manifest=None)
    assert_raises(UnsafeInputError, words, ova.describe, path)


def test_manifest_digest_mismatch(tmp_path):
    path, files = build_ova(tmp_path, replace={"web01-disk2.vmdk": b"X" + fake_payload("web01-disk2.vmdk")[1:]})
    expected = hashlib.sha256(files["web01-disk2.vmdk"]).hexdigest()
    exc = assert_raises(IntegrityError, ["'web01-disk2.vmdk'", "expected " + expected, "actual "],
                        ova.describe, path)
    assert exc.details["file"] == "web01-disk2.vmdk" and exc.details["expected"] == expected
    assert exc.result()["error_kind"] == "IntegrityError"


def test_missing_referenced_file(tmp_path):
    path, _files = build_ova(tmp_path, manifest=None, omit=("web01-disk2.vmdk",))
    assert_raises(InvalidInputError, ["web01-disk2.vmdk", "not in OVA"], ova.describe, path)


def test_manifest_lists_a_missing_file(tmp_path):
    descriptor, files = descriptor_and_files()
    contents = dict([("web01.ovf", descriptor), ("ghost.vmdk", b"boo")] + list(files.items()))
    path, _files = build_ova(tmp_path, replace={"web01.mf": manifest_text(contents)})
    assert_raises(InvalidInputError, ["ghost.vmdk", "manifest web01.mf"], ova.describe, path)


@pytest.mark.parametrize("href, words", [
    ("../../etc/shadow", ["'..'"]),
    ("/etc/shadow", ["absolute"]),
    ("http://evil.example/disk.vmdk", ["URL"]),
])
def test_hostile_href_in_ova(tmp_path, href, words):
    descriptor, _files = descriptor_and_files()
    evil = descriptor.replace(b'ovf:href="web01-disk2.vmdk"', ('ovf:href="%s"' % href).encode())
    path, _files = build_ova(tmp_path, replace={"web01.ovf": evil}, manifest=None)
    assert_raises(UnsafeInputError, words + [href], ova.describe, path)


def test_truncated_in_member_data(tmp_path):
    path, _files = build_ova(tmp_path)
    with tarfile.open(path) as tar:
        last = tar.getmember("web01-file1.nvram")
    with open(path, "r+b") as handle:
        handle.truncate(last.offset_data + last.size // 2)  # cut inside the last member's data
    exc = assert_raises(InvalidInputError, ["truncated", "'web01-file1.nvram'"], ova.describe, path)
    assert "Fix:" in str(exc)
    assert_raises(InvalidInputError, ["truncated"], ova.locate_member, path, "web01-disk1.vmdk")


def test_truncated_in_a_header(tmp_path):
    path, _files = build_ova(tmp_path)
    with open(path, "rb") as handle:
        data = handle.read()
    # Cut 100 bytes into the header of the last member.
    last_header = data.index(b"web01-file1.nvram\x00")
    with open(path, "wb") as handle:
        handle.write(data[:last_header + 100])
    assert_raises(InvalidInputError, ["truncated or corrupt"], ova.describe, path)


@pytest.mark.parametrize("mode, kind", [("w:gz", "gzip"), ("w:bz2", "bzip2"), ("w:xz", "xz")])
def test_compressed_ova(tmp_path, mode, kind):
    descriptor, files = descriptor_and_files()
    entries = [entry("web01.ovf", descriptor)] + [entry(n, d) for n, d in files.items()]
    path = write_tar(tmp_path / "c.ova", entries, mode=mode)
    assert_raises(UnsupportedError, [kind + "-compressed", "plain", path], ova.describe, path)
    assert_raises(UnsupportedError, [kind + "-compressed"], ova.locate_member, path, "web01-disk1.vmdk")


@pytest.mark.parametrize("tar_format", ["gnu", "posix"])
def test_gnu_sparse_member(tmp_path, tar_format):
    if shutil.which("tar") is None:
        pytest.skip("GNU tar is needed to write sparse members")
    work = tmp_path / "src"
    work.mkdir()
    (work / "s.ovf").write_bytes(b"<Envelope/>")
    with open(str(work / "sparse.raw"), "wb") as handle:
        handle.seek(8 * 1024 * 1024)
        handle.write(b"end")
    path = str(tmp_path / "s.ova")
    subprocess.run(["tar", "--format=" + tar_format, "-S", "-C", str(work), "-cf", path, "s.ovf", "sparse.raw"],
                   check=True)
    assert_raises(UnsupportedError, ["'sparse.raw'", "sparse"], ova.describe, path)


def test_not_a_tar(tmp_path):
    path = tmp_path / "junk.ova"
    path.write_bytes(b"\x01" * 4096)
    assert_raises(InvalidInputError, ["not a readable tar archive"], ova.describe, str(path))


def test_empty_and_missing_paths(tmp_path):
    empty = tmp_path / "empty.ova"
    empty.write_bytes(b"")
    assert_raises(InvalidInputError, ["tar"], ova.describe, str(empty))
    assert_raises(InvalidInputError, ["does not exist"], ova.describe, str(tmp_path / "nope.ova"))
    assert_raises(InvalidInputError, ["is a directory"], ova.describe, str(tmp_path))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path):
    path, _files = build_ova(tmp_path)
    os.chmod(path, 0)
    assert_raises(InvalidInputError, ["Cannot read", "Permission denied"], ova.describe, path)
    assert_raises(InvalidInputError, ["Cannot read"], ova.locate_member, path, "web01-disk1.vmdk")


def test_unreadable_disk_in_directory(tmp_path, monkeypatch):
    base, path, _files = build_dir(tmp_path)
    real_open = open

    def failing_open(name, *args, **kwargs):
        if str(name).endswith("web01-disk2.vmdk"):
            raise IOError(13, "Permission denied", str(name))
        return real_open(name, *args, **kwargs)
    monkeypatch.setattr(ova, "open", failing_open, raising=False)
    assert_raises(InvalidInputError, ["Cannot read", "web01-disk2.vmdk", "Permission denied"], ova.describe, path)


def test_fifo_path_is_refused_without_opening(tmp_path):
    fifo = tmp_path / "p.ova"
    os.mkfifo(str(fifo))
    assert_raises(UnsafeInputError, ["not a regular file"], ova.describe, str(fifo))


@pytest.mark.parametrize("members, words", [
    ([("a.ovf", b"<Envelope/>"), ("b.ovf", b"<Envelope/>")], ["2 .ovf files", "a.ovf, b.ovf"]),
    ([("disk.vmdk", b"x")], ["no .ovf descriptor"]),
    ([("a.ovf", b"<Envelope/>"), ("x.mf", b""), ("y.mf", b"")], ["2 .mf files", "x.mf, y.mf"]),
])
def test_descriptor_count(tmp_path, members, words):
    path = write_tar(tmp_path / "n.ova", [entry(n, d) for n, d in members])
    assert_raises(InvalidInputError, words, ova.describe, path)


def test_too_many_members(tmp_path, monkeypatch):
    monkeypatch.setattr(ova, "MAX_MEMBERS", 3)
    path, _files = build_ova(tmp_path)
    assert_raises(UnsafeInputError, ["more than 3 members"], ova.describe, path)


def test_oversized_descriptor(tmp_path, monkeypatch):
    monkeypatch.setattr(ova, "MAX_SMALL_FILE", 1000)
    path, _files = build_ova(tmp_path)
    assert_raises(UnsafeInputError, ["descriptor web01.ovf", "limit"], ova.describe, path)


# --- OVF directories --------------------------------------------------------------------------

def build_dir(tmp_path, fixture=VMWARE, stem="web01", manifest=True, subdir="pkg"):
    base = tmp_path / subdir
    base.mkdir()
    descriptor, files = descriptor_and_files(fixture)
    (base / (stem + ".ovf")).write_bytes(descriptor)
    for name, data in files.items():
        (base / name).write_bytes(data)
    if manifest:
        contents = dict([(stem + ".ovf", descriptor)] + list(files.items()))
        (base / (stem + ".mf")).write_bytes(manifest_text(contents))
    return base, str(base / (stem + ".ovf")), files


def test_describe_ovf_directory(tmp_path):
    base, path, files = build_dir(tmp_path)
    out = ova.describe(path)
    assert (out["container"], out["descriptor"], out["members"]) == ("ovf", "web01.ovf", [])
    assert out["manifest"]["verified"] and out["warnings"] == []
    [vm] = out["vms"]
    validate(vm)
    assert vm["source"]["type"] == "ovf"
    for disk in vm["disks"]:
        assert disk["source"]["ova"] is None
        assert disk["source"]["path"] == os.path.join(os.path.realpath(str(base)), disk["source"]["file"])


@pytest.mark.parametrize("fixture", FIXTURE_NAMES)
def test_every_fixture_as_a_directory(tmp_path, fixture):
    _base, path, _files = build_dir(tmp_path, fixture=fixture, stem="pkg")
    out = ova.describe(path)
    assert out["manifest"]["verified"]
    for vm in out["vms"]:
        for disk in vm["disks"]:
            assert os.path.isfile(disk["source"]["path"])


def swap_href(path, old, new):
    with open(path, "rb") as handle:
        text = handle.read()
    with open(path, "wb") as handle:
        handle.write(text.replace(('ovf:href="%s"' % old).encode(), ('ovf:href="%s"' % new).encode()))


@pytest.mark.parametrize("href, words", [
    ("../../etc/shadow", ["'..'", "'../../etc/shadow'"]),
    ("/etc/shadow", ["absolute", "'/etc/shadow'"]),
    ("http://evil.example/disk.vmdk", ["URL"]),
    ("file:///etc/shadow", ["URL"]),
    ("disks\\..\\..\\etc\\shadow", ["'..'"]),
])
def test_ovf_directory_hostile_href(tmp_path, href, words):
    _base, path, _files = build_dir(tmp_path, manifest=False)
    swap_href(path, "web01-disk2.vmdk", href)
    assert_raises(UnsafeInputError, words, ova.describe, path)


def test_ovf_directory_symlink_leaving(tmp_path):
    outside = tmp_path / "secret"
    outside.write_bytes(b"secret")
    base, path, _files = build_dir(tmp_path, manifest=False)
    os.remove(str(base / "web01-disk2.vmdk"))
    os.symlink(str(outside), str(base / "web01-disk2.vmdk"))
    assert_raises(UnsafeInputError, ["'web01-disk2.vmdk'", "outside", "symbolic link"], ova.describe, path)


def test_ovf_directory_relative_symlink_leaving(tmp_path):
    base, path, _files = build_dir(tmp_path, manifest=False)
    os.remove(str(base / "web01-disk2.vmdk"))
    os.symlink("../../../../../../etc/hostname", str(base / "web01-disk2.vmdk"))
    assert_raises(UnsafeInputError, ["outside"], ova.describe, path)


def test_ovf_directory_symlink_inside_is_fine(tmp_path):
    base, path, files = build_dir(tmp_path, manifest=False)
    (base / "store").mkdir()
    os.rename(str(base / "web01-disk2.vmdk"), str(base / "store" / "real.vmdk"))
    os.symlink("store/real.vmdk", str(base / "web01-disk2.vmdk"))
    out = ova.describe(path)
    assert out["vms"][0]["disks"][1]["source"]["path"] == os.path.realpath(str(base / "store" / "real.vmdk"))


def test_ovf_directory_subdirectory_href(tmp_path):
    base, path, _files = build_dir(tmp_path, manifest=False)
    (base / "disks").mkdir()
    os.rename(str(base / "web01-disk2.vmdk"), str(base / "disks" / "web01-disk2.vmdk"))
    swap_href(path, "web01-disk2.vmdk", "disks/web01-disk2.vmdk")
    assert ova.describe(path)["vms"][0]["disks"][1]["source"]["file"] == "disks/web01-disk2.vmdk"


def test_ovf_directory_fifo_is_not_opened(tmp_path):
    base, path, _files = build_dir(tmp_path, manifest=False)
    os.remove(str(base / "web01-disk2.vmdk"))
    os.mkfifo(str(base / "web01-disk2.vmdk"))
    assert_raises(UnsafeInputError, ["'web01-disk2.vmdk'", "not a regular file"], ova.describe, path)


def test_ovf_directory_missing_file(tmp_path):
    base, path, _files = build_dir(tmp_path)
    os.remove(str(base / "web01-file1.nvram"))
    assert_raises(InvalidInputError, ["'web01-file1.nvram'", "does not exist"], ova.describe, path)


def test_ovf_directory_manifest_mismatch(tmp_path):
    base, path, _files = build_dir(tmp_path)
    (base / "web01-disk1.vmdk").write_bytes(b"altered")
    assert_raises(IntegrityError, ["'web01-disk1.vmdk'", "expected", "actual"], ova.describe, path)
    out = ova.describe(path, verify_manifest=False)
    assert out["manifest"]["present"] and not out["manifest"]["verified"]


def test_ovf_directory_manifest_symlink_leaving(tmp_path):
    base, path, _files = build_dir(tmp_path, manifest=False)
    outside = tmp_path / "other.mf"
    outside.write_bytes(b"")
    os.symlink(str(outside), str(base / "web01.mf"))
    assert_raises(UnsafeInputError, ["manifest", "outside"], ova.describe, path)


def test_ovf_directory_hostile_descriptor(tmp_path):
    base = tmp_path / "d"
    base.mkdir()
    shutil.copy(os.path.join(FIXTURES, "hostile", "xxe.ovf"), str(base / "x.ovf"))
    assert_raises(UnsafeInputError, ["DOCTYPE"], ova.describe, str(base / "x.ovf"))


# --- small pure helpers -----------------------------------------------------------------------

@pytest.mark.parametrize("href, normal", [
    ("disk.vmdk", "disk.vmdk"), ("./disk.vmdk", "disk.vmdk"), ("././a/b.vmdk", "a/b.vmdk"),
    ("a..b.vmdk", "a..b.vmdk"),
])
def test_check_href_accepts(href, normal):
    assert ova.check_href(href, "href") == normal


@pytest.mark.parametrize("href", ["", "a\x00b", "../x", "a/../../x", "/x", "\\x", "C:\\x", "https://x/y",
                                  "file:///etc/passwd", "a\\..\\x"])
def test_check_href_refuses(href):
    with pytest.raises(UnsafeInputError):
        ova.check_href(href, "href")


def test_parse_manifest():
    entries, bad = ova.parse_manifest("SHA256(a.vmdk)= AB12\n\nSHA1 (b c.ovf) = cd34\nnonsense\nMD5(x)= 00\n")
    assert entries == [("sha256", "a.vmdk", "ab12"), ("sha1", "b c.ovf", "cd34")]
    assert bad == [4, 5]
