# -*- coding: utf-8 -*-
"""The small readers every Linux repair builds on: lines, shell words, INI, kernel arguments, YAML."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._guest.linux import _syntax


@pytest.mark.parametrize("text, lines", [
    ("", []),
    ("a", [["a", ""]]),
    ("a\n", [["a", "\n"]]),
    ("a\r\nb\n", [["a", "\r\n"], ["b", "\n"]]),
    ("a\rb\x0cc\u2028d\n", [["a\rb\x0cc\u2028d", "\n"]]),   # only \n splits
    ("\n\n", [["", "\n"], ["", "\n"]]),
    ("a\r", [["a\r", ""]]),
    (b"caf\xc3\xa9\n\xff", [["caf\xe9", "\n"], ["\ufffd", ""]]),
    (None, []),
])
def test_split_and_join_lines(text, lines):
    assert _syntax.split_lines(text) == lines
    if isinstance(text, str):
        assert _syntax.join_lines(lines) == text


@pytest.mark.parametrize("text, added, expected", [
    ("", ["x"], "x\n"),
    ("a", ["x", "y"], "a\nx\ny\n"),
    ("a\r\nb", ["x"], "a\r\nb\r\nx\r\n"),
    ("a\n", ["x"], "a\nx\n"),
])
def test_append_lines_uses_the_files_line_ending(text, added, expected):
    lines = _syntax.split_lines(text)
    _syntax.append_lines(lines, added)
    assert _syntax.join_lines(lines) == expected


@pytest.mark.parametrize("body, key, value, quote, raw", [
    ('GRUB_CMDLINE_LINUX="quiet splash"', "GRUB_CMDLINE_LINUX", "quiet splash", '"', '"quiet splash"'),
    ("GRUB_CMDLINE_LINUX='quiet'  # note", "GRUB_CMDLINE_LINUX", "quiet", "'", "'quiet'"),
    ("GRUB_TIMEOUT=5", "GRUB_TIMEOUT", "5", "", "5"),
    ("GRUB_CMDLINE_LINUX=", "GRUB_CMDLINE_LINUX", "", "", ""),
    ('  export A="x \\"y\\" \\$z"', "A", 'x "y" $z', '"', '"x \\"y\\" \\$z"'),
    ("A=\"a b\"'c d'e", "A", "a bc de", "mixed", "\"a b\"'c d'e"),
    ('A="$GRUB_CMDLINE_LINUX rhgb"', "A", "$GRUB_CMDLINE_LINUX rhgb", '"', '"$GRUB_CMDLINE_LINUX rhgb"'),
    ('A="unclosed value', "A", "unclosed value", "mixed", '"unclosed value'),
    ("A=x#y", "A", "x#y", "", "x#y"),
    ("A=\\ b", "A", " b", "mixed", "\\ b"),
    ("D=`lsb_release -i -s 2> /dev/null || echo Debian`", "D", "`lsb_release -i -s 2> /dev/null || echo Debian`",
     "mixed", "`lsb_release -i -s 2> /dev/null || echo Debian`"),
    ("D=$(sed 's, x,,' /f) # c", "D", "$(sed 's, x,,' /f)", "mixed", "$(sed 's, x,,' /f)"),
    ("P=$HOME/x", "P", "$HOME/x", "", "$HOME/x"),
])
def test_assignment(body, key, value, quote, raw):
    found = _syntax.assignment(body)
    assert (found["key"], found["value"], found["quote"]) == (key, value, quote)
    assert body[found["start"]:found["end"]] == raw


@pytest.mark.parametrize("body", ["# A=1", "A =1", "1A=2", "echo A=1", "", "A" * 10 + "=" + "x" * (2 << 20)])
def test_not_an_assignment(body):
    found = _syntax.assignment(body)
    assert found is None or body.lstrip().startswith("#")


def test_shell_vars_last_assignment_wins():
    text = 'A=1\n# A=2\nB="x y"\nA=3\nnot a line\n'
    assert _syntax.shell_vars(text) == {"A": "3", "B": "x y"}


@pytest.mark.parametrize("cmdline, args", [
    ("root=/dev/sda1 ro  quiet", ["root=/dev/sda1", "ro", "quiet"]),
    ('  a="b c" d=e"f g"h ', ['a="b c"', 'd=e"f g"h']),
    ('x="unclosed', ['x="unclosed']),
    ("", []),
])
def test_cmdline_args(cmdline, args):
    found = _syntax.cmdline_args(cmdline)
    assert [item[2] for item in found] == args
    assert all(cmdline[start:end] == arg for start, end, arg in found)


@pytest.mark.parametrize("arg, pair", [("root=/dev/sda1", ("root", "/dev/sda1")), ("quiet", ("quiet", None)),
                                       ('a="b c"', ("a", "b c")), ("a=", ("a", "")), ("a==b", ("a", "=b"))])
def test_arg_key_value(arg, pair):
    assert _syntax.arg_key_value(arg) == pair


def test_ini_items_keep_order_duplicates_and_case():
    text = "; top\n[Match]\nName=ens192\n\n[Network]\nAddress = 10.0.0.1/24\n# c\nAddress=10.0.0.2/24\n" \
           "no equals sign\n[ Address ]\nAddress=10.0.0.3/24\n"
    items = _syntax.ini_items(text)
    assert [(i["section"], i["key"], i["value"], i["lineno"]) for i in items] == [
        ("Match", "Name", "ens192", 3), ("Network", "Address", "10.0.0.1/24", 6),
        ("Network", "Address", "10.0.0.2/24", 8), ("Address", "Address", "10.0.0.3/24", 11)]
    assert _syntax.ini_get(items, "Network", "Address") == "10.0.0.2/24"
    assert _syntax.ini_get(items, "network", "Address", "none") == "none"


@pytest.mark.parametrize("text, value", [
    ("a: 1\nb: true\nc: 'x: y'\nd: \"q\\\"\"\ne: ~\nf: no\n",
     {"a": "1", "b": True, "c": "x: y", "d": 'q"', "e": None, "f": False}),
    ("a:\n- x\n- y\nb: [1, 'two', \"three\"]\n", {"a": ["x", "y"], "b": ["1", "two", "three"]}),
    ("a:\n  - k: v\n    m: n\n  -\n    - deep\n", {"a": [{"k": "v", "m": "n"}, ["deep"]]}),
    ("r: [{to: default, via: 10.0.0.1}, {to: 10.1.0.0/16,\n    via: 10.0.0.2}]\nz: 1\n",
     {"r": [{"to": "default", "via": "10.0.0.1"}, {"to": "10.1.0.0/16", "via": "10.0.0.2"}], "z": "1"}),
    ("m: {a: [x, y], b: {c: d}, e}\n", {"m": {"a": ["x", "y"], "b": {"c": "d"}, "e": None}}),
    ("mac: 00:50:56:ab:cd:01 # vmxnet3\nurl: http://x/#frag\n", {"mac": "00:50:56:ab:cd:01", "url": "http://x/#frag"}),
    ("---\na:\n    b: 1\n  stray: 2\n", {"a": {"b": "1"}}),
    ("- 2001:db8::1/64\n- \"10.0.0.1/24\"\n", ["2001:db8::1/64", "10.0.0.1/24"]),
    ("", None), ("# only a comment\n", None), ("just text\n", {}),
    ("a: [unclosed, list\n", {"a": ["unclosed", "list"]}),
])
def test_yaml_subset(text, value):
    assert _syntax.yaml_load(text) == value


@pytest.mark.parametrize("text", [
    "[" * 100000, "{a: " * 10000, "a:\n" + "".join("  " * i + "k:\n" for i in range(1, 3000)),
    "- " * 50000 + "x\n", "a: [[x][y]]\n", "a: [x, {b\n", "a: " + "#x" * 1000000, "\x00\x01: \xff\n" * 1000,
    "a: b\r\n\tc: d\r\n",
])
def test_yaml_subset_is_total_and_bounded(text):
    _syntax.yaml_load(text)      # no exception, no recursion error


def test_yaml_depth_limit_keeps_the_shallow_part():
    deep = "top: 1\nnest:\n" + "".join("  " * i + "k%d:\n" % i for i in range(1, 100)) + "after: 2\n"
    value = _syntax.yaml_load(deep)
    assert value["top"] == "1" and value["after"] == "2"
