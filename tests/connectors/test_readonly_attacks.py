"""The outside probe's attacks on the read-only promise, replayed against the real PostgreSQL with a
login that CAN write (issue 10): dynamic SQL through query_to_xml (advisory lock, killing another
backend, switching the pooled session read-write, then setval/nextval/lo_create), a user-defined
function doing the switch and another deleting, and the same through declarative checks.

Each must end refused by the guard, by name, before it reaches the server — or, when the guard is
bypassed on purpose (a site allowing a function it should not have, a hole in the parser), without
effect: each statement runs in a read-only transaction that is rolled back, and a session found
read-write afterwards is discarded and the finding is an error. The run never says GO on a check
that was refused. What only the guard stops (advisory locks, signalling backends) is shown too.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from impax_preflight.db.base import DatabaseError
from impax_preflight.db.odbc import OdbcSession, build_connection_string
from impax_preflight.db.readonly import ReadOnlyViolation
from impax_preflight.model import Status
from impax_preflight import run_preflight
from impax_preflight.testing import make_inventory

pytestmark = pytest.mark.service

RW_USER = "atk_rw"
RW_PASSWORD_ENV = "IMPAX_TEST_ATK_PASSWORD"

SETUP = """
CREATE ROLE {user} LOGIN PASSWORD '{password}';
GRANT CONNECT ON DATABASE mvf TO {user};
GRANT USAGE, CREATE ON SCHEMA public TO {user};
CREATE TABLE atk_victims(id int primary key, note text);
INSERT INTO atk_victims VALUES (1, 'CT'), (2, 'MR'), (3, 'CR');
GRANT ALL ON atk_victims TO {user};
CREATE SEQUENCE atk_seq;
GRANT ALL ON SEQUENCE atk_seq TO {user};
CREATE FUNCTION atk_switch() RETURNS text LANGUAGE sql
  AS $$ select set_config('default_transaction_read_only', 'off', false) $$;
CREATE FUNCTION atk_delete() RETURNS int LANGUAGE plpgsql
  AS $$ begin delete from atk_victims; return 0; end $$;
CREATE FUNCTION atk_bump() RETURNS bigint LANGUAGE sql AS $$ select setval('atk_seq', 1000) $$;
CREATE FUNCTION atk_lock() RETURNS boolean LANGUAGE sql AS $$ select pg_try_advisory_lock(4242) $$;
"""


@pytest.fixture(scope="module")
def rw(postgres_server, odbc_postgres):
    """A writable login and the objects the probe attacked; the inventory Database for it."""
    password = "rw-" + secrets.token_urlsafe(12)
    os.environ[RW_PASSWORD_ENV] = password
    postgres_server.admin(SETUP.format(user=RW_USER, password=password))
    from impax_preflight.secrets import SecretRef

    db = odbc_postgres.database.model_copy(update={"user": RW_USER, "password": SecretRef(f"env:{RW_PASSWORD_ENV}")})
    yield db
    postgres_server.admin(
        "DROP FUNCTION atk_switch(), atk_delete(), atk_bump(), atk_lock(); DROP TABLE atk_victims; DROP SEQUENCE atk_seq;"
        f"REVOKE ALL ON DATABASE mvf FROM {RW_USER}; REVOKE ALL ON SCHEMA public FROM {RW_USER};"
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{RW_USER}'"
    )
    time.sleep(0.2)
    postgres_server.admin(f"DROP OWNED BY {RW_USER}; DROP ROLE {RW_USER}")


@pytest.fixture
def session(rw, odbc_postgres):
    s = OdbcSession.for_database(rw, odbc_postgres.host)
    yield s
    s.close()


def state(pg) -> dict:
    """What the attacks would change, read as the superuser."""
    out = pg.admin(
        "select (select count(*) from atk_victims), (select last_value || '/' || is_called from atk_seq), "
        "(select count(*) from pg_largeobject_metadata), "
        "(select count(*) from pg_locks where locktype = 'advisory')"
    ).strip().split("|")
    return {"victims": int(out[0]), "sequence": out[1], "large_objects": int(out[2]), "advisory_locks": int(out[3])}


CLEAN = {"victims": 3, "sequence": "1/false", "large_objects": 0, "advisory_locks": 0}


def victim_connection(postgres_server):
    """Another backend of the same login: the probe terminated one like it."""
    import pyodbc

    cs = build_connection_string({"DRIVER": "PostgreSQL Unicode", "SERVER": postgres_server.host, "PORT": postgres_server.port,
                                  "DATABASE": "mvf", "UID": RW_USER, "PWD": os.environ[RW_PASSWORD_ENV]})
    conn = pyodbc.connect(cs, autocommit=True)
    pid = conn.execute("select pg_backend_pid()").fetchone()[0]
    return conn, pid


# ---- layer 1: the guard refuses every one of them, by name, before the server sees it ------------


PROBE = [
    ("select query_to_xml('select pg_advisory_lock(4242)', true, false, '')", "query_to_xml()"),
    ("select query_to_xml('select pg_terminate_backend({victim})', true, false, '')", "query_to_xml()"),
    ("select query_to_xml('select set_config(''default_transaction_read_only'', ''off'', false)', true, false, '')",
     "query_to_xml()"),
    ("select set_config('default_transaction_read_only', 'off', false)", "set_config()"),
    ("select setval('atk_seq', 1000)", "setval()"),
    ("select nextval('atk_seq')", "nextval()"),
    ("select lo_create(0)", "lo_create()"),
    ("select pg_advisory_lock(4242)", "pg_advisory_lock()"),
    ("select pg_terminate_backend({victim})", "pg_terminate_backend()"),
    ("select atk_switch()", "atk_switch()"),
    ("select atk_delete()", "atk_delete()"),
    ("select public.atk_delete()", "public.atk_delete()"),
    ("select atk_switch(), atk_delete()", "atk_delete()"),
    ("select * from dblink('dbname=mvf', 'delete from atk_victims') as t(x text)", "dblink()"),
]


def test_the_probe_is_refused_by_the_guard_and_nothing_happened(session, postgres_server):
    victim, pid = victim_connection(postgres_server)
    try:
        for template, name in PROBE:
            sql = template.format(victim=pid)
            with pytest.raises(ReadOnlyViolation) as info:
                session.query(sql)
            assert name in str(info.value), sql
        assert state(postgres_server) == CLEAN
        assert victim.execute("select 1").fetchone()[0] == 1  # the other backend lives
        assert session.query("select current_setting('default_transaction_read_only')").scalar() == "on"
    finally:
        victim.close()


# ---- layer 2: with the guard bypassed, the read-only transaction leaves nothing behind ---------------


@pytest.fixture
def no_guard(monkeypatch):
    """A hole in the guard, made on purpose: every statement reaches the server."""
    import impax_preflight.db.base as base

    monkeypatch.setattr(base, "ensure_read_only", lambda *a, **k: None)


@pytest.mark.parametrize("sql", [
    "select setval('atk_seq', 1000)",
    "select nextval('atk_seq')",
    "select atk_delete()",
    "select atk_bump()",
    "select query_to_xml('select nextval(''atk_seq'')', true, false, '')",
    "select query_to_xml('select setval(''atk_seq'', 99)', true, false, '')",
    "with d as (select atk_delete()) select * from d",
])
def test_writes_past_the_guard_are_refused_by_the_read_only_transaction(sql, no_guard, session, postgres_server):
    with pytest.raises(DatabaseError, match="refused the statement because it would write"):
        session.query(sql)
    assert state(postgres_server) == CLEAN
    # the transaction was rolled back: the session goes on, read-only
    assert session.query("select current_setting('transaction_read_only')").scalar() == "on"


@pytest.mark.parametrize("sql", ["select lo_create(0)", "select query_to_xml('select lo_create(0)', true, false, '')"])
def test_what_the_server_lets_a_read_only_transaction_do_is_rolled_back(sql, no_guard, session, postgres_server):
    # PostgreSQL 15 creates a large object inside a read-only transaction; the rollback removes it
    session.query(sql)
    assert state(postgres_server) == CLEAN
    # the transaction was rolled back: the session goes on, read-only
    assert session.query("select current_setting('transaction_read_only')").scalar() == "on"


@pytest.mark.parametrize("switch", [
    "select atk_switch()",
    "select query_to_xml('select set_config(''default_transaction_read_only'', ''off'', false)', true, false, '')",
])
def test_a_switch_to_read_write_is_caught_rolled_back_and_the_session_discarded(switch, no_guard, session, rw,
                                                                               odbc_postgres, postgres_server):
    with pytest.raises(DatabaseError, match="no longer read-only") as info:
        session.query(switch)
    assert "discarded" in str(info.value) and "off" in str(info.value)
    assert session.discarded
    with pytest.raises(DatabaseError, match="no longer read-only"):
        session.query("select 1")  # never used again
    # the switch itself was rolled back with its transaction: the login's next session is read-only
    fresh = OdbcSession.for_database(rw, odbc_postgres.host)
    try:
        with pytest.raises(DatabaseError, match="would write"):
            fresh.query("select atk_delete()")
        assert fresh.query("select current_setting('default_transaction_read_only')").scalar() == "on"
    finally:
        fresh.close()
    assert state(postgres_server) == CLEAN


def test_switch_and_delete_in_one_statement_deletes_nothing(no_guard, session, postgres_server):
    with pytest.raises(DatabaseError, match="would write"):
        session.query("select atk_switch(), atk_delete()")
    assert state(postgres_server) == CLEAN


def test_what_only_the_guard_stops(no_guard, session, postgres_server):
    """Advisory locks and signals to other backends are not writes: a read-only transaction allows
    them and its rollback does not undo a session-level lock. Only the guard stops them (above) and
    the login's rights limit which backends it may signal. docs/security.md says so; this test
    keeps that page true."""
    victim, pid = victim_connection(postgres_server)
    try:
        assert session.query("select atk_lock()").scalar() in (True, "1")  # psqlODBC: booleans as text
        assert state(postgres_server)["advisory_locks"] == 1  # it outlived the rolled-back transaction
        assert session.query(f"select pg_terminate_backend({pid})").scalar() in (True, "1")
        deadline = time.monotonic() + 10  # the backend ends on its own time after the signal
        while (postgres_server.admin(f"select count(*) from pg_stat_activity where pid = {pid}").strip() != "0"
               and time.monotonic() < deadline):
            time.sleep(0.05)
        with pytest.raises(Exception):
            victim.execute("select 1").fetchone()
    finally:
        session.close()  # ends the lock with the backend
        try:
            victim.close()
        except Exception:  # noqa: BLE001 - it was terminated
            pass
    deadline = time.monotonic() + 5
    while state(postgres_server)["advisory_locks"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert state(postgres_server) == CLEAN


# ---- through the runner and declarative checks -----------------------------------------------------


def pg_inventory(rw, **site):
    db = rw.model_dump(by_alias=True, exclude_none=True, mode="json")
    db["max_sessions"] = 1  # one pooled session: the probe switched it, then the next check wrote
    return make_inventory({"hosts": [{"name": "pgdb", "os": "linux", "roles": ["database"], "transport": {"kind": "local"},
                                      "databases": [db]}]}, **site)


def checks_dir(tmp_path: Path, body: str) -> Path:
    """A --checks-dir folder holding one declarative file."""
    d = tmp_path / "checks"
    d.mkdir(exist_ok=True)
    (d / "probe.toml").write_text(textwrap.dedent(body), encoding="utf-8")
    return d


def declarative_plugin(tmp_path: Path, body: str):
    from impax_preflight import load_plugins

    return load_plugins(entry_points=False, builtin_checks=False, checks_dirs=[checks_dir(tmp_path, body)])


SWITCH_THEN_BUMP = """
    [[check]]
    id = "site.probe.a_switch"
    title = "switch the pooled session read-write"
    severity = "warning"
    target = "database"
    sql = "select public.atk_switch()"
    pass_if = "rows >= 0"

    [[check]]
    id = "site.probe.b_bump"
    title = "then move the sequence"
    severity = "warning"
    target = "database"
    sql = "select public.atk_bump()"
    pass_if = "rows >= 0"
"""


def test_a_site_allowing_the_probe_functions_still_gets_no_write_and_no_go(tmp_path, rw, postgres_server):
    # a careless site allowed both functions: the guard lets them through, the server does not
    allow = [{"name": "public.atk_switch", "reason": "test: a careless site"},
             {"name": "public.atk_bump", "reason": "test: a careless site"}]
    plugins = declarative_plugin(tmp_path, SWITCH_THEN_BUMP)
    report = run_preflight(pg_inventory(rw, sql={"allow_functions": allow}), plugins=plugins, jobs=1)
    got = {f.check_id: f for f in report.findings}
    assert got["site.probe.a_switch"].status is Status.ERROR and "no longer read-only" in got["site.probe.a_switch"].message
    assert got["site.probe.b_bump"].status is Status.ERROR and "would write" in got["site.probe.b_bump"].message
    assert report.verdict.value != "GO"
    assert state(postgres_server) == CLEAN


def test_unlisted_functions_in_a_declarative_check_are_refused_at_run_time_never_go(tmp_path, rw, postgres_server):
    plugins = declarative_plugin(tmp_path, SWITCH_THEN_BUMP)  # loads: a site could allow them
    report = run_preflight(pg_inventory(rw), plugins=plugins, jobs=2)
    for f in report.findings:
        assert f.status is Status.ERROR and "refused by the read-only guard" in f.message, f.message
    assert {f.check_id for f in report.findings} == {"site.probe.a_switch", "site.probe.b_bump"}
    assert "public.atk_bump()" in " ".join(f.message for f in report.findings)
    assert report.verdict.value == "GO_WITH_WARNINGS"  # warning checks that could not run: never GO
    assert state(postgres_server) == CLEAN


def cli(*args: str, cwd: Path, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "impax_preflight", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, env={**os.environ, **(env or {})})


def write_inventory(tmp_path: Path, rw, password: str | None = None, **thresholds) -> Path:
    th = "".join(f"{k} = {v}\n" for k, v in thresholds.items())
    inv = tmp_path / "site.toml"
    inv.write_text(textwrap.dedent(f"""
        [site]
        name = "Probe"
        impax_version = "6.3.1"
        platform = "AS3000"
        """) + (f"[site.thresholds]\n{th}" if th else "") + textwrap.dedent(f"""
        [[hosts]]
        name = "pgdb"
        os = "linux"
        roles = ["database"]
        transport = {{ kind = "local" }}
        [[hosts.databases]]
        name = "mvf"
        kind = "odbc"
        driver = "PostgreSQL Unicode"
        server = "{rw.server}"
        port = {rw.port}
        database = "mvf"
        dialect = "postgres"
        user = "{rw.user}"
        password = "env:{RW_PASSWORD_ENV if password is None else 'IMPAX_TEST_WRONG_PASSWORD'}"
        """), encoding="utf-8")
    return inv


def test_the_probe_declarative_check_stops_the_run_before_it_starts(tmp_path, rw, postgres_server):
    d = checks_dir(tmp_path, """
        [[check]]
        id = "site.probe.sequence"
        title = "move the sequence through dynamic SQL"
        severity = "info"
        target = "database"
        sql = "select query_to_xml('select setval(''atk_seq'', 1000)', true, false, '')"
        pass_if = "rows >= 0"
        """)
    out = tmp_path / "out"
    ran = cli("run", str(write_inventory(tmp_path, rw)), "--checks-dir", str(d), "--only", "site.probe.*", "-o", str(out),
              "--no-progress", cwd=tmp_path)
    assert ran.returncode == 3, ran.stdout + ran.stderr
    assert "probe.toml:" in ran.stderr and "query_to_xml()" in ran.stderr and "dynamic SQL" in ran.stderr
    assert "Traceback" not in ran.stderr
    assert state(postgres_server) == CLEAN


# ---- one login attempt per database per run (item 10) -----------------------------------------------


def failed_logins(postgres_server, user: str) -> int:
    log = (postgres_server.root / "postgres.log").read_text(errors="replace")
    return log.count(f'password authentication failed for user "{user}"')


def test_a_refused_login_is_tried_once_per_run(tmp_path, rw, postgres_server):
    """Twelve integrity checks race for the first session on one database (four at once): the
    server's log must show exactly one failed authentication for the run."""
    inv = write_inventory(tmp_path, rw, password="wrong", sessions_per_database=4)
    before = failed_logins(postgres_server, RW_USER)
    out = tmp_path / "out"
    ran = cli("run", str(inv), "--only", "integrity.*", "-o", str(out), "--format", "json", "--no-progress", "-j", "16",
              cwd=tmp_path, env={"IMPAX_TEST_WRONG_PASSWORD": "Not-The-Password-" + secrets.token_hex(4)})
    assert ran.returncode == 2, ran.stdout + ran.stderr  # blockers that could not be evaluated: NO-GO
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    errors = [f for f in report["findings"] if f["status"] == "error"]
    assert len(errors) >= 12 and all("login refused" in f["message"] for f in errors)
    deadline = time.monotonic() + 5  # the server writes its log line asynchronously
    while failed_logins(postgres_server, RW_USER) == before and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    assert failed_logins(postgres_server, RW_USER) - before == 1


# ---- cancel: a running statement ends at once, from another thread ---------------------------------


def wait_running(postgres_server, fragment: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = postgres_server.admin(f"select count(*) from pg_stat_activity where query like '%{fragment}%' "
                                  "and state = 'active' and pid <> pg_backend_pid()").strip()
        if n != "0":
            return
        time.sleep(0.05)
    raise AssertionError(f"{fragment} never started")


def test_cancel_interrupts_a_running_statement_at_once(session, postgres_server):
    from impax_preflight.db.base import QueryCancelled

    outcome: list = []

    def run():
        try:
            outcome.append(session.query("select pg_sleep(120)", timeout=300))
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            outcome.append(exc)

    t = threading.Thread(target=run)
    t.start()
    wait_running(postgres_server, "pg_sleep(120)")
    start = time.monotonic()
    assert session.cancel() is True
    t.join(10)
    # at once: not when the statement ends (120 s) nor at its timeout (300 s)
    assert not t.is_alive() and time.monotonic() - start < 10
    assert isinstance(outcome[0], QueryCancelled) and "cancelled" in str(outcome[0])
    assert postgres_server.admin("select count(*) from pg_stat_activity where query like '%pg_sleep(120)%' "
                                 "and state = 'active' and pid <> pg_backend_pid()").strip() == "0"  # ended on the server
    assert session.cancel() is False  # nothing runs now
    assert session.query("select 42").scalar() == 42  # and the session is still good


def test_ctrl_c_cancels_a_blocked_statement_and_the_run_ends_promptly(tmp_path, rw, postgres_server):
    import signal

    d = checks_dir(tmp_path, """
        [[check]]
        id = "site.probe.slow"
        title = "a statement that blocks"
        severity = "blocker"
        target = "database"
        sql = "select pg_sleep(60)"
        pass_if = "rows >= 0"
        """)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "impax_preflight", "run", str(write_inventory(tmp_path, rw, statement_timeout_s=120)),
         "--checks-dir", str(d), "--only", "site.probe.*", "-o", str(out), "--format", "json", "--no-progress",
         "--timeout", "300"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    try:
        wait_running(postgres_server, "pg_sleep(60)", timeout=30)
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
        assert time.monotonic() - start < 15, output  # not when the statement ends (60 s) or times out (120 s)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 2, output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["interrupted"] is True
    # the statement is gone from the server too, not left sleeping
    assert postgres_server.admin("select count(*) from pg_stat_activity where query like '%pg_sleep(60)%' "
                                 "and state = 'active' and pid <> pg_backend_pid()").strip() == "0"
