# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The estate's topology: each cluster's labels and its place as a hub, a spoke of a hub, or standalone.

Pure logic: the cluster role hands in one record a host of the whole inventory (not only the hosts of the run, so
that a spoke's hub is found when the run leaves it out) and gets back each cluster's topology and the problems.
Label keys and values follow Kubernetes' rules (apimachinery validation: IsQualifiedName, IsValidLabelValue).
"""
from __future__ import annotations

import re
from typing import Any

ROLES = ("hub", "spoke", "standalone")
# The labels the collection sets on every cluster itself; users may not set keys under its prefix.
IMPLICIT_PREFIX = "kubeforge.io/"
_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def label_key_problem(key: Any) -> str:
    """Why ``key`` is not a label key Kubernetes accepts: ``[prefix/]name``, the name 63 characters at most of
    alphanumerics, ``-``, ``_`` and ``.`` that starts and ends alphanumeric, the prefix a DNS subdomain (253 at
    most); empty when it is one."""
    if not isinstance(key, str) or not key:
        return "%r is not a label key: give a non-empty string such as site or example.com/site" % (key,)
    prefix, sep, name = key.rpartition("/")
    if sep and not prefix:
        return "label key %r has an empty prefix before '/'" % key
    if len(name) > 63 or not _NAME.match(name):
        return ("label key %r: the name part must be 63 characters or less, alphanumeric, '-', '_' or '.', beginning "
                "and ending with an alphanumeric character" % key)
    if sep:
        if len(prefix) > 253 or not all(_DNS_LABEL.match(part) and len(part) <= 63 for part in prefix.split(".")):
            return ("label key %r: the prefix must be a lowercase DNS subdomain (such as example.com) of 253 "
                    "characters or less" % key)
    return ""


def label_value_problem(value: Any) -> str:
    """Why ``value`` is not a label value Kubernetes accepts (empty, or 63 characters at most of alphanumerics, ``-``,
    ``_`` and ``.`` that start and end alphanumeric); empty when it is one."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return "%r is not a label value: give a string" % (value,)
    text = str(value)
    if text and (len(text) > 63 or not _NAME.match(text)):
        return ("label value %r must be empty or 63 characters or less, alphanumeric, '-', '_' or '.', beginning and "
                "ending with an alphanumeric character" % text)
    return ""


def _cluster_settings(records: list[dict[str, Any]], errors: list[str]) -> dict[str, dict[str, Any]]:
    """One entry a cluster: its distribution, labels, hub role and hub, the same on every host of it."""
    clusters: dict[str, dict[str, Any]] = {}
    for rec in records:
        name = str(rec.get("cluster") or "default")
        mine = {"distribution": str(rec.get("distribution") or ""), "labels": rec.get("labels") or {},
                "hub_role": str(rec.get("hub_role") or ""), "hub": str(rec.get("hub") or "")}
        first = clusters.setdefault(name, dict(mine, host=rec.get("host")))
        for key, var in (("labels", "cluster_labels"), ("hub_role", "cluster_hub_role"), ("hub", "cluster_hub")):
            if mine[key] != first[key]:
                msg = ("cluster '%s': %s differs between hosts (%s: %r, %s: %r); set it once for the cluster (for "
                       "example in its group_vars)" % (name, var, first["host"], first[key], rec.get("host"), mine[key]))
                if msg not in errors:
                    errors.append(msg)
    return clusters


def topology(records: list[dict[str, Any]]) -> dict[str, Any]:
    """``{"clusters": {name: {"role", "hub", "labels", "user_labels"}}, "errors": [...]}`` for the records of every
    host of the inventory (``host``, ``cluster``, ``distribution``, ``labels`` = cluster_labels, ``hub_role`` =
    cluster_hub_role, ``hub`` = cluster_hub). A cluster is a hub when it says so; one that names a hub, or says
    it is a spoke, or any other when the inventory has exactly one hub, is that hub's spoke; the rest stand alone
    (``cluster_hub_role: standalone`` keeps a cluster out of the one hub's spokes)."""
    errors: list[str] = []
    clusters = _cluster_settings(records, errors)
    for name, c in clusters.items():
        if label_value_problem(name):
            errors.append("cluster '%s': the cluster's name is its label kubeforge.io/cluster-name, so it must be a "
                          "label value: 63 characters or less, alphanumeric, '-', '_' or '.'; rename it" % name)
        if not isinstance(c["labels"], dict):
            errors.append("cluster '%s': cluster_labels must be a mapping of label keys to values, such as "
                          "{site: store-12, tier: edge}" % name)
            c["labels"] = {}
        for key, value in c["labels"].items():
            problem = label_key_problem(key) or label_value_problem(value)
            if problem:
                errors.append("cluster '%s': cluster_labels: %s" % (name, problem))
            elif str(key).startswith(IMPLICIT_PREFIX):
                errors.append("cluster '%s': cluster_labels: %r is under %s, which the collection sets itself "
                              "(cluster-name, distribution, role); use another prefix" % (name, key, IMPLICIT_PREFIX))
        if c["hub_role"] not in ("",) + ROLES:
            errors.append("cluster '%s': cluster_hub_role must be hub, spoke or standalone (or unset), not %r"
                          % (name, c["hub_role"]))
    hubs = sorted(n for n, c in clusters.items() if c["hub_role"] == "hub")
    out: dict[str, dict[str, Any]] = {}
    for name, c in sorted(clusters.items()):
        role, hub = "standalone", ""
        if c["hub_role"] == "hub":
            role = "hub"
            if c["hub"]:
                errors.append("cluster '%s': cluster_hub_role is hub and cluster_hub names '%s': a hub has no hub of "
                              "its own; unset cluster_hub for it" % (name, c["hub"]))
        elif c["hub"]:
            role, hub = "spoke", c["hub"]
            if c["hub_role"] == "standalone":
                errors.append("cluster '%s': cluster_hub_role is standalone, but cluster_hub names '%s'; unset one of "
                              "them" % (name, c["hub"]))
            elif c["hub"] == name:
                errors.append("cluster '%s': cluster_hub names the cluster itself" % name)
            elif c["hub"] not in clusters:
                errors.append("cluster '%s': cluster_hub names '%s', which is no cluster of the inventory (its "
                              "clusters: %s)" % (name, c["hub"], ", ".join(sorted(clusters))))
            elif c["hub"] not in hubs:
                errors.append("cluster '%s': cluster_hub names '%s', which is not a hub: set cluster_hub_role: hub "
                              "for '%s', or name a hub (%s)" % (name, c["hub"], c["hub"], ", ".join(hubs) or "none"))
        elif c["hub_role"] != "standalone" and hubs:
            if len(hubs) == 1:
                role, hub = "spoke", hubs[0]
            else:
                errors.append("cluster '%s': the inventory has %d hubs (%s) and the cluster names none: set "
                              "cluster_hub to one of them, or cluster_hub_role: standalone"
                              % (name, len(hubs), ", ".join(hubs)))
        elif c["hub_role"] == "spoke":
            errors.append("cluster '%s': cluster_hub_role is spoke, but the inventory has no hub: set "
                          "cluster_hub_role: hub on the cluster at the centre" % name)
        labels = {str(k): str(v) for k, v in c["labels"].items()}
        labels.update({IMPLICIT_PREFIX + "cluster-name": name, IMPLICIT_PREFIX + "distribution": c["distribution"],
                       IMPLICIT_PREFIX + "role": role})
        out[name] = {"role": role, "hub": hub, "labels": labels,
                     "user_labels": {str(k): str(v) for k, v in c["labels"].items()}}
    for name, t in out.items():
        t["spokes"] = sorted(n for n, o in out.items() if o["hub"] == name) if t["role"] == "hub" else []
    return {"clusters": out, "errors": errors}
