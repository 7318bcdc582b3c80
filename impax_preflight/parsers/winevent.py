"""Windows System event log entries, as two tools print them.

* `wevtutil qe System /q:"<XPath>" /f:xml` (Windows Vista / Server 2008 and later): one
  ``<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'>`` element per event, back to
  back without a root element (the same XML Event Viewer shows in its XML view, indented there).
  ``System/Provider/@Name``, ``System/EventID``, ``System/Level`` (1 critical, 2 error, 3 warning,
  4 information), ``System/TimeCreated/@SystemTime`` (UTC, ISO 8601) and the ``EventData/Data``
  strings. XML is chosen over ``/f:text`` because its element names do not change with the
  display language and its time is UTC.
* `wmic ntevent where "..." get EventCode,EventType,InsertionStrings,Message,SourceName,TimeGenerated
  /value` (Windows XP / Server 2003 and later): ``Name=Value`` lines per event (wmic sorts the
  names), blank lines between events; ``TimeGenerated`` is a CIM datetime
  (``20120504101233.000000-420``), ``EventType`` 1 error, 2 warning, 3 information,
  ``InsertionStrings`` an array ``{"\\Device\\Harddisk1\\DR1"}``; ``Message`` may run over several
  lines.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone

from . import ParseError, lines_of
from .clock import parse_cim_datetime

_EVENT = re.compile(r"<Event\b[^>]*>.*?</Event>", re.S)
_NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"
LEVELS = {0: "information", 1: "critical", 2: "error", 3: "warning", 4: "information", 5: "verbose"}
#: wmic EventType -> event log Level
_WMIC_TYPES = {1: 2, 2: 3, 3: 4, 4: 4, 5: 2}
_WMIC_KEYS = ("EventCode", "EventIdentifier", "EventType", "InsertionStrings", "Logfile", "Message", "RecordNumber", "SourceName",
              "TimeGenerated", "TimeWritten", "Type", "Category", "CategoryString", "ComputerName", "User")


@dataclass
class WinEvent:
    provider: str
    event_id: int
    level: int | None  # 1 critical, 2 error, 3 warning, 4 information
    time: datetime | None  # aware, UTC
    data: list[str] = field(default_factory=list)
    message: str = ""
    record: int | None = None

    @property
    def level_name(self) -> str:
        return LEVELS.get(self.level, "unknown") if self.level is not None else "unknown"

    @property
    def device(self) -> str | None:
        """The device an event names (\\Device\\Harddisk1\\DR1, \\Device\\RaidPort0, a volume C:)."""
        for text in [*self.data, self.message]:
            m = re.search(r"\\Device\\[\w\\]+", text or "") or re.search(r"\b(?:volume|Volume)\s+([A-Z]:)", text or "")
            if m:
                return m.group(0) if m.group(0).startswith("\\") else m.group(1)
        return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _event_from_xml(chunk: str) -> WinEvent:
    if "<!DOCTYPE" in chunk or "<!ENTITY" in chunk:
        raise ParseError("refusing event XML with a DOCTYPE / ENTITY declaration", command="wevtutil qe", excerpt=chunk)
    root = ET.fromstring(chunk)
    system = next((el for el in root if _local(el.tag) == "System"), None)
    if system is None:
        raise ParseError("event without a System element", command="wevtutil qe", excerpt=chunk)
    found = {_local(el.tag): el for el in system}
    prov = found.get("Provider")
    provider = (prov.get("Name") or prov.get("EventSourceName") or "") if prov is not None else ""
    try:
        event_id = int((found["EventID"].text or "").strip())
    except (KeyError, ValueError):
        raise ParseError("event without a numeric EventID", command="wevtutil qe", excerpt=chunk) from None
    level = None
    if "Level" in found and (found["Level"].text or "").strip().isdigit():
        level = int(found["Level"].text.strip())
    when = None
    tc = found.get("TimeCreated")
    if tc is not None and tc.get("SystemTime"):
        when = _iso_utc(tc.get("SystemTime"))
    record = int(found["EventRecordID"].text) if "EventRecordID" in found and (found["EventRecordID"].text or "").isdigit() else None
    data: list[str] = []
    message = ""
    for el in root.iter():
        name = _local(el.tag)
        if name == "Data" and el.text and el.text.strip():
            data.append(el.text.strip())
        elif name == "Message" and el.text:  # /f:RenderedXml carries the rendered message
            message = el.text.strip()
    return WinEvent(provider=provider, event_id=event_id, level=level, time=when, data=data, message=message, record=record)


def _iso_utc(value: str) -> datetime | None:
    """'2017-07-23T07:16:52.599777Z' / '...52.5997770Z' (7 digits) -> aware UTC datetime."""
    m = re.match(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?$", value.strip())
    if not m:
        return None
    micro = (m.group(3) or "0")[:6].ljust(6, "0")
    dt = datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}.{micro}{m.group(4) if m.group(4) and m.group(4) != 'Z' else '+00:00'}")
    return dt.astimezone(timezone.utc)


def parse_wevtutil_xml(text: str, notes: list[str] | None = None) -> list[WinEvent]:
    """Events from `wevtutil qe ... /f:xml` (no events matched: empty output, an empty list)."""
    body = (text or "").replace("\ufeff", "")
    chunks = _EVENT.findall(body)
    rest = _EVENT.sub("", body)
    rest = re.sub(r"<\?xml[^>]*\?>", "", rest).strip()
    if not chunks:
        if rest:
            raise ParseError("no <Event> element in the wevtutil output", command="wevtutil qe", excerpt=text)
        return []
    if rest and notes is not None:
        notes.append(f"text outside the events ignored: {rest[:120]!r}")
    out = []
    for chunk in chunks:
        try:
            out.append(_event_from_xml(chunk))
        except ET.ParseError as exc:
            if notes is not None:
                notes.append(f"an event that is not well-formed XML was skipped ({exc}): {chunk[:120]!r}")
    if not out:
        raise ParseError("no readable event in the wevtutil output", command="wevtutil qe", excerpt=text)
    return out


def _wmic_array(value: str) -> list[str]:
    """wmic's array form ``{"a","b"}`` -> ['a', 'b']."""
    v = value.strip()
    if not (v.startswith("{") and v.endswith("}")):
        return [v] if v else []
    return [s.replace('""', '"') for s in re.findall(r'"((?:[^"]|"")*)"', v[1:-1])]


def parse_wmic_ntevent(text: str, notes: list[str] | None = None) -> list[WinEvent]:
    """Events from `wmic ntevent where "..." get ... /value` ("No Instance(s) Available." -> [])."""
    # redirected wmic ends every line with CR CR LF: one line, not a line and an empty one
    lines = [ln.rstrip() for ln in lines_of((text or "").replace("\r\r\n", "\n"))]
    body = [ln for ln in lines if ln.strip()]
    if not body or re.match(r"^(No Instance\(s\) Available|Keine Instanz)", body[0].strip(), re.I):
        return []
    if body[0].strip().startswith(("ERROR", "Node -", "Description =")):
        raise ParseError(f"wmic reported an error: {' '.join(b.strip() for b in body[:3])[:200]}", command="wmic ntevent", excerpt=text)
    records: list[dict[str, str]] = []
    cur: dict[str, str] = {}
    last: str | None = None
    for ln in lines:
        key, sep, value = ln.partition("=")
        if sep and key.strip() in _WMIC_KEYS:
            k = key.strip()
            if k in cur:  # no blank line between two events
                records.append(cur)
                cur = {}
            cur[k] = value.strip()
            last = k
        elif last == "Message" and "Message" in cur and ln.strip():
            cur["Message"] += "\n" + ln.strip()  # a message running over several lines
        elif ln.strip() and notes is not None:
            notes.append(f"unrecognised line: {ln.strip()[:120]!r}")
    if cur:
        records.append(cur)
    out = []
    for r in records:
        if "EventCode" not in r or "SourceName" not in r:
            if notes is not None:
                notes.append(f"an event without EventCode / SourceName was skipped: {str(r)[:120]}")
            continue
        try:
            code = int(r["EventCode"])
        except ValueError:
            raise ParseError(f"EventCode is not a number: {r['EventCode']!r}", command="wmic ntevent", excerpt=str(r)) from None
        etype = int(r["EventType"]) if r.get("EventType", "").isdigit() else None
        when = parse_cim_datetime(r["TimeGenerated"]) if r.get("TimeGenerated") else None
        out.append(WinEvent(
            provider=r["SourceName"], event_id=code, level=_WMIC_TYPES.get(etype) if etype is not None else None, time=when,
            data=_wmic_array(r.get("InsertionStrings", "")), message=r.get("Message", "").strip(),
            record=int(r["RecordNumber"]) if r.get("RecordNumber", "").isdigit() else None,
        ))
    if not out:
        raise ParseError("no event (EventCode and SourceName) in the wmic output", command="wmic ntevent", excerpt=text)
    return out


__all__ = ["LEVELS", "WinEvent", "parse_wevtutil_xml", "parse_wmic_ntevent"]
