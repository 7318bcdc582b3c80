"""Helpers for testing checks without a hospital: a scripted shell, a real read-only SQLite
session, inventories, run_check() for one check, and a fresh plugin manager for whole plugins.

    from impax_preflight.testing import FakeShell, make_inventory, run_check, sqlite_session
    shell = FakeShell({"fmadm faulty": ""}, os="solaris")
    findings = run_check(my_check, shell=shell)
    db = sqlite_session("create table t(x); insert into t values (1);")
    findings = run_check(my_db_check, inventory=inv_with_a_database, sql=db)
    report = run_plugin_checks(my_plugin_module, inv)      # through run_preflight
    report = run_with(check_a, check_b, waivers=[...])    # only these checks, through run_preflight
"""

from __future__ import annotations

import atexit
import os
import re
import sqlite3
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterable

from .api import load_plugins, run_preflight
from .check import Check, CheckContext, Memo
from .db.sqlite import SqliteSession
from .execute import execute_check
from .hookspecs import hookimpl
from .inventory import Inventory
from .model import Finding, RunReport
from .plugins import PluginSet
from .probes import HostReader
from .runner import database_window
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
        self.privileged_calls: list[str] = []  # run with privileged=True (pfexec / sudo -n over SSH)
        self._lock = threading.Lock()

    def _lookup(self, command: str) -> Any:
        if command in self.outputs:
            return self.outputs[command]
        for key, value in self.outputs.items():
            if isinstance(key, re.Pattern) and key.search(command):
                return value
        raise NotCollected(f"not collected: FakeShell has no output for `{command}`")

    def run(self, command: str, timeout: float | None = None, privileged: bool = False) -> CommandResult:
        with self._lock:
            self.calls.append(command)
            if privileged:
                self.privileged_calls.append(command)
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
    output_dir: str | Path | None = None,
    progress: Any = None,
    shells: dict[str, Shell] | None = None,
    db_window: Any = None,
) -> list[Finding]:
    """Run one check on one target the way the runner does (timeout, exceptions -> error findings).

    Target: the site for site checks; else `host` (default: the first host) and, for database
    checks, `database` (default: the host's first database). `output_dir` is the report folder a
    check may write side files to; `progress(event, **data)` sees what the run's progress display
    would (``check_progress`` from `ctx.progress`, ``scan`` from the scans); `shells` maps host names
    to the shells a site check reads those hosts through (`ctx.reading(probe, host=...)`);
    `db_window` (a DbWindow or its text) replaces the inventory's database window.
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
        output_dir=output_dir,
        progress=progress,
        readers={name: HostReader(inv.host(name), (lambda sh=sh: sh), inv.site) for name, sh in (shells or {}).items()},
        db_window=database_window(inv, db_window),
    )
    return execute_check(ctx, timeout)


def sqlite_session(schema_sql: str | None = None, path: str | Path | None = None) -> SqliteSession:
    """A real SQL session on a throw-away SQLite database, opened read-only like production.

    ``schema_sql`` (DDL and DML, several statements) is applied through a separate writable
    connection, which is closed before the database is reopened through
    `impax_preflight.db.sqlite.SqliteSession` (``mode=ro``): the check under test meets the same
    read-only guard and driver behaviour as in a run. ``path`` defaults to a new temporary file
    (removed at interpreter exit); with ``path`` and no ``schema_sql``, an existing file is opened.
    """
    if path is None:
        fd, name = tempfile.mkstemp(prefix="impax-preflight-test-", suffix=".sqlite")
        os.close(fd)
        path = Path(name)
        atexit.register(_unlink_quietly, path)
    path = Path(path)
    if schema_sql:
        conn = sqlite3.connect(path)
        try:
            conn.executescript(schema_sql)
            conn.commit()
        finally:
            conn.close()
    return SqliteSession(path)


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def fresh_plugins(
    *plugins: Any,
    checks_dirs: Iterable[str | Path] = (),
    entry_points: bool = False,
    builtin_checks: bool = True,
) -> PluginSet:
    """A new plugin manager with the built-ins plus ``plugins`` (modules or objects with hookimpls).

    Installed entry points are left out by default so a test sees only what it asked for;
    ``builtin_checks=False`` also leaves out the built-in catalog (transports, drivers and reporters
    stay). Each call builds a fresh manager: nothing leaks from one test into the next.
    """
    return load_plugins(
        extra_plugins=plugins, entry_points=entry_points, checks_dirs=checks_dirs, builtin_checks=builtin_checks
    )


class ChecksPlugin:
    """A throw-away plugin registering the given checks: ``fresh_plugins(ChecksPlugin(a, b), Other())``."""

    def __init__(self, *checks: Check):
        self.checks = checks

    @hookimpl
    def impax_register_checks(self, register: Any) -> None:
        for c in self.checks:
            register(c)


def plugins_with(*checks: Check, **options: Any) -> PluginSet:
    """A fresh plugin manager holding only ``checks`` (no built-in catalog, no installed entry points;
    transports, drivers and reporters stay). ``options`` go to `fresh_plugins`."""
    return fresh_plugins(ChecksPlugin(*checks), **{"builtin_checks": False, **options})


def run_with(*checks: Check, inventory: Inventory | None = None, **options: Any) -> RunReport:
    """A whole run of only ``checks`` through `run_preflight` (plan, timeouts, waivers, verdict) on
    ``inventory`` (default `make_inventory()`); ``options`` go to `run_preflight` (``waivers``,
    ``only``, ``check_timeout_s``...)."""
    return run_preflight(inventory or make_inventory(), plugins=plugins_with(*checks), **options)


def run_plugin_checks(
    plugin: Any,
    inventory: Inventory | None = None,
    *,
    only: Iterable[str] = (),
    skip: Iterable[str] = (),
    builtins: bool = False,
    out_dir: str | Path | None = None,
    jobs: int = 4,
    check_timeout_s: float | None = None,
) -> RunReport:
    """Run a plugin's checks through `run_preflight`: planning, limits, timeouts, waivers, verdict.

    By default only the plugin's own checks run (``only`` = the ids it registers), so a test is
    not slowed or confused by the built-in catalog; pass ``builtins=True`` for a whole run.
    A plugin that registers no check raises ValueError (an empty run would say GO).
    """
    ps = fresh_plugins(plugin, builtin_checks=builtins)
    if not only and not builtins:
        name = ps.pm.get_name(plugin)
        only = [cid for cid, prov in ps.registry.check_providers.items() if prov == name]
        if not only:
            raise ValueError(
                f"plugin {name!r} registers no check: nothing to run (does it implement impax_register_checks, "
                "and does it load? see `impax-preflight plugins`)"
            )
    return run_preflight(
        inventory or make_inventory(),
        only=only,
        skip=skip,
        plugins=ps,
        out_dir=out_dir,
        jobs=jobs,
        check_timeout_s=check_timeout_s,
    )


__all__ = [
    "ChecksPlugin",
    "FakeShell",
    "fresh_plugins",
    "make_inventory",
    "plugins_with",
    "run_check",
    "run_plugin_checks",
    "run_with",
    "sqlite_session",
]
