"""The read-only guard: every statement is parsed and anything but one plain query is refused.

Refused before anything reaches a server: more than one statement (also one hidden after a
comment), anything that is not a query (DML, DDL, TRUNCATE, EXEC/CALL, PL/SQL blocks, SET, GRANT,
COMMIT...), SELECT ... INTO, row locks (FOR UPDATE/SHARE, T-SQL UPDLOCK/XLOCK/HOLDLOCK hints),
and functions known to change state from inside a SELECT (sequences, advisory locks, killing
sessions, reloading configuration, large objects, linked-server pass-through, file and network
packages). This is a safety net, not the only layer: sessions are read-only on the server where
the driver allows it, and the login should only have read rights.
"""

from __future__ import annotations

import logging

import sqlglot
from sqlglot import exp

#: our dialect names -> sqlglot's
SQLGLOT_DIALECTS = {"oracle": "oracle", "tsql": "tsql", "mssql": "tsql", "postgres": "postgres", "sqlite": "sqlite"}


class ReadOnlyViolation(Exception):
    """A statement that is not a single read-only query. Never sent to a server."""


_WRITE_NODES = tuple(
    getattr(exp, n)
    for n in ("Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "TruncateTable", "Command", "Into", "Lock",
              "Copy", "Set", "Transaction", "Commit", "Rollback", "Grant", "Use", "Pragma", "Analyze")
    if hasattr(exp, n)
)

#: T-SQL table hints that take update/exclusive locks or hold shared ones
_LOCK_HINTS = {"updlock", "xlock", "holdlock", "tablock", "tablockx", "paglock", "rowlock", "serializable",
               "repeatableread"}

#: Functions (lower-case; "package.function" for Oracle packages) that change state when selected
_STATEFUL_FUNCTIONS = {
    # PostgreSQL
    "nextval", "setval", "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile",
    "pg_switch_wal", "pg_create_restore_point", "pg_start_backup", "pg_stop_backup", "pg_backup_start",
    "pg_backup_stop", "set_config", "pg_advisory_lock", "pg_advisory_xact_lock", "pg_advisory_lock_shared",
    "pg_advisory_xact_lock_shared", "pg_try_advisory_lock", "pg_try_advisory_xact_lock",
    "pg_try_advisory_lock_shared", "pg_try_advisory_xact_lock_shared", "lo_import", "lo_export", "lo_unlink",
    "lo_create", "lo_creat", "lo_put", "lo_from_bytea", "pg_file_write", "pg_file_unlink", "pg_file_rename",
    "dblink", "dblink_exec", "pg_notify", "txid_current", "pg_current_xact_id", "pg_create_logical_replication_slot",
    "pg_create_physical_replication_slot", "pg_drop_replication_slot", "pg_promote",
    # SQL Server: pass-through to other servers
    "openquery", "openrowset", "opendatasource",
}
_STATEFUL_PACKAGES = {
    # Oracle packages with side effects (a function of theirs in a SELECT still acts)
    "dbms_scheduler", "dbms_job", "dbms_pipe", "dbms_alert", "dbms_lock", "dbms_sql", "dbms_system", "dbms_backup_restore",
    "dbms_stats", "dbms_space_admin", "dbms_redefinition", "dbms_shared_pool", "dbms_session", "dbms_aq", "dbms_aqadm",
    "utl_file", "utl_http", "utl_tcp", "utl_smtp", "utl_mail", "utl_inaddr",
}


class _DropFallbackWarnings(logging.Filter):
    """sqlglot warns when it falls back to a raw 'Command'; we refuse those anyway, quietly."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Falling back to parsing as a 'Command'" not in record.getMessage()


logging.getLogger("sqlglot").addFilter(_DropFallbackWarnings())


def ensure_read_only(sql: str, dialect: str = "sqlite") -> None:
    """Raise ReadOnlyViolation unless `sql` is exactly one read-only query (SELECT, WITH ... SELECT, UNION...)."""
    read = SQLGLOT_DIALECTS.get(dialect, None)
    if not sql or not sql.strip():
        raise ReadOnlyViolation("refused: empty statement")
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
            raise ReadOnlyViolation("refused: SELECT ... FOR UPDATE/SHARE takes row locks")
        if isinstance(node, exp.WithTableHint):
            for hint in node.expressions:
                if hint.name.lower() in _LOCK_HINTS:
                    raise ReadOnlyViolation(f"refused: the table hint {hint.name.upper()} takes locks")
        if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Func):
            # sys.dbms_lock.request(...): the package is the last part of a qualified name (a Dot)
            package = node.this.name.lower() if isinstance(node.this, (exp.Identifier, exp.Column, exp.Dot)) else ""
            if package in _STATEFUL_PACKAGES:
                raise ReadOnlyViolation(f"refused: {package.upper()}.{node.expression.name.upper()} has side effects")
        if (isinstance(node, exp.Column) and node.name.lower() == "nextval") or type(node).__name__ == "NextValueFor":
            raise ReadOnlyViolation("refused: reading a sequence's next value advances it")
        if isinstance(node, exp.Func):
            name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
            if name in _STATEFUL_FUNCTIONS:
                raise ReadOnlyViolation(f"refused: the function {name}() changes state on the server")


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
