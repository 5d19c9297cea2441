# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""VMware .vmx -> VM description: real .vmx shapes (tests/unit/fixtures/vmx) parsed on their own,
then read with real VMDKs made by qemu-img next to them, and every hostile shape refused."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    InvalidInputError, UnsafeInputError)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._model import validate
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources import local, vmx

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "vmx")
MIB = 1 << 20


def fixture_bytes(name):
    with open(os.path.join(FIXTURES, name), "rb") as handle:
        return handle.read()


def summary(vm):
    """The facts a reader checks, in one comparable shape."""
    return {
        "name": vm["name"], "id": vm["source"]["id"], "cpus": vm["cpus"], "cores": vm["cores_per_socket"],
        "memory_mib": vm["memory_mib"], "firmware": vm["firmware"], "secure_boot": vm["secure_boot"],
        "power": vm["power_state"],
        "guest": (vm["guest"]["family"], vm["guest"]["distro"], vm["guest"]["version"], vm["guest"]["arch"]),
        "disks": [(d["id"], d["controller"], d["unit"], d["boot"], d["source"]["file"],
                   d["source"]["controller_model"], d["source"]["controller_index"]) for d in vm["disks"]],
        "nics": [(n["mac"], n["network"], n["model"]) for n in vm["nics"]],
    }


def notes(vm, severity=None):
    return [n["message"] for n in vm["notes"] if severity in (None, n["severity"])]


EXPECTED = {
    "linux-pvscsi.vmx": {
        "name": "web01", "id": "501a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8", "cpus": 4, "cores": 2,
        "memory_mib": 8192, "firmware": "bios", "secure_boot": False, "power": "off",
        "guest": ("linux", "debian", "12", "x86_64"),
        "disks": [("scsi0:0", "scsi", 0, True, "web01.vmdk", "pvscsi", 0),
                  ("scsi0:1", "scsi", 1, False, "web01_1.vmdk", "pvscsi", 0)],
        "nics": [("00:50:56:3a:12:34", "VM Network", "vmxnet3")],       # static: .address
    },
    "efi-secureboot.vmx": {
        "name": u"app02 \u2013 B\u00fcro", "id": "564dc301-aa02-bb03-cc04-dd05ee06ff07", "cpus": 4, "cores": 4,
        "memory_mib": 8192, "firmware": "uefi", "secure_boot": True, "power": "off",
        "guest": ("windows", "windows", "2019", "x86_64"),
        # No bios.hddOrder: SATA comes before NVMe.
        "disks": [("sata0:0", "sata", 0, True, "app02.vmdk", "ahci", 0),
                  ("nvme0:0", "nvme", 0, False, "app02-data.vmdk", "nvme", 0)],
        "nics": [("00:0c:29:ab:cd:ef", "nat", "e1000e"),                 # generated: .generatedAddress
                 ("00:50:56:2f:00:01", "VMnet2", "e1000e")],
    },
    "snapshot-delta.vmx": {
        "name": "db01", "id": "564d9f2a-103b-77c4-1e0d-8a5f6b2190aa", "cpus": 2, "cores": 1,
        "memory_mib": 16384, "firmware": "bios", "secure_boot": False, "power": "off",
        "guest": ("linux", "rhel", "9", "x86_64"),
        "disks": [("scsi0:0", "scsi", 0, True, "db01-000001.vmdk", "lsilogic", 0),
                  ("scsi0:1", "scsi", 1, False, "db01_1-000001.vmdk", "lsilogic", 0)],
        "nics": [("00:50:56:9a:0b:0c", "DB VLAN 20", "vmxnet3")],       # ethernet1 is not present
    },
}
# Per fixture: the notes a reader should see (CD drives skipped, a guessed boot disk).
EXPECTED_NOTES = {
    "linux-pvscsi.vmx": ["sata0:0 is a CD/DVD drive"],
    "efi-secureboot.vmx": ["sata0:1 is a CD/DVD drive", "no bios.hddOrder: sata0:0 is taken as the boot disk"],
    "snapshot-delta.vmx": ["ide1:0 is a CD/DVD drive"],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_descriptions(name):
    parsed = vmx.parse(fixture_bytes(name), "/srv/in/" + name)
    vm = validate(parsed["vm"])
    assert summary(vm) == EXPECTED[name]
    assert parsed["warnings"] == [] and notes(vm, "warning") == []
    got = notes(vm)
    assert len(got) == len(EXPECTED_NOTES[name])
    for text, expected in zip(got, EXPECTED_NOTES[name]):
        assert text.startswith(expected)
    assert vm["source"]["type"] == "vmx" and vm["source"]["path"] == "/srv/in/" + name
    for disk in vm["disks"]:
        assert disk["capacity_bytes"] is None and disk["source"]["path"] is None


def test_fixture_source_details():
    web = vmx.parse(fixture_bytes("linux-pvscsi.vmx"), "/srv/in/web01.vmx")["vm"]["source"]
    assert (web["virtual_hw_version"], web["guest_id"], web["encoding"]) == ("19", "debian12-64", "utf-8")
    app = vmx.parse(fixture_bytes("efi-secureboot.vmx"), "/srv/in/app02.vmx")
    assert app["encoding"] == "utf-8" and app["vm"]["source"]["virtual_hw_version"] == "21"
    db = vmx.parse(fixture_bytes("snapshot-delta.vmx"), "/srv/in/db01.vmx")["vm"]
    assert [d["source"]["mode"] for d in db["disks"]] == [None, "persistent"]


# --- settings syntax and character sets ------------------------------------------------------


@pytest.mark.parametrize("line, key, value", [
    ('displayName = "web01"', "displayname", "web01"),
    ('DISPLAYNAME="web01"', "displayname", "web01"),                        # keys are case-insensitive
    ('  memsize   =   "2048"  ', "memsize", "2048"),
    ('numvcpus = 2', "numvcpus", "2"),                                      # hand-written, unquoted
    ('numvcpus = 2 # two', "numvcpus", "2"),
    ('annotation = "a # not a comment" # a comment', "annotation", "a # not a comment"),
    ('annotation = "say |22hi|22|0Abye|7C"', "annotation", 'say "hi"\nbye|'),  # VMware's |XX escapes
    ('scsi0:0.fileName = ""', "scsi0:0.filename", ""),
    ('sched.scsi0:0.throughputCap = "off"', "sched.scsi0:0.throughputcap", "off"),
])
def test_setting_lines(line, key, value):
    warnings = []
    assert vmx.read_settings(line + "\n", "t.vmx", warnings) == {key: value}
    assert warnings == []


def test_comments_bad_lines_and_repeated_keys():
    text = '# a comment\n\nmemsize = "1"\nthis is not a setting\nkey "no equals"\nmemsize = "2"\n'
    warnings = []
    assert vmx.read_settings(text, "t.vmx", warnings) == {"memsize": "2"}
    assert warnings == ['t.vmx: lines 4, 5 are not key = "value"; ignored.',
                        "t.vmx sets memsize more than once; the last value was used."]


@pytest.mark.parametrize("data, name, encoding, warning", [
    (b'displayName = "caf\xc3\xa9"\n', u"caf\u00e9", "utf-8", None),
    (b'\xef\xbb\xbf.encoding = "UTF-8"\ndisplayName = "caf\xc3\xa9"\n', u"caf\u00e9", "utf-8", None),  # BOM
    (b'.encoding = "windows-1252"\ndisplayName = "caf\xe9 \x96"\n', u"caf\u00e9 \u2013", "cp1252", None),
    (b'.encoding = "Shift_JIS"\ndisplayName = "\x83e\x83X\x83g"\n', u"\u30c6\u30b9\u30c8", "shift_jis", None),
    (b'.encoding = "UTF-16"\ndisplayName = "x"\n', "x", "utf-8", "cannot be used"),      # not ASCII-compatible
    (b'.encoding = "klingon"\ndisplayName = "x"\n', "x", "utf-8", "cannot be used"),
    (b'.encoding = "UTF-8"\ndisplayName = "caf\xe9"\n', u"caf\ufffd", "utf-8", "not valid utf-8"),
])
def test_encodings(data, name, encoding, warning):
    parsed = vmx.parse(data, "/srv/in/t.vmx")
    assert (parsed["vm"]["name"], parsed["encoding"]) == (name, encoding)
    if warning:
        assert len(parsed["warnings"]) == 1 and warning in parsed["warnings"][0]
    else:
        assert parsed["warnings"] == []


# --- values mapped onto the description ------------------------------------------------------


def parse_lines(*lines):
    return validate(vmx.parse(("\n".join(lines) + "\n").encode(), "/srv/in/t.vmx")["vm"])


DISK = ('scsi0.present = "TRUE"', 'scsi0:0.present = "TRUE"', 'scsi0:0.fileName = "a.vmdk"')


def test_defaults_of_a_bare_vmx():
    vm = parse_lines('config.version = "8"')
    assert (vm["name"], vm["cpus"], vm["cores_per_socket"], vm["memory_mib"]) == ("t", 1, 1, 1024)
    assert (vm["firmware"], vm["secure_boot"], vm["disks"], vm["nics"]) == ("bios", False, [], [])
    assert notes(vm, "warning") == ["no memSize in the .vmx; using 1024 MiB.", "the .vmx names no virtual disk."]


@pytest.mark.parametrize("lines, cpus, cores, note", [
    (('numvcpus = "8"', 'cpuid.coresPerSocket = "4"'), 8, 4, None),
    (('numvcpus = "6"', 'cpuid.coresPerSocket = "4"'), 6, 1, "does not divide"),
])
def test_cpu_topology(lines, cpus, cores, note):
    vm = parse_lines('memsize = "512"', *(lines + DISK))
    assert (vm["cpus"], vm["cores_per_socket"]) == (cpus, cores)
    assert [n for n in notes(vm) if note and note in n] or note is None


@pytest.mark.parametrize("line", ['numvcpus = "four"', 'numvcpus = "0"', 'memsize = "-1"', 'memsize = "1.5"'])
def test_unreadable_numbers_fail(line):
    with pytest.raises(InvalidInputError) as err:
        parse_lines(line)
    assert "t.vmx" in str(err.value) and "positive whole number" in str(err.value) and "Fix:" in str(err.value)


@pytest.mark.parametrize("lines, firmware, secure, note", [
    (('firmware = "efi"',), "uefi", False, None),
    (('firmware = "EFI"', 'uefi.secureBoot.enabled = "true"'), "uefi", True, None),
    (('firmware = "bios"', 'uefi.secureBoot.enabled = "TRUE"'), "bios", False, "firmware is BIOS"),
    ((), "bios", False, None),
])
def test_firmware(lines, firmware, secure, note):
    vm = parse_lines('memsize = "512"', *(lines + DISK))
    assert (vm["firmware"], vm["secure_boot"]) == (firmware, secure)
    assert any(note in n for n in notes(vm)) if note else notes(vm) == []


@pytest.mark.parametrize("lines, boot, order, note", [
    # bios.hddOrder names the boot disk; it is listed first.
    (('bios.hddOrder = "scsi0:1"',), "scsi0:1", ["scsi0:1", "ide0:0", "scsi0:0"], None),
    (('bios.hddOrder = "sata3:0,scsi0:1"',), "scsi0:1", ["scsi0:1", "ide0:0", "scsi0:0"], None),
    (('bios.hddOrder = "sata3:0"',), "ide0:0", ["ide0:0", "scsi0:0", "scsi0:1"], "names no disk"),
    ((), "ide0:0", ["ide0:0", "scsi0:0", "scsi0:1"], "taken as the boot disk"),
])
def test_boot_disk(lines, boot, order, note):
    vm = parse_lines('memsize = "512"', 'scsi0.present = "TRUE"', 'scsi0:1.present = "TRUE"',
                     'scsi0:1.fileName = "b.vmdk"', 'scsi0:0.present = "TRUE"', 'scsi0:0.fileName = "a.vmdk"',
                     'ide0:0.present = "TRUE"', 'ide0:0.fileName = "c.vmdk"', 'ide0.present = "TRUE"', *lines)
    assert [d["id"] for d in vm["disks"]] == order
    assert [d["id"] for d in vm["disks"] if d["boot"]] == [boot]
    assert any(note in n for n in notes(vm)) if note else notes(vm) == []


@pytest.mark.parametrize("lines, kept, note", [
    (('scsi0:0.present = "FALSE"', 'scsi0:0.fileName = "a.vmdk"'), [], None),
    (('scsi0:0.present = "TRUE"', 'scsi0:0.fileName = "a.vmdk"', 'scsi0:0.deviceType = "disk"'), ["scsi0:0"], None),
    (('scsi0:0.present = "TRUE"', 'scsi0:0.fileName = "a.vmdk"', 'scsi0:0.deviceType = "plainDisk"'), ["scsi0:0"], None),
    (('scsi0:0.present = "TRUE"', 'scsi0:0.fileName = "lun.vmdk"', 'scsi0:0.deviceType = "rawDisk"'), [],
     "raw device mapping"),
    (('scsi0:0.present = "TRUE"', 'scsi0:0.fileName = "/dev/sdb"', 'scsi0:0.deviceType = "scsi-passthru"'), [],
     "raw device mapping"),
    (('scsi0:0.present = "TRUE"', 'scsi0:0.fileName = "/etc/shadow"'), [], "not a .vmdk"),
    (('scsi0:0.present = "TRUE"', 'scsi0:0.fileName = "live.iso"'), [], "CD/DVD"),
])
def test_which_devices_are_disks(lines, kept, note):
    vm = parse_lines('memsize = "512"', 'scsi0.present = "TRUE"', *lines)
    assert [d["id"] for d in vm["disks"]] == kept
    if note:
        assert any(note in n for n in notes(vm))


@pytest.mark.parametrize("dev, model", [
    ("pvscsi", "pvscsi"), ("lsilogic", "lsilogic"), ("lsisas1068", "lsilogicsas"), ("buslogic", "buslogic"),
    ("LSILogic", "lsilogic"), (None, None),
])
def test_scsi_controller_models(dev, model):
    lines = DISK + (('scsi0.virtualDev = "%s"' % dev,) if dev else ())
    vm = parse_lines('memsize = "512"', *lines)
    assert vm["disks"][0]["source"]["controller_model"] == model


def test_disk_on_an_absent_controller_is_noted():
    vm = parse_lines('memsize = "512"', 'scsi1:3.present = "TRUE"', 'scsi1:3.fileName = "a.vmdk"')
    assert (vm["disks"][0]["unit"], vm["disks"][0]["source"]["controller_index"]) == (3, 1)
    assert any("scsi1, which is not marked present" in n for n in notes(vm, "warning"))


@pytest.mark.parametrize("lines, nic, note", [
    (('ethernet0.addressType = "static"', 'ethernet0.address = "00-50-56-01-02-03"'),
     ("00:50:56:01:02:03", None, None), None),
    (('ethernet0.addressType = "generated"', 'ethernet0.generatedAddress = "00:0c:29:aa:bb:cc"',
      'ethernet0.address = "00:50:56:00:00:01"'), ("00:0c:29:aa:bb:cc", None, None), None),
    (('ethernet0.addressType = "static"', 'ethernet0.address = "00:50:56"'), (None, None, None), "not a MAC"),
    (('ethernet0.virtualDev = "vlance"', 'ethernet0.connectionType = "bridged"'), (None, "bridged", "pcnet"),
     "no generated MAC yet"),
    (('ethernet0.virtualDev = "sriov"', 'ethernet0.networkName = "SR"', 'ethernet0.generatedAddress = "00:0c:29:01:02:03"'),
     ("00:0c:29:01:02:03", "SR", "sriov"), "do not know"),
])
def test_nics(lines, nic, note):
    vm = parse_lines('memsize = "512"', 'ethernet0.present = "TRUE"', *(lines + DISK))
    assert [(n["mac"], n["network"], n["model"]) for n in vm["nics"]] == [nic]
    assert any(note in n for n in notes(vm)) if note else notes(vm) == []


def test_suspended_vm():
    vm = parse_lines('memsize = "512"', 'checkpoint.vmState = "t-5a1b.vmss"', *DISK)
    assert vm["power_state"] == "suspended"


# --- hostile files refused by the parser -----------------------------------------------------


@pytest.mark.parametrize("data, error, words", [
    (fixture_bytes("hostile/binary.vmx"), InvalidInputError, ["binary data", "not a .vmx"]),
    (b'displayName = "x"\n' * (vmx.MAX_BYTES // 18 + 1), UnsafeInputError, ["larger than 1048576 bytes"]),
    (b"just some text\nwithout settings\n", InvalidInputError, ["no key", "not a .vmx"]),
    (b"", InvalidInputError, ["no key"]),
])
def test_parser_refuses(data, error, words):
    with pytest.raises(error) as err:
        vmx.parse(data, "/srv/in/evil.vmx")
    for word in words + ["/srv/in/evil.vmx", "Fix:"]:
        assert word in str(err.value)


# --- a .vmx with real disks next to it -------------------------------------------------------


def vm_dir(tmp_path, fixture, make_image, images):
    """The fixture copied into tmp_path/vm, with real images [(name, fmt, size, options, backing)]."""
    directory = tmp_path / "vm"
    directory.mkdir()
    shutil.copy(os.path.join(FIXTURES, fixture), str(directory / os.path.basename(fixture)))
    for name, fmt, size, options, backing in images:
        make_image(directory / name, fmt, size, *options, backing=backing)
    return directory, str(directory / os.path.basename(fixture))


def test_describe_linux_vm(tmp_path, make_image):
    directory, path = vm_dir(tmp_path, "linux-pvscsi.vmx", make_image, [
        ("web01.vmdk", "vmdk", "32M", ["-o", "subformat=monolithicFlat"], None),   # ESXi: descriptor + -flat
        ("web01_1.vmdk", "vmdk", "8M", [], None)])
    out = local.describe_vmx(path)
    [vm] = out["vms"]
    assert summary(vm) == EXPECTED["linux-pvscsi.vmx"]
    disks = [(d["capacity_bytes"], d["source"]["path"], d["source"]["format"], d["source"]["subformat"],
              d["source"]["snapshot_delta"], d["source"]["backing_chain"]) for d in vm["disks"]]
    assert disks == [(32 * MIB, str(directory / "web01.vmdk"), "vmdk", "monolithicFlat", False, []),
                     (8 * MIB, str(directory / "web01_1.vmdk"), "vmdk", "monolithicSparse", False, [])]
    assert out["source"] == {"type": "vmx", "path": path, "directory": str(directory), "encoding": "utf-8",
                             "files": [str(directory / "web01.vmdk"), str(directory / "web01_1.vmdk")]}
    assert out["warnings"] == []
    assert all(argv[:3] == ["qemu-img", "info", "--output=json"] and argv[-1].startswith("json:")
               for argv in out["commands"])
    assert vm["disks"][0]["path"] is None and vm["disks"][0]["format"] is None  # filled by convert


def test_describe_efi_vm(tmp_path, make_image):
    _directory, path = vm_dir(tmp_path, "efi-secureboot.vmx", make_image, [
        ("app02.vmdk", "vmdk", "16M", ["-o", "subformat=streamOptimized"], None),
        ("app02-data.vmdk", "vmdk", "4M", ["-o", "subformat=twoGbMaxExtentSparse"], None)])
    [vm] = local.describe_vmx(path)["vms"]
    assert summary(vm) == EXPECTED["efi-secureboot.vmx"]
    assert [(d["capacity_bytes"], d["source"]["subformat"]) for d in vm["disks"]] == [
        (16 * MIB, "streamOptimized"), (4 * MIB, "twoGbMaxExtentSparse")]


def test_describe_snapshot_delta(tmp_path, make_image):
    directory, path = vm_dir(tmp_path, "snapshot-delta.vmx", make_image, [
        ("db01.vmdk", "vmdk", "16M", [], None), ("db01-000001.vmdk", "vmdk", None, [], "db01.vmdk"),
        ("db01_1.vmdk", "vmdk", "8M", [], None), ("db01_1-000001.vmdk", "vmdk", None, [], "db01_1.vmdk")])
    out = local.describe_vmx(path)
    [vm] = out["vms"]
    assert summary(vm) == EXPECTED["snapshot-delta.vmx"]
    first, second = vm["disks"]
    assert first["source"]["path"] == str(directory / "db01-000001.vmdk") and first["capacity_bytes"] == 16 * MIB
    assert first["source"]["snapshot_delta"] is True
    assert first["source"]["backing_chain"] == [str(directory / "db01.vmdk")]
    assert second["source"]["backing_chain"] == [str(directory / "db01_1.vmdk")]
    assert len(out["commands"]) == 4  # one qemu-img info per layer
    assert out["warnings"] == ["Disk %s: %s is a chain of 2 layers; disk_convert flattens it." % (d["id"], d["source"]["path"])
                               for d in (first, second)]


def test_delta_name_without_parent_is_noted(tmp_path, make_image):
    _directory, path = vm_dir(tmp_path, "snapshot-delta.vmx", make_image, [
        ("db01-000001.vmdk", "vmdk", "4M", [], None), ("db01_1-000001.vmdk", "vmdk", "4M", [], None)])
    [vm] = local.describe_vmx(path)["vms"]
    assert not any(d["source"]["snapshot_delta"] for d in vm["disks"])
    assert len([n for n in notes(vm, "warning") if "named like a snapshot delta" in n]) == 2


def test_windows_1252_file_names(tmp_path, make_image):
    # Old Workstation on Windows wrote the .vmx in windows-1252; the disk file is named in UTF-8 here.
    make_image(tmp_path / u"disque-\u00e9t\u00e9.vmdk", "vmdk", "4M")
    path = tmp_path / "caf.vmx"
    path.write_bytes(b'.encoding = "windows-1252"\r\ndisplayName = "caf\xe9"\r\nmemsize = "512"\r\n'
                     b'scsi0.present = "TRUE"\r\nscsi0:0.present = "TRUE"\r\n'
                     b'scsi0:0.fileName = "disque-\xe9t\xe9.vmdk"\r\n')
    out = local.describe_vmx(str(path))
    [vm] = out["vms"]
    assert (vm["name"], out["source"]["encoding"]) == (u"caf\u00e9", "cp1252")
    assert vm["disks"][0]["source"]["path"] == str(tmp_path / u"disque-\u00e9t\u00e9.vmdk")


def test_lock_directory_means_maybe_running(tmp_path, make_image):
    directory, path = vm_dir(tmp_path, "linux-pvscsi.vmx", make_image, [
        ("web01.vmdk", "vmdk", "4M", [], None), ("web01_1.vmdk", "vmdk", "4M", [], None)])
    (directory / "linux-pvscsi.vmx.lck").mkdir()
    out = local.describe_vmx(path)
    assert out["vms"][0]["power_state"] == "unknown"
    assert any("may be running" in w for w in out["warnings"])


def test_not_a_disk_is_never_opened(tmp_path):
    _directory, path = vm_dir(tmp_path, "hostile/not-a-disk.vmx", None, [])
    out = local.describe_vmx(path)
    assert out["vms"][0]["disks"] == [] and out["commands"] == []
    assert any("'/etc/shadow', not a .vmdk; skipped" in w for w in out["warnings"])


def assert_refused(error, words, path):
    with pytest.raises(error) as err:
        local.describe_vmx(path)
    text = str(err.value)
    for word in words + ["Fix:"]:
        assert word in text, "%r not in %r" % (word, text)
    return text


def test_dotdot_escape_is_refused(tmp_path, make_image):
    (tmp_path / "outside").mkdir()
    make_image(tmp_path / "outside" / "escape.vmdk", "vmdk", "4M")  # exists: refused for where it is
    directory, path = vm_dir(tmp_path, "hostile/escape-dotdot.vmx", None, [])
    text = assert_refused(UnsafeInputError, ["scsi0:0.fileName = '../outside/escape.vmdk'", path, "'..'",
                                             "inside its own directory"], path)
    assert "Copy the disk" in text and str(directory) in text


def test_absolute_path_elsewhere_is_refused(tmp_path):
    _directory, path = vm_dir(tmp_path, "hostile/escape-absolute.vmx", None, [])
    assert_refused(UnsafeInputError, ["'/vmfs/volumes/datastore2/absolute/absolute.vmdk'", "outside the source directory",
                                      "set scsi0:0.fileName to its plain file name"], path)


def test_absolute_path_inside_is_accepted(tmp_path, make_image):
    directory = tmp_path / "vm"
    directory.mkdir()
    make_image(directory / "a.vmdk", "vmdk", "4M")
    path = directory / "a.vmx"
    path.write_text('memsize = "512"\nscsi0.present = "TRUE"\nscsi0:0.present = "TRUE"\n'
                    'scsi0:0.fileName = "%s"\n' % (directory / "a.vmdk"))
    [vm] = local.describe_vmx(str(path))["vms"]
    assert vm["disks"][0]["source"]["path"] == str(directory / "a.vmdk")


@pytest.mark.parametrize("target", ["outside", "/etc/shadow"])
def test_symlink_out_of_the_directory_is_refused(tmp_path, make_image, target):
    if target == "outside":
        (tmp_path / "outside").mkdir()
        target = make_image(tmp_path / "outside" / "real.vmdk", "vmdk", "4M")
    directory, path = vm_dir(tmp_path, "linux-pvscsi.vmx", make_image, [("web01_1.vmdk", "vmdk", "4M", [], None)])
    os.symlink(target, str(directory / "web01.vmdk"))
    assert_refused(UnsafeInputError, ["scsi0:0.fileName = 'web01.vmdk'", "outside the source directory"], path)


def test_extent_leaving_the_directory_is_refused(tmp_path, make_image):
    directory, path = vm_dir(tmp_path, "linux-pvscsi.vmx", make_image, [("web01_1.vmdk", "vmdk", "4M", [], None)])
    (directory / "web01.vmdk").write_text('# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n'
                                          'createType="monolithicFlat"\nRW 8192 FLAT "/etc/shadow" 0\n')
    assert_refused(UnsafeInputError, ["Disk scsi0:0", "'/etc/shadow'", "outside the source directory"], path)


@pytest.mark.parametrize("setup, error, words", [
    ("missing", InvalidInputError, ["scsi0:0.fileName = 'web01.vmdk'", "does not exist", "Copy the disk"]),
    ("junk", InvalidInputError, ["Disk scsi0:0", "named like a vmdk image but its header says raw"]),
    ("directory", InvalidInputError, ["scsi0:0.fileName = 'web01.vmdk'", "not a regular file"]),
    ("twice", InvalidInputError, ["for both scsi0:0 and scsi0:1"]),
])
def test_bad_disks(tmp_path, make_image, setup, error, words):
    directory, path = vm_dir(tmp_path, "linux-pvscsi.vmx", make_image, [("web01_1.vmdk", "vmdk", "4M", [], None)])
    if setup == "junk":
        (directory / "web01.vmdk").write_bytes(b"not a disk image\n" * 100)
    elif setup == "directory":
        (directory / "web01.vmdk").mkdir()
    elif setup == "twice":
        os.symlink("web01_1.vmdk", str(directory / "web01.vmdk"))
    assert_refused(error, words, path)


@pytest.mark.parametrize("make, error, words", [
    (lambda p: p.write_bytes(fixture_bytes("hostile/binary.vmx")), InvalidInputError, ["binary data"]),
    (lambda p: p.write_bytes(b'a = "b"\n' * (vmx.MAX_BYTES // 8 + 1)), UnsafeInputError,
     ["larger than 1048576 bytes"]),
    (lambda p: p.mkdir(), InvalidInputError, ["is a directory"]),
    (lambda p: None, InvalidInputError, ["cannot be read", "No such file"]),
    (lambda p: os.mkfifo(str(p)), UnsafeInputError, ["not a regular file"]),
])
def test_bad_vmx_files(tmp_path, make, error, words):
    path = tmp_path / "evil.vmx"
    make(path)
    assert_refused(error, words + [str(path)], str(path))
