"""What a check may touch while it runs, and the helpers it reports with: the `CheckContext`.

A check never prints. It yields `Finding`s built with the context's helpers, which attach the
evidence gathered so far (every command and query it ran) so nothing is claimed without proof.
`Memo` shares one computation (a table scan, a disk listing) between the checks of a target.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from .hostfacts import HostFacts
from .inventory import target_of
from .model import Evidence, Finding, Severity, Status
from .secrets import mask
from .memo import Memo
from .probes import EXCERPT_CHARS, HostReader, ReadError, evidence_from_command
from .transports.base import CommandResult, TransportError

if TYPE_CHECKING:  # pragma: no cover
    from .check import Check
    from .probes import Probe, Reading
    from .db.base import QueryResult, SqlSession
    from .dbwindow import DbWindow
    from .scans import ScanWatch
    from .inventory import Database, Host, Inventory, Thresholds
    from .transports.base import Shell



class CheckContext:
    """Everything a check may touch, and the helpers to report what it found."""

    def __init__(
        self,
        check: Check,
        inventory: "Inventory",
        *,
        host: "Host | None" = None,
        database: "Database | None" = None,
        shell_factory: Callable[[], "Shell"] | None = None,
        sql_factory: Callable[[], "SqlSession"] | None = None,
        facts: "HostFacts | dict[str, Any] | None" = None,
        all_facts: "dict[str, HostFacts | dict[str, Any]] | None" = None,
        findings_so_far: Callable[[], list[Finding]] | None = None,
        memo: Memo | None = None,
        deadline: float | None = None,
        provider: str | None = None,
        reader: "HostReader | None" = None,
        output_dir: str | Path | None = None,
        progress: Callable[..., None] | None = None,
        readers: "dict[str, HostReader] | None" = None,
        db_window: "DbWindow | None" = None,
        spare_session: "Callable[[], tuple[SqlSession, Callable[[], None]] | None] | None" = None,
    ) -> None:
        self.check = check
        self.inventory = inventory
        self.site = inventory.site
        self.host = host
        self.database = database
        self.facts: HostFacts = HostFacts.of(facts)
        self.all_facts: dict[str, HostFacts] = {name: HostFacts.of(f) for name, f in (all_facts or {}).items()}
        self.memo = memo or Memo()
        self.deadline = deadline
        self.provider = provider
        self.evidence: list[Evidence] = []
        self._shell_factory = shell_factory
        self._sql_factory = sql_factory
        self._findings_so_far = findings_so_far or (lambda: [])
        self._reader = reader
        #: the run's report folder (None when the run writes no files): for a check's own side files
        self.output_dir = Path(output_dir) if output_dir is not None else None
        #: the run's progress display: progress(event, **data) ("check_progress", "scan")
        self._progress = progress
        #: every host's reader, for site checks that read each host themselves (e.g. its clock)
        self._readers = readers or {}
        self.db_window = db_window
        self._spare_session = spare_session

    # -- what the check may touch ------------------------------------------------------------
    @property
    def thresholds(self) -> "Thresholds":
        return self.site.thresholds

    @property
    def options(self) -> dict[str, Any]:
        """Site settings for this check: `[site.options."<check id>"]` in the inventory."""
        return self.site.options.get(self.check.id, {})

    @property
    def target_name(self) -> str:
        return target_of(self.host, self.database)

    @property
    def shell(self) -> "Shell":
        if self._shell_factory is None:
            raise TransportError(f"check {self.check.id} has no shell on target {self.target_name}")
        return self._shell_factory()

    @property
    def sql(self) -> "SqlSession":
        if self._sql_factory is None:
            raise TransportError(f"check {self.check.id} has no database session on target {self.target_name}")
        return self._sql_factory()

    def findings(self) -> list[Finding]:
        """Findings produced so far in this run (site checks see every host's results)."""
        return self._findings_so_far()

    def remaining(self, default: float) -> float:
        """Seconds left before this check's deadline, capped by `default`."""
        if self.deadline is None:
            return default
        return max(0.5, min(default, self.deadline - time.monotonic()))

    def run(self, command: str, timeout: float | None = None, privileged: bool = False) -> CommandResult:
        """Run a command on the target host and record it as evidence.

        `privileged=True` for the few commands that need it (e.g. `fmadm faulty`): the host's
        `transport.privilege` prefix (pfexec / sudo -n) is applied by transports that have one.
        """
        t = self.remaining(timeout or self.thresholds.command_timeout_s)
        result = self.shell.run(command, timeout=t, privileged=True) if privileged else self.shell.run(command, timeout=t)
        self.evidence.append(evidence_from_command(result, self.target_name))
        return result

    def read(self, probe: "Probe", timeout: float | None = None) -> Any:
        """Read the target host through a probe: the parsed records, or None when the probe found
        the thing it reads absent. Raises `ReadError` (the runner makes it an `error` finding with
        the reason). The read is shared: other checks of this host asking for it get the same answer;
        its evidence (and the lines the parser did not understand) join this check's evidence."""
        return self.reading(probe, timeout).value

    def reading(self, probe: "Probe", timeout: float | None = None, host: str | None = None) -> "Reading":
        """Like `read`, with where and when the answer was taken (`Reading.context`: transport, a
        bundle's collection time). `host` names another host of the inventory: a site check reads
        each host this way (shared with that host's checks); its evidence joins this check's."""
        reader = self.reader if host is None else self._host_reader(host)
        try:
            # the read is shared with other checks: it keeps the probe's own time limit (this check's
            # deadline is the runner's business, which abandons the check, not the read)
            reading = reader.read(probe, timeout)
        except ReadError as exc:
            self.evidence.extend(exc.evidence)
            raise
        self.evidence.extend(reading.evidence)
        for n in reading.notes:
            self.note(n, source=probe.name)
        return reading

    def _host_reader(self, name: str) -> "HostReader":
        if self.host is not None and name == self.host.name:
            return self.reader
        if name not in self._readers:
            raise TransportError(f"check {self.check.id} cannot read host {name}: no reader for it in this run")
        return self._readers[name]

    def error_from(self, exc: Exception, **kw) -> Finding:
        """An `error` finding for a read (or other) failure a check chose to report itself and go on."""
        return self.error(getattr(exc, "reason", None) or str(exc) or type(exc).__name__, **kw)

    @property
    def reader(self) -> "HostReader":
        """The host's probe reader: the run's (shared by every check of the host), else one kept in
        this target's memo (checks sharing a memo share their reads, as in a run)."""
        if self._reader is None:
            self._reader = self.memo.get(("host-reader",), lambda: HostReader(
                self.host, lambda: self.shell, self.site, self.thresholds.command_timeout_s))
        return self._reader

    def query(self, sql: str, params=None, timeout: float | None = None, max_rows: int | None = None) -> "QueryResult":
        """Run one read-only query on the target database and record it as evidence."""
        db_timeout = (self.database.statement_timeout_s if self.database else None) or self.thresholds.statement_timeout_s
        session = self.sql
        result = session.query(sql, params, timeout=self.remaining(timeout or db_timeout), max_rows=max_rows)
        self.evidence.append(evidence_from_query(result, self.target_name, session.kind))
        return result

    def progress(self, message: str, done: int | None = None, total: int | None = None) -> None:
        """Tell the progress display how far a long check is (e.g. "day 73 of 365"). Never raises."""
        if self._progress is None:
            return
        try:
            self._progress("check_progress", check_id=self.check.id, target=self.target_name, message=mask(message),
                           done=done, total=total)
        except Exception:  # noqa: BLE001 - a display problem must not fail the check
            pass

    def scan(self, table: str, *, checks: Iterable[str] = (), estimate_s: float | None = None,
             rows: int | None = None, poll: Callable[[], Any] | None = None) -> "ScanWatch":
        """A full-table read about to start, as a context manager around its statement.

        Raises `OutsideWindow` (an `error` finding) when the database window is closed, saying when
        it opens; inside, the run's progress display sees the scan start, run (elapsed against
        `estimate_s`; `poll()` may return (done, total, units) where the engine reports progress)
        and end, and the watch records when it ran (`watch.when()`)."""
        from .scans import OutsideWindow, ScanWatch

        window = self.db_window
        if window is not None and not window.contains():
            raise OutsideWindow(f"{table} was not scanned: {window.outside_message()}. Run the database checks inside "
                                "the window (or change [site.database_window] / --db-window)")
        return ScanWatch(self.target_name, table, checks=checks or [self.check.id], estimate_s=estimate_s, rows=rows,
                         window=window, progress=self._progress, poll=poll)

    def spare_session(self) -> "tuple[SqlSession, Callable[[], None]] | None":
        """(another read-only session on this database, a function giving it back) when one is free
        right now within the database's session limit, else None; for a side task such as reading a
        long scan's progress. Never waits and never exceeds ``sessions_per_database``."""
        return self._spare_session() if self._spare_session is not None else None

    def note(self, text: str, source: str = "note") -> None:
        self.evidence.append(Evidence(kind="note", source=source, output=mask(text)))

    # -- building findings ------------------------------------------------------------------
    def finding(
        self,
        status: Status | str,
        message: str,
        *,
        subject: str | None = None,
        values: dict[str, Any] | None = None,
        evidence: list[Evidence] | None = None,
        remediation: str | None = None,
    ) -> Finding:
        status = Status(status)
        ev = list(self.evidence) if evidence is None else evidence
        return Finding(
            check_id=self.check.id,
            title=self.check.title,
            severity=self.check.severity,
            status=status,
            target=self.target_name,
            target_kind=self.check.target,
            subject=subject,
            message=message,
            evidence=ev,
            remediation=remediation if remediation is not None else (
                self.check.remediation if status in (Status.FAIL, Status.WARN, Status.ERROR) else None
            ),
            guide=self.check.guide,
            values=values or {},
            host=self.host.name if self.host else None,
            database=self.database.name if self.database else None,
            tier=self.host.tier if self.host else None,
            site=self.site.name,
            provider=self.provider,
        )

    def passed(self, message: str, **kw) -> Finding:
        return self.finding(Status.PASS, message, **kw)

    def warn(self, message: str, **kw) -> Finding:
        return self.finding(Status.WARN, message, **kw)

    def fail(self, message: str, **kw) -> Finding:
        return self.finding(Status.FAIL, message, **kw)

    def error(self, message: str, **kw) -> Finding:
        return self.finding(Status.ERROR, message, **kw)

    def skip(self, message: str, **kw) -> Finding:
        return self.finding(Status.SKIPPED, message, **kw)

    def problem(self, message: str, **kw) -> Finding:
        """FAIL for a blocker check, WARN otherwise: for checks whose severity says how bad it is."""
        return self.fail(message, **kw) if self.check.severity is Severity.BLOCKER else self.warn(message, **kw)


def evidence_from_query(result: "QueryResult", target: str, kind: str) -> Evidence:
    lines = ["\t".join(result.columns)]
    for r in result.rows[:50]:
        lines.append("\t".join("NULL" if v is None else str(v) for v in r))
    if len(result.rows) > 50:
        lines.append(f"... {len(result.rows) - 50} more rows")
    return Evidence(
        kind="sql",
        source=mask(result.sql.strip()),
        target=target,
        output=mask("\n".join(lines)[:EXCERPT_CHARS]),
        rows=len(result.rows),
        duration_s=round(result.duration, 4),
        truncated=result.truncated or len(result.rows) > 50,
        transport=kind,
    )


def as_findings(produced: Iterable[Finding] | Finding | None) -> Iterator[Finding]:
    if produced is None:
        return iter(())
    if isinstance(produced, Finding):
        return iter((produced,))
    return iter(produced)
