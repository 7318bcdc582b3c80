"""The scheduling recipes of docs/history.md (examples/schedule/): the wrapper really runs a site and
records it, the systemd calendars parse, and the check-id globs of the fail-over pre-test select checks."""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require_service

from impax_preflight.history import HistoryStore
from impax_preflight import load_plugins

SCHEDULE = Path(__file__).resolve().parents[2] / "examples" / "schedule"
WRAPPER = SCHEDULE / "impax-preflight-scheduled.sh"


def test_wrapper_runs_the_site_records_it_and_exits_0_on_a_verdict(tmp_path):
    from impax_preflight.demo import build_demo

    inv = build_demo(tmp_path / "demo")
    env = {**os.environ, "IMPAX_PREFLIGHT": str(Path(sys.executable).with_name("impax-preflight"))}
    for _ in range(2):
        done = subprocess.run([str(WRAPPER), str(inv), str(tmp_path / "runs"), "--history", str(tmp_path / "h.sqlite"),
                               "--format", "json"], capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr  # NO-GO is a run that happened
        assert re.search(r"impax-preflight: verdict exit code 2, reports in .*/runs/\d{4}-\d\d-\d\dT\d{4}Z$", done.stdout.strip())
    assert [r.verdict for r in HistoryStore(tmp_path / "h.sqlite").runs("Demo General Hospital")] == ["NO_GO", "NO_GO"]
    bad = tmp_path / "bad.toml"
    bad.write_text("[site]\nname = 1\n")
    failed = subprocess.run([str(WRAPPER), str(bad), str(tmp_path / "runs")], capture_output=True, text=True, env=env)
    assert failed.returncode == 3 and "the run could not be made (exit code 3)" in failed.stderr
    assert subprocess.run([str(WRAPPER)], capture_output=True, text=True).returncode == 3


def test_systemd_calendars_parse_and_units_point_at_the_wrapper():
    analyze = shutil.which("systemd-analyze")
    require_service(analyze is not None, "systemd-analyze (apt-get install systemd)")
    timers = sorted(SCHEDULE.glob("*.timer"))
    assert [t.name for t in timers] == ["impax-preflight-failover-pretest.timer", "impax-preflight-weekly.timer"]
    for timer in timers:
        (calendar,) = re.findall(r"^OnCalendar=(.+)$", timer.read_text(), re.M)
        out = subprocess.run([analyze, "calendar", calendar, "--iterations=4"], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        elapses = re.findall(r"(?:Next elapse|Iter\. #\d): (\w{3}) \d{4}-(\d\d)-(\d\d)", out.stdout)
        assert len(elapses) == 4 and all(day == "Mon" for day, _, _ in elapses)
        if "failover" in timer.name:  # first Monday of each quarter
            assert all(month in ("01", "04", "07", "10") and int(dom) <= 7 for _, month, dom in elapses)
        service = timer.with_suffix(".service").read_text()
        assert f"examples/schedule/{WRAPPER.name} " in service


@pytest.mark.parametrize("recipe", ["impax-preflight-failover-pretest.service", "crontab"])
def test_pretest_globs_select_real_checks(recipe):
    text = (SCHEDULE / recipe).read_text()
    globs = [g.strip("'") for g in re.findall(r"--only (\S+)", text)]
    assert sorted(set(globs)) == ["backup.*", "ha.*", "mirroring.*", "os.*"]
    checks = load_plugins(entry_points=False).registry.checks
    for g in globs:
        assert any(fnmatch.fnmatchcase(c, g) for c in checks), f"{recipe}: --only {g} selects no check"
    assert "mirroring.state" in checks and "backup.database_recent" in checks


def test_crontab_lines_have_five_time_fields():
    jobs = [line for line in (SCHEDULE / "crontab").read_text().splitlines()
            if line.strip() and not line.startswith("#") and "=" not in line.split()[0]]
    assert len(jobs) == 2
    for line in jobs:
        fields = line.split(None, 5)
        assert len(fields) == 6 and all(re.fullmatch(r"[\d*,\-/]+", f) for f in fields[:5]), line
        assert WRAPPER.name in fields[5]
