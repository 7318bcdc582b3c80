"""`history`: a site's runs over time — verdict, counts by status, what changed each time.

Reads the store `run` records into (see impax_preflight.history); imports stay inside the command
so ``impax-preflight --help`` stays instant.
"""

from __future__ import annotations

import click

from .common import load_inventory_or_fail, usage_error


def _usage_error(message: str):
    return usage_error(click.ClickException(message))


def _pick_site(sites: list[dict], wanted: str | None) -> str | None:
    names = [s["site"] for s in sites]
    if wanted is None:
        return names[0] if len(names) == 1 else None
    if wanted in names:
        return wanted
    close = [n for n in names if wanted.lower() in n.lower()]
    if len(close) == 1:
        return close[0]
    raise _usage_error(f"no site {wanted!r} in the history" + (f"; it holds: {', '.join(names)}" if names else " (it is empty)"))


def _when(iso: str) -> str:
    return iso[:16].replace("T", " ")


def _change_text(changes: dict | None) -> str:
    if changes is None:
        return "first recorded run"
    parts = []
    for key, word in (("new_blockers", "new blocker"), ("new_problems", "new problem"), ("resolved", "resolved"),
                      ("now_waived", "now waived"), ("not_rechecked", "not re-checked")):
        n = len(changes[key])
        if n:
            parts.append(f"{n} {word}{'s' if n != 1 and word.startswith('new') else ''}")
    if changes["moved"]:
        parts.append(f"{len(changes['moved'])} value{'s' if len(changes['moved']) != 1 else ''} moved")
    if changes["verdict_changed"]:
        parts.insert(0, "verdict changed")
    return ", ".join(parts) or "no change"



@click.command("history")
@click.argument("site", required=False)
@click.option("--history", "history_path", type=click.Path(dir_okay=False), default=None,
              help="The history store (default: [site.history] path of --inventory, else the user's data folder).")
@click.option("-i", "--inventory", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Take the site and its history settings from this inventory.")
@click.option("--last", type=click.IntRange(1), default=None, help="Only the last N runs.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def history_cmd(site, history_path, inventory, last, as_json):
    """A site's runs over time: verdict, counts by status, and what changed since the run before.

    SITE may be left out when the store holds one site (or with --inventory); a unique part of
    the name is enough. Exit code 0, or 3 when there is no store or no such site.
    """
    import json
    import sqlite3

    from ..history import HistoryError, history_store, site_history
    from ..model import Verdict
    from ..report.diff import format_delta, format_value

    inv = None
    if inventory:
        inv = load_inventory_or_fail(inventory)
        site = site or inv.site.name
    store = history_store(inv, history_path)  # the store it names, whether runs record into it or not
    try:
        sites = store.sites()
        chosen = _pick_site(sites, site)
        data = site_history(store, chosen, last) if chosen else None
    except (HistoryError, sqlite3.Error, OSError) as exc:
        raise _usage_error(f"cannot read the history {store.path}: {exc}") from None
    if as_json:
        click.echo(json.dumps(data if data is not None else {"store": str(store.path), "sites": sites}, indent=2,
                              ensure_ascii=False))
        return
    if data is None:
        if not sites:
            click.echo(f"{store.path}: no run recorded yet")
            return
        click.echo(f"{len(sites)} sites in {store.path} (give a SITE to see its runs):")
        click.echo(f"  {'runs':>5}  {'first run':16}  {'last run':16}  {'last verdict':16}  site")
        for s in sites:
            click.echo(f"  {s['runs']:>5}  {_when(s['first'])}  {_when(s['last'])}  "
                       f"{Verdict(s['last_verdict']).label:16}  {s['site']}")
        return
    click.echo(f"{data['site']}: {len(data['runs'])} of the {data['runs_kept']} runs kept in {data['store']} "
               f"(at most {data['keep_runs']})")
    click.echo(f"{'started (UTC)':16}  {'verdict':16} {'block':>5} {'warn.':>5} | {'fail':>4} {'error':>5} {'warn':>4} "
               f"{'waived':>6} {'pass':>4} | run id: since the run before")
    for r in data["runs"]:
        c = r["counts"]
        flag = " (interrupted)" if r["interrupted"] else " (merge)" if r["kind"] == "merge" else ""
        click.echo(f"{_when(r['started_at'])}  {r['verdict_label']:16} {r['blockers']:>5} {r['warnings']:>5} | "
                   f"{c.get('fail', 0):>4} {c.get('error', 0):>5} {c.get('warn', 0):>4} {c.get('waived', 0):>6} "
                   f"{c.get('pass', 0):>4} | {r['run_id']}{flag}: {_change_text(r['changes'])}")
    latest = data["runs"][-1]["changes"] if data["runs"] else None
    if latest:
        click.echo("")
        click.echo(f"The last run against {latest['since_run_id']}:")
        for key, title in (("new_blockers", "new blockers"), ("new_problems", "new problems"), ("resolved", "resolved"),
                           ("not_rechecked", "not re-checked")):
            for k in latest[key]:
                click.echo(f"  {title}: {k}")
        for m in latest["moved"]:
            for n, v in m["values"].items():
                click.echo(f"  moved: {m['key']} {n}: {format_value(v['old'])} -> {format_value(v['new'])} "
                           f"({format_delta(v['delta'])})")
