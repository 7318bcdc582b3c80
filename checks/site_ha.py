"""Availability across the cluster (seeds 001 and 004): every production PACS has a backup PACS,
and the staged upgrade order DR -> BK -> Prod is respected: DR and BK must be ready first.
"""

from __future__ import annotations

from typing import Iterator

from impax_preflight.check import CheckContext, check, register_module_checks
from impax_preflight.hookspecs import hookimpl
from impax_preflight.model import Finding, Status

PACS_ROLES = ("archive", "database", "single_host")


@check(
    "ha.backup_pacs",
    "Production PACS have a backup PACS; DR and BK ready before Prod",
    "warning",
    "site",
    guide="Staged upgrades starting with DR PACS, then each BK site followed by the Prod sites",
    remediation="Give every production PACS a backup (BK) PACS in the inventory (backup_pacs = \"<host>\") so that "
    "radiology can work on it while Prod is upgraded; upgrade the DR PACS first, then each BK PACS, and only then "
    "the Prod PACS: clear the DR / BK blockers before preparing Prod.",
    description="Per production host with an archive, database or single_host role: backup_pacs set or a bk-tier "
    "host in the inventory. Then, from the host findings of this run: a DR or BK host with blocking findings while "
    "Prod hosts are being prepared warns (staged order DR -> BK -> Prod); only DR / BK hosts with findings in this "
    "run count as ready, one not checked (--only / --host) is skipped and one whose checks could not run is an error.",
)
def backup_pacs(ctx: CheckContext) -> Iterator[Finding]:
    hosts = ctx.inventory.hosts
    prod = [h for h in hosts if h.tier == "prod" and set(h.roles) & set(PACS_ROLES)]
    bk_hosts = [h.name for h in hosts if h.tier == "bk"]
    for h in prod:
        if h.backup_pacs:
            partner = ctx.inventory.host(h.backup_pacs)
            note = "" if partner.tier == "bk" else f" (its tier is {partner.tier}, not bk)"
            yield (ctx.warn if note else ctx.passed)(f"{h.name} has backup PACS {h.backup_pacs}{note}", subject=h.name,
                                                     values={"backup_pacs": h.backup_pacs, "tier": partner.tier})
        elif bk_hosts:
            yield ctx.warn(f"{h.name} names no backup_pacs; bk-tier host(s) {', '.join(bk_hosts)} exist: set backup_pacs "
                           "to record which one covers it", subject=h.name, values={"backup_pacs": None, "bk_hosts": bk_hosts})
        else:
            yield ctx.warn(f"production PACS {h.name} has no backup PACS: its upgrade means downtime for radiology", subject=h.name,
                           values={"backup_pacs": None})
    if not prod:
        ctx.note("no production host with an archive, database or single_host role in the inventory")
    # staged order: DR, then BK, then Prod. Only a host with findings in this run was evaluated:
    # one left out (--only / --host) or whose checks could not run proves nothing either way.
    tiers = {h.name: h.tier for h in hosts}
    blocking: dict[str, list[str]] = {}
    examined: set[str] = set()
    attempted: set[str] = set()
    for f in ctx.findings():
        if not f.host or tiers.get(f.host) not in ("dr", "bk"):
            continue
        attempted.add(f.host)
        if f.status in (Status.PASS, Status.WARN, Status.FAIL):
            examined.add(f.host)
        if f.is_blocking:
            blocking.setdefault(f.host, []).append(f.check_id)
    if any(h.tier == "prod" for h in hosts):
        for host, checks in sorted(blocking.items()):
            ids = sorted(set(checks))
            yield ctx.warn(f"{tiers[host].upper()} host {host} still has blocking findings ({', '.join(ids)}) while Prod is being "
                           "prepared: the staged upgrade goes DR -> BK -> Prod", subject=f"stage:{host}",
                           values={"tier": tiers[host], "blocking_checks": ids})
        staged = [h.name for h in hosts if h.tier in ("dr", "bk")]
        clean = [h for h in staged if h in examined and h not in blocking]
        failed = [h for h in staged if h in attempted and h not in examined and h not in blocking]
        unchecked = [h for h in staged if h not in attempted]
        if clean:
            yield ctx.passed(f"DR / BK hosts {', '.join(clean)} have no blocking finding", subject="stage", values={"hosts": clean})
        if failed:
            yield ctx.error(f"DR / BK hosts {', '.join(failed)} could not be checked in this run (their checks ended in errors or "
                            "were skipped): whether they are ready before Prod is unknown", subject="stage:not-evaluated",
                            values={"hosts": failed})
        if unchecked:
            yield ctx.skip(f"DR / BK hosts {', '.join(unchecked)} were not checked in this run (no finding for them, e.g. "
                           "left out by --only / --host): run their checks to confirm the staged order DR -> BK -> Prod",
                           subject="stage:not-checked", values={"hosts": unchecked})
    if not prod and not blocking:
        yield ctx.skip("no production PACS in the inventory")


@hookimpl
def impax_register_checks(register):
    register_module_checks(register, globals())
