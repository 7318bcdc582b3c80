"""Writing a run's report in the requested formats, through the reporters the plugins registered."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:  # pragma: no cover
    from ..model import RunReport
    from ..plugins import PluginSet

#: what `run`, `demo` and `report` write unless told otherwise
DEFAULT_FORMATS = ("html", "json", "markdown", "junit")


def unknown_formats(plugins: "PluginSet", formats: Iterable[str]) -> list[str]:
    return [f for f in formats if plugins.reporter(f) is None]


def write_reports(report: "RunReport", out_dir: str | Path, formats: Iterable[str], plugins: "PluginSet") -> dict[str, Path]:
    """Render the report in each requested format with the registered reporters.

    An unknown format is refused before anything is written (no half set of reports): ValueError
    naming it and the available ones.
    """
    formats = list(formats)
    unknown = unknown_formats(plugins, formats)
    if unknown:
        raise ValueError(f"unknown report format(s) {', '.join(unknown)}; available: {', '.join(plugins.reporter_names())}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return {fmt: Path(plugins.reporter(fmt)(report, out)) for fmt in formats}
