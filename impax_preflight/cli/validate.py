"""`validate`: an inventory, and what the run will need, checked without connecting to anything."""

from __future__ import annotations

import sys

import click

from ..vocabulary import EXIT_USAGE
from .common import check_inventory_or_fail, load_inventory_or_fail, load_plugins_or_fail, plugin_options


@click.command()
@click.argument("inventory", type=click.Path(exists=True, dir_okay=False))
@click.option("--strict", is_flag=True, help="Exit 3 when something would stop a connection (unset variable, missing file).")
@plugin_options
def validate(inventory, strict, plugins_dirs, checks_dirs, disable):
    """Check an inventory file, and what the run will need, without connecting to anything.

    Everything a run would refuse is refused here (exit 3, with the file, line and field): values out
    of range, versions, regexes, jump host and privilege syntax, ODBC options, the settings of the
    checks that declare them (the checks of --plugins-dir / --checks-dir included).
    """
    from ..inventory import connection_problems

    inv = load_inventory_or_fail(inventory)
    check_inventory_or_fail(inv, load_plugins_or_fail(plugins_dirs, checks_dirs, disable))
    n_db = sum(len(h.databases) for h in inv.hosts)
    click.echo(f"{inventory}: valid — site {inv.site.name!r} ({inv.site.platform}, IMPAX {inv.site.impax_version} -> "
               f"{inv.site.target_version}), {len(inv.hosts)} hosts, {n_db} databases")
    for where, ref in inv.secret_refs():
        if ref.is_plain:
            click.echo(f"warning: {where} holds a literal password (plain:); prefer env:, file:, keyring: or prompt:")
    problems = connection_problems(inv)
    for p in problems:
        click.echo(f"not ready: {p}")
    if problems:
        click.echo(f"{len(problems)} problem(s) would turn checks into errors; fix them before the run")
        if strict:
            sys.exit(EXIT_USAGE)
