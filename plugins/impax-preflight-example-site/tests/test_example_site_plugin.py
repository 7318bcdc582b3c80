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
    # the hosts-file check (added to the template with probes) needs other servers: one host, not run
    assert {(n.check_id, n.target) for n in report.not_run if n.check_id.startswith("site.example.")} == {
        ("site.example.cm_mapping_rows", "cm1/impax"), ("site.example.cm_mapping_table", "cm1/impax"),
        ("site.example.hosts_entries", "cm1")}
    assert report.verdict.value == "GO_WITH_WARNINGS"


def test_empty_mapping_table_fails_the_declarative_check():
    ps = fresh_plugins(impax_preflight_example_site)
    chk = ps.registry.checks["site.example.cm_mapping_rows"]
    (f,) = run_check(chk, inventory=mcf_inventory(), sql=sqlite_session("create table mcf_site_mapping (source_code text, target_code text);"))
    assert f.status is Status.WARN and f.message.startswith("the mapping table holds 0 rows")


def test_installed_entry_point_is_listed():
    assert any(e.name == "example-site" for e in importlib.metadata.entry_points(group="impax_preflight"))
    (info,) = [p for p in load_plugins().plugins if p.name == "example-site"]
    assert info.status == "active" and info.checks == ["site.example.cm_mapping_rows", "site.example.cm_mapping_table",
                                                       "site.example.hosts_entries"]
    assert "example-site" not in {p.name for p in load_plugins(disable=["example-site"]).plugins if p.status == "active"}


def test_declarative_checks_ship_in_their_own_folder():
    from importlib.resources import files

    pkg = files(impax_preflight_example_site)
    assert pkg.joinpath("declarative", "mapping.toml").is_file()
    # no data folder named like the module checks.py
    assert not pkg.joinpath("checks").is_dir()
    text = pkg.joinpath("declarative", "mapping.toml").read_text(encoding="utf-8")
    assert "site options" in text and "mcf_site_mapping" in text  # the fixed table name is explained


# ---- the host check: a probe, tested with a scripted shell ------------------------------------------

from impax_preflight.plan import host_commands  # noqa: E402
from impax_preflight.testing import FakeShell  # noqa: E402
from impax_preflight_example_site.checks import HOSTS_FILE, hosts_entries  # noqa: E402

CLUSTER = {"hosts": [
    {"name": "mvfdb", "os": "solaris", "roles": ["database"], "address": "10.1.10.5", "transport": {"kind": "local"}},
    {"name": "mvfbk", "os": "solaris", "roles": ["archive"], "address": "10.1.10.6", "transport": {"kind": "local"}},
    {"name": "app1", "os": "windows", "roles": ["application"], "address": "10.1.20.7", "transport": {"kind": "local"}},
]}
SOLARIS_HOSTS = ("#\n# Internet host table\n#\n::1\tlocalhost\n127.0.0.1\tlocalhost\n10.1.10.5\tmvfdb mvfdb.hospital.example.org loghost\n"
                 "10.1.20.7\tapp1.hospital.example.org app1\n")


def test_hosts_entries_reads_through_its_probe():
    inv = make_inventory(CLUSTER)
    (f,) = run_check(hosts_entries, inventory=inv, shell=FakeShell({"cat /etc/inet/hosts": SOLARIS_HOSTS}))
    assert f.status is Status.WARN and f.values["missing"] == ["mvfbk"]
    # the read as a server prints it (a prompt and the echoed command) gives the same answer
    noisy = "bash-3.00# cat /etc/inet/hosts\n" + SOLARIS_HOSTS + "10.1.10.6 mvfbk\nbash-3.00# \n"
    (f,) = run_check(hosts_entries, inventory=inv, shell=FakeShell({"cat /etc/inet/hosts": noisy}))
    assert f.status is Status.PASS and f.evidence[0].source == "cat /etc/inet/hosts"


def test_hosts_entries_errors_say_why():
    inv = make_inventory(CLUSTER)
    (f,) = run_check(hosts_entries, inventory=inv, shell=FakeShell({"cat /etc/inet/hosts": (1, "", "cat: Permission denied")}))
    assert f.status is Status.ERROR and "privilege" in f.message
    (f,) = run_check(hosts_entries, inventory=inv, shell=FakeShell({"cat /etc/inet/hosts": "no hosts here\n"}))
    assert f.status is Status.ERROR and "could not understand" in f.message


def test_the_collector_gathers_the_probe():
    inv = make_inventory(CLUSTER)
    ps = fresh_plugins(impax_preflight_example_site)
    assert "cat /etc/inet/hosts" in host_commands(ps, inv, inv.hosts[0])
    assert HOSTS_FILE.commands_for("windows")[0] in host_commands(ps, inv, inv.hosts[2])
