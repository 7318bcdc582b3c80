"""Proof from the data dictionary, names as it spells them, estimates and production safety of the
integrity scans, on rows shaped like the real catalog views (Oracle and SQL Server cannot run here:
their statements are parsed and guarded in their dialects by test_statements.py, and read here)."""

from __future__ import annotations

from datetime import datetime

import pytest

from impax_preflight.check import Memo
from impax_preflight.checks import _dictionary, _integrity, db_integrity
from impax_preflight.db.base import ObjectMissing
from impax_preflight.db.readonly import ensure_read_only
from impax_preflight.model import Status
from impax_preflight.testing import make_inventory, run_check
from impax_preflight import load_plugins

from dbchecks.fakesql import FakeSql, no_dictionary, scans

INTEGRITY = sorted(c for c in load_plugins(entry_points=False).registry.checks if c.startswith("integrity."))
CHECKS = load_plugins(entry_points=False).registry.checks
NULL_COLUMNS = [(t, c) for t, pairs in _integrity.NULL_CHECKS.items() for _, c in pairs]


def inventory(kind="oracle", options=None, **db):
    database = {"name": "mvf", "kind": kind, **db}
    if kind == "oracle":
        database.setdefault("dsn", "dbhost/MVF")
        database.setdefault("schema", "DBADMIN")
    if kind == "odbc":
        database.setdefault("dsn", "IMPAX")
    site = {"options": options} if options else {}
    return make_inventory({"hosts": [{"name": "db1", "os": "solaris", "roles": ["database"], "transport": {"kind": "local"},
                                      "databases": [database]}]}, **site)


def run_all(inv, sql, ids=INTEGRITY):
    memo = Memo()
    return {cid: run_check(CHECKS[cid], inventory=inv, sql=sql, memo=memo)[0] for cid in ids}


# ---- Oracle: ALL_TAB_COLUMNS / ALL_CONSTRAINTS / DBA_TABLES as they answer -------------------------

ORA_TABLES = (["TABLE_NAME", "NUM_ROWS", "SIZE_BYTES", "LAST_ANALYZED", "BLOCKS"],
              [(t.upper(), 50_000_000, 6 * 1024**3, datetime(2026, 2, 10, 22, 0), 700_000) for t in _integrity.NULL_CHECKS]
              + [("DOSR_OBJECT_DOCUMENT", 50_000_000, 4 * 1024**3, datetime(2026, 2, 10, 22, 0), 500_000)])
ORA_COL_COLS = ["TABLE_NAME", "COLUMN_NAME", "NULLABLE", "CONSTRAINT_NAME"]
ORA_UNIQUE_COLS = ["NAME", "KIND", "TYPE", "STATUS", "STATE", "KEY_COLUMNS"]


def ora_columns(nullable="N", constraint="SYS_C0042", overrides=None):
    rows = []
    for i, (t, c) in enumerate(NULL_COLUMNS):
        n, k = (overrides or {}).get((t, c), (nullable, constraint and f"{constraint}{i}"))
        rows.append((t.upper(), c.upper(), n, k))
    return ORA_COL_COLS, rows


def oracle(columns, unique_rows, *, scan=None, exists=((1,),)):
    answers = {
        "from dba_tables": ORA_TABLES,
        "from all_tab_columns": columns,
        "from all_constraints k join": (ORA_UNIQUE_COLS, unique_rows),
        "as any_row": (["ANY_ROW"], list(exists)),
        "sys_context('userenv', 'sid')": (["SID"], [(123,)]),
    }
    answers.update(scan or {})
    return FakeSql("oracle", answers)


PK_OK = [("PK_DOSR_OBJ_DOC", "CONSTRAINT", "P", "ENABLED", "VALIDATED", 1)]


def test_validated_constraints_prove_every_count_without_a_scan():
    sql = oracle(ora_columns(), PK_OK)
    got = run_all(inventory(), sql)
    assert all(f.status is Status.PASS for f in got.values()), {c: f.message for c, f in got.items()}
    f = got["integrity.study_uid"]
    assert "proved by the NOT NULL constraint SYS_C0042" in f.message and "without reading the table" in f.message
    assert f.values["count"] == 0 and f.values["proved_by"]["dictionary"] == "all_tab_columns, all_constraints"
    assert f.values["proved_by"]["dictionary_row"]["nullable"] == "N"
    assert any("from all_tab_columns" in e.source for e in f.evidence)  # the dictionary query and its rows
    d = got["integrity.object_document_unique"]
    assert "primary key PK_DOSR_OBJ_DOC (ENABLED, VALIDATED" in d.message and d.values["proved_by"]["constraint"] == "PK_DOSR_OBJ_DOC"
    # nothing but the dictionary and a first-row look at the core tables was read
    assert not [s for s in scans(sql.statements) if "rows_scanned" in s]
    assert sorted(s for s in scans(sql.statements)) == sorted(
        f"select * from (select 1 as any_row from DBADMIN.{t}) where rownum <= 1" for t in _integrity.CORE_TABLES)


def test_novalidate_disabled_and_multi_column_constraints_prove_nothing():
    overrides = {("dosr_study", "study_uid"): ("Y", None),              # NOT NULL ENABLE NOVALIDATE: NULLABLE shows 'Y'
                 ("dosr_his_study", "study_uid"): ("N", None)}          # 'N' but no enabled validated constraint found
    unique_rows = [("PK_DOC", "CONSTRAINT", "P", "DISABLED", "NOT VALIDATED", 1),
                   ("UK_DOC", "CONSTRAINT", "U", "ENABLED", "NOT VALIDATED", 1),
                   ("UK_DOC2", "CONSTRAINT", "U", "ENABLED", "VALIDATED", 2),
                   ("IX_DOC", "INDEX", "FUNCTION-BASED NORMAL", "VALID", "UNIQUE", 1),
                   ("IX_DOC2", "INDEX", "NORMAL", "UNUSABLE", "UNIQUE", 1),
                   ("IX_DOC3", "INDEX", "NORMAL", "VALID", "NONUNIQUE", 1)]
    dup_cols = ["OBJECT_REF", "N", "IS_TOTAL", "ROWS_SCANNED", "DUPLICATE_ROWS", "DUPLICATED_REFS"]
    sql = oracle(ora_columns(overrides=overrides), unique_rows, scan={
        "from DBADMIN.dosr_study": (["ROWS_SCANNED", "NULL_0"], [(357_142, 0)]),
        "from DBADMIN.dosr_his_study": (["ROWS_SCANNED", "NULL_0"], [(357_142, 0)]),
        "from DBADMIN.dosr_object_document": (dup_cols, [(None, 50_000_000, 1, 50_000_000, 0, 0)]),
    })
    got = run_all(inventory(), sql, ["integrity.study_uid", "integrity.his_study_uid", "integrity.object_document_unique"])
    assert all(f.status is Status.PASS and "proved" not in f.message for f in got.values())
    assert "357,142 rows scanned" in got["integrity.study_uid"].message
    notes = " ".join(e.output for e in got["integrity.object_document_unique"].evidence if e.kind == "note")
    for words in ("PK_DOC is DISABLED NOT VALIDATED", "UK_DOC is ENABLED NOT VALIDATED", "UK_DOC2 has 2 key columns",
                  "IX_DOC is of type FUNCTION-BASED NORMAL: proves nothing", "IX_DOC2 has status UNUSABLE"):
        assert words in notes, words
    assert "IX_DOC3" not in notes  # a non-unique index is no candidate at all
    assert len([s for s in scans(sql.statements) if "rows_scanned" in s and "rownum <= 100000" not in s]) == 3


@pytest.mark.parametrize("dialect,rows,proves", [
    ("postgres", {"index_name": "doc_uk", "constraint_name": "doc_uk", "constraint_type": "u", "is_unique": 1, "is_valid": 1,
                  "key_columns": 1, "is_partial": 0}, True),
    ("postgres", {"index_name": "doc_ix", "constraint_name": None, "constraint_type": None, "is_unique": 1, "is_valid": 0,
                  "key_columns": 1, "is_partial": 0}, False),   # an interrupted CREATE INDEX CONCURRENTLY
    ("postgres", {"index_name": "doc_ix", "constraint_name": None, "constraint_type": None, "is_unique": 1, "is_valid": 1,
                  "key_columns": 1, "is_partial": 1}, False),
    ("postgres", {"index_name": "doc_ix", "constraint_name": None, "constraint_type": None, "is_unique": 1, "is_valid": 1,
                  "key_columns": 2, "is_partial": 0}, False),
    ("tsql", {"index_name": "PK_doc", "kind": "PRIMARY KEY", "is_unique": 1, "is_disabled": 0, "has_filter": 0,
              "key_columns": 1}, True),
    ("tsql", {"index_name": "UX_doc", "kind": "INDEX", "is_unique": 1, "is_disabled": 1, "has_filter": 0, "key_columns": 1}, False),
    ("tsql", {"index_name": "UX_doc", "kind": "INDEX", "is_unique": 1, "is_disabled": 0, "has_filter": 1, "key_columns": 1}, False),
    ("sqlite", {"index_name": "ux", "kind": "c", "is_unique": 1, "is_partial": 0, "key_columns": 1,
                "column_name": "object_ref"}, True),
    ("sqlite", {"index_name": "ux", "kind": "c", "is_unique": 1, "is_partial": 1, "key_columns": 1,
                "column_name": "object_ref"}, False),
])
def test_unique_candidates_per_engine(dialect, rows, proves):
    d = _dictionary.Dictionary(dialect, None, unique_rows=[rows])
    proof, rejected = d.unique_proof("dosr_object_document", "object_ref")
    assert (proof is not None) is proves and bool(rejected) is not proves
    if proves:
        assert proof.constraint and proof.row == rows


@pytest.mark.parametrize("dialect,row,proves", [
    ("postgres", {"table_name": "dosr_study", "column_name": "study_uid", "not_null": 1, "invalid_constraints": 0,
                  "constraint_name": None}, True),
    # PostgreSQL 18: NOT NULL ... NOT VALID keeps attnotnull true; its invalid constraint proves nothing
    ("postgres", {"table_name": "dosr_study", "column_name": "study_uid", "not_null": 1, "invalid_constraints": 1,
                  "constraint_name": None}, False),
    ("tsql", {"table_name": "dosr_study", "column_name": "study_uid", "not_null": 1}, True),
    ("tsql", {"table_name": "dosr_study", "column_name": "study_uid", "not_null": 0}, False),
    ("sqlite", {"table_name": "dosr_study", "column_name": "study_uid", "not_null": 1, "pk": 0, "type": "TEXT"}, True),
    # what a recording session answers to anything: no proof
    ("oracle", {"table_name": "dosr_study", "column_name": "study_uid", "nullable": 12, "constraint_name": 12}, False),
])
def test_not_null_proof_per_engine(dialect, row, proves):
    d = _dictionary.Dictionary(dialect, None, columns={("DOSR_STUDY", "STUDY_UID"): [row]})
    assert (d.not_null_proof("dosr_study", "study_uid") is not None) is proves


# ---- names as the dictionary spells them ----------------------------------------------------------


def test_a_quoted_upper_case_table_is_read_under_its_exact_name():
    pg_tables = (["table_name", "num_rows", "size_bytes", "last_analyzed", "live_rows"],
                 [("DOSR_STUDY", 1000.0, 81920, datetime(2026, 1, 1), 1000)])
    pg_columns = (["table_name", "column_name", "not_null", "invalid_constraints", "constraint_name"],
                  [("DOSR_STUDY", "STUDY_UID", 0, 0, None), ("DOSR_STUDY", "STUDY_REF", 1, 0, None)])
    sql = FakeSql("postgres", {"from pg_class": pg_tables, "from pg_attribute": pg_columns, "from pg_index": ([], []),
                               'select "STUDY_REF" as example_key': (["example_key", "STUDY_UID"], [(7, None)]),
                               'from public."DOSR_STUDY"': (["rows_scanned", "null_0"], [(1000, 1)])})
    (f,) = run_check(db_integrity.check_study_uid, inventory=inventory("odbc", dialect="postgres", schema="public"), sql=sql)
    assert f.status is Status.FAIL and f.values["count"] == 1 and f.values["examples"] == ["7"]
    scan = [s for s in scans(sql.statements) if "rows_scanned" in s][0]
    assert scan == 'select count(*) as rows_scanned, count(*) - count("STUDY_UID") as null_0 from public."DOSR_STUDY"'
    ensure_read_only(scan, "postgres")
    notes = " ".join(e.output for e in f.evidence if e.kind == "note")
    assert 'table dosr_study is spelled "DOSR_STUDY" in the data dictionary' in notes
    assert f.values["table"] == "DOSR_STUDY"


def test_sql_server_case_sensitive_spelling_is_bracketed():
    tables = (["table_name", "num_rows", "size_bytes"], [("DOSR_STUDY", 10, 8192)])
    columns = (["table_name", "column_name", "not_null"], [("DOSR_STUDY", "Study_UID", 0)])
    sql = FakeSql("tsql", {"sys.dm_db_partition_stats": tables, "from sys.columns c join sys.tables": columns,
                           "from sys.indexes": ([], []), "from dbo.[DOSR_STUDY]": (["rows_scanned", "null_0"], [(10, 0)]),
                           "as any_row": (["any_row"], [(1,)])})
    (f,) = run_check(db_integrity.check_study_uid, inventory=inventory("mssql", server="sql1"), sql=sql)
    assert f.status is Status.PASS, f.message
    assert "count([Study_UID])" in [s for s in scans(sql.statements) if "rows_scanned" in s][0]


def test_a_table_missing_from_the_dictionary_says_so_in_the_error():
    sql = FakeSql("oracle", {**no_dictionary("oracle"), "from dba_tables": (ORA_TABLES[0], []), "from all_tab_columns": (ORA_COL_COLS, []),
                             "from all_constraints k join": (ORA_UNIQUE_COLS, []),
                             "from DBADMIN.dosr_study": ObjectMissing("ORA-00942: table or view does not exist")})
    (f,) = run_check(db_integrity.check_study_uid, inventory=inventory(), sql=sql)
    assert f.status is Status.ERROR and "ORA-00942" in f.message
    assert "no table dosr_study in schema DBADMIN under any letter case" in f.message


def test_no_right_on_the_dictionary_falls_back_and_scans():
    sql = FakeSql("oracle", {"sys_context('userenv', 'sid')": (["SID"], [(123,)]), "from dba_tables": ObjectMissing("ORA-00942"),
                             "from all_tables": (["TABLE_NAME", "NUM_ROWS", "BLOCKS", "LAST_ANALYZED"], [("DOSR_STUDY", 9, 1, None)]),
                             "from all_tab_columns": ObjectMissing("ORA-00942"), "from all_constraints k join": ObjectMissing("x"),
                             "from DBADMIN.dosr_study": (["ROWS_SCANNED", "NULL_0"], [(9, 0)])})
    (f,) = run_check(db_integrity.check_study_uid, inventory=inventory(), sql=sql)
    assert f.status is Status.PASS and "9 rows scanned" in f.message


# ---- empty core tables, the parallel degree, estimates -----------------------------------------------


def test_an_empty_core_table_warns_of_the_wrong_database():
    sql = FakeSql("oracle", {**no_dictionary("oracle"), "count(*) as rows_scanned": (["ROWS_SCANNED", "NULL_0", "NULL_1"], [(0, 0, 0)])})
    (f,) = run_check(db_integrity.check_object_series_ref, inventory=inventory(), sql=sql)
    assert f.status is Status.WARN and "dosr_object is empty" in f.message and "schema DBADMIN" in f.message
    assert f.values["empty_table"] is True
    # a table that is not a core one may be empty
    sql = FakeSql("oracle", {**no_dictionary("oracle"), "count(*) as rows_scanned": (["ROWS_SCANNED", "NULL_0"], [(0, 0)])})
    (f,) = run_check(db_integrity.check_folder_name, inventory=inventory(), sql=sql)
    assert f.status is Status.PASS
    # proved by constraints, but no row at all: still the warning
    sql = oracle(ora_columns(), PK_OK, exists=())
    (f,) = run_check(db_integrity.object_document_unique, inventory=inventory(), sql=sql)
    assert f.status is Status.WARN and "DOSR_OBJECT_DOCUMENT is empty" in f.message


def test_oracle_parallel_degree_is_opt_in_and_guarded():
    inv = inventory(options={"integrity": {"oracle_parallel_degree": 4}})
    sql = FakeSql("oracle", {**no_dictionary("oracle"), "count(*) as rows_scanned": (["ROWS_SCANNED", "NULL_0"], [(10, 0)])})
    (f,) = run_check(db_integrity.check_study_uid, inventory=inv, sql=sql)
    (scan,) = scans(sql.statements)
    assert f.status is Status.PASS and scan.startswith("select /*+ PARALLEL(t, 4) */ count(*)") and scan.endswith("dosr_study t")
    sql = FakeSql("oracle", {**no_dictionary("oracle"), "count(*) as rows_scanned": (["ROWS_SCANNED", "NULL_0"], [(10, 0)])})
    (f,) = run_check(db_integrity.check_study_uid, inventory=inventory(options={"integrity": {"oracle_parallel_degree": 500}}),
                     sql=sql)
    assert f.status is Status.ERROR and "oracle_parallel_degree" in f.message and not scans(sql.statements)
    # not on other engines
    assert _integrity.parallel_hint({"oracle_parallel_degree": 4}, "postgres") == ("", "")


def test_estimates_from_statistics_and_a_timed_sample():
    tables = (ORA_TABLES[0], [("DOSR_OBJECT", 50_000_000, 6 * 1024**3, datetime(2026, 2, 10), 700_000),
                              ("MAP_JOB", None, 65536, None, None),  # never analysed
                              ("DOSR_STUDY", 3_000_000, 2**28, datetime(2026, 2, 10), 30_000)])
    overrides = {("dosr_study", "study_uid"): ("N", "SYS_C9")}
    sql = FakeSql("oracle", {
        "from dba_tables": tables,
        "from all_tab_columns": ora_columns(nullable="Y", constraint=None, overrides=overrides),
        "from all_constraints k join": (ORA_UNIQUE_COLS, []),
        # the sample: the scan's own statement over the first 100,000 rows, 50 ms
        "rownum <= 100000": (["ROWS_SCANNED", "NULL_0", "NULL_1"], [(100_000, 0, 0)], 0.05),
    })
    inv = inventory()
    est = {e.table: e for e in _integrity.estimate_scans(sql, inv.hosts[0].databases[0], inv.site, INTEGRITY)}
    obj = est["DOSR_OBJECT"]
    assert obj.rows == 50_000_000 and obj.size_bytes == 6 * 1024**3 and "analysed 2026-02-10" in obj.rows_source
    assert 20 <= obj.seconds <= 40  # 0.05 s per 100,000 rows -> ~25 s for 50 M (plus the session's overhead)
    assert obj.rate.startswith("the fastest of 3 timed samples: the statement over the first 100,000 rows")
    assert est["MAP_JOB"].rows is None and est["MAP_JOB"].seconds is None and "never analysed" in est["MAP_JOB"].rows_source
    study = est["DOSR_STUDY"]
    assert not study.scanned and study.seconds is None and "SYS_C9" in study.proved[0]
    # unknown table: said, not guessed
    assert est["dosr_his_study"].rows is None and "not found in the data dictionary" in est["dosr_his_study"].rows_source
    samples = [s for s in sql.statements if "rownum <= 100000" in s]
    assert len(samples) == 3 and all(ensure_read_only(s, "oracle") is None for s in sql.statements)


def test_oracle_scan_progress_comes_from_longops_on_a_spare_session(monkeypatch):
    """Oracle reports a serial full scan's blocks in v$session_longops: read on another session of the
    same database, borrowed only if one is free within the limit, and given back when the scan ends."""
    import impax_preflight.scans as scans_mod
    from impax_preflight.context import CheckContext
    from impax_preflight.execute import execute_check

    monkeypatch.setattr(scans_mod, "TICK_S", 0.05)
    inv = inventory()
    host = inv.hosts[0]
    main = FakeSql("oracle", {**no_dictionary("oracle"),
                              "count(*) as rows_scanned": (["ROWS_SCANNED", "NULL_0"], [(10, 0)], 0.5)})
    spare = FakeSql("oracle", {"v$session_longops": (["SOFAR", "TOTALWORK", "UNITS", "OPNAME"],
                                                     [(500, 1000, "Blocks", "Table Scan")])})
    events, given_back = [], []
    ctx = CheckContext(db_integrity.check_study_uid, inv, host=host, database=host.databases[0], sql_factory=lambda: main,
                       progress=lambda e, **d: events.append(d), spare_session=lambda: (spare, lambda: given_back.append(1)))
    (f,) = execute_check(ctx, 10)
    assert f.status is Status.PASS
    running = [e for e in events if e.get("state") == "running"]
    assert running and running[0]["done"] == 500 and running[0]["total"] == 1000 and running[0]["units"] == "Blocks"
    assert given_back == [1]
    assert "where sid = 123" in spare.statements[0] and all(ensure_read_only(s, "oracle") is None for s in spare.statements)
    # no spare session free: elapsed against the estimate only
    events.clear()
    main.statements.clear()
    ctx = CheckContext(db_integrity.check_study_uid, inv, host=host, database=host.databases[0], sql_factory=lambda: main,
                       progress=lambda e, **d: events.append(d), spare_session=lambda: None)
    (f,) = execute_check(ctx, 10)
    assert f.status is Status.PASS and all("done" not in e for e in events)


def test_an_odbc_source_of_unknown_engine_is_scanned_without_asking_a_dictionary():
    sql = FakeSql("generic", {"count(*) as rows_scanned": (["rows_scanned", "null_0"], [(40, 0)])})
    (f,) = run_check(db_integrity.check_study_uid, inventory=inventory("odbc"), sql=sql)
    assert f.status is Status.PASS and len(sql.statements) == 1
    assert any("no data dictionary is known for the generic dialect" in e.output for e in f.evidence if e.kind == "note")
