"""JSON output: the RunReport as written to report.json, and the JSON Schema of that contract."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from ..documents import DocumentError, Limits, deep_line, field_name, limit_findings, long_number_line, read_text_file
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


#: a report.json larger than this is not one a run wrote (5,000 findings make about 20 MB); the
#: limit also bounds the memory reading it takes
MAX_REPORT_BYTES = 64 * 1024 * 1024
#: what a report.json may hold: evidence excerpts are far shorter than a string here, a run's
#: findings far fewer than the entries, and nothing in the contract nests deeper than a few levels
REPORT_LIMITS = Limits(depth=32, key_chars=1024, string_chars=4 * 1024 * 1024, entries=1_000_000, values=20_000_000)
_HINT = "give the report.json a run of impax-preflight wrote"


class ReportFileError(DocumentError, ValueError):
    """A file given as report.json that cannot be used: `path`, and `problems` naming the file,
    where (line, field) and what."""

    def __init__(self, path: str, problems: list[str] | str):
        super().__init__(path, [problems] if isinstance(problems, str) else problems)


class _BadNumber(ValueError):
    def __init__(self, token: str):
        super().__init__(token)
        self.token = token


def _refuse_constant(token: str) -> float:
    raise _BadNumber(token)


def _finite_float(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):  # 1e999
        raise _BadNumber(token)
    return value


def _bounded_int(token: str) -> int:
    if len(token.lstrip("-")) > 19 or abs(int(token)) > 2**63 - 1:
        raise _BadNumber(token)
    return int(token)


def read_report_file(path: str | Path) -> RunReport:
    """A report.json given by the user (`diff`, `report`, `--baseline`), or ReportFileError saying
    what is wrong with it: the file, the line, the field, and a hint. Never anything else: syntax,
    size, nesting, numbers that are not finite or too large and every field are checked."""
    from pydantic import ValidationError

    p = Path(path)
    try:
        text = read_text_file(p, "a report.json", MAX_REPORT_BYTES)
    except DocumentError as exc:
        raise ReportFileError(str(p), [f"{x}; {_HINT}" for x in exc.problems]) from None
    try:
        data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_bounded_int)
    except json.JSONDecodeError as exc:
        raise ReportFileError(str(p), f"{p}:{exc.lineno}: not valid JSON ({exc.msg}, column {exc.colno}); {_HINT}") from None
    except _BadNumber as exc:
        shown = exc.token if len(exc.token) <= 30 else f"a number of {len(exc.token):,} digits"
        raise ReportFileError(str(p), f"{p}:{json_line(text, token=exc.token)}: {shown} is not a number a report holds "
                                      f"(finite, at most 19 digits); {_HINT}") from None
    except RecursionError:
        raise ReportFileError(str(p), f"{p}:{deep_line(text)}: nested too deeply to be a report.json; {_HINT}") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise ReportFileError(str(p), f"{p}:{long_number_line(text)}: not usable JSON ({str(exc)[:100]}); {_HINT}") from None
    problems = limit_findings(data, REPORT_LIMITS)
    if problems:
        raise ReportFileError(str(p), [f"{p}:{json_line(text, loc)}: {field_name(loc)}: {what} (hint: {hint}); {_HINT}"
                                       for loc, what, hint in problems])
    if not isinstance(data, dict):
        raise ReportFileError(str(p), f"{p}:1: a report.json is a JSON object, not {type(data).__name__}; {_HINT}")
    try:
        return RunReport.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        shown = []
        for err in errors[:3]:
            loc = tuple(x for x in err.get("loc", ()) if not (isinstance(x, str) and ("[" in x or x.startswith("function-"))))
            shown.append(f"{p}:{json_line(text, loc)}: {field_name(loc)}: {str(err.get('msg'))[:200]}")
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        shown[-1] += f"{more} — not an impax-preflight report.json: {len(errors)} problem(s); {_HINT}"
        raise ReportFileError(str(p), shown) from None
    except RecursionError:
        raise ReportFileError(str(p), f"{p}:{deep_line(text)}: nested too deeply to be a report.json; {_HINT}") from None


def _key(token: str) -> str:
    try:
        return json.loads(token) if token.startswith('"') else token
    except ValueError:
        return token[1:-1]


#: JSON tokens: strings, punctuation, other scalars (numbers, true, false, null, NaN...)
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+')


def json_line(text: str, loc: tuple = (), token: str | None = None) -> int:
    """The line of the value at field path `loc` (or of the nearest enclosing value found), or of
    the first scalar spelled `token` outside strings. One linear pass; used only to point at an error."""
    stack: list[list] = []  # per open container: [key or index, expecting a key?]
    line, last, best = 1, 0, 1
    value_next = True  # a value may start here (top level, after ':' or ',' in an array, after '[')
    for m in _TOKEN.finditer(text):
        line += text.count("\n", last, m.start())
        last = m.start()
        tok = m.group(0)
        if tok in ",:":
            if tok == "," and stack:
                frame = stack[-1]
                if frame[1] is None:  # in an array: the next element
                    frame[0] += 1
                    value_next = True
                else:
                    frame[1] = True
            else:
                value_next = True
            continue
        if tok in "]}":
            if stack:
                stack.pop()
            value_next = False
            continue
        if stack and stack[-1][1] is True:  # an object's key
            stack[-1][0] = _key(tok)
            stack[-1][1] = False
            continue
        if value_next:
            path = tuple(f[0] for f in stack)
            if token is not None:
                if tok == token:
                    return line
            elif path == loc[: len(path)]:
                best = line
                if len(path) == len(loc):
                    return line
        if tok == "{":
            stack.append([None, True])
            value_next = False
        elif tok == "[":
            stack.append([0, None])
            value_next = True
        else:
            value_next = False
    return best


def json_schema() -> dict:
    schema = RunReport.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "impax-preflight run report"
    return schema
