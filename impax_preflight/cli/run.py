"""`run` (the catalog against a site) and `demo` (the same on the embedded demo site)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..report.writers import DEFAULT_FORMATS as _FORMATS
from ..vocabulary import EXIT_USAGE
from .common import (
    ask_prompts,
    check_formats_or_fail,
    check_inventory_or_fail,
    check_selection_or_fail,
    console,
    db_window_or_fail,
    fail,
    history_or_fail,
    load_inventory_or_fail,
    load_plugins_or_fail,
    load_waivers_or_fail,
    plugin_options,
)
from .progress import Progress, summary

#: the default of --format: the built-in reporters (writers.py imports no renderer, --help stays light)
DEFAULT_FORMATS = ",".join(_FORMATS)


def format_list(formats: str) -> list[str]:
    return [f.strip() for f in formats.split(",") if f.strip()]


@click.command()
@click.argument("inventory", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", "out_dir", default="preflight-out", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the reports and results.jsonl.")
@click.option("--format", "formats", default=DEFAULT_FORMATS, show_default=True, help="Comma-separated report formats.")
@click.option("--only", multiple=True, help="Run only checks whose id matches this glob (repeatable).")
@click.option("--skip", multiple=True, help="Skip checks whose id matches this glob (repeatable).")
@click.option("--host", "hosts", multiple=True, metavar="GLOB",
              help="Check only hosts whose name matches (repeatable); site checks are then not run.")
@click.option("-j", "--jobs", default=32, show_default=True, type=click.IntRange(1, 256),
              help="Checks run at once across the site (each host and database also has its own session limit).")
@click.option("--timeout", "check_timeout", type=click.FloatRange(0.1, 86400),
              help="Per-check timeout in seconds (default: inventory threshold).")
@click.option("--db-window", metavar="HH:MM-HH:MM",
              help="Full-table database scans start only inside these hours (e.g. 20:00-06:00; replaces "
                   "[site.database_window] hours); outside, their checks are errors saying when the window opens.")
@click.option("--waivers", type=click.Path(exists=True, dir_okay=False), help="Waivers file (TOML or YAML).")
@click.option("--bundle", "bundles", multiple=True, metavar="HOST=PATH", help="Answer HOST's commands from a collected bundle.")
@click.option("--baseline", type=click.Path(exists=True, dir_okay=False), help="A previous report.json: the report shows what changed.")
@click.option("--progress/--no-progress", default=None, help="Live progress (default: on a terminal).")
@click.option("--history", "history_path", type=click.Path(dir_okay=False),
              help="Record the run in this history store (default: [site.history] path, else the user's data folder).")
@click.option("--no-history", is_flag=True, help="Do not record the run (the report then has no trends).")
@plugin_options
def run(inventory, out_dir, formats, only, skip, hosts, jobs, check_timeout, db_window, waivers, bundles, baseline, progress,
        history_path, no_history, plugins_dirs, checks_dirs, disable):
    """Run the check catalog against the site in INVENTORY and write the reports."""
    inv = load_inventory_or_fail(inventory)
    plugins = load_plugins_or_fail(plugins_dirs, checks_dirs, disable, warn=False)  # the summary lists them
    check_inventory_or_fail(inv, plugins)
    check_selection_or_fail(inv, plugins, only, skip, hosts)
    store = history_or_fail(inv, history_path, no_history)
    bundle_map = {}
    for b in bundles:
        name, sep, path = b.partition("=")
        if not sep or not name or not path:
            fail(f"error: --bundle expects HOST=PATH, got {b!r}")
        bundle_map[name] = path
    waiver_list = load_waivers_or_fail(waivers) if waivers else None
    old_report = None
    if baseline:
        from ..report.json import ReportFileError, read_report_file

        try:
            old_report = read_report_file(baseline)
        except ReportFileError as exc:
            fail(f"error: --baseline: {exc}")
    window = db_window_or_fail(inv, db_window)
    report = execute(inv, plugins, out_dir, format_list(formats), baseline=old_report, progress=progress, only=only, skip=skip,
                     hosts=hosts, jobs=jobs, check_timeout_s=check_timeout, waivers=waiver_list, bundles=bundle_map,
                     db_window=window, history=store)
    sys.exit(report.exit_code)


def execute(inv, plugins, out_dir, fmt_list, *, baseline=None, progress=None, quiet_findings=False, history=None,
            **run_options):
    """Run with a progress display, record it in the history and add the baseline diff (both before
    the run-finished hook, so its observers — the mail — see the trends and the changes), write the
    reports, print the summary. An unknown format is refused before the run (and before any
    password is asked), not after it."""
    from ..report.writers import ReportWriteError, write_reports
    from ..runner import run_preflight

    check_formats_or_fail(plugins, fmt_list)
    ask_prompts(inv)

    def finishing(report):
        if history is not None:
            from ..history import record_run

            report = record_run(report, history)
        if baseline is not None:
            from ..report.diff import diff_reports

            report.baseline = diff_reports(baseline, report)
        return report

    from ..interrupts import first_only, held

    interactive = sys.stdout.isatty() if progress is None else progress
    out = console()
    # the first Ctrl-C stops the run; a second one must not cost the partial report
    with first_only("writing the partial report"):
        with Progress(out, interactive, quiet_findings) as prog:
            try:
                report = run_preflight(inv, plugins=plugins, out_dir=out_dir, progress=prog, finishing=finishing, **run_options)
            except ValueError as exc:
                fail(f"error: {exc}")
        # report.json first: it is what a later `report`, `diff` or `--baseline` needs; Ctrl-C waits
        try:
            with held("writing the reports"):
                ordered = ["json"] + [f for f in fmt_list if f != "json"] if "json" in fmt_list else fmt_list
                written = write_reports(report, out_dir, ordered, plugins)
            unwritten = {}
        except ReportWriteError as exc:
            written, unwritten = exc.written, exc.failed
        except OSError as exc:  # the output folder itself
            written, unwritten = {}, {"all": f"{type(exc).__name__}: {exc}"}
    summary(out, report, written, Path(out_dir) / "results.jsonl")
    if unwritten:  # the verdict is printed above; the missing report is a failure of the run, not a verdict
        for fmt, why in unwritten.items():
            click.echo(f"error: the {fmt} report could not be written: {why}", err=True)
        sys.exit(EXIT_USAGE)
    return report


@click.command()
@click.argument("directory", default="impax-preflight-demo", type=click.Path(file_okay=False))
@click.option("--format", "formats", default=DEFAULT_FORMATS, show_default=True, help="Comma-separated report formats.")
@click.option("--with-plugins", is_flag=True, help="Also run installed plugins' checks (their data is not in the demo site).")
def demo(directory, formats, with_plugins):
    """Build the embedded demo site in DIRECTORY and run the whole catalog against it (no servers needed)."""
    from ..demo import build_demo

    out = console()
    inv_path = build_demo(directory)
    out.print(f"Demo site built in {Path(directory).resolve()}: inventory {inv_path.name}, SQLite IMPAX database, "
              "bundles of Solaris and Windows command outputs.")
    inv = load_inventory_or_fail(str(inv_path))
    plugins = load_plugins_or_fail(entry_points=with_plugins, warn=False)  # the summary lists them
    waivers_path = Path(directory) / "waivers.toml"
    waivers = load_waivers_or_fail(str(waivers_path)) if waivers_path.exists() else None
    from ..history import HistoryStore

    # the demo keeps its own history: run it twice to see trends
    execute(inv, plugins, str(Path(directory) / "report"), format_list(formats), progress=False, quiet_findings=True,
            waivers=waivers, history=HistoryStore(Path(directory) / "history.sqlite"))
    out.print("\nThe demo site has seeded defects, so NO-GO is the expected verdict. Open the HTML report above.")
    sys.exit(0)
