"""POSIX listings: `ls -l <dir>` (Solaris and GNU) and `du -sk <dir>`.

Lines that are not entries (the ``total`` line aside) are notes; an `ls -l` output with no entry and
no ``total`` line is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import ParseError
from .capture import read_capture

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


def parse_ls_l(text: str, *, notes: list[str] | None = None) -> list[LsEntry]:
    """Parse `ls -l` of a directory (the ``total N`` line is skipped; symlink targets are cut)."""
    cap = read_capture(text, command="ls -l", programs=("ls",), notes=notes)
    out = []
    total = False
    for ln in cap.lines:
        s = ln.text.rstrip()
        if not s.strip():
            continue
        if re.match(r"^total \d", s):
            total = True
            continue
        m = _LS.match(s)
        if not m:
            cap.note(ln)
            continue
        name = m.group("name")
        if m.group("mode").startswith("l") and " -> " in name:
            name = name.split(" -> ", 1)[0]
        out.append(LsEntry(name=name, is_dir=m.group("mode").startswith("d"), size=int(m.group("size")), mode=m.group("mode"), date=m.group("date")))
    if not out and not total and not cap.empty:
        raise cap.nothing_recognised("'ls -l' entries (mode, links, owner, group, size, date, name)")
    return out


def parse_du_sk(text: str, *, notes: list[str] | None = None) -> int:
    """Parse `du -sk <dir>`: the KiB total on the last ``<KiB> <path>`` line (``12345678\t/agfa/repository``)."""
    cap = read_capture(text, command="du -sk", programs=("du",), notes=notes)
    rows = [ln for ln in cap.lines if not ln.blank]
    for ln in reversed(rows):
        m = re.match(r"^(\d+)\s+\S", ln.text.strip())
        if m:
            return int(m.group(1))
        cap.note(ln)
    raise ParseError("no '<KiB> <path>' line in du -sk output", command="du -sk", excerpt=cap.text or cap.source)
