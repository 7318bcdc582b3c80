"""What a run shows on the terminal: a live progress bar (or one plain line per finding when not
on a terminal), then the verdict, the blockers and where the reports are.

Checks never print: this is the one place a running check's outcome reaches the screen.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from ..report.text import blocker_line, finding_label

_STATUS_WORD = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "error": "ERROR", "skipped": "SKIP", "waived": "WAIVED"}


#: a plain (non-terminal) display reports a running scan this often, in seconds, and only scans that
#: take (or are estimated to take) at least PLAIN_SCAN_MIN_S: a log shows the long ones, not every table
PLAIN_SCAN_EVERY_S = 60
PLAIN_SCAN_MIN_S = 10


class Progress:
    """Rich progress bar on a terminal (the checks, and one line per running database scan); plain
    lines otherwise."""

    def __init__(self, console, interactive: bool, quiet: bool):
        self.console, self.interactive, self.quiet = console, interactive, quiet
        self._bar = None
        self._last_said: dict[tuple[str, str], float] = {}
        self._scans: dict[tuple[str, str], object] = {}
        self._said: dict[tuple[str, str], float] = {}

    def __enter__(self):
        if self.interactive:
            from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(TextColumn("[bold]{task.fields[label]}"), BarColumn(), TextColumn("{task.fields[count]}"),
                                     TimeElapsedColumn(), TextColumn("{task.description}"), console=self.console,
                                     transient=True)
            self._bar.__enter__()
            self._task = self._bar.add_task("", total=None, label="checks", count="")
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def __call__(self, event: str, **data) -> None:
        if event == "plan" and self._bar is not None:
            self._bar.update(self._task, total=data["total"], count=f"0/{data['total']}")
        elif event == "done" and self._bar is not None:
            self._bar.update(self._task, advance=1, description=f"{data['check_id']} @ {data['target']}")
            task = next(t for t in self._bar.tasks if t.id == self._task)
            self._bar.update(self._task, count=f"{int(task.completed)}/{int(task.total or 0)}")
        elif event == "scan":
            self._scan(data)
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


    def _scan(self, d: dict) -> None:
        """A database scan started, runs (elapsed against its estimate, or the engine's own progress) or ended."""
        key, state = (d["target"], d["table"]), d["state"]
        what = f"{d['table']} @ {d['target']}"
        est = d.get("estimate_s")
        if self._bar is not None:
            if state == "start":
                self._scans[key] = self._bar.add_task(what, total=est or None, label="scan", count=scan_count(d))
            elif key in self._scans:
                task = self._scans[key]
                if state == "end":
                    self._bar.remove_task(task)
                    del self._scans[key]
                elif d.get("total"):
                    self._bar.update(task, total=d["total"], completed=d["done"], count=scan_count(d))
                else:
                    # elapsed against the estimate; past it the bar stays full and the count says so
                    self._bar.update(task, completed=min(d["elapsed_s"], est) if est else 0, count=scan_count(d))
            return
        if self.quiet:
            return
        if state == "start":
            if est is not None and est >= PLAIN_SCAN_MIN_S:
                rows = f"~{d['rows']:,} rows, " if d.get("rows") else ""
                click.echo(f"scan started: {what} ({rows}estimated {est:.0f} s)")
                self._said[key] = 0.0
        elif state == "running":
            last = self._said.get(key)
            if (last is None and d["elapsed_s"] >= PLAIN_SCAN_MIN_S) or (last is not None and d["elapsed_s"] - last >= PLAIN_SCAN_EVERY_S):
                self._said[key] = d["elapsed_s"]
                click.echo(f"scan running: {what}: {scan_count(d)}")
        elif state == "end" and self._said.pop(key, None) is not None:
            how = "done" if d.get("ok") else "stopped"
            click.echo(f"scan {how}: {what} in {d['elapsed_s']:.0f} s" + (f" (estimated {est:.0f} s)" if est is not None else ""))


def scan_count(d: dict) -> str:
    """'12 s of ~40 s', '37 % (1,204 of 3,250 Blocks)' or '12 s (no estimate)'."""
    if d.get("total"):
        pct = 100 * d["done"] / d["total"] if d["total"] else 0
        units = f" {d['units']}" if d.get("units") else ""
        return f"{pct:.0f} % ({d['done']:,.0f} of {d['total']:,.0f}{units})"
    elapsed, est = d.get("elapsed_s") or 0, d.get("estimate_s")
    if est is None:
        return f"{elapsed:.0f} s (no estimate)"
    over = " (over the estimate)" if elapsed > est else ""
    return f"{elapsed:.0f} s of ~{est:.0f} s{over}"


def finding_line(f) -> str:
    return f"{_STATUS_WORD[f.status.value]:<6} {f.severity.value:<7} {finding_label(f)}: {f.message}"


#: a blocker's message on the terminal is cut to this many characters; the reports carry the whole
SUMMARY_MESSAGE_CHARS = 220


def summary(console, report, written: dict, jsonl: Path) -> None:
    """The verdict, the counts, what blocks the upgrade, warnings and the files written."""
    from rich.markup import escape

    from ..report.merge import ordered_blockers

    counts = report.counts()
    style = {"GO": "bold green", "GO_WITH_WARNINGS": "bold yellow", "NO_GO": "bold red"}[report.verdict.value]
    console.print()
    console.print(f"Verdict for {escape(report.site)}: [{style}]{report.verdict.label}[/]"
                  + (" (interrupted: partial run)" if report.interrupted else ""))
    console.print("  " + ", ".join(f"{v} {k}" for k, v in counts.items() if v))
    blockers = ordered_blockers(report)  # in the order every report lists them
    if blockers:
        console.print(f"[bold]What blocks the upgrade ({len(blockers)}):[/]")
        for f in blockers:
            console.print(f"  - {blocker_line(f, SUMMARY_MESSAGE_CHARS)}", markup=False)
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
