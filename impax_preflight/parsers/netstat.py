"""`netstat -an` on Windows (``  TCP    0.0.0.0:8085   0.0.0.0:0   LISTENING``) and Solaris/Linux.

Only what the checks need: which TCP ports listen. Localised Windows state names (``ABHÖREN``,
``À L'ÉCOUTE``) count as listening.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import lines_of

_WIN = re.compile(r"^\s*(?P<proto>TCP|UDP)v?6?\s+(?P<local>\S+)\s+(?P<foreign>\S+)(?:\s+(?P<state>\S.*?))?\s*$", re.I)
_POSIX = re.compile(r"^\s*(?P<proto>tcp\d?|udp\d?)\s+\d+\s+\d+\s+(?P<local>\S+)\s+(?P<foreign>\S+)\s+(?P<state>\S+)", re.I)
_SOLARIS = re.compile(r"^\s*(?P<local>[\d.:*a-f]+[.:](?:\d+|\*))\s+(?P<foreign>[\d.:*a-f]+[.:](?:\d+|\*))\s+\d+\s+\d+\s+\d+\s+\d+\s+(?P<state>[A-Z_0-9]+)\s*$", re.I)
LISTEN_STATES = ("LISTENING", "LISTEN", "ABHÖREN", "ABHOREN", "À L'ÉCOUTE", "EN ESCUCHA", "IN ASCOLTO")


@dataclass
class Socket:
    proto: str
    local: str
    foreign: str
    state: str

    @property
    def local_port(self) -> int | None:
        m = re.search(r"[.:](\d+)$", self.local)
        return int(m.group(1)) if m else None

    @property
    def listening(self) -> bool:
        return self.state.upper() in LISTEN_STATES


def parse_netstat(text: str) -> list[Socket]:
    """Parse `netstat -an`; lines that are not socket rows (headers, titles) are skipped."""
    out = []
    for ln in lines_of(text):
        for rx, proto in ((_WIN, None), (_POSIX, None), (_SOLARIS, "TCP")):
            m = rx.match(ln)
            if m:
                out.append(Socket(proto=(proto or m.group("proto")).upper(), local=m.group("local"), foreign=m.group("foreign"), state=(m.group("state") or "").strip()))
                break
    return out


def listening_ports(text: str) -> set[int]:
    return {s.local_port for s in parse_netstat(text) if s.listening and s.local_port is not None}
