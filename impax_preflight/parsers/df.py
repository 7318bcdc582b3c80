"""`df -k`, `df -h`, `df -P` on Solaris 10/11 and Linux (GNU coreutils, busybox).

Header variants understood: ``kbytes used avail capacity Mounted on`` (Solaris -k),
``1K-blocks Used Available Use% Mounted on`` (GNU -k), ``1024-blocks ... Capacity`` (-P),
``512-blocks``, ``1M-blocks`` and ``Size Used Avail Use%`` / ``size used avail capacity``
(-h, sizes such as ``1.9G`` or ``1,9G`` in a decimal-comma locale). A long file-system name on a
line of its own (Solaris, GNU without -P) is joined with the next line. Mount points may hold spaces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import ParseError, lines_of

COMMAND = "df -k"
_UNITS = {"K": 1, "M": 1024, "G": 1024**2, "T": 1024**3, "P": 1024**4, "E": 1024**5}
_ROW = re.compile(
    r"^(?P<fs>.+?)\s+(?P<size>[\d.,]+[KMGTPE]?i?B?|-)\s+(?P<used>[\d.,]+[KMGTPE]?i?B?|-)\s+(?P<avail>[\d.,]+[KMGTPE]?i?B?|-)\s+"
    r"(?P<pct>\d+%|-)\s+(?P<mount>\S.*)$"
)
_ROW_TYPE = re.compile(
    r"^(?P<fs>.+?)\s+(?P<type>\S+)\s+(?P<size>[\d.,]+[KMGTPE]?i?B?|-)\s+(?P<used>[\d.,]+[KMGTPE]?i?B?|-)\s+(?P<avail>[\d.,]+[KMGTPE]?i?B?|-)\s+"
    r"(?P<pct>\d+%|-)\s+(?P<mount>\S.*)$"
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


def parse_df(text: str) -> list[DiskUsage]:
    """Parse df output into `DiskUsage` records (sizes in KiB), in the order df printed them."""
    lines = [ln.rstrip() for ln in lines_of(text)]
    lines = [ln for ln in lines if ln.strip()]
    if not lines:
        raise ParseError("empty df output", command=COMMAND, excerpt=text)
    header_idx = next((i for i, ln in enumerate(lines) if re.match(r"^\s*(Filesystem|Dateisystem|Sys\. de fichiers|Système de fichiers|File system)\b", ln, re.I)), None)
    if header_idx is None:
        raise ParseError("no df header line (Filesystem ...)", command=COMMAND, excerpt=text)
    header = lines[header_idx]
    block_kb, human = _block_kb(header)
    typed = bool(re.search(r"\bType\b", header))
    out: list[DiskUsage] = []
    pending = ""
    for ln in lines[header_idx + 1 :]:
        if re.match(r"^\s*(Filesystem|Dateisystem)\b", ln, re.I):
            continue  # df of several arguments on some systems repeats the header
        candidate = f"{pending} {ln.strip()}" if pending else ln
        m = (_ROW_TYPE if typed else _ROW).match(candidate.strip())
        if not m:
            if not pending and len(ln.split()) == 1:
                pending = ln.strip()  # a long device name; its numbers follow on the next line
                continue
            raise ParseError(f"unexpected df line: {ln.strip()[:100]!r}", command=COMMAND, excerpt=ln)
        pending = ""
        size = _to_kb(m.group("size"), block_kb, human)
        used = _to_kb(m.group("used"), block_kb, human)
        avail = _to_kb(m.group("avail"), block_kb, human)
        pct_text = m.group("pct")
        if pct_text != "-":
            pct = float(pct_text.rstrip("%"))
        else:
            pct = round(100.0 * used / (used + avail), 1) if used + avail else 0.0
        out.append(DiskUsage(filesystem=m.group("fs").strip(), mount=m.group("mount").strip(), size_kb=size, used_kb=used, avail_kb=avail, used_pct=pct))
    if pending:
        raise ParseError(f"df output ends after the file-system name {pending!r} (truncated?)", command=COMMAND, excerpt=pending)
    return out
