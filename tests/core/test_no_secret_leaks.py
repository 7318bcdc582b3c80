"""A real run with real logins (right and wrong passwords): no password in any artefact it writes."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from conftest import require_service
from impax_preflight.cli import cli

WRONG_SSH = "Wrong-Ssh-Pass-7781"
WRONG_DB = "Wrong-Db-Pass-9913"


@pytest.mark.service
def test_no_password_in_any_artefact(tmp_path, sshd_server, postgres_server, odbc_postgres, monkeypatch):
    require_service(sshd_server.password_user is not None, "a local user with a password for SSH password auth (root)")
    monkeypatch.setenv("PF_WRONG_SSH", WRONG_SSH)
    monkeypatch.setenv("PF_WRONG_DB", WRONG_DB)
    pg = postgres_server
    inv = tmp_path / "site.toml"
    inv.write_text(f"""
[site]
name = "Leak Test"
impax_version = "6.3.1"
platform = "AS3000"

[[hosts]]
name = "ssh-ok"
address = "127.0.0.1"
os = "linux"
roles = ["database", "archive"]
transport = {{ kind = "ssh", port = {sshd_server.port}, user = "{sshd_server.password_user}", password = "env:{sshd_server.password_env}", use_agent = false, known_hosts = "{sshd_server.known_hosts}" }}

[[hosts.databases]]
name = "mvf"
kind = "odbc"
driver = "PostgreSQL Unicode"
dialect = "postgres"
server = "127.0.0.1"
port = {pg.port}
database = "{pg.dbname}"
user = "{pg.user}"
password = "env:{pg.password_env}"

[[hosts.databases]]
name = "mvf-wrong"
kind = "odbc"
driver = "PostgreSQL Unicode"
dialect = "postgres"
server = "127.0.0.1"
port = {pg.port}
database = "{pg.dbname}"
user = "{pg.user}"
password = "env:PF_WRONG_DB"

[[hosts]]
name = "ssh-wrong"
address = "127.0.0.1"
os = "solaris"
roles = ["database"]
transport = {{ kind = "ssh", port = {sshd_server.port}, user = "{sshd_server.password_user}", password = "env:PF_WRONG_SSH", use_agent = false, known_hosts = "{sshd_server.known_hosts}" }}
""")
    out = tmp_path / "out"
    log = tmp_path / "run.log"
    result = CliRunner().invoke(cli, ["-vv", "--log-file", str(log), "run", str(inv), "-o", str(out), "--no-progress",
                                      "--timeout", "20"])
    assert result.exit_code in (0, 1, 2), result.output
    files = [p for p in out.rglob("*") if p.is_file()] + [log]
    assert {p.name for p in files} >= {"report.json", "results.jsonl", "run.log"}
    secrets = {WRONG_SSH, WRONG_DB, os.environ[sshd_server.password_env], os.environ[pg.password_env]}
    for p in files:
        blob = p.read_bytes()
        for s in secrets:
            assert s.encode() not in blob, f"{s[:3]}… leaked into {p.name}"
            assert s.encode("utf-16-le") not in blob
    assert not any(s in result.output for s in secrets)
    # the wrong logins were really tried, and became error findings
    import json

    findings = json.loads((out / "report.json").read_text())["findings"]
    wrong_host = [f for f in findings if f["target"] == "ssh-wrong"]
    wrong_db = [f for f in findings if f["target"] == "ssh-ok/mvf-wrong"]
    assert wrong_host and all(f["status"] == "error" for f in wrong_host)
    assert wrong_db and all(f["status"] == "error" for f in wrong_db)
    assert any(f["target"] == "ssh-ok/mvf" and f["status"] != "error" for f in findings)
