"""One cluster report from several site runs, and the staged upgrade order DR -> BK -> Prod.

`merge_reports([...])` folds the runs of several hospitals (and a DR site) into one `RunReport`
that every reporter renders like any other run; `stage_readiness(report, by_site=...)` gives each
stage of the staged upgrade its own verdict, overall or per site.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from ..model import Finding, RunReport, compute_verdict, incomplete_reasons, is_answered, utcnow
from ..vocabulary import LEFT_OPEN_REASONS
from ..waivers import judged_today

#: The staged upgrade order: the DR site first, then each backup (BK) PACS, then production.
STAGES = ("dr", "bk", "prod")
STAGE_LABELS = {"dr": "DR", "bk": "BK", "prod": "Prod", "site": "Site-wide", "unknown": "Tier not recorded"}
#: Display order of finding groups: site-wide checks first (they gate every stage), then the stages.
GROUP_ORDER = ("site", *STAGES, "unknown")


class MergeError(ValueError):
    """The runs cannot be merged (nothing given, or the same run twice)."""


def _host_tiers(inventory: dict[str, Any]) -> dict[str, str]:
    """host name -> tier, from an inventory summary (tolerant: list of hosts or mapping)."""
    out: dict[str, str] = {}
    hosts = inventory.get("hosts") if isinstance(inventory, dict) else None
    if isinstance(hosts, list):
        for h in hosts:
            if isinstance(h, dict) and h.get("name") and h.get("tier"):
                out[str(h["name"])] = str(h["tier"]).lower()
    elif isinstance(hosts, dict):
        for name, h in hosts.items():
            if isinstance(h, dict) and h.get("tier"):
                out[str(name)] = str(h["tier"]).lower()
    sites = inventory.get("sites") if isinstance(inventory, dict) else None
    if isinstance(sites, dict):
        for inv in sites.values():
            if isinstance(inv, dict):
                for k, v in _host_tiers(inv).items():
                    out.setdefault(k, v)
    return out


def group_of(f: Finding, tiers: dict[str, str] | None = None) -> str:
    """Which group a finding belongs to: 'site', a stage ('dr', 'bk', 'prod') or 'unknown'."""
    if f.target_kind == "site":
        return "site"
    tier = (f.tier or "").lower() or (tiers or {}).get(f.host or f.target, "")
    return tier if tier in STAGES else "unknown"


def host_of(f: Finding) -> str:
    """The host a finding is shown under (a database finding goes under the host that holds it)."""
    if f.target_kind == "site":
        return "site"
    return f.host or f.target.split("/", 1)[0]


def sites_of(report: RunReport) -> list[str]:
    seen: list[str] = []
    for f in report.findings:
        s = f.site or report.site
        if s not in seen:
            seen.append(s)
    return seen or [report.site]


def interrupted_sites(report: RunReport) -> set[str]:
    """The sites whose run was interrupted (their results are incomplete: they cannot say GO).

    A merged report records it per run in ``inventory.merged_runs``; a run on its own, or a merged
    report that does not say which run was interrupted, counts every one of its sites.
    """
    if not report.interrupted:
        return set()
    runs = report.inventory.get("merged_runs") if isinstance(report.inventory, dict) else None
    sites = set(sites_of(report))
    if isinstance(runs, list) and runs and all(isinstance(m, dict) and "interrupted" in m for m in runs):
        named = {str(m.get("site")) for m in runs if m.get("interrupted")}
        if named & sites:
            return named
    return sites | {report.site}


def incomplete_sites(report: RunReport) -> set[str]:
    """The sites whose run can say at best GO WITH WARNINGS although no finding says so (a broken
    plugin, disabled built-in checks, a partial run: `RunReport.incomplete`). Recorded per run in
    ``inventory.merged_runs`` of a merged report."""
    runs = report.inventory.get("merged_runs") if isinstance(report.inventory, dict) else None
    if isinstance(runs, list) and runs and all(isinstance(m, dict) for m in runs):
        return {str(m.get("site")) for m in runs if m.get("incomplete")}
    # a report of schema 1.1 records no `incomplete`: its broken plugins say it
    lacking = bool(report.incomplete) or any(p.status == "broken" for p in report.plugins)
    return {report.site, *sites_of(report)} if lacking else set()


def group_findings(report: RunReport, findings: Iterable[Finding] | None = None) -> dict[tuple[str, str, str], list[Finding]]:
    """Findings by (group, site, host), in display order: site-wide, DR, BK, Prod, unknown; then site, host.

    The one grouping every reporter and `stage_readiness` use. ``findings`` defaults to all of the
    report's; within a group the findings keep the report's order.
    """
    tiers = _host_tiers(report.inventory)
    out: dict[tuple[str, str, str], list[Finding]] = {}
    for f in report.findings if findings is None else findings:
        out.setdefault((group_of(f, tiers), f.site or report.site, host_of(f)), []).append(f)
    return dict(sorted(out.items(), key=lambda kv: (GROUP_ORDER.index(kv[0][0]), kv[0][1], kv[0][2])))


def ordered_blockers(report: RunReport) -> list[Finding]:
    """The findings that block the upgrade, in the order every reporter lists them: group
    (site-wide, DR, BK, Prod, unknown), then status (fail before error), target, check id."""
    tiers = _host_tiers(report.inventory)
    return sorted(report.blockers(),
                  key=lambda f: (GROUP_ORDER.index(group_of(f, tiers)), f.status.rank, f.target, f.check_id))


@dataclass
class Stage:
    """One stage of the staged upgrade (or the site-wide group) at one site or across all."""

    key: str
    site: str | None
    findings: list[Finding] = field(default_factory=list)
    gating: list[Finding] = field(default_factory=list)  # site-wide findings that also gate it
    hosts: list[str] = field(default_factory=list)
    interrupted: bool = False  # a site contributing to it had its run interrupted
    incomplete: bool = False  # a site contributing to it could say at best GO WITH WARNINGS (RunReport.incomplete)

    @property
    def label(self) -> str:
        return STAGE_LABELS.get(self.key, self.key)

    @property
    def verdict(self):
        return compute_verdict(self.findings + self.gating, interrupted=self.interrupted, incomplete=self.incomplete)

    @property
    def blockers(self) -> list[Finding]:
        return [f for f in self.findings + self.gating if f.is_blocking]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.findings:
            out[f.status.value] = out.get(f.status.value, 0) + 1
        return out


def stage_readiness(report: RunReport, by_site: bool = False) -> list[Stage]:
    """DR, BK, Prod (and 'unknown' if a host's tier was not recorded), each with its own verdict.

    A stage's verdict counts the findings of its hosts *and* the site-wide findings of the sites
    it touches: a site-wide blocker (e.g. an unsupported source version) blocks every stage. A
    stage one of whose sites had its run interrupted is NO-GO. Returns one overall Stage per stage
    key that has hosts (site=None), or with ``by_site`` one per (site, stage) for a cluster report.
    """
    site_wide: dict[str, list[Finding]] = {}
    stages: dict[tuple[str | None, str], list[Finding]] = {}
    for (group, site, _host), fs in group_findings(report).items():
        if group == "site":
            site_wide.setdefault(site, []).extend(fs)
        else:
            stages.setdefault((site if by_site else None, group), []).extend(fs)
    broken = interrupted_sites(report)
    lacking = incomplete_sites(report)
    out: list[Stage] = []
    for site in sites_of(report) if by_site else [None]:
        for key in (*STAGES, "unknown"):
            fs = stages.get((site, key))
            if not fs:
                continue
            touched = sorted({f.site or report.site for f in fs})
            gating = [g for s in touched for g in site_wide.get(s, [])]
            out.append(Stage(key=key, site=site, findings=fs, gating=gating, hosts=sorted({host_of(f) for f in fs}),
                             interrupted=any(s in broken for s in touched),
                             incomplete=any(s in lacking for s in touched)))
    return out


def _newest_runs(runs: list[RunReport]) -> dict[tuple[str, str], int]:
    """(site, finding key) -> index of the newest run holding that finding (finished_at, else started_at;
    on a tie the run given last)."""
    best: dict[tuple[str, str], tuple[Any, int]] = {}
    for i, r in enumerate(runs):
        when = r.finished_at or r.started_at
        for f in r.findings:
            k = (f.site or r.site, f.key)
            if k not in best or (when, i) >= best[k]:
                best[k] = (when, i)
    return {k: i for k, (_, i) in best.items()}


def merge_reports(reports: Iterable[RunReport]) -> RunReport:
    """Fold several site runs into one cluster report (a `RunReport` every reporter renders).

    Findings keep their targets and get their ``site`` (and ``tier`` from the site inventory when
    the run did not record it) so that the report groups them by site and stage. The verdict is
    recomputed over all findings (NO-GO when any run was interrupted); run-level warnings are
    prefixed with their site. Two runs of the same site (e.g. a full run and a later ``run --host``
    re-check) keep, per finding key, only the finding of the newest run (by ``finished_at``, else
    ``started_at``): a failure the re-check no longer sees does not linger. Each run is first judged
    as of today (a waiver that has lapsed since no longer hides its finding); a single run is then
    returned as it is.
    """
    runs = list(reports)
    if not runs:
        raise MergeError("no run report to merge: give one or more report.json files")
    ids = [r.run_id for r in runs]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise MergeError(f"the same run was given twice (run id {', '.join(dup)}): give each site's report.json once")
    runs = [judged_today(r) for r in runs]  # a waiver that lapsed since the run no longer hides its finding
    if len(runs) == 1:
        return runs[0]

    findings: list[Finding] = []
    checks: dict[str, Any] = {}
    plugins: dict[tuple, Any] = {}
    not_run = []
    warnings: list[str] = []
    expired = []
    inventories: dict[str, Any] = {}
    newest = _newest_runs(runs)
    kept = [(i, f) for i, r in enumerate(runs) for f in r.findings if newest[(f.site or r.site, f.key)] == i]
    answered = {(f.site or runs[i].site, f.check_id, f.target) for i, f in kept}
    # per run, why it still cannot say GO once every run's findings are counted
    gaps = {r.run_id: incomplete_reasons(r, answered) for r in runs}
    superseded = 0
    for i, r in enumerate(runs):
        tiers = _host_tiers(r.inventory)
        for f in r.findings:
            if newest[(f.site or r.site, f.key)] != i:
                superseded += 1
                continue
            update: dict[str, Any] = {}
            if not f.site:
                update["site"] = r.site
            if not f.tier and f.target_kind != "site":
                t = tiers.get(f.host or f.target)
                if t:
                    update["tier"] = t
            findings.append(f.model_copy(update=update) if update else f)
        for c in r.checks:
            checks.setdefault(c.id, c)
        for p in r.plugins:
            plugins.setdefault((p.name, p.version, p.status), p)
        for n in r.not_run:
            if n.reason in LEFT_OPEN_REASONS and is_answered(n, r.site, answered):
                continue  # another run of the merge ran it there: not left out in the cluster's picture
            target = f"{r.site}:{n.target}" if n.target else r.site
            not_run.append(n.model_copy(update={"target": target}))
        warnings.extend(f"[{r.site}] {w}" for w in r.warnings)
        if r.interrupted:
            warnings.append(f"[{r.site}] this site's run was interrupted: its results are incomplete")
        expired.extend(r.expired_waivers)
        key = r.site if r.site not in inventories else f"{r.site} ({r.run_id})"
        inventories[key] = r.inventory

    started = min(r.started_at for r in runs)
    finished_all = [r.finished_at for r in runs if r.finished_at]
    finished = max(finished_all) if len(finished_all) == len(runs) else None
    operators = sorted({r.operator for r in runs if r.operator})
    versions = sorted({r.tool_version for r in runs})
    if superseded:
        warnings.append(f"{superseded} finding(s) of an older run were replaced by a newer run of the same site")
    if len(versions) > 1:
        warnings.append(f"the runs were made with different tool versions: {', '.join(versions)}")
    site_names = [r.site for r in runs]
    incomplete = [f"[{r.site}] {why}" for r in runs for why in gaps[r.run_id]]
    return RunReport(
        tool_version=versions[-1],
        run_id="merged-" + "+".join(ids),
        site="Cluster: " + ", ".join(dict.fromkeys(site_names)),
        inventory={
            "merged_runs": [
                {"site": r.site, "run_id": r.run_id, "started_at": r.started_at.isoformat(), "verdict": r.verdict.value,
                 "operator": r.operator, "tool_version": r.tool_version, "interrupted": r.interrupted,
                 "incomplete": bool(gaps[r.run_id])}
                for r in runs
            ],
            "sites": inventories,
            "merged_at": utcnow().isoformat(),
        },
        operator=", ".join(operators) or None,
        started_at=started,
        finished_at=finished,
        # the runs may be days apart: the merged duration is the time the checks took, summed
        duration_s=sum(r.duration_s for r in runs) if all(r.duration_s is not None for r in runs) else None,
        interrupted=any(r.interrupted for r in runs),
        verdict=compute_verdict(findings, interrupted=any(r.interrupted for r in runs), incomplete=bool(incomplete)),
        incomplete=incomplete,
        findings=findings,
        checks=list(checks.values()),
        not_run=not_run,
        plugins=list(plugins.values()),
        warnings=warnings,
        expired_waivers=expired,
        baseline=None,
    )
