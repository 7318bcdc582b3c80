"""The Markdown summary: verdict, blockers with remediation, counts, and the non-pass findings.

For a change ticket or an e-mail. Evidence stays in the HTML / JSON report; this says what to do.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..model import RunReport, Status
from ..secrets import masker
from .diff import SECTIONS, format_delta, format_value
from .html import STATUS_ORDER
from .json import masked
from .merge import STAGE_LABELS, group_findings, ordered_blockers, sites_of, stage_readiness
from .text import no_verdict_sentence, nothing_blocks_sentence

VERDICT_MARK = {"GO": "✅", "GO_WITH_WARNINGS": "⚠️", "NO_GO": "⛔"}
_MD_SPECIAL = re.compile(r"([\\`*{}\[\]<>|#])")
_BACKTICKS = re.compile(r"`+")


def md_text(value: object) -> str:
    """Inline text safe in Markdown and in a table cell: one line, specials escaped.

    Ticket systems render Markdown with embedded HTML; escaping '<' and '>' keeps a finding's text
    (which may quote server output) from becoming markup.
    """
    text = "" if value is None else str(value)
    text = " ".join(text.split())
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_code(value: object) -> str:
    """An inline code span that no text can close early (CommonMark code spans).

    The fence is one backtick longer than the longest run of backticks in the text, and a space
    pads text that starts or ends with a backtick (the renderer strips one space on each side).
    """
    text = "" if value is None else " ".join(str(value).split())
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def render_markdown(report: RunReport) -> str:
    report = masked(report)
    multi_site = len(sites_of(report)) > 1
    out: list[str] = []
    w = out.append
    mark = VERDICT_MARK.get(report.verdict.value, "")
    w(f"# {mark} {report.verdict.label} — IMPAX upgrade readiness: {md_text(report.site)}")
    w("")
    meta = [f"run {md_code(report.run_id)}", f"started {report.started_at.strftime('%Y-%m-%d %H:%M %Z').strip()}"]
    if report.duration_s is not None:
        meta.append(f"{report.duration_s:.1f} s")
    if report.operator:
        meta.append(f"operator {md_text(report.operator)}")
    meta.append(f"impax-preflight {md_text(report.tool_version)}")
    w(" · ".join(meta))
    w("")
    if report.interrupted:
        w("> **This run was interrupted: its results are incomplete and it cannot say GO.** Run it again to completion.")
        w("")

    counts = report.counts()
    w("| " + " | ".join(s.upper() for s in STATUS_ORDER) + " | total |")
    w("|" + "---:|" * (len(STATUS_ORDER) + 1))
    w("| " + " | ".join(str(counts[s]) for s in STATUS_ORDER) + f" | {len(report.findings)} |")
    w("")

    blockers = ordered_blockers(report)
    w(f"## What blocks the upgrade ({len(blockers)})")
    w("")
    unverified = report.unverified_blockers()
    if not blockers and unverified:
        w(no_verdict_sentence(len(unverified)))
        w("")
        for line in unverified:
            w(f"- {md_text(line)}")
    elif not blockers:
        w(nothing_blocks_sentence(counts["waived"]))
    for i, f in enumerate(blockers, 1):
        where = f.target + (f" · {f.subject}" if f.subject else "")
        extra = " (could not be evaluated: unverified is not ready)" if f.status is Status.ERROR else ""
        site = f" [{md_text(f.site)}]" if multi_site and f.site else ""
        w(f"{i}. **{f.status.value.upper()}** {md_code(f.check_id)} on **{md_text(where)}**{site}: {md_text(f.message)}{extra}")
        if f.remediation:
            w(f"   - Remediation: {md_text(f.remediation)}")
        if f.guide:
            w(f"   - Guide: “{md_text(f.guide)}”")
    w("")

    stages = stage_readiness(report, by_site=multi_site)
    if stages:
        w("## Staged upgrade readiness (DR → BK → Prod)")
        w("")
        w(("| site " if multi_site else "") + "| stage | verdict | hosts | blocking |")
        w(("|---" if multi_site else "") + "|---|---|---|---:|")
        for st in stages:
            site = f"| {md_text(st.site)} " if multi_site else ""
            w(f"{site}| {st.label} | {st.verdict.label} | {md_text(', '.join(st.hosts))} | {len(st.blockers)} |")
        w("")

    if report.baseline:
        b = report.baseline
        v = b.get("verdict", {})
        w("## Changes since the baseline run")
        w("")
        w(f"Verdict {v.get('old_label', v.get('old'))} → {v.get('new_label', v.get('new'))}"
          f" (baseline run {md_code(b.get('old', {}).get('run_id', '?'))}).")
        w("")
        for name, title in SECTIONS:
            items = b.get(name) or []
            w(f"- {title}: {len(items)}")
            for it in items[:50]:
                w(f"  - {md_code(it.get('key'))} {str(it.get('status', '')).upper()}: {md_text(it.get('message'))}")
            if len(items) > 50:
                w(f"  - … and {len(items) - 50} more (see the HTML report)")
        moved = b.get("moved") or []
        w(f"- Values that moved: {len(moved)}")
        for it in moved[:50]:
            for vname, ch in it.get("values", {}).items():
                w(f"  - {md_code(it.get('key'))} {md_text(vname)}: {format_value(ch['old'])} → {format_value(ch['new'])} ({format_delta(ch['delta'])})")
        w("")

    problems = [f for f in report.findings if f.status not in (Status.PASS, Status.SKIPPED)]
    w(f"## Findings that are not a pass ({len(problems)})")
    w("")
    if not problems:
        w("Every finding passed or was not applicable.")
    for (g, site, host), fs in group_findings(report, problems).items():
        label = "Site-wide checks" if host == "site" else host
        stage = STAGE_LABELS[g]
        w(f"### {md_text(label)}" + (f" — {md_text(site)}" if multi_site else "") + (f" ({stage})" if host != "site" else ""))
        w("")
        w("| status | severity | check | target | message |")
        w("|---|---|---|---|---|")
        for f in sorted(fs, key=lambda f: (f.status.rank, f.severity.rank, f.check_id)):
            target = f.target + (f" · {f.subject}" if f.subject else "")
            msg = md_text(f.message)
            if f.status is Status.WAIVED and f.waiver:
                msg += f" — waived: {md_text(f.waiver.reason)} (approved by {md_text(f.waiver.approved_by)})"
            w(f"| {f.status.value.upper()} | {f.severity.value} | {md_code(f.check_id)} | {md_text(target)} | {msg} |")
        w("")

    if report.warnings or report.expired_waivers:
        w("## Run warnings")
        w("")
        for x in report.warnings:
            w(f"- {md_text(x)}")
        for wv in report.expired_waivers:
            w(f"- expired waiver {md_code(wv.match)} ({md_text(wv.reason)}; expired {md_text(wv.expires)}): no longer applied")
        w("")
    if report.not_run:
        w(f"{len(report.not_run)} check/target pairs were not run (see the HTML report for why).")
        w("")
    return masker.mask("\n".join(out))


def write_markdown(report: RunReport, out_dir: str | Path) -> Path:
    path = Path(out_dir) / "report.md"
    path.write_text(render_markdown(report), encoding="utf-8")
    return path
