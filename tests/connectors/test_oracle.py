"""OracleSession. No Oracle server can run here: the connect string, the error mapping, the guard and
the read-only transaction are tested with a fake connection; the real thin driver is exercised
against a closed port and a port where something else than Oracle answers."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from impax_preflight.db.base import DatabaseError, MissingDriver, ObjectMissing, QueryTimeout
from impax_preflight.db.oracle import (
    READ_ONLY_TRANSACTION,
    OracleSession,
    connect_string,
    error_code,
    map_oracle_error,
)
from impax_preflight.db.readonly import ReadOnlyViolation
from impax_preflight.inventory import Database, Host, Transport
from impax_preflight.secrets import SecretRef


def _host(address="10.20.30.40", dbs=()):
    return Host(name="db1", address=address, os="solaris", roles=["database"], transport=Transport(kind="local"),
                databases=list(dbs))


class FakeCursor:
    def __init__(self, conn):
        self.conn = conn
        self.description = None
        self.arraysize = 100
        self._rows = []

    def execute(self, sql, params=None):
        self.conn.log.append(("execute", sql, params, self.conn.call_timeout))
        if self.conn.fail_with is not None and sql != READ_ONLY_TRANSACTION:
            raise self.conn.fail_with
        if sql != READ_ONLY_TRANSACTION:
            self.description = [("TABLESPACE_NAME",), ("FREE_GB",)]
            self._rows = [("IMPAX_DATA", 1.5), ("IMPAX_INDEX", 7.0), ("USERS", 3.0)]

    def fetchall(self):
        return list(self._rows)

    def fetchmany(self, n):
        return list(self._rows[:n])

    def close(self):
        self.conn.log.append(("close-cursor",))


class FakeConnection:
    version = "19.21.0.0.0"

    def __init__(self):
        self.log: list = []
        self.call_timeout = 0
        self.fail_with = None

    def cursor(self):
        return FakeCursor(self)

    def rollback(self):
        self.log.append(("rollback",))

    def commit(self):  # pragma: no cover - must never be called
        raise AssertionError("a read-only session never commits")

    def close(self):
        self.log.append(("close",))


def test_connect_string_built_from_parts():
    db = Database(name="mvf", kind="oracle", service_name="MVF", user="preflight")
    assert connect_string(db, _host()) == "10.20.30.40:1521/MVF"
    db = Database(name="mvf", kind="oracle", service_name="MVF", server="ora-scan", port=1526)
    assert connect_string(db, _host()) == "ora-scan:1526/MVF"
    assert connect_string(Database(name="m", kind="oracle", service_name="S"), _host("fe80::1")) == "[fe80::1]:1521/S"
    db = Database(name="mvf", kind="oracle", dsn="dbhost.example:1521/MVF.example")
    assert connect_string(db, _host()) == "dbhost.example:1521/MVF.example"
    with pytest.raises(DatabaseError, match="service_name"):
        connect_string(Database(name="mvf", kind="oracle"), _host())


def test_tns_alias_needs_tns_admin(monkeypatch, tmp_path):
    db = Database(name="mvf", kind="oracle", dsn="MVF")
    monkeypatch.delenv("TNS_ADMIN", raising=False)
    with pytest.raises(DatabaseError, match="TNS_ADMIN"):
        connect_string(db, _host())
    monkeypatch.setenv("TNS_ADMIN", str(tmp_path))
    assert connect_string(db, _host()) == "MVF"


def test_read_only_transaction_call_timeout_and_guard():
    conn = FakeConnection()
    s = OracleSession(conn, where="Oracle database mvf on host db1")
    assert s.dialect == "oracle" and s.server_version() == "Oracle 19.21.0.0.0"
    sql = ("select df.tablespace_name, round(sum(fs.bytes)/1024/1024/1024, 1) free_gb from dba_data_files df "
           "left join dba_free_space fs on fs.file_id = df.file_id group by df.tablespace_name")
    r = s.query(sql, timeout=2.5, max_rows=2)
    assert r.rows == [("IMPAX_DATA", 1.5), ("IMPAX_INDEX", 7.0)] and r.truncated
    assert r.columns == ["TABLESPACE_NAME", "FREE_GB"]
    # every query: end what came before, open a read-only transaction, then the query, with its call timeout
    ops = [e for e in conn.log if e[0] in ("rollback", "execute")]
    assert ops[0] == ("rollback",)
    assert ops[1] == ("execute", READ_ONLY_TRANSACTION, None, 2500)
    assert ops[2] == ("execute", sql, [], 2500)
    # the guard stops writes before the driver sees them
    n = len(conn.log)
    for bad in ("delete from dbadmin.study", "begin execute immediate 'drop table x'; end;",
                "select * from v$session for update", "alter system switch logfile"):
        with pytest.raises(ReadOnlyViolation):
            s.query(bad)
    assert len(conn.log) == n
    s.query("select * from v$recovery_file_dest where name = :n", {"n": "+FRA"})
    assert [e for e in conn.log if e[0] == "execute"][-1][2] == {"n": "+FRA"}
    # ... and every query's transaction ends in a rollback, after its cursor is closed: never a commit
    assert conn.log[-2:] == [("close-cursor",), ("rollback",)]
    s.close()
    assert conn.log[-2:] == [("rollback",), ("close",)]


def test_errors_from_the_driver_are_mapped():
    import oracledb

    conn = FakeConnection()
    s = OracleSession(conn, where="Oracle database mvf on host db1")
    conn.fail_with = oracledb.DatabaseError("ORA-00942: table or view does not exist")
    with pytest.raises(ObjectMissing, match="SELECT_CATALOG_ROLE"):
        s.query("select * from dba_data_files")
    conn.fail_with = oracledb.DatabaseError("DPY-4024: call timeout of 1000 ms exceeded")
    with pytest.raises(QueryTimeout, match="cancelled after 1s"):
        s.query("select count(*) from dbadmin.study", timeout=1)


class _Err:
    def __init__(self, full_code, message):
        self.full_code, self.message = full_code, message

    def __str__(self):
        return self.message


@pytest.mark.parametrize(
    "code,message,timeout,kind,words",
    [
        ("ORA-00942", "ORA-00942: table or view does not exist", None, ObjectMissing, "no SELECT privilege"),
        ("ORA-01017", "ORA-01017: invalid username/password; logon denied", None, DatabaseError, "invalid username/password"),
        ("DPY-4011", "DPY-4011: the database or network closed the connection", 5, QueryTimeout, "call timeout"),
        ("DPY-4011", "DPY-4011: the database or network closed the connection", None, DatabaseError, "closed the connection"),
        ("ORA-03156", "ORA-03156: OCI call timed out", 3, QueryTimeout, "cancelled after 3s"),
        ("DPY-4024", "DPY-4024: call timeout of 2000 ms exceeded", 2, QueryTimeout, "statement_timeout_s"),
        ("DPY-6005", "DPY-6005: cannot connect to database. [Errno 111] Connection refused", None, DatabaseError, "listener"),
        ("ORA-28000", "ORA-28000: the account is locked", None, DatabaseError, "unlock"),
        ("ORA-12514", "ORA-12514: listener does not currently know of service", None, DatabaseError, "service_name"),
    ],
)
def test_error_mapping(code, message, timeout, kind, words):
    exc = Exception(_Err(code, message))
    assert error_code(exc) == code
    mapped = map_oracle_error(exc, "Oracle database mvf on host db1", timeout)
    assert type(mapped) is kind and words in str(mapped) and "db1" in str(mapped)
    # the same from a bare message (no error object)
    assert type(map_oracle_error(Exception(message), "w", timeout)) is kind


def test_mapped_errors_mask_the_password(monkeypatch):
    from impax_preflight.secrets import masker

    masker.register("Oracle-Pw-1234")
    mapped = map_oracle_error(Exception("ORA-01017: invalid username/password Oracle-Pw-1234"), "w")
    assert "Oracle-Pw-1234" not in str(mapped)


def test_missing_driver(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_oracledb(name, *a, **kw):
        if name == "oracledb":
            raise ImportError("No module named 'oracledb'")
        return real_import(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", no_oracledb)
    db = Database(name="mvf", kind="oracle", service_name="MVF", user="u")
    with pytest.raises(MissingDriver, match="pip install oracledb"):
        OracleSession.for_database(db, _host())


def test_real_thin_driver_connection_refused_is_quick(monkeypatch):
    from services import free_port

    monkeypatch.setenv("IMPAX_TEST_ORA_PW", "Ora-Secret-555")
    db = Database(name="mvf", kind="oracle", server="127.0.0.1", port=free_port(), service_name="MVF", user="preflight",
                  password=SecretRef("env:IMPAX_TEST_ORA_PW"))
    start = time.monotonic()
    with pytest.raises(DatabaseError) as info:
        OracleSession.for_database(db, _host())
    assert time.monotonic() - start < 5
    assert "cannot connect" in str(info.value) and "Ora-Secret-555" not in str(info.value)


def test_real_thin_driver_against_a_non_oracle_service_does_not_hang():
    # something answers on the port, but it is not an Oracle listener: it closes after a greeting
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    port = srv.getsockname()[1]

    def serve():
        try:
            while True:
                c, _ = srv.accept()
                c.sendall(b"SSH-2.0-NotOracle\r\n")
                c.close()
        except OSError:
            pass

    threading.Thread(target=serve, daemon=True).start()
    try:
        db = Database(name="mvf", kind="oracle", server="127.0.0.1", port=port, service_name="MVF", user="u")
        start = time.monotonic()
        with pytest.raises(DatabaseError):
            OracleSession.for_database(db, _host())
        assert time.monotonic() - start < 20
    finally:
        srv.close()


# ---- cancel (Ctrl-C): python-oracledb's Connection.cancel() from another thread -----------------


class BlockingConnection(FakeConnection):
    """A statement that blocks until cancel() breaks it, as oracledb raises ORA-01013 then."""

    def __init__(self):
        super().__init__()
        self.started = threading.Event()
        self.broken = threading.Event()

    def cursor(self):
        conn = self

        class Cur(FakeCursor):
            def execute(self, sql, params=None):
                super().execute(sql, params)
                if sql != READ_ONLY_TRANSACTION:
                    conn.started.set()
                    if conn.broken.wait(10):
                        import oracledb

                        raise oracledb.OperationalError("ORA-01013: user requested cancel of current operation")

        return Cur(self)

    def cancel(self):
        self.log.append(("cancel",))
        self.broken.set()


def test_cancel_breaks_the_running_call_and_rolls_back():
    from impax_preflight.db.base import QueryCancelled

    conn = BlockingConnection()
    s = OracleSession(conn, where="Oracle database mvf on host db1")
    assert s.cancel() is False  # nothing running: nothing sent
    outcome: list = []

    def run():
        try:
            s.query("select count(*) from dbadmin.study", timeout=600)
        except Exception as exc:  # noqa: BLE001 - inspected below
            outcome.append(exc)

    t = threading.Thread(target=run)
    t.start()
    assert conn.started.wait(5)
    start = time.monotonic()
    assert s.cancel() is True
    t.join(10)
    # at once, not at the statement's 600 s timeout
    assert not t.is_alive() and time.monotonic() - start < 10 and isinstance(outcome[0], QueryCancelled)
    assert ("cancel",) in conn.log and conn.log[-1] == ("rollback",)  # the transaction still ends in a rollback
