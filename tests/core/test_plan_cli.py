"""`impax-preflight plan` (what runs where, the database scans and their estimates, the window) and
`run --db-window`; the scan lines of the progress display."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from click.testing import CliRunner

from impax_preflight.cli import cli
from impax_preflight.cli.progress import Progress, scan_count
from impax_preflight.demo import build_demo
from impax_preflight.scans import ScanWatch, wall_seconds


def closed_window() -> str:
    start = datetime.now() + timedelta(hours=2)
    return f"{start:%H}:00-{start + timedelta(hours=1):%H}:00"


def test_plan_of_the_demo_site(tmp_path):
    inv = build_demo(tmp_path / "demo")
    result = CliRunner().invoke(cli, ["plan", str(inv)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "What runs where" in out and "mvf-db01/mvf" in out and "integrity.* (12 checks)" in out
    assert "Database scans" in out and "dosr_object" in out and "NULL count of 2 columns in one pass" in out
    assert "duplicate OBJECT_REFs: one aggregation" in out and "total:" in out
    assert "Database window: none" in out
    assert "Not run (" in out and "database purpose mcf (applies to impax)" in out
    # nothing was run: no report, no history
    assert not (tmp_path / "demo" / "preflight-out").exists()


def test_plan_json_and_the_window(tmp_path):
    inv = build_demo(tmp_path / "demo")
    result = CliRunner().invoke(cli, ["plan", str(inv), "--json", "--db-window", closed_window()])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["checks_planned"] == sum(len(t["checks"]) for t in data["targets"])
    (db,) = [d for d in data["databases"] if d["target"] == "mvf-db01/mvf"]
    assert db["error"] is None and db["wall_s"] is not None
    assert len([s for s in db["scans"] if s["checks"][0].startswith("integrity.")]) == 11
    (archive,) = [s for s in db["scans"] if s["checks"] == ["archive.study_status"]]
    assert archive["table"] == "dosr_study" and archive["rows"] > 0 and "archive_status" in archive["statement"]
    scan = next(s for s in db["scans"] if s["table"] == "dosr_object")
    assert scan["rows"] > 0 and scan["checks"] == ["integrity.object_sop_instance_uid", "integrity.object_series_ref"]
    assert scan["statement"].startswith("select count(*) as rows_scanned")
    w = data["database_window"]
    assert w["open_now"] is False and w["next_opening"] and w["scans_wall_s"] is not None
    human = CliRunner().invoke(cli, ["plan", str(inv), "--db-window", closed_window()])
    assert "closed now" in human.output and "would not start the scans" in human.output


def test_plan_without_a_database_and_its_exit_codes(tmp_path):
    inv = build_demo(tmp_path / "demo")
    result = CliRunner().invoke(cli, ["plan", str(inv), "--no-connect"])
    assert result.exit_code == 0 and "not connected (--no-connect)" in result.output
    # a database that cannot be reached: said per database; exit 0, or 3 with --strict
    text = inv.read_text().replace('path = "', 'path = "missing-', 1)
    broken = tmp_path / "demo" / "broken.toml"
    broken.write_text(text)
    result = CliRunner().invoke(cli, ["plan", str(broken)])
    assert result.exit_code == 0 and "no estimate: cannot connect" in result.output
    assert CliRunner().invoke(cli, ["plan", str(broken), "--strict"]).exit_code == 3
    bad = CliRunner().invoke(cli, ["plan", str(inv), "--db-window", "8pm-6am"])
    assert bad.exit_code == 3 and "HH:MM-HH:MM" in bad.output
    bad = CliRunner().invoke(cli, ["plan", str(inv), "--host", "nope*"])
    assert bad.exit_code == 3 and "matches no host" in bad.output


def test_run_with_a_closed_window_is_no_go_and_says_when_it_opens(tmp_path):
    inv = build_demo(tmp_path / "demo")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(inv), "--only", "integrity.*", "--db-window", closed_window(), "-o", str(out),
                                      "--format", "json", "--no-progress", "--no-history"])
    assert result.exit_code == 2, result.output
    report = json.loads((out / "report.json").read_text())
    assert {f["status"] for f in report["findings"]} == {"error"}
    assert all("outside the database window" in f["message"] for f in report["findings"])
    bad = CliRunner().invoke(cli, ["run", str(inv), "--db-window", "20:00", "-o", str(out), "--no-history"])
    assert bad.exit_code == 3 and "--db-window" in bad.output


def test_plain_progress_shows_long_scans_only():
    lines = []
    import impax_preflight.cli.progress as progress

    echo = progress.click.echo
    progress.click.echo = lambda text="", **kw: lines.append(text)
    try:
        p = Progress(console=None, interactive=False, quiet=False)
        base = {"target": "db1/mvf", "checks": ["integrity.study_uid"], "rows": 50_000_000}
        p("scan", state="start", table="dosr_object", estimate_s=40.0, elapsed_s=0.0, **base)
        p("scan", state="running", table="dosr_object", estimate_s=40.0, elapsed_s=30.0, **base)
        p("scan", state="running", table="dosr_object", estimate_s=40.0, elapsed_s=61.0, **base)
        p("scan", state="end", table="dosr_object", estimate_s=40.0, elapsed_s=75.0, ok=True, **base)
        p("scan", state="start", table="mitra_folder", estimate_s=0.1, elapsed_s=0.0, **base)
        p("scan", state="end", table="mitra_folder", estimate_s=0.1, elapsed_s=0.0, ok=True, **base)
    finally:
        progress.click.echo = echo
    assert lines == [
        "scan started: dosr_object @ db1/mvf (~50,000,000 rows, estimated 40 s)",
        "scan running: dosr_object @ db1/mvf: 61 s of ~40 s (over the estimate)",
        "scan done: dosr_object @ db1/mvf in 75 s (estimated 40 s)",
    ]
    assert scan_count({"done": 1204, "total": 3250, "units": "Blocks"}) == "37 % (1,204 of 3,250 Blocks)"
    assert scan_count({"elapsed_s": 3}) == "3 s (no estimate)"


def test_scan_watch_reports_start_ticks_with_the_engine_progress_and_end(monkeypatch):
    import impax_preflight.scans as scans

    monkeypatch.setattr(scans, "TICK_S", 0.05)
    events = []
    polls = iter([(10, 100, "Blocks"), (60, 100, "Blocks")] + [(100, 100, "Blocks")] * 100)
    with ScanWatch("db1/mvf", "DOSR_OBJECT", estimate_s=1.0, progress=lambda e, **d: events.append(d),
                   poll=lambda: next(polls)) as w:
        import time

        time.sleep(0.3)
    states = [e["state"] for e in events]
    assert states[0] == "start" and states[-1] == "end" and "running" in states
    running = [e for e in events if e["state"] == "running"]
    assert running[0]["done"] == 10 and running[0]["total"] == 100 and running[0]["units"] == "Blocks"
    assert w.started_at <= w.finished_at and set(w.when()) == {"scan_started", "scan_finished"}


def test_wall_time_with_sessions():
    assert wall_seconds([30, 20, 10], 1) == 60
    assert wall_seconds([30, 20, 10], 2) == 30
    assert wall_seconds([10, 10, 10, 10], 3) == 20
    assert wall_seconds([], 2) == 0


def test_a_spare_session_is_lent_only_within_the_limit():
    from impax_preflight.sessions import SessionPool

    opened = []

    class S:
        discarded = None

        def close(self):
            pass

    pool = SessionPool(lambda: opened.append(S()) or opened[-1], limit=2)
    assert pool.slots.acquire(blocking=False)  # a check holds one slot and its session
    mine = pool.take()
    spare = pool.borrow_spare()
    assert spare is not None and spare is not mine and len(opened) == 2
    assert pool.borrow_spare() is None  # the limit: never a third session, never a wait
    pool.return_spare(spare)
    again = pool.borrow_spare()
    assert again is spare and len(opened) == 2  # reused, not opened again
    pool.return_spare(again)
    failing = SessionPool(lambda: (_ for _ in ()).throw(RuntimeError("login refused")), limit=2)
    assert failing.borrow_spare() is None and failing.slots.acquire(blocking=False) and failing.slots.acquire(blocking=False)


def test_plan_and_run_refuse_a_glob_typo_before_anything(tmp_path):
    inv = build_demo(tmp_path / "demo")
    # plan: an --only / --skip typo planned nothing (or left nothing out) and exited 0; run exits 3 on it
    for option in ("--only", "--skip"):
        bad = CliRunner().invoke(cli, ["plan", str(inv), "--no-connect", option, "integrty.*"])
        assert bad.exit_code == 3 and f"{option} 'integrty.*' matches no check id" in bad.output, bad.output
    # plan refuses what run refuses in the inventory: a transport no plugin provides, with file and line
    text = inv.read_text()
    unknown = tmp_path / "demo" / "unknown-transport.toml"
    unknown.write_text(text.replace('kind = "bundle"', 'kind = "telnet"', 1))
    bad = CliRunner().invoke(cli, ["plan", str(unknown), "--no-connect"])
    assert bad.exit_code == 3 and "unknown-transport.toml:" in bad.output and "no transport 'telnet'" in bad.output
    # run: the glob is refused before a password is asked (here: before the prompt that needs a terminal)
    prompting = tmp_path / "demo" / "prompting.toml"
    prompting.write_text(text.replace('path = "db/impax.sqlite"', 'path = "db/impax.sqlite"\npassword = "prompt:"', 1))
    for args in (["--only", "integrty.*"], ["--host", "nope*"]):
        bad = CliRunner().invoke(cli, ["run", str(prompting), *args, "-o", str(tmp_path / "out"), "--no-history"])
        assert bad.exit_code == 3 and "matches no" in bad.output and "needs a terminal" not in bad.output, bad.output
        assert not (tmp_path / "out").exists()
    asked = CliRunner().invoke(cli, ["run", str(prompting), "--only", "integrity.*", "-o", str(tmp_path / "out"),
                                     "--no-history"])
    assert asked.exit_code == 3 and "needs a terminal" in asked.output  # the prompt itself is reached otherwise


FAILING_ESTIMATE = """
from impax_preflight import hookimpl

@hookimpl
def impax_estimate_scans(check_ids, site, host, database, session, sample):
    raise RuntimeError("dictionary view missing")
"""


def test_plan_strict_counts_an_estimate_that_failed_in_a_plugin(tmp_path):
    inv = build_demo(tmp_path / "demo")
    plug = tmp_path / "plug"
    plug.mkdir()
    (plug / "bad_estimate.py").write_text(FAILING_ESTIMATE)
    result = CliRunner().invoke(cli, ["plan", str(inv), "--plugins-dir", str(plug)])
    assert result.exit_code == 0, result.output
    assert "could not estimate its scans: RuntimeError: dictionary view missing" in result.output
    strict = CliRunner().invoke(cli, ["plan", str(inv), "--plugins-dir", str(plug), "--strict"])
    assert strict.exit_code == 3, strict.output
    assert CliRunner().invoke(cli, ["plan", str(inv), "--strict"]).exit_code == 0
    # every connection failed: nothing was read, and the plan does not say the dictionaries were
    broken = tmp_path / "demo" / "all-broken.toml"
    broken.write_text(inv.read_text().replace('path = "', 'path = "missing-'))
    result = CliRunner().invoke(cli, ["plan", str(broken)])
    assert result.output.count("no estimate: cannot connect") == 2
    assert "(nothing was run or read)" in result.output and "dictionaries were read" not in result.output
    assert "the databases' data dictionaries were read" in CliRunner().invoke(cli, ["plan", str(inv)]).output


def test_one_duration_text_for_plans_and_reports():
    from impax_preflight.report.html import _duration
    from impax_preflight.report.text import duration_text

    # measured (the HTML report: checks, statements, the run), as the report always wrote them
    assert [_duration(v) for v in (None, 0.0123, 42.04, 125, 3600, 9000)] == \
        ["—", "12 ms", "42.0 s", "2 min 05 s", "1 h 00 min", "2 h 30 min"]
    # estimated (plan): no false precision, hours as the database window says them ("5 h 58 min")
    assert [duration_text(v, estimate=True) for v in (0.5, 42.4, 125, 3599, 9000)] == \
        ["under 1 s", "42 s", "2 min", "1 h 00 min", "2 h 30 min"]
