"""apiextensions.k8s.io/v1 CustomResourceDefinitions on the double's API and
the custom resources they serve: discovery, reads and writes, refusals,
kubectl and the Python DynamicClient, and replication between servers.

One built K3s double serves the module; every test defines its own CRD
(its own group), so the tests stay independent."""
import json

import pytest

# One K3s double for this module (the fixture is module-scoped), and the same helpers.
from test_api_groups import api, call, connect, kubectl, request  # noqa: F401  (api is a fixture)
from test_ha import cluster, join_url, wait_for  # noqa: F401  (cluster is a fixture)

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
MERGE = "application/merge-patch+json"
SMP = "application/strategic-merge-patch+json"


def crd(group, plural="widgets", kind="Widget", scope="Namespaced", versions=None, short=None):
    names = {"plural": plural, "kind": kind}
    if short is not None:
        names["shortNames"] = short
    schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "%s.%s" % (plural, group)},
            "spec": {"group": group, "scope": scope, "names": names,
                     "versions": versions or [{"name": "v1", "served": True, "storage": True, "schema": schema}]}}


def define(api, body):
    st, obj = request(api, "POST", CRDS, body)
    assert st == 201, obj
    return obj


def widget(group, name, size=1, version="v1", kind="Widget"):
    return {"apiVersion": "%s/%s" % (group, version), "kind": kind, "metadata": {"name": name},
            "spec": {"size": size}}


def namespace(api, ns):
    st, body = request(api, "POST", "/api/v1/namespaces", {"metadata": {"name": ns}})
    assert st == 201, body


# --------------------------------------------------------------------------
# the CustomResourceDefinition itself

def test_apiextensions_group_is_served(api):
    st, rl = request(api, "GET", "/apis/apiextensions.k8s.io/v1")
    assert st == 200
    [r] = rl["resources"]
    assert (r["name"], r["kind"], r["namespaced"], r["shortNames"]) == \
        ("customresourcedefinitions", "CustomResourceDefinition", False, ["crd", "crds"])


def test_crd_is_established_with_accepted_names(api):
    obj = define(api, crd("est.example.com", short=["wd"]))
    conds = {c["type"]: (c["status"], c["reason"]) for c in obj["status"]["conditions"]}
    assert conds == {"NamesAccepted": ("True", "NoConflicts"), "Established": ("True", "InitialNamesAccepted")}
    assert obj["status"]["acceptedNames"] == {"plural": "widgets", "singular": "widget", "kind": "Widget",
                                              "listKind": "WidgetList", "shortNames": ["wd"]}
    assert obj["status"]["storedVersions"] == ["v1"]
    assert obj["metadata"]["generation"] == 1
    # the defaults kube-apiserver writes into the spec
    assert obj["spec"]["names"]["singular"] == "widget" and obj["spec"]["conversion"] == {"strategy": "None"}


def test_crd_name_must_be_plural_dot_group(api):
    body = crd("name.example.com")
    body["metadata"]["name"] = "widget.name.example.com"
    st, obj = request(api, "POST", CRDS, body)
    assert st == 422 and obj["reason"] == "Invalid"
    assert obj["message"] == ('CustomResourceDefinition.apiextensions.k8s.io "widget.name.example.com" is invalid: '
                              'metadata.name: Invalid value: "widget.name.example.com": '
                              'must be spec.names.plural+"."+spec.group')
    assert request(api, "GET", "/apis/name.example.com")[0] == 404


@pytest.mark.parametrize("change,cause", [
    (lambda b: b["spec"].update(scope="Global"), 'spec.scope: Unsupported value: "Global"'),
    (lambda b: b["spec"]["versions"][0].update(storage=False), "must have exactly one version marked as storage"),
    (lambda b: b["spec"]["versions"][0].update(served=False), "must serve at least one version"),
    (lambda b: b["spec"]["names"].pop("kind"), "spec.names.kind: Required value"),
])
def test_crd_invalid_spec_is_refused(api, change, cause):
    body = crd("bad.example.com")
    change(body)
    st, obj = request(api, "POST", CRDS, body)
    assert st == 422 and cause in obj["message"], obj
    assert request(api, "GET", CRDS + "/widgets.bad.example.com")[0] == 404


def test_crd_group_and_versions_in_discovery(api):
    schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    define(api, crd("disc.example.com", short=["wd"], versions=[
        {"name": "v1beta1", "served": True, "storage": False, "schema": schema},
        {"name": "v1", "served": True, "storage": True, "schema": schema},
        {"name": "v1alpha1", "served": False, "storage": False, "schema": schema}]))
    st, groups = request(api, "GET", "/apis")
    [g] = [g for g in groups["groups"] if g["name"] == "disc.example.com"]
    # kube-aware version order: v1 preferred; an unserved version is not listed
    assert g["versions"] == [{"groupVersion": "disc.example.com/v1", "version": "v1"},
                             {"groupVersion": "disc.example.com/v1beta1", "version": "v1beta1"}]
    assert g["preferredVersion"]["version"] == "v1"
    st, group = request(api, "GET", "/apis/disc.example.com")
    assert st == 200 and group["kind"] == "APIGroup" and group["preferredVersion"]["version"] == "v1"
    st, rl = request(api, "GET", "/apis/disc.example.com/v1beta1")
    [r] = rl["resources"]
    assert (r["name"], r["singularName"], r["kind"], r["namespaced"], r["shortNames"]) == \
        ("widgets", "widget", "Widget", True, ["wd"])
    assert request(api, "GET", "/apis/disc.example.com/v1alpha1")[0] == 404
    assert request(api, "GET", "/apis/disc.example.com/v1alpha1/namespaces/default/widgets")[0] == 404


def test_crd_reapplied_unchanged_is_not_written(api):
    body = crd("same.example.com")
    first = define(api, body)
    # what kubernetes.core.k8s sends for state: present on an existing CRD
    for ctype in (SMP, MERGE):
        st, obj = request(api, "PATCH", CRDS + "/widgets.same.example.com", body, ctype)
        assert st == 200, obj
        assert obj["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
        assert obj["status"] == first["status"] and obj["metadata"]["generation"] == 1
    body["spec"]["names"]["shortNames"] = ["sw"]
    st, obj = request(api, "PATCH", CRDS + "/widgets.same.example.com", body, MERGE)
    assert obj["metadata"]["generation"] == 2 and obj["status"]["acceptedNames"]["shortNames"] == ["sw"]
    assert obj["status"]["conditions"] == first["status"]["conditions"]  # still Established since then


def test_crd_delete_stops_serving_and_deletes_objects(api):
    define(api, crd("gone.example.com"))
    namespace(api, "kf-gone")
    base = "/apis/gone.example.com/v1/namespaces/kf-gone/widgets"
    assert request(api, "POST", base, widget("gone.example.com", "w1"))[0] == 201
    assert request(api, "DELETE", CRDS + "/widgets.gone.example.com")[0] == 200
    assert request(api, "GET", "/apis/gone.example.com/v1")[0] == 404
    assert request(api, "GET", base + "/w1")[0] == 404
    st, groups = request(api, "GET", "/apis")
    assert "gone.example.com" not in [g["name"] for g in groups["groups"]]
    # defined again, it starts empty
    define(api, crd("gone.example.com"))
    st, lst = request(api, "GET", base)
    assert st == 200 and lst["items"] == []


# --------------------------------------------------------------------------
# custom resources

def test_custom_resource_create_get_list_put_delete(api):
    define(api, crd("crud.example.com"))
    namespace(api, "kf-crud")
    base = "/apis/crud.example.com/v1/namespaces/kf-crud/widgets"
    st, made = request(api, "POST", base, widget("crud.example.com", "w1"))
    assert st == 201 and made["kind"] == "Widget" and made["apiVersion"] == "crud.example.com/v1"
    assert made["metadata"]["generation"] == 1 and made["metadata"]["namespace"] == "kf-crud"
    assert request(api, "POST", base, widget("crud.example.com", "w1"))[0] == 409
    st, got = request(api, "GET", base + "/w1")
    assert st == 200 and got["spec"] == {"size": 1} and got["metadata"]["uid"] == made["metadata"]["uid"]
    st, lst = request(api, "GET", base)
    assert lst["kind"] == "WidgetList" and [i["metadata"]["name"] for i in lst["items"]] == ["w1"]
    st, lst = request(api, "GET", "/apis/crud.example.com/v1/widgets")   # across namespaces
    assert [i["metadata"]["namespace"] for i in lst["items"]] == ["kf-crud"]
    got["spec"]["size"] = 2
    st, put = request(api, "PUT", base + "/w1", got)
    assert st == 200 and put["spec"] == {"size": 2} and put["metadata"]["generation"] == 2
    assert request(api, "DELETE", base + "/w1")[0] == 200
    assert request(api, "GET", base + "/w1")[0] == 404


def test_custom_resource_generation_counts_spec_changes_only(api):
    define(api, crd("gen.example.com"))
    namespace(api, "kf-gen")
    path = "/apis/gen.example.com/v1/namespaces/kf-gen/widgets/w1"
    assert request(api, "POST", path.rsplit("/", 1)[0], widget("gen.example.com", "w1"))[0] == 201
    st, obj = request(api, "PATCH", path, {"metadata": {"labels": {"a": "b"}}}, MERGE)
    assert st == 200 and obj["metadata"]["generation"] == 1
    st, obj = request(api, "PATCH", path, {"spec": {"size": 5}}, MERGE)
    assert obj["metadata"]["generation"] == 2


def test_custom_resource_refuses_strategic_merge_patch(api):
    define(api, crd("smp.example.com"))
    namespace(api, "kf-smp")
    path = "/apis/smp.example.com/v1/namespaces/kf-smp/widgets/w1"
    st, made = request(api, "POST", path.rsplit("/", 1)[0], widget("smp.example.com", "w1"))
    conn = connect(api)   # one kept-alive connection: a refused body must not desync it
    try:
        st, body = call(conn, "PATCH", path, {"spec": {"size": 3}}, SMP)
        assert st == 415 and body["reason"] == "UnsupportedMediaType"
        assert body["message"] == ("the body of the request was in an unknown format - accepted media types "
                                   "include: application/json-patch+json, application/merge-patch+json, "
                                   "application/apply-patch+yaml")
        st, obj = call(conn, "PATCH", path, {"spec": {"size": 3}}, MERGE)
        assert st == 200 and obj["spec"] == {"size": 3}
        # the same merge patch again is not written (kubernetes.core.k8s then reports changed=false)
        st, again = call(conn, "PATCH", path, {"spec": {"size": 3}}, MERGE)
        assert again["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]
    finally:
        conn.close()


def test_custom_resource_wrong_kind_or_version_is_refused(api):
    define(api, crd("kinds.example.com"))
    namespace(api, "kf-kinds")
    base = "/apis/kinds.example.com/v1/namespaces/kf-kinds/widgets"
    st, body = request(api, "POST", base, widget("kinds.example.com", "w1", kind="Gadget"))
    assert st == 400 and body["message"] == \
        "the kind in the data (Gadget) does not match the expected kind (Widget)"
    st, body = request(api, "POST", base, widget("kinds.example.com", "w1", version="v2"))
    assert st == 400 and "the API version in the data (kinds.example.com/v2) does not match" in body["message"]
    assert request(api, "POST", "/apis/kinds.example.com/v2/namespaces/kf-kinds/widgets",
                   widget("kinds.example.com", "w1", version="v2"))[0] == 404
    assert request(api, "GET", "/apis/nokinds.example.com/v1/namespaces/kf-kinds/widgets")[0] == 404
    assert request(api, "GET", "/apis/kinds.example.com/v1/namespaces/kf-kinds/gadgets")[0] == 404
    assert request(api, "GET", base)[1]["items"] == []


def test_cluster_scoped_custom_resource(api):
    define(api, crd("scope.example.com", scope="Cluster"))
    st, made = request(api, "POST", "/apis/scope.example.com/v1/widgets", widget("scope.example.com", "c1"))
    assert st == 201 and "namespace" not in made["metadata"]
    assert request(api, "GET", "/apis/scope.example.com/v1/namespaces/default/widgets")[0] == 404
    assert request(api, "GET", "/apis/scope.example.com/v1/widgets/c1")[0] == 200


def test_openapi_v3_lists_custom_group_without_strategic_merge(api):
    define(api, crd("oapi.example.com"))
    st, index = request(api, "GET", "/openapi/v3")
    url = index["paths"]["apis/oapi.example.com/v1"]["serverRelativeURL"]
    st, doc = request(api, "GET", url)
    [op] = [p["patch"] for p in doc["paths"].values()]
    assert op["x-kubernetes-group-version-kind"] == {"group": "oapi.example.com", "kind": "Widget", "version": "v1"}
    assert list(op["requestBody"]["content"]) == ["application/apply-patch+yaml", MERGE]


# --------------------------------------------------------------------------
# clients

def test_kubectl_waits_for_established_and_reads_custom_resources(api, tmp_path):
    manifest = tmp_path / "crd.yaml"
    manifest.write_text(json.dumps(crd("kctl.example.com", short=["kw"])))
    assert kubectl(api, "create", "-f", str(manifest)).stdout.strip() == \
        "customresourcedefinition.apiextensions.k8s.io/widgets.kctl.example.com created"
    out = kubectl(api, "wait", "--for=condition=Established", "--timeout=20s",
                  "crd/widgets.kctl.example.com").stdout
    assert "condition met" in out
    namespace(api, "kf-kctl")
    obj = tmp_path / "w.yaml"
    obj.write_text(json.dumps(dict(widget("kctl.example.com", "w1"), metadata={"name": "w1", "namespace": "kf-kctl"})))
    assert "widget.kctl.example.com/w1 created" in kubectl(api, "create", "-f", str(obj)).stdout
    got = json.loads(kubectl(api, "get", "kw", "w1", "-n", "kf-kctl", "-o", "json").stdout)
    assert got["kind"] == "Widget" and got["spec"] == {"size": 1}
    assert "widgets.kctl.example.com" in kubectl(api, "get", "crd", "--no-headers").stdout


def test_dynamic_client_updates_custom_resource_idempotently(api):
    kubernetes = pytest.importorskip("kubernetes")
    from kubernetes.dynamic import DynamicClient
    from kubernetes.dynamic.exceptions import ApiException

    define(api, crd("dyn.example.com"))
    namespace(api, "kf-dyncr")
    cfg = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=str(api.kubeconfig), client_configuration=cfg)
    with kubernetes.client.ApiClient(cfg) as client:
        res = DynamicClient(client).resources.get(api_version="dyn.example.com/v1", kind="Widget")
        assert res.namespaced and res.name == "widgets"
        made = res.create(body=widget("dyn.example.com", "w1"), namespace="kf-dyncr")
        # kubernetes.core.k8s tries a strategic merge patch first, then a merge patch
        with pytest.raises(ApiException) as err:
            res.patch(name="w1", namespace="kf-dyncr", body=widget("dyn.example.com", "w1"),
                      content_type=SMP)
        assert err.value.status == 415
        same = res.patch(name="w1", namespace="kf-dyncr", body=widget("dyn.example.com", "w1"), content_type=MERGE)
        assert same.metadata.resourceVersion == made.metadata.resourceVersion


# --------------------------------------------------------------------------
# replicated store

def test_crds_are_served_by_every_server_of_a_replicated_store(cluster):  # noqa: F811
    s1 = cluster(1, ["--cluster-init", "--token", "crdsecret"])
    s2 = cluster(2, ["--server", join_url(s1), "--token", "crdsecret"])
    st, body = s1.api("POST", CRDS, crd("ha.example.com", scope="Cluster"))
    assert st == 201, body
    assert wait_for(lambda: s2.api("GET", "/apis/ha.example.com/v1")[0] == 200)
    st, body = s2.api("POST", "/apis/ha.example.com/v1/widgets", widget("ha.example.com", "from-s2"))
    assert st == 201, body
    assert wait_for(lambda: s1.api("GET", "/apis/ha.example.com/v1/widgets/from-s2")[0] == 200)
    assert s1.api("DELETE", CRDS + "/widgets.ha.example.com")[0] == 200
    assert wait_for(lambda: s2.api("GET", "/apis/ha.example.com/v1")[0] == 404)
