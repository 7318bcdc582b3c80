"""Declarative checks: TOML files with a query or a command and a pass condition (issue 7)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable


class DeclarativeChecks:
    """Plugin object registering the declarative checks found in folders (filled in by issue 7)."""

    def __init__(self, dirs: Iterable[str | Path]):
        self.dirs = [Path(d) for d in dirs]
