"""The run history: every run of a site recorded in a SQLite store, and the trends a report draws.

`run` (and a `report` merge) records the run — id, site, verdict, start and end, counts by status,
blockers and warnings per stage — and per finding its stable key, check id, status, severity and
numeric measured values (usable GB of a tablespace, backup age, integrity counts...). The store
holds at most `keep_runs` runs per site (older ones are pruned) and is safe when two runs write at
once (WAL journal, a busy timeout, write transactions taken up front). `RunHistory` — the runs, the
series the charts draw and the diff against the previous run — goes into the report itself, so
``impax-preflight report report.json`` re-renders the same pictures without the store.

A history that cannot be written or read is a run warning, never a failed run.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Iterable

from .model import (
    Finding,
    HistoryRun,
    HistorySeries,
    RunHistory,
    RunReport,
    Severity,
    Status,
    Verdict,
    utcnow,
)
from .report.merge import STAGES
from .secrets import mask

log = logging.getLogger("impax_preflight.history")

#: Layout of the store (PRAGMA user_version). A store written by a newer layout is refused, not damaged.
FORMAT = 1
DEFAULT_KEEP_RUNS = 200
#: How long a writer waits for another run's write transaction before giving up (a few ms in practice).
BUSY_TIMEOUT_S = 30.0
#: Stored message length: enough for "what changed", not the evidence (that stays in report.json).
MESSAGE_CHARS = 500


class HistoryError(Exception):
    """The history store cannot be used (not a history store, written by a newer version...)."""


@dataclass(frozen=True)
class Metric:
    """A measured value the report follows over time: which checks, which name in `Finding.values`."""

    chart: str
    checks: tuple[str, ...]  # check id globs
    value: str
    unit: str
    scale: float = 1.0
    limit: str | None = None  # name in values holding the threshold drawn on the chart


#: The trends the HTML report draws (values written by checks/db_space.py, db_backup.py, host_app.py,
#: db_integrity.py). Every other numeric value is stored too and shows in "values that moved".
METRICS = (
    Metric("tablespace_gb", ("oracle.tablespace_free", "mssql.database_space"), "usable_gb", "GB", limit="min_gb"),
    Metric("backup_age_hours", ("backup.database_recent",), "age_hours", "h", limit="max_age_hours"),
    Metric("backup_age_hours", ("backup.appserver_config",), "age_days", "h", scale=24.0),
    Metric("integrity_count", ("integrity.*",), "count", "rows"),
)


def default_path() -> Path:
    """The per-user store: runs of a site accumulate whatever output folder each run used."""
    import platformdirs

    return platformdirs.user_data_path("impax-preflight", appauthor=False) / "history.sqlite"


def _iso(dt: datetime) -> str:
    # one format, in UTC, so that the text columns sort in time order
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).isoformat(timespec="microseconds")


_SCHEMA = (
    """CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL UNIQUE,
        site TEXT NOT NULL,
        kind TEXT NOT NULL,
        verdict TEXT NOT NULL,
        interrupted INTEGER NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        tool_version TEXT,
        operator TEXT,
        counts TEXT NOT NULL,
        stages TEXT NOT NULL,
        recorded_at TEXT NOT NULL)""",
    "CREATE INDEX runs_by_site ON runs (site, started_at)",
    """CREATE TABLE findings (
        run INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        check_id TEXT NOT NULL,
        target TEXT NOT NULL,
        target_kind TEXT NOT NULL,
        subject TEXT,
        host TEXT,
        site TEXT,
        stage TEXT NOT NULL,
        status TEXT NOT NULL,
        severity TEXT NOT NULL,
        title TEXT,
        message TEXT,
        numbers TEXT)""",
    "CREATE INDEX findings_by_run ON findings (run)",
)


@dataclass
class StoredRun:
    """A run as the store holds it (the columns of `runs`, JSON decoded)."""

    pk: int
    run_id: str
    site: str
    kind: str
    verdict: str
    interrupted: bool
    started_at: str
    finished_at: str | None
    counts: dict[str, int]
    stages: dict[str, dict[str, int]]

    def summary(self) -> HistoryRun:
        return HistoryRun(run_id=self.run_id, started_at=datetime.fromisoformat(self.started_at), verdict=Verdict(self.verdict),
                          interrupted=self.interrupted, kind=self.kind, counts=self.counts, stages=self.stages)


_RUN_COLUMNS = "id, run_id, site, kind, verdict, interrupted, started_at, finished_at, counts, stages"


def _stored_run(row: tuple) -> StoredRun:
    pk, run_id, site, kind, verdict, interrupted, started, finished, counts, stages = row
    return StoredRun(pk, run_id, site, kind, verdict, bool(interrupted), started, finished, json.loads(counts), json.loads(stages))


class HistoryStore:
    """A SQLite file of runs. Each call opens its own connection: safe across threads and processes."""

    def __init__(self, path: str | Path, keep_runs: int = DEFAULT_KEEP_RUNS):
        self.path = Path(path).expanduser()
        self.keep_runs = max(2, int(keep_runs))

    def __repr__(self) -> str:
        return f"HistoryStore({str(self.path)!r}, keep_runs={self.keep_runs})"

    # ---- connection and layout ---------------------------------------------------------------

    def _connect(self, create: bool = True) -> sqlite3.Connection:
        if not create and not self.path.is_file():
            raise HistoryError(f"no history store at {self.path} (a run records one; see --history)")
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE takes the write lock up
        # front, so a concurrent writer waits on the busy timeout instead of failing mid-transaction)
        con = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version > FORMAT:
                raise HistoryError(f"{self.path} was written by a newer impax-preflight (history format {version}, this one "
                                   f"knows {FORMAT}): upgrade, or give another --history path")
            if version < FORMAT:
                self._create(con)
            con.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            con.close()
            raise
        return con

    def _create(self, con: sqlite3.Connection) -> None:
        # WAL: readers never block the writer, and two runs that finish together queue on the lock.
        # Must be set outside a transaction; it is persistent, so set once when the file is new.
        mode = _journal_wal(con)
        if str(mode).lower() != "wal":
            log.warning("history store %s: the file system refused the WAL journal (mode %s); concurrent runs wait longer",
                        self.path, mode)
        con.execute("BEGIN IMMEDIATE")
        try:
            if con.execute("PRAGMA user_version").fetchone()[0] < FORMAT:  # another process may have won the race
                foreign = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
                if foreign:
                    raise HistoryError(f"{self.path} is an SQLite file but not an impax-preflight history store "
                                       f"(it holds tables {', '.join(sorted(foreign)[:5])}): give another --history path")
                for statement in _SCHEMA:
                    con.execute(statement)
                con.execute(f"PRAGMA user_version = {FORMAT}")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    # ---- writing -----------------------------------------------------------------------------

    def record(self, report: RunReport, kind: str = "run", con: sqlite3.Connection | None = None) -> bool:
        """Record a run (idempotent by run id); prune the site to `keep_runs`. True if it was new.
        `con`: a connection of this store to use (and leave open), else one of its own."""
        from .report.diff import PROBLEM, numeric_values
        from .report.merge import group_findings

        rows = []
        stages: dict[str, dict[str, int]] = {}
        for (group, _site, _host), findings in group_findings(report).items():
            for f in findings:
                tally = stages.setdefault(group, {"blockers": 0, "warnings": 0})
                if f.is_blocking:
                    tally["blockers"] += 1
                elif f.status in PROBLEM:
                    tally["warnings"] += 1
                numbers = numeric_values(f.values)
                rows.append((f.key, f.check_id, f.target, f.target_kind, f.subject, f.host, f.site, group, f.status.value,
                             f.severity.value, f.title, mask(f.message[:MESSAGE_CHARS]),
                             json.dumps(numbers) if numbers else None))
        own = con is None
        con = con or self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                if con.execute("SELECT 1 FROM runs WHERE run_id = ?", (report.run_id,)).fetchone():
                    con.execute("COMMIT")
                    return False
                cur = con.execute(
                    "INSERT INTO runs (run_id, site, kind, verdict, interrupted, started_at, finished_at, tool_version, "
                    "operator, counts, stages, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (report.run_id, report.site, kind, report.verdict.value, int(report.interrupted), _iso(report.started_at),
                     _iso(report.finished_at) if report.finished_at else None, report.tool_version, report.operator,
                     json.dumps(report.counts()), json.dumps(stages), _iso(utcnow())))
                pk = cur.lastrowid
                con.executemany("INSERT INTO findings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                [(pk, *r) for r in rows])
                pruned = con.execute(
                    "DELETE FROM runs WHERE site = ? AND id NOT IN "
                    "(SELECT id FROM runs WHERE site = ? ORDER BY started_at DESC, id DESC LIMIT ?)",
                    (report.site, report.site, self.keep_runs)).rowcount
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            if pruned:
                log.info("history: pruned %d old run(s) of %s (keeping %d)", pruned, report.site, self.keep_runs)
        finally:
            if own:
                con.close()
        return True

    # ---- reading -----------------------------------------------------------------------------

    def sites(self) -> list[dict[str, Any]]:
        """Every site in the store: runs kept, first and last run, last verdict."""
        con = self._connect(create=False)
        try:
            rows = con.execute(
                "SELECT site, COUNT(*), MIN(started_at), MAX(started_at), "
                "(SELECT last.verdict FROM runs last WHERE last.site = runs.site ORDER BY last.started_at DESC, last.id DESC "
                "LIMIT 1) FROM runs GROUP BY site ORDER BY site").fetchall()
        finally:
            con.close()
        return [{"site": site, "runs": n, "first": first, "last": last, "last_verdict": verdict}
                for site, n, first, last, verdict in rows]

    def runs(self, site: str, until: datetime | None = None, limit: int | None = None) -> list[StoredRun]:
        """The site's runs, oldest first (only those started at or before `until`; the newest `limit`)."""
        con = self._connect(create=False)
        try:
            return self._runs(con, site, until, limit)
        finally:
            con.close()

    def _runs(self, con, site: str, until: datetime | None, limit: int | None) -> list[StoredRun]:
        sql = f"SELECT {_RUN_COLUMNS} FROM runs WHERE site = ?"
        args: list[Any] = [site]
        if until is not None:
            sql += " AND started_at <= ?"
            args.append(_iso(until))
        sql += " ORDER BY started_at DESC, id DESC"
        if limit:
            sql += " LIMIT ?"
            args.append(int(limit))
        return [_stored_run(r) for r in reversed(con.execute(sql, args).fetchall())]

    def findings(self, runs: list[StoredRun], con: sqlite3.Connection | None = None) -> dict[int, list[StoredFinding]]:
        """The stored findings of these runs (light `StoredFinding` objects: no evidence, message cut)."""
        own = con is None
        con = con or self._connect(create=False)
        out: dict[int, list[StoredFinding]] = {r.pk: [] for r in runs}
        try:
            for chunk in _chunks([r.pk for r in runs], 500):
                marks = ",".join("?" * len(chunk))
                for row in con.execute(
                        "SELECT run, key, check_id, target, target_kind, subject, host, site, stage, status, severity, "
                        f"title, message, numbers FROM findings WHERE run IN ({marks})", chunk):
                    f = _finding(row)
                    if f is not None:
                        out[row[0]].append(f)
        finally:
            if own:
                con.close()
        return out

    def as_report(self, run: StoredRun, findings: list[StoredFinding]) -> RunReport:
        """A stored run as a light `RunReport`, enough for `diff_reports`."""
        return RunReport.model_construct(
            tool_version="", run_id=run.run_id, site=run.site, started_at=datetime.fromisoformat(run.started_at),
            finished_at=datetime.fromisoformat(run.finished_at) if run.finished_at else None,
            interrupted=run.interrupted, verdict=Verdict(run.verdict), findings=findings, inventory={}, checks=[], not_run=[],
            plugins=[], warnings=[], expired_waivers=[])

    def trends(self, report: RunReport, con: sqlite3.Connection | None = None) -> RunHistory:
        """The site's runs up to this one, the series the charts draw, and the diff against the previous run.
        `con`: a connection of this store to use (and leave open), else one of its own."""
        from .report.diff import diff_reports

        own = con is None
        con = con or self._connect(create=False)
        try:
            runs = self._runs(con, report.site, report.started_at, self.keep_runs)
            if not any(r.run_id == report.run_id for r in runs):
                # not in the store (e.g. a run older than every kept one): this run goes last
                runs.append(_stored_from_report(report))
            index = {r.pk: i for i, r in enumerate(runs)}
            previous = next((r for r in reversed(runs) if r.run_id != report.run_id), None)
            since_last = None
            if previous is not None:
                old = self.as_report(previous, self.findings([previous], con)[previous.pk])
                since_last = diff_reports(old, report)
            series, limits = self._series(con, runs, index, report)
        finally:
            if own:
                con.close()
        return RunHistory(site=report.site, store=str(self.path), upgrade_date=upgrade_date_of(report.inventory),
                          keep_runs=self.keep_runs, runs=[r.summary() for r in runs], series=series, limits=limits,
                          since_last=since_last)

    def _series(self, con, runs: list[StoredRun], index: dict[int, int], report: RunReport):
        checks = sorted({c for m in METRICS for c in m.checks})
        globs = [c for c in checks if any(ch in c for ch in "*?[")]
        exact = [c for c in checks if c not in globs]
        where = " OR ".join(["check_id IN (%s)" % ",".join("?" * len(exact))] + ["check_id GLOB ?"] * len(globs))
        pks = [r.pk for r in runs if r.pk > 0]
        points: dict[tuple[str, str], HistorySeries] = {}
        n = len(runs)

        def add(metric: Metric, i: int, key: str, check_id: str, target: str, subject: str | None, numbers: dict) -> None:
            v = numbers.get(metric.value)
            if v is None:
                return
            s = points.get((metric.chart, key))
            if s is None:
                s = points[(metric.chart, key)] = HistorySeries(
                    chart=metric.chart, label=_label(metric, check_id, target, subject), key=key, value=metric.value,
                    unit=metric.unit, points=[None] * n)
            s.points[i] = round(float(v) * metric.scale, 3)

        for chunk in _chunks(pks, 500):
            marks = ",".join("?" * len(chunk))
            for run_pk, key, check_id, target, subject, numbers in con.execute(
                    f"SELECT run, key, check_id, target, subject, numbers FROM findings WHERE run IN ({marks}) "
                    f"AND numbers IS NOT NULL AND ({where})", [*chunk, *exact, *globs]):
                metric = _metric_for(check_id)
                if metric is not None:
                    add(metric, index[run_pk], key, check_id, target, subject, json.loads(numbers))
        if runs and runs[-1].pk < 0:  # this run, not in the store: from the report itself
            from .report.diff import numeric_values

            for f in report.findings:
                metric = _metric_for(f.check_id)
                if metric is not None:
                    add(metric, n - 1, f.key, f.check_id, f.target, f.subject, numeric_values(f.values))
        limits: dict[str, float] = {}
        for f in report.findings:
            metric = _metric_for(f.check_id)
            if metric is not None and metric.limit and isinstance(f.values.get(metric.limit), (int, float)):
                limits.setdefault(metric.chart, float(f.values[metric.limit]) * metric.scale)
        return _integrity_summary(list(points.values()), n), limits


def _metric_for(check_id: str) -> Metric | None:
    return next((m for m in METRICS if any(fnmatchcase(check_id, c) for c in m.checks)), None)


def _label(metric: Metric, check_id: str, target: str, subject: str | None) -> str:
    if metric.chart == "tablespace_gb":
        return f"{target} {subject}" if subject else target
    if metric.chart == "integrity_count":
        return f"{check_id.split('.', 1)[-1]} @ {target}"
    what = "configuration backup" if check_id == "backup.appserver_config" else "database backup"
    return f"{target} {what}"


def _integrity_summary(series: list[HistorySeries], n: int) -> list[HistorySeries]:
    """Integrity: one line per check that found rows at least once, plus the total over all of them
    (twelve lines at zero would hide the one that matters)."""
    integrity = [s for s in series if s.chart == "integrity_count"]
    if not integrity:
        return series
    total = [None if all(s.points[i] is None for s in integrity) else sum(s.points[i] or 0 for s in integrity) for i in range(n)]
    kept = [s for s in series if s.chart != "integrity_count" or any(p for p in s.points)]
    if sum(1 for s in kept if s.chart == "integrity_count") == 1:
        return kept  # the total would be the same line
    kept.append(HistorySeries(chart="integrity_count", label="all integrity checks (total)", key="integrity.*",
                              value="count", unit="rows", points=total))
    return kept


def _chunks(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


@dataclass(slots=True)
class StoredFinding:
    """A finding read back from the store: what `diff_reports` reads of a `Finding`, no evidence.

    Not a pydantic model: a history of 20,000 findings loads in milliseconds instead of a second.
    """

    key: str
    check_id: str
    target: str
    target_kind: str
    subject: str | None
    host: str | None
    site: str | None
    tier: str | None
    status: Status
    severity: Severity
    title: str
    message: str
    values: dict[str, Any]
    remediation: str | None = None

    is_blocking = property(Finding.is_blocking.fget)  # the one definition of "blocks the upgrade"


def _finding(row: tuple) -> StoredFinding | None:
    _run, key, check_id, target, target_kind, subject, host, site, stage, status, severity, title, message, numbers = row
    try:
        st, sev = Status(status), Severity(severity)
    except ValueError:  # written by a newer version with a status this one does not know
        return None
    return StoredFinding(key, check_id, target, target_kind, subject, host, site, stage if stage in STAGES else None,
                         st, sev, title or "", message or "", json.loads(numbers) if numbers else {})


def _stored_from_report(report: RunReport) -> StoredRun:
    return StoredRun(-1, report.run_id, report.site, "run", report.verdict.value, report.interrupted, _iso(report.started_at),
                     None, report.counts(), {})


def upgrade_date_of(inventory: dict[str, Any]) -> date | None:
    """The planned upgrade date from an inventory summary; for a cluster report, the earliest of its sites."""
    dates = []
    site = inventory.get("site") if isinstance(inventory, dict) else None
    if isinstance(site, dict) and site.get("upgrade_date"):
        dates.append(site["upgrade_date"])
    for sub in (inventory.get("sites") or {}).values() if isinstance(inventory, dict) else ():
        if isinstance(sub, dict) and isinstance(sub.get("site"), dict) and sub["site"].get("upgrade_date"):
            dates.append(sub["site"]["upgrade_date"])
    parsed = []
    for d in dates:
        try:
            parsed.append(d if isinstance(d, date) else date.fromisoformat(str(d)[:10]))
        except ValueError:
            continue
    return min(parsed) if parsed else None


# ---- what the commands call ------------------------------------------------------------------


def history_store(inventory=None, path: str | Path | None = None) -> HistoryStore:
    """Which store: --history PATH; [site.history] path; IMPAX_PREFLIGHT_HISTORY; the per-user default.

    Whether a run records into it is `open_history`'s question: `history` reads this store even when
    [site.history] enabled = false. Nothing is opened here.
    """
    settings = inventory.site.history if inventory is not None else None
    keep = settings.keep_runs if settings is not None else DEFAULT_KEEP_RUNS
    chosen = path or (settings.path if settings is not None else None) or os.environ.get("IMPAX_PREFLIGHT_HISTORY") or default_path()
    return HistoryStore(chosen, keep_runs=keep)


def open_history(inventory=None, path: str | Path | None = None, disabled: bool = False) -> HistoryStore | None:
    """The store a run records into (`history_store`), or None: --no-history, or [site.history]
    enabled = false without a --history PATH.

    Nothing is opened here: a store that cannot be written shows as a run warning when the run records.
    """
    settings = inventory.site.history if inventory is not None else None
    if disabled or (path is None and settings is not None and not settings.enabled):
        return None
    return history_store(inventory, path)


def record_run(report: RunReport, store: HistoryStore | None, kind: str = "run") -> RunReport:
    """Record the run in the store and attach its history (`report.history`). Never raises for the store:
    a history that cannot be written or read becomes a run warning and the run is unaffected."""
    if store is None:
        return report
    con = None
    try:
        con = store._connect()  # one connection records the run and reads the trends back
        store.record(report, kind, con)
    except (sqlite3.Error, OSError, HistoryError) as exc:
        if con is not None:
            con.close()
        report.warnings.append(mask(f"the run was not recorded in the history {store.path}: {_reason(exc)}; the run itself "
                                    "is complete (give another store with --history PATH, or --no-history)"))
        return report
    try:
        report.history = store.trends(report, con)
    except (sqlite3.Error, OSError, HistoryError, ValueError) as exc:
        report.warnings.append(mask(f"the run was recorded in {store.path} but its history could not be read back: "
                                    f"{_reason(exc)}; the report has no trends"))
    finally:
        con.close()
    return report


def _journal_wal(con: sqlite3.Connection) -> str:
    """Switch a new store to WAL. SQLite answers "locked" at once, without its busy timeout, while
    another process creates the same new file: retry until the timeout, as the lock would wait."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            return str(con.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}{f' ({exc.filename})' if exc.filename else ''}"
    text = str(exc) or type(exc).__name__
    if isinstance(exc, sqlite3.DatabaseError) and "not a database" in text:
        return f"{text}: the file is not an impax-preflight history store"
    if isinstance(exc, sqlite3.OperationalError) and "locked" in text:
        return f"{text}: another run held the store for more than {BUSY_TIMEOUT_S:g} s"
    return text


def record_report(report: RunReport, runs: list[RunReport], store: HistoryStore | None) -> RunReport:
    """`impax-preflight report`: record each run given (if not yet recorded) and the merge, attach the trends.

    A single run re-rendered keeps the history it was written with, so the same file gives the same pictures.
    """
    if store is None or (len(runs) == 1 and report.history is not None):
        return report
    report = report.model_copy(update={"warnings": list(report.warnings)})
    if len(runs) > 1:
        for r in runs:
            try:
                store.record(r, "run")
            except (sqlite3.Error, OSError, HistoryError) as exc:
                report.warnings.append(mask(f"the run {r.run_id} of {r.site} was not recorded in the history {store.path}: "
                                            f"{_reason(exc)}"))
                break
    return record_run(report, store, kind="merge" if len(runs) > 1 else "run")


# ---- `impax-preflight history` ---------------------------------------------------------------


def _keys(items: list[dict]) -> list[str]:
    return [it["key"] for it in items]


def site_history(store: HistoryStore, site: str, last: int | None = None) -> dict[str, Any]:
    """The site's runs, oldest first, each with its counts and what changed since the run before it
    (the categories of `report.diff.diff_reports`, as finding keys)."""
    from .report.charts import run_totals
    from .report.diff import diff_reports

    con = store._connect(create=False)
    try:
        runs = store._runs(con, site, None, None)
        shown = runs[-last:] if last else runs
        # the run before the first shown one is needed for its "since the previous run"
        needed = runs[max(0, len(runs) - len(shown) - 1):]
        findings = store.findings(needed, con)
    finally:
        con.close()
    out_runs = []
    previous = None
    for r in needed:
        current = store.as_report(r, findings[r.pk])
        blockers, warnings = run_totals(r)
        entry = {"run_id": r.run_id, "kind": r.kind, "started_at": r.started_at, "finished_at": r.finished_at,
                 "verdict": r.verdict, "verdict_label": Verdict(r.verdict).label, "interrupted": r.interrupted,
                 "counts": r.counts, "stages": r.stages,
                 "blockers": blockers, "warnings": warnings,
                 "changes": None}
        if previous is not None:
            d = diff_reports(previous, current)
            entry["changes"] = {"since_run_id": previous.run_id, "verdict_changed": d["verdict"]["changed"],
                                "counts": d["counts"],
                                **{k: _keys(d[k]) for k in ("new_blockers", "new_problems", "resolved", "now_waived",
                                                           "not_rechecked")},
                                "moved": [{"key": it["key"], "values": it["values"]} for it in d["moved"]]}
        out_runs.append(entry)
        previous = current
    if len(needed) > len(shown):
        out_runs = out_runs[1:]
    return {"store": str(store.path), "site": site, "keep_runs": store.keep_runs, "runs_kept": len(runs), "runs": out_runs}
