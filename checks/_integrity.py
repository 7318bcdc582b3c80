"""The integrity scans: the guide's twelve queries, one pass per table shared by its checks.

Every NULL check of a table reads it in ONE statement (`null_scan_sql`, computed once per
database through ``ctx.memo``), and the duplicated ``object_ref``s are found in a single
aggregation (`duplicate_scan_sql`) instead of the guide's IN (subquery), which reads
``dosr_object_document`` twice. Not a plugin (leading underscore).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from impax_preflight.context import evidence_from_query
from impax_preflight.db.base import DatabaseError
from impax_preflight.model import Evidence
from impax_preflight.secrets import mask
from impax_preflight.sql import (
    IdentifierError,
    identifier,
    limited,
    qualified,
    schema_of,
)

if TYPE_CHECKING:  # pragma: no cover
    from impax_preflight.context import CheckContext

#: how many example keys a finding shows
EXAMPLES = 10

GUIDE_INTEGRITY = "Checking the integrity of database data"
INTEGRITY_REMEDIATION = (
    "If duplicates or nulls are found, contact Agfa support for assistance in dealing with them: "
    "send them this finding (count, example keys and the SQL that ran). Do not correct the rows yourself."
)


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
        except (DatabaseError, IdentifierError) as exc:
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
