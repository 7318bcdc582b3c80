"""`df -k`, `df -h`, `df -P` on Solaris 10/11 and Linux (GNU coreutils, busybox).

Header variants understood: ``kbytes used avail capacity Mounted on`` (Solaris -k),
``1K-blocks Used Available Use% Mounted on`` (GNU -k), ``1024-blocks ... Capacity`` (-P),
``512-blocks``, ``1M-blocks`` and ``Size Used Avail Use%`` / ``size used avail capacity``
(-h, sizes such as ``1.9G`` or ``1,9G`` in a decimal-comma locale). A long file-system name on a
line of its own (Solaris, GNU without -P) is joined with the next line. Mount points may hold spaces.
The inode columns of BSD / macOS ``df`` (``iused ifree %iused``) are read past, not taken for the
mount point.

Never a silent misparse: a row with a percentage that does not read is an error naming the line, as
is a capacity outside 0-100 % (over 100 only when nothing is available), more used than the size, or
a capacity that does not match used / (used + available); other unknown lines are notes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import ParseError
from .capture import read_capture

COMMAND = "df -k"
PROGRAMS = ("df",)
_UNITS = {"K": 1, "M": 1024, "G": 1024**2, "T": 1024**3, "P": 1024**4, "E": 1024**5}
_NUM = r"[\d.,]+[KMGTPE]?i?B?|-"


def _row_pattern(typed: bool, inodes: bool) -> re.Pattern:
    return re.compile(
        r"^(?P<fs>.+?)\s+" + (r"(?P<type>\S+)\s+" if typed else "")
        + rf"(?P<size>{_NUM})\s+(?P<used>{_NUM})\s+(?P<avail>{_NUM})\s+(?P<pct>\d+%|-)\s+"
        + (r"(?P<iused>\d+|-)\s+(?P<ifree>\d+|-)\s+(?P<ipct>\d+%|-)\s+" if inodes else "")
        + r"(?P<mount>\S.*)$"
    )


@dataclass
class DiskUsage:
    """One mounted file system (or Windows logical disk) with sizes in KiB."""

    filesystem: str
    mount: str
    size_kb: int
    used_kb: int
    avail_kb: int
    used_pct: float  # as the tool reports it (df rounds up); computed when the tool prints none

    @property
    def avail_gb(self) -> float:
        return round(self.avail_kb / 1024 / 1024, 2)


def _to_kb(value: str, block_kb: float, human: bool) -> int:
    if value == "-":
        return 0
    v = value.strip().rstrip("B").rstrip("i")
    unit = 1.0
    if v and v[-1].upper() in _UNITS:
        unit = _UNITS[v[-1].upper()]
        v = v[:-1]
    elif human:
        unit = 1 / 1024  # a bare number in -h output is bytes
    else:
        unit = block_kb
    v = v.replace(",", ".") if human else v.replace(",", "")
    try:
        return int(round(float(v) * unit))
    except ValueError:
        raise ParseError(f"not a size: {value!r}", command=COMMAND, excerpt=value) from None


def _block_kb(header: str) -> tuple[float, bool]:
    h = header.lower()
    m = re.search(r"(\d+)([km]?)-blocks", h)
    if m:
        n = int(m.group(1)) * {"": 1, "k": 1024, "m": 1024 * 1024}[m.group(2)]
        return n / 1024, False
    if "kbytes" in h:
        return 1.0, False
    if re.search(r"\bsize\b|\bgröße\b|\btaille\b", h):
        return 1.0, True
    raise ParseError(f"unknown df header (no kbytes / N-blocks / Size column): {header.strip()[:100]!r}", command=COMMAND, excerpt=header)


_HEADER = re.compile(r"^\s*(Filesystem|Dateisystem|Sys\. de fichiers|Système de fichiers|File system)\b", re.I)


def parse_df(text: str, *, notes: list[str] | None = None) -> list[DiskUsage]:
    """Parse df output into `DiskUsage` records (sizes in KiB), in the order df printed them."""
    cap = read_capture(text, command=COMMAND, programs=PROGRAMS, notes=notes)
    lines = cap.body()
    if not lines:
        raise ParseError("empty df output", command=COMMAND, excerpt=cap.source)
    header_idx = next((i for i, ln in enumerate(lines) if _HEADER.match(ln.text)), None)
    if header_idx is None:
        raise cap.nothing_recognised("a df header line (Filesystem ...)")
    for ln in lines[:header_idx]:
        cap.note(ln)
    header = lines[header_idx].text
    block_kb, human = _block_kb(header)
    row_rx = _row_pattern(bool(re.search(r"\bType\b", header)), bool(re.search(r"%iused", header)))
    out: list[DiskUsage] = []
    pending = None
    for ln in lines[header_idx + 1 :]:
        if _HEADER.match(ln.text):
            continue  # df of several arguments on some systems repeats the header
        candidate = f"{pending.text.strip()} {ln.text.strip()}" if pending else ln.text
        m = row_rx.match(candidate.strip())
        if not m:
            if not pending and len(ln.text.split()) == 1:
                pending = ln  # a long device name; its numbers follow on the next line
                continue
            if re.search(r"\d%", ln.text):
                raise cap.error(f"a df row that could not be read: {ln.text.strip()[:100]!r}", ln)
            if pending:
                cap.note(pending)
            cap.note(ln)
            pending = None
            continue
        pending = None
        out.append(_usage(m, block_kb, human, cap, ln))
    if pending:
        raise cap.error(f"df output ends after the file-system name {pending.text.strip()!r} (truncated?)", pending)
    return out


def _usage(m: re.Match, block_kb: float, human: bool, cap, ln) -> DiskUsage:
    size = _to_kb(m.group("size"), block_kb, human)
    used = _to_kb(m.group("used"), block_kb, human)
    avail = _to_kb(m.group("avail"), block_kb, human)
    pct_text = m.group("pct")
    if pct_text != "-":
        pct = float(pct_text.rstrip("%"))
        # over 100 % happens only when root has filled the reserve (nothing left to others)
        if pct > 100 and avail > 0:
            raise cap.error(f"capacity {pct_text} is out of range (0-100 %) while {avail} KiB are available", ln)
        if not human and used + avail >= 100:
            computed = 100.0 * used / (used + avail)
            if abs(pct - computed) > 2.0:
                raise cap.error(f"capacity {pct_text} does not match used {used} / (used + available {avail}) = {computed:.0f} %"
                                " (columns misaligned?)", ln)
    else:
        pct = round(100.0 * used / (used + avail), 1) if used + avail else 0.0
    if size > 0 and used > size * (1.05 if human else 1.0) + 1:
        raise cap.error(f"used ({used} KiB) is more than the size ({size} KiB)", ln)
    return DiskUsage(filesystem=m.group("fs").strip(), mount=m.group("mount").strip(), size_kb=size, used_kb=used, avail_kb=avail, used_pct=pct)
