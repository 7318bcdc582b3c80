"""PowerShell `Get-CimInstance Win32_LogicalDisk` output: `ConvertTo-Json` or the default table.

JSON is one object (a single disk) or an array; PowerShell 2-5 `ConvertTo-Json` writes
numbers as numbers. The table form has a header row and a row of dashes that gives the widths.
"""

from __future__ import annotations

import json
import re

from . import ParseError, lines_of
from .wmic import LogicalDisk, logical_disks_from_rows

COMMAND = "Get-CimInstance Win32_LogicalDisk"


def parse_cim_table(text: str) -> list[dict[str, str]]:
    """PowerShell's default table output (header, dashes, rows) -> dicts."""
    lines = [ln.rstrip() for ln in lines_of(text) if ln.strip()]
    for i in range(1, len(lines)):
        if re.fullmatch(r"[-\s]+", lines[i]) and "-" in lines[i]:
            header, dashes = lines[i - 1], lines[i]
            spans = [(m.start(), m.end()) for m in re.finditer(r"-+", dashes)]
            names = [header[a:b].strip() or header[a:].split()[0] for a, b in spans]
            rows = []
            for ln in lines[i + 1 :]:
                row = {}
                for j, (a, _b) in enumerate(spans):
                    end = spans[j + 1][0] if j + 1 < len(spans) else None
                    row[names[j]] = ln[a:end].strip() if a < len(ln) else ""
                rows.append(row)
            return rows
    raise ParseError("not a PowerShell table (no row of dashes under a header)", command=COMMAND, excerpt=text)


def parse_cim_logicaldisk(text: str) -> list[LogicalDisk]:
    """Parse `Get-CimInstance Win32_LogicalDisk | ConvertTo-Json` (or its table output)."""
    stripped = (text or "").replace("\ufeff", "").strip()
    if not stripped:
        return []
    if stripped[0] in "[{":
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ParseError(f"invalid JSON from ConvertTo-Json: {exc.msg} at line {exc.lineno}", command=COMMAND, excerpt=text) from None
        items = data if isinstance(data, list) else [data]
        if not all(isinstance(x, dict) for x in items):
            raise ParseError("ConvertTo-Json output is not an object or a list of objects", command=COMMAND, excerpt=text)
        return logical_disks_from_rows(items, COMMAND)
    return logical_disks_from_rows(parse_cim_table(text), COMMAND)


__all__ = ["parse_cim_logicaldisk", "parse_cim_table", "LogicalDisk"]
