"""Helpers for testing checks without a hospital: a scripted shell, inventories, run_check().

    from impax_preflight.testing import FakeShell, make_inventory, run_check
    shell = FakeShell({"fmadm faulty": ""}, os="solaris")
    findings = run_check(my_check, shell=shell)
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any, Callable, Iterable

from .check import Check, CheckContext, Memo
from .inventory import Inventory
from .model import Finding
from .runner import execute_check
from .transports.base import CommandResult, NotCollected, Shell


class FakeShell(Shell):
    """A shell answering from a script: {command: stdout | (rc, stdout) | (rc, stdout, stderr) | exception | callable}.

    Keys may be exact commands or compiled regexes. Unknown commands raise `NotCollected`, like a
    bundle missing that command. `calls` records every command run (thread-safe).
    """

    kind = "fake"

    def __init__(self, outputs: dict[Any, Any] | None = None, os: str = "solaris"):
        self.outputs = dict(outputs or {})
        self.os = os
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def _lookup(self, command: str) -> Any:
        if command in self.outputs:
            return self.outputs[command]
        for key, value in self.outputs.items():
            if isinstance(key, re.Pattern) and key.search(command):
                return value
        raise NotCollected(f"not collected: FakeShell has no output for `{command}`")

    def run(self, command: str, timeout: float | None = None) -> CommandResult:
        with self._lock:
            self.calls.append(command)
        start = time.monotonic()
        answer = self._lookup(command)
        if callable(answer) and not isinstance(answer, type):
            answer = answer(command)
        if isinstance(answer, BaseException) or (isinstance(answer, type) and issubclass(answer, BaseException)):
            raise answer
        rc, out, err = 0, answer, ""
        if isinstance(answer, tuple):
            rc, out = answer[0], answer[1]
            err = answer[2] if len(answer) > 2 else ""
        if isinstance(out, bytes):
            from .transports.base import decode_output

            out = decode_output(out)
        return CommandResult(command=command, rc=rc, stdout=out, stderr=err, duration=time.monotonic() - start, transport=self.kind)


def make_inventory(data: dict[str, Any] | None = None, **site: Any) -> Inventory:
    """A small valid inventory: one Solaris database host `db1` unless `data` says otherwise.

    `site` keyword arguments override site fields (e.g. platform="AS300", features={...}).
    """
    base: dict[str, Any] = {
        "site": {"name": "Test Hospital", "impax_version": "6.3.1", "platform": "AS3000"},
        "hosts": [{"name": "db1", "os": "solaris", "roles": ["database", "archive"], "transport": {"kind": "local"}}],
    }
    if data:
        base.update(data)
    base["site"] = {**base["site"], **site}
    return Inventory.model_validate(base)


def run_check(
    check: Check,
    *,
    inventory: Inventory | None = None,
    host: str | None = None,
    database: str | None = None,
    shell: Shell | None = None,
    sql: Any = None,
    facts: dict[str, Any] | None = None,
    all_facts: dict[str, dict[str, Any]] | None = None,
    findings: Iterable[Finding] = (),
    memo: Memo | None = None,
    timeout: float = 30.0,
) -> list[Finding]:
    """Run one check on one target the way the runner does (timeout, exceptions -> error findings).

    Target: the site for site checks; else `host` (default: the first host) and, for database
    checks, `database` (default: the host's first database).
    """
    inv = inventory or make_inventory()
    h = d = None
    if check.target != "site":
        h = inv.host(host) if host else inv.hosts[0]
        if check.target == "database":
            if not h.databases:
                raise ValueError(f"host {h.name} has no database for database check {check.id}")
            d = next(db for db in h.databases if db.name == database) if database else h.databases[0]
    prior = list(findings)
    ctx = CheckContext(
        check,
        inv,
        host=h,
        database=d,
        shell_factory=(lambda: shell) if shell is not None else None,
        sql_factory=(lambda: sql) if sql is not None else None,
        facts=facts if facts is not None else (dict(h.facts) if h else {}),
        all_facts=all_facts,
        findings_so_far=lambda: prior,
        memo=memo,
        deadline=time.monotonic() + timeout,
        provider="test",
    )
    return execute_check(ctx, timeout)


__all__ = ["FakeShell", "make_inventory", "run_check"]

_ = Callable  # re-exported typing helper for plugin authors' annotations
