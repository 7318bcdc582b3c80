"""Reading TOML and YAML documents with the line of every field, and saying where they are wrong.

Inventories, waivers, declarative checks and plugin settings are all read here: `read_document`
returns the data and a map from field paths to line numbers, and `validation_problems` turns a
pydantic error into ``file:line: field: what is wrong (hint)`` lines. Nothing here knows what the
documents mean.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError


class DocumentError(Exception):
    """A malformed TOML/YAML file; `problems` holds one person-readable line each, `file:line: field: what`."""

    def __init__(self, path: str, problems: list[str]):
        self.path = path
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def read_document(path: str | Path, what: str) -> tuple[Any, dict[tuple, int]]:
    """Read a TOML (or .yaml/.yml) file: (data, field path -> line number).

    Used for inventories, waivers and declarative checks alike. Raises `DocumentError` naming the
    file and line for unreadable files and syntax errors.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DocumentError(str(path), [f"{path}: cannot read {what}: {exc.strerror}"]) from None
    except UnicodeDecodeError as exc:
        raise DocumentError(str(path), [f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"]) from None
    is_yaml = path.suffix.lower() in (".yaml", ".yml")
    return (_parse_yaml if is_yaml else _parse_toml)(path, text)


def validation_problems(path: str | Path, lines: dict[tuple, int], exc: ValidationError) -> list[str]:
    """One `file:line: field: message (hint)` line per pydantic error."""
    return [_describe(Path(path), lines, e) for e in exc.errors()]


_HINTS = {
    "missing": "add this field",
    "extra_forbidden": "unknown field: check its spelling against the inventory reference in README.md",
    "literal_error": None,
    "string_type": "write it as a quoted string",
    "int_parsing": "write a whole number",
    "float_parsing": "write a number",
    "bool_parsing": "write true or false",
    "list_type": "write a list, e.g. [\"a\", \"b\"]",
    "too_short": "give at least one",
}


def _fmt_loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _describe(path: Path, lines: dict[tuple, int], err: dict) -> str:
    loc = tuple(p for p in err.get("loc", ()) if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))
    where = f"{path}:{_line_for(lines, loc)}"
    msg = err.get("msg", "invalid")
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    hint = _HINTS.get(err.get("type", ""))
    if err.get("type") == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        got = err.get("input")
        msg = f"{got!r} is not allowed; expected {expected}"
    text = f"{where}: {_fmt_loc(loc)}: {msg}"
    return f"{text} (hint: {hint})" if hint else text


def _line_for(lines: dict[tuple, int], loc: tuple) -> int:
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return 1  # a top-level problem (e.g. a missing table) belongs to the start of the file


def _parse_toml(path: Path, text: str) -> tuple[Any, dict[tuple, int]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        where = f"{path}:{m.group(1)}" if m else str(path)
        raise DocumentError(str(path), [f"{where}: TOML syntax error: {exc}"]) from None
    return data, _toml_lines(text, data)


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\.\"']+)\s*=")


def _toml_lines(text: str, data: Any) -> dict[tuple, int]:
    """Map field paths to line numbers (best effort; tomllib keeps no positions)."""
    out: dict[tuple, int] = {}
    counters: dict[tuple, int] = {}
    current: tuple = ()
    for no, raw in enumerate(text.splitlines(), start=1):
        m = _HEADER.match(raw)
        if m:
            keys = [k.strip().strip('"\'') for k in m.group(2).split(".")]
            # resolve array-of-tables parents to their latest index
            resolved: list = []
            for i, k in enumerate(keys):
                resolved.append(k)
                if i < len(keys) - 1 and tuple(resolved) in counters:
                    resolved.append(counters[tuple(resolved)])
            if m.group(1) == "[[":
                base = tuple(resolved)
                counters[base] = counters.get(base, -1) + 1
                # a new parent element restarts its children's numbering
                for k in list(counters):
                    if len(k) > len(base) and k[: len(base)] == base:
                        del counters[k]
                current = base + (counters[base],)
            else:
                current = tuple(resolved)
            out.setdefault(current, no)
            continue
        k = _KEY.match(raw)
        if k:
            parts = [p.strip().strip('"\'') for p in k.group(1).split(".")]
            out.setdefault(current + tuple(parts), no)
    return out


def _parse_yaml(path: Path, text: str) -> tuple[Any, dict[tuple, int]]:
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise DocumentError(str(path), [f"{where}: YAML syntax error: {problem}"]) from None
    out: dict[tuple, int] = {}

    def walk(n: Any, loc: tuple) -> None:
        if n is None:
            return
        out.setdefault(loc, n.start_mark.line + 1)
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                key = loc + (k.value,)
                out[key] = k.start_mark.line + 1
                walk(v, key)
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                walk(v, loc + (i,))

    walk(node, ())
    return data, out
