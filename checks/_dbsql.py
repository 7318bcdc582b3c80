"""Shared SQL for the database checks: identifiers, per-dialect statements, one scan per table.

Not a plugin (leading underscore). Every statement a database check can send is built here, so
`all_statements()` can hand the whole catalogue to the tests (each must parse in its dialect and
pass the read-only guard). Identifiers that come from the inventory (schema, tablespace names,
object names) are validated against a strict pattern before they reach SQL text; nothing a user
typed is pasted into a statement unchecked.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from impax_preflight.check import evidence_from_query
from impax_preflight.db.base import DatabaseError
from impax_preflight.model import Evidence
from impax_preflight.secrets import mask

if TYPE_CHECKING:  # pragma: no cover
    from impax_preflight.check import CheckContext
    from impax_preflight.inventory import Database

DIALECTS = ("oracle", "tsql", "postgres", "sqlite")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$#]{0,127}$")
#: how many example keys a finding shows
EXAMPLES = 10

GUIDE_INTEGRITY = "Checking the integrity of database data"
INTEGRITY_REMEDIATION = (
    "If duplicates or nulls are found, contact Agfa support for assistance in dealing with them: "
    "send them this finding (count, example keys and the SQL that ran). Do not correct the rows yourself."
)


class ConfigError(ValueError):
    """A setting in the inventory that cannot be used (e.g. a schema name that is not an identifier)."""


def identifier(name: Any, what: str = "identifier") -> str:
    """`name` if it is a plain SQL identifier (letters, digits, _ $ #), else ConfigError saying where to fix it."""
    text = str(name or "").strip()
    if not _IDENT.match(text):
        raise ConfigError(
            f"{what} {name!r} is not a plain SQL identifier (letters, digits, _, $ or #, starting with a letter); "
            "fix it in the inventory"
        )
    return text


def sql_literal(text: str) -> str:
    """A quoted SQL string literal (only ever used for values already validated as identifiers)."""
    return "'" + str(text).replace("'", "''") + "'"


def default_schema(dialect: str) -> str | None:
    return {"oracle": None, "tsql": "dbo", "postgres": None, "sqlite": None}.get(dialect)


def schema_of(database: "Database | None", dialect: str) -> str | None:
    """The table owner from the inventory (`schema`), validated; None means the session's default."""
    raw = database.schema if database is not None else None
    if raw:
        return identifier(raw, "database schema")
    return default_schema(dialect)


def qualified(table: str, schema: str | None, dialect: str) -> str:
    """`schema.table` (unquoted: both are validated identifiers, and unquoted names match in any case)."""
    table = identifier(table, "table name")
    if schema and dialect != "sqlite":
        return f"{identifier(schema, 'schema')}.{table}"
    return table


def limited(select_body: str, dialect: str, n: int) -> str:
    """`select_body` (starting with 'select ') returning at most n rows, in the dialect's words.

    Oracle uses ROWNUM (FETCH FIRST needs 12c; IMPAX 6.x sites run older releases).
    """
    n = int(n)
    if dialect == "tsql":
        assert select_body[:7].lower() == "select "
        return f"select top {n} " + select_body[7:]
    if dialect == "oracle":
        return f"select * from ({select_body}) where rownum <= {n}"
    return f"{select_body} limit {n}"


# ---- integrity: the guide's twelve queries, one scan per table ---------------------------------

#: table -> [(check id, column)] for the NULL checks; tables read once for all their columns
NULL_CHECKS: dict[str, list[tuple[str, str]]] = {
    "dosr_his_study": [("integrity.his_study_uid", "study_uid")],
    "dosr_study": [("integrity.study_uid", "study_uid")],
    "dosr_object": [("integrity.object_sop_instance_uid", "sop_instance_uid"), ("integrity.object_series_ref", "series_ref")],
    "map_job": [("integrity.map_job_user", "originating_user_id")],
    "map_event": [("integrity.map_event_user", "user_id")],
    "map_event_audit": [("integrity.map_event_audit_user", "user_id")],
    "mitra_folder": [("integrity.folder_name", "folder_name")],
    "mitra_folder_item": [("integrity.folder_item_name", "item_name")],
    "mitra_print_params": [("integrity.print_params_user", "user_id")],
    "agfahc_report_access_config": [("integrity.report_access_ae_title", "ae_title")],
}
DUPLICATE_TABLE, DUPLICATE_COLUMN = "dosr_object_document", "object_ref"

#: The column shown as an example key for a row with a NULL. The guide does not name the tables'
#: keys; these are the demo schema's, and a site sets its own:
#: [site.options.integrity] example_keys = { dosr_object = "OBJECT_REF", ... }
DEFAULT_EXAMPLE_KEYS: dict[str, str] = {
    "dosr_his_study": "his_study_ref",
    "dosr_study": "study_ref",
    "dosr_object": "object_ref",
    "map_job": "job_ref",
    "map_event": "event_ref",
    "map_event_audit": "audit_ref",
    "mitra_folder": "folder_ref",
    "mitra_folder_item": "item_ref",
    "mitra_print_params": "print_params_ref",
    "agfahc_report_access_config": "config_ref",
}

#: the guide's own statements (quoted in findings so the engineer can compare)
GUIDE_SQL: dict[str, str] = {
    "integrity.object_document_unique": "select count(object_ref) from dosr_object_document where object_ref in "
    "(select object_ref from dosr_object_document group by object_ref having count(object_ref)>1)",
    **{cid: f"Select count(*) from {t} where {c} is NULL" for t, pairs in NULL_CHECKS.items() for cid, c in pairs},
}


def null_scan_sql(table_q: str, columns: list[str]) -> str:
    """One pass over a table: its row count and the NULL count of every column the guide checks.

    `count(*) - count(col)` is the number of NULLs and costs no per-row expression.
    """
    parts = ["count(*) as rows_scanned"] + [f"count(*) - count({identifier(c, 'column')}) as null_{i}" for i, c in enumerate(columns)]
    return f"select {', '.join(parts)} from {table_q}"


def null_examples_sql(table_q: str, key: str, columns: list[str], dialect: str, n: int) -> str:
    """Up to n rows having a NULL in any checked column (run only when the scan found some)."""
    cols = [identifier(c, "column") for c in columns]
    where = " or ".join(f"{c} is null" for c in cols)
    return limited(f"select {identifier(key, 'example key column')} as example_key, {', '.join(cols)} from {table_q} where {where}", dialect, n)


def duplicate_scan_sql(table_q: str, dialect: str) -> str:
    """The duplicated object_refs in ONE pass (the guide's IN (subquery) form reads the table twice).

    ROLLUP adds a grand-total row (the rows scanned); HAVING keeps the duplicated refs and that row;
    the window sums (evaluated after HAVING) give the guide's number — rows whose object_ref occurs
    more than once — and the number of such refs on every row; the first rows are the examples.
    SQLite has no ROLLUP: it ranks every group in a window instead (fine at demo sizes).
    """
    col = DUPLICATE_COLUMN
    if dialect == "sqlite":
        inner = (
            f"select {col} as object_ref, count({col}) as n, 0 as is_total, sum(count(*)) over () as rows_scanned, "
            f"sum(case when count({col}) > 1 then count({col}) else 0 end) over () as duplicate_rows, "
            f"sum(case when count({col}) > 1 then 1 else 0 end) over () as duplicated_refs, "
            f"row_number() over (order by case when count({col}) > 1 then 0 else 1 end, {col}) as rn "
            f"from {table_q} group by {col}"
        )
        return f"select object_ref, n, is_total, rows_scanned, duplicate_rows, duplicated_refs from ({inner}) g where rn <= {EXAMPLES} order by rn"
    group = f"group by {col} with rollup" if dialect == "tsql" else f"group by rollup({col})"
    body = (
        f"select {col} as object_ref, count({col}) as n, grouping({col}) as is_total, count(*) as rows_scanned, "
        f"sum(case when grouping({col}) = 0 then count({col}) else 0 end) over () as duplicate_rows, "
        f"sum(case when grouping({col}) = 0 then 1 else 0 end) over () as duplicated_refs "
        f"from {table_q} {group} having count({col}) > 1 or grouping({col}) = 1"
    )
    if dialect == "oracle":
        return f"select * from ({body} order by grouping({col}) desc, {col}) where rownum <= {EXAMPLES + 1}"
    if dialect == "tsql":
        return limited(body + f" order by grouping({col}) desc, {col}", dialect, EXAMPLES + 1)
    return f"{body} order by grouping({col}) desc, {col} limit {EXAMPLES + 1}"


@dataclass
class TableScan:
    """What one pass over a table found; shared by every check reading that table."""

    table: str
    rows_scanned: int | None
    counts: dict[str, int]  # check id -> count
    evidence: list[Evidence]
    duration_s: float
    examples: dict[str, list[Any]] = field(default_factory=dict)  # check id -> example keys
    notes: list[str] = field(default_factory=list)
    example_key: str | None = None  # the column the examples show
    error: str | None = None  # why the counts cannot be trusted (then no check may pass on them)


def _session_dialect(ctx: "CheckContext") -> str:
    return getattr(ctx.sql, "dialect", "sqlite")


def run_shared(ctx: "CheckContext", sql: str, max_rows: int | None = None):
    """A query whose evidence is kept by the caller (shared scans attach it to every check's finding)."""
    db = ctx.database
    timeout = (db.statement_timeout_s if db else None) or ctx.thresholds.statement_timeout_s
    result = ctx.sql.query(sql, None, timeout=ctx.remaining(timeout), max_rows=max_rows)
    return result, evidence_from_query(result, ctx.target_name, getattr(ctx.sql, "kind", "sql"))


def integrity_options(ctx: "CheckContext") -> dict[str, Any]:
    return ctx.site.options.get("integrity", {})


def scan_null_table(ctx: "CheckContext", table: str) -> TableScan:
    """The NULL counts of one table, computed once per database target for all its checks."""
    return ctx.memo.get(("scan", table), lambda: _scan_null_table(ctx, table))


def _scan_null_table(ctx: "CheckContext", table: str) -> TableScan:
    dialect = _session_dialect(ctx)
    table_q = qualified(table, schema_of(ctx.database, dialect), dialect)
    pairs = NULL_CHECKS[table]
    columns = [c for _, c in pairs]
    start = time.monotonic()
    result, ev = run_shared(ctx, null_scan_sql(table_q, columns))
    if not result.rows or len(result.rows[0]) < len(columns) + 1:
        # an aggregate without GROUP BY always returns one row: none means the answer is unusable
        return TableScan(table, None, {cid: 0 for cid, _ in pairs}, [ev], round(time.monotonic() - start, 4),
                         error=f"the count over {table} returned {'no row' if not result.rows else 'too few columns'}: "
                         "nothing was counted")
    row = result.rows[0]
    rows_scanned = int(row[0] or 0)
    counts = {cid: int(row[i + 1] or 0) for i, (cid, _) in enumerate(pairs)}
    scan = TableScan(table, rows_scanned, counts, [ev], 0.0)
    if sum(counts.values()):
        key = integrity_options(ctx).get("example_keys", {}).get(table, DEFAULT_EXAMPLE_KEYS[table])
        scan.example_key = key
        try:
            # per column with NULLs: rows of one column must not crowd out another column's examples;
            # the exact number of defect rows (at most EXAMPLES) lets each query stop early
            for cid, col in pairs:
                if not counts[cid]:
                    continue
                n = min(counts[cid], EXAMPLES)
                ex, ev2 = run_shared(ctx, null_examples_sql(table_q, key, [col], dialect, n), max_rows=n)
                scan.evidence.append(ev2)
                scan.examples[cid] = [r[0] for r in ex.rows][:EXAMPLES]
        except (DatabaseError, ConfigError) as exc:
            scan.notes.append(
                f"example keys not listed: {mask(str(exc))[:300]} — the count above is unaffected; set "
                f'[site.options.integrity] example_keys = {{ {table} = "<key column>" }} to name this table\'s key'
            )
    scan.duration_s = round(time.monotonic() - start, 4)
    return scan


def scan_duplicates(ctx: "CheckContext") -> TableScan:
    return ctx.memo.get(("scan", DUPLICATE_TABLE), lambda: _scan_duplicates(ctx))


def _scan_duplicates(ctx: "CheckContext") -> TableScan:
    dialect = _session_dialect(ctx)
    table_q = qualified(DUPLICATE_TABLE, schema_of(ctx.database, dialect), dialect)
    start = time.monotonic()
    result, ev = run_shared(ctx, duplicate_scan_sql(table_q, dialect), max_rows=EXAMPLES + 1)
    rows = result.dicts()
    cid = "integrity.object_document_unique"
    if not rows:  # an empty table
        return TableScan(DUPLICATE_TABLE, 0, {cid: 0}, [ev], round(time.monotonic() - start, 4))
    first = rows[0]
    if dialect == "sqlite":
        rows_scanned = int(first["rows_scanned"] or 0)
    else:
        total = [r for r in rows if int(r["is_total"] or 0) == 1]
        rows_scanned = int(total[0]["rows_scanned"]) if total else None
    examples = [r["object_ref"] for r in rows if int(r["is_total"] or 0) == 0 and int(r["n"] or 0) > 1][:EXAMPLES]
    scan = TableScan(DUPLICATE_TABLE, rows_scanned, {cid: int(first["duplicate_rows"] or 0)}, [ev], round(time.monotonic() - start, 4))
    scan.examples[cid] = examples
    scan.example_key = DUPLICATE_COLUMN
    scan.counts["duplicated_refs"] = int(first["duplicated_refs"] or 0)
    return scan


# ---- the other checks' statements ----------------------------------------------------------------

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
#: backup_type D = a full or level-0 incremental backup of data files (the fallback on old releases)
ORACLE_BACKUP_SET_SQL = (
    "select max(completion_time) as last_end, (sysdate - max(completion_time)) * 24 as age_hours, count(*) as sets "
    "from v$backup_set where backup_type = 'D'"
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
    raise ConfigError(f"no size query for {dialect}")


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
        out.append(("integrity.object_document_unique", dialect, duplicate_scan_sql(qualified(DUPLICATE_TABLE, schema, dialect), dialect)))
        out.append(("db.version", dialect, VERSION_SQL[dialect]))
        out.append(("cm.report_source", dialect, report_source_sql(qualified("mcf_service_request", schema, dialect))))
        out.append(("prereq.mig_schema", dialect, mig_schema_sql(dialect, schema, ["MIG_STUDY", "MIG_SERIES"])))
        tq = qualified("dosr_study", schema, dialect)
        out.append(("archive.study_status", dialect, archive_default_sql(tq)))
        out.append(("archive.study_status", dialect, archive_examples_sql(tq, dialect)))
        if dialect != "sqlite":
            out.append(("backup.map_event_audit", dialect, map_event_audit_size_sql(dialect, schema)))
    out.append(("backup.map_event_audit", "oracle", map_event_audit_size_sql("oracle", None)))
    out.append(("oracle.tablespace_free", "oracle", oracle_tablespace_sql(list(REQUIRED_TABLESPACES))))
    out.append(("oracle.recovery_area", "oracle", ORACLE_FRA_SQL))
    out.append(("oracle.recovery_area", "oracle", oracle_old_backupsets_sql(7)))
    out.append(("backup.database_recent", "oracle", ORACLE_RMAN_JOBS_SQL))
    out.append(("backup.database_recent", "oracle", ORACLE_BACKUP_SET_SQL))
    out.append(("backup.database_recent", "tsql", mssql_backup_sql("mvf")))
    out.append(("mssql.database_space", "tsql", MSSQL_FILES_SQL))
    out.append(("mirroring.state", "tsql", mssql_mirroring_sql("mvf")))
    out.append(("mirroring.principal_on_primary", "tsql", mssql_mirroring_sql("mvf")))
    out.append(("prereq.sqlserver_version", "tsql", MSSQL_SERVERPROPERTY_SQL))
    return out


# ---- applicability ------------------------------------------------------------------------------


def db_dialect(db: "Database") -> str:
    """The SQL dialect a database speaks, from the inventory (kind, or `dialect` for kind=odbc)."""
    if db.kind == "oracle":
        return "oracle"
    if db.kind == "mssql":
        return "tsql"
    if db.kind == "sqlite":
        return "sqlite"
    d = (db.dialect or "").lower()
    return {"mssql": "tsql", "sqlserver": "tsql", "postgresql": "postgres"}.get(d, d or "unknown")


def is_oracle(site, host, db) -> bool | str:
    """the database is Oracle (kind oracle, or kind odbc with dialect oracle)"""
    return True if db is not None and db_dialect(db) == "oracle" else f"not an Oracle database (dialect {db_dialect(db) if db else '-'})"


def is_sqlserver(site, host, db) -> bool | str:
    """the database is SQL Server (kind mssql, or kind odbc with dialect tsql)"""
    return True if db is not None and db_dialect(db) == "tsql" else f"not a SQL Server database (dialect {db_dialect(db) if db else '-'})"


def is_mirrored_sqlserver(site, host, db) -> bool | str:
    """SQL Server database with mirroring = true in the inventory"""
    ok = is_sqlserver(site, host, db)
    if ok is not True:
        return ok
    return True if db.mirroring else "database mirroring is not declared for this database (mirroring = true)"


def database_name(ctx: "CheckContext") -> str:
    """The engine's name for the database (SQL Server): `database` from the inventory, else its `name`."""
    db = ctx.database
    return identifier((db.database if db and db.database else None) or (db.name if db else ""), "database name")


def gb(nbytes: float | None) -> float:
    return round((nbytes or 0) / 1024**3, 2)
