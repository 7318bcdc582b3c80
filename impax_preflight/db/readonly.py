"""The read-only guard: every statement is parsed and anything but one query is refused."""

from __future__ import annotations

import sqlglot
from sqlglot import exp

#: our dialect names -> sqlglot's
SQLGLOT_DIALECTS = {"oracle": "oracle", "tsql": "tsql", "mssql": "tsql", "postgres": "postgres", "sqlite": "sqlite"}


class ReadOnlyViolation(Exception):
    """A statement that is not a single read-only query. Never sent to a server."""


_WRITE_NODES = tuple(
    getattr(exp, n)
    for n in ("Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "TruncateTable", "Command", "Into", "Lock")
    if hasattr(exp, n)
)


def ensure_read_only(sql: str, dialect: str = "sqlite") -> None:
    """Raise ReadOnlyViolation unless `sql` is exactly one SELECT (or WITH ... SELECT, UNION...)."""
    read = SQLGLOT_DIALECTS.get(dialect, None)
    try:
        statements = [s for s in sqlglot.parse(sql, read=read) if s is not None]
    except sqlglot.errors.SqlglotError as exc:
        raise ReadOnlyViolation(f"refused: the statement could not be parsed as {dialect} SQL ({_first_line(exc)})") from None
    if len(statements) != 1:
        raise ReadOnlyViolation(f"refused: {len(statements)} statements given; only a single query is allowed")
    stmt = statements[0]
    if not isinstance(stmt, exp.Query):
        raise ReadOnlyViolation(f"refused: {stmt.key.upper()} is not a read-only query")
    for node in stmt.walk():
        if isinstance(node, _WRITE_NODES):
            raise ReadOnlyViolation(f"refused: the query contains {node.key.upper()}, which writes or locks")
        if isinstance(node, exp.Select) and node.args.get("locks"):
            raise ReadOnlyViolation("refused: SELECT ... FOR UPDATE takes locks")


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
