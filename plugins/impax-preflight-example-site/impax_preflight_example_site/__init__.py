"""impax-preflight example site plugin: a Python check and a declarative check, registered by one hook.

Copy this package for a site: rename it, change the entry point in pyproject.toml, replace the
checks. Everything a plugin needs from impax-preflight is public: `check`, `hookimpl`,
`register_module_checks` and `load_declarative_checks`.
"""

from __future__ import annotations

from importlib.resources import files

from impax_preflight import hookimpl

__version__ = "0.1.0"


@hookimpl
def impax_register_checks(register):
    from impax_preflight.check import register_module_checks
    from impax_preflight.declarative import load_declarative_checks

    from . import checks

    register_module_checks(register, vars(checks))
    # TOML checks shipped in the package: a malformed file fails loudly with file and line
    for chk in load_declarative_checks(files(__name__) / "declarative"):
        register(chk)
