"""Benchmark: a history of 200 runs x 100 findings — `history` answers, the report with charts renders.

    python benchmarks/history.py [--runs 200] [--findings 100] [--repeat 5]

Records the runs into a fresh store (the way `run` does: record + trends), then times, each the
median of --repeat: `impax-preflight history SITE` and `history SITE --json` as fresh processes
(what a user waits for, interpreter start included), `impax-preflight --help` beside them (the
floor of any command), the same `site_history()` in-process, and the HTML report of the last run
rendered with its 200-run history (charts) and without it, side by side. Targets: history < 0.5 s,
report with charts < 1 s.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from impax_preflight.model import Finding, RunReport, Severity, Status, compute_verdict

SITE = "Bench Hospital"
TABLESPACES = ("MVFL", "MVFLINDX", "MVF", "MVFINDX", "UNDOTBS1")
INTEGRITY = ("study_uid", "his_study_uid", "object_sop_instance_uid", "object_series_ref", "map_job_user", "map_event_user",
             "map_event_audit_user", "folder_name", "folder_item_name", "print_params_user", "report_access_ae_title",
             "object_document_unique")


def run_findings(i: int, n: int, rnd: random.Random) -> list[Finding]:
    """Run i: tablespaces fill, the backup ages, integrity rows get fixed, host checks come and go."""
    out = []
    db = "mvf-db01/mvf"

    def add(check_id, status, severity, target, subject=None, values=None, kind="host"):
        out.append(Finding(check_id=check_id, title=check_id, severity=severity, status=status, target=target, target_kind=kind,
                           subject=subject, message=f"{check_id} {status.value} on {target} {subject or ''}",
                           values=values or {}, host=target.split("/")[0], tier=("prod", "bk", "dr")[len(out) % 3]))

    for k, ts in enumerate(TABLESPACES):
        gb = round(6 + k - i * 0.02 + rnd.random() * 0.1, 2)
        add("oracle.tablespace_free", Status.PASS if gb >= 3 else Status.WARN if gb >= 2 else Status.FAIL, Severity.BLOCKER, db,
            ts, {"usable_gb": gb, "min_gb": 2.0, "warn_gb": 3.0}, "database")
    age = round(rnd.random() * 30, 1)
    add("backup.database_recent", Status.PASS if age <= 24 else Status.FAIL, Severity.BLOCKER, db, None,
        {"age_hours": age, "max_age_hours": 24.0}, "database")
    for k, name in enumerate(INTEGRITY):
        count = max(0, 40 - i) if k < 3 else 0
        add(f"integrity.{name}", Status.FAIL if count else Status.PASS, Severity.BLOCKER, db, None, {"count": count}, "database")
    hosts = [f"host{h:02d}" for h in range(8)]
    while len(out) < n:
        j = len(out)
        status = rnd.choice([Status.PASS] * 7 + [Status.WARN, Status.FAIL, Status.ERROR])
        add(f"os.check{j % 20:02d}", status, rnd.choice([Severity.BLOCKER, Severity.WARNING, Severity.INFO]), hosts[j % 8],
            f"item{j}", {"used_pct": rnd.randint(40, 99)})
    return out[:n]


def build_store(path: Path, runs: int, findings: int) -> tuple[RunReport, list[float]]:
    from impax_preflight.history import HistoryStore, record_run

    rnd = random.Random(16)
    store = HistoryStore(path, keep_runs=max(200, runs))
    t0 = datetime(2024, 1, 1, 6, tzinfo=timezone.utc)
    times = []
    report = None
    for i in range(runs):
        fs = run_findings(i, findings, rnd)
        started = t0 + timedelta(days=i)
        report = RunReport(tool_version="bench", run_id=f"bench-{i:04d}", site=SITE, started_at=started,
                           finished_at=started + timedelta(minutes=9), duration_s=540.0, verdict=compute_verdict(fs), findings=fs,
                           inventory={"site": {"name": SITE, "upgrade_date": (t0 + timedelta(days=runs + 20)).date().isoformat()}})
        t = time.perf_counter()
        record_run(report, store)
        times.append(time.perf_counter() - t)
    assert report is not None and report.history is not None and len(report.history.runs) == runs, report.warnings
    return report, times


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "impax_preflight", *args], check=True, capture_output=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--findings", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)

    from impax_preflight.history import HistoryStore, site_history
    from impax_preflight.report.html import render_html

    folder = Path(tempfile.mkdtemp(prefix="impax-history-bench-"))
    path = folder / "history.sqlite"
    report, record_times = build_store(path, args.runs, args.findings)
    size = path.stat().st_size + (path.with_name(path.name + "-wal").stat().st_size if path.with_name(path.name + "-wal").exists() else 0)
    print(f"{args.runs} runs x {args.findings} findings of {SITE!r} in {path} ({size / 1e6:.1f} MB)")
    print(f"  record one run (record + trends), median {statistics.median(record_times) * 1000:.0f} ms, "
          f"last 10 runs {statistics.median(record_times[-10:]) * 1000:.0f} ms")

    help_s = median_time(lambda: cli("--help"), args.repeat)
    text_s = median_time(lambda: cli("history", SITE, "--history", str(path)), args.repeat)
    json_s = median_time(lambda: cli("history", SITE, "--history", str(path), "--json"), args.repeat)
    store = HistoryStore(path)
    inproc_s = median_time(lambda: site_history(store, SITE), args.repeat)
    print(f"  impax-preflight --help              {help_s * 1000:6.0f} ms  (process start, the floor)")
    print(f"  impax-preflight history SITE        {text_s * 1000:6.0f} ms  (target < 500 ms)")
    print(f"  impax-preflight history SITE --json {json_s * 1000:6.0f} ms")
    print(f"  site_history() in-process           {inproc_s * 1000:6.0f} ms  ({args.runs - 1} diffs)")

    bare = report.model_copy(update={"history": None})
    render_html(report)  # warm: templates compiled, pygal imported
    with_s = median_time(lambda: render_html(report), args.repeat)
    without_s = median_time(lambda: render_html(bare), args.repeat)
    html = render_html(report)
    (folder / "report.html").write_text(html, encoding="utf-8")
    print(f"  HTML report with {args.runs}-run charts {with_s * 1000:6.0f} ms  (target < 1000 ms), "
          f"without history {without_s * 1000:.0f} ms: x{with_s / without_s:.1f}; {len(html) / 1e6:.2f} MB, "
          f"{html.count('<svg')} charts")
    ok = text_s < 0.5 and with_s < 1.0
    print("targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
