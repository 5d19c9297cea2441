"""console: deciding from real console output whether a guest booted (samples as guests print them)."""

from __future__ import annotations

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import InvalidInputError
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._targets import console

SUCCESS = console.compile_patterns([console.LOGIN_PROMPT], "success")
FAILURE = console.compile_patterns(console.FAILURE_PATTERNS, "failure")

DEBIAN_OK = (
    "[  OK  ] Reached target multi-user.target - Multi-User System.\r\n"
    "         Starting systemd-update-utmp-runlevel.service...\r\n"
    "\x1b[0m\r\nDebian GNU/Linux 12 h2k-fixture ttyS0\r\n\r\nh2k-fixture login: "
)
INITRAMFS_TOOLS_FAIL = (
    "Begin: Waiting for root file system ... Begin: Running /scripts/local-block ... done.\r\n"
    "Gave up waiting for root file system device.  Common problems:\r\n"
    " - Boot args (cat /proc/cmdline)\r\n"
    "ALERT!  /dev/sda1 does not exist.  Dropping to a shell!\r\n\r\n\r\nBusyBox v1.35.0 (Debian 1:1.35.0-4+b3) built-in shell (ash)\r\n"
    "(initramfs) "
)
DRACUT_FAIL = (
    "[  185.120418] dracut-initqueue[312]: Warning: dracut-initqueue: timeout, still waiting for following initqueue hooks:\r\n"
    "[  185.300000] dracut-initqueue[312]: Warning: /lib/dracut/hooks/initqueue/finished/"
    "devexists-\\x2fdev\\x2fsda1.sh: \"[ -e \"/dev/sda1\" ]\"\r\n"
    "Generating \"/run/initramfs/rdsosreport.txt\"\r\n"
    "Entering emergency mode. Exit the shell to continue.\r\n"
    "dracut:/# "
)

# Debian 12's OVMF with a new (empty) variable store and a UEFI guest that has no EFI/BOOT fallback
# loader (the debian12-efi fixture before its repair), as the serial console shows it.
OVMF_NOTHING_TO_BOOT = (
    "\x1b[2J\x1b[01;01H\x1b[=3h\x1b[2J\x1b[01;01HBdsDxe: failed to load Boot0001 \"UEFI QEMU HARDDISK QM00005 \" "
    "from PciRoot(0x0)/Pci(0x2,0x0)/Sata(0x0,0xFFFF,0x0): Not Found\r\n"
    "BdsDxe: loading Boot0002 \"EFI Internal Shell\" from Fv(7CB8BDC9-F8EB-4F34-AAEA-3EE4AF6516A1)/"
    "FvFile(7C04A583-9E3E-4F1C-AD65-E05268D0B4D1)\r\n"
    "\x1b[2J\x1b[01;01H\x1b[01;01HUEFI Interactive Shell v2.2\r\nEDK II\r\n"
    "\x1b[14;01H\x1b[1m\x1b[33m\x1b[40mShell> \x1b[0m"
)
# OVMF that failed on a PXE entry first and then started the disk's fallback loader: not a failure.
OVMF_BOOTING = (
    "BdsDxe: failed to load Boot0001 \"UEFI PXEv4 (MAC:525400123456)\" from PciRoot(0x0)/Pci(0x3,0x0): Not Found\r\n"
    "BdsDxe: loading Boot0002 \"UEFI Misc Device\" from PciRoot(0x0)/Pci(0x4,0x0)\r\n"
    "BdsDxe: starting Boot0002 \"UEFI Misc Device\" from PciRoot(0x0)/Pci(0x4,0x0)\r\n"
    "Welcome to GRUB!\r\n"
)


@pytest.mark.parametrize("text,status,line", [
    (OVMF_NOTHING_TO_BOOT, "fail", None),
    (OVMF_BOOTING, None, None),
    ("BdsDxe: No bootable option or device was found.\r\nBdsDxe: Press any key to enter the Boot Manager Menu.\r\n",
     "fail", "BdsDxe: No bootable option or device was found."),
    (DEBIAN_OK, "pass", "h2k-fixture login:"),
    (INITRAMFS_TOOLS_FAIL, "fail", "ALERT!  /dev/sda1 does not exist.  Dropping to a shell!"),
    (DRACUT_FAIL, "fail", None),
    ("[    2.1] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n", "fail", None),
    ("SeaBIOS (version 1.16.2)\nBooting from Hard Disk...\n", None, None),
    ("Welcome to emergency mode! After logging in, type \"journalctl -xb\"\nGive root password for maintenance\n",
     "fail", "Give root password for maintenance"),
    ("", None, None),
])
def test_verdicts_on_real_console_output(text, status, line):
    found, matched = console.verdict(text, SUCCESS, FAILURE)
    assert found == status
    if line is not None:
        assert matched == line


def test_a_marker_pattern():
    marker = console.compile_patterns([r"H2K-BOOT-OK h2k-fixture"], "success")
    text = "Starting h2k-boot-marker.service\nH2K-NET ens192 192.168.122.50/24 00:50:56:ab:cd:01\nH2K-BOOT-OK h2k-fixture\n"
    assert console.verdict(text, marker, FAILURE) == ("pass", "H2K-BOOT-OK h2k-fixture")


def test_failure_wins_over_an_earlier_success():
    text = "web01 login: \n[  99.0] Kernel panic - not syncing: Fatal exception\n"
    assert console.verdict(text, SUCCESS, FAILURE)[0] == "fail"


def test_login_prompt_needs_a_line_of_its_own():
    assert console.verdict("the word login: appears in a message here\n", SUCCESS, FAILURE) == (None, None)


def test_escapes_and_carriage_returns_are_cleaned():
    assert console.clean("\x1b[1;32mOK\x1b[0m\r\nnext\rline") == "OK\nnext\nline"
    assert console.tail("a\nb\nc\n", lines=2) == "b\nc"


def test_bad_patterns_are_refused_with_a_fix():
    with pytest.raises(InvalidInputError, match="not a valid regular expression"):
        console.compile_patterns(["(unclosed"], "success")


def test_by_default_a_login_prompt_or_the_agent_proves_the_boot():
    assert console.evidence() == ([console.LOGIN_PROMPT], True)


def test_a_marker_alone_proves_the_boot_not_an_earlier_login_prompt():
    # The fixture guest's real order: getty's prompt comes before the marker unit has printed.
    patterns, agent = console.evidence(marker=r"H2K-BOOT-OK h2k-fixture")
    assert not agent
    compiled = console.compile_patterns(patterns, "success")
    early = "Debian GNU/Linux 12 h2k-fixture ttyS0\n\nh2k-fixture login: \n"
    assert console.verdict(early, compiled, FAILURE) == (None, None)
    assert console.verdict(early + "H2K-BOOT-OK h2k-fixture\n", compiled, FAILURE) == (
        "pass", "H2K-BOOT-OK h2k-fixture")


def test_a_marker_joins_explicit_success_patterns():
    assert console.evidence(marker="^APP-READY", success_patterns=["^DB-UP"]) == (["^DB-UP", "^APP-READY"], False)
    assert console.evidence(success_patterns=["^DB-UP"]) == (["^DB-UP"], False)
