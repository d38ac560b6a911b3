"""common.yamlscalar: the yaml.v2 scalar rules both YAML readers of the doubles share."""
from __future__ import annotations

import pytest

from common import yamlscalar
from k3s import yamlsub
from kubeadm import yamlk


@pytest.mark.parametrize("text,value", [
    ("0", 0), ("42", 42), ("-42", -42), ("+7", 7), ("1_000", 1000),
    ("0b101", 5), ("0x1F", 31), ("0o17", 15), ("0644", 420), ("-0x10", -16),
])
def test_int_literal(text: str, value: int) -> None:
    assert yamlscalar.int_literal(text) == value


@pytest.mark.parametrize("text", ["09", "0b2", "0x", "0o8"])
def test_int_literal_rejects_digits_outside_the_base(text: str) -> None:
    with pytest.raises(ValueError):
        yamlscalar.int_literal(text)


def test_words() -> None:
    assert {"yes", "On", "TRUE", "y"} <= yamlscalar.TRUES
    assert {"no", "Off", "FALSE", "n"} <= yamlscalar.FALSES
    assert {"", "~", "null"} <= yamlscalar.NULLS
    assert not yamlscalar.TRUES & yamlscalar.FALSES


class Boom(Exception):
    pass


@pytest.mark.parametrize("body,text", [
    ("plain", "plain"), (r"a\tb\nc", "a\tb\nc"), (r"\x41\u00e9\U0001F600", "A\u00e9\U0001F600"),
    (r"q\"q\\", 'q"q\\'), (r"\_\N", "\xa0\x85"),
])
def test_unescape_double_quoted(body: str, text: str) -> None:
    assert yamlscalar.unescape_double_quoted(body, 1, Boom) == text


@pytest.mark.parametrize("body,message", [
    ("\\q", "yaml: line 3: found unknown escape character while parsing a quoted scalar"),
    ("tail\\", "yaml: line 3: found unknown escape character while parsing a quoted scalar"),
    ("\\x4", "yaml: line 3: did not find expected hexdecimal number"),
    ("\\u12G4", "yaml: line 3: did not find expected hexdecimal number"),
])
def test_unescape_errors_carry_the_line_and_prefix(body: str, message: str) -> None:
    with pytest.raises(Boom) as e:
        yamlscalar.unescape_double_quoted(body, 3, Boom, prefix="yaml: ")
    assert str(e.value) == message


def test_both_readers_keep_their_own_wording() -> None:
    with pytest.raises(yamlsub.YamlError, match=r"^line 1: found unknown escape"):
        yamlsub.parse('k: "\\q"\n')
    with pytest.raises(yamlk.YamlError, match=r"^yaml: line 1: found unknown escape"):
        yamlk.load('k: "\\q"\n')


def test_both_readers_resolve_integers_through_the_shared_rules() -> None:
    # K3s config values become strings (convert.ToString); "09" is no octal and stays as written
    assert [yamlsub.to_string(v) for _, v in yamlsub.parse("a: 0644\nb: 0x10\nc: 09\n")] == ["420", "16", "09"]
    # kubeadm's reader: "09" is no integer for its pattern either, and yaml.v2 reads it as a float
    assert yamlk.resolve(yamlk.load("a: 0644\nb: 0x10\nc: 09\n")) == {"a": 420, "b": 16, "c": 9.0}
