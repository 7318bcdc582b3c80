"""Windows `sc query` / `sc query state= all` / `sc query <name>` and `sc qc <name>`.

Blocks start with ``SERVICE_NAME: <name>`` (German ``DIENSTNAME:``), then ``DISPLAY_NAME:`` and
indented ``KEY : value`` lines: ``STATE : 4  RUNNING`` (German ``STATUS``), and for `sc qc`
``START_TYPE : 2   AUTO_START``. Failures print ``[SC] OpenService FAILED 1060:`` and the message.
Lines outside a service block, and unindented lines inside one, are notes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import ParseError
from .capture import read_capture

COMMAND = "sc query state= all"
PROGRAMS = ("sc",)
_NAME = re.compile(r"^\s*(SERVICE_NAME|DIENSTNAME|NOM_SERVICE)\s*:\s*(?P<v>.+?)\s*$", re.I)
_DISPLAY = re.compile(r"^\s*(DISPLAY_NAME|ANZEIGENAME|NOM_AFFICHAGE)\s*:\s*(?P<v>.*?)\s*$", re.I)
_KV = re.compile(r"^\s+(?P<k>[A-Z_ÉÄÖÜ]+)\s*:\s*(?P<v>.*?)\s*$", re.I)
_FAILED = re.compile(r"\[SC\].*FAILED\s+(?P<code>\d+)", re.I)


@dataclass
class ScService:
    name: str
    display_name: str = ""
    state: str = ""  # RUNNING, STOPPED, START_PENDING...
    start_type: str = ""  # from sc qc: AUTO_START, DEMAND_START, DISABLED...

    @property
    def running(self) -> bool:
        return self.state == "RUNNING"

    @property
    def stopped(self) -> bool:
        return self.state == "STOPPED"

    @property
    def auto_start(self) -> bool:
        return self.start_type.startswith("AUTO_START")


class ServiceNotFound(ParseError):
    """`sc` answered FAILED 1060: the service is not installed."""


def parse_sc(text: str, command: str = COMMAND, *, notes: list[str] | None = None) -> list[ScService]:
    """Parse `sc query` / `sc qc` output into `ScService` records."""
    cap = read_capture(text, command=command, programs=PROGRAMS, notes=notes)
    out: list[ScService] = []
    cur: ScService | None = None
    joined = cap.text
    fail = _FAILED.search(joined)
    if fail and not _NAME.search(joined):
        code = int(fail.group("code"))
        if code == 1060:
            raise ServiceNotFound("the service is not installed (sc: FAILED 1060)", command=command, excerpt=joined)
        raise ParseError(f"sc failed with Windows error {code}", command=command, excerpt=joined)
    noted = False
    for ln in cap.lines:
        if ln.blank:
            continue
        m = _NAME.match(ln.text)
        if m:
            cur = ScService(name=m.group("v"))
            out.append(cur)
            continue
        if cur is None:
            if not (_FAILED.search(ln.text) or ln.text.strip().startswith("[SC]")):
                cap.note(ln)
                noted = True
            continue
        d = _DISPLAY.match(ln.text)
        if d:
            cur.display_name = d.group("v")
            continue
        kv = _KV.match(ln.text)
        if kv:
            key, value = kv.group("k").upper(), kv.group("v")
            if key in ("STATE", "STATUS", "ÉTAT", "ETAT"):
                sm = re.match(r"^\d+\s+(\w+)", value)
                cur.state = sm.group(1).upper() if sm else value.upper()
            elif key in ("START_TYPE", "STARTTYP", "TYPE_DEMARRAGE"):
                sm = re.match(r"^\d+\s+(\w+)", value)
                cur.start_type = sm.group(1).upper() if sm else value.upper()
            continue
        if not ln.text[:1].isspace():
            cap.note(ln)
        # indented flag continuation lines "(STOPPABLE, NOT_PAUSABLE, ...)" carry nothing we need
    if not out and noted:
        raise cap.nothing_recognised("SERVICE_NAME: blocks")
    return out
