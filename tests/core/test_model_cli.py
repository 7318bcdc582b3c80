"""Results model and verdict rules; the CLI's exit codes; drivers stay lazily imported."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from click.testing import CliRunner

from impax_preflight.cli import cli
from impax_preflight.model import Finding, RunReport, Severity, Status, Verdict, compute_verdict, utcnow
from impax_preflight.versions import Version


def F(sev, status, **kw):
    return Finding(check_id="x.y", severity=Severity(sev), status=Status(status), target="h", message="m", **kw)


def test_verdict_rules():
    assert compute_verdict([]) is Verdict.GO
    assert compute_verdict([F("blocker", "pass"), F("info", "skipped")]) is Verdict.GO
    assert compute_verdict([F("warning", "fail")]) is Verdict.GO_WITH_WARNINGS
    assert compute_verdict([F("blocker", "warn")]) is Verdict.GO_WITH_WARNINGS
    assert compute_verdict([F("blocker", "error")]) is Verdict.NO_GO
    assert compute_verdict([F("blocker", "waived", waived_status=Status.FAIL)]) is Verdict.GO
    assert compute_verdict([F("info", "pass")], interrupted=True) is Verdict.NO_GO
    assert [v.exit_code for v in Verdict] == [0, 1, 2]


def test_finding_key_and_json_round_trip():
    f = F("blocker", "fail", subject="MVFL", values={"usable_gb": 1.5})
    assert f.key == "x.y@h#MVFL"
    r = RunReport(tool_version="0", run_id="r", site="s", started_at=utcnow(), verdict=Verdict.NO_GO, findings=[f])
    back = RunReport.model_validate_json(r.model_dump_json())
    assert back.findings[0].key == f.key and back.findings[0].values == {"usable_gb": 1.5}


def test_versions_compare_numerically():
    assert Version("2.2.1") < Version("2.10")
    assert Version("6.5.1") == Version("6.5.1.0")
    assert Version("10.0.2531.0") >= Version("10.0.2531")
    assert Version("Connectivity Manager 2.3 SP1").startswith("2.3")


PLUGIN = textwrap.dedent("""
    from impax_preflight import check, hookimpl

    @check("local.state", "state from env", "blocker", "site")
    def state(ctx):
        import os
        s = os.environ.get("PF_STATE", "pass")
        yield ctx.finding(s, f"state is {s}")

    @hookimpl
    def impax_register_checks(register):
        register(state)
""")

INV = textwrap.dedent("""
    [site]
    name = "CLI Site"
    impax_version = "6.3"
    platform = "AS300"
    [[hosts]]
    name = "h1"
    os = "windows"
    roles = ["application"]
    transport = { kind = "local" }
""")


def test_run_exit_codes_and_outputs(tmp_path, monkeypatch):
    (tmp_path / "plug").mkdir()
    (tmp_path / "plug" / "p.py").write_text(PLUGIN)
    inv = tmp_path / "inv.toml"
    inv.write_text(INV)
    runner = CliRunner()
    base = ["run", str(inv), "--plugins-dir", str(tmp_path / "plug"), "--only", "local.*", "--format", "json", "--no-progress"]
    # pass -> 1: --only left the catalog's blocker checks for this Windows host out, so no GO (exit 0)
    for state, code in (("pass", 1), ("warn", 1), ("fail", 2), ("error", 2)):
        monkeypatch.setenv("PF_STATE", state)
        out = tmp_path / f"out-{state}"
        result = runner.invoke(cli, base + ["-o", str(out)])
        assert result.exit_code == code, result.output
        data = json.loads((out / "report.json").read_text())
        assert data["findings"][0]["status"] == state and data["schema_version"] == "1.2"
        assert any("blocker check(s)" in why for why in data["incomplete"])
        assert (out / "results.jsonl").read_text().count("\n") == 1
    bad = runner.invoke(cli, base + ["-o", str(tmp_path / "x"), "--format", "pdf"])
    assert bad.exit_code == 3 and "unknown report format" in bad.output
    bad = runner.invoke(cli, base + ["--bundle", "nohost"])
    assert bad.exit_code == 3 and "HOST=PATH" in bad.output


def test_demo_refuses_an_unknown_format_before_it_runs(tmp_path):
    # the format is checked before the run: not after the whole demo ran, as "a bug in impax-preflight"
    demo = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", str(demo), "--format", "html,typo"])
    assert result.exit_code == 3, result.output
    assert "error: unknown report format(s) typo; available: " in result.output
    assert not (demo / "report").exists() and not (demo / "history.sqlite").exists()


def test_bad_arguments_exit_3():
    proc = subprocess.run([sys.executable, "-m", "impax_preflight", "run", "--jobs", "zero", "x.toml"], capture_output=True, text=True)
    assert proc.returncode == 3 and "Traceback" not in proc.stderr


def test_checks_and_plugins_json():
    runner = CliRunner()
    checks = json.loads(runner.invoke(cli, ["checks", "--json"]).output)
    assert isinstance(checks, list)
    for c in checks:
        assert {"id", "severity", "target", "guide"} <= set(c)
    plugins = json.loads(runner.invoke(cli, ["plugins", "--json"]).output)
    builtin = next(p for p in plugins if p["name"] == "impax_preflight.builtin")
    assert builtin["status"] == "active" and "impax_register_transports" in builtin["hooks"]


def test_cli_start_does_not_import_drivers():
    code = ("import sys; from impax_preflight.cli import _add_plugin_commands; _add_plugin_commands(); "
            "print([m for m in ('paramiko', 'oracledb', 'pyodbc', 'pynetdicom') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_every_command_loads_and_refuses_alike(tmp_path):
    runner = CliRunner()
    inv = tmp_path / "inv.toml"
    inv.write_text(INV)
    # a plugin warning (here: built-in checks disabled) is shown by every command that loads the catalog
    off = ["--disable-plugin", "impax_preflight.checks.host_windows"]
    for args in (["validate", str(inv)], ["plan", str(inv), "--no-connect"], ["checks", "--json"], ["plugins", "--json"],
                 ["collect", str(inv), "--host", "h1", "-o", str(tmp_path / "collectors")]):
        result = runner.invoke(cli, args + off)
        assert result.exit_code == 0, (args, result.output)
        assert result.stderr.count("warning: built-in checks disabled (impax_preflight.checks.host_windows)") == 1, args
    # `report` refuses --history with --no-history, as run does
    report = tmp_path / "report.json"
    report.write_text(RunReport(tool_version="0", run_id="r1", site="S", started_at=utcnow(), verdict=Verdict.GO)
                      .model_dump_json(), encoding="utf-8")
    both = runner.invoke(cli, ["report", str(report), "-o", str(tmp_path / "out"), "--history", str(tmp_path / "h.sqlite"),
                               "--no-history"])
    assert both.exit_code == 3 and "either --history PATH or --no-history" in both.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "h.sqlite").exists()
    # `history -i` refuses a bad inventory as every command does
    bad = tmp_path / "bad.toml"
    bad.write_text(INV.replace('platform = "AS300"', 'platform = 3'))
    for args in (["history", "-i", str(bad)], ["validate", str(bad)]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 3 and "error: the inventory is not valid:" in result.output and "bad.toml:" in result.output


def test_a_broken_installed_plugin_is_warned_once(tmp_path):
    # main() shows it when it adds the plugins' commands; the command that loads the plugins again does not repeat it
    dist = tmp_path / "site" / "vendorx-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: vendorx\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[impax_preflight]\nvendor-x = no_such_vendor_module:plugin\n")
    inv = tmp_path / "inv.toml"
    inv.write_text(INV)
    env = {**__import__("os").environ, "PYTHONPATH": str(tmp_path / "site")}
    for args in (["checks", "--json"], ["validate", str(inv)], ["plan", str(inv), "--no-connect"]):
        proc = subprocess.run([sys.executable, "-m", "impax_preflight", *args], capture_output=True, text=True, env=env,
                              cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr.count("warning: plugin 'vendor-x' (no_such_vendor_module:plugin) failed to load") == 1, (args, proc.stderr)
