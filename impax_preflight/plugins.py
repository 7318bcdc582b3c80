"""The plugin façade: loading plugins, what each one provides, and the one way to call a hook.

`PluginSet.load()` is a factory (nothing happens at import): it adds the hookspecs, blocks the
disabled names (pluggy's ``set_blocked``), registers the built-in plugins it is given, loads entry
points of group ``impax_preflight`` one by one, ``--plugins-dir`` files and ``--checks-dir``
folders, then ``check_pending()``, then calls the registration hooks once.

What fails closed: a built-in plugin that does not import, a ``--plugins-dir`` file or a
``--checks-dir`` folder the user named that does not load, and a duplicate check id raise
`PluginError` (the run cannot start: exit 3). A broken third-party entry-point plugin is a
warning, listed in every report, and the verdict of a run with one can be at best GO WITH WARNINGS.

Every hook is called through pluggy, one plugin at a time (`call`): a plugin's exception is that
plugin's problem, never the run's, and every registration knows which plugin made it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import sys
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

import pluggy

from . import hookspecs
from .check import Check
from .secrets import mask

if TYPE_CHECKING:  # pragma: no cover
    from .model import PluginInfo

ENTRY_POINT_GROUP = "impax_preflight"
DISABLE_ENV = "IMPAX_PREFLIGHT_DISABLE_PLUGINS"
CHECKS_DIR_PLUGIN = "checks-dir"

log = logging.getLogger("impax_preflight")


def _at(chk: Check) -> str:
    return f" ({chk.source})" if chk.source else ""


class PluginError(Exception):
    """The plugin set is incomplete or inconsistent (a built-in or a named plugin that does not load,
    a duplicate check id). The run cannot start."""


@dataclass
class Registry:
    """What the plugins provide, and who provided it."""

    checks: dict[str, Check] = field(default_factory=dict)
    check_providers: dict[str, str] = field(default_factory=dict)
    transports: dict[str, Callable] = field(default_factory=dict)
    databases: dict[str, Callable] = field(default_factory=dict)
    reporters: dict[str, Callable] = field(default_factory=dict)
    providers: dict[str, dict[str, str]] = field(default_factory=lambda: {"transport": {}, "database": {}, "reporter": {}})


def disabled_names(disable: Iterable[str] = ()) -> set[str]:
    """The plugin names to block: given ones plus those in IMPAX_PREFLIGHT_DISABLE_PLUGINS."""
    names = {d.strip() for d in disable if d and d.strip()}
    names |= {d.strip() for d in os.environ.get(DISABLE_ENV, "").split(",") if d.strip()}
    return names


class PluginSet:
    """The loaded plugins of a run: the pluggy manager, each plugin's status, and the registry."""

    def __init__(self, pm: pluggy.PluginManager, plugins: "list[PluginInfo]", warnings: list[str]):
        self.pm = pm
        self.plugins = plugins
        self.warnings = warnings
        self.registry = Registry()
        self._callers: dict[tuple[str, str], Any] = {}
        self._callers_lock = threading.Lock()

    # -- loading --------------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        builtins: Iterable[tuple[str, Any]] = (),
        *,
        builtin_errors: Iterable[str] = (),
        version: str | None = None,
        plugins_dirs: Iterable[str | Path] = (),
        checks_dirs: Iterable[str | Path] = (),
        disable: Iterable[str] = (),
        entry_points: bool = True,
        extra_plugins: Iterable[Any] = (),
    ) -> "PluginSet":
        """Build a fresh plugin set. `builtins` are (name, module) pairs registered first;
        `builtin_errors` are built-ins that failed to import (each makes the set unusable)."""
        from .model import PluginInfo, disabled_builtins

        loaded = _Loading(disable)
        for name, module in builtins:
            loaded.add(module, name, version)
        loaded.errors += [f"built-in plugin {e}" for e in builtin_errors]
        if entry_points:
            loaded.entry_points()
        for d in plugins_dirs:
            loaded.plugins_dir(Path(d))
        checks_dirs = list(checks_dirs)
        if checks_dirs and not loaded.pm.is_blocked(CHECKS_DIR_PLUGIN):
            from .declarative import DeclarativeChecks  # raises DeclarativeError naming file:line: the run stops

            loaded.add(DeclarativeChecks(checks_dirs), CHECKS_DIR_PLUGIN, None)
        for obj in extra_plugins:
            loaded.add(obj, getattr(obj, "__name__", None) or type(obj).__name__, None)
        if loaded.errors:
            raise PluginError("the plugin set is incomplete, so the run cannot start:\n" + "\n".join(f"  - {e}" for e in loaded.errors))
        try:
            loaded.pm.check_pending()
        except pluggy.PluginValidationError as exc:  # a misspelt hook: the plugin would silently do nothing
            raise PluginError(f"plugin {loaded.pm.get_name(exc.plugin) or exc.plugin!r}: {mask(str(exc))} (a hook name this version of "
                              "impax-preflight does not know; see `impax-preflight plugins` and docs/plugins.md)") from None
        infos = [PluginInfo(**i) for i in loaded.infos]
        disabled = sorted(p.name for p in disabled_builtins(infos))
        if disabled:
            loaded.warnings.append(f"built-in checks disabled ({', '.join(disabled)}): their checks of the vendor guide do not "
                                   "run, so this run can say at best GO WITH WARNINGS")
        ps = cls(loaded.pm, infos, loaded.warnings)
        ps._build_registry()
        by_name = {i.name: i for i in ps.plugins}
        for plugin in ps.pm.get_plugins():
            info = by_name.get(ps.pm.get_name(plugin) or "")
            if info is not None:
                info.hooks = sorted(h.name for h in ps.pm.get_hookcallers(plugin) or [])
                info.checks = sorted(cid for cid, p in ps.registry.check_providers.items() if p == info.name)
        return ps

    @classmethod
    def for_commands(cls, disable: Iterable[str] = ()) -> "PluginSet":
        """The installed entry-point plugins only, for the commands they add to the CLI: nothing is
        registered and no results model is loaded, so `impax-preflight --help` stays instant."""
        loaded = _Loading(disable)
        loaded.entry_points()
        return cls(loaded.pm, [], loaded.warnings)

    def _build_registry(self) -> None:
        reg = self.registry

        def add_check(provider: str) -> Callable[[Check], None]:
            def register(chk: Check) -> None:
                if not isinstance(chk, Check):
                    raise PluginError(f"plugin {provider} registered {chk!r}, which is not a Check")
                if chk.id in reg.checks:
                    first = reg.checks[chk.id]
                    raise PluginError(f"duplicate check id {chk.id!r}: provided by {reg.check_providers[chk.id]}"
                                      f"{_at(first)} and by {provider}{_at(chk)}")
                reg.checks[chk.id] = chk
                reg.check_providers[chk.id] = provider

            return register

        for provider in self.implementers("impax_register_checks"):
            self._register(provider, "impax_register_checks", add_check(provider))

        for hook, table, kind in (
            ("impax_register_transports", reg.transports, "transport"),
            ("impax_register_databases", reg.databases, "database"),
            ("impax_register_reporters", reg.reporters, "reporter"),
        ):
            # in registration order: built-ins first, so a plugin registered later replaces a
            # built-in of the same name (e.g. its own html reporter) on purpose
            for provider in self.implementers(hook):

                def add(name: str, factory: Callable, _t=table, _p=provider, _k=kind) -> None:
                    _t[name] = factory
                    reg.providers[_k][name] = _p

                self._register(provider, hook, add)

    def _register(self, provider: str, hook: str, register: Callable) -> None:
        """One plugin's registration hook; a plugin that fails there stops the load with its name (what
        it registered before failing is not a whole plugin: a run on it could say GO on less)."""
        try:
            self._caller(hook, provider)(register=register)
        except PluginError:
            raise
        except Exception as exc:  # noqa: BLE001 - named, masked, with what to do
            raise PluginError(f"plugin {provider} failed in {hook}: {mask(f'{type(exc).__name__}: {exc}')}; fix it or "
                              f"leave it out with --disable-plugin {provider}") from None

    # -- calling hooks --------------------------------------------------------------------------
    def implementers(self, hook: str) -> list[str]:
        """Names of the plugins implementing `hook`, in registration order."""
        return [impl.plugin_name for impl in getattr(self.pm.hook, hook).get_hookimpls()]

    def _caller(self, hook: str, plugin: str):
        """pluggy's own hook caller restricted to one plugin (cached: hooks like impax_finding are hot)."""
        key = (hook, plugin)
        caller = self._callers.get(key)
        if caller is None:
            with self._callers_lock:
                others = [self.pm.get_plugin(n) for n in self.implementers(hook) if n != plugin]
                caller = self._callers[key] = self.pm.subset_hook_caller(hook, remove_plugins=others)
        return caller

    def call(self, hook: str, on_error: Callable[[str, Exception], None] | None = None, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call `hook` on each plugin implementing it, in isolation; return [(plugin, result)] for
        the results that are not None. A plugin's exception goes to `on_error(plugin, exc)` (logged,
        masked, when none is given) and the other plugins are still called."""
        out: list[tuple[str, Any]] = []
        for plugin in self.implementers(hook):
            try:
                results = self._caller(hook, plugin)(**kwargs)
            except Exception as exc:  # noqa: BLE001 - one plugin's bug is not the run's
                if on_error is not None:
                    on_error(plugin, exc)
                else:
                    log.warning("plugin %s failed in %s: %s", plugin, hook, mask(f"{type(exc).__name__}: {exc}"))
                continue
            out.extend((plugin, r) for r in results if r is not None)
        return out

    # -- typed accessors ------------------------------------------------------------------------
    def checks(self) -> dict[str, Check]:
        return self.registry.checks

    def check_provider(self, check_id: str) -> str | None:
        return self.registry.check_providers.get(check_id)

    def transport(self, kind: str) -> Callable | None:
        return self.registry.transports.get(kind)

    def transport_kinds(self) -> list[str]:
        return sorted(self.registry.transports)

    def database(self, kind: str) -> Callable | None:
        return self.registry.databases.get(kind)

    def database_kinds(self) -> list[str]:
        return sorted(self.registry.databases)

    def reporter(self, name: str) -> Callable | None:
        return self.registry.reporters.get(name)

    def reporter_names(self) -> list[str]:
        return sorted(self.registry.reporters)

    def broken(self) -> "list[PluginInfo]":
        """Plugins that failed to load (only third-party entry points can be broken in a usable set)."""
        return [p for p in self.plugins if p.status == "broken"]

    def incomplete(self) -> list[str]:
        """Why this catalog is not the whole one (a GO needs the whole one): third-party plugins
        that failed to load, built-in check modules that were disabled."""
        from .model import plugin_gaps

        return plugin_gaps(self.plugins)


class _Loading:
    """A plugin manager being filled: what was registered, disabled or broken, and what stops the run."""

    def __init__(self, disable: Iterable[str]):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        for name in disabled_names(disable):
            self.pm.set_blocked(name)
        self.infos: list[dict[str, Any]] = []
        self.warnings: list[str] = []
        self.errors: list[str] = []

    def add(self, obj: Any, name: str, version: str | None) -> None:
        if self.pm.is_blocked(name):
            self.infos.append({"name": name, "version": version, "status": "disabled"})
            return
        self.pm.register(obj, name=name)
        self.infos.append({"name": name, "version": version, "status": "active"})

    def entry_points(self) -> None:
        for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            version = ep.dist.version if ep.dist else None
            if self.pm.is_blocked(ep.name):  # never even imported
                self.infos.append({"name": ep.name, "version": version, "status": "disabled"})
                continue
            try:
                self.add(ep.load(), ep.name, version)
            except Exception as exc:  # noqa: BLE001 - one broken third-party plugin must not crash the CLI
                err = mask(f"{type(exc).__name__}: {exc}")
                self.warnings.append(f"plugin {ep.name!r} ({ep.value}) failed to load and was skipped: {err}; "
                                     "its checks did not run, so this run cannot say GO")
                self.infos.append({"name": ep.name, "version": version, "status": "broken", "error": err})

    def plugins_dir(self, folder: Path) -> None:
        if not folder.is_dir():
            self.errors.append(f"--plugins-dir {folder}: no such folder")
            return
        for path in sorted(folder.glob("*.py")):
            name = f"plugins-dir:{path.stem}"
            if self.pm.is_blocked(path.stem) or self.pm.is_blocked(name):
                self.infos.append({"name": name, "version": None, "status": "disabled"})
                continue
            try:
                self.add(_import_file(path), name, None)
            except Exception as exc:  # noqa: BLE001 - reported with the file and line, then the run stops
                err = mask(f"{type(exc).__name__}: {exc}")
                tb = traceback.extract_tb(exc.__traceback__)
                line = next((f"{fr.filename}:{fr.lineno}" for fr in reversed(tb) if fr.filename == str(path)), str(path))
                self.errors.append(f"plugin file {line} failed to load: {err}")
                self.infos.append({"name": name, "version": None, "status": "broken", "error": err})


def _import_file(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"impax_preflight_local_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} is not a Python module")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod
