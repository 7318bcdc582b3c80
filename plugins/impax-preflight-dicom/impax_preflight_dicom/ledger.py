"""A long DICOM check's memory between runs: a JSON state file and a CSV of discrepancies beside it.

A reconciliation over months of studies runs a little every night inside its time window. The
ledger records each finished day (counters, first examples) in ``<stem>.json`` and appends that
day's discrepancy rows to ``<stem>.csv``. The state is rewritten atomically (temporary file +
rename) after the CSV is flushed, and it records the CSV's length: on resume the CSV is cut back
to that length, so a day interrupted half-written is simply done again. A lock file keeps two
runs from working on the same ledger at once.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import time
from pathlib import Path
from typing import Any, Iterable

FORMAT = 1


class LedgerError(Exception):
    """The state file cannot be used (unreadable, another format, locked by another run)."""


class Ledger:
    def __init__(self, folder: str | Path, stem: str, fields: list[str], examples: int = 10):
        self.folder = Path(folder)
        self.json_path = self.folder / f"{stem}.json"
        self.csv_path = self.folder / f"{stem}.csv"
        self.lock_path = self.folder / f"{stem}.lock"
        self.fields = list(fields)
        self.examples_cap = examples
        self.state: dict[str, Any] = {}
        self._csv = None
        self._lock_fd: int | None = None
        self._saved_at = 0.0

    # -- lock --------------------------------------------------------------------------------
    def lock(self) -> None:
        """Take the ledger for this run; `LedgerError` if another run holds it."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise LedgerError(f"cannot create the state folder or lock file {self.lock_path}: {exc.strerror or exc}") from None
        if not _try_lock(fd):
            os.close(fd)
            raise LedgerError(
                f"another run is working on {self.json_path} (lock {self.lock_path} is held): wait for it to finish"
            )
        self._lock_fd = fd

    def unlock(self) -> None:
        self._close_csv()
        if self._lock_fd is not None:
            _unlock(self._lock_fd)
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- reading -----------------------------------------------------------------------------
    def load(self) -> dict[str, Any] | None:
        """The saved state, or None if there is none. `LedgerError` names the file if it is unusable."""
        try:
            text = self.json_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise LedgerError(f"cannot read the state file {self.json_path}: {exc.strerror or exc}") from None
        try:
            state = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LedgerError(
                f"the state file {self.json_path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                "move it away to start the reconciliation over, or set restart = true"
            ) from None
        if not isinstance(state, dict) or state.get("format") != FORMAT or not isinstance(state.get("done"), dict):
            raise LedgerError(
                f"the state file {self.json_path} is not a state this version writes (format {FORMAT}); move it away "
                "or set restart = true"
            )
        self.state = state
        return state

    @property
    def complete(self) -> bool:
        return bool(self.state.get("completed_at"))

    @property
    def done(self) -> dict[str, dict[str, int]]:
        return self.state.get("done", {})

    @property
    def totals(self) -> dict[str, int]:
        return self.state.get("totals", {})

    @property
    def examples(self) -> list[dict[str, Any]]:
        return self.state.get("examples", [])

    # -- writing -----------------------------------------------------------------------------
    def start(self, fingerprint: dict[str, Any], days: list[str], **extra: Any) -> None:
        """A new pass over `days`: a fresh state and a CSV holding only its header."""
        self._close_csv()
        now = _now()
        self.state = {
            "format": FORMAT,
            "fingerprint": fingerprint,
            "days": days,
            "started_at": now,
            "updated_at": now,
            "completed_at": None,
            "done": {},
            "totals": {},
            "examples": [],
            "csv_rows": 0,
            "csv_bytes": 0,
            **extra,
        }
        header = io.StringIO()
        csv.writer(header).writerow(self.fields)
        with open(self.csv_path, "wb") as f:
            f.write(header.getvalue().encode("utf-8"))
            self.state["csv_bytes"] = f.tell()
        self.save(force=True)

    def resume(self) -> None:
        """Continue the loaded pass: cut the CSV back to what the state accounts for."""
        size = int(self.state.get("csv_bytes", 0))
        try:
            with open(self.csv_path, "r+b") as f:
                f.truncate(size)
        except FileNotFoundError:
            raise LedgerError(
                f"the discrepancy list {self.csv_path} of the saved reconciliation is gone; set restart = true to start over"
            ) from None

    def remaining(self) -> list[str]:
        done = self.done
        return [d for d in self.state.get("days", []) if d not in done]

    def record(self, day: str, counters: dict[str, int], rows: Iterable[dict[str, Any]]) -> None:
        """One finished day: its counters (added to the totals) and its discrepancy rows."""
        rows = list(rows)
        if rows:
            if self._csv is None:
                # binary: tell() is then an exact byte length, recorded in the state
                self._csv = open(self.csv_path, "ab")  # noqa: SIM115 - closed in unlock()
            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=self.fields, extrasaction="ignore")
            for r in rows:
                w.writerow(r)
            self._csv.write(buf.getvalue().encode("utf-8"))
            examples = self.state["examples"]
            for r in rows:
                if len(examples) >= self.examples_cap:
                    break
                examples.append({k: v for k, v in r.items() if v not in (None, "")})
        self.state["done"][day] = {k: v for k, v in counters.items() if v}
        totals = self.state["totals"]
        for k, v in counters.items():
            totals[k] = totals.get(k, 0) + v
        self.state["csv_rows"] += len(rows)
        self.save()

    def finish(self) -> None:
        self.state["completed_at"] = _now()
        self.save(force=True)

    def save(self, force: bool = False) -> None:
        """Write the state (at most once a second unless forced): the CSV first, then the JSON."""
        if not force and time.monotonic() - self._saved_at < 1.0:
            return
        if self._csv is not None:
            self._csv.flush()
            os.fsync(self._csv.fileno())
            self.state["csv_bytes"] = self._csv.tell()
        self.state["updated_at"] = _now()
        tmp = self.json_path.with_suffix(".json.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.state, f, separators=(",", ":"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.json_path)
        self._saved_at = time.monotonic()

    def _close_csv(self) -> None:
        if self._csv is not None:
            self._csv.close()
            self._csv = None


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


try:  # POSIX
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

except ImportError:  # pragma: no cover - Windows
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
