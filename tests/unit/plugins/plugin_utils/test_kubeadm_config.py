from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.kubeadm_config import (
    KubeadmConfigError,
    args_list,
    kubeadm_documents,
    network_errors,
)

HASH = "sha256:" + "ab" * 32
KEY = "cd" * 32
INIT = {"kubernetes_version": "v1.35.2", "cluster_name": "hub", "control_plane_endpoint": "api.hub.example:6443",
        "pod_subnet": "10.244.0.0/16", "node_name": "cp-1", "advertise_address": "10.0.0.11"}
JOIN = {"node_name": "w-1", "discovery": {"api_server_endpoint": "api.hub.example:6443",
                                          "token": "abcdef.0123456789abcdef", "ca_cert_hashes": [HASH]}}


def kinds(docs: list[dict[str, Any]]) -> list[str]:
    return [d["kind"] for d in docs]


def test_init_documents() -> None:
    docs = kubeadm_documents("init", {**INIT, "bootstrap_token": "abcdef.0123456789abcdef", "certificate_key": KEY})
    assert kinds(docs) == ["InitConfiguration", "ClusterConfiguration", "KubeletConfiguration"]
    init, cluster, kubelet = docs
    assert {d["apiVersion"] for d in docs[:2]} == {"kubeadm.k8s.io/v1beta4"}
    assert kubelet["apiVersion"] == "kubelet.config.k8s.io/v1beta1"
    assert init["nodeRegistration"] == {"criSocket": "unix:///var/run/containerd/containerd.sock", "name": "cp-1"}
    assert init["localAPIEndpoint"] == {"advertiseAddress": "10.0.0.11"}
    assert init["bootstrapTokens"][0]["token"] == "abcdef.0123456789abcdef"
    assert init["certificateKey"] == KEY
    assert cluster["kubernetesVersion"] == "v1.35.2" and cluster["clusterName"] == "hub"
    assert cluster["controlPlaneEndpoint"] == "api.hub.example:6443"
    assert cluster["networking"] == {"podSubnet": "10.244.0.0/16", "serviceSubnet": "10.96.0.0/12"}
    # The kubelet and containerd must agree: the collection configures containerd with SystemdCgroup.
    assert kubelet["cgroupDriver"] == "systemd" and "failSwapOn" not in kubelet


def test_user_overrides_merge_and_maps_become_v1beta4_lists() -> None:
    docs = kubeadm_documents("init", {
        **INIT, "fail_swap_on": False, "kubelet_extra_args": {"node-labels": "tier=hub", "v": 2},
        "cluster_overrides": {"apiServer": {"extraArgs": {"audit-log-maxage": 30, "anonymous-auth": False},
                                            "certSANs": ["api.example"]},
                              "networking": {"dnsDomain": "hub.local"}},
        "kubelet_overrides": {"maxPods": 50}})
    init, cluster, kubelet = docs
    assert init["nodeRegistration"]["kubeletExtraArgs"] == [{"name": "node-labels", "value": "tier=hub"},
                                                            {"name": "v", "value": "2"}]
    assert cluster["apiServer"]["extraArgs"] == [{"name": "anonymous-auth", "value": "false"},
                                                 {"name": "audit-log-maxage", "value": "30"}]
    assert cluster["apiServer"]["certSANs"] == ["api.example"]
    # Merged key by key: the collection's subnets stay next to the user's key.
    assert cluster["networking"] == {"podSubnet": "10.244.0.0/16", "serviceSubnet": "10.96.0.0/12",
                                     "dnsDomain": "hub.local"}
    assert kubelet["failSwapOn"] is False and kubelet["maxPods"] == 50


def test_worker_join() -> None:
    [join] = kubeadm_documents("worker", {**JOIN, "taints": []})
    assert join["kind"] == "JoinConfiguration"
    assert join["discovery"] == {"bootstrapToken": {"apiServerEndpoint": "api.hub.example:6443",
                                                    "token": "abcdef.0123456789abcdef", "caCertHashes": [HASH]}}
    assert "controlPlane" not in join and "taints" not in join["nodeRegistration"]


def test_control_plane_join_needs_the_certificate_key() -> None:
    [join] = kubeadm_documents("control-plane", {**JOIN, "certificate_key": KEY, "advertise_address": "10.0.0.12",
                                                 "taints": []})
    assert join["controlPlane"] == {"certificateKey": KEY, "localAPIEndpoint": {"advertiseAddress": "10.0.0.12"}}
    assert join["nodeRegistration"]["taints"] == []
    with pytest.raises(KubeadmConfigError, match="joins with the certificate key"):
        kubeadm_documents("control-plane", JOIN)


@pytest.mark.parametrize("pods, services, message", [
    ("10.96.0.0/16", "10.96.0.0/12", "overlap"),
    ("10.244.0.0/16,fd00:10::/56", "10.96.0.0/12,fd00:10::/108", "fd00:10::/56 and the service subnet fd00:10::/108 overlap"),
    ("10.244.0.0/33", "10.96.0.0/12", "is not a network in CIDR form"),
    ("10.244.0.1/16", "10.96.0.0/12", "has host bits set"),
    ("", "10.96.0.0/12", "the pod subnet is empty"),
])
def test_network_errors(pods: str, services: str, message: str) -> None:
    errors = network_errors(pods, services)
    assert any(message in e for e in errors), errors
    with pytest.raises(KubeadmConfigError, match=message.split(" ")[-1]):
        kubeadm_documents("init", {**INIT, "pod_subnet": pods, "service_subnet": services})


def test_dual_stack_without_overlap_is_fine() -> None:
    assert network_errors("10.244.0.0/16,fd00:10:244::/56", "10.96.0.0/12,fd00:10:96::/108") == []


@pytest.mark.parametrize("role, settings, message", [
    ("master", INIT, "role must be one of"),
    ("init", {**INIT, "kubernetes_version": "1.35"}, "pinned release"),
    ("init", {**INIT, "control_plane_endpoint": "api.hub.example"}, "HOST:PORT"),
    ("init", {**INIT, "bootstrap_token": "short"}, "bootstrap token must match"),
    ("init", {**INIT, "certificate_key": "xyz"}, "64 lowercase hex"),
    ("init", {**INIT, "ignore_preflight_errors": ["all"]}, "may not be 'all'"),
    ("init", {**INIT, "ignore_preflight_errors": "Swap"}, "must be a list"),
    ("init", {**INIT, "cluster_overrides": {"kind": "X"}}, "may not set kind"),
    ("init", {**INIT, "cluster_overrides": {"apiServer": {"extraArgs": "x=y"}}}, "ClusterConfiguration.apiServer.extraArgs"),
    ("init", {**INIT, "kubelet_extra_args": [{"name": "v"}]}, "each item must be"),
    ("worker", {**JOIN, "discovery": {**JOIN["discovery"], "ca_cert_hashes": []}}, "CA public key pin"),
    ("worker", {**JOIN, "discovery": {**JOIN["discovery"], "ca_cert_hashes": ["sha256:XYZ"]}}, "CA public key pin"),
    ("worker", {**JOIN, "discovery": {**JOIN["discovery"], "token": "ABCDEF.0123456789abcdef"}}, "join token must match"),
    ("worker", {**JOIN, "discovery": {**JOIN["discovery"], "api_server_endpoint": "api:99999"}}, "HOST:PORT"),
])
def test_bad_settings_are_refused(role: str, settings: dict[str, Any], message: str) -> None:
    with pytest.raises(KubeadmConfigError, match=message):
        kubeadm_documents(role, settings)


def test_args_list_keeps_duplicates_in_list_form() -> None:
    given = [{"name": "feature-gates", "value": "A=true"}, {"name": "feature-gates", "value": "B=true"}]
    assert args_list(given, "x") == given
    assert args_list(None, "x") == []
