"""Windows `systeminfo` (Windows Server 2003 to 2022, list format; also ``/FO CSV``).

The list format is ``Key:<spaces>value`` with values aligned in one column and continuation
lines (processors, hotfixes, network cards) indented below their key. Keys are localised; the
English names and the German ones are mapped to stable attributes. Memory such as ``3,555 MB``
(en) or ``3.555 MB`` (de) is read with thousands separators removed.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from . import ParseError, lines_of, parse_number

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


def _value_column(lines: list[str]) -> int | None:
    for ln in lines:
        m = re.match(r"^(\S[^:]*):(\s{2,})\S", ln)
        if m:
            return len(m.group(1)) + 1 + len(m.group(2))
    return None


def parse_systeminfo(text: str) -> SystemInfo:
    """Parse `systeminfo` output (list or CSV format)."""
    lines = [ln.rstrip() for ln in lines_of(text)]
    body = [ln for ln in lines if ln.strip()]
    if not body:
        raise ParseError("empty systeminfo output", command=COMMAND, excerpt=text)
    if body[0].startswith('"'):
        rows = list(csv.reader(io.StringIO("\n".join(body))))
        if len(rows) < 2 or len(rows[0]) != len(rows[1]):
            raise ParseError("systeminfo CSV without a header and one data row", command=COMMAND, excerpt=text)
        return SystemInfo(fields={k.strip(): v.strip() for k, v in zip(rows[0], rows[1])})
    col = _value_column(body)
    if col is None:
        raise ParseError("not systeminfo output (no 'Key:   value' lines)", command=COMMAND, excerpt=text)
    fields: dict[str, str] = {}
    more: dict[str, list[str]] = {}
    last = None
    for ln in body:
        if ln[:1].isspace():
            if last is None:
                raise ParseError(f"indented line before any key: {ln.strip()[:80]!r}", command=COMMAND, excerpt=ln)
            more.setdefault(last, []).append(ln.strip())
            continue
        # the key ends at the last colon before the value column ("Virtual Memory: Max Size:")
        cut = None
        for m in re.finditer(":", ln):
            if m.start() < col and (m.end() == len(ln) or ln[m.end()].isspace()):
                cut = m.start()
        if cut is None:
            raise ParseError(f"unexpected systeminfo line: {ln.strip()[:80]!r}", command=COMMAND, excerpt=ln)
        last = ln[:cut].strip()
        fields[last] = ln[cut + 1 :].strip()
    if not any(k in fields for k in _KEYS["host_name"] + _KEYS["os_name"]):
        raise ParseError("systeminfo output without 'Host Name' or 'OS Name'", command=COMMAND, excerpt=text)
    return SystemInfo(fields=fields, continuations=more)
