# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The initramfs: which tool builds it, whether it can find a virtio root disk, and the configuration
that makes the next build include the virtio drivers.

A guest installed on VMware has an initramfs with vmw_pvscsi/mptspi/ahci; on a virtio disk it stops
at "(initramfs)" because nothing drives the disk. Adding the drivers to the tool's configuration
(rather than passing them on one command line) matters: every later kernel update rebuilds the
initramfs from that configuration, and must keep them.

Where each tool takes them from:
- initramfs-tools (Debian/Ubuntu): /etc/initramfs-tools/modules, one module per line. Listed modules
  are included whatever MODULES= says in initramfs.conf (most, dep or list), so that file stays as it
  is; MODULES=dep is worth a note because it sizes the image to the hardware it is BUILT on (the
  conversion appliance, not the target).
- dracut (RHEL, Fedora, SUSE 12+): a file in /etc/dracut.conf.d with add_drivers+=" ... ". Drivers
  added that way are included in host-only images too.
- mkinitrd (RHEL 5, SLES 11): reported only; these need INITRD_MODULES/--with and are left to the user.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath
import re

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import InvalidInputError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest.linux._syntax import (
    append_lines, as_text, bodies, is_comment, join_lines, shell_vars, split_lines)

VIRTIO_MODULES = ("virtio_blk", "virtio_scsi", "virtio_pci", "virtio_net", "virtio_console")
DRACUT_CONF = "/etc/dracut.conf.d/90-hyper2kvm-virtio.conf"
_MODULE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
_KO = re.compile(r"^(.+?)\.ko(\.xz|\.zst|\.gz)?$")
_TOOLS = (
    ("dracut", ("/usr/bin/dracut", "/usr/sbin/dracut", "/sbin/dracut", "/bin/dracut")),
    ("initramfs-tools", ("/usr/sbin/update-initramfs", "/sbin/update-initramfs")),
    ("mkinitcpio", ("/usr/bin/mkinitcpio",)),
    ("mkinitrd", ("/sbin/mkinitrd", "/usr/sbin/mkinitrd", "/usr/bin/mkinitrd")),
)
_NOT_KERNELS = re.compile(r"(^0-rescue-|\.(hmac|sig|old|bak|dpkg-[a-z]+|rpmsave|rpmnew)$)")


def _norm(name):
    """The kernel treats - and _ in module names alike."""
    return name.replace("-", "_")


def _check_modules(modules):
    modules = [modules] if isinstance(modules, str) else list(modules or ())
    for name in modules:
        if not isinstance(name, str) or not _MODULE_NAME.match(name):
            raise InvalidInputError("%r is not a kernel module name." % (name,))
    return modules


def tool(files):
    """"dracut", "initramfs-tools", "mkinitcpio", "mkinitrd" or None from the guest's programs.

    dracut is checked first: RHEL 6+ and SLES 12+ keep a mkinitrd wrapper that calls dracut, and the
    configuration that counts is dracut's."""
    present = set(p for p in (files or ()) if isinstance(p, str))
    for name, paths in _TOOLS:
        if present.intersection(paths):
            return name
    return None


def module_name(path):
    """virtio_blk for .../virtio_blk.ko(.xz|.zst|.gz) (also the last field of an lsinitrd line), else None."""
    fields = as_text(path).split()
    if not fields:
        return None
    match = _KO.match(posixpath.basename(fields[-1]))
    return _norm(match.group(1)) if match else None


def parse_modules_builtin(text):
    """Module names from a kernel's modules.builtin (kernel/drivers/block/virtio_blk.ko lines)."""
    names = set()
    for body in bodies(text):
        found = module_name(body.strip())
        if found:
            names.add(found)
    return names


def missing_virtio(listing, builtin=None, modules=VIRTIO_MODULES):
    """The modules (in the order asked) that are neither in the initramfs listing nor built into the
    kernel. builtin: names or modules.builtin paths (see parse_modules_builtin)."""
    modules = _check_modules(modules)
    have = set()
    for entry in listing or ():
        found = module_name(entry)
        if found:
            have.add(found)
    for entry in builtin or ():
        have.add(module_name(entry) or _norm(as_text(entry).strip()))
    return [name for name in modules if _norm(name) not in have]


def initramfs_tools_modules(text, modules=VIRTIO_MODULES):
    """/etc/initramfs-tools/modules with the modules it does not list yet appended (idempotent).
    Returns {"text", "changes": [{"lineno", "before": None, "after": name}]}."""
    modules = _check_modules(modules)
    lines = split_lines(text)
    listed = set()
    for line in lines:
        if not is_comment(line[0]):
            listed.add(_norm(line[0].split()[0]))
    wanted = []
    for name in modules:
        if _norm(name) not in listed:
            wanted.append(name)
            listed.add(_norm(name))
    if not wanted:
        return {"text": as_text(text), "changes": []}
    append_lines(lines, ["# hyper2kvm: drivers for the KVM virtio disk and network"] + wanted)
    first = len(lines) - len(wanted) + 1
    changes = [{"lineno": first + n, "before": None, "after": name} for n, name in enumerate(wanted)]
    return {"text": join_lines(lines), "changes": changes}


def initramfs_tools_conf(text):
    """initramfs.conf (or a conf.d file) read, never rewritten: {"text", "changes": [], "modules":
    MODULES= value or None, "notes": [...]}. The virtio drivers go to the modules file in every mode."""
    mode = shell_vars(text).get("MODULES")
    notes = []
    if mode == "dep":
        notes.append("MODULES=dep sizes the initramfs to the hardware it is built on; the virtio drivers "
                     "listed in /etc/initramfs-tools/modules are included regardless.")
    elif mode == "list":
        notes.append("MODULES=list includes only the drivers listed in /etc/initramfs-tools/modules, so "
                     "the virtio drivers must be listed there.")
    elif mode not in (None, "most", "netboot"):
        notes.append("MODULES=%s is not a value initramfs-tools knows; it falls back to 'most'." % mode[:40])
    return {"text": as_text(text), "changes": [], "modules": mode, "notes": notes}


def dracut_conf(modules=VIRTIO_MODULES):
    """(path, text) of the dracut.conf.d file that adds the modules to every image dracut builds."""
    modules = _check_modules(modules)
    text = ("# Written by hyper2kvm: drivers for the KVM virtio disk and network, so that every\n"
            "# initramfs dracut builds (kernel updates too) can find the root disk.\n"
            'add_drivers+=" %s "\n' % " ".join(modules))
    return DRACUT_CONF, text


def _version_key(version):
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", version)
            if part]


def kernels(files):
    """[{"version", "vmlinuz", "initrd"}] of the kernels in /boot, newest first; initrd is None when the
    kernel has none. Rescue kernels (vmlinuz-0-rescue-<machine id>) and backup/signature files are
    skipped."""
    names = {}
    for path in files or ():
        if isinstance(path, str) and posixpath.dirname(path) == "/boot":
            names[posixpath.basename(path)] = path
    out = []
    for name, path in names.items():
        if not name.startswith("vmlinuz-"):
            continue
        version = name[len("vmlinuz-"):]
        if not version or _NOT_KERNELS.search(version):
            continue
        initrd = None
        for candidate in ("initrd.img-%s", "initramfs-%s.img", "initrd-%s", "initrd-%s.img"):
            if candidate % version in names:
                initrd = names[candidate % version]
                break
        out.append({"version": version, "vmlinuz": path, "initrd": initrd})
    out.sort(key=lambda k: _version_key(k["version"]), reverse=True)
    return out


# --- appending the drivers to an existing initramfs (see cpio.py for why) --------------------------------
# The module indexes kmod reads (the .bin ones; the text ones for older tools). An appended archive
# replaces the initramfs's own copies with the kernel's complete ones, so the new drivers resolve by
# name and by alias; entries for modules the initramfs does not carry fail to load quietly, as they
# would on any initramfs.
MODULE_INDEXES = ("modules.dep", "modules.dep.bin", "modules.alias", "modules.alias.bin", "modules.symbols",
                  "modules.symbols.bin", "modules.softdep", "modules.builtin", "modules.builtin.bin",
                  "modules.builtin.alias.bin", "modules.builtin.modinfo", "modules.order", "modules.devname")


def parse_modules_dep(text):
    """{module name: {"path": path relative to the modules folder, "deps": [paths]}} from modules.dep."""
    out = {}
    for body in bodies(text):
        path, sep, deps = body.partition(":")
        path = path.strip()
        name = module_name(path)
        if not sep or not name or path.startswith("/") or ".." in path.split("/"):
            continue
        out[name] = {"path": path, "deps": [d for d in deps.split() if ".." not in d.split("/")]}
    return out


def modules_root(listing, version):
    """Where an initramfs keeps the modules of kernel version: "usr/lib/modules/<version>" or
    "lib/modules/<version>", as its listing shows (a merged-/usr image links lib to usr/lib)."""
    for prefix in ("usr/lib/modules/%s/" % version, "lib/modules/%s/" % version):
        if any(as_text(entry).lstrip("./").startswith(prefix) for entry in listing or ()):
            return prefix.rstrip("/")
    return "lib/modules/%s" % version


def modules_to_append(listing, dep_index, builtin=None, modules=VIRTIO_MODULES):
    """Paths (relative to the modules folder) of the modules, with everything they depend on, that the
    initramfs lacks and the kernel does not have built in; InvalidInputError naming a module the kernel
    has neither as a file nor built in."""
    modules = _check_modules(modules)
    have = set()
    for entry in listing or ():
        found = module_name(entry)
        if found:
            have.add(found)
    built = set(module_name(b) or _norm(as_text(b).strip()) for b in builtin or ())
    by_path = dict((info["path"], name) for name, info in dep_index.items())
    out = []
    for name in modules:
        name = _norm(name)
        if name in built:
            continue
        if name not in dep_index:
            raise InvalidInputError("modules.dep does not know the %s driver of this kernel." % name)
        for path in [dep_index[name]["path"]] + dep_index[name]["deps"]:
            dep = by_path.get(path) or module_name(path)
            if dep not in have and dep not in built and path not in out:
                out.append(path)
    return out
