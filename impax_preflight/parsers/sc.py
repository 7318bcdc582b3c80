"""Windows `sc query` / `sc query state= all` / `sc query <name>` and `sc qc <name>`.

Blocks start with ``SERVICE_NAME: <name>`` (German ``DIENSTNAME:``), then ``DISPLAY_NAME:`` and
indented ``KEY : value`` lines: ``STATE : 4  RUNNING`` (German ``STATUS``), and for `sc qc`
``START_TYPE : 2   AUTO_START``. Failures print ``[SC] OpenService FAILED 1060:`` and the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import ParseError, lines_of

COMMAND = "sc query state= all"
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


def parse_sc(text: str, command: str = COMMAND) -> list[ScService]:
    """Parse `sc query` / `sc qc` output into `ScService` records."""
    out: list[ScService] = []
    cur: ScService | None = None
    lines = lines_of(text)
    joined = "\n".join(lines)
    fail = _FAILED.search(joined)
    if fail and not _NAME.search(joined):
        code = int(fail.group("code"))
        if code == 1060:
            raise ServiceNotFound("the service is not installed (sc: FAILED 1060)", command=command, excerpt=text)
        raise ParseError(f"sc failed with Windows error {code}", command=command, excerpt=text)
    for ln in lines:
        if not ln.strip():
            continue
        m = _NAME.match(ln)
        if m:
            cur = ScService(name=m.group("v"))
            out.append(cur)
            continue
        if cur is None:
            if _FAILED.search(ln) or ln.strip().startswith("[SC]"):
                continue
            raise ParseError(f"expected SERVICE_NAME:, got {ln.strip()[:80]!r}", command=command, excerpt=text)
        d = _DISPLAY.match(ln)
        if d:
            cur.display_name = d.group("v")
            continue
        kv = _KV.match(ln)
        if kv:
            key, value = kv.group("k").upper(), kv.group("v")
            if key in ("STATE", "STATUS", "ÉTAT", "ETAT"):
                sm = re.match(r"^\d+\s+(\w+)", value)
                cur.state = sm.group(1).upper() if sm else value.upper()
            elif key in ("START_TYPE", "STARTTYP", "TYPE_DEMARRAGE"):
                sm = re.match(r"^\d+\s+(\w+)", value)
                cur.start_type = sm.group(1).upper() if sm else value.upper()
            continue
        # flag continuation lines "(STOPPABLE, NOT_PAUSABLE, ...)" and others carry nothing we need
    return out
