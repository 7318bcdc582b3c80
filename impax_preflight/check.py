"""The check API: a declaration (what, where, how bad, what to do) plus a function of a context.

A check never prints. It yields `Finding`s built with the context's helpers, which attach the
evidence gathered so far (every command and query it ran) so nothing is claimed without proof.
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Literal

from .model import CheckInfo, Evidence, Finding, Severity, Status
from .secrets import mask
from .transports.base import CommandResult, TransportError
from .versions import parse_version

if TYPE_CHECKING:  # pragma: no cover
    from .db.base import QueryResult, SqlSession
    from .inventory import Database, Host, Inventory, Site, Thresholds
    from .transports.base import Shell

TargetKind = Literal["host", "database", "site"]
EXCERPT_CHARS = 8000


@dataclass(frozen=True)
class Applicability:
    """Where a check applies. Empty tuples mean 'any'."""

    roles: tuple[str, ...] = ()
    os: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    db_kinds: tuple[str, ...] = ()
    db_purposes: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    min_source_version: str | None = None
    max_source_version: str | None = None
    features: tuple[str, ...] = ()  # declared features that must be truthy (e.g. "talkstation")
    when: Callable[..., bool | str] | None = None  # extra predicate(site, host, db) -> True or a reason string

    def reason_not(
        self, site: "Site", host: "Host | None", db: "Database | None", inventory: "Inventory | None" = None
    ) -> str | None:
        """None if applicable, else why not (shown in the report's 'not run' list).

        A `when` predicate that names an ``inventory`` parameter also receives the whole inventory
        (site checks use it, e.g. "some host lists an AE with role old_archive").
        """
        if self.platforms and site.platform not in self.platforms:
            return f"platform {site.platform} (applies to {', '.join(self.platforms)})"
        src = parse_version((host.impax_version if host and host.impax_version else None) or site.impax_version)
        if self.min_source_version and src is not None and src < self.min_source_version:
            return f"source version {src} below {self.min_source_version}"
        if self.max_source_version and src is not None and src > self.max_source_version:
            return f"source version {src} above {self.max_source_version}"
        for feat in self.features:
            if not getattr(site.features, feat, None) and not site.features.custom.get(feat):
                return f"feature '{feat}' not declared in the inventory"
        if host is not None:
            if self.roles and not set(self.roles) & set(host.roles):
                return f"roles {', '.join(host.roles)} (applies to {', '.join(self.roles)})"
            if self.os and host.os not in self.os:
                return f"OS {host.os} (applies to {', '.join(self.os)})"
            if self.tiers and host.tier not in self.tiers:
                return f"tier {host.tier} (applies to {', '.join(self.tiers)})"
        if db is not None:
            if self.db_kinds and db.kind not in self.db_kinds:
                return f"database kind {db.kind} (applies to {', '.join(self.db_kinds)})"
            if self.db_purposes and db.purpose not in self.db_purposes:
                return f"database purpose {db.purpose} (applies to {', '.join(self.db_purposes)})"
        if self.when is not None:
            verdict = self.when(site, host, db, inventory=inventory) if _wants_inventory(self.when) else self.when(site, host, db)
            if verdict is not True:
                return verdict if isinstance(verdict, str) and verdict else "condition not met"
        return None

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k in ("roles", "os", "platforms", "db_kinds", "db_purposes", "tiers", "features"):
            if getattr(self, k):
                out[k] = list(getattr(self, k))
        for k in ("min_source_version", "max_source_version"):
            if getattr(self, k):
                out[k] = getattr(self, k)
        if self.when is not None:
            out["when"] = (self.when.__doc__ or self.when.__name__).strip().splitlines()[0]
        return out


@functools.lru_cache(maxsize=None)
def _wants_inventory(fn: Callable) -> bool:
    try:
        return "inventory" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class Check:
    """One check of the catalog."""

    id: str
    title: str
    severity: Severity
    target: TargetKind
    func: Callable[["CheckContext"], Iterable[Finding] | Finding | None]
    applies: Applicability = field(default_factory=Applicability)
    guide: str | None = None
    remediation: str | None = None
    description: str | None = None
    #: shell commands the check may run, per OS ("solaris", "windows", "linux", or "*"),
    #: so a bundle collector can gather them ahead of time
    commands: dict[str, tuple[str, ...]] = field(default_factory=dict)
    timeout_s: float | None = None

    def commands_for(self, os_name: str) -> tuple[str, ...]:
        return tuple(self.commands.get(os_name, ())) + tuple(self.commands.get("*", ()))

    def info(self, provider: str | None = None) -> CheckInfo:
        return CheckInfo(
            id=self.id,
            title=self.title,
            severity=self.severity,
            target=self.target,
            guide=self.guide,
            remediation=self.remediation,
            description=self.description or (self.func.__doc__ or "").strip() or None,
            provider=provider,
            applies_to=self.applies.describe(),
            commands={k: list(v) for k, v in self.commands.items()},
        )


def check(
    id: str,
    title: str,
    severity: str | Severity,
    target: TargetKind,
    *,
    guide: str | None = None,
    remediation: str | None = None,
    description: str | None = None,
    commands: dict[str, Iterable[str]] | None = None,
    timeout_s: float | None = None,
    roles: Iterable[str] = (),
    os: Iterable[str] = (),
    platforms: Iterable[str] = (),
    db_kinds: Iterable[str] = (),
    db_purposes: Iterable[str] = (),
    tiers: Iterable[str] = (),
    min_source_version: str | None = None,
    max_source_version: str | None = None,
    features: Iterable[str] = (),
    when: Callable[..., bool | str] | None = None,
) -> Callable[[Callable], Check]:
    """Decorator turning a function of a CheckContext into a `Check` declaration."""

    def wrap(func: Callable) -> Check:
        return Check(
            id=id,
            title=title,
            severity=Severity(severity),
            target=target,
            func=func,
            applies=Applicability(
                roles=tuple(roles),
                os=tuple(os),
                platforms=tuple(platforms),
                db_kinds=tuple(db_kinds),
                db_purposes=tuple(db_purposes),
                tiers=tuple(tiers),
                min_source_version=min_source_version,
                max_source_version=max_source_version,
                features=tuple(features),
                when=when,
            ),
            guide=guide,
            remediation=remediation,
            description=description,
            commands={k: tuple(v) for k, v in (commands or {}).items()},
            timeout_s=timeout_s,
        )

    return wrap


def register_module_checks(register: Callable[[Check], None], namespace: dict[str, Any]) -> None:
    """Register every `Check` defined at module level (for use inside `impax_register_checks`)."""
    for value in list(namespace.values()):
        if isinstance(value, Check):
            register(value)


class Memo:
    """Compute-once values shared by the checks of one target (e.g. one scan of a table).

    Thread-safe: the first caller computes, the others wait for its result (or its exception).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[Any, "_Slot"] = {}

    def get(self, key: Any, compute: Callable[[], Any]) -> Any:
        with self._lock:
            slot = self._slots.get(key)
            owner = slot is None
            if owner:
                slot = self._slots[key] = _Slot()
        assert slot is not None
        if owner:
            try:
                slot.value = compute()
            except BaseException as exc:  # noqa: BLE001 - re-raised to every waiter
                slot.error = exc
            finally:
                slot.done.set()
        else:
            slot.done.wait()
        if slot.error is not None:
            raise slot.error
        return slot.value


class _Slot:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class CheckContext:
    """Everything a check may touch, and the helpers to report what it found."""

    def __init__(
        self,
        check: Check,
        inventory: "Inventory",
        *,
        host: "Host | None" = None,
        database: "Database | None" = None,
        shell_factory: Callable[[], "Shell"] | None = None,
        sql_factory: Callable[[], "SqlSession"] | None = None,
        facts: dict[str, Any] | None = None,
        all_facts: dict[str, dict[str, Any]] | None = None,
        findings_so_far: Callable[[], list[Finding]] | None = None,
        memo: Memo | None = None,
        deadline: float | None = None,
        provider: str | None = None,
        output_dir: str | Path | None = None,
        progress: Callable[..., None] | None = None,
    ) -> None:
        self.check = check
        self.inventory = inventory
        self.site = inventory.site
        self.host = host
        self.database = database
        self.facts: dict[str, Any] = facts if facts is not None else {}
        self.all_facts = all_facts or {}
        self.memo = memo or Memo()
        self.deadline = deadline
        self.provider = provider
        #: the run's report folder (None when the run writes no files): for a check's own side files
        self.output_dir = Path(output_dir) if output_dir is not None else None
        self._progress = progress
        self.evidence: list[Evidence] = []
        self._shell_factory = shell_factory
        self._sql_factory = sql_factory
        self._findings_so_far = findings_so_far or (lambda: [])

    # -- what the check may touch ------------------------------------------------------------
    @property
    def thresholds(self) -> "Thresholds":
        return self.site.thresholds

    @property
    def options(self) -> dict[str, Any]:
        """Site settings for this check: `[site.options."<check id>"]` in the inventory."""
        return self.site.options.get(self.check.id, {})

    @property
    def target_name(self) -> str:
        if self.database is not None and self.host is not None:
            return f"{self.host.name}/{self.database.name}"
        if self.host is not None:
            return self.host.name
        return "site"

    @property
    def shell(self) -> "Shell":
        if self._shell_factory is None:
            raise TransportError(f"check {self.check.id} has no shell on target {self.target_name}")
        return self._shell_factory()

    @property
    def sql(self) -> "SqlSession":
        if self._sql_factory is None:
            raise TransportError(f"check {self.check.id} has no database session on target {self.target_name}")
        return self._sql_factory()

    def findings(self) -> list[Finding]:
        """Findings produced so far in this run (site checks see every host's results)."""
        return self._findings_so_far()

    def remaining(self, default: float) -> float:
        """Seconds left before this check's deadline, capped by `default`."""
        if self.deadline is None:
            return default
        return max(0.5, min(default, self.deadline - time.monotonic()))

    def run(self, command: str, timeout: float | None = None, privileged: bool = False) -> CommandResult:
        """Run a command on the target host and record it as evidence.

        `privileged=True` for the few commands that need it (e.g. `fmadm faulty`): the host's
        `transport.privilege` prefix (pfexec / sudo -n) is applied by transports that have one.
        """
        t = self.remaining(timeout or self.thresholds.command_timeout_s)
        result = self.shell.run(command, timeout=t, privileged=True) if privileged else self.shell.run(command, timeout=t)
        self.evidence.append(evidence_from_command(result, self.target_name))
        return result

    def query(self, sql: str, params=None, timeout: float | None = None, max_rows: int | None = None) -> "QueryResult":
        """Run one read-only query on the target database and record it as evidence."""
        db_timeout = (self.database.statement_timeout_s if self.database else None) or self.thresholds.statement_timeout_s
        session = self.sql
        result = session.query(sql, params, timeout=self.remaining(timeout or db_timeout), max_rows=max_rows)
        self.evidence.append(evidence_from_query(result, self.target_name, session.kind))
        return result

    def progress(self, message: str, done: int | None = None, total: int | None = None) -> None:
        """Tell the progress display how far a long check is (e.g. "day 73 of 365"). Never raises."""
        if self._progress is None:
            return
        try:
            self._progress(message=mask(message), done=done, total=total)
        except Exception:  # noqa: BLE001 - a display problem must not fail the check
            pass

    def note(self, text: str, source: str = "note") -> None:
        self.evidence.append(Evidence(kind="note", source=source, output=mask(text)))

    # -- building findings ------------------------------------------------------------------
    def finding(
        self,
        status: Status | str,
        message: str,
        *,
        subject: str | None = None,
        values: dict[str, Any] | None = None,
        evidence: list[Evidence] | None = None,
        remediation: str | None = None,
    ) -> Finding:
        status = Status(status)
        ev = list(self.evidence) if evidence is None else evidence
        return Finding(
            check_id=self.check.id,
            title=self.check.title,
            severity=self.check.severity,
            status=status,
            target=self.target_name,
            target_kind=self.check.target,
            subject=subject,
            message=message,
            evidence=ev,
            remediation=remediation if remediation is not None else (
                self.check.remediation if status in (Status.FAIL, Status.WARN, Status.ERROR) else None
            ),
            guide=self.check.guide,
            values=values or {},
            host=self.host.name if self.host else None,
            database=self.database.name if self.database else None,
            tier=self.host.tier if self.host else None,
            site=self.site.name,
            provider=self.provider,
        )

    def passed(self, message: str, **kw) -> Finding:
        return self.finding(Status.PASS, message, **kw)

    def warn(self, message: str, **kw) -> Finding:
        return self.finding(Status.WARN, message, **kw)

    def fail(self, message: str, **kw) -> Finding:
        return self.finding(Status.FAIL, message, **kw)

    def error(self, message: str, **kw) -> Finding:
        return self.finding(Status.ERROR, message, **kw)

    def skip(self, message: str, **kw) -> Finding:
        return self.finding(Status.SKIPPED, message, **kw)

    def problem(self, message: str, **kw) -> Finding:
        """FAIL for a blocker check, WARN otherwise: for checks whose severity says how bad it is."""
        return self.fail(message, **kw) if self.check.severity is Severity.BLOCKER else self.warn(message, **kw)


def evidence_from_command(result: CommandResult, target: str) -> Evidence:
    out = result.stdout
    truncated = result.truncated or len(out) > EXCERPT_CHARS
    return Evidence(
        kind="command",
        source=mask(result.command),
        target=target,
        rc=result.rc,
        output=mask(out[:EXCERPT_CHARS]),
        stderr=mask(result.stderr[:2000]),
        duration_s=round(result.duration, 4),
        truncated=truncated,
        transport=result.transport or None,
    )


def evidence_from_query(result: "QueryResult", target: str, kind: str) -> Evidence:
    lines = ["\t".join(result.columns)]
    for r in result.rows[:50]:
        lines.append("\t".join("NULL" if v is None else str(v) for v in r))
    if len(result.rows) > 50:
        lines.append(f"... {len(result.rows) - 50} more rows")
    return Evidence(
        kind="sql",
        source=mask(result.sql.strip()),
        target=target,
        output=mask("\n".join(lines)[:EXCERPT_CHARS]),
        rows=len(result.rows),
        duration_s=round(result.duration, 4),
        truncated=result.truncated or len(result.rows) > 50,
        transport=kind,
    )


def as_findings(produced: Iterable[Finding] | Finding | None) -> Iterator[Finding]:
    if produced is None:
        return iter(())
    if isinstance(produced, Finding):
        return iter((produced,))
    return iter(produced)
