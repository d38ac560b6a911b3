"""The RBAC decisions of the API doubles (k3s/rbac.py), on plain objects: request attributes as
kube-apiserver's RequestInfoFactory derives them, each rule kind and its wildcards, resourceNames,
subjects, RoleBindings to ClusterRoles, non-resource URLs, missing roles, the 403 Status and the
bootstrap policy.  The HTTP side is in test_service_account_tokens.py."""
import dataclasses
from typing import Dict, List, Optional, Tuple

import pytest

import k3s_double_helpers  # noqa: F401  (puts tests/doubles on sys.path)
from k3s import rbac

SA = "system:serviceaccount:kube-system:argocd-manager"
SA_GROUPS = ("system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated")


class Policy:
    """An rbac.PolicySource over dicts."""

    def __init__(self, roles: Dict[Tuple[str, str], dict] = None, cluster_roles: Dict[str, dict] = None,
                 role_bindings: Dict[str, List[dict]] = None, cluster_role_bindings: List[dict] = None) -> None:
        self.roles, self.cluster_roles = roles or {}, cluster_roles or {}
        self.bindings, self.cluster_bindings = role_bindings or {}, cluster_role_bindings or []

    def role(self, namespace: str, name: str) -> Optional[dict]:
        return self.roles.get((namespace, name))

    def cluster_role(self, name: str) -> Optional[dict]:
        return self.cluster_roles.get(name)

    def role_bindings(self, namespace: str) -> List[dict]:
        return self.bindings.get(namespace, [])

    def cluster_role_bindings(self) -> List[dict]:
        return self.cluster_bindings


def attrs(method: str, path: str, query: Dict[str, str] = None, user: str = SA,
          groups: Tuple[str, ...] = SA_GROUPS) -> rbac.Attributes:
    return rbac.request_attributes(rbac.User(user, groups), method, path, query or {})


def binding(kind: str, role: str, *subjects: dict, role_kind: str = "ClusterRole") -> dict:
    return {"kind": kind, "metadata": {"name": role}, "subjects": list(subjects),
            "roleRef": {"apiGroup": rbac.RBAC_GROUP, "kind": role_kind, "name": role}}


def sa_subject(name: str = "argocd-manager", namespace: str = "kube-system") -> dict:
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


def allowed(policy: Policy, a: rbac.Attributes) -> bool:
    return rbac.authorize(a, policy)[0]


def one_rule(rule: dict) -> Policy:
    """The SA bound cluster-wide to a ClusterRole with ``rule``."""
    return Policy(cluster_roles={"r": {"rules": [rule]}},
                  cluster_role_bindings=[binding("ClusterRoleBinding", "r", sa_subject())])


# --------------------------------------------------------------------------
# request attributes

@pytest.mark.parametrize("method, path, query, want", [
    ("GET", "/api/v1/namespaces/default/configmaps", {}, ("list", "", "default", "configmaps", "", "")),
    ("GET", "/api/v1/namespaces/default/configmaps", {"watch": "true"}, ("watch", "", "default", "configmaps", "", "")),
    ("GET", "/api/v1/namespaces/default/configmaps", {"watch": "1", "fieldSelector": "metadata.name=x"},
     ("watch", "", "default", "configmaps", "", "x")),
    ("GET", "/api/v1/namespaces/default/configmaps", {"watch": "yes"}, ("list", "", "default", "configmaps", "", "")),
    ("GET", "/api/v1/configmaps", {"fieldSelector": "metadata.namespace=a,metadata.name==y"},
     ("list", "", "", "configmaps", "", "y")),
    ("HEAD", "/api/v1/namespaces/default/configmaps/x", {}, ("get", "", "default", "configmaps", "", "x")),
    ("POST", "/api/v1/namespaces/default/configmaps", {}, ("create", "", "default", "configmaps", "", "")),
    ("PUT", "/apis/apps/v1/namespaces/ns/deployments/web", {}, ("update", "apps", "ns", "deployments", "", "web")),
    ("PATCH", "/api/v1/nodes/n1/status", {}, ("patch", "", "", "nodes", "status", "n1")),
    ("DELETE", "/api/v1/namespaces/ns/pods/p", {}, ("delete", "", "ns", "pods", "", "p")),
    ("DELETE", "/api/v1/namespaces/ns/pods", {}, ("deletecollection", "", "ns", "pods", "", "")),
    ("POST", "/api/v1/namespaces/ns/pods/p/eviction", {}, ("create", "", "ns", "pods", "eviction", "p")),
    # a Namespace is in its own namespace; its status and finalize are its subresources
    ("GET", "/api/v1/namespaces/ns", {}, ("get", "", "ns", "namespaces", "", "ns")),
    ("PUT", "/api/v1/namespaces/ns/finalize", {}, ("update", "", "ns", "namespaces", "finalize", "ns")),
    ("GET", "/api/v1/namespaces", {}, ("list", "", "", "namespaces", "", "")),
    ("GET", "/apis/example.com/v1/widgets", {}, ("list", "example.com", "", "widgets", "", "")),
])
def test_resource_request_attributes(method, path, query, want):
    a = attrs(method, path, query)
    assert a.resource_request and a.path == path and a.user == SA and a.groups == SA_GROUPS
    assert (a.verb, a.api_group, a.namespace, a.resource, a.subresource, a.name) == want


@pytest.mark.parametrize("method, path, verb", [
    ("GET", "/api", "get"), ("GET", "/api/v1", "get"), ("GET", "/apis", "get"), ("GET", "/apis/apps", "get"),
    ("GET", "/apis/apps/v1", "get"), ("GET", "/version", "get"), ("HEAD", "/healthz", "head"),
    ("POST", "/openapi/v3/apis/apps/v1", "post"), ("GET", "/", "get"), ("GET", "/logs/a/b", "get"),
])
def test_non_resource_request_attributes(method, path, verb):
    a = attrs(method, path)
    assert not a.resource_request and (a.verb, a.path, a.resource, a.api_group) == (verb, path, "", "")


def test_users_and_groups():
    u = rbac.User("jane", ["dev"])
    assert u == "jane" and isinstance(u, str) and u.groups == ("dev",)
    assert rbac.authenticated(u).groups == ("dev", "system:authenticated")
    assert rbac.authenticated(rbac.authenticated(u)).groups == ("dev", "system:authenticated")
    assert rbac.authenticated("plain").groups == ("system:authenticated",)


# --------------------------------------------------------------------------
# rules

def test_verbs_groups_and_resources():
    p = one_rule({"verbs": ["list", "get"], "apiGroups": [""], "resources": ["configmaps"]})
    assert allowed(p, attrs("GET", "/api/v1/namespaces/default/configmaps"))
    assert allowed(p, attrs("GET", "/api/v1/namespaces/other/configmaps/x"))
    assert allowed(p, attrs("GET", "/api/v1/configmaps"))  # a ClusterRoleBinding holds in every namespace
    assert not allowed(p, attrs("GET", "/api/v1/namespaces/default/configmaps", {"watch": "true"}))
    assert not allowed(p, attrs("POST", "/api/v1/namespaces/default/configmaps"))
    assert not allowed(p, attrs("GET", "/api/v1/namespaces/default/secrets"))
    assert not allowed(p, attrs("GET", "/apis/example.com/v1/namespaces/default/configmaps"))
    # a rule without apiGroups or verbs matches nothing
    assert not allowed(one_rule({"verbs": ["*"], "resources": ["*"]}), attrs("GET", "/api/v1/pods"))
    assert not allowed(one_rule({"apiGroups": ["*"], "resources": ["*"]}), attrs("GET", "/api/v1/pods"))


def test_wildcards():
    everything = one_rule({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})
    for a in (attrs("DELETE", "/apis/apps/v1/namespaces/x/deployments"), attrs("PATCH", "/api/v1/nodes/n/status"),
              attrs("POST", "/apis/example.com/v1/widgets")):
        assert allowed(everything, a)
    assert not allowed(everything, attrs("GET", "/version"))  # resources never grant paths
    apps = one_rule({"verbs": ["get", "list"], "apiGroups": ["apps"], "resources": ["*"]})
    assert allowed(apps, attrs("GET", "/apis/apps/v1/namespaces/x/statefulsets"))
    assert not allowed(apps, attrs("GET", "/api/v1/namespaces/x/pods"))


def test_subresources():
    status = one_rule({"verbs": ["patch"], "apiGroups": [""], "resources": ["nodes/status"]})
    assert allowed(status, attrs("PATCH", "/api/v1/nodes/n1/status"))
    assert not allowed(status, attrs("PATCH", "/api/v1/nodes/n1"))
    nodes = one_rule({"verbs": ["patch"], "apiGroups": [""], "resources": ["nodes"]})
    assert not allowed(nodes, attrs("PATCH", "/api/v1/nodes/n1/status"))
    any_status = one_rule({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*/status"]})
    assert allowed(any_status, attrs("PUT", "/apis/apps/v1/namespaces/x/deployments/d/status"))
    assert not allowed(any_status, attrs("PUT", "/apis/apps/v1/namespaces/x/deployments/d"))
    assert not allowed(any_status, attrs("POST", "/api/v1/namespaces/x/pods/p/eviction"))
    evict = one_rule({"verbs": ["create"], "apiGroups": [""], "resources": ["pods/eviction"]})
    assert allowed(evict, attrs("POST", "/api/v1/namespaces/x/pods/p/eviction"))


def test_resource_names():
    p = one_rule({"verbs": ["get", "list", "update"], "apiGroups": [""], "resources": ["configmaps"],
                  "resourceNames": ["a", "b"]})
    assert allowed(p, attrs("GET", "/api/v1/namespaces/x/configmaps/a"))
    assert allowed(p, attrs("PUT", "/api/v1/namespaces/x/configmaps/b"))
    assert not allowed(p, attrs("GET", "/api/v1/namespaces/x/configmaps/c"))
    # a list has no name, unless its field selector asks for exactly one
    assert not allowed(p, attrs("GET", "/api/v1/namespaces/x/configmaps"))
    assert allowed(p, attrs("GET", "/api/v1/namespaces/x/configmaps", {"fieldSelector": "metadata.name=a"}))
    assert not allowed(p, attrs("GET", "/api/v1/namespaces/x/configmaps", {"fieldSelector": "metadata.name!=a"}))


def test_non_resource_urls():
    p = one_rule({"verbs": ["get"], "nonResourceURLs": ["/healthz", "/apis/*", "/logs*"]})
    assert allowed(p, attrs("GET", "/healthz"))
    assert not allowed(p, attrs("GET", "/healthz/etcd"))
    assert not allowed(p, attrs("HEAD", "/healthz"))  # the verb of a non-resource HEAD is "head"
    assert allowed(p, attrs("GET", "/apis/apps/v1"))
    assert not allowed(p, attrs("GET", "/apis"))
    assert allowed(p, attrs("GET", "/logs")) and allowed(p, attrs("GET", "/logsx/y"))
    assert not allowed(p, attrs("POST", "/healthz"))
    assert allowed(one_rule({"verbs": ["*"], "nonResourceURLs": ["*"]}), attrs("DELETE", "/anything/at/all"))
    # URLs never grant resources
    assert not allowed(one_rule({"verbs": ["*"], "nonResourceURLs": ["*"]}), attrs("GET", "/api/v1/pods"))


# --------------------------------------------------------------------------
# subjects and bindings

def test_subject_kinds():
    rule = {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}

    def bound(*subjects):
        return Policy(cluster_roles={"r": {"rules": [rule]}},
                      cluster_role_bindings=[binding("ClusterRoleBinding", "r", *subjects)])
    jane = attrs("GET", "/api/v1/namespaces/x/pods/p", user="jane", groups=("dev", "system:authenticated"))
    assert allowed(bound({"kind": "User", "name": "jane", "apiGroup": rbac.RBAC_GROUP}), jane)
    assert not allowed(bound({"kind": "User", "name": "john"}), jane)
    assert allowed(bound({"kind": "Group", "name": "dev"}), jane)
    assert allowed(bound({"kind": "Group", "name": "system:authenticated"}), jane)
    assert not allowed(bound({"kind": "Group", "name": "ops"}), jane)
    assert not allowed(bound({"kind": "User", "name": "dev"}), jane)  # a group is not a user
    sa = attrs("GET", "/api/v1/namespaces/x/pods/p")
    assert allowed(bound(sa_subject()), sa)
    assert not allowed(bound(sa_subject(namespace="default")), sa)
    assert allowed(bound({"kind": "Group", "name": "system:serviceaccounts:kube-system"}), sa)
    assert allowed(bound({"kind": "User", "name": SA}), sa)
    # a ClusterRoleBinding's ServiceAccount needs its namespace; a RoleBinding's defaults to its own
    assert not allowed(bound({"kind": "ServiceAccount", "name": "argocd-manager"}), sa)
    in_ns = Policy(roles={("kube-system", "r"): {"rules": [rule]}}, role_bindings={"kube-system": [
        binding("RoleBinding", "r", {"kind": "ServiceAccount", "name": "argocd-manager"}, role_kind="Role")]})
    assert allowed(in_ns, attrs("GET", "/api/v1/namespaces/kube-system/pods/p"))
    assert not allowed(in_ns, attrs("GET", "/api/v1/namespaces/x/pods/p"))


def test_role_binding_scopes_a_cluster_role_to_its_namespace():
    p = Policy(cluster_roles={"cm-reader": {"rules": [{"verbs": ["list"], "apiGroups": [""],
                                                       "resources": ["configmaps"]}]}},
               role_bindings={"team": [binding("RoleBinding", "cm-reader", sa_subject())]})
    assert allowed(p, attrs("GET", "/api/v1/namespaces/team/configmaps"))
    assert not allowed(p, attrs("GET", "/api/v1/namespaces/default/configmaps"))
    assert not allowed(p, attrs("GET", "/api/v1/configmaps"))  # all namespaces: cluster scope
    # a Role is looked up in the binding's namespace
    p = Policy(roles={("other", "r"): {"rules": [{"verbs": ["list"], "apiGroups": [""], "resources": ["pods"]}]}},
               role_bindings={"team": [binding("RoleBinding", "r", sa_subject(), role_kind="Role")]})
    assert rbac.authorize(attrs("GET", "/api/v1/namespaces/team/pods"), p) == (
        False, 'RBAC: role.rbac.authorization.k8s.io "r" not found')


def test_missing_roles_are_the_reason():
    missing = binding("ClusterRoleBinding", "gone", sa_subject())
    other = binding("ClusterRoleBinding", "also-gone", {"kind": "User", "name": "someone-else"})
    a = attrs("GET", "/api/v1/namespaces/default/configmaps")
    assert rbac.authorize(a, Policy(cluster_role_bindings=[missing, other])) == (
        False, 'RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found')
    two = Policy(cluster_role_bindings=[missing, binding("ClusterRoleBinding", "gone2", sa_subject()), missing],
                 role_bindings={"default": [binding("RoleBinding", "r", sa_subject(), role_kind="Role")]})
    assert rbac.authorize(a, two) == (
        False, 'RBAC: [clusterrole.rbac.authorization.k8s.io "gone" not found, '
               'clusterrole.rbac.authorization.k8s.io "gone2" not found, role.rbac.authorization.k8s.io "r" not found]')
    weird = binding("ClusterRoleBinding", "x", sa_subject(), role_kind="Group")
    assert rbac.authorize(a, Policy(cluster_role_bindings=[weird])) == (
        False, 'RBAC: unsupported role reference kind: "Group"')
    # a binding that allows wins over the errors
    p = Policy(cluster_roles={"ok": {"rules": [{"verbs": ["list"], "apiGroups": [""], "resources": ["configmaps"]}]}},
               cluster_role_bindings=[missing, binding("ClusterRoleBinding", "ok", sa_subject())])
    assert rbac.authorize(a, p) == (True, "")
    assert rbac.authorize(a, Policy()) == (False, "")


# --------------------------------------------------------------------------
# the 403

def status_of(method, path, query=None, reason=""):
    return rbac.forbidden_status(attrs(method, path, query), reason)


def test_forbidden_messages_as_kube_apiserver_words_them():
    user = 'User "%s"' % SA
    st = status_of("GET", "/api/v1/namespaces/default/configmaps")
    assert st == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": 'configmaps is forbidden: %s cannot list resource "configmaps" in API group "" in the '
                             'namespace "default"' % user,
                  "reason": "Forbidden", "details": {"kind": "configmaps"}, "code": 403}
    st = status_of("GET", "/api/v1/namespaces/default/configmaps/x")
    assert st["message"] == ('configmaps "x" is forbidden: %s cannot get resource "configmaps" in API group "" in '
                             'the namespace "default"' % user)
    assert st["details"] == {"name": "x", "kind": "configmaps"}
    assert status_of("GET", "/api/v1/nodes")["message"] == (
        'nodes is forbidden: %s cannot list resource "nodes" in API group "" at the cluster scope' % user)
    st = status_of("GET", "/apis/apps/v1/namespaces/default/deployments")
    assert st["message"] == ('deployments.apps is forbidden: %s cannot list resource "deployments" in API group '
                             '"apps" in the namespace "default"' % user)
    assert st["details"] == {"group": "apps", "kind": "deployments"}
    assert status_of("POST", "/api/v1/namespaces/x/pods/p/eviction")["message"] == (
        'pods "p" is forbidden: %s cannot create resource "pods/eviction" in API group "" in the namespace "x"' % user)
    assert status_of("DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings")["message"] == (
        'clusterrolebindings.rbac.authorization.k8s.io is forbidden: %s cannot deletecollection resource '
        '"clusterrolebindings" in API group "rbac.authorization.k8s.io" at the cluster scope' % user)
    assert status_of("GET", "/api/v1/namespaces/team")["message"] == (
        'namespaces "team" is forbidden: %s cannot get resource "namespaces" in API group "" in the namespace '
        '"team"' % user)
    st = status_of("GET", "/version")
    assert st["message"] == 'forbidden: %s cannot get path "/version"' % user and st["details"] == {}
    assert status_of("GET", "/api/v1/namespaces/default/configmaps", reason="RBAC: x")["message"].endswith(
        'in the namespace "default": RBAC: x')
    # upstream's sanitizer escapes what could read as HTML (not in the reason)
    assert status_of("GET", "/a<b>&c", reason="<r>")["message"] == (
        'forbidden: %s cannot get path "/a&lt;b&gt;&amp;c": <r>' % user)


# --------------------------------------------------------------------------
# bootstrap policy

def test_bootstrap_policy():
    objs = rbac.bootstrap_policy()
    names = [(k.split(".")[0], o["metadata"]["name"]) for k, o in objs]
    assert names == [("clusterroles", "cluster-admin"), ("clusterroles", "system:discovery"),
                     ("clusterroles", "system:public-info-viewer"), ("clusterrolebindings", "cluster-admin"),
                     ("clusterrolebindings", "system:discovery"), ("clusterrolebindings", "system:public-info-viewer")]
    for _, o in objs:
        assert o["metadata"]["labels"] == {"kubernetes.io/bootstrapping": "rbac-defaults"}
        assert o["metadata"]["annotations"] == {"rbac.authorization.kubernetes.io/autoupdate": "true"}
    by_name = {(k.split(".")[0], o["metadata"]["name"]): o for k, o in objs}
    assert by_name[("clusterroles", "cluster-admin")]["rules"] == [
        {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}, {"verbs": ["*"], "nonResourceURLs": ["*"]}]
    assert by_name[("clusterrolebindings", "system:public-info-viewer")]["subjects"] == [
        {"apiGroup": rbac.RBAC_GROUP, "kind": "Group", "name": "system:authenticated"},
        {"apiGroup": rbac.RBAC_GROUP, "kind": "Group", "name": "system:unauthenticated"}]
    p = Policy(cluster_roles={o["metadata"]["name"]: o for k, o in objs if k.startswith("clusterroles.")},
               cluster_role_bindings=[o for k, o in objs if k.startswith("clusterrolebindings.")])
    for path in ("/api", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1", "/version", "/version/", "/healthz",
                 "/livez", "/readyz", "/openapi/v3", "/openapi/v3/apis/apps/v1"):
        assert allowed(p, attrs("GET", path)), path
    for a in (attrs("GET", "/healthz/etcd"), attrs("GET", "/metrics"), attrs("GET", "/api/v1/namespaces"),
              attrs("POST", "/api")):
        assert not allowed(p, a)
    anonymous = attrs("GET", "/version", user="system:anonymous", groups=("system:unauthenticated",))
    assert allowed(p, anonymous) and not allowed(p, dataclasses.replace(anonymous, path="/apis"))
    admin = attrs("DELETE", "/api/v1/nodes/n", user="system:admin", groups=("system:masters",))
    assert allowed(p, admin) and allowed(p, attrs("GET", "/metrics", user="system:admin", groups=("system:masters",)))
