"""Windows cmd `dir` listings (`dir`, `dir /ad`), Windows 2003 to 2022, any date locale.

Rows: ``03/14/2024  10:22 AM    <DIR>          20240314_102200`` (en-US), ``14.03.2024  10:22
<DIR>  ...`` (de-DE), ``2024-03-14  10:22 ...`` (ISO locales), files with a size such as
``1,234,567`` or ``1.234.567``. ``Directory of <path>`` names the folder; ``File Not Found``
means nothing matched (empty result); ``The system cannot find the path specified`` raises
`PathNotFound`. Ambiguous day/month order is resolved by ``date_order`` ("MDY" by default, "DMY"
when the separator is a dot or the first number exceeds 12). Lines that are none of these are
notes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from . import ParseError
from .capture import read_capture

COMMAND = "dir"
PROGRAMS = ("dir",)
_ROW = re.compile(
    r"^(?P<date>\d{1,4}[./-]\d{1,2}[./-]\d{2,4})\s+(?P<time>\d{1,2}:\d{2}(?::\d{2})?)\s*(?P<ampm>AM|PM|a\.m\.|p\.m\.)?\s+"
    r"(?:(?P<dir><DIR>|<JUNCTION>|<SYMLINKD>)|(?P<size>[\d.,\u00a0\u202f ]+\d))\s+(?P<name>.+?)\s*$",
    re.I,
)
_NOT_FOUND = re.compile(r"cannot find the (path|file) specified|Das System kann den angegebenen Pfad nicht finden|Le chemin d.acc", re.I)
_NO_FILES = re.compile(r"^\s*(File Not Found|Datei nicht gefunden|Fichier introuvable)\s*$", re.I | re.M)


class PathNotFound(ParseError):
    """The folder listed does not exist."""


@dataclass
class DirEntry:
    name: str
    is_dir: bool
    size: int | None
    modified: datetime | None


@dataclass
class DirListing:
    path: str | None
    entries: list[DirEntry] = field(default_factory=list)

    def dirs(self) -> list[DirEntry]:
        return [e for e in self.entries if e.is_dir and e.name not in (".", "..")]


def _date(date: str, time: str, ampm: str | None, order: str) -> datetime | None:
    parts = re.split(r"[./-]", date)
    if len(parts[0]) == 4:
        y, mo, d = parts
    else:
        a, b, y = parts
        if "." in date or int(a) > 12 or order == "DMY":
            d, mo = a, b
        else:
            mo, d = a, b
    year = int(y) + (2000 if len(y) == 2 else 0)
    hh, mm = (int(x) for x in time.split(":")[:2])
    if ampm:
        pm = ampm.lower().startswith("p")
        hh = (hh % 12) + (12 if pm else 0)
    try:
        return datetime(year, int(mo), int(d), hh, mm)
    except ValueError:
        return None


def parse_dir(text: str, date_order: str = "MDY", *, notes: list[str] | None = None) -> DirListing:
    """Parse a `dir` listing."""
    cap = read_capture(text, command=COMMAND, programs=PROGRAMS, notes=notes)
    if _NOT_FOUND.search(cap.text):
        raise PathNotFound("the folder does not exist (The system cannot find the path specified)", command=COMMAND, excerpt=cap.text)
    listing = DirListing(path=None)
    seen_any = False
    for ln in cap.lines:
        s = ln.text.rstrip()
        if not s.strip():
            continue
        m = re.match(r"^\s*(?:Directory of|Verzeichnis von|Répertoire de)\s+(.+)$", s, re.I)
        if m:
            listing.path = m.group(1).strip()
            seen_any = True
            continue
        if re.match(r"^\s*(Volume|Datenträger|Le volume|Volumeseriennummer|Numéro de série)", s, re.I) or re.match(
            r"^\s*\d[\d.,\u00a0\u202f ]*\s+(File|Dir|Datei|Verzeichnis|fichier|Rép)", s, re.I
        ) or re.match(r"^\s*Total Files Listed:", s, re.I):
            seen_any = True
            continue
        if _NO_FILES.match(s):
            seen_any = True
            continue
        r = _ROW.match(s.strip())
        if not r:
            cap.note(ln)
            continue
        seen_any = True
        size = None if r.group("dir") else int(re.sub(r"\D", "", r.group("size")))
        listing.entries.append(
            DirEntry(name=r.group("name"), is_dir=bool(r.group("dir")), size=size, modified=_date(r.group("date"), r.group("time"), r.group("ampm"), date_order))
        )
    if not seen_any:
        if cap.empty:
            raise ParseError("empty dir output", command=COMMAND, excerpt=cap.source)
        raise cap.nothing_recognised("'Directory of', volume lines or dated entries")
    return listing


#: what cmd prints when the folder listed does not exist (a probe treats it as "absent")
PATH_NOT_FOUND = _NOT_FOUND
