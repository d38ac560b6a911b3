# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeadm configuration documents (kubeadm.k8s.io/v1beta4) from a few settings.

One function builds every document a node needs for ``kubeadm init`` (first
control plane: InitConfiguration, ClusterConfiguration, KubeletConfiguration)
or ``kubeadm join`` (JoinConfiguration, with a controlPlane section for
control planes). Values the collection owns (versions, subnets, endpoint,
tokens) are filled in; the user's own documents are merged on top, key by
key. v1beta4 takes ``extraArgs`` and ``kubeletExtraArgs`` as lists of
``{name, value}``; maps given in the v1beta3 style are converted, so a setting
is written once. Pure functions: no file or network access.
"""
from __future__ import annotations

import re
import typing as t
from collections.abc import Mapping

from ansible_collections.kubeforge.cluster.plugins.module_utils.kubeadm_token import (
    BOOTSTRAP_TOKEN_PATTERN,
    is_bootstrap_token,
)
from ansible_collections.kubeforge.cluster.plugins.plugin_utils.cluster_networks import overlap_errors, parse_networks
from ansible_collections.kubeforge.cluster.plugins.plugin_utils.dicts import deep_merge

KUBEADM_API = "kubeadm.k8s.io/v1beta4"
KUBELET_API = "kubelet.config.k8s.io/v1beta1"
DEFAULT_CRI_SOCKET = "unix:///var/run/containerd/containerd.sock"
DEFAULT_SERVICE_SUBNET = "10.96.0.0/12"
ROLES = ("init", "control-plane", "worker")
_HASH = re.compile(r"^sha256:[0-9a-f]{64}$")
_CERT_KEY = re.compile(r"^[0-9a-f]{64}$")
_VERSION = re.compile(r"^v[0-9]+\.[0-9]+\.[0-9]+$")
_ENDPOINT = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$")


class KubeadmConfigError(ValueError):
    """The settings cannot make a valid kubeadm configuration."""


def args_list(value: t.Any, where: str) -> list[dict[str, str]]:
    """v1beta4 argument list from a map (v1beta3 style) or a list of {name, value}."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [{"name": str(k), "value": _arg_value(v)} for k, v in sorted(value.items())]
    if isinstance(value, list):
        out = []
        for item in value:
            if not isinstance(item, Mapping) or set(item) != {"name", "value"} or not str(item["name"]):
                raise KubeadmConfigError("%s: each item must be {name: ..., value: ...}, not %r" % (where, item))
            out.append({"name": str(item["name"]), "value": _arg_value(item["value"])})
        return out
    raise KubeadmConfigError("%s must be a map of flag names to values or a list of {name, value}, not %r"
                             % (where, value))


def _arg_value(value: t.Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def network_errors(pod_subnet: str, service_subnet: str) -> list[str]:
    """What is wrong with the pod and service subnets (comma-separated for dual stack)."""
    pods, errors = parse_networks(pod_subnet, "the pod subnet", "10.244.0.0/16")
    services, service_errors = parse_networks(service_subnet, "the service subnet", DEFAULT_SERVICE_SUBNET)
    return errors + service_errors + [e + "." for e in overlap_errors(pods, services)]


def _check_endpoint(endpoint: str, what: str) -> None:
    match = _ENDPOINT.match(endpoint or "")
    if not match or not 0 < int(match.group(2)) < 65536:
        raise KubeadmConfigError("%s must be HOST:PORT such as api.example.net:6443, not %r" % (what, endpoint))


def kubeadm_documents(role: str, settings: Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
    """The kubeadm configuration documents for a node of ``role`` (init, control-plane, worker).

    settings keys: kubernetes_version, cluster_name, control_plane_endpoint
    (HOST:PORT), pod_subnet, service_subnet, node_name, advertise_address,
    bind_port, cri_socket, kubelet_extra_args, taints (None keeps kubeadm's
    default), ignore_preflight_errors, fail_swap_on, bootstrap_token,
    certificate_key, discovery ({api_server_endpoint, token, ca_cert_hashes}),
    and init_overrides, cluster_overrides, kubelet_overrides, join_overrides
    (dicts merged key by key into the matching document last).
    """
    if role not in ROLES:
        raise KubeadmConfigError("role must be one of %s, not %r" % (", ".join(ROLES), role))
    s = dict(settings)
    node: dict[str, t.Any] = {"criSocket": s.get("cri_socket") or DEFAULT_CRI_SOCKET}
    if s.get("node_name"):
        node["name"] = str(s["node_name"])
    extra = args_list(s.get("kubelet_extra_args"), "kubelet_extra_args")
    if extra:
        node["kubeletExtraArgs"] = extra
    ignore = s.get("ignore_preflight_errors") or []
    if not isinstance(ignore, list) or any(not isinstance(i, str) or not i for i in ignore):
        raise KubeadmConfigError("ignore_preflight_errors must be a list of check names such as Swap, not %r" % (ignore,))
    if any(i.lower() == "all" for i in ignore):
        raise KubeadmConfigError("ignore_preflight_errors may not be 'all': name the checks to ignore, so that a new "
                                 "failure still stops the run")
    if ignore:
        node["ignorePreflightErrors"] = list(ignore)
    if s.get("taints") is not None and role != "worker":
        node["taints"] = list(s["taints"])
    local = {}
    if s.get("advertise_address"):
        local["advertiseAddress"] = str(s["advertise_address"])
    if s.get("bind_port"):
        local["bindPort"] = int(s["bind_port"])
    certificate_key = s.get("certificate_key") or ""
    if certificate_key and not _CERT_KEY.match(certificate_key):
        raise KubeadmConfigError("the certificate key must be 64 lowercase hex digits (kubeadm init phase upload-certs "
                                 "prints it)")

    if role == "init":
        version = s.get("kubernetes_version") or ""
        if not _VERSION.match(version):
            raise KubeadmConfigError("kubernetes_version must be a pinned release such as v1.35.1, not %r" % (version,))
        endpoint = s.get("control_plane_endpoint") or ""
        _check_endpoint(endpoint, "control_plane_endpoint")
        pod_subnet = s.get("pod_subnet") or ""
        service_subnet = s.get("service_subnet") or DEFAULT_SERVICE_SUBNET
        errors = network_errors(pod_subnet, service_subnet)
        if errors:
            raise KubeadmConfigError("; ".join(errors))
        init: dict[str, t.Any] = {"apiVersion": KUBEADM_API, "kind": "InitConfiguration", "nodeRegistration": node}
        if local:
            init["localAPIEndpoint"] = local
        token = s.get("bootstrap_token") or ""
        if token:
            if not is_bootstrap_token(token):
                raise KubeadmConfigError("the bootstrap token must match %s" % BOOTSTRAP_TOKEN_PATTERN)
            init["bootstrapTokens"] = [{"token": token, "description": "kubeforge join token",
                                        "usages": ["signing", "authentication"],
                                        "groups": ["system:bootstrappers:kubeadm:default-node-token"]}]
        if certificate_key:
            init["certificateKey"] = certificate_key
        cluster = {"apiVersion": KUBEADM_API, "kind": "ClusterConfiguration",
                   "clusterName": s.get("cluster_name") or "kubernetes",
                   "kubernetesVersion": version, "controlPlaneEndpoint": endpoint,
                   "networking": {"podSubnet": pod_subnet, "serviceSubnet": service_subnet}}
        kubelet = {"apiVersion": KUBELET_API, "kind": "KubeletConfiguration", "cgroupDriver": "systemd"}
        if s.get("fail_swap_on") is False:
            kubelet["failSwapOn"] = False
        docs = [deep_merge(init, _overrides(s, "init_overrides")), deep_merge(cluster, _overrides(s, "cluster_overrides")),
                deep_merge(kubelet, _overrides(s, "kubelet_overrides"))]
    else:
        discovery = s.get("discovery") or {}
        api = discovery.get("api_server_endpoint") or ""
        _check_endpoint(api, "the discovery API server endpoint")
        token = discovery.get("token") or ""
        if not is_bootstrap_token(token):
            raise KubeadmConfigError("the join token must match %s" % BOOTSTRAP_TOKEN_PATTERN)
        hashes = list(discovery.get("ca_cert_hashes") or [])
        if not hashes or any(not _HASH.match(h) for h in hashes):
            raise KubeadmConfigError("a join needs the CA public key pin(s) as sha256:<64 lowercase hex>; without one "
                                     "the node would trust whatever answers at %s" % api)
        join: dict[str, t.Any] = {"apiVersion": KUBEADM_API, "kind": "JoinConfiguration", "nodeRegistration": node,
                                  "discovery": {"bootstrapToken": {"apiServerEndpoint": api, "token": token,
                                                                   "caCertHashes": hashes}}}
        if role == "control-plane":
            if not certificate_key:
                raise KubeadmConfigError("a control plane joins with the certificate key that kubeadm init phase "
                                         "upload-certs --upload-certs printed on an existing control plane")
            join["controlPlane"] = {"certificateKey": certificate_key}
            if local:
                join["controlPlane"]["localAPIEndpoint"] = local
        docs = [deep_merge(join, _overrides(s, "join_overrides"))]
    return [_normalize_args(doc, doc["kind"]) for doc in docs]


def _normalize_args(value: t.Any, where: str) -> t.Any:
    """Convert every extraArgs/kubeletExtraArgs map in a document to v1beta4's list form."""
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            path = "%s.%s" % (where, key)
            out[key] = args_list(item, path) if key in ("extraArgs", "kubeletExtraArgs") else _normalize_args(item, path)
        return out
    if isinstance(value, list):
        return [_normalize_args(item, where) for item in value]
    return value


def _overrides(settings: Mapping[str, t.Any], key: str) -> Mapping[str, t.Any]:
    value = settings.get(key) or {}
    if not isinstance(value, Mapping):
        raise KubeadmConfigError("%s must be a dict merged into the kubeadm document, not %r" % (key, value))
    for field in ("apiVersion", "kind"):
        if field in value:
            raise KubeadmConfigError("%s may not set %s: the collection writes kubeadm.k8s.io/v1beta4 documents"
                                     % (key, field))
    return value
