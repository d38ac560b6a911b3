# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release-file pipeline's pure logic: declared items, digests, stamps, messages."""
from __future__ import annotations

import pytest

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.release_files import (
    ReleaseFileError,
    expected_digest,
    failure_message,
    make_stamp,
    normalise,
    read_stamp,
    stamp_fresh,
)

HEX = "ab" * 32
OTHER = "cd" * 32


def item(**over: object) -> dict[str, object]:
    base: dict[str, object] = {"name": "k3s", "url": "https://example.test/v1/k3s",
                               "checksum_url": "https://example.test/v1/sha256sum-amd64.txt", "dest": "k3s/v1/k3s"}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def test_defaults_are_filled_in() -> None:
    spec = normalise([item()])[0]
    assert (spec.mode, spec.checksum_format, spec.checksum_name) == ("0644", "sha256sum", "k3s")
    assert spec.digest_source == "https://example.test/v1/sha256sum-amd64.txt"


def test_pinned_digest_accepts_prefix_and_case() -> None:
    spec = normalise([item(checksum_url=None, checksum="SHA256:" + HEX.upper())])[0]
    assert spec.checksum == HEX and spec.digest_source == "sha256:" + HEX


def test_same_file_declared_by_two_roles_is_kept_once() -> None:
    assert len(normalise([item(), item()])) == 1


@pytest.mark.parametrize("bad, message", [
    (item(name="no spaces"), "'name' must be a short identifier"),
    (item(url="ftp://example.test/k3s"), "must be an https://, http:// or file:// URL"),
    (item(url="https://example.test/"), "must be an https://, http:// or file:// URL"),
    (item(dest="/etc/passwd"), "'dest' must be a path inside the cache directory"),
    (item(dest="../outside"), "'dest' must be a path inside the cache directory"),
    (item(mode="rwx"), "'mode' must be an octal string"),
    (item(checksum="sha256:" + HEX), "give exactly one of 'checksum'"),
    (item(checksum_url=None), "give exactly one of 'checksum'"),
    (item(checksum_url=None, checksum="sha256:1234"), "must be sha256: followed by 64 hex digits"),
    (item(checksum_format="md5"), "'checksum_format' must be one of sha256sum, digest"),
    (item(extra=1), "unknown key(s) extra"),
])
def test_bad_items_are_refused(bad: dict[str, object], message: str) -> None:
    with pytest.raises(ReleaseFileError) as err:
        normalise([bad])
    assert message in str(err.value)


def test_a_cache_file_with_two_sources_is_refused() -> None:
    with pytest.raises(ReleaseFileError, match="declared twice with different sources"):
        normalise([item(), item(name="k3s2", url="https://mirror.test/v1/k3s")])


def test_a_name_with_two_destinations_is_refused() -> None:
    with pytest.raises(ReleaseFileError, match="declared twice with different destinations"):
        normalise([item(), item(dest="k3s/v2/k3s")])


def test_not_a_list_is_refused() -> None:
    with pytest.raises(ReleaseFileError, match="files must be a list"):
        normalise({"name": "k3s"})


def test_expected_digest_from_each_format() -> None:
    sums = normalise([item()])[0]
    assert expected_digest(sums, f"{OTHER}  k3s-arm64\n{HEX}  k3s\n") == HEX
    bare = normalise([item(checksum_format="digest", checksum_url="https://example.test/k3s.sha256")])[0]
    assert expected_digest(bare, HEX + "\n") == HEX
    pinned = normalise([item(checksum_url=None, checksum=HEX)])[0]
    assert expected_digest(pinned, None) == HEX


@pytest.mark.parametrize("text, message", [
    (f"{HEX}  k3s-arm64\n", "has no entry for 'k3s'"),
    ("<html>Not found</html>", "Malformed line 1"),
    ("", "is empty"),
])
def test_unusable_digest_files_are_mismatches(text: str, message: str) -> None:
    with pytest.raises(ReleaseFileError) as err:
        expected_digest(normalise([item()])[0], text)
    assert err.value.kind == "mismatch" and message in str(err.value)
    assert str(err.value).startswith("https://example.test/v1/sha256sum-amd64.txt: ")


def test_stamp_round_trip_and_what_invalidates_it() -> None:
    spec = normalise([item()])[0]
    stamp = read_stamp(make_stamp(spec, HEX, 10, 99))
    assert stamp_fresh(spec, stamp, 10, 99)
    assert not stamp_fresh(spec, stamp, 11, 99), "a file of another size was changed in the cache"
    assert not stamp_fresh(spec, stamp, 10, 100), "a file touched since was changed in the cache"
    moved = normalise([item(url="https://mirror.test/v1/k3s")])[0]
    assert not stamp_fresh(moved, stamp, 10, 99), "another source must be verified again"
    assert not stamp_fresh(spec, read_stamp("not json"), 10, 99)
    assert not stamp_fresh(spec, read_stamp("[1]"), 10, 99)
    # The stamp's digest is handed to the install step: a stamp without a well-formed one is not trusted.
    assert not stamp_fresh(spec, {**stamp, "sha256": "not a digest"}, 10, 99)
    assert not stamp_fresh(spec, {k: v for k, v in stamp.items() if k != "sha256"}, 10, 99)


def test_stamp_of_a_pinned_digest_follows_the_pin() -> None:
    spec = normalise([item(checksum_url=None, checksum=HEX)])[0]
    stamp = read_stamp(make_stamp(spec, HEX, 1, 1))
    assert stamp_fresh(spec, stamp, 1, 1)
    repinned = normalise([item(checksum_url=None, checksum=OTHER)])[0]
    assert not stamp_fresh(repinned, stamp, 1, 1)


def test_messages_say_which_failure_and_what_to_do() -> None:
    spec = normalise([item()])[0]
    mismatch = failure_message(spec, "K3s v1 for amd64", "k3s_artifacts_source: mirror",
                               ReleaseFileError("the downloaded file's sha256 is x", "mismatch"))
    assert mismatch.startswith("K3s v1 for amd64: k3s could not be fetched and verified from "
                               "https://example.test/v1/k3s (k3s_artifacts_source: mirror): digest mismatch: ")
    assert "The file does not match its published digest" in mismatch
    assert "The unverified download was not kept. No host has been changed." in mismatch
    unreachable = failure_message(spec, "K3s", "k3s_artifacts_source: mirror",
                                  ReleaseFileError("https://example.test/v1/k3s answered HTTP 404 Not Found",
                                                   "unreachable"))
    assert "source unreachable: https://example.test/v1/k3s answered HTTP 404 Not Found. " in unreachable
    assert "or use another k3s_artifacts_source. No host has been changed." in unreachable
    hinted = failure_message(spec, "Calico", "", ReleaseFileError("x", "mismatch"), "Pin it again.")
    assert "Pin it again. The unverified download" in hinted and "published digest" not in hinted
