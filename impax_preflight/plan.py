"""The plan of a run: every check x every target it applies to, and why the others do not run.

Made before anything connects, from the inventory and the catalog alone; `collect` uses the same
plan to decide which commands a host's collector gathers.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from glob import escape
from typing import TYPE_CHECKING, Iterable

from .check import Check
from .model import NotRun
from .options import option_problems

if TYPE_CHECKING:  # pragma: no cover
    from .inventory import Database, Host, Inventory
    from .plugins import PluginSet


@dataclass
class PlanItem:
    check: Check
    host: "Host | None" = None
    database: "Database | None" = None

    @property
    def target(self) -> str:
        if self.database is not None and self.host is not None:
            return f"{self.host.name}/{self.database.name}"
        return self.host.name if self.host else "site"


def _selected(check_id: str, only: Iterable[str], skip: Iterable[str]) -> str | None:
    only, skip = list(only), list(skip)
    if only and not any(fnmatch.fnmatchcase(check_id, p) for p in only):
        return "not selected by --only"
    if any(fnmatch.fnmatchcase(check_id, p) for p in skip):
        return "excluded by --skip"
    return None


def inventory_problems(inventory: "Inventory", plugins: "PluginSet") -> list[str]:
    """What a run would refuse in this inventory, found before anything connects, each as
    ``file:line: field: what``: a setting a check declares with a value of the wrong type (or a
    setting it does not have), a transport no plugin provides. `validate` and `run` exit 3 on them."""
    out = option_problems(inventory, plugins.checks())
    kinds = plugins.transport_kinds()
    for i, host in enumerate(inventory.hosts):
        if host.transport.kind not in kinds:
            out.append(f"{inventory.locate(('hosts', i, 'transport', 'kind'))}: no transport {host.transport.kind!r} "
                       f"(available: {', '.join(kinds)})")
    return out


def check_host_globs(inventory: "Inventory", hosts: Iterable[str]) -> None:
    """ValueError when a --host glob matches no host of the inventory (a typo must not run nothing)."""
    known = [h.name for h in inventory.hosts]
    for g in hosts:
        if not any(fnmatch.fnmatchcase(n, g) for n in known):
            raise ValueError(f"--host {g!r} matches no host of the inventory (hosts: {', '.join(known)})")


def build_plan(
    inventory: "Inventory",
    checks: Iterable[Check],
    only: Iterable[str] = (),
    skip: Iterable[str] = (),
    hosts: Iterable[str] = (),
) -> tuple[list[PlanItem], list[NotRun]]:
    """Every check x every target it applies to; and why the rest do not run.

    `hosts` (globs on host names) limits the run to those hosts; site checks, which judge the whole
    cluster, are then not run rather than run on a partial picture.
    """
    plan: list[PlanItem] = []
    not_run: list[NotRun] = []
    site = inventory.site
    host_globs = list(hosts)
    for chk in sorted(checks, key=lambda c: c.id):
        why = _selected(chk.id, only, skip)
        if why:
            not_run.append(NotRun(check_id=chk.id, reason=why))
            continue
        if host_globs and chk.target == "site":
            not_run.append(NotRun(check_id=chk.id, target="site", reason="site check: the run was limited with --host"))
            continue
        if chk.target == "site":
            r = chk.applies.reason_not(site, None, None, inventory)
            (not_run.append(NotRun(check_id=chk.id, target="site", reason=r)) if r else plan.append(PlanItem(chk)))
            continue
        for host in inventory.hosts:
            if host_globs and not any(fnmatch.fnmatchcase(host.name, g) for g in host_globs):
                continue
            if chk.target == "host":
                r = chk.applies.reason_not(site, host, None, inventory)
                if r:
                    not_run.append(NotRun(check_id=chk.id, target=host.name, reason=r))
                else:
                    plan.append(PlanItem(chk, host))
            else:
                for db in host.databases:
                    r = chk.applies.reason_not(site, host, db, inventory)
                    if r:
                        not_run.append(NotRun(check_id=chk.id, target=f"{host.name}/{db.name}", reason=r))
                    else:
                        plan.append(PlanItem(chk, host, db))
        if chk.target == "database" and not any(h.databases for h in inventory.hosts):
            not_run.append(NotRun(check_id=chk.id, reason="no database in the inventory"))
    return plan, not_run


def host_commands(plugins: "PluginSet", inventory: "Inventory", host: "Host") -> list[str]:
    """Every command the checks applying to `host` (or to one of its databases) declare, plus the
    fact-collection commands, in a stable order without duplicates: what a collector gathers."""
    from .transports.bundle import normalize_command

    seen: set[str] = set()
    out: list[str] = []

    def add(cmds: Iterable[str]) -> None:
        for c in cmds:
            key = normalize_command(c)
            if key and key not in seen:
                seen.add(key)
                out.append(c)

    for _name, results in plugins.call("impax_fact_commands", os=host.os, site=inventory.site, host=host):
        add(results or ())
    # the same plan a run makes, limited to this host: what applies there is what gets collected
    plan, _ = build_plan(inventory, plugins.checks().values(), hosts=[escape(host.name)])
    for item in plan:
        add(item.check.commands_for(host.os, inventory.site, host))
    # site checks that read every host through probes (e.g. its clock): their reads are gathered too
    site_plan, _ = build_plan(inventory, [c for c in plugins.checks().values() if c.target == "site" and c.probes])
    for item in site_plan:
        add(item.check.commands_for(host.os, inventory.site, host))
    return out
