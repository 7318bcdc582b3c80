"""merge_reports and stage readiness: several hospitals and a DR site in one cluster report; the CLI."""

from __future__ import annotations

import json
from datetime import timedelta

import jsonschema
import pytest
from report_samples import T0, finding, make_report

from impax_preflight.model import Severity, Status
from impax_preflight.report.html import render_html
from impax_preflight.report.merge import MergeError, merge_reports, ordered_blockers, stage_readiness


def inv(*hosts):
    return {"hosts": [{"name": n, "tier": t} for n, t in hosts]}


def north():
    fs = [
        finding("prereq.source_version", Status.PASS, "site", target="site", target_kind="site", site=None, tier=""),
        finding("os.fmadm_faulty", Status.PASS, "n-prod1", site=None, tier=""),
        finding("os.fmadm_faulty", Status.FAIL, "n-bk1", site=None, tier=""),
    ]
    return make_report(fs, site="North", run_id="north-1", inventory=inv(("n-prod1", "prod"), ("n-bk1", "bk")),
                       warnings=["bundle is old"])


def south():
    fs = [
        finding("prereq.source_version", Status.PASS, "site", target="site", target_kind="site", site=None, tier=""),
        finding("os.fmadm_faulty", Status.PASS, "s-prod1", site=None, tier=""),
        finding("os.swap", Status.WARN, "s-bk1", severity=Severity.WARNING, site=None, tier=""),
    ]
    return make_report(fs, site="South", run_id="south-1", started=T0 + timedelta(hours=2),
                       inventory=inv(("s-prod1", "prod"), ("s-bk1", "bk")))


def dr_site():
    fs = [finding("oracle.tablespace_free", Status.PASS, "dr-db1", subject="MVFL", site=None, tier="", values={"usable_gb": 9.0})]
    return make_report(fs, site="Central DR", run_id="dr-1", started=T0 - timedelta(hours=1),
                       inventory=inv(("dr-db1", "dr")), interrupted=True)


def test_merge_groups_by_site_and_recomputes_the_verdict():
    merged = merge_reports([north(), south(), dr_site()])
    assert merged.site == "Cluster: North, South, Central DR"
    assert merged.verdict.value == "NO_GO" and len(merged.findings) == 7
    assert {f.site for f in merged.findings} == {"North", "South", "Central DR"}
    # tiers recovered from each site's inventory summary
    assert {f.host: f.tier for f in merged.findings if f.target_kind == "host"} == {
        "n-prod1": "prod", "n-bk1": "bk", "s-prod1": "prod", "s-bk1": "bk", "dr-db1": "dr"}
    assert merged.started_at == T0 - timedelta(hours=1) and merged.duration_s == 126.0
    assert merged.interrupted
    assert "[North] bundle is old" in merged.warnings
    assert any(w.startswith("[Central DR] this site's run was interrupted") for w in merged.warnings)
    assert [m["site"] for m in merged.inventory["merged_runs"]] == ["North", "South", "Central DR"]
    assert {nr.target for nr in merged.not_run} == {"North:prod-db1", "South:prod-db1", "Central DR:prod-db1"}


def test_each_stage_has_its_own_verdict():
    merged = merge_reports([north(), south(), dr_site()])
    overall = {s.key: s.verdict.value for s in stage_readiness(merged)}
    # the upgrade order: DR not ready (its site's run was interrupted: incomplete is not GO),
    # BK blocked (North's BK PACS has a fault), Prod ready
    assert list(overall) == ["dr", "bk", "prod"]
    assert overall == {"dr": "NO_GO", "bk": "NO_GO", "prod": "GO"}
    per_site = {(s.site, s.key): s.verdict.value for s in stage_readiness(merged, by_site=True)}
    assert per_site == {
        ("North", "bk"): "NO_GO", ("North", "prod"): "GO",
        ("South", "bk"): "GO_WITH_WARNINGS", ("South", "prod"): "GO",
        ("Central DR", "dr"): "NO_GO",
    }


def test_an_interrupted_run_is_no_go_in_the_merge_and_in_the_stages_it_touches():
    clean = [finding("os.fmadm_faulty", Status.PASS, "n-prod1", site=None, tier="")]
    done = make_report(clean, site="North", run_id="north-1", inventory=inv(("n-prod1", "prod")))
    cut = make_report([finding("os.fmadm_faulty", Status.PASS, "dr-db1", site=None, tier="")], site="Central DR",
                      run_id="dr-1", inventory=inv(("dr-db1", "dr")), interrupted=True)
    assert cut.verdict.value == "NO_GO"  # the sample builder honours interrupted=
    merged = merge_reports([done, cut])
    assert merged.interrupted and merged.verdict.value == "NO_GO"
    assert {s.key: s.verdict.value for s in stage_readiness(merged)} == {"dr": "NO_GO", "prod": "GO"}
    assert {(s.site, s.key): s.verdict.value for s in stage_readiness(merged, by_site=True)} == {
        ("North", "prod"): "GO", ("Central DR", "dr"): "NO_GO"}
    # a run on its own: every stage of an interrupted run is NO-GO
    alone = make_report(clean, site="North", run_id="north-2", inventory=inv(("n-prod1", "prod")), interrupted=True)
    assert [s.verdict.value for s in stage_readiness(alone)] == ["NO_GO"]
    # a merged report that does not record which run was interrupted: every stage is NO-GO
    old = merged.model_copy(update={"inventory": {**merged.inventory, "merged_runs": [
        {k: v for k, v in m.items() if k != "interrupted"} for m in merged.inventory["merged_runs"]]}})
    assert {s.verdict.value for s in stage_readiness(old)} == {"NO_GO"}


def test_a_newer_run_of_the_same_site_replaces_its_findings():
    full = make_report([finding("os.fmadm_faulty", Status.FAIL, "n-bk1", site=None, tier=""),
                        finding("os.fmadm_faulty", Status.PASS, "n-prod1", site=None, tier="")],
                       site="North", run_id="north-1", inventory=inv(("n-prod1", "prod"), ("n-bk1", "bk")))
    recheck = make_report([finding("os.fmadm_faulty", Status.PASS, "n-bk1", site=None, tier="")],
                          site="North", run_id="north-2", started=T0 + timedelta(hours=3),
                          inventory=inv(("n-bk1", "bk")))
    for order in ([full, recheck], [recheck, full]):  # the newest run wins, whatever the order given
        merged = merge_reports(order)
        assert sorted((f.host, f.status.value) for f in merged.findings) == [("n-bk1", "pass"), ("n-prod1", "pass")]
        assert merged.verdict.value == "GO"
        assert any("replaced by a newer run of the same site" in w for w in merged.warnings)
    # the same key at two different sites is two findings
    other = make_report([finding("os.fmadm_faulty", Status.FAIL, "n-bk1", site=None, tier="")], site="South",
                        run_id="south-1", inventory=inv(("n-bk1", "bk")))
    assert len(merge_reports([full, other]).findings) == 3


def test_blockers_are_listed_in_one_order_by_every_reporter():
    from impax_preflight.report.markdown import render_markdown

    fs = [finding("a.check", Status.ERROR, "prod-app1"), finding("b.check", Status.FAIL, "prod-db1"),
          finding("c.check", Status.FAIL, "dr-db1"),
          finding("d.check", Status.FAIL, "site", target="site", target_kind="site")]
    report = make_report(fs)
    order = [f.check_id for f in ordered_blockers(report)]
    assert order == ["d.check", "c.check", "b.check", "a.check"]  # site-wide, DR, then Prod: fail before error
    md = render_markdown(report)
    assert sorted(order, key=lambda c: md.index(f"`{c}` on")) == order
    html = render_html(report)
    blockers = html[html.index('id="blockers"'):html.index("</section>", html.index('id="blockers"'))]
    assert sorted(order, key=blockers.index) == order


def test_a_site_wide_blocker_gates_every_stage_of_its_site():
    fs = [finding("prereq.source_version", Status.FAIL, "site", target="site", target_kind="site"),
          finding("os.fmadm_faulty", Status.PASS, "dr-db1"), finding("os.fmadm_faulty", Status.PASS, "prod-app1")]
    stages = {s.key: s for s in stage_readiness(make_report(fs))}
    assert stages["dr"].verdict.value == stages["prod"].verdict.value == "NO_GO"
    assert [f.check_id for f in stages["dr"].blockers] == ["prereq.source_version"]


def test_merge_refuses_nothing_and_duplicates():
    with pytest.raises(MergeError, match="no run report"):
        merge_reports([])
    with pytest.raises(MergeError, match="north-1"):
        merge_reports([north(), north()])
    one = north()
    assert merge_reports([one]) is one


def test_merged_report_renders_and_validates(tmp_path):
    from importlib import resources

    merged = merge_reports([north(), south(), dr_site()])
    schema = json.loads(resources.files("impax_preflight").joinpath("schema/report.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(json.loads(merged.model_dump_json()))
    html = render_html(merged)
    assert 'data-host="North / n-bk1"' in html and 'data-host="Central DR / dr-db1"' in html
    assert html.index('data-group="dr"') < html.index('data-group="bk"') < html.index('data-group="prod"')
    assert "Merged site runs" in html


def run_cli(argv, capsys):
    from impax_preflight.cli import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_cli_report_merges_and_rerenders(tmp_path, capsys):
    paths = []
    for r in (north(), south(), dr_site()):
        p = tmp_path / f"{r.run_id}.json"
        p.write_text(r.model_dump_json(), encoding="utf-8")
        paths.append(str(p))
    out_dir = tmp_path / "cluster"
    code, out, err = run_cli(["report", *paths, "-o", str(out_dir)], capsys)
    assert code == 0, err
    assert "NO-GO — Cluster: North, South, Central DR (3 site runs merged)" in out
    assert sorted(p.name for p in out_dir.iterdir()) == ["report.html", "report.json", "report.junit.xml", "report.md"]
    again = json.loads((out_dir / "report.json").read_text())
    assert again["site"].startswith("Cluster:") and len(again["findings"]) == 7
    # one run simply re-rendered, with a baseline diff
    code, out, err = run_cli(["report", paths[0], "-o", str(tmp_path / "one"), "--format", "html,markdown",
                              "--baseline", paths[0]], capsys)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == ["report.html", "report.md"]
    assert "Changes since the baseline run" in (tmp_path / "one" / "report.html").read_text()
    # unusable input
    code, _, err = run_cli(["report", paths[0], "-o", str(tmp_path / "x"), "--format", "pdf"], capsys)
    assert code == 3 and "unknown report format(s) pdf" in err and "available: " in err
    code, _, err = run_cli(["report", paths[0], "-o", str(tmp_path / "half"), "--format", "html,pdf"], capsys)
    assert code == 3 and not (tmp_path / "half" / "report.html").exists()  # nothing half-written
    code, _, err = run_cli(["report", paths[0], paths[0], "-o", str(tmp_path / "x")], capsys)
    assert code == 3 and "the same run was given twice" in err


def test_cli_report_refused_records_nothing(tmp_path, capsys):
    # an unknown format is refused before the history records the runs and the merge
    paths = []
    for r in (north(), south()):
        p = tmp_path / f"{r.run_id}.json"
        p.write_text(r.model_dump_json(), encoding="utf-8")
        paths.append(str(p))
    store = tmp_path / "history.sqlite"
    code, _, err = run_cli(["report", *paths, "-o", str(tmp_path / "x"), "--format", "html,typo", "--history", str(store)],
                           capsys)
    assert code == 3 and "unknown report format(s) typo" in err
    assert not store.exists() and not (tmp_path / "x").exists()
    code, _, err = run_cli(["report", *paths, "-o", str(tmp_path / "y"), "--history", str(store)], capsys)
    assert code == 0, err
    from impax_preflight.history import HistoryStore

    assert sorted(s["site"] for s in HistoryStore(store).sites()) == ["Cluster: North, South", "North", "South"]
