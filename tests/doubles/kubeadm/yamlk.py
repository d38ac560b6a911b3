"""A YAML subset reader and a block-style writer for the kubeadm/kubelet double (stdlib only).

The K3s double's yamlsub.py only reads flat K3s config files; kubeadm
configuration files, kubeconfigs, kubelet configuration files and static Pod
manifests need nesting, so this module reads:

* several documents separated by ``---`` (``...`` ends one), comments, blank lines
* block mappings and block sequences at any depth, including sequences at
  the same indentation as their parent key (PyYAML/Ansible ``to_nice_yaml``
  style) and compact ``- key: value`` items
* flow collections ``[...]`` and ``{...}`` (nested, possibly over several lines)
* plain scalars (folded continuation lines), single- and double-quoted
  scalars (one or several lines), literal and folded block scalars (``|``,
  ``>``, with ``-``/``+`` chomping)

Not supported (YamlError): anchors, aliases, tags, complex keys, tabs as
indentation.  A repeated key in one mapping is an error, like sigs.k8s.io/yaml.

Scalars come back as ``Plain`` (unquoted: resolution depends on the target
type, as sigs.k8s.io/yaml does with a typed target) or ``Quoted`` (always a
string).  ``resolve()`` turns a tree into plain Python values with yaml.v2
(YAML 1.1) rules for untyped use (kubeconfigs, manifests).
"""
import json
import re

from common import yamlscalar


class YamlError(Exception):
    pass


class Plain(str):
    """An unquoted scalar."""


class Quoted(str):
    """A quoted or block scalar: always a string."""


class Map(dict):
    """A mapping that remembers the line of each key (for error messages)."""
    lines = None


NULLS = yamlscalar.NULLS
TRUES = yamlscalar.TRUES
FALSES = yamlscalar.FALSES
_INT = re.compile(r"^[-+]?(0b[01_]+|0x[0-9a-fA-F_]+|0o?[0-7_]+|[1-9][0-9_]*|0)$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?$")
_SPECIAL_FLOAT = {".inf": float("inf"), "+.inf": float("inf"), "-.inf": float("-inf"), ".nan": float("nan"),
                  ".Inf": float("inf"), "-.Inf": float("-inf"), ".NaN": float("nan")}


def plain_int(s):
    """The int a plain scalar resolves to (yaml.v2), or None."""
    if not _INT.match(s):
        return None
    try:
        return yamlscalar.int_literal(s)
    except ValueError:
        return None


def resolve_scalar(v):
    if not isinstance(v, Plain):
        return str(v) if isinstance(v, str) else v
    s = str(v)
    if s in NULLS:
        return None
    if s in TRUES:
        return True
    if s in FALSES:
        return False
    n = plain_int(s)
    if n is not None:
        return n
    if s in _SPECIAL_FLOAT:
        return _SPECIAL_FLOAT[s]
    if _FLOAT.match(s) and any(c.isdigit() for c in s):
        return float(s.replace("_", ""))
    return s


def resolve(node):
    """Plain Python values (dict/list/str/int/float/bool/None) from a parsed tree."""
    if isinstance(node, dict):
        return {str(resolve_scalar(k)) if not isinstance(k, str) else str(k): resolve(v) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(x) for x in node]
    return resolve_scalar(node)


# ---------------------------------------------------------------------------
# reader

_KEY = re.compile(r"""^(?P<key>"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"\[\]{}&*!|>%@`,?:-][^#]*?|[-?:][^\s#][^#]*?)\s*:(?:[ \t]+(?P<rest>.*)|$)""")


def _strip_comment(s):
    m = re.search(r"(^|[ \t])#", s)
    if m:
        s = s[:m.start()]
    return s.rstrip()


def _dq_unescape(body, lineno):
    return yamlscalar.unescape_double_quoted(body, lineno, YamlError, prefix="yaml: ")


def _fold_quoted(parts):
    """Line folding inside multi-line quoted scalars: one break -> space, blank lines -> newlines."""
    out = parts[0].rstrip(" \t") if len(parts) > 1 else parts[0]
    blanks = 0
    for idx, p in enumerate(parts[1:], 1):
        last = idx == len(parts) - 1
        t = p.strip(" \t") if not last else p.lstrip(" \t")
        if not t and not last:
            blanks += 1
            continue
        out += ("\n" * blanks) if blanks else " "
        out += t
        blanks = 0
    return out


class _Reader:
    def __init__(self, lines, first_lineno):
        self.lines = lines  # raw text lines of one document
        self.base = first_lineno
        self.i = 0

    def lineno(self, i=None):
        return self.base + (self.i if i is None else i)

    def err(self, msg, i=None):
        return YamlError("yaml: line %d: %s" % (self.lineno(i), msg))

    @staticmethod
    def is_content(line):
        s = line.strip()
        return bool(s) and not s.startswith("#")

    def indent(self, i):
        line = self.lines[i]
        m = re.match(r"^( *)", line)
        n = len(m.group(1))
        if line[n:n + 1] == "\t":
            raise self.err("found character that cannot start any token", i)
        return n

    def next_content(self):
        j = self.i
        while j < len(self.lines) and not self.is_content(self.lines[j]):
            j += 1
        return j

    # -- entry -------------------------------------------------------------
    def document(self):
        j = self.next_content()
        if j >= len(self.lines):
            return None
        self.i = j
        node = self.node(self.indent(j), top=True)
        j = self.next_content()
        if j < len(self.lines):
            raise self.err("did not find expected <document start>", j)
        return node

    def node(self, ind, top=False):
        """Parse the block node that starts at the current content line (indent ``ind``)."""
        self.i = self.next_content()
        line = self.lines[self.i]
        body = line[ind:]
        if body.startswith("- ") or body.rstrip() == "-":
            return self.seq(ind)
        if _KEY.match(body):
            return self.mapping(ind)
        # a bare scalar or flow collection as the whole node
        return self.inline_value(body, ind - 1, self.i)

    # -- block collections -------------------------------------------------
    def mapping(self, ind):
        out = Map()
        out.lines = {}
        while True:
            j = self.next_content()
            if j >= len(self.lines):
                break
            cur = self.indent(j)
            if cur < ind:
                break
            if cur > ind:
                raise self.err("mapping values are not allowed in this context", j)
            body = self.lines[j][ind:]
            if body.startswith("- ") or body.rstrip() == "-":
                break  # a sequence at the parent's indentation ends this mapping
            m = _KEY.match(body)
            if not m:
                raise self.err("could not find expected ':'", j)
            key = m.group("key")
            if key[0] == '"':
                key = _dq_unescape(key[1:-1], self.lineno(j))
            elif key[0] == "'":
                key = key[1:-1].replace("''", "'")
            else:
                key = key.rstrip()
                if key[0] in "&*!":
                    raise self.err("anchors, aliases and tags are not supported", j)
            if key in out:
                raise YamlError('yaml: unmarshal errors:\n  line %d: key "%s" already set in map'
                                % (self.lineno(j), key))
            out.lines[key] = self.lineno(j)
            rest = m.group("rest") or ""
            self.i = j + 1
            out[key] = self.value_after_key(rest, ind, j)
        return out

    def value_after_key(self, rest, ind, j):
        text = _strip_comment(rest) if not rest.lstrip().startswith(("'", '"')) else rest.strip()
        if not text:
            k = self.next_content()
            if k < len(self.lines):
                kin = self.indent(k)
                kb = self.lines[k][kin:]
                if kin > ind or (kin == ind and (kb.startswith("- ") or kb.rstrip() == "-")):
                    return self.node(kin)
            return Plain("")
        return self.inline_value(rest.strip(), ind, j)

    def seq(self, ind):
        out = []
        while True:
            j = self.next_content()
            if j >= len(self.lines):
                break
            cur = self.indent(j)
            if cur < ind:
                break
            body = self.lines[j][ind:]
            if cur > ind or not (body.startswith("- ") or body.rstrip() == "-"):
                if cur == ind:
                    break
                raise self.err("did not find expected '-' indicator", j)
            rest = body[1:]
            if not rest.strip() or rest.strip().startswith("#"):
                self.i = j + 1
                k = self.next_content()
                if k < len(self.lines) and self.indent(k) > ind:
                    out.append(self.node(self.indent(k)))
                else:
                    out.append(Plain(""))
                continue
            sub = len(rest) - len(rest.lstrip(" "))
            item_ind = ind + 1 + sub
            item = rest.lstrip(" ")
            if item.startswith("- ") or item.rstrip() == "-" or (_KEY.match(item) and not item.startswith(("[", "{"))):
                # compact nested node: rewrite "- " as spaces and parse it in place
                self.lines[j] = " " * item_ind + item
                self.i = j
                out.append(self.node(item_ind))
                continue
            self.i = j + 1
            out.append(self.inline_value(item, ind, j))
        return out

    # -- scalars and flow ---------------------------------------------------
    def inline_value(self, text, ind, j):
        """A value that starts on line j after 'key:' or '- ' (parent indentation ``ind``)."""
        self.i = j + 1
        c = text[:1]
        if c in "&*!":
            raise self.err("anchors, aliases and tags are not supported", j)
        if c in "|>":
            return self.block_scalar(text, ind, j)
        if c in "[{":
            buf, k = text, j
            while True:
                try:
                    val, pos = _Flow(buf, self.lineno(j)).parse()
                    break
                except _Incomplete:
                    k += 1
                    if k >= len(self.lines):
                        raise self.err("did not find expected ',' or ']'", j)
                    buf += "\n" + self.lines[k]
            tail = _strip_comment(buf[pos:])
            if tail.strip():
                raise self.err("did not find expected key", k)
            self.i = k + 1
            return val
        if c in "'\"":
            return self.quoted(text, j)
        # plain, with folded continuation lines deeper than the parent
        val = _strip_comment(text)
        if re.search(r":(\s|$)", val):
            raise self.err("mapping values are not allowed in this context", j)
        parts = [val]
        k = j + 1
        while k < len(self.lines):
            line = self.lines[k]
            if not line.strip():
                parts.append("")
                k += 1
                continue
            if line.strip().startswith("#"):
                break
            if self.indent(k) <= ind:
                break
            t = _strip_comment(line.strip())
            if re.search(r":(\s|$)", t) or t.startswith("- "):
                raise self.err("mapping values are not allowed in this context", k)
            parts.append(t)
            k += 1
        while parts and parts[-1] == "" and len(parts) > 1:
            parts.pop()
        self.i = k
        return Plain(_fold_quoted(parts) if len(parts) > 1 else parts[0])

    def quoted(self, text, j):
        q = text[0]
        buf, k = text, j
        while True:
            end = self._find_close(buf, q)
            if end is not None:
                break
            k += 1
            if k >= len(self.lines):
                raise self.err("found unexpected end of stream while scanning a quoted scalar", j)
            buf += "\n" + self.lines[k]
        inner, tail = buf[1:end], buf[end + 1:]
        if _strip_comment(tail).strip():
            raise self.err("did not find expected key", k)
        self.i = k + 1
        parts = inner.split("\n")
        if q == "'":
            return Quoted(_fold_quoted(parts).replace("''", "'"))
        if len(parts) > 1:
            # an escaped line break joins lines without a space
            joined = []
            for p in parts:
                joined.append(p)
            text2 = _fold_quoted(joined)
            return Quoted(_dq_unescape(text2, self.lineno(j)))
        return Quoted(_dq_unescape(inner, self.lineno(j)))

    @staticmethod
    def _find_close(buf, q):
        i = 1
        while i < len(buf):
            ch = buf[i]
            if q == '"' and ch == "\\":
                i += 2
                continue
            if ch == q:
                if q == "'" and i + 1 < len(buf) and buf[i + 1] == "'":
                    i += 2
                    continue
                return i
            i += 1
        return None

    def block_scalar(self, header, ind, j):
        m = re.match(r"^([|>])([-+]?)([1-9]?)([-+]?)\s*(#.*)?$", header)
        if not m:
            raise self.err("did not find expected comment or line break", j)
        style, chomp = m.group(1), m.group(2) or m.group(4)
        explicit = int(m.group(3)) if m.group(3) else None
        k = j + 1
        lines = []
        block_ind = ind + explicit if explicit else None
        while k < len(self.lines):
            line = self.lines[k]
            if not line.strip():
                lines.append("")
                k += 1
                continue
            n = len(line) - len(line.lstrip(" "))
            if block_ind is None:
                if n <= ind:
                    break
                block_ind = n
            if n < block_ind:
                break
            lines.append(line[block_ind:])
            k += 1
        self.i = k
        trailing = 0
        while lines and lines[-1] == "":
            lines.pop()
            trailing += 1
        if style == "|":
            text = "\n".join(lines)
        else:
            text, prev_more = "", False
            for idx, l in enumerate(lines):
                more = l.startswith(" ") or l == ""
                if idx == 0:
                    text = l
                elif l == "":
                    text += "\n"
                elif more or prev_more or text.endswith("\n"):
                    text += ("\n" if not text.endswith("\n") else "") + l
                else:
                    text += " " + l
                prev_more = l.startswith(" ")
        if lines:
            if chomp == "-":
                pass
            elif chomp == "+":
                text += "\n" * (trailing + 1)
            else:
                text += "\n"
        return Quoted(text)


class _Incomplete(Exception):
    pass


class _Flow:
    def __init__(self, s, lineno):
        self.s, self.i, self.lineno = s, 0, lineno

    def err(self, msg):
        return YamlError("yaml: line %d: %s" % (self.lineno, msg))

    def ws(self):
        while self.i < len(self.s) and self.s[self.i] in " \t\n":
            self.i += 1

    def parse(self):
        v = self.value()
        return v, self.i

    def value(self):
        self.ws()
        if self.i >= len(self.s):
            raise _Incomplete()
        c = self.s[self.i]
        if c == "[":
            self.i += 1
            out = []
            while True:
                self.ws()
                if self.i >= len(self.s):
                    raise _Incomplete()
                if self.s[self.i] == "]":
                    self.i += 1
                    return out
                out.append(self.value())
                self.ws()
                if self.i >= len(self.s):
                    raise _Incomplete()
                if self.s[self.i] == ",":
                    self.i += 1
                elif self.s[self.i] != "]":
                    raise self.err("did not find expected ',' or ']'")
        if c == "{":
            self.i += 1
            out = Map()
            out.lines = {}
            while True:
                self.ws()
                if self.i >= len(self.s):
                    raise _Incomplete()
                if self.s[self.i] == "}":
                    self.i += 1
                    return out
                k = self.scalar(key=True)
                self.ws()
                if self.i < len(self.s) and self.s[self.i] == ":":
                    self.i += 1
                    self.ws()
                    if self.i < len(self.s) and self.s[self.i] in ",}":
                        v = Plain("")
                    else:
                        v = self.value()
                else:
                    v = Plain("")
                if str(k) in out:
                    raise YamlError('yaml: unmarshal errors:\n  line %d: key "%s" already set in map' % (self.lineno, k))
                out[str(k)] = v
                out.lines[str(k)] = self.lineno
                self.ws()
                if self.i >= len(self.s):
                    raise _Incomplete()
                if self.s[self.i] == ",":
                    self.i += 1
                elif self.s[self.i] != "}":
                    raise self.err("did not find expected ',' or '}'")
        return self.scalar()

    def scalar(self, key=False):
        self.ws()
        if self.i >= len(self.s):
            raise _Incomplete()
        c = self.s[self.i]
        if c in "'\"":
            end = _Reader._find_close(self.s[self.i:], c)
            if end is None:
                raise _Incomplete()
            inner = self.s[self.i + 1:self.i + end]
            self.i += end + 1
            parts = inner.split("\n")
            inner = _fold_quoted(parts) if len(parts) > 1 else inner
            if c == "'":
                return Quoted(inner.replace("''", "'"))
            return Quoted(_dq_unescape(inner, self.lineno))
        if c in "&*!|>":
            raise self.err("anchors, aliases, tags and block scalars are not supported in flow context")
        start = self.i
        while self.i < len(self.s):
            ch = self.s[self.i]
            if ch in ",[]{}":
                break
            if ch == ":" and (self.i + 1 >= len(self.s) or self.s[self.i + 1] in " ,]}"):
                break
            if ch == "#" and self.i > start and self.s[self.i - 1] == " ":
                break
            self.i += 1
        return Plain(self.s[start:self.i].strip())


def split_documents(text):
    """[(first line number, [lines])] for each document in a stream."""
    if text.startswith("\ufeff"):
        text = text[1:]
    docs, cur, start = [], [], 1
    for n, raw in enumerate(text.replace("\r\n", "\n").split("\n"), 1):
        if raw.startswith("---") and (len(raw) == 3 or raw[3] in " \t"):
            docs.append((start, cur))
            rest = raw[3:].strip()
            cur, start = [], n
            if rest and not rest.startswith("#"):
                cur.append(" " * 4 + rest)  # inline content after '---'
            else:
                cur.append("")
            continue
        if raw.rstrip() == "...":
            docs.append((start, cur))
            cur, start = [], n + 1
            continue
        if raw.startswith("%"):
            raise YamlError("yaml: line %d: directives are not supported" % n)
        cur.append(raw)
    docs.append((start, cur))
    return docs


def load_all(text, keep_empty=False):
    """Parsed documents of a stream (raw trees with Plain/Quoted scalars)."""
    out = []
    for start, lines in split_documents(text):
        if not any(_Reader.is_content(l) for l in lines):
            if keep_empty:
                out.append(None)
            continue
        out.append(_Reader(list(lines), start).document())
    return out


def load(text):
    docs = load_all(text)
    if len(docs) > 1:
        raise YamlError("expected a single YAML document, found %d" % len(docs))
    return docs[0] if docs else None


def safe_load(text):
    """One document as plain Python values (yaml.v2 resolution)."""
    return resolve(load(text))


# ---------------------------------------------------------------------------
# writer

_PLAIN_OK = re.compile(r"^(-(?=[^\s-])|--(?=[^\s-])|[A-Za-z0-9_./])[A-Za-z0-9_./:@=+,*\- ]*$")


def _needs_quotes(s):
    if s == "" or s != s.strip() or "\n" in s or "\t" in s:
        return True
    if resolve_scalar(Plain(s)) != s or s in NULLS:
        return True
    if not _PLAIN_OK.match(s):
        return True
    if ": " in s or " #" in s or s.endswith(":"):
        return True
    return False


def scalar_text(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    s = str(v)
    return json.dumps(s) if _needs_quotes(s) else s


def _emit(v, ind, out):
    pad = " " * ind
    if isinstance(v, dict):
        for k, x in v.items():
            key = scalar_text(str(k))
            if isinstance(x, dict) and x:
                out.append("%s%s:" % (pad, key))
                _emit(x, ind + 2, out)
            elif isinstance(x, list) and x:
                out.append("%s%s:" % (pad, key))
                _emit(x, ind, out)
            else:
                out.append("%s%s: %s" % (pad, key, _inline(x)))
    elif isinstance(v, list):
        for x in v:
            if isinstance(x, dict) and x:
                sub = []
                _emit(x, ind + 2, sub)
                sub[0] = pad + "- " + sub[0][ind + 2:]
                out.extend(sub)
            elif isinstance(x, list) and x:
                sub = []
                _emit(x, ind + 2, sub)
                sub[0] = pad + "- " + sub[0][ind + 2:]
                out.extend(sub)
            else:
                out.append("%s- %s" % (pad, _inline(x)))
    else:
        out.append(pad + _inline(v))


def _inline(x):
    if isinstance(x, dict):
        return "{}"
    if isinstance(x, list):
        return "[]"
    return scalar_text(x)


def dump(obj):
    """Block-style YAML for dicts/lists/scalars (keys in insertion order)."""
    out = []
    _emit(obj, 0, out)
    return "\n".join(out) + "\n"


def dump_all(docs):
    return "---\n".join(dump(d) for d in docs)
