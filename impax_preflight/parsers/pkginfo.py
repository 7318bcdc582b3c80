"""`pkginfo -l` (Solaris SVR4 packages): PKGINST, NAME, VERSION, STATUS per package."""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import ParseError, lines_of


@dataclass
class Package:
    pkginst: str
    name: str = ""
    version: str = ""
    status: str = ""
    basedir: str = ""


def parse_pkginfo_l(text: str) -> list[Package]:
    """Parse `pkginfo -l [pkg...]`: blocks of ``   KEY:  value`` lines separated by blank lines."""
    out: list[Package] = []
    cur: Package | None = None
    for ln in lines_of(text):
        m = re.match(r"^\s*([A-Z_]+):\s*(.*)$", ln)
        if not m:
            if ln.strip() and cur is None:
                raise ParseError(f"unexpected pkginfo -l line: {ln.strip()[:80]!r}", command="pkginfo -l", excerpt=ln)
            continue
        key, value = m.group(1), m.group(2).strip()
        if key == "PKGINST":
            cur = Package(pkginst=value)
            out.append(cur)
        elif cur is None:
            raise ParseError("pkginfo -l output without a PKGINST line first", command="pkginfo -l", excerpt=text)
        elif key in ("NAME", "VERSION", "STATUS", "BASEDIR"):
            setattr(cur, key.lower(), value)
    return out
