"""Solaris hardware: `prtdiag` (-v), `psrinfo`, `prtconf | grep Memory`.

`prtdiag` (SPARC and x86, Solaris 10/11) starts with ``System Configuration: <vendor> <model>``
and ``Memory size: 8192 Megabytes`` (or ``32 GB`` / ``16 Gigabytes``), and exits 1 when it
detects failed components; its environmental sections (Fans, Temperature, Power Supplies, "FRU
Status" / "Failed Field Replaceable Units") print ``failed`` / ``FAULT`` / ``DEGRADED`` rows, and
``No failures found in System`` when all is well. Layout varies per platform, so only those
markers are read.

`psrinfo` prints one ``0  on-line  since ...`` line per virtual processor; `psrinfo -v` prints a
``Status of virtual processor 0 as of: ...`` block whose next line gives the state: both are read.
Lines that are neither are notes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import ParseError
from .capture import read_capture

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


def parse_prtdiag(text: str, *, notes: list[str] | None = None) -> Prtdiag:
    """Parse `prtdiag -v` output: system model, memory, and lines reporting failed hardware."""
    cap = read_capture(text, command="prtdiag -v", programs=("prtdiag",), notes=notes)
    if cap.empty:
        raise ParseError("empty prtdiag output", command="prtdiag -v", excerpt=cap.source)
    out = Prtdiag(memory_mb=memory_mb(cap.text))
    for ln in cap.lines:
        m = re.match(r"^\s*System Configuration:\s*(.+)$", ln.text)
        if m:
            out.system = re.sub(r"\s+", " ", m.group(1)).strip()
        if _HEALTHY.search(ln.text):
            out.says_no_failures = True
            continue
        s = ln.text.strip()
        if _FAULT_WORDS.search(s) and not re.search(r"^(=|-)+|Failed Field Replaceable|^FRU Status|^Status\b", s) and not re.search(r"\b0 failed\b", s, re.I):
            out.failures.append(re.sub(r"\s+", " ", s))
    if not out.system and out.memory_mb is None:
        raise cap.nothing_recognised("a 'System Configuration:' or 'Memory size:' line")
    return out


@dataclass
class Processor:
    id: int
    status: str


_STATES = r"on-line|off-line|no-intr|faulted|spare|powered-off"


def parse_psrinfo(text: str, *, notes: list[str] | None = None) -> list[Processor]:
    """Parse `psrinfo` (``0       on-line   since 03/14/2024 10:22:01``) or `psrinfo -v`."""
    cap = read_capture(text, command="psrinfo", programs=("psrinfo",), notes=notes)
    out = []
    verbose: int | None = None  # the processor whose -v block is open
    for ln in cap.lines:
        s = ln.text.strip()
        if not s:
            continue
        m = re.match(rf"^(\d+)\s+({_STATES})\b", s)
        if m:
            out.append(Processor(int(m.group(1)), m.group(2)))
            continue
        v = re.match(r"^Status of (?:virtual )?processor (\d+) as of:", s)
        if v:
            verbose = int(v.group(1))
            continue
        st = re.match(rf"^({_STATES})\b", s)
        if st and verbose is not None:
            out.append(Processor(verbose, st.group(1)))
            verbose = None
            continue
        if verbose is None and not re.match(r"^(The \S+ processor operates at|and has an? .*floating[- ]point processor)", s):
            cap.note(ln)
    if not out:
        if cap.empty:
            raise ParseError("empty psrinfo output", command="psrinfo", excerpt=cap.source)
        raise cap.nothing_recognised("'<id> on-line since ...' lines (psrinfo) or 'Status of virtual processor' blocks (psrinfo -v)")
    return out
