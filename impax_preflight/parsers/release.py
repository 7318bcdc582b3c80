"""`uname -a` (SunOS 5.10 / 5.11, Linux) and `/etc/release` (Solaris 10, Solaris 11.x).

Solaris 10 ``/etc/release`` first line: ``Oracle Solaris 10 8/11 s10s_u10wos_17b SPARC`` (update
10, from the 8/11 date); Solaris 11: ``Oracle Solaris 11.4 SPARC`` or ``Oracle Solaris 11.3 X86``.
The first line that reads as such is taken; lines before it are notes. An illumos distribution's
release line (OpenIndiana, OmniOS, SmartOS) names no Solaris version and is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import ParseError
from .capture import read_capture

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


_KERNELS = ("SunOS", "Linux", "AIX", "HP-UX", "Darwin", "FreeBSD")


def parse_uname(text: str, *, notes: list[str] | None = None) -> Uname:
    """Parse `uname -a`: ``SunOS mvf-db01 5.10 Generic_150400-59 sun4v sparc SUNW,SPARC-Enterprise-T5220``."""
    cap = read_capture(text, command="uname -a", programs=("uname",), notes=notes)
    for ln in cap.lines:
        parts = ln.text.split()
        if len(parts) >= 5 and parts[0] in _KERNELS:
            if parts[0] == "SunOS":
                return Uname(parts[0], parts[1], parts[2], parts[3], parts[4], " ".join(parts[5:]))
            return Uname(parts[0], parts[1], parts[2], " ".join(parts[3:-1]), parts[-1])
        if not ln.blank:
            cap.note(ln)
    raise ParseError("not uname -a output (expected 'SunOS <node> 5.x ...')", command="uname -a", excerpt=cap.text or cap.source)


@dataclass
class SolarisRelease:
    text: str
    version: str  # "10", "11.4"
    update: int | None = None
    arch: str = ""

    def __str__(self) -> str:
        u = f" u{self.update}" if self.update is not None else ""
        return f"Solaris {self.version}{u} {self.arch}".strip()


_RELEASE = re.compile(r"Solaris\s+(?P<ver>\d+(?:\.\d+)?)(?:\s+(?P<date>\d{1,2}/\d{2}))?(?:\s+\S+)*?\s+(?P<arch>SPARC|X86|x86)\b")
_RELEASE_NO_ARCH = re.compile(r"Solaris\s+(?P<ver>\d+(?:\.\d+)?)(?:\s+(?P<date>\d{1,2}/\d{2}))?")


def parse_etc_release(text: str, *, notes: list[str] | None = None) -> SolarisRelease:
    """Parse the release line of Solaris `/etc/release` (its first line)."""
    cap = read_capture(text, command="cat /etc/release", programs=("cat", "more", "head", "type"), notes=notes)
    for ln in cap.lines:
        first = ln.text.strip()
        m = _RELEASE.search(first) or _RELEASE_NO_ARCH.search(first)
        if not m:
            if first:
                cap.note(ln)
            continue
        date = m.groupdict().get("date")
        update = _S10_UPDATES.get(date) if date and m.group("ver") == "10" else None
        um = re.search(r"_u(\d+)wos", first)
        if um:
            update = int(um.group(1))
        arch = (m.groupdict().get("arch") or "").upper()
        return SolarisRelease(text=first, version=m.group("ver"), update=update, arch=arch)
    raise ParseError("not a Solaris /etc/release (no 'Solaris <version>')", command="cat /etc/release", excerpt=cap.text or cap.source)
