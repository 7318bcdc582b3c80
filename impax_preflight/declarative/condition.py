"""The pass condition of a declarative check: ``<value|count|rows|rc> <op> <literal>``, parsed once."""

from __future__ import annotations

import decimal
import operator
import re
from dataclasses import dataclass
from typing import Any, Callable

from ..versions import parse_version

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
        m = _EXPR.match(text) if len(text) <= 4096 else None
        if not m:
            raise ValueError(
                f"cannot read pass_if {text[:200]!r}: write '<value|count|rows|rc> <op> <number or 'text'>', "
                "e.g. \"value == 0\", \"value <= 90\", \"rows >= 2\", \"value == 'ARCHIVELOG'\""
            )
        rhs = m.group("rhs")
        literal: float | str = rhs[1:-1] if rhs[0] in "'\"" else float(rhs)
        if isinstance(literal, float) and not abs(literal) < 1e18:
            raise ValueError(f"pass_if {text[:80]!r}: the number is too large to compare (at most 18 digits)")
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
