"""Windows `reg query <key>` and `reg query <key> /s` (reg.exe 3.0 of XP/2003 and later).

Output: the key path on its own line, then one indented ``Name  REG_TYPE  Data`` line per value
(separated by 4 spaces on Vista+ and tabs on XP/2003; the default value is ``(Default)`` /
``<NO NAME>``), a blank line between keys, and with ``/s`` every subkey below. A missing key
prints ``ERROR: The system was unable to find the specified registry key or value.`` (rc 1):
`parse_reg_query` then returns an empty list and `is_missing_key` tells it apart. The echoed
command (``C:\\>reg query HKLM\\...`` or a bare ``reg query ...`` line) is capture noise; other
lines not understood are notes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import ParseError
from .capture import read_capture

COMMAND = "reg query"
PROGRAMS = ("reg",)
_KEY = re.compile(r"^(HKEY_[A-Z_]+|HKLM|HKCU|HKCR|HKU|HKCC)(\\.*)?$")
_VALUE = re.compile(r"^\s+(?P<name>.*?)\s+(?P<type>REG_[A-Z_]+|REG_DWORD_BIG_ENDIAN)(?:\s+(?P<data>.*?))?\s*$")
_MISSING = re.compile(
    r"unable to find the specified registry key|FEHLER: Der angegebene Registrierungsschl|"
    r"ERREUR : le système n'a pas trouvé|Impossibile trovare la chiave|no se encontr",
    re.I,
)


@dataclass
class RegValue:
    name: str
    type: str
    data: str

    @property
    def as_int(self) -> int | None:
        if self.type in ("REG_DWORD", "REG_QWORD", "REG_DWORD_BIG_ENDIAN"):
            try:
                return int(self.data, 16) if self.data.lower().startswith("0x") else int(self.data)
            except ValueError:
                return None
        return None


@dataclass
class RegKey:
    path: str
    values: dict[str, RegValue] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        v = self.values.get(name)
        return v.data if v else None

    def get_int(self, name: str) -> int | None:
        v = self.values.get(name)
        return v.as_int if v else None

    @property
    def leaf(self) -> str:
        return self.path.rsplit("\\", 1)[-1]


def is_missing_key(text: str) -> bool:
    """True when reg.exe said the key (or value) does not exist."""
    return bool(_MISSING.search(text or ""))


def parse_reg_query(text: str, *, notes: list[str] | None = None) -> list[RegKey]:
    """Parse `reg query` output into keys with their values, in output order."""
    cap = read_capture(text, command=COMMAND, programs=PROGRAMS, notes=notes)
    if is_missing_key(cap.text):
        return []
    out: list[RegKey] = []
    cur: RegKey | None = None
    noted = False
    for ln in cap.lines:
        s = ln.text.rstrip()
        if not s.strip() or s.startswith("! REG.EXE") or re.match(r"^End of search:|^Ende der Suche", s.strip()):
            continue
        if not s[:1].isspace() and _KEY.match(s.strip()):
            cur = RegKey(path=s.strip())
            out.append(cur)
            continue
        v = _VALUE.match(s)
        if v and cur is not None:
            name = v.group("name").strip()
            if name in ("<NO NAME>", "<KEIN NAME>"):
                name = "(Default)"
            cur.values[name] = RegValue(name=name, type=v.group("type"), data=(v.group("data") or "").strip())
            continue
        if s.strip().startswith(("ERROR", "FEHLER", "ERREUR")):
            raise ParseError(f"reg query failed: {s.strip()[:160]}", command=COMMAND, excerpt=cap.text)
        cap.note(ln)
        noted = True
    if not out and noted:
        raise cap.nothing_recognised("a registry key line (HKEY_...) followed by its values")
    return out


#: what reg.exe prints when the key does not exist (a probe treats it as "absent")
MISSING_KEY = _MISSING
