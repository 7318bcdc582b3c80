"""The guide's twelve data-integrity queries ("Checking the integrity of database data"), read-only.

Any count above zero is a blocker: the guide says to contact Agfa support. The data dictionary is
asked first: a validated NOT NULL constraint, or a primary key / unique constraint / unique index
on OBJECT_REF alone, proves the count is 0 without reading the table, and the finding names the
constraint (`_integrity`, `_dictionary`). Checks reading the same table share ONE scan of it
(`scan_null_table` / `scan_duplicates`, computed once per database through `ctx.memo`): the two
`dosr_object` checks cost one pass, and the duplicated `object_ref`s are found by a single
aggregation instead of the guide's IN (subquery), which reads `dosr_object_document` twice. Scans
start only inside the database window. Each finding carries the count, up to 10 example keys, the
SQL that ran, the rows scanned, when the scan ran and how long it took against its estimate. An
empty DOSR_STUDY, DOSR_OBJECT or DOSR_OBJECT_DOCUMENT is a warning: the wrong database or schema.

Portable: Oracle, SQL Server, PostgreSQL (ODBC) and SQLite. The table owner comes from the
inventory's `schema` (Oracle DBADMIN, SQL Server dbo).
"""

from __future__ import annotations

from impax_preflight.check import Check, CheckContext, check, register_module_checks
from impax_preflight.hookspecs import hookimpl

from ._integrity import (
    CORE_TABLES,
    DUPLICATE_CHECK,
    DUPLICATE_COLUMN,
    GUIDE_INTEGRITY,
    GUIDE_SQL,
    INTEGRITY_REMEDIATION,
    NULL_CHECKS,
    TableScan,
    estimate_scans,
    scan_duplicates,
    scan_null_table,
)

_TITLES = {
    "integrity.object_document_unique": "OBJECT_REF is unique in DOSR_OBJECT_DOCUMENT",
    "integrity.his_study_uid": "no NULL DOSR_HIS_STUDY.STUDY_UID",
    "integrity.study_uid": "no NULL DOSR_STUDY.STUDY_UID",
    "integrity.object_sop_instance_uid": "no NULL DOSR_OBJECT.SOP_INSTANCE_UID",
    "integrity.object_series_ref": "no NULL DOSR_OBJECT.SERIES_REF",
    "integrity.map_job_user": "no NULL MAP_JOB.ORIGINATING_USER_ID",
    "integrity.map_event_user": "no NULL MAP_EVENT.USER_ID",
    "integrity.map_event_audit_user": "no NULL MAP_EVENT_AUDIT.USER_ID",
    "integrity.folder_name": "no NULL MITRA_FOLDER.FOLDER_NAME",
    "integrity.folder_item_name": "no NULL MITRA_FOLDER_ITEM.ITEM_NAME",
    "integrity.print_params_user": "no NULL MITRA_PRINT_PARAMS.USER_ID",
    "integrity.report_access_ae_title": "no NULL AGFAHC_REPORT_ACCESS_CONFIG.AE_TITLE",
}


def _values(scan: TableScan, check_id: str, **extra) -> dict:
    proof = scan.proofs.get(check_id)
    return {
        "count": scan.counts[check_id],
        "examples": [str(e) for e in scan.examples.get(check_id, [])],
        "rows_scanned": scan.rows_scanned,
        "scan_s": scan.duration_s,
        "read_s": scan.read_s,
        "estimate_s": scan.estimate_s,
        "table": scan.spelled or scan.table,
        "guide_sql": GUIDE_SQL[check_id],
        **scan.when,
        **({"proved_by": proof.values()} if proof else {}),
        **extra,
    }


def _attach(ctx: CheckContext, scan: TableScan) -> None:
    # the scan may have run in another check's thread: every check shows the same proof
    ctx.evidence.extend(scan.evidence)
    for note in scan.notes:
        ctx.note(note, source="integrity")


def _scanned(scan: TableScan) -> str:
    if scan.rows_scanned is None:
        return "rows scanned unknown"
    return f"{scan.rows_scanned:,} rows scanned" + (f" {scan.span}" if scan.span else "")


def _empty_table(ctx: CheckContext, scan: TableScan, values: dict):
    """A core IMPAX table without a row: not a pass, the database or the schema is probably the wrong one."""
    db = ctx.database
    schema = f"schema {db.schema}" if db is not None and db.schema else "the login's default schema"
    return ctx.warn(
        f"{scan.spelled or scan.table} is empty (0 rows), so nothing in it could be checked: an IMPAX archive database "
        f"holds its studies, objects and documents in {', '.join(CORE_TABLES)}, so this is probably not the IMPAX "
        f"database, or not its table owner ({schema}): check `database`/`dsn` and `schema` of {ctx.target_name} in the "
        "inventory", values={**values, "empty_table": True},
        remediation="Point the inventory at the IMPAX (MVF) database and its table owner (Oracle DBADMIN, SQL Server dbo), "
        "then run again.")


def _null_check(check_id: str, table: str, column: str) -> Check:
    def run(ctx: CheckContext):
        scan = scan_null_table(ctx, table)
        _attach(ctx, scan)
        if scan.error:
            return ctx.error(f"NULL {column} in {table} not checked: {scan.error}", values={"table": table, "guide_sql": GUIDE_SQL[check_id]})
        values = _values(scan, check_id, column=column)
        if scan.empty:
            return _empty_table(ctx, scan, values)
        proof = scan.proofs.get(check_id)
        if proof is not None:
            also = f" ({_scanned(scan)} for its other checks)" if scan.rows_scanned is not None else ""
            return ctx.passed(f"no NULL {column} in {table}: proved by {proof.text}, without reading the table{also}",
                              values=values)
        n = scan.counts[check_id]
        if n == 0:
            return ctx.passed(f"no NULL {column} in {table} ({_scanned(scan)})", values=values)
        ex = values["examples"]
        shown = f"; examples ({scan.example_key or 'key'}): {', '.join(ex)}" if ex else ""
        return ctx.fail(f"{n:,} row(s) of {table} have a NULL {column} ({_scanned(scan)}){shown}", values=values)

    run.__doc__ = f"{GUIDE_SQL[check_id]}: any row is a blocker."
    return check(
        check_id,
        _TITLES[check_id],
        "blocker",
        "database",
        db_purposes=["impax"],
        guide=GUIDE_INTEGRITY,
        remediation=INTEGRITY_REMEDIATION,
        description=f"Rows of {table} whose {column} is NULL (the guide: {GUIDE_SQL[check_id]}). A validated NOT NULL "
        f"constraint proves 0 without a scan; otherwise every checked column of {table} is counted in one scan of the table.",
    )(run)


@check(
    "integrity.object_document_unique",
    _TITLES["integrity.object_document_unique"],
    "blocker",
    "database",
    db_purposes=["impax"],
    guide=GUIDE_INTEGRITY,
    remediation=INTEGRITY_REMEDIATION,
    description="Rows of DOSR_OBJECT_DOCUMENT whose OBJECT_REF occurs more than once (the guide's number). A valid primary "
    "key, unique constraint or unique index on OBJECT_REF alone proves 0 without a scan; otherwise one aggregation over "
    "the table (GROUP BY ROLLUP ... HAVING) instead of the guide's IN (subquery) that reads it twice.",
)
def object_document_unique(ctx: CheckContext):
    scan = scan_duplicates(ctx)
    _attach(ctx, scan)
    cid = DUPLICATE_CHECK
    n = scan.counts[cid]
    values = _values(scan, cid, column=DUPLICATE_COLUMN, duplicated_refs=scan.counts.get("duplicated_refs", 0))
    if scan.empty:
        return _empty_table(ctx, scan, values)
    proof = scan.proofs.get(cid)
    if proof is not None:
        return ctx.passed(f"every OBJECT_REF of dosr_object_document is unique: proved by {proof.text}, without reading "
                          "the table", values=values)
    if n == 0:
        return ctx.passed(f"every OBJECT_REF of dosr_object_document is unique ({_scanned(scan)})", values=values)
    return ctx.fail(
        f"{n:,} rows of dosr_object_document share an OBJECT_REF with another row "
        f"({values['duplicated_refs']:,} duplicated OBJECT_REFs; {_scanned(scan)}); examples: {', '.join(values['examples'])}",
        values=values,
    )


# one declared check per NULL column of the guide
for _table, _pairs in NULL_CHECKS.items():
    for _cid, _col in _pairs:
        globals()["check_" + _cid.split(".", 1)[1]] = _null_check(_cid, _table, _col)
del _table, _pairs, _cid, _col


@hookimpl
def impax_register_checks(register):
    register_module_checks(register, globals())


@hookimpl
def impax_estimate_scans(check_ids, site, host, database, session, sample):
    """The integrity scans planned on this database: rows, sizes and proofs from the dictionary, a timed sample."""
    ours = [c for c in check_ids if c in GUIDE_SQL]
    if not ours:
        return None
    return estimate_scans(session, database, site, ours, sample)
