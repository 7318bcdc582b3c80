"""HTML (static), Markdown, JUnit and JSON outputs of programmatic runs; the shipped schema; masking."""

from __future__ import annotations

import json
import re
from html import unescape
import xml.etree.ElementTree as ET
from importlib import resources

import jsonschema
import pytest
from report_samples import HOSTILE, finding, make_report, sample_findings

from impax_preflight.model import Evidence, Status
from impax_preflight import load_plugins
from impax_preflight.report.diff import diff_reports
from impax_preflight.report.html import CSP, render_html
from impax_preflight.report.json import json_schema, report_to_json
from impax_preflight.report.junit import render_junit
from impax_preflight.report.markdown import render_markdown
from impax_preflight.secrets import masker


def shipped_schema() -> dict:
    return json.loads(resources.files("impax_preflight").joinpath("schema/report.schema.json").read_text(encoding="utf-8"))


def test_shipped_schema_equals_generated():
    assert shipped_schema() == json_schema(), (
        "impax_preflight/schema/report.schema.json is out of date: regenerate it with "
        "`impax-preflight schema -o impax_preflight/schema/report.schema.json`"
    )


@pytest.mark.parametrize("with_baseline", [False, True])
def test_json_output_validates_against_shipped_schema(with_baseline):
    report = make_report()
    if with_baseline:
        report = report.model_copy(update={"baseline": diff_reports(make_report(sample_findings(integrity_rows=0)), report)})
    data = json.loads(report_to_json(report))
    jsonschema.Draft202012Validator(shipped_schema()).validate(data)
    # and the schema is not a rubber stamp: a wrong status is refused
    data["findings"][0]["status"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(shipped_schema()).validate(data)


def test_reporters_are_registered_through_the_hook(tmp_path):
    reg = load_plugins(entry_points=False).registry
    for name, filename in (("html", "report.html"), ("markdown", "report.md"), ("junit", "report.junit.xml")):
        assert reg.providers["reporter"][name] == "impax_preflight.report.builtin"
        path = reg.reporters[name](make_report(), tmp_path)
        assert path == tmp_path / filename and path.stat().st_size > 500


def _elements(html: str) -> list[tuple[str, list]]:
    from html.parser import HTMLParser

    found: list[tuple[str, list]] = []

    class P(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

    P().feed(html)
    return found


def test_html_is_self_contained_and_escaped():
    html = render_html(make_report())
    meta = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', html)
    assert meta and unescape(meta.group(1)) == CSP == (
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:")
    # no external resource of any kind, judged on the parsed elements (escaped text is not markup)
    tags = _elements(html)
    assert not [a for _, attrs in tags for a in attrs if a[0] in ("src", "srcset", "action", "poster", "formaction")]
    hrefs = [v for _, attrs in tags for k, v in attrs if k == "href"]
    assert hrefs and all(h.startswith("#") or h == "data:," for h in hrefs), hrefs
    assert not [t for t, _ in tags if t in ("iframe", "object", "embed", "img", "audio", "video")]
    assert "@import" not in html and "url(" not in html
    # one script element: ours. The hostile evidence is text.
    assert [t for t, _ in tags].count("script") == 1
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in html
    assert "Größe ÆØÅ 東京" in html
    # blockers come first, with remediation; waiver and expired waiver shown
    assert html.index('id="blockers"') < html.index('id="stages"') < html.index('id="findings"')
    assert "Install .NET Framework 3.5 SP1 on the application server." in html
    assert "needed by the RIS link until cut-over" in html and "J. Smith (change board)" in html
    assert 'id="expired-waivers"' in html and 'id="signoff"' in html
    assert "no SQL Server database on this host" in html  # not_run with its reason


def test_html_groups_hosts_by_stage_in_upgrade_order():
    html = render_html(make_report())
    order = [html.index(f'data-group="{g}"') for g in ("site", "dr", "bk", "prod")]
    assert order == sorted(order)
    assert html.index('data-host="dr-db1"') < html.index('data-host="bk-app1"') < html.index('data-host="prod-app1"')


def test_html_interrupted_and_baseline_sections():
    old = make_report(sample_findings(tablespace_free_gb=2.6))
    new = make_report(sample_findings(tablespace_free_gb=1.5), run_id="r2", interrupted=True)
    new = new.model_copy(update={"baseline": diff_reports(old, new)})
    html = render_html(new)
    assert 'id="interrupted"' in html and 'id="baseline"' in html
    assert "Changes since the baseline run" in html
    # the tablespace lost 1.1 GB of headroom: old, new and delta are shown
    row = re.search(r"<tr><td><code>oracle.tablespace_free@prod-db1/mvf#MVFL</code></td><td>usable_gb</td>(.*?)</tr>", html)
    assert row and ">2.6<" in row.group(1) and ">1.5<" in row.group(1) and ">-1.1<" in row.group(1)


def test_markdown_summary():
    md = render_markdown(make_report())
    assert md.startswith("# ⛔ NO-GO — IMPAX upgrade readiness: St. Elsewhere")
    blockers = md.split("## What blocks the upgrade (3)")[1].split("##")[0]
    assert "`prereq.dotnet35sp1` on **prod-app1**" in blockers
    assert "Remediation: Install .NET Framework 3.5 SP1 on the application server." in blockers
    table = md.split("## Findings that are not a pass (6)")[1].split("## Run warnings")[0]
    assert "os.disk_space" not in table and "db.version" not in table  # passes are left out
    assert "| WAIVED | warning | `prereq.sqlserver_services`" in table
    # hostile text cannot become markup or break a table row
    f = finding("x.y", Status.FAIL, "dr-db1", message="a | b <script>alert(1)</script>\nnext line")
    md = render_markdown(make_report([f]))
    row = next(line for line in md.splitlines() if line.startswith("| FAIL | blocker"))
    assert "a \\| b \\<script\\>alert(1)\\</script\\> next line" in row
    assert row.count(" | ") == 4



def test_markdown_code_spans_cannot_be_broken_out_of():
    from markdown_it import MarkdownIt

    from impax_preflight.model import Waiver
    from impax_preflight.report.markdown import md_code

    hostile = "``<img src=x onerror=alert(1)>``` `"
    assert md_code("plain") == "`plain`" and md_code("a`b") == "``a`b``"
    assert md_code(hostile) == "```` " + hostile + " ````"  # one backtick longer than the longest run, padded
    old = make_report([finding("x.y", Status.PASS, "dr-db1")])
    new = make_report([finding("x.y", Status.FAIL, "dr-db1", subject=hostile)], run_id="r2",
                      expired_waivers=[Waiver(match=hostile, reason="old", approved_by="X", expires="2020-01-01")])
    new = new.model_copy(update={"baseline": diff_reports(old, new)})
    rendered = MarkdownIt("commonmark").render(render_markdown(new))
    assert "<img" not in rendered  # the key and the waiver pattern stay inside their code spans
    spans = re.findall(r"<code>(.*?)</code>", rendered)
    assert "x.y@dr-db1#" + unescape_md(hostile) in spans and unescape_md(hostile) in spans


def unescape_md(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def test_html_baseline_sections_are_the_diff_sections():
    from impax_preflight.report.diff import SECTIONS

    old = make_report(sample_findings())
    new = make_report(sample_findings(fixed_dotnet=True), run_id="r2")
    html = render_html(new.model_copy(update={"baseline": diff_reports(old, new)}))
    for name, title in SECTIONS:
        assert f'class="diff-sec diff-{name}"' in html and f"<summary>{unescape_md(title)}: " in html


def _cases(root):
    return {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}


def test_junit_structure():
    report = make_report()
    root = ET.fromstring(render_junit(report).encode("utf-8"))
    assert root.tag == "testsuites"
    assert root.get("tests") == str(len(report.findings)) == "10"
    assert (root.get("failures"), root.get("errors"), root.get("skipped")) == ("3", "1", "2")
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"site-wide", "dr-db1", "bk-app1", "prod-app1", "prod-db1"}
    for s in suites.values():
        cases = s.findall("testcase")
        assert s.get("tests") == str(len(cases))
        assert s.get("failures") == str(sum(c.find("failure") is not None for c in cases))
        props = {p.get("name"): p.get("value") for p in s.find("properties")}
        assert props["impax.verdict"] == "NO_GO"
    cases = _cases(root)
    fail = cases[("integrity.study_uid", "prod-db1/mvf")].find("failure")
    assert fail.get("type") == "blocker" and "Contact Agfa support" in fail.text
    assert cases[("hw.requirements", "dr-db1")].find("error") is not None
    assert cases[("os.zpool_health", "prod-app1")].find("skipped") is not None
    waived = cases[("prereq.sqlserver_services", "bk-app1")].find("skipped")
    assert waived.get("message").startswith("waived: needed by the RIS link") and "was warn" in waived.get("message")
    warn = cases[("oracle.tablespace_free", "prod-db1/mvf MVFL")]
    assert warn.find("failure") is None and warn.find("error") is None
    assert warn.find("system-out").text.startswith("WARN: tablespace MVFL")
    passed = cases[("os.disk_space", "bk-app1 C:")]
    assert [child.tag for child in passed] == ["properties", "system-out"]
    # evidence travels with the failure, hostile text intact as text
    assert HOSTILE in cases[("os.fmadm_faulty", "dr-db1")].find("failure").text


def test_junit_says_why_a_partial_run_is_not_go():
    # every finding passed, but --only left blocker checks out: the JUnit file must not look all green
    from impax_preflight.model import CheckInfo, NotRun, PluginInfo, Severity
    from impax_preflight.vocabulary import NOT_SELECTED

    passed = [finding("os.fmadm_faulty", Status.PASS, "prod-db1")]
    report = make_report(passed, incomplete=["left out 1 blocker check(s) (os.zpool_health)"]).model_copy(update={
        "checks": [CheckInfo(id="os.zpool_health", title="zpool health", severity=Severity.BLOCKER, target="host")],
        "not_run": [NotRun(check_id="os.zpool_health", target="prod-db1", reason=NOT_SELECTED)]})
    root = ET.fromstring(render_junit(report).encode("utf-8"))
    assert (root.get("tests"), root.get("errors"), root.get("failures")) == ("2", "1", "0")
    run = next(s for s in root.findall("testsuite") if s.get("name") == "run")
    (case,) = run.findall("testcase")
    assert case.get("classname") == "impax-preflight.run" and case.get("name") == "left out 1 blocker check(s) (os.zpool_health)"
    error = case.find("error")
    assert error.get("type") == "incomplete" and error.get("message").endswith("this run can say at best GO WITH WARNINGS")
    assert "Evidence:\nos.zpool_health on prod-db1: not run — not selected by --only" in case.find("system-out").text
    # a broken plugin: one testcase, whether the report says it in 'incomplete' (schema 1.2) or not (1.1)
    broken = [PluginInfo(name="vendor-x", status="broken", error="ModuleNotFoundError: no_such_module")]
    for incomplete in (["plugin vendor-x is broken"], []):
        r = make_report(passed, incomplete=incomplete).model_copy(update={"plugins": broken})
        run = next(s for s in ET.fromstring(render_junit(r).encode("utf-8")).findall("testsuite") if s.get("name") == "run")
        (case,) = run.findall("testcase")
        assert case.get("name") == "plugin vendor-x loads" and "no_such_module" in case.find("error").text
    assert all(s.get("name") != "run" for s in ET.fromstring(render_junit(make_report()).encode("utf-8")).findall("testsuite"))


def test_junit_survives_control_characters():
    ev = Evidence(kind="command", source="format", output="bad\x00byte \x1b[31mred\x1b[0m")
    f = finding("os.format", Status.FAIL, "dr-db1", evidence=[ev], message="beep\x07")
    root = ET.fromstring(render_junit(make_report([f])).encode("utf-8"))
    text = root.find(".//failure").text
    assert "\x00" not in text and "\ufffdbyte" in text and "red" in text


@pytest.fixture
def secret():
    saved = set(masker._values)
    value = "S3cr3t&<Pw>"
    masker.register(value)
    yield value
    masker.clear()
    for v in saved:
        masker.register(v)


def test_no_secret_in_any_output(secret, tmp_path):
    f = finding("db.connect", Status.ERROR, "prod-db1", message=f"ORA-01017: invalid password {secret} for DBADMIN",
                evidence=[Evidence(kind="note", source=f"connect dbadmin/{secret}@mvf", output=f"password={secret}")],
                remediation=f"do not use {secret}")
    report = make_report([f], warnings=[f"plain password {secret} in inventory"],
                         inventory={"hosts": [{"name": "prod-db1", "tier": "prod", "note": secret}]})
    outputs = [render_html(report), render_markdown(report), render_junit(report), report_to_json(report)]
    escaped = ["S3cr3t&amp;&lt;Pw&gt;", "S3cr3t&<Pw>", "S3cr3t\\&", "S3cr3t"]
    for text in outputs:
        for form in escaped:
            assert form not in text
        assert "********" in text.replace("\\*", "*")  # Markdown escapes the asterisks


def test_an_empty_run_renders_in_every_format():
    report = make_report([], warnings=[], expired_waivers=[])
    html = render_html(report)
    assert "This run produced no findings." in html and "no host findings" in html
    assert "Nothing blocks the upgrade" in html
    md = render_markdown(report)
    assert "## What blocks the upgrade (0)" in md and "Every finding passed or was not applicable." in md
    root = ET.fromstring(render_junit(report).encode("utf-8"))
    assert root.get("tests") == "0" and root.findall("testsuite") == []
    jsonschema.Draft202012Validator(shipped_schema()).validate(json.loads(report_to_json(report)))


def test_values_are_shown_as_measured():
    f = finding("oracle.tablespace_free", Status.WARN, "prod-db1", values={"usable_gb": 2.5, "autoextend": True, "files": 1234})
    html = render_html(make_report([f]))
    assert "<th>autoextend</th><td>True</td>" in html and "<th>files</th><td>1,234</td>" in html
