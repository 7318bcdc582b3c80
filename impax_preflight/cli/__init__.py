"""The command line: every built-in command, gathered here, plus the commands plugins add.

Exit codes: 0 GO, 1 GO with warnings, 2 NO-GO, 3 the run could not start (bad inventory, bad
arguments, incomplete or inconsistent plugins), 130 interrupted before a report could be written.

Only click is imported to show ``--help``: the commands import what they need when they run.
"""

from __future__ import annotations

import sys

import click

from ..vocabulary import EXIT_INTERRUPTED, EXIT_USAGE
from .catalog import checks_cmd, plugins_cmd
from .collect import collect_cmd
from .common import setup_logging, warn_plugins
from .history import history_cmd
from .plan import plan_cmd
from .reports import diff_cmd, report_cmd, schema
from .run import demo, run
from .validate import validate


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="impax-preflight")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-v info, -vv debug).")
@click.option("--log-file", type=click.Path(dir_okay=False), help="Also write the log to this file.")
def cli(verbose: int, log_file: str | None) -> None:
    """Pre-upgrade readiness checks for Agfa IMPAX 6.2+ -> 6.5.1 clusters.

    Reads a site inventory, checks every server and database read-only, and says GO or NO-GO with
    evidence. Start with `impax-preflight demo`.
    """
    setup_logging(verbose, log_file)


for _command in (run, plan_cmd, checks_cmd, plugins_cmd, validate, collect_cmd, report_cmd, diff_cmd, history_cmd, demo, schema):
    cli.add_command(_command)


def _add_plugin_commands() -> None:
    """Commands that installed plugins add (`impax_register_commands`). Only entry points are
    loaded here, not the catalog, so that --help stays instant; a broken plugin is a warning."""
    from ..plugins import PluginSet

    try:
        plugins = PluginSet.for_commands()
    except Exception as exc:  # noqa: BLE001 - a broken plugin must not take the CLI down
        click.echo(f"warning: plugin commands could not be added: {exc}", err=True)
        return
    warn_plugins(plugins, at_start=True)  # once: the command that loads the plugins again does not repeat them
    plugins.call("impax_register_commands", on_error=lambda name, exc: click.echo(
        f"warning: plugin {name} could not add its commands: {type(exc).__name__}: {exc}", err=True), cli=cli)


def main(argv: list[str] | None = None) -> None:
    _add_plugin_commands()
    try:
        rv = cli.main(args=argv, prog_name="impax-preflight", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # noqa: BLE001 - a traceback shown to a user is a bug; exit 1 would read as a verdict
        _unexpected(exc)
        sys.exit(EXIT_USAGE)
    sys.exit(rv if isinstance(rv, int) else 0)


def _unexpected(exc: BaseException) -> None:
    """An error nothing else caught: one masked line on stderr (the traceback goes to the log at
    -vv), exit 3. Never exit 1, which means "GO with warnings"."""
    import logging
    import traceback

    from ..secrets import mask

    logging.getLogger("impax_preflight").debug("unexpected error:\n%s", mask("".join(traceback.format_exception(exc))))
    click.echo(mask(f"error: {type(exc).__name__}: {exc}") + "\n(this is a bug in impax-preflight or a plugin; run with -vv "
               "for the details, and report it)", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()
