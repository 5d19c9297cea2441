"""guest_repair on the other fixture guests (tests/fixtures/guest/build.sh --variant): each takes another
path through the repair, and each must boot on virtio-blk + virtio-net afterwards with its network
identity: the interface keeps its name and static address on the source MAC.

- debian12-dracut: dracut builds the initramfs (host-only, VMware drivers only); systemd-networkd
  configures ens192, whose name nothing pins to the MAC.
- debian12-efi: UEFI on GPT, shim + signed GRUB in EFI/debian only. It boots with OVMF and a new,
  empty variable store, as a new KVM domain does: before the repair the firmware finds nothing to
  start (proven on SATA, which the guest's initramfs supports, so that only the firmware is tested);
  after it the fallback loader EFI/BOOT/BOOTX64.EFI starts the guest's own shim. This variant is
  repaired with update_grub, so GRUB's configuration is regenerated inside the guest on UEFI.
- debian12-lvm: root on LVM (/dev/mapper/h2kvg-root in fstab and on the kernel command line, left as
  it is), /boot on /dev/sda1 (moved to its UUID); the initramfs activates the volume group from virtio.

debian12-bootpart (/boot on its own partition; fstab names /boot and / by the VMware disk's by-id links,
grub boots root=/dev/sda2; ifupdown configures ens192 without a pin) takes its path through the whole
migrate.yml instead: the molecule scenario (extensions/molecule/default) converts, repairs, defines and
boot-checks it and verifies the same identity. Listing it here too would repair and boot it twice per
test run (about four minutes without KVM). Put it back into VARIANTS when you change its repair path.

The base fixture (test_guest_repair.py) covers check mode, failure atomicity and the rerun; here each
variant is repaired once and booted once.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

import bootcheck
from support import boot_lock, sha256_file

guestfs = pytest.importorskip("guestfs", reason="python3-guestfs missing: run scripts/setup.sh")

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._disk import convert  # noqa: E402
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest import repair  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

VARIANTS = ("debian12-dracut", "debian12-efi", "debian12-lvm")
UEFI_VARIANTS = ("debian12-efi",)
# Per variant: the guest_repair options beyond the source MAC.
OPTIONS = {"debian12-efi": {"update_grub": True}}
BUILD_SCRIPT = Path(__file__).resolve().parents[1] / "fixtures" / "guest" / "build.sh"
BUILD_TIMEOUT = 3600
BOOT_TIMEOUT = 600
PIN = "/etc/systemd/network/10-hyper2kvm-%s.link"


@pytest.fixture(scope="module", params=VARIANTS)
def variant(request):
    """The variant's facts from guest.json (built by build.sh, or taken from its cache) plus "dir"."""
    proc = subprocess.run([str(BUILD_SCRIPT), "--variant", request.param], capture_output=True, text=True,
                          timeout=BUILD_TIMEOUT, check=False)
    if proc.returncode != 0:
        pytest.fail(f"{BUILD_SCRIPT} --variant {request.param} failed ({proc.returncode}):\n"
                    f"{proc.stderr[-4000:]}", pytrace=False)
    folder = Path(proc.stdout.strip().splitlines()[-1])
    facts = json.loads((folder / "guest.json").read_text(encoding="utf-8"))
    assert facts["variant"] == request.param
    facts["dir"] = str(folder)
    return facts


@pytest.fixture(scope="module")
def repaired(variant, tmp_path_factory):
    """The variant's OVA converted to qcow2 and repaired, with the source MAC the OVF carries (what the
    guest_repair module passes from the VM description)."""
    image = tmp_path_factory.mktemp(variant["variant"]) / (variant["hostname"] + ".qcow2")
    request = convert.Request(os.path.join(variant["dir"], variant["files"]["ova"]), str(image),
                              member=variant["ova_members"][2])
    assert convert.convert(request)["changed"] is True
    before = sha256_file(str(image))
    options = dict(OPTIONS.get(variant["variant"], {}), source_macs=[variant["mac"]])
    with boot_lock():
        result = repair.repair(str(image), "qcow2", options=options)
    print("%s repair durations: %s" % (variant["variant"], result["durations"]))
    return {"image": str(image), "before": before, "result": result}


def _steps_by_path(result):
    return dict((s.get("path"), s) for s in result["steps"] if s.get("path"))


def _diff(result, path):
    return next(d for d in result["diff"] if d["before_header"] == path)


def test_repair_takes_the_variant_path(variant, repaired):
    result = repaired["result"]
    assert result["changed"] is True and result["committed"] is True
    assert sha256_file(repaired["image"]) != repaired["before"]
    facts = result["facts"]
    steps = _steps_by_path(result)

    # fstab and grub: the device names of the VMware disk go, UUIDs come; LVM names stay
    fstab = _diff(result, "/etc/fstab")
    assert steps["/etc/fstab"]["status"] == "changed"
    if variant["layout"] == "lvm":
        _assert_lvm_left_alone(variant, result, fstab)
    else:
        assert variant["root_device"] in fstab["before"] and variant["root_device"] not in fstab["after"]
        assert "UUID=%s\t/\t" % variant["root_uuid"] in fstab["after"]
        grub = _diff(result, "/boot/grub/grub.cfg")
        assert "root=%s " % variant["cmdline_root"] in grub["before"]
        assert "root=%s " % variant["cmdline_root"] not in grub["after"]
        assert "root=UUID=%s " % variant["root_uuid"] in grub["after"]
    if variant["boot_device"]:
        assert facts["mountpoints"]["/boot"] != facts["mountpoints"]["/"]  # found and mounted on its own
        line = "%s\t/boot\t" % variant["boot_device"]
        assert line in fstab["before"] and line not in fstab["after"]
        assert "UUID=%s\t/boot\t" % variant["boot_uuid"] in fstab["after"]
    if variant["firmware"] == "uefi":
        _assert_uefi_repair(variant, result)

    # initramfs: the guest's tool configured for virtio (for every later rebuild), the drivers appended
    # to the image now and verified by listing it (the boot below proves the kernel unpacks them)
    rebuilds = [s for s in result["steps"] if s.get("kernel")]
    assert [s["kernel"] for s in rebuilds] == [variant["kernel"]] == result["kernels_rebuilt"]
    assert rebuilds[0]["status"] == "changed" and rebuilds[0]["method"] == "append"
    assert {"virtio_blk", "virtio_pci", "virtio_net"} <= set(rebuilds[0]["modules_added"])
    assert rebuilds[0]["sha256_before"] != rebuilds[0]["sha256_after"]
    assert facts["initramfs"]["tool"] == variant["initramfs_tool"]
    if variant["initramfs_tool"] == "dracut":
        assert rebuilds[0]["command"][0] == "dracut"
        conf = steps["/etc/dracut.conf.d/90-hyper2kvm-virtio.conf"]
        assert conf["status"] == "changed" and "virtio_blk" in _diff(result, conf["path"])["after"]
    else:
        assert rebuilds[0]["command"][:2] == ["update-initramfs", "-u"]
        assert "virtio_blk" in _diff(result, "/etc/initramfs-tools/modules")["after"]

    # network: nothing tied ens192 to its MAC; the repair pins the name to the source MAC
    nic = next(n for n in facts["network"]["interfaces"] if n["name"] == variant["nic_name"])
    assert nic["stack"] == variant["network_stack"] and not nic["pinned_by"]
    pin = steps[PIN % variant["nic_name"]]
    assert pin["status"] == "changed"
    text = _diff(result, pin["path"])["after"]
    assert "MACAddress=%s" % variant["mac"] in text and "Name=%s" % variant["nic_name"] in text

    assert any(s["action"] == "remove_package" and s["status"] == "changed" for s in result["steps"])


def _assert_lvm_left_alone(variant, result, fstab):
    """Root on LVM: inspection finds the logical volume and mounts it as /; the repair leaves its
    /dev/mapper name in fstab and on the kernel command line (it moves with the disk), and grub.cfg is
    not edited; only the /boot partition's bus name is replaced."""
    facts = result["facts"]
    root_fs = next(f for f in facts["filesystems"] if f["device"] == facts["mountpoints"]["/"])
    assert root_fs["uuid"] == variant["root_uuid"] and "h2kvg" in root_fs["device"]
    assert facts["bootloader"]["root"] == variant["cmdline_root"] and not facts["bootloader"]["root_unstable"]
    line = "%s\t/\text4" % variant["root_device"]
    assert line in fstab["before"] and line in fstab["after"]
    assert "/boot/grub/grub.cfg" not in [d["before_header"] for d in result["diff"]]


def _assert_uefi_repair(variant, result):
    """UEFI: the guest's own shim, GRUB and MokManager copied to the fallback path (and GRUB's ESP
    configuration beside them), each verified by SHA-256; GRUB's configuration regenerated in the guest
    (the file with the entries, not the ESP stub) and its root= checked again."""
    facts = result["facts"]
    assert facts["boot"]["mode"] == "uefi" and facts["boot"]["partition_table"] == "gpt"
    assert facts["mountpoints"]["/boot/efi"] != facts["mountpoints"]["/"]
    assert not [f for f in facts["boot"]["efi_files"] if "/efi/boot/" in f.lower()]  # no fallback before
    copies = dict((s["path"], s) for s in result["steps"] if s["action"] == "copy_file")
    assert sorted(copies) == ["/boot/efi/EFI/BOOT/BOOTX64.EFI", "/boot/efi/EFI/BOOT/grub.cfg",
                              "/boot/efi/EFI/BOOT/grubx64.efi", "/boot/efi/EFI/BOOT/mmx64.efi"]
    assert copies["/boot/efi/EFI/BOOT/BOOTX64.EFI"]["source"] == "/boot/efi/EFI/debian/shimx64.efi"
    for step in copies.values():
        assert step["status"] == "changed" and step.get("sha256_before") is None and len(step["sha256_after"]) == 64
    mkconfig = next(s for s in result["steps"] if s["id"].endswith("-grub-mkconfig"))
    assert mkconfig["status"] == "changed"
    assert mkconfig["command"] == ["grub-mkconfig", "-o", "/boot/grub/grub.cfg"]
    assert next(s for s in result["steps"] if s["id"].endswith("-grub-cfg-recheck"))["status"] in (
        "changed", "unchanged")


@pytest.mark.parametrize("variant", UEFI_VARIANTS, indirect=True)
def test_unrepaired_uefi_variant_has_nothing_the_firmware_can_start(variant, tmp_path):
    """The negative half of the fallback proof: OVMF with a new variable store and the unrepaired disk
    on SATA (the guest's initramfs has the AHCI driver, so only the firmware's boot path is tested)."""
    assert variant["firmware"] == "uefi"
    log = tmp_path / "console-unrepaired.log"
    with boot_lock():
        boot = bootcheck.boot(os.path.join(variant["dir"], variant["files"]["raw"]), "raw", "sata", None,
                              BOOT_TIMEOUT, str(log), success=[re.escape(variant["marker"])], uefi=True)
    print("%s unrepaired UEFI boot: %s after %ss: %s"
          % (variant["variant"], boot.status, boot.seconds, boot.matched))
    assert boot.status == "fail", "%s %s\n%s" % (boot.status, boot.matched, boot.log_tail)


def test_repaired_variant_boots_on_virtio_with_its_network(variant, repaired, tmp_path):
    log = tmp_path / "console-virtio.log"
    with boot_lock():
        boot = bootcheck.boot(repaired["image"], "qcow2", "virtio-blk", "virtio-net-pci", BOOT_TIMEOUT,
                              str(log), success=[re.escape(variant["marker"])], mac=variant["mac"],
                              uefi=variant["firmware"] == "uefi")
    print("%s virtio boot: %s after %ss" % (variant["variant"], boot.status, boot.seconds))
    assert boot.status == "pass", "%s %s\n%s" % (boot.status, boot.matched, boot.log_tail)
    # The marker unit prints "H2K-NET <interface> <address/prefix> <mac>" for every global IPv4
    # address just before the marker: the old name, the old static address, the source MAC.
    console = log.read_text(encoding="utf-8", errors="replace")
    found = re.findall(r"H2K-NET (\S+) (\S+) (\S+)", console)
    assert (variant["nic_name"], "%s/%s" % (variant["ip"], variant["prefix"]), variant["mac"]) in found, (
        found, boot.log_tail)
