"""Every other statement the database checks send, per dialect, and the whole catalogue for the tests.

Identifiers from the inventory (schema, tablespace names, object names) are validated with the SQL
kit (`impax_preflight.sql`) before they reach SQL text. `all_statements()` hands the whole
catalogue (these and the integrity scans) to the tests: each must parse in its dialect and pass
the read-only guard. Not a plugin (leading underscore).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from impax_preflight.dialects import DIALECTS
from impax_preflight.sql import (
    IdentifierError,
    identifier,
    limited,
    qualified,
    sql_literal,
)

from . import _dictionary
from ._integrity import (
    CORE_TABLES,
    DEFAULT_EXAMPLE_KEYS,
    DUPLICATE_COLUMN,
    DUPLICATE_TABLE,
    EXAMPLES,
    NULL_CHECKS,
    ORACLE_SID_SQL,
    dictionary_questions,
    duplicate_scan_sql,
    exists_sql,
    null_examples_sql,
    null_scan_sql,
    oracle_longops_sql,
    parallel_hint,
    sample_source,
)

if TYPE_CHECKING:  # pragma: no cover
    from impax_preflight.context import CheckContext


REQUIRED_TABLESPACES = ("MVFL", "MVFLINDX", "MVF", "MVFINDX")


def oracle_tablespace_sql(names: list[str]) -> str:
    """Usable space per tablespace: free now (outer join: a full tablespace has no free rows) plus
    autoextend headroom (maxbytes - bytes for autoextensible files; maxbytes is 0 otherwise)."""
    lits = ", ".join(sql_literal(identifier(n, "tablespace name").upper()) for n in names)
    return (
        "select t.tablespace_name, t.contents, d.size_bytes, d.headroom_bytes, d.files, d.autoextensible_files, "
        "nvl(f.free_bytes, 0) as free_bytes "
        "from dba_tablespaces t "
        "left outer join (select tablespace_name, sum(bytes) as size_bytes, "
        "sum(case when autoextensible = 'YES' and maxbytes > bytes then maxbytes - bytes else 0 end) as headroom_bytes, "
        "count(*) as files, sum(case when autoextensible = 'YES' then 1 else 0 end) as autoextensible_files "
        "from dba_data_files group by tablespace_name) d on d.tablespace_name = t.tablespace_name "
        "left outer join (select tablespace_name, sum(bytes) as free_bytes from dba_free_space group by tablespace_name) f "
        "on f.tablespace_name = t.tablespace_name "
        f"where upper(t.tablespace_name) in ({lits}) or t.contents = 'UNDO' "
        "order by t.tablespace_name"
    )


ORACLE_FRA_SQL = "select name, space_limit, space_used, space_reclaimable, number_of_files from v$recovery_file_dest"


def oracle_old_backupsets_sql(days: float) -> str:
    return limited(
        "select recid as bs_key, backup_type, incremental_level, completion_time, pieces "
        f"from v$backup_set where completion_time < sysdate - {float(days):g} order by completion_time",
        "oracle",
        50,
    )


ORACLE_RMAN_JOBS_SQL = (
    "select max(end_time) as last_end, (sysdate - max(end_time)) * 24 as age_hours, count(*) as jobs "
    "from v$rman_backup_job_details where status = 'COMPLETED' and input_type = 'DB FULL'"
)
#: the fallback on old releases (or without a recent DB FULL job): per data file, its newest full or
#: level-0 backup in v$backup_datafile (file# > 0: file 0 is the control file; incremental_level NULL
#: is a full backup, 0 a level-0 incremental), and the oldest of those: when the whole database was
#: last backed up. v$backup_set's backup_type 'D' is not that: a control-file autobackup is a 'D'
#: set, and a level-0 incremental is an 'I' set
ORACLE_BACKUP_DATAFILE_SQL = (
    "select min(f.last_end) as last_end, (sysdate - min(f.last_end)) * 24 as age_hours, count(*) as files, "
    "count(f.last_end) as backed_up "
    "from (select d.file#, max(b.completion_time) as last_end from v$datafile d "
    "left outer join v$backup_datafile b on b.file# = d.file# and b.file# > 0 "
    "and (b.incremental_level is null or b.incremental_level = 0) group by d.file#) f"
)


def mssql_backup_sql(database_name: str) -> str:
    name = sql_literal(identifier(database_name, "database name"))
    return (
        "select max(backup_finish_date) as last_end, "
        "datediff(minute, max(backup_finish_date), getdate()) / 60.0 as age_hours, count(*) as sets "
        f"from msdb.dbo.backupset where type = 'D' and database_name = {name}"
    )


MSSQL_FILES_SQL = (
    "select name, type_desc, physical_name, size, max_size, growth, is_percent_growth, "
    "fileproperty(name, 'SpaceUsed') as used_pages from sys.database_files"
)


def mssql_mirroring_sql(database_name: str) -> str:
    name = sql_literal(identifier(database_name, "database name"))
    return (
        "select d.name, m.mirroring_state_desc, m.mirroring_role_desc, m.mirroring_safety_level_desc, "
        "m.mirroring_witness_state_desc, m.mirroring_partner_instance, m.mirroring_witness_name, "
        "@@servername as server_name "
        "from sys.databases d join sys.database_mirroring m on m.database_id = d.database_id "
        f"where upper(d.name) = upper({name})"
    )


MSSQL_SERVERPROPERTY_SQL = (
    "select cast(serverproperty('ProductVersion') as nvarchar(128)) as product_version, "
    "cast(serverproperty('ProductLevel') as nvarchar(128)) as product_level, "
    "cast(serverproperty('Edition') as nvarchar(128)) as edition, "
    "cast(serverproperty('InstanceName') as nvarchar(128)) as instance_name, "
    "cast(serverproperty('IsIntegratedSecurityOnly') as int) as integrated_security_only"
)

VERSION_SQL = {
    "oracle": "select banner as version from v$version",
    "tsql": "select @@version as version",
    "postgres": "select version() as version",
    "sqlite": "select 'SQLite ' || sqlite_version() as version",
}


def map_event_audit_size_sql(dialect: str, schema: str | None) -> str:
    """Size of MAP_EVENT_AUDIT as the guide measures it (KB), without EXEC (sp_spaceused is refused)."""
    if dialect == "oracle":
        if schema:  # another user's segments: DBA_SEGMENTS (SELECT_CATALOG_ROLE)
            return (
                "select ceil(sum(bytes) / 1024) as size_kb from dba_segments "
                f"where owner = {sql_literal(schema.upper())} and segment_name = 'MAP_EVENT_AUDIT' and segment_type = 'TABLE'"
            )
        return "select ceil(sum(bytes) / 1024) as size_kb from user_segments where segment_name = 'MAP_EVENT_AUDIT' and segment_type = 'TABLE'"
    if dialect == "tsql":
        # sp_spaceused's "reserved" = total pages of the table's allocation units
        obj = sql_literal(f"{schema or 'dbo'}.map_event_audit")
        return (
            "select sum(a.total_pages) * 8 as size_kb, sum(a.used_pages) * 8 as used_kb "
            "from sys.allocation_units a join sys.partitions p "
            "on (a.type in (1, 3) and a.container_id = p.hobt_id) or (a.type = 2 and a.container_id = p.partition_id) "
            f"where p.object_id = object_id({obj})"
        )
    if dialect == "postgres":
        rel = sql_literal(f"{schema}.map_event_audit" if schema else "map_event_audit")
        return f"select pg_total_relation_size({rel}) / 1024 as size_kb"
    raise IdentifierError(f"no size query for {dialect}")


def mig_schema_sql(dialect: str, schema: str | None, names: list[str]) -> str:
    lits = ", ".join(sql_literal(identifier(n, "object name").upper()) for n in names)
    if dialect == "oracle":
        owner = f"owner = {sql_literal(schema.upper())}" if schema else "owner = user"
        return f"select object_name as name, object_type as type from all_objects where {owner} and upper(object_name) in ({lits})"
    if dialect == "tsql":
        return (
            "select name, type_desc as type from sys.objects "
            f"where schema_name(schema_id) = {sql_literal(schema or 'dbo')} and upper(name) in ({lits})"
        )
    if dialect == "postgres":
        sch = sql_literal(schema.lower()) if schema else "current_schema()"
        return f"select table_name as name, table_type as type from information_schema.tables where table_schema = {sch} and upper(table_name) in ({lits})"
    return f"select name, type from sqlite_master where upper(name) in ({lits})"


def report_source_sql(table_q: str) -> str:
    return f"select distinct requesting_service from {table_q}"


ARCHIVE_DEFAULT_WHERE = "archive_status is null or upper(archive_status) <> 'ARCHIVED'"


def archive_default_sql(table_q: str) -> str:
    return f"select count(*) as not_archived from {table_q} where {ARCHIVE_DEFAULT_WHERE}"


def archive_examples_sql(table_q: str, dialect: str) -> str:
    return limited(
        f"select study_uid, accession_number, archive_status from {table_q} where {ARCHIVE_DEFAULT_WHERE}", dialect, EXAMPLES
    )


def all_statements() -> list[tuple[str, str, str]]:
    """Every statement the database checks can emit, as (check id, dialect, sql), for the tests."""
    out: list[tuple[str, str, str]] = []
    for dialect in DIALECTS:
        schema = {"oracle": "DBADMIN", "tsql": "dbo", "postgres": "public", "sqlite": None}[dialect]
        for table, pairs in NULL_CHECKS.items():
            tq = qualified(table, schema, dialect)
            cols = [c for _, c in pairs]
            for cid, col in pairs:
                out.append((cid, dialect, null_scan_sql(tq, cols)))
                out.append((cid, dialect, null_examples_sql(tq, DEFAULT_EXAMPLE_KEYS[table], [col], dialect, EXAMPLES)))
        dq = qualified(DUPLICATE_TABLE, schema, dialect)
        out.append(("integrity.object_document_unique", dialect, duplicate_scan_sql(dq, dialect)))
        out += _integrity_planning_statements(dialect, schema)
        out.append(("db.version", dialect, VERSION_SQL[dialect]))
        out.append(("cm.report_source", dialect, report_source_sql(qualified("mcf_service_request", schema, dialect))))
        out.append(("prereq.mig_schema", dialect, mig_schema_sql(dialect, schema, ["MIG_STUDY", "MIG_SERIES"])))
        tq = qualified("dosr_study", schema, dialect)
        out.append(("archive.study_status", dialect, archive_default_sql(tq)))
        out.append(("archive.study_status", dialect, archive_examples_sql(tq, dialect)))
        out.append(("archive.study_status", dialect, _dictionary.tables_sql(dialect, schema, ["dosr_study"])))
        out.append(("archive.study_status", dialect, archive_default_sql(sample_source(tq, ["archive_status"], dialect))))
        fallback = _dictionary.tables_fallback_sql(dialect, schema, ["dosr_study"])
        if fallback:
            out.append(("archive.study_status", dialect, fallback))
        if dialect == "sqlite":
            out.append(("archive.study_status", dialect, _dictionary.sqlite_counts_sql(["dosr_study"])))
        if dialect != "sqlite":
            out.append(("backup.map_event_audit", dialect, map_event_audit_size_sql(dialect, schema)))
    out.append(("backup.map_event_audit", "oracle", map_event_audit_size_sql("oracle", None)))
    out.append(("oracle.tablespace_free", "oracle", oracle_tablespace_sql(list(REQUIRED_TABLESPACES))))
    out.append(("oracle.recovery_area", "oracle", ORACLE_FRA_SQL))
    out.append(("oracle.recovery_area", "oracle", oracle_old_backupsets_sql(7)))
    out.append(("backup.database_recent", "oracle", ORACLE_RMAN_JOBS_SQL))
    out.append(("backup.database_recent", "oracle", ORACLE_BACKUP_DATAFILE_SQL))
    out.append(("backup.database_recent", "tsql", mssql_backup_sql("mvf")))
    out.append(("mssql.database_space", "tsql", MSSQL_FILES_SQL))
    out.append(("mirroring.state", "tsql", mssql_mirroring_sql("mvf")))
    out.append(("mirroring.principal_on_primary", "tsql", mssql_mirroring_sql("mvf")))
    out.append(("prereq.sqlserver_version", "tsql", MSSQL_SERVERPROPERTY_SQL))
    return out


def _integrity_planning_statements(dialect: str, schema: str | None) -> list[tuple[str, str, str]]:
    """The data dictionary questions, the timed samples, the emptiness probes and (Oracle) the
    parallel-hinted scans of the integrity checks, as they are sent with the default settings."""
    cid = "integrity.study_uid"  # the dictionary statements serve every integrity check
    questions = dictionary_questions({})
    tables = list(questions)
    columns = sorted({c for cols in questions.values() for c in cols}, key=str.lower)
    out = [(cid, dialect, _dictionary.tables_sql(dialect, schema, tables)),
           (cid, dialect, _dictionary.columns_sql(dialect, schema, tables, columns)),
           ("integrity.object_document_unique", dialect, _dictionary.unique_sql(dialect, schema, DUPLICATE_TABLE, DUPLICATE_COLUMN))]
    fallback = _dictionary.tables_fallback_sql(dialect, schema, tables)
    if fallback:
        out.append((cid, dialect, fallback))
    if dialect == "sqlite":
        out.append((cid, dialect, _dictionary.sqlite_counts_sql(tables)))
    for table, pairs in NULL_CHECKS.items():
        tq = qualified(table, schema, dialect)
        cols = [c for _, c in pairs]
        out.append((pairs[0][0], dialect, null_scan_sql(sample_source(tq, cols, dialect), cols)))
        if dialect == "oracle":
            hint, alias = parallel_hint({"oracle_parallel_degree": 4}, dialect)
            out.append((pairs[0][0], dialect, null_scan_sql(tq + alias, cols, hint)))
    dq = qualified(DUPLICATE_TABLE, schema, dialect)
    out.append(("integrity.object_document_unique", dialect, duplicate_scan_sql(sample_source(dq, [DUPLICATE_COLUMN], dialect), dialect)))
    if dialect == "oracle":
        hint, alias = parallel_hint({"oracle_parallel_degree": 4}, dialect)
        out.append(("integrity.object_document_unique", dialect, duplicate_scan_sql(dq + alias, dialect, hint=hint)))
    for table in CORE_TABLES:
        out.append((cid, dialect, exists_sql(qualified(table, schema, dialect), dialect)))
    if dialect == "oracle":
        out += [(cid, dialect, ORACLE_SID_SQL), (cid, dialect, oracle_longops_sql(123))]
    return out


def is_mirrored_sqlserver(site, host, db) -> bool | str:
    """SQL Server database with mirroring = true in the inventory"""
    return True if db is not None and db.mirroring else "database mirroring is not declared for this database (mirroring = true)"


def database_name(ctx: "CheckContext") -> str:
    """The engine's name for the database (SQL Server): `database` from the inventory, else its `name`."""
    db = ctx.database
    return identifier((db.database if db and db.database else None) or (db.name if db else ""), "database name")


def gb(nbytes: float | None) -> float:
    return round((nbytes or 0) / 1024**3, 2)
