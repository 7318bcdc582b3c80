"""The integrity scans: the guide's twelve queries, proved from the dictionary where it can, else one
pass per table shared by its checks, estimated first, started only inside the database window.

For each table the data dictionary is asked first (`_dictionary`: one statement per question for
every table): a validated NOT NULL constraint proves a column holds no NULL and a primary key,
unique constraint or unique index on ``dosr_object_document.object_ref`` alone proves it holds no
duplicate, so those are not scanned; the names are taken as the dictionary spells them. What is
left is read in ONE statement per table (`null_scan_sql`, computed once per database through
``ctx.memo``), the duplicated ``object_ref``s in a single aggregation (`duplicate_scan_sql`)
instead of the guide's IN (subquery), which reads ``dosr_object_document`` twice.

Before a large table is read its duration is estimated from the dictionary's row count and a timed
sample (the scan's own statement over its first rows), the scan starts only inside the database
window (``ctx.scan``) and its progress is shown. `estimate_scans` gives the same estimates to
``impax-preflight plan`` without scanning. Not a plugin (leading underscore).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from impax_preflight.context import evidence_from_query
from impax_preflight.db.base import DatabaseError, ObjectMissing, QueryCancelled
from impax_preflight.model import Evidence
from impax_preflight.scans import ScanEstimate
from impax_preflight.secrets import mask
from impax_preflight.sql import IdentifierError, identifier, limited, schema_of

from ._dictionary import Dictionary, Proof, read_dictionary

if TYPE_CHECKING:  # pragma: no cover
    from impax_preflight.context import CheckContext
    from impax_preflight.db.base import QueryResult, SqlSession
    from impax_preflight.inventory import Database, Site

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
DUPLICATE_CHECK = "integrity.object_document_unique"

#: an IMPAX archive database holds millions of rows here: empty means the wrong database or schema
CORE_TABLES = ("dosr_study", "dosr_object", "dosr_object_document")

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
    DUPLICATE_CHECK: "select count(object_ref) from dosr_object_document where object_ref in "
    "(select object_ref from dosr_object_document group by object_ref having count(object_ref)>1)",
    **{cid: f"Select count(*) from {t} where {c} is NULL" for t, pairs in NULL_CHECKS.items() for cid, c in pairs},
}

# ---- estimates ---------------------------------------------------------------------------------

#: rows of the timed sample, and the table size from which a sample is worth it; `plan` times it
#: SAMPLE_REPEATS times and keeps the fastest (a busy server or client slows one sample, never speeds it
#: up); a run, which only needs the estimate for its progress display, times it RUN_SAMPLE_REPEATS
#: times (the first read of a table in a new session also pays for loading its catalog entries)
SAMPLE_ROWS = 100_000
SAMPLE_MIN_ROWS = 1_000_000
SAMPLE_REPEATS = 3
RUN_SAMPLE_REPEATS = 2
#: rows per second of each kind of scan for tables too small to sample, calibrated by
#: benchmarks/integrity_scale.py on PostgreSQL 15 here (Oracle and SQL Server: not measured)
CALIBRATED_ROWS_PER_S = {"nulls": 8_000_000, "duplicates": 2_500_000}
ORACLE_PARALLEL_MAX = 64


def _name(text: str) -> str:
    """A column as SQL: a name quoted from the dictionary stays as it is, anything else must be plain."""
    return text if text[:1] in ('"', "[") else identifier(text, "column")


def null_scan_sql(table_q: str, columns: list[str], hint: str = "") -> str:
    """One pass over a table: its row count and the NULL count of every column the guide checks.

    `count(*) - count(col)` is the number of NULLs and costs no per-row expression. `hint`: an
    Oracle optimizer hint (the opt-in parallel degree), written right after SELECT.
    """
    parts = ["count(*) as rows_scanned"] + [f"count(*) - count({_name(c)}) as null_{i}" for i, c in enumerate(columns)]
    return f"select {hint}{', '.join(parts)} from {table_q}"


def null_examples_sql(table_q: str, key: str, columns: list[str], dialect: str, n: int) -> str:
    """Up to n rows having a NULL in any checked column (run only when the scan found some)."""
    cols = [_name(c) for c in columns]
    where = " or ".join(f"{c} is null" for c in cols)
    return limited(f"select {_name(key)} as example_key, {', '.join(cols)} from {table_q} where {where}", dialect, n)


def duplicate_scan_sql(table_q: str, dialect: str, column: str = DUPLICATE_COLUMN, hint: str = "") -> str:
    """The duplicated object_refs in ONE pass (the guide's IN (subquery) form reads the table twice).

    ROLLUP adds a grand-total row (the rows scanned); HAVING keeps the duplicated refs and that row;
    the window sums (evaluated after HAVING) give the guide's number — rows whose object_ref occurs
    more than once — and the number of such refs on every row; the first rows are the examples.
    SQLite has no ROLLUP: it ranks every group in a window instead (fine at demo sizes).
    """
    col = _name(column)
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
        f"select {hint}{col} as object_ref, count({col}) as n, grouping({col}) as is_total, count(*) as rows_scanned, "
        f"sum(case when grouping({col}) = 0 then count({col}) else 0 end) over () as duplicate_rows, "
        f"sum(case when grouping({col}) = 0 then 1 else 0 end) over () as duplicated_refs "
        f"from {table_q} {group} having count({col}) > 1 or grouping({col}) = 1"
    )
    if dialect == "oracle":
        return f"select * from ({body} order by grouping({col}) desc, {col}) where rownum <= {EXAMPLES + 1}"
    if dialect == "tsql":
        return limited(body + f" order by grouping({col}) desc, {col}", dialect, EXAMPLES + 1)
    return f"{body} order by grouping({col}) desc, {col} limit {EXAMPLES + 1}"


def exists_sql(table_q: str, dialect: str) -> str:
    """Is there any row? (the first row only: for a core table whose checks were all proved)"""
    return limited(f"select 1 as any_row from {table_q}", dialect, 1)


def sample_source(table_q: str, columns: list[str], dialect: str, n: int = SAMPLE_ROWS) -> str:
    """The first n rows of a table as a derived table: a scan statement over it is the timed sample."""
    cols = ", ".join(_name(c) for c in columns)
    return f"({limited(f'select {cols} from {table_q}', dialect, n)}) s"


ORACLE_SID_SQL = "select sys_context('USERENV', 'SID') as sid from dual"


def oracle_longops_sql(sid: int) -> str:
    """Oracle's own progress of the operation a session runs (a full scan reports its blocks)."""
    return limited(f"select sofar, totalwork, units, opname from v$session_longops where sid = {int(sid)} "
                   "and totalwork > 0 and sofar < totalwork order by last_update_time desc", "oracle", 1)


class OracleProgress:
    """The blocks a serial Oracle scan has read (v$session_longops), read on a spare session of the
    same database when one is free within the session limit; else the display shows elapsed time
    against the estimate. With a parallel degree the work is in the slave sessions: not followed."""

    def __init__(self, ctx: "CheckContext", sid: int) -> None:
        self.ctx, self.sid = ctx, sid
        self._spare: Any = None

    @classmethod
    def of(cls, ctx: "CheckContext", options: dict[str, Any]) -> "OracleProgress | None":
        if _session_dialect(ctx) != "oracle" or options.get("oracle_parallel_degree") not in (None, 0, 1):
            return None
        try:
            sid = int(ctx.sql.query(ORACLE_SID_SQL, timeout=10).scalar())
        except (DatabaseError, TypeError, ValueError):
            return None
        return cls(ctx, sid)

    def __call__(self) -> tuple[float, float, str] | None:
        if self._spare is None:
            self._spare = self.ctx.spare_session()
            if self._spare is None:
                return None
        session = self._spare[0]
        rows = session.query(oracle_longops_sql(self.sid), timeout=5, max_rows=1).dicts()
        if not rows:
            return None
        r = rows[0]
        return float(r["sofar"]), float(r["totalwork"]), str(r.get("units") or "")

    def close(self) -> None:
        if self._spare is not None:
            self._spare[1]()
            self._spare = None


def parallel_hint(options: dict[str, Any], dialect: str) -> tuple[str, str]:
    """(hint, table alias) for the opt-in Oracle parallel degree ([site.options.integrity]
    oracle_parallel_degree = n, 2..64): ("/*+ PARALLEL(t, n) */ ", " t"); ("", "") otherwise."""
    degree = options.get("oracle_parallel_degree")
    if dialect != "oracle" or degree in (None, 0, 1):
        return "", ""
    if isinstance(degree, bool) or not isinstance(degree, int) or not 2 <= degree <= ORACLE_PARALLEL_MAX:
        raise IdentifierError(f"[site.options.integrity] oracle_parallel_degree = {degree!r}: write a whole number from 2 "
                              f"to {ORACLE_PARALLEL_MAX} (or leave it out for serial scans)")
    return f"/*+ PARALLEL(t, {degree}) */ ", " t"


@dataclass
class TableScan:
    """What one pass over a table found (or the dictionary proved); shared by every check reading that table."""

    table: str
    rows_scanned: int | None
    counts: dict[str, int]  # check id -> count
    evidence: list[Evidence]
    duration_s: float
    examples: dict[str, list[Any]] = field(default_factory=dict)  # check id -> example keys
    notes: list[str] = field(default_factory=list)
    example_key: str | None = None  # the column the examples show
    error: str | None = None  # why the counts cannot be trusted (then no check may pass on them)
    proofs: dict[str, Proof] = field(default_factory=dict)  # check id -> what proved its count 0
    when: dict[str, str] = field(default_factory=dict)  # scan_started / scan_finished (ISO)
    span: str = ""  # when it ran, for the message
    estimate_s: float | None = None
    read_s: float | None = None  # the scan statement alone (what the estimate predicts)
    empty: bool | None = None  # a core table with no row (None: not known)
    spelled: str | None = None  # the table's name as the dictionary spells it


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


def example_key(options: dict[str, Any], table: str) -> str:
    return options.get("example_keys", {}).get(table, DEFAULT_EXAMPLE_KEYS[table])


def dictionary_questions(options: dict[str, Any]) -> dict[str, list[str]]:
    """{table: the columns asked about}: the checked columns and the example key of each table."""
    out: dict[str, list[str]] = {}
    for table, pairs in NULL_CHECKS.items():
        cols = [c for _, c in pairs]
        key = example_key(options, table)
        out[table] = cols + ([key] if key not in cols else [])
    out[DUPLICATE_TABLE] = [DUPLICATE_COLUMN]
    return out


def dictionary(ctx: "CheckContext") -> Dictionary:
    """The dictionary's answers for this database, asked once for all its integrity checks."""
    def ask() -> Dictionary:
        dialect = _session_dialect(ctx)
        return read_dictionary(lambda sql: run_shared(ctx, sql), dialect, schema_of(ctx.database, dialect),
                               dictionary_questions(integrity_options(ctx)), (DUPLICATE_TABLE, DUPLICATE_COLUMN))

    return ctx.memo.get(("dictionary",), ask)


# ---- what a table's checks need: the plan of one table -------------------------------------------


@dataclass
class TablePlan:
    """What the checks of one table need read, once the dictionary has answered."""

    table: str
    table_q: str  # schema-qualified, as the dictionary spells it
    dialect: str
    d: Dictionary
    proofs: dict[str, Proof] = field(default_factory=dict)
    remaining: list[tuple[str, str]] = field(default_factory=list)  # (check id, column as SQL)
    key_sql: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def facts(self):
        return self.d.table(self.table)

    @property
    def spelled(self) -> str:
        facts = self.facts
        return facts.name if facts else self.table

    def missing_hint(self) -> str:
        """What the dictionary says when the table cannot be read under the name used."""
        if not self.d.tables_read:
            return ""
        owner = f"schema {self.d.schema}" if self.d.schema else "the login's default schema"
        if self.facts is None:
            return (f"; the data dictionary has no table {self.table} in {owner} under any letter case: check `schema` "
                    "(and `database`) of this database in the inventory")
        return f"; the dictionary lists it as {self.spelled} in {owner}: grant SELECT on it to this login"


def _table_ref(d: Dictionary, table: str, schema: str | None, dialect: str) -> tuple[str, str | None]:
    name, note = d.table_sql(table)
    if schema and dialect != "sqlite":
        return f"{identifier(schema, 'schema')}.{name}", note
    return name, note


def plan_null_table(d: Dictionary, table: str, schema: str | None, options: dict[str, Any], dialect: str,
                    check_ids: list[str] | None = None) -> TablePlan:
    table_q, note = _table_ref(d, table, schema, dialect)
    plan = TablePlan(table, table_q, dialect, d, notes=[note] if note else [])
    for cid, col in NULL_CHECKS[table]:
        if check_ids is not None and cid not in check_ids:
            continue
        proof = d.not_null_proof(table, col)
        if proof is not None:
            plan.proofs[cid] = proof
            continue
        col_sql, col_note = d.column_sql(table, col)
        if col_note:
            plan.notes.append(col_note)
        plan.remaining.append((cid, col_sql))
    key_sql, key_note = d.column_sql(table, example_key(options, table))
    plan.key_sql = key_sql
    if key_note and plan.remaining:
        plan.notes.append(key_note)
    return plan


def plan_duplicates(d: Dictionary, schema: str | None, dialect: str) -> TablePlan:
    table_q, note = _table_ref(d, DUPLICATE_TABLE, schema, dialect)
    plan = TablePlan(DUPLICATE_TABLE, table_q, dialect, d, notes=[note] if note else [])
    proof, rejected = d.unique_proof(plan.spelled, DUPLICATE_COLUMN)
    plan.notes += [f"{r}; the table was scanned" for r in rejected] if proof is None else []
    if proof is not None:
        plan.proofs[DUPLICATE_CHECK] = proof
    else:
        col_sql, col_note = d.column_sql(DUPLICATE_TABLE, DUPLICATE_COLUMN)
        if col_note:
            plan.notes.append(col_note)
        plan.remaining.append((DUPLICATE_CHECK, col_sql))
    return plan


def scan_statement(plan: TablePlan, options: dict[str, Any], source: str | None = None) -> str:
    """The statement reading the table (or `source`, a sample of it) for the checks not proved."""
    hint, alias = parallel_hint(options, plan.dialect) if source is None else ("", "")
    table_from = source or plan.table_q + alias
    if plan.table == DUPLICATE_TABLE:
        return duplicate_scan_sql(table_from, plan.dialect, plan.remaining[0][1], hint)
    return null_scan_sql(table_from, [c for _, c in plan.remaining], hint)


def estimate_duration(query: Callable[[str], tuple["QueryResult", Evidence]], plan: TablePlan, rows: int | None,
                      options: dict[str, Any], sample: bool, repeats: int = 1) -> tuple[float | None, str, Evidence | None]:
    """(seconds, how they were obtained, the sample's evidence) of the scan a table plan makes."""
    columns = [c for _, c in plan.remaining]
    sample_sql = scan_statement(plan, options, sample_source(plan.table_q, columns, plan.dialect))
    kind = "duplicates" if plan.table == DUPLICATE_TABLE else "nulls"
    return estimate_read(query, kind, rows, sample_sql, options, plan.dialect, sample, repeats)


def estimate_read(query: Callable[[str], tuple["QueryResult", Evidence]], kind: str, rows: int | None, sample_sql: str,
                  options: dict[str, Any], dialect: str, sample: bool,
                  repeats: int = 1) -> tuple[float | None, str, Evidence | None]:
    """(seconds, how they were obtained, the sample's evidence). A large table is timed on a sample:
    `sample_sql`, the read's own statement over its first SAMPLE_ROWS rows, extrapolated to the
    dictionary's row count (times log n / log sample for the aggregation, which sorts); a small
    one, or without a sample, at the rate calibrated here. No row count: unknown, said so.
    `kind`: "nulls" (a count, returning rows_scanned), "duplicates" (the aggregation), "count"."""
    if rows is None:
        return None, "unknown: the dictionary has no row count for this table", None
    degree = options.get("oracle_parallel_degree") if dialect == "oracle" else None
    serial = f"; parallel degree {degree} requested: the estimate assumes no speed-up" if degree not in (None, 0, 1) else ""
    if rows < SAMPLE_MIN_ROWS or not sample:
        rate = CALIBRATED_ROWS_PER_S["duplicates" if kind == "duplicates" else "nulls"]
        why = "small table" if rows < SAMPLE_MIN_ROWS else "no sample taken"
        return rows / rate, (f"{why}: at {rate / 1e6:.1f} M rows/s, the rate calibrated on PostgreSQL here "
                             f"(benchmarks/README.md){serial}"), None
    timed = [query(sample_sql) for _ in range(max(1, repeats))]
    result, ev = min(timed, key=lambda t: t[0].duration)
    taken = _sample_rows(result, kind) or SAMPLE_ROWS
    seconds = result.duration / max(1, taken) * rows
    if kind == "duplicates" and rows > taken > 1:
        seconds *= math.log(rows) / math.log(taken)
    rate = taken / result.duration if result.duration > 0 else float("inf")
    sorts = "; times log(rows)/log(sample) for the sort" if kind == "duplicates" else ""
    best = f"the fastest of {len(timed)} timed samples" if len(timed) > 1 else "timed sample"
    return seconds, (f"{best}: the statement over the first {taken:,} rows took {result.duration:.3f} s "
                     f"({rate / 1e6:.1f} M rows/s){sorts}{serial}"), ev


def _sample_rows(result: "QueryResult", kind: str) -> int | None:
    rows = result.dicts()
    if not rows or kind == "count":
        return None
    try:
        if kind == "nulls":
            return int(rows[0].get("rows_scanned") or 0)
        totals = [r for r in rows if int(r.get("is_total") or 0) == 1]
        return int((totals or rows)[0].get("rows_scanned") or 0)
    except (TypeError, ValueError):
        return None


# ---- the scans at run time ---------------------------------------------------------------------


def scan_null_table(ctx: "CheckContext", table: str) -> TableScan:
    """The NULL counts of one table, computed once per database target for all its checks."""
    return ctx.memo.get(("scan", table), lambda: _scan_null_table(ctx, table))


def _scan_null_table(ctx: "CheckContext", table: str) -> TableScan:
    dialect = _session_dialect(ctx)
    schema = schema_of(ctx.database, dialect)
    options = integrity_options(ctx)
    d = dictionary(ctx)
    plan = plan_null_table(d, table, schema, options, dialect)
    scan = TableScan(table, None, {cid: 0 for cid, _ in NULL_CHECKS[table]}, list(d.evidence), 0.0,
                     notes=plan.notes + _problems(d), proofs=dict(plan.proofs), spelled=plan.spelled)
    if not plan.remaining:  # every column proved: nothing of the table is read
        _check_not_empty(ctx, plan, scan)
        return scan
    facts = plan.facts
    watch = ctx.scan(plan.spelled, checks=[cid for cid, _ in plan.remaining], rows=facts.rows if facts else None,
                     poll=OracleProgress.of(ctx, options))
    _estimate(ctx, plan, facts.rows if facts else None, options, scan, watch)
    start = time.monotonic()
    try:
        with watch:
            result, ev = run_shared(ctx, scan_statement(plan, options))
    except ObjectMissing as exc:
        raise ObjectMissing(f"{exc}{plan.missing_hint()}") from None
    scan.evidence.append(ev)
    scan.when, scan.span, scan.read_s = watch.when(), watch.span_text(), round(result.duration, 3)
    columns = [c for _, c in plan.remaining]
    if not result.rows or len(result.rows[0]) < len(columns) + 1:
        # an aggregate without GROUP BY always returns one row: none means the answer is unusable
        scan.error = (f"the count over {table} returned {'no row' if not result.rows else 'too few columns'}: "
                      "nothing was counted")
        scan.duration_s = round(time.monotonic() - start, 4)
        return scan
    row = result.rows[0]
    scan.rows_scanned = int(row[0] or 0)
    for i, (cid, _) in enumerate(plan.remaining):
        scan.counts[cid] = int(row[i + 1] or 0)
    if table in CORE_TABLES:
        scan.empty = scan.rows_scanned == 0
    if sum(scan.counts.values()):
        scan.example_key = example_key(options, table)
        try:
            # per column with NULLs: rows of one column must not crowd out another column's examples;
            # the exact number of defect rows (at most EXAMPLES) lets each query stop early
            for cid, col in plan.remaining:
                if not scan.counts[cid]:
                    continue
                n = min(scan.counts[cid], EXAMPLES)
                ex, ev2 = run_shared(ctx, null_examples_sql(plan.table_q, plan.key_sql or scan.example_key, [col], dialect, n),
                                     max_rows=n)
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
    schema = schema_of(ctx.database, dialect)
    options = integrity_options(ctx)
    d = dictionary(ctx)
    plan = plan_duplicates(d, schema, dialect)
    scan = TableScan(DUPLICATE_TABLE, None, {DUPLICATE_CHECK: 0, "duplicated_refs": 0}, list(d.evidence), 0.0,
                     notes=plan.notes + _problems(d), proofs=dict(plan.proofs), spelled=plan.spelled)
    if not plan.remaining:
        _check_not_empty(ctx, plan, scan)
        return scan
    facts = plan.facts
    watch = ctx.scan(plan.spelled, checks=[DUPLICATE_CHECK], rows=facts.rows if facts else None,
                     poll=OracleProgress.of(ctx, options))
    _estimate(ctx, plan, facts.rows if facts else None, options, scan, watch)
    start = time.monotonic()
    try:
        with watch:
            result, ev = run_shared(ctx, scan_statement(plan, options), max_rows=EXAMPLES + 1)
    except ObjectMissing as exc:
        raise ObjectMissing(f"{exc}{plan.missing_hint()}") from None
    scan.evidence.append(ev)
    scan.when, scan.span, scan.read_s = watch.when(), watch.span_text(), round(result.duration, 3)
    scan.duration_s = round(time.monotonic() - start, 4)
    rows = result.dicts()
    if not rows:  # an empty table
        scan.rows_scanned, scan.empty = 0, True
        return scan
    first = rows[0]
    if dialect == "sqlite":
        scan.rows_scanned = int(first["rows_scanned"] or 0)
    else:
        total = [r for r in rows if int(r["is_total"] or 0) == 1]
        scan.rows_scanned = int(total[0]["rows_scanned"]) if total else None
    scan.empty = scan.rows_scanned == 0
    scan.examples[DUPLICATE_CHECK] = [r["object_ref"] for r in rows if int(r["is_total"] or 0) == 0 and int(r["n"] or 0) > 1][:EXAMPLES]
    scan.example_key = DUPLICATE_COLUMN
    scan.counts[DUPLICATE_CHECK] = int(first["duplicate_rows"] or 0)
    scan.counts["duplicated_refs"] = int(first["duplicated_refs"] or 0)
    return scan


def _problems(d: Dictionary) -> list[str]:
    """What the dictionary would not answer: said in each finding (the table was then scanned as before)."""
    return [f"data dictionary not read: {p}; the table was scanned without it" for p in d.problems]


def _estimate(ctx: "CheckContext", plan: TablePlan, rows: int | None, options: dict[str, Any], scan: TableScan, watch) -> None:
    """The scan's estimate for its progress display and its finding (a failed sample only loses the estimate)."""
    try:
        seconds, how, ev = estimate_duration(lambda sql: run_shared(ctx, sql), plan, rows, options, sample=True,
                                             repeats=RUN_SAMPLE_REPEATS)
    except QueryCancelled:
        raise
    except DatabaseError as exc:
        seconds, how, ev = None, f"no estimate: the sample failed ({mask(str(exc))[:200]})", None
    if ev is not None:
        scan.evidence.append(ev)
    watch.estimate_s = round(seconds, 1) if seconds is not None else None
    scan.estimate_s = watch.estimate_s
    if seconds is not None:
        scan.notes.append(f"estimated {seconds:.1f} s for {rows:,} rows ({how})")


def _check_not_empty(ctx: "CheckContext", plan: TablePlan, scan: TableScan) -> None:
    """A core table whose checks were all proved is still looked at: is there any row at all?"""
    if plan.table not in CORE_TABLES:
        return
    try:
        result, ev = run_shared(ctx, exists_sql(plan.table_q, plan.dialect), max_rows=1)
    except ObjectMissing as exc:
        raise ObjectMissing(f"{exc}{plan.missing_hint()}") from None
    scan.evidence.append(ev)
    scan.empty = not result.rows


# ---- before a run: the estimates of `impax-preflight plan` -------------------------------------


def estimate_scans(session: "SqlSession", database: "Database", site: "Site", check_ids: list[str],
                   sample: bool = True) -> list[ScanEstimate]:
    """What the integrity checks among `check_ids` would read on this database, and how long it
    would take: the dictionary's rows and sizes, what constraints prove without a scan, and a
    duration from a timed sample (bounded: never a whole table)."""
    dialect = getattr(session, "dialect", "sqlite")
    schema = schema_of(database, dialect)
    options = site.options.get("integrity", {})
    query = _session_query(session, database, site)
    wanted = set(check_ids)
    d = read_dictionary(query, dialect, schema, dictionary_questions(options), (DUPLICATE_TABLE, DUPLICATE_COLUMN), counts=True)
    out: list[ScanEstimate] = []
    plans: list[tuple[TablePlan, list[str]]] = []
    for table, pairs in NULL_CHECKS.items():
        cids = [cid for cid, _ in pairs if cid in wanted]
        if cids:
            plans.append((plan_null_table(d, table, schema, options, dialect, cids), cids))
    if DUPLICATE_CHECK in wanted:
        plans.append((plan_duplicates(d, schema, dialect), [DUPLICATE_CHECK]))
    for plan, cids in plans:
        facts = plan.facts
        what = ("duplicate OBJECT_REFs: one aggregation" if plan.table == DUPLICATE_TABLE
                else f"NULL count of {len(plan.remaining)} column{'s' if len(plan.remaining) != 1 else ''} in one pass")
        est = ScanEstimate(
            table=plan.spelled, checks=cids, what=what if plan.remaining else "nothing to read: proved by the dictionary",
            rows=facts.rows if facts else None,
            rows_source=facts.rows_source if facts else _unknown_table(d, plan),
            size_bytes=facts.size_bytes if facts else None, analysed=facts.analysed if facts else None,
            proved=[p.text for p in plan.proofs.values()], scanned=bool(plan.remaining), notes=list(plan.notes),
        )
        if plan.remaining:
            est.statement = scan_statement(plan, options)
            try:
                seconds, est.rate, _ = estimate_duration(query, plan, est.rows, options, sample, SAMPLE_REPEATS)
            except QueryCancelled:
                raise
            except DatabaseError as exc:
                seconds, est.rate = None, f"no estimate: the sample could not run ({mask(str(exc))[:300]})"
            est.seconds = round(seconds, 1) if seconds is not None else None
        if plan.table in CORE_TABLES and est.rows == 0:
            est.notes.append(f"{plan.spelled} has no row per the dictionary: is this the IMPAX database and schema?")
        out.append(est)
    if out and d.problems:
        out[0].notes += [f"data dictionary not read: {p}" for p in d.problems]
    return out


def _session_query(session: "SqlSession", database: "Database", site: "Site"):
    """query(sql) -> (result, evidence) on a plan's session (guarded, read-only, the site's statement timeout)."""
    where = getattr(session, "where", database.name)

    def query(sql: str):
        result = session.query(sql, None, timeout=database.statement_timeout_s or site.thresholds.statement_timeout_s)
        return result, evidence_from_query(result, where, getattr(session, "kind", "sql"))

    return query


def estimate_table_read(session: "SqlSession", database: "Database", site: "Site", table: str, columns: list[str],
                        statement_of: Callable[[str], str], check_id: str, what: str, sample: bool) -> ScanEstimate:
    """The estimate of one check's full read of `table` by `statement_of(table or sample)` (another
    check than the integrity ones, e.g. archive.study_status): rows from the dictionary, a timed sample."""
    dialect = getattr(session, "dialect", "sqlite")
    schema = schema_of(database, dialect)
    query = _session_query(session, database, site)
    d = read_dictionary(query, dialect, schema, {table: []}, None, counts=True)
    table_q, note = _table_ref(d, table, schema, dialect)
    facts = d.table(table)
    est = ScanEstimate(table=facts.name if facts else table, checks=[check_id], what=what,
                       rows=facts.rows if facts else None, rows_source=facts.rows_source if facts else _unknown_table(d, None),
                       size_bytes=facts.size_bytes if facts else None, analysed=facts.analysed if facts else None,
                       statement=statement_of(table_q), notes=([note] if note else []) + [f"data dictionary not read: {p}" for p in d.problems])
    try:
        seconds, est.rate, _ = estimate_read(query, "count", est.rows, statement_of(sample_source(table_q, columns, dialect)),
                                             {}, dialect, sample, SAMPLE_REPEATS)
    except QueryCancelled:
        raise
    except DatabaseError as exc:
        seconds, est.rate = None, f"no estimate: the sample could not run ({mask(str(exc))[:300]})"
    est.seconds = round(seconds, 1) if seconds is not None else None
    return est


def _unknown_table(d: Dictionary, plan: TablePlan | None) -> str:
    if not d.tables_read:
        return "unknown: the data dictionary could not be read"
    return f"not found in the data dictionary (schema {d.schema or 'default'}, any letter case): the scan would fail"
