"""Full-table scans of a production database: their estimate, their window, their progress.

A check that reads a whole table declares it with ``ctx.scan(table, ...)`` around the statement:
the scan starts only inside the database window (else `OutsideWindow`, an `error` finding: a
blocker that was not verified is not ready), its start and end are recorded, and the run's
progress display sees it start, tick (elapsed against the estimate, or the engine's own progress
where a poller reads it) and end. `ScanEstimate` is what `impax-preflight plan` shows per scan.
"""

from __future__ import annotations

import heapq
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable

from .db.base import DatabaseError
from .dbwindow import DbWindow

#: seconds between two progress reports of a running scan
TICK_S = 1.0


class OutsideWindow(DatabaseError):
    """A scan that may not start now: the database window is closed."""


@dataclass
class ScanEstimate:
    """One full-table read a run would make, as the data dictionary and a timed sample see it."""

    table: str
    checks: list[str]
    what: str
    rows: int | None = None
    rows_source: str = ""
    size_bytes: int | None = None
    analysed: str | None = None
    seconds: float | None = None
    rate: str = ""
    #: columns (or keys) the dictionary proves without scanning, each with the constraint that proves it
    proved: list[str] = field(default_factory=list)
    #: False when every column was proved: nothing of the table is read
    scanned: bool = True
    statement: str = ""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def wall_seconds(durations: Iterable[float], sessions: int) -> float:
    """How long scans of these durations take with `sessions` running at once (longest first, each to
    the session free first: what the runner's pool does when the scans are the only work)."""
    free = [0.0] * max(1, sessions)
    for d in sorted(durations, reverse=True):
        heapq.heapreplace(free, free[0] + d)
    return max(free)


class ScanWatch:
    """One running scan: when it started and ended, and its progress reports (a ticker thread)."""

    def __init__(
        self,
        target: str,
        table: str,
        *,
        checks: Iterable[str] = (),
        estimate_s: float | None = None,
        rows: int | None = None,
        window: DbWindow | None = None,
        progress: Callable[..., None] | None = None,
        poll: Callable[[], tuple[float, float, str] | None] | None = None,
    ) -> None:
        """`poll()`, called from the ticker thread, returns the engine's own progress (done, total,
        units) or None; an exception stops the polling; its `close()`, if any, runs at the end."""
        self.target, self.table, self.checks = target, table, list(checks)
        self.estimate_s, self.rows = estimate_s, rows
        self.window = window
        self._progress = progress
        self._poll = poll
        self._poller = poll  # kept to be closed (it may hold a session) even after it failed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started_at: datetime | None = None
        self.finished_at: datetime | None = None
        self._t0 = 0.0
        self.elapsed_s: float | None = None

    def _now(self) -> datetime:
        return self.window.now() if self.window is not None else datetime.now().astimezone()

    def _emit(self, state: str, **extra: Any) -> None:
        if self._progress is None:
            return
        try:
            self._progress("scan", state=state, target=self.target, table=self.table, checks=self.checks,
                           estimate_s=self.estimate_s, rows=self.rows, **extra)
        except Exception:  # noqa: BLE001 - a display problem must not stop a scan
            pass

    def __enter__(self) -> "ScanWatch":
        self.started_at = self._now()
        self._t0 = time.monotonic()
        self._emit("start", elapsed_s=0.0)
        if self._progress is not None:
            self._thread = threading.Thread(target=self._tick, name=f"scan {self.table}@{self.target}", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        close = getattr(self._poller, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # noqa: BLE001 - giving back a progress session must not fail the scan
                pass
        self.finished_at = self._now()
        self.elapsed_s = round(time.monotonic() - self._t0, 3)
        self._emit("end", elapsed_s=self.elapsed_s, ok=exc_type is None)

    def _tick(self) -> None:
        while not self._stop.wait(TICK_S):
            done = None
            if self._poll is not None:
                try:
                    done = self._poll()
                except Exception:  # noqa: BLE001 - progress is a nicety; the scan goes on without it
                    self._poll = None
            extra = {"done": done[0], "total": done[1], "units": done[2]} if done else {}
            self._emit("running", elapsed_s=round(time.monotonic() - self._t0, 1), **extra)

    def when(self) -> dict[str, str]:
        """When it ran, for a finding's values (ISO 8601 with the offset)."""
        out = {}
        if self.started_at:
            out["scan_started"] = self.started_at.isoformat(timespec="seconds")
        if self.finished_at:
            out["scan_finished"] = self.finished_at.isoformat(timespec="seconds")
        return out

    def span_text(self) -> str:
        """'2026-03-01 20:05:13–20:07:40' (the window's zone, else this machine's)."""
        if not self.started_at:
            return ""
        end = f"–{self.finished_at:%H:%M:%S}" if self.finished_at else ""
        return f"{self.started_at:%Y-%m-%d %H:%M:%S}{end}"
