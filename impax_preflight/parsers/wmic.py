"""`wmic <alias> get ...` output (Windows XP / Server 2003 to Server 2022), table and list forms.

Table form: a header of property names (wmic sorts them alphabetically) whose start columns give
the fixed widths, one row per instance, lines ending in ``\\r\\r\\n``. List form (``/format:list``
or ``/value``): ``Name=Value`` lines, instances separated by blank lines. wmic writes UTF-16 LE
with a BOM when redirected: decode with `transports.base.decode_output` before parsing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import ParseError, lines_of
from .df import DiskUsage

DRIVE_TYPES = {0: "unknown", 1: "no root directory", 2: "removable", 3: "local", 4: "network", 5: "cd-rom", 6: "ram disk"}


def parse_wmic(text: str, command: str = "wmic") -> list[dict[str, str]]:
    """Generic wmic output -> one dict per instance (values stripped; empty string when blank)."""
    lines = [ln.rstrip() for ln in lines_of(text)]
    body = [ln for ln in lines if ln.strip()]
    if not body:
        return []
    if re.match(r"^(No Instance\(s\) Available|Keine Instanz)", body[0].strip(), re.I):
        return []
    if body[0].strip().startswith(("ERROR", "Node -", "Description =")):
        raise ParseError(f"wmic reported an error: {' '.join(b.strip() for b in body[:3])[:200]}", command=command, excerpt=text)
    if all("=" in ln for ln in body):
        return _parse_list(lines, command)
    return _parse_table(body, command)


def _parse_list(lines: list[str], command: str) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    cur: dict[str, str] = {}
    for ln in lines:
        if not ln.strip():
            if cur:
                out.append(cur)
                cur = {}
            continue
        key, _, value = ln.partition("=")
        if not re.match(r"^\w+$", key.strip()):
            raise ParseError(f"unexpected wmic list line: {ln.strip()[:80]!r}", command=command, excerpt=ln)
        if key.strip() in cur:  # no blank line between instances
            out.append(cur)
            cur = {}
        cur[key.strip()] = value.strip()
    if cur:
        out.append(cur)
    return out


def _parse_table(body: list[str], command: str) -> list[dict[str, str]]:
    header = body[0]
    if not re.match(r"^[A-Za-z]\w*(\s+[A-Za-z]\w*)*\s*$", header):
        raise ParseError(f"not a wmic table header: {header.strip()[:80]!r}", command=command, excerpt=header)
    starts = [m.start() for m in re.finditer(r"\S+", header)]
    names = header.split()
    out = []
    for ln in body[1:]:
        row = {}
        for i, name in enumerate(names):
            end = starts[i + 1] if i + 1 < len(names) else None
            row[name] = ln[starts[i] : end].strip() if starts[i] < len(ln) else ""
        out.append(row)
    return out


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
    out = []
    for r in rows:
        device = r.get("DeviceID") or r.get("Caption") or r.get("Name")
        if not device:
            raise ParseError("logical disk without DeviceID / Caption", command=command, excerpt=str(r))
        size, free = _int(r.get("Size")), _int(r.get("FreeSpace"))
        if r.get("Size") not in (None, "") and size is None:
            raise ParseError(f"{device}: Size is not a number: {r.get('Size')!r}", command=command, excerpt=str(r))
        out.append(
            LogicalDisk(
                device_id=str(device).strip(),
                drive_type=_int(r.get("DriveType")),
                size_bytes=size,
                free_bytes=free,
                volume_name=str(r.get("VolumeName") or "").strip(),
                file_system=str(r.get("FileSystem") or "").strip(),
            )
        )
    return out


def parse_wmic_logicaldisk(text: str) -> list[LogicalDisk]:
    """Parse `wmic logicaldisk get DeviceID,DriveType,FreeSpace,Size,VolumeName` (table or list form)."""
    return logical_disks_from_rows(parse_wmic(text, "wmic logicaldisk"), "wmic logicaldisk")


@dataclass
class WinService:
    name: str
    display_name: str
    start_mode: str  # Auto | Manual | Disabled | Boot | System ("" when unknown)
    state: str  # Running | Stopped | Start Pending | ...

    @property
    def auto_start(self) -> bool:
        return self.start_mode.lower() in ("auto", "automatic", "auto_start")

    @property
    def running(self) -> bool:
        return self.state.lower() in ("running",)


def parse_wmic_services(text: str) -> list[WinService]:
    """Parse `wmic service get DisplayName,Name,StartMode,State` (table or list form)."""
    rows = parse_wmic(text, "wmic service")
    out = []
    for r in rows:
        if "Name" not in r or "State" not in r:
            raise ParseError("wmic service output needs the Name and State properties", command="wmic service", excerpt=str(r))
        out.append(WinService(name=r["Name"], display_name=r.get("DisplayName", ""), start_mode=r.get("StartMode", ""), state=r["State"]))
    return out


def parse_wmic_logical_processors(text: str) -> int:
    """Logical processors from `wmic cpu get NumberOfLogicalProcessors`: one row per processor
    package, summed (systeminfo's "Processor(s)" counts packages, not logical CPUs)."""
    rows = parse_wmic(text, "wmic cpu")
    if not rows:
        raise ParseError("wmic cpu listed no processor", command="wmic cpu", excerpt=text)
    total = 0
    for r in rows:
        n = _int(r.get("NumberOfLogicalProcessors"))
        if n is None:
            raise ParseError("NumberOfLogicalProcessors is missing or not a number", command="wmic cpu", excerpt=str(r))
        total += n
    return total
