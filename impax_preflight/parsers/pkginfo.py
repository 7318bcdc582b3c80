"""`pkginfo -l` (Solaris SVR4 packages): PKGINST, NAME, VERSION, STATUS per package.

Blocks of ``   KEY:  value`` lines separated by blank lines (the FILES counts continue on indented
lines). Lines before the first PKGINST and other lines not understood (``ERROR: information for
"SUNWxyz" was not found``) are notes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .capture import read_capture

COMMAND = "pkginfo -l"
PROGRAMS = ("pkginfo",)
_KV = re.compile(r"^\s*([A-Z_]+):\s*(.*)$")
_FILES = re.compile(r"^\s+\d+\s+(installed pathnames|shared pathnames|linked files|directories|executables|setuid/setgid executables|"
                    r"blocks used \(approx\)|partially installed pathnames|package information files)", re.I)


@dataclass
class Package:
    pkginst: str
    name: str = ""
    version: str = ""
    status: str = ""
    basedir: str = ""


def parse_pkginfo_l(text: str, *, notes: list[str] | None = None) -> list[Package]:
    """Parse `pkginfo -l [pkg...]` into one `Package` per PKGINST block."""
    cap = read_capture(text, command=COMMAND, programs=PROGRAMS, notes=notes)
    out: list[Package] = []
    cur: Package | None = None
    noted = False
    for ln in cap.lines:
        if ln.blank:
            continue
        m = _KV.match(ln.text)
        if not m:
            if cur is None or not _FILES.match(ln.text):
                cap.note(ln)
                noted = True
            continue
        key, value = m.group(1), m.group(2).strip()
        if key == "PKGINST":
            cur = Package(pkginst=value)
            out.append(cur)
        elif key == "ERROR":
            cap.note(ln)
            noted = True
        elif cur is None:
            cap.note(ln, "not understood (before any PKGINST line)")
            noted = True
        elif key in ("NAME", "VERSION", "STATUS", "BASEDIR"):
            setattr(cur, key.lower(), value)
    if not out and noted:
        raise cap.nothing_recognised("'PKGINST:' blocks")
    return out
