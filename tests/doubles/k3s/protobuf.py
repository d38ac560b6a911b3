"""Kubernetes' protobuf request bodies (``application/vnd.kubernetes.protobuf``) for the API doubles:
pure decoding, stdlib only.

client-go's typed clients (kubernetes.NewForConfig: helm's release storage, ``kubectl create
configmap|secret``, controllers) send built-in kinds as protobuf since Kubernetes 1.31 (PR #125314) and
accept ``application/vnd.kubernetes.protobuf,application/json``; the doubles answer in JSON, which those
clients accept as well.  The body is k8s.io/apimachinery's envelope (runtime/serializer/protobuf): the
four bytes ``k8s\\x00``, then a runtime.Unknown message (1 typeMeta {1 apiVersion, 2 kind}, 2 raw: the
object's own message, 3 contentEncoding, 4 contentType).

``decode(body)`` gives (apiVersion, kind, object as its JSON form) for the messages of MESSAGES (the
field numbers of the generated.proto files of k8s.io/api core/v1 and rbac/v1 and of
k8s.io/apimachinery meta/v1; checked against the bodies kubectl and helm send): Secret, ConfigMap,
Namespace, ServiceAccount (core/v1; helm's release storage, ``kubectl create
configmap|secret|namespace|serviceaccount``), Role, ClusterRole, RoleBinding, ClusterRoleBinding
(rbac.authorization.k8s.io/v1; ``kubectl create role|clusterrole|rolebinding|clusterrolebinding``) and
DeleteOptions (meta/v1, sent in any group version).  The JSON form is what the Go type's JSON
encoding gives: a non-pointer field with ``omitempty`` that holds its zero value (gogo-protobuf writes
such strings, integers and the zero metav1.Time anyway) is left out, a pointer or required field
(``immutable``, ``automountServiceAccountToken``, the DeleteOptions fields, a roleRef's) is kept
whenever it was sent, ``data`` of a Secret and ``binaryData`` of a ConfigMap become base64, a
metav1.Time RFC 3339 with second precision, FieldsV1 its JSON.  Unknown field numbers are skipped, as
the generated Unmarshal skips them.  A kind outside KINDS raises Unsupported (the API answers 415); a
body that is not a well-formed envelope raises ProtoError (400).

Not modelled: every other kind (Deployments, Pods, Services, Jobs, ... are refused with 415 where
kube-apiserver takes them), the ``null`` that JSON gives a non-omitempty list left empty (``rules`` of a
Role: absent here), encoding (answers are JSON), protobuf watch frames and ``Table`` in protobuf.
"""
from __future__ import annotations

import base64
import calendar
import json
import time
from typing import Dict, Iterator, Tuple

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
# seconds of Go's zero time.Time (0001-01-01T00:00:00Z): metav1.Time's JSON null
_ZERO_TIME = -62135596800


class ProtoError(ValueError):
    """A body that is not a well-formed protobuf envelope or message."""


class Unsupported(ValueError):
    """A well-formed envelope of a kind the double does not decode."""

    def __init__(self, api_version: str, kind: str) -> None:
        super().__init__("%s %s" % (api_version, kind))
        self.api_version, self.kind = api_version, kind


# field kinds
STR, BYTES, BOOL, INT, TIME, MSG, REP_STR, REP_MSG, MAP_STR, MAP_BYTES, FIELDS = range(11)

# message -> field number -> (JSON name, kind, sub-message, keep: a pointer or non-omitempty field)
MESSAGES: Dict[str, Dict[int, Tuple[str, int, str, bool]]] = {
    "TypeMeta": {1: ("apiVersion", STR, "", False), 2: ("kind", STR, "", False)},
    "Unknown": {1: ("typeMeta", MSG, "TypeMeta", False), 2: ("raw", BYTES, "", False),
                3: ("contentEncoding", STR, "", False), 4: ("contentType", STR, "", False)},
    "ObjectMeta": {
        1: ("name", STR, "", False), 2: ("generateName", STR, "", False), 3: ("namespace", STR, "", False),
        4: ("selfLink", STR, "", False), 5: ("uid", STR, "", False), 6: ("resourceVersion", STR, "", False),
        7: ("generation", INT, "", False), 8: ("creationTimestamp", TIME, "", False),
        9: ("deletionTimestamp", TIME, "", False), 10: ("deletionGracePeriodSeconds", INT, "", True),
        11: ("labels", MAP_STR, "", False), 12: ("annotations", MAP_STR, "", False),
        13: ("ownerReferences", REP_MSG, "OwnerReference", False), 14: ("finalizers", REP_STR, "", False),
        17: ("managedFields", REP_MSG, "ManagedFieldsEntry", False)},
    "OwnerReference": {5: ("apiVersion", STR, "", True), 1: ("kind", STR, "", True), 3: ("name", STR, "", True),
                       4: ("uid", STR, "", True), 6: ("controller", BOOL, "", True),
                       7: ("blockOwnerDeletion", BOOL, "", True)},
    "ManagedFieldsEntry": {1: ("manager", STR, "", False), 2: ("operation", STR, "", False),
                           3: ("apiVersion", STR, "", False), 4: ("time", TIME, "", False),
                           6: ("fieldsType", STR, "", False), 7: ("fieldsV1", FIELDS, "", False),
                           8: ("subresource", STR, "", False)},
    "ObjectReference": {1: ("kind", STR, "", False), 2: ("namespace", STR, "", False), 3: ("name", STR, "", False),
                        4: ("uid", STR, "", False), 5: ("apiVersion", STR, "", False),
                        6: ("resourceVersion", STR, "", False), 7: ("fieldPath", STR, "", False)},
    "LocalObjectReference": {1: ("name", STR, "", False)},
    "Secret": {1: ("metadata", MSG, "ObjectMeta", False), 5: ("immutable", BOOL, "", True),
               2: ("data", MAP_BYTES, "", False), 4: ("stringData", MAP_STR, "", False),
               3: ("type", STR, "", False)},
    "ConfigMap": {1: ("metadata", MSG, "ObjectMeta", False), 4: ("immutable", BOOL, "", True),
                  2: ("data", MAP_STR, "", False), 3: ("binaryData", MAP_BYTES, "", False)},
    "ServiceAccount": {1: ("metadata", MSG, "ObjectMeta", False), 2: ("secrets", REP_MSG, "ObjectReference", False),
                       3: ("imagePullSecrets", REP_MSG, "LocalObjectReference", False),
                       4: ("automountServiceAccountToken", BOOL, "", True)},
    "Namespace": {1: ("metadata", MSG, "ObjectMeta", False), 2: ("spec", MSG, "NamespaceSpec", False),
                  3: ("status", MSG, "NamespaceStatus", False)},
    "NamespaceSpec": {1: ("finalizers", REP_STR, "", False)},
    "NamespaceStatus": {1: ("phase", STR, "", False), 2: ("conditions", REP_MSG, "NamespaceCondition", False)},
    "NamespaceCondition": {1: ("type", STR, "", True), 2: ("status", STR, "", True),
                           4: ("lastTransitionTime", TIME, "", False), 5: ("reason", STR, "", False),
                           6: ("message", STR, "", False)},
    "PolicyRule": {1: ("verbs", REP_STR, "", False), 2: ("apiGroups", REP_STR, "", False),
                   3: ("resources", REP_STR, "", False), 4: ("resourceNames", REP_STR, "", False),
                   5: ("nonResourceURLs", REP_STR, "", False)},
    "Role": {1: ("metadata", MSG, "ObjectMeta", False), 2: ("rules", REP_MSG, "PolicyRule", False)},
    "ClusterRole": {1: ("metadata", MSG, "ObjectMeta", False), 2: ("rules", REP_MSG, "PolicyRule", False),
                    3: ("aggregationRule", MSG, "AggregationRule", True)},
    "AggregationRule": {1: ("clusterRoleSelectors", REP_MSG, "LabelSelector", False)},
    "LabelSelector": {1: ("matchLabels", MAP_STR, "", False),
                      2: ("matchExpressions", REP_MSG, "LabelSelectorRequirement", False)},
    "LabelSelectorRequirement": {1: ("key", STR, "", True), 2: ("operator", STR, "", True),
                                 3: ("values", REP_STR, "", False)},
    "Subject": {1: ("kind", STR, "", True), 2: ("apiGroup", STR, "", False), 3: ("name", STR, "", True),
                4: ("namespace", STR, "", False)},
    "RoleRef": {1: ("apiGroup", STR, "", True), 2: ("kind", STR, "", True), 3: ("name", STR, "", True)},
    "RoleBinding": {1: ("metadata", MSG, "ObjectMeta", False), 2: ("subjects", REP_MSG, "Subject", False),
                    3: ("roleRef", MSG, "RoleRef", True)},
    "DeleteOptions": {1: ("gracePeriodSeconds", INT, "", True), 2: ("preconditions", MSG, "Preconditions", True),
                      3: ("orphanDependents", BOOL, "", True), 4: ("propagationPolicy", STR, "", True),
                      5: ("dryRun", REP_STR, "", False),
                      6: ("ignoreStoreReadErrorWithClusterBreakingPotential", BOOL, "", True)},
    "Preconditions": {1: ("uid", STR, "", True), 2: ("resourceVersion", STR, "", True)},
}
# (apiVersion, kind) -> message: core/v1 kinds; DeleteOptions in any group version (DeleteResource decodes
# "per group DeleteOptions" as well as meta.k8s.io/v1's)
KINDS = {("v1", k): k for k in ("Secret", "ConfigMap", "ServiceAccount", "Namespace")}
KINDS.update({("rbac.authorization.k8s.io/v1", k): k for k in ("Role", "ClusterRole", "RoleBinding")})
KINDS[("rbac.authorization.k8s.io/v1", "ClusterRoleBinding")] = "RoleBinding"  # the same fields


def _varint(buf: bytes, i: int) -> Tuple[int, int]:
    shift = value = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise ProtoError("unexpected EOF in a varint")
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7


def fields(buf: bytes) -> Iterator[Tuple[int, int, object]]:
    """(field number, wire type, value) of a message: an int for varint and fixed types, bytes for
    length-delimited ones; groups (wire types 3 and 4) are not used by Kubernetes and refused."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wire = key >> 3, key & 7
        if num == 0:
            raise ProtoError("illegal tag 0")
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 1:
            if i + 8 > len(buf):
                raise ProtoError("unexpected EOF")
            value, i = int.from_bytes(buf[i:i + 8], "little"), i + 8
        elif wire == 5:
            if i + 4 > len(buf):
                raise ProtoError("unexpected EOF")
            value, i = int.from_bytes(buf[i:i + 4], "little"), i + 4
        elif wire == 2:
            n, i = _varint(buf, i)
            if i + n > len(buf):
                raise ProtoError("unexpected EOF")
            value, i = buf[i:i + n], i + n
        else:
            raise ProtoError("illegal wireType %d for field %d" % (wire, num))
        yield num, wire, value


def _signed(v: int) -> int:
    """A varint as Go's int64/int32 (two's complement over 64 bits)."""
    return v - (1 << 64) if v >= 1 << 63 else v


def _text(v: object) -> str:
    if not isinstance(v, bytes):
        raise ProtoError("a string field is not length-delimited")
    try:
        return v.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ProtoError("invalid UTF-8 in a string field: %s" % e)


def _time(v: object) -> object:
    """metav1.Time (1 seconds, 2 nanos) as its JSON: RFC 3339 at second precision (Time.Unmarshal drops the
    nanoseconds too); None for the zero time (an empty message, or Go's zero seconds)."""
    if not isinstance(v, bytes):
        raise ProtoError("a Time field is not length-delimited")
    if not v:
        return None  # metav1.Time marshals the zero time as an empty message
    seconds = 0
    for num, _, val in fields(v):
        if num == 1 and isinstance(val, int):
            seconds = _signed(val)
    if seconds == _ZERO_TIME:
        return None
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
    except (OverflowError, OSError, ValueError):
        raise ProtoError("time out of range: %d" % seconds)


def _map_entry(v: object, binary: bool) -> Tuple[str, object]:
    if not isinstance(v, bytes):
        raise ProtoError("a map entry is not length-delimited")
    key, value = "", b"" if binary else ""
    for num, _, val in fields(v):
        if num == 1:
            key = _text(val)
        elif num == 2:
            if not isinstance(val, bytes):
                raise ProtoError("a map value is not length-delimited")
            value = base64.b64encode(val).decode() if binary else _text(val)
    if binary and isinstance(value, bytes):
        value = ""
    return key, value


def message(name: str, buf: bytes) -> dict:
    """The JSON form of ``buf``, a message of MESSAGES[name] (see the module docstring)."""
    schema = MESSAGES[name]
    out: dict = {}
    for num, wire, val in fields(buf):
        spec = schema.get(num)
        if spec is None:
            continue
        key, kind, sub, _ = spec
        if kind in (BOOL, INT):
            if wire != 0:
                raise ProtoError("field %s of %s is not a varint" % (key, name))
            out[key] = bool(val) if kind == BOOL else _signed(val)  # type: ignore[arg-type]
        elif kind == STR:
            out[key] = _text(val)
        elif kind == BYTES:
            if not isinstance(val, bytes):
                raise ProtoError("field %s of %s is not length-delimited" % (key, name))
            out[key] = val
        elif kind == TIME:
            out[key] = _time(val)
        elif kind == MSG:
            if not isinstance(val, bytes):
                raise ProtoError("field %s of %s is not length-delimited" % (key, name))
            out[key] = message(sub, val)
        elif kind == REP_STR:
            out.setdefault(key, []).append(_text(val))
        elif kind == REP_MSG:
            if not isinstance(val, bytes):
                raise ProtoError("field %s of %s is not length-delimited" % (key, name))
            out.setdefault(key, []).append(message(sub, val))
        elif kind in (MAP_STR, MAP_BYTES):
            k, v = _map_entry(val, kind == MAP_BYTES)
            out.setdefault(key, {})[k] = v
        elif kind == FIELDS:
            raw = b""
            if isinstance(val, bytes):
                for fnum, _, fval in fields(val):
                    if fnum == 1 and isinstance(fval, bytes):
                        raw = fval
            try:
                out[key] = json.loads(raw.decode() or "{}")
            except ValueError as e:
                raise ProtoError("invalid FieldsV1: %s" % e)
    # the JSON form: zero values of omitempty fields left out, in the schema's (JSON) order
    ordered = {}
    for key, kind, _, keep in schema.values():
        if key not in out:
            continue
        value = out[key]
        if not keep and (value is None or value in ("", 0, False, [], {})):
            continue
        ordered[key] = value
    return ordered


def envelope(body: bytes) -> Tuple[str, str, bytes]:
    """(apiVersion, kind, raw) of a protobuf body; ProtoError when it is not one."""
    if not body.startswith(MAGIC):
        raise ProtoError("provided data does not appear to be a protobuf message, expected prefix "
                         "[107 56 115 0]")
    unknown = message("Unknown", body[len(MAGIC):])
    tm = unknown.get("typeMeta") or {}
    return tm.get("apiVersion", ""), tm.get("kind", ""), unknown.get("raw", b"")


def decode(body: bytes) -> Tuple[str, str, dict]:
    """(apiVersion, kind, JSON form) of a protobuf request body; Unsupported for a kind outside KINDS
    and DeleteOptions, ProtoError for a malformed body."""
    api_version, kind, raw = envelope(body)
    name = "DeleteOptions" if kind == "DeleteOptions" else KINDS.get((api_version, kind))
    if name is None:
        raise Unsupported(api_version, kind)
    return api_version, kind, message(name, raw)


# --------------------------------------------------------------------------
# encoding: for the tests (the doubles answer in JSON) and api.py's /openapi/v2 in protobuf

def _key(num: int, wire: int) -> bytes:
    return _enc_varint(num << 3 | wire)


def _enc_varint(v: int) -> bytes:
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _ld(num: int, data: bytes) -> bytes:
    return _key(num, 2) + _enc_varint(len(data)) + data


def encode_message(name: str, obj: dict) -> bytes:
    """The protobuf of ``obj`` (a JSON form) as MESSAGES[name], the inverse of ``message`` (fields in
    field-number order; times as RFC 3339 strings)."""
    out = b""
    by_key = {spec[0]: (num, spec) for num, spec in MESSAGES[name].items()}
    for key in sorted(obj, key=lambda k: by_key[k][0]):
        value = obj[key]
        num, (_, kind, sub, _) = by_key[key]
        if kind in (BOOL, INT):
            out += _key(num, 0) + _enc_varint(int(value))
        elif kind == STR:
            out += _ld(num, value.encode())
        elif kind == BYTES:
            out += _ld(num, value)
        elif kind == TIME:
            seconds = _ZERO_TIME if value is None else calendar.timegm(time.strptime(value, "%Y-%m-%dT%H:%M:%SZ"))
            out += _ld(num, _key(1, 0) + _enc_varint(seconds))
        elif kind == MSG:
            out += _ld(num, encode_message(sub, value))
        elif kind == REP_STR:
            out += b"".join(_ld(num, v.encode()) for v in value)
        elif kind == REP_MSG:
            out += b"".join(_ld(num, encode_message(sub, v)) for v in value)
        elif kind in (MAP_STR, MAP_BYTES):
            for k in sorted(value):
                v = base64.b64decode(value[k]) if kind == MAP_BYTES else value[k].encode()
                out += _ld(num, _ld(1, k.encode()) + _ld(2, v))
        elif kind == FIELDS:
            out += _ld(num, _ld(1, json.dumps(value, separators=(",", ":")).encode()))
    return out


def encode(api_version: str, kind: str, obj: dict) -> bytes:
    """A protobuf request body (envelope and message) of ``obj``, as client-go's typed clients send it."""
    name = "DeleteOptions" if kind == "DeleteOptions" else KINDS[(api_version, kind)]
    type_meta = _ld(1, api_version.encode()) + _ld(2, kind.encode())
    return MAGIC + _ld(1, type_meta) + _ld(2, encode_message(name, obj)) + _ld(3, b"") + _ld(4, b"")
