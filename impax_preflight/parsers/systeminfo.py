"""Windows `systeminfo` (Windows Server 2003 to 2022, list format; also ``/FO CSV``).

The list format is ``Key:<spaces>value`` with values aligned in one column and continuation
lines (processors, hotfixes, network cards) indented below their key. Keys are localised; the
English names and the German ones are mapped to stable attributes. Memory such as ``3,555 MB``
(en) or ``3.555 MB`` (de) is read with thousands separators removed. Lines before the first
``Key:   value`` line and lines that fit neither shape are notes.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from . import ParseError, parse_number
from .capture import read_capture

COMMAND = "systeminfo"
_KEYS = {
    "host_name": ("Host Name", "Hostname"),
    "os_name": ("OS Name", "Betriebssystemname"),
    "os_version": ("OS Version", "Betriebssystemversion"),
    "system_type": ("System Type", "Systemtyp"),
    "system_model": ("System Model", "Systemmodell"),
    "total_memory": ("Total Physical Memory", "Gesamter physischer Speicher"),
    "processors": ("Processor(s)", "Prozessor(en)"),
    "hotfixes": ("Hotfix(s)", "Hotfix(es)"),
    "domain": ("Domain", "Domäne"),
}


@dataclass
class SystemInfo:
    fields: dict[str, str]
    continuations: dict[str, list[str]] = field(default_factory=dict)

    def get(self, attr: str) -> str | None:
        for k in _KEYS.get(attr, (attr,)):
            if k in self.fields:
                return self.fields[k]
        return None

    def _more(self, attr: str) -> list[str]:
        for k in _KEYS.get(attr, (attr,)):
            if k in self.continuations:
                return self.continuations[k]
        return []

    @property
    def host_name(self) -> str | None:
        return self.get("host_name")

    @property
    def os_name(self) -> str | None:
        return self.get("os_name")

    @property
    def os_version(self) -> str | None:
        return self.get("os_version")

    @property
    def system_type(self) -> str | None:
        return self.get("system_type")

    @property
    def total_memory_mb(self) -> int | None:
        value = self.get("total_memory")
        n = parse_number(value) if value else None
        return int(n) if n is not None else None

    @property
    def processors(self) -> list[str]:
        return [re.sub(r"^\[\d+\]:\s*", "", p) for p in self._more("processors") if re.match(r"^\[\d+\]:", p)]

    @property
    def processor_count(self) -> int | None:
        """Installed processor packages as systeminfo counts them (not cores)."""
        value = self.get("processors")
        n = parse_number(value) if value else None
        return int(n) if n is not None else (len(self.processors) or None)

    @property
    def hotfixes(self) -> list[str]:
        return [re.sub(r"^\[\d+\]:\s*", "", p) for p in self._more("hotfixes") if re.match(r"^\[\d+\]:", p)]


_KEY_LINE = re.compile(r"^(\S[^:]*):(\s{2,})\S")


def _value_column(lines: list[str]) -> int | None:
    for ln in lines:
        m = _KEY_LINE.match(ln)
        if m:
            return len(m.group(1)) + 1 + len(m.group(2))
    return None


def parse_systeminfo(text: str, *, notes: list[str] | None = None) -> SystemInfo:
    """Parse `systeminfo` output (list or CSV format)."""
    cap = read_capture(text, command=COMMAND, programs=("systeminfo",), notes=notes)
    body = cap.body()
    if not body:
        raise ParseError("empty systeminfo output", command=COMMAND, excerpt=cap.source)
    csv_at = next((i for i, ln in enumerate(body) if ln.text.startswith('"')), None)
    if csv_at is not None and not any(_KEY_LINE.match(ln.text) for ln in body[:csv_at]):
        for ln in body[:csv_at]:
            cap.note(ln)
        rows = list(csv.reader(io.StringIO("\n".join(ln.text for ln in body[csv_at:]))))
        if len(rows) < 2 or len(rows[0]) != len(rows[1]):
            raise ParseError("systeminfo CSV without a header and one data row", command=COMMAND, excerpt=cap.text)
        return SystemInfo(fields={k.strip(): v.strip() for k, v in zip(rows[0], rows[1])})
    col = _value_column([ln.text for ln in body])
    if col is None:
        raise cap.nothing_recognised("'Key:   value' lines")
    start = next(i for i, ln in enumerate(body) if _KEY_LINE.match(ln.text))
    for ln in body[:start]:
        cap.note(ln)
    fields: dict[str, str] = {}
    more: dict[str, list[str]] = {}
    last = None
    for ln in body[start:]:
        line = ln.text
        if line[:1].isspace():
            if last is None:
                cap.note(ln)
                continue
            more.setdefault(last, []).append(line.strip())
            continue
        # the key ends at the last colon before the value column ("Virtual Memory: Max Size:")
        cut = None
        for m in re.finditer(":", line):
            if m.start() < col and (m.end() == len(line) or line[m.end()].isspace()):
                cut = m.start()
        if cut is None:
            cap.note(ln)
            continue
        last = line[:cut].strip()
        fields[last] = line[cut + 1 :].strip()
    if not any(k in fields for k in _KEYS["host_name"] + _KEYS["os_name"]):
        raise cap.error("systeminfo output without 'Host Name' or 'OS Name'")
    return SystemInfo(fields=fields, continuations=more)
