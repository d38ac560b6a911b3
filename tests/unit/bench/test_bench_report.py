# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for tests/bench/benchlib/report.py."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from benchlib import report  # noqa: E402
from benchlib.report import ShapeResult  # noqa: E402
from benchlib.shapes import SHAPES  # noqa: E402

HEADER = ("| shape | runs | first converge | floor | converge / floor | rerun (changed) | rerun / converge "
          "| tasks per host (rerun) | downloads (files) | copies | controller peak | node peak |")


def good(key: str = "k3s-1+2", **over: Any) -> ShapeResult:
    """Three runs of a shape that meets every target."""
    values: Dict[str, Any] = dict(
        converge=[60.0, 62.0, 58.0], floor=[40.0, 41.0, 39.0],
        rerun=[9.0, 10.0, 11.0], rerun_changed=[0, 0, 0],
        tasks_per_host=[120, 121, 120], rerun_tasks_per_host=[100, 100, 100],
        downloads=[5, 5, 5], distinct_files=[5, 5, 5], rerun_requests=[0, 0, 0],
        copies=[15, 15, 15], rerun_copies=[0, 0, 0],
        controller_rss_mib=[512.4, 530.6, 520.2], node_rss_mib=[700.0, 700.0, 700.0],
        roles=[{"cluster": 30.0, "preflight": 2.0, "(playbook)": 5.0},
               {"cluster": 34.0, "preflight": 4.0, "(playbook)": 3.0, "addons": 9.0},
               {"cluster": 32.0, "(playbook)": 4.0}],
    )
    values.update(over)
    return ShapeResult(SHAPES[key], **values)


def verdicts(results: Dict[str, ShapeResult]) -> Dict[str, Tuple[str, bool]]:
    out = report.targets(results)
    names = [name for name, _, _ in out]
    assert len(names) == len(set(names))
    return {name: (measured, met) for name, measured, met in out}


# -- ShapeResult.s ----------------------------------------------------------------------------------------------

def test_shape_result_spread_by_field_name() -> None:
    r = good()
    sp = r.s("converge")
    assert (sp.median, sp.low, sp.high, sp.runs) == (60.0, 58.0, 62.0, 3)
    assert r.s("grow") is None


# -- targets ----------------------------------------------------------------------------------------------------

def test_targets_all_met() -> None:
    got = verdicts({"k3s-1+2": good()})
    assert got == {
        "k3s-1+2: first converge ≤ 2.0× floor": ("1.50×", True),
        "k3s-1+2: rerun 0 changed, ≤ 0.3× converge": ("0.17×, 0 changed", True),
        "k3s-1+2: one download per release file, none on rerun": (
            "5 downloads of 5 files, 0 requests on rerun", True),
        "k3s-1+2: release files copied once per node, none on rerun": ("15 copies to 3 nodes, 0 on rerun", True),
    }


def test_targets_order() -> None:
    results = {"k3s-1+8": good("k3s-1+8", grow=[20.0]), "k3s-1+2": good(), "k3s-1+24": good("k3s-1+24")}
    names = [name for name, _, _ in report.targets(results)]
    assert names[0].startswith("k3s-1+8: first converge")
    assert names[4] == "k3s-1+8: adding 1 agent ≤ 0.5× converge"
    assert names[5].startswith("k3s-1+2: ")
    assert names[-1] == "1+24 agents ≤ 2.0× 1+2 agents"


def test_converge_over_twice_the_floor_is_not_met() -> None:
    got = verdicts({"k3s-1": good("k3s-1", converge=[60.0], floor=[25.0])})
    assert got["k3s-1: first converge ≤ 2.0× floor"] == ("2.40×", False)


def test_converge_exactly_twice_the_floor_is_met() -> None:
    got = verdicts({"k3s-1": good("k3s-1", converge=[50.0], floor=[25.0])})
    assert got["k3s-1: first converge ≤ 2.0× floor"] == ("2.00×", True)


def test_floor_ratio_uses_medians() -> None:
    # Medians 60 / 30 = 2.0 (met) though one converge is 100 and one floor is 20.
    got = verdicts({"k3s-1": good("k3s-1", converge=[60.0, 100.0, 50.0], floor=[30.0, 20.0, 31.0])})
    assert got["k3s-1: first converge ≤ 2.0× floor"] == ("2.00×", True)


def test_no_floor_no_floor_target() -> None:
    got = verdicts({"k3s-1": good("k3s-1", floor=[])})
    assert not any("floor" in name for name in got)


def test_rerun_that_changes_something_is_not_met_even_when_fast() -> None:
    got = verdicts({"k3s-1+2": good(rerun=[1.0, 1.0, 1.0], rerun_changed=[0, 2, 0])})
    assert got["k3s-1+2: rerun 0 changed, ≤ 0.3× converge"] == ("0.02×, 2 changed", False)


def test_slow_rerun_is_not_met_even_when_unchanged() -> None:
    got = verdicts({"k3s-1+2": good(rerun=[20.0], rerun_changed=[0])})
    assert got["k3s-1+2: rerun 0 changed, ≤ 0.3× converge"] == ("0.33×, 0 changed", False)


def test_rerun_exactly_at_the_limit_is_met() -> None:
    got = verdicts({"k3s-1+2": good(converge=[60.0], rerun=[18.0], rerun_changed=[0])})
    assert got["k3s-1+2: rerun 0 changed, ≤ 0.3× converge"] == ("0.30×, 0 changed", True)


def test_no_rerun_no_rerun_target() -> None:
    got = verdicts({"k3s-1+2": good(rerun=[], rerun_changed=[])})
    assert not any("rerun 0 changed" in name for name in got)


def test_no_converge_judges_no_ratio() -> None:
    got = verdicts({"k3s-1+2": good(converge=[])})
    assert not any("first converge" in n or "rerun 0 changed" in n for n in got)


@pytest.mark.parametrize("downloads, distinct, rerun_requests, measured", [
    ([7, 5, 5], [5, 5, 5], [0, 0, 0], "5–7 downloads of 5 files, 0 requests on rerun"),
    ([5, 5, 5], [5, 5, 5], [0, 3, 0], "5 downloads of 5 files, 0–3 requests on rerun"),
    ([5], [5], [1], "5 downloads of 5 files, 1 requests on rerun"),
])
def test_downloads_not_once_or_with_rerun_requests_are_not_met(downloads, distinct, rerun_requests, measured) -> None:
    got = verdicts({"k3s-1+2": good(downloads=downloads, distinct_files=distinct, rerun_requests=rerun_requests)})
    assert got["k3s-1+2: one download per release file, none on rerun"] == (measured, False)


def test_downloads_met_without_rerun() -> None:
    # A run that failed before its rerun has downloads and no rerun requests.
    got = verdicts({"k3s-1+2": good(downloads=[4], distinct_files=[4], rerun_requests=[])})
    assert got["k3s-1+2: one download per release file, none on rerun"] == (
        "4 downloads of 4 files, – requests on rerun", True)


def test_no_downloads_no_download_target() -> None:
    got = verdicts({"k3s-1+2": good(downloads=[], distinct_files=[], rerun_requests=[])})
    assert not any("download" in name for name in got)


def test_copies_on_rerun_are_not_met() -> None:
    got = verdicts({"k3s-ha": good("k3s-ha", copies=[25, 25], rerun_copies=[0, 5])})
    assert got["k3s-ha: release files copied once per node, none on rerun"] == ("25 copies to 5 nodes, 0–5 on rerun", False)


def test_no_copies_no_copy_target() -> None:
    assert not any("copied" in name for name in verdicts({"k3s-1+2": good(copies=[], rerun_copies=[])}))


@pytest.mark.parametrize("grow, measured, met", [
    ([20.0], "0.40×", True),
    ([25.0], "0.50×", True),
    ([30.0, 31.0, 29.0], "0.60×", False),
])
def test_grow_ratio(grow, measured, met) -> None:
    got = verdicts({"k3s-1+8": good("k3s-1+8", converge=[50.0], grow=grow, grow_changed=[3] * len(grow))})
    assert got["k3s-1+8: adding 1 agent ≤ 0.5× converge"] == (measured, met)


def test_no_grow_no_grow_target() -> None:
    assert not any("adding 1 agent" in name for name in verdicts({"k3s-1+8": good("k3s-1+8")}))


@pytest.mark.parametrize("big, small, measured, met", [
    ([100.0], [60.0, 62.0, 58.0], "1.67×", True),
    ([120.0], [60.0], "2.00×", True),
    ([130.0], [60.0], "2.17×", False),
])
def test_scale_target_with_both_shapes(big, small, measured, met) -> None:
    got = verdicts({"k3s-1+2": good(converge=small), "k3s-1+24": good("k3s-1+24", converge=big)})
    assert got["1+24 agents ≤ 2.0× 1+2 agents"] == (measured, met)


@pytest.mark.parametrize("keys", [["k3s-1+24"], ["k3s-1+2"], ["k3s-1+8", "k3s-1+24"], ["k3s-1", "kubeadm-1+2"]])
def test_scale_target_only_with_both_shapes(keys) -> None:
    got = verdicts({k: good(k) for k in keys})
    assert not any(name.startswith("1+24 agents") for name in got)


def test_scale_target_needs_a_converge_of_both() -> None:
    got = verdicts({"k3s-1+2": good(converge=[]), "k3s-1+24": good("k3s-1+24", converge=[100.0])})
    assert not any(name.startswith("1+24 agents") for name in got)


def test_targets_of_nothing() -> None:
    assert report.targets({}) == []
    assert report.targets({"k3s-1": ShapeResult(SHAPES["k3s-1"])}) == []


# -- role_breakdown ---------------------------------------------------------------------------------------------

def test_role_breakdown_median_largest_first() -> None:
    roles = good().roles
    # cluster 30/34/32 -> 32; (playbook) 5/3/4 -> 4; preflight 2/4/absent(0) -> 2; addons absent/9/absent -> 0.
    assert report.role_breakdown(roles) == [("cluster", 32.0), ("(playbook)", 4.0), ("preflight", 2.0),
                                            ("addons", 0.0)]


def test_role_breakdown_top() -> None:
    assert report.role_breakdown(good().roles, top=2) == [("cluster", 32.0), ("(playbook)", 4.0)]
    many = [{f"role{i:02d}": float(i) for i in range(12)}]
    got = report.role_breakdown(many)
    assert len(got) == 8
    assert got[0] == ("role11", 11.0) and got[-1] == ("role04", 4.0)


def test_role_breakdown_ties_by_name_and_one_run() -> None:
    assert report.role_breakdown([{"k3s": 3.0, "cluster": 3.0, "addons": 7.5}]) == [
        ("addons", 7.5), ("cluster", 3.0), ("k3s", 3.0)]


def test_role_breakdown_of_no_runs() -> None:
    assert report.role_breakdown([]) == []


# -- markdown ---------------------------------------------------------------------------------------------------

def md(results: Dict[str, ShapeResult]) -> Tuple[str, List[str]]:
    text = report.markdown(results, "8 cores (Test CPU), 16 GiB memory, Debian GNU/Linux 12", "2025-01-02",
                           "make bench")
    return text, text.split("\n")


def test_markdown_table() -> None:
    text, lines = md({"k3s-1+2": good(), "k3s-1": good("k3s-1", converge=[30.0], floor=[20.0], rerun=[3.0],
                                                       rerun_changed=[0])})
    assert text.startswith("# Benchmarks\n")
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert "Measured by `make bench` on 2025-01-02, on 8 cores (Test CPU), 16 GiB memory, Debian GNU/Linux 12." in text
    i = lines.index(HEADER)
    assert lines[i + 1] == "|" + "---|" * 12
    assert lines[i + 2] == ("| K3s 1 server + 2 agents | 3 | 60.0s (58.0–62.0) | 40.0s (39.0–41.0) | 1.50 ✓ "
                            "| 10.0s (9.0–11.0) (0) | 0.17 ✓ | 120–121 (100) | 5 (5) | 15 "
                            "| 520 MiB (512–531) | 700 MiB |")
    assert lines[i + 3].startswith("| K3s 1 server (SQLite) | 1 | 30.0s | 20.0s | 1.50 ✓ | 3.0s (0) | 0.10 ✓ |")
    assert lines[i + 4] == ""
    for row in lines[i:i + 4]:
        assert row.count("|") == 13


def test_markdown_row_of_a_shape_without_figures() -> None:
    _, lines = md({"k3s-ha": ShapeResult(SHAPES["k3s-ha"], errors=["boom"])})
    i = lines.index(HEADER)
    assert lines[i + 2] == ("| K3s 3 servers (etcd) + 2 agents, HAProxy | 0 | – | – | – | – (–) | – "
                            "| – (–) | – (–) | – | – | – |")


def test_markdown_marks_missed_ratios() -> None:
    text, lines = md({"k3s-1": good("k3s-1", converge=[60.0], floor=[25.0], rerun=[30.0], rerun_changed=[1])})
    row = [line for line in lines if line.startswith("| K3s 1 server (SQLite) |")][0]
    assert "| 2.40 ✗ |" in row and "| 0.50 ✗ |" in row and "(1)" in row
    assert "| k3s-1: first converge ≤ 2.0× floor | 2.40× | **no** |" in lines
    assert "| k3s-1: rerun 0 changed, ≤ 0.3× converge | 0.50×, 1 changed | **no** |" in lines


def test_markdown_targets_section() -> None:
    _, lines = md({"k3s-1+2": good(), "k3s-1+24": good("k3s-1+24", converge=[100.0])})
    i = lines.index("## Targets (issue 14)")
    assert lines[i + 2:i + 4] == ["| target | measured | met |", "|---|---|---|"]
    assert "| k3s-1+2: first converge ≤ 2.0× floor | 1.50× | yes |" in lines
    assert "| 1+24 agents ≤ 2.0× 1+2 agents | 1.67× | yes |" in lines
    assert "| k3s-1+24: first converge ≤ 2.0× floor | 2.50× | **no** |" in lines
    rows = [line for line in lines[i + 4:] if line.startswith("| ")]
    assert len(rows) == len(report.targets({"k3s-1+2": good(), "k3s-1+24": good("k3s-1+24", converge=[100.0])}))


def test_markdown_role_breakdown_lines() -> None:
    _, lines = md({"k3s-1+2": good(), "k3s-1": good("k3s-1", roles=[])})
    assert "- K3s 1 server + 2 agents: cluster 32.0, (playbook) 4.0, preflight 2.0, addons 0.0" in lines
    assert not any(line.startswith("- K3s 1 server (SQLite):") for line in lines)


def test_markdown_grow_section_only_for_grown_shapes() -> None:
    text, lines = md({"k3s-1+2": good()})
    assert "Adding one agent" not in text
    text, lines = md({"k3s-1+8": good("k3s-1+8", converge=[50.0], grow=[20.0, 22.0], grow_changed=[4, 6])})
    assert "Adding one agent to the running cluster (a rerun with one more host):" in lines
    assert "- K3s 1 server + 8 agents: 21.0s (20.0–22.0), 4–6 changed, 0.42 ✓ of its first converge." in lines


def test_markdown_failed_runs_section_only_with_errors() -> None:
    text, _ = md({"k3s-1+2": good(), "k3s-1": good("k3s-1")})
    assert "## Runs that failed" not in text
    err = "kfbench1-k3s-1-r2-converge: ansible-playbook exited 2; log: /w/kfbench1-k3s-1-r2-converge.log"
    text, lines = md({"k3s-1+2": good(), "k3s-1": good("k3s-1", errors=[err, "out of time (--deadline)"])})
    i = lines.index("## Runs that failed")
    assert lines[i + 2:] == [f"- K3s 1 server (SQLite): {err}", "- K3s 1 server (SQLite): out of time (--deadline)",
                             ""]
    assert text.endswith("(--deadline)\n")


def test_markdown_of_no_results() -> None:
    text, lines = md({})
    assert lines[lines.index(HEADER) + 2] == ""
    assert "## Targets (issue 14)" in text
    assert "## Runs that failed" not in text


def test_nothing_downloaded_or_copied_is_not_met() -> None:
    # A renamed copy task or a mirror that logged nothing must not pass as "once".
    got = verdicts({"k3s-1+2": good(downloads=[0], distinct_files=[0], copies=[0], rerun_copies=[0])})
    assert got["k3s-1+2: one download per release file, none on rerun"][1] is False


def test_fewer_copies_than_nodes_is_not_met() -> None:
    got = verdicts({"k3s-1+2": good(copies=[2], rerun_copies=[0])})
    assert got["k3s-1+2: release files copied once per node, none on rerun"] == ("2 copies to 3 nodes, 0 on rerun", False)


def test_markdown_names_the_shapes_taken_from_an_earlier_run() -> None:
    results = {"k3s-1+2": good(), "k3s-ha": good("k3s-ha")}
    text = report.markdown(results, "2 cores", "2026-12-03", "make bench", {"k3s-1+2": "20261203T191404-abc"})
    title = results["k3s-1+2"].shape.title
    assert f"The figures of {title} come from an earlier run of the harness (20261203T191404-abc)." in text
    assert "The figures of " + results["k3s-ha"].shape.title not in text
    # Without reuse, no such line.
    assert "earlier run" not in report.markdown(results, "2 cores", "2026-12-03", "make bench")


def test_backup_report_has_one_row_per_cluster_and_count() -> None:
    text = report.backup_markdown(
        [{"cluster": "K3s 3 servers (embedded etcd)", "markers": 1000, "backup": 12.34, "restore": 40.0,
          "snapshot_bytes": 1234567},
         {"cluster": "K3s 3 servers (embedded etcd)", "markers": 10000, "backup": 20.0, "restore": 55.56,
          "snapshot_bytes": 9876543},
         {"cluster": "kubeadm 1 control plane (stacked etcd)", "markers": 1000, "backup": 9.0, "restore": 14.25,
          "snapshot_bytes": 512032}],
        "2 cores", "2026-12-04")
    lines = text.splitlines()
    assert lines[0] == "# Backup and restore times"
    assert "| K3s 3 servers (embedded etcd) | 1,000 | 12.3 | 40.0 | 1,234,567 |" in lines
    assert "| K3s 3 servers (embedded etcd) | 10,000 | 20.0 | 55.6 | 9,876,543 |" in lines
    assert "| kubeadm 1 control plane (stacked etcd) | 1,000 | 9.0 | 14.2 | 512,032 |" in lines
    assert "Measured 2026-12-04" in text and "2 cores" in text


def test_upgrade_report_has_one_row_per_count_and_the_ratio() -> None:
    text = report.upgrade_markdown(
        [{"agents": 2, "upgrade": 50.0, "rerun": 7.04, "downloads": 1, "reads": 90, "failed": 0},
         {"agents": 8, "upgrade": 70.0, "rerun": 8.0, "downloads": 1, "reads": 130, "failed": 2}],
        "2 cores", "2026-12-04", "from v1.34.2+k3s1 to v1.35.1+k3s1")
    lines = text.splitlines()
    assert lines[0] == "# Upgrade times"
    # 20% of 2 agents rounds up to 1 (2 batches), of 8 agents to 2 (4 batches); per node over 3 servers + agents.
    assert "| 2 | 2 | 50.0 | 10.0 | 1 | 7.0 | 90 | 0 |" in lines
    assert "| 8 | 4 | 70.0 | 6.4 | 1 | 8.0 | 130 | 2 |" in lines
    assert "8 agents took 1.40 times as long as 2 (target: at most 1.5)." in lines
    assert "from v1.34.2+k3s1 to v1.35.1+k3s1" in text and "Measured 2026-12-04" in text


def test_workloads_report_has_one_row_per_count_and_the_ratio() -> None:
    text = report.workloads_markdown(
        [{"clusters": 1, "apply": 20.0, "rerun": 9.04, "changed": 9},
         {"clusters": 8, "apply": 31.0, "rerun": 12.0, "changed": 72}],
        "2 cores", "2026-12-05")
    lines = text.splitlines()
    assert lines[0] == "# Workload times"
    assert "| 1 | 20.0 | 9 | 9.0 |" in lines
    assert "| 8 | 31.0 | 72 | 12.0 |" in lines
    assert "8 clusters took 1.55 times as long as 1 (target: at most 2)." in lines
    assert "Measured 2026-12-05" in text and "2 cores" in text
