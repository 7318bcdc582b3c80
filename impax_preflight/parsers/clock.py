"""A host's clock: seconds since the epoch as a POSIX host prints them, or a Windows CIM datetime.

Solaris 10's ``date`` has no ``%s``. What it does ship: Perl 5.8 in /usr/bin/perl with the core
module Time::HiRes (``perl -MTime::HiRes=time -e 'printf("%.3f\\n", time)'`` prints e.g.
``1710411300.123``), plain ``perl -e 'print time'`` (whole seconds), and ``nawk``, whose
``srand()`` seeds from the time of day and returns the previous seed, so
``nawk 'BEGIN { srand(); print srand() }'`` prints the current epoch second (POSIX awk).

Windows (XP / Server 2003 and later): ``wmic os get LocalDateTime /value`` prints
``LocalDateTime=20240314101500.123000+060`` — a CIM datetime, local time with its offset from UTC
in minutes. The PowerShell fallback prints the same form for UTC (offset ``+000``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from . import ParseError, lines_of

#: 2001-09-09 .. 2100-01-01: anything outside is not a clock reading of a server in service
_EPOCH_MIN, _EPOCH_MAX = 1_000_000_000, 4_102_444_800
_EPOCH = re.compile(r"^\s*(\d{10})(?:\.(\d+))?\s*$")
_CIM = re.compile(r"(?:^|=)\s*(\d{14})\.(\d{6})([+-])(\d{3,4})\s*$")


@dataclass(frozen=True)
class HostTime:
    """A clock reading of a host: UTC seconds since the epoch and how fine the reading is."""

    epoch: float
    #: the reading's own granularity (1 s for whole seconds)
    resolution_s: float
    #: the text it was read from
    raw: str

    @property
    def utc(self) -> datetime:
        return datetime.fromtimestamp(self.epoch, timezone.utc)


def parse_epoch(text: str, notes: list[str] | None = None) -> HostTime:
    """`perl ... time` / `nawk srand()` / `date +%s` output: one number of seconds since the epoch."""
    found = None
    for ln in lines_of(text):
        if not ln.strip():
            continue
        m = _EPOCH.match(ln)
        if m and found is None:
            found = m
        elif notes is not None:
            notes.append(f"ignored line: {ln.strip()[:120]!r}")
    if found is None:
        raise ParseError("no number of seconds since the epoch in the output", command="perl -e 'print time'", excerpt=text)
    whole, frac = found.group(1), found.group(2)
    epoch = float(f"{whole}.{frac}") if frac else float(whole)
    if not _EPOCH_MIN <= epoch <= _EPOCH_MAX:
        raise ParseError(f"{whole} is not a plausible clock reading (before 2001 or after 2100)", command="perl -e 'print time'",
                         excerpt=text)
    return HostTime(epoch=epoch, resolution_s=10.0 ** -len(frac) if frac else 1.0, raw=found.group(0).strip())


def parse_cim_datetime(value: str) -> datetime:
    """A CIM datetime (``yyyymmddHHMMSS.ffffff+UUU``, UUU minutes east of UTC) as an aware UTC datetime."""
    m = _CIM.search(value.strip())
    if not m:
        raise ParseError(f"not a CIM datetime: {value.strip()[:60]!r}", command="wmic", excerpt=value)
    stamp, micro, sign, offset = m.groups()
    try:
        local = datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(microsecond=int(micro))
    except ValueError as exc:
        raise ParseError(f"not a CIM datetime: {exc}", command="wmic", excerpt=value) from None
    minutes = int(offset) * (1 if sign == "+" else -1)
    return (local - timedelta(minutes=minutes)).replace(tzinfo=timezone.utc)


def parse_wmic_localdatetime(text: str, notes: list[str] | None = None) -> HostTime:
    """`wmic os get LocalDateTime /value` (or a bare CIM datetime line from PowerShell)."""
    found = None
    for ln in lines_of(text):
        s = ln.strip()
        if not s:
            continue
        if found is None and _CIM.search(s) and (re.match(r"^LocalDateTime\s*=", s) or "=" not in s):
            found = s
        elif notes is not None:
            notes.append(f"ignored line: {s[:120]!r}")
    if found is None:
        raise ParseError("no LocalDateTime in the output", command="wmic os get LocalDateTime /value", excerpt=text)
    utc = parse_cim_datetime(found)
    return HostTime(epoch=utc.timestamp(), resolution_s=0.001, raw=found)


__all__ = ["HostTime", "parse_cim_datetime", "parse_epoch", "parse_wmic_localdatetime"]
