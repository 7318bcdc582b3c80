"""dicom.study_reconcile: the new archive holds every study of the old one, with as many series and
instances — compared study by study, day by day, over a window of months if need be.

`compare_day` is the comparison of one day (pure: the re-queries by UID are functions given to
it). The check drives it: paced C-FINDs through two `QuerySession`s, only inside the allowed time
window, each finished day recorded in a `Ledger` (state file + CSV) so that the next run resumes
where this one stopped.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from impax_preflight import check
from impax_preflight.check import CheckContext
from impax_preflight.model import Evidence, Finding, Status

from . import net
from .checks import GUIDE, _archive_pair_declared, _archive_peers, _calling_ae, settings
from .ledger import Ledger, LedgerError
from .options import date, flag, number, whole
from .net import STUDY_KEYS, DicomError, Peer, QuerySession, StudyRecord, study_query

CHECK_ID = "dicom.study_reconcile"
CSV_NAME = "dicom-study-reconcile.csv"
#: days with a discrepancy listed in the finding's values (a report stays readable over a year)
PER_DAY_IN_VALUES = 60

#: kind -> (what it means, whether it blocks)
KINDS: dict[str, tuple[str, bool]] = {
    "missing": ("on the old archive only: the new one returned it neither for its date nor for its Study Instance UID", True),
    "fewer_instances": ("fewer instances on the new archive (NumberOfStudyRelatedInstances)", True),
    "more_instances": ("more instances on the new archive", False),
    "series_differ": ("as many instances, but a different number of series (NumberOfStudyRelatedSeries)", False),
    "date_differs": ("on both archives, under different StudyDates", False),
    "not_found_by_date": ("on both with the same StudyDate, but one archive's day query did not return it (a result limit?)", False),
    "extra": ("on the new archive only", False),
}
CSV_FIELDS = [
    "kind", "day", "study_instance_uid", "old_study_date", "new_study_date", "old_series", "new_series",
    "old_instances", "new_instances", "accession_number", "modalities", "note",
]  # fmt: skip


@dataclass
class DayResult:
    """One day compared: how many studies each archive returned, how many matched, what differed."""

    day: str  # ISO date
    old: int = 0
    new: int = 0
    matched: int = 0
    uncounted: int = 0  # matched studies whose counts one archive did not return
    requeried: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)

    def counters(self) -> dict[str, int]:
        kinds = Counter(r["kind"] for r in self.rows)
        return {"old": self.old, "new": self.new, "matched": self.matched, "uncounted": self.uncounted,
                "requeried": self.requeried, **{k: kinds.get(k, 0) for k in KINDS}}


def _row(kind: str, day: str, old: StudyRecord | None, new: StudyRecord | None, note: str = "") -> dict[str, Any]:
    ref = old or new
    assert ref is not None
    return {
        "kind": kind,
        "day": day,
        "study_instance_uid": ref.uid,
        "old_study_date": old.date if old else "",
        "new_study_date": new.date if new else "",
        "old_series": old.series if old else None,
        "new_series": new.series if new else None,
        "old_instances": old.instances if old else None,
        "new_instances": new.instances if new else None,
        "accession_number": ref.accession,
        "modalities": ref.modalities,
        "note": note,
    }


def compare_day(
    day: str,
    old: list[StudyRecord],
    new: list[StudyRecord],
    *,
    find_new: Callable[[str], StudyRecord | None],
    find_old: Callable[[str], StudyRecord | None],
    in_range: Callable[[str], bool],
    compare_counts: bool = True,
) -> DayResult:
    """Compare one day's studies of the old and the new archive (matched by StudyInstanceUID).

    A study only the old archive returned is looked up on the new one by its UID alone
    (`find_new`) before it is called missing; a study only the new one returned is looked up on
    the old one (`find_old`): if the old archive files it under another date inside the window
    (`in_range`, YYYYMMDD), it is reported on that day, not twice.
    """
    result = DayResult(day)
    old_by = {r.uid: r for r in old}
    new_by = {r.uid: r for r in new}
    result.old, result.new = len(old_by), len(new_by)

    def counts(o: StudyRecord, n: StudyRecord) -> None:
        result.matched += 1
        if not compare_counts:
            return
        if o.instances is None or n.instances is None:
            result.uncounted += 1
        elif n.instances < o.instances:
            result.rows.append(_row("fewer_instances", day, o, n))
        elif n.instances > o.instances:
            result.rows.append(_row("more_instances", day, o, n))
        elif o.series is not None and n.series is not None and o.series != n.series:
            result.rows.append(_row("series_differ", day, o, n))

    for uid in sorted(old_by):
        o, n = old_by[uid], new_by.get(uid)
        if n is None:
            result.requeried += 1
            n = find_new(uid)
            if n is None:
                result.rows.append(_row("missing", day, o, None))
                continue
            if n.date != o.date:
                result.rows.append(_row("date_differs", day, o, n))
            else:
                result.rows.append(_row("not_found_by_date", day, o, n, "the new archive's day query did not return it"))
        counts(o, n)
    for uid in sorted(set(new_by) - set(old_by)):
        n = new_by[uid]
        result.requeried += 1
        o = find_old(uid)
        if o is None:
            result.rows.append(_row("extra", day, None, n))
            continue
        if o.date != n.date and in_range(o.date):
            continue  # compared (and reported) on the old archive's date
        if o.date == n.date:
            result.rows.append(_row("not_found_by_date", day, o, n, "the old archive's day query did not return it"))
        else:
            result.rows.append(_row("date_differs", day, o, n, "the old archive's date is outside the window"))
        counts(o, n)
    return result


# ---- settings --------------------------------------------------------------------------------


@dataclass
class ReconcileSettings:
    window: tuple[dt.time, dt.time] | None
    window_text: str
    first_day: dt.date
    last_day: dt.date
    range_spec: dict[str, Any]
    pause_s: float
    timeout_s: float
    compare_counts: bool
    max_run_s: float
    max_days_per_run: int
    state_dir: Path | None
    restart: bool
    examples: int
    max_result_age_h: float

    @property
    def days(self) -> list[str]:
        n = (self.last_day - self.first_day).days + 1
        return [(self.first_day + dt.timedelta(days=i)).isoformat() for i in range(n)]


def state_folder(ctx: CheckContext, opts: dict[str, Any]) -> Path | None:
    """site.options.dicom.state_dir (relative to the inventory's folder), else
    ``impax-preflight-state`` beside the inventory; None when the inventory has no file."""
    source = getattr(ctx.inventory, "source", None)
    base = Path(source).resolve().parent if source else None
    if opts.get("state_dir"):
        p = Path(str(opts["state_dir"])).expanduser()
        return p if p.is_absolute() or base is None else base / p
    return base / "impax-preflight-state" if base else None


def reconcile_settings(ctx: CheckContext, opts: dict[str, Any], today: dt.date | None = None) -> ReconcileSettings:
    """Read and check the options; ValueError says which one is wrong."""
    window_text = str(opts.get("window", "20:00-06:00"))
    window = net.parse_window(window_text)
    today = today or dt.date.today()
    end = date(opts, "end_date")
    start = date(opts, "start_date")
    if start is not None and "days" in opts:
        raise ValueError("give start_date or days, not both")
    last = end or today - dt.timedelta(days=1)
    if start is not None:
        first = start
        spec = {"start_date": start.isoformat(), "end_date": end.isoformat() if end else "yesterday"}
    else:
        days = whole(opts, "days", 7, 1, 3660)
        first = last - dt.timedelta(days=days - 1)
        spec = {"days": days, "end_date": end.isoformat() if end else "yesterday"}
    if first > last:
        raise ValueError(f"start_date {first} is after end_date {last}")
    if (last - first).days >= 3660:
        raise ValueError(f"{first}..{last} is more than 3660 days: reconcile it in parts")
    return ReconcileSettings(
        window=window,
        window_text=window_text,
        first_day=first,
        last_day=last,
        range_spec=spec,
        pause_s=number(opts, "pause_s", 1.0, 0, 600),
        timeout_s=number(opts, "timeout_s", 30.0, 1, 600),
        compare_counts=flag(opts, "compare_counts", True),
        max_run_s=number(opts, "max_run_minutes", 60, 0.1, 720) * 60,
        max_days_per_run=whole(opts, "max_days_per_run", 0, 0, 100000),  # 0: no limit
        state_dir=state_folder(ctx, opts),
        restart=flag(opts, "restart", False),
        examples=whole(opts, "examples", 10, 0, 100),
        max_result_age_h=number(opts, "max_result_age_hours", 48, 0, 24 * 365),
    )


def _stem(old: Peer, new: Peer) -> str:
    safe = re.compile(r"[^A-Za-z0-9_.-]+")
    return f"dicom-study-reconcile_{safe.sub('_', old.ae_title)}_{safe.sub('_', new.ae_title)}"


# ---- the check -------------------------------------------------------------------------------


def _pair_declared(site, host, db, inventory=None) -> bool | str:
    """an old and a new archive are named (AE roles old_archive / new_archive, or options old / new)"""
    return _archive_pair_declared(site, host, db, inventory=inventory, check_id=CHECK_ID)


DESCRIPTION = (
    "For each day of the window (default: the 7 days ending yesterday; start_date / end_date for months), a Study "
    "Root C-FIND (1.2.840.10008.5.1.4.1.2.2.1) at STUDY level with StudyDate = that day on the old and on the new "
    "archive, asking for StudyInstanceUID, StudyDate, NumberOfStudyRelatedSeries (0020,1206), "
    "NumberOfStudyRelatedInstances (0020,1208), AccessionNumber and ModalitiesInStudy. Studies are matched by "
    "StudyInstanceUID. A study the new archive did not return for its day is queried again on the new archive by "
    "its StudyInstanceUID alone (no date) before it is called missing; a study only the new archive returned is "
    "queried on the old one the same way, so a study filed under another StudyDate is reported once "
    "(date_differs), not as one missing and one extra. For studies on both, the counts the archives compute "
    "themselves are compared: NumberOfStudyRelatedInstances counts every stored composite object of the study, "
    "whatever its SOP class (images, presentation states, structured reports, key object selections...), "
    "NumberOfStudyRelatedSeries every series; no image is retrieved and nothing is counted by this tool. Missing "
    "studies and fewer instances on the new archive fail; extra studies, more instances, another series count or "
    "another date warn; counts an archive did not return, or days not reconciled yet, are an error (not verified). "
    "Paced (pause_s between queries), only inside the time window (default 20:00-06:00), at most max_run_minutes "
    "per run; progress is kept in a state file so the next run resumes where this one stopped. Every discrepancy "
    "is written to dicom-study-reconcile.csv beside the report."
)


@check(
    CHECK_ID,
    "The new archive holds every study of the old one, with as many series and instances",
    "blocker",
    "site",
    when=_pair_declared,
    guide=GUIDE,
    timeout_s=12 * 3600,  # paced by design; the check stops itself at max_run_minutes or the window's end
    remediation=(
        "Migrate the studies listed as missing or with fewer instances again (the CSV beside the report lists "
        "every one with its UID and accession number), then run this check again. Extra studies and other dates "
        "are for the migration team to explain. Resume an unfinished reconciliation by running again inside the "
        "time window (impax-preflight run site.toml --only dicom.study_reconcile)."
    ),
    description=DESCRIPTION,
)
def dicom_study_reconcile(ctx: CheckContext) -> Iterator[Finding]:
    opts = settings(ctx)
    try:
        cfg = reconcile_settings(ctx, opts)
        pair = _archive_peers(ctx.inventory, opts, CHECK_ID)
    except (ValueError, TypeError) as exc:
        yield ctx.error(f"bad settings in site.options.\"{CHECK_ID}\": {exc}")
        return
    if isinstance(pair, str):
        yield ctx.skip(pair)
        return
    if cfg.state_dir is None:
        yield ctx.error(
            "no folder for the reconciliation's state: the inventory was not read from a file; set "
            "site.options.dicom.state_dir"
        )
        return
    old, new = pair
    calling = _calling_ae(opts)
    fingerprint = {"old": str(old), "new": str(new), "calling_ae": calling, "range": cfg.range_spec,
                   "compare_counts": cfg.compare_counts}
    ledger = Ledger(cfg.state_dir, _stem(old, new), CSV_FIELDS, cfg.examples)
    try:
        ledger.lock()
    except LedgerError as exc:
        yield ctx.error(str(exc), subject=f"{old.ae_title} vs {new.ae_title}")
        return
    try:
        yield from _run(ctx, cfg, old, new, calling, fingerprint, ledger)
    finally:
        ledger.unlock()


def _run(ctx, cfg: ReconcileSettings, old: Peer, new: Peer, calling: str, fingerprint, ledger: Ledger) -> Iterator[Finding]:
    subject = f"{old.ae_title} vs {new.ae_title}"
    try:
        saved = None if cfg.restart else ledger.load()
    except LedgerError as exc:
        yield ctx.error(str(exc), subject=subject)
        return
    same = saved is not None and saved.get("fingerprint") == fingerprint
    now = dt.datetime.now()
    if not net.in_window(cfg.window, now.time()):
        if same and ledger.complete:
            yield _finding(ctx, cfg, old, new, ledger, stopped=None, from_state=True)
            return
        what = (
            f"{len(ledger.done)} of {len(ledger.state['days'])} days reconciled so far" if same else "not started"
        )
        yield ctx.error(
            f"not verified: outside the query window {cfg.window_text} (now {now:%H:%M}) and no finished "
            f"reconciliation to report ({what}); run again inside the window (impax-preflight run ... --only "
            f"{CHECK_ID}), or change site.options.\"{CHECK_ID}\".window",
            subject=subject,
            values={"days_done": len(ledger.done) if same else 0},
        )
        return
    try:
        if same and not ledger.complete:
            ledger.resume()
        else:
            if saved is not None and not same:
                ctx.note(f"{ledger.json_path} held a reconciliation with other settings ({saved.get('fingerprint')}): "
                         "a new one starts", source="state")
            ledger.start(fingerprint, cfg.days)
    except (LedgerError, OSError) as exc:
        yield ctx.error(f"cannot write the reconciliation state in {cfg.state_dir}: {exc}", subject=subject)
        return
    stopped = _reconcile_days(ctx, cfg, old, new, calling, ledger)
    if stopped is None:
        ledger.finish()
    else:
        ledger.save(force=True)
    yield _finding(ctx, cfg, old, new, ledger, stopped=stopped, from_state=False)


class _Pacer:
    """A pause between two queries (to either archive), never before the first."""

    def __init__(self, pause_s: float):
        self.pause_s, self._first = pause_s, True

    def __call__(self) -> None:
        if not self._first and self.pause_s > 0:
            time.sleep(self.pause_s)
        self._first = False


def _reconcile_days(ctx, cfg: ReconcileSettings, old: Peer, new: Peer, calling: str, ledger: Ledger) -> str | None:
    """Reconcile the days left; None when all are done, else why it stopped (the state is kept)."""
    remaining = ledger.remaining()
    total = len(ledger.state["days"])
    started = time.monotonic()
    # stop early enough to finish a day and save before the runner's deadline (a quarter of a short budget)
    margin = min(120.0, 2 * cfg.timeout_s + 2 * cfg.pause_s + 2)
    if ctx.deadline is not None:
        margin = min(margin, max(0.0, ctx.deadline - started) / 4)
    first, last = ledger.state["days"][0].replace("-", ""), ledger.state["days"][-1].replace("-", "")
    pace = _Pacer(cfg.pause_s)
    old_s, new_s = QuerySession(old, calling, cfg.timeout_s), QuerySession(new, calling, cfg.timeout_s)

    def find_on(session: QuerySession) -> Callable[[str], StudyRecord | None]:
        def find(uid: str) -> StudyRecord | None:
            pace()
            return session.study(uid)

        return find

    try:
        for n, day in enumerate(remaining):
            if cfg.max_days_per_run and n >= cfg.max_days_per_run:
                return f"this run's share of days (max_days_per_run = {cfg.max_days_per_run}) is done"
            if not net.in_window(cfg.window, dt.datetime.now().time()):
                return f"the query window {cfg.window_text} closed"
            if time.monotonic() - started > cfg.max_run_s:
                return f"this run's time (max_run_minutes = {cfg.max_run_s / 60:g}) is used up"
            if ctx.deadline is not None and ctx.deadline - time.monotonic() < margin:
                return "the check's time limit is near (thresholds.check_timeout_s or --timeout)"
            d = dt.date.fromisoformat(day)
            pace()
            old_recs = old_s.studies(study_query(day=d), f"for {day}")
            pace()
            new_recs = new_s.studies(study_query(day=d), f"for {day}")
            result = compare_day(
                day, old_recs, new_recs, find_new=find_on(new_s), find_old=find_on(old_s),
                in_range=lambda date: first <= date <= last, compare_counts=cfg.compare_counts,
            )
            ledger.record(day, result.counters(), result.rows)
            done = len(ledger.done)
            missing = ledger.totals.get("missing", 0)
            ctx.progress(f"{day}: {done}/{total} days, {missing} missing so far", done, total)
    except DicomError as exc:
        return f"a query failed: {exc}"
    finally:
        old_s.close()
        new_s.close()
    return None


# ---- the finding -----------------------------------------------------------------------------

_LABELS = {
    "missing": "missing on the new archive",
    "fewer_instances": "with fewer instances",
    "more_instances": "with more instances",
    "series_differ": "with another series count",
    "date_differs": "under another StudyDate",
    "not_found_by_date": "not returned by a day query",
    "extra": "extra on the new archive",
}


def _example(r: dict[str, Any]) -> str:
    kind, uid = r["kind"], r["study_instance_uid"]
    if kind == "missing":
        return f"missing {uid} ({r.get('old_study_date', '?')}, {r.get('old_instances', '?')} instances)"
    if kind == "extra":
        return f"extra {uid} ({r.get('new_study_date', '?')})"
    if kind == "date_differs":
        return f"{uid} dated {r.get('old_study_date', '?')} on old, {r.get('new_study_date', '?')} on new"
    if kind in ("fewer_instances", "more_instances"):
        return f"{uid} ({r['day']}): {r.get('old_instances', '?')} instances on old, {r.get('new_instances', '?')} on new"
    if kind == "series_differ":
        return f"{uid} ({r['day']}): {r.get('old_series', '?')} series on old, {r.get('new_series', '?')} on new"
    return f"{kind} {uid} ({r['day']})"


def _day_line(day: str, c: dict[str, int]) -> str:
    flags = ", ".join(f"{c[k]} {k}" for k in KINDS if c.get(k))
    line = f"{day}  old {c.get('old', 0):>6}  new {c.get('new', 0):>6}  matched {c.get('matched', 0):>6}"
    if c.get("uncounted"):
        flags = ", ".join(filter(None, [flags, f"{c['uncounted']} not counted"]))
    return line + (f"  {flags}" if flags else "")


def _finding(ctx, cfg: ReconcileSettings, old: Peer, new: Peer, ledger: Ledger, *, stopped: str | None, from_state: bool) -> Finding:
    state = ledger.state
    days = state["days"]
    totals, done = ledger.totals, ledger.done
    found = {k: totals.get(k, 0) for k in KINDS}
    blocking = sum(n for k, n in found.items() if KINDS[k][1])
    other = sum(n for k, n in found.items() if not KINDS[k][1])
    uncounted = totals.get("uncounted", 0)
    complete = ledger.complete
    subject = f"{old.ae_title} vs {new.ae_title}"

    csv_path: Path | None = ledger.csv_path
    if ctx.output_dir is not None:
        try:
            ctx.output_dir.mkdir(parents=True, exist_ok=True)
            csv_path = Path(shutil.copyfile(ledger.csv_path, ctx.output_dir / CSV_NAME))
        except OSError as exc:
            ctx.note(f"could not copy {ledger.csv_path} beside the report: {exc}", source="csv")
    per_day = [{"date": d, **c} for d, c in done.items() if any(c.get(k) for k in KINDS) or c.get("uncounted")]
    values: dict[str, Any] = {
        "first_day": days[0],
        "last_day": days[-1],
        "days": len(days),
        "days_done": len(done),
        "complete": complete,
        "old_studies": totals.get("old", 0),
        "new_studies": totals.get("new", 0),
        "matched": totals.get("matched", 0),
        **found,
        "not_counted": uncounted,
        "requeried_by_uid": totals.get("requeried", 0),
        "days_with_discrepancies": len(per_day),
        "per_day": per_day[:PER_DAY_IN_VALUES],  # all of them: the evidence table and the CSV
        "examples": ledger.examples,
        "csv": str(csv_path),
        "state_file": str(ledger.json_path),
        "started_at": state.get("started_at"),
        "completed_at": state.get("completed_at"),
        "value": blocking + other,
    }
    lines = [_day_line(d, done[d]) for d in days if d in done]
    if len(lines) > 400:  # keep the evidence readable: every day with a discrepancy, then a count
        quiet = sum(1 for d in days if d in done and not any(done[d].get(k) for k in KINDS))
        lines = [_day_line(p["date"], p) for p in per_day] + [f"... and {quiet} days without a discrepancy"]
    evidence = [
        Evidence(
            kind="dicom",
            source=(
                f"C-FIND STUDY (Study Root) per StudyDate {days[0]}..{days[-1]} on old {old} and new {new}, "
                f"keys {', '.join(STUDY_KEYS)}; misses re-queried by StudyInstanceUID; pause {cfg.pause_s:g}s"
                + (f"; from the state file {ledger.json_path}" if from_state else "")
            ),
            target="site",
            output="\n".join(lines) or "(no day reconciled yet)",
            transport="dicom",
        )
    ]
    span = f"{days[0]}..{days[-1]} ({len(days)} days)"
    parts = [f"{found[k]} {_LABELS[k]}" for k in KINDS if found[k]]
    if uncounted:
        parts.append(f"{uncounted} whose counts an archive did not return (not compared)")
    summary = (
        f"{old.ae_title} -> {new.ae_title}, {span}: {values['old_studies']:,} studies on the old archive, "
        f"{values['new_studies']:,} on the new, {values['matched']:,} matched"
    )
    if parts:
        summary += "; " + ", ".join(parts)
    examples = ledger.examples[:5]
    if examples:
        summary += ". First: " + "; ".join(_example(r) for r in examples)
        total_rows = state.get("csv_rows", 0)
        summary += f". All {total_rows:,} in {csv_path.name if csv_path else CSV_NAME}"
    if from_state:
        summary += f" (reconciliation finished {state.get('completed_at')}, reported from the state file)"
    if not complete:
        next_day = next((d for d in days if d not in done), None)
        summary = (
            f"incomplete: {len(done)} of {len(days)} days reconciled, stopped because {stopped}; the next run inside "
            f"the window resumes at {next_day}. So far: " + summary
        )
    status: Status
    if blocking:
        status = Status.FAIL
    elif not complete or (uncounted and cfg.compare_counts):
        status = Status.ERROR
    elif from_state and _age_hours(state.get("completed_at")) > cfg.max_result_age_h:
        status = Status.ERROR
        summary = (
            f"the last finished reconciliation is {_age_hours(state.get('completed_at')):.0f} hours old (more than "
            f"max_result_age_hours = {cfg.max_result_age_h:g}): run it again inside the window. It said: " + summary
        )
    elif other:
        status = Status.WARN
    else:
        status = Status.PASS
    return ctx.finding(status, summary, subject=subject, values=values, evidence=[*ctx.evidence, *evidence])


def _age_hours(stamp: str | None) -> float:
    if not stamp:
        return float("inf")
    try:
        then = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return float("inf")
    return (dt.datetime.now().astimezone() - then).total_seconds() / 3600
