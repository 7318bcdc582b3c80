"""Declarative checks: a TOML file with a query (or a command) and a pass condition, no Python.

An engineer drops a file like this into a folder given with ``--checks-dir``::

    [[check]]
    id = "site.acme.unverified_jobs"
    title = "No map jobs stuck unverified"
    severity = "warning"                 # blocker | warning | info
    target = "database"                  # host | database | site
    sql = "select count(*) from map_job where status = 'UNVERIFIED'"
    pass_if = "value == 0"
    remediation = "Verify the jobs in the IMPAX Administrator before the upgrade."
    guide = "Checking the integrity of database data"

Each ``[[check]]`` table (or a file that is itself one check) becomes a `Check` that runs through
the same read-only guard (``ctx.query``), timeouts, evidence and reports as the built-ins. A
malformed file raises `DeclarativeError` naming the file, the line and the field; the CLI shows
it and exits 3. Plugins ship TOML checks too: call `load_declarative_checks(path)` inside their
own ``impax_register_checks``. The full format is documented in docs/plugins.md.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import operator
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable, Iterable, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator, ValidationError, field_validator, model_validator

from .check import Applicability, Check, CheckContext
from .hookspecs import hookimpl
from .inventory import DocumentError, read_document, validation_problems
from .model import Finding, Severity
from .versions import parse_version

#: SQL keys a check may give, by our dialect names (the session's ``dialect``), plus ``default``.
SQL_KEYS = ("oracle", "tsql", "postgres", "sqlite", "default")
#: command keys: an OS name, or ``default`` for any OS.
COMMAND_KEYS = ("solaris", "windows", "linux", "default")
#: which SQL dialect a database kind speaks (odbc: the database's declared ``dialect``).
KIND_DIALECT = {"oracle": "oracle", "mssql": "tsql", "sqlite": "sqlite"}

_ID = re.compile(r"^[a-z0-9][a-z0-9_\-]*(\.[a-z0-9_\-]+)+$")


class DeclarativeError(Exception):
    """One or more malformed declarative check files.

    ``problems`` holds one line per problem, each starting with ``file:line:`` and naming the
    field; ``str()`` joins them, ready to show to the engineer.
    """

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


# ---- the pass condition ----------------------------------------------------------------------

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_EXPR = re.compile(
    r"""^\s*(?P<lhs>value|count|rows|rc)\s*(?P<op>==|!=|<=|>=|<|>)\s*
        (?P<rhs>-?\d+(?:\.\d+)?|'[^']*'|"[^"]*")\s*$""",
    re.X,
)


@dataclass(frozen=True)
class Condition:
    """``<operand> <op> <literal>``: operand value|count (first column of the first row, or the
    command's output), rows (row / non-empty line count), rc (command exit code)."""

    text: str
    operand: str
    op: str
    literal: float | str
    label: str = "value"  # the operand as written (count is shown as count)

    @classmethod
    def parse(cls, text: str) -> "Condition":
        m = _EXPR.match(text)
        if not m:
            raise ValueError(
                f"cannot read pass_if {text!r}: write '<value|count|rows|rc> <op> <number or 'text'>', "
                "e.g. \"value == 0\", \"value <= 90\", \"rows >= 2\", \"value == 'ARCHIVELOG'\""
            )
        rhs = m.group("rhs")
        literal: float | str = rhs[1:-1] if rhs[0] in "'\"" else float(rhs)
        operand = "value" if m.group("lhs") == "count" else m.group("lhs")
        return cls(text=text.strip(), operand=operand, op=m.group("op"), literal=literal, label=m.group("lhs"))

    def holds(self, measured: Any) -> bool:
        """True/False; raises ValueError when the measured value cannot be compared."""
        fn = _OPS[self.op]
        if measured is None:
            raise ValueError(f"nothing to compare for `{self.text}` (no row / empty output)")
        if isinstance(self.literal, float):
            number = _as_number(measured)
            if number is None:
                raise ValueError(f"`{self.text}`: {measured!r} is not a number")
            return fn(number, self.literal)
        text = str(measured).strip()
        if self.op in ("==", "!="):
            return fn(text, self.literal)
        # ordering against a text literal: compare as versions ("6.3.1" < "6.10"), never as strings
        left, right = parse_version(text), parse_version(self.literal)
        if left is None or right is None:
            raise ValueError(f"`{self.text}`: {text!r} and {self.literal!r} cannot be ordered (neither numbers nor versions)")
        return fn(left, right)


def _as_number(v: Any) -> float | None:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float, decimal.Decimal)):
        return float(v)
    if isinstance(v, (str, bytes)):
        try:
            return float(v.strip())
        except ValueError:
            return None
    return None


def _plain(v: Any) -> Any:
    """A JSON-friendly form of a driver value for `Finding.values`."""
    if isinstance(v, decimal.Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    if isinstance(v, (_dt.date, _dt.datetime, _dt.time)):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


# ---- the file format -------------------------------------------------------------------------


def _condition(v: Any) -> Condition:
    if isinstance(v, Condition):
        return v
    if not isinstance(v, str):
        raise ValueError(f"pass_if must be text such as \"value == 0\", not {type(v).__name__}")
    return Condition.parse(v)


#: ``pass_if`` in a check file: parsed once, when the file loads; written back as its text.
PassIf = Annotated[Condition, PlainValidator(_condition), PlainSerializer(lambda c: c.text, return_type=str)]


def _keys_known(v: Any, known: tuple[str, ...], what: str, empty: str) -> Any:
    """A per-dialect / per-OS table: only known keys, and at least one."""
    if isinstance(v, dict):
        bad = sorted(set(v) - set(known))
        if bad:
            raise ValueError(f"unknown {what} key(s) {', '.join(bad)}; use {', '.join(known)}")
        if not v:
            raise ValueError(empty)
    return v


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AppliesSpec(_Strict):
    """Where the check applies; empty means anywhere (see `impax_preflight.check.Applicability`)."""

    roles: list[str] = Field(default_factory=list)
    os: list[Literal["windows", "solaris", "linux"]] = Field(default_factory=list)
    platforms: list[Literal["AS300", "AS3000"]] = Field(default_factory=list)
    db_kinds: list[Literal["oracle", "mssql", "odbc", "sqlite"]] = Field(default_factory=list)
    db_purposes: list[Literal["impax", "mcf"]] = Field(default_factory=list)
    tiers: list[Literal["prod", "bk", "dr"]] = Field(default_factory=list)
    min_source_version: str | None = None
    max_source_version: str | None = None
    features: list[str] = Field(default_factory=list)

    @field_validator("min_source_version", "max_source_version", mode="before")
    @classmethod
    def _v(cls, v: Any) -> Any:
        return str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


class CheckSpec(_Strict):
    """One declarative check, as written in TOML."""

    id: str
    title: str
    severity: Literal["blocker", "warning", "info"]
    target: Literal["host", "database", "site"]
    description: str | None = None
    guide: str | None = None
    remediation: str | None = None
    subject: str | None = None
    timeout_s: float | None = Field(default=None, gt=0)
    applies: AppliesSpec = Field(default_factory=AppliesSpec)
    # what to measure: exactly one of these
    sql: str | dict[str, str] | None = None
    command: str | dict[str, str] | None = None
    fact: str | None = Field(default=None, description="a host fact (host targets)")
    setting: str | None = Field(default=None, description="a dotted inventory path, e.g. site.features.pacs_broker")
    value_regex: str | None = Field(default=None, description="command output: the value is this regex's first group")
    ok_rc: list[int] = Field(default_factory=lambda: [0])
    max_rows: int = Field(default=1000, ge=1)
    # the pass condition: at least one of these; all given must hold
    pass_if: PassIf | None = None  # the parsed condition; .text is what the file says
    must_match: str | None = None
    must_not_match: str | None = None
    allowed: list[str] | None = None
    on_fail: Literal["fail", "warn"] | None = None
    message_pass: str | None = None
    message_fail: str | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(
                f"check id {v!r} must be lower-case dotted words, e.g. 'site.acme.unverified_jobs'"
            )
        return v

    @field_validator("sql")
    @classmethod
    def _sql(cls, v: Any) -> Any:
        _keys_known(v, SQL_KEYS, "SQL dialect", "give at least one SQL text")
        from .db.readonly import ReadOnlyViolation, ensure_read_only  # sqlglot loads only when a file has SQL

        for dialect, text in (v.items() if isinstance(v, dict) else [("default", v)]) if v is not None else []:
            try:
                # refuse a writing statement when the file loads, not on a production server; a function
                # merely not on the built-in list may be allowed by a site's inventory: the session decides
                ensure_read_only(text, dialect if dialect != "default" else "sqlite", defer_unlisted=True)
            except ReadOnlyViolation as exc:
                raise ValueError(f"sql.{dialect}: {exc}") from None
        return v

    @field_validator("command")
    @classmethod
    def _command(cls, v: Any) -> Any:
        return _keys_known(v, COMMAND_KEYS, "OS", "give at least one command")

    @field_validator("must_match", "must_not_match", "value_regex")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return v

    @field_validator("message_pass", "message_fail")
    @classmethod
    def _template(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                v.format_map(_Values(value=1, rows=1, rc=0, unexpected="", subject="", target=""))
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(
                    f"message template {v!r} is not valid ({exc}); placeholders: {{value}} {{rows}} {{rc}} "
                    "{unexpected} {subject} {target}"
                ) from None
        return v

    @model_validator(mode="after")
    def _coherent(self) -> "CheckSpec":
        # every problem at once: an engineer fixing a file should not need one run per mistake
        problems: list[str] = []
        sources = [n for n in ("sql", "command", "fact", "setting") if getattr(self, n) is not None]
        if len(sources) != 1:
            problems.append(
                "give exactly one of sql (database checks), command or fact (host checks), setting (site checks)"
                + (f"; found {', '.join(sources)}" if sources else "")
            )
        else:
            needs = {"sql": "database", "command": "host", "fact": "host", "setting": None}[sources[0]]
            if needs and self.target != needs:
                problems.append(f"{sources[0]} needs target = \"{needs}\" (target is {self.target!r})")
        if self.setting is not None:
            if not self.setting.startswith(("site.", "host.")):
                problems.append("setting must start with 'site.' or 'host.' (e.g. site.features.pacs_broker)")
            elif self.setting.startswith("host.") and self.target != "host":
                problems.append("a host.* setting needs target = \"host\"")
        if not any(getattr(self, n) is not None for n in ("pass_if", "must_match", "must_not_match", "allowed")):
            problems.append("give a pass condition: pass_if, must_match, must_not_match or allowed")
        if self.pass_if is not None and self.pass_if.operand == "rc" and self.command is None:
            problems.append("pass_if on rc only makes sense for a command")
        if self.value_regex is not None and self.command is None:
            problems.append("value_regex applies to a command's output only")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class _Values(dict):
    """format_map() mapping: known placeholders only, so a typo is caught when the file loads."""

    def __missing__(self, key: str) -> Any:
        raise KeyError(key)


class _FileSpec(_Strict):
    check: list[CheckSpec] = Field(min_length=1)


# ---- loading ---------------------------------------------------------------------------------


def _parse_file(path: Path) -> list[CheckSpec]:
    try:
        data, lines = read_document(path, "check file")
    except DocumentError as exc:
        raise DeclarativeError(exc.problems) from None
    # a file is either [[check]] tables, or one check written at the top level
    try:
        if "check" not in data:
            return [CheckSpec.model_validate(data)]
        return _FileSpec.model_validate(data).check
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
        func=_Evaluator(spec),
        applies=Applicability(
            roles=tuple(a.roles),
            os=tuple(a.os),
            platforms=tuple(a.platforms),
            db_kinds=tuple(a.db_kinds),
            db_purposes=tuple(a.db_purposes),
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
            dialect = KIND_DIALECT.get(db.kind) if db is not None else None
            if db is not None and db.kind == "odbc":
                dialect = db.dialect
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


class _Evaluator:
    """The check function of a declarative check: measure, compare, report."""

    def __init__(self, spec: CheckSpec):
        self.spec = spec
        self.condition = spec.pass_if
        self.__doc__ = spec.description or spec.title

    def __call__(self, ctx: CheckContext) -> Finding:
        spec = self.spec
        if spec.sql is not None:
            measured = self._sql(ctx)
        elif spec.command is not None:
            measured = self._command(ctx)
        elif spec.fact is not None:
            measured = self._fact(ctx)
        else:
            measured = self._setting(ctx)
        if isinstance(measured, Finding):
            return measured
        return self._judge(ctx, measured)

    # -- measuring: each returns {value, rows, rc?, text, items} or an error/skip Finding ----
    def _sql(self, ctx: CheckContext) -> dict[str, Any] | Finding:
        spec = self.spec
        session = ctx.sql
        if isinstance(spec.sql, str):
            sql = spec.sql
        else:
            sql = spec.sql.get(session.dialect) or spec.sql.get("default")
            if sql is None:
                return ctx.skip(f"no SQL for dialect {session.dialect} (the check has {', '.join(spec.sql)})")
        result = ctx.query(sql, max_rows=spec.max_rows)
        first = result.rows[0][0] if result.rows and result.rows[0] else None
        text = "\n".join("\t".join("" if v is None else str(v) for v in row) for row in result.rows)
        items = [("" if r[0] is None else str(r[0]).strip()) for r in result.rows if r]
        return {"value": _plain(first), "rows": len(result.rows), "text": text, "items": items, "truncated": result.truncated}

    def _command(self, ctx: CheckContext) -> dict[str, Any] | Finding:
        spec = self.spec
        host_os = ctx.host.os if ctx.host else "default"
        per_os = spec.command if isinstance(spec.command, dict) else {"default": spec.command}
        cmd = per_os.get(host_os) or per_os.get("default")
        if cmd is None:
            return ctx.skip(f"no command for OS {host_os}")
        res = ctx.run(cmd)
        uses_rc = self.condition is not None and self.condition.operand == "rc"
        if not uses_rc and res.rc not in spec.ok_rc:
            err = (res.stderr or res.stdout).strip().splitlines()
            return ctx.error(
                f"`{cmd}` exited with rc {res.rc} (expected {', '.join(map(str, spec.ok_rc))})"
                + (f": {err[-1][:200]}" if err else "")
            )
        out = res.stdout
        lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
        if spec.value_regex:
            m = re.search(spec.value_regex, out, re.M)
            value = (m.group(1) if m.groups() else m.group(0)) if m else None
            if m is None and self.condition is not None and self.condition.operand == "value":
                return ctx.error(f"value_regex {spec.value_regex!r} found nothing in the output of `{cmd}`")
        else:
            value = out.strip() or None
        return {"value": value, "rows": len(lines), "rc": res.rc, "text": out, "items": lines}

    def _fact(self, ctx: CheckContext) -> dict[str, Any] | Finding:
        name = self.spec.fact or ""
        if name not in ctx.facts or ctx.facts[name] in (None, ""):
            return ctx.error(
                f"fact {name!r} is not known for host {ctx.target_name}: declare it under [hosts.facts] in the inventory"
            )
        value = ctx.facts[name]
        ctx.note(f"fact {name} = {value!r}", source=f"fact:{name}")
        return _measure_object(value)

    def _setting(self, ctx: CheckContext) -> dict[str, Any] | Finding:
        path = self.spec.setting or ""
        root: Any = ctx.site if path.startswith("site.") else ctx.host
        obj = root
        for part in path.split(".")[1:]:
            if isinstance(obj, dict):
                obj = obj.get(part)
            else:
                obj = getattr(obj, part, None)
            if obj is None:
                break
        ctx.note(f"{path} = {obj!r}", source=f"inventory:{path}")
        return _measure_object(obj)

    # -- judging --------------------------------------------------------------------------------
    def _judge(self, ctx: CheckContext, m: dict[str, Any]) -> Finding:
        spec = self.spec
        values: dict[str, Any] = {"value": m["value"], "rows": m["rows"]}
        if "rc" in m:
            values["rc"] = m["rc"]
        reasons: list[str] = []
        try:
            if self.condition is not None:
                measured = m.get(self.condition.operand)
                if not self.condition.holds(measured):
                    reasons.append(f"{self.condition.text} is not met ({self.condition.label} = {_show(measured)})")
        except ValueError as exc:
            return ctx.error(f"cannot evaluate the pass condition: {exc}", subject=spec.subject, values=values)
        if spec.must_match is not None and not re.search(spec.must_match, m["text"], re.M):
            reasons.append(f"the output does not match {spec.must_match!r}")
        if spec.must_not_match is not None:
            hit = re.search(spec.must_not_match, m["text"], re.M)
            if hit:
                # show the whole line that matched: that is what the engineer has to look at
                start = m["text"].rfind("\n", 0, hit.start()) + 1
                end = m["text"].find("\n", hit.end())
                line = m["text"][start : end if end >= 0 else None].strip()
                reasons.append(f"the output matches {spec.must_not_match!r}: {line[:200]!r}")
        unexpected: list[str] = []
        if spec.allowed is not None:
            allowed = set(spec.allowed)
            unexpected = sorted({i for i in m["items"] if i not in allowed})
            values["unexpected"] = unexpected
            if unexpected:
                shown = ", ".join(repr(u) for u in unexpected[:10]) + (" ..." if len(unexpected) > 10 else "")
                reasons.append(f"values outside the allowed set: {shown}")
        fill = _Values(
            value=_show(m["value"]),
            rows=m["rows"],
            rc=m.get("rc", ""),
            unexpected=", ".join(unexpected),
            subject=spec.subject or "",
            target=ctx.target_name,
        )
        if not reasons:
            msg = spec.message_pass.format_map(fill) if spec.message_pass else f"passed: {self._describe_condition()} ({self._summary(m)})"
            return ctx.passed(msg, subject=spec.subject, values=values)
        msg = spec.message_fail.format_map(fill) + " — " + "; ".join(reasons) if spec.message_fail else "; ".join(reasons)
        if m.get("truncated"):
            msg += f" (only the first {spec.max_rows} rows were read)"
        on_fail = spec.on_fail or ("fail" if spec.severity == "blocker" else "warn")
        make = ctx.fail if on_fail == "fail" else ctx.warn
        return make(msg, subject=spec.subject, values=values)

    def _describe_condition(self) -> str:
        spec = self.spec
        parts = []
        if self.condition is not None:
            parts.append(self.condition.text)
        if spec.must_match is not None:
            parts.append(f"output matches {spec.must_match!r}")
        if spec.must_not_match is not None:
            parts.append(f"output does not match {spec.must_not_match!r}")
        if spec.allowed is not None:
            parts.append("only allowed values")
        return " and ".join(parts)

    @staticmethod
    def _summary(m: dict[str, Any]) -> str:
        out = f"value = {_show(m['value'])}, rows = {m['rows']}"
        if "rc" in m:
            out += f", rc = {m['rc']}"
        return out


def _measure_object(value: Any) -> dict[str, Any]:
    if isinstance(value, (list, tuple, set)):
        items = [str(v).strip() for v in value]
        return {"value": _plain(items[0]) if items else None, "rows": len(items), "text": "\n".join(items), "items": items}
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, dict):
        items = [f"{k}={v}" for k, v in value.items()]
        return {"value": None, "rows": len(items), "text": "\n".join(items), "items": list(map(str, value))}
    plain = _plain(value)
    text = "" if value is None else str(plain)
    return {"value": plain, "rows": 0 if value is None else 1, "text": text, "items": [text] if text else []}


def _show(v: Any) -> str:
    if v is None:
        return "none"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    text = str(v)
    return text if len(text) <= 80 else text[:77] + "..."


# ---- the plugin --------------------------------------------------------------------------------


class DeclarativeChecks:
    """A plugin registering the declarative checks found in ``--checks-dir`` folders.

    The files are read when the object is made, so a malformed file stops the run before it
    starts (`DeclarativeError`, exit 3) instead of surfacing half-way.
    """

    def __init__(self, dirs: Iterable[str | Path]):
        self.dirs = [Path(d) for d in dirs]
        self.checks = load_declarative_checks(*self.dirs) if self.dirs else []

    @hookimpl
    def impax_register_checks(self, register: Callable[[Check], None]) -> None:
        for chk in self.checks:
            register(chk)


__all__ = [
    "DeclarativeChecks",
    "DeclarativeError",
    "CheckSpec",
    "Condition",
    "build_check",
    "load_declarative_checks",
]
