"""The database window: the hours in which full-table scans may start on a production database.

Written ``"20:00-06:00"`` (a span may cross midnight; several are comma-separated or a list), in the
site's time zone when the inventory names one, else in the clock of the machine running the tool.
Plain Python (datetime, zoneinfo): the inventory validates with it, the scans ask it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Iterable

_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_DAY = 24 * 60


class WindowError(ValueError):
    """A window that cannot be understood; the message says how to write it."""


@dataclass(frozen=True)
class DbWindow:
    """One or more daily spans of minutes [start, end) after midnight; end may be past midnight."""

    spans: tuple[tuple[int, int], ...]
    timezone: str | None = None

    @property
    def text(self) -> str:
        return ", ".join(f"{_hhmm(s)}-{_hhmm(e % _DAY if e != _DAY else _DAY)}" for s, e in self.spans)

    def describe(self) -> str:
        """'20:00-06:00 (Europe/Brussels)' or '20:00-06:00 (local time of this machine)'."""
        return f"{self.text} ({self.timezone or 'local time of this machine'})"

    def zone(self) -> tzinfo | None:
        if not self.timezone:
            return None
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.timezone)

    def now(self) -> datetime:
        """The current time in the window's zone (aware)."""
        zone = self.zone()
        return datetime.now(zone) if zone else datetime.now().astimezone()

    def contains(self, when: datetime | None = None) -> bool:
        when = self._local(when)
        minute = when.hour * 60 + when.minute
        for start, end in self.spans:
            if start <= minute < end or (end > _DAY and minute < end - _DAY):
                return True
        return False

    def next_opening(self, when: datetime | None = None) -> datetime:
        """When the window next opens after `when` (`when` itself when it is inside)."""
        when = self._local(when)
        if self.contains(when):
            return when
        midnight = when.replace(hour=0, minute=0, second=0, microsecond=0)
        candidates = []
        for day in (0, 1):
            for start, _ in self.spans:
                # wall-clock arithmetic, then re-localised: DST days have 23 or 25 hours
                at = (midnight + timedelta(days=day)).replace(tzinfo=None) + timedelta(minutes=start)
                at = at.replace(tzinfo=when.tzinfo) if self.timezone else at.astimezone()
                if at > when:
                    candidates.append(at)
        return min(candidates)

    def closes_at(self, when: datetime | None = None) -> datetime | None:
        """When the span `when` is in closes (None when outside)."""
        when = self._local(when)
        minute = when.hour * 60 + when.minute
        midnight = when.replace(hour=0, minute=0, second=0, microsecond=0).replace(tzinfo=None)
        for start, end in self.spans:
            if start <= minute < end:
                at = midnight + timedelta(minutes=end)
            elif end > _DAY and minute < end - _DAY:
                at = midnight + timedelta(minutes=end - _DAY)
            else:
                continue
            return at.replace(tzinfo=when.tzinfo) if self.timezone else at.astimezone()
        return None

    def outside_message(self, when: datetime | None = None) -> str:
        """Why a scan may not start now, and when it could."""
        when = self._local(when)
        opens = self.next_opening(when)
        wait = opens - when
        day = "today" if opens.date() == when.date() else "tomorrow"
        return (f"outside the database window {self.describe()}: it is {when:%H:%M} now; the window opens at "
                f"{opens:%H:%M} {day} (in {_duration(wait.total_seconds())})")

    def _local(self, when: datetime | None) -> datetime:
        if when is None:
            return self.now()
        zone = self.zone()
        if when.tzinfo is None:
            return when.replace(tzinfo=zone) if zone else when.astimezone()
        return when.astimezone(zone) if zone else when.astimezone()


def parse_window(hours: str | Iterable[str], timezone: str | None = None) -> DbWindow:
    """`"20:00-06:00"`, `"12:00-13:00, 20:00-06:00"` or a list of such spans -> DbWindow; WindowError otherwise."""
    items = [hours] if isinstance(hours, str) else list(hours)
    texts = [t for item in items for t in str(item).split(",")]
    if not texts or not any(t.strip() for t in texts):
        raise WindowError("an empty database window: write the hours scans may start, e.g. \"20:00-06:00\"")
    spans = []
    for text in texts:
        m = _SPAN.match(text)
        if not m:
            raise WindowError(f"{text.strip()!r} is not a span of hours: write HH:MM-HH:MM, e.g. \"20:00-06:00\" "
                              "(it may cross midnight; separate several with commas)")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
            raise WindowError(f"{text.strip()!r}: hours are 00-23 (24:00 only as an end), minutes 00-59")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if start == end:
            raise WindowError(f"{text.strip()!r} starts and ends at the same time: for the whole day write "
                              "\"00:00-24:00\" (or leave the window out)")
        spans.append((start, end if end > start else end + _DAY))
    if timezone:
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(timezone)
        except Exception:  # noqa: BLE001 - ZoneInfoNotFoundError, ValueError for odd keys
            raise WindowError(f"unknown time zone {timezone!r}: write an IANA name such as \"Europe/Brussels\" "
                              "(the system's time zone database must have it)") from None
    return DbWindow(tuple(spans), timezone or None)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _duration(seconds: float) -> str:
    minutes = int(round(seconds / 60))
    if minutes < 1:
        return "less than a minute"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
