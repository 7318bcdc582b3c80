"""Reading TOML and YAML documents with the line of every field, and saying where they are wrong.

Inventories, waivers, declarative checks and plugin settings are all read here: `read_document`
returns the data and a map from field paths to line numbers, and `validation_problems` turns a
pydantic error into ``file:line: field: what is wrong (hint)`` lines. Nothing here knows what the
documents mean, but every document meets the same limits before its fields are looked at: size,
nesting depth, key and text length, integer size, finite numbers, no YAML aliases, no
duplicate keys. A parser's own failure (RecursionError, an integer past 4,300 digits, a date that
does not exist) becomes a `DocumentError` with the line, never a traceback.
"""

from __future__ import annotations

import math
import re
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError


#: limits every document meets before any field is looked at (fields have tighter ones of their
#: own, see `impax_preflight.fields`); real inventories, waivers and check files are a few KB
MAX_DOCUMENT_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 32
MAX_KEY_CHARS = 255
MAX_STRING_CHARS = 64 * 1024  # 64 KB
MAX_INTEGER = 2**63 - 1
MAX_ENTRIES = 10_000  # in one list or table
MAX_VALUES = 200_000  # in the whole document
#: problems listed at most; the rest are counted
MAX_PROBLEMS = 20


class DocumentError(Exception):
    """A malformed TOML/YAML file; `problems` holds one person-readable line each, `file:line: field: what`."""

    def __init__(self, path: str, problems: list[str]):
        self.path = path
        problems = list(problems)
        if len(problems) > MAX_PROBLEMS:
            problems = problems[:MAX_PROBLEMS] + [f"{path}: ... and {len(problems) - MAX_PROBLEMS} more problem(s)"]
        self.problems = problems
        super().__init__("\n".join(self.problems))


def read_document(path: str | Path, what: str) -> tuple[Any, dict[tuple, int]]:
    """Read a TOML (or .yaml/.yml) file: (data, field path -> line number).

    Used for inventories, waivers and declarative checks alike. Raises `DocumentError` naming the
    file and line for unreadable files, syntax errors and documents past the limits above (size,
    nesting, key and text length, integer size, inf/nan, YAML aliases, duplicate keys).
    """
    path = Path(path)
    text = read_text_file(path, what, MAX_DOCUMENT_BYTES)
    is_yaml = path.suffix.lower() in (".yaml", ".yml")
    data, lines = (_parse_yaml if is_yaml else _parse_toml)(path, text)
    problems = limit_problems(path, data, lines)
    if problems:
        raise DocumentError(str(path), problems)
    return data, lines


def read_text_file(path: Path, what: str, max_bytes: int) -> str:
    """A regular file's UTF-8 text, at most `max_bytes` (a leading byte-order mark is dropped), or
    `DocumentError` saying why not: missing, not a regular file (a FIFO would block), too large,
    not UTF-8 (with the line)."""
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise DocumentError(str(path), [f"{path}:1: cannot read {what}: not a regular file"])
        if st.st_size > max_bytes:
            raise DocumentError(str(path), [f"{path}:1: {st.st_size:,} bytes is too large for {what}; at most {max_bytes:,} bytes"])
        with open(path, "rb") as f:
            raw = f.read(max_bytes + 1)
    except OSError as exc:
        raise DocumentError(str(path), [f"{path}:1: cannot read {what}: {exc.strerror or exc}"]) from None
    except ValueError as exc:  # e.g. a NUL in the path
        raise DocumentError(str(path), [f"{path}:1: cannot read {what}: {exc}"]) from None
    if len(raw) > max_bytes:
        raise DocumentError(str(path), [f"{path}:1: too large for {what}; at most {max_bytes:,} bytes"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DocumentError(str(path), [
            f"{path}:{line}: not UTF-8 text ({exc.reason} at byte {exc.start}); save the file as UTF-8"]) from None
    return text[1:] if text.startswith("\ufeff") else text


@dataclass(frozen=True)
class Limits:
    """What a document may hold; the defaults are those of the files people write."""

    depth: int = MAX_DEPTH
    key_chars: int = MAX_KEY_CHARS
    string_chars: int = MAX_STRING_CHARS
    entries: int = MAX_ENTRIES
    values: int = MAX_VALUES


def limit_problems(path: str | Path, data: Any, lines: dict[tuple, int], limits: Limits = Limits()) -> list[str]:
    """Every place where `data` passes a document limit (see `limit_findings`), as
    ``file:line: field: what (hint: ...)`` lines."""
    return [f"{path}:{_line_for(lines, loc)}: {field_name(loc)}: {what} (hint: {hint})"
            for loc, what, hint in limit_findings(data, limits)]


def limit_findings(data: Any, limits: Limits = Limits()) -> list[tuple[tuple, str, str]]:
    """(field path, what, hint) for every place where `data` passes a limit: nesting, key and text
    length, integer size, number of entries, inf/nan, text that is not valid Unicode. Iterative: no
    recursion to overflow, and it stops after MAX_PROBLEMS. Only containers go on the stack (and
    build a field path): a report.json of a million values is checked in a fraction of a second."""
    out: list[tuple[tuple, str, str]] = []
    problem = _scalar_problem(data, limits) if not isinstance(data, _CONTAINERS) else None
    if problem:
        return [((), *problem)]
    total = 1
    stack: list[tuple[Any, tuple, int]] = [(data, (), 0)] if isinstance(data, _CONTAINERS) else []
    while stack and len(out) <= MAX_PROBLEMS:
        value, loc, depth = stack.pop()
        if depth >= limits.depth:
            out.append((loc, f"nested more than {limits.depth} levels deep", "nothing in it is nested this deep; flatten it"))
            continue
        if len(value) > limits.entries:
            out.append((loc, f"{len(value):,} entries", f"a list or table holds at most {limits.entries:,}"))
            continue
        total += len(value)
        if total > limits.values:
            out.append(((), f"more than {limits.values:,} values", "a real file holds far fewer; is this the right file?"))
            break
        for key, item in (value.items() if isinstance(value, dict) else enumerate(value)):
            if type(key) is str and (len(key) > limits.key_chars or not (key.isascii() or _valid_unicode(key))):
                what = f"a key of {len(key):,} characters" if len(key) > limits.key_chars else "a key that is not valid Unicode text"
                out.append((loc + (key,), what, f"keys are at most {limits.key_chars} characters, in UTF-8"))
                continue
            kind = type(item)
            if kind is str:  # the common case, first and cheap
                if len(item) <= limits.string_chars and (item.isascii() or _valid_unicode(item)):
                    continue
            elif kind is bool or item is None:
                continue
            elif isinstance(item, _CONTAINERS):
                stack.append((item, loc + (key,), depth + 1))
                continue
            problem = _scalar_problem(item, limits)
            if problem:
                out.append((loc + (key,), *problem))
    return out


_CONTAINERS = (dict, list, tuple, set, frozenset)


def _valid_unicode(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, e.g. from a YAML "\ud800" escape
        return False
    return True


def _scalar_problem(value: Any, limits: Limits) -> tuple[str, str] | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if abs(value) > MAX_INTEGER:
            return "the number is too large", f"numbers are at most {MAX_INTEGER:,} in size"
    elif isinstance(value, float):
        if not math.isfinite(value):
            return f"{value} is not a finite number", "write a number (inf and nan are not values any setting takes)"
    elif isinstance(value, (str, bytes)):
        if len(value) > limits.string_chars:
            return f"{len(value):,} characters of text", f"one value holds at most {limits.string_chars:,} characters"
        if isinstance(value, str) and not _valid_unicode(value):
            return "text that is not valid Unicode (a lone surrogate)", "save the file as UTF-8"
    return None


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


def field_name(loc: tuple) -> str:
    """A field path as an engineer reads it: hosts[1].transport.port."""
    out = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + _shown_key(str(part))
    if len(out) > 200:
        out = f"{out[:120]}...{out[-60:]}"
    return out or "(top level)"


def _shown_key(key: str) -> str:
    """A key as an error shows it: printable (no terminal escapes), and not 5,000 characters long."""
    dotted = "." in key  # a check id as a key: site.options."os.disk_space"
    if len(key) > 60:
        key = f"{key[:40]}...({len(key):,} characters)"
    if not key.isprintable():
        return repr(key)
    return f'"{key}"' if dotted else key


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
        shown = repr(got) if not isinstance(got, str) or len(got) <= 60 else repr(got[:40]) + f"...({len(got):,} characters)"
        msg = f"{shown[:200]} is not allowed; expected {expected}"
    if len(msg) > 500:
        msg = msg[:480] + " ..."
    text = f"{where}: {field_name(loc)}: {msg}"
    return f"{text} (hint: {hint})" if hint else text


def locate(path: str | Path, lines: dict[tuple, int], loc: tuple) -> str:
    """``file:line: field`` for a field path, the line being the nearest one known."""
    return f"{path}:{_line_for(lines, loc)}: {field_name(loc)}"


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
        where = f"{path}:{m.group(1)}" if m else f"{path}:1"
        hint = " (hint: a key or table is defined twice; keep one)" if re.search(r"overwrite|twice", str(exc)) else ""
        raise DocumentError(str(path), [f"{where}: TOML syntax error: {exc}{hint}"]) from None
    except RecursionError:
        raise DocumentError(str(path), [
            f"{path}:{deep_line(text)}: nested more than {MAX_DEPTH} levels deep (hint: no setting is nested this deep)"]) from None
    except ValueError as exc:  # an integer with more digits than Python converts (over 4,300)
        raise DocumentError(str(path), [
            f"{path}:{long_number_line(text)}: {_value_error(exc)} (hint: numbers are at most {MAX_INTEGER:,} in size)"
        ]) from None
    return data, _toml_lines(text, data)


def _value_error(exc: BaseException) -> str:
    if "digits" in str(exc) and "integer" in str(exc):
        return "a number with more than 4,300 digits cannot be read"
    return str(exc)[:200]


def deep_line(text: str) -> int:
    """The line where brackets ([ and {, outside strings and comments) first nest deeper than
    MAX_DEPTH: where to look when a parser gave up on nesting. 1 when not found."""
    depth, line = 0, 1
    for m in _BRACKETS.finditer(text):
        tok = m.group(0)
        if tok == "\n":
            line += 1
        elif tok in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line
        elif tok in "]}":
            depth = max(0, depth - 1)
        else:
            line += tok.count("\n")  # a string or comment spanning lines
    return 1


_BRACKETS = re.compile(r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#[^\n]*|[\[\]{}\n]')


def long_number_line(text: str) -> int:
    """The line of the first number with more than 4,000 digits (1 when there is none)."""
    for m in re.finditer(r"\d+", text):
        if m.end() - m.start() > 4000:
            return text.count("\n", 0, m.start()) + 1
    return 1


#: a table header: [a.b] or [[a.b]], then nothing but a comment (each part is linear to match)
_HEADER = re.compile(r"^\s*(\[\[?)([^\]\n]*)\]")
_HEADER_END = re.compile(r"\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*((?:[A-Za-z0-9_\-]+|\"[^\"\n]*\"|\'[^\'\n]*\')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|\"[^\"\n]*\"|\'[^\'\n]*\'))*)\s*=")
_DOTTED_PART = re.compile(r'\s*(?:"([^"\n]*)"|\'([^\'\n]*)\'|([^.\s"\']+))\s*(?:\.|$)')


def _dotted_keys(text: str) -> list[str]:
    """a."b.c".d -> ["a", "b.c", "d"] (quoted parts may hold dots)."""
    return [m.group(1) if m.group(1) is not None else m.group(2) if m.group(2) is not None else m.group(3)
            for m in _DOTTED_PART.finditer(text) if m.group(0).strip(" .")]
_MULTILINE_QUOTES = re.compile(r'"""|\'\'\'')


def _toml_lines(text: str, data: Any) -> dict[tuple, int]:
    """Map field paths to line numbers (best effort; tomllib keeps no positions)."""
    out: dict[tuple, int] = {}
    counters: dict[tuple, int] = {}
    current: tuple = ()
    in_string: str | None = None  # inside a multi-line string: its lines are text, not keys
    for no, raw in enumerate(text.splitlines(), start=1):
        if in_string is not None:
            if raw.count(in_string) % 2 == 1:
                in_string = None
            continue
        m = _HEADER.match(raw)
        if m and _HEADER_END.match(raw, m.end()):
            keys = _dotted_keys(m.group(2))
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
            parts = _dotted_keys(k.group(1))
            out.setdefault(current + tuple(parts), no)
        quotes = _MULTILINE_QUOTES.findall(raw)
        if len(quotes) % 2 == 1:
            in_string = quotes[-1]
    return out


def _parse_yaml(path: Path, text: str) -> tuple[Any, dict[tuple, int]]:
    """YAML as a node tree first (lines, duplicate keys, no alias, nesting within MAX_DEPTH: an alias
    bomb is refused before anything expands it), then the values."""
    import yaml

    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: much faster

    def fail(line: int, what: str) -> DocumentError:
        return DocumentError(str(path), [f"{path}:{line}: {what}"])

    try:
        loader = loader_class(text)
        try:
            # composing does not expand aliases (an aliased node is one shared object) and libyaml
            # stops at 1,000 levels; the walk below refuses a shared node before anything expands it
            node = loader.get_single_node()
            lines, problems = _yaml_lines(node)
            if problems:
                raise DocumentError(str(path), [f"{path}:{line}: {what}" for line, what in problems])
            try:
                data = loader.construct_document(node) if node is not None else None
            except (ValueError, TypeError, OverflowError, RecursionError) as exc:
                # e.g. a date that does not exist (2026-02-30), an integer of 5,000 digits
                line, value = _failing_scalar(loader, node)
                raise fail(line, f"YAML value {value!r} cannot be read: {_value_error(exc)}") from None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise fail(mark.line + 1 if mark else 1, f"YAML syntax error: {problem}") from None
    except RecursionError:
        raise fail(1, f"nested more than {MAX_DEPTH} levels deep") from None
    return data, lines


def _yaml_lines(root: Any) -> tuple[dict[tuple, int], list[tuple[int, str]]]:
    """(field path -> line, [(line, problem)]) from the node tree, without recursion. Problems: a
    duplicate key, an alias (a node met twice), nesting past MAX_DEPTH, more than MAX_VALUES nodes."""
    import yaml

    out: dict[tuple, int] = {}
    duplicates: list[tuple[int, str]] = []
    seen_nodes: set[int] = set()
    stack: list[tuple[Any, tuple]] = [(root, ())] if root is not None else []
    while stack:
        n, loc = stack.pop()
        line = n.start_mark.line + 1
        if id(n) in seen_nodes:  # an alias: the shared node's own marks are those of its anchor
            line = out.get(loc) or out.get(loc[:-1]) or line
            return out, [(line, f"{field_name(loc)}: YAML aliases (*name) are not accepted (hint: write the values out "
                                "in full; an alias can make a small file expand without bound)")]
        seen_nodes.add(id(n))
        if len(loc) > MAX_DEPTH:
            return out, [(line, f"nested more than {MAX_DEPTH} levels deep (hint: no setting is nested this deep)")]
        if len(seen_nodes) > MAX_VALUES:
            return out, [(line, f"more than {MAX_VALUES:,} values (hint: is this the right file?)")]
        out.setdefault(loc, line)
        children: list[tuple[Any, tuple]] = []
        if isinstance(n, yaml.MappingNode):
            seen: dict[tuple[str, str], int] = {}
            for k, v in n.value:
                line = k.start_mark.line + 1
                if isinstance(k, yaml.ScalarNode):
                    first = seen.get((k.tag, k.value))
                    if first is not None:
                        duplicates.append((line, f"{field_name(loc + (k.value,))}: the key appears twice (first on line "
                                                 f"{first}) (hint: keep one; YAML readers silently take the last)"))
                        continue
                    seen[(k.tag, k.value)] = line
                key = loc + (k.value,)
                out[key] = line
                children.append((v, key))
        elif isinstance(n, yaml.SequenceNode):
            children = [(v, loc + (i,)) for i, v in enumerate(n.value)]
        stack.extend(reversed(children))  # visited in document order: the alias is the second sighting
    return out, sorted(duplicates)


def _failing_scalar(loader: Any, root: Any) -> tuple[int, str]:
    """(line, text) of the first scalar that cannot be constructed on its own."""
    import yaml

    stack = [root]
    while stack:
        n = stack.pop()
        if isinstance(n, yaml.ScalarNode):
            try:
                loader.construct_object(n, deep=True)
            except Exception:  # noqa: BLE001 - looking for the culprit of an error already caught
                return n.start_mark.line + 1, n.value[:60]
        elif isinstance(n, yaml.MappingNode):
            stack.extend(x for kv in reversed(n.value) for x in reversed(kv))
        elif isinstance(n, yaml.SequenceNode):
            stack.extend(reversed(n.value))
    return 1, ""
