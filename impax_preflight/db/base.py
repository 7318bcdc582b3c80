"""The SQL session contract every database driver (oracle, mssql, odbc, sqlite, plugins) implements."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from .readonly import ensure_read_only


class DatabaseError(Exception):
    """The database could not be reached or refused us. Becomes an `error` finding."""


class MissingDriver(DatabaseError):
    """A Python driver, unixODBC or an ODBC driver is not installed: the message says what to install."""


class QueryTimeout(DatabaseError):
    """A statement ran past its timeout and was cancelled."""


class ObjectMissing(DatabaseError):
    """A table/view does not exist or is not visible with our privileges."""


class QueryCancelled(DatabaseError):
    """A running statement was cancelled on request (`SqlSession.cancel`, e.g. Ctrl-C)."""


#: why a statement was cancelled when the caller says nothing more
CANCELLED_BY_INTERRUPT = "the run was interrupted"


@dataclass
class QueryResult:
    sql: str
    columns: list[str]
    rows: list[tuple]
    duration: float = 0.0
    truncated: bool = False
    params: Sequence[Any] | dict | None = None
    extra: dict = field(default_factory=dict)

    def dicts(self) -> list[dict[str, Any]]:
        """Rows as dicts keyed by lower-case column name (drivers differ in case)."""
        cols = [c.lower() for c in self.columns]
        return [dict(zip(cols, r)) for r in self.rows]

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows and self.rows[0] else None


class SqlSession:
    """A read-only session on one database.

    Subclasses implement `_execute`; `query` applies the read-only guard first, so nothing but a
    single query ever reaches a server. Drivers run each statement in a read-only transaction that
    is rolled back, where the engine has one, and implement `cancel` (docs/security.md).
    """

    kind = "sql"
    #: the SQL dialect: oracle, tsql, postgres, sqlite; "generic" (standard SQL) for a session that does not say
    dialect = "generic"
    #: functions the site allows besides the dialect's built-ins ([site.sql] allow_functions); set by the runner
    allowed_functions: frozenset[str] = frozenset()
    #: why this session may not be used any more (it could not be kept read-only), or None
    discarded: str | None = None

    def server_version(self) -> str:  # pragma: no cover - per driver
        raise NotImplementedError

    def query(
        self,
        sql: str,
        params: Sequence[Any] | dict | None = None,
        timeout: float | None = None,
        max_rows: int | None = None,
    ) -> QueryResult:
        if self.discarded:
            raise DatabaseError(self.discarded)
        ensure_read_only(sql, self.dialect, self.allowed_functions)
        start = time.monotonic()
        columns, rows = self._execute(sql, params, timeout, max_rows)
        # drivers fetch one row past max_rows so that a cut is known, not guessed
        truncated = bool(max_rows) and len(rows) > max_rows
        return QueryResult(
            sql=sql,
            columns=list(columns),
            rows=[tuple(r) for r in (rows[:max_rows] if max_rows else rows)],
            duration=time.monotonic() - start,
            truncated=truncated,
            params=params,
        )

    def _execute(self, sql, params, timeout, max_rows):  # pragma: no cover - per driver
        """Run one guarded statement: (column names, rows), fetching at most max_rows + 1 rows."""
        raise NotImplementedError

    def cancel(self, reason: str | None = None) -> bool:
        """Interrupt the statement running now; callable from any thread (Ctrl-C, a check's timeout).
        The interrupted `query` raises QueryCancelled saying `reason` (default: the run was
        interrupted). True when a statement was running."""
        return False

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
