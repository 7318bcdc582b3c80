"""Benchmark: render a 5,000-finding report across 40 hosts and time a filter in Chromium.

    python benchmarks/render_report.py [--findings 5000] [--hosts 40] [--no-browser]

Prints render times per format, file sizes, and (with Chromium) the time the browser takes to load
the HTML and to apply the status filter, the host filter and a free-text search (each measured in
the page, from the input event to the next completed layout).
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from impax_preflight.model import Evidence, Finding, RunReport, Severity, Status, compute_verdict

STATUS_WEIGHTS = [(Status.PASS, 70), (Status.WARN, 10), (Status.FAIL, 6), (Status.ERROR, 3), (Status.SKIPPED, 8), (Status.WAIVED, 3)]
TIERS = ("dr", "bk", "prod")


def build_report(n_findings: int, n_hosts: int, seed: int = 6) -> RunReport:
    rnd = random.Random(seed)
    hosts = [(f"host{i:02d}", TIERS[i % 3]) for i in range(n_hosts)]
    statuses = [s for s, w in STATUS_WEIGHTS for _ in range(w)]
    findings = []
    for i in range(n_findings):
        host, tier = hosts[i % n_hosts]
        status = rnd.choice(statuses)
        sev = rnd.choice([Severity.BLOCKER, Severity.WARNING, Severity.WARNING, Severity.INFO])
        is_sql = i % 3 == 0
        out_lines = rnd.randint(2, 30)
        output = "\n".join(f"{'MVFL' if is_sql else 'svc:/application/impax'}:{j:04d}  {rnd.randint(0, 10**9):>12}  online" for j in range(out_lines))
        ev = Evidence(
            kind="sql" if is_sql else "command",
            source=(f"select tablespace_name, sum(bytes) from dba_free_space where tablespace_name = 'TS{i}' group by tablespace_name"
                    if is_sql else f"svcs -xv svc:/application/impax/check{i}"),
            target=f"{host}/mvf" if is_sql else host,
            rc=None if is_sql else 0,
            rows=out_lines if is_sql else None,
            output=output,
            duration_s=rnd.random(),
            transport="oracle" if is_sql else "ssh",
        )
        findings.append(Finding(
            check_id=f"bench.check{i % 125:03d}",
            title=f"Benchmark check {i % 125}",
            severity=sev,
            status=status,
            target=f"{host}/mvf" if is_sql else host,
            target_kind="database" if is_sql else "host",
            subject=f"item{i}",
            message=f"measured value {rnd.randint(0, 100)} on {host} for item{i}",
            evidence=[ev],
            remediation="Follow the guide's procedure for this item.",
            guide="Checking the integrity of database data",
            values={"value": rnd.randint(0, 100)},
            host=host,
            tier=tier,
            site="Bench Hospital",
            duration_s=rnd.random(),
        ))
    t0 = datetime(2024, 5, 4, 8, tzinfo=timezone.utc)
    return RunReport(
        tool_version="bench", run_id="bench-1", site="Bench Hospital",
        inventory={"hosts": [{"name": h, "tier": t, "os": "solaris", "roles": ["database"]} for h, t in hosts]},
        started_at=t0, finished_at=t0 + timedelta(minutes=9), duration_s=540.0,
        verdict=compute_verdict(findings), findings=findings,
    )


def timed(fn, repeat: int = 3):
    times = []
    result = None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return result, statistics.median(times)


def browser_timings(html_path: Path) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                                             "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = b.new_page(viewport={"width": 1280, "height": 900})
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        t = time.perf_counter()
        page.goto(html_path.as_uri())
        page.wait_for_load_state("load")
        load_s = time.perf_counter() - t
        # measure inside the page: from the event to the end of the forced layout
        measure = """([sel, kind, value]) => {
            const el = document.querySelector(sel);
            const t = performance.now();
            if (kind === 'check') { el.checked = value; el.dispatchEvent(new Event('change')); }
            else if (kind === 'select') { el.value = value; el.dispatchEvent(new Event('change')); }
            else { el.value = value; el.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter'})); }
            document.body.offsetHeight;  // force style and layout
            return performance.now() - t;
        }"""
        out = {"load_s": load_s}
        out["status_filter_ms"] = page.evaluate(measure, ["#filters input[value=pass]", "check", False])
        out["status_filter_back_ms"] = page.evaluate(measure, ["#filters input[value=pass]", "check", True])
        out["host_filter_ms"] = page.evaluate(measure, ["#f-host", "select", "host07"])
        page.evaluate(measure, ["#f-host", "select", ""])
        out["search_first_ms"] = page.evaluate(measure, ["#f-text", "text", "item4242"])
        out["search_again_ms"] = page.evaluate(measure, ["#f-text", "text", "dba_free_space host1"])
        out["visible_after_search"] = page.locator("tr.row:not([hidden])").count()
        out["requests"] = len(requests)
        b.close()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--findings", type=int, default=5000)
    ap.add_argument("--hosts", type=int, default=40)
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args(argv)

    from impax_preflight.report.html import render_html
    from impax_preflight.report.json import report_to_json
    from impax_preflight.report.junit import render_junit
    from impax_preflight.report.markdown import render_markdown

    report, build_s = timed(lambda: build_report(args.findings, args.hosts), repeat=1)
    print(f"{args.findings} findings across {args.hosts} hosts (built in {build_s:.2f} s)")
    out = Path(tempfile.mkdtemp(prefix="impax-bench-"))
    for name, fn, filename in (("html", render_html, "report.html"), ("markdown", render_markdown, "report.md"),
                               ("junit", render_junit, "report.junit.xml"), ("json", report_to_json, "report.json")):
        text, secs = timed(lambda fn=fn: fn(report))
        (out / filename).write_text(text, encoding="utf-8")
        size = (out / filename).stat().st_size
        print(f"  {name:9} render {secs * 1000:8.0f} ms   size {size / 1e6:6.2f} MB")
    if not args.no_browser:
        r = browser_timings(out / "report.html")
        print(f"  chromium  load {r['load_s'] * 1000:.0f} ms; status filter {r['status_filter_ms']:.0f} ms "
              f"(back {r['status_filter_back_ms']:.0f} ms); host filter {r['host_filter_ms']:.0f} ms; "
              f"first search {r['search_first_ms']:.0f} ms, next search {r['search_again_ms']:.0f} ms "
              f"({r['visible_after_search']} rows matched); network requests besides the file: {r['requests'] - 1}")
    print(f"  files in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
