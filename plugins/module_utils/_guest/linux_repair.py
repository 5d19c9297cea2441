# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a Linux guest needs to boot on virtio with its identity intact, decided from inspection facts.

plan(facts, options) is pure: it reads the facts dict that inspect.inspect_open() fills and returns
the ordered steps of the repair. render(step, text, uuid_by_device) is pure too: the new text of a
write_file step from the file's current text. Nothing here touches a guest; repair.py applies the
steps through the appliance and verifies each.

Step: {"id", "action": "write_file"|"copy_file"|"run"|"append_initramfs"|"remove_package"|"disable_service",
       "path", "reason", ...}
  write_file: "edit" (fstab, grub_default, grub_cfg, bls, initramfs_modules, content), "content"
  copy_file: "source" (a guest file copied to "path", byte for byte; the EFI fallback loader)
  run: "command" (argv list), "kind" (initramfs|bootloader), "kernel" (for initramfs rebuilds)
  append_initramfs: "kernel", "modules_dir", "builtin", "command" (the rebuild, when appending is not
    possible); kind initramfs
  remove_package: "packages", "command", "services" (masked instead when the command fails)
  disable_service: "unit"
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import InvalidInputError, UnsupportedError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest.linux import (
    bootloader, devices, fstab, initramfs, network)

SERIAL_ARG = "console=ttyS0,115200"
DEFAULTS = {"remove_vmware_tools": True, "serial_console": False, "update_grub": False, "nic_macs": {},
            "source_macs": [], "initramfs_method": "append"}
INITRAMFS_METHODS = ("append", "rebuild")
_APPLIANCE_PART = re.compile(r"^/dev/sd([a-z]{1,3})(\d+)\Z")
_GRUB_CFG = re.compile(r"(^|/)(grub\.cfg|menu\.lst|grub\.conf)\Z")
_BLS = re.compile(r"/loader/entries/[^/]+\.conf\Z")
GUEST_PREFIXES = ("sd", "vd", "hd", "xvd")


def options_with_defaults(options):
    out = dict(DEFAULTS)
    out.update(dict((k, v) for k, v in (options or {}).items() if v is not None))
    return out


def uuid_map(facts):
    """{guest device name: UUID} for every partition with a UUID, under each bus name the guest may
    have used (/dev/sda1, /dev/vda1, /dev/hda1, /dev/xvda1 all mean disk 0, partition 1), plus the
    other unstable names the guest's fstab mounts (by-id, by-path). The appliance names disks /dev/sdX
    in the order they were added, which is the guest's disk order."""
    out = {}
    for fs in facts.get("filesystems") or []:
        match = _APPLIANCE_PART.match(fs.get("device") or "")
        if not match or not fs.get("uuid"):
            continue
        letters, part = match.groups()
        for prefix in GUEST_PREFIXES:
            out["/dev/%s%s%s" % (prefix, letters, part)] = fs["uuid"]
        out["/dev/nvme%dn1p%s" % (devices.letters_index(letters), part)] = fs["uuid"]
    # Names only the source hardware knows (/dev/disk/by-id/scsi-36000c29...-part1 of a VMware disk):
    # libguestfs matched each fstab line to a device when it mounted the guest, so the filesystem
    # mounted at that line's mountpoint is the one the name meant.
    uuids = dict((fs["device"], fs["uuid"]) for fs in facts.get("filesystems") or [] if fs.get("uuid"))
    mounted = facts.get("mountpoints") or {}
    for entry in (facts.get("fstab") or {}).get("entries") or []:
        spec = entry.get("spec")
        if spec not in out and devices.is_unstable(spec) and uuids.get(mounted.get(entry.get("file"))):
            out[spec] = uuids[mounted[entry["file"]]]
    return out


def _step(steps, action, path, reason, **extra):
    step = {"id": "%02d-%s" % (len(steps) + 1, extra.pop("name")), "action": action, "path": path,
            "reason": reason}
    step.update(extra)
    steps.append(step)
    return step


def _wants_serial(facts, options):
    cmdline = (facts.get("bootloader") or {}).get("cmdline") or ""
    return bool(options["serial_console"]) and not re.search(r"(^|\s)console=ttyS0\b", cmdline)


def _grub_default_needs(loader, umap, add):
    if loader.get("disable_linux_uuid"):
        return True
    defaults = loader.get("defaults") or {}
    line = " ".join(defaults.get(key) or "" for key in bootloader.GRUB_CMDLINE_KEYS)
    return bool(bootloader.rewrite_cmdline(line, umap, add=add)[1])


def _bootloader_steps(steps, facts, options, umap):
    loader = facts.get("bootloader") or {}
    add = [SERIAL_ARG] if _wants_serial(facts, options) else []
    files = loader.get("config_files") or []
    if "/etc/default/grub" in files and _grub_default_needs(loader, umap, add):
        _step(steps, "write_file", "/etc/default/grub", "GRUB defaults: stable root=, GRUB_DISABLE_LINUX_UUID=false"
              + (", serial console" if add else ""), edit="grub_default", add_args=add, name="grub-default")
    if not (loader.get("root_unstable") or add or _grub_default_needs(loader, umap, [])):
        return
    configs = [p for p in files if _GRUB_CFG.search(p)]
    entries = [p for p in files if _BLS.search(p)]
    for path in configs:
        _step(steps, "write_file", path, "Kernel command line: root=%s -> UUID%s"
              % (loader.get("root"), " + serial console" if add else ""), edit="grub_cfg", add_args=add,
              name="grub-cfg")
    for path in entries:
        _step(steps, "write_file", path, "Boot entry: stable root=", edit="bls", add_args=add, name="bls-entry")
    if options["update_grub"] and configs and loader.get("flavour") == "grub2":
        cfg = bootloader.main_grub_cfg(configs, loader.get("cmdline_source"))
        tool = loader.get("mkconfig") or ("grub2-mkconfig" if "/grub2/" in cfg else "grub-mkconfig")
        _step(steps, "run", cfg, "Regenerate %s with the new defaults" % cfg, kind="bootloader",
              command=[tool, "-o", cfg], name="grub-mkconfig")
        _step(steps, "write_file", cfg, "Re-check root= in the regenerated %s" % cfg, edit="grub_cfg",
              add_args=add, name="grub-cfg-recheck")


def _efi_steps(steps, facts, notes):
    """The removable-media fallback loader (EFI/BOOT/BOOTX64.EFI) copied from the guest's own loader:
    VMware's NVRAM named EFI/<vendor>/...; a new KVM domain's NVRAM is empty, so firmware looks only
    for the fallback path and finds nothing to boot."""
    boot = facts.get("boot") or {}
    if boot.get("mode") not in ("uefi", "hybrid"):
        return
    arch = (facts.get("os") or {}).get("arch")
    try:
        copies = bootloader.efi_fallback_copies(boot.get("efi_files"), arch) \
            if bootloader.efi_fallback_needed(boot.get("efi_files"), arch) else []
    except InvalidInputError:
        notes.append("The EFI fallback loader was not checked: unknown architecture %r." % (arch,))
        return
    for source, target in copies:
        _step(steps, "copy_file", target, "UEFI fallback loader: the new domain's NVRAM has no boot entry for "
              "%s, firmware starts EFI/BOOT/BOOT*.EFI" % source, source=source,
              name="efi-fallback-" + target.rsplit("/", 1)[-1].lower())


def _network_steps(steps, facts, options, notes):
    given = dict((k, v) for k, v in (options.get("nic_macs") or {}).items() if v)
    nics = [n for n in (facts.get("network") or {}).get("interfaces") or []
            if n.get("name") and n["name"] != "lo" and not (n.get("mac_pinned") or n.get("pinned_by"))]
    known = set(network.normalize_mac(n["mac"]) for n in (facts.get("network") or {}).get("interfaces") or []
                if n.get("mac"))
    spare = [m for m in options.get("source_macs") or [] if network.normalize_mac(m) not in known]
    unknown = [n["name"] for n in nics if not n.get("mac") and n["name"] not in given]
    if len(unknown) == 1 and len(spare) == 1:  # one NIC without a MAC, one source MAC left: they belong together
        given[unknown[0]] = spare[0]
    for nic in nics:
        name = nic["name"]
        mac = nic.get("mac") or given.get(name)
        if not mac:
            notes.append("Interface %s is not tied to a MAC and none was given: its name may change on "
                         "the new NIC." % name)
            continue
        pin = network.pin_name(name, mac)
        _step(steps, "write_file", pin["path"], "Keep the name %s for the NIC with MAC %s" % (name, mac),
              edit="content", content=pin["text"], name="pin-" + name)


def _vmware_steps(steps, facts, options):
    tools = facts.get("vmware_tools") or {}
    if not options["remove_vmware_tools"]:
        return
    units = list(tools.get("services") or [])
    packages = sorted(set(tools.get("packages") or []))
    kind = (facts.get("os") or {}).get("package_format")
    if packages and kind in ("deb", "rpm"):
        command = ["dpkg", "--purge"] + packages if kind == "deb" else ["rpm", "-e", "--nodeps"] + packages
        _step(steps, "remove_package", None, "VMware tools have no use on KVM: remove %s" % ", ".join(packages),
              packages=packages, command=command, services=units, name="remove-vmware-tools")
        return
    for unit in units:
        _step(steps, "disable_service", "/etc/systemd/system/" + unit, "VMware tools service %s: masked" % unit,
              unit=unit, name="mask-" + unit.split(".")[0])


def _initramfs_steps(steps, facts, options, notes):
    method = options["initramfs_method"]
    if method not in INITRAMFS_METHODS:
        raise ValueError("initramfs_method must be one of %s" % ", ".join(INITRAMFS_METHODS))
    info = facts.get("initramfs") or {}
    kernels = info.get("kernels") or []
    for kernel in kernels:
        if kernel.get("initrd") and kernel.get("initrd_missing_virtio") is None and kernel.get("virtio_supported"):
            notes.append("The initramfs of kernel %s could not be listed; it is not rebuilt." % kernel["version"])
    todo = [k for k in kernels if k.get("initrd") and k.get("virtio_supported") and k.get("initrd_missing_virtio")]
    if not todo:
        return
    tool = info.get("tool")
    if tool == "initramfs-tools":
        _step(steps, "write_file", "/etc/initramfs-tools/modules", "List the virtio drivers for every initramfs",
              edit="initramfs_modules", name="initramfs-modules")
    elif tool == "dracut":
        path, text = initramfs.dracut_conf()
        _step(steps, "write_file", path, "Add the virtio drivers to every dracut image", edit="content",
              content=text, name="dracut-conf")
    else:
        raise UnsupportedError("The initramfs of kernel %s lacks %s and the guest's initramfs tool (%s) is not "
                               "supported." % (todo[0]["version"], ", ".join(todo[0]["initrd_missing_virtio"]), tool),
                               fix="Rebuild the initramfs with the virtio drivers in the source VM, then migrate.")
    for kernel in todo:
        version = kernel["version"]
        command = (["update-initramfs", "-u", "-k", version] if tool == "initramfs-tools"
                   else ["dracut", "-f", kernel["initrd"], version])
        lacks = ", ".join(kernel["initrd_missing_virtio"])
        common = dict(kind="initramfs", kernel=version, builtin=kernel.get("virtio_builtin") or [], command=command,
                      name="initramfs-" + version)
        if method == "append":
            _step(steps, "append_initramfs", kernel["initrd"], "Append the virtio drivers to the initramfs of %s "
                  "(lacks %s); the next rebuild takes them from the configuration" % (version, lacks),
                  modules_dir="/lib/modules/" + version, **common)
        else:
            _step(steps, "run", kernel["initrd"], "Rebuild the initramfs of %s (lacks %s)" % (version, lacks),
                  **common)


def plan(facts, options=None):
    """(steps, notes): the ordered repair of the guest the facts describe; ([], [...]) when it needs none."""
    options = options_with_defaults(options)
    steps, notes = [], []
    umap = uuid_map(facts)
    table = facts.get("fstab") or {}
    if table.get("unstable"):
        missing = [s for s in table["unstable"] if s not in umap]
        if missing:
            notes.append("/etc/fstab names %s, which matches no filesystem with a UUID: left as is."
                         % ", ".join(missing))
        if len(missing) < len(table["unstable"]):
            _step(steps, "write_file", "/etc/fstab", "Device names change on virtio (%s): use UUID="
                  % ", ".join(table["unstable"]), edit="fstab", name="fstab")
    _bootloader_steps(steps, facts, options, umap)
    _efi_steps(steps, facts, notes)
    _network_steps(steps, facts, options, notes)
    _vmware_steps(steps, facts, options)
    _initramfs_steps(steps, facts, options, notes)
    return steps, notes


def render(step, text, uuid_by_device):
    """{"text", "changes", "unmapped"} of a write_file step applied to the current text ("" if absent)."""
    text = text or ""
    edit = step["edit"]
    add = step.get("add_args") or ()
    if edit == "fstab":
        return fstab.rewrite(text, uuid_by_device)
    if edit == "grub_default":
        return bootloader.rewrite_grub_default(text, uuid_by_device, add_args=add)
    if edit == "grub_cfg":
        return bootloader.rewrite_grub_cfg(text, uuid_by_device, add_args=add)
    if edit == "bls":
        return bootloader.rewrite_bls_entry(text, uuid_by_device, add_args=add)
    if edit == "initramfs_modules":
        out = initramfs.initramfs_tools_modules(text)
        return dict(out, unmapped=[])
    if edit == "content":
        new = step["content"]
        return {"text": new, "changes": [] if new == text else [{"before": text or None, "after": new}],
                "unmapped": []}
    raise ValueError("unknown edit %r" % edit)
