"""`uname -a` (SunOS 5.10 / 5.11, Linux) and `/etc/release` (Solaris 10, Solaris 11.x).

Solaris 10 ``/etc/release`` first line: ``Oracle Solaris 10 8/11 s10s_u10wos_17b SPARC`` (update
10, from the 8/11 date); Solaris 11: ``Oracle Solaris 11.4 SPARC`` or ``Oracle Solaris 11.3 X86``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import ParseError, lines_of

# Solaris 10 update number by release date stamp (as printed in /etc/release)
_S10_UPDATES = {
    "3/05": 0, "1/06": 1, "6/06": 2, "11/06": 3, "8/07": 4, "5/08": 5, "10/08": 6, "5/09": 7,
    "10/09": 8, "9/10": 9, "8/11": 10, "1/13": 11,
}


@dataclass
class Uname:
    kernel: str
    node: str
    release: str
    version: str
    machine: str
    platform: str = ""

    @property
    def os(self) -> str:
        return {"SunOS": "solaris", "Linux": "linux"}.get(self.kernel, self.kernel.lower())

    @property
    def solaris_version(self) -> str | None:
        """'10' or '11' from SunOS 5.10 / 5.11."""
        if self.kernel == "SunOS" and self.release.startswith("5."):
            return self.release[2:]
        return None


def parse_uname(text: str) -> Uname:
    """Parse `uname -a`: ``SunOS mvf-db01 5.10 Generic_150400-59 sun4v sparc SUNW,SPARC-Enterprise-T5220``."""
    line = next((ln.strip() for ln in lines_of(text) if ln.strip()), "")
    parts = line.split()
    if len(parts) < 5 or parts[0] not in ("SunOS", "Linux", "AIX", "HP-UX", "Darwin", "FreeBSD"):
        raise ParseError("not uname -a output (expected 'SunOS <node> 5.x ...')", command="uname -a", excerpt=text)
    if parts[0] == "SunOS":
        return Uname(parts[0], parts[1], parts[2], parts[3], parts[4], " ".join(parts[5:]))
    return Uname(parts[0], parts[1], parts[2], " ".join(parts[3:-1]), parts[-1])


@dataclass
class SolarisRelease:
    text: str
    version: str  # "10", "11.4"
    update: int | None = None
    arch: str = ""

    def __str__(self) -> str:
        u = f" u{self.update}" if self.update is not None else ""
        return f"Solaris {self.version}{u} {self.arch}".strip()


def parse_etc_release(text: str) -> SolarisRelease:
    """Parse the first line of Solaris `/etc/release`."""
    first = next((ln.strip() for ln in lines_of(text) if ln.strip()), "")
    m = re.search(r"Solaris\s+(?P<ver>\d+(?:\.\d+)?)(?:\s+(?P<date>\d{1,2}/\d{2}))?(?:\s+\S+)*?\s+(?P<arch>SPARC|X86|x86)\b", first)
    if not m:
        m = re.search(r"Solaris\s+(?P<ver>\d+(?:\.\d+)?)(?:\s+(?P<date>\d{1,2}/\d{2}))?", first)
        if not m:
            raise ParseError("not a Solaris /etc/release (no 'Solaris <version>')", command="cat /etc/release", excerpt=text)
    date = m.groupdict().get("date")
    update = _S10_UPDATES.get(date) if date and m.group("ver") == "10" else None
    um = re.search(r"_u(\d+)wos", first)
    if um:
        update = int(um.group(1))
    arch = (m.groupdict().get("arch") or "").upper()
    return SolarisRelease(text=first, version=m.group("ver"), update=update, arch=arch)
