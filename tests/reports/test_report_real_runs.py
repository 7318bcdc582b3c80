"""diff, merge and every reporter on real runs: the CLI `run` against an IMPAX-shaped SQLite database
(the demo's schema) with defects added and removed between runs."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from impax_preflight.demo.impax_schema import ARCHIVE_CHECK, DUPLICATE_CHECK, build_sqlite_impax_db
from impax_preflight.transports.bundle import write_bundle

INVENTORY = """
[site]
name = "{site}"
impax_version = "6.3.1"
platform = "AS3000"

[[hosts]]
name = "{host}"
os = "solaris"
roles = ["database"]
tier = "{tier}"
transport = {{ kind = "bundle", bundle = "bundle" }}

[[hosts.databases]]
name = "mvf"
kind = "sqlite"
path = "impax.sqlite"
"""


def make_site(root: Path, defects: dict[str, int], site="Real Hospital", host="db1", tier="prod") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    build_sqlite_impax_db(root / "impax.sqlite", scale="tiny", defects=defects)
    write_bundle(root / "bundle", host, "solaris", [])
    inv = root / "inventory.toml"
    inv.write_text(INVENTORY.format(site=site, host=host, tier=tier), encoding="utf-8")
    return inv


def cli(argv, capsys):
    from impax_preflight.cli import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


BEFORE = {DUPLICATE_CHECK: 0, ARCHIVE_CHECK: 0, "integrity.study_uid": 2, "integrity.map_event_audit_user": 4}
AFTER = {DUPLICATE_CHECK: 0, ARCHIVE_CHECK: 0, "integrity.map_event_audit_user": 6, "integrity.folder_name": 3}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Baseline run, then defects fixed (study_uid), grown (map_event_audit 4 -> 6) and added (folder_name)."""
    tmp = tmp_path_factory.mktemp("real")
    from impax_preflight.cli import main

    def quiet(argv):  # capsys is function-scoped: capture by hand in this module-scoped fixture
        import contextlib
        import io

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf), pytest.raises(SystemExit) as exc:
            main(argv)
        return exc.value.code, buf.getvalue()

    inv = make_site(tmp / "site", BEFORE)
    args = ["--only", "integrity.*", "--no-progress", "--format", "json,html,markdown,junit"]
    code1, log1 = quiet(["run", str(inv), "-o", str(tmp / "run1"), *args])
    build_sqlite_impax_db(tmp / "site" / "impax.sqlite", scale="tiny", defects=AFTER)
    code2, log2 = quiet(["run", str(inv), "-o", str(tmp / "run2"), *args, "--baseline", str(tmp / "run1" / "report.json")])
    assert code1 == 2 and code2 == 2, log1 + log2
    return tmp


def test_real_diff_after_fixing_growing_and_adding_defects(runs, capsys):
    old, new = runs / "run1" / "report.json", runs / "run2" / "report.json"
    code, out, err = cli(["diff", "--json", str(old), str(new)], capsys)
    assert code == 2, err  # a new blocker appeared
    d = json.loads(out)
    assert [i["key"] for i in d["new_blockers"]] == ["integrity.folder_name@db1/mvf"]
    assert [i["key"] for i in d["resolved"]] == ["integrity.study_uid@db1/mvf"]
    assert [i["key"] for i in d["still_failing"]] == ["integrity.map_event_audit_user@db1/mvf"]
    moved = {m["key"]: m["values"] for m in d["moved"]}
    assert moved["integrity.map_event_audit_user@db1/mvf"]["count"] == {"old": 4, "new": 6, "delta": 2}
    assert moved["integrity.study_uid@db1/mvf"]["count"] == {"old": 2, "new": 0, "delta": -2}
    assert not any(k.endswith("_s") for v in moved.values() for k in v)  # timings are not "moves"
    assert d["verdict"]["old"] == d["verdict"]["new"] == "NO_GO" and not d["verdict"]["changed"]


def test_real_baseline_in_every_report(runs):
    run2 = runs / "run2"
    data = json.loads((run2 / "report.json").read_text())
    assert data["baseline"]["counts"]["new_blockers"] == 1
    schema = json.loads((Path(__file__).resolve().parents[2] / "impax_preflight/schema/report.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(data)
    html = (run2 / "report.html").read_text()
    assert "Changes since the baseline run" in html and "integrity.folder_name@db1/mvf" in html
    md = (run2 / "report.md").read_text()
    assert "- New blockers: 1" in md and "- Resolved: 1" in md
    assert "integrity.map\\_event\\_audit\\_user" not in md  # underscores are left alone
    import xml.etree.ElementTree as ET

    root = ET.parse(run2 / "report.junit.xml").getroot()
    failures = sorted(c.get("classname") for c in root.iter("testcase") if c.find("failure") is not None)
    assert failures == ["integrity.folder_name", "integrity.map_event_audit_user"]
    # every finding carries its evidence, and so does its testcase
    for case in root.iter("testcase"):
        assert "Evidence:" in case.find("system-out").text


def test_real_merge_of_two_sites(runs, tmp_path, capsys):
    dr_inv = make_site(tmp_path / "dr", {DUPLICATE_CHECK: 0, ARCHIVE_CHECK: 0}, site="Central DR", host="dr-db1", tier="dr")
    code, _, err = cli(["run", str(dr_inv), "-o", str(tmp_path / "dr-run"), "--only", "integrity.*", "--no-progress",
                        "--format", "json"], capsys)
    assert code == 1, err  # --only integrity.* left the other blocker checks out: a partial run says no GO
    code, out, err = cli(["report", str(tmp_path / "dr-run" / "report.json"), str(runs / "run2" / "report.json"),
                          "-o", str(tmp_path / "cluster")], capsys)
    assert code == 0, err
    assert "NO-GO — Cluster: Central DR, Real Hospital (2 site runs merged)" in out
    merged = json.loads((tmp_path / "cluster" / "report.json").read_text())
    assert {f["site"] for f in merged["findings"]} == {"Central DR", "Real Hospital"}
    md = (tmp_path / "cluster" / "report.md").read_text()
    # the DR run was partial (--only integrity.*): like the run itself, its stage cannot say GO
    assert "| Central DR | DR | GO WITH WARNINGS | dr-db1 | 0 |" in md
    assert "| Real Hospital | Prod | NO-GO | db1 | 2 |" in md
