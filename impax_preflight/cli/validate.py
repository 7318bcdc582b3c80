"""`validate`: an inventory, and what the run will need, checked without connecting to anything."""

from __future__ import annotations

import sys

import click

from ..vocabulary import EXIT_USAGE
from .common import load_inventory_or_fail


@click.command()
@click.argument("inventory", type=click.Path(exists=True, dir_okay=False))
@click.option("--strict", is_flag=True, help="Exit 3 when something would stop a connection (unset variable, missing file).")
def validate(inventory, strict):
    """Check an inventory file, and what the run will need, without connecting to anything."""
    from ..inventory import connection_problems

    inv = load_inventory_or_fail(inventory)
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
