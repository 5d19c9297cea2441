# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kernel command lines and the boot loader files that carry them: which loader a guest uses, and
replacing bus-dependent root=/resume= devices (see devices.py) with UUID=.

Why we rewrite the generated files too: virt-v2v regenerates grub.cfg inside its appliance, where the
disk is still sda, so a guest with GRUB_DISABLE_LINUX_UUID=true keeps root=/dev/sda1 and fails on
virtio. We fix /etc/default/grub (so every later grub-mkconfig is right: root= there, and
GRUB_DISABLE_LINUX_UUID flipped so grub-mkconfig writes root=UUID=) AND the generated grub.cfg, BLS
entries and grubenv's kernelopts, so the guest boots without running grub-mkconfig at all.

Every rewrite edits the argument in place and keeps all other bytes (comments, spacing, quoting,
line endings). File rewrites return {"text", "changes": [{"lineno", "before", "after"}],
"unmapped": [{"lineno", "spec"}]} and are idempotent.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import InvalidInputError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest.linux import devices
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest.linux._syntax import (
    append_lines, arg_key_value, as_text, assignment, assignments, cmdline_args, is_comment, join_lines,
    shell_vars, split_lines)

# Arguments that name a block device. real_root is genkernel's (Gentoo) root=.
DEVICE_ARGS = ("root", "resume", "real_root")
# Arguments that may sensibly appear more than once: for these "absent" means "this exact value is
# absent" (console=tty0 console=ttyS0,115200 is the usual pair); for the others, "the key is absent".
MULTI_ARGS = ("console",)
_SAFE_ARG = re.compile(r"^[A-Za-z0-9_.,:=/@+-]+\Z")
GRUB_CMDLINE_KEYS = ("GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT")
_GRUB_KERNEL_LINE = re.compile(r"^(\s*)(linux|linux16|linuxefi|kernel)([ \t]+)(\S+)")
_EXTLINUX_APPEND = re.compile(r"^(\s*)(append)(?=[ \t]|$)", re.I)
_BLS_OPTIONS = re.compile(r"^(\s*)(options)(?=[ \t]|$)")
_GRUBENV_SIZE = 1024
# Kernels accept command lines of 2-4 KiB (COMMAND_LINE_SIZE); anything far longer is not one, and is
# left untouched rather than scanned.
MAX_CMDLINE = 64 * 1024


def cmdline_root(cmdline):
    """The root= device of a kernel command line (the last one wins, as in the kernel), or None."""
    root = None
    for arg in (found[2] for found in cmdline_args(cmdline)):
        key, value = arg_key_value(arg)
        if key == "root" and value is not None:
            root = value
    return root


def _check_args(args, what):
    args = [args] if isinstance(args, str) else list(args or ())
    for arg in args:
        if not isinstance(arg, str) or not _SAFE_ARG.match(arg):
            raise InvalidInputError("Kernel argument to %s %r is not a plain argument (letters, digits and "
                                    "_.,:=/@+- only)." % (what, arg), fix="Pass one argument per item.")
    return args


def _edit_args(cmdline, uuid_by_device, add=(), remove=()):
    """(new cmdline, changes [{"before", "after"}], unmapped [spec]) with the original spacing kept."""
    cmdline = as_text(cmdline)
    add, remove = _check_args(add, "add"), _check_args(remove, "remove")
    if len(cmdline) > MAX_CMDLINE:
        return cmdline, [], []
    spans = cmdline_args(cmdline)
    items, pos = [], 0
    for start, end, arg in spans:
        items.append([cmdline[pos:start], arg])
        pos = end
    trailing = cmdline[pos:]
    changes, unmapped, kept = [], [], []
    for gap, arg in items:
        key, value = arg_key_value(arg)
        # "vga" names every vga=..., "vga=791" just that one; what add asks for is never removed
        if (arg in remove or key in remove) and arg not in add:
            changes.append({"before": arg, "after": None})
            continue
        if key in DEVICE_ARGS and value is not None and devices.is_unstable(value):
            new = devices.stable_spec(value, uuid_by_device)
            if new is None:
                unmapped.append(value)
            else:
                changes.append({"before": arg, "after": "%s=%s" % (key, new)})
                arg = "%s=%s" % (key, new)
        kept.append([gap, arg])
    if kept and items:
        kept[0][0] = items[0][0]    # the first remaining argument keeps the original leading space
    present = set(item[1] for item in kept)
    keys = set(arg_key_value(arg)[0] for arg in present)
    for arg in add:
        key = arg_key_value(arg)[0]
        if arg in present or (key in keys and key not in MULTI_ARGS):
            continue
        kept.append([" " if kept else (items[0][0] if items else ""), arg])
        present.add(arg)
        keys.add(key)
        changes.append({"before": None, "after": arg})
    if not changes:
        return cmdline, [], unmapped
    return "".join(gap + arg for gap, arg in kept) + trailing, changes, unmapped


def rewrite_cmdline(cmdline, uuid_by_device, add=(), remove=()):
    """(new cmdline, changes): root=/resume= made stable, args in add appended when absent, args in
    remove dropped ("vga" drops every vga=..., "vga=791" only that one). Unchanged input comes back
    as is. Devices the map does not know are left alone (see unmapped_args)."""
    return _edit_args(cmdline, uuid_by_device, add, remove)[:2]


def unmapped_args(cmdline, uuid_by_device):
    """The bus-dependent root=/resume= values the map cannot replace."""
    return _edit_args(cmdline, uuid_by_device)[2]


def parse_grub_default(text):
    """/etc/default/grub as {KEY: value} (unquoted, not expanded; the last assignment wins)."""
    return shell_vars(text)


def rewrite_grub_default(text, uuid_by_device, add_args=(), enable_uuid=True, remove_args=()):
    """/etc/default/grub with root=/resume= made stable in GRUB_CMDLINE_LINUX(_DEFAULT), remove_args
    dropped from both, add_args appended to the last GRUB_CMDLINE_LINUX (every entry, recovery
    included, gets them) unless either variable has them already, and GRUB_DISABLE_LINUX_UUID=true
    set to false (enable_uuid). Values with mixed quoting ("a"'b') are left alone."""
    add_args = _check_args(add_args, "add")
    # What the variables will hold once remove_args are gone decides which add_args are missing.
    effective, last_linux = {}, None
    for lineno, found in assignments(text):
        if found["key"] in GRUB_CMDLINE_KEYS and found["quote"] != "mixed":
            effective[found["key"]] = _edit_args(found["value"], None, remove=remove_args)[0]
            if found["key"] == "GRUB_CMDLINE_LINUX":
                last_linux = lineno
    present = " ".join(effective.get(key, "") for key in GRUB_CMDLINE_KEYS)
    missing = [arg for arg in add_args if _edit_args(present, None, add=[arg])[1]]
    lines = split_lines(text)
    changes, unmapped = [], []
    for lineno, line in enumerate(lines, 1):
        found = None if is_comment(line[0]) else assignment(line[0])
        if not found:
            continue
        if found["key"] in GRUB_CMDLINE_KEYS and found["quote"] != "mixed":
            add = missing if lineno == last_linux else ()
            _edit_quoted(line, found, uuid_by_device, add, remove_args, lineno, changes, unmapped)
        elif found["key"] == "GRUB_DISABLE_LINUX_UUID" and enable_uuid and found["value"].lower() == "true":
            before = line[0]
            quote = found["quote"] if found["quote"] in ("'", '"') else ""
            line[0] = before[:found["start"]] + quote + "false" + quote + before[found["end"]:]
            changes.append({"lineno": lineno, "before": before, "after": line[0]})
    if missing and last_linux is None:
        append_lines(lines, ['GRUB_CMDLINE_LINUX="%s"' % " ".join(missing)])
        changes.append({"lineno": len(lines), "before": None, "after": lines[-1][0]})
    return {"text": join_lines(lines), "changes": changes, "unmapped": unmapped}


def _edit_quoted(line, found, uuid_by_device, add, remove, lineno, changes, unmapped):
    """Edit the arguments inside a shell word in place, keeping its quotes (adding "" if it needs them)."""
    before = line[0]
    raw = before[found["start"]:found["end"]]
    quote = found["quote"]
    inner = raw[1:-1] if quote else raw
    new, edits, missed = _edit_args(inner, uuid_by_device, add, remove)
    unmapped.extend({"lineno": lineno, "spec": spec} for spec in missed)
    if not edits:
        return
    if not quote and " " in new.strip():
        quote = '"'
    line[0] = before[:found["start"]] + quote + new + quote + before[found["end"]:]
    changes.append({"lineno": lineno, "before": before, "after": line[0]})


def _rewrite_lines(text, uuid_by_device, add_args, find_args, add_to_last=False):
    """Rewrite the argument part of the lines find_args(body) locates (it returns the offset where the
    arguments start, or None). add_args go to every such line, or only the last with add_to_last."""
    add_args = _check_args(add_args, "add")
    lines = split_lines(text)
    changes, unmapped, located = [], [], []
    for lineno, line in enumerate(lines, 1):
        start = None if is_comment(line[0]) else find_args(line[0])
        if start is not None:
            located.append((lineno, line, start))
    everything = " ".join(found[1][0][found[2]:] for found in located)
    for number, (lineno, line, start) in enumerate(located):
        body = line[0]
        add = add_args if not add_to_last or number == len(located) - 1 else ()
        if add_to_last:
            add = [a for a in add if _edit_args(everything, None, add=[a])[1]]
        new, edits, missed = _edit_args(body[start:], uuid_by_device, add)
        unmapped.extend({"lineno": lineno, "spec": spec} for spec in missed)
        if edits:
            line[0] = body[:start] + new
            changes.append({"lineno": lineno, "before": body, "after": line[0]})
    return {"text": join_lines(lines), "changes": changes, "unmapped": unmapped}


def _after_kernel_path(body):
    match = _GRUB_KERNEL_LINE.match(body)
    return match.end() if match else None


def _after_keyword(pattern):
    def find(body):
        match = pattern.match(body)
        return match.end() if match else None
    return find


def rewrite_grub_cfg(text, uuid_by_device, add_args=()):
    """grub.cfg (GRUB 2) or menu.lst/grub.conf (GRUB legacy): the arguments of every linux, linux16,
    linuxefi and kernel line. search --set=root and set root= lines name GRUB's own view of the
    disks (by UUID or BIOS number) and are left alone."""
    return _rewrite_lines(text, uuid_by_device, add_args, _after_kernel_path)


def rewrite_extlinux(text, uuid_by_device, add_args=()):
    """extlinux.conf / syslinux.cfg: the APPEND lines."""
    return _rewrite_lines(text, uuid_by_device, add_args, _after_keyword(_EXTLINUX_APPEND))


def rewrite_bls_entry(text, uuid_by_device, add_args=()):
    """A Boot Loader Specification entry (/boot/loader/entries/*.conf): its options line(s).
    "options $kernelopts" (RHEL 8) takes its arguments from grubenv: see rewrite_grubenv."""
    return _rewrite_lines(text, uuid_by_device, add_args, _after_keyword(_BLS_OPTIONS), add_to_last=True)


def rewrite_grubenv(text, uuid_by_device, add_args=()):
    """grubenv's kernelopts= (RHEL 8 BLS). grubenv is a fixed 1024-byte block padded with '#': the
    padding is recomputed; InvalidInputError when the new variables no longer fit."""
    text = as_text(text)
    padding = re.search(r"#*$", text)
    content = text[:padding.start()]
    result = _rewrite_lines(content, uuid_by_device, add_args,
                            lambda body: len("kernelopts=") if body.startswith("kernelopts=") else None)
    if not result["changes"]:
        result["text"] = text
        return result
    size = max(len(text.encode("utf-8")), _GRUBENV_SIZE)
    used = len(result["text"].encode("utf-8"))
    if used > size:
        raise InvalidInputError("The rewritten grubenv needs %d bytes; the block holds %d." % (used, size),
                                fix="Shorten kernelopts in the guest (grub2-editenv) and retry.")
    result["text"] += "#" * (size - used)
    return result


# --- which boot loader, and where its files are ------------------------------------------------------

_CONFIG_PATTERNS = (
    ("grub_cfg", r"^/boot/grub2?/grub\.cfg\Z|^(/boot/efi|/efi|/boot)/efi/[^/]+/grub\.cfg\Z"),
    ("grubenv", r"^/boot/grub2?/grubenv\Z|^(/boot/efi|/efi|/boot)/efi/[^/]+/grubenv\Z"),
    ("bls_entries", r"^(/boot|/boot/efi|/efi)/loader/entries/[^/]+\.conf\Z"),
    ("grub_legacy", r"^/boot/grub/(menu\.lst|grub\.conf)\Z|^/boot/efi/efi/[^/]+/grub\.conf\Z"),
    ("extlinux", r"^(/boot)?(/extlinux)?/extlinux\.conf\Z|^/boot(/syslinux)?/syslinux\.cfg\Z"),
    ("systemd_boot", r"^(/boot|/boot/efi|/efi)/loader/loader\.conf\Z"
                     r"|^(/boot|/boot/efi|/efi)/efi/systemd/systemd-boot[a-z0-9]+\.efi\Z"),
)


def boot_configs(files):
    """{"grub_cfg", "grubenv", "bls_entries", "grub_legacy", "extlinux", "systemd_boot": [paths],
    "grub_default": "/etc/default/grub" or None} among the guest paths in files. Paths below an EFI
    system partition are matched without regard to case (FAT)."""
    out = dict((pattern[0], []) for pattern in _CONFIG_PATTERNS)
    paths = sorted(p for p in (files or ()) if isinstance(p, str))
    for path in paths:
        for name, pattern in _CONFIG_PATTERNS:
            if re.match(pattern, path.lower() if "/efi/" in path.lower() else path):
                out[name].append(path)
    out["grub_default"] = "/etc/default/grub" if "/etc/default/grub" in paths else None
    return out


def main_grub_cfg(grub_cfgs, cmdline_source=None):
    """The grub.cfg that holds the boot entries, which grub-mkconfig must regenerate: the one the kernel
    command line was read from, else the first outside the EFI system partition. An ESP copy is often a
    stub that only loads /boot/grub(2)/grub.cfg (Debian, Ubuntu, RHEL 9); overwriting it with a full
    configuration would leave later kernel updates unseen."""
    configs = list(grub_cfgs or [])
    if cmdline_source in configs:
        return cmdline_source
    outside = [p for p in configs if "/efi/" not in p.lower()]
    return (outside or configs or [None])[0]


def grub_flavour(files):
    """"grub2", "systemd-boot", "grub-legacy", "extlinux" or None, from the guest's boot files.
    grub.cfg wins over leftovers of older loaders (a Debian upgraded from GRUB legacy keeps menu.lst)."""
    found = boot_configs(files)
    for name, flavour in (("grub_cfg", "grub2"), ("systemd_boot", "systemd-boot"),
                          ("grub_legacy", "grub-legacy"), ("extlinux", "extlinux")):
        if found[name]:
            return flavour
    return None


_EFI_ARCH = {"x86_64": "x64", "amd64": "x64", "aarch64": "aa64", "arm64": "aa64", "i686": "ia32",
             "i386": "ia32"}


def _efi_paths(efi_files, arch):
    suffix = _EFI_ARCH.get(str(arch).lower())
    if suffix is None:
        raise InvalidInputError("Unknown EFI architecture %r." % (arch,),
                                fix="Use one of: %s." % ", ".join(sorted(_EFI_ARCH)))
    paths = set("/" + p.replace("\\", "/").lstrip("/") for p in (efi_files or ()) if isinstance(p, str))
    return suffix, paths


def efi_fallback_needed(efi_files, arch="x86_64"):
    """True when the EFI system partition has a vendor loader but no removable-media fallback
    (EFI/BOOT/BOOTX64.EFI): a new UEFI domain has empty NVRAM, so firmware only finds the fallback."""
    suffix, paths = _efi_paths(efi_files, arch)
    if any(p.lower().endswith("/efi/boot/boot%s.efi" % suffix) for p in paths):
        return False
    return bool(efi_fallback_copies(efi_files, arch))


def efi_fallback_copies(efi_files, arch="x86_64"):
    """[(source, destination)] that make the fallback path boot the guest's own loader: shim (with
    the grub and MokManager next to it, which shim loads from its own directory), else grub, else
    systemd-boot; a grub.cfg beside the loader comes along, for GRUB images that read their
    configuration from the folder they were started from. [] when there is no loader to copy. Paths
    come back with "/" separators and a leading "/", in the case the guest uses."""
    suffix, paths = _efi_paths(efi_files, arch)
    for wanted in ("shim%s.efi", "grub%s.efi", "systemd-boot%s.efi"):
        pattern = re.compile(r"^(.*/efi/)([^/]+)/" + re.escape(wanted % suffix) + r"\Z", re.I)
        for path in sorted(paths):
            match = pattern.match(path)
            if not match or match.group(2).lower() in ("boot", "microsoft"):
                continue
            base, vendor = match.group(1), match.group(2)
            copies = [(path, "%sBOOT/BOOT%s.EFI" % (base, suffix.upper()))]
            extras = ("grub%s.efi" % suffix, "mm%s.efi" % suffix) if wanted.startswith("shim") else ()
            for extra in extras + (("grub.cfg",) if not wanted.startswith("systemd") else ()):
                beside = [p for p in paths if p.lower() == ("%s%s/%s" % (base, vendor, extra)).lower()]
                copies.extend((p, "%sBOOT/%s" % (base, extra)) for p in beside[:1])
            return copies
    return []
