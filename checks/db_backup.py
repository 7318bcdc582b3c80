"""Backups and saved data on the database side: a recent full backup, and the MAP_EVENT_AUDIT export.

Guide: "Backing up the AS300 SQL 2005 database", "Backing up the AS300 Oracle for Windows
database", "Backing up the AS3000 Oracle database", and "Saving the map_event_audit tables ...".
"""

from __future__ import annotations

import re

from impax_preflight import options
from impax_preflight.check import CheckContext, check, register_module_checks
from impax_preflight.db.base import ObjectMissing
from impax_preflight.hookspecs import hookimpl
from impax_preflight.parsers import ParseError
from impax_preflight.parsers.df import parse_df
from impax_preflight.probes import ReadError, probe
from impax_preflight.sql import schema_of

from ._statements import (
    ORACLE_BACKUP_DATAFILE_SQL,
    ORACLE_RMAN_JOBS_SQL,
    database_name,
    map_event_audit_size_sql,
    mssql_backup_sql,
)

_BACKUP_HOWTO = {
    ("oracle", "AS3000"): "Back up the database as in 'Backing up the AS3000 Oracle database': log in as the oracle "
    "(or service) user on the AS3000 Database Server and run /usr/mvf/bin/runbackup.",
    ("oracle", "AS300"): "Back up the database as in 'Backing up the AS300 Oracle for Windows database': log in as "
    "AgfaService, change to C:\\mvf\\bin and type: bash runbackup.",
    ("tsql", None): "Back up the database as in 'Backing up the AS300 SQL 2005 database': SQL Server Management Studio "
    "(run as AgfaService) > Databases > database > Tasks > Backup, type Full (Database-complete); on a mirrored "
    "pair, on the primary server.",
}


def _howto(ctx: CheckContext, dialect: str) -> str:
    return _BACKUP_HOWTO.get((dialect, ctx.site.platform)) or _BACKUP_HOWTO.get((dialect, None)) or _BACKUP_HOWTO[("oracle", "AS3000")]


def _judge(ctx: CheckContext, dialect: str, source: str, row: dict, fallback_note: str | None = None):
    max_h = ctx.thresholds.backup_max_age_hours
    age = row.get("age_hours")
    values = {"last_full_backup": str(row.get("last_end")) if row.get("last_end") is not None else None,
              "age_hours": round(float(age), 1) if age is not None else None, "max_age_hours": max_h, "source": source}
    prefix = f"{fallback_note}; " if fallback_note else ""
    if row.get("last_end") is None:
        return ctx.fail(f"{prefix}no successful full backup is recorded in {source}", values=values, remediation=_howto(ctx, dialect))
    if float(age) > max_h:
        return ctx.fail(f"{prefix}the last successful full backup ended {values['last_full_backup']}, "
                        f"{values['age_hours']:g} h ago (more than {max_h:g} h; {source})", values=values,
                        remediation=_howto(ctx, dialect))
    return ctx.passed(f"{prefix}last successful full backup ended {values['last_full_backup']}, {values['age_hours']:g} h ago "
                      f"({source})", values=values)


@check(
    "backup.database_recent",
    "A successful full database backup within the last 24 hours",
    "blocker",
    "database",
    db_purposes=["impax"],
    guide="Backing up the AS3000 Oracle database; Backing up the AS300 Oracle for Windows database; Backing up the AS300 SQL 2005 database",
    remediation="Take a full database backup before the upgrade, as the guide describes for the platform: "
    + " / ".join(_BACKUP_HOWTO.values()),
    description="Oracle: v$rman_backup_job_details (COMPLETED, DB FULL), else, on releases without it or when no DB FULL "
    "job is recent, v$backup_datafile: every data file's newest full or level-0 backup (file# > 0, incremental_level "
    "NULL or 0; control-file and archived-log backups do not count), the oldest of them being the database's last full "
    "backup, and a data file without one fails; SQL Server: msdb.dbo.backupset type D. Age computed by the server's clock.",
)
def database_recent(ctx: CheckContext):
    dialect = ctx.sql.dialect
    if dialect == "oracle":
        note = None
        try:
            row = ctx.query(ORACLE_RMAN_JOBS_SQL).dicts()[0]
            recent = row.get("age_hours") is not None and float(row["age_hours"]) <= ctx.thresholds.backup_max_age_hours
            if recent:
                return _judge(ctx, dialect, "v$rman_backup_job_details", row)
            note = "no recent DB FULL job in v$rman_backup_job_details; v$backup_datafile (full or level-0 data file backups) consulted"
        except ObjectMissing:
            note = ("v$rman_backup_job_details is not available (older release or no privilege); v$backup_datafile (full or "
                    "level-0 data file backups) used instead")
        try:
            row = ctx.query(ORACLE_BACKUP_DATAFILE_SQL).dicts()[0]
        except ObjectMissing as exc:
            return ctx.error(f"cannot read RMAN's backup records ({exc}): the login needs SELECT on "
                             "V_$RMAN_BACKUP_JOB_DETAILS, V_$BACKUP_DATAFILE and V_$DATAFILE (SELECT_CATALOG_ROLE)")
        files, backed_up = int(row.get("files") or 0), int(row.get("backed_up") or 0)
        if 0 < backed_up < files:  # none at all: _judge says "no successful full backup"
            return ctx.fail(f"{note}; {files - backed_up} of {files} data files have no full or level-0 backup in "
                            "v$backup_datafile: the database has no complete full backup",
                            values={"files": files, "backed_up": backed_up, "source": "v$backup_datafile",
                                    "max_age_hours": ctx.thresholds.backup_max_age_hours},
                            remediation=_howto(ctx, dialect))
        return _judge(ctx, dialect, "v$backup_datafile (the oldest data file's newest full or level-0 backup)", row, note)
    if dialect == "tsql":
        name = database_name(ctx)
        try:
            row = ctx.query(mssql_backup_sql(name)).dicts()[0]
        except ObjectMissing as exc:
            return ctx.error(f"cannot read msdb.dbo.backupset ({exc}): the login needs SELECT on msdb.dbo.backupset "
                             "(e.g. db_datareader in msdb)")
        return _judge(ctx, dialect, f"msdb.dbo.backupset for database {name}", row)
    # not verified is not ready: a warning the operator must clear, not a quiet skip
    return ctx.warn(f"backup history is read from Oracle or SQL Server; this is a {dialect} database, so its backup "
                    "was not verified — confirm by hand that a full backup finished recently")


# ---- MAP_EVENT_AUDIT ----------------------------------------------------------------------------

_UNSAFE_PATH = re.compile(r"""['"`$%!;&|<>\r\n*?]""")
_DIR_FREE = re.compile(r"([\d][\d.,' \u00a0]*)\s+(?:bytes free|Bytes frei|octets libres|bytes libres)", re.IGNORECASE)


def _export_dir(site, host) -> dict[str, str] | None:
    """The export location from the site's options, when it is set and safe to put on a command line."""
    path = str(((site.options if site else {}).get("backup.map_event_audit") or {}).get("export_dir") or "")
    return {"export_dir": path} if path and not _UNSAFE_PATH.search(path) else None


def _dir_free_kb(text: str, notes: list[str] | None = None) -> int:
    m = _DIR_FREE.findall(text)
    if not m:
        raise ParseError("no 'bytes free' line in the dir output", excerpt=text)
    return int(re.sub(r"\D", "", m[-1])) // 1024


def _df_free_kb(text: str, notes: list[str] | None = None) -> int:
    rows = parse_df(text)
    if not rows:
        raise ParseError("df listed no file system", excerpt=text)
    return rows[-1].avail_kb


EXPORT_FREE = probe(
    "export_dir.free", "the free space at the export location", None,
    windows=('dir /-c "{export_dir}"', _dir_free_kb),
    solaris=("LC_ALL=C df -k '{export_dir}'", _df_free_kb),
    linux=("LC_ALL=C df -k '{export_dir}'", _df_free_kb),
    arguments=_export_dir,
    strict_rc=True,
)


_EXPORT_HOWTO = (
    "Before the upgrade, save MAP_EVENT_AUDIT as in the guide: Oracle — exp userid=dbadmin file=<location>/MAP_EVENT_AUDIT.dmp "
    "tables=MAP_EVENT_AUDIT (exp asks for the password), then truncate table map_event_audit; SQL Server — "
    "bcp mvf..map_event_audit out <location>\\MAP_EVENT_AUDIT.txt -c, then truncate table map_event_audit. "
    "Choose a location with room for the export, and set [site.options.\"backup.map_event_audit\"] export_dir to it."
)


@check(
    "backup.map_event_audit",
    "MAP_EVENT_AUDIT size and room for its export",
    "warning",
    "database",
    db_purposes=["impax"],
    guide="Saving the map_event_audit tables from an AS3000 Oracle database; Saving the map_event_audit tables from an "
    "AS300 SQL Server database",
    probes=[EXPORT_FREE],
    remediation=_EXPORT_HOWTO,
    description="Size as the guide measures it (Oracle user_segments/dba_segments; SQL Server the reserved pages that "
    "sp_spaceused reports, read from sys.allocation_units because EXEC is refused) and, when export_dir is set and the "
    "database host has a shell, the free space there (df -k / dir).",
    options={"export_dir": options.remote_path()},
)
def map_event_audit(ctx: CheckContext):
    dialect = ctx.sql.dialect
    if dialect == "sqlite":
        return ctx.skip("MAP_EVENT_AUDIT is exported from Oracle or SQL Server; SQLite has no segment sizes")
    schema = schema_of(ctx.database, dialect)
    try:
        res = ctx.query(map_event_audit_size_sql(dialect, schema))
        source = "dba_segments" if dialect == "oracle" and schema else None
    except ObjectMissing as exc:
        if dialect != "oracle" or not schema:
            return ctx.error(f"cannot measure MAP_EVENT_AUDIT ({exc}): the login needs to see the table's allocation "
                             "(SQL Server: VIEW DEFINITION on it; PostgreSQL: the table must exist)")
        ctx.note(f"dba_segments not readable ({exc}); the guide's user_segments query used (right only when logged in as the owner)")
        res = ctx.query(map_event_audit_size_sql(dialect, None))
        source = "user_segments"
    size_kb = res.scalar()
    if size_kb is None:
        return ctx.warn(f"MAP_EVENT_AUDIT was not found{' under owner ' + schema if schema else ''} "
                        f"({source or 'catalog'} has no segment for it): confirm the table and the schema setting",
                        values={"size_kb": None})
    size_kb = int(size_kb)
    values = {"size_kb": size_kb, "size_mb": round(size_kb / 1024, 1)}
    export_dir = ctx.options.get("export_dir")
    if not export_dir:
        return ctx.warn(
            f"MAP_EVENT_AUDIT takes {values['size_mb']:g} MB; free space where the export will be written was NOT "
            "measured: set [site.options.\"backup.map_event_audit\"] export_dir to the export location", values=values)
    free_kb, why = None, ""
    if _UNSAFE_PATH.search(str(export_dir)):
        why = (f"export_dir {export_dir!r} contains characters that are not allowed in a path here (quotes, $, %, ;, &, |, "
               "<, >, wildcards)")
    else:
        try:
            free_kb = ctx.read(EXPORT_FREE)
        except ReadError as exc:
            why = exc.reason
    values.update({"export_dir": str(export_dir), "free_kb": free_kb})
    if free_kb is None:
        return ctx.warn(f"MAP_EVENT_AUDIT takes {values['size_mb']:g} MB; free space at {export_dir} was NOT measured: {why}",
                        values=values)
    values["free_mb"] = round(free_kb / 1024, 1)
    if free_kb < size_kb:
        return ctx.warn(f"MAP_EVENT_AUDIT takes {values['size_mb']:g} MB but only {values['free_mb']:g} MB are free at "
                        f"{export_dir}", values=values)
    return ctx.passed(f"MAP_EVENT_AUDIT takes {values['size_mb']:g} MB; {values['free_mb']:g} MB free at {export_dir}",
                      values=values)


@hookimpl
def impax_register_checks(register):
    register_module_checks(register, globals())
