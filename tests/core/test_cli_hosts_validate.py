"""`run --host` limits a run to some hosts; `validate` finds what would stop connections, offline."""

from __future__ import annotations

import json

from click.testing import CliRunner

from impax_preflight.cli import cli
from impax_preflight.demo import build_demo


def test_run_limited_to_hosts(tmp_path):
    inv = build_demo(tmp_path / "demo")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(inv), "--host", "impax-*", "-o", str(out), "--format", "json", "--no-progress"])
    assert result.exit_code == 2, result.output
    report = json.loads((out / "report.json").read_text())
    hosts = {f["host"] for f in report["findings"]}
    assert hosts == {"impax-app01", "impax-cm01", "impax-ng01"}
    assert not any(f["target"] == "site" for f in report["findings"])
    assert any(n["target"] == "site" and "--host" in n["reason"] for n in report["not_run"])
    bad = CliRunner().invoke(cli, ["run", str(inv), "--host", "nope*", "-o", str(out), "--no-progress"])
    assert bad.exit_code == 3 and "matches no host" in bad.output


def test_validate_reports_what_would_stop_connections(tmp_path, monkeypatch):
    monkeypatch.delenv("PF_MISSING_PW", raising=False)
    inv = tmp_path / "inv.toml"
    inv.write_text(f"""
[site]
name = "V"
impax_version = "6.3"
platform = "AS3000"

[[hosts]]
name = "db"
os = "solaris"
roles = ["database"]
transport = {{ kind = "ssh", user = "mvf", known_hosts = "{tmp_path / 'kh'}", key_file = "{tmp_path / 'nokey'}" }}

[[hosts.databases]]
name = "mvf"
kind = "oracle"
dsn = "db:1521/MVF"
user = "ro"
password = "env:PF_MISSING_PW"

[[hosts]]
name = "cm"
os = "windows"
roles = ["connectivity_manager"]
transport = {{ kind = "bundle", bundle = "bundles/cm" }}
""")
    runner = CliRunner()
    result = runner.invoke(cli, ["validate", str(inv)])
    assert result.exit_code == 0
    out = result.output
    assert "known_hosts file" in out and "ssh-keyscan" in out
    assert "key file" in out and "PF_MISSING_PW is not set" in out and "bundle" in out
    assert "4 problem(s)" in out
    assert runner.invoke(cli, ["validate", "--strict", str(inv)]).exit_code == 3
    (tmp_path / "kh").write_text("")
    (tmp_path / "nokey").write_text("key")
    (tmp_path / "bundles" / "cm").mkdir(parents=True)
    monkeypatch.setenv("PF_MISSING_PW", "x")
    result = runner.invoke(cli, ["validate", "--strict", str(inv)])
    assert result.exit_code == 0 and "not ready" not in result.output
