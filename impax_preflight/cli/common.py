"""What the commands share: the plugin options; loading an inventory, plugins or waivers, and
refusing what a run would refuse (a bad inventory, a glob that matches nothing, an unknown report
format, a bad --db-window, --history with --no-history) with a clear error (exit code 3), before any
password is asked; the plugin warnings; the rich console; the log set-up.

Only click is imported at module level: everything else loads inside the functions, so that
``impax-preflight --help`` stays instant.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from ..vocabulary import EXIT_USAGE


def plugin_options(f):
    """--plugins-dir, --checks-dir, --disable-plugin: every command that loads plugins takes them."""
    f = click.option("--plugins-dir", "plugins_dirs", multiple=True, type=click.Path(file_okay=False),
                     help="Folder of plugin .py files to load (repeatable).")(f)
    f = click.option("--checks-dir", "checks_dirs", multiple=True, type=click.Path(file_okay=False),
                     help="Folder of declarative check .toml files (repeatable).")(f)
    f = click.option("--disable-plugin", "disable", multiple=True,
                     help="Plugin name to disable (repeatable; also IMPAX_PREFLIGHT_DISABLE_PLUGINS=a,b).")(f)
    return f


def fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(EXIT_USAGE)


#: the plugin warnings main() showed when it added the installed plugins' commands: not repeated
_shown_at_start: set[str] = set()


def warn_plugins(plugins, *, at_start: bool = False) -> None:
    """The plugin set's warnings (a third-party plugin that did not load, built-in checks disabled)
    on stderr, whatever the output format: a catalog or a plan that lacks them must not look
    complete. Each is shown once, though main() and the command both load the installed plugins."""
    for w in plugins.warnings:
        if at_start:
            _shown_at_start.add(w)
        elif w in _shown_at_start:
            continue
        click.echo(f"warning: {w}", err=True)


def load_plugins_or_fail(plugins_dirs=(), checks_dirs=(), disable=(), *, entry_points: bool = True, catalog: bool = True,
                         warn: bool = True):
    """The plugin set, or exit 3 naming what is broken (a built-in or a named plugin that does not
    load, a malformed check file, a duplicate check id). `catalog=False` leaves the built-in checks
    out (for commands that only render reports). Its warnings go to stderr (`warn=False`: the
    caller shows them otherwise, as a run does among its run warnings)."""
    from ..api import load_plugins
    from ..declarative import DeclarativeError
    from ..plugins import PluginError

    try:
        plugins = load_plugins(plugins_dirs=plugins_dirs, disable=disable, checks_dirs=checks_dirs, entry_points=entry_points,
                               builtin_checks=catalog)
    except (PluginError, DeclarativeError) as exc:
        fail(f"error: {exc}")
    if warn:
        warn_plugins(plugins)
    return plugins


def load_inventory_or_fail(path: str):
    from ..inventory import InventoryError, load_inventory

    try:
        return load_inventory(path)
    except InventoryError as exc:
        fail(f"error: the inventory is not valid:\n{exc}")


def db_window_or_fail(inv, given: str | None):
    """The run's database window (--db-window HH:MM-HH:MM, else the inventory's, else None), or exit 3
    on a --db-window that does not parse."""
    from ..dbwindow import WindowError
    from ..runner import database_window

    try:
        return database_window(inv, given)
    except WindowError as exc:
        fail(f"error: --db-window: {exc}")


def history_or_fail(inv, path: str | None, off: bool):
    """The history store a run (or a `report`) records into, None with --no-history; exit 3 when both
    --history PATH and --no-history are given."""
    if path and off:
        fail("error: give either --history PATH or --no-history, not both")
    from ..history import open_history

    return open_history(inv, path, off)


def check_inventory_or_fail(inv, plugins) -> None:
    """Exit 3 naming file:line:field for what the run would trip over: settings of the wrong type,
    a transport no plugin provides."""
    from ..plan import inventory_problems

    problems = inventory_problems(inv, plugins)
    if problems:
        fail("error: the inventory is not valid:\n" + "\n".join(problems))


def check_selection_or_fail(inv, plugins, only=(), skip=(), hosts=()) -> None:
    """Exit 3 when an --only / --skip glob matches no check id or a --host glob no host: a typo must
    neither run (or plan) nothing nor leave nothing out, and is refused before any password is asked."""
    from ..plan import check_host_globs, check_selection_globs

    try:
        check_host_globs(inv, hosts)
        check_selection_globs(plugins.checks().values(), only, skip)
    except ValueError as exc:
        fail(f"error: {exc}")


def check_formats_or_fail(plugins, formats) -> None:
    """Exit 3 naming a report format no reporter writes, before anything runs or is recorded."""
    from ..report.writers import unknown_formats

    unknown = unknown_formats(plugins, formats)
    if unknown:
        fail(f"error: unknown report format(s) {', '.join(unknown)}; available: {', '.join(plugins.reporter_names())}")


def ask_prompts(inv) -> None:
    """prompt: secrets are asked once, up front, not from worker threads in the middle of a run."""
    from ..secrets import SecretError

    for where, ref in inv.secret_refs():
        if ref.scheme == "prompt":
            try:
                ref.resolve(prompt_label=f"password for {where}")
            except SecretError as exc:
                fail(f"error: {exc}")


def load_waivers_or_fail(path: str):
    from ..waivers import WaiverError, load_waivers

    try:
        return load_waivers(path)
    except WaiverError as exc:
        fail(f"error: {exc}")


def console(err: bool = False):
    from rich.console import Console

    return Console(stderr=err, highlight=False, soft_wrap=True)


def setup_logging(verbose: int, log_file: str | None) -> None:
    """Every handler masks secrets; paramiko's and the drivers' loggers go through the same filter."""
    import logging

    from ..secrets import MaskingFilter

    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    for h in handlers:
        h.addFilter(MaskingFilter())
        h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(level)


def usage_error(exc: click.ClickException) -> click.ClickException:
    """A ClickException exits 1 by default; the project's code for "could not start" is 3."""
    exc.exit_code = EXIT_USAGE
    return exc
