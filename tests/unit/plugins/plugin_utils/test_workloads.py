from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.workloads import (
    changes,
    objects,
    plan,
    selector_matches,
    selector_problems,
)

CLUSTERS = {
    "hub": {"labels": {"tier": "core", "kubeforge.io/role": "hub", "kubeforge.io/cluster-name": "hub"}},
    "store-12": {"labels": {"tier": "edge", "site": "store-12", "kubeforge.io/role": "spoke"}},
    "store-13": {"labels": {"tier": "edge", "site": "store-13", "kubeforge.io/role": "spoke"}},
}


def wl(name: str = "demo", **over: Any) -> dict[str, Any]:
    return dict({"name": name, "namespace": "demo", "selector": {},
                 "manifests": [{"definition": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}}]},
                **over)


def ref(kind: str, name: str, ns: str = "demo", api: str = "v1") -> dict[str, str]:
    return {"apiVersion": api, "kind": kind, "namespace": ns, "name": name}


@pytest.mark.parametrize("selector, expected", [
    ({}, ["hub", "store-12", "store-13"]),
    ({"matchLabels": {"tier": "edge"}}, ["store-12", "store-13"]),
    ({"matchLabels": {"tier": "edge", "site": "store-12"}}, ["store-12"]),
    ({"matchExpressions": [{"key": "site", "operator": "In", "values": ["store-13", "x"]}]}, ["store-13"]),
    ({"matchExpressions": [{"key": "site", "operator": "NotIn", "values": ["store-13"]}]}, ["hub", "store-12"]),
    ({"matchExpressions": [{"key": "site", "operator": "Exists"}]}, ["store-12", "store-13"]),
    ({"matchExpressions": [{"key": "site", "operator": "DoesNotExist", "values": []}]}, ["hub"]),
    ({"matchLabels": {"kubeforge.io/role": "hub"}}, ["hub"]),
    ({"matchLabels": {"tier": "edge"}, "matchExpressions": [{"key": "site", "operator": "NotIn",
                                                             "values": ["store-12"]}]}, ["store-13"]),
])
def test_selectors_select_as_kubernetes_does(selector: dict[str, Any], expected: list[str]) -> None:
    assert selector_problems(selector) == []
    assert sorted(c for c, i in CLUSTERS.items() if selector_matches(selector, i["labels"])) == expected


@pytest.mark.parametrize("selector, fragment", [
    ([], "must be a mapping"),
    ({"matchLabel": {}}, "'matchLabel'"),
    ({"matchLabels": {"bad key!": "x"}}, "label key 'bad key!'"),
    ({"matchLabels": {"site": "-x"}}, "label value '-x'"),
    ({"matchExpressions": [{"key": "site", "operator": "Equals", "values": ["a"]}]}, "operator is 'Equals'"),
    ({"matchExpressions": [{"key": "site", "operator": "In"}]}, "non-empty list when the operator is In"),
    ({"matchExpressions": [{"key": "site", "operator": "NotIn", "values": []}]}, "non-empty list"),
    ({"matchExpressions": [{"key": "site", "operator": "Exists", "values": ["a"]}]}, "left out when the operator"),
    ({"matchExpressions": [{"key": "", "operator": "Exists"}]}, "not a label key"),
    ({"matchExpressions": [{"key": "a", "operator": "Exists", "value": "x"}]}, "has value"),
])
def test_selectors_kubernetes_refuses(selector: Any, fragment: str) -> None:
    problems = selector_problems(selector)
    assert problems and fragment in " ".join(problems), problems


def test_plan_selects_per_cluster_of_the_run() -> None:
    p = plan([wl("all"), wl("edge", selector={"matchLabels": {"tier": "edge"}}),
              wl("gone", state="absent", selector={"matchLabels": {"site": "store-12"}})],
             CLUSTERS, ["store-12", "hub"])
    assert p["errors"] == []
    assert p["clusters"] == {"hub": {"present": ["all"], "absent": []},
                             "store-12": {"present": ["all", "edge"], "absent": ["gone"]}}
    [first] = [w for w in p["workloads"] if w["name"] == "all"]
    assert (first["state"], first["create_namespace"], first["values"], first["wait_for"]) == \
        ("present", True, {}, [])
    assert first["clusters"] == ["hub", "store-12", "store-13"]


def test_a_selector_that_matches_nothing_is_refused_unless_allowed() -> None:
    sel = {"matchLabels": {"tier": "lab"}}
    [msg] = plan([wl("lab", selector=sel)], CLUSTERS)["errors"]
    assert "workload 'lab'" in msg and "matches no cluster" in msg and "allow_empty: true" in msg
    assert "store-12: " in msg and "tier=edge" in msg
    p = plan([wl("lab", selector=sel, allow_empty=True)], CLUSTERS)
    assert p["errors"] == [] and p["clusters"]["hub"] == {"present": [], "absent": []}
    # an absent workload may select nothing
    assert plan([wl("lab", selector=sel, state="absent")], CLUSTERS)["errors"] == []


@pytest.mark.parametrize("workload, fragment", [
    (wl(colour="blue"), "unknown key 'colour'"),
    (wl(namespace="Demo"), "namespace must be a namespace name"),
    (wl(state="gone"), "state must be present or absent"),
    ({k: v for k, v in wl().items() if k != "selector"}, "selector is required"),
    (wl(allow_empty="yes"), "allow_empty must be true or false"),
    (wl(values=["a"]), "values must be a mapping"),
    (wl(chart={"name": "c", "version": "1.0.0", "repo": "https://charts.example.com"}), "exactly one source"),
    ({k: v for k, v in wl().items() if k != "manifests"}, "it has none"),
    (wl(manifests=[]), "non-empty list"),
    (wl(manifests=[{"file": "a.yml", "template": "b.j2"}]), "manifests[0] must have exactly one"),
    (wl(manifests=[{"definition": {"kind": "ConfigMap"}}]), "manifests[0].definition must be a Kubernetes object"),
    (wl(wait_for=[{"kind": "Deployment"}]), "wait_for[0] needs kind and name"),
    (wl(wait_for=[{"kind": "Deployment", "name": "d", "condition": "Available"}]), "wait_for[0].condition"),
])
def test_workloads_refused_with_the_variable_named(workload: dict[str, Any], fragment: str) -> None:
    errors = plan([workload], CLUSTERS)["errors"]
    assert any(fragment in e and "workload 'demo'" in e for e in errors), errors


@pytest.mark.parametrize("chart, fragment", [
    ({"name": "c", "repo": "https://x"}, "chart.version must pin one release"),
    ({"name": "c", "version": "^1.2.0", "repo": "https://x"}, "'^1.2.0'"),
    ({"name": "c", "version": "1.2.x", "repo": "https://x"}, "must pin"),
    ({"name": "c", "version": "1.2.0"}, "exactly one of repo"),
    ({"name": "c", "version": "1.2.0", "repo": "https://x", "oci": "oci://r/c"}, "not repo, oci"),
    ({"name": "c", "version": "1.2.0", "oci": "https://r/c"}, "must start with oci://"),
    ({"path": "c.tgz", "digest": "md5:00"}, "chart.digest must be sha256"),
    ({"path": "c.tgz", "values": {}}, "chart has 'values'"),
])
def test_charts_must_be_pinned(chart: dict[str, Any], fragment: str) -> None:
    w = {k: v for k, v in wl().items() if k != "manifests"}
    errors = plan([dict(w, chart=chart)], CLUSTERS)["errors"]
    assert any(fragment in e for e in errors), errors


@pytest.mark.parametrize("chart", [
    {"name": "c", "version": "1.2.0", "repo": "https://x"},
    {"name": "c", "version": "v1.2.0-rc.1+b5", "oci": "oci://registry.example.com/charts/c"},
    {"path": "files/c-1.0.0.tgz", "digest": "sha256:" + "a" * 64},
])
def test_pinned_charts_pass(chart: dict[str, Any]) -> None:
    w = {k: v for k, v in wl().items() if k != "manifests"}
    assert plan([dict(w, chart=chart)], CLUSTERS)["errors"] == []


def test_names_are_dns_labels_and_unique() -> None:
    errors = plan([wl("Demo"), wl("a"), wl("a"), "x"], CLUSTERS)["errors"]
    assert len(errors) == 3
    assert "workloads_list[0]: name must be a DNS label" in errors[0]
    assert "workloads_list[2]: the name 'a' is taken" in errors[1]
    assert "workloads_list[3]: name must be a DNS label" in errors[2]
    assert plan({"a": 1}, CLUSTERS)["errors"] == ["workloads_list must be a list of workloads, not dict"]
    assert plan(None, CLUSTERS) == {"errors": [], "workloads": [], "clusters": {c: {"present": [], "absent": []}
                                                                             for c in CLUSTERS}}


def test_objects_are_labelled_namespaced_and_crds_come_first() -> None:
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "gadgets.example.com"},
           "spec": {"scope": "Cluster", "names": {"kind": "Gadget", "plural": "gadgets"}}}
    docs = [None, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "labels": {"a": "b"}}},
            {"apiVersion": "v1", "kind": "List", "items": [
                {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}},
                {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "other"}}]},
            [crd]]
    out = objects(dict(wl(), name="w"), docs)
    assert out["errors"] == []
    assert [o["metadata"]["name"] for o in out["crds"]] == ["gadgets.example.com"]
    assert [(o["kind"], o["metadata"].get("namespace")) for o in out["objects"]] == \
        [("ConfigMap", "demo"), ("Gadget", None), ("Secret", "other")]
    assert out["objects"][0]["metadata"]["labels"] == {"a": "b", "app.kubernetes.io/managed-by": "kubeforge",
                                                       "kubeforge.io/workload": "w"}
    assert out["refs"][0] == {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                              "namespace": "", "name": "gadgets.example.com"}
    assert docs[1]["metadata"] == {"name": "cm", "labels": {"a": "b"}}  # the input is not changed


def test_objects_refused() -> None:
    docs = [{"kind": "ConfigMap", "metadata": {"name": "x"}},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r",
                                                                                              "namespace": "demo"}},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "demo"}}]
    errors = objects(wl(), docs)["errors"]
    assert errors == ["workload 'demo': document 1 of its manifests is not a Kubernetes object with apiVersion, kind "
                      "and metadata.name",
                      "workload 'demo': ClusterRole r is not namespaced; drop its metadata.namespace",
                      "workload 'demo': ConfigMap demo/a appears twice in its manifests"]


def test_changes_without_prune_keep_and_report() -> None:
    record = {"edge": [ref("ConfigMap", "a"), ref("ConfigMap", "old")], "lab": [ref("ConfigMap", "l")]}
    out = changes(record, {"edge": [ref("ConfigMap", "a")]}, {}, False)
    assert out["delete"] == []
    assert out["kept"] == ["edge: ConfigMap demo/old is no longer in its manifests",
                           "lab: the cluster no longer selects it (1 objects stay)"]
    assert out["record"] == {"edge": [ref("ConfigMap", "a"), ref("ConfigMap", "old")],
                             "lab": [ref("ConfigMap", "l")]}


def test_changes_with_prune_delete_and_crds_go_last() -> None:
    crd = ref("CustomResourceDefinition", "gadgets.example.com", "", "apiextensions.k8s.io/v1")
    record = {"edge": [ref("ConfigMap", "a"), ref("ConfigMap", "old")], "lab": [crd, ref("ConfigMap", "l")]}
    out = changes(record, {"edge": [ref("ConfigMap", "a")], "new": [ref("ConfigMap", "n")]}, {}, True)
    assert out["delete"] == [ref("ConfigMap", "old"), ref("ConfigMap", "l"), crd]
    assert out["objects"] == [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "old", "namespace": "demo"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "l", "namespace": "demo"}},
        {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
         "metadata": {"name": "gadgets.example.com"}}]
    assert out["kept"] == []
    assert out["record"] == {"edge": [ref("ConfigMap", "a")], "new": [ref("ConfigMap", "n")]}


def test_absent_workloads_always_go_even_unrecorded() -> None:
    out = changes({"gone": [ref("ConfigMap", "a")]}, {}, {"gone": [ref("ConfigMap", "a"), ref("Secret", "b")]},
                  False)
    assert out["delete"] == [ref("ConfigMap", "a"), ref("Secret", "b")]
    assert out["record"] == {}
    assert changes(None, {}, {}, False) == {"delete": [], "objects": [], "releases": [], "kept": [], "record": {}}


def chart_wl(**chart: Any) -> dict[str, Any]:
    w = {k: v for k, v in wl().items() if k != "manifests"}
    return dict(w, chart=chart, values={"greeting": "hi"})


def test_a_chart_from_a_repository_is_pulled_by_name() -> None:
    out = plan([chart_wl(name="kf-hello", version="0.1.0", repo="http://m/charts")], CLUSTERS)
    assert out["errors"] == []
    pull = out["workloads"][0]["pull"]
    assert pull == {"ref": "kf-hello", "repo": "http://m/charts", "archive": "kf-hello-0.1.0.tgz", "dir": pull["dir"]}
    other = plan([chart_wl(name="kf-hello", version="0.1.0", repo="http://n/charts")], CLUSTERS)["workloads"][0]
    same = plan([chart_wl(name="kf-other", version="0.1.0", repo="http://m/charts/")], CLUSTERS)["workloads"][0]
    assert len(pull["dir"]) == 16 and other["pull"]["dir"] != pull["dir"] and same["pull"]["dir"] == pull["dir"]


def test_an_oci_chart_is_pulled_by_its_reference() -> None:
    out = plan([chart_wl(version="1.2.0", oci="oci://registry.example.com/charts/c/")], CLUSTERS)
    assert out["errors"] == []
    pull = out["workloads"][0]["pull"]
    assert {k: pull[k] for k in ("ref", "repo", "archive")} == {"ref": "oci://registry.example.com/charts/c",
                                                                 "repo": "", "archive": "c-1.2.0.tgz"}


def test_an_oci_chart_name_must_agree_with_the_reference() -> None:
    errors = plan([chart_wl(name="d", version="1.2.0", oci="oci://r/charts/c")], CLUSTERS)["errors"]
    assert any("chart.name 'd' is not the chart chart.oci names ('c')" in e for e in errors), errors


def test_a_chart_archive_on_the_controller_is_not_pulled() -> None:
    out = plan([chart_wl(path="files/c-1.0.0.tgz")], CLUSTERS)
    assert out["errors"] == [] and "pull" not in out["workloads"][0]


def test_a_chart_workload_is_recorded_as_its_release_with_its_values() -> None:
    w = plan([chart_wl(name="kf-hello", version="0.1.0", repo="http://m/charts")], CLUSTERS)["workloads"][0]
    out = objects(w, [])
    assert out["refs"] == [{"apiVersion": "helm.sh/release.v1", "kind": "HelmRelease", "namespace": w["namespace"],
                            "name": "demo"}]
    assert out["crds"] == [] and out["objects"] == [] and out["errors"] == []
    assert out["values"] == {"greeting": "hi"}


def test_a_chart_workload_takes_no_documents() -> None:
    w = plan([chart_wl(path="c.tgz")], CLUSTERS)["workloads"][0]
    out = objects(w, [None, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}])
    assert out["errors"] == ["workload 'demo': a chart workload takes no manifests (got 1 documents)"]


def test_an_absent_chart_workload_is_uninstalled() -> None:
    w = plan([dict(chart_wl(path="c.tgz"), state="absent")], CLUSTERS)["workloads"][0]
    ref = objects(w, [])["refs"]
    out = changes({"demo": ref}, {}, {"demo": ref}, prune=False)
    assert out["delete"] == ref and out["releases"] == ref and out["objects"] == [] and out["record"] == {}


@pytest.mark.parametrize("prune", ["false", "true", 0, None])
def test_prune_must_be_a_boolean(prune: Any) -> None:
    with pytest.raises(TypeError, match="workloads_prune must be a boolean"):
        changes({}, {}, {}, prune)
