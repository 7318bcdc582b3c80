"""SQLite sessions, opened read-only (mode=ro URI) and ``PRAGMA query_only``: the demo site and plugin tests use them."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from .base import CANCELLED_BY_INTERRUPT, DatabaseError, ObjectMissing, QueryCancelled, QueryTimeout, SqlSession


class SqliteSession(SqlSession):
    kind = "sqlite"
    dialect = "sqlite"

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise DatabaseError(f"SQLite database {self.path} does not exist")
        try:
            # as_uri() escapes #, ? and % in the path; an unescaped one would open (and create) another file read-write
            self._conn = sqlite3.connect(self.path.resolve().as_uri() + "?mode=ro", uri=True, check_same_thread=False)
            # a second lock on the same door: the engine itself refuses any change, even to temp tables
            self._conn.execute("PRAGMA query_only = 1")
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot open SQLite database {self.path}: {exc}") from None
        self._lock = threading.Lock()
        self._cancelled = False
        self._cancel_reason = CANCELLED_BY_INTERRUPT
        self._running = False
        self._state_lock = threading.Lock()
        if not self._query_only():
            self._conn.close()
            raise DatabaseError(f"SQLite database {self.path}: PRAGMA query_only did not hold; not opened")

    def server_version(self) -> str:
        return f"SQLite {sqlite3.sqlite_version}"

    def _execute(self, sql, params, timeout, max_rows):
        with self._lock:
            if self.discarded:
                raise DatabaseError(self.discarded)
            deadline = time.monotonic() + timeout if timeout else None
            if deadline:
                # abort the statement from inside SQLite once the deadline passes
                self._conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 10000)
            with self._state_lock:
                self._running, self._cancelled = True, False
            failure: DatabaseError | None = None
            try:
                cur = self._conn.execute(sql, params or ())
                columns = [d[0] for d in cur.description or ()]
                rows = cur.fetchmany(max_rows + 1) if max_rows else cur.fetchall()
            except sqlite3.OperationalError as exc:
                failure = self._mapped(exc, timeout)
            except sqlite3.Error as exc:
                failure = DatabaseError(str(exc))
            finally:
                with self._state_lock:
                    self._running = False
                self._conn.set_progress_handler(None, 0)
            # also after a failure: a statement may change the connection and still fail
            if not self._query_only():
                self.discarded = (f"SQLite database {self.path}: after the statement PRAGMA query_only no longer held; "
                                  "the connection was discarded and the statement's result not used")
                self._conn.close()
                raise DatabaseError(self.discarded)
            if failure is not None:
                raise failure
        return columns, rows

    def _mapped(self, exc: sqlite3.OperationalError, timeout: float | None) -> DatabaseError:
        text = str(exc)
        if "interrupted" in text and self._cancelled:
            return QueryCancelled(f"SQLite database {self.path}: the statement was cancelled ({self._cancel_reason})")
        if "interrupted" in text:
            return QueryTimeout(f"query cancelled after {timeout or 0:.0f}s")
        if "no such table" in text or "no such column" in text:
            return ObjectMissing(text)
        return DatabaseError(text)

    def _query_only(self) -> bool:
        try:
            row = self._conn.execute("PRAGMA query_only").fetchone()
        except sqlite3.Error:
            return False  # cannot tell: treated as not read-only
        return bool(row and row[0] == 1)

    def cancel(self, reason: str | None = None) -> bool:
        """sqlite3 Connection.interrupt(): safe from any thread."""
        with self._state_lock:
            if not self._running:
                return False
            self._cancelled = True
            self._cancel_reason = reason or CANCELLED_BY_INTERRUPT
            self._conn.interrupt()
            return True

    def close(self) -> None:
        self._conn.close()
