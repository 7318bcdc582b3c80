"""One cluster report from several site runs, and the staged upgrade order DR -> BK -> Prod.

`merge_reports([...])` folds the runs of several hospitals (and a DR site) into one `RunReport`
that every reporter renders like any other run; `stage_readiness(report)` gives each stage of the
staged upgrade its own verdict, per site and overall.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from ..model import Finding, RunReport, compute_verdict, utcnow

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


@dataclass
class Stage:
    """One stage of the staged upgrade (or the site-wide group) at one site or across all."""

    key: str
    site: str | None
    findings: list[Finding] = field(default_factory=list)
    gating: list[Finding] = field(default_factory=list)  # site-wide findings that also gate it
    hosts: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return STAGE_LABELS.get(self.key, self.key)

    @property
    def verdict(self):
        return compute_verdict(self.findings + self.gating)

    @property
    def blockers(self) -> list[Finding]:
        return [f for f in self.findings + self.gating if f.is_blocking]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.findings:
            out[f.status.value] = out.get(f.status.value, 0) + 1
        return out


def sites_of(report: RunReport) -> list[str]:
    seen: list[str] = []
    for f in report.findings:
        s = f.site or report.site
        if s not in seen:
            seen.append(s)
    return seen or [report.site]


def stage_readiness(report: RunReport) -> list[Stage]:
    """DR, BK, Prod (and 'unknown' if a host's tier was not recorded), each with its own verdict.

    A stage's verdict counts the findings of its hosts *and* the site-wide findings of the sites
    it touches: a site-wide blocker (e.g. an unsupported source version) blocks every stage.
    Returns one overall Stage per stage key (site=None) that has hosts; see `stage_readiness_by_site`.
    """
    tiers = _host_tiers(report.inventory)
    site_wide: dict[str, list[Finding]] = {}
    groups: dict[str, list[Finding]] = {}
    for f in report.findings:
        g = group_of(f, tiers)
        if g == "site":
            site_wide.setdefault(f.site or report.site, []).append(f)
        else:
            groups.setdefault(g, []).append(f)
    out: list[Stage] = []
    for key in (*STAGES, "unknown"):
        fs = groups.get(key)
        if not fs:
            continue
        touched = {f.site or report.site for f in fs}
        gating = [g for s in sorted(touched) for g in site_wide.get(s, [])]
        hosts = sorted({host_of(f) for f in fs})
        out.append(Stage(key=key, site=None, findings=fs, gating=gating, hosts=hosts))
    return out


def stage_readiness_by_site(report: RunReport) -> list[Stage]:
    """The same per (site, stage), for a cluster report of several sites."""
    tiers = _host_tiers(report.inventory)
    out: list[Stage] = []
    for site in sites_of(report):
        mine = [f for f in report.findings if (f.site or report.site) == site]
        site_wide = [f for f in mine if group_of(f, tiers) == "site"]
        for key in (*STAGES, "unknown"):
            fs = [f for f in mine if group_of(f, tiers) == key]
            if fs:
                out.append(Stage(key=key, site=site, findings=fs, gating=site_wide, hosts=sorted({host_of(f) for f in fs})))
    return out


def merge_reports(reports: Iterable[RunReport]) -> RunReport:
    """Fold several site runs into one cluster report (a `RunReport` every reporter renders).

    Findings keep their targets and get their ``site`` (and ``tier`` from the site inventory when
    the run did not record it) so that the report groups them by site and stage. The verdict is
    recomputed over all findings; run-level warnings are prefixed with their site. A single run is
    returned unchanged.
    """
    runs = list(reports)
    if not runs:
        raise MergeError("no run report to merge: give one or more report.json files")
    ids = [r.run_id for r in runs]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise MergeError(f"the same run was given twice (run id {', '.join(dup)}): give each site's report.json once")
    if len(runs) == 1:
        return runs[0]

    findings: list[Finding] = []
    checks: dict[str, Any] = {}
    plugins: dict[tuple, Any] = {}
    not_run = []
    warnings: list[str] = []
    expired = []
    inventories: dict[str, Any] = {}
    for r in runs:
        tiers = _host_tiers(r.inventory)
        for f in r.findings:
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
    if len(versions) > 1:
        warnings.append(f"the runs were made with different tool versions: {', '.join(versions)}")
    site_names = [r.site for r in runs]
    return RunReport(
        tool_version=versions[-1],
        run_id="merged-" + "+".join(ids),
        site="Cluster: " + ", ".join(dict.fromkeys(site_names)),
        inventory={
            "merged_runs": [
                {"site": r.site, "run_id": r.run_id, "started_at": r.started_at.isoformat(), "verdict": r.verdict.value,
                 "operator": r.operator, "tool_version": r.tool_version}
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
        verdict=compute_verdict(findings),
        findings=findings,
        checks=list(checks.values()),
        not_run=not_run,
        plugins=list(plugins.values()),
        warnings=warnings,
        expired_waivers=expired,
        baseline=None,
    )
