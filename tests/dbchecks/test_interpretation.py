"""Each database check's reading of result rows shaped like the real catalog views (scripted session)."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from impax_preflight.checks import _statements, db_backup, db_impax, db_integrity, db_mssql, db_space
from impax_preflight.db.base import DatabaseError, ObjectMissing
from impax_preflight.model import Status
from impax_preflight.testing import FakeShell, make_inventory, run_check

from dbchecks.fakesql import FakeSql, no_dictionary, scans

GB = 1024**3


def inventory(kind="oracle", os="solaris", platform="AS3000", options=None, thresholds=None, **db):
    database = {"name": "mvf", "kind": kind, **db}
    if kind == "oracle":
        database.setdefault("dsn", "dbhost/MVF")
    if kind == "odbc":
        database.setdefault("dsn", "IMPAX")
    site = {"platform": platform}
    if options:
        site["options"] = options
    if thresholds:
        site["thresholds"] = thresholds
    return make_inventory({"hosts": [{"name": "db1", "os": os, "roles": ["database"], "transport": {"kind": "local"},
                                      "databases": [database]}]}, **site)


def by_subject(findings):
    return {f.subject: f for f in findings}


# ---- oracle.tablespace_free -----------------------------------------------------------------------

TS_COLS = ["TABLESPACE_NAME", "CONTENTS", "SIZE_BYTES", "HEADROOM_BYTES", "FILES", "AUTOEXTENSIBLE_FILES", "FREE_BYTES"]


def test_tablespaces_full_autoextend_and_undo():
    rows = [
        ("MVF", "PERMANENT", 10 * GB, 0, 2, 0, 5 * GB),             # plenty free, no autoextend
        ("MVFINDX", "PERMANENT", 4 * GB, 0, 1, 0, 0),               # 100 % full: the outer join gives free 0
        ("MVFL", "PERMANENT", 8 * GB, int(2.5 * GB), 2, 1, 0),      # full now, autoextend headroom 2.5 GB -> warning
        ("MVFLINDX", "PERMANENT", 2 * GB, 1 * GB, 1, 1, int(1.5 * GB)),  # 1.5 + 1 = 2.5 -> warning
        ("UNDOTBS1", "UNDO", 2 * GB, 0, 1, 0, int(0.5 * GB)),        # UNDO found by contents, too small
    ]
    sql = FakeSql("oracle", {"from dba_tablespaces": (TS_COLS, rows)})
    f = by_subject(run_check(db_space.tablespace_free, inventory=inventory(), sql=sql))
    assert f["MVF"].status is Status.PASS and f["MVF"].values["usable_gb"] == 5.0
    assert f["MVFINDX"].status is Status.FAIL and f["MVFINDX"].values["usable_gb"] == 0
    assert "monitor_add" in f["MVFINDX"].remediation and "2000" in f["MVFINDX"].remediation
    assert f["MVFL"].status is Status.WARN
    assert f["MVFL"].values == pytest.approx({**f["MVFL"].values, "free_gb": 0.0, "autoextend_headroom_gb": 2.5, "usable_gb": 2.5})
    assert f["MVFLINDX"].status is Status.WARN and f["MVFLINDX"].values["usable_gb"] == 2.5
    assert f["UNDOTBS1"].status is Status.FAIL and "UNDO" in f["UNDOTBS1"].message
    # the SQL that ran is the evidence, and it outer-joins the free space
    ev = f["MVF"].evidence[0]
    assert ev.kind == "sql" and "left outer join" in ev.source and "dba_free_space" in ev.source


def test_tablespace_near_full_that_relies_on_autoextend_warns():
    rows = [
        ("MVF", "PERMANENT", 10 * GB, 10 * GB, 2, 2, int(0.5 * GB)),    # 0.5 GB free: the 2 GB come only from growing
        ("MVFINDX", "PERMANENT", 10 * GB, 10 * GB, 2, 2, int(2.5 * GB)),  # the requirement met, the margin only by growing
        ("MVFL", "PERMANENT", 10 * GB, 10 * GB, 2, 2, 5 * GB),           # free now is enough: autoextend not needed
        ("MVFLINDX", "PERMANENT", 10 * GB, 0, 2, 0, 5 * GB),
        ("UNDOTBS1", "UNDO", 10 * GB, 0, 1, 0, 5 * GB),
    ]
    f = by_subject(run_check(db_space.tablespace_free, inventory=inventory(), sql=FakeSql("oracle", {"from dba_tablespaces": (TS_COLS, rows)})))
    assert f["MVF"].status is Status.WARN and f["MVF"].values["relies_on_autoextend"] is True
    assert "only 0.5 GB free now, below the 2 GB" in f["MVF"].message and "file system of the data files" in f["MVF"].message
    assert f["MVFINDX"].status is Status.WARN and "under the 3 GB" in f["MVFINDX"].message
    assert f["MVFL"].status is Status.PASS and f["MVFLINDX"].status is Status.PASS and f["UNDOTBS1"].status is Status.PASS


def test_missing_tablespace_and_no_undo_fail():
    rows = [("MVF", "PERMANENT", 10 * GB, 0, 1, 0, 5 * GB), ("MVFL", "PERMANENT", 10 * GB, 0, 1, 0, 5 * GB),
            ("MVFLINDX", "PERMANENT", 10 * GB, 0, 1, 0, 5 * GB)]
    sql = FakeSql("oracle", {"from dba_tablespaces": (TS_COLS, rows)})
    f = by_subject(run_check(db_space.tablespace_free, inventory=inventory(), sql=sql))
    assert f["MVFINDX"].status is Status.FAIL and "does not exist" in f["MVFINDX"].message
    assert f["UNDO"].status is Status.FAIL


def test_thresholds_come_from_the_inventory():
    rows = [(n, "UNDO" if n == "UNDO" else "PERMANENT", 10 * GB, 0, 1, 0, 5 * GB) for n in ("MVF", "MVFL", "MVFLINDX", "MVFINDX", "UNDO")]
    sql = FakeSql("oracle", {"from dba_tablespaces": (TS_COLS, rows)})
    inv = inventory(thresholds={"tablespace_min_gb": 6, "tablespace_warn_gb": 8})
    assert {f.status for f in run_check(db_space.tablespace_free, inventory=inv, sql=sql)} == {Status.FAIL}


def test_no_privilege_on_dba_views_is_an_error_naming_the_grant():
    sql = FakeSql("oracle", {"from dba_tablespaces": ObjectMissing("ORA-00942: table or view does not exist")})
    (f,) = run_check(db_space.tablespace_free, inventory=inventory(), sql=sql)
    assert f.status is Status.ERROR and "SELECT_CATALOG_ROLE" in f.message and "monitor_stats" in f.message


def test_sql_server_is_not_planned_for_oracle_checks():
    inv = inventory(kind="mssql", server="sql1")
    assert "mssql" in db_space.tablespace_free.applies.reason_not(inv.site, inv.hosts[0], inv.hosts[0].databases[0])
    inv = inventory(kind="odbc", dialect="tsql")
    assert "not an Oracle database" in db_space.tablespace_free.applies.reason_not(inv.site, inv.hosts[0], inv.hosts[0].databases[0])
    inv = inventory(kind="odbc", dialect="oracle")
    assert db_space.tablespace_free.applies.reason_not(inv.site, inv.hosts[0], inv.hosts[0].databases[0]) is None


# ---- oracle.recovery_area -------------------------------------------------------------------------

FRA_COLS = ["NAME", "SPACE_LIMIT", "SPACE_USED", "SPACE_RECLAIMABLE", "NUMBER_OF_FILES"]
BS_COLS = ["BS_KEY", "BACKUP_TYPE", "INCREMENTAL_LEVEL", "COMPLETION_TIME", "PIECES"]


def test_fra_near_full_lists_old_backup_sets_with_rman_remediation():
    sql = FakeSql("oracle", {
        "from v$recovery_file_dest": (FRA_COLS, [("/u02/fra", 100 * GB, 95 * GB, 5 * GB, 310)]),
        "from v$backup_set": (BS_COLS, [(1201, "D", None, datetime(2024, 1, 2), 1), (1202, "L", None, datetime(2024, 1, 3), 1)]),
    })
    (f,) = run_check(db_space.recovery_area, inventory=inventory(), sql=sql)
    assert f.status is Status.WARN and f.values["used_pct"] == 90.0
    assert f.values["old_backup_sets"] == ["1201", "1202"] and "1201" in f.message
    assert "delete backupset" in f.remediation
    assert len(f.evidence) == 2


def test_fra_with_reclaimable_space_passes_and_unconfigured_is_skipped():
    sql = FakeSql("oracle", {"from v$recovery_file_dest": (FRA_COLS, [("/u02/fra", 100 * GB, 95 * GB, 40 * GB, 310)]),
                             "from v$backup_set": (BS_COLS, [])})
    (f,) = run_check(db_space.recovery_area, inventory=inventory(), sql=sql)
    assert f.status is Status.PASS and f.values["used_pct"] == 55.0
    sql = FakeSql("oracle", {"from v$recovery_file_dest": (FRA_COLS, [(None, 0, 0, 0, 0)])})
    (f,) = run_check(db_space.recovery_area, inventory=inventory(), sql=sql)
    assert f.status is Status.SKIPPED


# ---- backup.database_recent -----------------------------------------------------------------------

AGE_COLS = ["LAST_END", "AGE_HOURS", "JOBS"]
DF_COLS = ["LAST_END", "AGE_HOURS", "FILES", "BACKED_UP"]


def test_oracle_recent_rman_job_passes():
    sql = FakeSql("oracle", {"from v$rman_backup_job_details": (AGE_COLS, [(datetime(2024, 5, 1, 2), 6.5, 30)])})
    (f,) = run_check(db_backup.database_recent, inventory=inventory(), sql=sql)
    assert f.status is Status.PASS and f.values["age_hours"] == 6.5 and len(sql.statements) == 1


def test_oracle_stale_backup_fails_with_runbackup_remediation():
    sql = FakeSql("oracle", {"from v$rman_backup_job_details": (AGE_COLS, [(datetime(2024, 5, 1, 2), 50.0, 30)]),
                             "v$backup_datafile": (DF_COLS, [(datetime(2024, 5, 1, 2), 50.0, 12, 12)])})
    (f,) = run_check(db_backup.database_recent, inventory=inventory(), sql=sql)
    assert f.status is Status.FAIL and "50" in f.message and "/usr/mvf/bin/runbackup" in f.remediation
    (f,) = run_check(db_backup.database_recent, inventory=inventory(platform="AS300", os="windows"), sql=sql)
    assert "bash runbackup" in f.remediation


def test_old_release_without_rman_job_details_falls_back_to_backup_set():
    sql = FakeSql("oracle", {"from v$rman_backup_job_details": ObjectMissing("ORA-00942: table or view does not exist"),
                             "v$backup_datafile": (DF_COLS, [(datetime(2024, 5, 1, 2), 3.0, 4, 4)])})
    (f,) = run_check(db_backup.database_recent, inventory=inventory(), sql=sql)
    assert f.status is Status.PASS and f.values["source"].startswith("v$backup_datafile") and "older release" in f.message


def test_no_backup_at_all_fails_and_no_privilege_errors():
    sql = FakeSql("oracle", {"from v$rman_backup_job_details": (AGE_COLS, [(None, None, 0)]),
                             "v$backup_datafile": (DF_COLS, [(None, None, 12, 0)])})
    (f,) = run_check(db_backup.database_recent, inventory=inventory(), sql=sql)
    assert f.status is Status.FAIL and "no successful full backup" in f.message
    sql = FakeSql("oracle", {"v$": ObjectMissing("ORA-00942: table or view does not exist")})
    (f,) = run_check(db_backup.database_recent, inventory=inventory(), sql=sql)
    assert f.status is Status.ERROR and "SELECT_CATALOG_ROLE" in f.message


def test_oracle_fallback_counts_only_full_or_level0_data_file_backups_of_every_file():
    # the statement reads v$backup_datafile (file# > 0: not the control file; level NULL or 0), not v$backup_set
    # (whose backup_type 'D' a control-file autobackup also has)
    q = _statements.ORACLE_BACKUP_DATAFILE_SQL
    assert "v$backup_set" not in q and "b.file# > 0" in q and "(b.incremental_level is null or b.incremental_level = 0)" in q
    # ... and means it: the same statement on a real engine (SQLite, through sqlglot) over rows shaped like the views
    import sqlite3

    import sqlglot

    db = sqlite3.connect(":memory:")
    db.execute('create table "v$datafile" ("file#" integer)')
    db.execute('create table "v$backup_datafile" ("file#" integer, incremental_level integer, completion_time text)')
    db.executemany('insert into "v$datafile" values (?)', [(1,), (2,), (3,)])
    db.executemany('insert into "v$backup_datafile" values (?, ?, ?)', [
        (0, None, "2024-05-03 02:00"),                                  # today's control-file autobackup: not a data file
        (1, 1, "2024-05-03 01:00"), (2, 1, "2024-05-03 01:00"), (3, 1, "2024-05-03 01:00"),  # level 1: not a full backup
        (1, 0, "2024-05-02 01:00"), (2, 0, "2024-05-02 01:30"),        # level 0 of files 1 and 2
        (3, None, "2024-04-20 01:00"),                                  # file 3's last full backup is old
    ])
    sql = sqlglot.transpile(q, read="oracle", write="sqlite", identify=True)[0]
    row = dict(zip(["last_end", "files", "backed_up"], db.execute(f"select last_end, files, backed_up from ({sql})").fetchone()))
    assert row == {"last_end": "2024-04-20 01:00", "files": 3, "backed_up": 3}
    db.execute('insert into "v$datafile" values (4)')  # a data file added since: no backup of it at all
    row = db.execute(f"select files, backed_up from ({sql})").fetchone()
    assert row == (4, 3)
    # a data file without a full or level-0 backup fails, naming how many
    sql_session = FakeSql("oracle", {"from v$rman_backup_job_details": ObjectMissing("ORA-00942: table or view does not exist"),
                                     "v$backup_datafile": (DF_COLS, [(datetime(2024, 5, 2, 1), 20.0, 4, 3)])})
    (f,) = run_check(db_backup.database_recent, inventory=inventory(), sql=sql_session)
    assert f.status is Status.FAIL and "1 of 4 data files have no full or level-0 backup" in f.message


def test_sql_server_backupset_for_the_database_name():
    sql = FakeSql("tsql", {"from msdb.dbo.backupset": (AGE_COLS, [(datetime(2024, 5, 1, 2), 30.25, 3)])})
    (f,) = run_check(db_backup.database_recent, inventory=inventory(kind="mssql", database="MVF"), sql=sql)
    assert f.status is Status.FAIL and "database_name = 'MVF'" in sql.statements[0]
    assert "Management Studio" in f.remediation
    inv = inventory(thresholds={"backup_max_age_hours": 48}, kind="mssql")
    (f,) = run_check(db_backup.database_recent, inventory=inv, sql=sql)
    assert f.status is Status.PASS


def test_backup_on_other_engines_is_a_warning_to_confirm_not_a_skip():
    # a blocker that could not look is not verified: a warning the engineer must clear, never a quiet skip
    (f,) = run_check(db_backup.database_recent, inventory=inventory(kind="odbc", dialect="postgres"), sql=FakeSql("postgres", {}))
    assert f.status is Status.WARN and "postgres" in f.message and "was not verified" in f.message


# ---- SQL Server ---------------------------------------------------------------------------------

MIR_COLS = ["NAME", "MIRRORING_STATE_DESC", "MIRRORING_ROLE_DESC", "MIRRORING_SAFETY_LEVEL_DESC",
            "MIRRORING_WITNESS_STATE_DESC", "MIRRORING_PARTNER_INSTANCE", "MIRRORING_WITNESS_NAME", "SERVER_NAME"]


def mirrored(**kw):
    return inventory(kind="mssql", mirroring=True, primary_server="SQLPRIM", **kw)


def test_mirroring_healthy_passes_and_both_checks_share_one_query():
    from impax_preflight.check import Memo

    row = ("mvf", "SYNCHRONIZED", "PRINCIPAL", "FULL", "CONNECTED", "TCP://sqlsec:5022", "TCP://witness:5022", "SQLPRIM")
    sql = FakeSql("tsql", {"sys.database_mirroring": (MIR_COLS, [row])})
    memo = Memo()
    (a,) = run_check(db_mssql.mirroring_state, inventory=mirrored(), sql=sql, memo=memo)
    (b,) = run_check(db_mssql.principal_on_primary, inventory=mirrored(), sql=sql, memo=memo)
    assert a.status is Status.PASS and b.status is Status.PASS
    assert len(sql.statements) == 1 and a.evidence and b.evidence


@pytest.mark.parametrize("state,safety,witness,expect", [
    ("SUSPENDED", "FULL", "CONNECTED", "state SUSPENDED"),
    ("SYNCHRONIZED", "FULL", "DISCONNECTED", "witness"),
    ("SYNCHRONIZING", "OFF", "CONNECTED", "safety OFF"),
])
def test_mirroring_problems_block_and_forbid_the_failover_test(state, safety, witness, expect):
    row = ("mvf", state, "PRINCIPAL", safety, witness, "TCP://sqlsec:5022", "TCP://witness:5022", "SQLPRIM")
    (f,) = run_check(db_mssql.mirroring_state, inventory=mirrored(), sql=FakeSql("tsql", {"sys.database_mirroring": (MIR_COLS, [row])}))
    assert f.status is Status.FAIL and expect in f.message and "do not run a fail-over test" in f.message.lower()


def test_mirroring_declared_but_not_configured_fails():
    row = ("mvf", None, None, None, None, None, None, "SQLPRIM")
    (f,) = run_check(db_mssql.mirroring_state, inventory=mirrored(), sql=FakeSql("tsql", {"sys.database_mirroring": (MIR_COLS, [row])}))
    assert f.status is Status.FAIL and "no mirroring session" in f.message and "VIEW ANY DATABASE" in f.message


def test_principal_on_the_secondary_warns():
    row = ("mvf", "SYNCHRONIZED", "PRINCIPAL", "FULL", "CONNECTED", "TCP://sqlprim:5022", "TCP://witness:5022", "SQLSEC")
    (f,) = run_check(db_mssql.principal_on_primary, inventory=mirrored(), sql=FakeSql("tsql", {"sys.database_mirroring": (MIR_COLS, [row])}))
    assert f.status is Status.WARN and "SQLSEC" in f.message and "fail the principal back" in f.remediation.lower()


def test_mirroring_checks_apply_only_when_declared():
    inv = inventory(kind="mssql")
    reason = db_mssql.mirroring_state.applies.reason_not(inv.site, inv.hosts[0], inv.hosts[0].databases[0])
    assert reason and "mirroring" in reason
    inv = inventory(kind="odbc", dialect="tsql", mirroring=True)
    assert db_mssql.mirroring_state.applies.reason_not(inv.site, inv.hosts[0], inv.hosts[0].databases[0]) is None


SP_COLS = ["PRODUCT_VERSION", "PRODUCT_LEVEL", "EDITION", "INSTANCE_NAME", "INTEGRATED_SECURITY_ONLY"]


@pytest.mark.parametrize("row,status,words", [
    (("10.0.2531.0", "SP1", "Standard Edition", None, 0), Status.PASS, "default instance"),
    (("10.50.6000.34", "SP3", "Standard Edition", None, 0), Status.PASS, "mixed-mode"),
    (("10.0.1600.22", "RTM", "Standard Edition", None, 0), Status.FAIL, "older than SQL Server 2008 SP1"),
    (("9.00.5000.00", "SP4", "Standard Edition", None, 0), Status.FAIL, "older"),
    (("10.0.5500.0", "SP3", "Standard Edition", "IMPAX", 0), Status.FAIL, "named instance"),
    (("10.0.5500.0", "SP3", "Standard Edition", None, 1), Status.FAIL, "Windows Authentication only"),
])
def test_sqlserver_version(row, status, words):
    (f,) = run_check(db_mssql.sqlserver_version, inventory=inventory(kind="mssql"), sql=FakeSql("tsql", {"serverproperty": (SP_COLS, [row])}))
    assert f.status is status and words in f.message


def test_sqlserver_version_cites_the_guide_sections_that_ask_for_it_and_says_what_to_do():
    # "Prerequisite software installations" names no SQL Server requirement; the installation (default instance,
    # mixed mode) and the SP1 upgrade sections do. A blocker: the guide's preparation includes the SP1 upgrade
    check = db_mssql.sqlserver_version
    assert check.guide == "Installing SQL Server 2008; Upgrading SQL Server 2008 to SQL Server 2008 SP1"
    assert check.severity.value == "blocker"

    def run(row):
        (f,) = run_check(check, inventory=inventory(kind="mssql"), sql=FakeSql("tsql", {"serverproperty": (SP_COLS, [row])}))
        return f

    rtm = run(("10.0.1600.22", "RTM", "Standard Edition", None, 0))
    assert "SP1 installer" in rtm.remediation and "Default instance" not in rtm.remediation
    old = run(("9.00.5000.00", "SP4", "Standard Edition", None, 0))
    assert "Installing SQL Server 2008" in old.remediation and "SP1 installer" in old.remediation
    named = run(("10.0.5500.0", "SP3", "Standard Edition", "IMPAX", 1))
    assert "Default instance" in named.remediation and "SQL Server and Windows Authentication mode" in named.remediation
    assert "SP1 installer" not in named.remediation


FILE_COLS = ["NAME", "TYPE_DESC", "PHYSICAL_NAME", "SIZE", "MAX_SIZE", "GROWTH", "IS_PERCENT_GROWTH", "USED_PAGES"]
PAGES_PER_GB = GB // 8192


def test_mssql_database_space_free_growth_and_unlimited():
    rows = [
        ("mvf_data", "ROWS", "D:\\data\\mvf.mdf", 10 * PAGES_PER_GB, 11 * PAGES_PER_GB, 128, 0, int(9.5 * PAGES_PER_GB)),  # 0.5 free + 1 growth
        ("mvf_log", "LOG", "L:\\log\\mvf.ldf", 2 * PAGES_PER_GB, -1, 10, 1, PAGES_PER_GB),  # unlimited growth
    ]
    f = by_subject(run_check(db_space.database_space, inventory=inventory(kind="mssql"), sql=FakeSql("tsql", {"sys.database_files": (FILE_COLS, rows)})))
    assert f["ROWS"].status is Status.WARN and f["ROWS"].values["usable_gb"] == 1.5
    assert f["LOG"].status is Status.PASS and f["LOG"].values["unlimited_files"] == ["mvf_log"]
    rows[0] = ("mvf_data", "ROWS", "D:\\data\\mvf.mdf", 10 * PAGES_PER_GB, 40 * PAGES_PER_GB, 0, 0, 9 * PAGES_PER_GB)  # growth 0: none
    f = by_subject(run_check(db_space.database_space, inventory=inventory(kind="mssql"), sql=FakeSql("tsql", {"sys.database_files": (FILE_COLS, rows)})))
    assert f["ROWS"].status is Status.WARN and f["ROWS"].values["growth_headroom_gb"] == 0
    rows[1] = ("mvf_log", "LOG", "L:\\log\\mvf.ldf", 2 * PAGES_PER_GB, -1, 10, 1, None)  # another database's context
    (f,) = run_check(db_space.database_space, inventory=inventory(kind="mssql"), sql=FakeSql("tsql", {"sys.database_files": (FILE_COLS, rows)}))
    assert f.status is Status.ERROR and "mvf_log" in f.message and "database =" in f.message


# ---- db.version ----------------------------------------------------------------------------------

def test_db_version_per_dialect():
    banner = "Oracle Database 11g Enterprise Edition Release 11.2.0.4.0 - 64bit Production"
    sql = FakeSql("oracle", {"from v$version": (["BANNER"], [(banner,), ("PL/SQL Release 11.2.0.4.0 - Production",)])})
    (f,) = run_check(db_space.db_version, inventory=inventory(), sql=sql)
    assert f.status is Status.PASS and f.values["version"] == banner and len(f.values["banner"]) == 2
    sql = FakeSql("tsql", {"@@version": (["version"], [("Microsoft SQL Server 2008 (SP1) - 10.0.2531.0 (X64)\n\tMar 29 2009",)])})
    (f,) = run_check(db_space.db_version, inventory=inventory(kind="mssql"), sql=sql)
    assert f.values["version"] == "Microsoft SQL Server 2008 (SP1) - 10.0.2531.0 (X64)"


# ---- backup.map_event_audit ----------------------------------------------------------------------

DF = """Filesystem            kbytes    used   avail capacity  Mounted on
/dev/md/dsk/d40      103212320 91231200 10948000    90%    /export
"""


def test_map_event_audit_size_and_room_at_export_dir():
    sql = FakeSql("oracle", {"from dba_segments": (["SIZE_KB"], [(5_242_880,)])})  # 5 GB
    inv = inventory(schema="DBADMIN", options={"backup.map_event_audit": {"export_dir": "/export/audit"}})
    shell = FakeShell({"LC_ALL=C df -k '/export/audit'": DF}, os="solaris")
    (f,) = run_check(db_backup.map_event_audit, inventory=inv, sql=sql, shell=shell)
    assert f.status is Status.PASS and f.values["size_mb"] == 5120.0 and f.values["free_kb"] == 10948000
    assert "owner = 'DBADMIN'" in sql.statements[0]
    assert [e.kind for e in f.evidence] == ["sql", "command"]
    sql = FakeSql("oracle", {"from dba_segments": (["SIZE_KB"], [(20_000_000,)])})
    (f,) = run_check(db_backup.map_event_audit, inventory=inv, sql=sql, shell=shell)
    assert f.status is Status.WARN and "only" in f.message


def test_map_event_audit_falls_back_to_user_segments_and_says_what_was_not_measured():
    sql = FakeSql("oracle", {"from dba_segments": ObjectMissing("ORA-00942"), "from user_segments": (["SIZE_KB"], [(1024,)])})
    (f,) = run_check(db_backup.map_event_audit, inventory=inventory(schema="DBADMIN"), sql=sql)
    assert f.status is Status.WARN and "NOT measured" in f.message and "export_dir" in f.message
    assert any("user_segments" in e.output for e in f.evidence if e.kind == "note")


def test_map_event_audit_sql_server_uses_allocation_units_and_windows_dir():
    sql = FakeSql("tsql", {"sys.allocation_units": (["size_kb", "used_kb"], [(2048, 2000)])})
    inv = inventory(kind="mssql", os="windows", platform="AS300", options={"backup.map_event_audit": {"export_dir": "E:\\export"}})
    dir_out = " Volume in drive E is DATA\n Directory of E:\\export\n\n               0 File(s)              0 bytes\n               2 Dir(s)     1073741824 bytes free\n"
    shell = FakeShell({'dir /-c "E:\\export"': dir_out}, os="windows")
    (f,) = run_check(db_backup.map_event_audit, inventory=inv, sql=sql, shell=shell)
    assert f.status is Status.PASS and f.values["free_kb"] == 1048576 and "exec" not in sql.statements[0].lower()


def test_map_event_audit_refuses_an_unsafe_export_dir():
    sql = FakeSql("oracle", {"from user_segments": (["SIZE_KB"], [(1024,)])})
    inv = inventory(options={"backup.map_event_audit": {"export_dir": "/tmp'; rm -rf /"}})
    shell = FakeShell({}, os="solaris")
    (f,) = run_check(db_backup.map_event_audit, inventory=inv, sql=sql, shell=shell)
    assert f.status is Status.WARN and "not allowed" in f.message and shell.calls == []


# ---- archive.study_status (tool and query variants), prereq.mig_schema ---------------------------

def test_archive_tool_mode_parses_the_count_and_never_passes_a_password():
    inv = inventory(options={"archive.study_status": {"mode": "tool", "count_regex": r"Studies not archived:\s*(\d+)"}})
    shell = FakeShell({"/usr/mvf-mig6/bin/mig-study-archive-report -o": "Report\nStudies not archived: 42\nDone\n"}, os="solaris")
    (f,) = run_check(db_impax.study_status, inventory=inv, sql=FakeSql("oracle", {}), shell=shell)
    assert f.status is Status.FAIL and f.values["not_archived"] == 42
    inv = inventory(os="windows", platform="AS300", options={"archive.study_status": {"mode": "tool"}})
    shell = FakeShell({re.compile("mig-study-archive-report.exe"): "0 studies not archived\n"}, os="windows")
    (f,) = run_check(db_impax.study_status, inventory=inv, sql=FakeSql("tsql", {}), shell=shell)
    assert f.status is Status.PASS and "assumed pattern" in f.message
    assert "-P" not in shell.calls[0] and "-U" not in shell.calls[0]


def test_archive_tool_output_without_a_count_is_an_error():
    inv = inventory(options={"archive.study_status": {"mode": "tool"}})
    shell = FakeShell({"/usr/mvf-mig6/bin/mig-study-archive-report -o": "usage: mig-study-archive-report [-o]\n"}, os="solaris")
    (f,) = run_check(db_impax.study_status, inventory=inv, sql=FakeSql("oracle", {}), shell=shell)
    assert f.status is Status.ERROR and "count_regex" in f.message


def test_archive_site_query_must_be_read_only():
    inv = inventory(options={"archive.study_status": {"query": "delete from dosr_study"}})
    (f,) = run_check(db_impax.study_status, inventory=inv, sql=FakeSql("oracle", {}))
    assert f.status is Status.ERROR and "read-only" in f.message


def test_mig_schema_probe():
    (f,) = run_check(db_impax.mig_schema, inventory=inventory(), sql=FakeSql("oracle", {}))
    assert f.status is Status.ERROR and "not configured" in f.message and "by hand" in f.message
    inv = inventory(schema="DBADMIN", options={"prereq.mig_schema": {"objects": ["mig_study", "MIG_SERIES"]}})
    sql = FakeSql("oracle", {"from all_objects": (["NAME", "TYPE"], [("MIG_STUDY", "TABLE")])})
    (f,) = run_check(db_impax.mig_schema, inventory=inv, sql=sql)
    assert f.status is Status.FAIL and f.values["missing"] == ["MIG_SERIES"] and "owner = 'DBADMIN'" in sql.statements[0]
    inv = inventory(options={"prereq.mig_schema": {"objects": ["mig_study; drop table x"]}})
    (f,) = run_check(db_impax.mig_schema, inventory=inv, sql=FakeSql("oracle", {}))
    assert f.status is Status.ERROR and "not a plain SQL identifier" in f.message


def test_integrity_schema_from_inventory_is_validated_before_any_sql():
    sql = FakeSql("oracle", {})
    (f,) = run_check(db_integrity.check_study_uid, inventory=inventory(schema="DBADMIN; drop"), sql=sql)
    assert f.status is Status.ERROR and sql.statements == []


def test_database_errors_become_error_findings_without_secrets():
    sql = FakeSql("oracle", {**no_dictionary("oracle"), "dosr_study": DatabaseError("ORA-03113: end-of-file on communication channel")})
    (f,) = run_check(db_integrity.check_study_uid, inventory=inventory(schema="DBADMIN"), sql=sql)
    assert f.status is Status.ERROR and "ORA-03113" in f.message


# ---- integrity on Oracle / SQL Server result shapes (upper-case columns, ROLLUP total row) -------

DUP_COLS = ["OBJECT_REF", "N", "IS_TOTAL", "ROWS_SCANNED", "DUPLICATE_ROWS", "DUPLICATED_REFS"]


@pytest.mark.parametrize("dialect,kind", [("oracle", "oracle"), ("tsql", "mssql")])
def test_duplicate_scan_reads_the_rollup_total_and_examples(dialect, kind):
    rows = [(None, 5_000_000, 1, 5_000_012, 7, 3), (400009, 2, 0, 2, 7, 3), (800018, 3, 0, 3, 7, 3), (1200027, 2, 0, 2, 7, 3)]
    sql = FakeSql(dialect, {**no_dictionary(dialect), "dosr_object_document": (DUP_COLS, rows)})
    (f,) = run_check(db_integrity.object_document_unique, inventory=inventory(kind=kind, schema="DBADMIN" if kind == "oracle" else "dbo"), sql=sql)
    assert f.status is Status.FAIL and f.values["count"] == 7 and f.values["duplicated_refs"] == 3
    assert f.values["rows_scanned"] == 5_000_012 and f.values["examples"] == ["400009", "800018", "1200027"]
    (scan,) = scans(sql.statements)
    assert "rollup" in scan.lower()
    # no duplicates: only the total row comes back
    sql = FakeSql(dialect, {**no_dictionary(dialect), "dosr_object_document": (DUP_COLS, [(None, 10, 1, 10, 0, 0)])})
    (f,) = run_check(db_integrity.object_document_unique, inventory=inventory(kind=kind), sql=sql)
    assert f.status is Status.PASS and f.values["rows_scanned"] == 10 and f.values["count"] == 0


def test_null_scan_on_oracle_fetches_examples_only_when_needed():
    from impax_preflight.check import Memo

    scan_cols = ["ROWS_SCANNED", "NULL_0", "NULL_1"]
    sql = FakeSql("oracle", {
        **no_dictionary("oracle"),
        "count(*) as rows_scanned": (scan_cols, [(1000, 2, 0)]),
        "example_key": (["EXAMPLE_KEY", "SOP_INSTANCE_UID", "SERIES_REF"], [(17, None, 5), (99, None, 8)]),
    })
    memo = Memo()
    inv = inventory(schema="DBADMIN")
    (a,) = run_check(db_integrity.check_object_sop_instance_uid, inventory=inv, sql=sql, memo=memo)
    (b,) = run_check(db_integrity.check_object_series_ref, inventory=inv, sql=sql, memo=memo)
    assert a.status is Status.FAIL and a.values["count"] == 2 and a.values["examples"] == ["17", "99"]
    assert b.status is Status.PASS and b.values["count"] == 0
    sent = scans(sql.statements)
    assert len(sent) == 2 and "rownum <= 2" in sent[1] and "DBADMIN.dosr_object" in sent[0]
    sql = FakeSql("oracle", {**no_dictionary("oracle"), "count(*) as rows_scanned": (scan_cols, [(1000, 0, 0)])})
    (a,) = run_check(db_integrity.check_object_sop_instance_uid, inventory=inv, sql=sql)
    assert a.status is Status.PASS and len(scans(sql.statements)) == 1


def test_map_event_audit_unreadable_df_is_not_measured_and_rc_none_is_success():
    sql = FakeSql("oracle", {"from dba_segments": (["SIZE_KB"], [(1024,)])})
    inv = inventory(schema="DBADMIN", options={"backup.map_event_audit": {"export_dir": "/export/audit"}})
    shell = FakeShell({"LC_ALL=C df -k '/export/audit'": "this is not df output\nat all\n"}, os="solaris")
    (f,) = run_check(db_backup.map_event_audit, inventory=inv, sql=sql, shell=shell)
    assert f.status is Status.WARN and "NOT measured" in f.message and f.values["free_kb"] is None
    # a transport that reports no exit code (rc None) succeeded
    shell = FakeShell({"LC_ALL=C df -k '/export/audit'": (None, DF)}, os="solaris")
    (f,) = run_check(db_backup.map_event_audit, inventory=inv, sql=sql, shell=shell)
    assert f.status is Status.PASS and f.values["free_kb"] == 10948000
    win = inventory(kind="mssql", os="windows", platform="AS300", options={"backup.map_event_audit": {"export_dir": "E:\\export"}})
    sql = FakeSql("tsql", {"sys.allocation_units": (["size_kb", "used_kb"], [(2048, 2000)])})
    shell = FakeShell({'dir /-c "E:\\export"': (None, "               2 Dir(s)     1073741824 bytes free\n")}, os="windows")
    (f,) = run_check(db_backup.map_event_audit, inventory=win, sql=sql, shell=shell)
    assert f.status is Status.PASS and f.values["free_kb"] == 1048576


def test_archive_tool_rc_none_is_success():
    inv = inventory(options={"archive.study_status": {"mode": "tool", "count_regex": r"Studies not archived:\s*(\d+)"}})
    shell = FakeShell({"/usr/mvf-mig6/bin/mig-study-archive-report -o": (None, "Studies not archived: 0\n")}, os="solaris")
    (f,) = run_check(db_impax.study_status, inventory=inv, sql=FakeSql("oracle", {}), shell=shell)
    assert f.status is Status.PASS


def test_null_scan_without_a_row_is_an_error_and_examples_are_fetched_per_column():
    scan_cols = ["ROWS_SCANNED", "NULL_0", "NULL_1"]
    sql = FakeSql("oracle", {**no_dictionary("oracle"), "count(*) as rows_scanned": (scan_cols, [])})
    (f,) = run_check(db_integrity.check_object_sop_instance_uid, inventory=inventory(), sql=sql)
    assert f.status is Status.ERROR and "no row" in f.message
    # both columns have NULLs: each gets its own examples (one column's rows cannot crowd out the other's)
    from impax_preflight.check import Memo

    sql = FakeSql("oracle", {
        **no_dictionary("oracle"),
        "count(*) as rows_scanned": (scan_cols, [(1000, 12, 3)]),
        "where sop_instance_uid is null": (["EXAMPLE_KEY", "SOP_INSTANCE_UID"], [(i, None) for i in range(10)]),
        "where series_ref is null": (["EXAMPLE_KEY", "SERIES_REF"], [(100, None), (101, None), (102, None)]),
    })
    memo, inv = Memo(), inventory()
    (a,) = run_check(db_integrity.check_object_sop_instance_uid, inventory=inv, sql=sql, memo=memo)
    (b,) = run_check(db_integrity.check_object_series_ref, inventory=inv, sql=sql, memo=memo)
    assert len(a.values["examples"]) == 10 and b.values["examples"] == ["100", "101", "102"]
    sent = scans(sql.statements)
    assert "rownum <= 10" in sent[1] and "rownum <= 3" in sent[2] and len(sent) == 3
