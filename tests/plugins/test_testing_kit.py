"""The testing kit plugin authors rely on: it must behave like production, read-only included."""

from __future__ import annotations

import re

import pytest

from impax_preflight import check, hookimpl
from impax_preflight.db.readonly import ReadOnlyViolation
from impax_preflight.model import Status
from impax_preflight.testing import (
    FakeShell,
    fresh_plugins,
    make_inventory,
    run_check,
    run_plugin_checks,
    sqlite_session,
)
from impax_preflight.transports.base import NotCollected


def test_sqlite_session_is_read_only_and_guarded(tmp_path):
    db = sqlite_session("create table t (x int); insert into t values (1), (2);", path=tmp_path / "t.sqlite")
    assert db.query("select sum(x) from t").scalar() == 3
    assert db.dialect == "sqlite" and db.kind == "sqlite"
    with pytest.raises(ReadOnlyViolation):
        db.query("delete from t")
    # even past the guard, the connection itself is read-only (mode=ro)
    import sqlite3

    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        db._conn.execute("insert into t values (3)")
    db.close()
    again = sqlite_session(path=tmp_path / "t.sqlite")  # an existing file, reopened as is
    assert again.query("select count(*) from t").scalar() == 2


def test_fake_shell_scripts_rc_regex_and_missing_commands():
    sh = FakeShell({"uname -s": "SunOS\n", re.compile(r"^df "): (1, "", "df: no such fs"), "boom": TimeoutError("slow")})
    assert sh.run("uname -s").stdout == "SunOS\n"
    r = sh.run("df -k /nope")
    assert r.rc == 1 and r.stderr == "df: no such fs"
    with pytest.raises(TimeoutError):
        sh.run("boom")
    with pytest.raises(NotCollected):
        sh.run("svcs -xv")
    assert sh.calls == ["uname -s", "df -k /nope", "boom", "svcs -xv"]


@check("site.kit.raises", "raises", "blocker", "host")
def raises(ctx):
    raise RuntimeError("bug in the check")


@check("site.kit.host_ok", "ok", "info", "host", roles=["archive"])
def host_ok(ctx):
    return ctx.passed("fine")


class Kit:
    @hookimpl
    def impax_register_checks(self, register):
        register(raises)
        register(host_ok)


def test_run_check_turns_exceptions_into_error_findings():
    (f,) = run_check(raises)
    assert f.status is Status.ERROR and "bug in the check" in f.message


def test_fresh_plugins_and_run_plugin_checks_only_run_the_plugin():
    ps = fresh_plugins(Kit())
    assert ps.registry.check_providers["site.kit.raises"] == "Kit"
    assert not any(p.status == "active" and p.name in ("dicom", "example-site") for p in ps.plugins)  # no entry points
    inv = make_inventory(
        {"hosts": [{"name": "a1", "os": "solaris", "roles": ["archive"], "transport": {"kind": "local"}},
                   {"name": "w1", "os": "windows", "roles": ["application"], "transport": {"kind": "local"}}]}
    )
    report = run_plugin_checks(Kit(), inv)
    assert {f.check_id for f in report.findings} == {"site.kit.raises", "site.kit.host_ok"}
    assert report.verdict.value == "NO_GO"  # the blocker that raised could not be evaluated
    assert any(n.check_id == "site.kit.host_ok" and n.target == "w1" for n in report.not_run)


def test_run_plugin_checks_refuses_a_plugin_without_checks():
    class Empty:
        @hookimpl
        def impax_register_reporters(self, register):
            pass

    with pytest.raises(ValueError, match="plugin 'Empty' registers no check"):
        run_plugin_checks(Empty())
