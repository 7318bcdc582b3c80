"""Reading declarative check files and building a `Check` from each ``[[check]]`` table."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from pydantic import ValidationError

from .. import dialects
from ..check import Applicability, Check
from ..documents import DocumentError, read_document, validation_problems
from ..vocabulary import Severity
from .errors import DeclarativeError
from .evaluator import Evaluator
from .schema import CheckSpec, CheckFile


def _parse_file(path: Path) -> list[CheckSpec]:
    try:
        data, lines = read_document(path, "check file")
    except DocumentError as exc:
        raise DeclarativeError(exc.problems) from None
    # a file is either [[check]] tables, or one check written at the top level
    try:
        if "check" not in data:
            return [CheckSpec.model_validate(data)]
        return CheckFile.model_validate(data).check
    except ValidationError as exc:
        raise DeclarativeError(validation_problems(path, lines, exc)) from None


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*.toml") if p.is_file())
    raise DeclarativeError([f"{path}: no such check file or folder"])


def load_declarative_checks(*paths: str | Path) -> list[Check]:
    """Read every ``*.toml`` under the given files / folders and build one `Check` per check.

    Raises `DeclarativeError` listing every problem (file:line: field: what is wrong), including
    a check id defined twice.
    """
    problems: list[str] = []
    built: list[Check] = []
    where: dict[str, Path] = {}
    for p in paths:
        try:
            files = _files(Path(p))
        except DeclarativeError as exc:
            problems += exc.problems
            continue
        for f in files:
            try:
                specs = _parse_file(f)
            except DeclarativeError as exc:
                problems += exc.problems
                continue
            for spec in specs:
                if spec.id in where:
                    problems.append(f"{f}: check id {spec.id!r} is already defined in {where[spec.id]}")
                    continue
                where[spec.id] = f
                built.append(build_check(spec, source=f))
    if problems:
        raise DeclarativeError(problems)
    return built


def build_check(spec: CheckSpec, source: Path | str | None = None) -> Check:
    """The `Check` a declarative spec describes (applicability, commands for bundles, the logic)."""
    a = spec.applies
    commands: dict[str, tuple[str, ...]] = {}
    if spec.command is not None:
        per_os = spec.command if isinstance(spec.command, dict) else {"default": spec.command}
        commands = {("*" if k == "default" else k): (v,) for k, v in per_os.items()}
    description = spec.description or f"Declarative check from {source}" if source else spec.description
    return Check(
        id=spec.id,
        title=spec.title,
        severity=Severity(spec.severity),
        target=spec.target,
        func=Evaluator(spec),
        applies=Applicability(
            roles=tuple(a.roles),
            os=tuple(a.os),
            platforms=tuple(a.platforms),
            db_kinds=tuple(a.db_kinds),
            db_purposes=tuple(a.db_purposes),
            dialects=tuple(a.dialects),
            tiers=tuple(a.tiers),
            min_source_version=a.min_source_version,
            max_source_version=a.max_source_version,
            features=tuple(a.features),
            when=_has_variant(spec),
        ),
        guide=spec.guide,
        remediation=spec.remediation,
        description=description,
        commands=commands,
        timeout_s=spec.timeout_s,
    )


def _has_variant(spec: CheckSpec) -> Callable[..., bool | str] | None:
    """A plan-time predicate: no SQL for this database's dialect / no command for this OS."""
    if isinstance(spec.sql, dict) and "default" not in spec.sql:
        keys = tuple(spec.sql)

        def has_sql(site, host, db) -> bool | str:
            """the check has SQL for the database's dialect"""
            dialect = dialects.of_database(db) if db is not None else None
            if dialect is None or dialect in keys:
                return True  # unknown until connected: decided at run time
            return f"no SQL for dialect {dialect} (the check has {', '.join(keys)})"

        return has_sql
    if isinstance(spec.command, dict) and "default" not in spec.command:
        oses = tuple(spec.command)

        def has_command(site, host, db) -> bool | str:
            """the check has a command for the host's OS"""
            if host is None or host.os in oses:
                return True
            return f"no command for OS {host.os} (the check has {', '.join(oses)})"

        return has_command
    return None
