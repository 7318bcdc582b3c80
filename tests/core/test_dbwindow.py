"""The database window: parsing, spans across midnight, when it opens, time zones, and the inventory's
[site.database_window] refused with file, line and field when it cannot be understood."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from impax_preflight.dbwindow import WindowError, parse_window
from impax_preflight.inventory import InventoryError, load_inventory
from impax_preflight.runner import database_window
from impax_preflight.testing import make_inventory

BRU = ZoneInfo("Europe/Brussels")


def at(h, m=0, day=14):
    return datetime(2026, 3, day, h, m, tzinfo=BRU)


def test_a_span_across_midnight():
    w = parse_window("20:00-06:00", "Europe/Brussels")
    assert w.text == "20:00-06:00" and w.describe() == "20:00-06:00 (Europe/Brussels)"
    assert [w.contains(at(h)) for h in (19, 20, 23, 0, 5)] == [False, True, True, True, True]
    assert not w.contains(at(6)) and w.contains(at(5, 59))
    assert w.next_opening(at(14, 2)) == at(20)
    assert w.next_opening(at(21)) == at(21)  # inside: now
    assert w.closes_at(at(23)) == at(6, day=15) and w.closes_at(at(3)) == at(6) and w.closes_at(at(12)) is None
    msg = w.outside_message(at(14, 2))
    assert "it is 14:02 now" in msg and "opens at 20:00 today (in 5 h 58 min)" in msg


def test_several_spans_and_the_whole_day():
    w = parse_window(["12:00-13:00", "20:00-06:00"], "Europe/Brussels")
    assert w.contains(at(12, 30)) and not w.contains(at(13)) and w.contains(at(2))
    assert w.next_opening(at(7)) == at(12) and w.next_opening(at(14)) == at(20)
    assert parse_window("12:00-13:00, 20:00-06:00").spans == w.spans
    allday = parse_window("00:00-24:00")
    assert allday.contains(datetime(2026, 1, 1, 23, 59).astimezone()) and allday.text == "00:00-24:00"
    assert "tomorrow" in parse_window("06:00-07:00", "Europe/Brussels").outside_message(at(8))


def test_the_machines_clock_when_no_zone_is_given():
    w = parse_window("00:00-24:00")
    assert w.timezone is None and "local time of this machine" in w.describe()
    assert w.now().tzinfo is not None and w.contains()


@pytest.mark.parametrize("text,words", [
    ("20-06", "HH:MM-HH:MM"),
    ("25:00-06:00", "hours are 00-23"),
    ("20:00-20:00", "00:00-24:00"),
    ("", "empty"),
    ("20:00-06:00; drop", "not a span"),
])
def test_what_cannot_be_understood_says_how_to_write_it(text, words):
    with pytest.raises(WindowError) as ei:
        parse_window(text)
    assert words in str(ei.value)


def test_an_unknown_time_zone_is_refused():
    with pytest.raises(WindowError) as ei:
        parse_window("20:00-06:00", "Mars/Olympus")
    assert "IANA" in str(ei.value)


INV = """\
[site]
name = "T"
impax_version = "6.3.1"
platform = "AS3000"

[site.database_window]
hours = "{hours}"
timezone = "Europe/Brussels"

[[hosts]]
name = "db1"
os = "solaris"
roles = ["database"]
"""


def test_the_inventory_window_and_its_errors(tmp_path):
    p = tmp_path / "inv.toml"
    p.write_text(INV.format(hours="20:00-06:00"))
    inv = load_inventory(p)
    assert database_window(inv).describe() == "20:00-06:00 (Europe/Brussels)"
    # --db-window replaces the hours, in the inventory's zone
    assert database_window(inv, "01:00-02:00").describe() == "01:00-02:00 (Europe/Brussels)"
    p.write_text(INV.format(hours="8pm-6am"))
    with pytest.raises(InventoryError) as ei:
        load_inventory(p)
    msg = str(ei.value)
    assert f"{p}:6:" in msg or f"{p}:7:" in msg
    assert "site.database_window" in msg and "HH:MM-HH:MM" in msg
    assert database_window(make_inventory()) is None
