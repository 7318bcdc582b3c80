"""dicom.study_count against a pair of real C-FIND SCPs on loopback; window parsing."""

from __future__ import annotations

import datetime as dt

import pytest
from impax_preflight.model import Status
from impax_preflight.testing import make_inventory, run_check

from impax_preflight_dicom.checks import dicom_study_count
from impax_preflight_dicom.net import in_window, parse_window

END = dt.date(2026, 11, 20)
DAYS = [(END - dt.timedelta(days=i)).strftime("%Y%m%d") for i in range(3)]  # 20, 19, 18


def inventory(old_port, new_port, **opts):
    options = {"days": 3, "end_date": END.isoformat(), "pause_s": 0, "window": "always", "timeout_s": 5, **opts}
    return make_inventory(
        {
            "hosts": [
                {"name": "old", "address": "127.0.0.1", "os": "solaris", "roles": ["archive"], "transport": {"kind": "local"},
                 "aes": [{"ae_title": "OLD_ARCH", "port": old_port, "role": "old_archive"}]},
                {"name": "new", "address": "127.0.0.1", "os": "windows", "roles": ["archive"], "transport": {"kind": "local"},
                 "aes": [{"ae_title": "NEW_ARCH", "port": new_port, "role": "new_archive"}]},
            ]
        },
        options={"dicom.study_count": options},
    )


def test_counts_agree(find_scp):
    counts = {DAYS[0]: 4, DAYS[1]: 0, DAYS[2]: 7}
    with find_scp("OLD_ARCH", counts) as op, find_scp("NEW_ARCH", counts) as np_:
        (f,) = run_check(dicom_study_count, inventory=inventory(op, np_))
    assert f.status is Status.PASS, f.message
    assert f.values["old_total"] == f.values["new_total"] == 11
    assert f.values["old"] == {"2026-11-18": 7, "2026-11-19": 0, "2026-11-20": 4}
    assert f.subject == "OLD_ARCH vs NEW_ARCH"
    assert "2026-11-18      7      7" in f.evidence[0].output


def test_a_differing_day_is_listed_with_both_counts(find_scp):
    with find_scp("OLD_ARCH", {DAYS[0]: 5, DAYS[1]: 3, DAYS[2]: 2}) as op, find_scp("NEW_ARCH", {DAYS[0]: 5, DAYS[1]: 2, DAYS[2]: 2}) as np_:
        (f,) = run_check(dicom_study_count, inventory=inventory(op, np_))
    assert f.status is Status.WARN  # severity warning
    assert f.values["differing"] == [{"date": "2026-11-19", "old": 3, "new": 2}]
    assert "differ on 1 of 3 days — 2026-11-19: old 3, new 2" in f.message
    assert f.values["value"] == 1


def test_failed_c_find_is_an_error_not_a_count(find_scp):
    with find_scp("OLD_ARCH", {}, fail_on={DAYS[1]: 0xA700}) as op, find_scp("NEW_ARCH", {}) as np_:
        (f,) = run_check(dicom_study_count, inventory=inventory(op, np_))
    assert f.status is Status.ERROR and "status 0xA700" in f.message and "2026-11-19" in f.message


def test_outside_the_window_nothing_is_queried():
    now = dt.datetime.now()
    start = (now + dt.timedelta(hours=2)).strftime("%H:%M")
    end = (now + dt.timedelta(hours=3)).strftime("%H:%M")
    # port 9 on loopback: a query would fail loudly, proving the skip happens first
    (f,) = run_check(dicom_study_count, inventory=inventory(9, 9, window=f"{start}-{end}"))
    assert f.status is Status.SKIPPED and "outside the query window" in f.message


def test_explicit_pair_in_options_and_missing_pair(find_scp):
    counts = {DAYS[0]: 1}
    with find_scp("A", counts) as op, find_scp("B", counts) as np_:
        inv = make_inventory(
            options={"dicom.study_count": {"days": 1, "end_date": END.isoformat(), "window": "always", "pause_s": 0,
                                           "old": {"ae_title": "A", "address": "127.0.0.1", "port": op},
                                           "new": {"ae_title": "B", "address": "127.0.0.1", "port": np_}}}
        )
        (f,) = run_check(dicom_study_count, inventory=inv)
    assert f.status is Status.PASS and f.values["old_total"] == 1
    (s,) = run_check(dicom_study_count, inventory=make_inventory(options={"dicom.study_count": {"window": "always"}}))
    assert s.status is Status.SKIPPED and "old_archive" in s.message
    (e,) = run_check(dicom_study_count, inventory=make_inventory(options={"dicom.study_count": {"window": "9-5"}}))
    assert e.status is Status.ERROR and "HH:MM-HH:MM" in e.message


@pytest.mark.parametrize(
    "window, now, inside",
    [
        ("20:00-06:00", "23:30", True),
        ("20:00-06:00", "03:00", True),
        ("20:00-06:00", "12:00", False),
        ("20:00-06:00", "06:01", False),
        ("01:00-05:00", "04:59", True),
        ("01:00-05:00", "05:30", False),
        ("00:00-24:00", "23:59", True),
        ("always", "12:00", True),
    ],
)
def test_window(window, now, inside):
    assert in_window(parse_window(window), dt.time.fromisoformat(now)) is inside


def test_bad_window():
    with pytest.raises(ValueError):
        parse_window("25:00-06:00")


def test_plan_time_applicability_reads_the_pair_as_the_check_does():
    from impax_preflight_dicom.checks import _archive_pair_declared

    def declared(hosts=(), **options):
        inv = make_inventory({"hosts": list(hosts) or [{"name": "db1", "os": "solaris", "roles": ["database"], "transport": {"kind": "local"}}]},
                             options=options)
        return _archive_pair_declared(inv.site, None, None, inventory=inv)

    def host(name, *roles):
        return {"name": name, "address": "127.0.0.1", "os": "solaris", "roles": ["archive"], "transport": {"kind": "local"},
                "aes": [{"ae_title": f"{name.upper()}{i}", "port": 104 + i, "role": r} for i, r in enumerate(roles)]}

    assert declared([host("a", "old_archive"), host("b", "new_archive")]) is True
    assert "old_archive" in declared()
    # two old archives: not applicable at plan time, for the reason the check itself would give
    assert "several AEs have role old_archive" in declared([host("a", "old_archive", "old_archive"), host("b", "new_archive")])
    pair = {"ae_title": "A", "address": "127.0.0.1", "port": 104}
    # the plugin-wide options and the check's own are merged as at run time
    assert declared(**{"dicom": {"old": pair}, "dicom.study_count": {"new": {**pair, "ae_title": "B"}}}) is True
    # a badly written pair still runs, so that the check reports it as an error
    assert declared(**{"dicom.study_count": {"old": {"ae_title": "A"}}}) is True
