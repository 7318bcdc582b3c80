"""impax-preflight: is this IMPAX site ready for the 6.5.1 upgrade, and if not, what blocks it?"""

from __future__ import annotations

__version__ = "0.1.0"

from .check import Check, CheckContext, check  # noqa: E402
from .hookspecs import hookimpl  # noqa: E402
from .model import Evidence, Finding, RunReport, Severity, Status, Verdict  # noqa: E402

__all__ = [
    "__version__",
    "Check",
    "CheckContext",
    "check",
    "hookimpl",
    "Evidence",
    "Finding",
    "RunReport",
    "Severity",
    "Status",
    "Verdict",
    "load_inventory",
    "run_preflight",
]


def __getattr__(name: str):
    # keep `import impax_preflight` light: the inventory and runner load on first use
    if name == "load_inventory":
        from .inventory import load_inventory

        return load_inventory
    if name == "run_preflight":
        from .runner import run_preflight

        return run_preflight
    raise AttributeError(name)
