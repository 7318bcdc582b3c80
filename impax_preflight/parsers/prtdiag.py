"""Solaris hardware: `prtdiag` (-v), `psrinfo`, `prtconf | grep Memory`.

`prtdiag` (SPARC and x86, Solaris 10/11) starts with ``System Configuration: <vendor> <model>``
and ``Memory size: 8192 Megabytes`` (or ``32 GB`` / ``16 Gigabytes``), and exits 1 when it
detects failed components; its environmental sections (Fans, Temperature, Power Supplies, "FRU
Status" / "Failed Field Replaceable Units") print ``failed`` / ``FAULT`` / ``DEGRADED`` rows, and
``No failures found in System`` when all is well. Layout varies per platform, so only those
markers are read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import ParseError, lines_of

_MEM = re.compile(r"Memory\s+size:\s*(?P<n>[\d.,]+)\s*(?P<unit>[KMGT]?B|Kilobytes|Megabytes|Gigabytes|Terabytes)", re.I)
_FAULT_WORDS = re.compile(r"\b(failed|faulted|fault|degraded|critical|failure)\b", re.I)
_HEALTHY = re.compile(r"No failures found|No failures detected|All (?:FRUs|devices) are OK|no faults", re.I)


def memory_mb(text: str) -> int | None:
    """Memory from a ``Memory size:`` line (prtdiag or prtconf), in MiB."""
    m = _MEM.search(text or "")
    if not m:
        return None
    n = float(m.group("n").replace(",", ""))
    unit = m.group("unit").lower()[0]
    return int(n * {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}[unit])


@dataclass
class Prtdiag:
    system: str = ""
    memory_mb: int | None = None
    failures: list[str] = field(default_factory=list)
    says_no_failures: bool = False


def parse_prtdiag(text: str) -> Prtdiag:
    """Parse `prtdiag -v` output: system model, memory, and lines reporting failed hardware."""
    lines = [ln.rstrip() for ln in lines_of(text)]
    if not any(ln.strip() for ln in lines):
        raise ParseError("empty prtdiag output", command="prtdiag -v", excerpt=text)
    out = Prtdiag(memory_mb=memory_mb(text))
    for ln in lines:
        m = re.match(r"^\s*System Configuration:\s*(.+)$", ln)
        if m:
            out.system = re.sub(r"\s+", " ", m.group(1)).strip()
        if _HEALTHY.search(ln):
            out.says_no_failures = True
            continue
        s = ln.strip()
        if _FAULT_WORDS.search(s) and not re.search(r"^(=|-)+|Failed Field Replaceable|^FRU Status|^Status\b", s) and not re.search(r"\b0 failed\b", s, re.I):
            out.failures.append(re.sub(r"\s+", " ", s))
    if not out.system and out.memory_mb is None:
        raise ParseError("not prtdiag output (no 'System Configuration' or 'Memory size' line)", command="prtdiag -v", excerpt=text)
    return out


@dataclass
class Processor:
    id: int
    status: str


def parse_psrinfo(text: str) -> list[Processor]:
    """Parse `psrinfo`: ``0       on-line   since 03/14/2024 10:22:01`` per virtual processor."""
    out = []
    for ln in lines_of(text):
        s = ln.strip()
        if not s:
            continue
        m = re.match(r"^(\d+)\s+(on-line|off-line|no-intr|faulted|spare|powered-off)\b", s)
        if not m:
            raise ParseError(f"unexpected psrinfo line: {s[:80]!r}", command="psrinfo", excerpt=ln)
        out.append(Processor(int(m.group(1)), m.group(2)))
    if not out:
        raise ParseError("empty psrinfo output", command="psrinfo", excerpt=text)
    return out
