# -*- coding: utf-8 -*-
"""Reading and editing files of a hostile guest: symlinks out of the guest or onto other files, FIFOs,
huge and binary files. Pure rules, plus Appliance's readers on a small in-memory stand-in for a
libguestfs handle (no appliance)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath
import stat

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    CommandError, IntegrityError, InvalidInputError, UnsafeInputError)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest import appliance, repair

# (path, link text, where the link resolves in the guest) -> refusal code or None when it may be read
LINKS = [
    ("/etc/fstab", "/proc/self/mounts", None, "symlink_outside_guest"),        # absolute, into /proc
    ("/etc/fstab", "../../../../proc/1/environ", None, "symlink_outside_guest"),  # ../ chain clamps at /
    ("/etc/network/interfaces", "/sys/class/net", "/sys/class/net", "symlink_outside_guest"),
    ("/etc/fstab", "/run/fstab", None, "symlink_outside_guest"),
    ("/etc/default/grub", "/etc/shadow", "/etc/shadow", "symlink_elsewhere"),   # the guest's own secrets
    ("/etc/default/grub", "../../../../../../etc/shadow", "/etc/shadow", "symlink_elsewhere"),
    ("/etc/fstab", "/root/.ssh/id_rsa", "/root/.ssh/id_rsa", "symlink_elsewhere"),
    ("/etc/hosts", "/home/admin/host-only", None, "dangling_symlink"),          # exists on the host only
    ("/etc/loop", "/etc/loop", None, "dangling_symlink"),                       # ELOOP
    ("/etc/udev/rules.d/80-net-setup-link.rules", "/dev/null", None, "masked"),  # the usual mask
    ("/etc/systemd/network/99-default.link", "../../../dev/null", None, "masked"),
    ("/etc/grub.conf", "../boot/grub/grub.conf", "/boot/grub/grub.conf", None),  # RHEL's alias
    ("/boot/grub/menu.lst", "grub.conf", "/boot/grub/grub.conf", None),
    ("/boot/grub2/grubenv", "../efi/EFI/fedora/grubenv", "/boot/efi/EFI/fedora/grubenv", None),
    ("/etc/default/grub", None, "/srv/default/grub", None),                     # through a linked folder
    ("/etc/default/grub", None, "/proc/cmdline", "symlink_outside_guest"),
    ("/etc/default/grub", None, None, "dangling_symlink"),
]


@pytest.mark.parametrize("path, link, real, code", LINKS)
def test_symlink_refusal(path, link, real, code):
    refused = appliance.symlink_refusal(path, link, real)
    assert (refused[0] if refused else None) == code
    if refused:
        assert refused[1] == ("info" if code == "masked" else "warning")
        assert refused[2].startswith(("is a symlink", "lies in"))


def test_unsafe_findings_keep_order_and_leave_the_rest():
    findings = [{"code": "masked", "path": "/a"}, {"code": "file_too_large", "path": "/b"},
                {"code": "too_many_files", "path": "/c"}, {"code": "symlink_elsewhere", "path": "/d"},
                {"code": "dangling_symlink", "path": "/e"}, {"code": "not_utf8", "path": "/f"}]
    assert [f["path"] for f in appliance.unsafe_findings(findings)] == ["/b", "/d"]
    assert appliance.unsafe_findings(None) == []


def test_repair_refuses_unsafe_guests_with_a_fix():
    repair.refuse_unsafe([{"code": "masked", "path": "/etc/udev/rules.d/80-net-setup-link.rules",
                           "message": "masked"}])  # a mask alone is fine
    findings = [{"code": "symlink_elsewhere", "path": "/etc/default/grub",
                 "message": "GRUB defaults /etc/default/grub is a symlink to /etc/shadow: not read."},
                {"code": "binary_file", "path": "/etc/fstab", "message": "fstab /etc/fstab holds binary data."}]
    with pytest.raises(UnsafeInputError) as err:
        repair.refuse_unsafe(findings)
    text = str(err.value)
    assert "/etc/shadow" in text and "binary" in text
    assert err.value.fix and "/etc/default/grub, /etc/fstab" in err.value.fix
    assert err.value.result()["error_kind"] == "UnsafeInputError"
    assert err.value.details["findings"] == findings


@pytest.mark.parametrize("text, out, rc", [
    ("update-initramfs: Generating /boot/initrd.img\nh2k-exit-status=0\n", "update-initramfs: Generating "
     "/boot/initrd.img\n", "0"),
    ("broken\nh2k-exit-status=1\n", "broken\n", "1"),
    ("h2k-exit-status=1 in the output\nh2k-exit-status=0\n", "h2k-exit-status=1 in the output\n", "0"),
    ("killed before the echo", "killed before the echo", None),
])
def test_split_status(text, out, rc):
    assert repair.split_status(text) == (out, rc)


@pytest.mark.parametrize("data, text", [
    (b"UUID=x / ext4 defaults 0 1\n", "UUID=x / ext4 defaults 0 1\n"),
    (u"# r\u00e9seau\n".encode("utf-8"), u"# r\u00e9seau\n"),
    (b"# r\xe9seau (latin-1)\n", None),
    (b"\x7fELF\x02\x01\x01\x00\x00", None),
    (b"", ""),
])
def test_utf8_text_is_strict(data, text):
    assert repair._utf8_text(data) == text


# --- Appliance readers on an in-memory guest --------------------------------------------------

class FakeGuest(object):
    """The few libguestfs calls the readers use, over {path: bytes | ("link", text) | "fifo" | "dir"},
    resolving links inside the guest as libguestfs does (chrooted)."""

    def __init__(self, tree):
        self.tree = tree
        self.reads = []

    def _node(self, path):
        if path not in self.tree:
            raise RuntimeError("%s: No such file or directory" % path)
        return self.tree[path]

    def _resolve(self, path, depth=0):
        if depth > 8:
            raise RuntimeError("%s: Too many levels of symbolic links" % path)
        node = self._node(path)
        if isinstance(node, tuple):
            return self._resolve(posixpath.normpath(posixpath.join(posixpath.dirname(path), node[1])), depth + 1)
        return path

    def exists(self, path):
        return path in self.tree

    def is_symlink(self, path):
        return isinstance(self.tree.get(path), tuple)

    def is_dir(self, path):
        return self.tree.get(path) == "dir"

    def lstatns(self, path):
        node = self._node(path)
        mode = (stat.S_IFLNK if isinstance(node, tuple) else stat.S_IFIFO if node == "fifo"
                else stat.S_IFDIR if node == "dir" else stat.S_IFREG)
        return {"st_mode": mode | 0o644}

    def readlink(self, path):
        node = self._node(path)
        if not isinstance(node, tuple):
            raise RuntimeError("%s: Invalid argument" % path)
        return node[1]

    def realpath(self, path):
        return self._resolve(path)

    def is_file(self, path, followsymlinks=False):
        return isinstance(self.tree.get(path), bytes)

    def filesize(self, path):
        return len(self._node(path))

    def read_file(self, path):
        self.reads.append(path)
        return self._node(path)

    def pread(self, path, count, offset):
        if offset == 0:
            self.reads.append(path)
        return self._node(path)[offset:offset + count]


def _app(tree):
    app = object.__new__(appliance.Appliance)  # no libguestfs needed: only the readers are used
    app.g, app.findings, app._dead, app.op_timeout = FakeGuest(tree), [], False, 30
    app.accel, app._log = {"accel": "tcg"}, []
    return app


GUEST = {
    "/etc/shadow": b"root:$y$CANARY:19000:0:99999:7:::\n",
    "/etc/default/grub": ("link", "../../../../etc/shadow"),
    "/etc/fstab": ("link", "/proc/self/mounts"),
    "/etc/network/interfaces": b"auto eth0\n\x00\x00\x00",
    "/etc/selinux/config": b"SELINUX=enforcing\n" + b"#" * (2 * 1024 * 1024),
    "/etc/hosts": ("link", "/home/admin/host-only"),
    "/etc/fifo": "fifo",
    "/etc/dir": "dir",
    "/boot/grub/grub.conf": b"default=0\n",
    "/etc/grub.conf": ("link", "../boot/grub/grub.conf"),
    "/etc/motd": b"caf\xe9\n",
    "/etc/udev/rules.d/80-net-setup-link.rules": ("link", "/dev/null"),
}


@pytest.mark.parametrize("path, code", [
    ("/etc/default/grub", "symlink_elsewhere"),
    ("/etc/fstab", "symlink_outside_guest"),
    ("/etc/network/interfaces", "binary_file"),
    ("/etc/selinux/config", "file_too_large"),
    ("/etc/hosts", "dangling_symlink"),
    ("/etc/fifo", "not_a_regular_file"),
    ("/etc/dir", "not_a_regular_file"),
    ("/etc/udev/rules.d/80-net-setup-link.rules", "masked"),
])
def test_read_text_refuses_with_a_finding(path, code):
    app = _app(GUEST)
    assert app.read_text(path, what="config") is None
    assert [(f["code"], f["path"]) for f in app.findings] == [(code, path)]
    assert path in app.findings[0]["message"] and "not read" in app.findings[0]["message"]
    assert "/etc/shadow" not in app.g.reads and "CANARY" not in repr(app.findings)


def test_read_text_follows_a_link_to_the_same_file():
    app = _app(GUEST)
    assert app.read_text("/etc/grub.conf") == "default=0\n"
    assert app.g.reads == ["/boot/grub/grub.conf"] and app.findings == []


def test_read_bytes_of_a_file_larger_than_one_read():
    big = bytes(range(256)) * (appliance.PREAD_CHUNK // 128 + 3)  # a little over two chunks
    app = _app({"/lib/modules/v/modules.alias.bin": big})
    assert app.read_bytes("/lib/modules/v/modules.alias.bin", limit=len(big))[1] == big
    assert app.read_bytes("/lib/modules/v/modules.alias.bin", limit=len(big) - 1) is None  # over the limit
    assert [f["code"] for f in app.findings] == ["file_too_large"]


def test_read_text_replaces_undecodable_bytes_and_says_so():
    app = _app(GUEST)
    assert app.read_text("/etc/motd") == u"caf\ufffd\n"
    assert [f["code"] for f in app.findings] == ["not_utf8"] and app.findings[0]["severity"] == "info"


def test_repair_read_refuses_before_reading():
    app = _app(GUEST)
    with pytest.raises(UnsafeInputError) as err:
        repair._read(app, {"id": "02-grub-default", "path": "/etc/default/grub"})
    assert "/etc/shadow" in str(err.value) and err.value.fix
    assert app.g.reads == []


def test_repair_edits_through_a_link_to_the_same_file():
    step = {"id": "x", "action": "write_file", "path": "/etc/grub.conf", "edit": "content", "content": "new\n"}
    out = repair._render(_app(GUEST), step, {})
    assert out["target"] == "/boot/grub/grub.conf" and out["change"] is True


@pytest.mark.parametrize("data", [b"# caf\xe9 (latin-1)\n", b"auto eth0\n\x00\n"])
def test_repair_does_not_edit_binary_or_latin1_files(data):
    step = {"id": "x", "action": "write_file", "path": "/etc/network/interfaces", "edit": "content",
            "content": "new\n"}
    with pytest.raises(InvalidInputError) as err:
        repair._render(_app({"/etc/network/interfaces": data}), step, {})
    assert "not UTF-8 text" in str(err.value) and err.value.fix


class FakeShell(FakeGuest):
    def __init__(self, output):
        super(FakeShell, self).__init__({})
        self.output = output

    def sh(self, script):
        return self.output


def test_failing_guest_command_names_command_status_and_output():
    app = _app({})
    app.g = FakeShell(b"update-initramfs: broken on purpose\nh2k-exit-status=1\n")
    with pytest.raises(CommandError) as err:
        repair._sh(app, {"id": "06"}, ["update-initramfs", "-u", "-k", "6.1.0-1-amd64"])
    text = str(err.value)
    assert "update-initramfs -u -k 6.1.0-1-amd64 failed in the guest (exit status 1)" in text
    assert "broken on purpose" in text and "Fix:" in text
    app.g = FakeShell(b"done\nh2k-exit-status=0\n")
    assert repair._sh(app, {"id": "06"}, ["true"]) == "done\n"


class FakeEsp(FakeGuest):
    """FakeGuest plus the calls a copy_file step makes (checksum, mkdir_p, cp); bad_copy corrupts cp."""

    def __init__(self, tree, bad_copy=False):
        super(FakeEsp, self).__init__(tree)
        self.bad_copy = bad_copy

    def checksum(self, kind, path):
        assert kind == "sha256"
        return repair.sha256(self.tree[self._resolve(path)])

    def mkdir_p(self, path):
        while path not in self.tree and path != "/":
            self.tree[path] = "dir"
            path = posixpath.dirname(path)

    def cp(self, source, target):
        self.tree[target] = self.tree[source] + (b"!" if self.bad_copy else b"")


SHIM = b"MZ shim signed by the distribution"
ESP = {"/boot": "dir", "/boot/efi": "dir", "/boot/efi/EFI": "dir", "/boot/efi/EFI/debian": "dir",
       "/boot/efi/EFI/debian/shimx64.efi": SHIM}
COPY = {"id": "07-efi-fallback-bootx64.efi", "action": "copy_file", "path": "/boot/efi/EFI/BOOT/BOOTX64.EFI",
        "source": "/boot/efi/EFI/debian/shimx64.efi"}


def _esp_app(tree, bad_copy=False):
    app = _app({})
    app.g = FakeEsp(dict(tree), bad_copy)
    return app


def test_fallback_loader_copied_and_verified():
    app, step = _esp_app(ESP), dict(COPY)
    assert repair._apply_copy(app, step) == "changed"
    assert app.g.tree[step["path"]] == SHIM and app.g.tree["/boot/efi/EFI/BOOT"] == "dir"
    assert step["sha256_before"] is None and step["sha256_after"] == repair.sha256(SHIM)
    assert repair._apply_copy(app, dict(COPY)) == "unchanged"  # the same bytes there already


def test_fallback_loader_copy_that_reads_back_wrong_fails():
    with pytest.raises(IntegrityError, match="BOOTX64.EFI reads back with SHA-256"):
        repair._apply_copy(_esp_app(ESP, bad_copy=True), dict(COPY))


@pytest.mark.parametrize("tree, role", [
    (dict(ESP, **{"/boot/efi/EFI/debian/shimx64.efi": ("link", "/etc/shadow"), "/etc/shadow": b"x"}), "Source"),
    (dict(ESP, **{"/boot/efi/EFI/debian/shimx64.efi": "fifo"}), "Source"),
    (dict(ESP, **{"/boot/efi/EFI/BOOT": "dir", "/boot/efi/EFI/BOOT/BOOTX64.EFI": "dir"}), "Target"),
    (dict(ESP, **{"/boot/efi/EFI/BOOT": "dir", "/boot/efi/EFI/BOOT/BOOTX64.EFI": ("link", "/etc/shadow"),
                  "/etc/shadow": b"x"}), "Target"),
])
def test_fallback_loader_copy_refuses_what_is_not_a_regular_file(tree, role):
    app = _esp_app(tree)
    before = dict(app.g.tree)
    with pytest.raises(UnsafeInputError, match="%s .* is not a regular file" % role) as err:
        repair._apply_copy(app, dict(COPY))
    assert "Fix:" in str(err.value)
    assert app.g.tree == before  # nothing written
