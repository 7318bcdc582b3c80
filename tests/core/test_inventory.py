"""Inventory loading: the shipped examples are valid; bad files name file, line, field and a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from impax_preflight.inventory import InventoryError, load_inventory

ROOT = Path(__file__).resolve().parents[2]
GOOD = """\
[site]
name = "T"
impax_version = "6.3.1"
platform = "AS3000"

[[hosts]]
name = "db1"
os = "solaris"
roles = ["database"]

[[hosts]]
name = "app1"
os = "windows"
roles = ["application"]
transport = { kind = "ssh", user = "u", password = "env:X" }

[[hosts.databases]]
name = "mvf"
kind = "mssql"
"""


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "examples").glob("*.*ml")))
def test_examples_are_valid(name):
    inv = load_inventory(ROOT / "examples" / name)
    assert inv.hosts and inv.site.target_version == "6.5.1"


def _load(tmp_path, text, suffix=".toml"):
    p = tmp_path / f"inv{suffix}"
    p.write_text(text)
    return p, load_inventory(p)


def _error(tmp_path, text, suffix=".toml") -> str:
    p = tmp_path / f"inv{suffix}"
    p.write_text(text)
    with pytest.raises(InventoryError) as ei:
        load_inventory(p)
    return str(ei.value)


def test_good_inventory_and_paths_resolved(tmp_path):
    text = GOOD.replace('roles = ["database"]', 'roles = ["database"]\ntransport = { kind = "bundle", bundle = "b/db1" }')
    _, inv = _load(tmp_path, text)
    assert inv.host("app1").databases[0].kind == "mssql"
    assert inv.host("db1").transport.bundle == str(tmp_path / "b" / "db1")
    assert inv.site.thresholds.tablespace_min_gb == 2.0


def test_unknown_role_names_line_and_choices(tmp_path):
    msg = _error(tmp_path, GOOD.replace('roles = ["application"]', 'roles = ["aplication"]'))
    assert f"{tmp_path / 'inv.toml'}:14:" in msg
    assert "hosts[1].roles[0]" in msg and "'aplication'" in msg and "application" in msg


def test_missing_field(tmp_path):
    msg = _error(tmp_path, GOOD.replace('platform = "AS3000"\n', ""))
    assert ":1:" in msg and "site.platform" in msg and "add this field" in msg


def test_wrong_type(tmp_path):
    msg = _error(tmp_path, GOOD.replace('transport = { kind = "ssh", user = "u", password = "env:X" }',
                                        'transport = { kind = "ssh", user = "u", port = "twenty-two" }'))
    assert ":15:" in msg and "hosts[1].transport.port" in msg and "whole number" in msg


def test_literal_password_refused(tmp_path):
    msg = _error(tmp_path, GOOD.replace('password = "env:X"', 'password = "Secret123!"'))
    assert ":15:" in msg and "literal password is refused" in msg
    assert "Secret123!" not in msg


def test_plain_password_accepted_but_flagged(tmp_path):
    _, inv = _load(tmp_path, GOOD.replace('password = "env:X"', 'password = "plain:Secret123!"'))
    refs = dict(inv.secret_refs())
    assert refs["hosts.app1.transport.password"].is_plain
    assert "Secret123!" not in str(inv.summary())


def test_unknown_field_in_nested_table(tmp_path):
    msg = _error(tmp_path, GOOD + 'tablespace = "MVFL"\n')
    assert ":20:" in msg and "hosts[1].databases[0].tablespace" in msg and "spelling" in msg


def test_toml_syntax_error_has_line(tmp_path):
    msg = _error(tmp_path, GOOD.replace('os = "solaris"', 'os = solaris'))
    assert ":8:" in msg and "TOML syntax error" in msg


def test_yaml_errors_have_lines(tmp_path):
    text = "site:\n  name: T\n  impax_version: '6.3'\n  platform: AS400\nhosts:\n  - name: a\n    os: solaris\n    roles: [database]\n"
    msg = _error(tmp_path, text, ".yaml")
    assert ":4:" in msg and "site.platform" in msg and "'AS400'" in msg
    msg = _error(tmp_path, "site: [unclosed\n", ".yaml")
    assert "YAML syntax error" in msg


def test_duplicate_host_and_unknown_backup_pacs(tmp_path):
    assert "appears twice" in _error(tmp_path, GOOD.replace('name = "app1"', 'name = "db1"'))
    assert "backup_pacs" in _error(tmp_path, GOOD.replace('roles = ["database"]', 'roles = ["database"]\nbackup_pacs = "nope"'))


def test_cli_validate_exit_code_3(tmp_path):
    from click.testing import CliRunner

    from impax_preflight.cli import cli

    p = tmp_path / "bad.toml"
    p.write_text(GOOD.replace('roles = ["application"]', 'roles = ["dba"]'))
    result = CliRunner().invoke(cli, ["validate", str(p)])
    assert result.exit_code == 3
    assert "bad.toml:14" in result.output and "Traceback" not in result.output
    good = tmp_path / "good.toml"
    good.write_text(GOOD)
    result = CliRunner().invoke(cli, ["validate", str(good)])
    assert result.exit_code == 0 and "2 hosts, 1 databases" in result.output


SQL_POLICY = """
[site.sql]
allow_functions = [
  {{ name = "{name}", reason = "{reason}" }},
]
"""


def test_site_may_allow_named_functions_with_a_reason(tmp_path):
    text = GOOD.replace('platform = "AS3000"\n', 'platform = "AS3000"\n' + SQL_POLICY.format(
        name="DBADMIN.Study_Age", reason="reads DOSR_STUDY only; reviewed by J. Doe"))
    _, inv = _load(tmp_path, text)
    (f,) = inv.site.sql.allow_functions
    assert f.name == "dbadmin.study_age" and "J. Doe" in f.reason  # compared in lower case, as the guard does


@pytest.mark.parametrize("name,reason,words", [
    ("query_to_xml", "x", "dynamic SQL"),
    ("pg_catalog.set_config", "x", "changes state"),
    ("sys.dbms_lock.request", "x", "locks"),
    ("xp_cmdshell", "x", "no inventory may allow it"),
    ("x; drop table y", "x", "is not a function name"),
    ("dbadmin.f", " ", "say why this function only reads"),
])
def test_site_function_allowances_are_validated(tmp_path, name, reason, words):
    msg = _error(tmp_path, GOOD.replace('platform = "AS3000"\n', 'platform = "AS3000"\n' + SQL_POLICY.format(name=name, reason=reason)))
    assert "site.sql.allow_functions[0]" in msg and words in msg and f"{tmp_path / 'inv.toml'}:" in msg
