"""Database space and engine version: Oracle tablespaces and recovery area, SQL Server files, db.version.

Guide: "Increasing the tablespace size ..." (2-3 GB free in MVFL, MVFLINDX, MVF, MVFINDX and UNDO,
added with monitor_add in 2000 MB files) and "Cleaning up RMAN backup files".
"""

from __future__ import annotations

from impax_preflight import options
from impax_preflight.check import CheckContext, check, register_module_checks
from impax_preflight.db.base import ObjectMissing
from impax_preflight.hookspecs import hookimpl

from ._statements import (
    MSSQL_FILES_SQL,
    ORACLE_FRA_SQL,
    REQUIRED_TABLESPACES,
    VERSION_SQL,
    gb,
    oracle_old_backupsets_sql,
    oracle_tablespace_sql,
)

_TABLESPACE_FIX = (
    "Add space with monitor_add, as in the guide's 'Increasing the tablespace size' (Windows: c:\\mvf\\bin\\monitor_add, "
    "Solaris: /usr/mvf/bin/monitor_add as the mvf user): type C to continue, the tablespace name (e.g. MVFL), the path "
    "of the new data file and its size in megabytes, 2000; repeat for MVFLINDX, MVF, MVFINDX and the UNDO tablespace "
    "as needed, then re-run this check (monitor_update / monitor_stats show the same numbers)."
)
_DBA_PRIVILEGE = (
    "the login needs SELECT on DBA_TABLESPACES, DBA_DATA_FILES and DBA_FREE_SPACE (e.g. GRANT SELECT_CATALOG_ROLE); "
    "until then check by hand with monitor_update and monitor_stats"
)


@check(
    "oracle.tablespace_free",
    "Oracle tablespaces MVFL, MVFLINDX, MVF, MVFINDX and UNDO have room",
    "blocker",
    "database",
    dialects=["oracle"],
    db_purposes=["impax"],
    guide="Increasing the tablespace size",
    remediation=_TABLESPACE_FIX,
    options={"tablespaces": options.identifiers(one_or_many=False)},
)
def tablespace_free(ctx: CheckContext):
    """Usable space (free now + autoextend headroom up to MAXBYTES) per tablespace vs tablespace_min_gb / _warn_gb;
    one that has them only through autoextend (free now below tablespace_warn_gb) warns: growing needs room on
    the data files' file system, which this check does not read."""
    th = ctx.thresholds
    names = [str(n).upper() for n in ctx.options.get("tablespaces", REQUIRED_TABLESPACES)]
    try:
        res = ctx.query(oracle_tablespace_sql(names))
    except ObjectMissing as exc:
        return ctx.error(f"cannot read the tablespace views ({exc}): {_DBA_PRIVILEGE}")
    rows = {str(r["tablespace_name"]).upper(): r for r in res.dicts()}
    undo = sorted(n for n, r in rows.items() if str(r.get("contents") or "").upper() == "UNDO")
    findings = []
    for name in names:
        if name not in rows:
            findings.append(ctx.fail(
                f"tablespace {name} does not exist (or is not visible to this login): IMPAX needs it",
                subject=name, values={"usable_gb": None},
                remediation="Check the instance and the inventory's credentials; a missing IMPAX tablespace must be "
                            "investigated with Agfa support before the upgrade.",
            ))
    if not undo:
        findings.append(ctx.fail("no UNDO tablespace found (dba_tablespaces where contents = 'UNDO')", subject="UNDO"))
    for name in dict.fromkeys([n for n in names if n in rows] + undo):
        r = rows[name]
        free, headroom = int(r.get("free_bytes") or 0), int(r.get("headroom_bytes") or 0)
        usable = free + headroom
        values = {
            "usable_gb": gb(usable), "free_gb": gb(free), "autoextend_headroom_gb": gb(headroom),
            "size_gb": gb(r.get("size_bytes")), "files": r.get("files"), "autoextensible_files": r.get("autoextensible_files"),
            "contents": r.get("contents"), "min_gb": th.tablespace_min_gb, "warn_gb": th.tablespace_warn_gb,
        }
        label = f"{name} (UNDO)" if name in undo and name not in names else name
        detail = (f"{values['usable_gb']:g} GB usable = {values['free_gb']:g} GB free now + "
                  f"{values['autoextend_headroom_gb']:g} GB autoextend headroom")
        if headroom:
            detail += " (the headroom also needs that much room on the file system of the data files)"
        min_bytes, warn_bytes = th.tablespace_min_gb * 1024**3, th.tablespace_warn_gb * 1024**3
        if usable < min_bytes:
            findings.append(ctx.fail(f"{label}: {detail}; below {th.tablespace_min_gb:g} GB", subject=name, values=values))
        elif usable < warn_bytes:
            findings.append(ctx.warn(f"{label}: {detail}; below {th.tablespace_warn_gb:g} GB", subject=name, values=values))
        elif free < warn_bytes:
            # enough only if the data files can grow: that needs room on their file system (not read
            # here) and MAXSIZE is a limit, not a reservation; a tablespace near full that relies on it
            # is not ready until that room is confirmed
            values["relies_on_autoextend"] = True
            findings.append(ctx.warn(
                f"{label}: only {values['free_gb']:g} GB free now, {'below' if free < min_bytes else 'under'} the "
                f"{th.tablespace_min_gb if free < min_bytes else th.tablespace_warn_gb:g} GB wanted: it relies on autoextend to "
                f"grow its data files by up to {values['autoextend_headroom_gb']:g} GB (up to MAXSIZE), which needs that room on "
                "the file system of the data files (not measured by this check): confirm it with df -k / dir, or add a data "
                "file with monitor_add", subject=name, values=values))
        else:
            findings.append(ctx.passed(f"{label}: {detail}", subject=name, values=values))
    return findings


@check(
    "oracle.recovery_area",
    "Oracle recovery area (FRA) below its use limit",
    "warning",
    "database",
    dialects=["oracle"],
    db_purposes=["impax"],
    guide="Cleaning up RMAN backup files",
    remediation=(
        "As the oracle (Solaris) or AgfaService (Windows) user: rman target / ; list backupset; note the BS Key of "
        "each old backup set (listed in the evidence) and run: delete backupset <BS Key>; answer YES."
    ),
    options={"old_backup_days": options.number(0, 3650, "a number of days", lo_open=True)},
)
def recovery_area(ctx: CheckContext):
    """(space_used - space_reclaimable) / space_limit of v$recovery_file_dest vs fra_max_used_pct."""
    limit_pct = ctx.thresholds.fra_max_used_pct
    try:
        res = ctx.query(ORACLE_FRA_SQL)
    except ObjectMissing as exc:
        return ctx.error(f"cannot read v$recovery_file_dest ({exc}): the login needs SELECT on V_$RECOVERY_FILE_DEST "
                         "(SELECT_CATALOG_ROLE)")
    rows = [r for r in res.dicts() if r.get("name") and int(r.get("space_limit") or 0) > 0]
    if not rows:
        return ctx.skip("no flash recovery area is configured (db_recovery_file_dest is empty)")
    days = float(ctx.options.get("old_backup_days", 7))
    try:
        old = ctx.query(oracle_old_backupsets_sql(days)).dicts()
    except ObjectMissing as exc:
        old = []
        ctx.note(f"old backup sets not listed: {exc}")
    findings = []
    for r in rows:
        lim, used, recl = int(r["space_limit"]), int(r.get("space_used") or 0), int(r.get("space_reclaimable") or 0)
        pct = round(100.0 * (used - recl) / lim, 1)
        values = {"used_pct": pct, "limit_gb": gb(lim), "used_gb": gb(used), "reclaimable_gb": gb(recl),
                  "files": r.get("number_of_files"), "max_used_pct": limit_pct,
                  "old_backup_sets": [str(o.get("bs_key")) for o in old], "old_backup_days": days}
        text = (f"{r['name']}: {pct:g} % used after reclaimable space ({values['used_gb']:g} GB used, "
                f"{values['reclaimable_gb']:g} GB reclaimable, limit {values['limit_gb']:g} GB)")
        if old:
            text += f"; {len(old)} backup set(s) older than {days:g} days (BS Key {', '.join(values['old_backup_sets'][:10])})"
        if pct >= limit_pct:
            findings.append(ctx.warn(f"{text}: at or above {limit_pct:g} %", subject=str(r["name"]), values=values))
        else:
            findings.append(ctx.passed(text, subject=str(r["name"]), values=values))
    return findings


@check(
    "mssql.database_space",
    "SQL Server data and log files have room to grow",
    "warning",
    "database",
    dialects=["tsql"],
    db_purposes=["impax"],
    guide="Evaluating system requirements",
    remediation="Grow the data or log file (ALTER DATABASE ... MODIFY FILE SIZE/MAXSIZE/FILEGROWTH) or free disk space "
                "before the upgrade, with the site's DBA.",
)
def database_space(ctx: CheckContext):
    """Per file type (ROWS, LOG): free pages inside the files + growth headroom up to max_size (-1 = unlimited)."""
    th = ctx.thresholds
    files = ctx.query(MSSQL_FILES_SQL).dicts()
    if not files:
        return ctx.error("sys.database_files returned no file: the login cannot see this database's files")
    blind = [str(f["name"]) for f in files if f.get("used_pages") is None]
    if blind:
        # FILEPROPERTY answers only for the session's current database (and with permission on it)
        return ctx.error(f"FILEPROPERTY(name, 'SpaceUsed') returned NULL for {', '.join(blind)}: the session is not in the "
                         "IMPAX database (set database = \"<IMPAX database>\" in the inventory) or the login lacks "
                         "permission on it")
    findings = []
    for kind in sorted({str(f["type_desc"]) for f in files if str(f["type_desc"]) in ("ROWS", "LOG")}):
        group = [f for f in files if str(f["type_desc"]) == kind]
        free_pages = headroom_pages = 0
        unlimited = []
        for f in group:
            size, used = int(f["size"] or 0), f.get("used_pages")
            free_pages += max(0, size - int(used))
            growth, max_size = int(f["growth"] or 0), int(f["max_size"] or 0)
            if growth == 0:
                continue  # no autogrowth: only the free space inside the file
            if max_size == -1:
                unlimited.append(str(f["name"]))
            elif max_size > size:
                headroom_pages += max_size - size
        usable = (free_pages + headroom_pages) * 8192
        values = {"free_gb": gb(free_pages * 8192), "growth_headroom_gb": gb(headroom_pages * 8192),
                  "usable_gb": None if unlimited else gb(usable), "unlimited_files": unlimited,
                  "files": [str(f["name"]) for f in group], "min_gb": th.tablespace_min_gb}
        label = "data files" if kind == "ROWS" else "log files"
        if unlimited:
            findings.append(ctx.passed(
                f"{label}: {values['free_gb']:g} GB free inside; {', '.join(unlimited)} grow without limit "
                "(bounded only by the disk: see os.disk_space)", subject=kind, values=values))
        elif usable < th.tablespace_min_gb * 1024**3:
            findings.append(ctx.warn(
                f"{label}: only {gb(usable):g} GB usable ({values['free_gb']:g} GB free inside + "
                f"{values['growth_headroom_gb']:g} GB growth up to max_size), below {th.tablespace_min_gb:g} GB",
                subject=kind, values=values))
        else:
            findings.append(ctx.passed(
                f"{label}: {gb(usable):g} GB usable ({values['free_gb']:g} GB free inside + "
                f"{values['growth_headroom_gb']:g} GB growth up to max_size)", subject=kind, values=values))
    return findings


@check(
    "db.version",
    "Database engine version",
    "info",
    "database",
    guide="Evaluating system requirements",
)
def db_version(ctx: CheckContext):
    """v$version / @@VERSION / version() / sqlite_version(), recorded for the upgrade plan."""
    dialect = ctx.sql.dialect
    if dialect not in VERSION_SQL:
        return ctx.skip(f"no version query for dialect {dialect}")
    res = ctx.query(VERSION_SQL[dialect])
    lines = [str(r[0]).strip() for r in res.rows if r and r[0] is not None]
    if not lines:
        return ctx.error("the version query returned nothing")
    version = lines[0].splitlines()[0]
    return ctx.passed(version, values={"version": version, "banner": lines})


@hookimpl
def impax_register_checks(register):
    register_module_checks(register, globals())
