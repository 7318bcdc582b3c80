"""SqliteSession: opened read-only (mode=ro) with PRAGMA query_only, checked after every statement;
cancel() interrupts a running statement from another thread."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from impax_preflight.db.base import DatabaseError, QueryCancelled, QueryTimeout
from impax_preflight.db.sqlite import SqliteSession

# a statement that runs until stopped
ENDLESS = "with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c"
# the same, reading a table as it goes: it holds the file's shared lock while it runs
ENDLESS_READING = ENDLESS + ", study"


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "mvf.db"
    con = sqlite3.connect(path)
    con.executescript("create table study(id integer primary key, ae text); insert into study values (1, 'ARCH1');")
    con.commit()
    con.close()
    return path


def test_opened_read_only_twice_over(db):
    s = SqliteSession(db)
    assert s.query("select count(*) from study").scalar() == 1
    assert s._conn.execute("PRAGMA query_only").fetchone() == (1,)
    with pytest.raises(sqlite3.OperationalError, match="readonly|query_only"):
        s._conn.execute("delete from study")  # past the guard on purpose: the engine refuses
    s._conn.execute("PRAGMA query_only = 0")
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        s._conn.execute("delete from study")  # mode=ro still holds without query_only
    s.close()
    assert sqlite3.connect(db).execute("select count(*) from study").fetchone() == (1,)


def test_a_session_no_longer_query_only_after_a_statement_is_discarded(db, monkeypatch):
    import impax_preflight.db.base as base

    s = SqliteSession(db)
    monkeypatch.setattr(base, "ensure_read_only", lambda *a, **k: None)  # a hole in the guard, on purpose
    with pytest.raises(DatabaseError, match="query_only no longer held"):
        s.query("PRAGMA query_only = 0")
    assert s.discarded
    with pytest.raises(DatabaseError, match="discarded"):
        s.query("select 1")


def _reading(path) -> bool:
    """Whether a statement is reading the file now: it holds a shared lock, so another connection
    cannot take an exclusive one (nothing is written: the attempt is rolled back or refused)."""
    con = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        con.execute("begin exclusive")
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc), exc
        return True
    else:
        con.execute("rollback")
        return False
    finally:
        con.close()


def test_cancel_from_another_thread(db):
    s = SqliteSession(db)
    outcome: list = []
    t = threading.Thread(target=lambda: outcome.append(_run(s, ENDLESS_READING, timeout=60)))
    t.start()
    deadline = time.monotonic() + 10  # SQLite runs the statement (before, an interrupt would be lost)
    while not _reading(db) and time.monotonic() < deadline:
        time.sleep(0.01)
    start = time.monotonic()
    assert s.cancel() is True
    t.join(10)
    # at once, not at the statement's 60 s timeout
    assert not t.is_alive() and time.monotonic() - start < 10 and isinstance(outcome[0], QueryCancelled)
    assert s.cancel() is False
    assert s.query("select 7").scalar() == 7


def test_a_timeout_is_still_a_timeout(db):
    s = SqliteSession(db)
    with pytest.raises(QueryTimeout):
        s.query(ENDLESS, timeout=0.5)


def _run(session, sql, timeout):
    try:
        return session.query(sql, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - the test inspects it
        return exc
