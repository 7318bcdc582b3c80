"""A site's runs over several weeks, recorded in a real history store, for the history and chart tests.

The findings carry the values the real checks write (checks/db_space.py `usable_gb`/`min_gb`,
db_backup.py `age_hours`/`max_age_hours`, db_integrity.py `count`): the blockers burn down, one
tablespace fills, the backup ages past its limit once, integrity rows get cleaned up.
"""

from __future__ import annotations

import copy
from datetime import timedelta

from report_samples import INVENTORY, T0, finding, make_report, sample_findings

from impax_preflight.history import HistoryStore, record_run
from impax_preflight.model import Severity, Status

UPGRADE_DATE = "2024-06-01"


def inventory_with_upgrade(upgrade_date: str | None = UPGRADE_DATE) -> dict:
    inv = copy.deepcopy(INVENTORY)
    if upgrade_date:
        inv["site"]["upgrade_date"] = upgrade_date
    return inv


def week_findings(i: int, label: str = "MVFL"):
    """Run i of the series (one every 3 days)."""
    fs = sample_findings(tablespace_free_gb=round(3.6 - i * 0.35, 2), integrity_rows=max(0, 4 - 2 * i), fixed_dotnet=i >= 3)
    age = [6.0, 30.5, 8.0, 12.0, 7.5, 9.0][i % 6]
    fs.append(finding("backup.database_recent", Status.FAIL if age > 24 else Status.PASS, "prod-db1", target="prod-db1/mvf",
                      target_kind="database", database="mvf", message=f"last full backup {age} h ago",
                      values={"age_hours": age, "max_age_hours": 24.0, "last_full_backup": "2024-05-04 02:00"}))
    fs.append(finding("oracle.tablespace_free", Status.PASS, "prod-db1", target="prod-db1/mvf", target_kind="database",
                      subject="MVFINDX", database="mvf", message="MVFINDX roomy",
                      values={"usable_gb": round(9.0 - i * 0.1, 2), "min_gb": 2.0, "warn_gb": 3.0}))
    fs.append(finding("os.disk_space", Status.WARN if i > 2 else Status.PASS, "prod-db1", severity=Severity.WARNING, subject="/u01",
                      values={"used_pct": 85.0 + i}))
    for f in fs:
        if f.check_id == "oracle.tablespace_free" and f.subject == "MVFL":
            f.values["min_gb"] = 2.0
            if label != "MVFL":
                f.subject = label
    return fs


def recorded_history(store_path, runs: int = 6, upgrade_date: str | None = UPGRADE_DATE, site: str = "St. Elsewhere",
                     label: str = "MVFL"):
    """Record `runs` runs in a store at store_path; return (store, last report with its history)."""
    store = HistoryStore(store_path)
    inv = inventory_with_upgrade(upgrade_date)
    report = None
    for i in range(runs):
        report = make_report(week_findings(i, label), run_id=f"2024050{i}T080000Z-run{i:03d}", started=T0 + timedelta(days=3 * i),
                             inventory=inv, site=site)
        record_run(report, store)
    return store, report
