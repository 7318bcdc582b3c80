"""JSON output: the RunReport as written to report.json, and the JSON Schema of that contract."""

from __future__ import annotations

import json
from pathlib import Path

from ..model import RunReport
from ..secrets import masker


def masked(report: RunReport) -> RunReport:
    """A copy of the report with every registered secret value masked: what every writer renders.

    Masking happens on the data, before any escaping: a password containing '&' or '<' would no
    longer match once HTML- or XML-escaped. Each writer still masks its final text (belt and braces).
    """
    if not masker.active:  # nothing registered: nothing to mask, skip the copy
        return report
    return RunReport.model_validate(masker.mask_obj(report.model_dump(mode="json")))


def report_to_json(report: RunReport) -> str:
    text = json.dumps(masked(report).model_dump(mode="json"), indent=2, ensure_ascii=False)
    return masker.mask(text)


def write_json(report: RunReport, out_dir: str | Path) -> Path:
    path = Path(out_dir) / "report.json"
    path.write_text(report_to_json(report), encoding="utf-8")
    return path


def load_report(path: str | Path) -> RunReport:
    """A report.json read back (raises pydantic's ValidationError / ValueError / OSError; see
    `read_report_file` for the version that names the file, line and field)."""
    return RunReport.model_validate_json(Path(path).read_text(encoding="utf-8"))


#: a report.json larger than this is not one a run wrote (5,000 findings make about 20 MB)
MAX_REPORT_BYTES = 256 * 1024 * 1024


class ReportFileError(ValueError):
    """A file given as report.json that cannot be used; the message names the file, where, and what."""


def read_report_file(path: str | Path) -> RunReport:
    """A report.json given by the user (`diff`, `report`, `--baseline`), or ReportFileError saying
    what is wrong with it: the file, the line (syntax) or the field (content), and a hint."""
    from pydantic import ValidationError

    p = Path(path)
    hint = "give the report.json a run of impax-preflight wrote"
    try:
        if not p.is_file():
            raise ReportFileError(f"{p}: not a file" if p.exists() else f"{p}: no such file")
        if p.stat().st_size > MAX_REPORT_BYTES:
            raise ReportFileError(f"{p}: {p.stat().st_size // 2**20} MB is too large for a report.json ({hint})")
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReportFileError(f"{p}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ReportFileError(f"{p}: not UTF-8 text (byte {exc.start}); {hint}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportFileError(f"{p}:{exc.lineno}: not valid JSON ({exc.msg}, column {exc.colno}); {hint}") from None
    except RecursionError:
        raise ReportFileError(f"{p}: nested too deeply to be a report.json; {hint}") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise ReportFileError(f"{p}: not usable JSON ({exc}); {hint}") from None
    if not isinstance(data, dict):
        raise ReportFileError(f"{p}:1: a report.json is a JSON object, not {type(data).__name__}; {hint}")
    try:
        return RunReport.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "".join(f"[{x}]" if isinstance(x, int) else f".{x}" for x in first.get("loc", ())).lstrip(".") or "(top level)"
        raise ReportFileError(
            f"{p}: not an impax-preflight report.json: {exc.error_count()} problem(s), the first at {where}: "
            f"{first.get('msg')}; {hint}"
        ) from None
    except RecursionError:
        raise ReportFileError(f"{p}: nested too deeply to be a report.json; {hint}") from None


def json_schema() -> dict:
    schema = RunReport.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "impax-preflight run report"
    return schema
