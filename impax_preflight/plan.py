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
from .inventory import target_of
from .model import NotRun
from .options import option_problems
from .vocabulary import HOSTS_LIMITED, NOT_SELECTED, SKIPPED_BY_OPTION

if TYPE_CHECKING:  # pragma: no cover
    from .inventory import Database, Host, Inventory
    from .plugins import PluginSet


@dataclass
class PlanItem:
    check: Check
    host: "Host | None" = None
    database: "Database | None" = None
    #: why the check cannot run although it was planned (its applicability could not be decided):
    #: the run reports this as an `error` finding instead of running the check
    error: str | None = None

    @property
    def target(self) -> str:
        return target_of(self.host, self.database)


def _selected(check_id: str, only: Iterable[str], skip: Iterable[str]) -> str | None:
    only, skip = list(only), list(skip)
    if only and not any(fnmatch.fnmatchcase(check_id, p) for p in only):
        return NOT_SELECTED
    if any(fnmatch.fnmatchcase(check_id, p) for p in skip):
        return SKIPPED_BY_OPTION
    return None


def check_selection_globs(checks: Iterable[Check], only: Iterable[str], skip: Iterable[str]) -> None:
    """ValueError when an --only or --skip glob matches no check id (a typo must neither run nothing
    nor skip nothing while the operator believes a check was left out)."""
    ids = sorted(c.id for c in checks)
    for option, globs in (("--only", only), ("--skip", skip)):
        for g in globs:
            if not any(fnmatch.fnmatchcase(i, g) for i in ids):
                raise ValueError(f"{option} {g!r} matches no check id (see `impax-preflight checks`; ids look like "
                                 "'integrity.*' or 'os.solaris.faults')")


def _applies(chk: Check, inventory: "Inventory", host: "Host | None", db: "Database | None") -> tuple[str | None, str | None]:
    """(why the check does not apply, or None; why that could not be decided, or None). A `when`
    predicate that raises does not drop the check into "not run": undecided is not verified."""
    try:
        return chk.applies.reason_not(inventory.site, host, db, inventory), None
    except Exception as exc:  # noqa: BLE001 - a plugin's predicate must not take the plan down
        return None, (f"could not decide whether the check applies here: its applicability condition failed "
                      f"({type(exc).__name__}: {exc}) — report this to the check's provider")


def _applies_anywhere(chk: Check, inventory: "Inventory", host_globs: list[str]) -> bool:
    """Would the check run on some target of this run, had it been selected? (Undecidable: yes.)"""
    if chk.target == "site":
        return not host_globs and _applies(chk, inventory, None, None)[0] is None
    for host in inventory.hosts:
        if host_globs and not any(fnmatch.fnmatchcase(host.name, g) for g in host_globs):
            continue
        targets = [None] if chk.target == "host" else host.databases
        if any(_applies(chk, inventory, host, db)[0] is None for db in targets):
            return True
    return False


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
    host_globs = list(hosts)
    for chk in sorted(checks, key=lambda c: c.id):
        why = _selected(chk.id, only, skip)
        if why:  # left out on purpose; "left out" (a partial run) only where it would have applied
            applies = _applies_anywhere(chk, inventory, host_globs)
            not_run.append(NotRun(check_id=chk.id, reason=why if applies else f"{why} (it does not apply to this site)"))
            continue
        if chk.target == "site":
            r, err = _applies(chk, inventory, None, None)
            if r:
                not_run.append(NotRun(check_id=chk.id, target="site", reason=r))
            elif host_globs:  # a site check judges the whole cluster: not on a partial picture
                not_run.append(NotRun(check_id=chk.id, target="site", reason=HOSTS_LIMITED))
            else:
                plan.append(PlanItem(chk, error=err))
            continue
        for host in inventory.hosts:
            left_out = bool(host_globs) and not any(fnmatch.fnmatchcase(host.name, g) for g in host_globs)
            for db in [None] if chk.target == "host" else host.databases:
                r, err = _applies(chk, inventory, host, db)
                if r and not left_out:
                    not_run.append(NotRun(check_id=chk.id, target=target_of(host, db), reason=r))
                elif not r and left_out:  # it would have run here: the question stays open
                    not_run.append(NotRun(check_id=chk.id, target=target_of(host, db), reason=HOSTS_LIMITED))
                elif not r:
                    plan.append(PlanItem(chk, host, db, error=err))
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


def host_command_timeouts(plugins: "PluginSet", inventory: "Inventory", host: "Host") -> dict[str, float]:
    """The commands of `host_commands` whose probe allows them more than the inventory's
    command_timeout_s (a RAID tool, a vendor report), with that limit: the collector gives each
    command the time a live run would."""
    default = inventory.site.thresholds.command_timeout_s
    out: dict[str, float] = {}
    for chk in plugins.checks().values():
        for p in chk.probes or ():
            if p.timeout_s and p.timeout_s > default:
                for cmd in p.commands_for(host.os, inventory.site, host):
                    out[cmd] = max(out.get(cmd, 0.0), float(p.timeout_s))
    return out
