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
    naming it and the available ones. A reporter that fails does not stop the others: once all
    were tried, `ReportWriteError` names the failures and holds the paths that were written.
    """
    formats = list(formats)
    unknown = unknown_formats(plugins, formats)
    if unknown:
        raise ValueError(f"unknown report format(s) {', '.join(unknown)}; available: {', '.join(plugins.reporter_names())}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    failed: dict[str, str] = {}
    for fmt in formats:  # one reporter's failure (a full disk, a plugin's bug) must not cost the others
        try:
            written[fmt] = Path(plugins.reporter(fmt)(report, out))
        except Exception as exc:  # noqa: BLE001 - named in ReportWriteError, masked
            from ..secrets import mask

            failed[fmt] = mask(f"{type(exc).__name__}: {exc}")
    if failed:
        raise ReportWriteError(written, failed)
    return written


class ReportWriteError(Exception):
    """Some reports could not be written; `written` holds those that were, `failed` why the others were not."""

    def __init__(self, written: dict[str, Path], failed: dict[str, str]):
        self.written, self.failed = written, failed
        super().__init__("could not write the " + "; ".join(f"{fmt} report: {why}" for fmt, why in failed.items()))
