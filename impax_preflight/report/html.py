"""The HTML readiness report: one self-contained file a change board signs and an engineer works from.

Templates, CSS and JS live in the top-level ``reports/`` folder (package ``impax_preflight.reports``).
Everything is inlined, autoescaped, and locked down by a Content-Security-Policy that forbids any
external resource, so the file works offline from file:// and prints cleanly for sign-off.
"""

from __future__ import annotations

import importlib.resources
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from ..model import Finding, RunReport, Severity, Status, utcnow
from ..secrets import masker
from .charts import history_view, run_totals
from .diff import SECTIONS, format_delta, format_value
from .json import masked
from .merge import STAGE_LABELS, group_findings, ordered_blockers, sites_of, stage_readiness
from .text import duration_text, no_verdict_sentence, nothing_blocks_sentence

TEMPLATE_PACKAGE = "impax_preflight.reports"
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"

STATUS_ORDER = ("fail", "error", "warn", "waived", "pass", "skipped")
SEVERITY_ORDER = ("blocker", "warning", "info")
STATUS_LABELS = {
    "fail": "FAIL",
    "error": "ERROR",
    "warn": "WARN",
    "waived": "WAIVED",
    "pass": "PASS",
    "skipped": "SKIPPED",
}


def _environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader(TEMPLATE_PACKAGE, ""),
        autoescape=True,  # every template, whatever its extension
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["when"] = _when
    env.filters["duration"] = _duration
    env.filters["num"] = format_value
    env.filters["delta"] = format_delta
    env.filters["run_totals"] = run_totals
    env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=2, ensure_ascii=False, default=str)
    return env


def _static(name: str) -> str:
    return importlib.resources.files(TEMPLATE_PACKAGE).joinpath(name).read_text(encoding="utf-8")


def _when(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, str):
        try:
            v = datetime.fromisoformat(v)
        except ValueError:
            return v
    return v.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def _duration(v: float | None) -> str:
    return "—" if v is None else duration_text(v)


def _anchor(i: int) -> str:
    return f"f{i}"


def _sort_key(f: Finding) -> tuple:
    return (f.status.rank, f.severity.rank, f.check_id, f.target, f.subject or "")


def build_context(report: RunReport) -> dict[str, Any]:
    """The view model the template renders: groups (site-wide, DR, BK, Prod) -> hosts -> findings."""
    multi_site = len(sites_of(report)) > 1
    anchors = {id(f): _anchor(i) for i, f in enumerate(report.findings)}

    group_views: list[dict[str, Any]] = []
    for (g, site, host), fs in group_findings(report).items():
        if not group_views or group_views[-1]["key"] != g:
            group_views.append({"key": g, "label": STAGE_LABELS.get(g, g), "hosts": []})
        fs = sorted(fs, key=_sort_key)
        counts = {s: 0 for s in STATUS_ORDER}
        for f in fs:
            counts[f.status.value] += 1
        label = "Site-wide checks" if g == "site" else host
        base = "(site-wide)" if g == "site" else host
        group_views[-1]["hosts"].append(
            {
                "site": site,
                "name": host,
                "label": label,
                "filter_name": f"{site} / {base}" if multi_site else base,
                "findings": [(anchors[id(f)], f) for f in fs],
                "counts": counts,
                "blocking": sum(1 for f in fs if f.is_blocking),
            }
        )

    counts = report.counts()
    severity_matrix = {sev: {s: 0 for s in STATUS_ORDER} for sev in SEVERITY_ORDER}
    for f in report.findings:
        severity_matrix[f.severity.value][f.status.value] += 1

    blockers = ordered_blockers(report)
    waived = [f for f in report.findings if f.status is Status.WAIVED]
    inv = report.inventory or {}
    host_rows = []
    for site_name, sub in (inv.get("sites") or {report.site: inv}).items():
        for h in (sub or {}).get("hosts", []) if isinstance(sub, dict) else []:
            if isinstance(h, dict):
                host_rows.append({"site": site_name, **h})

    return {
        "report": report,
        "csp": CSP,
        "css": _static("report.css"),
        "js": _static("report.js"),
        "verdict_class": report.verdict.value.lower().replace("_", "-"),
        "counts": counts,
        "status_order": STATUS_ORDER,
        "status_labels": STATUS_LABELS,
        "severity_order": SEVERITY_ORDER,
        "severity_matrix": severity_matrix,
        "blockers": [(anchors[id(f)], f) for f in blockers],
        "unverified_blockers": report.unverified_blockers(),
        "no_verdict_sentence": no_verdict_sentence,
        "nothing_blocks_sentence": nothing_blocks_sentence,
        "waived": [(anchors[id(f)], f) for f in waived],
        "groups": group_views,
        "stages": stage_readiness(report, by_site=multi_site),
        "multi_site": multi_site,
        "filter_hosts": sorted({h["filter_name"] for g in group_views for h in g["hosts"]}),
        "inventory": inv,
        "inventory_site": inv.get("site") if isinstance(inv.get("site"), dict) else None,
        "inventory_hosts": host_rows,
        "merged_runs": inv.get("merged_runs") or [],
        "active_plugins": report.plugins,
        "baseline": report.baseline,
        "trends": history_view(report.history),  # issue 16: charts drawn from the report, never from the store
        "diff_sections": SECTIONS,
        "generated_at": utcnow(),
        "Severity": Severity,
        "Status": Status,
    }


def render_html(report: RunReport) -> str:
    report = masked(report)
    html = _environment().get_template("report.html.j2").render(**build_context(report))
    return masker.mask(html)


def write_html(report: RunReport, out_dir: str | Path) -> Path:
    path = Path(out_dir) / "report.html"
    path.write_text(render_html(report), encoding="utf-8")
    return path
