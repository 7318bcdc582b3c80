"""What a run shows on the terminal: a live progress bar (or one plain line per finding when not
on a terminal), then the verdict, the blockers and where the reports are.

Checks never print: this is the one place a running check's outcome reaches the screen.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

_STATUS_WORD = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "error": "ERROR", "skipped": "SKIP", "waived": "WAIVED"}


class Progress:
    """Rich progress bar on a terminal; plain lines otherwise."""

    def __init__(self, console, interactive: bool, quiet: bool):
        self.console, self.interactive, self.quiet = console, interactive, quiet
        self._bar = None
        self._last_said: dict[tuple[str, str], float] = {}

    def __enter__(self):
        if self.interactive:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(TextColumn("[bold]checks"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
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
            # a long check (a paced DICOM reconciliation, a table scan) says how far it is
            line = f"{data['check_id']} @ {data['target']}: {data['message']}"
            if self._bar is not None:
                self._bar.update(self._task, description=line)
            elif not self.quiet:
                key, now = (data["check_id"], data["target"]), time.monotonic()
                last = data.get("total") is not None and data.get("done") == data.get("total")
                if last or now - self._last_said.get(key, float("-inf")) >= 30:
                    self._last_said[key] = now  # a log, not a flood: one line per check every 30 s
                    click.echo(f"...    {line}")
        elif event == "finding":
            f = data["finding"]
            if self._bar is not None:
                if f.status.value in ("fail", "error"):
                    self._bar.console.print(finding_line(f), markup=False)
            elif not self.quiet:
                click.echo(finding_line(f))


def finding_line(f) -> str:
    subject = f" [{f.subject}]" if f.subject else ""
    return f"{_STATUS_WORD[f.status.value]:<6} {f.severity.value:<7} {f.check_id} @ {f.target}{subject}: {f.message}"


def short(text: str, limit: int = 220) -> str:
    """One line for the terminal; the reports carry the whole message."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def summary(console, report, written: dict, jsonl: Path) -> None:
    """The verdict, the counts, what blocks the upgrade, warnings and the files written."""
    from rich.markup import escape

    counts = report.counts()
    style = {"GO": "bold green", "GO_WITH_WARNINGS": "bold yellow", "NO_GO": "bold red"}[report.verdict.value]
    console.print()
    console.print(f"Verdict for {escape(report.site)}: [{style}]{report.verdict.label}[/]"
                  + (" (interrupted: partial run)" if report.interrupted else ""))
    console.print("  " + ", ".join(f"{v} {k}" for k, v in counts.items() if v))
    blockers = report.blockers()
    if blockers:
        console.print(f"[bold]What blocks the upgrade ({len(blockers)}):[/]")
        for f in blockers:
            console.print(f"  - {f.check_id} @ {f.target}{' [' + f.subject + ']' if f.subject else ''}: {short(f.message)}",
                          markup=False)
    for w in report.warnings:
        console.print(f"[yellow]warning:[/] {escape(w)}")
    for w in report.expired_waivers:
        console.print(f"[yellow]warning:[/] expired waiver ignored: {escape(w.match)} (expired {w.expires}, "
                      f"approved by {escape(w.approved_by)})")
    for fmt, path in written.items():
        console.print(f"  {fmt:<9} {path}")
    if jsonl.exists():
        console.print(f"  {'findings':<9} {jsonl}")
    if report.history is not None:
        n = len(report.history.runs)
        console.print(f"  {'history':<9} {report.history.store} ({n} run{'s' if n != 1 else ''} of this site; "
                      "`impax-preflight history` lists them)", markup=False)
