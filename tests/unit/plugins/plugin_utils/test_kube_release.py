from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.kubeforge.cluster.plugins.filter.kubeadm import FilterModule
from ansible_collections.kubeforge.cluster.plugins.plugin_utils.kube_release import KubeReleaseError, kube_sha256

DIGEST = "5e0c0e8e1b2d0f1a9c3b7d6e4f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"


@pytest.mark.parametrize("text", [DIGEST, DIGEST + "\n", "\n" + DIGEST.upper() + "  \n",
                                  DIGEST + "  kubeadm\n", DIGEST + " *kubeadm"])
def test_digest_forms_dl_k8s_io_and_mirrors_publish(text: str) -> None:
    assert kube_sha256(text) == DIGEST
    assert FilterModule().filters()["kube_sha256"](text) == DIGEST


@pytest.mark.parametrize("text, message", [
    ("", "has 0 non-empty lines"),
    ("<html>\n<body>Not Found</body>\n</html>", "has 3 non-empty lines"),
    ("Not Found", "is not a SHA-256 digest"),
    (DIGEST[:-1], "is not a SHA-256 digest"),
    (DIGEST + "0", "is not a SHA-256 digest"),
    (DIGEST + "\n" + DIGEST, "has 2 non-empty lines"),
])
def test_anything_else_is_refused(text: str, message: str) -> None:
    with pytest.raises(KubeReleaseError, match=message):
        kube_sha256(text)
    with pytest.raises(AnsibleFilterError, match=message):
        FilterModule().filters()["kube_sha256"](text)
