"""Reading declarative check files and building a `Check` from each ``[[check]]`` table."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable

from pydantic import ValidationError

from .. import dialects
from ..check import Applicability, Check
from ..documents import DocumentError, read_document, validation_problems
from ..fields import is_file
from ..vocabulary import Severity
from .errors import DeclarativeError
from .evaluator import Evaluator
from .schema import CheckSpec, CheckFile


def _parse_file(path: Path) -> list[tuple[CheckSpec, int]]:
    """The checks of one file, each with the line of its id."""
    try:
        data, lines = read_document(path, "check file")
    except DocumentError as exc:
        raise DeclarativeError(exc.problems, path=exc.path) from None
    if not isinstance(data, dict):
        raise DeclarativeError([f"{path}:1: a check file holds [[check]] tables (or one check), not {type(data).__name__}"],
                               path=str(path))
    # a file is either [[check]] tables, or one check written at the top level
    try:
        if "check" not in data:
            return [(CheckSpec.model_validate(data), lines.get(("id",), 1))]
        specs = CheckFile.model_validate(data).check
        return [(spec, lines.get(("check", i, "id"), lines.get(("check", i), 1))) for i, spec in enumerate(specs)]
    except ValidationError as exc:
        raise DeclarativeError(validation_problems(path, lines, exc), path=str(path)) from None


def _files(path: Path) -> list[Path]:
    if is_file(path):
        return [path]
    try:
        if path.is_dir():
            return sorted(p for p in path.rglob("*.toml") if is_file(p))
    except (OSError, ValueError) as exc:
        raise DeclarativeError([f"{path}: cannot read the check folder: {exc}"], path=str(path)) from None
    raise DeclarativeError([f"{path}: no such check file or folder"], path=str(path))


def load_declarative_checks(*paths: str | Path) -> list[Check]:
    """Read every ``*.toml`` under the given files / folders and build one `Check` per check.

    Raises `DeclarativeError` listing every problem (file:line: field: what is wrong), including
    a check id defined twice.
    """
    problems: list[str] = []
    first_bad: str | None = None
    built: list[Check] = []
    where: dict[str, str] = {}
    for p in paths:
        try:
            files = _files(Path(p))
        except DeclarativeError as exc:
            problems += exc.problems
            first_bad = first_bad or exc.path
            continue
        for f in files:
            try:
                specs = _parse_file(f)
            except DeclarativeError as exc:
                problems += exc.problems
                first_bad = first_bad or exc.path
                continue
            for spec, line in specs:
                if spec.id in where:
                    problems.append(f"{f}: check id {spec.id!r} is already defined in {where[spec.id]} (again on line {line})")
                    first_bad = first_bad or str(f)
                    continue
                where[spec.id] = f"{f}:{line}"
                built.append(replace(build_check(spec, source=f), source=f"{f}:{line}"))
    if problems:
        raise DeclarativeError(problems, path=first_bad)
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
