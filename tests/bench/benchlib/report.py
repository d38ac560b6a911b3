# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmark's results per shape, the targets of issue 14, and the Markdown report. Pure."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .shapes import Shape
from .stats import Spread, ratio, spread

# Issue 14's targets.
MAX_CONVERGE_TO_FLOOR = 2.0
MAX_RERUN_TO_CONVERGE = 0.3
MAX_SCALE_24_TO_2 = 2.0
MAX_GROW_TO_CONVERGE = 0.5


@dataclass
class ShapeResult:
    shape: Shape
    converge: List[float] = field(default_factory=list)
    rerun: List[float] = field(default_factory=list)
    rerun_changed: List[int] = field(default_factory=list)
    floor: List[float] = field(default_factory=list)
    grow: List[float] = field(default_factory=list)
    grow_changed: List[int] = field(default_factory=list)
    tasks_per_host: List[int] = field(default_factory=list)
    rerun_tasks_per_host: List[int] = field(default_factory=list)
    downloads: List[int] = field(default_factory=list)
    distinct_files: List[int] = field(default_factory=list)
    rerun_requests: List[int] = field(default_factory=list)
    copies: List[int] = field(default_factory=list)
    rerun_copies: List[int] = field(default_factory=list)
    controller_rss_mib: List[float] = field(default_factory=list)
    node_rss_mib: List[float] = field(default_factory=list)
    # Seconds per role of each first converge.
    roles: List[Dict[str, float]] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)

    def s(self, name: str) -> Optional[Spread]:
        return spread(getattr(self, name))


def _cell(sp: Optional[Spread], unit: str = "s", digits: int = 1) -> str:
    return sp.fmt(unit, digits) if sp else "–"


def _ratio_cell(value: Optional[float], limit: Optional[float] = None) -> str:
    if value is None:
        return "–"
    mark = "" if limit is None else (" ✓" if value <= limit else " ✗")
    return f"{value:.2f}{mark}"


def _ints(values: Sequence[int]) -> str:
    if not values:
        return "–"
    lo, hi = min(values), max(values)
    return str(lo) if lo == hi else f"{lo}–{hi}"


def role_breakdown(roles: Sequence[Dict[str, float]], top: int = 8) -> List[Tuple[str, float]]:
    """The median seconds per role over the runs, largest first."""
    names = sorted({n for r in roles for n in r})
    med = [(n, statistics.median([r.get(n, 0.0) for r in roles])) for n in names]
    return sorted(med, key=lambda x: -x[1])[:top]


def targets(results: Dict[str, ShapeResult]) -> List[Tuple[str, str, bool]]:
    """Each target of issue 14 that the results allow to judge: (target, measured, met)."""
    out: List[Tuple[str, str, bool]] = []
    for r in results.values():
        conv = r.s("converge")
        rf = ratio(conv, r.s("floor"))
        if rf is not None:
            out.append((f"{r.shape.key}: first converge ≤ {MAX_CONVERGE_TO_FLOOR}× floor", f"{rf:.2f}×",
                        rf <= MAX_CONVERGE_TO_FLOOR))
        rr = ratio(r.s("rerun"), conv)
        if rr is not None:
            changed = max(r.rerun_changed, default=0)
            out.append((f"{r.shape.key}: rerun 0 changed, ≤ {MAX_RERUN_TO_CONVERGE}× converge",
                        f"{rr:.2f}×, {changed} changed", rr <= MAX_RERUN_TO_CONVERGE and changed == 0))
        if r.downloads:
            once = r.downloads == r.distinct_files and min(r.downloads) > 0 and not any(r.rerun_requests)
            out.append((f"{r.shape.key}: one download per release file, none on rerun",
                        f"{_ints(r.downloads)} downloads of {_ints(r.distinct_files)} files, "
                        f"{_ints(r.rerun_requests)} requests on rerun", once))
        if r.copies:
            # Every node gets its files (at least one each, the same number each run), and a rerun copies none.
            even = min(r.copies) == max(r.copies) and min(r.copies) >= r.shape.nodes
            out.append((f"{r.shape.key}: release files copied once per node, none on rerun",
                        f"{_ints(r.copies)} copies to {r.shape.nodes} nodes, {_ints(r.rerun_copies)} on rerun",
                        even and not any(r.rerun_copies)))
        rg = ratio(r.s("grow"), conv)
        if rg is not None:
            out.append((f"{r.shape.key}: adding 1 agent ≤ {MAX_GROW_TO_CONVERGE}× converge", f"{rg:.2f}×",
                        rg <= MAX_GROW_TO_CONVERGE))
    big, small = results.get("k3s-1+24"), results.get("k3s-1+2")
    if big and small:
        rs = ratio(big.s("converge"), small.s("converge"))
        if rs is not None:
            out.append((f"1+24 agents ≤ {MAX_SCALE_24_TO_2}× 1+2 agents", f"{rs:.2f}×", rs <= MAX_SCALE_24_TO_2))
    return out


def markdown(results: Dict[str, ShapeResult], machine: str, when: str, command: str,
             reused: Optional[Dict[str, str]] = None) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `{command}` on {when}, on {machine}. The K3s and kubeadm programs are the test doubles",
        "(tests/doubles), served from a loopback mirror; every node is a container of the test bed's image.",
        "Each figure is the median of the runs, with the lowest and highest in brackets. The **floor** is",
        "tests/bench/floor: the least any installer does on the same hosts (copy the binary, write the config,",
        "start the unit, wait until the node is Ready), with no validation and no checks. The ratio to the",
        "floor, not the absolute time, is the figure to compare: these machines are shared and noisy.",
        "",
    ]
    for key, source in sorted((reused or {}).items()):
        lines.append(f"The figures of {results[key].shape.title} come from an earlier run of the harness ({source}).")
    lines += [
        "",
        "| shape | runs | first converge | floor | converge / floor | rerun (changed) | rerun / converge "
        "| tasks per host (rerun) | downloads (files) | copies | controller peak | node peak |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results.values():
        conv = r.s("converge")
        lines.append(
            f"| {r.shape.title} | {len(r.converge)} | {_cell(conv)} | {_cell(r.s('floor'))} "
            f"| {_ratio_cell(ratio(conv, r.s('floor')), MAX_CONVERGE_TO_FLOOR)} "
            f"| {_cell(r.s('rerun'))} ({_ints(r.rerun_changed)}) "
            f"| {_ratio_cell(ratio(r.s('rerun'), conv), MAX_RERUN_TO_CONVERGE)} "
            f"| {_ints(r.tasks_per_host)} ({_ints(r.rerun_tasks_per_host)}) "
            f"| {_ints(r.downloads)} ({_ints(r.distinct_files)}) | {_ints(r.copies)} "
            f"| {_cell(r.s('controller_rss_mib'), ' MiB', 0)} | {_cell(r.s('node_rss_mib'), ' MiB', 0)} |")
    grown = [r for r in results.values() if r.grow]
    if grown:
        lines += ["", "Adding one agent to the running cluster (a rerun with one more host):", ""]
        for r in grown:
            lines.append(f"- {r.shape.title}: {_cell(r.s('grow'))}, {_ints(r.grow_changed)} changed, "
                         f"{_ratio_cell(ratio(r.s('grow'), r.s('converge')), MAX_GROW_TO_CONVERGE)} of its first converge.")
    lines += ["", "## Targets (issue 14)", "", "| target | measured | met |", "|---|---|---|"]
    for name, measured, met in targets(results):
        lines.append(f"| {name} | {measured} | {'yes' if met else '**no**'} |")
    lines += ["", "## Where the first converge spends its time", "",
              "Seconds per role (median over the runs; tasks outside a role count as \"(playbook)\"):", ""]
    for r in results.values():
        if r.roles:
            parts = ", ".join(f"{n} {s:.1f}" for n, s in role_breakdown(r.roles))
            lines.append(f"- {r.shape.title}: {parts}")
    failures = [(r.shape.title, e) for r in results.values() for e in r.errors]
    if failures:
        lines += ["", "## Runs that failed", ""] + [f"- {t}: {e}" for t, e in failures]
    return "\n".join(lines) + "\n"


def backup_markdown(rows: List[Dict[str, Any]], where: str, when: str) -> str:
    """The report of the backup and restore times, one row per cluster and count."""
    lines = [
        "# Backup and restore times",
        "",
        f"Measured {when} by `tests/bench/bench.py --backup`, {where}. A K3s cluster of 3 embedded etcd servers and a",
        "kubeadm control plane with stacked etcd (the test doubles), markers added as ConfigMaps; `playbooks/backup.yml`",
        "then `playbooks/restore.yml` from that backup, each timed whole (the planning play included). One run per count,",
        "on one cluster of each kind, counts ascending.",
        "",
        "| cluster | markers | backup (s) | restore (s) | snapshot (bytes) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    lines += [f"| {r.get('cluster', 'K3s 3 servers (embedded etcd)')} | {int(r['markers']):,} | {r['backup']:.1f} "
              f"| {r['restore']:.1f} | {int(r['snapshot_bytes']):,} |" for r in rows]
    return "\n".join(lines) + "\n"


def upgrade_markdown(rows: List[Dict[str, float]], where: str, when: str, versions: str) -> str:
    """The report of the upgrade times, with the ratio of the largest to the smallest cluster's."""
    lines = [
        "# Upgrade times",
        "",
        f"Measured {when} by `tests/bench/bench.py --upgrade`, {where}. For each count, a new K3s cluster of three",
        f"servers (embedded etcd) and that many agents (the test double) built by `site.yml` and upgraded {versions}",
        "by `playbooks/upgrade.yml` with its defaults (servers one at a time, then agents in batches of 20%, rounded",
        "up), timed whole (the planning play, the fetch of the new release and the etcd snapshot included); then the",
        "upgrade run again, which changes nothing. Meanwhile a reader asked for `/readyz` every 0.5 s through the",
        "first server that answered; a failed read is one no server answered. One run per count.",
        "",
        "| agents | agent batches | upgrade (s) | per node (s) | downloads | rerun (s) | API reads | failed |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        agents = int(r["agents"])
        batches = -(-agents // max(1, -(-agents * 20 // 100))) if agents else 0
        lines.append(f"| {agents} | {batches} | {r['upgrade']:.1f} | {r['upgrade'] / (agents + 3):.1f} | "
                     f"{int(r['downloads'])} | {r['rerun']:.1f} | {int(r['reads'])} | {int(r['failed'])} |")
    return "\n".join(lines + _ratio(rows, "agents", "upgrade", 1.5)) + "\n"


def _ratio(rows: List[Dict[str, float]], count: str, seconds: str, target: float) -> List[str]:
    """The closing line of a report: how much longer the largest count took than the smallest, against the target."""
    if len(rows) < 2:
        return []
    small, large = min(rows, key=lambda r: r[count]), max(rows, key=lambda r: r[count])
    return ["", f"{int(large[count])} {count} took {large[seconds] / small[seconds]:.2f} times as long as "
                f"{int(small[count])} (target: at most {target:g})."]


def workloads_markdown(rows: List[Dict[str, float]], where: str, when: str) -> str:
    """The report of the workload times, with the ratio of the most clusters' to the fewest's."""
    lines = [
        "# Workload times",
        "",
        f"Measured {when} by `tests/bench/bench.py --workloads`, {where}. For each count, that many new single-server",
        "K3s clusters (the test double, SQLite), each its own cluster in one inventory, built by `site.yml`; then",
        "`playbooks/workloads.yml` applies three workloads to every cluster (a CRD and an object of it, a ConfigMap",
        "rendered per cluster, a ConfigMap waited for) from the controller through each cluster's context, timed",
        "whole (the planning play included), and runs again, which changes nothing. One fork per cluster. One run",
        "per count.",
        "",
        "| clusters | apply (s) | changed | rerun (s) |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(f"| {int(r['clusters'])} | {r['apply']:.1f} | {int(r['changed'])} | {r['rerun']:.1f} |")
    return "\n".join(lines + _ratio(rows, "clusters", "apply", 2)) + "\n"
