"""Test-only Ansible callback: every task result and the recap as JSON lines, for assertions.

Enabled by the tests through ANSIBLE_CALLBACK_PLUGINS / ANSIBLE_CALLBACKS_ENABLED; writes to the
file named by IMPAX_RECORD_FILE.
"""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "impax_record"
    CALLBACK_NEEDS_ENABLED = True

    def _write(self, record):
        with open(os.environ["IMPAX_RECORD_FILE"], "a", encoding="utf-8") as f:
            f.write(json.dumps(record, default=str) + "\n")

    def _result(self, status, result):
        task = result._task
        data = result._result
        self._write({
            "event": "result",
            "status": status,
            "host": result._host.get_name(),
            "task": task.get_name().split(" : ", 1)[-1],  # without the "role : " prefix
            "role": task._role.get_name() if task._role else None,
            "action": task.action,
            "path": task.get_path(),  # file:line of the task, e.g. .../roles/collect/tasks/windows.yml:12
            "delegated": bool(task.delegate_to),
            "changed": bool(data.get("changed")),
            "msg": str(data.get("msg", "")),
            "rc": data.get("rc"),
            "result": {k: data.get(k) for k in ("reason", "dest", "remote", "commands", "stdout", "stderr") if k in data},
            "items": [{k: item.get(k) for k in ("rc", "stdout", "stderr", "msg", "changed", "failed")}
                      for item in data.get("results", []) if isinstance(item, dict)],
        })

    def v2_runner_on_ok(self, result):
        self._result("ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result("failed", result)

    def v2_runner_on_unreachable(self, result):
        self._result("unreachable", result)

    def v2_runner_on_skipped(self, result):
        self._result("skipped", result)

    def v2_playbook_on_stats(self, stats):
        recap = {h: stats.summarize(h) for h in sorted(stats.processed)}
        self._write({"event": "stats", "recap": recap, "custom": stats.custom})
