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
    return RunReport.model_validate_json(Path(path).read_text(encoding="utf-8"))


def json_schema() -> dict:
    schema = RunReport.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "impax-preflight run report"
    return schema
