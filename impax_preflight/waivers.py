"""Waivers: accepted risks, read from a file, matched against findings, expiring on a date.

A waiver fails closed: it covers a failed or warning finding of the checks it names, never one
that could not be evaluated (`error`) unless it says ``cover_errors = true``, and never every
check at once (a match without a check id, such as ``*``, is refused when the file loads).
"""

from __future__ import annotations

import fnmatch
import re
from datetime import date
from pathlib import Path
from typing import Iterable

from pydantic import BaseModel, ConfigDict, ValidationError

from .documents import DocumentError, locate, read_document, validation_problems
from .model import Finding, RunReport, Status, Waiver, compute_verdict


class WaiverError(DocumentError, ValueError):
    """A malformed waivers file: `path`, and `problems`, one ``file:line: field: what`` line each."""


class _WaiverFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    waiver: list[Waiver] = []


#: a match must name a check: a whole first segment of its id ("os." in "os.solaris.*"), or a
#: whole id without wildcards; "o*" or "*" would waive checks nobody chose to accept
_FAMILY = re.compile(r"^[A-Za-z0-9_\-]+\.")


def _names_a_check(match: str) -> bool:
    head = match.split("@", 1)[0]
    return bool(_FAMILY.match(head)) or (bool(head) and not any(c in head for c in "*?[]"))


def load_waivers(path: str | Path) -> list[Waiver]:
    """Read a waivers file (TOML ``[[waiver]]`` tables, or YAML). Raises WaiverError naming file:line:field."""
    try:
        data, lines = read_document(path, "waivers")
    except DocumentError as exc:
        raise WaiverError(exc.path, exc.problems) from None
    if isinstance(data, list):  # a bare YAML list of waivers
        data, lines = {"waiver": data}, {("waiver",) + k: v for k, v in lines.items()}
    if data is not None and not isinstance(data, dict):
        raise WaiverError(str(path), [f"{path}:1: a waivers file holds [[waiver]] tables, not {type(data).__name__}"])
    try:
        waivers = _WaiverFile.model_validate(data or {}).waiver
    except ValidationError as exc:
        raise WaiverError(str(path), validation_problems(path, lines, exc)) from None
    problems = []
    for i, w in enumerate(waivers):
        where = locate(path, lines, ("waiver", i, "match"))
        if not _names_a_check(w.match):
            problems.append(
                f"{where}: {w.match!r} does not name a check, so it would waive "
                "checks nobody chose to accept, blockers included; name the check (e.g. 'os.solaris.disk_errors@mvfbk*' "
                "or a family such as 'os.solaris.*')"
            )
        if w.expires is not None and _expiry(w.expires) is None:
            problems.append(
                f"{locate(path, lines, ('waiver', i, 'expires'))}: {w.expires!r} is not a date (hint: write the day the "
                "waiver ends as YYYY-MM-DD, e.g. \"2026-12-31\")"
            )
    if problems:
        raise WaiverError(str(path), problems)
    return waivers


def _expiry(text: str) -> date | None:
    """The day a waiver ends: exactly YYYY-MM-DD ("2026-12-31junk" is not a date)."""
    text = text.strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def waiver_expired(w: Waiver, today: date | None = None) -> bool:
    if not w.expires:
        return False
    end = _expiry(w.expires)
    if end is None:
        return True  # an unreadable expiry date must not silently waive forever
    return end < (today or date.today())


def match_waiver(finding: Finding, waivers: Iterable[Waiver]) -> Waiver | None:
    """The first waiver covering `finding`, if any. An `error` finding is covered only by a waiver
    that says so (``cover_errors``): what could not be evaluated is not an accepted risk by default."""
    for w in waivers:
        if finding.status is Status.ERROR and not w.cover_errors:
            continue
        if fnmatch.fnmatchcase(finding.key, w.match) or fnmatch.fnmatchcase(finding.check_id, w.match):
            return w
    return None


def apply_waiver(finding: Finding, waivers: Iterable[Waiver]) -> Finding:
    """`finding` marked waived when a waiver covers a failed, warning or (explicitly) error finding."""
    if finding.status not in (Status.FAIL, Status.WARN, Status.ERROR):
        return finding
    w = match_waiver(finding, waivers)
    if w is None:
        return finding
    return finding.model_copy(update={"waiver": w, "waived_status": finding.status, "status": Status.WAIVED})


def split_expired(waivers: Iterable[Waiver], today: date | None = None) -> tuple[list[Waiver], list[Waiver]]:
    """(active, expired)."""
    all_ = list(waivers)
    return [w for w in all_ if not waiver_expired(w, today)], [w for w in all_ if waiver_expired(w, today)]


def judged_today(report: RunReport, today: date | None = None) -> RunReport:
    """`report` as it stands today: a finding whose waiver has expired since the run gets its own
    status back (the waiver joins the expired ones), and the verdict is judged again — never better
    than the one the run gave. Re-rendering or merging an old report must not carry a lapsed
    acceptance of risk into a GO."""
    findings, lapsed = [], []
    for f in report.findings:
        if f.status is Status.WAIVED and f.waiver is not None and waiver_expired(f.waiver, today):
            lapsed.append(f.waiver)
            f = f.model_copy(update={"status": f.waived_status or Status.ERROR, "waiver": None, "waived_status": None})
        findings.append(f)
    incomplete = bool(report.incomplete) or any(p.status == "broken" for p in report.plugins)
    verdict = compute_verdict(findings, report.interrupted, incomplete)
    verdict = max(verdict, report.verdict, key=lambda v: v.exit_code)  # never better than the run's own
    if not lapsed and verdict is report.verdict:
        return report
    expired, seen = list(report.expired_waivers), {(w.match, w.expires) for w in report.expired_waivers}
    for w in lapsed:
        if (w.match, w.expires) not in seen:
            seen.add((w.match, w.expires))
            expired.append(w)
    return report.model_copy(update={"findings": findings, "verdict": verdict, "expired_waivers": expired})

