# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Datastore files of vsphere_disk_export: URLs, the session cookie, descriptors as untrusted input, chain
resolution, and the download of one chain from a scripted datastore."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    AuthenticationError, ConnectionFailedError, IntegrityError, InvalidInputError, MigrationError, UnsafeInputError,
    UnsupportedError)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.vsphere import datastore
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._transfer import http

FLAT = (b'# Disk DescriptorFile\nversion=1\nCID=3f1a2b4c\nparentCID=ffffffff\ncreateType="vmfs"\n\n'
        b'RW 8 VMFS "web01-flat.vmdk"\n')


def delta(parent_hint, extent="web01-000001-delta.vmdk", sectors=8):
    return (b'# Disk DescriptorFile\nversion=1\nCID=0a0b0c0d\nparentCID=3f1a2b4c\ncreateType="vmfsSparse"\n'
            b'parentFileNameHint="%s"\nRW %d VMFSSPARSE "%s"\n' % (parent_hint.encode(), sectors, extent.encode()))


# ---- URLs and names ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("file_name, dc_path, url", [
    ("[LocalDS_0] web01/web01-flat.vmdk", "DC0",
     "https://vc:443/folder/web01/web01-flat.vmdk?dcPath=DC0&dsName=LocalDS_0"),
    ("[SAN ds 1] my vm/my vm#1.vmdk", "Europe/DC 1",
     "https://vc:443/folder/my%20vm/my%20vm%231.vmdk?dcPath=Europe%2FDC+1&dsName=SAN+ds+1"),
    ("[ds] disk.vmdk", "DC0", "https://vc:443/folder/disk.vmdk?dcPath=DC0&dsName=ds"),
])
def test_file_url(file_name, dc_path, url):
    assert datastore.file_url("https://vc:443", dc_path, file_name) == url


def test_base_url_brackets_ipv6():
    assert datastore.base_url("vc.example.com", 443) == "https://vc.example.com:443"
    assert datastore.base_url("fd00::5", 8443) == "https://[fd00::5]:8443"


@pytest.mark.parametrize("bad", ["web01/web01.vmdk", "[ds]", "", None])
def test_split_path_refuses_what_is_not_a_datastore_path(bad):
    with pytest.raises(InvalidInputError):
        datastore.split_path(bad)


def test_join_stays_in_the_folder():
    assert datastore.join("[ds] a/b/web.vmdk", "web-flat.vmdk") == "[ds] a/b/web-flat.vmdk"
    assert datastore.join("[ds] web.vmdk", "web-flat.vmdk") == "[ds] web-flat.vmdk"


@pytest.mark.parametrize("raw, cookie", [
    ('vmware_soap_session="52a1-b2"; Path=/; HttpOnly; Secure;', 'vmware_soap_session="52a1-b2"'),
    ("vmware_soap_session=a3125b84; HttpOnly", "vmware_soap_session=a3125b84"),
    ("other=1; vmware_soap_session=x", "vmware_soap_session=x"),
])
def test_session_cookie(raw, cookie):
    assert datastore.session_cookie(raw) == cookie


@pytest.mark.parametrize("raw", [None, "", "other=1; Path=/", "vmware_soap_session=; Path=/"])
def test_session_cookie_missing(raw):
    with pytest.raises(ConnectionFailedError) as caught:
        datastore.session_cookie(raw)
    assert "no vmware_soap_session cookie" in str(caught.value)


RECORDS = [
    {"_ref": "Folder:group-d1", "name": "Datacenters"},
    {"_ref": "Folder:f-eu", "name": "Europe", "parent": "Folder:group-d1"},
    {"_ref": "Datacenter:dc-2", "name": "DC 1", "parent": "Folder:f-eu"},
    {"_ref": "Folder:vm-root", "name": "vm", "parent": "Datacenter:dc-2"},
    {"_ref": "Folder:web", "name": "web", "parent": "Folder:vm-root"},
    {"_ref": "VirtualMachine:vm-7", "name": "web01", "parent": "Folder:web"},
    {"_ref": "Datacenter:dc-1", "name": "DC0", "parent": "Folder:group-d1"},
    {"_ref": "VirtualMachine:vm-1", "name": "top", "parent": "Datacenter:dc-1"},
    {"_ref": "VirtualMachine:vm-9", "name": "orphan", "parent": "Folder:gone"},
]


@pytest.mark.parametrize("vm_ref, path", [("VirtualMachine:vm-7", "Europe/DC 1"), ("VirtualMachine:vm-1", "DC0")])
def test_datacenter_path(vm_ref, path):
    assert datastore.datacenter_path(RECORDS, vm_ref) == path


def test_datacenter_path_unknown():
    with pytest.raises(MigrationError) as caught:
        datastore.datacenter_path(RECORDS, "VirtualMachine:vm-9")
    assert "datacenter of VM vm-9 could not be found" in str(caught.value)


# ---- descriptors as untrusted input ----------------------------------------------------------------------------

def test_parse_descriptor_accepts_esxi_and_padded_descriptors():
    parsed = datastore.parse_descriptor(FLAT, "[ds] web01/web01.vmdk")
    assert parsed["create_type"] == "vmfs" and parsed["parent"] is None
    assert parsed["extents"] == [{"access": "RW", "sectors": 8, "type": "VMFS", "file": "web01-flat.vmdk", "offset": 0}]
    assert datastore.parse_descriptor(delta("web01.vmdk") + b"\0" * 300, "d")["parent"] == "web01.vmdk"


@pytest.mark.parametrize("data, error, words", [
    (b"KDMV\x01\x00\x00\x00" + b"\0" * 600, UnsupportedError, "not a VMDK text descriptor"),
    (b"# Disk DescriptorFile\ncreateType=\"vmfs\"\n", InvalidInputError, "names no extent"),
    (FLAT.replace(b'"web01-flat.vmdk"', b'"../other/secret-flat.vmdk"'), UnsafeInputError, "not a file in its own folder"),
    (FLAT.replace(b'"web01-flat.vmdk"', b'"/etc/shadow"'), UnsafeInputError, "not a file in its own folder"),
    (FLAT.replace(b'RW 8 VMFS "web01-flat.vmdk"', b'RW 8 VMFSRDM "web01-rdm.vmdk"'), UnsupportedError, "raw device"),
    (FLAT + b"x" * (datastore.MAX_DESCRIPTOR + 1), UnsupportedError, "not a VMDK text descriptor"),
])
def test_parse_descriptor_refuses(data, error, words):
    with pytest.raises(error) as caught:
        datastore.parse_descriptor(data, "[ds] web01/web01.vmdk")
    assert words in str(caught.value)


# ---- chain resolution ----------------------------------------------------------------------------------------

API_CHAIN = ["[ds] web01/web01-000001.vmdk", "[ds] web01/web01.vmdk"]


@pytest.mark.parametrize("hint", ["web01.vmdk", "/vmfs/volumes/5f0c-aa/web01/web01.vmdk"])
def test_next_in_chain_follows_vsphere_and_checks_the_hint(hint):
    parsed = datastore.parse_descriptor(delta(hint), API_CHAIN[0])
    assert datastore.next_in_chain(API_CHAIN, 0, parsed, API_CHAIN[0]) == API_CHAIN[1]
    base = datastore.parse_descriptor(FLAT, API_CHAIN[1])
    assert datastore.next_in_chain(API_CHAIN, 1, base, API_CHAIN[1]) is None


def test_next_in_chain_hint_naming_another_file_is_an_error():
    parsed = datastore.parse_descriptor(delta("other.vmdk"), API_CHAIN[0])
    with pytest.raises(IntegrityError) as caught:
        datastore.next_in_chain(API_CHAIN, 0, parsed, API_CHAIN[0])
    assert "names the parent 'other.vmdk', but vSphere says its parent is [ds] web01/web01.vmdk" in str(caught.value)


def test_next_in_chain_missing_hint_is_an_error():
    parsed = datastore.parse_descriptor(FLAT, API_CHAIN[0])
    with pytest.raises(IntegrityError):
        datastore.next_in_chain(API_CHAIN, 0, parsed, API_CHAIN[0])


def test_next_in_chain_extends_with_a_plain_hint_only():
    parsed = datastore.parse_descriptor(delta("web01.vmdk"), API_CHAIN[0])
    assert datastore.next_in_chain(API_CHAIN[:1], 0, parsed, API_CHAIN[0]) == "[ds] web01/web01.vmdk"
    parsed = datastore.parse_descriptor(delta("/vmfs/volumes/5f0c-aa/web01/web01.vmdk"), API_CHAIN[0])
    with pytest.raises(UnsafeInputError):
        datastore.next_in_chain(API_CHAIN[:1], 0, parsed, API_CHAIN[0])


def test_local_descriptor_rewrites_only_the_parent_hint():
    data = delta("/vmfs/volumes/5f0c-aa/web01/web01.vmdk")
    parsed = datastore.parse_descriptor(data, "d")
    local = datastore.local_descriptor(data, parsed, "web01.vmdk")
    assert local == data.replace(b"/vmfs/volumes/5f0c-aa/web01/web01.vmdk", b"web01.vmdk")
    assert datastore.local_descriptor(FLAT, datastore.parse_descriptor(FLAT, "d"), None) is FLAT
    same = delta("web01.vmdk")
    assert datastore.local_descriptor(same, datastore.parse_descriptor(same, "d"), "web01.vmdk") is same


# ---- one chain from a scripted datastore ------------------------------------------------------------------------

class FakeClient(object):
    """Serves {url path: bytes}; ranged reads honour Range; records what was asked."""

    def __init__(self, files):
        self.files, self.calls = files, []

    def _file(self, url):
        path = url.split("/folder/", 1)[1].split("?", 1)[0]
        if path not in self.files:
            raise http.HttpStatusError("GET", url, 404)
        data = self.files[path]
        return data() if callable(data) else data

    def get(self, url, params=None, headers=None, what="GET"):
        self.calls.append(("get", url, (headers or {}).get("Range")))
        data = self._file(url)
        if headers and headers.get("Range") == "bytes=0-0":
            if not data:
                raise http.HttpStatusError("GET", url, 416)
            return 206, {"Content-Range": "bytes 0-0/%d" % len(data), "Last-Modified": "Mon"}, data[:1]
        return 200, {}, data

    def read_range(self, url, start, end, sink, total=None, cancelled=None):
        self.calls.append(("range", url, (start, end)))
        sink(start, self._file(url)[start:end])
        return end - start


def reader(files):
    return datastore.Reader(FakeClient(files), "https://vc:443", "DC0")


def test_fetch_disk_downloads_descriptors_and_extents_of_the_chain(tmp_path):
    files = {"web01/web01-000001.vmdk": delta("web01.vmdk"), "web01/web01-000001-delta.vmdk": b"COWD" + b"\1" * 2044,
             "web01/web01.vmdk": FLAT, "web01/web01-flat.vmdk": b"\0" * 1024 + b"\7" * 3072}
    stats = datastore.fetch_disk(reader(files), API_CHAIN[:1], 4096, str(tmp_path), chunk_size=1024, workers=2)
    assert stats["path"] == str(tmp_path / "web01-000001.vmdk")
    assert [(f["kind"], f["file"]) for f in stats["files"]] == [
        ("descriptor", API_CHAIN[0]), ("extent", "[ds] web01/web01-000001-delta.vmdk"),
        ("descriptor", API_CHAIN[1]), ("extent", "[ds] web01/web01-flat.vmdk")]
    assert stats["files"][0]["sha256"] == datastore.sha256(files["web01/web01-000001.vmdk"])
    assert stats["size_bytes"] == 2048 + 4096 and stats["requests"] == 2 + 4
    for name in ("web01-000001.vmdk", "web01-000001-delta.vmdk", "web01.vmdk", "web01-flat.vmdk"):
        assert (tmp_path / name).read_bytes() == files["web01/" + name]
    # A zero first KiB is never written: the file keeps a hole there.
    assert (tmp_path / "web01-flat.vmdk").stat().st_size == 4096


def test_fetch_disk_checks_the_flat_extent_size(tmp_path):
    files = {"web01/web01.vmdk": FLAT, "web01/web01-flat.vmdk": b"\7" * 2048}
    with pytest.raises(IntegrityError) as caught:
        datastore.fetch_disk(reader(files), API_CHAIN[1:], 4096, str(tmp_path), 1024, 2)
    assert "is 2048 bytes long, but its descriptor needs 4096" in str(caught.value)


def test_fetch_disk_checks_the_capacity(tmp_path):
    files = {"web01/web01.vmdk": FLAT, "web01/web01-flat.vmdk": b"\7" * 4096}
    with pytest.raises(IntegrityError) as caught:
        datastore.fetch_disk(reader(files), API_CHAIN[1:], 8192, str(tmp_path), 1024, 2)
    assert "describes 4096 bytes, but vSphere says the disk holds 8192" in str(caught.value)


def test_fetch_disk_notices_a_descriptor_that_changed(tmp_path):
    answers = iter([FLAT, FLAT.replace(b"CID=3f1a2b4c", b"CID=99999999")])
    files = {"web01/web01.vmdk": lambda: next(answers), "web01/web01-flat.vmdk": b"\7" * 4096}
    with pytest.raises(IntegrityError) as caught:
        datastore.fetch_disk(reader(files), API_CHAIN[1:], 4096, str(tmp_path), 1024, 2)
    assert "changed during the download" in str(caught.value)


def test_missing_file_and_refused_session_are_clear(tmp_path):
    with pytest.raises(MigrationError) as caught:
        datastore.fetch_disk(reader({}), API_CHAIN[1:], 4096, str(tmp_path), 1024, 2)
    assert str(caught.value).startswith("[ds] web01/web01.vmdk does not exist on the datastore (HTTP 404)")

    class Refusing(FakeClient):
        def get(self, url, params=None, headers=None, what="GET"):
            raise http.HttpStatusError("GET", url, 401)
    with pytest.raises(AuthenticationError) as caught:
        datastore.Reader(Refusing({}), "https://vc:443", "DC0").read(API_CHAIN[1])
    assert "Datastore.Browse" in str(caught.value)


def test_colliding_local_names_are_refused():
    top = ("[ds1] web01/web01.vmdk", b"", datastore.parse_descriptor(delta("web01.vmdk", extent="a.vmdk"), "d"))
    base = ("[ds2] web01/web01.vmdk", b"", datastore.parse_descriptor(FLAT, "d"))
    with pytest.raises(UnsupportedError) as caught:
        datastore._local_names([top, base])
    assert "same name (in different folders" in str(caught.value)


@pytest.mark.parametrize("extent", ["web01.vmdk", "web01-flat.vmdk.partial", "x.download.json"])
def test_extents_may_not_take_the_names_of_other_files(extent):
    data = FLAT.replace(b"web01-flat.vmdk", extent.encode())
    top = ("[ds] web01/web01.vmdk", b"", datastore.parse_descriptor(data, "d"))
    with pytest.raises(UnsupportedError):
        datastore._local_names([top])
