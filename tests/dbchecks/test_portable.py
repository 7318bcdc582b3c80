"""The portable database checks run for real on the IMPAX-shaped schema with seeded defects.

SQLite (the demo's engine) always; PostgreSQL through ODBC ("PostgreSQL Unicode") as a service
test. Every count must be exactly the seeded one, and checks reading the same table share one scan.
"""

from __future__ import annotations

import threading

import pytest

from conftest import require_service
from impax_preflight.check import Memo
from impax_preflight.checks import _integrity
from impax_preflight.checks import db_impax, db_integrity, db_space
from impax_preflight.db.sqlite import SqliteSession
from impax_preflight.demo.impax_schema import (
    DUPLICATE_CHECK,
    build_impax_db,
    build_mcf_db,
    build_sqlite_impax_db,
    build_sqlite_mcf_db,
)
from impax_preflight.model import Status
from impax_preflight import load_plugins
from impax_preflight import run_preflight
from impax_preflight.testing import make_inventory, run_check

from dbchecks.fakesql import scans

DEFECTS = {
    DUPLICATE_CHECK: 4,  # 8 rows
    "integrity.his_study_uid": 3,
    "integrity.study_uid": 2,
    "integrity.object_sop_instance_uid": 12,  # more than 10: examples are capped
    "integrity.object_series_ref": 5,
    "integrity.map_job_user": 1,
    "integrity.map_event_user": 7,
    "integrity.map_event_audit_user": 4,
    "integrity.folder_name": 1,
    "integrity.folder_item_name": 2,
    "integrity.print_params_user": 0,
    "integrity.report_access_ae_title": 1,
    "archive.study_status": 9,
}
INTEGRITY = sorted(c for c in load_plugins().registry.checks if c.startswith("integrity."))


class CountingSqlite(SqliteSession):
    """Counts the statements that reach the engine (thread-safe)."""

    def __init__(self, path):
        super().__init__(path)
        self.statements: list[str] = []
        self._count_lock = threading.Lock()

    def _execute(self, sql, params, timeout, max_rows):
        with self._count_lock:
            self.statements.append(sql)
        return super()._execute(sql, params, timeout, max_rows)


def sqlite_inventory(impax, mcf=None, **site):
    dbs = [{"name": "mvf", "kind": "sqlite", "path": str(impax)}]
    if mcf:
        dbs.append({"name": "mcf", "kind": "sqlite", "path": str(mcf), "purpose": "mcf"})
    return make_inventory({"hosts": [{"name": "db1", "os": "solaris", "roles": ["database"],
                                      "transport": {"kind": "local"}, "databases": dbs}]}, **site)


@pytest.fixture(scope="module")
def impax_sqlite(tmp_path_factory):
    path = tmp_path_factory.mktemp("impax") / "mvf.db"
    import sqlite3

    conn = sqlite3.connect(path)
    expected = build_impax_db(conn, "sqlite", scale="test", defects=DEFECTS)
    conn.close()
    return path, expected


def test_seeded_counts_are_what_the_builder_promises(impax_sqlite):
    path, expected = impax_sqlite
    assert expected[DUPLICATE_CHECK] == 8
    assert {k: v for k, v in expected.items() if k != DUPLICATE_CHECK} == {k: v for k, v in DEFECTS.items() if k != DUPLICATE_CHECK}


def test_integrity_counts_on_sqlite(impax_sqlite):
    path, expected = impax_sqlite
    checks = load_plugins().registry.checks
    session, memo = CountingSqlite(path), Memo()
    inv = sqlite_inventory(path)
    for cid in INTEGRITY:
        (f,) = run_check(checks[cid], inventory=inv, sql=session, memo=memo)
        assert f.values["count"] == expected[cid], cid
        assert f.status is (Status.FAIL if expected[cid] else Status.PASS), cid
        assert f.values["rows_scanned"] > 0 and f.values["scan_s"] >= 0
        assert f.evidence and f.evidence[0].kind == "sql" and f.evidence[0].source.startswith("select")
        assert len(f.values["examples"]) == min(expected[cid] // (2 if cid == DUPLICATE_CHECK else 1), 10), cid
    # 3 data-dictionary questions for all tables (names, NOT NULL, unique); 11 table scans; a (cheap,
    # limited) example query only for each column with defects
    columns_with_defects = [c for pairs in _integrity.NULL_CHECKS.values() for c, _ in pairs if expected[c]]
    assert len(scans(session.statements)) == 11 + len(columns_with_defects)
    assert len(session.statements) == 3 + 11 + len(columns_with_defects)


def test_examples_are_the_rows_with_the_defect(impax_sqlite):
    path, expected = impax_sqlite
    import sqlite3

    (f,) = run_check(db_integrity.check_object_series_ref, inventory=sqlite_inventory(path), sql=SqliteSession(path))
    conn = sqlite3.connect(path)
    truth = {str(r[0]) for r in conn.execute("select object_ref from dosr_object where series_ref is null")}
    assert set(f.values["examples"]) == truth and len(truth) == 5
    (f,) = run_check(db_integrity.object_document_unique, inventory=sqlite_inventory(path), sql=SqliteSession(path))
    truth = {str(r[0]) for r in conn.execute("select object_ref from dosr_object_document group by object_ref having count(*) > 1")}
    assert set(f.values["examples"]) == truth and f.values["duplicated_refs"] == 4


def test_two_dosr_object_checks_issue_one_query(impax_sqlite, tmp_path):
    path = tmp_path / "clean.db"
    build_sqlite_impax_db(path, scale="tiny", defects={})
    session, memo = CountingSqlite(path), Memo()
    inv = sqlite_inventory(path)
    # run concurrently, as the runner does: the memo makes the second wait for the first's scan
    results = {}
    threads = [threading.Thread(target=lambda c=c: results.setdefault(c.id, run_check(c, inventory=inv, sql=session, memo=memo)))
               for c in (db_integrity.check_object_sop_instance_uid, db_integrity.check_object_series_ref)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    sent = scans(session.statements)
    assert [s for s in sent if "dosr_object" in s] == sent and len(sent) == 1
    assert len(session.statements) == 3 + 1  # the dictionary is asked once too
    a, b = (results[k][0] for k in sorted(results))
    assert a.status is b.status is Status.PASS
    assert [e.source for e in a.evidence] == [e.source for e in b.evidence]  # both show the shared statements


def test_a_key_column_the_site_lacks_only_loses_the_examples(impax_sqlite):
    path, expected = impax_sqlite
    inv = sqlite_inventory(path, options={"integrity": {"example_keys": {"dosr_study": "no_such_col"}}})
    (f,) = run_check(db_integrity.check_study_uid, inventory=inv, sql=SqliteSession(path))
    assert f.status is Status.FAIL and f.values["count"] == 2 and f.values["examples"] == []
    assert any("example keys not listed" in e.output for e in f.evidence if e.kind == "note")


def test_cm_report_source_and_archive_and_version_on_sqlite(impax_sqlite, tmp_path):
    path, expected = impax_sqlite
    one, two = tmp_path / "mcf1.db", tmp_path / "mcf2.db"
    build_sqlite_mcf_db(one, services=["IMPAX-RIS"])
    build_sqlite_mcf_db(two, services=["IMPAX-RIS", "EPR-HL7"])
    inv = sqlite_inventory(path, one)
    (f,) = run_check(db_impax.report_source, inventory=inv, database="mcf", sql=SqliteSession(one))
    assert f.status is Status.PASS and f.values["requesting_services"] == ["IMPAX-RIS"]
    (f,) = run_check(db_impax.report_source, inventory=inv, database="mcf", sql=SqliteSession(two))
    assert f.status is Status.WARN and "integrator" in f.remediation and f.values["requesting_services"] == ["EPR-HL7", "IMPAX-RIS"]
    (f,) = run_check(db_impax.study_status, inventory=inv, sql=SqliteSession(path))
    assert f.status is Status.FAIL and f.values["not_archived"] == expected["archive.study_status"] and "ASSUMED" in f.message
    assert len(f.values["examples"]) == 9
    site_query = {"archive.study_status": {"query": "select count(*) from dosr_study where archive_status = 'PENDING'"}}
    (f,) = run_check(db_impax.study_status, inventory=sqlite_inventory(path, options=site_query), sql=SqliteSession(path))
    assert f.values["assumed"] is False and "ASSUMED" not in f.message
    (f,) = run_check(db_space.db_version, inventory=inv, sql=SqliteSession(path))
    assert f.values["version"].startswith("SQLite 3.")
    inv = sqlite_inventory(path, options={"prereq.mig_schema": {"objects": ["dosr_study", "MIG_STUDY_STATUS"]}})
    (f,) = run_check(db_impax.mig_schema, inventory=inv, sql=SqliteSession(path))
    assert f.status is Status.FAIL and f.values["missing"] == ["MIG_STUDY_STATUS"] and f.values["found"] == ["DOSR_STUDY"]


def test_full_run_on_the_demo_database_reports_the_demo_counts(tmp_path):
    from impax_preflight.demo.impax_schema import build_sqlite_impax_db as build

    expected = build(tmp_path / "mvf.db", scale="demo")
    build_sqlite_mcf_db(tmp_path / "mcf.db")
    inv = sqlite_inventory(tmp_path / "mvf.db", tmp_path / "mcf.db")
    report = run_preflight(inv, only=["integrity.*", "cm.*", "archive.*", "db.*"])
    got = {f.check_id: f for f in report.findings if f.database == "mvf"}
    for cid in INTEGRITY + ["archive.study_status"]:
        key = "not_archived" if cid.startswith("archive") else "count"
        assert got[cid].values[key] == expected[cid], cid
    assert expected[DUPLICATE_CHECK] == 6 and expected["integrity.study_uid"] == 2
    assert expected["integrity.object_sop_instance_uid"] == 1 and expected["archive.study_status"] > 0
    (cm,) = [f for f in report.findings if f.check_id == "cm.report_source"]
    assert cm.values["requesting_services"] == ["EPR-HL7", "IMPAX-RIS"]
    assert report.verdict.value == "NO_GO"


@pytest.mark.service
def test_integrity_on_sqlite_through_the_odbc_driver(impax_sqlite, odbc_sqlite):
    path, expected = impax_sqlite
    target = odbc_sqlite(path)
    session = target.open()
    assert session.dialect == "sqlite"
    inv = make_inventory({"hosts": [{"name": "sqlitehost", "os": "linux", "roles": ["database"], "transport": {"kind": "local"},
                                     "databases": [target.database.model_dump(by_alias=True, exclude_none=True, mode="json")]}]})
    checks, memo = load_plugins().registry.checks, Memo()
    for cid in INTEGRITY:
        (f,) = run_check(checks[cid], inventory=inv, sql=session, memo=memo)
        assert f.values.get("count") == expected[cid], f.message
    session.close()


def test_archive_assumed_query_failing_tells_what_to_configure(tmp_path):
    import sqlite3

    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("create table dosr_study (study_ref integer, study_uid varchar(64))")  # no archive_status here
    conn.commit()
    conn.close()
    (f,) = run_check(db_impax.study_status, inventory=sqlite_inventory(path), sql=SqliteSession(path))
    assert f.status is Status.ERROR and "query" in f.message and 'mode = "tool"' in f.message


# ---- PostgreSQL through ODBC ----------------------------------------------------------------------

PG_DB = "impax_dbchecks"


@pytest.fixture(scope="module")
def pg_impax(postgres_server):
    from services import odbc_drivers

    require_service("PostgreSQL Unicode" in odbc_drivers(), "ODBC driver 'PostgreSQL Unicode' (apt-get install odbc-postgresql)")
    from impax_preflight.inventory import Database
    from impax_preflight.secrets import SecretRef

    srv = postgres_server
    srv.admin(f"DROP DATABASE IF EXISTS {PG_DB}", dbname="postgres")
    srv.admin(f"CREATE DATABASE {PG_DB}", dbname="postgres")
    srv.admin(f"CREATE DATABASE {PG_DB}_mcf", dbname="postgres") if not srv.admin(
        f"select 1 from pg_database where datname = '{PG_DB}_mcf'", dbname="postgres").strip() else None
    run = lambda sql: srv.admin(sql, dbname=PG_DB)  # noqa: E731 - psql -c per statement
    expected = build_impax_db(run, "postgres", scale="test", defects=DEFECTS)
    srv.admin(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {srv.user}", dbname=PG_DB)
    mcf = lambda sql: srv.admin(sql, dbname=f"{PG_DB}_mcf")  # noqa: E731
    if not srv.admin("select 1 from pg_tables where tablename = 'mcf_service_request'", dbname=f"{PG_DB}_mcf").strip():
        build_mcf_db(mcf, "postgres", services=["IMPAX-RIS"])
    srv.admin(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {srv.user}", dbname=f"{PG_DB}_mcf")

    def database(name, dbname, purpose="impax", **kw):
        return Database(name=name, kind="odbc", driver="PostgreSQL Unicode", server=srv.host, port=srv.port, database=dbname,
                        user=srv.user, password=SecretRef(f"env:{srv.password_env}"), dialect="postgres", purpose=purpose,
                        schema="public", **kw)

    return expected, database("mvf", PG_DB), database("mcf", f"{PG_DB}_mcf", purpose="mcf")


def _pg_inventory(*dbs):
    return make_inventory({"hosts": [{"name": "pgdb", "os": "linux", "roles": ["database"], "transport": {"kind": "local"},
                                      "databases": [d.model_dump(by_alias=True, exclude_none=True, mode="json") for d in dbs]}]})


class _Counting:
    """Wraps a session and counts the statements it is asked to run."""

    def __init__(self, inner):
        self.inner, self.statements = inner, []
        self.dialect, self.kind = inner.dialect, inner.kind

    def query(self, sql, *a, **kw):
        self.statements.append(sql)
        return self.inner.query(sql, *a, **kw)


@pytest.mark.service
def test_integrity_counts_on_postgres_over_odbc(pg_impax):
    from impax_preflight.db.odbc import OdbcSession

    expected, mvf, _ = pg_impax
    inv = _pg_inventory(mvf)
    session = _Counting(OdbcSession.for_database(inv.hosts[0].databases[0], inv.hosts[0]))
    assert session.dialect == "postgres"
    memo = Memo()
    checks = load_plugins().registry.checks
    for cid in INTEGRITY:
        (f,) = run_check(checks[cid], inventory=inv, sql=session, memo=memo)
        assert f.status is not Status.ERROR, f.message
        assert f.values["count"] == expected[cid], cid
        assert f.values["rows_scanned"] > 0
    scans = [s for s in session.statements if "dosr_object " in s + " " and "count(*) - count(" in s]
    assert len(scans) == 1  # one scan of dosr_object for both of its checks
    assert sum("public.dosr_object_document" in s for s in session.statements) == 1
    session.inner.close()


@pytest.mark.service
def test_run_preflight_over_odbc_postgres(pg_impax):
    expected, mvf, mcf = pg_impax
    report = run_preflight(_pg_inventory(mvf, mcf), only=["integrity.*", "cm.*", "archive.*", "db.*", "backup.*"])
    got = {(f.database, f.check_id): f for f in report.findings}
    for cid in INTEGRITY:
        assert got[("mvf", cid)].values["count"] == expected[cid], got[("mvf", cid)].message
    assert got[("mvf", "archive.study_status")].values["not_archived"] == expected["archive.study_status"]
    assert got[("mcf", "cm.report_source")].status is Status.PASS
    assert got[("mcf", "cm.report_source")].values["requesting_services"] == ["IMPAX-RIS"]
    assert got[("mvf", "db.version")].values["version"].startswith("PostgreSQL 15")
    assert got[("mvf", "backup.database_recent")].status is Status.WARN  # not verified on PostgreSQL
    audit = got[("mvf", "backup.map_event_audit")]
    assert audit.values["size_kb"] > 0 and "NOT measured" in audit.message
    # the password never appears in what the run produced
    secret = mvf.password.resolve()
    assert secret and secret not in report.model_dump_json()
