"""Solaris system log (`/var/adm/messages`, rotated to `messages.0` ...): disk, SCSI / transport,
ZFS and panic messages, with their dates.

syslogd writes ``Mon DD HH:MM:SS host tag: [ID nnnnnn facility.level] text``; one kernel message
spans several lines with the same stamp, the first ``WARNING: /pci@.../sd@1,0 (sd1):``, the next
``Error for Command: read(10)  Error Level: Retryable``, ``Sense Key: Media Error`` ... (the
continuation lines carry no ID or the same ID). The stamp has no year and is the host's local time:
`date_messages` gives each message its year by walking back from a reference time (the collection
time), stepping back a year where the dates, walking backwards, jump forward (a new year).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from . import ParseError, lines_of

COMMAND = "cat /var/adm/messages"
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_LINE = re.compile(r"^(?P<mon>[A-Z][a-z]{2})\s+(?P<day>\d{1,2})\s+(?P<time>\d{2}:\d{2}:\d{2})\s+(?P<host>\S+)\s?(?P<rest>.*)$")
_ID = re.compile(r"\[ID (?P<id>\d+) (?P<fac>[\w.]+)\]")
_TAG = re.compile(r"^(?P<tag>[\w./-]+?)(?:\[\d+\])?:\s")

# what a message is about
_PANIC = re.compile(r"\bpanic\[cpu\d+\]|reboot after panic|\bpanic:|System dump time|dump succeeded", re.I)
_ZFS = re.compile(r"\bZFS-8000-\w+|SUNW-MSG-ID:\s*ZFS|\bzfs\b.*\b(error|fault|degraded|corrupt|checksum)", re.I)
_DISK_TAGS = re.compile(r"^(scsi|sd|ssd|mpt|mpt_sas|mpxio|scsi_vhci|fcp|fctl|fp|qlc|emlxs|glm|isp|ata|ahci|sata|nv_sata|si3124|"
                        r"marvell88sx|cmdk|blkdev|mr_sas|aac|arcmsr|ufs|genunix|md|md_mirror|md_stripe|md_raid)$")
_DISK_TEXT = re.compile(r"Error for Command|Error Level|Sense Key|SCSI transport failed|not responding to selection|"
                        r"offline or reservation conflict|Device is gone|disk not responding|Command failed to complete|"
                        r"unrecoverable (read|write) error|I/O (request|error)|SUNW-MSG-ID:\s*DISK-8000|"
                        r"md: .*(needs maintenance|last erred)|ufs: .*(error|unexpected)", re.I)
_FATAL = re.compile(r"Error Level:\s*Fatal|SCSI transport failed|offline or reservation conflict|Device is gone|"
                    r"disk not responding|not responding to selection|Command failed to complete|Hardware Error|"
                    r"SUNW-MSG-ID:\s*(DISK|ZFS)-8000|needs maintenance|last erred", re.I)


@dataclass
class LogMessage:
    """One message (its continuation lines joined), still without a year."""

    month: int
    day: int
    time: str  # HH:MM:SS
    host: str
    tag: str
    level: str  # syslog facility.level ("kern.warning"), "" when the line has no [ID ...]
    lines: list[str] = field(default_factory=list)
    #: the message ID (``[ID 107833 kern.warning]``): continuation lines carry none or the same one
    ident: str | None = None
    #: set by `date_messages`
    when: datetime | None = None

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def kind(self) -> str | None:
        """panic | zfs | disk | None (not a message this catalog looks for)."""
        text = self.text
        if _PANIC.search(text):
            return "panic"
        if _ZFS.search(text):
            return "zfs"
        if _DISK_TEXT.search(text) and (_DISK_TAGS.match(self.tag) or "WARNING" in text or "SUNW-MSG-ID" in text or "Error" in text):
            return "disk"
        return None

    @property
    def is_error(self) -> bool:
        """A failed operation or a fault (not a retry that may have succeeded)."""
        return self.kind in ("zfs", "panic") or bool(_FATAL.search(self.text))

    @property
    def device(self) -> str | None:
        m = re.search(r"\((s?sd\d+|cmdk\d+|blkdev\d+)\)", self.text) or re.search(r"\b(c\d+t[0-9A-Fa-f]+d\d+)\b", self.text)
        return m.group(1) if m else None

    @property
    def stamp(self) -> str:
        return f"{_month_name(self.month)} {self.day:2d} {self.time}"


def _month_name(m: int) -> str:
    return next(k for k, v in _MONTHS.items() if v == m)


def parse_messages(text: str, notes: list[str] | None = None) -> list[LogMessage]:
    """Every message of a Solaris syslog file, in file order; continuation lines are joined.
    An empty (or just rotated) file gives an empty list."""
    out: list[LogMessage] = []
    seen_any = False
    unknown = 0
    for ln in lines_of(text):
        if not ln.strip():
            continue
        m = _LINE.match(ln)
        if not m or m.group("mon") not in _MONTHS:
            unknown += 1
            if notes is not None and unknown <= 20:
                notes.append(f"not a syslog line: {ln.strip()[:120]!r}")
            continue
        seen_any = True
        rest = m.group("rest")
        ident = _ID.search(rest)
        tag_m = _TAG.match(rest.lstrip())
        tag = tag_m.group("tag") if tag_m else ""
        body = _ID.sub("", rest[tag_m.end():] if tag_m and not rest[:1].isspace() else rest).strip()
        month, day = _MONTHS[m.group("mon")], int(m.group("day"))
        prev = out[-1] if out else None
        same_stamp = prev is not None and (prev.month, prev.day, prev.time, prev.host) == (month, day, m.group("time"), m.group("host"))
        continuation = same_stamp and (ident is None or prev.ident == ident.group("id"))
        if continuation and prev is not None:
            prev.lines.append(body)
            continue
        msg = LogMessage(month=month, day=day, time=m.group("time"), host=m.group("host"), tag=tag,
                         level=ident.group("fac") if ident else "", lines=[body], ident=ident.group("id") if ident else None)
        out.append(msg)
    if not seen_any and unknown:
        raise ParseError("no syslog line (Mon DD HH:MM:SS host ...) in the output", command=COMMAND, excerpt=text)
    return out


#: walking back, a stamp this much later than the message after it is last year's: a new year lies
#: between them; a line seconds (or a clock correction hours) out of order is not
_OUT_OF_ORDER = timedelta(days=1)


def date_messages(messages: list[LogMessage], reference: datetime) -> list[LogMessage]:
    """Give each message (oldest first, as the files are read) its year, counting back from
    `reference` (naive; the collection time or now).

    Syslog stamps are the host's local time and carry no year. The newest message is in the
    reference's year unless it would lie more than a day after the reference (a host east of UTC is
    up to 14 hours ahead of a UTC reference: that is not a year ago). Walking back, a message is
    in the year before when, in the current year, it would lie more than a day after the message
    that follows it (September before March, December before January) — never for a message a
    second or a few hours out of order.
    """
    year = reference.year
    limit = reference + _OUT_OF_ORDER
    for msg in reversed(messages):
        clock = tuple(map(int, msg.time.split(":")))
        when = _stamp(year, msg.month, msg.day, clock)
        # a year back while it would lie after what follows it; 29 February: back to a leap year
        for _ in range(8):
            if when is not None and when <= limit:
                break
            year -= 1
            when = _stamp(year, msg.month, msg.day, clock)
        msg.when = when
        if when is not None:
            limit = when + _OUT_OF_ORDER
    return messages


def _stamp(year: int, month: int, day: int, clock: tuple[int, ...]) -> datetime | None:
    try:
        return datetime(year, month, day, *clock)
    except ValueError:
        return None


__all__ = ["LogMessage", "date_messages", "parse_messages"]
