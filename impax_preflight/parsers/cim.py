"""PowerShell `Get-CimInstance Win32_LogicalDisk` (or `Get-WmiObject`) output: `ConvertTo-Json`,
the default table, or the list (``Format-List``, and the default view of `Get-WmiObject`).

JSON is one object (a single disk) or an array; PowerShell 2-5 `ConvertTo-Json` writes numbers as
numbers. The table form has a header row and a row of dashes under each header; the dashes cover only the
header's text, while a column's values may be wider (left-aligned values run past the dashes,
right-aligned ones such as `Measure-Object` sums start before them). Columns are one blank apart and
the layout is the same for every row, so the blank that separates two columns is found at one
position shared by the header and every row: when no such position exists (a misaligned row) or the
rows disagree about where the column ends, the table is an error naming the line, never a guess.
The table ends at the first blank line (a following prompt is removed by the capture cleaner and
ends the output): what comes after is a note, never more disk rows. Numbers are range-checked as for
wmic.
"""

from __future__ import annotations

import json
import re

from . import ParseError
from .capture import Capture, read_capture
from .wmic import LogicalDisk, logical_disks_from_rows

COMMAND = "Get-CimInstance Win32_LogicalDisk"
PROGRAMS = ("get-ciminstance", "gcim", "get-wmiobject", "gwmi", "convertto-json", "format-table", "format-list", "powershell")
_DASHES = re.compile(r"^[-\s]*-[-\s]*$")
_LIST = re.compile(r"^(?P<key>[A-Za-z_]\w*)\s*:\s?(?P<value>.*)$")


def parse_cim_table(text: str, *, notes: list[str] | None = None) -> list[dict[str, str]]:
    """PowerShell's default table output (header, dashes, rows up to a blank line) -> dicts."""
    cap = read_capture(text, command=COMMAND, programs=PROGRAMS, notes=notes)
    return _table(cap)


def _table(cap: Capture) -> list[dict[str, str]]:
    lines = cap.lines
    for i in range(1, len(lines)):
        if not _DASHES.match(lines[i].text) or lines[i - 1].blank:
            continue
        header, dashes = lines[i - 1], lines[i]
        spans = [(m.start(), m.end()) for m in re.finditer(r"-+", dashes.text)]
        names = [header.text[a:b].strip() or header.text[a:].split()[0] for a, b in spans]
        for ln in lines[: i - 1]:
            if not ln.blank:
                cap.note(ln)
        body = []
        ended = False
        for ln in lines[i + 1 :]:
            if ln.blank:
                ended = ended or bool(body)
                continue
            if ended:
                cap.note(ln, "after the end of the table (a blank line) not read")
                continue
            body.append(ln)
        cuts = _separators(cap, [header, dashes] + body, spans, names)
        bounds = [0] + [c + 1 for c in cuts]
        rows = []
        for ln in body:
            row = {}
            for j, name in enumerate(names):
                end = cuts[j] if j < len(cuts) else None
                row[name] = ln.text[bounds[j] : end].strip()
            rows.append(row)
        return rows
    raise cap.nothing_recognised("a PowerShell table (a row of dashes under a header) or a list")


def _separators(cap: Capture, table: list, spans: list[tuple[int, int]], names: list[str]) -> list[int]:
    """The blank column between each two columns, shared by every line of the table."""
    def blank_at(ln, c):
        return c >= len(ln.text) or ln.text[c].isspace()

    cuts = []
    for j in range(len(spans) - 1):
        window = range(spans[j][1], spans[j + 1][0])  # after column j's dashes, before column j+1's
        candidates = list(window)
        for ln in table:  # header and dashes first, then the rows in order: the first row left with no blank is named
            candidates = [c for c in candidates if blank_at(ln, c)]
            if not candidates:
                raise cap.error(f"no blank between the columns {names[j]!r} and {names[j + 1]!r} where the header has one: "
                                "the row is not aligned with the header", ln)
        lo, hi = candidates[0], candidates[-1]
        for ln in table:
            between = ln.text[lo:hi + 1]
            if between.strip():
                raise cap.error(f"{between.strip()!r} could belong to {names[j]!r} or to {names[j + 1]!r}: "
                                "the column boundary is ambiguous", ln)
        cuts.append(lo)
    return cuts


def _list(cap: Capture) -> list[dict[str, str]]:
    """`Format-List` output: ``Name : value`` lines, objects separated by blank lines."""
    out: list[dict[str, str]] = []
    cur: dict[str, str] = {}
    last: str | None = None
    for ln in cap.lines:
        if ln.blank:
            if cur:
                out.append(cur)
                cur, last = {}, None
            continue
        m = _LIST.match(ln.text)
        if m and not ln.text[:1].isspace():
            key = m.group("key")
            if key in cur:
                out.append(cur)
                cur = {}
            cur[key], last = m.group("value").strip(), key
        elif last and ln.text[:1].isspace():
            cur[last] = (cur[last] + " " + ln.text.strip()).strip()  # a long value wrapped by the console
        else:
            cap.note(ln)
    if cur:
        out.append(cur)
    return out


def parse_cim_logicaldisk(text: str, *, notes: list[str] | None = None) -> list[LogicalDisk]:
    """Parse `Get-CimInstance Win32_LogicalDisk | ConvertTo-Json` (or its table or list output)."""
    cap = read_capture(text, command=COMMAND, programs=PROGRAMS, notes=notes)
    stripped = cap.text.strip()
    if not stripped:
        return []
    if stripped[0] in "[{":
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ParseError(f"invalid JSON from ConvertTo-Json: {exc.msg} at line {exc.lineno}", command=COMMAND, excerpt=cap.text) from None
        items = data if isinstance(data, list) else [data]
        if not all(isinstance(x, dict) for x in items):
            raise ParseError("ConvertTo-Json output is not an object or a list of objects", command=COMMAND, excerpt=cap.text)
        return logical_disks_from_rows(items, COMMAND)
    if any(_DASHES.match(ln.text) for ln in cap.lines):
        return logical_disks_from_rows(_table(cap), COMMAND)
    rows = _list(cap)
    if not rows or not any("DeviceID" in r for r in rows):
        raise cap.nothing_recognised("ConvertTo-Json output, a PowerShell table or a list with DeviceID")
    return logical_disks_from_rows(rows, COMMAND)


__all__ = ["parse_cim_logicaldisk", "parse_cim_table", "LogicalDisk"]
