"""A declarative check folder through the real command line: `checks`, `plugins`, `run`, and a bad file."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

CHECK = """
[[check]]
id = "site.acme.null_study_uid"
title = "Every study has a UID"
severity = "blocker"
target = "database"
sql = "select count(*) from dosr_study where study_uid is null"
pass_if = "count == 0"
remediation = "Contact Agfa support."
guide = "Checking the integrity of database data"
"""


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "impax_preflight", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def site(tmp_path: Path) -> Path:
    db = tmp_path / "impax.sqlite"
    with sqlite3.connect(db) as conn:
        conn.executescript("create table dosr_study (study_uid text); insert into dosr_study values ('1.2'), (null);")
    conn.close()
    inv = tmp_path / "site.toml"
    inv.write_text(
        textwrap.dedent(
            """
            [site]
            name = "Acme Hospital"
            impax_version = "6.3.1"
            platform = "AS3000"

            [[hosts]]
            name = "db1"
            os = "solaris"
            roles = ["database"]
            transport = { kind = "local" }
            databases = [{ name = "impax", kind = "sqlite", path = "impax.sqlite" }]
            """
        ),
        encoding="utf-8",
    )
    return inv


def test_folder_check_is_listed_and_runs_into_every_report(tmp_path):
    d = tmp_path / "checks"
    d.mkdir()
    (d / "acme.toml").write_text(CHECK, encoding="utf-8")
    listed = cli("checks", "site.acme.*", "--json", "--checks-dir", str(d), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    (info,) = json.loads(listed.stdout)
    assert info["id"] == "site.acme.null_study_uid" and info["provider"] == "checks-dir"

    plugins = cli("plugins", "--json", "--checks-dir", str(d), cwd=tmp_path)
    (p,) = [p for p in json.loads(plugins.stdout) if p["name"] == "checks-dir"]
    assert p["status"] == "active" and p["checks"] == ["site.acme.null_study_uid"]

    inv = site(tmp_path)
    out = tmp_path / "out"
    ran = cli("run", str(inv), "--checks-dir", str(d), "--only", "site.acme.*", "-o", str(out),
              "--format", "json,html,markdown,junit", "--no-progress", cwd=tmp_path)
    assert ran.returncode == 2, ran.stdout + ran.stderr  # a failed blocker: NO-GO
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    (f,) = report["findings"]
    assert f["check_id"] == "site.acme.null_study_uid" and f["status"] == "fail" and f["values"]["value"] == 1
    assert f["evidence"][0]["source"] == "select count(*) from dosr_study where study_uid is null"
    rendered = [p for p in out.iterdir() if p.suffix in (".html", ".md", ".xml")]
    assert sorted(p.suffix for p in rendered) == [".html", ".md", ".xml"]
    for path in rendered:
            assert "site.acme.null_study_uid" in path.read_text(encoding="utf-8"), path.name


def test_malformed_file_is_refused_with_file_and_line(tmp_path):
    d = tmp_path / "checks"
    d.mkdir()
    bad = d / "bad.toml"
    bad.write_text(CHECK.replace('severity = "blocker"', 'severity = "fatal"'), encoding="utf-8")
    res = cli("checks", "--checks-dir", str(d), cwd=tmp_path)
    assert res.returncode == 3
    assert f"{bad}:5: check[0].severity: 'fatal' is not allowed" in res.stderr
    assert "Traceback" not in res.stderr
