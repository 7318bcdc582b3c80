"""diff and merge on real runs of the embedded demo site, with faults removed and added between runs."""

from __future__ import annotations

import contextlib
import io
import json
import re

import pytest

from impax_preflight.demo import build_demo
from impax_preflight.demo.impax_schema import DEMO_DEFECTS, build_sqlite_impax_db


def cli(argv):
    from impax_preflight.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf), pytest.raises(SystemExit) as exc:
        main(argv)
    return exc.value.code, buf.getvalue()


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    inv = build_demo(root)
    common = ["--waivers", str(root / "waivers.toml"), "--no-progress", "--format", "json,html,markdown,junit"]
    code1, log1 = cli(["run", str(inv), "-o", str(root / "run1"), *common])
    # between the runs: the DOC -> RTF migration was done, the NULL study_uid rows were repaired,
    # and a new defect appeared (NULL folder names)
    text = inv.read_text(encoding="utf-8")
    fixed = re.sub(r"reports_rtf_migrated = false", "reports_rtf_migrated = true", text)
    assert fixed != text
    inv.write_text(fixed, encoding="utf-8")
    defects = {k: v for k, v in DEMO_DEFECTS.items() if k != "integrity.study_uid"} | {"integrity.folder_name": 2}
    build_sqlite_impax_db(root / "db" / "impax.sqlite", scale="demo", defects=defects)
    code2, log2 = cli(["run", str(inv), "-o", str(root / "run2"), *common, "--baseline", str(root / "run1" / "report.json")])
    assert code1 == 2 and code2 == 2, log1[-2000:] + log2[-2000:]
    return root


def test_demo_diff(demo_runs):
    code, out = cli(["diff", "--json", str(demo_runs / "run1" / "report.json"), str(demo_runs / "run2" / "report.json")])
    assert code == 2
    d = json.loads(out)
    assert [i["key"] for i in d["new_blockers"]] == ["integrity.folder_name@mvf-db01/mvf"]
    resolved = {i["key"] for i in d["resolved"]}
    assert {"integrity.study_uid@mvf-db01/mvf", "prereq.reporting_rtf@site"} <= resolved
    assert len(resolved) == 2, resolved
    still = {i["key"] for i in d["still_failing"]}
    assert "integrity.map_event_audit_user@mvf-db01/mvf" in still and "prereq.dotnet35sp1@impax-app01" in still
    moved = {m["key"]: m["values"] for m in d["moved"]}
    assert moved["integrity.study_uid@mvf-db01/mvf"]["count"] == {"old": 2, "new": 0, "delta": -2}
    assert d["not_rechecked"] == [] and d["verdict"]["new"] == "NO_GO"
    code, text = cli(["diff", str(demo_runs / "run1" / "report.json"), str(demo_runs / "run1" / "report.json")])
    assert code == 0 and "New blockers: 0" in text and "Resolved: 0" in text


def test_demo_reports_carry_the_baseline_and_the_waivers(demo_runs):
    run2 = demo_runs / "run2"
    html = (run2 / "report.html").read_text(encoding="utf-8")
    assert "Changes since the baseline run" in html and "integrity.folder_name@mvf-db01/mvf" in html
    data = json.loads((run2 / "report.json").read_text(encoding="utf-8"))
    waived = [f for f in data["findings"] if f["status"] == "waived"]
    assert waived and all(f["waiver"]["approved_by"] in html for f in waived)
    assert data["expired_waivers"] and 'id="expired-waivers"' in html
    md = (run2 / "report.md").read_text(encoding="utf-8")
    assert md.startswith("# ⛔ NO-GO") and "- New blockers: 1" in md


def test_demo_merged_with_a_second_site(demo_runs, tmp_path):
    # the same demo as a second hospital: a different site name, its own run
    root = tmp_path / "north"
    inv = build_demo(root)
    inv.write_text(inv.read_text(encoding="utf-8").replace('name = "Demo General Hospital"', 'name = "North Hospital"', 1),
                   encoding="utf-8")
    code, log = cli(["run", str(inv), "-o", str(root / "run"), "--no-progress", "--format", "json"])
    assert code == 2, log[-2000:]
    code, out = cli(["report", str(demo_runs / "run2" / "report.json"), str(root / "run" / "report.json"),
                     "-o", str(tmp_path / "cluster")])
    assert code == 0, out
    merged = json.loads((tmp_path / "cluster" / "report.json").read_text(encoding="utf-8"))
    assert merged["site"] == "Cluster: Demo General Hospital, North Hospital"
    assert {f["site"] for f in merged["findings"]} == {"Demo General Hospital", "North Hospital"}
    md = (tmp_path / "cluster" / "report.md").read_text(encoding="utf-8")
    for site in ("Demo General Hospital", "North Hospital"):
        assert f"| {site} | BK | NO-GO | mvf-bk01 |" in md
        assert re.search(rf"\| {site} \| Prod \| NO-GO \| [^|]*mvf-db01", md)
    html = (tmp_path / "cluster" / "report.html").read_text(encoding="utf-8")
    assert 'data-host="North Hospital / mvf-db01"' in html and 'data-host="Demo General Hospital / mvf-db01"' in html
