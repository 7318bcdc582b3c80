"""JSON output: the RunReport as written to report.json, and the JSON Schema of that contract."""

from __future__ import annotations

import json
from pathlib import Path

from ..model import RunReport
from ..secrets import masker


def report_to_json(report: RunReport) -> str:
    data = report.model_dump(mode="json")
    return json.dumps(masker.mask_obj(data), indent=2, ensure_ascii=False)


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
