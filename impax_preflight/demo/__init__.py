"""The embedded demo site: an IMPAX-shaped SQLite database, bundles of realistic Solaris and
Windows command outputs with some faults, and an inventory for them — no servers needed.
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from importlib import resources
from pathlib import Path

DEMO_HOSTS = ("mvf-db01", "mvf-bk01", "impax-app01", "impax-cm01", "impax-ng01")
DEMO_OS = {"mvf-db01": "solaris", "mvf-bk01": "solaris", "impax-app01": "windows", "impax-cm01": "windows", "impax-ng01": "windows"}


def build_demo(directory: str | Path) -> Path:
    """Build (or rebuild) the demo site in `directory`; return the inventory's path."""
    from ..transports.bundle import write_bundle
    from .host_outputs import demo_bundle_entries
    from .impax_schema import build_sqlite_impax_db, build_sqlite_mcf_db

    root = Path(directory)
    for sub in ("bundles", "db", "report"):
        if (root / sub).exists():
            shutil.rmtree(root / sub)
    (root / "db").mkdir(parents=True, exist_ok=True)
    build_sqlite_impax_db(root / "db" / "impax.sqlite", scale="demo")
    build_sqlite_mcf_db(root / "db" / "mcf.sqlite", services=["IMPAX-RIS", "EPR-HL7"])
    for host in DEMO_HOSTS:
        write_bundle(root / "bundles" / host, host, DEMO_OS[host], demo_bundle_entries(host),
                     collector="impax-preflight demo")
    inventory = root / "inventory.toml"
    inventory.write_text(resources.files(__package__).joinpath("site.toml").read_text(encoding="utf-8"), encoding="utf-8")
    (root / "waivers.toml").write_text(_waivers(), encoding="utf-8")
    return inventory


def _waivers() -> str:
    soon = date.today() + timedelta(days=30)
    past = date.today() - timedelta(days=10)
    return f"""# Accepted risks. A waived finding stays visible in every report; an expired waiver no longer applies.

[[waiver]]
match = "os.solaris.disk_errors@mvf-bk01*"
reason = "Transport errors on the backup PACS DVD drive; the drive is not used by IMPAX."
approved_by = "J. Doe, PACS administrator"
expires = "{soon.isoformat()}"

[[waiver]]
match = "cm.report_source*"
reason = "Two report sources accepted for the transition; integrator consulted in the spring."
approved_by = "A. Smith, CM integrator"
expires = "{past.isoformat()}"
"""
