"""POSIX listings: `ls -l <dir>` (Solaris and GNU) and `du -sk <dir>`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import ParseError, lines_of

_LS = re.compile(
    r"^(?P<mode>[-dlbcpsD][-rwxsStTl@+.]{9}[+@.]?)\s+(?P<links>\d+)\s+(?P<owner>\S+)\s+(?P<group>\S+)\s+(?P<size>\d+)\s+"
    r"(?P<date>\w{3}\s+\d{1,2}\s+(?:\d{4}|\d{1,2}:\d{2})|\d{4}-\d{2}-\d{2}\s+\d{2}:\d{2})\s+(?P<name>.+)$"
)


@dataclass
class LsEntry:
    name: str
    is_dir: bool
    size: int
    mode: str
    date: str


def parse_ls_l(text: str) -> list[LsEntry]:
    """Parse `ls -l` of a directory (the ``total N`` line is skipped; symlink targets are cut)."""
    out = []
    for ln in lines_of(text):
        s = ln.rstrip()
        if not s.strip() or s.startswith("total "):
            continue
        m = _LS.match(s)
        if not m:
            raise ParseError(f"unexpected ls -l line: {s[:80]!r}", command="ls -l", excerpt=ln)
        name = m.group("name")
        if m.group("mode").startswith("l") and " -> " in name:
            name = name.split(" -> ", 1)[0]
        out.append(LsEntry(name=name, is_dir=m.group("mode").startswith("d"), size=int(m.group("size")), mode=m.group("mode"), date=m.group("date")))
    return out


def parse_du_sk(text: str) -> int:
    """Parse `du -sk <dir>`: the KiB total on the last non-empty line (``12345678\t/agfa/repository``)."""
    rows = [ln.strip() for ln in lines_of(text) if ln.strip()]
    for ln in reversed(rows):
        m = re.match(r"^(\d+)\s+\S", ln)
        if m:
            return int(m.group(1))
    raise ParseError("no '<KiB> <path>' line in du -sk output", command="du -sk", excerpt=text)
