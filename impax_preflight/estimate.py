"""Before a run: how long each database's full-table scans would take (`impax-preflight plan`).

For every database with checks planned, one read-only session (one login attempt; the same guard
and rolled-back read-only transaction as a run) is lent to the plugins whose checks scan tables
(`impax_estimate_scans`): they read the data dictionary (rows, sizes, constraints that make a scan
unnecessary) and time a small bounded sample. Nothing is scanned. A database that cannot be
reached gets "no estimate" with the reason; the plan goes on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable

from . import dialects
from .db.base import DatabaseError
from .scans import ScanEstimate, wall_seconds
from .secrets import SecretError, mask
from .sessions import db_opener

if TYPE_CHECKING:  # pragma: no cover
    from .inventory import Inventory
    from .plan import PlanItem
    from .plugins import PluginSet


@dataclass
class DatabaseEstimate:
    """The scans one database would get, and what they would take."""

    target: str
    kind: str
    dialect: str | None
    sessions: int
    checks: list[str]
    statement_timeout_s: float
    check_timeout_s: float
    scans: list[ScanEstimate] = field(default_factory=list)
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def read(self) -> list[ScanEstimate]:
        """The scans that read a table (not those the dictionary proved)."""
        return [s for s in self.scans if s.scanned]

    @property
    def total_s(self) -> float | None:
        """Seconds of reading, one scan after another (None when no scan has an estimate)."""
        known = [s.seconds for s in self.read if s.seconds is not None]
        return round(sum(known), 1) if known else None

    @property
    def wall_s(self) -> float | None:
        """Seconds with `sessions` scans at once (the run's session limit for this database)."""
        known = [s.seconds for s in self.read if s.seconds is not None]
        return round(wall_seconds(known, self.sessions), 1) if known else None

    @property
    def unknown(self) -> list[str]:
        """Tables read whose duration is unknown (no statistics, no sample)."""
        return [s.table for s in self.read if s.seconds is None]

    def warnings(self) -> list[str]:
        """What would stop the scans as planned: a scan longer than a timeout."""
        out = []
        for s in self.read:
            if s.seconds is None:
                continue
            if s.seconds > self.statement_timeout_s:
                out.append(f"{s.table}: estimated {s.seconds:,.0f} s, longer than statement_timeout_s "
                           f"({self.statement_timeout_s:g} s): raise it (the database's statement_timeout_s or "
                           "[site.thresholds]) for the scan window, or the scan will be cancelled")
            if s.seconds > self.check_timeout_s:
                out.append(f"{s.table}: estimated {s.seconds:,.0f} s, longer than check_timeout_s "
                           f"({self.check_timeout_s:g} s): raise [site.thresholds] check_timeout_s (or --timeout)")
        return out

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(total_s=self.total_s, wall_s=self.wall_s, unknown=self.unknown, warnings=self.warnings())
        return out


def estimate_databases(
    plugins: "PluginSet",
    inventory: "Inventory",
    plan: Iterable["PlanItem"],
    *,
    sample: bool = True,
    connect: bool = True,
    check_timeout_s: float | None = None,
    on_database: Callable[[str], None] | None = None,
) -> list[DatabaseEstimate]:
    """One `DatabaseEstimate` per database that has checks in `plan`, in inventory order.

    `connect=False` only lists the databases ("not connected"); `sample=False` asks the plugins not
    to time a sample (the duration then comes from a calibrated rate); `on_database(target)` is
    called before each database is asked (for a progress line)."""
    th = inventory.site.thresholds
    allow = frozenset(f.name for f in inventory.site.sql.allow_functions)
    by_target: dict[str, list[str]] = {}
    for item in plan:
        if item.database is not None:
            by_target.setdefault(item.target, []).append(item.check.id)
    out: list[DatabaseEstimate] = []
    for host in inventory.hosts:
        for db in host.databases:
            target = f"{host.name}/{db.name}"
            if target not in by_target:
                continue
            est = DatabaseEstimate(
                target=target, kind=db.kind, dialect=dialects.of_database(db),
                sessions=db.max_sessions or th.sessions_per_database, checks=sorted(by_target[target]),
                statement_timeout_s=db.statement_timeout_s or th.statement_timeout_s,
                check_timeout_s=check_timeout_s or th.check_timeout_s,
            )
            out.append(est)
            if not connect:
                est.error = "not connected (--no-connect): the scans are listed by the checks that make them, not estimated"
                continue
            if on_database is not None:
                on_database(target)
            try:
                session = db_opener(plugins, db, host, allow)()
            except (DatabaseError, SecretError) as exc:
                est.error = f"no estimate: cannot connect: {mask(str(exc))}"
                continue
            try:
                est.dialect = getattr(session, "dialect", est.dialect)
                problems: list[str] = []
                results = plugins.call("impax_estimate_scans", on_error=lambda name, exc: problems.append(
                    f"plugin {name} could not estimate its scans: {mask(f'{type(exc).__name__}: {exc}')}"),
                    check_ids=est.checks, site=inventory.site, host=host, database=db, session=session, sample=sample)
                for _plugin, scans in results:
                    est.scans.extend(s for s in scans or [] if isinstance(s, ScanEstimate))
                est.notes.extend(problems)
            finally:
                session.close()
    return out
