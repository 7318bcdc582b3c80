"""The file format of declarative checks: what a ``[[check]]`` table may say, validated when the
file loads (every problem at once, each naming the field)."""

from __future__ import annotations

import re
import string
import types
import typing
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator, field_validator, model_validator

from ..dialects import DIALECTS, Dialect
from ..fields import FreeText, Line, Name, Regex, Seconds, VersionText, count, number
from ..vocabulary import OS_NAMES, DbKind, DbPurpose, OsName, Platform, Role, SeverityName, TargetKind, Tier
from .condition import Condition

#: SQL keys a check may give, by our dialect names (the session's ``dialect``), plus ``default``.
SQL_KEYS = (*DIALECTS, "default")
#: command keys: an OS name, or ``default`` for any OS.
COMMAND_KEYS = (*OS_NAMES, "default")

_ID = re.compile(r"^[a-z0-9][a-z0-9_\-]*(\.[a-z0-9_\-]+)+$")


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


#: rows a declarative query reads at most (the first column of the first row is the value)
MAX_ROWS = 100_000
#: an exit code as a shell reports it (Windows codes are unsigned 32-bit)
ExitCode = number(ge=-(2**31), le=2**32 - 1, integer=True, limits="an exit code is -2147483648 to 4294967295")
PLACEHOLDERS = ("value", "rows", "rc", "unexpected", "subject", "target")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AppliesSpec(_Strict):
    """Where the check applies; empty means anywhere (see `impax_preflight.check.Applicability`)."""

    roles: list[Role] = Field(default_factory=list)
    os: list[OsName] = Field(default_factory=list)
    platforms: list[Platform] = Field(default_factory=list)
    db_kinds: list[DbKind] = Field(default_factory=list)
    db_purposes: list[DbPurpose] = Field(default_factory=list)
    dialects: list[Dialect] = Field(default_factory=list)
    tiers: list[Tier] = Field(default_factory=list)
    min_source_version: VersionText | None = None
    max_source_version: VersionText | None = None
    features: list[Name] = Field(default_factory=list)


class CheckSpec(_Strict):
    """One declarative check, as written in TOML."""

    id: Name
    title: Name
    severity: SeverityName
    target: TargetKind
    description: FreeText | None = None
    guide: FreeText | None = None
    remediation: FreeText | None = None
    subject: Name | None = None
    timeout_s: Seconds | None = None
    applies: AppliesSpec = Field(default_factory=AppliesSpec)
    # what to measure: exactly one of these
    sql: FreeText | dict[str, FreeText] | None = None
    command: Line | dict[str, Line] | None = None
    fact: Name | None = Field(default=None, description="a host fact (host targets)")
    setting: Name | None = Field(default=None, description="a dotted inventory path, e.g. site.features.pacs_broker")
    value_regex: Regex | None = Field(default=None, description="command output: the value is this regex's first group")
    ok_rc: list[ExitCode] = Field(default_factory=lambda: [0], max_length=256)
    max_rows: count(1, MAX_ROWS, "max_rows") = 1000  # type: ignore[valid-type]
    # the pass condition: at least one of these; all given must hold
    pass_if: PassIf | None = None  # the parsed condition; .text is what the file says
    must_match: Regex | None = None
    must_not_match: Regex | None = None
    allowed: list[Line] | None = None
    on_fail: Literal["fail", "warn"] | None = None
    message_pass: FreeText | None = None
    message_fail: FreeText | None = None

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
        from ..db.readonly import ReadOnlyViolation, ensure_read_only  # sqlglot loads only when a file has SQL

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

    @field_validator("message_pass", "message_fail")
    @classmethod
    def _template(cls, v: str | None) -> str | None:
        if v is not None:
            problem = template_problem(v)
            if problem:
                shown = repr(v) if len(v) <= 80 else repr(v[:60]) + "..."
                raise ValueError(
                    f"message template {shown} is not valid ({problem}); placeholders: {{value}} {{rows}} {{rc}} "
                    "{unexpected} {subject} {target}, each optionally with a width such as {value:>10}"
                )
        return v

    @field_validator("setting")
    @classmethod
    def _setting(cls, v: str | None) -> str | None:
        if v is not None:
            problem = setting_problem(v)
            if problem:
                raise ValueError(problem)
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


def template_problem(template: str) -> str | None:
    """Why a message template cannot be used, or None: only the known placeholders, by name (no
    attribute or index access), with at most a short alignment and width (a width of a billion
    would build a gigabyte string)."""
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as exc:
        return str(exc)
    for _literal, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            return f"unknown placeholder {{{name[:40]}}}" if name else "an empty placeholder {}"
        if conversion not in (None, "s", "r"):
            return f"conversion !{conversion} in {{{name}}}"
        if spec and not re.fullmatch(r"[<>^]?\d{0,3}", spec):
            return f"format {spec[:20]!r} in {{{name}}}: only an alignment and a width up to 999"
    return None


def setting_problem(path: str) -> str | None:
    """Why a setting path cannot be read, or None. A path reaches fields of the inventory models and
    keys of the tables they hold (options, custom, facts...), nothing else: no attribute starting
    with '_', no method, no Python internals."""
    from ..inventory import Host, Site

    root, _, rest = path.partition(".")
    if root not in ("site", "host") or not rest:
        return None  # said by _coherent, with the other problems
    parts = rest.split(".")
    node: Any = Site if root == "site" else Host  # a model class, TABLE (any key) or None (a plain value)
    walked = root
    for part in parts:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_\-]*", part):
            return (f"setting {path[:80]!r}: {part[:40]!r} is not a field name (letters, digits, _ and -, not starting "
                    "with _)")
        if node is None:
            return f"setting {path[:80]!r}: {walked} is a value or a list, not a table: it has no {part!r} to read"
        if node is not _TABLE:
            fields = node.model_fields
            if part not in fields:
                return f"setting {path[:80]!r}: {walked} has no field {part!r}; its fields: {', '.join(sorted(fields))}"
            node = _inside(fields[part].annotation)
        walked += "." + part
    return None


#: what `setting_problem` walks into: a table whose keys are the site's own (options, custom, facts)
_TABLE = object()


def _inside(annotation: Any) -> Any:
    """The model class a field holds (also when optional), _TABLE for a dict, else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) is dict:
        return _TABLE
    models = [a for a in typing.get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(models) == 1:
        return models[0]
    return None


class MessageValues(dict):
    """format_map() mapping: known placeholders only, so a typo is caught when the file loads."""

    def __missing__(self, key: str) -> Any:
        raise KeyError(key)


class CheckFile(_Strict):
    check: list[CheckSpec] = Field(min_length=1)
