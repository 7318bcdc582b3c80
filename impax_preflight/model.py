"""The results model: the JSON contract every reporter, diff and plugin relies on.

Names here are stable. Adding a field is fine; renaming or removing one bumps SCHEMA_VERSION.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Annotated, Any, Iterable

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, computed_field, field_validator, model_validator

from .fields import FreeText, Name
from .vocabulary import BUILTIN_CHECKS_PREFIX, EXIT_USAGE, HOSTS_LIMITED, INTERRUPTED, LEFT_OPEN_REASONS, Severity, Status, Verdict

__all__ = ["EXIT_USAGE", "SCHEMA_VERSION", "CheckInfo", "Evidence", "Finding", "NotRun", "PluginInfo", "RunReport",
           "Severity", "Status", "Verdict", "Waiver", "compute_verdict", "utcnow"]

SCHEMA_VERSION = "1.2"  # 1.1: optional `history` (run history and trends); 1.2: optional `incomplete`


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _aware(v: datetime) -> datetime:
    return v if v.tzinfo is not None else v.replace(tzinfo=timezone.utc)


#: a moment; one written without a time zone (a hand-edited report.json) is read as UTC, so that
#: runs can always be ordered
Moment = Annotated[datetime, AfterValidator(_aware)]


class _Model(BaseModel):
    model_config = ConfigDict(use_enum_values=False, extra="forbid")


class Evidence(_Model):
    """What was run and what came back: the proof behind a finding."""

    kind: str = Field(description="command | sql | file | note")
    source: str = Field(description="the exact command line or SQL statement (or file path / note)")
    target: str | None = Field(default=None, description="host or database it ran against")
    rc: int | None = None
    output: str = Field(default="", description="output excerpt (capped)")
    stderr: str = ""
    duration_s: float | None = None
    rows: int | None = Field(default=None, description="rows returned (SQL)")
    truncated: bool = False
    transport: str | None = Field(default=None, description="ssh | local | bundle | oracle | mssql | odbc | sqlite ...")


class Waiver(_Model):
    """An accepted risk: matches a finding by stable key or check-id glob."""

    match: Name
    reason: FreeText
    approved_by: Name
    expires: Name | None = None  # ISO date; past it, the waiver no longer applies
    cover_errors: bool = Field(
        default=False,
        description="also cover findings that could not be evaluated (status error); off by default: unverified is not accepted",
    )

    @field_validator("expires", mode="before")
    @classmethod
    def _date_as_text(cls, v: Any) -> Any:
        # a TOML or YAML date (expires = 2026-12-31, unquoted) is the same date written as text
        return v.isoformat() if isinstance(v, date) and not isinstance(v, datetime) else v


class Finding(_Model):
    """The outcome of one check on one target, with its evidence."""

    check_id: str
    title: str = ""
    severity: Severity
    status: Status
    target: str = Field(description="host name, host/database, or 'site'")
    target_kind: str = Field(default="host", description="host | database | site")
    subject: str | None = Field(default=None, description="what inside the target, e.g. a tablespace")
    message: str
    evidence: list[Evidence] = Field(default_factory=list)
    remediation: str | None = None
    guide: str | None = None
    values: dict[str, Any] = Field(
        default_factory=dict,
        description="measured values (numbers, counts, versions) used by diffs and reports",
    )
    host: str | None = None
    database: str | None = None
    tier: str | None = None
    site: str | None = None
    waiver: Waiver | None = None
    waived_status: Status | None = Field(default=None, description="the status before a waiver applied")
    duration_s: float | None = None
    provider: str | None = Field(default=None, description="plugin that provides the check")

    @model_validator(mode="before")
    @classmethod
    def _drop_computed(cls, data: Any) -> Any:
        # `key` is derived; a report read back from JSON carries it
        if isinstance(data, dict) and "key" in data:
            data = {k: v for k, v in data.items() if k != "key"}
        return data

    @computed_field  # type: ignore[prop-decorator]
    @property
    def key(self) -> str:
        """Stable identity across runs: check id + target + subject."""
        base = f"{self.check_id}@{self.target}"
        return f"{base}#{self.subject}" if self.subject else base

    @property
    def is_blocking(self) -> bool:
        return self.severity is Severity.BLOCKER and self.status in (Status.FAIL, Status.ERROR)


class CheckInfo(_Model):
    """A check of the catalog as the report shows it."""

    id: str
    title: str
    severity: Severity
    target: str
    guide: str | None = None
    remediation: str | None = None
    description: str | None = None
    provider: str | None = None
    applies_to: dict[str, Any] = Field(default_factory=dict)
    commands: dict[str, list[str]] = Field(default_factory=dict)


class NotRun(_Model):
    """A check that did not run on a target, and why (not applicable, filtered out)."""

    check_id: str
    target: str | None = None
    reason: str


class PluginInfo(_Model):
    name: str
    version: str | None = None
    status: str = "active"  # active | disabled | broken
    error: str | None = None
    hooks: list[str] = Field(default_factory=list)
    checks: list[str] = Field(default_factory=list)


# ---- run history (schema 1.1): what the HTML charts and the "since the last run" section need ------------------
# Kept inside the report so that `impax-preflight report report.json` re-renders the same pictures
# without the history store. Filled by impax_preflight.history.


class HistoryRun(_Model):
    """One recorded run of the site (this run is the last of `RunHistory.runs`)."""

    run_id: str
    started_at: Moment
    verdict: Verdict
    interrupted: bool = False
    kind: str = Field(default="run", description="run | merge (a cluster report made by `impax-preflight report`)")
    counts: dict[str, int] = Field(default_factory=dict, description="findings by status")
    stages: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="per stage (site, dr, bk, prod, unknown): blockers (blocking findings) and warnings (other fail/error/warn)",
    )


class HistorySeries(_Model):
    """One measured value of one finding across the runs, e.g. the usable GB of tablespace MVFL."""

    chart: str = Field(description="tablespace_gb | backup_age_hours | integrity_count")
    label: str
    key: str = Field(description="the finding's stable key")
    value: str = Field(description="the name in Finding.values")
    unit: str = ""
    points: list[float | None] = Field(default_factory=list, description="one per run of RunHistory.runs (None: not measured)")


class RunHistory(_Model):
    """The site's earlier runs as recorded in the history store, the trends, and the change since the last run."""

    site: str
    store: str | None = Field(default=None, description="the history store the trends were read from")
    upgrade_date: date | None = None
    keep_runs: int | None = Field(default=None, description="runs kept per site in the store")
    runs: list[HistoryRun] = Field(default_factory=list, description="oldest first; the last is this run")
    series: list[HistorySeries] = Field(default_factory=list)
    limits: dict[str, float] = Field(default_factory=dict, description="thresholds drawn on the charts (e.g. tablespace_gb)")
    since_last: dict[str, Any] | None = Field(default=None, description="diff against the previous recorded run (report.diff)")


class RunReport(_Model):
    """One run of the catalog against one site: the document every reporter renders."""

    schema_version: str = SCHEMA_VERSION
    tool_version: str
    run_id: str
    site: str
    inventory: dict[str, Any] = Field(default_factory=dict, description="inventory summary, secrets masked")
    operator: str | None = None
    started_at: Moment
    finished_at: Moment | None = None
    duration_s: float | None = None
    interrupted: bool = False
    verdict: Verdict
    findings: list[Finding] = Field(default_factory=list)
    checks: list[CheckInfo] = Field(default_factory=list)
    not_run: list[NotRun] = Field(default_factory=list)
    plugins: list[PluginInfo] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list, description="run-level warnings (plain secrets, expired waivers, broken plugins)")
    expired_waivers: list[Waiver] = Field(default_factory=list)
    incomplete: list[str] = Field(
        default_factory=list,
        description="why this run can say at best GO WITH WARNINGS although no finding says so: a broken plugin, disabled "
                    "built-in checks, blocker checks or hosts left out by --only/--skip/--host (schema 1.2)",
    )
    baseline: dict[str, Any] | None = Field(default=None, description="diff against a previous run, if asked")
    history: RunHistory | None = Field(default=None, description="the site's run history and trends (schema 1.1)")

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in Status}
        for f in self.findings:
            out[f.status.value] += 1
        return out

    def blockers(self) -> list[Finding]:
        return [f for f in self.findings if f.is_blocking]

    def unverified_blockers(self) -> list[str]:
        """Blocker checks that gave no verdict although nothing says they do not apply: skipped by the
        check itself (e.g. "confirm by hand"), or left out by --only/--skip/--host or an interrupt.
        One line each; the report names them instead of saying "every blocker check passed"."""
        out = [f"{f.check_id} on {f.target}: skipped — {f.message}" for f in self.findings
               if f.severity is Severity.BLOCKER and f.status is Status.SKIPPED]
        out += [f"{n.check_id}{f' on {n.target}' if n.target else ''}: not run — {n.reason}" for n in open_blockers(self)]
        return out


Answered = set[tuple[str, str, "str | None"]]


def answered_by(findings: Iterable[Finding], site: str) -> Answered:
    """(site, check id, target) of every finding: what a left-out check may have been answered by."""
    return {(f.site or site, f.check_id, f.target) for f in findings}


def open_blockers(report: RunReport, answered: Answered | None = None) -> list[NotRun]:
    """The blocker checks `report` left open — not run for a reason that leaves the question open
    (--only, --skip, --host, an interrupt), not "does not apply" — and that no finding in `answered`
    (default: the report's own) answers for the same site and target. A check left out as a whole
    (--only) is answered by any finding of that check at the site."""
    answered = answered_by(report.findings, report.site) if answered is None else answered
    blockers = {c.id for c in report.checks if c.severity is Severity.BLOCKER}
    return [n for n in report.not_run
            if n.check_id in blockers and n.reason in LEFT_OPEN_REASONS and not is_answered(n, report.site, answered)]


def is_answered(n: NotRun, site: str, answered: Answered) -> bool:
    """Did a finding answer what `n` left out: the same check at the same site and target, or, for a
    check left out as a whole (no target), the same check anywhere at the site."""
    if n.target is None:
        return any(s == site and c == n.check_id for s, c, _ in answered)
    return (site, n.check_id, n.target) in answered


def incomplete_reasons(report: RunReport, answered: Answered | None = None) -> list[str]:
    """Why `report` can say at best GO WITH WARNINGS although no finding says so, derived from what
    it records (its plugins, what it did not run): a broken plugin, disabled built-in checks, blocker
    checks or hosts a partial run left out and nothing answered. An interrupt is not listed: an
    interrupted run is NO-GO anyway."""
    return plugin_gaps(report.plugins) + partial_run_gaps(report, answered)


def partial_run_gaps(report: RunReport, answered: Answered | None = None) -> list[str]:
    """What a partial run (--only, --skip, --host) left out that nothing answered: its blocker
    checks and the hosts they would have run on."""
    left = [n for n in open_blockers(report, answered) if n.reason != INTERRUPTED]
    ids = sorted({n.check_id for n in left})
    hosts = sorted({n.target.split("/", 1)[0] for n in left if n.reason == HOSTS_LIMITED and n.target not in (None, "site")})
    out = [f"left out {len(ids)} blocker check(s) ({_some(ids)})"] if ids else []
    if hosts:
        out.append(f"left out {len(hosts)} host(s) ({_some(hosts)})")
    return out


def plugin_gaps(plugins: Iterable[PluginInfo]) -> list[str]:
    """Why a catalog is not the whole one: third-party plugins that failed to load, built-in check
    modules that were disabled (a GO needs the whole catalog)."""
    plugins = list(plugins)
    return ([f"plugin {p.name} is broken" for p in plugins if p.status == "broken"]
            + [f"built-in checks {p.name} are disabled" for p in disabled_builtins(plugins)])


def disabled_builtins(plugins: Iterable[PluginInfo]) -> list[PluginInfo]:
    return [p for p in plugins if p.status == "disabled" and p.name.startswith(BUILTIN_CHECKS_PREFIX)]


def _some(names: list[str], shown: int = 5) -> str:
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def compute_verdict(findings: list[Finding], interrupted: bool = False, incomplete: bool = False) -> Verdict:
    """Any blocker that failed or could not be evaluated -> NO_GO; any other problem -> GO_WITH_WARNINGS.

    An interrupted run is NO_GO whatever it found: what it did not reach is unverified. An
    incomplete catalog (a third-party plugin that failed to load: its checks never ran) is at best
    GO_WITH_WARNINGS.
    """
    if interrupted:
        return Verdict.NO_GO
    verdict = Verdict.GO_WITH_WARNINGS if incomplete else Verdict.GO
    for f in findings:
        if f.is_blocking:
            return Verdict.NO_GO
        if f.status in (Status.FAIL, Status.ERROR, Status.WARN):
            verdict = Verdict.GO_WITH_WARNINGS
    return verdict
