# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark callback: one JSON line per playbook event, for tests/bench/bench.py.

Enabled only by the benchmark (ANSIBLE_CALLBACKS_ENABLED=kubeforge_bench with this
directory in ANSIBLE_CALLBACK_PLUGINS); it writes to the file named by
KUBEFORGE_BENCH_EVENTS. Each line is an object with ``ev`` and a monotonic time
``t``: ``task`` (a task or handler starts: its name, role and action), ``result``
(a host's result: status ok, changed, failed, skipped or unreachable; for a loop,
also one ``item`` line per item with its status) and ``stats`` (the recap's
per-host counters). Nothing of a result's content is written: only statuses, so no
secret reaches the file. benchlib/stats.py reads it.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: kubeforge_bench
type: aggregate
short_description: Write task timings and result statuses as JSON lines for the benchmark
description:
  - Writes one JSON object per task start, host result and loop item, and the recap, to the file named by the
    E(KUBEFORGE_BENCH_EVENTS) environment variable. Only names and statuses are written, never a result's content.
requirements:
  - enable in configuration
"""

import json
import os
import time
from typing import Any, Dict, Optional

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "kubeforge_bench"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        path = os.environ.get("KUBEFORGE_BENCH_EVENTS")
        self._out = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115 (kept open for the run)

    def _write(self, ev: str, **fields: Any) -> None:
        if self._out is None:
            return
        fields.update(ev=ev, t=round(time.monotonic(), 4))
        self._out.write(json.dumps(fields, sort_keys=True) + "\n")
        self._out.flush()

    @staticmethod
    def _role(task: Any) -> Optional[str]:
        role = getattr(task, "_role", None)
        return role.get_name(include_role_fqcn=False) if role is not None else None

    def _task(self, task: Any, handler: bool) -> None:
        self._write("task", name=task.name or task.action, role=self._role(task), action=task.action,
                    uuid=task._uuid, handler=handler)

    def v2_playbook_on_task_start(self, task: Any, is_conditional: bool) -> None:
        self._task(task, False)

    def v2_playbook_on_handler_task_start(self, task: Any) -> None:
        self._task(task, True)

    def v2_playbook_on_play_start(self, play: Any) -> None:
        self._write("play", name=play.get_name())

    def _result(self, result: Any, status: str) -> None:
        self._write("result", host=result._host.get_name(), uuid=result._task._uuid, status=status)

    def v2_runner_on_ok(self, result: Any) -> None:
        self._result(result, "changed" if result._result.get("changed") else "ok")

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        self._result(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_skipped(self, result: Any) -> None:
        self._result(result, "skipped")

    def v2_runner_on_unreachable(self, result: Any) -> None:
        self._result(result, "unreachable")

    def _item(self, result: Any, status: str) -> None:
        self._write("item", host=result._host.get_name(), uuid=result._task._uuid, status=status)

    def v2_runner_item_on_ok(self, result: Any) -> None:
        self._item(result, "changed" if result._result.get("changed") else "ok")

    def v2_runner_item_on_failed(self, result: Any) -> None:
        self._item(result, "failed")

    def v2_runner_item_on_skipped(self, result: Any) -> None:
        self._item(result, "skipped")

    def v2_playbook_on_stats(self, stats: Any) -> None:
        hosts: Dict[str, Dict[str, int]] = {h: stats.summarize(h) for h in sorted(stats.processed)}
        self._write("stats", hosts=hosts)
        if self._out is not None:
            self._out.close()
            self._out = None
