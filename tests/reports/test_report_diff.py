"""diff_reports on programmatic runs: every category, moved values, multi-site identity, the CLI."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from report_samples import T0, finding, make_report, sample_findings

from impax_preflight.model import Severity, Status, Waiver
from impax_preflight.report.diff import diff_exit_code, diff_reports, diff_to_text


def keys(items):
    return sorted(i["key"] for i in items)


@pytest.fixture
def old_new():
    old = make_report(sample_findings(tablespace_free_gb=2.6, integrity_rows=3, fixed_dotnet=False))
    new_findings = sample_findings(tablespace_free_gb=1.8, integrity_rows=0, fixed_dotnet=False)
    # a new non-blocking problem, and a fault that was waived in the meantime
    new_findings.append(finding("os.swap", Status.WARN, "bk-app1", severity=Severity.WARNING, message="swap is small"))
    for i, f in enumerate(new_findings):
        if f.check_id == "os.fmadm_faulty":
            new_findings[i] = f.model_copy(update={
                "status": Status.WAIVED, "waived_status": Status.FAIL,
                "waiver": Waiver(match="os.fmadm_faulty@dr-db1", reason="DIMM replaced Friday", approved_by="ops")})
    # hw.requirements (an error before) has no finding at all in the new run
    new_findings = [f for f in new_findings if f.check_id != "hw.requirements"]
    new = make_report(new_findings, run_id="20240511T080000Z-def456", started=T0 + timedelta(days=7))
    return old, new


def test_categories(old_new):
    old, new = old_new
    d = diff_reports(old, new)
    # MVFL went from 2.6 GB (warn) to 1.8 GB (fail): a blocker the old run did not have
    assert keys(d["new_blockers"]) == ["oracle.tablespace_free@prod-db1/mvf#MVFL"]
    assert d["new_blockers"][0]["old_status"] == "warn" and d["new_blockers"][0]["status"] == "fail"
    assert d["new_blockers"][0]["remediation"]
    assert keys(d["new_problems"]) == ["os.swap@bk-app1"]
    assert keys(d["still_failing"]) == ["prereq.dotnet35sp1@prod-app1"]
    assert keys(d["resolved"]) == ["integrity.study_uid@prod-db1/mvf"]
    assert keys(d["now_waived"]) == ["os.fmadm_faulty@dr-db1"]
    # an error that simply vanished is not "resolved": nobody verified it
    assert keys(d["not_rechecked"]) == ["hw.requirements@dr-db1"]
    assert d["verdict"] == {"old": "NO_GO", "new": "NO_GO", "old_label": "NO-GO", "new_label": "NO-GO", "changed": False}
    assert d["counts"]["new_blockers"] == 1 and d["counts"]["resolved"] == 1
    assert diff_exit_code(d) == 2
    json.dumps(d)  # plain JSON, ready for report.baseline and --json


def test_moved_values_show_old_new_delta(old_new):
    old, new = old_new
    moved = {m["key"]: m["values"] for m in diff_reports(old, new)["moved"]}
    assert moved["oracle.tablespace_free@prod-db1/mvf#MVFL"]["usable_gb"] == {"old": 2.6, "new": 1.8, "delta": -0.8}
    assert moved["integrity.study_uid@prod-db1/mvf"]["count"] == {"old": 3, "new": 0, "delta": -3}
    # booleans and text are not "values that moved"
    assert "autoextend" not in moved["oracle.tablespace_free@prod-db1/mvf#MVFL"]
    assert all("version" not in v for v in moved.values())


def test_verdict_change_and_no_new_blockers():
    old = make_report(sample_findings())
    fixed = [f.model_copy(update={"status": Status.PASS}) if f.status in (Status.FAIL, Status.ERROR, Status.WARN) else f
             for f in old.findings]
    new = make_report(fixed, run_id="r2")
    d = diff_reports(old, new)
    assert d["verdict"]["changed"] and d["verdict"]["new"] == "GO"
    assert d["new_blockers"] == [] and diff_exit_code(d) == 0
    assert len(d["resolved"]) == 5  # 3 fail + 1 error + 1 warn: every problem of the old run
    text = diff_to_text(d)
    assert "Verdict: NO-GO -> GO (changed)" in text and "Resolved: 5" in text


def test_same_host_name_at_two_sites_is_not_conflated():
    a = finding("os.fmadm_faulty", Status.PASS, "db1", site="North")
    b = finding("os.fmadm_faulty", Status.FAIL, "db1", site="South")
    old = make_report([a, b])
    new = make_report([a, b.model_copy(update={"status": Status.PASS})], run_id="r2")
    d = diff_reports(old, new)
    assert [i["site"] for i in d["resolved"]] == ["South"]
    assert d["new_blockers"] == []


def _write(tmp_path, name, report):
    p = tmp_path / name
    p.write_text(report.model_dump_json(), encoding="utf-8")
    return p


def run_cli(argv, capsys):
    from impax_preflight.cli import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_cli_diff_text_json_and_exit_codes(tmp_path, old_new, capsys):
    old, new = old_new
    a, b = _write(tmp_path, "old.json", old), _write(tmp_path, "new.json", new)
    code, out, _ = run_cli(["diff", str(a), str(b)], capsys)
    assert code == 2
    assert "New blockers: 1" in out and "oracle.tablespace_free@prod-db1/mvf#MVFL" in out
    assert "usable_gb: 2.6 -> 1.8 (-0.8)" in out
    code, out, _ = run_cli(["diff", "--json", str(a), str(b)], capsys)
    assert code == 2 and json.loads(out)["counts"]["new_blockers"] == 1
    # reversed: the new run (old.json) has no blocker the other lacks... except those it fixed later
    code, out, _ = run_cli(["diff", str(b), str(b)], capsys)
    assert code == 0 and "New blockers: 0" in out


def test_cli_diff_bad_input_is_a_usage_error(tmp_path, capsys):
    bad = tmp_path / "notes.json"
    bad.write_text('{"hello": 1}', encoding="utf-8")
    code, out, err = run_cli(["diff", str(bad), str(bad)], capsys)
    assert code == 3
    assert "notes.json" in err and "not an impax-preflight report.json" in err
    code, _, err = run_cli(["diff", str(tmp_path / "missing.json"), str(bad)], capsys)
    assert code == 3 and "missing.json" in err
