"""Boot a disk image under QEMU and decide from its serial console whether the guest booted.

Stdlib only, importable by tests and runnable by hand:

    python3 tests/e2e/bootcheck.py IMAGE --format raw --bus pvscsi --nic vmxnet3 \
        --mac 00:50:56:ab:cd:01 --success 'H2K-BOOT-OK' --log /tmp/console.log

The image is never modified (the drive is opened with snapshot=on), the guest has no route out
(user networking with restrict=on), and QEMU is killed by its own PID on every exit path.
KVM is used when it can run guests; otherwise (no usable /dev/kvm, or the nested "kvm_pvm" that
starts guests but never runs them) TCG.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from typing import Iterable, NamedTuple, Optional, Sequence

DISK_BUSES = ("pvscsi", "sata", "ide", "virtio-blk", "virtio-scsi")
NIC_MODELS = {
    "vmxnet3": "vmxnet3",
    "e1000": "e1000",
    "e1000e": "e1000e",
    "virtio-net-pci": "virtio-net-pci",
    "virtio": "virtio-net-pci",
}
DISK_FORMATS = ("raw", "qcow2", "vmdk", "vhdx", "vpc")

# What a Linux guest prints when it cannot find or mount its root filesystem.
FAILURE_PATTERNS = (
    r"ALERT!",
    r"Kernel panic",
    r"Gave up waiting",
    r"\(initramfs\)",
    r"emergency mode",
    r"No bootable device",
    r"UEFI Interactive Shell",  # OVMF found nothing to boot and fell through to its shell
    r"No bootable option or device was found",
)

# OVMF (Debian's ovmf package): the 4 MiB build without secure boot, and its empty variable store. A
# fresh copy of the store per boot is a new domain's NVRAM: no boot entries, so the firmware can start
# only the removable-media fallback EFI/BOOT/BOOTX64.EFI.
OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"

POLL_SECONDS = 0.5
TAIL_LINES = 40


class BootResult(NamedTuple):
    status: str  # 'pass' | 'fail' | 'timeout'
    matched: Optional[str]  # the console line that decided, or why QEMU stopped
    seconds: float  # from QEMU start to the decision
    log_tail: str  # the last lines of the console log


class BootCheckError(RuntimeError):
    """QEMU could not run the guest at all (bad arguments, missing binary): not a verdict on the guest."""


def detect_accel() -> str:
    """'kvm' when KVM can run guests here, else 'tcg'. HYPER2KVM_ACCEL=kvm|tcg overrides."""
    forced = os.environ.get("HYPER2KVM_ACCEL", "").strip().lower()
    if forced in ("kvm", "tcg"):
        return forced
    if os.path.exists("/sys/module/kvm_pvm"):
        return "tcg"  # nested PVM: KVM_RUN works but a normal kernel never gets past its decompressor
    if not os.path.exists("/dev/kvm") or not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg"
    return "kvm"


def _opt(value: str) -> str:
    """Escape a value for a QEMU option list (commas are doubled)."""
    return str(value).replace(",", ",,")


def build_argv(
    image: str,
    fmt: str,
    disk_bus: str,
    nic_model: Optional[str],
    log_path: str,
    mac: Optional[str] = None,
    accel: Optional[str] = None,
    memory_mib: int = 1024,
    cpus: int = 2,
    qemu: str = "qemu-system-x86_64",
    firmware: Optional[str] = None,
    uefi_vars: Optional[str] = None,
) -> list:
    """The QEMU command line for one isolated, throw-away boot. Pure: no side effects."""
    if fmt not in DISK_FORMATS:
        raise ValueError(f"unsupported disk format {fmt!r} (one of {', '.join(DISK_FORMATS)})")
    if disk_bus not in DISK_BUSES:
        raise ValueError(f"unsupported disk bus {disk_bus!r} (one of {', '.join(DISK_BUSES)})")
    if nic_model is not None and nic_model not in NIC_MODELS:
        raise ValueError(f"unsupported NIC model {nic_model!r} (one of {', '.join(NIC_MODELS)})")
    accel = accel or detect_accel()
    argv = [
        qemu,
        "-nodefaults",
        "-machine", "pc",
        "-accel", accel,
        "-cpu", "host" if accel == "kvm" else "max",
        "-m", str(memory_mib),
        "-smp", str(cpus),
        "-display", "none",
        "-monitor", "none",
        "-no-reboot",
        "-boot", "strict=on",
        "-chardev", f"file,id=console0,path={_opt(log_path)}",
        "-serial", "chardev:console0",
        "-drive", f"file={_opt(image)},format={fmt},if=none,id=disk0,snapshot=on,cache=unsafe",
    ]
    if firmware:
        argv += ["-bios", firmware]
    if uefi_vars:
        argv += ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={_opt(OVMF_CODE)}",
                 "-drive", f"if=pflash,format=raw,unit=1,file={_opt(uefi_vars)}"]
    if disk_bus == "pvscsi":
        argv += ["-device", "pvscsi,id=scsi0", "-device", "scsi-hd,drive=disk0,bus=scsi0.0,bootindex=0"]
    elif disk_bus == "virtio-scsi":
        argv += ["-device", "virtio-scsi-pci,id=scsi0",
                 "-device", "scsi-hd,drive=disk0,bus=scsi0.0,bootindex=0"]
    elif disk_bus == "sata":
        argv += ["-device", "ahci,id=sata0", "-device", "ide-hd,drive=disk0,bus=sata0.0,bootindex=0"]
    elif disk_bus == "ide":
        argv += ["-device", "ide-hd,drive=disk0,bus=ide.0,bootindex=0"]
    else:  # virtio-blk
        argv += ["-device", "virtio-blk-pci,drive=disk0,bootindex=0"]
    if nic_model is not None:
        nic = f"{NIC_MODELS[nic_model]},netdev=net0"
        if mac:
            nic += f",mac={mac}"
        argv += ["-netdev", "user,id=net0,restrict=on", "-device", nic]
    return argv


def _compile(patterns: Iterable[str]) -> list:
    return [re.compile(p) for p in patterns]


def _earliest(text: str, start: int, success: list, failure: list):
    """The first match at or after `start`: (status, line) or None."""
    best = None
    for status, regexes in (("pass", success), ("fail", failure)):
        for rx in regexes:
            m = rx.search(text, start)
            if m and (best is None or m.start() < best[0]):
                best = (m.start(), status)
    if best is None:
        return None
    pos, status = best
    line_start = text.rfind("\n", 0, pos) + 1
    line_end = text.find("\n", pos)
    line = text[line_start:line_end if line_end != -1 else len(text)]
    return status, line.strip()


def _read_text(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        return ""
    return data.decode("utf-8", errors="replace").replace("\r", "")


def _tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.rstrip("\n").split("\n")[-lines:])


def _stop(proc: subprocess.Popen) -> None:
    """End our QEMU (by its own PID): SIGTERM, then SIGKILL."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def boot(
    image: str,
    fmt: str,
    disk_bus: str,
    nic_model: Optional[str],
    timeout: float,
    log_path: str,
    success: Sequence[str] = (),
    failure: Sequence[str] = FAILURE_PATTERNS,
    mac: Optional[str] = None,
    uefi: bool = False,
    **qemu_options,
) -> BootResult:
    """Boot `image` once and wait for a success or failure pattern on the serial console.

    Returns BootResult(status, matched, seconds, log_tail): 'pass' when a success pattern appears
    first, 'fail' when a failure pattern does (or the guest powers off/reboots first), 'timeout'
    when neither appears within `timeout` seconds. Raises BootCheckError when QEMU itself fails.
    With uefi=True the guest boots with OVMF and a fresh variable store (log_path + ".vars").
    """
    if not success:
        raise ValueError("give at least one success pattern")
    if not os.path.isfile(image):
        raise FileNotFoundError(image)
    qemu = qemu_options.get("qemu", "qemu-system-x86_64")
    if shutil.which(qemu) is None:
        raise BootCheckError(f"{qemu} not found (Debian package qemu-system-x86)")
    os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
    if uefi:
        if not os.path.isfile(OVMF_CODE):
            raise BootCheckError(f"{OVMF_CODE} not found (Debian package ovmf)")
        qemu_options["uefi_vars"] = log_path + ".vars"
        shutil.copyfile(OVMF_VARS, qemu_options["uefi_vars"])
    argv = build_argv(image, fmt, disk_bus, nic_model, log_path, mac=mac, **qemu_options)
    ok_rx, bad_rx = _compile(success), _compile(failure)
    open(log_path, "wb").close()
    stderr_path = log_path + ".qemu"
    with open(stderr_path, "w", encoding="utf-8") as err:
        err.write(" ".join(argv) + "\n")
        err.flush()
        started = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        try:
            scanned = 0
            while True:
                text = _read_text(log_path)
                found = _earliest(text, scanned, ok_rx, bad_rx)
                elapsed = time.monotonic() - started
                if found:
                    return BootResult(found[0], found[1], round(elapsed, 1), _tail(text))
                # Rescan the unfinished last line next time (prompts like "(initramfs) " end without \n).
                scanned = text.rfind("\n") + 1
                rc = proc.poll()
                if rc is not None:
                    text = _read_text(log_path)
                    found = _earliest(text, 0, ok_rx, bad_rx)
                    if found:
                        return BootResult(found[0], found[1], round(elapsed, 1), _tail(text))
                    if not text.strip():
                        with open(stderr_path, encoding="utf-8", errors="replace") as fh:
                            raise BootCheckError(f"qemu exited with {rc} before the guest printed "
                                                 f"anything: {_tail(fh.read(), 10)}")
                    return BootResult("fail", f"qemu exited with {rc} (guest powered off or rebooted)",
                                      round(elapsed, 1), _tail(text))
                if elapsed >= timeout:
                    return BootResult("timeout", None, round(elapsed, 1), _tail(text))
                time.sleep(POLL_SECONDS)
        finally:
            _stop(proc)


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("image")
    ap.add_argument("--format", required=True, choices=DISK_FORMATS)
    ap.add_argument("--bus", default="pvscsi", choices=DISK_BUSES)
    ap.add_argument("--nic", default="vmxnet3", choices=[*NIC_MODELS, "none"])
    ap.add_argument("--mac")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--log", required=True)
    ap.add_argument("--success", action="append", required=True)
    ap.add_argument("--failure", action="append")
    ap.add_argument("--uefi", action="store_true", help="boot with OVMF and an empty variable store")
    args = ap.parse_args(argv)
    result = boot(args.image, args.format, args.bus, None if args.nic == "none" else args.nic,
                  args.timeout, args.log, success=args.success,
                  failure=args.failure or FAILURE_PATTERNS, mac=args.mac, uefi=args.uefi)
    print(json.dumps({**result._asdict(), "accel": detect_accel()}, indent=2))
    return 0 if result.status == "pass" else 1


if __name__ == "__main__":
    sys.exit(main())
