"""The built-in check catalog: the IMPAX knowledge, one module per area, each a plugin.

Every public module here implements `impax_register_checks`; modules starting with ``_`` are
shared helpers, not plugins.
"""

from __future__ import annotations

import pkgutil


def module_names() -> list[str]:
    """The catalog's plugin modules, by full name, in a stable order."""
    return sorted(f"{__name__}.{m.name}" for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
