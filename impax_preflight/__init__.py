"""impax-preflight: is this IMPAX site ready for the 6.5.1 upgrade, and if not, what blocks it?

The public API, loaded on first use so that ``import impax_preflight`` (and the CLI's ``--help``,
and a plugin importing `hookimpl`) stays light: no pydantic model and no catalog is imported
until a name that needs them is used.
"""

from __future__ import annotations

from ._version import __version__  # noqa: E402

# light, and named like their modules: bound here so that `impax_preflight.check` is the decorator
from .check import Check, check  # noqa: E402
from .hookspecs import hookimpl  # noqa: E402

#: public name -> module that defines it, loaded on first use
_PUBLIC = {
    "CheckContext": "context",
    "Evidence": "model",
    "Finding": "model",
    "RunReport": "model",
    "Severity": "vocabulary",
    "Status": "vocabulary",
    "Verdict": "vocabulary",
    "load_inventory": "inventory",
    "load_plugins": "api",
    "run_preflight": "api",
    "write_reports": "api",
}

__all__ = ["__version__", "Check", "check", "hookimpl", *_PUBLIC]


def __getattr__(name: str):
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'impax_preflight' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
