"""What changed between two runs of the same site: new blockers, resolved, still failing, moved values.

`diff_reports(old, new)` returns a plain, JSON-serialisable dict. `run --baseline OLD.json` stores
it in `RunReport.baseline` and every reporter renders it; `impax-preflight diff` prints it.
Findings are matched by their stable `key` (check id + target + subject).
"""

from __future__ import annotations

import math
from typing import Any

from ..model import Finding, RunReport, Status

#: Statuses that need someone's attention. Waived is deliberately not one of them: it was accepted.
PROBLEM = frozenset({Status.FAIL, Status.ERROR, Status.WARN})

DIFF_VERSION = "1"


def _identity(f: Finding, report: RunReport, qualify: bool) -> str:
    # A merged (multi-site) report may hold the same host name at two hospitals: qualify by site.
    return f"{f.site or report.site}|{f.key}" if qualify else f.key


def _index(report: RunReport, qualify: bool) -> dict[str, Finding]:
    out: dict[str, Finding] = {}
    for f in report.findings:
        out.setdefault(_identity(f, report, qualify), f)
    return out


def _spans_sites(report: RunReport) -> bool:
    return len({f.site for f in report.findings if f.site}) > 1


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


#: Timings differ on every run; reporting them as "values that moved" would bury the real changes.
_TIMING_SUFFIXES = ("_s", "_ms", "_seconds", "duration", "elapsed")


def numeric_values(values: dict[str, Any]) -> dict[str, int | float]:
    """The measured numbers of a finding's `values` that are worth following across runs (no timings)."""
    out: dict[str, int | float] = {}
    for name, v in values.items():
        n = _number(v)
        if n is not None and not name.lower().endswith(_TIMING_SUFFIXES):
            out[name] = n
    return out


def moved_values(old: Finding, new: Finding) -> dict[str, dict[str, Any]]:
    """Numeric measured values present in both findings whose value changed: old, new, delta.

    Timings (names ending in _s, _ms, _seconds, duration, elapsed) are left out.
    """
    out: dict[str, dict[str, Any]] = {}
    before = numeric_values(old.values)
    for name, b in numeric_values(new.values).items():
        a = before.get(name)
        if a is None or a == b:
            continue
        delta = b - a
        if isinstance(delta, float):
            delta = round(delta, 6)
        out[name] = {"old": a, "new": b, "delta": delta}
    return out


def _summary(f: Finding, old: Finding | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "key": f.key,
        "check_id": f.check_id,
        "title": f.title,
        "severity": f.severity.value,
        "status": f.status.value,
        "old_status": old.status.value if old is not None else None,
        "target": f.target,
        "subject": f.subject,
        "host": f.host,
        "site": f.site,
        "message": f.message,
        "remediation": f.remediation,
    }
    return item


def _run_info(r: RunReport) -> dict[str, Any]:
    return {
        "run_id": r.run_id,
        "site": r.site,
        "started_at": r.started_at.isoformat(),
        "verdict": r.verdict.value,
        "verdict_label": r.verdict.label,
        "findings": len(r.findings),
        "interrupted": r.interrupted,
    }


def diff_reports(old: RunReport, new: RunReport) -> dict[str, Any]:
    """Compare a previous run (`old`, the baseline) with this one (`new`).

    Categories (each a list of finding summaries, sorted by key):

    - ``new_blockers``: blocking now (blocker severity, fail or error), not blocking before
      (absent, passed, or only a warning before);
    - ``new_problems``: fail / error / warn now that is not a blocker, and was not a problem before;
    - ``still_failing``: a problem in both runs (``old_status`` / ``status`` show any change);
    - ``resolved``: a problem before, passing (or no longer applicable) now;
    - ``now_waived``: a problem before, accepted by a waiver now — not fixed;
    - ``not_rechecked``: a problem before with no finding at all now (check filtered out, not
      applicable, or the run was interrupted) — unverified, so *not* counted as resolved;
    - ``moved``: measured numeric values that changed (e.g. tablespace headroom), old / new / delta.
    """
    qualify = _spans_sites(old) or _spans_sites(new)
    before, after = _index(old, qualify), _index(new, qualify)

    new_blockers: list[dict] = []
    new_problems: list[dict] = []
    still_failing: list[dict] = []
    resolved: list[dict] = []
    now_waived: list[dict] = []
    not_rechecked: list[dict] = []
    moved: list[dict] = []

    for ident in sorted(after):
        f = after[ident]
        o = before.get(ident)
        if f.is_blocking and not (o is not None and o.is_blocking):
            new_blockers.append(_summary(f, o))
        elif f.status in PROBLEM:
            if o is not None and o.status in PROBLEM:
                still_failing.append(_summary(f, o))
            else:
                new_problems.append(_summary(f, o))
        elif o is not None and o.status in PROBLEM:
            (now_waived if f.status is Status.WAIVED else resolved).append(_summary(f, o))
        if o is not None:
            changes = moved_values(o, f)
            if changes:
                entry = _summary(f, o)
                entry["values"] = changes
                moved.append(entry)

    for ident in sorted(before):
        o = before[ident]
        if ident not in after and o.status in PROBLEM:
            not_rechecked.append(_summary(o, o))

    return {
        "diff_version": DIFF_VERSION,
        "old": _run_info(old),
        "new": _run_info(new),
        "verdict": {
            "old": old.verdict.value,
            "new": new.verdict.value,
            "old_label": old.verdict.label,
            "new_label": new.verdict.label,
            "changed": old.verdict is not new.verdict,
        },
        "new_blockers": new_blockers,
        "new_problems": new_problems,
        "still_failing": still_failing,
        "resolved": resolved,
        "now_waived": now_waived,
        "not_rechecked": not_rechecked,
        "moved": moved,
        "counts": {
            name: len(items)
            for name, items in (
                ("new_blockers", new_blockers),
                ("new_problems", new_problems),
                ("still_failing", still_failing),
                ("resolved", resolved),
                ("now_waived", now_waived),
                ("not_rechecked", not_rechecked),
                ("moved", moved),
            )
        },
    }


#: Exit code of `impax-preflight diff`: 2 when the new run has blockers the old one did not.
def diff_exit_code(diff: dict[str, Any]) -> int:
    return 2 if diff.get("new_blockers") else 0


SECTIONS = (
    ("new_blockers", "New blockers"),
    ("new_problems", "New problems"),
    ("still_failing", "Still failing"),
    ("not_rechecked", "Problems not re-checked (no finding in the new run)"),
    ("now_waived", "Now waived (accepted, not fixed)"),
    ("resolved", "Resolved"),
)


def format_value(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float):
        if v != 0 and abs(v) < 0.001:
            return f"{v:.3g}"
        return f"{v:,.3f}".rstrip("0").rstrip(".")
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def format_delta(v: Any) -> str:
    text = format_value(v)
    return text if text.startswith("-") else f"+{text}"


def diff_to_text(diff: dict[str, Any]) -> str:
    """Plain-text rendering (the CLI prints this through rich, which stays plain when piped)."""
    lines: list[str] = []
    v = diff["verdict"]
    arrow = "changed" if v["changed"] else "unchanged"
    lines.append(f"Verdict: {v['old_label']} -> {v['new_label']} ({arrow})")
    lines.append(
        f"Baseline: {diff['old']['site']} run {diff['old']['run_id']} at {diff['old']['started_at']}; "
        f"new: {diff['new']['site']} run {diff['new']['run_id']} at {diff['new']['started_at']}"
    )
    for name, title in SECTIONS:
        items = diff.get(name) or []
        lines.append("")
        lines.append(f"{title}: {len(items)}")
        for it in items:
            status = it["status"] if not it.get("old_status") or it["old_status"] == it["status"] else f"{it['old_status']} -> {it['status']}"
            lines.append(f"  [{status}] {it['key']}: {it['message']}")
            if name == "new_blockers" and it.get("remediation"):
                lines.append(f"      remediation: {it['remediation']}")
    moved = diff.get("moved") or []
    lines.append("")
    lines.append(f"Values that moved: {len(moved)}")
    for it in moved:
        for vname, ch in it["values"].items():
            lines.append(
                f"  {it['key']} {vname}: {format_value(ch['old'])} -> {format_value(ch['new'])} ({format_delta(ch['delta'])})"
            )
    return "\n".join(lines)
