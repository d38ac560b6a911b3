# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os
import random

import pytest
import yaml

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.k3s_release import (
    K3sReleaseError,
    K3sVersion,
    classify_k3s_version,
    k3s_asset,
    k3s_version_key,
    kube_minor,
    parse_k3s_version,
    parse_sha256sums,
)

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'fixtures')
with open(os.path.join(FIXTURES, 'k3s_release_cases.yml'), encoding='utf-8') as _handle:
    CASES = yaml.safe_load(_handle)

AMD64 = 'a' * 64
ARM64 = 'B' * 64
IMAGES = '0123456789abcdef' * 4
SUMS = (
    '%s  k3s\n'
    '%s  k3s-airgap-images-amd64.tar.gz\n'
    '%s *k3s-airgap-images-amd64.tar.zst\n'
) % (AMD64, IMAGES, 'c' * 64)


@pytest.mark.parametrize('case', CASES['k3s_asset']['ok'], ids=lambda c: repr(c['arch']))
def test_k3s_asset(case):
    assert k3s_asset(case['arch']) == case['expect']


@pytest.mark.parametrize('case', CASES['k3s_asset']['error'], ids=lambda c: repr(c['arch']))
def test_k3s_asset_errors(case):
    with pytest.raises(K3sReleaseError, match=case['match']):
        k3s_asset(case['arch'])


def test_k3s_asset_returns_a_copy():
    first = k3s_asset('x86_64')
    first['binary'] = 'changed'
    assert k3s_asset('x86_64')['binary'] == 'k3s'


def test_sha256_found():
    assert parse_sha256sums(SUMS, 'k3s') == AMD64
    assert parse_sha256sums(SUMS, 'k3s-airgap-images-amd64.tar.gz') == IMAGES


def test_sha256_binary_marker_and_lowercase():
    text = '%s *k3s-arm64\r\n' % ARM64
    assert parse_sha256sums(text, 'k3s-arm64') == ARM64.lower()


def test_sha256_exact_name_only():
    text = '%s  k3s-arm64\n' % ARM64
    with pytest.raises(K3sReleaseError, match="no entry for 'k3s'; it lists: k3s-arm64"):
        parse_sha256sums(text, 'k3s')


def test_sha256_missing_lists_contents():
    with pytest.raises(K3sReleaseError) as excinfo:
        parse_sha256sums(SUMS, 'k3s-armhf')
    message = str(excinfo.value)
    assert "no entry for 'k3s-armhf'" in message
    assert 'k3s, k3s-airgap-images-amd64.tar.gz, k3s-airgap-images-amd64.tar.zst' in message


def test_sha256_blank_lines_ignored():
    assert parse_sha256sums('\n\n%s  k3s\n\n' % AMD64, 'k3s') == AMD64


def test_sha256_empty_file():
    with pytest.raises(K3sReleaseError, match='checksum file is empty'):
        parse_sha256sums('\n', 'k3s')


@pytest.mark.parametrize('line', [
    '<html><body>Not Found</body></html>',
    'abc  k3s',
    '%s k3s' % ('a' * 63),
    '%s\tk3s' % AMD64,
    '%s  ' % AMD64,
])
def test_sha256_malformed(line):
    text = '%s  k3s-airgap-images-amd64.tar.gz\n%s\n' % (IMAGES, line)
    with pytest.raises(K3sReleaseError, match='Malformed line 2'):
        parse_sha256sums(text, 'k3s')


def test_sha256_duplicates_agreeing():
    assert parse_sha256sums('%s  k3s\n%s  k3s\n' % (AMD64, AMD64.upper()), 'k3s') == AMD64


def test_sha256_duplicates_disagreeing():
    with pytest.raises(K3sReleaseError, match="lists 'k3s' more than once with different digests"):
        parse_sha256sums('%s  k3s\n%s  k3s\n' % (AMD64, IMAGES), 'k3s')


@pytest.mark.parametrize('case', CASES['classify_k3s_version']['ok'], ids=lambda c: repr(c['value']))
def test_classify(case):
    assert classify_k3s_version(case['value']) == {'kind': case['kind'], 'value': case['normalized']}


@pytest.mark.parametrize('case', CASES['classify_k3s_version']['error'], ids=lambda c: repr(c['value']))
def test_classify_errors(case):
    with pytest.raises(K3sReleaseError, match=case['match']):
        classify_k3s_version(case['value'])


def test_classify_error_explains_both_forms():
    with pytest.raises(K3sReleaseError) as excinfo:
        classify_k3s_version('newest')
    message = str(excinfo.value)
    assert 'v1.33.5+k3s1' in message
    assert "'stable', 'latest', 'testing'" in message
    assert "'v1.33'" in message


@pytest.mark.parametrize('case', CASES['parse_k3s_version']['ok'], ids=lambda c: c['tag'])
def test_parse_version(case):
    parsed = parse_k3s_version(case['tag'])
    assert isinstance(parsed, K3sVersion)
    assert tuple(parsed) == tuple(case['expect'])
    assert kube_minor(case['tag']) == case['kube_minor']


@pytest.mark.parametrize('case', CASES['parse_k3s_version']['error'], ids=lambda c: c['tag'])
def test_parse_version_errors(case):
    with pytest.raises(K3sReleaseError, match=case['match']):
        parse_k3s_version(case['tag'])
    with pytest.raises(K3sReleaseError):
        kube_minor(case['tag'])


@pytest.mark.parametrize('ordered', CASES['parse_k3s_version']['ordering'])
def test_version_key_orders_releases(ordered):
    shuffled = list(ordered)
    random.Random(4).shuffle(shuffled)
    assert sorted(shuffled, key=k3s_version_key) == ordered


def test_upstream_arm_key_maps_to_the_armhf_build() -> None:
    from ansible_collections.kubeforge.cluster.plugins.plugin_utils.k3s_release import k3s_asset
    assert k3s_asset('arm')['binary'] == 'k3s-armhf'
    assert k3s_asset('arm') == k3s_asset('armv7l')


@pytest.mark.parametrize("value, hint", [
    ("Stable", "did you mean 'stable'?"), ("LATEST", "did you mean 'latest'?"), ("V1.35", "did you mean 'v1.35'?"),
    ("V1.35.1+K3S1", "did you mean 'v1.35.1+k3s1'?"), ("stabel", "Did you mean the channel 'stable'?"),
    ("lastest", "Did you mean the channel 'latest'?"),
])
def test_near_miss_versions_get_the_closest_valid_value(value: str, hint: str) -> None:
    with pytest.raises(K3sReleaseError) as err:
        classify_k3s_version(value)
    assert hint in str(err.value)


def test_far_off_versions_get_no_guess() -> None:
    with pytest.raises(K3sReleaseError) as err:
        classify_k3s_version("nightly-build-42")
    assert "Did you mean" not in str(err.value) and "did you mean" not in str(err.value)
