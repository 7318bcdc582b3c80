"""Oracle sessions through python-oracledb in thin mode (no Oracle Client install needed).

Read-only in three layers: the guard refuses anything but one query; every query runs inside a
``SET TRANSACTION READ ONLY`` transaction opened by this module (the one statement that bypasses
the guard, never reachable by checks) and rolled back when the query ends, never committed; the
login should hold SELECT_CATALOG_ROLE and nothing more. Each query gets a fresh read-only
transaction, so it sees current data (a run can last minutes) and a failed statement never leaves
the session in an odd state. Oracle cannot say whether a transaction is read-only without
privileges on V$TRANSACTION, so there is no check after the statement (docs/security.md).
"""

from __future__ import annotations

import os
import re
import threading
from typing import TYPE_CHECKING, Any

from ..secrets import SecretError, mask
from .base import (
    DatabaseError,
    MissingDriver,
    ObjectMissing,
    QueryCancelled,
    CANCELLED_BY_INTERRUPT,
    QueryTimeout,
    SqlSession,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..inventory import Database, Host

READ_ONLY_TRANSACTION = "SET TRANSACTION READ ONLY"
DEFAULT_PORT = 1521
DEFAULT_CONNECT_TIMEOUT_S = 15.0
FETCH_ARRAY = 1000

_CODE_RE = re.compile(r"\b((?:ORA|DPY|TNS)-\d{4,5})\b")


def import_oracledb():
    try:
        import oracledb
    except ImportError:
        raise MissingDriver("Oracle databases need the 'oracledb' package (thin mode, no Oracle Client): "
                            "pip install oracledb") from None
    return oracledb


def connect_string(db: "Database", host: "Host") -> str:
    """The DSN given to oracledb: the inventory's easy-connect string or TNS alias, else built from
    server (default: the host's address), port (default 1521) and service_name."""
    if db.dsn:
        alias = not any(c in db.dsn for c in "/:()@")
        if alias and not os.environ.get("TNS_ADMIN"):
            raise DatabaseError(
                f"database {db.name} on host {host.name}: dsn {db.dsn!r} looks like a TNS alias, but TNS_ADMIN is not "
                "set: point TNS_ADMIN at the folder holding tnsnames.ora, or write an easy-connect string "
                "(host:port/service_name)"
            )
        return db.dsn
    if not db.service_name:
        raise DatabaseError(
            f"database {db.name} on host {host.name}: set service_name (e.g. the MVF database's service) or dsn "
            "in the inventory"
        )
    server = db.server or host.reach
    if ":" in server and not server.startswith("["):
        server = f"[{server}]"  # IPv6 literal
    return f"{server}:{db.port or DEFAULT_PORT}/{db.service_name}"


def error_code(exc: BaseException) -> str:
    """'ORA-00942', 'DPY-6005'... from an oracledb error (its first error object), or ''."""
    err = exc.args[0] if getattr(exc, "args", None) else None
    full = getattr(err, "full_code", None)
    if full:
        return str(full)
    m = _CODE_RE.search(str(err if err is not None else exc))
    return m.group(1) if m else ""


def map_oracle_error(exc: BaseException, where: str, timeout: float | None = None) -> DatabaseError:
    """An oracledb error -> ObjectMissing / QueryTimeout / DatabaseError, masked, saying what to do."""
    code = error_code(exc)
    text = mask(str(exc.args[0] if getattr(exc, "args", None) else exc).strip() or type(exc).__name__)
    codes = set(_CODE_RE.findall(text)) | {code}
    if "ORA-00942" in codes or "ORA-04043" in codes:
        return ObjectMissing(
            f"{where}: table or view does not exist, or no SELECT privilege ({text}): grant SELECT on it or "
            "SELECT_CATALOG_ROLE to the login used by impax-preflight"
        )
    if codes & {"DPY-4024", "ORA-03156", "DPY-4011"} and (timeout or "DPY-4011" not in codes):
        after = f" after {timeout:.0f}s" if timeout else ""
        return QueryTimeout(f"{where}: the query was cancelled{after} (call timeout): {text}; raise the database's "
                            "statement_timeout_s if it is merely slow")
    if "ORA-01017" in codes:
        return DatabaseError(f"{where}: invalid username/password; logon denied ({text}): check the user and the "
                             "password reference in the inventory; not retried, so the account is not locked by us")
    if "ORA-28000" in codes:
        return DatabaseError(f"{where}: the account is locked ({text}): ask the DBA to unlock it")
    if "ORA-01031" in codes:
        return DatabaseError(f"{where}: insufficient privileges ({text}): grant SELECT_CATALOG_ROLE to the login")
    if codes & {"DPY-6005", "DPY-6000", "DPY-6001", "ORA-12541", "ORA-12514", "ORA-12170"} or \
            "connection refused" in text.lower():
        return DatabaseError(f"{where}: cannot connect ({text}): check server, port (1521), service_name, the "
                             "listener (lsnrctl status) and firewalls")
    if "DPY-4011" in codes:
        return DatabaseError(f"{where}: the database or network closed the connection ({text})")
    return DatabaseError(f"{where}: {text}")


class OracleSession(SqlSession):
    """One oracledb connection; one query at a time (a lock), each in its own read-only transaction."""

    kind = "oracle"
    dialect = "oracle"

    def __init__(self, connection: Any, where: str = "Oracle database") -> None:
        self._conn = connection
        self.where = where
        self._lock = threading.Lock()
        self._state_lock = threading.Lock()  # guards _running/_cancelled, taken by cancel() from other threads
        self._running = False
        self._cancelled = False
        self._cancel_reason = CANCELLED_BY_INTERRUPT

    @classmethod
    def for_database(cls, db: "Database", host: "Host") -> "OracleSession":
        oracledb = import_oracledb()
        where = f"Oracle database {db.name} on host {host.name}"
        dsn = connect_string(db, host)
        if not db.user:
            raise DatabaseError(f"{where}: set 'user' (a login with SELECT_CATALOG_ROLE) in the inventory")
        try:
            password = db.password.resolve(f"password of {db.user} for {where}") if db.password else None
        except SecretError as exc:
            raise DatabaseError(f"{where}: cannot read the password: {exc}") from None
        params: dict[str, Any] = {"user": db.user, "password": password, "dsn": dsn,
                                  "tcp_connect_timeout": DEFAULT_CONNECT_TIMEOUT_S}
        if os.environ.get("TNS_ADMIN"):
            params["config_dir"] = os.environ["TNS_ADMIN"]
        try:
            conn = oracledb.connect(**params)  # python-oracledb >= 2.0 (pyproject) has both keywords
        except oracledb.Error as exc:
            raise map_oracle_error(exc, where) from None
        return cls(conn, where=where)

    def server_version(self) -> str:
        return f"Oracle {getattr(self._conn, 'version', '')}".strip()

    def begin_read_only(self) -> None:
        """End whatever came before and open a read-only transaction: our own statement, not a check's."""
        self._conn.rollback()
        cur = self._conn.cursor()
        try:
            cur.execute(READ_ONLY_TRANSACTION)
        finally:
            cur.close()

    def _execute(self, sql, params, timeout, max_rows):
        oracledb = import_oracledb()
        with self._lock:
            try:
                self._conn.call_timeout = int(timeout * 1000) if timeout else 0
                self.begin_read_only()
                with self._state_lock:
                    self._running, self._cancelled = True, False
                cur = self._conn.cursor()
                try:
                    cur.arraysize = FETCH_ARRAY
                    cur.execute(sql, params if params is not None else [])
                    columns = [d[0] for d in cur.description or ()]
                    rows = cur.fetchmany(max_rows + 1) if max_rows else cur.fetchall()
                    # CLOB/BLOB locators die with the cursor: read them now
                    lob = getattr(oracledb, "LOB", ())
                    rows = [tuple(v.read() if lob and isinstance(v, lob) else v for v in r) for r in rows]
                finally:
                    with self._state_lock:
                        self._running = False
                    cur.close()
                    self._conn.rollback()  # the read-only transaction ends here: rolled back, never committed
            except oracledb.Error as exc:
                if self._cancelled:
                    raise QueryCancelled(f"{self.where}: the statement was cancelled ({self._cancel_reason})") from None
                raise map_oracle_error(exc, self.where, timeout) from None
        return columns, rows

    def cancel(self, reason: str | None = None) -> bool:
        """Break the running call (python-oracledb Connection.cancel, meant for another thread)."""
        with self._state_lock:
            if not self._running:
                return False
            self._cancelled = True
            self._cancel_reason = reason or CANCELLED_BY_INTERRUPT
            try:
                self._conn.cancel()
            except Exception:  # noqa: BLE001 - the statement may just have finished
                pass
            return True

    def close(self) -> None:
        with self._lock:
            try:
                self._conn.rollback()
                self._conn.close()
            except Exception:  # noqa: BLE001 - closing a broken connection must not raise
                pass
