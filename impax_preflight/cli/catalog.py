"""`checks` (the catalog) and `plugins` (what is installed and whether it loaded)."""

from __future__ import annotations

import json

import click

from ..vocabulary import SEVERITY_NAMES, TARGET_KINDS
from .common import console, load_plugins_or_fail, plugin_options


@click.command("checks")
@click.argument("patterns", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--markdown", "as_markdown", is_flag=True, help="A Markdown table (docs/catalog.md is made with it).")
@click.option("--severity", type=click.Choice(SEVERITY_NAMES), help="Only this severity.")
@click.option("--target", type=click.Choice(TARGET_KINDS), help="Only this target kind.")
@plugin_options
def checks_cmd(patterns, as_json, as_markdown, severity, target, plugins_dirs, checks_dirs, disable):
    """List the check catalog (optionally only ids matching PATTERNS globs)."""
    import fnmatch

    plugins = load_plugins_or_fail(plugins_dirs, checks_dirs, disable)
    infos = []
    for cid, c in sorted(plugins.checks().items()):
        if patterns and not any(fnmatch.fnmatchcase(cid, p) for p in patterns):
            continue
        if severity and c.severity.value != severity:
            continue
        if target and c.target != target:
            continue
        infos.append(c.info(plugins.check_provider(cid)))
    if as_json:
        click.echo(json.dumps([i.model_dump(mode="json") for i in infos], indent=2))
        return
    if as_markdown:
        from ..report.catalog import catalog_markdown

        click.echo(catalog_markdown(infos), nl=False)
        return
    from rich.table import Table

    table = Table(title=f"{len(infos)} checks", show_lines=False)
    for col in ("id", "severity", "target", "title", "guide section", "provider"):
        table.add_column(col, overflow="fold")
    for i in infos:
        table.add_row(i.id, i.severity.value, i.target, i.title, i.guide or "", (i.provider or "").replace("impax_preflight.", ""))
    console().print(table)


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@plugin_options
def plugins_cmd(as_json, plugins_dirs, checks_dirs, disable):
    """Show each plugin: name, version, status (active/disabled/broken), hooks and checks."""
    plugins = load_plugins_or_fail(plugins_dirs, checks_dirs, disable)
    if as_json:
        click.echo(json.dumps([p.model_dump(mode="json") for p in plugins.plugins], indent=2))
        return
    from rich.table import Table

    table = Table(title="plugins")
    for col in ("name", "version", "status", "hooks", "checks"):
        table.add_column(col, overflow="fold")
    for p in plugins.plugins:
        status = p.status if not p.error else f"{p.status}: {p.error}"
        table.add_row(p.name, p.version or "", status, ", ".join(h.replace("impax_", "") for h in p.hooks),
                      str(len(p.checks)) if p.checks else "")
    console().print(table)
