"""`netstat -an` on Windows (``  TCP    0.0.0.0:8085   0.0.0.0:0   LISTENING``) and Solaris/Linux.

Only what the checks need: which TCP ports listen. Localised Windows state names (``ABHÖREN``,
``À L'ÉCOUTE``) count as listening; the PID column of ``netstat -ano`` is not part of the state. Solaris prints one section per protocol (``TCP: IPv4``,
``TCP: IPv6`` with an ``If`` column, ``UDP``...); only its TCP rows are read. Titles and column
headers are known; other lines are notes. Text with neither a socket row nor a netstat header is an
error (an empty listening set would be a wrong answer, not a parse).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .capture import read_capture

# the local address holds its port after a colon ("0.0.0.0:8095", "[::]:135"): a Linux row ("tcp 0 0 ...") is not one
_WIN = re.compile(r"^\s*(?P<proto>TCP|UDP)v?6?\s+(?P<local>\S*:\d+)\s+(?P<foreign>\S+)(?:\s+(?P<state>\D.*?))?(?:\s+(?P<pid>\d+))?\s*$", re.I)
_POSIX = re.compile(r"^\s*(?P<proto>tcp\d?|udp\d?)\s+\d+\s+\d+\s+(?P<local>\S+)\s+(?P<foreign>\S+)\s+(?P<state>\S+)", re.I)
_SOLARIS = re.compile(r"^\s*(?P<local>[\w.:*%-]+[.:](?:\d+|\*))\s+(?P<foreign>[\w.:*%-]+[.:](?:\d+|\*))\s+\d+\s+\d+\s+\d+\s+\d+\s+(?P<state>[A-Z_0-9]+)(?:\s+\S+)?\s*$", re.I)
_SECTION = re.compile(r"^\s*(?:(?:TCP|UDP|SCTP|RAW)(?:v6)?:?\s*(?:IPv[46])?|Active (?:Internet |UNIX domain )?(?:Connections|sockets).*|"
                      r"Proto\s.*|Local Address\s.*|[-\s]+|Aktive Verbindungen|Connexions actives|Routing Table.*|Active UNIX domain sockets.*)\s*$", re.I)
COMMAND = "netstat -an"
PROGRAMS = ("netstat",)
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


def parse_netstat(text: str, *, notes: list[str] | None = None) -> list[Socket]:
    """Parse `netstat -an`; titles and headers are skipped, other non-socket lines are notes."""
    cap = read_capture(text, command=COMMAND, programs=PROGRAMS, notes=notes)
    out = []
    known = False
    udp = False  # inside a Solaris UDP section: its rows are not TCP
    local_sockets = False  # inside an "Active UNIX domain sockets" section: nothing to read there
    for ln in cap.lines:
        if ln.blank:
            continue
        if _SECTION.match(ln.text):
            known = True
            udp = ln.text.strip().upper().startswith("UDP")
            local_sockets = "unix domain" in ln.text.lower() or (local_sockets and not re.match(r"^\s*(TCP|UDP|SCTP|RAW|Active)", ln.text, re.I))
            continue
        if local_sockets:
            continue
        for rx, proto in ((_WIN, None), (_POSIX, None), (_SOLARIS, "TCP")):
            m = rx.match(ln.text)
            if m:
                if proto and udp:
                    break
                out.append(Socket(proto=(proto or m.group("proto")).upper(), local=m.group("local"), foreign=m.group("foreign"), state=(m.group("state") or "").strip()))
                break
        else:
            if not (udp or re.match(r"^\s*(unix|udp\d?|udp6|raw\d?|raw6)\s", ln.text, re.I)):
                cap.note(ln)
    if not out and not known and not cap.empty:
        raise cap.nothing_recognised("netstat socket rows or its headers")
    return out


def listening_ports(text: str, *, notes: list[str] | None = None) -> set[int]:
    return {s.local_port for s in parse_netstat(text, notes=notes) if s.listening and s.local_port is not None}
