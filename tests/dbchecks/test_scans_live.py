"""The integrity scans for real: proof from the dictionary, names as it spells them, estimates, the
database window, progress and a check's timeout cancelling its statement — on SQLite always and on
PostgreSQL through ODBC ("PostgreSQL Unicode") as a service test."""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime, timedelta

import pytest

from conftest import require_service
from impax_preflight import load_plugins, run_preflight
from impax_preflight.check import Memo
from impax_preflight.checks import _integrity
from impax_preflight.db.sqlite import SqliteSession
from impax_preflight.demo.impax_schema import DUPLICATE_CHECK, build_impax_db, build_sqlite_impax_db
from impax_preflight.estimate import estimate_databases
from impax_preflight.model import Status
from impax_preflight.plan import build_plan
from impax_preflight.testing import make_inventory, run_check

from dbchecks.fakesql import scans

CHECKS = load_plugins(entry_points=False).registry.checks
INTEGRITY = sorted(c for c in CHECKS if c.startswith("integrity."))
NULL_COLUMNS = sorted({(t, c) for t, pairs in _integrity.NULL_CHECKS.items() for _, c in pairs})


def sqlite_inv(path, **site):
    return make_inventory({"hosts": [{"name": "db1", "os": "solaris", "roles": ["database"], "transport": {"kind": "local"},
                                      "databases": [{"name": "mvf", "kind": "sqlite", "path": str(path)}]}]}, **site)


def closed_window() -> str:
    """A one-hour window that starts two hours from now (local time): closed now, whatever the clock."""
    start = datetime.now() + timedelta(hours=2)
    end = start + timedelta(hours=1)
    return f"{start:%H}:00-{end:%H}:00"


def constrained_sqlite(path):
    """The IMPAX-shaped tables without defects, every checked column NOT NULL, object_ref unique."""
    build_sqlite_impax_db(path, scale="tiny", defects={})
    conn = sqlite3.connect(path)
    for table in sorted({t for t, _ in NULL_COLUMNS}):
        cols = {c for t, c in NULL_COLUMNS if t == table}
        info = conn.execute(f"pragma table_info({table})").fetchall()
        ddl = ", ".join(f"{r[1]} {r[2]}{' not null' if r[1] in cols else ''}{' primary key' if r[5] else ''}" for r in info)
        conn.executescript(f"alter table {table} rename to old_{table}; create table {table} ({ddl}); "
                           f"insert into {table} select * from old_{table}; drop table old_{table};")
    conn.execute("create unique index dosr_object_document_uk on dosr_object_document (object_ref)")
    conn.commit()
    conn.close()


# ---- SQLite ---------------------------------------------------------------------------------------


def test_sqlite_constraints_prove_and_nothing_is_scanned(tmp_path):
    path = tmp_path / "mvf.db"
    constrained_sqlite(path)
    session, memo = SqliteSession(path), Memo()
    sent: list[str] = []
    inner = session._execute
    session._execute = lambda sql, *a: (sent.append(sql), inner(sql, *a))[1]
    got = {cid: run_check(CHECKS[cid], inventory=sqlite_inv(path), sql=session, memo=memo)[0] for cid in INTEGRITY}
    assert all(f.status is Status.PASS and "proved by" in f.message for f in got.values()), {c: f.message for c, f in got.items()}
    assert "unique index dosr_object_document_uk" in got[DUPLICATE_CHECK].message
    assert not [s for s in sent if "rows_scanned" in s]
    assert len(scans(sent)) == 3  # a first-row look at each core table, nothing more


def test_a_window_that_is_closed_stops_the_scans_but_not_the_proofs(tmp_path):
    clean, dirty = tmp_path / "clean.db", tmp_path / "dirty.db"
    constrained_sqlite(clean)
    build_sqlite_impax_db(dirty, scale="tiny")
    window = closed_window()
    report = run_preflight(sqlite_inv(dirty), only=["integrity.*"], db_window=window)
    assert {f.status for f in report.findings} == {Status.ERROR}
    f = report.findings[0]
    assert "was not scanned: outside the database window" in f.message and "opens at" in f.message
    assert report.verdict.value == "NO_GO"  # fail closed: an unverified blocker is not ready
    # the dictionary's proofs need no scan: they pass outside the window
    report = run_preflight(sqlite_inv(clean), only=["integrity.*"], db_window=window)
    assert {f.status for f in report.findings} == {Status.PASS}
    # inside the window the scans run and say when
    report = run_preflight(sqlite_inv(dirty), only=["integrity.*"], db_window="00:00-24:00")
    f = next(f for f in report.findings if f.check_id == "integrity.study_uid")
    assert f.status is Status.FAIL and f.values["scan_started"] <= f.values["scan_finished"]
    assert f.values["scan_started"][:10] in f.message


def test_the_inventory_window_applies_and_progress_sees_each_scan(tmp_path):
    path = tmp_path / "mvf.db"
    build_sqlite_impax_db(path, scale="tiny")
    events: list[dict] = []
    inv = sqlite_inv(path, database_window={"hours": closed_window()})
    report = run_preflight(inv, only=["integrity.study_uid"], progress=lambda e, **d: events.append({"event": e, **d}))
    assert report.findings[0].status is Status.ERROR and not [e for e in events if e["event"] == "scan"]
    report = run_preflight(sqlite_inv(path), only=["integrity.*"], progress=lambda e, **d: events.append({"event": e, **d}))
    started = [e for e in events if e["event"] == "scan" and e["state"] == "start"]
    ended = [e for e in events if e["event"] == "scan" and e["state"] == "end"]
    assert len(started) == len(ended) == 11  # one per table, whichever check ran it
    assert {e["table"] for e in started} == set(_integrity.NULL_CHECKS) | {"dosr_object_document"}
    assert all(e["ok"] and e["target"] == "db1/mvf" for e in ended)


def test_an_empty_core_table_is_a_warning_not_a_pass(tmp_path):
    path = tmp_path / "mvf.db"
    build_sqlite_impax_db(path, scale="tiny", defects={})
    conn = sqlite3.connect(path)
    conn.execute("delete from dosr_object")
    conn.commit()
    conn.close()
    report = run_preflight(sqlite_inv(path), only=["integrity.*"])
    got = {f.check_id: f for f in report.findings}
    assert got["integrity.object_series_ref"].status is Status.WARN and "dosr_object is empty" in got["integrity.object_series_ref"].message
    assert got["integrity.study_uid"].status is Status.PASS
    assert report.verdict.value == "GO_WITH_WARNINGS"


def test_plan_estimates_sqlite_by_counting(tmp_path):
    path = tmp_path / "mvf.db"
    build_sqlite_impax_db(path, scale="tiny")
    inv = sqlite_inv(path)
    plugins = load_plugins(entry_points=False)
    items, _ = build_plan(inv, plugins.checks().values(), only=["integrity.*"])
    (db,) = estimate_databases(plugins, inv, items)
    assert db.error is None and len(db.scans) == 11 and db.wall_s is not None
    rows = {s.table: s.rows for s in db.scans}
    conn = sqlite3.connect(path)
    assert rows["dosr_object"] == conn.execute("select count(*) from dosr_object").fetchone()[0]
    assert all("SQLite keeps no statistics" in s.rows_source for s in db.scans)


# ---- PostgreSQL through ODBC -------------------------------------------------------------------------

PG_DB = "impax_scans"


@pytest.fixture(scope="module")
def pg(postgres_server):
    from services import odbc_drivers

    require_service("PostgreSQL Unicode" in odbc_drivers(), "ODBC driver 'PostgreSQL Unicode' (apt-get install odbc-postgresql)")
    srv = postgres_server
    srv.admin(f"DROP DATABASE IF EXISTS {PG_DB}", dbname="postgres")
    srv.admin(f"CREATE DATABASE {PG_DB}", dbname="postgres")
    for schema in ("impax", "upper", "proved"):
        srv.admin(f"CREATE SCHEMA {schema}; GRANT USAGE ON SCHEMA {schema} TO {srv.user}", dbname=PG_DB)
    return srv


def pg_inv(srv, schema: str, **db):
    return make_inventory({"hosts": [{"name": "pgdb", "os": "linux", "roles": ["database"], "transport": {"kind": "local"},
                                      "databases": [{"name": "mvf", "kind": "odbc", "driver": "PostgreSQL Unicode",
                                                     "server": srv.host, "port": srv.port, "database": PG_DB, "user": srv.user,
                                                     "password": f"env:{srv.password_env}", "dialect": "postgres",
                                                     "schema": schema, **db}]}]})


def load_schema(srv, schema: str, **kw) -> dict[str, int]:
    run = lambda sql: srv.admin(f"SET search_path = {schema}; {sql}", dbname=PG_DB)  # noqa: E731
    expected = build_impax_db(run, "postgres", scale="tiny", **kw)
    srv.admin(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {srv.user}", dbname=PG_DB)
    return expected


@pytest.mark.service
def test_postgres_quoted_upper_case_names_are_found_and_read(pg):
    expected = load_schema(pg, "upper")
    # the tables as a site created them with quoted upper-case names: "DOSR_OBJECT" ("OBJECT_REF", ...)
    tables = pg.admin("select tablename from pg_tables where schemaname = 'upper'", dbname=PG_DB).split()
    for t in tables:
        cols = pg.admin(f"select attname from pg_attribute where attrelid = 'upper.{t}'::regclass and attnum > 0 "
                        "and not attisdropped", dbname=PG_DB).split()
        for c in cols:
            pg.admin(f'ALTER TABLE upper.{t} RENAME COLUMN {c} TO "{c.upper()}"', dbname=PG_DB)
        pg.admin(f'ALTER TABLE upper.{t} RENAME TO "{t.upper()}"', dbname=PG_DB)
    report = run_preflight(pg_inv(pg, "upper"), only=["integrity.*"])
    got = {f.check_id: f for f in report.findings}
    for cid in INTEGRITY:
        assert got[cid].values.get("count") == expected[cid], got[cid].message
    f = got["integrity.object_sop_instance_uid"]
    assert expected["integrity.object_sop_instance_uid"] and f.values["table"] == "DOSR_OBJECT" and f.values["examples"]
    notes = " ".join(e.output for e in f.evidence if e.kind == "note")
    assert 'spelled "DOSR_OBJECT" in the data dictionary' in notes and '"SOP_INSTANCE_UID"' in notes
    assert any('from upper."DOSR_OBJECT"' in e.source for e in f.evidence)


@pytest.mark.service
def test_postgres_constraints_prove_and_invalid_ones_do_not(pg):
    load_schema(pg, "proved", defects={DUPLICATE_CHECK: 2, "integrity.study_uid": 1})
    stmts = [f"ALTER TABLE proved.{t} ALTER COLUMN {c} SET NOT NULL" for t, c in NULL_COLUMNS if (t, c) != ("dosr_study", "study_uid")]
    # a CHECK ... NOT VALID is not a NOT NULL constraint, and proves nothing about the rows already there
    stmts.append("ALTER TABLE proved.dosr_study ADD CONSTRAINT study_uid_nn CHECK (study_uid IS NOT NULL) NOT VALID")
    for s in stmts:
        pg.admin(s, dbname=PG_DB)
    # a unique index built CONCURRENTLY over duplicates fails and stays behind INVALID
    with pytest.raises(RuntimeError):
        pg.admin("CREATE UNIQUE INDEX CONCURRENTLY doc_uk ON proved.dosr_object_document (object_ref)", dbname=PG_DB)
    assert pg.admin("select indisvalid from pg_index where indexrelid = 'proved.doc_uk'::regclass", dbname=PG_DB).strip() == "f"
    report = run_preflight(pg_inv(pg, "proved"), only=["integrity.*"])
    got = {f.check_id: f for f in report.findings}
    assert got["integrity.study_uid"].status is Status.FAIL and got["integrity.study_uid"].values["count"] == 1
    dup = got[DUPLICATE_CHECK]
    assert dup.status is Status.FAIL and dup.values["count"] == 4
    assert any("doc_uk is not valid" in e.output for e in dup.evidence if e.kind == "note")
    proved = got["integrity.object_series_ref"]
    assert proved.status is Status.PASS and "proved by its NOT NULL constraint on dosr_object.series_ref" in proved.message
    assert proved.values["proved_by"]["dictionary_row"]["not_null"] == 1
    # repaired and constrained: every count proved, nothing read
    pg.admin("DROP INDEX proved.doc_uk; DELETE FROM proved.dosr_object_document a USING proved.dosr_object_document b "
             "WHERE a.object_ref = b.object_ref AND a.document_ref > b.document_ref; "
             "ALTER TABLE proved.dosr_object_document ADD CONSTRAINT doc_object_ref_uk UNIQUE (object_ref); "
             "UPDATE proved.dosr_study SET study_uid = 'repaired' WHERE study_uid IS NULL; "
             "ALTER TABLE proved.dosr_study ALTER COLUMN study_uid SET NOT NULL", dbname=PG_DB)
    report = run_preflight(pg_inv(pg, "proved"), only=["integrity.*"], db_window=closed_window())
    assert {f.status for f in report.findings} == {Status.PASS}, [f.message for f in report.findings]
    dup = next(f for f in report.findings if f.check_id == DUPLICATE_CHECK)
    assert "unique constraint doc_object_ref_uk" in dup.message
    assert not [e for f in report.findings for e in f.evidence if "rows_scanned" in e.source]


@pytest.mark.service
def test_postgres_estimates_from_pg_class_and_says_what_was_never_analysed(pg):
    load_schema(pg, "impax")
    pg.admin("ANALYZE impax.dosr_object; ANALYZE impax.dosr_object_document", dbname=PG_DB)
    inv = pg_inv(pg, "impax")
    plugins = load_plugins(entry_points=False)
    items, _ = build_plan(inv, plugins.checks().values(), only=["integrity.*"])
    (db,) = estimate_databases(plugins, inv, items)
    assert db.error is None and db.dialect == "postgres"
    est = {s.table: s for s in db.scans}
    n = int(pg.admin("select count(*) from impax.dosr_object", dbname=PG_DB))
    assert est["dosr_object"].rows == n and "pg_class.reltuples (analysed" in est["dosr_object"].rows_source
    assert est["dosr_object"].size_bytes > 0 and est["dosr_object"].seconds is not None
    # a table never analysed: its row count comes from the activity counters, said as such (or is unknown)
    never = est["mitra_folder"]
    assert "never analysed" in never.rows_source
    # unreachable: no estimate, with the reason; nothing else stops
    bad = pg_inv(pg, "impax", port=1)
    (db,) = estimate_databases(plugins, bad, build_plan(bad, plugins.checks().values(), only=["integrity.*"])[0])
    assert db.error.startswith("no estimate: cannot connect") and not db.scans


@pytest.mark.service
def test_a_check_timeout_cancels_its_statement_on_the_server(pg, tmp_path):
    d = tmp_path / "checks"
    d.mkdir()
    (d / "slow.toml").write_text('[[check]]\nid = "site.slow.sleep"\ntitle = "a statement that blocks"\n'
                                 'severity = "warning"\ntarget = "database"\nsql = "select pg_sleep(30)"\npass_if = "rows >= 0"\n')
    plugins = load_plugins(entry_points=False, builtin_checks=False, checks_dirs=[d])
    start = time.monotonic()
    report = run_preflight(pg_inv(pg, "impax", statement_timeout_s=120), plugins=plugins, check_timeout_s=1.5)
    (f,) = report.findings
    assert f.status is Status.ERROR and "its running statement was cancelled on the server" in f.message
    assert time.monotonic() - start < 10
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        left = pg.admin("select count(*) from pg_stat_activity where query like '%pg_sleep(30)%' and state = 'active' "
                        "and pid <> pg_backend_pid()").strip()
        if left == "0":
            break
        time.sleep(0.1)
    assert left == "0"  # not left sleeping for its 30 s
