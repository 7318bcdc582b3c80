"""Every statement the database checks can emit parses in its dialect and passes the read-only guard."""

from __future__ import annotations

import pytest
import sqlglot

from impax_preflight import dialects
from impax_preflight import sql as sqlkit
from impax_preflight.checks import _integrity, _statements
from impax_preflight.db.readonly import ReadOnlyViolation, ensure_read_only
from impax_preflight import load_plugins

STATEMENTS = _statements.all_statements()


def test_catalogue_covers_every_database_check_and_dialect():
    ids = {cid for cid, _, _ in STATEMENTS}
    registered = {c.id for c in load_plugins().registry.checks.values()
                  if c.target == "database" and c.id.split(".")[0] in
                  {"integrity", "oracle", "mssql", "db", "backup", "cm", "mirroring", "prereq", "archive"}}
    # every built-in database check that sends SQL is in the catalogue
    assert registered - ids == set()
    assert {d for _, d, _ in STATEMENTS} == {"oracle", "tsql", "postgres", "sqlite"}
    assert len([1 for cid, _, _ in STATEMENTS if cid.startswith("integrity.")]) >= 12 * 4


@pytest.mark.parametrize("check_id,dialect,sql", STATEMENTS, ids=[f"{c}-{d}-{i}" for i, (c, d, _) in enumerate(STATEMENTS)])
def test_statement_parses_and_is_read_only(check_id, dialect, sql):
    parsed = sqlglot.parse(sql, read=dialect)
    assert len([p for p in parsed if p is not None]) == 1
    ensure_read_only(sql, dialect)  # raises on anything but one query


def test_the_guard_still_refuses_what_the_guide_does_with_writes():
    # sp_spaceused (EXEC) and truncate are the guide's own steps: never sent by a check
    for sql, dialect in [("exec sp_spaceused 'MAP_EVENT_AUDIT'", "tsql"), ("truncate table map_event_audit", "oracle")]:
        with pytest.raises(ReadOnlyViolation):
            ensure_read_only(sql, dialect)


@pytest.mark.parametrize("bad", ["dbo; drop table x", "a b", "x'--", "", "1abc", "a" * 200, "DBADMIN.X"])
def test_identifiers_from_the_inventory_are_validated(bad):
    with pytest.raises(sqlkit.IdentifierError):
        sqlkit.identifier(bad, "database schema")


def test_qualified_names_per_dialect():
    assert sqlkit.qualified("dosr_object", "DBADMIN", "oracle") == "DBADMIN.dosr_object"
    assert sqlkit.qualified("dosr_object", None, "postgres") == "dosr_object"
    assert sqlkit.qualified("dosr_object", "main", "sqlite") == "dosr_object"  # SQLite: one schema
    assert sqlkit.limited("select a from t", "tsql", 5) == "select top 5 a from t"
    assert sqlkit.limited("select a from t", "oracle", 5) == "select * from (select a from t) where rownum <= 5"
    assert sqlkit.limited("select a from t", "postgres", 5) == "select a from t limit 5"


def test_dosr_object_checks_share_one_statement():
    sqls = {sql for cid, d, sql in STATEMENTS if d == "oracle" and cid in
            ("integrity.object_sop_instance_uid", "integrity.object_series_ref") and "count(*) as rows_scanned" in sql
            and sql.endswith("from DBADMIN.dosr_object")}  # the scan itself (not its sample nor its parallel form)
    assert len(sqls) == 1
    (sql,) = sqls
    assert "count(*) - count(sop_instance_uid)" in sql and "count(*) - count(series_ref)" in sql


def test_duplicate_scan_reads_the_table_once():
    for dialect in dialects.DIALECTS:
        sql = _integrity.duplicate_scan_sql("dosr_object_document", dialect)
        tree = sqlglot.parse_one(sql, read=dialect)
        tables = [t.name for t in tree.find_all(sqlglot.exp.Table)]
        assert tables == ["dosr_object_document"], (dialect, tables)
        # the guide's form names the table twice
    guide = sqlglot.parse_one(_integrity.GUIDE_SQL["integrity.object_document_unique"], read="oracle")
    assert len(list(guide.find_all(sqlglot.exp.Table))) == 2


def test_hints_and_comments_pass_the_guard_but_hide_nothing():
    # the opt-in parallel degree is an optimizer hint (a comment Oracle reads): accepted
    for sql in ("select /*+ PARALLEL(t, 4) */ count(*) as rows_scanned from DBADMIN.dosr_object t",
                "select /* a comment */ count(*) from DBADMIN.dosr_object -- and another",
                "select /*+ FULL(t) PARALLEL(t 8) */ count(*) from DBADMIN.dosr_object t"):
        ensure_read_only(sql, "oracle")
    # ... but a comment never hides a second statement, and a hint never makes a write pass
    for sql in ("select /*+ PARALLEL(t, 4) */ count(*) from dosr_object t; delete from dosr_object",
                "delete /*+ PARALLEL(t, 4) */ from dosr_object t",
                "select /*+ PARALLEL(t, 4) */ count(*) from dosr_object t for update"):
        with pytest.raises(ReadOnlyViolation):
            ensure_read_only(sql, "oracle")


def test_sqlite_reads_its_constraints_through_table_valued_pragmas_only():
    ensure_read_only("select name, \"notnull\" from pragma_table_info('dosr_object')", "sqlite")
    ensure_read_only("select il.name from pragma_index_list('dosr_object_document') il", "sqlite")
    with pytest.raises(ReadOnlyViolation):
        ensure_read_only("pragma writable_schema = 1", "sqlite")
    with pytest.raises(ReadOnlyViolation):
        ensure_read_only("select * from pragma_writable_schema()", "sqlite")
