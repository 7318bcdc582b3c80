"""The read-only guard: writes, locks, multi-statements and side-effecting functions are refused in
every dialect; the catalog's real queries pass."""

from __future__ import annotations

import pytest

from impax_preflight import sqlfunctions as fn
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


# ---- functions by allowlist (issue 10) -------------------------------------------------------------

#: (dialect, statement, the name the refusal must carry)
REFUSED_FUNCTIONS = [
    # PostgreSQL: every dynamic-SQL door, and what the outside probe ran through them
    ("postgres", "select query_to_xml('select pg_advisory_lock(42)', true, false, '')", "query_to_xml()"),
    ("postgres", "select query_to_xmlschema('select 1', true, false, '')", "query_to_xmlschema()"),
    ("postgres", "select query_to_xml_and_xmlschema('select 1', true, false, '')", "query_to_xml_and_xmlschema()"),
    ("postgres", "select cursor_to_xml('c', 1, true, false, '')", "cursor_to_xml()"),
    ("postgres", "select table_to_xml('studies', true, false, '')", "table_to_xml()"),
    ("postgres", "select * from dblink('dbname=mvf', 'delete from studies') as t(x int)", "dblink()"),
    ("postgres", "select dblink_exec('dbname=mvf', 'delete from studies')", "dblink_exec()"),
    ("postgres", "select set_config('default_transaction_read_only', 'off', false)", "set_config()"),
    ("postgres", "select pg_catalog.set_config('default_transaction_read_only', 'off', false)", "pg_catalog.set_config()"),
    ("postgres", "select pg_terminate_backend(pid) from pg_stat_activity", "pg_terminate_backend()"),
    ("postgres", "select pg_try_advisory_lock(1)", "pg_try_advisory_lock()"),
    ("postgres", "select setval('s', 1000)", "setval()"),
    ("postgres", "select lo_create(0)", "lo_create()"),
    ("postgres", "select lo_import('/etc/passwd')", "lo_import()"),
    ("postgres", "select pg_stat_reset()", "pg_stat_reset()"),
    # user-defined functions, qualified or not, in any position
    ("postgres", "select public.switch_read_write()", "public.switch_read_write()"),
    ("postgres", "select delete_a_study()", "delete_a_study()"),
    ("postgres", "select * from public.evil_rows(1)", "public.evil_rows()"),
    ("postgres", "select id from studies where id = any(select evil())", "evil()"),
    ("postgres", "select count(*) filter (where evil()) from studies", "evil()"),
    ("postgres", "select (select evil()) as x", "evil()"),
    # names sqlglot knows from other engines are no PostgreSQL built-ins: here they would be UDFs
    ("postgres", "select nvl(a, 0) from t", "nvl()"),
    ("postgres", "select read_csv('x')", "read_csv()"),
    ("postgres", "select group_concat(a) from t", "group_concat()"),
    ("postgres", "select * from xmltable('/a' passing '<a/>' columns x int path 'x')", "xmltable()"),
    ("postgres", 'select "upper"(a) from t', "quoted"),
    # Oracle: packages, dynamic SQL, functions called without parentheses
    ("oracle", "select dbms_xmlgen.getxml('delete from dbadmin.study') from dual", "DBMS_XMLGEN.GETXML()"),
    ("oracle", "select sys.dbms_sql.open_cursor from dual", "SYS.DBMS_SQL.OPEN_CURSOR"),
    ("oracle", "select dbadmin.purge_study(1) from dual", "DBADMIN.PURGE_STUDY()"),
    ("oracle", "select dbadmin.purge_all from dual", "DBADMIN.PURGE_ALL"),
    ("oracle", "select * from table(dbadmin.f())", "DBADMIN.F()"),
    ("oracle", "select xmltype(cursor(select 1 from dual)) from dual", "XMLTYPE()"),
    ("oracle", "select substring(a, 1) from dual", "SUBSTRING()"),
    ("oracle", "begin execute immediate 'drop table x'; end;", "refused"),
    ("oracle", "declare c integer; begin c := dbms_sql.open_cursor; end;", "refused"),
    # SQL Server
    ("tsql", "select * from openquery(linked, 'delete from mvf.dbo.study')", "openquery()"),
    ("tsql", "select * from openrowset('SQLNCLI', 'Server=.;Trusted_Connection=yes', 'exec xp_cmdshell ''dir''')", "openrowset()"),
    ("tsql", "select * from opendatasource('SQLNCLI', 'Data Source=x').mvf.dbo.study", "opendatasource()"),
    ("tsql", "exec sp_executesql N'delete from study'", "refused"),
    ("tsql", "exec('delete from study')", "refused"),
    ("tsql", "select xp_cmdshell('dir')", "xp_cmdshell()"),
    ("tsql", "select dbo.purge_study(1)", "dbo.purge_study()"),
    ("tsql", "select * from dbo.evil_rows(1)", "dbo.evil_rows()"),
    ("tsql", "select ceil(1.5)", "ceil()"),
    ("tsql", "select * from linked.mvf.dbo.study", "linked server linked"),
    ("oracle", "select * from dbadmin.study@remote_db", "database link"),
    ("oracle", 'select * from "STUDY"@lnk', "database link"),
    ("oracle", "select s.x@lnk from dual s", "database link"),
    ("oracle", "select dbadmin.f@lnk(1) from dual", "F@LNK()"),
    # SQLite
    ("sqlite", "select load_extension('/tmp/evil.so')", "load_extension()"),
    ("sqlite", "select writefile('/tmp/x', 'y')", "writefile()"),
    ("sqlite", "select fts3_tokenizer('simple')", "fts3_tokenizer()"),
    ("generic", "select upper(a), mystery(a) from t", "mystery()"),
]


@pytest.mark.parametrize("dialect,sql,name", REFUSED_FUNCTIONS, ids=[f"{d}-{i}" for i, (d, _, _) in enumerate(REFUSED_FUNCTIONS)])
def test_functions_off_the_list_are_refused_by_name(dialect, sql, name):
    with pytest.raises(ReadOnlyViolation, match="^refused: ") as info:
        ensure_read_only(sql, dialect)
    assert name in str(info.value)


@pytest.mark.parametrize("dialect,sql", [
    ("postgres", "select pg_catalog.upper(a), coalesce(a, b), string_agg(a, ','), substr(a, 1, 2) from t"),
    ("postgres", "select f.x from generate_series(1, 3) as f(x)"),
    ("postgres", "with c(x) as (select 1) select x from c"),
    ("postgres", "select pg_size_pretty(pg_total_relation_size('map_event_audit')), current_setting('server_version_num')"),
    ("oracle", "select nvl(dummy, 0), decode(dummy, 1, 'x', 'y'), to_char(sysdate, 'YYYY'), trunc(sysdate) from dual"),
    ("oracle", "select s.study_uid, dbadmin.study.accession from dbadmin.study s, dbadmin.study"),
    ("oracle", "select listagg(name, ',') within group (order by name) from v$parameter"),
    ("tsql", "select isnull(a, 0), convert(int, b), datediff(minute, c, getdate()), iif(a = 1, 1, 0) from t"),
    ("tsql", "select cast(serverproperty('ProductVersion') as nvarchar(128)), db_name(), object_id('dbo.study')"),
    ("sqlite", "select ifnull(a, 0), group_concat(a), strftime('%Y', 'now'), typeof(a) from t"),
])
def test_built_ins_pass(dialect, sql):
    ensure_read_only(sql, dialect)


def test_a_site_may_allow_a_named_function_but_never_a_door():
    ensure_read_only("select dbadmin.study_age(s.id) from dbadmin.study s", "postgres", allow={"dbadmin.study_age"})
    ensure_read_only("select dbadmin.purge_all from dual", "oracle", allow={"dbadmin.purge_all"})
    # the unqualified name does not cover another schema's function of the same name
    with pytest.raises(ReadOnlyViolation, match="public.study_age"):
        ensure_read_only("select public.study_age(1)", "postgres", allow={"dbadmin.study_age"})
    # what runs SQL text or changes state is refused even when a caller passes it in
    with pytest.raises(ReadOnlyViolation, match="query_to_xml"):
        ensure_read_only("select query_to_xml('select 1', true, false, '')", "postgres", allow={"query_to_xml"})
    with pytest.raises(ReadOnlyViolation, match="DBMS_SQL"):
        ensure_read_only("select dbms_sql.open_cursor() from dual", "oracle", allow={"dbms_sql.open_cursor"})


def test_deferred_mode_accepts_unlisted_functions_only():
    # a declarative file is checked when it loads, before a site's inventory is known
    ensure_read_only("select dbadmin.study_age(1)", "postgres", defer_unlisted=True)
    for sql in ("select query_to_xml('select 1', true, false, '')", "select 1; delete from t", "delete from t"):
        with pytest.raises(ReadOnlyViolation):
            ensure_read_only(sql, "postgres", defer_unlisted=True)


def test_every_refusal_is_listed_at_once_with_the_inventory_fix():
    with pytest.raises(ReadOnlyViolation) as info:
        ensure_read_only("select one_udf(), two_udf() from t", "postgres")
    text = str(info.value)
    assert "one_udf()" in text and "two_udf()" in text
    assert '[site.sql] allow_functions = [{ name = "one_udf", reason = "..." }]' in text


def test_the_lists_are_consistent():
    for dialect, names in fn.ALLOWED.items():
        for name in names:
            assert name == name.lower() and name.replace("_", "").isalnum(), (dialect, name)
            assert fn.never_reason(name) is None, (dialect, name)  # nothing allowed is also forbidden
    assert fn.allowed_in("mssql") == fn.ALLOWED["tsql"] and fn.allowed_in("informix") == fn.COMMON
    assert fn.site_function_problem("dbadmin.study_age") is None
    assert "dynamic SQL" in fn.site_function_problem("pg_catalog.query_to_xml")
    assert "no inventory may allow it" in fn.site_function_problem("dbms_lock.sleep")
    assert "not a function name" in fn.site_function_problem("x; drop table y")


def test_the_installed_sqlglot_records_where_functions_are_written():
    # the allowlist reads the name as the query writes it (NVL, not sqlglot's COALESCE): without
    # positions the guard refuses everything rather than guess
    from impax_preflight.db import readonly

    assert readonly._positions_recorded()
