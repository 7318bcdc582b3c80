"""Ctrl-C during a real CLI run: a partial report marked interrupted, written promptly, nothing lost."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time

PLUGIN = textwrap.dedent("""
    import time
    from impax_preflight import check, hookimpl

    @check("local.quick", "quick", "blocker", "site")
    def quick(ctx):
        yield ctx.passed("done quickly")

    @check("local.slow", "slow", "blocker", "host")
    def slow(ctx):
        time.sleep(60)
        yield ctx.passed("never")

    @hookimpl
    def impax_register_checks(register):
        register(quick)
        register(slow)
""")

INV = textwrap.dedent("""
    [site]
    name = "Interrupted"
    impax_version = "6.3"
    platform = "AS300"
    [[hosts]]
    name = "h1"
    os = "linux"
    roles = ["application"]
    transport = { kind = "local" }
""")


def test_sigint_writes_partial_report_promptly(tmp_path):
    (tmp_path / "plug").mkdir()
    (tmp_path / "plug" / "p.py").write_text(PLUGIN)
    (tmp_path / "inv.toml").write_text(INV)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "impax_preflight", "run", str(tmp_path / "inv.toml"), "--plugins-dir", str(tmp_path / "plug"),
         "--only", "local.*", "-o", str(out), "--format", "json,markdown", "--no-progress", "--timeout", "120"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # wait until the slow check is running (the host check phase has started)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (out / "results.jsonl").exists():
        time.sleep(0.05)
    time.sleep(1.0)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=30)
    assert time.monotonic() - t0 < 10, "Ctrl-C must not wait for running checks to finish"
    assert proc.returncode == 2, output
    report = json.loads((out / "report.json").read_text())
    assert report["interrupted"] is True and report["verdict"] == "NO_GO"
    assert any(n["check_id"] == "local.slow" and n["reason"] == "interrupted before it finished" for n in report["not_run"])
    assert "interrupted" in (out / "report.md").read_text().lower()
    assert "partial" in output


def test_a_second_ctrl_c_still_leaves_report_json(tmp_path):
    """Two presses in a row (the second during the clean-up or while the reports are written): the
    partial report is still written, and the run still ends promptly with NO-GO."""
    (tmp_path / "plug").mkdir()
    (tmp_path / "plug" / "p.py").write_text(PLUGIN)
    (tmp_path / "inv.toml").write_text(INV)
    for gap in (0.0, 0.05, 0.3):
        out = tmp_path / f"out-{gap}"
        proc = subprocess.Popen(
            [sys.executable, "-m", "impax_preflight", "run", str(tmp_path / "inv.toml"), "--plugins-dir", str(tmp_path / "plug"),
             "--only", "local.*", "-o", str(out), "--format", "json,markdown,html", "--no-progress", "--timeout", "120",
             "--no-history"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (out / "results.jsonl").exists():
            time.sleep(0.05)
        time.sleep(1.0)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        time.sleep(gap)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
        assert time.monotonic() - t0 < 20, (gap, output)  # generous: the machine running the suite may be busy
        assert proc.returncode == 2, (gap, output)
        report = json.loads((out / "report.json").read_text())
        assert report["interrupted"] is True and report["verdict"] == "NO_GO"
