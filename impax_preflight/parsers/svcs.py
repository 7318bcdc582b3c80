"""`svcs -xv` (Solaris 10, Solaris 11.x): the services SMF explains as not running properly.

Empty output means every enabled service is running. Each block starts with the FMRI and its
description, then indented ``Key: value`` lines (``State``, ``Reason``, ``See``, ``Impact``, and
``Zone`` with ``-Z``). The State line reads ``maintenance since Thu Mar 31 10:45:02 2011``
(Solaris 10) or ``maintenance since March  6, 2014 12:29:13 AM BRT`` (Solaris 11).

A line that is neither a block head nor a known field is a note; after an unknown unindented line
the fields that follow are not given to the previous service (they may belong to a service whose
head line was not understood).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .capture import read_capture

COMMAND = "svcs -xv"
PROGRAMS = ("svcs",)
_HEAD = re.compile(r"^(?P<fmri>(?:svc|lrc):/\S+)(?:\s+\((?P<desc>.*)\))?\s*$")
_KV = re.compile(r"^\s*(?P<key>[A-Z][A-Za-z ]*?)\s*:\s?(?P<value>.*)$")
#: states SMF itself calls broken; "offline" / "disabled" blocks are listed because a dependency is
PROBLEM_STATES = ("maintenance", "degraded")


@dataclass
class ServiceProblem:
    fmri: str
    description: str = ""
    state: str = ""
    since: str = ""
    reason: str = ""
    impact: str = ""
    zone: str | None = None
    see: list[str] = field(default_factory=list)

    @property
    def is_fault(self) -> bool:
        """Maintenance or degraded: broken in itself, not merely waiting on something else."""
        return self.state in PROBLEM_STATES


def parse_svcs_xv(text: str, *, notes: list[str] | None = None) -> list[ServiceProblem]:
    """Parse `svcs -xv` output into one `ServiceProblem` per explained service."""
    cap = read_capture(text, command=COMMAND, programs=PROGRAMS, notes=notes)
    out: list[ServiceProblem] = []
    cur: ServiceProblem | None = None
    last_key = None
    noted = False
    for ln in cap.lines:
        line = ln.text
        if ln.blank:
            last_key = None
            continue
        m = _HEAD.match(line.strip()) if not line[:1].isspace() else None
        if m:
            cur = ServiceProblem(fmri=m.group("fmri"), description=(m.group("desc") or "").strip())
            out.append(cur)
            last_key = None
            continue
        if cur is None:
            cap.note(ln)
            noted = True
            continue
        kv = _KV.match(line)
        if kv and kv.group("key").lower() in ("state", "reason", "see", "impact", "zone"):
            key, value = kv.group("key").lower(), kv.group("value").strip()
            last_key = key
            if key == "state":
                state, _, since = value.partition(" since ")
                cur.state, cur.since = state.strip(), since.strip()
            elif key == "see":
                cur.see.append(value)
            elif key == "zone":
                cur.zone = value
            else:
                setattr(cur, key, value)
        elif last_key in ("reason", "impact") and line[:1].isspace():
            # long reasons wrap onto indented continuation lines
            setattr(cur, last_key, (getattr(cur, last_key) + " " + line.strip()).strip())
        elif line[:1].isspace():
            continue  # other indented detail (dependency lists of Solaris 11 "svcs -xv")
        else:
            cap.note(ln)
            noted = True
            cur, last_key = None, None
    if not out and noted:
        raise cap.nothing_recognised("a service FMRI (svc:/...) at the start of each block, or no output at all")
    for svc in out:
        if not svc.state:
            # an explained service of unknown state cannot be called harmless
            raise cap.error(f"service {svc.fmri} has no State line (output cut short?)")
    return out
