"""ODBC sessions against a real PostgreSQL (psqlODBC) and SQLite (sqliteodbc), plus connection-string
building and error mapping for SQL Server (no SQL Server runs here: FreeTDS is exercised on a closed port)."""

from __future__ import annotations

import sqlite3
import time

import pytest

from conftest import require_service
from impax_preflight.db.base import DatabaseError, MissingDriver, ObjectMissing, QueryTimeout
from impax_preflight.db.odbc import (
    MssqlSession,
    OdbcSession,
    build_connection_string,
    guess_dialect,
    map_odbc_error,
    odbc_value,
    scrub,
)
from impax_preflight.db.readonly import ReadOnlyViolation
from impax_preflight.inventory import Database, Host, Transport
from impax_preflight.secrets import SecretRef


def _host(db: Database, address: str = "127.0.0.1") -> Host:
    return Host(name="dbhost", address=address, os="windows", roles=["database"], transport=Transport(kind="local"),
                databases=[db])


# ---- PostgreSQL through psqlODBC --------------------------------------------------------------


@pytest.fixture(scope="module")
def pg(odbc_postgres, postgres_server):
    postgres_server.admin(
        "DROP TABLE IF EXISTS studies; CREATE TABLE studies(id int primary key, modality text, size_mb numeric);"
        "INSERT INTO studies VALUES (1,'CT',512.5),(2,'MR',80),(3,'CR',12);"
        "DROP TABLE IF EXISTS writable; CREATE TABLE writable(x int);"
        f"GRANT SELECT ON studies TO {postgres_server.user}; GRANT ALL ON writable TO {postgres_server.user};"
    )
    session = odbc_postgres.open()
    yield session
    session.close()


@pytest.mark.service
def test_pg_query_with_params(pg):
    assert pg.dialect == "postgres" and pg.kind == "odbc"
    assert pg.server_version().startswith("PostgreSQL")
    r = pg.query("select id, modality from studies where size_mb > ? order by id", [50])
    assert r.columns == ["id", "modality"] and r.rows == [(1, "CT"), (2, "MR")]
    r = pg.query("select id from studies order by id", max_rows=2)
    assert r.rows == [(1,), (2,)] and r.truncated


@pytest.mark.service
def test_pg_statement_timeout_really_cancels(pg):
    start = time.monotonic()
    with pytest.raises(QueryTimeout, match="cancelled after 1s"):
        pg.query("select pg_sleep(5)", timeout=1)
    assert time.monotonic() - start < 2.5
    assert pg.query("select 42").scalar() == 42  # the session is still usable


@pytest.mark.service
def test_pg_missing_table_is_object_missing(pg):
    with pytest.raises(ObjectMissing, match="grant SELECT"):
        pg.query("select * from dba_data_files")


@pytest.mark.service
def test_pg_writes_refused_before_reaching_the_server(pg, postgres_server):
    before = postgres_server.admin("select count(*) from studies").strip()
    for sql in ("delete from studies", "update studies set size_mb = 0", "insert into studies values (9,'X',1)",
                "select 1; delete from studies", "drop table studies", "truncate studies"):
        with pytest.raises(ReadOnlyViolation):
            pg.query(sql)
    assert postgres_server.admin("select count(*) from studies").strip() == before == "3"


@pytest.mark.service
def test_pg_session_is_read_only_on_the_server_too(pg, postgres_server):
    import pyodbc

    # bypass the guard on purpose: the server itself refuses, even on a table this login may write
    with pytest.raises(pyodbc.Error, match="read-only transaction"):
        pg._conn.execute("insert into writable values (1)")
    assert postgres_server.admin("select count(*) from writable").strip() == "0"


@pytest.mark.service
def test_pg_wrong_password_is_refused_without_echoing_it(odbc_postgres, monkeypatch):
    monkeypatch.setenv("IMPAX_TEST_BAD_PG_PW", "Not-The-Password-77")
    db = odbc_postgres.database.model_copy(update={"password": SecretRef("env:IMPAX_TEST_BAD_PG_PW")})
    with pytest.raises(DatabaseError) as info:
        OdbcSession.for_database(db, odbc_postgres.host)
    text = str(info.value)
    assert "login refused" in text and "Not-The-Password-77" not in text


@pytest.mark.service
def test_pg_connection_refused_is_quick(odbc_postgres):
    from services import free_port

    db = odbc_postgres.database.model_copy(update={"port": free_port()})
    start = time.monotonic()
    with pytest.raises(DatabaseError, match="cannot reach"):
        OdbcSession.for_database(db, odbc_postgres.host)
    assert time.monotonic() - start < 5


@pytest.mark.service
def test_pg_dialect_guessed_from_the_driver(odbc_postgres):
    db = odbc_postgres.database.model_copy(update={"dialect": None})
    s = OdbcSession.for_database(db, odbc_postgres.host)
    try:
        assert s.dialect == "postgres"
    finally:
        s.close()


@pytest.mark.service
def test_pg_declared_as_another_dialect_is_refused(odbc_postgres):
    """The guard and the read-only transaction follow the dialect: SQLite declared for a PostgreSQL
    server would open no read-only transaction at all, so the session is refused."""
    db = odbc_postgres.database.model_copy(update={"dialect": "sqlite"})
    with pytest.raises(DatabaseError, match=r"declares dialect 'sqlite' but the server says it is 'PostgreSQL'"):
        OdbcSession.for_database(db, odbc_postgres.host)


# ---- SQLite through the SQLite3 ODBC driver ---------------------------------------------------


@pytest.fixture
def sqlite_target(tmp_path, odbc_sqlite):
    path = tmp_path / "mvf.db"
    con = sqlite3.connect(path)
    con.executescript("create table study(id integer primary key, ae text); insert into study values (1,'ARCH1'),(2,'WS2');")
    con.commit()
    con.close()
    return path, odbc_sqlite(path)


@pytest.mark.service
def test_sqlite_odbc_queries_guard_and_missing_table(sqlite_target):
    path, target = sqlite_target
    s = target.open()
    try:
        assert s.dialect == "sqlite"
        assert s.query("select ae from study where id = ?", [2]).rows == [("WS2",)]
        with pytest.raises(ObjectMissing):
            s.query("select * from no_such")
        with pytest.raises(ReadOnlyViolation):
            s.query("delete from study")
        import pyodbc

        with pytest.raises(pyodbc.Error):  # PRAGMA query_only: the file refuses writes past the guard too
            s._conn.execute("delete from study")
    finally:
        s.close()
    assert sqlite3.connect(path).execute("select count(*) from study").fetchone() == (2,)


@pytest.mark.service
def test_sqlite_odbc_slow_query_cancelled(sqlite_target):
    _, target = sqlite_target
    s = target.open()
    try:
        start = time.monotonic()
        with pytest.raises(QueryTimeout):
            s.query("with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c", timeout=1)
        assert time.monotonic() - start < 3
    finally:
        s.close()


# ---- connection strings, drivers, errors (no server needed) -----------------------------------


def test_odbc_value_quoting():
    assert odbc_value("plain") == "plain"
    assert odbc_value("a;b") == "{a;b}"
    assert odbc_value("x}y{") == "{x}}y{}"
    assert odbc_value(" padded ") == "{ padded }"
    cs = build_connection_string({"DRIVER": "FreeTDS", "SERVER": "db1", "PORT": None, "PWD": "p;w}d", "UID": "ro"})
    assert cs == "DRIVER={FreeTDS};SERVER=db1;PWD={p;w}}d};UID=ro"
    with pytest.raises(DatabaseError):
        build_connection_string({"BAD;KEY": "x"})


def test_scrub_removes_passwords_from_driver_text():
    assert scrub("failed: DRIVER={x};UID=sa;PWD={se;cr}}et};DATABASE=mvf") == \
        "failed: DRIVER={x};UID=sa;PWD=********;DATABASE=mvf"
    assert scrub("Password=hunter2; x") == "Password=********; x"


def test_error_mapping():
    class E(Exception):
        pass

    assert isinstance(map_odbc_error(E("42S02", "[42S02] Invalid object name 'dbo.x'"), "w"), ObjectMissing)
    assert isinstance(map_odbc_error(E("42P01", 'ERROR: relation "x" does not exist'), "w"), ObjectMissing)
    assert isinstance(map_odbc_error(E("HY000", "no such table: x"), "w"), ObjectMissing)
    assert isinstance(map_odbc_error(E("HYT00", "[HYT00] Query timeout expired"), "w"), QueryTimeout)
    assert isinstance(map_odbc_error(E("57014", "canceling statement due to statement timeout"), "w"), QueryTimeout)
    e = map_odbc_error(E("28000", "[28000] Login failed for user 'sa'. PWD=abc;"), "db1")
    assert type(e) is DatabaseError and "login refused" in str(e) and "abc" not in str(e)
    assert "cannot reach" in str(map_odbc_error(E("08001", "[08001] Unable to connect: Adaptive Server is unavailable"), "w"))
    assert isinstance(map_odbc_error(E("01000", "[01000] [unixODBC][Driver Manager]Can't open lib 'x'"), "w"), MissingDriver)


def test_guess_dialect():
    assert guess_dialect("PostgreSQL") == "postgres"
    assert guess_dialect("Microsoft SQL Server") == "tsql"
    assert guess_dialect("Oracle") == "oracle"
    assert guess_dialect("SQLite") == "sqlite"
    assert guess_dialect("Informix") == "generic"


def test_missing_driver_lists_installed_ones():
    db = Database(name="mvf", kind="odbc", driver="No Such Driver 99", server="x")
    with pytest.raises(MissingDriver) as info:
        OdbcSession.for_database(db, _host(db))
    assert "No Such Driver 99" in str(info.value) and "installed:" in str(info.value) and "tdsodbc" in str(info.value)


def test_mssql_connection_parts(monkeypatch):
    from impax_preflight.db import odbc

    monkeypatch.setattr(odbc, "installed_drivers", lambda: ["FreeTDS", "ODBC Driver 18 for SQL Server"])
    db = Database(name="mvf", kind="mssql", instance="IMPAX", user="ro", password=SecretRef("env:X"))
    parts = MssqlSession.connection_parts(db, _host(db, "sql01"))
    assert parts == {"DRIVER": "ODBC Driver 18 for SQL Server", "SERVER": "sql01\\IMPAX", "ApplicationIntent": "ReadOnly",
                     "DATABASE": "mvf"}
    db = Database(name="mvf", kind="mssql", server="10.1.1.1", port=1433, driver="FreeTDS", database="mvf_bk")
    assert MssqlSession.connection_parts(db, _host(db)) == {"DRIVER": "FreeTDS", "SERVER": "10.1.1.1", "PORT": 1433,
                                                            "TDS_Version": "7.4", "DATABASE": "mvf_bk"}
    db = Database(name="mvf", kind="mssql")
    assert MssqlSession.connection_parts(db, _host(db, "sql02"))["Trusted_Connection"] == "yes"
    monkeypatch.setattr(odbc, "installed_drivers", lambda: ["PostgreSQL Unicode"])
    with pytest.raises(MissingDriver, match="msodbcsql18"):
        MssqlSession.connection_parts(db, _host(db))


@pytest.mark.service
def test_mssql_over_freetds_to_a_closed_port_fails_fast_and_masks(monkeypatch):
    from impax_preflight.db.odbc import installed_drivers
    from services import free_port

    require_service("FreeTDS" in installed_drivers(), "ODBC driver FreeTDS (apt-get install tdsodbc)")
    monkeypatch.setenv("IMPAX_TEST_SQL_PW", "Sql-Secret-123")
    db = Database(name="mvf", kind="mssql", server="127.0.0.1", port=free_port(), driver="FreeTDS", user="sa",
                  password=SecretRef("env:IMPAX_TEST_SQL_PW"), odbc_options={"LoginTimeout": "3"})
    start = time.monotonic()
    with pytest.raises(DatabaseError) as info:
        MssqlSession.for_database(db, _host(db))
    assert time.monotonic() - start < 8
    assert "SQL Server database mvf on host dbhost" in str(info.value)
    assert "Sql-Secret-123" not in str(info.value)


# ---- the read-only transaction around every statement (issue 10) ------------------------------


@pytest.mark.service
def test_pg_every_statement_in_a_read_only_transaction_rolled_back(odbc_postgres, postgres_server):
    """Read from the server's own statement log: what psqlODBC really sent, in order."""
    user = postgres_server.user
    postgres_server.admin(f"ALTER ROLE {user} SET log_statement = 'all'")
    try:
        s = odbc_postgres.open()
        try:
            pid = s.query("select pg_backend_pid()").scalar()
            s.query("select 1 as marker_one")
            s.query("select 2 as marker_two")
        finally:
            s.close()
    finally:
        postgres_server.admin(f"ALTER ROLE {user} RESET log_statement")
    time.sleep(0.3)
    lines = [ln.split("statement: ", 1)[1] for ln in (postgres_server.root / "postgres.log").read_text().splitlines()
             if f"[{pid}]" in ln and "statement: " in ln]
    sent = " | ".join(lines)
    assert "COMMIT" not in sent.upper()
    for marker in ("marker_one", "marker_two"):
        i = next(n for n, ln in enumerate(lines) if marker in ln)
        # the transaction opened read-only just before, the session checked and rolled back just after
        assert "SET TRANSACTION READ ONLY" in lines[i - 1], sent
        assert "current_setting('default_transaction_read_only')" in lines[i + 1], sent
        assert lines[i + 2] == "ROLLBACK", sent


@pytest.mark.service
def test_sqlite_odbc_session_no_longer_query_only_is_discarded(sqlite_target, monkeypatch):
    import impax_preflight.db.base as base

    path, target = sqlite_target
    s = target.open()
    try:
        monkeypatch.setattr(base, "ensure_read_only", lambda *a, **k: None)  # a hole in the guard, on purpose
        with pytest.raises(DatabaseError, match="no longer read-only"):
            s.query("PRAGMA query_only = 0")
        assert s.discarded
    finally:
        s.close()
    assert sqlite3.connect(path).execute("select count(*) from study").fetchone() == (2,)


class _FakeOdbcConnection:
    """What an ODBC driver manager is asked to do, for engines that do not run here (SQL Server, Oracle)."""

    def __init__(self, manual_commit_ok: bool = True):
        self.log: list = []
        self._autocommit = True
        self.manual_commit_ok = manual_commit_ok
        self.timeout = 0

    @property
    def autocommit(self):
        return self._autocommit

    @autocommit.setter
    def autocommit(self, value):
        import pyodbc

        if not value and not self.manual_commit_ok:
            raise pyodbc.Error("HYC00", "[HYC00] Optional feature not implemented")
        self.log.append(("autocommit", value))
        self._autocommit = value

    def getinfo(self, what):
        return ""

    def execute(self, sql, *params):
        self.log.append(("execute", sql))
        return self

    def cursor(self):
        conn = self

        class Cur:
            description = [("n",)]

            def execute(self, sql, *params):
                conn.log.append(("query", sql))

            def fetchall(self):
                return [(1,)]

            def fetchmany(self, n):
                return [(1,)]

            def cancel(self):
                pass

            def close(self):
                pass

        return Cur()

    def rollback(self):
        self.log.append(("rollback",))

    def commit(self):  # pragma: no cover - must never be called
        raise AssertionError("a read-only session never commits")

    def close(self):
        self.log.append(("close",))


@pytest.mark.parametrize("dialect,begin", [("tsql", None), ("oracle", "SET TRANSACTION READ ONLY"), ("generic", None)])
def test_statement_transactions_per_dialect_without_a_server(monkeypatch, dialect, begin):
    import pyodbc

    conn = _FakeOdbcConnection()
    monkeypatch.setattr(pyodbc, "connect", lambda *a, **k: conn)
    s = OdbcSession("DRIVER={x}", where="db", dialect=dialect)
    assert ("autocommit", False) in conn.log  # manual commit: every statement's transaction can be rolled back
    conn.log.clear()
    assert s.query("select 1 as n").rows == [(1,)]
    expected = ([("execute", begin)] if begin else []) + [("query", "select 1 as n"), ("rollback",)]
    assert conn.log == expected
    s.close()


def test_a_driver_without_transactions_is_refused_where_read_only_depends_on_them(monkeypatch):
    import pyodbc

    monkeypatch.setattr(pyodbc, "connect", lambda *a, **k: _FakeOdbcConnection(manual_commit_ok=False))
    with pytest.raises(DatabaseError, match="cannot run statements in a transaction"):
        OdbcSession("DRIVER={x}", where="db", dialect="oracle")
    # SQL Server has no read-only transaction anyway: the guard and the login's rights remain
    conn = _FakeOdbcConnection(manual_commit_ok=False)
    monkeypatch.setattr(pyodbc, "connect", lambda *a, **k: conn)
    s = OdbcSession("DRIVER={x}", where="db", dialect="tsql")
    assert s.query("select 1 as n").rows == [(1,)] and ("rollback",) not in conn.log
