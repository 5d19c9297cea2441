# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""OVA archives and OVF directories: safe member access, manifest checks, describe().

An OVA is an untrusted tar. We never extract it: we list the headers, refuse anything that an
extractor could turn into a write outside its directory (absolute or '..' names, links, devices,
duplicates), and read member data in place by offset. locate_member() hands those offsets to the
disk converter so qemu-img reads a disk straight out of the archive, without a copy.

An OVF directory is an .ovf file whose referenced files sit next to it; every reference must stay
inside that directory, symlinks included.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import hashlib
import os
import re
import stat
import tarfile
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    IntegrityError,
    InvalidInputError,
    UnsafeInputError,
    UnsupportedError,
)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources import ovf

CHUNK = 4 * 1024 * 1024          # hashing read size: large enough to stream at disk speed
MAX_SMALL_FILE = 16 * 1024 * 1024  # descriptor and manifest are text files of a few KiB
MAX_MEMBERS = 10000               # real OVAs hold a handful; bounds work on hostile archives
MAX_HASH_WORKERS = 4
SAFE_MODE = 0o755                 # the most permissive mode we ever report or would write

Member = collections.namedtuple("Member", "name offset size mode")

_COMPRESSION_MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"),
                      (b"\x28\xb5\x2f\xfd", "zstd"))
_MANIFEST_LINE = re.compile(r"^\s*(SHA1|SHA224|SHA256|SHA384|SHA512)\s*\(\s*(.+?)\s*\)\s*=\s*(\S+)\s*$",
                            re.IGNORECASE)
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_REPACK = ("Recreate the OVA as a plain tar of regular files with simple names, e.g. "
           "'tar -C DIR -cf VM.ova VM.ovf VM.mf DISK.vmdk', or re-export it with ovftool.")


def describe(path, verify_manifest=True):
    """Describe an .ova archive or an .ovf file (with its files beside it).

    Returns {"vms", "manifest", "descriptor", "container", "members", "warnings"}.
    """
    try:
        if _container_kind(path) == "ova":
            return _describe_ova(path, verify_manifest)
        return _describe_ovf_dir(path, verify_manifest)
    except (IOError, OSError) as exc:
        raise _unreadable(path, exc)


def locate_member(ova_path, member_name):
    """(offset, size) of a member's data inside the OVA, for reading it in place.

    The whole archive is checked first: one unsafe member makes the archive unsafe.
    """
    try:
        _container_kind(ova_path)
        members, _warnings = scan(ova_path)
        member = members.get(check_href(member_name, "member name"))
        if member is None:
            raise InvalidInputError("OVA %s has no member %r." % (ova_path, member_name),
                                    fix="Members are: %s." % (", ".join(members) or "(none)"))
        with open(ova_path, "rb") as handle:
            handle.seek(member.offset)
            head = handle.read(8)
    except (IOError, OSError) as exc:
        raise _unreadable(ova_path, exc)
    for magic, kind in _COMPRESSION_MAGIC:
        if head.startswith(magic):
            raise UnsupportedError("OVA %s member %r is %s-compressed; it cannot be read in place."
                                   % (ova_path, member.name, kind),
                                   fix="Re-export the OVA without compression (ovftool without "
                                       "--compress) or unpack the member and decompress it.")
    return member.offset, member.size


def scan(ova_path):
    """Check every member header; return ({name: Member} in archive order, warnings)."""
    file_size = os.path.getsize(ova_path)
    members, warnings = collections.OrderedDict(), []
    try:
        with tarfile.open(ova_path, mode="r:") as tar:
            for info in tar:
                if len(members) >= MAX_MEMBERS:
                    raise UnsafeInputError("OVA %s has more than %d members." % (ova_path, MAX_MEMBERS),
                                           fix=_REPACK)
                member = _check_member(ova_path, info, file_size, warnings)
                if member is None:
                    continue
                if member.name in members:
                    raise UnsafeInputError(
                        "OVA %s holds member %r twice; extractors disagree on which copy wins."
                        % (ova_path, member.name), fix=_REPACK)
                members[member.name] = member
            end = tar.offset
    except (tarfile.TarError, EOFError) as exc:
        raise InvalidInputError("%s is not a readable tar archive (an OVA is a plain tar): %s."
                                % (ova_path, exc), fix="Check the file; re-download or re-export it.")
    _check_tail(ova_path, end, file_size, members)
    if not members:
        raise InvalidInputError("OVA %s contains no files." % ova_path, fix="Re-export the VM.")
    return members, warnings


def check_href(href, what):
    """A reference must be a plain relative name: no URL, no absolute path, no '..'."""
    if not href or "\x00" in href:
        raise UnsafeInputError("%s %r is empty or contains a NUL byte." % (what, href), fix=_REPACK)
    if _URL.match(href):
        raise UnsafeInputError("%s %r is a URL or drive path; only files inside the package are read."
                               % (what, href), fix="Download the files next to the .ovf and use plain "
                                                   "file names in ovf:href.")
    if href.startswith(("/", "\\")):
        raise UnsafeInputError("%s %r is an absolute path; it must stay inside the package."
                               % (what, href), fix="Use a file name relative to the .ovf.")
    if ".." in re.split(r"[/\\]", href):
        raise UnsafeInputError("%s %r contains '..' and could leave the package." % (what, href),
                               fix="Use a file name relative to the .ovf, without '..'.")
    while href.startswith("./"):
        href = href[2:]
    return href


def _unreadable(path, exc):
    return InvalidInputError("Cannot read %s: %s." % (exc.filename or path, exc.strerror or exc),
                             fix="Check that the file exists and that this user may read it.")


def _container_kind(path):
    """'ova' or 'ovf', from the file's first bytes, not its name."""
    if not os.path.exists(path):
        raise InvalidInputError("%s does not exist." % path, fix="Check the path.")
    if os.path.isdir(path):
        raise InvalidInputError("%s is a directory." % path,
                                fix="Pass the .ovf file inside it, or an .ova archive.")
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise UnsafeInputError("%s is not a regular file (device, FIFO or socket)." % path,
                               fix="Pass an .ova archive or an .ovf descriptor file.")
    with open(path, "rb") as handle:
        head = handle.read(512)
    for magic, kind in _COMPRESSION_MAGIC:
        if head.startswith(magic):
            raise UnsupportedError("%s is %s-compressed; an OVA must be a plain (uncompressed) tar "
                                   "so that disks can be read in place." % (path, kind),
                                   fix="Decompress it first, e.g. '%s -dc %s > plain.ova'."
                                       % ("gzip" if kind == "gzip" else kind, path))
    if head[257:262] == b"ustar":  # ustar/GNU/pax magic; only old v7 tars lack it
        return "ova"
    return "ovf" if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") else "ova"


def _check_member(ova_path, info, file_size, warnings):
    raw = info.name
    name = check_href(raw, "OVA %s member" % ova_path)
    if info.issym() or info.islnk():
        kind = "a symbolic link" if info.issym() else "a hard link"
        raise UnsafeInputError("OVA %s member %r is %s (to %r); OVA members must be regular files."
                               % (ova_path, raw, kind, info.linkname), fix=_REPACK)
    if info.ischr() or info.isblk() or info.isfifo():
        kind = "a character device" if info.ischr() else "a block device" if info.isblk() else "a FIFO"
        raise UnsafeInputError("OVA %s member %r is %s; OVA members must be regular files."
                               % (ova_path, raw, kind), fix=_REPACK)
    if info.isdir():
        return None
    if info.issparse():
        raise UnsupportedError("OVA %s member %r is a GNU sparse member, which cannot be read in place."
                               % (ova_path, raw), fix="Recreate the tar without --sparse, or re-export "
                                                      "the OVA with ovftool.")
    if not info.isreg():
        raise UnsupportedError("OVA %s member %r has tar type %r; only regular files are supported."
                               % (ova_path, raw, info.type), fix=_REPACK)
    if info.offset_data + info.size > file_size:
        raise InvalidInputError("OVA %s is truncated: member %r needs %d bytes but the file ends %d "
                                "bytes into it." % (ova_path, raw, info.size, file_size - info.offset_data),
                                fix="Copy or download the OVA again; compare its size with the source.")
    mode = info.mode & SAFE_MODE
    if info.mode & 0o002:
        warnings.append("OVA member %r has mode %04o (world-writable); treated as %04o."
                        % (raw, info.mode & 0o7777, mode))
    return Member(name, info.offset_data, info.size, mode)


def _check_tail(ova_path, end, file_size, members):
    # tarfile stops quietly at a damaged or cut header; anything but zero padding after the last
    # member means the archive is truncated or corrupt, not merely shorter.
    with open(ova_path, "rb") as handle:
        handle.seek(end)
        tail = handle.read(min(file_size - end, 64 * 1024)) if file_size > end else b""
    if tail.strip(b"\x00"):
        last = next(reversed(members)) if members else None
        raise InvalidInputError("OVA %s is truncated or corrupt after member %r: %d bytes at offset %d "
                                "are not a valid tar header." % (ova_path, last, file_size - end, end),
                                fix="Copy or download the OVA again; compare its size with the source.")


def _read(path, offset, size, what):
    if size > MAX_SMALL_FILE:
        raise UnsafeInputError("%s is %d bytes, more than the %d-byte limit for a descriptor or manifest."
                               % (what, size, MAX_SMALL_FILE), fix="Check that the package is an OVF export.")
    with open(path, "rb") as handle:
        handle.seek(offset)
        data = handle.read(size)
    if len(data) != size:
        raise InvalidInputError("%s is truncated." % what, fix="Copy the package again.")
    return data


def _one_member(members, suffix, preferred, ova_path, required):
    found = [m for m in members.values() if m.name.lower().endswith(suffix)]
    if len(found) > 1:
        named = [m for m in found if m.name == preferred]
        if len(named) == 1:
            return named[0]
        raise InvalidInputError("OVA %s holds %d %s files (%s); exactly one is expected."
                                % (ova_path, len(found), suffix, ", ".join(m.name for m in found)),
                                fix="Package one VM export per OVA.")
    if not found and required:
        raise InvalidInputError("OVA %s holds no %s descriptor." % (ova_path, suffix),
                                fix="Check that the file is an OVA export (a tar with an .ovf inside).")
    return found[0] if found else None


def _describe_ova(path, verify):
    path = os.path.abspath(path)
    members, warnings = scan(path)
    desc = _one_member(members, ".ovf", None, path, True)
    if next(iter(members)) != desc.name:
        warnings.append("The descriptor %r is not the first member of the OVA, as OVF requires; read "
                        "anyway." % desc.name)
    stem = os.path.splitext(desc.name)[0]
    mf = _one_member(members, ".mf", stem + ".mf", path, False)
    cert = _one_member(members, ".cert", stem + ".cert", path, False)
    parsed = ovf.parse(_read(path, desc.offset, desc.size, "descriptor %s" % desc.name), "ova", path,
                       desc.name)

    def locate(href, what):
        member = members.get(check_href(href, what))
        if member is None:
            raise InvalidInputError("%s %r is not in OVA %s." % (what, href, path),
                                    fix="The export is incomplete: re-export the VM.")
        return (path, member.offset, member.size)

    locations = _check_files(parsed, locate, warnings)
    locations[desc.name] = (path, desc.offset, desc.size)
    manifest = _manifest(mf and _read(path, mf.offset, mf.size, "manifest %s" % mf.name),
                         mf and mf.name, locate, locations, verify, warnings)
    _certificate(manifest, cert and cert.name, warnings)
    member_list = [dict(m._asdict()) for m in members.values()]
    return _result(parsed, manifest, desc.name, "ova", member_list, warnings)


def _describe_ovf_dir(path, verify):
    base = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    name = os.path.basename(path)
    stem = os.path.splitext(name)[0]
    warnings = []
    parsed = ovf.parse(_read(path, 0, os.path.getsize(path), "descriptor %s" % path), "ovf",
                       os.path.abspath(path), name)

    def locate(href, what):
        return _resolve_in_dir(base, href, what)

    locations = _check_files(parsed, locate, warnings)
    for vm in parsed["vms"]:
        for disk in vm["disks"]:
            href = disk["source"].get("file")
            if href and href in locations:  # ovf.py already dropped any leading "./"
                disk["source"]["path"] = locations[href][0]
    locations[name] = (os.path.abspath(path), 0, os.path.getsize(path))
    mf_name, mf_data = stem + ".mf", None
    if os.path.lexists(os.path.join(base, mf_name)):
        mf_path, _offset, mf_size = _resolve_in_dir(base, mf_name, "manifest")
        mf_data = _read(mf_path, 0, mf_size, "manifest %s" % mf_name)
    manifest = _manifest(mf_data, mf_data is not None and mf_name, locate, locations, verify, warnings)
    cert = stem + ".cert"
    _certificate(manifest, cert if os.path.lexists(os.path.join(base, cert)) else None, warnings)
    return _result(parsed, manifest, name, "ovf", [], warnings)


def _resolve_in_dir(base, href, what):
    """(real path, 0, size) of a file inside `base`; symlinks may not lead out of it."""
    relative = check_href(href, what)
    candidate = os.path.join(base, relative)
    if not os.path.lexists(candidate):
        raise InvalidInputError("%s %r does not exist next to the descriptor in %s." % (what, href, base),
                                fix="Copy every file of the export into the descriptor's directory.")
    real = os.path.realpath(candidate)
    if not real.startswith(base + os.sep):
        raise UnsafeInputError("%s %r resolves to %s, outside the descriptor's directory %s "
                               "(a symbolic link leaving the package)." % (what, href, real, base),
                               fix="Replace the link with the file itself.")
    try:
        info = os.stat(real)
    except OSError as exc:
        raise InvalidInputError("%s %r cannot be read: %s." % (what, href, exc.strerror))
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeInputError("%s %r is not a regular file (device, FIFO or directory)." % (what, href),
                               fix="Replace it with the exported file.")
    return (real, 0, info.st_size)


def _check_files(parsed, locate, warnings):
    """Every file the descriptor references must exist and be safe; returns {href: location}."""
    locations = {}
    for item in parsed["files"]:
        href = item["href"]
        what = "file %s (ovf:id %s) referenced by the descriptor" % (href, item["id"])
        name = href
        if item["chunk_size"]:
            name = href + ".000000000"  # OVF chunked files: href.000000000, href.000000001, ...
            warnings.append("File %r is split into chunks of %d bytes; join the chunks before "
                            "conversion." % (href, item["chunk_size"]))
        location = locate(name, what)
        locations[check_href(href, what)] = location
        if item["size"] is not None and not item["chunk_size"] and item["size"] != location[2]:
            warnings.append("File %r is %d bytes but the descriptor says %d; the export may be damaged."
                            % (href, location[2], item["size"]))
    return locations


def parse_manifest(text):
    """[(algorithm, name, hexdigest)] and the lines that could not be read."""
    entries, bad = [], []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _MANIFEST_LINE.match(line)
        if match:
            entries.append((match.group(1).lower(), match.group(2), match.group(3).lower()))
        else:
            bad.append(number)
    return entries, bad


def _manifest(data, name, locate, locations, verify, warnings):
    out = {"present": data is not None, "verified": False, "algorithm": None, "files": {},
           "name": name or None}
    if data is None:
        warnings.append("No manifest (.mf): file integrity was not checked.")
        return out
    entries, bad = parse_manifest(data.decode("utf-8", "replace"))
    if bad:
        warnings.append("Manifest %s: lines %s are not 'ALGO(file)= digest'; ignored."
                        % (name, ", ".join(str(n) for n in bad[:10])))
    jobs = collections.OrderedDict()
    for algorithm, entry_name, digest in entries:
        key = check_href(entry_name, "manifest %s entry" % name)
        if key in jobs:
            warnings.append("Manifest %s lists %r twice; used the first." % (name, key))
            continue
        location = locations.get(key) or locate(key, "file %s listed in manifest %s" % (key, name))
        jobs[key] = (algorithm, digest, location)
    out["algorithm"] = ", ".join(sorted(set(job[0].upper() for job in jobs.values()))) or None
    actual = _digests(jobs) if verify else {}
    for key, (algorithm, digest, _location) in jobs.items():
        got = actual.get(key)
        out["files"][key] = {"algorithm": algorithm.upper(), "expected": digest, "actual": got,
                             "ok": (got == digest) if verify else None}
        if verify and got != digest:
            raise IntegrityError("Manifest %s: %s digest of %r does not match: expected %s, actual %s."
                                 % (name, algorithm.upper(), key, digest, got),
                                 fix="The file was altered or damaged in transit: copy the package again.",
                                 file=key, expected=digest, actual=got)
    uncovered = sorted(set(locations) - set(jobs))
    if uncovered:
        warnings.append("Manifest %s does not cover %s." % (name, ", ".join(uncovered)))
    if not verify:
        warnings.append("Manifest verification skipped (verify_manifest=false).")
    out["verified"] = bool(verify and jobs and not uncovered and not bad)
    return out


def _digest(job):
    algorithm, _expected, (path, offset, size) = job
    try:
        hasher = hashlib.new(algorithm)
    except ValueError:
        raise UnsupportedError("This host cannot compute %s digests (crypto policy)." % algorithm.upper(),
                               fix="Set verify_manifest to false, or verify the package elsewhere.")
    buf = bytearray(min(CHUNK, max(size, 1)))
    view = memoryview(buf)
    with open(path, "rb") as handle:
        handle.seek(offset)
        remaining = size
        while remaining:
            count = handle.readinto(view[:min(len(buf), remaining)])
            if not count:
                raise InvalidInputError("%s ended while reading %d bytes at offset %d." % (path, size, offset),
                                        fix="The package is truncated: copy it again.")
            hasher.update(view[:count])
            remaining -= count
    return hasher.hexdigest()


def _digests(jobs):
    # hashlib releases the GIL on large buffers: several disks hash in parallel on several cores.
    names = list(jobs)
    workers = min(MAX_HASH_WORKERS, len(names), os.cpu_count() or 1)
    if workers <= 1:
        return dict((name, _digest(jobs[name])) for name in names)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(zip(names, pool.map(_digest, [jobs[name] for name in names])))


def _certificate(manifest, name, warnings):
    manifest["certificate"] = name
    if name:
        warnings.append("Certificate %s is present but signatures are not verified." % name)


def _result(parsed, manifest, descriptor, container, members, warnings):
    warnings = list(warnings) + parsed["warnings"]
    for vm in parsed["vms"]:
        warnings.extend("VM %s: %s" % (vm["name"], note["message"]) for note in vm["notes"])
    return {"vms": parsed["vms"], "manifest": manifest, "descriptor": descriptor,
            "container": container, "members": members, "warnings": warnings}
