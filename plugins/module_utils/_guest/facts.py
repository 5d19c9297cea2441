# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Facts about a mounted Linux guest, each read through an Appliance (see appliance.py).

Every function takes the launched Appliance (guest filesystems mounted read-only) and returns plain
values. The reading is here; the understanding of each file format lives in the pure functions of
_guest/linux/ so that it is unit-tested on text alone.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath
import re

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import MigrationError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest.linux import (
    bootloader, devices, fstab, initramfs, network, vmware_tools)

ESP_GUID = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
MAX_DIR_FILES = 200
MAX_MOUNTS = 64
MAX_KERNELS = 16
VIRTIO_MIN_KERNEL = (2, 6, 25)

BOOTLOADER_PATHS = (
    "/boot/grub/grub.cfg", "/boot/grub2/grub.cfg", "/boot/grub/menu.lst", "/boot/grub/grub.conf",
    "/etc/grub.conf", "/etc/default/grub", "/boot/grub/i386-pc", "/boot/grub2/i386-pc",
    "/boot/grub/x86_64-efi", "/boot/grub2/x86_64-efi", "/boot/grub/grubenv", "/boot/grub2/grubenv",
    "/boot/loader/entries", "/boot/extlinux/extlinux.conf", "/boot/syslinux/syslinux.cfg",
    "/etc/lilo.conf", "/boot/efi/EFI", "/boot/efi/loader/loader.conf", "/usr/sbin/grub-install",
    "/usr/sbin/grub2-install")
MKCONFIG_PATHS = ("/usr/sbin/grub2-mkconfig", "/usr/sbin/grub-mkconfig", "/sbin/grub2-mkconfig",
                  "/sbin/grub-mkconfig")
INITRAMFS_PATHS = (
    "/usr/sbin/update-initramfs", "/sbin/update-initramfs", "/etc/initramfs-tools",
    "/etc/initramfs-tools/initramfs.conf", "/usr/bin/dracut", "/usr/sbin/dracut", "/sbin/dracut",
    "/etc/dracut.conf", "/etc/dracut.conf.d", "/usr/bin/mkinitcpio", "/etc/mkinitcpio.conf",
    "/sbin/mkinitrd", "/usr/bin/mkinitrd", "/usr/sbin/mkinitrd")
NETWORK_FILES = ("/etc/network/interfaces", "/etc/NetworkManager/NetworkManager.conf")
NETWORK_DIRS = (
    ("/etc/network/interfaces.d", ""), ("/etc/sysconfig/network-scripts", "ifcfg-"),
    ("/etc/sysconfig/network", "ifcfg-"), ("/etc/NetworkManager/system-connections", ""),
    ("/etc/netplan", ""), ("/lib/netplan", ""), ("/etc/systemd/network", ""), ("/etc/udev/rules.d", ""),
    ("/etc/wicked/ifconfig", ""))
VMWARE_PATHS = (
    "/etc/vmware-tools/installer.sh", "/etc/vmware-tools/locations", "/usr/bin/vmware-uninstall-tools.pl",
    "/usr/local/bin/vmware-uninstall-tools.pl", "/usr/bin/vmware-config-tools.pl")
SERVICE_DIRS = ("/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system", "/etc/init.d",
                "/etc/rc.d/init.d")


def existing(app, paths):
    return set(path for path in paths if app.exists(path))


def _dir_files(app, folder, prefix="", limit=MAX_DIR_FILES):
    names = [n for n in app.list_dir(folder) if n.startswith(prefix)]
    if len(names) > limit:
        app.finding("too_many_files", "%s holds %d entries; only the first %d were read." % (folder, len(names), limit),
                    folder)
    return [posixpath.join(folder, name) for name in names[:limit]]


def storage(app):
    """Filesystems (with LVM), partition tables and EFI system partitions."""
    g = app.g
    found = app.try_call(g.list_filesystems) or {}
    disks, parts = app.try_call(g.list_devices) or [], app.try_call(g.list_partitions) or []
    for device in [d for d in disks + parts if d not in found]:  # list_filesystems leaves out LUKS
        if app.try_call(g.vfs_type, device) == "crypto_LUKS":
            found[device] = "crypto_LUKS"
    filesystems = []
    for device in sorted(found):
        filesystems.append({"device": device, "type": found[device],
                            "label": app.try_call(g.vfs_label, device) or None,
                            "uuid": app.try_call(g.vfs_uuid, device) or None})
    tables = {}
    for disk in disks:
        kind = app.try_call(g.part_get_parttype, disk)
        tables[disk] = {"msdos": "mbr"}.get(kind, kind)
    esp = []
    for part in parts:
        disk, number = app.try_call(g.part_to_dev, part), app.try_call(g.part_to_partnum, part)
        if tables.get(disk) == "gpt":
            is_esp = (app.try_call(g.part_get_gpt_type, disk, number) or "").upper() == ESP_GUID
        elif tables.get(disk) == "mbr":
            is_esp = app.try_call(g.part_get_mbr_id, disk, number) == 0xEF
        else:
            is_esp = False
        if is_esp:
            esp.append(part)
    return {"filesystems": filesystems, "lvs": app.try_call(g.lvs) or [],
            "partition_tables": tables, "esp": esp,
            "encrypted": [fs["device"] for fs in filesystems if fs["type"] == "crypto_LUKS"]}


def mount(app, root, readonly=True):
    """Mount the root's filesystems (read-only unless told), shortest mountpoint first; {mountpoint: device}."""
    points = app.call(app.g.inspect_get_mountpoints, root)
    order = sorted(points, key=lambda p: (len(p), p))
    if len(order) > MAX_MOUNTS:
        app.finding("too_many_mounts", "The guest lists %d filesystems to mount; only the first %d were mounted."
                    % (len(order), MAX_MOUNTS))
    mounted = {}
    for point in order[:MAX_MOUNTS]:
        try:
            (app.mount_ro if readonly else app.mount_rw)(points[point], point)
            mounted[point] = points[point]
        except MigrationError as exc:
            if point == "/":
                raise
            app.finding("mount_failed", "Could not mount %s on %s: %s" % (points[point], point, exc), point)
    return mounted


def efi_files(app, mounted):
    """Files in <ESP>/EFI/<vendor>/ (full guest paths) of an ESP mounted at /boot/efi, /efi or /boot."""
    out = []
    for point in ("/boot/efi", "/efi", "/boot"):
        if point not in mounted:
            continue
        for top in [n for n in app.list_dir(point) if n.lower() == "efi"]:
            for vendor in app.list_dir("%s/%s" % (point, top)):
                folder = "%s/%s/%s" % (point, top, vendor)
                out.extend(folder + "/" + name for name in app.list_dir(folder)[:MAX_DIR_FILES])
    return out


def boot(app, disks, mounted, efi, package_names):
    """Firmware the guest boots with: uefi, bios, or hybrid (both bootloaders installed)."""
    types = dict((fs["device"], fs["type"]) for fs in disks["filesystems"])
    esp = list(disks["esp"])
    for point in ("/boot/efi", "/efi"):  # a vfat ESP mounted where the OS expects it, whatever its type id
        if types.get(mounted.get(point)) == "vfat" and mounted[point] not in esp:
            esp.append(mounted[point])
    loaders = [p for p in efi if p.lower().endswith(".efi")]
    bios_hints = [p for p in ("/boot/grub/i386-pc", "/boot/grub2/i386-pc") if app.is_dir(p)]
    bios_hints += [n for n in package_names if n in ("grub-pc", "grub2-pc", "grub-legacy", "syslinux")]
    efi_hints = ["/boot/efi/EFI/*/*.efi"] if loaders else []
    efi_hints += [n for n in package_names if n.startswith(("grub-efi", "grub2-efi", "shim", "systemd-boot"))]
    tables = sorted(set(t for t in disks["partition_tables"].values() if t))
    if esp and loaders and not bios_hints:
        mode = "uefi"
    elif esp and loaders:
        mode = "hybrid"
    else:
        mode = "bios"
    return {"mode": mode, "partition_table": tables[0] if len(tables) == 1 else (tables or None),
            "esp": esp, "efi_files": sorted(efi), "bios_hints": bios_hints, "efi_hints": efi_hints}


def _grub_cmdline(text):
    """Kernel arguments of the first (default) linux line of a grub.cfg."""
    for line in text.splitlines():
        match = re.match(r"^\s*linux(?:16|efi)?\s+\S+\s*(.*)$", line)
        if match:
            return match.group(1).strip()
    return None


def _bls_cmdline(app, entries, grubenvs):
    for path in sorted(entries, reverse=True)[:1]:  # the newest entry, as GRUB sorts them
        for line in (app.read_text(path, what="boot entry") or "").splitlines():
            if line.startswith("options"):
                options = line[len("options"):].strip()
                if "$kernelopts" in options:
                    env = app.read_text(grubenvs[0], what="grubenv") if grubenvs else ""
                    match = re.search(r"^kernelopts=(.*)$", env or "", re.M)
                    options = options.replace("$kernelopts", match.group(1) if match else "")
                return options.strip()
    return None


def bootloader_facts(app, efi):
    files = existing(app, BOOTLOADER_PATHS) | set(efi)
    files.update(_dir_files(app, "/boot/loader/entries"))
    configs = bootloader.boot_configs(files)
    defaults_text = app.read_text("/etc/default/grub", what="GRUB defaults") if configs["grub_default"] else None
    defaults = bootloader.parse_grub_default(defaults_text) if defaults_text is not None else {}
    cmdline, source = None, None
    for path in sorted(configs["grub_cfg"], key=lambda p: (p.lower().startswith("/boot/efi"), p)):
        cmdline = _grub_cmdline(app.read_text(path, what="GRUB configuration") or "")
        if cmdline is not None:
            source = path
            break
    if cmdline is None and configs["bls_entries"]:
        cmdline, source = _bls_cmdline(app, configs["bls_entries"], configs["grubenv"]), "/boot/loader/entries"
    root = bootloader.cmdline_root(cmdline) if cmdline is not None else None
    disable_uuid = str(defaults.get("GRUB_DISABLE_LINUX_UUID") or "").lower() == "true"
    listed = sorted(set(p for paths in configs.values() if isinstance(paths, list) for p in paths))
    return {"flavour": bootloader.grub_flavour(files), "config_files": listed + ([configs["grub_default"]]
                                                                                 if configs["grub_default"] else []),
            "cmdline": cmdline, "cmdline_source": source, "root": root,
            "root_unstable": bool(root) and devices.is_unstable(root),
            "mkconfig": next((p.rsplit("/", 1)[-1] for p in MKCONFIG_PATHS if app.exists(p)), None),
            "disable_linux_uuid": disable_uuid, "defaults": defaults}


def _version_tuple(version):
    return tuple(int(n) for n in re.findall(r"\d+", version.split("-")[0])[:3])


def _builtin(app, modules_dir):
    text = app.read_text(modules_dir + "/modules.builtin", limit=4 * 1024 * 1024, what="modules.builtin")
    return initramfs.parse_modules_builtin(text or "")


def kernels(app):
    """Installed kernels with their modules and whether their initramfs can boot from virtio."""
    boot_files = set("/boot/" + name for name in app.list_dir("/boot"))
    tool = initramfs.tool(existing(app, INITRAMFS_PATHS))
    found, out = initramfs.kernels(boot_files), []
    if len(found) > MAX_KERNELS:
        app.finding("too_many_kernels", "/boot holds %d kernels; only the newest %d were inspected."
                    % (len(found), MAX_KERNELS), "/boot")
    for kernel in found[:MAX_KERNELS]:
        version = kernel["version"]
        modules_dir = "/lib/modules/" + version
        builtin = _builtin(app, modules_dir)
        block = app.list_dir(modules_dir + "/kernel/drivers/block")
        has_module = any(name.startswith("virtio_blk.ko") for name in block)
        supports = _version_tuple(version) >= VIRTIO_MIN_KERNEL and (has_module or "virtio_blk" in builtin)
        listing = app.initrd_listing(kernel["initrd"]) if kernel.get("initrd") else None
        out.append({"version": version, "vmlinuz": kernel.get("vmlinuz"), "initrd": kernel.get("initrd"),
                    "modules_dir": app.is_dir(modules_dir), "virtio_supported": supports,
                    "virtio_builtin": sorted(n for n in builtin if n.startswith("virtio")),
                    "initrd_listed": listing is not None,
                    "initrd_missing_virtio": initramfs.missing_virtio(listing, builtin) if listing is not None else None})
    return {"tool": tool, "kernels": out}


def fstab_facts(app):
    text = app.read_text("/etc/fstab", what="fstab")
    entries = fstab.parse(text) if text is not None else []
    for entry in entries:
        entry["unstable"] = devices.is_unstable(entry["spec"])
    return {"readable": text is not None, "entries": entries,
            "unstable": [e["spec"] for e in entries if e["unstable"]]}


def network_facts(app):
    paths = [p for p in NETWORK_FILES if not app.is_dir(p)]
    for folder, prefix in NETWORK_DIRS:  # drop-in folders (foo.network.d/) are not config files themselves
        paths.extend(p for p in _dir_files(app, folder, prefix) if not app.is_dir(p))
    files = {}
    for path in paths:
        text = app.read_text(path, what="network configuration")
        if text is not None:
            files[path] = text
    nics, renames = network.interfaces(files), network.renames(files)
    for nic in nics:  # a .link file or udev rule that gives this name to one MAC pins the NIC too
        pin = next((r for r in renames if r["name"] == nic["name"] and r["mac"]), None)
        nic["pinned_by"], nic["pinned_mac"] = (pin["path"], pin["mac"]) if pin else (None, None)
        nic["mac"] = nic["mac"] or nic["pinned_mac"]
    return {"stacks": network.stacks(files), "interfaces": nics, "renames": renames,
            "config_files": sorted(files)}


def vmware_tools_facts(app, package_names):
    files = existing(app, VMWARE_PATHS)
    for folder in SERVICE_DIRS:
        names = _dir_files(app, folder, limit=2000)
        files.update(names)
        if folder == "/etc/systemd/system":  # enablement links
            for wants in [p for p in names if p.endswith(".wants")]:
                files.update(_dir_files(app, wants))
    return {"packages": vmware_tools.packages(package_names), "tarball_install": vmware_tools.tarball_install(files),
            "services": vmware_tools.services(files)}


def selinux(app):
    text = app.read_text("/etc/selinux/config", what="SELinux configuration")
    values = dict(re.findall(r"^\s*(SELINUX|SELINUXTYPE)\s*=\s*[\"']?([\w-]+)", text or "", re.M))
    return {"configured": text is not None, "mode": values.get("SELINUX"), "type": values.get("SELINUXTYPE")}


def cloud_init(app, package_names):
    return {"installed": "cloud-init" in package_names or app.exists("/etc/cloud/cloud.cfg"),
            "disabled": app.exists("/etc/cloud/cloud-init.disabled")}
