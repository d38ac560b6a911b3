"""YAML 1.1 scalar rules (gopkg.in/yaml.v2) that both YAML readers of the doubles follow:
null and boolean words, the integer literals, double-quoted escapes.

Each reader keeps its own grammar (what it accepts, its error wording); this
module holds the tables and conversions they have in common.
"""
from __future__ import annotations

import re
from typing import Callable

NULLS = frozenset({"", "~", "null", "Null", "NULL"})
TRUES = frozenset({"y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"})
FALSES = frozenset({"n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE"})

# escape character after a backslash in a double-quoted scalar -> the text it stands for
DQ_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "/": "/", " ": " ", "a": "\a",
              "b": "\b", "e": "\x1b", "f": "\f", "v": "\v", "\t": "\t", "N": "\x85", "_": "\xa0",
              "L": "\u2028", "P": "\u2029"}
_HEX_WIDTH = {"x": 2, "u": 4, "U": 8}
_HEX = re.compile(r"^[0-9a-fA-F]+$")


def int_literal(text: str) -> int:
    """The value of a YAML 1.1 integer literal that the caller's pattern accepted: sign, ``_``
    separators, ``0b`` binary, ``0x`` hex, ``0o`` or leading-``0`` octal, else decimal.
    ValueError when the digits do not fit the base (``09``)."""
    t = text.replace("_", "")
    sign = -1 if t.startswith("-") else 1
    t = t.lstrip("+-")
    if t.startswith("0b"):
        n = int(t[2:], 2)
    elif t.startswith("0x"):
        n = int(t[2:], 16)
    elif t.startswith("0o"):
        n = int(t[2:], 8)
    elif len(t) > 1 and t.startswith("0"):
        n = int(t[1:], 8)
    else:
        n = int(t, 10)
    return sign * n


def unescape_double_quoted(body: str, lineno: int, error: Callable[[str], Exception], prefix: str = "") -> str:
    """The text of a double-quoted scalar's body (between the quotes). A bad escape raises
    ``error(prefix + "line N: <yaml.v2's message>")``."""
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        if i + 1 >= len(body):
            raise error("%sline %d: found unknown escape character while parsing a quoted scalar" % (prefix, lineno))
        n = body[i + 1]
        if n in DQ_ESCAPES:
            out.append(DQ_ESCAPES[n])
            i += 2
        elif n in _HEX_WIDTH:
            width = _HEX_WIDTH[n]
            hexs = body[i + 2:i + 2 + width]
            if len(hexs) != width or not _HEX.match(hexs):
                raise error("%sline %d: did not find expected hexdecimal number" % (prefix, lineno))
            out.append(chr(int(hexs, 16)))
            i += 2 + width
        else:
            raise error("%sline %d: found unknown escape character while parsing a quoted scalar" % (prefix, lineno))
    return "".join(out)
