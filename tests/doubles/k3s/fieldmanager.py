"""Server-side apply and metadata.managedFields for the API double (api.py), stdlib only.

The logic of kube-apiserver's field manager (k8s.io/apimachinery/pkg/util/managedfields) and of
sigs.k8s.io/structured-merge-diff, on plain JSON objects and without the OpenAPI schemas:

- A path is a tuple of FieldsV1 path elements: ``f:<field>`` for a map key or struct field,
  ``k:<key>`` for an item of an associative (keyed) list, the key as compact JSON with sorted keys
  (``k:{"name":"x"}``).  A field set holds the leaves (scalars, empty maps and lists, atomic lists)
  and the items of keyed lists; a map is never a member of it.
- A list is keyed when ``Schema.merge_keys`` names its key for (parent field, list field), the
  parent field being the last field before it in the path (a container's ``ports`` sit under
  ``containers``), and every item is a map carrying the key, once.  Every other list is atomic.
- Nobody owns apiVersion, kind, metadata.name, namespace, uid, resourceVersion, generation,
  creationTimestamp, selfLink, managedFields (kube-apiserver's stripped fields) and, for a kind
  whose status kube-apiserver resets on writes to the main resource, status.
- Managers are told apart as kube-apiserver's BuildManagerIdentifier does: (manager, Apply), or
  (manager, Update, apiVersion).  Entries are kept sorted as encodeManagedFields sorts them
  (Apply before Update, then by time, manager, apiVersion).
- ``record_update`` (create, update, merge and strategic patches): the leaves and items the write
  added or changed go to the writer's Update entry (its time is then now) and leave every other
  entry; removed ones leave every entry.
- ``apply``: the configuration's field set replaces the applier's Apply entry; the live object
  is merged with it (maps recursively, keyed lists item by item in structured-merge-diff's order,
  anything else replaced); what the applier owned before and nobody owns now is removed (a map or
  list that this empties goes too); the merged object is compared with the live one: an added or
  changed field that another entry owns (the applier's own Update entry is another one) is a
  conflict (``Conflicts``, kube-apiserver's message), unless forced, which takes the field from
  that entry; removed fields leave every entry.  Empty entries are dropped.

Not modelled: conversion between versions (an entry's apiVersion is only recorded); set lists
(``v:`` elements) and multi-field list keys (container ports are keyed by containerPort alone,
Service ports by port); list items keyed by index (``i:``); a ``.`` member for a map or optional
struct an update creates (kube-apiserver records one); a null in an applied configuration (it
is dropped: neither set nor owned); at most ten Update entries (kube-apiserver merges older
ones into ``ancient-changes``); the last-applied-configuration annotation of kubectl's
client-side apply; and an Apply entry's time also moves when only its field set changed.
"""
from __future__ import annotations

import copy
import json
from typing import Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Set, Tuple

from common import timestamps

Path = Tuple[str, ...]
APPLY, UPDATE = "Apply", "Update"
# metadata fields no manager owns (the field manager's strip set)
STRIPPED_META = frozenset(("name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                           "selfLink", "managedFields"))


class _Missing:
    """A field that is not there (distinct from null)."""


MISSING = _Missing()


class Schema(NamedTuple):
    """What the field manager knows of one kind.

    merge_keys: (parent field, list field) -> the key of an associative list; empty for a custom
    resource, whose lists are all atomic.  reset_status: status is left to the /status
    subresource (no manager owns it, and an applied configuration's status is dropped)."""
    merge_keys: Mapping[Tuple[str, str], str]
    reset_status: bool

    def skipped(self, path: Path) -> bool:
        """True for a path (and everything under it) that no manager owns."""
        if path in (("f:apiVersion",), ("f:kind",)) or (self.reset_status and path == ("f:status",)):
            return True
        return len(path) == 2 and path[0] == "f:metadata" and path[1][2:] in STRIPPED_META

    def list_key(self, path: Path) -> Optional[str]:
        """The merge key of the list at ``path``; None when the list is atomic."""
        if not path or not path[-1].startswith("f:"):
            return None
        parent = next((el[2:] for el in reversed(path[:-1]) if el.startswith("f:")), "")
        return self.merge_keys.get((parent, path[-1][2:]))


class Comparison(NamedTuple):
    """typed.Comparison: the paths a write added, changed and removed."""
    added: Set[Path]
    modified: Set[Path]
    removed: Set[Path]


# --------------------------------------------------------------------------
# paths

def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _item_elements(items: Any, key: Optional[str]) -> Optional[List[str]]:
    """The ``k:`` elements of a keyed list's items, in order; None when the list is atomic
    (no merge key, not a list, an item that is not a map with the key, a duplicate key)."""
    if key is None or not isinstance(items, list):
        return None
    out: List[str] = []
    for item in items:
        if not isinstance(item, dict) or item.get(key) is None or isinstance(item[key], (dict, list)):
            return None
        el = "k:" + _dump({key: item[key]})
        if el in out:
            return None
        out.append(el)
    return out


def _element_order(el: str) -> Tuple[int, str]:
    """fieldpath.PathElement order: field names before keys."""
    return (0 if el.startswith("f:") else 1, el[2:])


def path_string(path: Path) -> str:
    """fieldpath.Path.String(): ``.spec.containers[name="x"].image``."""
    out = []
    for el in path:
        if el.startswith("f:"):
            out.append("." + el[2:])
        else:
            key = json.loads(el[2:])
            out.append("[%s]" % ",".join("%s=%s" % (k, json.dumps(v, ensure_ascii=False))
                                         for k, v in sorted(key.items())))
    return "".join(out)


def _trie(members: Set[Path]) -> Dict[str, Any]:
    """The paths as nested dicts, one level per element."""
    trie: Dict[str, Any] = {}
    for p in members:
        node = trie
        for el in p:
            node = node.setdefault(el, {})
    return trie


def set_order(paths: Iterable[Path]) -> List[Path]:
    """The paths in the order fieldpath.Set iterates them: at each level the members first, then
    the children, each sorted by element."""
    members = set(paths)
    trie = _trie(members)
    out: List[Path] = []

    def walk(node: Dict[str, Any], prefix: Path) -> None:
        keys = sorted(node, key=_element_order)
        out.extend(prefix + (el,) for el in keys if prefix + (el,) in members)
        for el in keys:
            walk(node[el], prefix + (el,))
    walk(trie, ())
    return out


# --------------------------------------------------------------------------
# field sets and FieldsV1

def field_set(obj: Mapping[str, Any], schema: Schema) -> Set[Path]:
    """TypedValue.ToFieldSet: the leaves of ``obj`` and the items of its keyed lists."""
    out: Set[Path] = set()
    _collect(obj, (), schema, out)
    return out


def _collect(value: Any, path: Path, schema: Schema, out: Set[Path]) -> None:
    if isinstance(value, dict) and (value or not path):
        for k, v in value.items():
            child = path + ("f:" + k,)
            if not schema.skipped(child):
                _collect(v, child, schema, out)
        return
    elements = _item_elements(value, schema.list_key(path)) if value else None
    if elements is None:
        out.add(path)
        return
    for el, item in zip(elements, value):
        out.add(path + (el,))
        _collect(item, path + (el,), schema, out)


def to_fields_v1(paths: Iterable[Path]) -> Dict[str, Any]:
    """A field set as FieldsV1: ``{"f:data": {"f:key": {}}}``; a member that also has children
    carries ``".": {}``."""
    members = set(paths)
    trie = _trie(members)
    for p in members:
        node = trie
        for el in p:
            node = node[el]
        if node:
            node["."] = {}

    def ordered(node: Dict[str, Any]) -> Dict[str, Any]:
        keys = sorted(node, key=lambda el: (-1, "") if el == "." else _element_order(el))
        return {el: ordered(node[el]) for el in keys}
    return ordered(trie)


def from_fields_v1(fields: Mapping[str, Any], prefix: Path = ()) -> Set[Path]:
    """The field set of a FieldsV1 document."""
    out: Set[Path] = set()
    for el, sub in fields.items():
        if el == ".":
            out.add(prefix)
        elif isinstance(sub, dict) and sub:
            out |= from_fields_v1(sub, prefix + (el,))
        else:
            out.add(prefix + (el,))
    return out


# --------------------------------------------------------------------------
# compare, merge, prune

def compare(old: Optional[Mapping[str, Any]], new: Mapping[str, Any], schema: Schema) -> Comparison:
    """typed.TypedValue.Compare of two objects (``old`` None: a create).  A keyed list item that
    appears or goes is itself added or removed, besides its fields."""
    out = Comparison(set(), set(), set())
    _compare(old or {}, new, (), schema, out)
    return out


def _as(value: Any, kind: type) -> Any:
    """value if it is of ``kind``, an empty one for MISSING, else None."""
    if isinstance(value, kind):
        return value
    return kind() if value is MISSING else None


def _compare(lhs: Any, rhs: Any, path: Path, schema: Schema, out: Comparison) -> None:
    lmap, rmap = _as(lhs, dict), _as(rhs, dict)
    if lmap is not None and rmap is not None and (lmap or rmap or not path):
        for k in list(lmap) + [k for k in rmap if k not in lmap]:
            child = path + ("f:" + k,)
            if not schema.skipped(child):
                _compare(lmap.get(k, MISSING), rmap.get(k, MISSING), child, schema, out)
        return
    llist, rlist = _as(lhs, list), _as(rhs, list)
    key = schema.list_key(path)
    if key is not None and llist is not None and rlist is not None and (llist or rlist):
        lels, rels = _item_elements(llist, key), _item_elements(rlist, key)
        if lels is not None and rels is not None:
            litems, ritems = dict(zip(lels, llist)), dict(zip(rels, rlist))
            for el in lels + [e for e in rels if e not in litems]:
                item = path + (el,)
                if el not in litems:
                    out.added.add(item)
                elif el not in ritems:
                    out.removed.add(item)
                _compare(litems.get(el, MISSING), ritems.get(el, MISSING), item, schema, out)
            return
    if lhs is MISSING:
        out.added.add(path)
    elif rhs is MISSING:
        out.removed.add(path)
    elif _dump(lhs) != _dump(rhs):
        out.modified.add(path)


def merge(live: Mapping[str, Any], config: Mapping[str, Any], schema: Schema) -> Dict[str, Any]:
    """TypedValue.Merge: ``config`` over ``live`` (both left untouched)."""
    return _merge(live, config, (), schema)


def _merge(lhs: Any, rhs: Any, path: Path, schema: Schema) -> Any:
    if isinstance(lhs, dict) and isinstance(rhs, dict):
        out = copy.deepcopy(lhs)
        for k, v in rhs.items():
            out[k] = _merge(lhs.get(k, MISSING), v, path + ("f:" + k,), schema)
        return out
    key = schema.list_key(path)
    lels, rels = _item_elements(lhs, key), _item_elements(rhs, key)
    if lels is not None and rels is not None:
        return _merge_items(lhs, lels, rhs, rels, path, schema)
    return copy.deepcopy(rhs)


def _merge_items(lhs: List[Any], lels: List[str], rhs: List[Any], rels: List[str], path: Path,
                 schema: Schema) -> List[Any]:
    """A keyed list merged as structured-merge-diff orders it: the configuration's items in its
    order, each merged with the live one of the same key, the live-only items kept where they
    stand relative to the shared ones."""
    litems, ritems = dict(zip(lels, lhs)), dict(zip(rels, rhs))
    shared = [el for el in rels if el in litems]
    out: List[Any] = []
    done: Set[str] = set()

    def take(el: str) -> None:
        done.add(el)
        out.append(_merge(litems.get(el, MISSING), ritems[el], path + (el,), schema))
        if shared and shared[0] == el:
            shared.pop(0)
    li = ri = 0
    while li < len(lels) or ri < len(rels):
        if li < len(lels) and ri < len(rels):
            if lels[li] == rels[ri]:
                take(rels[ri])
                li, ri = li + 1, ri + 1
                continue
            if lels[li] in ritems and shared and shared[0] != lels[li]:
                li += 1  # a shared item, not the next one in the configuration's order
                continue
        if li < len(lels) and (lels[li] not in ritems or lels[li] in done):
            if lels[li] not in ritems:
                out.append(copy.deepcopy(lhs[li]))
            li += 1
            continue
        if ri < len(rels):
            take(rels[ri])
            ri += 1
    return out


def _child(node: Any, el: str) -> Any:
    if el.startswith("f:"):
        return node.get(el[2:], MISSING) if isinstance(node, dict) else MISSING
    if isinstance(node, list):
        key, want = next(iter(json.loads(el[2:]).items()))
        return next((i for i in node if isinstance(i, dict) and i.get(key) == want), MISSING)
    return MISSING


def _delete(node: Any, el: str) -> None:
    if el.startswith("f:"):
        del node[el[2:]]
    else:
        node.remove(_child(node, el))


def prune(obj: Dict[str, Any], paths: Iterable[Path], owned: Set[Path]) -> None:
    """Removes ``paths`` from ``obj`` in place (a keyed list item with everything in it); a map
    or list that a removal leaves empty goes too, unless ``owned`` holds it."""
    for path in sorted(paths, key=len):
        nodes = [obj]
        for el in path[:-1]:
            nodes.append(_child(nodes[-1], el))
            if not isinstance(nodes[-1], (dict, list)):
                break
        else:
            if _child(nodes[-1], path[-1]) is MISSING:
                continue
            _delete(nodes[-1], path[-1])
            for depth in range(len(path) - 1, 0, -1):
                if nodes[depth] or path[:depth] in owned:
                    break
                _delete(nodes[depth - 1], path[depth - 1])


# --------------------------------------------------------------------------
# managedFields entries

class Entry:
    """One decoded metadata.managedFields entry."""

    def __init__(self, manager: str, operation: str, api_version: str, time: Optional[str],
                 fields: Set[Path]) -> None:
        self.manager, self.operation, self.api_version = manager, operation, api_version
        self.time, self.fields = time, fields

    def ident(self) -> str:
        """BuildManagerIdentifier: the entry without time and fields (and apiVersion for Apply), as JSON."""
        d: Dict[str, str] = {"manager": self.manager} if self.manager else {}
        d["operation"] = self.operation
        if self.operation == UPDATE:
            d["apiVersion"] = self.api_version
        return json.dumps(d, separators=(",", ":"), ensure_ascii=False)

    def printed(self) -> str:
        """printManager of a conflict: ``"name"``, or ``"name" using <apiVersion>`` for an
        update (the identifier has no time)."""
        name = json.dumps(self.manager, ensure_ascii=False)
        return "%s using %s" % (name, self.api_version) if self.operation == UPDATE else name

    def encode(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"manager": self.manager} if self.manager else {}
        out.update({"operation": self.operation, "apiVersion": self.api_version})
        if self.time:
            out["time"] = self.time
        out.update({"fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(self.fields)})
        return out

    def order(self) -> Tuple[str, int, str, str]:
        """encodeManagedFields' sort: operation, time (seconds), manager, apiVersion."""
        return (self.operation, timestamps.parse_rfc3339(self.time) or 0, self.manager, self.api_version)


def decode(obj: Optional[Mapping[str, Any]]) -> List[Entry]:
    """The managedFields entries of ``obj`` (none for None; malformed entries are skipped)."""
    out = []
    for e in ((obj or {}).get("metadata") or {}).get("managedFields") or []:
        if isinstance(e, dict) and e.get("operation") in (APPLY, UPDATE) and isinstance(e.get("fieldsV1"), dict):
            out.append(Entry(str(e.get("manager") or ""), e["operation"], str(e.get("apiVersion") or ""),
                             e.get("time"), from_fields_v1(e["fieldsV1"])))
    return out


def keep(live: Mapping[str, Any], new: Dict[str, Any]) -> None:
    """Gives ``new`` the managedFields of ``live`` (a write that is not tracked)."""
    _store(new, decode(live))


def _store(obj: Dict[str, Any], entries: List[Entry]) -> None:
    md = obj.setdefault("metadata", {})
    kept = sorted((e for e in entries if e.fields), key=Entry.order)
    if kept:
        md["managedFields"] = [e.encode() for e in kept]
    else:
        md.pop("managedFields", None)


# --------------------------------------------------------------------------
# the two operations

class Conflicts(Exception):
    """An apply that would change fields other managers own (409 Conflict)."""

    def __init__(self, conflicts: List[Tuple[Entry, Path]]) -> None:
        self.conflicts = conflicts
        super().__init__(self.message())

    def message(self) -> str:
        """getConflictMessage."""
        if len(self.conflicts) == 1:
            entry, path = self.conflicts[0]
            return "Apply failed with 1 conflict: conflict with %s: %s" % (entry.printed(), path_string(path))
        lines: List[str] = []
        for ident in sorted({e.ident() for e, _ in self.conflicts}):
            paths = [p for e, p in self.conflicts if e.ident() == ident]
            entry = next(e for e, _ in self.conflicts if e.ident() == ident)
            lines.append("conflicts with %s:" % entry.printed())
            lines.extend("- %s" % path_string(p) for p in paths)
        return "Apply failed with %d conflicts: %s" % (len(self.conflicts), "\n".join(lines))

    def causes(self) -> List[Dict[str, str]]:
        """The Status causes: one FieldManagerConflict per field."""
        return [{"reason": "FieldManagerConflict", "message": "conflict with %s" % e.printed(),
                 "field": path_string(p)} for e, p in self.conflicts]


def record_update(live: Optional[Mapping[str, Any]], new: Dict[str, Any], manager: str, api_version: str,
                  schema: Schema, now: str) -> None:
    """Sets ``new``'s managedFields for an Update by ``manager`` of ``live`` (None: a create),
    from ``live``'s entries (those in ``new`` are ignored)."""
    entries = decode(live)
    diff = compare(live, new, schema)
    taken = diff.added | diff.modified
    if not taken and not diff.removed:
        _store(new, entries)
        return
    me = Entry(manager, UPDATE, api_version, now, set())
    own = next((e for e in entries if e.ident() == me.ident()), None)
    for e in entries:
        if e is not own:
            e.fields -= taken | diff.removed
    if own is None:
        entries.append(me)
        own = me
    elif taken:
        own.time = now
    own.fields = (own.fields | taken) - diff.removed
    _store(new, entries)


def applied_config(config: Mapping[str, Any], schema: Schema) -> Dict[str, Any]:
    """An apply configuration as it is merged: nulls, apiVersion, kind, the stripped metadata but
    name and namespace, and a reset status left out."""
    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [clean(v) for v in value if v is not None]
        return value
    out = clean({k: v for k, v in config.items() if not schema.skipped(("f:" + k,))})
    md = out.get("metadata")
    if isinstance(md, dict):
        out["metadata"] = {k: v for k, v in md.items() if k in ("name", "namespace") or k not in STRIPPED_META}
    return out


def apply(live: Optional[Mapping[str, Any]], config: Mapping[str, Any], manager: str, api_version: str,
          force: bool, schema: Schema, now: str) -> Dict[str, Any]:
    """Server-side apply of ``config`` by ``manager`` to ``live`` (None: the object does not
    exist): the merged object with its managedFields.  Raises Conflicts (without ``force``)."""
    cfg = applied_config(config, schema)
    applied = field_set(cfg, schema)
    entries = decode(live)
    me = Entry(manager, APPLY, api_version, now, applied)
    own = next((e for e in entries if e.ident() == me.ident()), None)
    others = [e for e in entries if e is not own]
    base = copy.deepcopy(dict(live or {}))
    base.get("metadata", {}).pop("managedFields", None)
    merged = merge(base, cfg, schema)
    owned = set(applied).union(*(e.fields for e in others))
    prune(merged, (own.fields if own else set()) - owned, owned)
    diff = compare(base, merged, schema)
    taken = diff.added | diff.modified
    conflicts = [(e, p) for e in sorted(others, key=Entry.ident) for p in set_order(e.fields & taken)]
    if conflicts and not force:
        raise Conflicts(conflicts)
    for e in others:
        e.fields -= taken | diff.removed
    if own is None:
        entries.append(me)
    else:
        if own.fields != applied or _dump(base) != _dump(merged):
            own.time = now
        own.fields, own.api_version = applied, api_version
    _store(merged, entries)
    return merged
