from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.cluster_topology import (
    label_key_problem,
    label_value_problem,
    topology,
)


def rec(host: str, cluster: str, distribution: str = "k3s", **over: Any) -> dict[str, Any]:
    return dict({"host": host, "cluster": cluster, "distribution": distribution, "labels": {}, "hub_role": "",
                 "hub": ""}, **over)


ESTATE = [
    rec("hub-cp", "hub", "kubeadm", hub_role="hub", labels={"tier": "core"}),
    rec("hub-w1", "hub", "kubeadm", hub_role="hub", labels={"tier": "core"}),
    rec("s12", "store-12", labels={"tier": "edge", "site": "store-12", "example.com/region": "eu"}),
    rec("s13", "store-13", labels={"tier": "edge"}),
]


@pytest.mark.parametrize("key", ["site", "a", "example.com/site", "app.kubernetes.io/name", "a-b_c.d", "x" * 63])
def test_label_keys_kubernetes_accepts(key: str) -> None:
    assert label_key_problem(key) == ""


@pytest.mark.parametrize("key", ["", "-site", "site-", "Example.com/site", "/site", "a/b/c", "x" * 64, "sp ace", 3])
def test_label_keys_kubernetes_refuses(key: Any) -> None:
    assert label_key_problem(key) != ""


@pytest.mark.parametrize("value", ["", "edge", "store-12", "v1.2_3", 12, "x" * 63])
def test_label_values_kubernetes_accepts(value: Any) -> None:
    assert label_value_problem(value) == ""


@pytest.mark.parametrize("value", ["-edge", "edge.", "a b", "x" * 64, True, None, ["edge"]])
def test_label_values_kubernetes_refuses(value: Any) -> None:
    assert label_value_problem(value) != ""


def test_one_hub_makes_every_other_cluster_its_spoke() -> None:
    t = topology(ESTATE)
    assert t["errors"] == []
    hub, s12 = t["clusters"]["hub"], t["clusters"]["store-12"]
    assert (hub["role"], hub["hub"], hub["spokes"]) == ("hub", "", ["store-12", "store-13"])
    assert (s12["role"], s12["hub"], s12["spokes"]) == ("spoke", "hub", [])
    assert s12["labels"] == {"tier": "edge", "site": "store-12", "example.com/region": "eu",
                             "kubeforge.io/cluster-name": "store-12", "kubeforge.io/distribution": "k3s",
                             "kubeforge.io/role": "spoke"}
    assert hub["labels"]["kubeforge.io/distribution"] == "kubeadm" and hub["user_labels"] == {"tier": "core"}


def test_without_a_hub_every_cluster_stands_alone() -> None:
    t = topology([rec("a", "a"), rec("b", "b", labels={"n": 1})])
    assert t["errors"] == []
    assert {n: c["role"] for n, c in t["clusters"].items()} == {"a": "standalone", "b": "standalone"}
    assert t["clusters"]["b"]["labels"]["n"] == "1"


def test_a_standalone_cluster_stays_out_of_the_one_hub() -> None:
    t = topology(ESTATE + [rec("lab", "lab", hub_role="standalone")])
    assert t["errors"] == [] and t["clusters"]["lab"]["role"] == "standalone"
    assert "lab" not in t["clusters"]["hub"]["spokes"]


def test_two_hubs_need_each_spoke_to_name_its_hub() -> None:
    two = ESTATE + [rec("hub2", "hub-b", "kubeadm", hub_role="hub")]
    t = topology(two)
    assert len(t["errors"]) == 2
    assert "cluster 'store-12': the inventory has 2 hubs (hub, hub-b) and the cluster names none" in t["errors"][0]
    named = [dict(r, hub="hub-b") if r["cluster"].startswith("store") else r for r in two]
    t = topology(named)
    assert t["errors"] == [] and t["clusters"]["hub-b"]["spokes"] == ["store-12", "store-13"]
    assert t["clusters"]["hub"]["spokes"] == []


@pytest.mark.parametrize("change, text", [
    ({"hub": "nowhere"}, "cluster 'store-12': cluster_hub names 'nowhere', which is no cluster of the inventory"),
    ({"hub": "store-13"}, "cluster_hub names 'store-13', which is not a hub: set cluster_hub_role: hub for 'store-13'"),
    ({"hub": "store-12"}, "cluster 'store-12': cluster_hub names the cluster itself"),
    ({"hub_role": "centre"}, "cluster_hub_role must be hub, spoke or standalone (or unset), not 'centre'"),
    ({"hub_role": "standalone", "hub": "hub"}, "cluster_hub_role is standalone, but cluster_hub names 'hub'"),
    ({"labels": {"kubeforge.io/role": "x"}}, "is under kubeforge.io/, which the collection sets itself"),
    ({"labels": {"tier": "edge!"}}, "cluster 'store-12': cluster_labels: label value 'edge!' must be empty"),
    ({"labels": ["tier=edge"]}, "cluster 'store-12': cluster_labels must be a mapping"),
])
def test_refusals_name_the_cluster_the_variable_and_the_fix(change: dict[str, Any], text: str) -> None:
    records = [dict(r, **change) if r["cluster"] == "store-12" else r for r in ESTATE]
    errors = topology(records)["errors"]
    assert any(text in e for e in errors), errors


def test_a_hub_that_names_a_hub_and_a_spoke_without_a_hub() -> None:
    errors = topology([rec("h", "h", hub_role="hub", hub="other"), rec("o", "other", hub_role="hub")])["errors"]
    assert errors == ["cluster 'h': cluster_hub_role is hub and cluster_hub names 'other': a hub has no hub of its "
                      "own; unset cluster_hub for it"]
    errors = topology([rec("s", "s", hub_role="spoke")])["errors"]
    assert errors == ["cluster 's': cluster_hub_role is spoke, but the inventory has no hub: set cluster_hub_role: "
                      "hub on the cluster at the centre"]


def test_settings_must_agree_between_the_hosts_of_a_cluster() -> None:
    records = ESTATE + [rec("s12b", "store-12", labels={"tier": "core"})]
    errors = topology(records)["errors"]
    assert len(errors) == 1 and errors[0].startswith("cluster 'store-12': cluster_labels differs between hosts (s12:")


def test_a_cluster_name_must_be_a_label_value() -> None:
    errors = topology([rec("x", "Store 12")])["errors"]
    assert len(errors) == 1 and "so it must be a label value" in errors[0]
