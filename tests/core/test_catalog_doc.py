"""docs/catalog.md is the built-in catalog as the code declares it; and the catalog covers CATALOG's ids."""

from __future__ import annotations

from pathlib import Path

from impax_preflight.report.catalog import catalog_markdown
from impax_preflight import load_plugins

ROOT = Path(__file__).resolve().parents[2]

# every id of the design's CATALOG.md (shared/CATALOG.md), DICOM ones excepted (they ship as a plugin)
CATALOG_IDS = """
prereq.source_version prereq.connectivity_manager prereq.talkstation prereq.reporting_rtf prereq.pacs_broker
prereq.dotnet35sp1 prereq.sqlserver_version prereq.sqlserver_services prereq.migration_toolbox prereq.mig_schema
hw.requirements oracle.tablespace_free oracle.recovery_area mssql.database_space db.version
integrity.object_document_unique integrity.his_study_uid integrity.study_uid integrity.object_sop_instance_uid
integrity.object_series_ref integrity.map_job_user integrity.map_event_user integrity.map_event_audit_user
integrity.folder_name integrity.folder_item_name integrity.print_params_user integrity.report_access_ae_title
archive.study_status cm.report_source os.solaris.services os.solaris.faults os.solaris.storage os.solaris.disk_errors
os.disk_space os.windows.services backup.database_recent backup.appserver_config backup.map_event_audit
as3000.repository interlock.relay mirroring.state mirroring.principal_on_primary ha.backup_pacs
""".split()


def _builtin_infos():
    reg = load_plugins(entry_points=False).registry
    return [reg.checks[c].info(reg.check_providers[c]) for c in sorted(reg.checks)]


def test_docs_catalog_is_current():
    expected = catalog_markdown(_builtin_infos())
    actual = (ROOT / "docs" / "catalog.md").read_text(encoding="utf-8")
    assert actual == expected, "regenerate: impax-preflight checks --markdown --disable-plugin dicom --disable-plugin example-site > docs/catalog.md"


def test_every_catalog_id_is_built_in_with_guide_and_remediation():
    infos = {i.id: i for i in _builtin_infos()}
    missing = sorted(set(CATALOG_IDS) - set(infos))
    assert not missing, f"CATALOG.md ids without a check: {missing}"
    for i in infos.values():
        assert i.guide, f"{i.id} names no guide section"
        if i.severity.value != "info":
            assert i.remediation, f"{i.id} gives no remediation"
