"""The run history: the SQLite store (WAL, pruning, two writers at once, bad files), where it lives,
the `history` command, and real runs of the demo site recorded one after the other."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from impax_preflight.cli import _add_plugin_commands, cli
from impax_preflight.history import HistoryStore, default_path, open_history, record_run
from impax_preflight.inventory import InventoryError, load_inventory
from impax_preflight.model import Status
from impax_preflight.report.json import load_report

REPORTS = Path(__file__).resolve().parents[1] / "reports"
sys.path.append(str(REPORTS))
from history_samples import recorded_history  # noqa: E402
from report_samples import T0, make_report, sample_findings  # noqa: E402


_add_plugin_commands()  # `history` and `report` come from built-in plugins, as in `main()`


def rows(path, sql):
    with sqlite3.connect(path) as con:
        return con.execute(sql).fetchall()


def test_record_prunes_per_site_and_is_idempotent(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite", keep_runs=3)
    for i in range(5):
        for site in ("North", "South"):
            r = make_report(sample_findings(), site=site, run_id=f"{site}-{i}", started=T0 + timedelta(days=i))
            assert store.record(r) is True
    assert store.record(r) is False  # the same run again (e.g. `report` re-rendering it) is not counted twice
    assert rows(store.path, "select site, count(*) from runs group by site") == [("North", 3), ("South", 3)]
    assert [x.run_id for x in store.runs("North")] == ["North-2", "North-3", "North-4"]
    # the pruned runs' findings went with them
    assert rows(store.path, "select count(*) from findings")[0][0] == 6 * len(sample_findings())
    assert rows(store.path, "pragma journal_mode") == [("wal",)]
    assert rows(store.path, "pragma user_version") == [(1,)]


def test_sites_last_verdict_and_one_connection_per_recorded_run(tmp_path, monkeypatch):
    store = HistoryStore(tmp_path / "h.sqlite")
    passing = [f.model_copy(update={"status": Status.PASS}) for f in sample_findings()]
    # North: NO-GO then GO; South: GO then, at the same start time, NO-GO (recorded last: the newer one)
    for site, run_id, findings, started in (("North", "n1", sample_findings(), T0), ("North", "n2", passing, T0 + timedelta(days=1)),
                                            ("South", "s1", passing, T0), ("South", "s2", sample_findings(), T0)):
        store.record(make_report(findings, site=site, run_id=run_id, started=started))
    assert [(s["site"], s["runs"], s["last_verdict"]) for s in store.sites()] == [("North", 2, "GO"), ("South", 2, "NO_GO")]
    opened = []
    connect = HistoryStore._connect
    monkeypatch.setattr(HistoryStore, "_connect", lambda self, create=True: opened.append(create) or connect(self, create))
    report = record_run(make_report(site="North", run_id="n3", started=T0 + timedelta(days=2)), store)
    assert len(opened) == 1 and len(report.history.runs) == 3 and report.history.since_last is not None


def test_findings_keep_key_status_severity_and_numbers(tmp_path):
    store, report = recorded_history(tmp_path / "h.sqlite", runs=2)
    got = rows(store.path, "select key, check_id, status, severity, numbers from findings f join runs r on r.id = f.run "
                           f"where r.run_id = '{report.run_id}' and check_id in ('oracle.tablespace_free', 'backup.database_recent')"
                           " order by key")
    assert got == [
        ("backup.database_recent@prod-db1/mvf", "backup.database_recent", "fail", "blocker",
         json.dumps({"age_hours": 30.5, "max_age_hours": 24.0})),
        ("oracle.tablespace_free@prod-db1/mvf#MVFINDX", "oracle.tablespace_free", "pass", "blocker",
         json.dumps({"usable_gb": 8.9, "min_gb": 2.0, "warn_gb": 3.0})),
        ("oracle.tablespace_free@prod-db1/mvf#MVFL", "oracle.tablespace_free", "warn", "blocker",
         json.dumps({"usable_gb": 3.25, "min_gb": 2.0})),
    ]


def test_trends_series_limits_and_since_last(tmp_path):
    _, report = recorded_history(tmp_path / "h.sqlite", runs=6)
    h = report.history
    assert [r.run_id for r in h.runs][-1] == report.run_id and len(h.runs) == 6
    assert str(h.upgrade_date) == "2024-06-01" and h.keep_runs == 200
    series = {(s.chart, s.label): s.points for s in h.series}
    assert series[("tablespace_gb", "prod-db1/mvf MVFL")] == [3.6, 3.25, 2.9, 2.55, 2.2, 1.85]
    assert series[("backup_age_hours", "prod-db1/mvf database backup")] == [6.0, 30.5, 8.0, 12.0, 7.5, 9.0]
    assert series[("integrity_count", "study_uid @ prod-db1/mvf")] == [4.0, 2.0, 0.0, 0.0, 0.0, 0.0]
    assert h.limits == {"tablespace_gb": 2.0, "backup_age_hours": 24.0}
    assert [r.stages["prod"]["blockers"] for r in h.runs] == [2, 3, 1, 0, 0, 1]
    assert [x["key"] for x in h.since_last["new_blockers"]] == ["oracle.tablespace_free@prod-db1/mvf#MVFL"]
    moved = {x["key"]: x["values"] for x in h.since_last["moved"]}
    assert moved["oracle.tablespace_free@prod-db1/mvf#MVFL"]["usable_gb"] == {"old": 2.2, "new": 1.85, "delta": -0.35}


def test_two_processes_write_at_once(tmp_path):
    """Two real processes record 30 runs each into one new store, started at the same moment."""
    store = tmp_path / "shared.sqlite"
    go = tmp_path / "go"
    script = textwrap.dedent(f"""
        import sys, time
        sys.path[:0] = [{str(REPORTS)!r}, {str(REPORTS.parent)!r}]
        from datetime import timedelta
        from report_samples import T0, make_report, sample_findings
        from impax_preflight.history import HistoryStore, record_run
        store = HistoryStore({str(store)!r}, keep_runs=1000)
        while not __import__("os").path.exists({str(go)!r}):
            time.sleep(0.001)
        for i in range(30):
            r = make_report(sample_findings(tablespace_free_gb=3 - i / 100), run_id=f"{{sys.argv[1]}}-{{i}}",
                            started=T0 + timedelta(minutes=i))
            record_run(r, store)
            assert r.warnings == ["host bk-app1 is checked from a bundle collected 2024-05-01"], r.warnings
            assert r.history is not None and r.history.runs[-1].run_id == r.run_id
        print("ok")
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, name], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in ("a", "b")]
    time.sleep(0.5)  # both are importing and waiting
    go.write_text("go")
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    assert rows(store, "select count(*), count(distinct run_id) from runs") == [(60, 60)]
    assert rows(store, "select count(*) from findings")[0][0] == 60 * len(sample_findings())


@pytest.mark.parametrize("kind", ["text file", "other sqlite", "newer format", "under a file"])
def test_a_store_that_cannot_be_used_is_a_warning(tmp_path, kind):
    path = tmp_path / "h.sqlite"
    if kind == "text file":
        path.write_text("not a database at all, but some notes\n" * 100)
        expect = "file is not a database: the file is not an impax-preflight history store"
    elif kind == "other sqlite":
        with sqlite3.connect(path) as con:
            con.execute("create table patients (id integer)")
        expect = "is an SQLite file but not an impax-preflight history store (it holds tables patients)"
    elif kind == "newer format":
        with sqlite3.connect(path) as con:
            con.execute("pragma user_version = 99")
        expect = "was written by a newer impax-preflight (history format 99"
    else:
        (tmp_path / "file").write_text("x")
        path = tmp_path / "file" / "h.sqlite"
        expect = str(tmp_path / "file")
    report = make_report()
    before = list(report.warnings)
    record_run(report, HistoryStore(path))
    assert report.history is None
    assert report.warnings[:-1] == before
    assert report.warnings[-1].startswith(f"the run was not recorded in the history {path}: ")
    assert expect in report.warnings[-1] and report.warnings[-1].endswith("(give another store with --history PATH, or --no-history)")


INV = textwrap.dedent("""
    [site]
    name = "History Site"
    impax_version = "6.3"
    platform = "AS300"
    {extra}
    [[hosts]]
    name = "h1"
    os = "windows"
    roles = ["application"]
    transport = {{ kind = "local" }}
""")

PLUGIN = textwrap.dedent("""
    import os
    from impax_preflight import check, hookimpl

    @check("local.space", "space from the environment", "blocker", "site")
    def space(ctx):
        gb = float(os.environ["PF_GB"])
        yield ctx.finding("pass" if gb >= 2 else "fail", f"{gb} GB usable", values={"usable_gb": gb})

    @hookimpl
    def impax_register_checks(register):
        register(space)
""")


def cli_run(tmp_path, monkeypatch, gb, *extra, inv_extra="", out="out"):
    inv = tmp_path / "inv.toml"
    inv.write_text(INV.format(extra=inv_extra))
    (tmp_path / "plug").mkdir(exist_ok=True)
    (tmp_path / "plug" / "p.py").write_text(PLUGIN)
    monkeypatch.setenv("PF_GB", str(gb))
    return CliRunner().invoke(cli, ["run", str(inv), "--plugins-dir", str(tmp_path / "plug"), "--only", "local.*",
                                    "--format", "json,html", "--no-progress", "-o", str(tmp_path / out), *extra])


def test_default_store_is_per_user_and_history_command(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_path() == tmp_path / "xdg" / "impax-preflight" / "history.sqlite"
    for i, gb in enumerate((5, 3, 1.5)):
        result = cli_run(tmp_path, monkeypatch, gb, out=f"out{i}")  # a different output folder each time
        assert result.exit_code == (2 if gb < 2 else 1), result.output  # 1: --only is a partial run
    assert f"history   {default_path()} (3 runs of this site" in result.output
    report = load_report(tmp_path / "out2" / "report.json")
    assert [r.verdict.value for r in report.history.runs] == ["GO_WITH_WARNINGS", "GO_WITH_WARNINGS", "NO_GO"]
    assert report.history.since_last["new_blockers"][0]["key"] == "local.space@site"

    text = CliRunner().invoke(cli, ["history"])
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert lines[0].startswith(f"History Site: 3 of the 3 runs kept in {default_path()}")
    assert "GO WITH WARNINGS     0     0 |    0     0    0      0    1 |" in lines[2] and lines[2].endswith(": first recorded run")
    assert lines[3].endswith(": 1 value moved") and lines[4].endswith(": verdict changed, 1 new blocker, 1 value moved")
    assert "  new blockers: local.space@site" in lines and "  moved: local.space@site usable_gb: 3 -> 1.5 (-1.5)" in lines

    data = json.loads(CliRunner().invoke(cli, ["history", "hist", "--json", "--last", "2"]).output)
    assert data["site"] == "History Site" and [r["verdict"] for r in data["runs"]] == ["GO_WITH_WARNINGS", "NO_GO"]
    assert data["runs"][1]["changes"]["new_blockers"] == ["local.space@site"]
    assert data["runs"][1]["changes"]["moved"] == [{"key": "local.space@site", "values": {"usable_gb": {"old": 3.0, "new": 1.5, "delta": -1.5}}}]
    assert data["runs"][0]["changes"]["since_run_id"] == report.history.runs[0].run_id  # --last keeps the change of its first run

    missing = CliRunner().invoke(cli, ["history", "Elsewhere"])
    assert missing.exit_code == 3 and "no site 'Elsewhere' in the history; it holds: History Site" in missing.output
    none = CliRunner().invoke(cli, ["history", "--history", str(tmp_path / "nothing.sqlite")])
    assert none.exit_code == 3 and "no history store at" in none.output


def test_history_path_no_history_and_inventory_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    both = cli_run(tmp_path, monkeypatch, 5, "--history", str(tmp_path / "a.sqlite"), "--no-history")
    assert both.exit_code == 3 and "either --history PATH or --no-history" in both.output
    off = cli_run(tmp_path, monkeypatch, 5, "--no-history")
    assert off.exit_code == 1 and not default_path().exists()
    assert load_report(tmp_path / "out" / "report.json").history is None
    chosen = cli_run(tmp_path, monkeypatch, 5, "--history", str(tmp_path / "a.sqlite"))
    assert chosen.exit_code == 1 and (tmp_path / "a.sqlite").is_file() and not default_path().exists()
    # [site.history] path is relative to the inventory; keep_runs bounds the store
    inv_extra = '[site.history]\npath = "store/site-history.sqlite"\nkeep_runs = 2\n'
    for gb in (5, 4, 3):
        assert cli_run(tmp_path, monkeypatch, gb, inv_extra=inv_extra).exit_code == 1
    assert [r.run_id for r in HistoryStore(tmp_path / "store" / "site-history.sqlite").runs("History Site")].__len__() == 2
    assert not default_path().exists()
    disabled = cli_run(tmp_path, monkeypatch, 5, inv_extra="[site.history]\nenabled = false\n")
    assert disabled.exit_code == 1 and not default_path().exists()
    inv = load_inventory(tmp_path / "inv.toml")
    assert open_history(inv) is None and open_history(inv, tmp_path / "x.sqlite").path == tmp_path / "x.sqlite"


def test_history_command_reads_the_inventory_store_even_when_recording_is_off(tmp_path, monkeypatch):
    # [site.history] enabled = false says "do not record", not "the store is elsewhere": `history
    # --inventory` reads its path, not the per-user default
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    store = tmp_path / "store" / "site-history.sqlite"
    off = '[site.history]\nenabled = false\npath = "store/site-history.sqlite"\n'
    assert cli_run(tmp_path, monkeypatch, 5, "--history", str(store), inv_extra=off).exit_code == 1
    assert cli_run(tmp_path, monkeypatch, 4, inv_extra=off).exit_code == 1  # not recorded
    assert len(HistoryStore(store).runs("History Site")) == 1 and not default_path().exists()
    shown = CliRunner().invoke(cli, ["history", "--inventory", str(tmp_path / "inv.toml")])
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith(f"History Site: 1 of the 1 runs kept in {store}")
    assert not default_path().exists()


def test_inventory_upgrade_date_and_history_settings_are_validated(tmp_path):
    p = tmp_path / "inv.toml"
    p.write_text(INV.format(extra="upgrade_date = 2026-02-30\n"))
    with pytest.raises(InventoryError, match=r"inv.toml:6: TOML syntax error: Invalid date"):
        load_inventory(p)
    p.write_text(INV.format(extra='upgrade_date = "next spring"\n'))
    with pytest.raises(InventoryError, match=r"inv.toml:6: site.upgrade_date: Input should be a valid date"):
        load_inventory(p)
    p.write_text(INV.format(extra="[site.history]\nkeep_runs = 1\n"))
    with pytest.raises(InventoryError, match=r"inv.toml:7: site.history.keep_runs: Input should be greater than or equal to 2"):
        load_inventory(p)
    p.write_text(INV.format(extra="upgrade_date = 2026-03-14\n"))
    assert str(load_inventory(p).site.upgrade_date) == "2026-03-14"


def test_report_records_a_merge_and_rerender_keeps_the_trends(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    _, last = recorded_history(tmp_path / "first.sqlite", runs=3)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "report.json").write_text(last.model_dump_json(), encoding="utf-8")
    again = CliRunner().invoke(cli, ["report", str(tmp_path / "a" / "report.json"), "-o", str(tmp_path / "b"),
                                     "--history", str(tmp_path / "other.sqlite")])
    assert again.exit_code == 0, again.output
    rerendered = load_report(tmp_path / "b" / "report.json")
    assert rerendered.history == last.history  # the pictures of that run, not of a store it was never in
    assert not (tmp_path / "other.sqlite").exists()
    html = (tmp_path / "b" / "report.html").read_text(encoding="utf-8")
    assert 'id="chart-burn-down"' in html and 'id="chart-tablespace-gb"' in html

    south = make_report(sample_findings(), site="South", run_id="south-1", started=T0)
    (tmp_path / "s.json").write_text(south.model_dump_json(), encoding="utf-8")
    merged = CliRunner().invoke(cli, ["report", str(tmp_path / "a" / "report.json"), str(tmp_path / "s.json"),
                                      "-o", str(tmp_path / "m")])
    assert merged.exit_code == 0, merged.output
    store = HistoryStore(default_path())
    assert {s["site"]: s["runs"] for s in store.sites()} == {"St. Elsewhere": 1, "South": 1, "Cluster: St. Elsewhere, South": 1}
    m = load_report(tmp_path / "m" / "report.json")
    assert m.history.runs[-1].kind == "merge" and m.history.since_last is None


def test_demo_site_runs_recorded_one_after_the_other(tmp_path):
    """Real checks on the demo's SQLite IMPAX database: fix some integrity rows between two runs."""
    demo = tmp_path / "demo"
    first = subprocess.run([sys.executable, "-m", "impax_preflight", "demo", str(demo)], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    with sqlite3.connect(demo / "db" / "impax.sqlite") as con:
        fixed = con.execute("update dosr_study set study_uid = '1.2.3.' || study_ref where study_uid is null").rowcount
    assert fixed == 2
    second = subprocess.run([sys.executable, "-m", "impax_preflight", "run", str(demo / "inventory.toml"), "-o", str(tmp_path / "out"),
                             "--history", str(demo / "history.sqlite"), "--waivers", str(demo / "waivers.toml"), "--no-progress"],
                            capture_output=True, text=True)
    assert second.returncode == 2, second.stderr
    report = load_report(tmp_path / "out" / "report.json")
    assert [r.kind for r in report.history.runs] == ["run", "run"]
    since = report.history.since_last
    assert [x["key"] for x in since["resolved"]] == ["integrity.study_uid@mvf-db01/mvf"]
    assert {"key": "integrity.study_uid@mvf-db01/mvf"}.items() <= next(
        x for x in since["moved"] if x["key"] == "integrity.study_uid@mvf-db01/mvf").items()
    integrity = {s.label: s.points for s in report.history.series if s.chart == "integrity_count"}
    assert integrity["study_uid @ mvf-db01/mvf"] == [2.0, 0.0]
    assert integrity["all integrity checks (total)"] == [13.0, 11.0]
    out = subprocess.run([sys.executable, "-m", "impax_preflight", "history", "--history", str(demo / "history.sqlite")],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "  resolved: integrity.study_uid@mvf-db01/mvf" in out.stdout
