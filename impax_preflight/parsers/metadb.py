"""`metadb -i`: the state database replicas of Solaris Volume Manager (DiskSuite / SVM).

One line per replica: status flags, first block, block count, device::

            flags           first blk       block count
         a m  p  luo        16              8192            /dev/dsk/c0t0d0s7
          W   p  l          16              8192            /dev/dsk/c2t3d0s1
         M    p             unknown         unknown         /dev/dsk/c1t0d0s6

then a legend (`` o - replica active prior to last mddb configuration change`` ...). Lowercase flags
are normal states, uppercase ones errors (W write errors, M master blocks, D data blocks, F format,
S too small, R read errors). Without replicas metadb says ``there are no existing databases``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import ParseError, lines_of

COMMAND = "metadb -i"
NOT_CONFIGURED = re.compile(r"there are no existing databases", re.I)
#: what each error flag means, as the legend says
ERROR_FLAGS = {
    "W": "device write errors",
    "M": "problem with master blocks",
    "D": "problem with data blocks",
    "F": "format problems",
    "S": "too small to hold the current database",
    "R": "device read errors",
}
_LEGEND = re.compile(r"^\s*[a-zA-Z]\s+-\s+")
_HEADER = re.compile(r"^\s*flags\s+first\s+blk", re.I)
_ROW = re.compile(r"^\s*(?P<flags>(?:[a-zA-Z]+\s+)*?)(?P<first>\d+|unknown)\s+(?P<count>\d+|unknown)\s+(?P<device>/\S+)\s*$")


@dataclass
class Replica:
    device: str
    flags: str  # every flag letter, in order
    first_block: int | None
    block_count: int | None

    @property
    def errors(self) -> list[str]:
        """The uppercase (error) flags, explained."""
        return [f"{c} ({ERROR_FLAGS.get(c, 'error')})" for c in self.flags if c.isupper()]

    @property
    def active(self) -> bool:
        return "a" in self.flags

    @property
    def disk(self) -> str:
        """The disk the replica is on: /dev/dsk/c0t0d0s7 -> c0t0d0 (a metadevice or other path as is)."""
        leaf = self.device.rsplit("/", 1)[-1]
        m = re.match(r"^(c\d+(?:t[0-9A-Fa-f]+)?d\d+)(?:s\d+|p\d+)?$", leaf)
        return m.group(1) if m else leaf


def parse_metadb_i(text: str, notes: list[str] | None = None) -> list[Replica]:
    """Parse `metadb -i`; an empty list when SVM has no replicas ("there are no existing databases")."""
    if NOT_CONFIGURED.search(text or ""):
        return []
    out: list[Replica] = []
    header = False
    for ln in lines_of(text):
        if not ln.strip():
            continue
        if _HEADER.match(ln):
            header = True
            continue
        if _LEGEND.match(ln):
            continue
        m = _ROW.match(ln)
        if m:
            flags = "".join(m.group("flags").split())
            out.append(Replica(
                device=m.group("device"),
                flags=flags,
                first_block=int(m.group("first")) if m.group("first").isdigit() else None,
                block_count=int(m.group("count")) if m.group("count").isdigit() else None,
            ))
        elif notes is not None:
            notes.append(f"unrecognised line: {ln.strip()[:120]!r}")
    if not out and not header:
        raise ParseError("not metadb -i output (no replica line and no 'flags first blk' header)", command=COMMAND, excerpt=text)
    return out


__all__ = ["ERROR_FLAGS", "NOT_CONFIGURED", "Replica", "parse_metadb_i"]
