"""A strict YAML subset parser for K3s config files (stdlib only).

Supported (anything else raises YamlError, which the caller turns into a
fatal error like K3s does for unparsable config):

* one document, optionally introduced by ``---``; comments; blank lines
* a top-level block mapping ``key: value`` (plain or quoted keys)
* values: plain scalars (with folded continuation lines indented deeper than
  the key), single-quoted and double-quoted one-line scalars, flow lists
  ``[a, 'b', "c"]`` on one line, block lists (``- item`` indented or not)
* plain scalars are resolved like gopkg.in/yaml.v2 (YAML 1.1), which is what
  K3s uses: ``yes/no/on/off/y/n`` are booleans, ``0644`` is the *octal* int
  420, ``~``/``null``/empty are null.  Resolution happens in ``to_string``
  (K3s's convert.ToString): bool -> "true"/"false", null -> "", int -> decimal.

Not supported: nested mappings, flow mappings, block scalars (| >), anchors,
aliases, tags, multi-line quoted scalars, nested lists, tabs as indentation.
Duplicate keys inside one file: the later one wins (like the merged map).
"""
import re

from common import yamlscalar


class YamlError(Exception):
    pass


_KEY_RE = re.compile(r"""^(?P<key>"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"\[\]{}&*!|>%@`,-][^:#]*?|-[^\s:#][^:#]*?)\s*:(?:\s+(?P<rest>.*)|$)""")
_FLOAT_RE = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_INT_RE = re.compile(r"^[-+]?(0b[01_]+|0o?[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*)$")


class Plain(str):
    """A plain (unquoted) scalar; resolved to bool/int/null by to_string."""


def to_string(v):
    """Mimic wrangler convert.ToString on a yaml.v2-decoded value."""
    if isinstance(v, Plain):
        s = str(v)
        if s in yamlscalar.NULLS:
            return ""
        if s in yamlscalar.TRUES:
            return "true"
        if s in yamlscalar.FALSES:
            return "false"
        if _INT_RE.match(s):
            try:
                return str(yamlscalar.int_literal(s))
            except ValueError:
                return s
        if _FLOAT_RE.match(s):
            f = float(s)
            if f.is_integer() and abs(f) < 1e21:
                return str(int(f))
            return repr(f)
        return s
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _strip_comment(s):
    # a comment starts at '#' preceded by whitespace (or at column 0)
    m = re.search(r"(^|\s)#", s)
    if m:
        s = s[: m.start()]
    return s.rstrip()


def _dq_unescape(body, lineno):
    return yamlscalar.unescape_double_quoted(body, lineno, YamlError)


def _parse_quoted(s, lineno):
    """Parse a quoted scalar at the start of s; return (value, remainder)."""
    q = s[0]
    if q == "'":
        i = 1
        buf = []
        while True:
            j = s.find("'", i)
            if j < 0:
                raise YamlError("line %d: found unexpected end of stream while scanning a quoted scalar (multi-line quoted scalars are not supported)" % lineno)
            buf.append(s[i:j])
            if j + 1 < len(s) and s[j + 1] == "'":
                buf.append("'")
                i = j + 2
                continue
            return "".join(buf), s[j + 1:]
    i = 1
    while i < len(s):
        if s[i] == "\\":
            i += 2
            continue
        if s[i] == '"':
            return _dq_unescape(s[1:i], lineno), s[i + 1:]
        i += 1
    raise YamlError("line %d: found unexpected end of stream while scanning a quoted scalar (multi-line quoted scalars are not supported)" % lineno)


def _check_plain(s, lineno):
    if not s:
        return
    if s[0] in "&*!|>%@`{}]":
        raise YamlError("line %d: unsupported YAML construct %r (outside the K3s config subset)" % (lineno, s[0]))
    if s.startswith("- ") or s == "-":
        raise YamlError("line %d: block sequence entries are not allowed in this context" % lineno)
    if re.search(r":(\s|$)", s):
        raise YamlError("line %d: mapping values are not allowed in this context" % lineno)


def _parse_flow_list(s, lineno):
    assert s[0] == "["
    items = []
    rest = s[1:]
    expect_item = True
    while True:
        rest = rest.lstrip()
        if not rest:
            raise YamlError("line %d: did not find expected ',' or ']' (multi-line flow sequences are not supported)" % lineno)
        if rest[0] == "]":
            rest = rest[1:]
            break
        if not expect_item:
            if rest[0] != ",":
                raise YamlError("line %d: did not find expected ',' or ']'" % lineno)
            rest = rest[1:]
            expect_item = True
            continue
        if rest[0] in "[{":
            raise YamlError("line %d: nested flow collections are not supported" % lineno)
        if rest[0] == ",":
            raise YamlError("line %d: did not find expected node content" % lineno)
        if rest[0] in "'\"":
            val, rest = _parse_quoted(rest, lineno)
            items.append(val)
        else:
            m = re.match(r"^([^,\[\]{}#]*)", rest)
            tok = m.group(1).rstrip()
            rest = rest[len(m.group(1)):]
            _check_plain(tok, lineno)
            items.append(Plain(tok))
        expect_item = False
    rest = _strip_comment(rest)
    if rest.strip():
        raise YamlError("line %d: did not find expected <document start>" % lineno)
    return items


def _inline_value(s, lineno):
    """Value text after 'key:' or '- ' on one line (comment not yet stripped)."""
    s = s.strip()
    if not s or s.startswith("#"):
        return None, True  # nothing inline
    if s[0] in "'\"":
        val, rest = _parse_quoted(s, lineno)
        rest = _strip_comment(rest)
        if rest.strip():
            raise YamlError("line %d: did not find expected key" % lineno)
        return val, False
    if s[0] == "[":
        return _parse_flow_list(s, lineno), False
    v = _strip_comment(s)
    _check_plain(v, lineno)
    return Plain(v), False


def parse(text):
    """Parse text; return list of (key, value) pairs in document order.

    value is a Plain/str scalar, None (null) or a list of scalars."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    result = []
    seen_doc_start = False
    seen_content = False
    i = 0
    n = len(lines)

    def content(line):
        st = line.strip()
        return st and not st.startswith("#")

    def indent_of(line, lineno):
        m = re.match(r"^([ \t]*)", line)
        if "\t" in m.group(1):
            raise YamlError("line %d: found character that cannot start any token (tab indentation)" % lineno)
        return len(m.group(1))

    while i < n:
        line = lines[i].rstrip("\r")
        lineno = i + 1
        if not content(line):
            i += 1
            continue
        if line.rstrip() in ("---",) or line.startswith("--- "):
            if seen_doc_start or seen_content:
                raise YamlError("line %d: multiple YAML documents are not supported" % lineno)
            seen_doc_start = True
            if _strip_comment(line[3:]).strip():
                raise YamlError("line %d: content after document start is not supported" % lineno)
            i += 1
            continue
        if line.rstrip() == "...":
            i += 1
            continue
        ind = indent_of(line, lineno)
        if ind != 0:
            raise YamlError("line %d: unexpected indentation (nested mappings are not supported)" % lineno)
        if line.startswith("- ") or line.rstrip() == "-":
            raise YamlError("line %d: config file must be a mapping, not a list" % lineno)
        m = _KEY_RE.match(line)
        if not m:
            raise YamlError("line %d: could not find expected ':'" % lineno)
        seen_content = True
        key = m.group("key")
        if key[0] in "'\"":
            key, _ = _parse_quoted(key, lineno)
        rest = m.group("rest") or ""
        value, empty = _inline_value(rest, lineno)
        i += 1
        if empty:
            # block list, null, or (unsupported) nested mapping
            items = []
            item_indent = None
            while i < n:
                l2 = lines[i].rstrip("\r")
                ln2 = i + 1
                if not content(l2):
                    i += 1
                    continue
                ind2 = indent_of(l2, ln2)
                body = l2[ind2:]
                if body.startswith("- ") or body.rstrip() == "-":
                    if item_indent is None:
                        item_indent = ind2
                    elif ind2 != item_indent:
                        if ind2 > item_indent:
                            raise YamlError("line %d: nested lists are not supported" % ln2)
                        raise YamlError("line %d: did not find expected key" % ln2)
                    val, e2 = _inline_value(body[1:], ln2)
                    if isinstance(val, list):
                        raise YamlError("line %d: nested lists are not supported" % ln2)
                    i += 1
                    if e2:
                        val = Plain("")
                        # a nested block under an empty item is unsupported
                    # folded continuation of a plain item
                    while isinstance(val, Plain) and i < n:
                        l3 = lines[i].rstrip("\r")
                        if not content(l3):
                            break
                        ind3 = indent_of(l3, i + 1)
                        if ind3 <= item_indent:
                            break
                        if l3.strip().startswith("- "):
                            raise YamlError("line %d: nested lists are not supported" % (i + 1))
                        cont = _strip_comment(l3.strip())
                        _check_plain(cont, i + 1)
                        val = Plain((val + " " + cont) if val else cont)
                        i += 1
                    items.append(val)
                    continue
                if ind2 == 0:
                    break
                if item_indent is not None:
                    raise YamlError("line %d: did not find expected '-' indicator" % ln2)
                raise YamlError("line %d: nested mappings are not supported in K3s config files" % ln2)
            value = items if item_indent is not None else None
        elif isinstance(value, Plain):
            # folded continuation lines for a plain scalar
            pending_blank = 0
            while i < n:
                l2 = lines[i].rstrip("\r")
                if not l2.strip():
                    pending_blank += 1
                    i += 1
                    continue
                if l2.strip().startswith("#"):
                    break
                ind2 = indent_of(l2, i + 1)
                if ind2 == 0:
                    break
                cont = _strip_comment(l2.strip())
                _check_plain(cont, i + 1)
                sep = "\n" * pending_blank if pending_blank else " "
                value = Plain(value + sep + cont)
                pending_blank = 0
                i += 1
        else:
            # quoted or flow: a deeper-indented line afterwards is an error
            j = i
            while j < n and not content(lines[j].rstrip("\r")):
                j += 1
            if j < n and indent_of(lines[j], j + 1) > 0:
                raise YamlError("line %d: did not find expected key" % (j + 1))
        result.append((key, value))
    return result
