# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tiny, tolerant readers for the syntaxes Linux guests keep their configuration in.

The repairs in this package edit guest files in place and must leave every byte they do not mean to
change as it was (comments, spacing, CRLF endings, junk), so these readers report positions as well as
values. They are deliberately small: each understands what real guest files contain, never executes
anything (a shell assignment's "$VAR" stays literal text), and degrades to "no value" on odd input
instead of raising. Regular expressions do the scanning so that a multi-megabyte line stays fast.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# A shell word: quoted and unquoted segments glued together. An unclosed quote runs to the end of the
# line (tolerance: the shell would read on, but these files are one assignment per line).
_WORD = re.compile(r"""(?:'[^']*(?:'|$)|"(?:[^"\\]+|\\.)*(?:"|$)|`[^`]*`?|\$\([^)]*\)?|\\.|[^\s'"\\`$]+|\$)*""",
                   re.S)
# Command substitutions (`...`, $(...)) are kept as raw text, never run.
_SEGMENT = re.compile(r"""'([^']*)'?|"((?:[^"\\]+|\\.)*)"?|\\(.)|(`[^`]*`?|\$\([^)]*\)?|[^\s'"\\`$]+|\$)""", re.S)
_ASSIGN = re.compile(r"^(\s*)(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=")
# A kernel command line argument: param, param=value or param="value with spaces".
_ARG = re.compile(r'(?:[^\s"]+|"[^"]*(?:"|$))+')

MAX_YAML_DEPTH = 40
# Longer lines are not read as assignments (left untouched): no real setting is a megabyte long, and
# scanning pathological quoting that long costs seconds.
MAX_ASSIGNMENT = 1024 * 1024


def as_text(data):
    """Text for any input: bytes are decoded as UTF-8 with replacement, None is empty."""
    if data is None:
        return ""
    if isinstance(data, (bytes, bytearray)):
        return bytes(data).decode("utf-8", "replace")
    return data if isinstance(data, str) else str(data)


def split_lines(text):
    """[[body, eol], ...] where eol is "\\n", "\\r\\n" or "" (last line); join_lines() inverts it.

    str.splitlines() is not used: it also splits on form feeds and Unicode separators, which would
    change bytes we must keep.
    """
    pieces = as_text(text).split("\n")
    out = []
    for number, piece in enumerate(pieces):
        last = number == len(pieces) - 1
        if last and piece == "":
            break
        if not last and piece.endswith("\r"):
            out.append([piece[:-1], "\r\n"])
        else:
            out.append([piece, "" if last else "\n"])
    return out


def bodies(text):
    """The lines of text without their endings (see split_lines)."""
    return [line[0] for line in split_lines(text)]


def join_lines(lines):
    return "".join(body + eol for body, eol in lines)


def append_lines(lines, bodies):
    """Add lines at the end, terminating the old last line first, with the file's own line ending."""
    eol = next((line[1] for line in lines if line[1]), "\n")
    if lines and not lines[-1][1]:
        lines[-1][1] = eol
    for body in bodies:
        lines.append([body, eol])


def is_comment(body):
    stripped = body.lstrip()
    return not stripped or stripped.startswith("#")


def assignment(body):
    """A shell assignment KEY=word on this line, or None.

    Returns {"key", "value" (unquoted, not expanded), "start", "end" (the raw word's span),
    "quote": "" | "'" | '"' | "mixed"}.
    """
    match = _ASSIGN.match(body) if len(body) <= MAX_ASSIGNMENT else None
    if not match:
        return None
    start = match.end()
    end = _WORD.match(body, start).end()
    raw = body[start:end]
    parts = []
    for seg in _SEGMENT.finditer(raw):
        single, double, escaped, plain = seg.groups()
        if double is not None:
            parts.append(re.sub(r'\\([\\"$`])', r"\1", double))
        else:
            parts.append(next(p for p in (single, escaped, plain) if p is not None))
    if re.match(r"^'[^']*'$", raw):
        quote = "'"
    elif re.match(r'^"(?:[^"\\]+|\\.)*"$', raw, re.S):
        quote = '"'
    elif not re.search(r"""['"\\`]|\$\(""", raw):
        quote = ""
    else:
        quote = "mixed"
    return {"key": match.group(2), "value": "".join(parts), "start": start, "end": end, "quote": quote}


def assignments(text):
    """Every KEY=value line as (lineno, assignment dict), in file order; comments are skipped."""
    out = []
    for lineno, body in enumerate(bodies(text), 1):
        if is_comment(body):
            continue
        found = assignment(body)
        if found:
            out.append((lineno, found))
    return out


def shell_vars(text):
    """KEY -> value, the last assignment winning as in the shell."""
    return dict((found["key"], found["value"]) for lineno, found in assignments(text))


def cmdline_args(cmdline):
    """[(start, end, arg)] of a kernel command line (double quotes group, as the kernel does)."""
    return [(m.start(), m.end(), m.group(0)) for m in _ARG.finditer(as_text(cmdline))]


def arg_key_value(arg):
    """("root", "/dev/sda1") for root=/dev/sda1; ("quiet", None) for a flag; quotes removed."""
    key, sep, value = arg.partition("=")
    if not sep:
        return key, None
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return key, value


def ini_items(text):
    """[{"section", "key", "value", "lineno"}] of an INI/keyfile/systemd unit, duplicates kept in order.

    Comments start with # or ;. Keys are kept as written (systemd is case-sensitive).
    """
    out = []
    section = None
    for lineno, body in enumerate(bodies(text), 1):
        line = body.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        key, sep, value = line.partition("=")
        if sep:
            out.append({"section": section, "key": key.strip(), "value": value.strip(), "lineno": lineno})
    return out


def ini_get(items, section, key, default=None):
    """The last value of section/key (later assignments override earlier ones)."""
    found = default
    for item in items:
        if item["section"] == section and item["key"] == key:
            found = item["value"]
    return found


# --- a YAML subset, enough for netplan -----------------------------------------------------------------
# Supported: block mappings and sequences by indentation (including "- key: value" items and sequences
# at their parent key's indentation), flow [..] and {..} collections (also spread over several lines),
# plain/single/double-quoted scalars, comments, "---". Not supported (netplan files do not use them):
# anchors/aliases, tags, block scalars (| and >), multi-document streams, complex keys. Plain scalars
# stay strings except true/false/yes/no/on/off, which become booleans as netplan reads them.

_BOOLS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


def yaml_load(text):
    """A dict/list/scalar for a netplan-style YAML document; None for empty or unreadable input."""
    lines = []
    for body in bodies(text):
        stripped = _strip_comment(body).rstrip()
        if not stripped.strip() or stripped.strip() in ("---", "..."):
            continue
        content = stripped.lstrip(" ")
        lines.append([len(stripped) - len(content), content])
    merged = None
    pos = 0
    while pos < len(lines):
        value, new_pos = _block(lines, pos, lines[pos][0], 0)
        pos = max(new_pos, pos + 1)
        if isinstance(value, dict) and isinstance(merged, dict):
            merged.update(value)
        elif merged is None:
            merged = value
    return merged


_UNTIL_COMMENT = re.compile(r"""(?:"(?:[^"\\]+|\\.)*"?|'[^']*'?|[^'"#]+|(?<=\S)#)*""")


def _strip_comment(body):
    """Drop a trailing comment: a # at the line start or after whitespace, outside quotes."""
    if "#" not in body:
        return body
    return body[:_UNTIL_COMMENT.match(body).end()]


def _is_item(content):
    return content == "-" or content.startswith("- ")


def _split_key(content):
    """(key, rest) for 'key: rest' / 'key:' outside quotes, else None."""
    match = re.match(r"""^("(?:[^"\\]+|\\.)*"|'[^']*'|[^'"#:][^:]*?|)\s*:(?:\s+(.*)|$)""", content)
    if not match:
        return None
    return _scalar(match.group(1).strip()), (match.group(2) or "").strip()


def _block(lines, pos, indent, depth):
    if depth > MAX_YAML_DEPTH:
        end = pos
        while end < len(lines) and lines[end][0] >= indent:
            end += 1
        return None, end
    if _is_item(lines[pos][1]):
        return _sequence(lines, pos, indent, depth)
    return _mapping(lines, pos, indent, depth)


def _sequence(lines, pos, indent, depth):
    out = []
    while pos < len(lines) and lines[pos][0] >= indent:
        if lines[pos][0] > indent:
            pos += 1        # a stray deeper line: skip it
            continue
        if not _is_item(lines[pos][1]):
            break           # "key:" at our indentation: the parent mapping goes on
        rest = lines[pos][1][1:]
        content = rest.lstrip(" ")
        if not content:
            pos += 1
            if pos < len(lines) and lines[pos][0] > indent:
                value, pos = _block(lines, pos, lines[pos][0], depth + 1)
            else:
                value = None
        elif _is_item(content) or (_split_key(content) and content[0] not in "[{"):
            # "- key: value" opens a mapping whose keys line up with "key"
            inner = indent + 1 + len(rest) - len(content)
            lines[pos] = [inner, content]
            value, pos = _block(lines, pos, inner, depth + 1)
        else:
            value, pos = _inline(lines, pos, content)
        out.append(value)
    return out, pos


def _mapping(lines, pos, indent, depth):
    out = {}
    while pos < len(lines) and lines[pos][0] >= indent:
        content = lines[pos][1]
        found = None if lines[pos][0] > indent or _is_item(content) else _split_key(content)
        if found is None:
            pos += 1
            continue
        key, rest = found
        if rest:
            out[key], pos = _inline(lines, pos, rest)
            continue
        pos += 1
        if pos < len(lines) and lines[pos][0] > indent:
            out[key], pos = _block(lines, pos, lines[pos][0], depth + 1)
        elif pos < len(lines) and lines[pos][0] == indent and _is_item(lines[pos][1]):
            out[key], pos = _sequence(lines, pos, indent, depth + 1)
        else:
            out[key] = None
    return out, pos


def _inline(lines, pos, text):
    """A scalar or flow collection starting on lines[pos]; a flow collection may continue below."""
    pos += 1
    if text[0] in "[{":
        while _depth_of(text) > 0 and pos < len(lines) and len(text) < 1000000:
            text += " " + lines[pos][1]
            pos += 1
        return _flow(text)[0], pos
    return _scalar(text), pos


def _depth_of(text):
    return sum(1 for c in text if c in "[{") - sum(1 for c in text if c in "]}")


_FLOW_TOKEN = re.compile(r"""\s*("(?:[^"\\]+|\\.)*"|'[^']*'|[\[\]{},]|[^\[\]{},]+)""")


def _flow(text, start=0, depth=0):
    """(value, end) for a flow collection at text[start]; tolerant of missing closers."""
    if depth > MAX_YAML_DEPTH:
        return None, len(text)
    closer = "]" if text[start] == "[" else "}"
    items = []          # (key text or None, value); a bare scalar is (None, its text)
    pos = start + 1
    current = ""
    while pos < len(text):
        match = _FLOW_TOKEN.match(text, pos)
        if not match:
            break
        token = match.group(1)
        if token in ("[", "{"):
            value, pos = _flow(text, match.start(1), depth + 1)
            key = (current or "").strip()
            items.append((key[:-1].strip() if key.endswith(":") else None, value))
            current = None
            continue
        pos = match.end()
        if token in (",", "]", "}"):
            if current and current.strip():
                items.append((None, current.strip()))
            current = ""
            if token != ",":
                break
            continue
        current = (current or "") + token
    if current and current.strip():     # ran out of text before the closer: keep the last item
        items.append((None, current.strip()))
    if closer == "]":
        return [_scalar(v) if k is None and isinstance(v, str) else v for k, v in items], pos
    out = {}
    for key, value in items:
        if key is not None:
            out[_scalar(key)] = value
        elif isinstance(value, str):
            found = _split_key(value) or (_scalar(value), "")
            out[found[0]] = _scalar(found[1]) if found[1] else None
    return out, pos


def _scalar(text):
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return re.sub(r'\\(.)', r"\1", text[1:-1])
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if text.lower() in _BOOLS:
        return _BOOLS[text.lower()]
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    return text
