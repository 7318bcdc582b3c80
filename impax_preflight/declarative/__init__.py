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

from pathlib import Path
from typing import Callable, Iterable

from ..check import Check
from ..hookspecs import hookimpl
from .condition import Condition
from .errors import DeclarativeError
from .loader import build_check, load_declarative_checks
from .schema import CheckSpec

__all__ = [
    "DeclarativeChecks",
    "DeclarativeError",
    "CheckSpec",
    "Condition",
    "build_check",
    "load_declarative_checks",
]


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
