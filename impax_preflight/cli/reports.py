"""Commands on reports already written: `report` (re-render or merge), `diff`, `schema`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..vocabulary import EXIT_USAGE
from .common import check_formats_or_fail, console, history_or_fail, load_plugins_or_fail, usage_error
from .run import DEFAULT_FORMATS, format_list


def _load(paths):
    """Load report.json files; a bad one is a usage error naming the file, where and what (exit 3)."""
    from ..report.json import ReportFileError, read_report_file

    out = []
    for p in paths:
        try:
            out.append(read_report_file(p))
        except ReportFileError as exc:
            raise usage_error(click.ClickException(str(exc))) from None
    return out


@click.command("report")
@click.argument("reports", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="folder to write the report files into (created if missing)")
@click.option("--format", "formats", default=DEFAULT_FORMATS, show_default=True,
              help="comma-separated output formats (any registered reporter)")
@click.option("--baseline", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="a previous report.json: add a 'changes since the baseline run' section")
@click.option("--history", "history_path", type=click.Path(dir_okay=False), default=None,
              help="history store to record the runs and the merge in (default: the user's data folder)")
@click.option("--no-history", is_flag=True, help="record nothing (a re-rendered run keeps the trends it has)")
def report_cmd(reports, out_dir, formats, baseline, history_path, no_history):
    """Re-render a run's report.json, or merge several site runs into one cluster report.

    With several REPORTS (e.g. each hospital and the DR site) the result is grouped by site and
    by stage of the staged upgrade (DR -> BK -> Prod), each stage with its own verdict.
    Exit code 0 when the reports were written, 3 when an input is unusable.
    """
    from ..history import record_report
    from ..report.diff import diff_reports
    from ..report.merge import MergeError, merge_reports
    from ..report.writers import ReportWriteError, write_reports

    store = history_or_fail(None, history_path, no_history)
    runs = _load(reports)
    try:
        merged = merge_reports(runs)
    except MergeError as exc:
        raise usage_error(click.ClickException(str(exc))) from None
    if baseline is not None:
        merged = merged.model_copy(update={"baseline": diff_reports(_load([baseline])[0], merged)})
    # everything that can refuse the command comes before the history records anything
    plugins = load_plugins_or_fail(catalog=False)
    fmt_list = format_list(formats)
    check_formats_or_fail(plugins, fmt_list)
    merged = record_report(merged, runs, store)
    unwritten: dict[str, str] = {}
    try:
        written = write_reports(merged, out_dir, fmt_list, plugins)
    except ReportWriteError as exc:
        written, unwritten = exc.written, exc.failed
    except OSError as exc:  # the output folder itself
        raise usage_error(click.ClickException(f"cannot write into {out_dir}: {exc}")) from None
    what = f"{len(runs)} site runs merged" if len(runs) > 1 else f"run {merged.run_id}"
    click.echo(f"{merged.verdict.label} — {merged.site} ({what})")
    for fmt, path in written.items():
        click.echo(f"  {fmt:9} {path}")
    for fmt, why in unwritten.items():
        click.echo(f"error: the {fmt} report could not be written: {why}", err=True)
    if unwritten:
        sys.exit(EXIT_USAGE)


@click.command("diff")
@click.argument("old", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print the diff as JSON")
def diff_cmd(old, new, as_json):
    """What changed between two runs: new blockers, resolved, still failing, values that moved.

    OLD is the baseline report.json, NEW the later one. Exit code 0, or 2 when NEW has blockers
    that OLD did not have (3 when an input is unusable).
    """
    from ..report.diff import diff_exit_code, diff_reports, diff_to_text
    from ..secrets import masker

    a, b = _load([old, new])
    d = masker.mask_obj(diff_reports(a, b))
    if as_json:
        click.echo(json.dumps(d, indent=2, ensure_ascii=False))
    else:
        from rich.text import Text

        out = console()
        for line in diff_to_text(d).splitlines():
            style = None
            if line.startswith("New blockers:") and d["new_blockers"]:
                style = "bold red"
            elif line.startswith("Resolved:") and d["resolved"]:
                style = "green"
            elif line.startswith("Verdict:"):
                style = "bold"
            out.print(Text(line, style=style or ""))
    sys.exit(diff_exit_code(d))


@click.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
def schema(output):
    """Print the JSON Schema of report.json (the results contract)."""
    from ..report.json import json_schema

    text = json.dumps(json_schema(), indent=2)
    if output:
        Path(output).write_text(text + "\n", encoding="utf-8")
    else:
        click.echo(text)
