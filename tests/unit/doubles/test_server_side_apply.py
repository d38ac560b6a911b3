"""Server-side apply and metadata.managedFields: the field manager's logic (k3s/fieldmanager.py)
on plain objects, then the double's API over HTTPS (one built K3s double for the module, each
test in its own namespace or group), kubectl and the Python DynamicClient.

Only these patches and writes are compared with kube-apiserver's behaviour; see the docstrings
of fieldmanager.py and api.py for what is not modelled."""
import json

import pytest

from test_api_groups import api, connect, kubectl, request  # noqa: F401  (api is a fixture)
from test_custom_resources import crd, define, namespace

from k3s import fieldmanager as fm
from k3s.api import SMP_MERGE_KEYS

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
T1, T2, T3 = "2025-01-01T00:00:00Z", "2025-01-01T00:01:00Z", "2025-01-01T00:02:00Z"
BUILTIN = fm.Schema(SMP_MERGE_KEYS, False)
CUSTOM = fm.Schema({}, False)


def configmap(name, data, **md):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": dict(md, name=name), "data": data}


def pod(containers):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": containers}}


def entries(obj):
    """{(manager, operation): FieldsV1} of an object's managedFields."""
    return {(e.get("manager", ""), e["operation"]): e["fieldsV1"] for e in obj["metadata"].get("managedFields", [])}


# --------------------------------------------------------------------------
# field sets and FieldsV1

def test_field_set_leaves_keyed_items_and_atomic_lists():
    obj = {"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "d", "namespace": "n", "uid": "u", "resourceVersion": "3", "generation": 2,
                        "creationTimestamp": T1, "labels": {"app": "d"}, "annotations": {}},
           "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "d"}},
                    "template": {"spec": {"containers": [
                        {"name": "web", "image": "nginx", "args": ["-v"], "ports": [{"containerPort": 80}],
                         "env": [{"name": "A", "value": "1"}], "volumeMounts": [{"mountPath": "/d", "name": "v"}]}],
                        "tolerations": [{"operator": "Exists"}], "volumes": [{"name": "v", "emptyDir": {}}]}}},
           "status": {"replicas": 0}}
    fields = fm.to_fields_v1(fm.field_set(obj, fm.Schema(SMP_MERGE_KEYS, True)))
    web = {".": {}, "f:args": {}, "f:image": {}, "f:name": {},
           "f:env": {'k:{"name":"A"}': {".": {}, "f:name": {}, "f:value": {}}},
           "f:ports": {'k:{"containerPort":80}': {".": {}, "f:containerPort": {}}},
           "f:volumeMounts": {'k:{"mountPath":"/d"}': {".": {}, "f:mountPath": {}, "f:name": {}}}}
    assert fields == {
        "f:metadata": {"f:annotations": {}, "f:labels": {"f:app": {}}},
        "f:spec": {"f:replicas": {}, "f:selector": {"f:matchLabels": {"f:app": {}}},
                   "f:template": {"f:spec": {"f:containers": {'k:{"name":"web"}': web},
                                             "f:tolerations": {},
                                             "f:volumes": {'k:{"name":"v"}': {".": {}, "f:emptyDir": {},
                                                                              "f:name": {}}}}}}}
    assert fm.from_fields_v1(fields) == fm.field_set(obj, fm.Schema(SMP_MERGE_KEYS, True))
    # without a reset status, status is owned like any field; a Service's ports are keyed by port
    assert ("f:status", "f:replicas") in fm.field_set(obj, BUILTIN)
    svc = {"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}}
    assert fm.to_fields_v1(fm.field_set(svc, BUILTIN)) == {"f:spec": {"f:ports": {
        'k:{"port":443}': {".": {}, "f:port": {}},
        'k:{"port":80}': {".": {}, "f:port": {}, "f:targetPort": {}}}}}


def test_custom_resources_and_unkeyable_lists_are_atomic():
    obj = {"spec": {"containers": [{"name": "a"}], "ports": [{"port": 1}, {"port": 1}], "volumes": ["x"]}}
    assert fm.field_set(obj, CUSTOM) == {("f:spec", "f:containers"), ("f:spec", "f:ports"), ("f:spec", "f:volumes")}
    # a duplicate key or an item that is not a map makes a built-in list atomic too
    assert fm.field_set(obj, BUILTIN) == {("f:spec", "f:containers", 'k:{"name":"a"}'),
                                          ("f:spec", "f:containers", 'k:{"name":"a"}', "f:name"),
                                          ("f:spec", "f:ports"), ("f:spec", "f:volumes")}


def test_path_strings_and_set_order():
    paths = {("f:spec", "f:containers", 'k:{"name":"x"}', "f:image"), ("f:data", "f:b"), ("f:data", "f:a"),
             ("f:spec", "f:containers", 'k:{"name":"x"}'), ("f:spec", "f:ports", 'k:{"port":80}', "f:port"),
             ("f:spec", "f:replicas")}
    assert [fm.path_string(p) for p in fm.set_order(paths)] == [
        ".data.a", ".data.b", ".spec.replicas", '.spec.containers[name="x"]', '.spec.containers[name="x"].image',
        ".spec.ports[port=80].port"]


# --------------------------------------------------------------------------
# merge, compare, prune

def test_merge_keyed_lists_by_key_and_replaces_atomic_ones():
    live = pod([{"name": "a", "image": "i1", "env": [{"name": "X", "value": "1"}]}, {"name": "b", "image": "i2"}])
    live["spec"]["tolerations"] = [{"key": "k"}]
    cfg = {"spec": {"containers": [{"name": "a", "image": "i3", "env": [{"name": "Y", "value": "2"}]}],
                    "tolerations": [{"key": "other"}]}}
    out = fm.merge(live, cfg, BUILTIN)
    assert out["spec"]["containers"] == [
        {"name": "a", "image": "i3", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]},
        {"name": "b", "image": "i2"}]
    assert out["spec"]["tolerations"] == [{"key": "other"}]
    assert live["spec"]["containers"][0]["image"] == "i1"            # inputs untouched
    # a custom resource's lists are replaced
    assert fm.merge(live, cfg, CUSTOM)["spec"]["containers"] == cfg["spec"]["containers"]


def test_merge_orders_items_as_structured_merge_diff():
    def names(lhs, rhs):
        out = fm.merge({"spec": {"volumes": [{"name": n} for n in lhs]}},
                       {"spec": {"volumes": [{"name": n} for n in rhs]}}, BUILTIN)
        return [v["name"] for v in out["spec"]["volumes"]]
    assert names("abc", "ca") == ["b", "c", "a"]
    assert names("ab", "cba") == ["c", "b", "a"]
    assert names("axb", "ab") == ["a", "x", "b"]


def test_compare_reports_leaves_and_keyed_items():
    old = pod([{"name": "a", "image": "i1"}, {"name": "b", "image": "i2"}])
    new = pod([{"name": "a", "image": "i9"}, {"name": "c", "image": "i3"}])
    new["metadata"].update(resourceVersion="9", labels={"x": "y"})
    diff = fm.compare(old, new, BUILTIN)
    c = ("f:spec", "f:containers")
    assert diff.modified == {c + ('k:{"name":"a"}', "f:image")}
    assert diff.added == {c + ('k:{"name":"c"}',), c + ('k:{"name":"c"}', "f:name"), c + ('k:{"name":"c"}', "f:image"),
                          ("f:metadata", "f:labels", "f:x")}
    assert diff.removed == {c + ('k:{"name":"b"}',), c + ('k:{"name":"b"}', "f:name"),
                            c + ('k:{"name":"b"}', "f:image")}
    # an empty map is a leaf; true is not 1
    assert fm.compare({"data": {}}, {"data": {}}, BUILTIN) == fm.Comparison(set(), set(), set())
    assert fm.compare({"spec": {"x": 1}}, {"spec": {"x": True}}, BUILTIN).modified == {("f:spec", "f:x")}


def test_prune_removes_items_and_emptied_containers():
    obj = {"metadata": {"name": "c", "labels": {"a": "1"}}, "data": {"k": "v"},
           "spec": {"volumes": [{"name": "v", "emptyDir": {}}, {"name": "w"}]}}
    fm.prune(obj, [("f:metadata", "f:labels", "f:a"), ("f:data", "f:k"), ("f:spec", "f:volumes", 'k:{"name":"v"}')],
             owned={("f:data",)})
    assert obj == {"metadata": {"name": "c"}, "data": {}, "spec": {"volumes": [{"name": "w"}]}}


# --------------------------------------------------------------------------
# apply and update on plain objects

def test_apply_creates_and_owns_its_fields():
    obj = fm.apply(None, configmap("c", {"k": "v"}, labels={"a": "b"}), "kubeforge", "v1", False, BUILTIN, T1)
    assert obj["data"] == {"k": "v"} and obj["metadata"]["labels"] == {"a": "b"}
    assert obj["metadata"]["managedFields"] == [
        {"manager": "kubeforge", "operation": "Apply", "apiVersion": "v1", "time": T1, "fieldsType": "FieldsV1",
         "fieldsV1": {"f:data": {"f:k": {}}, "f:metadata": {"f:labels": {"f:a": {}}}}}]
    assert "apiVersion" not in obj and "kind" not in obj
    # the same configuration again: the same object, time included
    assert fm.apply(obj, configmap("c", {"k": "v"}, labels={"a": "b"}), "kubeforge", "v1", False, BUILTIN, T2) == obj


def test_apply_removes_what_it_no_longer_applies():
    obj = fm.apply(None, configmap("c", {"a": "1", "b": "2"}), "kubeforge", "v1", False, BUILTIN, T1)
    obj = fm.apply(obj, configmap("c", {"a": "1"}), "kubeforge", "v1", False, BUILTIN, T2)
    assert obj["data"] == {"a": "1"} and entries(obj) == {("kubeforge", "Apply"): {"f:data": {"f:a": {}}}}
    assert obj["metadata"]["managedFields"][0]["time"] == T2
    # nothing applied under data any more: data goes with its last field
    obj = fm.apply(obj, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"x": "y"}}},
                   "kubeforge", "v1", False, BUILTIN, T3)
    assert "data" not in obj and obj["metadata"]["labels"] == {"x": "y"}


def test_apply_keeps_fields_another_manager_owns():
    obj = fm.apply(None, pod([{"name": "a", "image": "i1"}, {"name": "b", "image": "i2"}]), "kubeforge", "v1",
                   False, BUILTIN, T1)
    edited = json.loads(json.dumps(obj))
    edited["spec"]["containers"][1]["imagePullPolicy"] = "Always"
    edited["metadata"]["labels"] = {"team": "x"}
    fm.record_update(obj, edited, "editor", "v1", BUILTIN, T2)
    assert entries(edited)[("editor", "Update")] == {
        "f:metadata": {"f:labels": {"f:team": {}}},
        "f:spec": {"f:containers": {'k:{"name":"b"}': {"f:imagePullPolicy": {}}}}}
    # container b dropped from the configuration: its item and fields go, the editor's field with them
    out = fm.apply(edited, pod([{"name": "a", "image": "i1"}]), "kubeforge", "v1", False, BUILTIN, T3)
    assert out["spec"]["containers"] == [{"name": "a", "image": "i1"}]
    assert out["metadata"]["labels"] == {"team": "x"}
    assert entries(out)[("editor", "Update")] == {"f:metadata": {"f:labels": {"f:team": {}}}}


def test_update_takes_changed_fields_from_other_managers():
    obj = fm.apply(None, configmap("c", {"a": "1", "b": "2"}), "kubeforge", "v1", False, BUILTIN, T1)
    new = json.loads(json.dumps(obj))
    new["data"] = {"a": "9", "c": "3"}
    fm.record_update(obj, new, "editor", "v1", BUILTIN, T2)
    # kubeforge lost a (changed) and b (removed): an empty entry is dropped
    assert entries(new) == {("editor", "Update"): {"f:data": {"f:a": {}, "f:c": {}}}}
    assert [(e["manager"], e["operation"], e["time"]) for e in new["metadata"]["managedFields"]] == \
        [("editor", "Update", T2)]
    # a write that changes nothing keeps the entries as they are
    same = json.loads(json.dumps(new))
    fm.record_update(new, same, "other", "v1", BUILTIN, T3)
    assert same["metadata"]["managedFields"] == new["metadata"]["managedFields"]


def test_the_appliers_own_update_entry_is_another_manager():
    obj = fm.apply(None, configmap("c", {"a": "1"}), "kubeforge", "v1", False, BUILTIN, T1)
    new = json.loads(json.dumps(obj))
    new["data"]["b"] = "2"
    fm.record_update(obj, new, "kubeforge", "v1", BUILTIN, T2)
    with pytest.raises(fm.Conflicts) as err:
        fm.apply(new, configmap("c", {"a": "1", "b": "3"}), "kubeforge", "v1", False, BUILTIN, T3)
    assert err.value.message() == 'Apply failed with 1 conflict: conflict with "kubeforge" using v1: .data.b'


def test_status_and_server_metadata_are_owned_by_nobody():
    schema = fm.Schema(SMP_MERGE_KEYS, True)
    old = {"metadata": {"name": "p", "resourceVersion": "1"}, "status": {"phase": "Pending"}}
    new = {"metadata": {"name": "p", "resourceVersion": "2", "generation": 3}, "status": {"phase": "Running"},
           "spec": {"nodeName": "n"}}
    fm.record_update(old, new, "kubelet", "v1", schema, T1)
    assert entries(new) == {("kubelet", "Update"): {"f:spec": {"f:nodeName": {}}}}
    # an applied status is dropped where the status subresource keeps it
    out = fm.apply(new, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "status": {"phase": "X"}},
                   "kubeforge", "v1", False, schema, T2)
    assert out["status"] == {"phase": "Running"} and ("kubeforge", "Apply") not in entries(out)


def conflicted():
    """A ConfigMap applied by kubeforge (a, b) and by other (c), then an editor changes a and b and adds d."""
    obj = fm.apply(None, configmap("c", {"a": "1", "b": "2"}), "kubeforge", "v1", False, BUILTIN, T1)
    obj = fm.apply(obj, configmap("c", {"c": "3"}), "other", "v1", False, BUILTIN, T1)
    new = json.loads(json.dumps(obj))
    new["data"] = {"a": "x", "b": "y", "c": "3", "d": "4"}
    fm.record_update(obj, new, "editor", "v1", BUILTIN, T2)
    return new


def test_conflict_with_one_field():
    with pytest.raises(fm.Conflicts) as err:
        fm.apply(conflicted(), configmap("c", {"a": "1", "b": "y"}), "kubeforge", "v1", False, BUILTIN, T3)
    assert err.value.message() == 'Apply failed with 1 conflict: conflict with "editor" using v1: .data.a'
    assert err.value.causes() == [{"reason": "FieldManagerConflict", "message": 'conflict with "editor" using v1',
                                   "field": ".data.a"}]


def test_conflicts_with_two_managers_and_force():
    live = conflicted()
    cfg = configmap("c", {"a": "1", "b": "2", "c": "4"})
    with pytest.raises(fm.Conflicts) as err:
        fm.apply(live, cfg, "kubeforge", "v1", False, BUILTIN, T3)
    assert err.value.message() == ('Apply failed with 3 conflicts: conflicts with "editor" using v1:\n- .data.a\n'
                                   '- .data.b\nconflicts with "other":\n- .data.c')
    assert [c["field"] for c in err.value.causes()] == [".data.a", ".data.b", ".data.c"]
    out = fm.apply(live, cfg, "kubeforge", "v1", True, BUILTIN, T3)
    assert out["data"] == {"a": "1", "b": "2", "c": "4", "d": "4"}
    assert entries(out) == {("kubeforge", "Apply"): {"f:data": {"f:a": {}, "f:b": {}, "f:c": {}}},
                            ("editor", "Update"): {"f:data": {"f:d": {}}}}   # other lost its only field
    # applying the value another manager set is no conflict: both own the field
    shared = fm.apply(live, configmap("c", {"d": "4"}), "third", "v1", False, BUILTIN, T3)
    assert entries(shared)[("third", "Apply")] == {"f:data": {"f:d": {}}}
    assert entries(shared)[("editor", "Update")] == {"f:data": {"f:a": {}, "f:b": {}, "f:d": {}}}


# --------------------------------------------------------------------------
# over HTTPS

def send(api, method, path, body=None, ctype="application/json", headers=None, raw=False):
    """One request -> (status, decoded body), or (status, raw bytes) with ``raw``."""
    data = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body)
    conn = connect(api)
    try:
        conn.request(method, path, body=data, headers=dict(headers or {}, **({"Content-Type": ctype} if data else {})))
        r = conn.getresponse()
        out = r.read()
    finally:
        conn.close()
    return r.status, out if raw else (json.loads(out) if out else None)


def ssa(api, path, body, manager="kubeforge", force=None, dry=False, raw=False):
    query = (["fieldManager=" + manager] if manager else []) + (["force=%s" % force] if force is not None else []) \
        + (["dryRun=All"] if dry else [])
    return send(api, "PATCH", path + ("?" + "&".join(query) if query else ""), body, APPLY, raw=raw)


def cm_path(ns, name):
    return "/api/v1/namespaces/%s/configmaps/%s" % (ns, name)


def test_apply_creates_then_answers_the_stored_object_unchanged(api):
    namespace(api, "kf-ssa")
    path = cm_path("kf-ssa", "c1")
    st, made = ssa(api, path, configmap("c1", {"k": "v", "keep": "x"}))
    assert st == 201, made
    assert made["kind"] == "ConfigMap" and made["data"] == {"k": "v", "keep": "x"} and made["metadata"]["uid"]
    [entry] = made["metadata"]["managedFields"]
    assert entry == {"manager": "kubeforge", "operation": "Apply", "apiVersion": "v1", "time": entry["time"],
                     "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:k": {}, "f:keep": {}}}}
    st, got = send(api, "GET", path, raw=True)
    assert json.loads(got) == made
    # the same configuration again: nothing written, the answer is the stored object byte for byte
    st, again = ssa(api, path, configmap("c1", {"k": "v", "keep": "x"}), raw=True)
    assert st == 200 and again == got
    st, changed = ssa(api, path, configmap("c1", {"k": "v2", "keep": "x"}))
    assert st == 200 and changed["data"] == {"k": "v2", "keep": "x"}
    assert int(changed["metadata"]["resourceVersion"]) > int(made["metadata"]["resourceVersion"])
    # a field left out of the configuration leaves the object
    st, dropped = ssa(api, path, configmap("c1", {"keep": "x"}))
    assert st == 200 and dropped["data"] == {"keep": "x"}
    assert entries(dropped) == {("kubeforge", "Apply"): {"f:data": {"f:keep": {}}}}
    assert send(api, "GET", path)[1] == dropped


def test_apply_conflicts_with_another_manager_unless_forced(api):
    namespace(api, "kf-ssa-conflict")
    path = cm_path("kf-ssa-conflict", "c1")
    cfg = configmap("c1", {"k": "v", "keep": "x"})
    assert ssa(api, path, cfg)[0] == 201
    st, edited = send(api, "PATCH", path + "?fieldManager=editor", {"data": {"k": "edited", "e": "1"}}, MERGE)
    assert st == 200 and entries(edited) == {("kubeforge", "Apply"): {"f:data": {"f:keep": {}}},
                                             ("editor", "Update"): {"f:data": {"f:e": {}, "f:k": {}}}}
    for force in (None, "false"):
        st, body = ssa(api, path, cfg, force=force)
        assert st == 409, body
        assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                        "message": 'Apply failed with 1 conflict: conflict with "editor" using v1: .data.k',
                        "reason": "Conflict", "code": 409,
                        "details": {"causes": [{"reason": "FieldManagerConflict",
                                                "message": 'conflict with "editor" using v1', "field": ".data.k"}]}}
    st, body = ssa(api, path, configmap("c1", {"k": "v", "e": "2", "keep": "x"}))
    assert st == 409 and body["message"] == ('Apply failed with 2 conflicts: conflicts with "editor" using v1:\n'
                                             '- .data.e\n- .data.k')
    assert send(api, "GET", path)[1] == edited
    st, forced = ssa(api, path, cfg, force="true")
    assert st == 200 and forced["data"] == {"k": "v", "keep": "x", "e": "1"}
    assert entries(forced) == {("kubeforge", "Apply"): {"f:data": {"f:k": {}, "f:keep": {}}},
                               ("editor", "Update"): {"f:data": {"f:e": {}}}}


def test_patch_options_are_validated_before_the_object_is_read(api):
    path = cm_path("default", "no-such-cm")
    invalid = 'PatchOptions.meta.k8s.io "" is invalid: '
    st, body = ssa(api, path, configmap("no-such-cm", {}), manager=None)
    assert st == 422 and body["reason"] == "Invalid"
    assert body["message"] == invalid + "fieldManager: Required value: is required for apply patch"
    assert body["details"] == {"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [
        {"reason": "FieldValueRequired", "message": "Required value: is required for apply patch",
         "field": "fieldManager"}]}
    st, body = send(api, "PATCH", path + "?force=true", {"data": {}}, MERGE)
    assert st == 422 and body["message"] == invalid + "force: Forbidden: may not be specified for non-apply patch"
    st, body = ssa(api, path, configmap("no-such-cm", {}), manager="m" * 129)
    assert st == 422 and body["message"] == invalid + "fieldManager: Too long: may not be more than 128 bytes"
    st, body = send(api, "PATCH", path + "?force=false&fieldManager=" + "m" * 129, {"data": {}}, MERGE)
    assert st == 422 and body["message"] == invalid + (
        "[force: Forbidden: may not be specified for non-apply patch, "
        "fieldManager: Too long: may not be more than 128 bytes]")
    st, body = send(api, "POST", "/api/v1/namespaces/default/configmaps?fieldManager=" + "m" * 129,
                    configmap("c", {}))
    assert st == 422 and body["message"] == \
        'CreateOptions.meta.k8s.io "" is invalid: fieldManager: Too long: may not be more than 128 bytes'
    # a valid apply of a missing object in a missing namespace
    st, body = ssa(api, cm_path("nowhere", "c1"), configmap("c1", {}))
    assert st == 404 and body["message"] == 'namespaces "nowhere" not found'
    assert body["details"] == {"name": "nowhere", "kind": "namespaces"}


def test_apply_body_checks(api):
    namespace(api, "kf-ssa-body")
    path = cm_path("kf-ssa-body", "c1")
    cases = [({"apiVersion": "v1", "metadata": {"name": "c1"}}, "invalid object type: /v1, Kind="),
             ({"kind": "ConfigMap", "metadata": {"name": "c1"}}, "invalid object type: /, Kind=ConfigMap"),
             (dict(configmap("c1", {}), kind="Secret"), "invalid object type: /v1, Kind=Secret"),
             (configmap("other", {}), "the name of the object (other) does not match the name on the URL (c1)"),
             (configmap("c1", {}, managedFields=[]), "metadata.managedFields must be nil")]
    for body, message in cases:
        st, out = ssa(api, path, body)
        assert (st, out["reason"], out["message"]) == (400, "BadRequest", message), body
    st, out = ssa(api, "/apis/apps/v1/namespaces/kf-ssa-body/daemonsets/d1",
                  {"apiVersion": "apps/v2", "kind": "DaemonSet", "metadata": {"name": "d1"}})
    assert st == 400 and out["message"] == "invalid object type: apps/v2, Kind=DaemonSet"
    st, out = ssa(api, path, b"{not: [yaml")
    assert st == 400 and out["message"].startswith("error decoding YAML: ")
    assert send(api, "GET", path)[0] == 404
    # a resourceVersion in the configuration is a precondition
    st, made = ssa(api, path, configmap("c1", {"a": "1"}))
    st, out = ssa(api, path, configmap("c1", {"a": "2"}, resourceVersion="1"))
    assert st == 409 and out["message"].startswith('Operation cannot be fulfilled on configmaps "c1"')
    st, out = ssa(api, path, configmap("c1", {"a": "2"}, resourceVersion=made["metadata"]["resourceVersion"]))
    assert st == 200 and out["data"] == {"a": "2"}


def test_apply_takes_yaml_where_pyyaml_is(api):
    namespace(api, "kf-ssa-yaml")
    st, out = ssa(api, cm_path("kf-ssa-yaml", "y1"),
                  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y1\ndata:\n  k: 'on'\n")
    if st == 400 and out["message"].startswith("error decoding YAML"):
        pytest.skip("the double runs on a Python without PyYAML")
    assert st == 201 and out["data"] == {"k": "on"}


def test_apply_owns_fields_of_an_object_written_by_the_double_itself(api):
    path = "/api/v1/namespaces/kube-public"
    st, before = request(api, "GET", path)
    assert st == 200 and "managedFields" not in before["metadata"]   # ensure_namespace wrote it into the store
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-public", "labels": {"ssa": "yes"}}}
    st, out = ssa(api, path, ns)
    assert st == 200 and out["metadata"]["labels"]["ssa"] == "yes"
    assert entries(out) == {("kubeforge", "Apply"): {"f:metadata": {"f:labels": {"f:ssa": {}}}}}
    del ns["metadata"]["labels"]
    st, out = ssa(api, path, ns)
    assert st == 200 and out["metadata"]["labels"] == before["metadata"]["labels"] and "managedFields" not in \
        out["metadata"]


def test_apply_dry_run_writes_nothing(api):
    namespace(api, "kf-ssa-dry")
    path = cm_path("kf-ssa-dry", "c1")
    st, out = ssa(api, path, configmap("c1", {"a": "1"}), dry=True)
    assert st == 201 and out["data"] == {"a": "1"} and entries(out)
    assert send(api, "GET", path)[0] == 404
    st, made = ssa(api, path, configmap("c1", {"a": "1"}))
    st, out = ssa(api, path, configmap("c1", {"a": "2"}), dry=True)
    assert st == 200 and out["data"] == {"a": "2"}
    assert out["metadata"]["resourceVersion"] == made["metadata"]["resourceVersion"]
    assert send(api, "GET", path)[1] == made


def test_writes_record_update_entries(api):
    namespace(api, "kf-ssa-update")
    base = "/api/v1/namespaces/kf-ssa-update/configmaps"
    ua = {"User-Agent": "kubectl-client-side-apply/v1.35.1 (linux/amd64) kubernetes/0000000"}
    st, made = send(api, "POST", base, configmap("c1", {"a": "1"}), headers=ua)
    assert st == 201
    [entry] = made["metadata"]["managedFields"]
    assert entry == {"manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "v1",
                     "time": entry["time"], "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:a": {}}}}
    st, patched = send(api, "PATCH", base + "/c1?fieldManager=kubectl-edit", {"data": {"a": "2", "b": "3"}},
                       "application/strategic-merge-patch+json", headers=ua)
    assert entries(patched) == {("kubectl-edit", "Update"): {"f:data": {"f:a": {}, "f:b": {}}}}
    # the same patch again: no write, managedFields as they were
    st, same = send(api, "PATCH", base + "/c1?fieldManager=other", {"data": {"a": "2"}}, MERGE)
    assert same == patched
    # no User-Agent and no fieldManager: the empty manager, an entry without "manager"
    put = dict(patched, data={"a": "2", "b": "3", "c": "4"})
    st, replaced = send(api, "PUT", base + "/c1", put)
    assert st == 200 and entries(replaced)[("", "Update")] == {"f:data": {"f:c": {}}}
    fields = replaced["metadata"]["managedFields"]
    assert sorted(e.get("manager", "") for e in fields) == ["", "kubectl-edit"]
    # kept as kube-apiserver sorts them: Apply before Update, then by time, then by manager
    assert fields == sorted(fields, key=lambda e: (e["operation"], e["time"], e.get("manager", "")))
    # an apply of a field an updater set to the same value: no conflict, both own it
    st, applied = ssa(api, base + "/c1", configmap("c1", {"c": "4"}))
    assert st == 200 and entries(applied)[("kubeforge", "Apply")] == {"f:data": {"f:c": {}}}
    assert entries(applied)[("", "Update")] == {"f:data": {"f:c": {}}}


def test_apply_merges_keyed_lists_of_a_daemonset(api):
    namespace(api, "kf-ssa-ds")
    path = "/apis/apps/v1/namespaces/kf-ssa-ds/daemonsets/d1"
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "d1"},
          "spec": {"selector": {"matchLabels": {"app": "d1"}},
                   "template": {"metadata": {"labels": {"app": "d1"}},
                                "spec": {"containers": [{"name": "main", "image": "busybox:1",
                                                         "env": [{"name": "A", "value": "1"}]}]}}}}
    st, made = ssa(api, path, ds)
    assert st == 201 and made["metadata"]["generation"] == 1 and made["status"]["observedGeneration"] == 1
    owned = entries(made)[("kubeforge", "Apply")]
    assert "f:status" not in owned and "f:updateStrategy" not in owned["f:spec"]   # defaults and status: nobody's
    smp = {"spec": {"template": {"spec": {"containers": [{"name": "main", "env": [{"name": "B", "value": "2"}]}]}}}}
    st, other = send(api, "PATCH", path + "?fieldManager=helper", smp, "application/strategic-merge-patch+json")
    assert entries(other)[("helper", "Update")] == {"f:spec": {"f:template": {"f:spec": {"f:containers": {
        'k:{"name":"main"}': {"f:env": {'k:{"name":"B"}': {".": {}, "f:name": {}, "f:value": {}}}}}}}}}
    ds["spec"]["template"]["spec"]["containers"][0]["image"] = "busybox:2"
    st, out = ssa(api, path, ds)
    assert st == 200 and out["metadata"]["generation"] == 3
    [c] = out["spec"]["template"]["spec"]["containers"]
    assert c["image"] == "busybox:2" and c["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert out["spec"]["updateStrategy"]["type"] == "RollingUpdate"
    # again: defaults, generation and status as they were, nothing written
    assert ssa(api, path, ds) == (200, out) and send(api, "GET", path)[1] == out
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kf-ssa-ns", "labels": {"a": "b"}}}
    st, made = ssa(api, "/api/v1/namespaces/kf-ssa-ns", ns)
    assert st == 201 and made["status"] == {"phase": "Active"}
    assert ssa(api, "/api/v1/namespaces/kf-ssa-ns", ns) == (200, made)


def test_apply_custom_resources_and_their_definition(api):
    group = "ssa.example.com"
    crd_path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets." + group
    st, made = ssa(api, crd_path, crd(group))
    assert st == 201, made
    conditions = {c["type"]: c["status"] for c in made["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    assert "f:status" not in entries(made)[("kubeforge", "Apply")]
    st, again = ssa(api, crd_path, crd(group))
    assert st == 200 and again == made
    namespace(api, "kf-ssa-cr")
    path = "/apis/%s/v1/namespaces/kf-ssa-cr/widgets/w1" % group
    w = {"apiVersion": group + "/v1", "kind": "Widget", "metadata": {"name": "w1"},
         "spec": {"size": 1, "containers": [{"name": "a", "image": "x"}]}}
    st, made = ssa(api, path, w)
    assert st == 201 and made["metadata"]["generation"] == 1
    assert entries(made)[("kubeforge", "Apply")] == {"f:spec": {"f:containers": {}, "f:size": {}}}   # atomic list
    w["spec"]["containers"] = [{"name": "b"}]
    st, out = ssa(api, path, w)
    assert st == 200 and out["spec"]["containers"] == [{"name": "b"}] and out["metadata"]["generation"] == 2
    define(api, crd("ssa-define.example.com"))  # the POST path still works beside apply


def test_openapi_lists_apply_for_builtin_kinds(api):
    st, doc = request(api, "GET", "/openapi/v3/api/v1")
    op = doc["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]["patch"]
    assert list(op["requestBody"]["content"]) == [APPLY, MERGE, "application/strategic-merge-patch+json"]


def test_dynamic_client_server_side_apply(api):
    kubernetes = pytest.importorskip("kubernetes")
    from kubernetes.dynamic import DynamicClient
    from kubernetes.dynamic.exceptions import ConflictError, NotFoundError

    namespace(api, "kf-ssa-dyn")
    cfg = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=str(api.kubeconfig), client_configuration=cfg)
    body = configmap("c1", {"k": "v", "keep": "x"}, namespace="kf-ssa-dyn")
    with kubernetes.client.ApiClient(cfg) as client:
        res = DynamicClient(client).resources.get(api_version="v1", kind="ConfigMap")
        with pytest.raises(NotFoundError):
            res.get(name="c1", namespace="kf-ssa-dyn")
        made = res.server_side_apply(body=body, field_manager="kubeforge", force_conflicts=False)
        assert made.data.k == "v" and made.metadata.managedFields[0].manager == "kubeforge"
        got = res.get(name="c1", namespace="kf-ssa-dyn").to_dict()
        # what kubernetes.core.k8s compares to decide "changed"
        assert res.server_side_apply(body=body, field_manager="kubeforge", force_conflicts=False).to_dict() == got
        dry = res.server_side_apply(body=dict(body, data={"k": "dry"}), field_manager="kubeforge", dry_run="All")
        assert dry.data.k == "dry" and res.get(name="c1", namespace="kf-ssa-dyn").to_dict() == got
        res.patch(body={"data": {"k": "edited"}}, name="c1", namespace="kf-ssa-dyn", content_type=MERGE)
        with pytest.raises(ConflictError) as err:
            res.server_side_apply(body=body, field_manager="kubeforge", force_conflicts=False)
        assert json.loads(err.value.body)["message"] == \
            'Apply failed with 1 conflict: conflict with "OpenAPI-Generator" using v1: .data.k'
        forced = res.server_side_apply(body=body, field_manager="kubeforge", force_conflicts=True)
        assert forced.data.k == "v"
        assert [(e.manager, e.operation) for e in forced.metadata.managedFields] == [("kubeforge", "Apply")]


def test_kubectl_server_side_apply(api, tmp_path):
    namespace(api, "kf-ssa-kubectl")
    f = tmp_path / "cm.json"
    f.write_text(json.dumps(configmap("c1", {"k": "v"}, namespace="kf-ssa-kubectl")))
    assert kubectl(api, "apply", "--server-side", "-f", str(f)).stdout.strip() == "configmap/c1 serverside-applied"
    first = json.loads(kubectl(api, "get", "cm", "c1", "-n", "kf-ssa-kubectl", "-o", "json").stdout)
    assert "managedFields" not in first["metadata"]   # kubectl hides them
    kubectl(api, "apply", "--server-side", "-f", str(f))
    st, got = request(api, "GET", cm_path("kf-ssa-kubectl", "c1"))
    assert got["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert entries(got) == {("kubectl", "Apply"): {"f:data": {"f:k": {}}}}
    kubectl(api, "patch", "cm", "c1", "-n", "kf-ssa-kubectl", "--type=merge", "-p", '{"data": {"k": "x"}}')
    r = kubectl(api, "apply", "--server-side", "-f", str(f), check=False)
    assert r.returncode == 1 and 'conflict with "kubectl-patch" using v1: .data.k' in r.stderr
    assert "serverside-applied" in kubectl(api, "apply", "--server-side", "--force-conflicts", "-f", str(f)).stdout
