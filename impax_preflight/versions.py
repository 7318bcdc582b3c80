"""Version comparison as versions, not strings: 2.2.1 < 2.10, "6.5.1.1234" > "6.5.1"."""

from __future__ import annotations

import re
from functools import total_ordering


@total_ordering
class Version:
    """A dotted numeric version, tolerant of prefixes/suffixes ("v4.0 SP2" -> 4.0.2 is NOT assumed: 4.0)."""

    def __init__(self, text: str | int | float):
        self.text = str(text).strip()
        m = re.search(r"\d+(?:\.\d+)*", self.text)
        if not m:
            raise ValueError(f"not a version: {text!r}")
        self.parts = tuple(int(p) for p in m.group(0).split("."))

    def _key(self, n: int) -> tuple[int, ...]:
        return self.parts + (0,) * (n - len(self.parts))

    def __eq__(self, other: object) -> bool:
        o = other if isinstance(other, Version) else Version(other)  # type: ignore[arg-type]
        n = max(len(self.parts), len(o.parts))
        return self._key(n) == o._key(n)

    def __lt__(self, other: object) -> bool:
        o = other if isinstance(other, Version) else Version(other)  # type: ignore[arg-type]
        n = max(len(self.parts), len(o.parts))
        return self._key(n) < o._key(n)

    def __hash__(self) -> int:
        parts = list(self.parts)
        while parts and parts[-1] == 0:
            parts.pop()
        return hash(tuple(parts))

    def startswith(self, prefix: str | "Version") -> bool:
        """True when this version is within a release line: Version('2.2.1.5').startswith('2.2.1')."""
        p = prefix.parts if isinstance(prefix, Version) else Version(prefix).parts
        return self.parts[: len(p)] == p

    def __str__(self) -> str:
        return ".".join(map(str, self.parts))

    def __repr__(self) -> str:
        return f"Version({self.text!r})"


def parse_version(text) -> Version | None:
    try:
        return Version(text)
    except (ValueError, TypeError):
        return None
