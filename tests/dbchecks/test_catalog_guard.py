"""Every statement the built-in catalog can send passes the read-only guard in every dialect it is
written for: the statements `_statements.all_statements()` lists, every statement the database checks
actually send when run (a recording session answers them), the example-site plugin's SQL and the
shipped declarative examples. The allowlist must not cost the catalog a single query."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot
from conftest import require_service

from impax_preflight import dialects
from impax_preflight.checks import _statements
from impax_preflight.db.base import SqlSession
from impax_preflight.db.readonly import ReadOnlyViolation, ensure_read_only
from impax_preflight.declarative import load_declarative_checks
from impax_preflight import load_plugins
from impax_preflight.testing import make_inventory, run_check

ROOT = Path(__file__).resolve().parents[2]

#: one database per dialect, as the inventory declares it (kind, or odbc + dialect)
DATABASES = {
    "oracle": {"kind": "oracle", "service_name": "MVF", "schema": "DBADMIN"},
    "tsql": {"kind": "mssql", "mirroring": True, "primary_server": "sql01"},
    "postgres": {"kind": "odbc", "dialect": "postgres", "driver": "PostgreSQL Unicode", "schema": "public"},
    "sqlite": {"kind": "sqlite", "path": "/unused.sqlite"},
}


class RecordingSql(SqlSession):
    """Answers every guarded statement with one row of 12s under the statement's own column names,
    so that checks go on to their follow-up statements (examples of NULL rows: 12 defects ask for the
    full 10 examples, the statement all_statements() lists)."""

    kind = "recording"

    def __init__(self, dialect: str):
        self.dialect = dialect
        self.statements: list[str] = []

    def _execute(self, sql, params, timeout, max_rows):
        self.statements.append(sql)
        tree = sqlglot.parse_one(sql, read=self.dialect)
        names = tree.named_selects
        if names == ["*"] and tree.find(sqlglot.exp.Subquery) is not None:
            # Oracle's row limit wraps the query: select * from (...) where rownum <= n
            names = tree.find(sqlglot.exp.Subquery).this.named_selects
        columns = [c or f"col{i}" for i, c in enumerate(names)] or ["value"]
        return columns, [tuple(12 for _ in columns)]

    def server_version(self) -> str:
        return "recording"


def database_checks():
    """The built-in catalog's database checks (plugins' checks are tested below, on their own)."""
    checks = load_plugins(entry_points=False).registry.checks.values()
    return sorted((c for c in checks if c.target == "database"), key=lambda c: c.id)


def inventory_for(dialect: str):
    dbs = [{"name": "mvf", "purpose": "impax", **DATABASES[dialect]}, {"name": "mcf", "purpose": "mcf", **DATABASES[dialect]}]
    return make_inventory({"hosts": [{"name": "db1", "os": "solaris", "roles": ["database", "archive"],
                                      "transport": {"kind": "local"}, "databases": dbs}]},
                          options={"prereq.mig_schema": {"objects": ["MIG_STUDY", "MIG_SERIES"]}})


@pytest.mark.parametrize("dialect", dialects.DIALECTS)
def test_every_statement_a_database_check_sends_passes_the_guard(dialect):
    inv = inventory_for(dialect)
    host = inv.hosts[0]
    sent: dict[str, list[str]] = {}
    for chk in database_checks():
        for db in host.databases:
            if chk.applies.reason_not(inv.site, host, db, inv):
                continue
            session = RecordingSql(dialect)
            findings = run_check(chk, inventory=inv, database=db.name, sql=session)
            refused = [f.message for f in findings if "read-only guard" in f.message]
            assert not refused, (chk.id, dialect, refused)
            sent.setdefault(chk.id, []).extend(session.statements)
    # the recording really drove the checks: the integrity scans, their example queries, the version
    assert sum(len(v) for v in sent.values()) >= 30, sent
    assert all(sent.get(cid) for cid in ("db.version", "integrity.study_uid", "integrity.object_document_unique")), sent
    # and every statement a check sent is one that all_statements() lists: that catalogue is complete
    listed = {sql for _, d, sql in _statements.all_statements() if d == dialect}
    assert {s for stmts in sent.values() for s in stmts} - listed == set()


@pytest.mark.parametrize("check_id,dialect,sql", _statements.all_statements(),
                         ids=[f"{c}-{d}-{i}" for i, (c, d, _) in enumerate(_statements.all_statements())])
def test_catalogue_statement_passes_without_any_site_allowance(check_id, dialect, sql):
    # strict: no deferral, no site list; exactly what a session does at run time
    ensure_read_only(sql, dialect, allow=())


def _declarative_sql(checks):
    for chk in checks:
        spec = getattr(chk.func, "spec", None)
        if spec is None or spec.sql is None:
            continue
        items = spec.sql.items() if isinstance(spec.sql, dict) else [("default", spec.sql)]
        for key, sql in items:
            # a default statement may run on any engine: it must pass in every dialect
            for dialect in (dialects.DIALECTS if key == "default" else (key,)):
                yield chk.id, dialect, sql


def test_shipped_declarative_examples_pass_in_every_dialect_they_run_on():
    found = list(_declarative_sql(load_declarative_checks(ROOT / "examples" / "checks")))
    assert len(found) >= 4
    for cid, dialect, sql in found:
        ensure_read_only(sql, dialect)


def test_example_site_plugin_sql_passes():
    import importlib.util
    from importlib.resources import files

    # installed by scripts/test.sh with the other plugins: missing, it is a failure there, not a skip
    require_service(importlib.util.find_spec("impax_preflight_example_site") is not None,
                    "the example site plugin (pip install ./plugins/impax-preflight-example-site)")

    import impax_preflight_example_site
    from impax_preflight_example_site import checks as example_checks

    found = list(_declarative_sql(load_declarative_checks(files(impax_preflight_example_site) / "declarative")))
    assert found
    for cid, dialect, sql in found:
        ensure_read_only(sql, dialect)
    # the Python check, run on each dialect with a recording session
    for dialect in dialects.DIALECTS:
        session = RecordingSql(dialect)
        findings = run_check(example_checks.cm_mapping_table, inventory=inventory_for(dialect), database="mcf", sql=session)
        assert len(session.statements) == 2 and not any("read-only guard" in f.message for f in findings), findings


def test_the_recording_session_is_guarded_too():
    # a check sending a write through it would be refused before it is recorded
    session = RecordingSql("postgres")
    with pytest.raises(ReadOnlyViolation):
        session.query("select query_to_xml('select 1', true, false, '')")
    assert session.statements == []
