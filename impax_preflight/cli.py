"""The command line: run, checks, plugins, validate, demo, schema (+ commands added by plugins).

Exit codes: 0 GO, 1 GO with warnings, 2 NO-GO, 3 the run could not start (bad inventory, bad
arguments, inconsistent plugins).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .model import EXIT_USAGE

DEFAULT_FORMATS = "html,json,markdown,junit"


def _plugin_options(f):
    f = click.option("--plugins-dir", "plugins_dirs", multiple=True, type=click.Path(file_okay=False),
                     help="Folder of plugin .py files to load (repeatable).")(f)
    f = click.option("--checks-dir", "checks_dirs", multiple=True, type=click.Path(file_okay=False),
                     help="Folder of declarative check .toml files (repeatable).")(f)
    f = click.option("--disable-plugin", "disable", multiple=True,
                     help="Plugin name to disable (repeatable; also IMPAX_PREFLIGHT_DISABLE_PLUGINS=a,b).")(f)
    return f


def _fail(message: str) -> "None":
    click.echo(message, err=True)
    sys.exit(EXIT_USAGE)


def _load_plugins(plugins_dirs=(), checks_dirs=(), disable=()):
    from .declarative import DeclarativeError
    from .plugins import PluginError, load_plugins

    try:
        return load_plugins(plugins_dirs=plugins_dirs, disable=disable, checks_dirs=checks_dirs)
    except (PluginError, DeclarativeError) as exc:
        _fail(f"error: {exc}")


def _load_inventory(path: str):
    from .inventory import InventoryError, load_inventory

    try:
        return load_inventory(path)
    except InventoryError as exc:
        _fail(f"error: the inventory is not valid:\n{exc}")


def _console(err: bool = False):
    from rich.console import Console

    return Console(stderr=err, highlight=False, soft_wrap=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="impax-preflight")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-v info, -vv debug).")
@click.option("--log-file", type=click.Path(dir_okay=False), help="Also write the log to this file.")
def cli(verbose: int, log_file: str | None) -> None:
    """Pre-upgrade readiness checks for Agfa IMPAX 6.2+ -> 6.5.1 clusters.

    Reads a site inventory, checks every server and database read-only, and says GO or NO-GO with
    evidence. Start with `impax-preflight demo`.
    """
    _setup_logging(verbose, log_file)


def _setup_logging(verbose: int, log_file: str | None) -> None:
    """Every handler masks secrets; paramiko's and the drivers' loggers go through the same filter."""
    import logging

    from .secrets import MaskingFilter

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


@cli.command()
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
@click.option("--timeout", "check_timeout", type=click.FloatRange(0.1), help="Per-check timeout in seconds (default: inventory threshold).")
@click.option("--waivers", type=click.Path(exists=True, dir_okay=False), help="Waivers file (TOML or YAML).")
@click.option("--bundle", "bundles", multiple=True, metavar="HOST=PATH", help="Answer HOST's commands from a collected bundle.")
@click.option("--baseline", type=click.Path(exists=True, dir_okay=False), help="A previous report.json: the report shows what changed.")
@click.option("--progress/--no-progress", default=None, help="Live progress (default: on a terminal).")
@_plugin_options
def run(inventory, out_dir, formats, only, skip, hosts, jobs, check_timeout, waivers, bundles, baseline, progress,
        plugins_dirs, checks_dirs, disable):
    """Run the check catalog against the site in INVENTORY and write the reports."""
    inv = _load_inventory(inventory)
    plugins = _load_plugins(plugins_dirs, checks_dirs, disable)
    fmt_list = [f.strip() for f in formats.split(",") if f.strip()]
    unknown = [f for f in fmt_list if f not in plugins.registry.reporters]
    if unknown:  # before the run, not after it
        _fail(f"error: unknown report format(s) {', '.join(unknown)}; available: {', '.join(sorted(plugins.registry.reporters))}")
    bundle_map = {}
    for b in bundles:
        name, sep, path = b.partition("=")
        if not sep or not name or not path:
            _fail(f"error: --bundle expects HOST=PATH, got {b!r}")
        bundle_map[name] = path
    waiver_list = _load_waivers(waivers) if waivers else None
    old_report = None
    if baseline:
        from .report.json import load_report

        try:
            old_report = load_report(baseline)
        except (OSError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
            _fail(f"error: --baseline {baseline} is not a readable report.json: {str(exc).splitlines()[0]}")
    _ask_prompts(inv)
    report = _execute(inv, plugins, out_dir, fmt_list, baseline=old_report, progress=progress, only=only, skip=skip,
                      hosts=hosts, jobs=jobs, check_timeout_s=check_timeout, waivers=waiver_list, bundles=bundle_map)
    sys.exit(report.exit_code)


def _load_waivers(path: str):
    from .runner import load_waivers

    try:
        return load_waivers(path)
    except ValueError as exc:
        _fail(f"error: {exc}")


def _execute(inv, plugins, out_dir, fmt_list, *, baseline=None, progress=None, quiet_findings=False, **run_options):
    """Run with a progress display, add the baseline diff, write the reports, print the summary."""
    from .runner import run_preflight, write_reports

    interactive = sys.stdout.isatty() if progress is None else progress
    console = _console()
    with _Progress(console, interactive, quiet_findings) as prog:
        try:
            report = run_preflight(inv, plugins=plugins, out_dir=out_dir, progress=prog, **run_options)
        except ValueError as exc:
            _fail(f"error: {exc}")
    if baseline is not None:
        from .report.diff import diff_reports

        report.baseline = diff_reports(baseline, report)
    written = write_reports(report, out_dir, fmt_list, plugins)
    _summary(console, report, written, Path(out_dir) / "results.jsonl")
    return report


def _ask_prompts(inv) -> None:
    """prompt: secrets are asked once, up front, not from worker threads in the middle of a run."""
    from .secrets import SecretError

    for where, ref in inv.secret_refs():
        if ref.scheme == "prompt":
            try:
                ref.resolve(prompt_label=f"password for {where}")
            except SecretError as exc:
                _fail(f"error: {exc}")


class _Progress:
    """Rich progress bar on a terminal; plain lines otherwise. Renderers own output, checks never print."""

    def __init__(self, console, interactive: bool, quiet: bool):
        self.console, self.interactive, self.quiet = console, interactive, quiet
        self._bar = None
        self._last_said: dict[tuple[str, str], float] = {}

    def __enter__(self):
        if self.interactive:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("[bold]checks"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                 TextColumn("{task.description}"), console=self.console, transient=True)
            self._bar.__enter__()
            self._task = self._bar.add_task("", total=None)
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def __call__(self, event: str, **data) -> None:
        if event == "plan" and self._bar is not None:
            self._bar.update(self._task, total=data["total"])
        elif event == "done" and self._bar is not None:
            self._bar.update(self._task, advance=1, description=f"{data['check_id']} @ {data['target']}")
        elif event == "check_progress":
            # a long check (a paced DICOM reconciliation) says how far it is
            line = f"{data['check_id']} @ {data['target']}: {data['message']}"
            if self._bar is not None:
                self._bar.update(self._task, description=line)
            elif not self.quiet:
                import time

                key, now = (data["check_id"], data["target"]), time.monotonic()
                last = data.get("total") is not None and data.get("done") == data.get("total")
                if last or now - self._last_said.get(key, float("-inf")) >= 30:
                    self._last_said[key] = now  # a log, not a flood: one line per check every 30 s
                    click.echo(f"...    {line}")
        elif event == "finding":
            f = data["finding"]
            if self._bar is not None:
                if f.status.value in ("fail", "error"):
                    self._bar.console.print(_finding_line(f), markup=False)
            elif not self.quiet:
                click.echo(_finding_line(f))


_STATUS_WORD = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "error": "ERROR", "skipped": "SKIP", "waived": "WAIVED"}


def _finding_line(f) -> str:
    subject = f" [{f.subject}]" if f.subject else ""
    return f"{_STATUS_WORD[f.status.value]:<6} {f.severity.value:<7} {f.check_id} @ {f.target}{subject}: {f.message}"


def _short(text: str, limit: int = 220) -> str:
    """One line for the terminal; the reports carry the whole message."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _summary(console, report, written: dict, jsonl: Path) -> None:
    counts = report.counts()
    style = {"GO": "bold green", "GO_WITH_WARNINGS": "bold yellow", "NO_GO": "bold red"}[report.verdict.value]
    console.print()
    console.print(f"Verdict for {report.site}: [{style}]{report.verdict.label}[/]"
                  + (" (interrupted: partial run)" if report.interrupted else ""))
    console.print("  " + ", ".join(f"{v} {k}" for k, v in counts.items() if v))
    blockers = report.blockers()
    if blockers:
        console.print(f"[bold]What blocks the upgrade ({len(blockers)}):[/]")
        for f in blockers:
            console.print(f"  - {f.check_id} @ {f.target}{' [' + f.subject + ']' if f.subject else ''}: {_short(f.message)}",
                          markup=False)
    from rich.markup import escape

    for w in report.warnings:
        console.print(f"[yellow]warning:[/] {escape(w)}")
    for w in report.expired_waivers:
        console.print(f"[yellow]warning:[/] expired waiver ignored: {escape(w.match)} (expired {w.expires}, "
                      f"approved by {escape(w.approved_by)})")
    for fmt, path in written.items():
        console.print(f"  {fmt:<9} {path}")
    if jsonl.exists():
        console.print(f"  {'findings':<9} {jsonl}")


@cli.command("checks")
@click.argument("patterns", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--markdown", "as_markdown", is_flag=True, help="A Markdown table (docs/catalog.md is made with it).")
@click.option("--severity", type=click.Choice(["blocker", "warning", "info"]), help="Only this severity.")
@click.option("--target", type=click.Choice(["host", "database", "site"]), help="Only this target kind.")
@_plugin_options
def checks_cmd(patterns, as_json, as_markdown, severity, target, plugins_dirs, checks_dirs, disable):
    """List the check catalog (optionally only ids matching PATTERNS globs)."""
    import fnmatch

    plugins = _load_plugins(plugins_dirs, checks_dirs, disable)
    reg = plugins.registry
    infos = []
    for cid in sorted(reg.checks):
        c = reg.checks[cid]
        if patterns and not any(fnmatch.fnmatchcase(cid, p) for p in patterns):
            continue
        if severity and c.severity.value != severity:
            continue
        if target and c.target != target:
            continue
        infos.append(c.info(reg.check_providers[cid]))
    if as_json:
        click.echo(json.dumps([i.model_dump(mode="json") for i in infos], indent=2))
        return
    if as_markdown:
        click.echo(catalog_markdown(infos), nl=False)
        return
    from rich.table import Table

    table = Table(title=f"{len(infos)} checks", show_lines=False)
    for col in ("id", "severity", "target", "title", "guide section", "provider"):
        table.add_column(col, overflow="fold")
    for i in infos:
        table.add_row(i.id, i.severity.value, i.target, i.title, i.guide or "", (i.provider or "").replace("impax_preflight.", ""))
    _console().print(table)


def catalog_markdown(infos) -> str:
    """The catalog as Markdown: one row per check, with where it applies and its guide section."""

    def cell(text) -> str:
        return str(text or "").replace("|", "\\|").replace("\n", " ")

    lines = [
        "# Check catalog",
        "",
        "Generated by `impax-preflight checks --markdown` (a test keeps it in step with the code).",
        "Waive, skip and diff by these ids.",
        "",
        "| id | severity | target | applies to | title | guide section |",
        "|---|---|---|---|---|---|",
    ]
    for i in infos:
        applies = "; ".join(f"{k}: {', '.join(v) if isinstance(v, list) else v}" for k, v in i.applies_to.items())
        lines.append(f"| `{i.id}` | {i.severity.value} | {i.target} | {cell(applies)} | {cell(i.title)} | {cell(i.guide)} |")
    return "\n".join(lines) + "\n"


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_plugin_options
def plugins_cmd(as_json, plugins_dirs, checks_dirs, disable):
    """Show each plugin: name, version, status (active/disabled/broken), hooks and checks."""
    plugins = _load_plugins(plugins_dirs, checks_dirs, disable)
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
    from rich.markup import escape

    console = _console()
    console.print(table)
    for w in plugins.warnings:
        console.print(f"[yellow]warning:[/] {escape(w)}")


@cli.command()
@click.argument("inventory", type=click.Path(exists=True, dir_okay=False))
@click.option("--strict", is_flag=True, help="Exit 3 when something would stop a connection (unset variable, missing file).")
def validate(inventory, strict):
    """Check an inventory file, and what the run will need, without connecting to anything."""
    from .inventory import connection_problems

    inv = _load_inventory(inventory)
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


@cli.command()
@click.argument("directory", default="impax-preflight-demo", type=click.Path(file_okay=False))
@click.option("--format", "formats", default=DEFAULT_FORMATS, show_default=True, help="Comma-separated report formats.")
@click.option("--with-plugins", is_flag=True, help="Also run installed plugins' checks (their data is not in the demo site).")
def demo(directory, formats, with_plugins):
    """Build the embedded demo site in DIRECTORY and run the whole catalog against it (no servers needed)."""
    from .demo import build_demo

    console = _console()
    inv_path = build_demo(directory)
    console.print(f"Demo site built in {Path(directory).resolve()}: inventory {inv_path.name}, SQLite IMPAX database, "
                  "bundles of Solaris and Windows command outputs.")
    inv = _load_inventory(str(inv_path))
    if with_plugins:
        plugins = _load_plugins()
    else:
        from .plugins import load_plugins

        plugins = load_plugins(entry_points=False)
    fmt_list = [f.strip() for f in formats.split(",") if f.strip()]
    waivers_path = Path(directory) / "waivers.toml"
    waivers = _load_waivers(str(waivers_path)) if waivers_path.exists() else None
    _execute(inv, plugins, str(Path(directory) / "report"), fmt_list, progress=False, quiet_findings=True, waivers=waivers)
    console.print("\nThe demo site has seeded defects, so NO-GO is the expected verdict. Open the HTML report above.")
    sys.exit(0)


@cli.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
def schema(output):
    """Print the JSON Schema of report.json (the results contract)."""
    from .report.json import json_schema

    text = json.dumps(json_schema(), indent=2)
    if output:
        Path(output).write_text(text + "\n", encoding="utf-8")
    else:
        click.echo(text)


def _add_plugin_commands() -> None:
    from .plugins import get_plugin_manager

    try:
        # the built-in catalog adds no command: leave it out so --help stays instant
        pm, _, _ = get_plugin_manager(builtin_checks=False)
        pm.hook.impax_register_commands(cli=cli)
    except Exception as exc:  # noqa: BLE001 - a broken plugin must not take the CLI down
        click.echo(f"warning: plugin commands could not be added: {exc}", err=True)


def main(argv: list[str] | None = None) -> None:
    _add_plugin_commands()
    try:
        rv = cli.main(args=argv, prog_name="impax-preflight", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
