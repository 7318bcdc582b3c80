"""ODBC sessions (pyodbc): SQL Server (`MssqlSession`) and any ODBC source (`OdbcSession`).

Read-only in three layers: the guard refuses anything but one query before it leaves the process;
each statement runs in its own transaction that is always rolled back, read-only where the engine
has such a thing (PostgreSQL and Oracle: ``SET TRANSACTION READ ONLY`` first; SQLite: the session
is ``PRAGMA query_only``), and the session is verified still read-only after each statement
(PostgreSQL, SQLite) or discarded; the login should be one with read rights only
(docs/security.md). SQL Server has no read-only transaction: the guard and the login's rights
protect it. Every text built from a driver error is masked and stripped of ``PWD=...``: ODBC
drivers may echo the connection string.
"""

from __future__ import annotations

import math
import re
import threading
from typing import TYPE_CHECKING, Any

from .. import dialects
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

#: SQL Server drivers tried in this order when the inventory names none
MSSQL_DRIVERS = ("ODBC Driver 18 for SQL Server", "ODBC Driver 17 for SQL Server", "FreeTDS")
DEFAULT_LOGIN_TIMEOUT_S = 15

_PWD_RE = re.compile(r"(?i)\b(PWD|PASSWORD)\s*=\s*(\{(?:[^}]|\}\})*\}?|[^;]*)")
_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9 _-]*$")


def scrub(text: str) -> str:
    """Mask registered secrets and any PWD=... of a connection string echoed by a driver."""
    return _PWD_RE.sub(lambda m: f"{m.group(1)}=********", mask(str(text)))


def odbc_value(value: Any) -> str:
    """An ODBC connection-string value, braced when needed (ODBC rule: '}' doubles inside braces)."""
    text = str(value)
    if text == "" or any(c in text for c in ";{}=") or text != text.strip():
        return "{" + text.replace("}", "}}") + "}"
    return text


def build_connection_string(parts: dict[str, Any], always_brace: tuple[str, ...] = ("DRIVER", "PWD")) -> str:
    """`KEY=value;...` from parts (None values left out); keys are checked, values quoted safely."""
    out = []
    for key, value in parts.items():
        if value is None:
            continue
        if not _KEY_RE.match(key):
            raise DatabaseError(f"invalid ODBC connection keyword {key!r} (letters, digits, space, _ and - only)")
        text = str(value)
        val = "{" + text.replace("}", "}}") + "}" if key.upper() in always_brace else odbc_value(text)
        out.append(f"{key}={val}")
    return ";".join(out)


def import_pyodbc():
    """pyodbc, or a MissingDriver saying exactly what to install."""
    try:
        import pyodbc
    except ImportError as exc:
        text = str(exc)
        if "libodbc" in text or "cannot open shared object" in text:
            raise MissingDriver(
                f"the unixODBC library is missing ({text}): install it (Debian/Ubuntu: apt-get install unixodbc; "
                "RHEL: dnf install unixODBC), then try again"
            ) from None
        raise MissingDriver("ODBC databases need the 'pyodbc' package: pip install pyodbc") from None
    return pyodbc


def installed_drivers() -> list[str]:
    try:
        return list(import_pyodbc().drivers())
    except MissingDriver:
        raise
    except Exception:  # noqa: BLE001 - a broken odbcinst.ini: report as none installed
        return []


def map_odbc_error(exc: BaseException, where: str, timeout: float | None = None) -> DatabaseError:
    """A pyodbc error -> ObjectMissing / QueryTimeout / DatabaseError with a person-readable, masked text."""
    args = getattr(exc, "args", ())
    state = str(args[0]) if len(args) > 1 else ""
    text = scrub(args[1] if len(args) > 1 else (args[0] if args else exc))
    low = text.lower()
    if state == "42S02" or "does not exist" in low and ("relation" in low or "table" in low or "view" in low) \
            or "no such table" in low or "invalid object name" in low:
        return ObjectMissing(
            f"{where}: table or view not found, or not visible to this login ({text}): grant SELECT on it "
            "(SQL Server: db_datareader; PostgreSQL: GRANT SELECT) or check the schema name"
        )
    if state in ("HYT00", "HYT01", "57014") or "statement timeout" in low or "canceling statement" in low \
            or "query timeout" in low or "timeout expired" in low:
        after = f" after {timeout:.0f}s" if timeout else ""
        return QueryTimeout(f"{where}: the query was cancelled{after} (statement timeout): {text}")
    if state == "25006" or "read-only transaction" in low:
        return DatabaseError(f"{where}: the database refused the statement because it would write ({text}); "
                             "impax-preflight only reads: the check's SQL must not change anything")
    if state in ("28000", "28P01") or "password authentication failed" in low or "login failed" in low:
        return DatabaseError(f"{where}: login refused ({text}): check the user and password (or secret reference) "
                             "in the inventory; not retried")
    if state.startswith("08") or "connection refused" in low or "could not connect" in low \
            or "unable to connect" in low or "server is not found" in low:
        return DatabaseError(f"{where}: cannot reach the database server ({text}): check server, port, instance, "
                             "firewall and that the database service is running")
    if state == "IM002":
        return DatabaseError(f"{where}: ODBC data source or driver not found ({text}): check the DSN name in "
                             "odbc.ini / the driver name in odbcinst.ini (odbcinst -q -s / -d)")
    if state == "01000" and "can't open lib" in low:
        return MissingDriver(f"{where}: the ODBC driver library cannot be loaded ({text}): reinstall the driver")
    return DatabaseError(f"{where}: {('[' + state + '] ') if state else ''}{text}")


#: the statement that opens a read-only transaction, per dialect (our own: it does not pass the guard)
READ_ONLY_TRANSACTION = {"postgres": "SET TRANSACTION READ ONLY", "oracle": "SET TRANSACTION READ ONLY"}
#: our own check, after each statement, that the session is still read-only: every value must be '1'/'on'
STILL_READ_ONLY = {
    "postgres": ("select current_setting('transaction_read_only'), current_setting('default_transaction_read_only')",
                 "transaction_read_only, default_transaction_read_only"),
    "sqlite": ("PRAGMA query_only", "query_only"),
}


class OdbcSession(SqlSession):
    """One pyodbc connection, used by one thread at a time (pyodbc connections are not thread-safe).

    Manual-commit mode: each statement opens a transaction (read-only where the dialect has one)
    that is rolled back when the statement ends, whatever happened; nothing is ever committed.
    """

    kind = "odbc"
    default_dialect: str | None = None  # None: guessed from SQL_DBMS_NAME

    def __init__(
        self,
        connection_string: str,
        *,
        where: str = "ODBC database",
        dialect: str | None = None,
        login_timeout: float = DEFAULT_LOGIN_TIMEOUT_S,
    ) -> None:
        pyodbc = import_pyodbc()
        self.where = where
        self._lock = threading.Lock()
        # held while a cursor is cancelled and while it is freed: psqlODBC's SQLCancel can outlive
        # the error it causes, and a handle freed under it crashes the process (use-after-free)
        self._cursor_lock = threading.Lock()
        self._cursor: Any = None
        self._cancelled = False
        self._cancel_reason = CANCELLED_BY_INTERRUPT
        self._driver_timeout: bool | None = None
        try:
            # autocommit while we set the session up (a session setting must outlive a transaction)
            self._conn = pyodbc.connect(connection_string, autocommit=True, timeout=max(1, int(login_timeout)))
        except pyodbc.Error as exc:
            raise map_odbc_error(exc, where) from None
        self.dbms_name = self._getinfo("SQL_DBMS_NAME")
        self.dbms_version = self._getinfo("SQL_DBMS_VER")
        spoken = guess_dialect(self.dbms_name)
        if dialect and spoken != "generic" and dialects.normalize(dialect) != spoken:
            # the guard and the read-only transaction follow the dialect: a wrong one (sqlite declared
            # for a PostgreSQL server) would open no read-only transaction at all
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - the refusal is what matters
                pass
            raise DatabaseError(f"{where}: the inventory declares dialect {dialect!r} but the server says it is "
                                f"{self.dbms_name!r} ({dialects.label(spoken)}); correct dialect in the inventory "
                                "(the session was refused: the read-only safeguards follow the dialect)")
        self.dialect = dialect or spoken
        self._make_read_only()
        self._transactions = self._manual_commit()

    # -- construction from the inventory --------------------------------------------------------
    @staticmethod
    def describe(db: "Database", host: "Host") -> str:
        return f"database {db.name} on host {host.name}"

    @classmethod
    def connection_parts(cls, db: "Database", host: "Host") -> dict[str, Any]:
        """Connection-string parts without credentials (safe to show)."""
        if db.dsn:
            return {"DSN": db.dsn}
        _require_driver(db.driver, cls.describe(db, host))
        return {"DRIVER": db.driver, "SERVER": db.server or host.reach, "PORT": db.port, "DATABASE": db.database}

    @classmethod
    def for_database(cls, db: "Database", host: "Host") -> "OdbcSession":
        where = cls.describe(db, host)
        parts = cls.connection_parts(db, host)
        parts.update(_credentials(db, host, where))
        parts.update({k: v for k, v in db.odbc_options.items() if k != "LoginTimeout"})
        return cls(build_connection_string(parts), where=where, dialect=db.dialect or cls.default_dialect,
                   login_timeout=_login_timeout(db))

    # -- the SqlSession contract ----------------------------------------------------------------
    def server_version(self) -> str:
        return f"{self.dbms_name} {self.dbms_version}".strip()

    def _execute(self, sql, params, timeout, max_rows):
        import pyodbc

        if isinstance(params, dict):
            raise DatabaseError(f"{self.where}: ODBC takes positional '?' parameters, not named ones")
        with self._lock:
            if self.discarded:
                raise DatabaseError(self.discarded)
            self._set_query_timeout(timeout)
            fired = threading.Event()
            switched: str | None = None
            try:
                try:
                    self._begin_read_only()
                    columns, rows = self._run(sql, params, timeout, fired, max_rows)
                    switched = self._read_only_lost()
                finally:
                    self._end_transaction()
            except pyodbc.Error as exc:
                # a failed statement may still have changed what outlives a transaction (SQLite's
                # query_only): check again, in a transaction of its own
                switched = self._read_only_lost_after_failure()
                if switched:
                    raise self._discard(switched) from None
                if self._cancelled:
                    raise QueryCancelled(f"{self.where}: the statement was cancelled ({self._cancel_reason})") from None
                if fired.is_set():
                    raise QueryTimeout(f"{self.where}: the query was cancelled after {timeout:.0f}s (statement "
                                       "timeout); raise the database's statement_timeout_s if it is merely slow") from None
                raise map_odbc_error(exc, self.where, timeout) from None
            if switched:
                raise self._discard(switched)
        return columns, rows

    def _run(self, sql, params, timeout, fired: threading.Event, max_rows):
        """The statement itself, cancellable by `cancel()` and by the timeout watchdog."""
        cur = self._conn.cursor()
        with self._cursor_lock:
            self._cursor, self._cancelled = cur, False
        watchdog = None
        if timeout:
            # SQLCancel from another thread: works with every driver, including those that
            # ignore SQL_ATTR_QUERY_TIMEOUT (psqlODBC); a little later than the driver's own
            watchdog = threading.Timer(timeout + (0.5 if self._driver_timeout else 0.0), self._cancel_cursor, (fired,))
            watchdog.daemon = True
            watchdog.start()
        try:
            cur.execute(sql, *(params or ()))
            columns = [d[0] for d in cur.description or ()]
            rows = cur.fetchmany(max_rows + 1) if max_rows else cur.fetchall()
        finally:
            if watchdog is not None:
                watchdog.cancel()
                watchdog.join()
            with self._cursor_lock:  # a cancel in progress returns before the handle is freed
                self._cursor = None
                cur.close()
        return columns, rows

    def cancel(self, reason: str | None = None) -> bool:
        """SQLCancel on the running statement (pyodbc Cursor.cancel), from any thread."""
        return self._cancel_cursor(None, reason)

    def _cancel_cursor(self, fired: threading.Event | None, reason: str | None = None) -> bool:
        """Cancel the running statement: on request (fired None) or at its timeout (the watchdog)."""
        with self._cursor_lock:
            if self._cursor is None:
                return False  # the statement just finished
            if fired is None:
                self._cancelled = True
                self._cancel_reason = reason or CANCELLED_BY_INTERRUPT
            else:
                fired.set()
            try:
                self._cursor.cancel()
            except Exception:  # noqa: BLE001 - the statement may just have finished
                pass
            return True

    # -- the read-only transaction ----------------------------------------------------------------
    def _begin_read_only(self) -> None:
        """Open this statement's transaction read-only, where the dialect can (our own statement)."""
        statement = READ_ONLY_TRANSACTION.get(self.dialect)
        if statement and self._transactions:
            self._conn.execute(statement)

    def _read_only_lost(self) -> str | None:
        """After the statement, inside its transaction: is the session still read-only? Why not, else None."""
        if self.dialect not in STILL_READ_ONLY:
            return None
        check, names = STILL_READ_ONLY[self.dialect]
        row = self._conn.execute(check).fetchone()
        values = [str(v).lower() for v in (row or ())]
        if values and all(v in ("on", "1", "true") for v in values):
            return None
        return (f"{self.where}: after the statement the session was no longer read-only ({names} = "
                f"{', '.join(values) or 'nothing'}): its transaction was rolled back, the connection discarded and "
                "the statement's result not used; find out what the statement calls (docs/security.md)")

    def _read_only_lost_after_failure(self) -> str | None:
        import pyodbc

        if self.discarded or self.dialect not in STILL_READ_ONLY:
            return None
        try:
            try:
                return self._read_only_lost()
            finally:
                self._end_transaction()
        except pyodbc.Error as exc:
            return (f"{self.where}: after a failed statement the session could not be checked read-only "
                    f"({scrub(str(exc))[:200]}); the connection was discarded")

    def _end_transaction(self) -> None:
        """Roll back, never commit; a connection that cannot roll back is not used again."""
        import pyodbc

        if not self._transactions:
            return
        try:
            self._conn.rollback()
        except pyodbc.Error as exc:
            self._discard(f"{self.where}: the statement's transaction could not be rolled back "
                          f"({scrub(str(exc))[:200]}); the connection was discarded")

    def _discard(self, why: str) -> DatabaseError:
        """Mark the session unusable and close its connection (the caller holds the lock)."""
        self.discarded = why
        try:
            self._conn.close()
        except Exception:  # noqa: BLE001 - closing a broken connection must not raise
            pass
        return DatabaseError(why)

    def _set_query_timeout(self, timeout: float | None) -> None:
        """The driver's own query timeout (SQL_ATTR_QUERY_TIMEOUT via pyodbc), when it has one."""
        import pyodbc

        if self._driver_timeout is False:
            return
        try:
            # whole seconds; 0 would mean no limit, so round up
            self._conn.timeout = int(math.ceil(timeout)) if timeout else 0
            self._driver_timeout = True
        except pyodbc.Error:
            self._driver_timeout = False  # e.g. psqlODBC: the watchdog alone enforces it

    def close(self) -> None:
        with self._lock:
            try:
                if self._transactions and not self.discarded:
                    self._conn.rollback()
                self._conn.close()
            except Exception:  # noqa: BLE001 - closing a broken connection must not raise
                pass

    # -- internals ------------------------------------------------------------------------------
    def _getinfo(self, name: str) -> str:
        import pyodbc

        try:
            return str(self._conn.getinfo(getattr(pyodbc, name)) or "")
        except pyodbc.Error:
            return ""

    def _make_read_only(self) -> None:
        """Ask the server itself to refuse writes on this session, where it can. Our own statement,
        run here only: checks cannot reach this path (they go through `query`, which guards)."""
        import pyodbc

        statement = {
            "postgres": "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
            "sqlite": "PRAGMA query_only = 1",
        }.get(self.dialect)
        if not statement:
            return
        try:
            self._conn.execute(statement)
        except pyodbc.Error as exc:
            self._conn.close()
            raise map_odbc_error(exc, f"{self.where} (setting the session read-only)") from None

    def _manual_commit(self) -> bool:
        """Leave autocommit so that each statement's transaction can be rolled back. A driver that
        cannot is refused where the read-only transaction is the server's guarantee (PostgreSQL,
        Oracle); elsewhere (SQL Server and unknown engines) the guard and the login's rights remain."""
        import pyodbc

        try:
            self._conn.autocommit = False
            return True
        except pyodbc.Error as exc:
            if self.dialect in READ_ONLY_TRANSACTION:
                self._conn.close()
                raise DatabaseError(f"{self.where}: the ODBC driver cannot run statements in a transaction "
                                    f"({scrub(str(exc))[:200]}), so they cannot be held read-only") from None
            return False


class MssqlSession(OdbcSession):
    """SQL Server through Microsoft's ODBC driver 18/17 or FreeTDS; default database ``mvf``."""

    kind = "mssql"
    default_dialect = "tsql"

    @staticmethod
    def describe(db: "Database", host: "Host") -> str:
        return f"SQL Server database {db.name} on host {host.name}"

    @classmethod
    def connection_parts(cls, db: "Database", host: "Host") -> dict[str, Any]:
        where = cls.describe(db, host)
        if db.dsn:
            parts: dict[str, Any] = {"DSN": db.dsn, "DATABASE": db.database or "mvf"}
        else:
            if db.driver:
                _require_driver(db.driver, where)
            driver = db.driver or _first_mssql_driver(where)  # picked from the installed drivers
            server = db.server or host.reach
            parts = {"DRIVER": driver}
            if driver.lower().startswith("freetds"):
                # FreeTDS: instance through the SQL Browser, or a fixed port
                parts["SERVER"] = f"{server}\\{db.instance}" if db.instance and not db.port else server
                parts["PORT"] = db.port
                parts["TDS_Version"] = "7.4"
            else:
                parts["SERVER"] = (f"{server}\\{db.instance}" if db.instance else server) + (f",{db.port}" if db.port else "")
                # routes to a readable secondary where there is one; harmless elsewhere
                parts["ApplicationIntent"] = "ReadOnly"
            parts["DATABASE"] = db.database or "mvf"
            if not db.user and not driver.lower().startswith("freetds"):
                parts["Trusted_Connection"] = "yes"  # Windows authentication of the account running us
        return parts


def guess_dialect(dbms_name: str) -> str:
    """The dialect of an ODBC server from its SQL_DBMS_NAME ('generic' when unknown: the guard then
    parses with sqlglot's generic dialect)."""
    return dialects.from_dbms_name(dbms_name)


def _login_timeout(db: "Database") -> float:
    try:
        return float(db.odbc_options.get("LoginTimeout", DEFAULT_LOGIN_TIMEOUT_S))
    except (TypeError, ValueError):
        return DEFAULT_LOGIN_TIMEOUT_S


def _credentials(db: "Database", host: "Host", where: str) -> dict[str, Any]:
    parts: dict[str, Any] = {}
    if db.user:
        parts["UID"] = db.user
    if db.password:
        try:
            parts["PWD"] = db.password.resolve(f"password of {db.user or 'the database user'} for {where}")
        except SecretError as exc:
            raise DatabaseError(f"{where}: cannot read the password: {exc}") from None
    return parts


def _require_driver(driver: str | None, where: str) -> None:
    if not driver:
        raise DatabaseError(f"{where}: set 'driver' (an ODBC driver name) or 'dsn' in the inventory")
    installed = installed_drivers()
    if driver not in installed:
        raise MissingDriver(
            f"{where}: ODBC driver {driver!r} is not installed (installed: {', '.join(installed) or 'none'}). "
            "For SQL Server install Microsoft's msodbcsql18 package or FreeTDS (apt-get install tdsodbc); "
            "for PostgreSQL odbc-postgresql; or name an installed driver in the inventory"
        )


def _first_mssql_driver(where: str) -> str:
    installed = installed_drivers()
    for name in MSSQL_DRIVERS:
        if name in installed:
            return name
    raise MissingDriver(
        f"{where}: no SQL Server ODBC driver is installed (installed: {', '.join(installed) or 'none'}); install "
        "Microsoft's msodbcsql18 package (ODBC Driver 18 for SQL Server) or FreeTDS (apt-get install tdsodbc)"
    )
