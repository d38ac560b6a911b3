"""RBAC authorization (rbac.authorization.k8s.io/v1) for the API doubles: pure logic, stdlib only.

What kube-apiserver does between authentication and the handler, as far as the doubles need it:

- ``request_attributes``: the authorizer attributes of a request (apiserver's RequestInfoFactory).
  A path with fewer than three segments, or outside ``/api`` and ``/apis``, is a non-resource
  request whose verb is the lower-case HTTP method (``/api``, ``/api/v1``, ``/apis/apps/v1``,
  ``/version``, ``/healthz``, ``/openapi/v3/...``).  Otherwise: the API group and version, the
  namespace of ``/namespaces/<ns>/...`` (also the namespace of a Namespace object itself), then
  resource, name and subresource; the verb is create (POST), get (GET, HEAD), update (PUT),
  patch (PATCH) or delete (DELETE), and without a name get becomes list (watch with a true
  ``watch`` parameter, the name then taken from a ``metadata.name=`` field selector) and delete
  becomes deletecollection.  The special ``/watch/`` and ``/proxy/`` path verbs are not parsed
  (the doubles serve neither).
- ``authorize``: the RBAC authorizer (plugin/pkg/auth/authorizer/rbac and the rule resolver of
  pkg/registry/rbac/validation).  ClusterRoleBindings are visited first, then, for a request in a
  namespace, the RoleBindings of that namespace; a RoleBinding may reference a ClusterRole, whose
  rules then hold in the binding's namespace only.  Subjects: User (by name), Group (among the
  user's groups), ServiceAccount (``system:serviceaccount:<ns>:<name>``; a RoleBinding's subject
  without a namespace means the binding's).  A rule allows a resource request when verb, API group,
  resource (``*``, ``<resource>``, ``<resource>/<subresource>`` or ``*/<subresource>``) and
  resourceNames (none: any name) all match, and a non-resource request when verb and one of
  nonResourceURLs match (``*``, the exact path, or a prefix ending in ``*``).  A binding that applies
  but whose role is missing adds kube-apiserver's reason (``RBAC: clusterrole.rbac.authorization.k8s.io
  "x" not found``, several as ``[a, b]``) to the denial.
- ``forbidden_status``: the 403 Status (responsewriters.Forbidden, apierrors.NewForbidden): the
  message ``<resource>[.<group>][ "<name>"] is forbidden: User "<u>" cannot <verb> resource
  "<resource>[/<subresource>]" in API group "<group>" in the namespace "<ns>"`` (``at the cluster
  scope`` without a namespace), ``forbidden: User "<u>" cannot <verb> path "<path>"`` for a
  non-resource request, then ``: <reason>`` when the authorizers gave one; ``&``, ``<`` and ``>``
  of the first part HTML-escaped as upstream's sanitizer does.
- ``bootstrap_policy``: the subset of kube-apiserver's bootstrap policy (pkg/apis/rbac/bootstrappolicy)
  the doubles create at first start: ClusterRoles ``cluster-admin``, ``system:discovery`` and
  ``system:public-info-viewer`` and their ClusterRoleBindings to ``system:masters``,
  ``system:authenticated`` and ``system:authenticated``/``system:unauthenticated``, labelled
  ``kubernetes.io/bootstrapping: rbac-defaults`` and annotated
  ``rbac.authorization.kubernetes.io/autoupdate: "true"``.

Not modelled: aggregated ClusterRoles (an ``aggregationRule`` is stored, but no controller fills the
role's rules from the selected roles, so ``admin``, ``edit`` and ``view`` are not created either);
the other bootstrap roles and bindings (``system:basic-user``, ``system:monitoring``, the
controllers' and nodes' roles...); reconciling changed bootstrap objects on restart; RBAC's
escalation checks on writes of roles and bindings (the ``escalate`` and ``bind`` verbs);
impersonation; SubjectAccessReviews (``kubectl auth can-i``).
"""
from __future__ import annotations

import dataclasses
import json
from typing import Iterable, List, Mapping, Optional, Protocol, Sequence, Tuple

RBAC_GROUP = "rbac.authorization.k8s.io"
MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
READ_VERBS = ("get", "list", "watch")
# the subresources of a namespace (RequestInfoFactory's namespaceSubresources)
NAMESPACE_SUBRESOURCES = ("status", "finalize")
_METHOD_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch",
                 "DELETE": "delete"}
_GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")  # strconv.ParseBool


class User(str):
    """An authenticated user: its name (a str, as the doubles compare it) and its groups."""

    groups: Tuple[str, ...]

    def __new__(cls, name: str, groups: Iterable[str] = ()) -> "User":
        user = super().__new__(cls, name)
        user.groups = tuple(groups)
        return user


def authenticated(user: str) -> User:
    """The user as kube-apiserver's authenticator hands it on: ``system:authenticated`` added to
    its groups unless there already."""
    groups = tuple(getattr(user, "groups", ()))
    return User(user, groups if AUTHENTICATED in groups else groups + (AUTHENTICATED,))


@dataclasses.dataclass(frozen=True)
class Attributes:
    """authorizer.Attributes of one request.  ``object_name`` is the name in a create's body (kube-apiserver
    has it in admission only: the doubles' node authorizers use it for NodeRestriction's check; RBAC never
    looks at it)."""

    user: str
    groups: Tuple[str, ...]
    verb: str
    path: str
    resource_request: bool = False
    api_group: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    object_name: str = ""


def _exact_name(field_selector: str) -> str:
    """The value of a ``metadata.name=`` (or ``==``) term of a field selector, if it is a valid path segment."""
    for term in field_selector.split(","):
        key, op, value = term.partition("==") if "==" in term else term.partition("=")
        if op and key.strip() == "metadata.name":
            value = value.strip()
            if value not in (".", "..") and "/" not in value and "%" not in value:
                return value
    return ""


def request_attributes(user: str, method: str, path: str, query: Mapping[str, str]) -> Attributes:
    """The authorizer attributes of ``method path?query`` by ``user`` (see the module docstring)."""
    base = {"user": str(user), "groups": tuple(getattr(user, "groups", ())), "path": path,
            "verb": method.lower()}
    trimmed = path.strip("/")
    parts = trimmed.split("/") if trimmed else []
    if len(parts) < 3 or parts[0] not in ("api", "apis"):
        return Attributes(**base)
    rest, group = parts[1:], ""
    if parts[0] == "apis":
        if len(rest) < 3:
            return Attributes(**base)
        group, rest = rest[0], rest[1:]
    rest = rest[1:]  # the version
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    verb = _METHOD_VERBS.get(method, "")
    if not name and verb == "get":
        verb = "watch" if query.get("watch") in _GO_TRUE else "list"
        name = _exact_name(query.get("fieldSelector") or "")
    elif not name and verb == "delete":
        verb = "deletecollection"
    return Attributes(**dict(base, verb=verb), resource_request=True, api_group=group, namespace=namespace,
                      resource=resource, subresource=subresource, name=name)


# --------------------------------------------------------------------------
# rules and subjects

def _matches(values: Sequence[str], wanted: str) -> bool:
    return "*" in values or wanted in values


def resource_matches(resources: Sequence[str], resource: str, subresource: str) -> bool:
    """rbacv1helpers.ResourceMatches: ``*``, the combined ``resource[/subresource]``, or ``*/<subresource>``."""
    combined = "%s/%s" % (resource, subresource) if subresource else resource
    return any(r == "*" or r == combined or (subresource and r == "*/" + subresource) for r in resources)


def url_matches(urls: Sequence[str], path: str) -> bool:
    """rbacv1helpers.NonResourceURLMatches: ``*``, the exact path, or a prefix ending in ``*``."""
    return any(u == "*" or u == path or (u.endswith("*") and path.startswith(u.rstrip("*"))) for u in urls)


def rule_allows(attrs: Attributes, rule: Mapping) -> bool:
    """RuleAllows: whether one PolicyRule allows the request."""
    if not _matches(rule.get("verbs") or [], attrs.verb):
        return False
    if not attrs.resource_request:
        return url_matches(rule.get("nonResourceURLs") or [], attrs.path)
    names = rule.get("resourceNames") or []
    return (_matches(rule.get("apiGroups") or [], attrs.api_group)
            and resource_matches(rule.get("resources") or [], attrs.resource, attrs.subresource)
            and (not names or attrs.name in names))


def service_account_username(namespace: str, name: str) -> str:
    """serviceaccount.MakeUsername."""
    return "system:serviceaccount:%s:%s" % (namespace, name)


def applies_to(user: str, groups: Sequence[str], subjects: Sequence[Mapping], namespace: str) -> bool:
    """appliesTo: whether one of a binding's subjects is the user (``namespace``: the RoleBinding's, or
    empty for a ClusterRoleBinding)."""
    for s in subjects:
        kind, name = s.get("kind"), s.get("name")
        if kind == "User" and name == user:
            return True
        if kind == "Group" and name in groups:
            return True
        if kind == "ServiceAccount":
            ns = s.get("namespace") or namespace
            if ns and user == service_account_username(ns, name or ""):
                return True
    return False


class PolicySource(Protocol):
    """The RBAC objects the authorizer reads (kube-apiserver's listers)."""

    def role(self, namespace: str, name: str) -> Optional[dict]: ...

    def cluster_role(self, name: str) -> Optional[dict]: ...

    def role_bindings(self, namespace: str) -> List[dict]: ...

    def cluster_role_bindings(self) -> List[dict]: ...


def _role_rules(source: PolicySource, ref: Mapping, namespace: str) -> Tuple[List[dict], str]:
    """GetRoleReferenceRules: the rules of a binding's roleRef, or an error text."""
    kind, name = ref.get("kind"), ref.get("name") or ""
    if kind == "Role":
        role, singular = source.role(namespace, name), "role"
    elif kind == "ClusterRole":
        role, singular = source.cluster_role(name), "clusterrole"
    else:
        return [], "unsupported role reference kind: %s" % _q(kind or "")
    if role is None:
        return [], '%s.%s "%s" not found' % (singular, RBAC_GROUP, name)
    return [r for r in role.get("rules") or [] if isinstance(r, dict)], ""


def _aggregate(errors: List[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message as is, several (deduplicated) as ``[a, b]``."""
    unique = list(dict.fromkeys(errors))
    return unique[0] if len(unique) == 1 else "[%s]" % ", ".join(unique)


def authorize(attrs: Attributes, source: PolicySource) -> Tuple[bool, str]:
    """The RBAC authorizer: (allowed, reason); the reason lists the missing roles of the bindings that apply."""
    errors: List[str] = []
    scopes = [("", b) for b in source.cluster_role_bindings()]
    if attrs.namespace:
        scopes += [(attrs.namespace, b) for b in source.role_bindings(attrs.namespace)]
    for namespace, binding in scopes:
        if not applies_to(attrs.user, attrs.groups, binding.get("subjects") or [], namespace):
            continue
        rules, error = _role_rules(source, binding.get("roleRef") or {}, namespace)
        if error:
            errors.append(error)
        if any(rule_allows(attrs, r) for r in rules):
            return True, ""
    return False, "RBAC: " + _aggregate(errors) if errors else ""


# --------------------------------------------------------------------------
# the 403

def _q(s: str) -> str:
    """Go's %q for the strings at hand."""
    return json.dumps(s, ensure_ascii=False)


def _sanitize(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def forbidden_message(attrs: Attributes) -> str:
    """responsewriters' forbiddenMessage."""
    if not attrs.resource_request:
        return "User %s cannot %s path %s" % (_q(attrs.user), attrs.verb, _q(attrs.path))
    resource = "%s/%s" % (attrs.resource, attrs.subresource) if attrs.subresource else attrs.resource
    scope = "in the namespace %s" % _q(attrs.namespace) if attrs.namespace else "at the cluster scope"
    return "User %s cannot %s resource %s in API group %s %s" % (_q(attrs.user), attrs.verb, _q(resource),
                                                                 _q(attrs.api_group), scope)


def forbidden_status(attrs: Attributes, reason: str = "") -> dict:
    """The 403 Status kube-apiserver answers a denied request with."""
    err = _sanitize(forbidden_message(attrs)) + (": " + reason if reason else "")
    qualified = "%s.%s" % (attrs.resource, attrs.api_group) if attrs.api_group else attrs.resource
    if not qualified:
        message = "forbidden: " + err
    elif attrs.name:
        message = "%s %s is forbidden: %s" % (qualified, _q(attrs.name), err)
    else:
        message = "%s is forbidden: %s" % (qualified, err)
    details = {k: v for k, v in (("name", attrs.name), ("group", attrs.api_group), ("kind", attrs.resource)) if v}
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": "Forbidden", "details": details, "code": 403}


# --------------------------------------------------------------------------
# bootstrap policy

BOOTSTRAP_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
BOOTSTRAP_ANNOTATIONS = {"rbac.authorization.kubernetes.io/autoupdate": "true"}
_HEALTH_URLS = ["/livez", "/readyz", "/healthz", "/version", "/version/"]
# name -> (rules, groups its ClusterRoleBinding of the same name binds)
_BOOTSTRAP = {
    "cluster-admin": ([{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
                       {"verbs": ["*"], "nonResourceURLs": ["*"]}], [MASTERS]),
    "system:discovery": ([{"verbs": ["get"], "nonResourceURLs": _HEALTH_URLS + [
        "/openapi", "/openapi/*", "/api", "/api/*", "/apis", "/apis/*"]}], [AUTHENTICATED]),
    "system:public-info-viewer": ([{"verbs": ["get"], "nonResourceURLs": _HEALTH_URLS}],
                                  [AUTHENTICATED, UNAUTHENTICATED]),
}


def _bootstrap_meta(name: str) -> dict:
    return {"name": name, "labels": dict(BOOTSTRAP_LABELS), "annotations": dict(BOOTSTRAP_ANNOTATIONS)}


def bootstrap_policy() -> List[Tuple[str, dict]]:
    """[(store key, object)]: the bootstrap ClusterRoles, then their ClusterRoleBindings."""
    roles = [("clusterroles." + RBAC_GROUP, {"metadata": _bootstrap_meta(name), "rules": rules})
             for name, (rules, _) in _BOOTSTRAP.items()]
    bindings = [("clusterrolebindings." + RBAC_GROUP, {
        "metadata": _bootstrap_meta(name),
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": name},
        "subjects": [{"apiGroup": RBAC_GROUP, "kind": "Group", "name": g} for g in groups]})
        for name, (_, groups) in _BOOTSTRAP.items()]
    return roles + bindings
