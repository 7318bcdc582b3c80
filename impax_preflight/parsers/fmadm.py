"""`fmadm faulty`: faults diagnosed by the Solaris Fault Manager.

Understands the Solaris 10 / 11.0-11.3 layout (a TIME / EVENT-ID / MSG-ID / SEVERITY table row per
fault, then ``Fault class :``, ``Affects :``, ``FRU :``, ``Description :``... lines) and the
Solaris 11.4 layout (the same table row, then ``Problem Status :``, ``Diag Engine :``, a
``Suspect 1 of N :`` section with ``Problem class :`` / ``Fault class :``, ``Certainty``,
``Affects``, ``Status``, a ``FRU`` block with ``Location``...). Empty output means no fault.

A fault row is recognised by its event id (a UUID) whatever the date format before it. Output that
shows the fault table header but no row that could be read is an error, never "no fault".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .capture import read_capture

COMMAND = "fmadm faulty"
PROGRAMS = ("fmadm",)
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# the date column differs between releases and locales ("Sep 21 10:01:36", "2013-05-14/10:43:23",
# "Jan 19 2025"): anything before the event id is the time
_ROW = re.compile(rf"^(?P<time>\S.*?)\s+(?P<uuid>{_UUID})\s+(?P<msgid>\S+)\s+(?P<severity>\S+)\s*$", re.I)
_KV = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z][A-Za-z_ -]*?)\s+:\s?(?P<value>.*)$")
_RULE = re.compile(r"^[-\s]+$")


@dataclass
class Fault:
    time: str
    uuid: str
    msg_id: str
    severity: str
    classes: list[str] = field(default_factory=list)
    affects: list[str] = field(default_factory=list)
    status: list[str] = field(default_factory=list)
    fru: list[str] = field(default_factory=list)
    location: list[str] = field(default_factory=list)
    problem_status: str | None = None
    description: str = ""
    impact: str = ""
    action: str = ""

    @property
    def summary(self) -> str:
        what = ", ".join(self.classes) or self.msg_id
        where = ", ".join(self.location or self.affects or self.fru)
        return f"{what} on {where}" if where else what


_FIELD = {
    "fault class": "classes",
    "problem class": "classes",
    "affects": "affects",
    "status": "status",
    "fru": "fru",
    "location": "location",
    "problem in": None,
}
_TEXT = {"description": "description", "impact": "impact", "action": "action"}


def parse_fmadm_faulty(text: str, *, notes: list[str] | None = None) -> list[Fault]:
    """Parse `fmadm faulty` output into one `Fault` per diagnosed problem (event id)."""
    cap = read_capture(text, command=COMMAND, programs=PROGRAMS, notes=notes)
    faults: list[Fault] = []
    cur: Fault | None = None
    text_key: str | None = None
    header: int | None = None
    noted = False
    for ln in cap.lines:
        line = ln.text
        s = line.strip()
        if not s:
            text_key = None
            continue
        if re.match(r"^TIME\s+EVENT-ID\s+MSG-ID\s+SEVERITY", s):
            header = header or ln.no
            text_key = None
            continue
        if _RULE.match(s):
            text_key = None
            continue
        row = _ROW.match(s)
        if row:
            cur = Fault(time=row.group("time"), uuid=row.group("uuid"), msg_id=row.group("msgid"), severity=row.group("severity"))
            faults.append(cur)
            text_key = None
            continue
        if re.search(_UUID, s, re.I) and not _KV.match(line):
            # an event id in a line that is not a fault row: a fault would be lost
            raise cap.error("a fault row (TIME EVENT-ID MSG-ID SEVERITY) that could not be read", ln)
        if cur is None:
            cap.note(ln)
            noted = True
            continue
        kv = _KV.match(line)
        if kv:
            key = kv.group("key").strip().lower()
            value = kv.group("value").strip()
            if key == "problem status":
                cur.problem_status = value
                text_key = None
            elif key in _TEXT:
                text_key = _TEXT[key]
                setattr(cur, text_key, value)
            elif key in _FIELD:
                text_key = None
                attr = _FIELD[key]
                if attr and value:
                    getattr(cur, attr).append(value)
            else:
                text_key = None  # Host, Platform, Diag Engine, Manufacturer, Serial_Number...
            continue
        if text_key:
            setattr(cur, text_key, (getattr(cur, text_key) + " " + s).strip())
        elif line[:1].isspace():
            # Solaris 10: the resource state sits on the indented line after Affects / FRU
            if s in ("faulty", "faulted and taken out of service", "faulted but still in service", "degraded", "unknown",
                     "repaired", "replaced", "acquitted", "ok") or s.startswith(("faulted", "degraded")):
                cur.status.append(s)
        elif s.startswith("Suspect ") or s in ("System", "System Component", "FRU", "Chassis", "Resource"):
            continue
        else:
            cap.note(ln)
    if header is not None and not faults:
        raise cap.error(f"the fault table header (line {header}) is there but no fault row could be read")
    if not faults and noted:
        raise cap.nothing_recognised("the fault table (TIME EVENT-ID MSG-ID SEVERITY) or no output at all")
    return faults
