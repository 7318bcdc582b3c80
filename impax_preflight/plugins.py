"""Building the plugin manager and the registry of what plugins provide.

`get_plugin_manager()` is a factory (nothing happens at import): it adds the hookspecs, registers
the built-in plugins, loads entry points of group ``impax_preflight`` one by one (a broken plugin
is a warning, not a crash), loads ``--plugins-dir``, honours the disable list, then
``check_pending()``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import pkgutil
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import pluggy

from . import hookspecs
from .check import Check
from .model import PluginInfo
from .secrets import mask

ENTRY_POINT_GROUP = "impax_preflight"
DISABLE_ENV = "IMPAX_PREFLIGHT_DISABLE_PLUGINS"

#: Built-in plugins: ordinary modules implementing the same hooks as any vendor plugin.
BUILTIN_MODULES = (
    "impax_preflight.builtin",
    "impax_preflight.facts",
    "impax_preflight.report.builtin",
    "impax_preflight.transports.collect",
    "impax_preflight.declarative",
    "impax_preflight.history_cli",  # the `history` command (issue 16)
    "impax_preflight.notify_mail",  # e-mail on impax_run_finished (issue 16)
)
CHECKS_PACKAGE = "impax_preflight.checks"


class PluginError(Exception):
    """The plugin set is inconsistent (e.g. a duplicate check id). The run cannot start."""


@dataclass
class Registry:
    """What the plugins provide, and who provided it."""

    checks: dict[str, Check] = field(default_factory=dict)
    check_providers: dict[str, str] = field(default_factory=dict)
    transports: dict[str, Callable] = field(default_factory=dict)
    databases: dict[str, Callable] = field(default_factory=dict)
    reporters: dict[str, Callable] = field(default_factory=dict)
    providers: dict[str, dict[str, str]] = field(default_factory=lambda: {"transport": {}, "database": {}, "reporter": {}})


@dataclass
class PluginSet:
    pm: pluggy.PluginManager
    registry: Registry
    plugins: list[PluginInfo]
    warnings: list[str]


def plugin_name(pm: pluggy.PluginManager, plugin: Any) -> str:
    return pm.get_name(plugin) or getattr(plugin, "__name__", repr(plugin))


def _builtin_check_modules() -> list[str]:
    pkg = importlib.import_module(CHECKS_PACKAGE)
    return [f"{CHECKS_PACKAGE}.{m.name}" for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_")]


def get_plugin_manager(
    plugins_dirs: Iterable[str | Path] = (),
    disable: Iterable[str] = (),
    entry_points: bool = True,
    extra_plugins: Iterable[Any] = (),
    builtin_checks: bool = True,
) -> tuple[pluggy.PluginManager, list[PluginInfo], list[str]]:
    """Build a fresh plugin manager. Returns (pm, plugin infos incl. broken/disabled, warnings).

    `builtin_checks=False` leaves out the built-in catalog (transports, drivers and reporters stay):
    for tests and for plugin authors who want to see their checks alone.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    disabled = {d.strip() for d in disable if d.strip()}
    disabled |= {d.strip() for d in os.environ.get(DISABLE_ENV, "").split(",") if d.strip()}
    infos: list[PluginInfo] = []
    warnings: list[str] = []

    def register(obj: Any, name: str, version: str | None) -> None:
        if name in disabled:
            infos.append(PluginInfo(name=name, version=version, status="disabled"))
            return
        pm.register(obj, name=name)
        infos.append(PluginInfo(name=name, version=version, status="active"))

    from . import __version__

    for modname in BUILTIN_MODULES + (tuple(_builtin_check_modules()) if builtin_checks else ()):
        try:
            mod = importlib.import_module(modname)
        except ImportError as exc:
            # a built-in that fails to import is a packaging bug: say so loudly, keep going
            warnings.append(f"built-in plugin {modname} failed to import: {exc}")
            infos.append(PluginInfo(name=modname, version=__version__, status="broken", error=str(exc)))
            continue
        register(mod, modname, __version__)

    if entry_points:
        for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            version = ep.dist.version if ep.dist else None
            if ep.name in disabled:
                infos.append(PluginInfo(name=ep.name, version=version, status="disabled"))
                continue
            try:
                obj = ep.load()
                pm.register(obj, name=ep.name)
            except Exception as exc:  # noqa: BLE001 - one broken plugin must not crash the CLI
                err = mask(f"{type(exc).__name__}: {exc}")
                warnings.append(f"plugin {ep.name!r} ({ep.value}) failed to load and was skipped: {err}")
                infos.append(PluginInfo(name=ep.name, version=version, status="broken", error=err))
                continue
            infos.append(PluginInfo(name=ep.name, version=version, status="active"))

    for d in plugins_dirs:
        for path in sorted(Path(d).glob("*.py")):
            name = f"plugins-dir:{path.stem}"
            if path.stem in disabled or name in disabled:
                infos.append(PluginInfo(name=name, status="disabled"))
                continue
            try:
                spec = importlib.util.spec_from_file_location(f"impax_preflight_local_{path.stem}", path)
                assert spec and spec.loader
                mod = importlib.util.module_from_spec(spec)
                sys.modules[spec.name] = mod
                spec.loader.exec_module(mod)
                pm.register(mod, name=name)
            except Exception as exc:  # noqa: BLE001
                err = mask(f"{type(exc).__name__}: {exc}")
                tb = traceback.extract_tb(exc.__traceback__)
                line = next((f"{fr.filename}:{fr.lineno}" for fr in reversed(tb) if fr.filename == str(path)), str(path))
                warnings.append(f"plugin file {line} failed to load and was skipped: {err}")
                infos.append(PluginInfo(name=name, status="broken", error=err))
                continue
            infos.append(PluginInfo(name=name, status="active"))

    for obj in extra_plugins:
        name = getattr(obj, "__name__", None) or type(obj).__name__
        pm.register(obj, name=name)
        infos.append(PluginInfo(name=name, status="active"))

    pm.check_pending()
    return pm, infos, warnings


def build_registry(pm: pluggy.PluginManager) -> Registry:
    """Call the registration hooks, one plugin at a time so each thing knows its provider."""
    reg = Registry()
    for impl in pm.hook.impax_register_checks.get_hookimpls():
        provider = impl.plugin_name

        def add_check(chk: Check, _provider: str = provider) -> None:
            if not isinstance(chk, Check):
                raise PluginError(f"plugin {_provider} registered {chk!r}, which is not a Check")
            if chk.id in reg.checks:
                raise PluginError(
                    f"duplicate check id {chk.id!r}: provided by {reg.check_providers[chk.id]} and by {_provider}"
                )
            reg.checks[chk.id] = chk
            reg.check_providers[chk.id] = _provider

        impl.function(register=add_check)

    for hookname, table, kind in (
        ("impax_register_transports", reg.transports, "transport"),
        ("impax_register_databases", reg.databases, "database"),
        ("impax_register_reporters", reg.reporters, "reporter"),
    ):
        # get_hookimpls() lists in registration order: built-ins first, so a plugin registered later
        # replaces a built-in of the same name (e.g. its own html reporter) on purpose
        for impl in getattr(pm.hook, hookname).get_hookimpls():
            provider = impl.plugin_name

            def add(name: str, factory: Callable, _t=table, _p=provider, _k=kind) -> None:
                _t[name] = factory
                reg.providers[_k][name] = _p

            impl.function(register=add)
    return reg


def load_plugins(
    plugins_dirs: Iterable[str | Path] = (),
    disable: Iterable[str] = (),
    entry_points: bool = True,
    extra_plugins: Iterable[Any] = (),
    checks_dirs: Iterable[str | Path] = (),
    builtin_checks: bool = True,
) -> PluginSet:
    """Plugin manager + registry + per-plugin info (hooks, checks provided)."""
    pm, infos, warnings = get_plugin_manager(plugins_dirs, disable, entry_points, extra_plugins, builtin_checks)
    if checks_dirs:
        from .declarative import DeclarativeChecks

        pm.register(DeclarativeChecks(checks_dirs), name="checks-dir")
        infos.append(PluginInfo(name="checks-dir", status="active"))
    registry = build_registry(pm)
    by_name = {i.name: i for i in infos}
    for plugin in pm.get_plugins():
        name = plugin_name(pm, plugin)
        info = by_name.get(name)
        if info is None:
            continue
        info.hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        info.checks = sorted(cid for cid, p in registry.check_providers.items() if p == name)
    return PluginSet(pm=pm, registry=registry, plugins=infos, warnings=warnings)
