"""The example site plugin, tested the way a vendor would: the testing kit, no hospital needed."""

from __future__ import annotations

import importlib.metadata

import impax_preflight_example_site
from impax_preflight.model import Status
from impax_preflight import load_plugins
from impax_preflight.testing import fresh_plugins, make_inventory, run_check, run_plugin_checks, sqlite_session
from impax_preflight_example_site.checks import cm_mapping_table

MAPPING = """
create table mcf_site_mapping (source_code text, target_code text);
insert into mcf_site_mapping values ('CT', 'CT-RAD'), ('MR', 'MR-RAD'), ('US', 'US-RAD');
"""


def mcf_inventory(path: str = "/unused.sqlite", **options):
    return make_inventory(
        {
            "hosts": [
                {
                    "name": "cm1",
                    "os": "windows",
                    "roles": ["connectivity_manager"],
                    "transport": {"kind": "local"},
                    "databases": [
                        {"name": "mcf", "kind": "sqlite", "purpose": "mcf", "path": path},
                        {"name": "impax", "kind": "sqlite", "purpose": "impax", "path": path},
                    ],
                }
            ]
        },
        options={"site.example.cm_mapping_table": options} if options else {},
    )


def test_clean_mapping_passes():
    (f,) = run_check(cm_mapping_table, inventory=mcf_inventory(), sql=sqlite_session(MAPPING))
    assert f.status is Status.PASS and f.values["value"] == 0
    assert len(f.evidence) == 2 and all(e.kind == "sql" for e in f.evidence)


def test_duplicates_and_empty_targets_are_reported():
    db = sqlite_session(MAPPING + "insert into mcf_site_mapping values ('CT', 'CT-CARD'), ('XA', NULL), ('NM', '');")
    (f,) = run_check(cm_mapping_table, inventory=mcf_inventory(), sql=db)
    assert f.status is Status.WARN  # severity warning
    assert f.values["duplicated"] == ["CT"] and f.values["empty_targets"] == 2
    assert "CT (2x)" in f.message and "2 rows without a target code" in f.message


def test_table_name_option_is_guarded():
    (f,) = run_check(cm_mapping_table, inventory=mcf_inventory(table="x; drop table y"), sql=sqlite_session(MAPPING))
    assert f.status is Status.ERROR and "is not a table name" in f.message
    (g,) = run_check(cm_mapping_table, inventory=mcf_inventory(table="other_map"), sql=sqlite_session(MAPPING))
    assert g.status is Status.ERROR and "other_map" in g.message  # missing table: unverified, not passed


def test_whole_plugin_through_the_runner(tmp_path):
    db = sqlite_session(MAPPING + "insert into mcf_site_mapping values ('MR', 'MR-2');", path=tmp_path / "mcf.sqlite")
    db.close()
    report = run_plugin_checks(impax_preflight_example_site, mcf_inventory(str(tmp_path / "mcf.sqlite")))
    by = {f.check_id: f for f in report.findings}
    assert set(by) == {"site.example.cm_mapping_table", "site.example.cm_mapping_rows"}
    assert by["site.example.cm_mapping_table"].status is Status.WARN
    assert by["site.example.cm_mapping_rows"].status is Status.PASS
    assert by["site.example.cm_mapping_rows"].values["value"] == 4
    assert all(f.target == "cm1/mcf" for f in report.findings)  # the impax database is not an mcf database
    assert {n.target for n in report.not_run if n.check_id.startswith("site.example.")} == {"cm1/impax"}
    assert report.verdict.value == "GO_WITH_WARNINGS"


def test_empty_mapping_table_fails_the_declarative_check():
    ps = fresh_plugins(impax_preflight_example_site)
    chk = ps.registry.checks["site.example.cm_mapping_rows"]
    (f,) = run_check(chk, inventory=mcf_inventory(), sql=sqlite_session("create table mcf_site_mapping (source_code text, target_code text);"))
    assert f.status is Status.WARN and f.message.startswith("the mapping table holds 0 rows")


def test_installed_entry_point_is_listed():
    assert any(e.name == "example-site" for e in importlib.metadata.entry_points(group="impax_preflight"))
    (info,) = [p for p in load_plugins().plugins if p.name == "example-site"]
    assert info.status == "active" and info.checks == ["site.example.cm_mapping_rows", "site.example.cm_mapping_table"]
    assert "example-site" not in {p.name for p in load_plugins(disable=["example-site"]).plugins if p.status == "active"}


def test_declarative_checks_ship_in_their_own_folder():
    from importlib.resources import files

    pkg = files(impax_preflight_example_site)
    assert pkg.joinpath("declarative", "mapping.toml").is_file()
    # no data folder named like the module checks.py
    assert not pkg.joinpath("checks").is_dir()
    text = pkg.joinpath("declarative", "mapping.toml").read_text(encoding="utf-8")
    assert "site options" in text and "mcf_site_mapping" in text  # the fixed table name is explained
