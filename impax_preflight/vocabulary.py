"""The words an inventory and a check declaration may use, defined once.

Each is a `Literal` type (for pydantic models and type checkers) and the tuple of its values (for
messages, applicability and loops): the tuple is derived from the type, so the two cannot drift.
Also the three enums of the results (a check's Severity, a finding's Status, a run's Verdict),
which the results model (`model.py`) uses. Plain Python: importing this module loads nothing else.
"""

from __future__ import annotations

import enum
from typing import Literal, get_args

Role = Literal["database", "archive", "network_gateway", "application", "curator", "connectivity_manager", "single_host"]
OsName = Literal["windows", "solaris", "linux"]
Tier = Literal["prod", "bk", "dr"]
Platform = Literal["AS300", "AS3000"]
DbKind = Literal["oracle", "mssql", "odbc", "sqlite"]
DbPurpose = Literal["impax", "mcf"]
TargetKind = Literal["host", "database", "site"]
SeverityName = Literal["blocker", "warning", "info"]

OS_NAMES: tuple[str, ...] = get_args(OsName)
TARGET_KINDS: tuple[str, ...] = get_args(TargetKind)
SEVERITY_NAMES: tuple[str, ...] = get_args(SeverityName)

#: the privilege prefixes a transport may put before the few commands that need them (pfexec:
#: Solaris RBAC; "sudo -n" never waits for a password)
PRIVILEGE_PREFIXES: tuple[str, ...] = ("pfexec", "sudo -n", "sudo")

#: the hosts that hold the PACS itself (database and archive), e.g. those that need a backup PACS
PACS_ROLES: tuple[str, ...] = ("archive", "database", "single_host")

#: why a planned check did not run that leaves its question open (unlike "does not apply here"):
#: a blocker check not run for one of these reasons is unverified, and the report says so
NOT_SELECTED = "not selected by --only"
SKIPPED_BY_OPTION = "excluded by --skip"
HOSTS_LIMITED = "site check: the run was limited with --host"
INTERRUPTED = "interrupted before it finished"
LEFT_OPEN_REASONS: tuple[str, ...] = (NOT_SELECTED, SKIPPED_BY_OPTION, HOSTS_LIMITED, INTERRUPTED)

#: the built-in catalog's plugin names start so (disabling one leaves vendor-guide checks out)
BUILTIN_CHECKS_PREFIX = "impax_preflight.checks."

#: exit codes, the monitoring convention users already script against
EXIT_GO, EXIT_GO_WITH_WARNINGS, EXIT_NO_GO = 0, 1, 2
#: the run itself could not start (bad inventory, bad arguments, broken plugin set)
EXIT_USAGE = 3
#: the user stopped it (Ctrl-C) before a report could be written
EXIT_INTERRUPTED = 130


class Severity(str, enum.Enum):
    """How much a failing check matters for the upgrade."""

    BLOCKER = "blocker"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"blocker": 0, "warning": 1, "info": 2}[self.value]


class Status(str, enum.Enum):
    """The outcome of one check on one target (and subject)."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"  # could not be evaluated: unverified is not ready
    SKIPPED = "skipped"  # not applicable
    WAIVED = "waived"

    @property
    def rank(self) -> int:
        order = ["fail", "error", "warn", "waived", "pass", "skipped"]
        return order.index(self.value)


class Verdict(str, enum.Enum):
    GO = "GO"
    GO_WITH_WARNINGS = "GO_WITH_WARNINGS"
    NO_GO = "NO_GO"

    @property
    def exit_code(self) -> int:
        return {"GO": EXIT_GO, "GO_WITH_WARNINGS": EXIT_GO_WITH_WARNINGS, "NO_GO": EXIT_NO_GO}[self.value]

    @property
    def label(self) -> str:
        return {"GO": "GO", "GO_WITH_WARNINGS": "GO WITH WARNINGS", "NO_GO": "NO-GO"}[self.value]
