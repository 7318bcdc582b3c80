"""The read-only guard: writes, locks, multi-statements and side-effecting functions are refused in
every dialect; the catalog's real queries pass."""

from __future__ import annotations

import pytest

from impax_preflight.db.readonly import ReadOnlyViolation, ensure_read_only

REFUSED = {
 "oracle": ["select sys.dbms_lock.request(1) from dual", "select SYS.UTL_HTTP.REQUEST('http://x') from dual",
            "select my_seq.nextval from dual", "update t set x=1", "delete from t", "insert into t values (1)", "merge into t using s on (t.id=s.id) when matched then update set x=1",
   "create table x(a int)", "drop table t", "truncate table t", "alter table t add (c int)", "select * from t for update",
   "begin delete from t; end;", "select 1 from dual; delete from t", "select 1 from dual -- x\n; delete from t",
   "select 1 from dual /* ; */ ; delete from t", "grant dba to scott", "lock table t in exclusive mode", "call dbms_stats.gather_schema_stats('X')",
   "with x as (select 1 a from dual) select * from x for update", "select * from t for update nowait", "exec dbms_lock.sleep(5)", "commit", "set role dba"],
 "tsql": ["select next value for s", "update t set x=1", "select * into newt from t", "exec sp_configure", "execute('drop table t')", "EXEC xp_cmdshell 'dir'", "select 1; drop table t",
   "select 1 go delete from t", "insert into t select * from s", "waitfor delay '00:00:05'", "declare @x int; select @x=1", "select * from t with (updlock)",
   "backup database mvf to disk='x'", "dbcc checkdb", "shutdown", "use master", "truncate table t", "select 1 /* */; delete t"],
 "postgres": ["select * from t for update", "select * from t for share", "copy t to '/tmp/x'", "select pg_terminate_backend(1)", "select 1; delete from t",
   "with d as (delete from t returning *) select * from d", "select * into newt from t", "vacuum", "set role admin", "do $$ begin delete from t; end $$",
   "select nextval('s')", "select setval('s', 1)", "select pg_advisory_lock(1)", "select lo_unlink(1)", "select pg_reload_conf()"],
 "sqlite": ["attach database 'x' as y", "pragma writable_schema=1", "insert into t values(1)", "replace into t values (1)", "select 1; drop table t", "vacuum", "reindex"],
}

ALLOWED = {
 "oracle": ["select df.tablespace_name, sum(df.bytes) from dba_data_files df left join dba_free_space fs on fs.file_id = df.file_id group by df.tablespace_name",
   "select * from v$recovery_file_dest", "select name, value from v$parameter where name = 'db_recovery_file_dest_size'",
   "select * from dbadmin.study where rownum <= 5", "with a as (select 1 x from dual) select x from a union all select 2 from dual",
   "SELECT owner, segment_name FROM dba_segments WHERE tablespace_name = :ts", "select count(*) from dba_objects where status = 'INVALID'"],
 "tsql": ["SELECT SERVERPROPERTY('ProductVersion')", "SELECT name, FILEPROPERTY(name,'SpaceUsed') FROM sys.database_files",
   "SELECT TOP 1 backup_finish_date FROM msdb.dbo.backupset WHERE database_name = 'mvf' ORDER BY backup_finish_date DESC",
   "select mirroring_role_desc from sys.database_mirroring where database_id = DB_ID('mvf')", "select @@version", "select * from [mvf].[dbo].[study] with (nolock)"],
 "postgres": ["select pg_sleep(5)", "select * from pg_stat_activity", "select current_setting('transaction_read_only')", "select 1 as a, ? as b"],
 "sqlite": ["select count(*) from study", "with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c", "select sqlite_version()"],
}


@pytest.mark.parametrize("dialect,sql", [(d, s) for d, items in REFUSED.items() for s in items])
def test_refused(dialect, sql):
    with pytest.raises(ReadOnlyViolation, match="^refused: "):
        ensure_read_only(sql, dialect)


@pytest.mark.parametrize("dialect,sql", [(d, s) for d, items in ALLOWED.items() for s in items])
def test_allowed(dialect, sql):
    ensure_read_only(sql, dialect)


@pytest.mark.parametrize("dialect", ["oracle", "tsql", "postgres", "sqlite"])
@pytest.mark.parametrize("hidden", [
    "select 1 as x; delete from t",
    "select 1 as x -- harmless\n; delete from t",
    "select 1 as x /* ; */ ; delete from t",
    "select 1 as x;\n\n  update t set x = 1",
    "select 1 as x; select 2 as y",
])
def test_a_second_statement_is_always_refused(dialect, hidden):
    with pytest.raises(ReadOnlyViolation):
        ensure_read_only(hidden, dialect)


@pytest.mark.parametrize("sql", ["", "   ", "-- only a comment", "select from where"])
def test_empty_or_unparsable_refused(sql):
    with pytest.raises(ReadOnlyViolation):
        ensure_read_only(sql, "oracle")


def test_comments_inside_a_single_query_are_fine():
    ensure_read_only("select /*+ parallel(4) */ count(*) -- rows\n from dba_segments", "oracle")
    ensure_read_only("select ';' as semi, '--' as dashes from dual", "oracle")


def test_messages_name_what_was_refused():
    with pytest.raises(ReadOnlyViolation, match="DELETE"):
        ensure_read_only("delete from t", "postgres")
    with pytest.raises(ReadOnlyViolation, match="UPDLOCK"):
        ensure_read_only("select * from t with (updlock)", "tsql")
    with pytest.raises(ReadOnlyViolation, match="nextval"):
        ensure_read_only("select nextval('seq')", "postgres")
    with pytest.raises(ReadOnlyViolation, match="UTL_FILE"):
        ensure_read_only("select utl_file.fopen('D', 'f', 'w') from dual", "oracle")
