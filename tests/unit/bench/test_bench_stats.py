# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for tests/bench/benchlib/stats.py (and the callback that writes its input)."""

from __future__ import annotations

import importlib.util
import itertools
import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, List, Optional

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from benchlib import stats  # noqa: E402
from benchlib.stats import COPY_TASK, PLAYBOOK_ROLE, Requests, RunStats, Spread  # noqa: E402

COPY_ROLE, COPY_NAME = COPY_TASK
RECAP_ZERO = {"changed": 0, "failures": 0, "ignored": 0, "ok": 0, "rescued": 0, "skipped": 0, "unreachable": 0}


# -- helpers: lines as kubeforge_bench.py writes them (json.dumps(..., sort_keys=True)) -----------------------

def line(ev: str, t: float, **fields: Any) -> str:
    fields.update(ev=ev, t=t)
    return json.dumps(fields, sort_keys=True) + "\n"


def play(t: float, name: str = "Play") -> str:
    return line("play", t, name=name)


def task(t: float, uuid: str, name: str, role: Optional[str] = None, action: str = "ansible.builtin.command",
         handler: bool = False) -> str:
    return line("task", t, name=name, role=role, action=action, uuid=uuid, handler=handler)


def result(t: float, uuid: str, host: str, status: str) -> str:
    return line("result", t, host=host, uuid=uuid, status=status)


def item(t: float, uuid: str, host: str, status: str) -> str:
    return line("item", t, host=host, uuid=uuid, status=status)


def recap(t: float, hosts: Dict[str, Dict[str, int]]) -> str:
    return line("stats", t, hosts={h: dict(RECAP_ZERO, **c) for h, c in hosts.items()})


def two_play_run() -> List[str]:
    """A realistic two-play run on a server s1 and an agent a1."""
    return [
        play(100.0, "Prepare the nodes"),
        task(100.5, "u-facts", "Gathering Facts", action="ansible.builtin.gather_facts"),
        result(102.9, "u-facts", "s1", "ok"),
        result(103.0, "u-facts", "a1", "ok"),
        task(103.0, "u-pre", "Check the kernel modules", role="preflight"),
        result(103.5, "u-pre", "s1", "ok"),
        result(103.5, "u-pre", "a1", "skipped"),
        task(104.0, "u-copy", COPY_NAME, role=COPY_ROLE, action="ansible.builtin.copy"),
        item(105.0, "u-copy", "s1", "changed"),
        item(105.1, "u-copy", "s1", "changed"),
        item(105.2, "u-copy", "s1", "ok"),
        item(105.3, "u-copy", "a1", "changed"),
        item(105.4, "u-copy", "a1", "skipped"),
        item(105.5, "u-copy", "a1", "failed"),
        result(106.0, "u-copy", "s1", "changed"),
        result(106.0, "u-copy", "a1", "failed"),
        # The copy task's span ends here, at the next play's start, not at the next task's.
        play(110.0, "Install the cluster"),
        task(110.25, "u-wait", "Wait for the API", action="ansible.builtin.wait_for", handler=True),
        result(111.0, "u-wait", "s1", "ok"),
        # Same role as the copy task, different name: its changed items are not copies.
        task(112.0, "u-notes", "Copy the release notes", role=COPY_ROLE, action="ansible.builtin.copy"),
        item(112.5, "u-notes", "s1", "changed"),
        item(112.6, "u-notes", "s1", "changed"),
        result(112.7, "u-notes", "s1", "changed"),
        # Same name as the copy task, different role: not copies either.
        task(113.0, "u-other", COPY_NAME, role="k3s_artifacts", action="ansible.builtin.copy"),
        item(113.5, "u-other", "s1", "changed"),
        result(114.0, "u-other", "s1", "changed"),
        result(114.0, "u-other", "a1", "skipped"),
        recap(120.0, {
            "s1": {"ok": 6, "changed": 3, "skipped": 0},
            "a1": {"ok": 1, "changed": 0, "failures": 1, "unreachable": 1, "skipped": 2},
        }),
    ]


# -- read_events ------------------------------------------------------------------------------------------------

def test_read_events_totals_from_the_recap() -> None:
    got = stats.read_events(two_play_run())
    assert got.complete is True
    assert (got.changed, got.failed, got.unreachable, got.hosts) == (3, 1, 1, 2)


def test_read_events_counts_only_non_skipped_results_per_host() -> None:
    got = stats.read_events(two_play_run())
    # s1: facts, pre, copy, wait, notes, other = 6; a1: facts, copy (failed) = 2 (pre and other skipped).
    assert got.tasks_per_host == {"s1": 6, "a1": 2}
    assert got.max_tasks_per_host == 6


def test_read_events_role_seconds_span_to_next_task_or_play_and_last_to_recap() -> None:
    got = stats.read_events(two_play_run())
    assert set(got.role_seconds) == {PLAYBOOK_ROLE, "preflight", COPY_ROLE, "k3s_artifacts"}
    assert got.role_seconds["preflight"] == pytest.approx(1.0)   # 103.0 -> 104.0 (next task)
    # copy 104.0 -> 110.0 (next play's start, not the next task at 110.25) + notes 112.0 -> 113.0
    assert got.role_seconds[COPY_ROLE] == pytest.approx(7.0)
    assert got.role_seconds["k3s_artifacts"] == pytest.approx(7.0)  # last task: 113.0 -> recap at 120.0
    # Tasks without a role (facts 100.5 -> 103.0, handler 110.25 -> 112.0) and the gaps from each play's
    # start to its first task (0.5 + 0.25) count as "(playbook)".
    assert got.role_seconds[PLAYBOOK_ROLE] == pytest.approx(2.5 + 1.75 + 0.5 + 0.25)
    # Every second from the first play's start to the recap is accounted for, once.
    assert sum(got.role_seconds.values()) == pytest.approx(120.0 - 100.0)


def test_read_events_counts_copies_only_for_changed_items_of_the_copy_task() -> None:
    got = stats.read_events(two_play_run())
    assert COPY_TASK == ("cluster", "Copy the verified release files to the node")
    # s1 changed twice, a1 once; ok, skipped and failed items, and the changed items of
    # "Copy the release notes" (same role) and of k3s_artifacts' task (same name) are not copies.
    assert got.copies == 3


def test_read_events_counts_copies_of_every_run_of_the_copy_task() -> None:
    lines = [
        play(0.0),
        task(1.0, "c1", COPY_NAME, role=COPY_ROLE),
        item(1.5, "c1", "s1", "changed"),
        task(2.0, "c2", COPY_NAME, role=COPY_ROLE),  # e.g. a second play over the new agents
        item(2.5, "c2", "a9", "changed"),
        item(2.6, "c2", "a9", "changed"),
        recap(3.0, {"s1": {"changed": 1}, "a9": {"changed": 1}}),
    ]
    assert stats.read_events(lines).copies == 3


def test_read_events_item_before_any_task_is_not_a_copy() -> None:
    lines = [item(1.0, "unknown", "s1", "changed"), recap(2.0, {"s1": {}})]
    assert stats.read_events(lines).copies == 0


def test_read_events_without_recap_is_incomplete_and_drops_the_open_span() -> None:
    lines = [ln for ln in two_play_run() if '"ev": "stats"' not in ln]
    assert len(lines) == len(two_play_run()) - 1
    got = stats.read_events(lines)
    assert got.complete is False
    assert (got.changed, got.failed, got.unreachable, got.hosts) == (0, 0, 0, 0)
    # Results are still counted.
    assert got.tasks_per_host == {"s1": 6, "a1": 2}
    # The last task has no end: its role has no time at all; the earlier spans are unchanged.
    assert "k3s_artifacts" not in got.role_seconds
    assert got.role_seconds[COPY_ROLE] == pytest.approx(7.0)
    assert sum(got.role_seconds.values()) == pytest.approx(113.0 - 100.0)


def test_read_events_ignores_blank_lines(tmp_path: Path) -> None:
    events = tmp_path / "run.events"
    events.write_text("\n" + "".join(two_play_run()[:8]) + "   \n\t\n" + "".join(two_play_run()[8:]) + "\n\n",
                      encoding="utf-8")
    with events.open(encoding="utf-8") as f:  # as bench.py reads it: a file, lines with their newline
        got = stats.read_events(f)
    assert got == stats.read_events(two_play_run())
    assert got.complete and got.copies == 3


def test_read_events_of_nothing() -> None:
    got = stats.read_events([])
    assert got == RunStats()
    assert got.complete is False
    assert got.max_tasks_per_host == 0
    assert got.role_seconds == {}


def test_read_events_counts_changed_failed_ignored_and_unreachable_results() -> None:
    lines = [
        play(0.0),
        task(0.0, "t1", "Do things", role="k3s"),
        result(0.1, "t1", "s1", "changed"),
        result(0.1, "t1", "s2", "ignored"),
        result(0.1, "t1", "s3", "unreachable"),
        result(0.1, "t1", "s4", "skipped"),
        task(1.0, "t2", "More things", role="k3s"),
        result(1.1, "t2", "s1", "failed"),
        recap(4.0, {"s1": {"changed": 1, "failures": 1}, "s2": {"ignored": 1}, "s3": {"unreachable": 1},
                    "s4": {"skipped": 1}}),
    ]
    got = stats.read_events(lines)
    assert got.tasks_per_host == {"s1": 2, "s2": 1, "s3": 1}
    assert (got.changed, got.failed, got.unreachable, got.hosts) == (1, 1, 1, 4)
    # The play starts with its first task: a zero "(playbook)" span.
    assert got.role_seconds == {PLAYBOOK_ROLE: 0.0, "k3s": pytest.approx(4.0)}


def test_read_events_recap_counters_may_be_missing() -> None:
    got = stats.read_events([line("stats", 1.0, hosts={"s1": {"ok": 3}, "s2": {"changed": 2}})])
    assert (got.changed, got.failed, got.unreachable, got.hosts) == (2, 0, 0, 2)
    assert got.complete


# -- the callback plugin writes what read_events reads ----------------------------------------------------------

def _load_callback():
    pytest.importorskip("ansible")
    spec = importlib.util.spec_from_file_location("kubeforge_bench_callback",
                                                  BENCH / "callback_plugins" / "kubeforge_bench.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Role:
    def __init__(self, name: str) -> None:
        self.name = name

    def get_name(self, include_role_fqcn: bool = True) -> str:
        return self.name if not include_role_fqcn else f"kubeforge.cluster.{self.name}"


class _Stats:
    def __init__(self, recap: Dict[str, Dict[str, int]]) -> None:
        self.processed = {h: 1 for h in recap}
        self._recap = recap

    def summarize(self, host: str) -> Dict[str, int]:
        return dict(RECAP_ZERO, **self._recap[host])


def test_callback_output_round_trips_through_read_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = _load_callback()
    events = tmp_path / "converge.events"
    monkeypatch.setenv("KUBEFORGE_BENCH_EVENTS", str(events))
    clock = itertools.count(start=50, step=2)  # 50, 52, 54, ...: one tick per event written
    monkeypatch.setattr(module, "time", SimpleNamespace(monotonic=lambda: float(next(clock))))

    cb = module.CallbackModule()
    facts = SimpleNamespace(name="Gathering Facts", action="gather_facts", _uuid="f", _role=None)
    copy = SimpleNamespace(name=COPY_NAME, action="ansible.builtin.copy", _uuid="c", _role=_Role(COPY_ROLE))
    restart = SimpleNamespace(name="Restart k3s", action="ansible.builtin.systemd_service", _uuid="h",
                              _role=_Role("k3s"))
    s1, a1 = SimpleNamespace(get_name=lambda: "s1"), SimpleNamespace(get_name=lambda: "a1")

    def res(host, t, changed=False):
        return SimpleNamespace(_host=host, _task=t, _result={"changed": changed})

    cb.v2_playbook_on_play_start(SimpleNamespace(get_name=lambda: "Install"))  # t=50
    cb.v2_playbook_on_task_start(facts, False)                                 # 52
    cb.v2_runner_on_ok(res(s1, facts))                                         # 54
    cb.v2_runner_on_ok(res(a1, facts))                                         # 56
    cb.v2_playbook_on_task_start(copy, False)                                  # 58
    cb.v2_runner_item_on_ok(res(s1, copy, changed=True))                       # 60
    cb.v2_runner_item_on_ok(res(s1, copy, changed=False))                      # 62
    cb.v2_runner_item_on_skipped(res(a1, copy))                                # 64
    cb.v2_runner_item_on_failed(res(a1, copy))                                 # 66
    cb.v2_runner_on_ok(res(s1, copy, changed=True))                            # 68
    cb.v2_runner_on_failed(res(a1, copy), ignore_errors=True)                  # 70
    cb.v2_playbook_on_handler_task_start(restart)                              # 72
    cb.v2_runner_on_skipped(res(a1, restart))                                  # 74
    cb.v2_runner_on_unreachable(res(s1, restart))                              # 76
    cb.v2_playbook_on_stats(_Stats({"s1": {"ok": 2, "changed": 1, "unreachable": 1},
                                    "a1": {"ok": 1, "ignored": 1, "skipped": 1}}))  # 78

    raw = events.read_text(encoding="utf-8").splitlines()
    assert len(raw) == 15
    assert json.loads(raw[4]) == {"ev": "task", "t": 58.0, "name": COPY_NAME, "role": COPY_ROLE,
                                  "action": "ansible.builtin.copy", "uuid": "c", "handler": False}
    with events.open(encoding="utf-8") as f:
        got = stats.read_events(f)
    assert got.complete
    assert (got.changed, got.failed, got.unreachable, got.hosts) == (1, 0, 1, 2)
    assert got.tasks_per_host == {"s1": 3, "a1": 2}
    assert got.copies == 1
    assert got.role_seconds == {PLAYBOOK_ROLE: pytest.approx(2 + 6), COPY_ROLE: pytest.approx(14),
                                "k3s": pytest.approx(6)}


# -- read_access_log --------------------------------------------------------------------------------------------

K3S = "/k3s-io/k3s/releases/download/v1.35.1%2Bk3s1"
KUBE = "/dl.k8s.io/release/v1.35.2/bin/linux/amd64"


def access(path: str, status: int = 200, method: str = "GET") -> str:
    """A line as mirror.py's log_message writes BaseHTTPRequestHandler.log_request's message."""
    return '127.0.0.1 - "%s %s HTTP/1.1" %s -\n' % (method, path, status)


def test_read_access_log_counts_downloads_metadata_and_errors() -> None:
    lines = [
        access("/v1-release/channels"),
        access("/v1-release/channels/stable", 302),
        access(f"{K3S}/sha256sum-amd64.txt"),
        access(f"{K3S}/k3s"),
        access(f"{K3S}/k3s-airgap-images-amd64.tar.zst"),
        access("/dl.k8s.io/release/stable.txt"),
        access("/dl.k8s.io/release/stable-1.35.txt"),
        access(f"{KUBE}/kubeadm.sha256"),
        access(f"{KUBE}/kubeadm"),
        access(f"{KUBE}/kubelet.sha256"),
        access(f"{KUBE}/kubelet"),
        access(f"{KUBE}/kubelet"),                      # fetched twice: two downloads, one file
        access("/k3s-io/k3s/releases/download/v9.9.9/k3s", 404),
        access("/v1-release/channels/nope", 404),       # an error, not metadata
        access(f"{KUBE}/kubectl", 500),
        access(f"{K3S}/k3s.sha256", 400),               # an error even on a digest path
        access(f"{K3S}/k3s", 399),                      # not yet an error
    ]
    got = stats.read_access_log(lines)
    assert got == Requests(downloads=6, distinct_files=4, metadata=7, errors=4)


def test_read_access_log_ignores_query_strings() -> None:
    lines = [
        access(f"{K3S}/k3s?attempt=1"),
        access(f"{K3S}/k3s?attempt=2"),
        access(f"{KUBE}/kubeadm.sha256?cache=no"),
        access(f"{K3S}/sha256sum-amd64.txt?x=1"),
        access("/v1-release/channels/stable?arch=amd64", 302),
    ]
    assert stats.read_access_log(lines) == Requests(downloads=2, distinct_files=1, metadata=3, errors=0)


def test_read_access_log_ignores_unrelated_lines() -> None:
    lines = [
        "",
        "\n",
        "mirror: serving /work/.cache/releases on 127.0.0.1:38211\n",
        "127.0.0.1 - code 404, message File not found\n",               # log_error's line before the request's
        '127.0.0.1 - "POST /k3s-io/k3s/releases/download/v1.35.1%2Bk3s1/k3s HTTP/1.1" 501 -\n',
        '127.0.0.1 - "GET /k3s-io/k3s/releases/download/v1.35.1%2Bk3s1/k3s" 200 -\n',  # no protocol
        "127.0.0.1 - Request timed out: timeout('timed out')\n",
        access(f"{K3S}/k3s", method="HEAD"),
    ]
    # A HEAD request fetches no file: it counts with the metadata requests.
    assert stats.read_access_log(lines) == Requests(downloads=0, distinct_files=0, metadata=1, errors=0)


def test_read_access_log_of_a_real_log_file(tmp_path: Path) -> None:
    log = tmp_path / "mirror.log"
    log.write_text(access(f"{K3S}/sha256sum-amd64.txt") + access(f"{K3S}/k3s") + access(f"{K3S}/k3s", 404),
                   encoding="utf-8")
    with log.open(encoding="utf-8") as f:
        assert stats.read_access_log(f) == Requests(downloads=1, distinct_files=1, metadata=1, errors=1)


def test_read_access_log_of_nothing() -> None:
    assert stats.read_access_log([]) == Requests(0, 0, 0, 0)


# -- spread, ratio, Spread.fmt ----------------------------------------------------------------------------------

def test_spread_of_no_runs_is_none() -> None:
    assert stats.spread([]) is None


def test_spread_of_one_run() -> None:
    sp = stats.spread([12.34])
    assert sp == Spread(12.34, 12.34, 12.34, 1)
    assert sp.fmt() == "12.3s"


def test_spread_of_several_runs_shows_median_and_range() -> None:
    sp = stats.spread([30.0, 10.0, 20.5])
    assert sp == Spread(median=20.5, low=10.0, high=30.0, runs=3)
    assert sp.fmt() == "20.5s (10.0–30.0)"
    assert sp.fmt(" MiB", 0) == "20 MiB (10–30)"
    assert sp.fmt("", 2) == "20.50 (10.00–30.00)"


def test_spread_median_of_an_even_number_of_runs() -> None:
    sp = stats.spread([10.0, 40.0, 20.0, 30.0])
    assert (sp.median, sp.low, sp.high, sp.runs) == (25.0, 10.0, 40.0, 4)
    assert sp.fmt() == "25.0s (10.0–40.0)"


def test_spread_fmt_of_identical_runs_shows_one_value() -> None:
    assert stats.spread([7.0, 7.0, 7.0]).fmt() == "7.0s"


def test_ratio() -> None:
    assert stats.ratio(stats.spread([50.0, 40.0, 60.0]), stats.spread([20.0, 30.0, 25.0])) == pytest.approx(2.0)
    assert stats.ratio(stats.spread([0.0]), stats.spread([3.0])) == 0.0


@pytest.mark.parametrize("num, den", [
    (None, [3.0]),
    ([3.0], None),
    (None, None),
    ([3.0], [0.0]),
    ([3.0], [0.0, 0.0, 5.0]),  # median 0
])
def test_ratio_is_none_for_missing_or_zero_denominator(num, den) -> None:
    as_spread = (lambda v: None if v is None else stats.spread(v))
    assert stats.ratio(as_spread(num), as_spread(den)) is None


def test_read_access_log_one_file_however_its_name_is_spelled() -> None:
    lines = [
        '127.0.0.1 - "GET /k3s-io/k3s/releases/download/v1.35.1%2Bk3s1/k3s HTTP/1.1" 200 -\n',
        '127.0.0.1 - "GET /k3s-io/k3s/releases/download/v1.35.1+k3s1/k3s HTTP/1.1" 200 -\n',
    ]
    # Two downloads of one file: the one-download-per-file target sees the duplicate.
    assert stats.read_access_log(lines) == Requests(downloads=2, distinct_files=1, metadata=0, errors=0)
