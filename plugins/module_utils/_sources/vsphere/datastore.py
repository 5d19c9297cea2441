# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Disk files on a vSphere datastore, read over its HTTPS endpoint.

vCenter and ESXi serve datastore files at
    https://<host>:<port>/folder/<path in the datastore>?dcPath=<datacenter path>&dsName=<datastore>
to the API session whose cookie comes with the request. A virtual disk there is a text descriptor
(<name>.vmdk) naming its extents (<name>-flat.vmdk, <name>-delta.vmdk ...) in the same folder and,
for a snapshot delta, its parent descriptor. fetch_disk() downloads the whole chain into one local
folder: descriptors whole (SHA-256 recorded, fetched again at the end to prove nothing changed),
extents with _transfer's parallel, resumable, sparse ranged download after checking their size.

Descriptors are untrusted input: an extent must be a plain file name (its own folder), the chain
must agree with what vSphere says, and _disk/convert.py checks every reference again before
qemu-img opens anything. The session cookie only ever travels in a request header.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import re

from ansible.module_utils.six.moves.urllib.parse import quote, urlencode

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._disk import chain as _chain
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._disk import formats
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    AuthenticationError,
    ConnectionFailedError,
    IntegrityError,
    InvalidInputError,
    MigrationError,
    UnsafeInputError,
    UnsupportedError,
)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.vsphere import describe
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._transfer import download, http

COOKIE_NAME = "vmware_soap_session"
MAX_DESCRIPTOR = 1024 * 1024   # what _disk/formats.py reads of a descriptor, too
MAX_EXTENTS = 1024
SECTOR = 512
# Extent types whose file holds the data at a fixed place: its size is known from the descriptor.
FLAT_EXTENTS = ("FLAT", "VMFS")
DATA_EXTENTS = FLAT_EXTENTS + ("SPARSE", "VMFSSPARSE", "SESPARSE")
# Names the downloader gives its own files next to each extent (and our atomic writes).
OWN_SUFFIXES = (".partial", ".partial.json", ".download.json", ".tmp")
_CONTENT_RANGE_TOTAL = re.compile(r"^bytes \d+-\d+/(\d+)$")
_PARENT_HINT = re.compile(r'^(\s*parentFileNameHint\s*=\s*)"[^"]*"\s*$', re.MULTILINE)
PRIVILEGES_FIX = ("Give the user Datastore.Browse and Datastore.FileManagement on the VM's datastores "
                  "(and check that the session did not expire).")


# ---- names and URLs ---------------------------------------------------------------------------------------

def split_path(file_name):
    """('ds1', 'web/web.vmdk') from '[ds1] web/web.vmdk'; InvalidInputError for anything else."""
    ds_name, path = describe.parse_datastore_path(file_name)
    if not ds_name or not path:
        raise InvalidInputError("%r is not a datastore path like '[datastore] folder/disk.vmdk'." % file_name)
    return ds_name, path


def join(file_name, name):
    """The datastore path of `name` in the folder of file_name: '[ds] web/web.vmdk' + 'web-flat.vmdk'."""
    ds_name, path = split_path(file_name)
    folder = path.rpartition("/")[0]
    return "[%s] %s" % (ds_name, "%s/%s" % (folder, name) if folder else name)


def file_url(base_url, dc_path, file_name):
    """The /folder URL of a datastore file; the path is percent-encoded, the cookie is not part of it."""
    ds_name, path = split_path(file_name)
    query = urlencode([("dcPath", dc_path), ("dsName", ds_name)])
    return "%s/folder/%s?%s" % (base_url.rstrip("/"), quote(path, safe="/"), query)


def base_url(hostname, port):
    host = "[%s]" % hostname if ":" in hostname and not hostname.startswith("[") else hostname
    return "https://%s:%d" % (host, int(port))


def session_cookie(set_cookie):
    """'vmware_soap_session=<id>' out of the Set-Cookie text pyVmomi keeps (attributes dropped)."""
    for part in (set_cookie or "").split(";"):
        name, _sep, value = part.strip().partition("=")
        if name == COOKIE_NAME and value:
            return "%s=%s" % (name, value)
    raise ConnectionFailedError("The vSphere session has no %s cookie to read datastore files with." % COOKIE_NAME,
                                fix="Connect to vCenter or ESXi directly (not through a gateway that strips cookies).")


def datacenter_path(records, vm_ref):
    """The inventory path of the VM's datacenter ('DC0', 'Europe/DC1'), as dcPath wants it."""
    by_ref = dict((record["_ref"], record) for record in records)
    ref, seen = by_ref.get(vm_ref, {}).get("parent"), set()
    while ref in by_ref and describe.kind_of(ref) != "Datacenter" and ref not in seen:
        seen.add(ref)
        ref = by_ref[ref].get("parent")
    if describe.kind_of(ref) != "Datacenter" or ref not in by_ref:
        raise MigrationError("The datacenter of VM %s could not be found in the inventory." % describe.id_of(vm_ref),
                             fix="Check that the user may read the VM's datacenter and folders (System.View).")
    names = []
    while ref in by_ref and ref not in seen:
        seen.add(ref)
        node = by_ref[ref]
        if describe.kind_of(ref) == "Folder" and not node.get("parent"):
            break  # the root folder is not part of inventory paths
        names.append(node.get("name") or describe.id_of(ref))
        ref = node.get("parent")
    return "/".join(reversed(names))


# ---- descriptors --------------------------------------------------------------------------------------------

def plain_name(name, where):
    """name, if it names a file in the same folder; UnsafeInputError otherwise."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise UnsafeInputError("%s refers to %r, which is not a file in its own folder." % (where, name),
                               fix="Only files next to the descriptor are read; consolidate or clone the disk in "
                                   "vSphere to get an ordinary one.")
    return name


def parse_descriptor(data, where):
    """The parsed descriptor of a datastore disk ({"create_type", "extents", "parent"}), checked."""
    # Trailing NULs are padding (qemu writes descriptors in whole sectors); NULs inside mean binary data.
    if len(data) > MAX_DESCRIPTOR or b"\x00" in data.rstrip(b"\x00") or b"createType" not in data:
        raise UnsupportedError("%s is not a VMDK text descriptor (a monolithic or hosted-format disk?)." % where,
                               fix="Only ESXi disks (descriptor plus extents) are exported; convert the disk in "
                                   "vSphere (vmkfstools -i) first.")
    parsed = formats.parse_vmdk_descriptor(data)
    if not parsed["extents"]:
        raise InvalidInputError("%s names no extent." % where, fix="Check the disk in vSphere; it looks damaged.")
    if len(parsed["extents"]) > MAX_EXTENTS:
        raise UnsupportedError("%s has %d extents (at most %d are read)." % (where, len(parsed["extents"]), MAX_EXTENTS))
    for extent in parsed["extents"]:
        if extent["type"] not in DATA_EXTENTS or not extent["file"]:
            raise UnsupportedError("%s has a %s extent, which cannot be read as a file (a raw device mapping?)."
                                   % (where, extent["type"]),
                                   fix="Export raw device mappings from their storage; they are not datastore files.")
        plain_name(extent["file"], where)
    return parsed


def next_in_chain(api_chain, index, parsed, where):
    """The datastore path of the parent of api_chain[index], or None at the base of the chain.

    vSphere's backing chain is the authority; the descriptor's parentFileNameHint must name the same
    file (by its name: ESXi writes absolute /vmfs/volumes paths for parents in other folders). A hint
    vSphere does not know about is followed only when it is a plain name in the same folder.
    """
    hint = parsed.get("parent")
    known = api_chain[index + 1] if index + 1 < len(api_chain) else None
    if known is not None:
        if not hint:
            raise IntegrityError("%s has no parent, but vSphere says its parent is %s." % (where, known),
                                 fix="Consolidate the VM's disks in vSphere, then export again.")
        if hint.rsplit("/", 1)[-1] != split_path(known)[1].rsplit("/", 1)[-1]:
            raise IntegrityError("%s names the parent %r, but vSphere says its parent is %s." % (where, hint, known),
                                 fix="Consolidate the VM's disks in vSphere, then export again.")
        return known
    if not hint:
        return None
    return join(api_chain[index], plain_name(hint, where))


def local_descriptor(data, parsed, parent_local_name):
    """The descriptor as it is written locally: its parent hint names the local copy of the parent."""
    if parsed.get("parent") is None or parsed["parent"] == parent_local_name:
        return data
    text = data.decode("utf-8", "replace")
    return _PARENT_HINT.sub(lambda m: '%s"%s"' % (m.group(1), parent_local_name), text, count=1).encode("utf-8")


def expected_size(extent):
    """The least size of an extent file the descriptor implies, or None when it does not say (sparse)."""
    if extent["type"] in FLAT_EXTENTS:
        return (extent["offset"] + extent["sectors"]) * SECTOR
    return None


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# ---- HTTP ----------------------------------------------------------------------------------------------------

class Reader(object):
    """Datastore files of one datacenter over a _transfer.http.Client that carries the session cookie."""

    def __init__(self, client, base, dc_path):
        self.client, self.base, self.dc_path = client, base, dc_path

    def url(self, file_name):
        return file_url(self.base, self.dc_path, file_name)

    def _refused(self, exc, file_name):
        if exc.status == 404:
            return MigrationError("%s does not exist on the datastore (HTTP 404)." % file_name,
                                  fix="Check that the VM's disks are where vSphere says (rescan the datastore, "
                                      "re-register the VM), then export again.")
        if exc.status in (401, 403):
            return AuthenticationError("The datastore refused to serve %s (HTTP %d)." % (file_name, exc.status),
                                       fix=PRIVILEGES_FIX)
        return exc

    def read(self, file_name):
        """The whole (small) file."""
        try:
            _status, _headers, body = self.client.get(self.url(file_name), what="GET")
        except http.HttpStatusError as exc:
            raise self._refused(exc, file_name)
        return body

    def stat(self, file_name):
        """(size, Last-Modified) of a file, from a one-byte ranged GET (which also proves Range works)."""
        try:
            status, headers, _body = self.client.get(self.url(file_name), headers={"Range": "bytes=0-0"},
                                                     what="GET bytes 0-0 of")
        except http.HttpStatusError as exc:
            if exc.status == 416:
                return 0, None
            raise self._refused(exc, file_name)
        match = _CONTENT_RANGE_TOTAL.match((headers.get("Content-Range") or "").strip())
        if status != 206 or not match:
            raise UnsupportedError("The datastore answered a ranged request for %s with HTTP %d and no Content-Range."
                                   % (file_name, status),
                                   fix="Use transport: nfc or vddk; this server does not serve byte ranges.")
        return int(match.group(1)), headers.get("Last-Modified")


# ---- one disk -------------------------------------------------------------------------------------------------

def _fetch_descriptors(reader, api_chain, capacity):
    """[(datastore path, raw bytes, parsed)] of the whole chain, top first."""
    if not api_chain:
        raise InvalidInputError("The disk has no backing file on a datastore.")
    out, seen, index = [], set(), 0
    chain_files = list(api_chain)
    while index < len(chain_files):
        file_name = chain_files[index]
        if file_name in seen or len(out) >= _chain.MAX_CHAIN_DEPTH:
            raise InvalidInputError("The snapshot chain of %s loops or is deeper than %d files."
                                    % (api_chain[0], _chain.MAX_CHAIN_DEPTH))
        seen.add(file_name)
        data = reader.read(file_name)
        parsed = parse_descriptor(data, file_name)
        out.append((file_name, data, parsed))
        parent = next_in_chain(chain_files, index, parsed, file_name)
        if parent is not None and index + 1 == len(chain_files):
            chain_files.append(parent)
        index += 1
    size = sum(e["sectors"] for e in out[0][2]["extents"]) * SECTOR
    if capacity and size != capacity:
        raise IntegrityError("%s describes %d bytes, but vSphere says the disk holds %d." % (api_chain[0], size, capacity),
                             fix="Check the disk in vSphere (a resize in progress?), then export again.")
    return out


def _local_names(descriptors):
    """{datastore path: local file name} of every descriptor and extent. Every file gets a name of its own,
    and none of the names the downloader and converter give their own files (an extent must not overwrite
    a descriptor, a journal or another extent)."""
    pairs = []
    for file_name, _data, parsed in descriptors:
        pairs.append((file_name, plain_name(split_path(file_name)[1].rsplit("/", 1)[-1], file_name)))
        pairs.extend((join(file_name, extent["file"]), extent["file"]) for extent in parsed["extents"])
    names = [name for _path, name in pairs]
    if len(set(names)) != len(names) or any(name.endswith(OWN_SUFFIXES) for name in names):
        raise UnsupportedError("Two files of the chain of %s have the same name (in different folders, or a "
                               "descriptor naming itself as extent), or a name ending in %s."
                               % (descriptors[0][0], ", ".join(OWN_SUFFIXES)),
                               fix="Consolidate the VM's snapshots (or migrate its disks to one folder) first.")
    return dict(pairs)


def fetch_disk(reader, api_chain, capacity, staging, chunk_size, workers):
    """Download the chain of one disk into the folder staging; returns the statistics, with "path"
    (the local top descriptor) and per-file details in "files"."""
    descriptors = _fetch_descriptors(reader, api_chain, capacity)
    names = _local_names(descriptors)
    stats = {"path": os.path.join(staging, names[descriptors[0][0]]), "files": [], "bytes_transferred": 0,
             "size_bytes": 0, "requests": 0, "resumed": False, "seconds": 0.0}
    for level, (file_name, data, parsed) in enumerate(descriptors):
        parent = descriptors[level + 1][0] if level + 1 < len(descriptors) else None
        local = local_descriptor(data, parsed, names[parent] if parent else None)
        _write_file(os.path.join(staging, names[file_name]), local)
        digest = sha256(data)
        stats["files"].append({"file": file_name, "kind": "descriptor", "size": len(data), "sha256": digest})
        stats["bytes_transferred"] += len(data)
        for extent in parsed["extents"]:
            _fetch_extent(reader, join(file_name, extent["file"]), extent, digest, staging, chunk_size, workers, stats)
    # The descriptors again: a changed CID or extent list means the disk was written during the download.
    for file_name, data, _parsed in descriptors:
        if sha256(reader.read(file_name)) != sha256(data):
            raise IntegrityError("%s changed during the download: the disk was written to." % file_name,
                                 fix="Make sure the VM stays powered off (or use power: snapshot), then export again.")
    return stats


def _fetch_extent(reader, file_name, extent, descriptor_sha, staging, chunk_size, workers, stats):
    size, modified = reader.stat(file_name)
    want = expected_size(extent)
    if size == 0 or (want is not None and size < want):
        raise IntegrityError("%s is %d bytes long, but its descriptor needs %s." % (file_name, size, want or "data"),
                             fix="The disk on the datastore is damaged or still being written; check it in vSphere.")
    dest = os.path.join(staging, extent["file"])
    identity = {"file": file_name, "size": size, "last_modified": modified, "descriptor_sha256": descriptor_sha}
    # Nothing says which ranges of a datastore file hold data: fetch all of it, keep the zeros as holes.
    got = download.download(reader.client, reader.url(file_name), dest, size, [(0, size)], identity,
                            chunk_size=chunk_size, gap=0, workers=workers)
    stats["files"].append({"file": file_name, "kind": "extent", "size": size, "bytes_transferred": got["bytes_transferred"],
                           "resumed": got["resumed"], "requests": got["requests"]})
    stats["bytes_transferred"] += got["bytes_transferred"]
    stats["size_bytes"] += size
    stats["requests"] += got["requests"]
    stats["resumed"] = stats["resumed"] or got["resumed"]
    stats["seconds"] = round(stats["seconds"] + (got.get("seconds") or 0.0), 3)


def _write_file(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def discard(staging):
    """Remove a staging folder of downloaded files (and only files we put there)."""
    if not os.path.isdir(staging):
        return
    for name in os.listdir(staging):
        path = os.path.join(staging, name)
        if os.path.isfile(path) and not os.path.islink(path):
            os.unlink(path)
    try:
        os.rmdir(staging)
    except OSError:
        pass
