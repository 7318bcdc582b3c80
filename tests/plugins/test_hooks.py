"""Every hook of hookspecs.py exercised by a small plugin, the way a vendor's plugin would use it.

`tests/plugins/test_hook_docs.py` maps each hook to its test here and fails if one goes missing.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from impax_preflight import check, hookimpl
from impax_preflight.model import Status
from impax_preflight.plugins import PluginError
from impax_preflight import run_preflight, write_reports
from impax_preflight.testing import FakeShell, fresh_plugins, make_inventory, sqlite_session


@check("site.test.uname", "uname answers", "warning", "host")
def uname_check(ctx):
    res = ctx.run("uname -s")
    return ctx.passed(f"kernel {res.stdout.strip()}") if res.stdout.strip() == "SunOS" else ctx.problem(f"kernel {res.stdout.strip()!r}")


@check("site.test.study_rows", "dosr_study is not empty", "blocker", "database")
def study_rows(ctx):
    n = ctx.query("select count(*) from dosr_study").scalar()
    return ctx.passed(f"{n} studies", values={"value": n}) if n else ctx.fail("no study", values={"value": n})


@check("site.test.java_fact", "Java fact collected", "info", "host")
def java_fact(ctx):
    v = ctx.facts.get("java_version")
    return ctx.passed(f"java {v}", values={"value": v}) if v else ctx.error("no java_version fact")


class CheckProvider:
    @hookimpl
    def impax_register_checks(self, register):
        register(uname_check)


def test_hook_impax_register_checks():
    ps = fresh_plugins(CheckProvider())
    assert ps.registry.checks["site.test.uname"] is uname_check
    assert ps.registry.check_providers["site.test.uname"] == "CheckProvider"
    info = next(p for p in ps.plugins if p.name == "CheckProvider")
    assert info.checks == ["site.test.uname"] and info.hooks == ["impax_register_checks"]

    class Again:
        @hookimpl
        def impax_register_checks(self, register):
            register(uname_check)

    with pytest.raises(PluginError, match="duplicate check id 'site.test.uname': provided by .* and by"):
        fresh_plugins(CheckProvider(), Again())

    class NotACheck:
        @hookimpl
        def impax_register_checks(self, register):
            register(lambda ctx: None)

    with pytest.raises(PluginError, match="not a Check"):
        fresh_plugins(NotACheck())


class FakeTransport:
    """A `fake` transport kind answering from a script, as a WinRM plugin would answer over WinRM."""

    def __init__(self):
        self.opened: list[str] = []

    @hookimpl
    def impax_register_transports(self, register):
        def open_fake(host):
            self.opened.append(host.name)
            return FakeShell({"uname -s": "SunOS\n"}, os=host.os)

        register("fake", open_fake)

    @hookimpl
    def impax_register_checks(self, register):
        register(uname_check)


def test_hook_impax_register_transports():
    transport = FakeTransport()
    ps = fresh_plugins(transport)
    assert ps.registry.providers["transport"]["fake"] == "FakeTransport"
    inv = make_inventory({"hosts": [{"name": "s1", "os": "solaris", "roles": ["archive"], "transport": {"kind": "fake"}}]})
    report = run_preflight(inv, plugins=ps, only=["site.test.uname"])
    (f,) = report.findings
    assert f.status is Status.PASS and f.message == "kernel SunOS"
    assert f.evidence[0].transport == "fake" and transport.opened == ["s1"]


class StudyDatabase:
    """Overrides the `sqlite` kind with its own session factory (a later registration wins)."""

    def __init__(self, schema: str):
        self.schema = schema

    @hookimpl
    def impax_register_databases(self, register):
        register("sqlite", lambda database, host: sqlite_session(self.schema))

    @hookimpl
    def impax_register_checks(self, register):
        register(study_rows)


DB_INVENTORY = {
    "hosts": [{"name": "db1", "os": "solaris", "roles": ["database"], "transport": {"kind": "local"},
               "databases": [{"name": "impax", "kind": "sqlite", "path": "/not/used.sqlite"}]}]
}
SCHEMA = "create table dosr_study (study_uid text); insert into dosr_study values ('1.2.3');"


def test_hook_impax_register_databases():
    from impax_preflight import load_plugins

    # with the built-in drivers disabled, the plugin's factory is the only `sqlite` driver
    ps = load_plugins(entry_points=False, extra_plugins=[StudyDatabase(SCHEMA)], disable=["impax_preflight.builtin"])
    assert ps.registry.providers["database"]["sqlite"] == "StudyDatabase"
    report = run_preflight(make_inventory(DB_INVENTORY), plugins=ps, only=["site.test.study_rows"])
    (f,) = report.findings
    assert f.status is Status.PASS and f.values == {"value": 1} and f.evidence[0].kind == "sql"


def test_plugin_database_driver_overrides_the_builtin_of_the_same_kind():
    ps = fresh_plugins(StudyDatabase(SCHEMA))
    assert ps.registry.providers["database"]["sqlite"] == "StudyDatabase"
    report = run_preflight(make_inventory(DB_INVENTORY), plugins=ps, only=["site.test.study_rows"])
    (f,) = report.findings
    assert f.status is Status.PASS and f.values == {"value": 1}


class CsvReporter:
    @hookimpl
    def impax_register_reporters(self, register):
        def write_csv(report, out_dir):
            path = Path(out_dir) / "report.csv"
            rows = ["check_id,target,status"] + [f"{f.check_id},{f.target},{f.status.value}" for f in report.findings]
            path.write_text("\n".join(rows) + "\n", encoding="utf-8")
            return path

        register("csv", write_csv)


def test_hook_impax_register_reporters(tmp_path):
    ps = fresh_plugins(CsvReporter(), FakeTransport())
    assert ps.registry.providers["reporter"]["csv"] == "CsvReporter"
    inv = make_inventory({"hosts": [{"name": "s1", "os": "solaris", "roles": ["archive"], "transport": {"kind": "fake"}}]})
    report = run_preflight(inv, plugins=ps, only=["site.test.uname"])
    written = write_reports(report, tmp_path, ["csv", "json"], plugins=ps)
    assert written["csv"].read_text().splitlines() == ["check_id,target,status", "site.test.uname,s1,pass"]
    assert json.loads(written["json"].read_text())["findings"][0]["check_id"] == "site.test.uname"


class JavaFacts:
    @hookimpl
    def impax_collect_facts(self, host, shell):
        out = shell.run("java -version").stdout
        return {"java_version": out.split('"')[1]} if '"' in out else None

    @hookimpl
    def impax_fact_commands(self, os):
        return ["java -version"]

    @hookimpl
    def impax_register_transports(self, register):
        register("fake", lambda host: FakeShell({"java -version": 'java version "1.8.0_202"\n'}, os=host.os))

    @hookimpl
    def impax_register_checks(self, register):
        register(java_fact)


def test_hook_impax_collect_facts():
    ps = fresh_plugins(JavaFacts())
    inv = make_inventory({"hosts": [{"name": "app1", "os": "windows", "roles": ["application"], "transport": {"kind": "fake"}}]})
    report = run_preflight(inv, plugins=ps, only=["site.test.java_fact"])
    (f,) = report.findings
    assert f.status is Status.PASS and f.values["value"] == "1.8.0_202"


def test_hook_impax_fact_commands():
    from impax_preflight.plan import host_commands as commands_for_host

    ps = fresh_plugins(JavaFacts())
    assert ["java -version"] in [r for _, r in ps.call("impax_fact_commands", os="windows", site=None, host=None)]
    inv = make_inventory({"hosts": [{"name": "app1", "os": "windows", "roles": ["application"], "transport": {"kind": "fake"}}]})
    # a bundle collected for this host must hold the plugin's fact command
    assert "java -version" in commands_for_host(ps, inv, inv.hosts[0])


class Observer:
    def __init__(self):
        self.findings: list = []
        self.reports: list = []
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    @hookimpl
    def impax_finding(self, finding):
        with self._lock:
            self.findings.append(finding)
            self.threads.add(threading.current_thread().name)

    @hookimpl
    def impax_run_finished(self, report):
        self.reports.append(report)


def _observed_run(obs: Observer, waivers=None):
    ps = fresh_plugins(obs, FakeTransport())
    inv = make_inventory({"hosts": [{"name": f"s{i}", "os": "solaris", "roles": ["archive"], "transport": {"kind": "fake"}} for i in range(3)]})
    return run_preflight(inv, plugins=ps, only=["site.test.uname"], waivers=waivers)


def test_hook_impax_finding():
    from impax_preflight.model import Waiver

    obs = Observer()
    report = _observed_run(obs, waivers=[Waiver(match="site.test.uname@s2", reason="test", approved_by="qa")])
    assert sorted(f.target for f in obs.findings) == ["s0", "s1", "s2"]
    # observers see findings as they are produced, after waivers (none apply to a pass) and masking
    assert [f.key for f in sorted(obs.findings, key=lambda f: f.target)] == sorted(f.key for f in report.findings)


def test_hook_impax_run_finished():
    obs = Observer()
    report = _observed_run(obs)
    (seen,) = obs.reports
    assert seen.run_id == report.run_id and seen.verdict == report.verdict and len(seen.findings) == 3


def test_hook_impax_estimate_scans(tmp_path):
    """A vendor's check that reads a whole table tells `plan` what it would read and how long it would take."""
    from impax_preflight.estimate import estimate_databases
    from impax_preflight.plan import build_plan
    from impax_preflight.scans import ScanEstimate

    seen: dict = {}

    class StudyScan:
        @hookimpl
        def impax_estimate_scans(self, check_ids, database, session, sample):
            if "site.test.study_rows" not in check_ids:
                return None
            seen.update(check_ids=check_ids, sample=sample, database=database.name)
            rows = session.query("select count(*) from dosr_study").scalar()  # guarded, read-only
            return [ScanEstimate(table="dosr_study", checks=["site.test.study_rows"], what="count of the studies",
                                 rows=rows, rows_source="count(*)", seconds=rows * 10.0, rate="10 s a row, assumed")]

        @hookimpl
        def impax_register_checks(self, register):
            register(study_rows)

    db = tmp_path / "mvf.db"
    sqlite_session("create table dosr_study (study_ref integer); insert into dosr_study values (1), (2), (3);", db).close()
    inv = make_inventory({"hosts": [{"name": "db1", "os": "linux", "roles": ["database"], "transport": {"kind": "local"},
                                     "databases": [{"name": "mvf", "kind": "sqlite", "path": str(db)}]}]})
    ps = fresh_plugins(StudyScan(), builtin_checks=False)
    plan, _ = build_plan(inv, ps.checks().values())
    (est,) = estimate_databases(ps, inv, plan, sample=False)
    assert seen == {"check_ids": ["site.test.study_rows"], "sample": False, "database": "mvf"}
    (scan,) = est.scans
    assert est.error is None and scan.rows == 3 and est.total_s == 30.0 and est.wall_s == 30.0


def test_hook_impax_register_commands():
    class Commands:
        @hookimpl
        def impax_register_commands(self, cli):
            @cli.command("hello-site")
            @click.argument("name")
            def hello(name):
                """Say hello to a site."""
                click.echo(f"hello {name}")

    ps = fresh_plugins(Commands())
    group = click.Group("impax-preflight")
    ps.pm.hook.impax_register_commands(cli=group)
    result = CliRunner().invoke(group, ["hello-site", "St Elsewhere"])
    assert result.exit_code == 0 and result.output == "hello St Elsewhere\n"
