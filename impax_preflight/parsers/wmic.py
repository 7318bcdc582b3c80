"""`wmic <alias> get ...` output (Windows XP / Server 2003 to Server 2022), table and list forms.

Table form: a header of property names (wmic sorts them alphabetically) whose start columns give
the fixed widths, one row per instance, lines ending in ``\\r\\r\\n``. List form (``/format:list``
or ``/value``): ``Name=Value`` lines, instances separated by blank lines. CSV form
(``/format:csv``): a ``Node,Prop,...`` header and one comma-separated row per instance. wmic writes
UTF-16 LE with a BOM when redirected; the shared capture cleaner decodes bytes and drops the BOM.

Never a silent misparse: in the table form every value must start at its column (wmic pads values
left-aligned to the column width), so a row whose cut falls inside a word, or whose value starts
inside a column, is an error naming the line; numbers are checked (free space within the size, a
known drive type). A blank line ends the table (unless the whole table is double-spaced, as when
CR CR LF line ends were split twice); what follows is a note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import csv
import io

from . import ParseError
from .capture import Capture, Line, read_capture
from .df import DiskUsage

DRIVE_TYPES = {0: "unknown", 1: "no root directory", 2: "removable", 3: "local", 4: "network", 5: "cd-rom", 6: "ram disk"}


PROGRAMS = ("wmic",)
_LIST_LINE = re.compile(r"^\s*([A-Za-z_]\w*)=(.*)$")
_TABLE_HEADER = re.compile(r"^[A-Za-z_]\w*(\s+[A-Za-z_]\w*)*\s*$")
_NO_INSTANCES = re.compile(r"^(No Instance\(s\) Available|Keine Instanz|Aucune instance)", re.I)


def parse_wmic(text: str, command: str = "wmic", *, expect: tuple[str, ...] = (), notes: list[str] | None = None) -> list[dict[str, str]]:
    """Generic wmic output -> one dict per instance (values stripped; empty string when blank).

    `expect`: property names the header must hold (lines before such a header are notes).
    """
    cap = read_capture(text, command=command, programs=PROGRAMS, notes=notes)
    body = cap.body()
    if not body:
        return []
    if any(_NO_INSTANCES.match(ln.text.strip()) for ln in body[:3]):
        return []
    first = body[0].text.strip()
    if first.startswith(("ERROR", "Node -", "Description =")):
        raise ParseError(f"wmic reported an error: {' '.join(b.text.strip() for b in body[:3])[:200]}", command=command, excerpt=cap.text)
    listed = sum(1 for ln in body if _LIST_LINE.match(ln.text))
    if listed * 2 >= len(body):
        return _parse_list(cap, command)
    csv_at = next((i for i, ln in enumerate(body) if ln.text.startswith("Node,")), None)
    if csv_at is not None:
        return _parse_csv(cap, body, csv_at, expect)
    return _parse_table(cap, expect)


def _parse_list(cap: Capture, command: str) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    cur: dict[str, str] = {}
    for ln in cap.lines:
        if ln.blank:
            if cur:
                out.append(cur)
                cur = {}
            continue
        m = _LIST_LINE.match(ln.text)
        if not m:
            cap.note(ln)
            continue
        key, value = m.group(1), m.group(2)
        if key in cur:  # no blank line between instances
            out.append(cur)
            cur = {}
        cur[key] = value.strip()
    if cur:
        out.append(cur)
    if not out:
        raise cap.nothing_recognised("'Property=Value' lines")
    return out


def _parse_csv(cap: Capture, body: list[Line], at: int, expect: tuple[str, ...]) -> list[dict[str, str]]:
    for ln in body[:at]:
        cap.note(ln)
    rows = list(csv.reader(io.StringIO("\n".join(ln.text for ln in body[at:]))))
    names = [n.strip() for n in rows[0]]
    _require(cap, body[at], names, expect)
    out = []
    for ln, row in zip(body[at + 1 :], rows[1:]):
        if len(row) != len(names):
            raise cap.error(f"{len(row)} comma-separated values for {len(names)} properties", ln)
        out.append({n: v.strip() for n, v in zip(names, row)})
    return out


def _require(cap: Capture, header: Line, names: list[str], expect: tuple[str, ...]) -> None:
    missing = [e for e in expect if e not in names]
    if missing:
        raise cap.error(f"the wmic header has no {', '.join(missing)} column", header)


def _parse_table(cap: Capture, expect: tuple[str, ...]) -> list[dict[str, str]]:
    lines = cap.lines
    at = next((i for i, ln in enumerate(lines) if _TABLE_HEADER.match(ln.text) and all(e in ln.text.split() for e in expect)), None)
    if at is None:
        raise cap.nothing_recognised("a wmic table header of property names" + (f" ({', '.join(expect)})" if expect else ""))
    for ln in lines[:at]:
        if not ln.blank:
            cap.note(ln)
    header = lines[at].text
    starts = [m.start() for m in re.finditer(r"\S+", header)]
    names = header.split()
    rest = lines[at + 1 :]
    # a double-spaced table (CR CR LF split into two line ends): every other line blank
    if len(rest) >= 3 and all(ln.blank for ln in rest[1::2]) and not any(ln.blank for ln in rest[0::2]):
        rest = rest[0::2]
    out = []
    ended = False
    for ln in rest:
        if ln.blank:
            ended = ended or bool(out)
            continue
        if ended:
            cap.note(ln, "after the end of the table (a blank line) not read")
            continue
        out.append(_cut(cap, ln, names, starts))
    return out


def _cut(cap: Capture, ln: Line, names: list[str], starts: list[int]) -> dict[str, str]:
    """One table row cut at the header's columns, refusing a cut inside a word."""
    line = ln.text
    row = {}
    for i, name in enumerate(names):
        a = starts[i]
        b = starts[i + 1] if i + 1 < len(names) else None
        field = line[a:b] if a < len(line) else ""
        if a > 0 and a < len(line) and not line[a - 1].isspace() and not line[a].isspace():
            raise cap.error(f"column {name!r} does not start at a blank ({line[max(0, a - 12):a + 12].strip()!r} is cut in two): "
                            "the row is not aligned with the header", ln)
        if field[:1].isspace() and field.strip():
            raise cap.error(f"the value of {name!r} ({field.strip()!r}) does not start at its column: "
                            "the row is not aligned with the header", ln)
        row[name] = field.strip()
    return row


@dataclass
class LogicalDisk:
    device_id: str
    drive_type: int | None
    size_bytes: int | None
    free_bytes: int | None
    volume_name: str = ""
    file_system: str = ""

    @property
    def is_local_fixed(self) -> bool:
        return self.drive_type == 3

    def usage(self) -> DiskUsage | None:
        """As a `DiskUsage` (KiB) for the disk-space check; None when the size is unknown (empty drive)."""
        if not self.size_bytes:
            return None
        free = self.free_bytes or 0
        used = self.size_bytes - free
        return DiskUsage(
            filesystem=self.volume_name or self.device_id,
            mount=self.device_id,
            size_kb=self.size_bytes // 1024,
            used_kb=used // 1024,
            avail_kb=free // 1024,
            used_pct=round(100.0 * used / self.size_bytes, 1),
        )


def _int(value) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def logical_disks_from_rows(rows: list[dict], command: str) -> list[LogicalDisk]:
    """Logical disks from property rows, refusing numbers that cannot be right (never a plausible wrong one)."""
    out = []
    for r in rows:
        device = r.get("DeviceID") or r.get("Caption") or r.get("Name")
        if not device:
            raise ParseError("logical disk without DeviceID / Caption", command=command, excerpt=str(r))
        size, free, kind = _int(r.get("Size")), _int(r.get("FreeSpace")), _int(r.get("DriveType"))
        for prop, value in (("Size", size), ("FreeSpace", free), ("DriveType", kind)):
            if r.get(prop) not in (None, "") and value is None:
                raise ParseError(f"{device}: {prop} is not a whole number: {r.get(prop)!r}", command=command, excerpt=str(r))
            if value is not None and value < 0:
                raise ParseError(f"{device}: {prop} is negative ({value})", command=command, excerpt=str(r))
        if size is not None and free is not None and free > size:
            raise ParseError(f"{device}: free space ({free} bytes) is more than the size ({size} bytes)", command=command, excerpt=str(r))
        if kind is not None and kind not in DRIVE_TYPES:
            raise ParseError(f"{device}: unknown DriveType {kind} (0-6)", command=command, excerpt=str(r))
        out.append(
            LogicalDisk(
                device_id=str(device).strip(),
                drive_type=kind,
                size_bytes=size,
                free_bytes=free,
                volume_name=str(r.get("VolumeName") or "").strip(),
                file_system=str(r.get("FileSystem") or "").strip(),
            )
        )
    return out


def parse_wmic_logicaldisk(text: str, *, notes: list[str] | None = None) -> list[LogicalDisk]:
    """Parse `wmic logicaldisk get DeviceID,DriveType,FreeSpace,Size,VolumeName` (table, list or CSV form)."""
    return logical_disks_from_rows(parse_wmic(text, "wmic logicaldisk", expect=("DeviceID",), notes=notes), "wmic logicaldisk")


def parse_wmic_logical_processors(text: str, *, notes: list[str] | None = None) -> int:
    """Logical processors from `wmic cpu get NumberOfLogicalProcessors`: one row per processor
    package, summed (systeminfo's "Processor(s)" counts packages, not logical CPUs)."""
    rows = parse_wmic(text, "wmic cpu", notes=notes)
    if not rows:
        raise ParseError("wmic cpu listed no processor", command="wmic cpu", excerpt=text)
    total = 0
    for r in rows:
        n = _int(r.get("NumberOfLogicalProcessors"))
        if n is None:
            # Windows Server 2003 / XP before KB932370 have no such property (empty value)
            raise ParseError("NumberOfLogicalProcessors is missing or not a number (Windows 2003 without KB932370 "
                             "does not report it)", command="wmic cpu", excerpt=str(r))
        if not 0 < n <= 4096:
            raise ParseError(f"NumberOfLogicalProcessors {n} is out of range", command="wmic cpu", excerpt=str(r))
        total += n
    return total
