"""Connections of one run: a shell per host opened once, a bounded pool of sessions per database.

A failure to connect is remembered and handed to every later user: a refused login is tried once
per run, never again (repeated attempts lock hospital accounts).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable

from .db.base import DatabaseError
from .secrets import SecretError, mask
from .transports.base import TransportError

if TYPE_CHECKING:  # pragma: no cover
    from .inventory import Database, Host
    from .plugins import PluginSet


class OpenOnce:
    """Open a resource once; remember a failure so a refused login is not retried (account lockout)."""

    def __init__(self, opener: Callable[[], Any]):
        self._opener = opener
        self._lock = threading.Lock()
        self._value: Any = None
        self._error: BaseException | None = None
        self._opened = False

    def get(self) -> Any:
        with self._lock:
            if self._error is not None:
                raise self._error
            if not self._opened:
                try:
                    self._value = self._opener()
                except BaseException as exc:
                    self._error = exc
                    raise
                self._opened = True
            return self._value

    @property
    def failed(self) -> BaseException | None:
        return self._error

    @property
    def value(self) -> Any:
        """The opened resource, or None when it was never opened (no waiting, no opening)."""
        return self._value if self._opened else None

    def close(self) -> None:
        with self._lock:
            if self._opened and self._value is not None:
                try:
                    self._value.close()
                except Exception:  # noqa: BLE001 - closing must never fail a run
                    pass


class SessionPool:
    """At most `limit` concurrent sessions on one database; sessions reused; first failure remembered.

    Sessions are opened one at a time: while one is being opened the others wait, so a refused
    login is attempted once, and every waiting check then sees that refusal.
    """

    def __init__(self, opener: Callable[[], Any], limit: int):
        self._opener = opener
        self.slots = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self._opening = threading.Lock()
        self._free: list[Any] = []
        self._all: list[Any] = []
        self._error: BaseException | None = None

    def take(self) -> Any:
        # a free session first: a failure to open one more (a per-user session limit) must not make
        # the sessions already open unusable; it only stops further attempts
        with self._lock:
            if self._free:
                return self._free.pop()
            if self._error is not None:
                raise self._error
        with self._opening:
            with self._lock:
                if self._free:
                    return self._free.pop()
                if self._error is not None:  # another check's attempt failed while we waited
                    raise self._error
            try:
                s = self._opener()
            except BaseException as exc:
                with self._lock:
                    self._error = exc
                raise
        with self._lock:
            self._all.append(s)
        return s

    def give_back(self, s: Any) -> None:
        with self._lock:
            if getattr(s, "discarded", None):
                # it could not be kept read-only: the session closed itself; never lent again
                if s in self._all:
                    self._all.remove(s)
                return
            self._free.append(s)

    def borrow_spare(self) -> Any | None:
        """Another session for a side task (the progress of a long scan) only if one is free right now
        within the limit: never waits, never opens beyond `limit`; None otherwise. Give it back with
        `return_spare`."""
        if not self.slots.acquire(blocking=False):
            return None
        try:
            return self.take()
        except BaseException:  # noqa: BLE001 - no spare then; the error stays remembered for the checks
            self.slots.release()
            return None

    def return_spare(self, s: Any) -> None:
        self.give_back(s)
        self.slots.release()

    def cancel_all(self) -> None:
        """Interrupt every statement running on this database's sessions (Ctrl-C)."""
        for s in self.sessions():
            try:
                s.cancel()
            except Exception:  # noqa: BLE001 - a driver's cancel must not stop the others
                pass

    def sessions(self) -> list[Any]:
        with self._lock:
            return list(self._all)

    def close(self) -> None:
        for s in self.sessions():
            try:
                s.close()
            except Exception:  # noqa: BLE001
                pass


def shell_opener(plugins: "PluginSet", host: "Host") -> Callable[[], Any]:
    """A function opening `host`'s shell with the transport its inventory entry names."""

    def open_shell():
        factory = plugins.transport(host.transport.kind)
        if factory is None:
            raise TransportError(
                f"host {host.name}: no transport '{host.transport.kind}' (available: {', '.join(plugins.transport_kinds())})"
            )
        try:
            return factory(host)
        except (TransportError, SecretError):
            raise
        except Exception as exc:  # noqa: BLE001 - a transport plugin's bug is still just this host's problem
            raise TransportError(f"host {host.name}: cannot open a {host.transport.kind} session: {mask(str(exc))}") from None

    return open_shell


def db_opener(plugins: "PluginSet", db: "Database", host: "Host", allow: frozenset[str] = frozenset()) -> Callable[[], Any]:
    """A function opening a read-only session on `db` with the driver its kind names; `allow` are the
    functions the site's inventory allows beyond the guard's built-in list."""

    def open_session():
        factory = plugins.database(db.kind)
        if factory is None:
            raise DatabaseError(f"no database driver for kind '{db.kind}' (available: {', '.join(plugins.database_kinds())})")
        try:
            session = factory(db, host)
            if allow:  # the guard in session.query reads them
                session.allowed_functions = allow
            return session
        except (DatabaseError, SecretError):
            raise
        except Exception as exc:  # noqa: BLE001
            raise DatabaseError(f"{host.name}/{db.name}: cannot open a {db.kind} session: {mask(str(exc))}") from None

    return open_session
