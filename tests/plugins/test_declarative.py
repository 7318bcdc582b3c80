"""Declarative checks: loading, validation errors with file:line, evaluation, and a whole run."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from impax_preflight.declarative import (
    Condition,
    DeclarativeChecks,
    DeclarativeError,
    load_declarative_checks,
)
from impax_preflight.model import Status
from impax_preflight import load_plugins
from impax_preflight import run_preflight
from impax_preflight.testing import FakeShell, make_inventory, run_check, sqlite_session

REPO = Path(__file__).resolve().parents[2]

SCHEMA = """
create table dosr_study (study_uid text);
insert into dosr_study values ('1.2.3'), ('1.2.4');
create table mcf_service_request (requesting_service text);
insert into mcf_service_request values ('RIS'), ('RIS');
create table v_params (name text, value text);
insert into v_params values ('log_mode', 'ARCHIVELOG'), ('pct_used', '42.5');
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def db_inventory(path: str = "/nonexistent.sqlite", kind: str = "sqlite", **db):
    return make_inventory(
        {
            "hosts": [
                {
                    "name": "db1",
                    "os": "solaris",
                    "roles": ["database"],
                    "transport": {"kind": "local"},
                    "databases": [{"name": "impax", "kind": kind, "path": path, **db}],
                }
            ]
        }
    )


def one(checks, cid):
    return next(c for c in checks if c.id == cid)


# ---- the condition language -------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr, measured, expected",
    [
        ("value == 0", 0, True),
        ("count == 0", 3, False),
        ("value <= 90", "89.5", True),
        ("value <= 90", 90.01, False),
        ("rows >= 2", 2, True),
        ("value == 'ARCHIVELOG'", "ARCHIVELOG ", True),
        ("value != 'ARCHIVELOG'", "ARCHIVELOG", False),
        ("value >= '6.3'", "6.10.1", True),  # as versions, not strings
        ("value < '6.3'", "6.2.1", True),
    ],
)
def test_condition_semantics(expr, measured, expected):
    assert Condition.parse(expr).holds(measured) is expected


def test_condition_refuses_what_it_cannot_compare():
    with pytest.raises(ValueError, match="not a number"):
        Condition.parse("value <= 90").holds("many")
    with pytest.raises(ValueError, match="nothing to compare"):
        Condition.parse("value == 0").holds(None)
    with pytest.raises(ValueError, match="cannot read pass_if"):
        Condition.parse("value = 0")


# ---- evaluation on a real read-only SQLite session -------------------------------------------


def test_sql_count_check_fails_then_passes(tmp_path):
    f = write(
        tmp_path,
        "c.toml",
        """
        [[check]]
        id = "site.acme.null_study_uid"
        title = "Every study has a UID"
        severity = "blocker"
        target = "database"
        sql = "select count(*) from dosr_study where study_uid is null"
        pass_if = "count == 0"
        remediation = "Contact Agfa support."
        guide = "Checking the integrity of database data"
        """,
    )
    (chk,) = load_declarative_checks(f)
    inv = db_inventory()
    (ok,) = run_check(chk, inventory=inv, sql=sqlite_session(SCHEMA))
    assert ok.status is Status.PASS and ok.values["value"] == 0
    assert ok.evidence[0].kind == "sql" and "dosr_study" in ok.evidence[0].source
    (bad,) = run_check(chk, inventory=inv, sql=sqlite_session(SCHEMA + "insert into dosr_study values (null);"))
    assert bad.status is Status.FAIL  # blocker -> fail
    assert bad.values == {"value": 1, "rows": 1}
    assert "count == 0 is not met (count = 1)" in bad.message
    assert bad.remediation == "Contact Agfa support." and bad.guide == "Checking the integrity of database data"


def test_per_dialect_sql_allowed_values_and_on_fail(tmp_path):
    f = write(
        tmp_path,
        "c.toml",
        """
        [[check]]
        id = "site.acme.report_source"
        title = "One report source"
        severity = "blocker"
        on_fail = "warn"
        target = "database"
        allowed = ["RIS"]
        pass_if = "rows >= 1"
        [check.sql]
        oracle = "select distinct requesting_service from mcf_service_request where rownum < 100"
        sqlite = "select distinct requesting_service from mcf_service_request"
        """,
    )
    (chk,) = load_declarative_checks(f)
    (ok,) = run_check(chk, inventory=db_inventory(), sql=sqlite_session(SCHEMA))
    assert ok.status is Status.PASS, ok.message
    (bad,) = run_check(
        chk, inventory=db_inventory(), sql=sqlite_session(SCHEMA + "insert into mcf_service_request values ('EPR');")
    )
    assert bad.status is Status.WARN  # on_fail = warn overrides the blocker default
    assert bad.values["unexpected"] == ["EPR"] and "'EPR'" in bad.message


def test_text_value_and_numeric_value(tmp_path):
    f = write(
        tmp_path,
        "c.toml",
        """
        [[check]]
        id = "site.acme.log_mode"
        title = "Archive log mode"
        severity = "warning"
        target = "database"
        sql = "select value from v_params where name = 'log_mode'"
        pass_if = "value == 'ARCHIVELOG'"
        message_fail = "log mode is {value}"

        [[check]]
        id = "site.acme.pct"
        title = "Percent used"
        severity = "info"
        target = "database"
        sql = "select value from v_params where name = 'pct_used'"
        pass_if = "value <= 40"
        """,
    )
    checks = load_declarative_checks(f)
    (ok,) = run_check(one(checks, "site.acme.log_mode"), inventory=db_inventory(), sql=sqlite_session(SCHEMA))
    assert ok.status is Status.PASS
    (w,) = run_check(one(checks, "site.acme.pct"), inventory=db_inventory(), sql=sqlite_session(SCHEMA))
    assert w.status is Status.WARN and w.values["value"] == "42.5"
    noarch = SCHEMA.replace("'ARCHIVELOG'", "'NOARCHIVELOG'")
    (bad,) = run_check(one(checks, "site.acme.log_mode"), inventory=db_inventory(), sql=sqlite_session(noarch))
    assert bad.status is Status.WARN and bad.message.startswith("log mode is NOARCHIVELOG")


def test_missing_table_is_an_error_not_a_pass(tmp_path):
    f = write(
        tmp_path,
        "c.toml",
        """
        id = "site.acme.missing"
        title = "Reads a table that is not there"
        severity = "blocker"
        target = "database"
        sql = "select count(*) from no_such_table"
        pass_if = "value == 0"
        """,
    )
    (chk,) = load_declarative_checks(f)  # a file that is itself one check
    (f1,) = run_check(chk, inventory=db_inventory(), sql=sqlite_session(SCHEMA))
    assert f1.status is Status.ERROR and "no_such_table" in f1.message


def test_no_row_cannot_pass(tmp_path):
    f = write(
        tmp_path,
        "c.toml",
        """
        id = "site.acme.none"
        title = "Value of a parameter that is absent"
        severity = "warning"
        target = "database"
        sql = "select value from v_params where name = 'absent'"
        pass_if = "value <= 90"
        """,
    )
    (chk,) = load_declarative_checks(f)
    (f1,) = run_check(chk, inventory=db_inventory(), sql=sqlite_session(SCHEMA))
    assert f1.status is Status.ERROR and "nothing to compare" in f1.message


def test_command_check_per_os_regex_value_and_rc(tmp_path):
    f = write(
        tmp_path,
        "c.toml",
        """
        [[check]]
        id = "site.acme.var_used"
        title = "/var below 90 %"
        severity = "warning"
        target = "host"
        command.solaris = "df -k /var"
        command.windows = "wmic logicaldisk get freespace"
        value_regex = '(\\d+)%'
        pass_if = "value <= 90"

        [[check]]
        id = "site.acme.service_online"
        title = "Service online"
        severity = "blocker"
        target = "host"
        command = "svcs -H svc:/site/impax:default"
        must_match = '^online'
        applies.os = ["solaris"]
        """,
    )
    checks = load_declarative_checks(f)
    used = one(checks, "site.acme.var_used")
    assert used.commands == {"solaris": ("df -k /var",), "windows": ("wmic logicaldisk get freespace",)}
    df = "Filesystem kbytes used avail capacity Mounted on\nrpool/var 100 95 5 95% /var\n"
    (w,) = run_check(used, shell=FakeShell({"df -k /var": df}))
    assert w.status is Status.WARN and w.values["value"] == "95"
    assert w.evidence[0].source == "df -k /var"
    (err,) = run_check(used, shell=FakeShell({"df -k /var": (2, "", "df: /var: not found")}))
    assert err.status is Status.ERROR and "rc 2" in err.message and "not found" in err.message

    svc = one(checks, "site.acme.service_online")
    assert svc.commands == {"*": ("svcs -H svc:/site/impax:default",)}
    (ok,) = run_check(svc, shell=FakeShell({"svcs -H svc:/site/impax:default": "online  12:00:01 svc:/site/impax:default\n"}))
    assert ok.status is Status.PASS
    (bad,) = run_check(svc, shell=FakeShell({"svcs -H svc:/site/impax:default": "maintenance 12:00 svc:/site/impax:default\n"}))
    assert bad.status is Status.FAIL


def test_fact_and_setting_checks(tmp_path):
    f = write(
        tmp_path,
        "c.toml",
        """
        [[check]]
        id = "site.acme.java"
        title = "Java 8 on the host"
        severity = "warning"
        target = "host"
        fact = "java_version"
        pass_if = "value >= '1.8'"

        [[check]]
        id = "site.acme.cm_version"
        title = "CM version declared"
        severity = "blocker"
        target = "site"
        setting = "site.features.connectivity_manager"
        pass_if = "value >= '2.2.1'"
        """,
    )
    checks = load_declarative_checks(f)
    (ok,) = run_check(one(checks, "site.acme.java"), facts={"java_version": "1.8.0_202"})
    assert ok.status is Status.PASS
    (unknown,) = run_check(one(checks, "site.acme.java"), facts={})
    assert unknown.status is Status.ERROR and "java_version" in unknown.message
    inv = make_inventory(features={"connectivity_manager": "2.1"})
    (old,) = run_check(one(checks, "site.acme.cm_version"), inventory=inv)
    assert old.status is Status.FAIL and old.values["value"] == "2.1"
    (none,) = run_check(one(checks, "site.acme.cm_version"), inventory=make_inventory())
    assert none.status is Status.ERROR  # not declared: unverified, never a pass


# ---- validation: file, line and field --------------------------------------------------------


def test_malformed_file_names_file_line_and_field(tmp_path):
    f = write(
        tmp_path,
        "bad.toml",
        """
        [[check]]
        id = "site.acme.ok"
        title = "fine"
        severity = "blocker"
        target = "database"
        sql = "select 1"
        pass_if = "value == 1"

        [[check]]
        id = "site.acme.bad"
        title = "broken"
        severity = "critical"
        target = "database"
        sql = "delete from dosr_study"
        pass_if = "value = 0"
        colour = "red"
        """,
    )
    with pytest.raises(DeclarativeError) as ei:
        load_declarative_checks(f)
    problems = ei.value.problems
    text = str(ei.value)
    assert f"{f}:13: check[1].severity: 'critical' is not allowed" in text
    assert f"{f}:15: check[1].sql" in text and "DELETE is not a read-only query" in text
    assert f"{f}:16: check[1].pass_if" in text
    assert f"{f}:17: check[1].colour" in text and "unknown field" in text
    assert len(problems) == 4


def test_syntax_error_missing_condition_wrong_target_and_duplicates(tmp_path):
    syntax = write(tmp_path, "a.toml", 'id = "x.y"\ntitle = \n')
    with pytest.raises(DeclarativeError, match=rf"{syntax}:2: TOML syntax error"):
        load_declarative_checks(syntax)

    d = tmp_path / "dir"
    d.mkdir()
    write(
        d,
        "one.toml",
        """
        [[check]]
        id = "site.acme.twice"
        title = "t"
        severity = "info"
        target = "host"
        sql = "select 1"
        """,
    )
    write(
        d,
        "two.toml",
        """
        [[check]]
        id = "site.acme.twice"
        title = "t"
        severity = "info"
        target = "database"
        sql = "select 1"
        pass_if = "value == 1"

        [[check]]
        id = "site.acme.twice"
        title = "t"
        severity = "info"
        target = "database"
        sql = "select 1"
        pass_if = "value == 1"
        """,
    )
    with pytest.raises(DeclarativeError) as ei:
        load_declarative_checks(d)
    text = str(ei.value)
    assert f"{d / 'one.toml'}:2: check[0]" in text and 'sql needs target = "database"' in text
    assert "give a pass condition" in text
    assert f"{d / 'two.toml'}: check id 'site.acme.twice' is already defined in {d / 'two.toml'}" in text

    with pytest.raises(DeclarativeError, match="no such check file or folder"):
        load_declarative_checks(tmp_path / "nope")


def test_bad_id_and_bad_template(tmp_path):
    f = write(
        tmp_path,
        "c.toml",
        """
        id = "Bad Id"
        title = "t"
        severity = "info"
        target = "database"
        sql = "select 1"
        pass_if = "value == 1"
        message_fail = "got {valeu}"
        """,
    )
    with pytest.raises(DeclarativeError) as ei:
        load_declarative_checks(f)
    assert f"{f}:2: id: check id 'Bad Id'" in str(ei.value)
    assert f"{f}:8: message_fail" in str(ei.value) and "valeu" in str(ei.value)


# ---- through the plugin manager and the runner -------------------------------------------------


def test_checks_dir_checks_appear_in_registry_and_run(tmp_path):
    d = tmp_path / "checks"
    d.mkdir()
    write(
        d,
        "study.toml",
        """
        [[check]]
        id = "site.acme.null_study_uid"
        title = "Every study has a UID"
        severity = "blocker"
        target = "database"
        sql = "select count(*) from dosr_study where study_uid is null"
        pass_if = "value == 0"

        [[check]]
        id = "site.acme.mssql_only"
        title = "SQL Server only"
        severity = "warning"
        target = "database"
        sql.tsql = "select count(*) from sys.databases"
        pass_if = "value >= 1"
        """,
    )
    ps = load_plugins(entry_points=False, checks_dirs=[d])
    assert ps.registry.check_providers["site.acme.null_study_uid"] == "checks-dir"
    info = next(p for p in ps.plugins if p.name == "checks-dir")
    assert info.checks == ["site.acme.mssql_only", "site.acme.null_study_uid"]
    assert "impax_register_checks" in info.hooks

    db = sqlite_session(SCHEMA + "insert into dosr_study values (null);")
    inv = db_inventory(str(db.path))
    db.close()
    report = run_preflight(inv, plugins=ps, only=["site.acme.*"], out_dir=tmp_path / "out")
    (f,) = [f for f in report.findings if f.check_id == "site.acme.null_study_uid"]
    assert f.status is Status.FAIL and f.provider == "checks-dir" and f.target == "db1/impax"
    assert report.verdict.value == "NO_GO"
    nr = [n for n in report.not_run if n.check_id == "site.acme.mssql_only"]
    assert nr and "no SQL for dialect sqlite" in nr[0].reason
    lines = (tmp_path / "out" / "results.jsonl").read_text().splitlines()
    assert any(json.loads(ln)["check_id"] == "site.acme.null_study_uid" for ln in lines)


def test_declarative_check_colliding_with_another_provider_is_refused(tmp_path):
    from impax_preflight.plugins import PluginError

    d = tmp_path / "c"
    d.mkdir()
    body = """
        id = "site.acme.same"
        title = "t"
        severity = "info"
        target = "site"
        setting = "site.platform"
        allowed = ["AS3000"]
        """
    write(d, "c.toml", body)
    other = DeclarativeChecks([d])
    with pytest.raises(PluginError, match="duplicate check id 'site.acme.same'"):
        load_plugins(entry_points=False, extra_plugins=[other], checks_dirs=[d])


def test_examples_folder_loads_and_every_example_is_exercised():
    checks = {c.id: c for c in load_declarative_checks(REPO / "examples" / "checks")}
    assert set(checks) == {
        "site.example.unverified_map_jobs",
        "site.example.report_source",
        "site.example.fault_free",
        "site.example.cm_declared",
    }
    mcf = sqlite_session("create table map_job (originating_user_id text); insert into map_job values ('u1'), (null);"
                         "create table mcf_service_request (requesting_service text); insert into mcf_service_request values ('RIS');")
    inv = db_inventory()
    (jobs,) = run_check(checks["site.example.unverified_map_jobs"], inventory=inv, sql=mcf)
    assert jobs.status is Status.FAIL and jobs.values["value"] == 1
    (src,) = run_check(checks["site.example.report_source"], inventory=inv, sql=mcf)
    assert src.status is Status.PASS
    (faults,) = run_check(checks["site.example.fault_free"], shell=FakeShell({"fmadm faulty": ""}))
    assert faults.status is Status.PASS
    (cm,) = run_check(checks["site.example.cm_declared"], inventory=make_inventory(features={"connectivity_manager": "2.0"}))
    assert cm.status is Status.WARN and cm.message.startswith("Connectivity Manager 2.0 declared")


def test_pass_if_is_parsed_once_and_unknown_table_keys_are_refused(tmp_path, monkeypatch):
    calls = []
    real = Condition.parse.__func__

    def counting(cls, text):
        calls.append(text)
        return real(cls, text)

    monkeypatch.setattr(Condition, "parse", classmethod(counting))
    f = write(tmp_path, "c.toml", """
        id = "site.acme.rc"
        title = "rc"
        severity = "warning"
        target = "host"
        command = "true"
        pass_if = "rc == 0"
        """)
    (chk,) = load_declarative_checks(f)
    (finding,) = run_check(chk, shell=FakeShell({"true": (0, "")}))
    assert finding.status is Status.PASS
    assert calls == ["rc == 0"]  # validated, checked for coherence and evaluated from one parse
    for field, bad, what in (("sql", '{ db2 = "select 1" }', "unknown SQL dialect key(s) db2"),
                             ("command", '{ aix = "true" }', "unknown OS key(s) aix")):
        target = "database" if field == "sql" else "host"
        g = write(tmp_path, f"{field}.toml", f"""
            id = "site.acme.x"
            title = "x"
            severity = "warning"
            target = "{target}"
            {field} = {bad}
            pass_if = "value == 0"
            """)
        with pytest.raises(DeclarativeError, match=re.escape(what)):
            load_declarative_checks(g)
