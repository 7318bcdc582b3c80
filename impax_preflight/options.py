"""Typed per-check settings: what a check's ``[site.options."<check id>"]`` table may hold.

A check may declare its settings (``@check(..., options={"exclude_mounts": options.regex_list()})``);
`validate` and the start of a run then check the inventory against the declarations and name the
file, line and setting that is wrong, instead of the check failing half-way through a run. A
check that declares nothing is not checked (its settings are its own business). Declaring is
optional and additive: a setting's value reaches the check exactly as the inventory wrote it.

Light on purpose: `check.py` imports this module, and `from impax_preflight import check` must
stay fast, so the validators load what they need when they run.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

if TYPE_CHECKING:  # pragma: no cover
    from .check import Check
    from .inventory import Inventory


class OptionType:
    """One setting's type: `describe` for people, `validate(value)` raising ValueError with why."""

    def __init__(self, describe: str, validate: Callable[[Any], None]):
        self.describe = describe
        self._validate = validate

    def validate(self, value: Any) -> None:
        self._validate(value)

    def __repr__(self) -> str:
        return f"OptionType({self.describe!r})"


def _text_problem(value: Any, max_chars: int) -> str | None:
    if not isinstance(value, str):
        return f"write text, not {_kind(value)}"
    if len(value) > max_chars:
        return f"{len(value):,} characters is too long (at most {max_chars:,})"
    from .fields import _controls  # the same rule as every inventory field (C0 and C1 controls)

    bad = _controls(value, "\t\n\r")
    return f"it contains the control character {bad}" if bad else None


def _kind(value: Any) -> str:
    return {bool: "true/false", int: "a number", float: "a number", list: "a list", dict: "a table"}.get(
        type(value), type(value).__name__)


def text(max_chars: int = 4096, describe: str = "text") -> OptionType:
    def validate(v: Any) -> None:
        problem = _text_problem(v, max_chars)
        if problem:
            raise ValueError(problem)

    return OptionType(f"{describe} (at most {max_chars:,} characters)", validate)


#: what a shell (sh or cmd.exe) interprets in a value put into a command line: quotes, variables,
#: command separators, redirections, line breaks (the probes refuse these in any site value)
SHELL_SPECIAL = frozenset("'\"`$%!;&|<>\r\n\x00")
#: a path also may not hold wildcards or a tab
_UNSAFE_IN_REMOTE_PATH = SHELL_SPECIAL | set("*?\t")


def remote_path() -> OptionType:
    """A path on the server, used inside a command line: no quotes, variables, separators or wildcards."""

    def validate(v: Any) -> None:
        problem = _text_problem(v, 1024)
        if problem:
            raise ValueError(problem)
        if any(c in v for c in "\t\r\n"):  # text allows them; a line break in a command line starts another command
            raise ValueError("the path contains a tab or a line break")
        bad = sorted(set(v) & _UNSAFE_IN_REMOTE_PATH)
        if bad or not v.strip():
            raise ValueError("the path is empty" if not bad else
                             f"the path contains {' '.join(bad)}, which a command line would interpret")

    return OptionType("a path on the server (no quotes, $, %, !, ;, &, |, <, >, * or ?)", validate)


def regex() -> OptionType:
    def validate(v: Any) -> None:
        from .patterns import pattern_problem

        problem = _text_problem(v, 4096) or pattern_problem(v)
        if problem:
            raise ValueError(problem)

    return OptionType("a regular expression (RE2 syntax: no look-around, no back-references)", validate)


def regex_list() -> OptionType:
    one = regex()

    def validate(v: Any) -> None:
        if not isinstance(v, list):
            raise ValueError(f"write a list of regular expressions, e.g. [\"^/cdrom\"], not {_kind(v)}")
        for i, item in enumerate(v):
            try:
                one.validate(item)
            except ValueError as exc:
                raise ValueError(f"[{i}]: {exc}") from None

    return OptionType("a list of regular expressions (RE2 syntax)", validate)


def regex_map() -> OptionType:
    one = regex()

    def validate(v: Any) -> None:
        if not isinstance(v, dict) or not v:
            raise ValueError(f"write a table of label = \"regular expression\", not {_kind(v) if v != {} else 'an empty one'}")
        for label, item in v.items():
            try:
                one.validate(item)
            except ValueError as exc:
                raise ValueError(f"{str(label)[:60]}: {exc}") from None

    return OptionType("a table of label = regular expression (RE2 syntax)", validate)


def number(lo: float, hi: float, describe: str = "a number", integer: bool = False, lo_open: bool = False) -> OptionType:
    bounds = f"{'more than' if lo_open else 'from'} {lo:g} {'and at most' if lo_open else 'to'} {hi:g}"

    def validate(v: Any) -> None:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"write {describe} ({bounds}), not {_kind(v)}")
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"{v} is not a finite number")
        if integer and not float(v).is_integer():
            raise ValueError(f"{v!r} is not a whole number")
        if (v <= lo if lo_open else v < lo) or v > hi:
            raise ValueError(f"{v!r} is out of range ({describe}: {bounds})")

    return OptionType(f"{describe}, {bounds}", validate)


def port() -> OptionType:
    return number(1, 65535, "a port", integer=True)


def seconds() -> OptionType:
    return number(0, 86_400, "a timeout in seconds", lo_open=True)


def choice(*values: str) -> OptionType:
    def validate(v: Any) -> None:
        if v not in values:
            raise ValueError(f"{str(v)[:60]!r} is not allowed; expected {' or '.join(repr(x) for x in values)}")

    return OptionType(" or ".join(repr(x) for x in values), validate)


def identifiers(one_or_many: bool = True) -> OptionType:
    """SQL identifiers (tables, views, tablespaces): plain names, as the catalog queries need them."""

    def validate(v: Any) -> None:
        from .sql import IdentifierError, identifier

        items = [v] if one_or_many and isinstance(v, str) else v
        if not isinstance(items, list) or not items:
            raise ValueError(f"write a list of names, e.g. [\"MVFL\", \"MVF\"], not {_kind(v)}")
        for item in items:
            if not isinstance(item, str):
                raise ValueError(f"write each name as text, not {_kind(item)}")
            try:
                identifier(item, "name")
            except IdentifierError as exc:
                raise ValueError(str(exc).replace("; fix it in the inventory", "")) from None

    return OptionType("SQL names (letters, digits, _, $ or #)", validate)


def identifier() -> OptionType:
    many = identifiers()

    def validate(v: Any) -> None:
        if not isinstance(v, str):
            raise ValueError(f"write one name as text, not {_kind(v)}")
        many.validate([v])

    return OptionType("a SQL name (letters, digits, _, $ or #)", validate)


def option_problems(inventory: "Inventory", checks: Mapping[str, "Check"] | Iterable["Check"]) -> list[str]:
    """``file:line: site.options."<check>".<setting>: what is wrong`` for every setting of a check that
    declares its settings and gets one it does not know, or a value of the wrong type."""
    by_id = checks if isinstance(checks, Mapping) else {c.id: c for c in checks}
    out: list[str] = []
    for check_id, values in inventory.site.options.items():
        chk = by_id.get(check_id)
        declared = getattr(chk, "options", None)
        if not declared:
            continue
        for key, value in values.items():
            where = inventory.locate(("site", "options", check_id, key))
            kind = declared.get(key)
            if kind is None:
                out.append(f"{where}: {check_id} has no setting {key!r}; its settings: "
                           + "; ".join(f"{k} ({t.describe})" for k, t in declared.items()))
                continue
            try:
                kind.validate(value)
            except ValueError as exc:
                out.append(f"{where}: {exc} (hint: {key} is {kind.describe})")
    return out
