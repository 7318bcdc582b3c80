"""`plan`: what a run would do, without running a check — which checks run where (and why the others
do not), and for every database scan its tables, rows and sizes from the data dictionary, what a
constraint proves without reading, and an estimated duration; the database window."""

from __future__ import annotations

import json
import sys
import textwrap
from datetime import datetime

import click

from .common import (
    ask_prompts,
    check_inventory_or_fail,
    check_selection_or_fail,
    db_window_or_fail,
    load_inventory_or_fail,
    load_plugins_or_fail,
    plugin_options,
)
from ..vocabulary import EXIT_USAGE


@click.command("plan")
@click.argument("inventory", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="The plan as JSON on stdout.")
@click.option("--only", multiple=True, help="Plan only checks whose id matches this glob (repeatable).")
@click.option("--skip", multiple=True, help="Leave out checks whose id matches this glob (repeatable).")
@click.option("--host", "hosts", multiple=True, metavar="GLOB", help="Plan only hosts whose name matches (repeatable).")
@click.option("--db-window", metavar="HH:MM-HH:MM",
              help="Plan with this database window instead of the inventory's ([site.database_window]).")
@click.option("--timeout", "check_timeout", type=click.FloatRange(0.1, 86400),
              help="The per-check timeout the run will use (default: inventory threshold).")
@click.option("--no-connect", is_flag=True, help="Do not connect to the databases: no dictionary, no estimate.")
@click.option("--no-sample", is_flag=True,
              help="Do not time a sample read per large table: durations from the calibrated rate only.")
@click.option("--strict", is_flag=True, help="Exit 3 when a database could not be estimated.")
@plugin_options
def plan_cmd(inventory, as_json, only, skip, hosts, db_window, check_timeout, no_connect, no_sample, strict,
             plugins_dirs, checks_dirs, disable):
    """Show what a run of INVENTORY would do, and how long its database scans would take, without running a check.

    Databases are read only to estimate: their data dictionary and, for large tables, a timed read
    of the first 100,000 rows (--no-sample to avoid it). Exit 0; 3 on a bad inventory or arguments
    (with --strict also when a database could not be estimated).
    """
    from ..estimate import estimate_databases
    from ..plan import build_plan

    inv = load_inventory_or_fail(inventory)
    plugins = load_plugins_or_fail(plugins_dirs, checks_dirs, disable)
    check_inventory_or_fail(inv, plugins)
    window = db_window_or_fail(inv, db_window)
    check_selection_or_fail(inv, plugins, only, skip, hosts)
    items, not_run = build_plan(inv, plugins.checks().values(), only, skip, hosts)
    if not no_connect:
        ask_prompts(inv)
    databases = estimate_databases(
        plugins, inv, items, sample=not no_sample, connect=not no_connect, check_timeout_s=check_timeout,
        on_database=None if as_json else lambda target: click.echo(f"reading the data dictionary of {target} ...", err=True))
    data = _as_data(inv, items, not_run, databases, window)
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        _print(data)
    if strict and any(_not_estimated(d) for d in data["databases"]):
        sys.exit(EXIT_USAGE)


def _not_estimated(d: dict) -> bool:
    """A database the plan could not (wholly) estimate: not connected, or a plugin's estimate failed
    (estimate.py keeps a failing `impax_estimate_scans` in the database's notes, the plan going on)."""
    return bool(d["error"] or d["notes"])


def _as_data(inv, items, not_run, databases, window) -> dict:
    from ..secrets import masker

    targets: dict[str, dict] = {}
    for item in items:
        kind = "database" if item.database is not None else "host" if item.host is not None else "site"
        targets.setdefault(item.target, {"target": item.target, "kind": kind, "checks": []})["checks"].append(item.check.id)
    scans_wall = [d.wall_s for d in databases if d.wall_s is not None]
    data = {
        "site": inv.site.name,
        "planned_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "checks_planned": len(items),
        "targets": list(targets.values()),
        "not_run": [n.model_dump(mode="json") for n in not_run],
        "databases": [d.to_dict() for d in databases],
        "database_window": _window_data(window, max(scans_wall) if scans_wall else None),
    }
    return masker.mask_obj(data)


def _window_data(window, longest_wall_s) -> dict | None:
    if window is None:
        return None
    now = window.now()
    out = {"hours": window.text, "timezone": window.timezone, "describe": window.describe(), "now": now.isoformat(timespec="seconds"),
           "open_now": window.contains(now), "next_opening": window.next_opening(now).isoformat(timespec="seconds")}
    closes = window.closes_at(now)
    out["closes_at"] = closes.isoformat(timespec="seconds") if closes else None
    if longest_wall_s is not None:
        out["scans_wall_s"] = longest_wall_s
    return out


def _print(data: dict) -> None:
    echo = click.echo
    n_targets = len(data["targets"])
    read = any(d["error"] is None for d in data["databases"])  # a session was opened: the dictionary was read
    how = "nothing was run; the databases' data dictionaries were read" if read else "nothing was run or read"
    echo(f"Plan for {data['site']}: {data['checks_planned']} checks on {n_targets} target{'s' if n_targets != 1 else ''}, "
         f"{len(data['not_run'])} not run ({how})\n")
    echo("What runs where")
    width = max([len(t["target"]) for t in data["targets"]] + [10])
    for t in data["targets"]:
        ids = ", ".join(_compress(t["checks"]))
        lines = textwrap.wrap(ids, 100 - width - 8, break_on_hyphens=False) or [""]
        echo(f"  {t['target']:<{width}} {len(t['checks']):>3}  {lines[0]}")
        for more in lines[1:]:
            echo(f"  {'':<{width}}      {more}")
    echo()
    echo("Database scans")
    if not data["databases"]:
        echo("  no database checks planned")
    for d in data["databases"]:
        _print_database(d)
    echo()
    _print_window(data["database_window"])
    if data["not_run"]:
        echo()
        echo(f"Not run ({len(data['not_run'])})")
        by_reason: dict[str, list[str]] = {}
        for n in data["not_run"]:
            by_reason.setdefault(n["reason"], []).append(n["check_id"] + (f" @ {n['target']}" if n.get("target") else ""))
        for reason, what in sorted(by_reason.items(), key=lambda kv: -len(kv[1])):
            echo(f"  {reason}:")
            for line in textwrap.wrap(", ".join(what), 96, break_on_hyphens=False):
                echo(f"      {line}")


def _print_database(d: dict) -> None:
    echo = click.echo
    from ..dialects import label

    head = f"  {d['target']} ({label(d['dialect']) if d['dialect'] else d['kind']}; at most {d['sessions']} session" \
           f"{'s' if d['sessions'] != 1 else ''} at once)"
    if d["error"]:
        echo(f"{head}: {d['error']}")
        return
    if not d["scans"]:
        echo(f"{head}: no table scan among its {len(d['checks'])} checks")
        return
    echo(head)
    width = max(len(s["table"]) for s in d["scans"])
    for s in d["scans"]:
        if not s["scanned"]:
            echo(f"    {s['table']:<{width}}  not read: every check proved by the dictionary")
        else:
            rows = f"{s['rows']:,} rows" if s["rows"] is not None else "rows unknown"
            size = f", {_size(s['size_bytes'])}" if s["size_bytes"] is not None else ""
            est = _duration(s["seconds"]) if s["seconds"] is not None else "unknown"
            echo(f"    {s['table']:<{width}}  {rows}{size}; {s['what']}; estimate {est}")
            if s["seconds"] is None or s["seconds"] >= 1:  # small tables: the footnote below says how
                echo(f"    {'':<{width}}    rows: {s['rows_source']}")
                echo(f"    {'':<{width}}    duration: {s['rate']}")
        for p in s["proved"]:
            echo(f"    {'':<{width}}    proved: {p}")
        for note in s["notes"]:
            echo(f"    {'':<{width}}    note: {note}")
    small = [s for s in d["scans"] if s["scanned"] and s["seconds"] is not None and s["seconds"] < 1]
    if small:
        echo(f"    ({len(small)} table{'s' if len(small) != 1 else ''} estimated under 1 s each; --json says how each figure "
             "was obtained)")
    if d["total_s"] is not None:
        unknown = f"; unknown for {', '.join(d['unknown'])}" if d["unknown"] else ""
        echo(f"    total: {_duration(d['total_s'])} of reading one after another, {_about(d['wall_s'])} with "
             f"{d['sessions']} at once{unknown}")
    elif d["unknown"]:
        echo(f"    total: unknown ({', '.join(d['unknown'])} without statistics)")
    else:
        echo("    total: nothing to read")
    for w in d["warnings"]:
        echo(f"    ! {w}")
    for note in d["notes"]:
        echo(f"    ! {note}")


def _print_window(w: dict | None) -> None:
    echo = click.echo
    if w is None:
        echo("Database window: none: scans may start at any time ([site.database_window] hours or --db-window limit them)")
        return
    need = f"; the scans need {_about(w['scans_wall_s'])}" if w.get("scans_wall_s") is not None else ""
    now = datetime.fromisoformat(w["now"])
    if w["open_now"]:
        closes = datetime.fromisoformat(w["closes_at"]) if w.get("closes_at") else None
        left = f", until {closes:%H:%M}" if closes else ""
        echo(f"Database window: {w['describe']}: open now ({now:%H:%M}{left}){need}")
    else:
        opens = datetime.fromisoformat(w["next_opening"])
        echo(f"Database window: {w['describe']}: closed now ({now:%H:%M}); a run now would not start the scans (their checks "
             f"are errors, NO-GO) — it opens at {opens:%H:%M}{need}")


def _compress(ids: list[str]) -> list[str]:
    """integrity.a, integrity.b, ... -> "integrity.* (12 checks)" for a family of more than three on a target."""
    fams: dict[str, list[str]] = {}
    for i in ids:
        fams.setdefault(i.split(".", 1)[0], []).append(i)
    out = []
    for fam, members in fams.items():
        out.append(f"{fam}.* ({len(members)} checks)" if len(members) > 3 else ", ".join(members))
    return out


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def _about(seconds: float | None) -> str:
    text = _duration(seconds)
    return text if text in ("unknown", "under 1 s") else f"about {text}"


def _duration(seconds: float | None) -> str:
    from ..report.text import duration_text

    return "unknown" if seconds is None else duration_text(seconds, estimate=True)
