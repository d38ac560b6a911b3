from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.registration import (
    ADMIN_RULES,
    argocd_secret,
    plan,
    rules_problems,
    spoke_objects,
)

SPOKE_TOPOLOGY = {"role": "spoke", "hub": "hub", "labels": {"tier": "edge", "kubeforge.io/cluster-name": "edge"}}
HUB_TOPOLOGY = {"role": "hub", "hub": "", "labels": {"kubeforge.io/cluster-name": "hub"}}


def rec(cluster: str = "edge", host: str = "edge-1", **over: Any) -> dict[str, Any]:
    base = {"host": host, "cluster": cluster, "topology": SPOKE_TOPOLOGY if cluster != "hub" else HUB_TOPOLOGY,
            "api_url": "https://%s:6443" % cluster, "backend": "argocd", "state": "present", "rules": [],
            "argocd_namespace": "argocd", "service_account": "argocd-manager",
            "service_account_namespace": "kube-system"}
    base.update(over)
    return base


def test_a_spoke_is_registered_with_its_hub_and_admin_rules_by_default() -> None:
    out = plan([rec(), rec(host="edge-2"), rec("hub", "hub-1")])
    assert out["errors"] == []
    assert list(out["spokes"]) == ["edge"]
    spoke = out["spokes"]["edge"]
    assert spoke["hub"] == "hub" and spoke["server"] == "https://edge:6443" and spoke["state"] == "present"
    assert spoke["rules"] == ADMIN_RULES and spoke["labels"]["tier"] == "edge"


def test_backend_none_registers_nothing() -> None:
    assert plan([rec(backend="none")]) == {"errors": [], "spokes": {}}


def test_a_standalone_cluster_is_not_registered() -> None:
    out = plan([rec(topology={"role": "standalone", "hub": "", "labels": {}})])
    assert out == {"errors": [], "spokes": {}}


@pytest.mark.parametrize("over, fragment", [
    ({"backend": "ocm"}, "registration_backend must be one of none, argocd, not 'ocm'"),
    ({"state": "gone"}, "registration_state must be present or absent"),
    ({"argocd_namespace": "Argo"}, "registration_argocd_namespace must be a DNS label"),
    ({"service_account": ""}, "registration_service_account must be a DNS label"),
    ({"api_url": ""}, "set cluster_api_endpoint"),
    ({"rules": "all"}, "registration_rules must be a list"),
])
def test_bad_settings_name_the_cluster_and_the_variable(over: dict[str, Any], fragment: str) -> None:
    out = plan([rec(**over)])
    assert any(e.startswith("cluster 'edge': ") and fragment in e for e in out["errors"]), out["errors"]
    assert out["spokes"] == {}


def test_settings_that_differ_between_hosts_are_refused() -> None:
    out = plan([rec(), rec(host="edge-2", state="absent")])
    assert out["errors"] == ["cluster 'edge': registration_state differs between hosts (edge-1: 'present', edge-2: "
                             "'absent'); set it once for the cluster (for example in its group_vars)"]


@pytest.mark.parametrize("rules, fragment", [
    ([{"apiGroups": [""], "resources": ["configmaps"]}], "registration_rules[0].verbs must be a non-empty list"),
    ([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"], "verb": ["x"]}], "has 'verb'"),
    ([{"resources": ["pods"], "verbs": ["get"]}], "registration_rules[0].apiGroups must be a non-empty list"),
    ([{"nonResourceURLs": ["/healthz"], "resources": ["pods"], "verbs": ["get"]}], "mixes nonResourceURLs"),
    (["get"], "registration_rules[0] must be a mapping"),
])
def test_rules_as_kubernetes_takes_them(rules: list[Any], fragment: str) -> None:
    assert any(fragment in p for p in rules_problems(rules)), rules_problems(rules)


def test_narrow_rules_pass_and_are_used() -> None:
    rules = [{"apiGroups": [""], "resources": ["configmaps", "namespaces"], "verbs": ["get", "list"]},
             {"nonResourceURLs": ["/version"], "verbs": ["get"]}]
    assert rules_problems(rules) == []
    assert plan([rec(rules=rules)])["spokes"]["edge"]["rules"] == rules


def test_the_spoke_objects_bind_the_account_and_ask_for_a_token() -> None:
    spoke = plan([rec()])["spokes"]["edge"]
    sa, role, binding, secret = spoke_objects(spoke)
    assert (sa["kind"], sa["metadata"]["namespace"]) == ("ServiceAccount", "kube-system")
    assert role["rules"] == ADMIN_RULES and "namespace" not in role["metadata"]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "argocd-manager", "namespace": "kube-system"}]
    assert secret["type"] == "kubernetes.io/service-account-token"
    assert secret["metadata"]["annotations"] == {"kubernetes.io/service-account.name": "argocd-manager"}
    assert "data" not in secret


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_the_argocd_secret_carries_the_spoke_its_token_and_labels() -> None:
    spoke = plan([rec()])["spokes"]["edge"]
    token_secret = {"data": {"token": b64("tok.en"), "ca.crt": b64("CA")}}
    secret = argocd_secret("edge", spoke, token_secret)
    md = secret["metadata"]
    assert (md["name"], md["namespace"]) == ("cluster-edge", "argocd")
    assert md["labels"]["argocd.argoproj.io/secret-type"] == "cluster" and md["labels"]["tier"] == "edge"
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data["name"] == "edge" and data["server"] == "https://edge:6443"
    assert json.loads(data["config"]) == {"bearerToken": "tok.en", "tlsClientConfig": {"insecure": False,
                                                                                       "caData": b64("CA")}}
    assert argocd_secret("edge", spoke, token_secret) == secret


def test_no_argocd_secret_before_the_token_is_there() -> None:
    spoke = plan([rec()])["spokes"]["edge"]
    with pytest.raises(ValueError, match="has no token or ca.crt yet"):
        argocd_secret("edge", spoke, {"data": {"ca.crt": b64("CA")}})
