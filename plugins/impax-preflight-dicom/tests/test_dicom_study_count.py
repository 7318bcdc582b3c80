"""dicom.study_count against two real Orthanc archives (counts checked with dcmtk's findscu too); a pynetdicom
SCP only for a C-FIND failure status; window parsing."""

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


def orthanc_inventory(old, new, **opts):
    options = {"days": 5, "end_date": "2026-11-18", "pause_s": 0, "window": "always", "timeout_s": 5,
               "old": old.peer(), "new": new.peer(), **opts}
    return make_inventory(options={"dicom.study_count": options})


def per_day(studies):
    out = {}
    for st in studies:
        day = f"{st.date[:4]}-{st.date[4:6]}-{st.date[6:]}"
        out[day] = out.get(day, 0) + 1
    return out


def test_counts_agree(archives, findscu):
    (f,) = run_check(dicom_study_count, inventory=orthanc_inventory(archives.old, archives.old))
    assert f.status is Status.PASS, f.message
    expected = per_day(archives.pair.old)
    assert f.values["old"] == f.values["new"] == expected
    assert f.values["old_total"] == f.values["new_total"] == len(archives.pair.old)
    assert f.subject == "OLD_ARCH vs OLD_ARCH"
    # dcmtk's findscu counts the same studies per day
    for day, n in expected.items():
        assert len(findscu(archives.old, StudyDate=day.replace("-", ""))) == n
    assert f"2026-11-14  {expected['2026-11-14']:>5}  {expected['2026-11-14']:>5}" in f.evidence[0].output


def test_a_differing_day_is_listed_with_both_counts(archives):
    (f,) = run_check(dicom_study_count, inventory=orthanc_inventory(archives.old, archives.new))
    old, new = per_day(archives.pair.old), per_day(archives.pair.new)
    differing = [{"date": d, "old": old.get(d, 0), "new": new.get(d, 0)} for d in sorted(old) if old.get(d, 0) != new.get(d, 0)]
    assert differing  # the seeded archives differ in count on some days...
    assert f.status is Status.WARN  # severity warning
    assert f.values["differing"] == differing and f.values["value"] == len(differing)
    first = differing[0]
    assert f"differ on {len(differing)} of 5 days — {first['date']}: old {first['old']}, new {first['new']}" in f.message
    # ... but not on every day that holds a seeded difference: what dicom.study_reconcile is for
    assert len(differing) < 5


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


def test_explicit_pair_in_options_and_missing_pair(archives):
    (f,) = run_check(dicom_study_count, inventory=orthanc_inventory(archives.new, archives.new, days=1))
    assert f.status is Status.PASS and f.values["old_total"] == f.values["new_total"] == per_day(archives.pair.new)["2026-11-18"]
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
