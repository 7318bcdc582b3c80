"""The entry points with everything built in: the built-in plugins, `load_plugins`, `run_preflight`.

This is where the package is put together: the engine (`plugins.py`, `runner.py`) takes the
plugins it is given, and this module gives it the built-in ones — transports and database
drivers, fact collection, reporters and the check catalog — registered through the same hooks
as any vendor plugin. `impax_preflight.load_plugins` and `impax_preflight.run_preflight` are
these functions.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Iterable

from . import builtin, facts, notify_mail
from ._version import __version__
from .checks import module_names as check_module_names
from .plugins import PluginSet, disabled_names
from .report import builtin as reporters

if TYPE_CHECKING:  # pragma: no cover
    from .inventory import Inventory
    from .model import RunReport

#: built-in plugins other than the catalog, by the name `impax-preflight plugins` shows
BUILTIN_PLUGINS: tuple[tuple[str, ModuleType], ...] = (
    ("impax_preflight.builtin", builtin),
    ("impax_preflight.facts", facts),
    ("impax_preflight.report.builtin", reporters),
    ("impax_preflight.notify_mail", notify_mail),
)


def builtin_plugins(checks: bool = True, disable: Iterable[str] = ()) -> tuple[list[tuple[str, ModuleType | None]], list[str]]:
    """(the built-in plugins as (name, module), the ones that failed to import with why).

    A check module that does not import is not skipped quietly: the caller refuses to run
    without it (a catalog that silently shrank could say GO on what it never checked). A module
    the user disabled is not imported at all (its name is kept: the plugin set records it as
    disabled, which caps the verdict).
    """
    mods: list[tuple[str, ModuleType | None]] = list(BUILTIN_PLUGINS)
    errors: list[str] = []
    if checks:
        blocked = disabled_names(disable)
        for name in check_module_names():
            if name in blocked:
                mods.append((name, None))
                continue
            try:
                mods.append((name, importlib.import_module(name)))
            except Exception as exc:  # noqa: BLE001 - named in the error that stops the run
                errors.append(f"{name} failed to import: {type(exc).__name__}: {exc}")
    return mods, errors


def load_plugins(
    plugins_dirs: Iterable[str | Path] = (),
    disable: Iterable[str] = (),
    entry_points: bool = True,
    extra_plugins: Iterable[Any] = (),
    checks_dirs: Iterable[str | Path] = (),
    builtin_checks: bool = True,
) -> PluginSet:
    """The built-in plugins plus entry points, ``--plugins-dir`` files, ``--checks-dir`` folders and
    `extra_plugins`, with the disable list applied. Raises `PluginError` when the set is incomplete.

    `builtin_checks=False` leaves out the built-in catalog (transports, drivers and reporters stay):
    for tests and for plugin authors who want to see their checks alone.
    """
    disable = list(disable)
    builtins, errors = builtin_plugins(checks=builtin_checks, disable=disable)
    return PluginSet.load(
        builtins,
        builtin_errors=errors,
        version=__version__,
        plugins_dirs=plugins_dirs,
        checks_dirs=checks_dirs,
        disable=disable,
        entry_points=entry_points,
        extra_plugins=extra_plugins,
    )


def run_preflight(inventory: "Inventory", *, plugins: PluginSet | None = None, **options: Any) -> "RunReport":
    """Run the catalog against a site (see `impax_preflight.runner.run_preflight` for the options);
    without `plugins`, the built-in ones and the installed entry points are loaded."""
    from .runner import run_preflight as run

    return run(inventory, plugins=plugins if plugins is not None else load_plugins(), **options)


def write_reports(report: "RunReport", out_dir: str | Path, formats: Iterable[str], plugins: PluginSet | None = None):
    """`impax_preflight.report.writers.write_reports` with the built-in reporters by default."""
    from .report.writers import write_reports as write

    return write(report, out_dir, formats, plugins if plugins is not None else load_plugins(builtin_checks=False))
