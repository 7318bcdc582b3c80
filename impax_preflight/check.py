"""The check API: a declaration (what, where, how bad, what to do) plus a function of a context.

`@check(...)` turns a function of a `CheckContext` (see `context.py`) into a `Check`;
`Applicability` says where it applies. A plugin imports both from here.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from . import dialects as _dialects
from .versions import parse_version
from .vocabulary import OS_NAMES, Severity, TargetKind

if TYPE_CHECKING:  # pragma: no cover
    from .context import CheckContext, Memo, as_findings, evidence_from_command, evidence_from_query
    from .inventory import Database, Host, Inventory, Site
    from .model import CheckInfo, Finding
    from .options import OptionType
    from .probes import Probe

#: the context and its helpers, importable from here too (loaded on first use: this module stays
#: light, so `from impax_preflight import check` imports no pydantic model)
_FROM_CONTEXT = ("CheckContext", "Memo", "as_findings", "evidence_from_command", "evidence_from_query")


def __getattr__(name: str):
    if name in _FROM_CONTEXT:
        from . import context

        return getattr(context, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "Applicability",
    "Check",
    "CheckContext",
    "Memo",
    "TargetKind",
    "as_findings",
    "check",
    "evidence_from_command",
    "evidence_from_query",
    "register_module_checks",
]


@dataclass(frozen=True)
class Applicability:
    """Where a check applies. Empty tuples mean 'any'."""

    roles: tuple[str, ...] = ()
    os: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    db_kinds: tuple[str, ...] = ()
    db_purposes: tuple[str, ...] = ()
    dialects: tuple[str, ...] = ()  # SQL dialects (oracle, tsql, postgres, sqlite) the database must speak
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
        for bound in (self.min_source_version, self.max_source_version):
            if bound and parse_version(bound) is None:  # a plugin's declaration; files are checked when they load
                # not "does not apply": what cannot be decided is an error finding (see plan._applies)
                raise ValueError(f"the check's source-version bound {bound!r} is not a version")
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
            if self.dialects:
                spoken = _dialects.of_database(db)
                wanted = " or ".join(_dialects.label(d) for d in self.dialects)
                article = "an" if wanted[:1] in "AEIOU" else "a"
                if spoken is None:
                    return f"not known to be {article} {wanted} database: the SQL dialect of this {db.kind} database is not declared (dialect = ...)"
                if spoken not in self.dialects:
                    return f"not {article} {wanted} database (this {db.kind} database speaks {_dialects.label(spoken)})"
        if self.when is not None:
            verdict = self.when(site, host, db, inventory=inventory) if _wants_inventory(self.when) else self.when(site, host, db)
            if verdict is not True:
                return verdict if isinstance(verdict, str) and verdict else "condition not met"
        return None

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k in ("roles", "os", "platforms", "db_kinds", "db_purposes", "dialects", "tiers", "features"):
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
    #: shell commands the check runs itself with ctx.run, per OS ("solaris", "windows", "linux", or
    #: "*"); a check that reads its host through probes declares none
    commands: dict[str, tuple[str, ...]] = field(default_factory=dict)
    timeout_s: float | None = None
    #: the reads of its host the check makes (`ctx.read`): their commands are what a collector gathers
    probes: tuple["Probe", ...] = ()
    #: the settings it reads from ``[site.options."<id>"]``, typed (`impax_preflight.options`): checked
    #: by `validate` and before a run; empty means not declared (then nothing is checked)
    options: Mapping[str, "OptionType"] = field(default_factory=dict)
    #: where it is declared when that is a file of the user's (a declarative check: file:line)
    source: str | None = None

    def commands_for(self, os_name: str, site: "Site | None" = None, host: "Host | None" = None) -> tuple[str, ...]:
        """Every command the check may run on a host of this OS: its probes' and its own."""
        from .probes import probes_commands  # loaded with the first check that has probes, not at import

        out = probes_commands(self.probes, os_name, site, host) if self.probes else []
        out += [c for c in tuple(self.commands.get(os_name, ())) + tuple(self.commands.get("*", ())) if c not in out]
        return tuple(out)

    def info(self, provider: str | None = None) -> "CheckInfo":
        from .model import CheckInfo

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
            commands={os_name: list(self.commands_for(os_name)) for os_name in self._oses() if self.commands_for(os_name)},
        )

    def _oses(self) -> list[str]:
        found = set(self.commands) | {os_name for p in self.probes for os_name in p.variants}
        if "*" in found:
            found = (found - {"*"}) | set(OS_NAMES)
        return sorted(found)


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
    probes: Iterable["Probe"] = (),
    options: Mapping[str, "OptionType"] | None = None,
    timeout_s: float | None = None,
    roles: Iterable[str] = (),
    os: Iterable[str] = (),
    platforms: Iterable[str] = (),
    db_kinds: Iterable[str] = (),
    db_purposes: Iterable[str] = (),
    dialects: Iterable[str] = (),
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
                dialects=tuple(dialects),
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
            probes=tuple(probes),
            options=dict(options or {}),
        )

    return wrap


def register_module_checks(register: Callable[[Check], None], namespace: dict[str, Any]) -> None:
    """Register every `Check` defined at module level (for use inside `impax_register_checks`)."""
    for value in list(namespace.values()):
        if isinstance(value, Check):
            register(value)


