"""Declarative check files cannot crash, freeze or reach into Python (issue 10, item 5): setting paths
stay on inventory fields, versions are versions, regexes run on RE2 in linear time, numbers and
message templates are bounded; every refusal names the file, the line and the field."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from impax_preflight.cli import cli
from impax_preflight.declarative import CheckSpec, DeclarativeError, build_check, load_declarative_checks
from impax_preflight.model import Status
from impax_preflight.patterns import PatternError, compile_pattern
from impax_preflight.testing import FakeShell, make_inventory, run_check

HOST_CHECK = """\
[[check]]
id = "site.t.output"
title = "t"
severity = "blocker"
target = "host"
command = "cat /etc/motd"
{extra}
"""
SITE_CHECK = """\
id = "site.t.setting"
title = "t"
severity = "warning"
target = "site"
setting = "{setting}"
pass_if = "value == 'x'"
{extra}
"""


def _error(tmp_path: Path, text: str) -> DeclarativeError:
    p = tmp_path / "c.toml"
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    with pytest.raises(DeclarativeError) as ei:
        load_declarative_checks(p)
    assert ei.value.path == str(p)
    assert all(x.startswith(f"{p}:") for x in ei.value.problems), ei.value.problems
    return ei.value


@pytest.mark.parametrize("setting", ["site.__class__.__init__", "site._lines", "host.__dict__", "site.model_dump",
                                     "site.thresholds.model_config", "site.name.upper"])
def test_setting_paths_reach_inventory_fields_only(tmp_path, setting):
    target = "host" if setting.startswith("host.") else "site"
    err = _error(tmp_path, SITE_CHECK.format(setting=setting, extra="").replace('"site"', f'"{target}"', 1))
    assert f":5: setting: setting {setting!r}" in str(err)


def test_setting_paths_that_exist_still_work(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text(SITE_CHECK.format(setting="site.options.custom_check.mode", extra=""), encoding="utf-8")
    (chk,) = load_declarative_checks(p)
    inv = make_inventory(options={"custom_check": {"mode": "x"}})
    (f,) = run_check(chk, inventory=inv)
    assert f.status is Status.PASS


def test_a_spec_built_in_python_still_cannot_reach_attributes(tmp_path):
    # validation skipped on purpose (model_construct): the evaluator refuses on its own
    p = tmp_path / "c.toml"
    p.write_text(SITE_CHECK.format(setting="site.name", extra=""), encoding="utf-8")
    (good,) = load_declarative_checks(p)
    spec = good.func.spec.model_copy(update={"setting": "site.__class__.__init__"})
    (f,) = run_check(build_check(spec), inventory=make_inventory())
    assert f.status is Status.ERROR and "nothing to compare" in f.message
    assert "class" not in str(f.values) and "function" not in str(f.values)


@pytest.mark.parametrize("field", ["min_source_version", "max_source_version"])
def test_version_fields_fail_at_load(tmp_path, field):
    err = _error(tmp_path, SITE_CHECK.format(setting="site.name", extra=f'applies.{field} = "banana"'))
    assert f":7: applies.{field}: 'banana' is not a version" in str(err)
    res = CliRunner().invoke(cli, ["checks", "--checks-dir", str(tmp_path)])
    assert res.exit_code == 3 and "'banana' is not a version" in res.output


def test_catastrophic_regex_runs_in_linear_time(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text(HOST_CHECK.format(extra='must_match = "^(a+)+$"'), encoding="utf-8")
    (chk,) = load_declarative_checks(p)
    shell = FakeShell({"cat /etc/motd": "a" * 200_000 + "!\n"})
    start = time.monotonic()
    (f,) = run_check(chk, inventory=make_inventory(), shell=shell)
    assert time.monotonic() - start < 5  # Python's re took 57 s on far less
    assert f.status is Status.FAIL and "does not match" in f.message
    # ^ and $ still match at every line, as with re.M
    (f,) = run_check(chk, inventory=make_inventory(), shell=FakeShell({"cat /etc/motd": "x\naaa\n"}))
    assert f.status is Status.PASS


@pytest.mark.parametrize("pattern, why", [
    ("(?=x)x", "look-ahead (?=...) is not supported"),
    ("(?<=a)b", "look-behind (?<=...) is not supported"),
    ("(a)\\\\1", "back-references (\\1, \\2...) are not supported"),
    ("(?P<n>a)(?P=n)", "back-references (?P=name) are not supported"),
    ("[", "not a valid regular expression: missing ]"),
])
def test_regexes_re2_cannot_run_are_refused_at_load_with_the_reason(tmp_path, pattern, why):
    for field in ("must_match", "must_not_match", "value_regex"):
        extra = f'{field} = "{pattern}"' + ('\npass_if = "value == 1"' if field == "value_regex" else "")
        err = _error(tmp_path, HOST_CHECK.format(extra=extra))
        assert f"{field}: {why}" in str(err), str(err)


@pytest.mark.parametrize("extra, expected", [
    ('must_match = "x"\nmax_rows = 1000000000', "max_rows: Input should be less than or equal to 100000"),
    ('must_match = "x"\ntimeout_s = inf', "timeout_s: inf is not a finite number"),
    ('must_match = "x"\ntimeout_s = 0', "timeout_s: Input should be greater than 0"),
    ('must_match = "x"\nok_rc = [0, 99999999999]', "ok_rc[1]: Input should be less than or equal to 4294967295"),
    ('pass_if = "value == 1' + "0" * 30 + '"', "the number is too large to compare"),
    ('must_match = "x"\nmessage_fail = "{rows:999999999}"', "format '999999999' in {rows}: only an alignment and a width"),
    ('must_match = "x"\nmessage_fail = "{value.__class__}"', "unknown placeholder {value.__class__}"),
    ('must_match = "x"\ntitle = "' + "t" * 300 + '"', "title: 300 characters is too long"),
])
def test_numbers_and_templates_are_bounded(tmp_path, extra, expected):
    text = HOST_CHECK.format(extra=extra)
    if "\ntitle = " in extra:
        text = text.replace('title = "t"\n', "", 1)
    err = _error(tmp_path, text)
    assert expected in str(err), str(err)


def test_a_check_file_that_is_not_a_table(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(DeclarativeError, match=rf"{p}:1: a check file holds \[\[check\]\] tables"):
        load_declarative_checks(p)


def test_duplicate_ids_name_both_places(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text(HOST_CHECK.format(extra='must_match = "x"') + "\n" + HOST_CHECK.format(extra='must_match = "y"'))
    err = _error(tmp_path, p.read_text())
    assert f"{p}: check id 'site.t.output' is already defined in {p}:2 (again on line 10)" in str(err)


def test_compile_pattern_is_the_one_door():
    assert compile_pattern("(?i)connectivity\\s*manager").search("Agfa Connectivity  Manager 2.2")
    with pytest.raises(PatternError, match="at most 4,096"):
        compile_pattern("a" * 5000)
    with pytest.raises(PatternError, match="a regular expression is text, not list"):
        compile_pattern(["a"])
    assert CheckSpec  # the schema is importable from the package, as documented
