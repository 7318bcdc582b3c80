"""The file format of declarative checks: what a ``[[check]]`` table may say, validated when the
file loads (every problem at once, each naming the field)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator, field_validator, model_validator

from ..dialects import DIALECTS, Dialect
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
    severity: SeverityName
    target: TargetKind
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
                v.format_map(MessageValues(value=1, rows=1, rc=0, unexpected="", subject="", target=""))
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


class MessageValues(dict):
    """format_map() mapping: known placeholders only, so a typo is caught when the file loads."""

    def __missing__(self, key: str) -> Any:
        raise KeyError(key)


class CheckFile(_Strict):
    check: list[CheckSpec] = Field(min_length=1)
