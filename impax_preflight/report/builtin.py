"""Built-in reporters beyond JSON (html, markdown, junit) and the ``report`` / ``diff`` commands.

A built-in plugin like any other: it registers through `impax_register_reporters` and
`impax_register_commands`. Renderers and rich are imported inside the functions so that
``impax-preflight --help`` stays instant.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..hookspecs import hookimpl

DEFAULT_FORMATS = ("html", "markdown", "junit", "json")


def _html(report, out_dir):
    from .html import write_html

    return write_html(report, out_dir)


def _markdown(report, out_dir):
    from .markdown import write_markdown

    return write_markdown(report, out_dir)


def _junit(report, out_dir):
    from .junit import write_junit

    return write_junit(report, out_dir)


@hookimpl
def impax_register_reporters(register):
    register("html", _html)
    register("markdown", _markdown)
    register("junit", _junit)


def _load(paths):
    """Load report.json files; a bad file is a usage error naming the file (exit code 3)."""
    import click
    from pydantic import ValidationError

    from .json import load_report

    out = []
    for p in paths:
        try:
            out.append(load_report(p))
        except OSError as exc:
            raise click.ClickException(f"{p}: cannot read: {exc.strerror}") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first.get("loc", ()))
            raise click.ClickException(
                f"{p}: not an impax-preflight report.json ({exc.error_count()} problem(s); first at {where or 'top'}: "
                f"{first.get('msg')}). Give the report.json a run wrote."
            ) from None
        except ValueError as exc:
            raise click.ClickException(f"{p}: not valid JSON: {exc}") from None
    return out


def _usage_exit(exc):
    # ClickException exits 1 by default; the project's convention for "could not start" is 3
    from ..model import EXIT_USAGE

    exc.exit_code = EXIT_USAGE
    return exc


@hookimpl
def impax_register_commands(cli):
    import click

    @cli.command("report")
    @click.argument("reports", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
    @click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
                  help="folder to write the report files into (created if missing)")
    @click.option("--format", "formats", default=",".join(DEFAULT_FORMATS), show_default=True,
                  help="comma-separated output formats (any registered reporter)")
    @click.option("--baseline", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="a previous report.json: add a 'changes since the baseline run' section")
    # -- history (issue 16) --
    @click.option("--history", "history_path", type=click.Path(dir_okay=False), default=None,
                  help="history store to record the runs and the merge in (default: the user's data folder)")
    @click.option("--no-history", is_flag=True, help="record nothing (a re-rendered run keeps the trends it has)")
    def report_cmd(reports, out_dir, formats, baseline, history_path, no_history):
        """Re-render a run's report.json, or merge several site runs into one cluster report.

        With several REPORTS (e.g. each hospital and the DR site) the result is grouped by site and
        by stage of the staged upgrade (DR -> BK -> Prod), each stage with its own verdict.
        Exit code 0 when the reports were written, 3 when an input is unusable.
        """
        from ..runner import write_reports
        from .diff import diff_reports
        from .merge import MergeError, merge_reports

        try:
            runs = _load(reports)
            merged = merge_reports(runs)
            if baseline is not None:
                old = _load([baseline])[0]
                merged = merged.model_copy(update={"baseline": diff_reports(old, merged)})
        except click.ClickException as exc:
            raise _usage_exit(exc)
        except MergeError as exc:
            raise _usage_exit(click.ClickException(str(exc)))
        fmts = [f.strip() for f in formats.split(",") if f.strip()]
        from ..history import open_history, record_report  # -- history (issue 16) --

        merged = record_report(merged, runs, open_history(path=history_path, disabled=no_history))
        try:
            written = write_reports(merged, out_dir, fmts)
        except ValueError as exc:  # an unknown format: write_reports names it and the available ones
            raise _usage_exit(click.ClickException(str(exc)))
        what = f"{len(runs)} site runs merged" if len(runs) > 1 else f"run {merged.run_id}"
        click.echo(f"{merged.verdict.label} — {merged.site} ({what})")
        for fmt, path in written.items():
            click.echo(f"  {fmt:9} {path}")

    @cli.command("diff")
    @click.argument("old", type=click.Path(dir_okay=False, path_type=Path))
    @click.argument("new", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--json", "as_json", is_flag=True, help="print the diff as JSON")
    def diff_cmd(old, new, as_json):
        """What changed between two runs: new blockers, resolved, still failing, values that moved.

        OLD is the baseline report.json, NEW the later one. Exit code 0, or 2 when NEW has blockers
        that OLD did not have (3 when an input is unusable).
        """
        import json

        from ..secrets import masker
        from .diff import diff_exit_code, diff_reports, diff_to_text

        try:
            a, b = _load([old, new])
        except click.ClickException as exc:
            raise _usage_exit(exc)
        d = masker.mask_obj(diff_reports(a, b))
        if as_json:
            click.echo(json.dumps(d, indent=2, ensure_ascii=False))
        else:
            from rich.console import Console
            from rich.text import Text

            console = Console(highlight=False, soft_wrap=True)
            for line in diff_to_text(d).splitlines():
                style = None
                if line.startswith("New blockers:") and d["new_blockers"]:
                    style = "bold red"
                elif line.startswith("Resolved:") and d["resolved"]:
                    style = "green"
                elif line.startswith("Verdict:"):
                    style = "bold"
                console.print(Text(line, style=style or ""))
        sys.exit(diff_exit_code(d))
