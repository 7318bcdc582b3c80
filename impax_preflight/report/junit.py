"""JUnit XML for CI dashboards: one <testcase> per finding, one <testsuite> per host (and site-wide).

Mapping: classname = check id; name = target + subject; fail -> <failure>, error -> <error>,
skipped and waived -> <skipped>. A *warn* is a passing testcase whose <system-out> starts with
"WARN:" and carries the ``impax.status=warn`` property: warnings do not block the upgrade (the
verdict is GO WITH WARNINGS, exit code 1), and a dashboard that turned them red would teach people
to ignore red. Pipelines gate on the exit code or the suite property ``impax.verdict``. A run that
is incomplete (a broken plugin, disabled built-in checks, a partial run) has a suite "run" with one
error per reason.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from ..model import Finding, RunReport, Status
from ..secrets import masker
from .json import masked
from .merge import group_findings, sites_of

# XML 1.0 forbids most control characters; command output can contain them (e.g. ESC, NUL).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: object) -> str:
    return _XML_INVALID.sub("\ufffd", masker.mask("" if text is None else str(text)))


def _evidence_text(f: Finding) -> str:
    parts = []
    for e in f.evidence:
        head = f"$ {e.source}" if e.kind == "command" else f"[{e.kind}] {e.source}"
        meta = []
        if e.target:
            meta.append(f"on {e.target}")
        if e.rc is not None:
            meta.append(f"rc={e.rc}")
        if e.rows is not None:
            meta.append(f"rows={e.rows}")
        if e.duration_s is not None:
            meta.append(f"{e.duration_s:.3f}s")
        parts.append(head + (f"   ({', '.join(meta)})" if meta else ""))
        if e.output:
            parts.append(e.output.rstrip("\n") + ("\n[output truncated]" if e.truncated else ""))
        if e.stderr:
            parts.append("stderr: " + e.stderr.rstrip("\n"))
    return "\n".join(parts)


def _body(f: Finding) -> str:
    lines = [f.message]
    if f.remediation:
        lines.append(f"Remediation: {f.remediation}")
    if f.guide:
        lines.append(f"Guide: {f.guide}")
    lines.append(f"Key: {f.key}")
    ev = _evidence_text(f)
    if ev:
        lines.append("Evidence:\n" + ev)
    return "\n".join(lines)


def _testcase(suite: ET.Element, f: Finding) -> None:
    name = f.target + (f" {f.subject}" if f.subject else "")
    case = ET.SubElement(suite, "testcase", classname=_clean(f.check_id), name=_clean(name))
    if f.duration_s is not None:
        case.set("time", f"{f.duration_s:.3f}")
    props = ET.SubElement(case, "properties")
    for k, v in (("impax.status", f.status.value), ("impax.severity", f.severity.value), ("impax.key", f.key)):
        ET.SubElement(props, "property", name=k, value=_clean(v))
    msg = _clean(f.message)
    body = _clean(_body(f))
    if f.status is Status.FAIL:
        el = ET.SubElement(case, "failure", message=msg, type=f.severity.value)
        el.text = body
    elif f.status is Status.ERROR:
        el = ET.SubElement(case, "error", message=msg, type="could-not-evaluate")
        el.text = body
    elif f.status is Status.SKIPPED:
        ET.SubElement(case, "skipped", message=msg)
    elif f.status is Status.WAIVED:
        w = f.waiver
        why = f"waived: {w.reason} (approved by {w.approved_by}{', expires ' + w.expires if w.expires else ''})" if w else "waived"
        was = f"; was {f.waived_status.value}" if f.waived_status else ""
        ET.SubElement(case, "skipped", message=_clean(f"{why}{was}: {f.message}"))
    out = ET.SubElement(case, "system-out")
    out.text = _clean(("WARN: " if f.status is Status.WARN else "") + _body(f))


def _run_suite(root: ET.Element, report: RunReport) -> int:
    """The suite "run": one error per reason the run is incomplete (`report.incomplete`: a plugin that
    did not load, built-in checks disabled, blocker checks or hosts left out by --only/--skip/--host),
    so that a CI dashboard shows why a run whose findings all passed is not GO. A report.json of
    schema 1.1 has no `incomplete`: its broken plugins are the reasons. Returns the testcases added."""
    broken = [p for p in report.plugins if p.status == "broken"]
    others = [why for why in report.incomplete if not any(why.endswith(f"plugin {p.name} is broken") for p in broken)]
    if not broken and not others:
        return 0
    n = len(broken) + len(others)
    suite = ET.SubElement(root, "testsuite", name="run", timestamp=report.started_at.isoformat(), time="0.000",
                          tests=str(n), failures="0", errors=str(n), skipped="0")
    for p in broken:
        # a plugin that did not load is a check set that never ran
        case = ET.SubElement(suite, "testcase", classname="impax-preflight.plugins", name=_clean(f"plugin {p.name} loads"))
        err = ET.SubElement(case, "error", message=_clean(f"plugin {p.name} failed to load: its checks did not run"),
                            type="plugin")
        err.text = _clean(p.error or "")
        ET.SubElement(case, "system-out").text = _clean(f"Evidence:\nplugin {p.name}: {p.error or 'failed to load'}")
    unverified = [u for u in report.unverified_blockers() if ": not run — " in u]
    for why in others:
        named = [f"plugin {p.name}: {p.status}" for p in report.plugins if p.status == "disabled" and p.name in why]
        evidence = "\n".join(named or unverified or report.warnings)
        case = ET.SubElement(suite, "testcase", classname="impax-preflight.run", name=_clean(why))
        err = ET.SubElement(case, "error", message=_clean(f"{why}: this run can say at best GO WITH WARNINGS"), type="incomplete")
        err.text = _clean(evidence)
        ET.SubElement(case, "system-out").text = _clean(f"{why}\nEvidence:\n{evidence}" if evidence else why)
    ET.SubElement(suite, "system-err").text = _clean("\n".join(report.warnings))
    return n


def render_junit(report: RunReport) -> str:
    report = masked(report)
    multi_site = len(sites_of(report)) > 1
    root = ET.Element("testsuites", name=_clean(f"impax-preflight {report.site}"))
    suites: dict[str, list[Finding]] = {}
    for (_group, site, host), fs in group_findings(report).items():
        label = "site-wide" if host == "site" else host
        if multi_site:
            label = f"{site}/{label}"
        suites.setdefault(label, []).extend(fs)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for label in sorted(suites):
        fs = suites[label]
        c = {
            "tests": len(fs),
            "failures": sum(f.status is Status.FAIL for f in fs),
            "errors": sum(f.status is Status.ERROR for f in fs),
            "skipped": sum(f.status in (Status.SKIPPED, Status.WAIVED) for f in fs),
        }
        time_s = sum(f.duration_s or 0.0 for f in fs)
        suite = ET.SubElement(
            root, "testsuite", name=_clean(label), timestamp=report.started_at.isoformat(), time=f"{time_s:.3f}",
            **{k: str(v) for k, v in c.items()},
        )
        props = ET.SubElement(suite, "properties")
        for k, v in (("impax.site", report.site), ("impax.run_id", report.run_id), ("impax.verdict", report.verdict.value)):
            ET.SubElement(props, "property", name=k, value=_clean(v))
        for f in sorted(fs, key=lambda f: (f.check_id, f.target, f.subject or "")):
            _testcase(suite, f)
        for k in totals:
            totals[k] += c[k]
    n = _run_suite(root, report)
    totals["tests"] += n
    totals["errors"] += n
    for k, v in totals.items():
        root.set(k, str(v))
    if report.duration_s is not None:
        root.set("time", f"{report.duration_s:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(report: RunReport, out_dir: str | Path) -> Path:
    path = Path(out_dir) / "report.junit.xml"
    path.write_text(render_junit(report), encoding="utf-8")
    return path
