"""Bad input files get a clear error and never crash the tool (issue 10, item 5): inventories (TOML
and YAML), waivers and report.json; each case below was a traceback, a hang or silently accepted."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from impax_preflight.cli import cli
from impax_preflight.documents import MAX_DOCUMENT_BYTES, DocumentError, read_document
from impax_preflight.inventory import InventoryError, connection_problems, load_inventory
from impax_preflight.report.json import ReportFileError, read_report_file
from impax_preflight.testing import make_inventory
from impax_preflight.waivers import WaiverError, load_waivers

ROOT = Path(__file__).resolve().parents[2]
INV = """\
[site]
name = "T"
impax_version = "6.3.1"
platform = "AS3000"

[site.thresholds]
backup_max_age_hours = 24

[[hosts]]
name = "db1"
os = "solaris"
roles = ["database"]
transport = { kind = "ssh", user = "mvf" }
"""


def _inventory_error(tmp_path, text: str, suffix: str = ".toml") -> InventoryError:
    p = tmp_path / f"inv{suffix}"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(InventoryError) as ei:
        load_inventory(p)
    assert ei.value.path == str(p)
    for problem in ei.value.problems:
        assert problem.startswith(f"{p}:"), problem
    return ei.value


def _validate(path) -> tuple[int, str]:
    res = CliRunner().invoke(cli, ["validate", str(path)])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert "Traceback" not in res.output
    return res.exit_code, res.output


# ---- what the parsers raise on their own --------------------------------------------------------------


def test_deep_nesting_huge_integers_and_non_finite_numbers_name_the_line(tmp_path):
    deep = _inventory_error(tmp_path, INV + "\n[site.options.x]\ny = " + "[" * 3000 + "]" * 3000 + "\n")
    assert ":16: nested more than 32 levels deep" in str(deep)
    nested33 = _inventory_error(tmp_path, INV + "\n[site.options.x]\ny = " + "[" * 33 + "]" * 33 + "\n")
    assert ":16: site.options.x.y" in str(nested33) and "nested more than 32" in str(nested33)
    huge = _inventory_error(tmp_path, INV.replace("= 24", "= " + "9" * 5000))
    assert ":7: a number with more than 4,300 digits" in str(huge)
    big = _inventory_error(tmp_path, INV.replace("= 24", "= " + "9" * 30))
    assert ":7: site.thresholds.backup_max_age_hours: the number is too large" in str(big)
    for value in ("inf", "nan", "-inf"):
        err = _inventory_error(tmp_path, INV.replace("backup_max_age_hours = 24", f"check_timeout_s = {value}"))
        assert ":7: site.thresholds.check_timeout_s:" in str(err) and "not a finite number" in str(err)


def test_toml_duplicates_long_keys_long_text_size_and_encoding(tmp_path):
    dup = _inventory_error(tmp_path, INV.replace("= 24", "= 24\nbackup_max_age_hours = 25"))
    assert ":8: TOML syntax error" in str(dup) and "defined twice" in str(dup)
    key = _inventory_error(tmp_path, INV + '\n[site.options."' + "k" * 300 + '"]\na = 1\n')
    assert ":15: site.options.kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...(300 characters): a key of 300 characters" in str(key)
    text = _inventory_error(tmp_path, INV.replace('name = "T"', 'name = "' + "n" * 70_000 + '"'))
    assert ":2: site.name: 70,000 characters of text" in str(text)
    name = _inventory_error(tmp_path, INV.replace('name = "T"', 'name = "' + "n" * 300 + '"'))
    assert "site.name: 300 characters is too long: a name is at most 255 characters" in str(name)
    p = tmp_path / "big.toml"
    p.write_bytes(INV.encode() + b"#" * MAX_DOCUMENT_BYTES)
    with pytest.raises(InventoryError, match="too large for inventory"):
        load_inventory(p)
    p.write_bytes(INV.encode().replace(b'"T"', b'"\xff"'))
    with pytest.raises(InventoryError, match=rf"{p}:2: not UTF-8 text"):
        load_inventory(p)
    p.write_bytes(b"\xef\xbb\xbf" + INV.encode())  # a byte-order mark, as Notepad writes it
    assert load_inventory(p).site.name == "T"


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "inv.toml"
    os.mkfifo(fifo)
    start = time.monotonic()
    with pytest.raises(InventoryError, match="not a regular file"):
        load_inventory(fifo)
    assert time.monotonic() - start < 5


def test_multi_line_strings_do_not_move_the_lines(tmp_path):
    text = INV.replace('name = "T"', 'name = "T"\nnote = """\n[hosts]\nname = 1\n"""')
    err = _inventory_error(tmp_path, text)
    assert ":3: site.note" in str(err)  # not line 4, where the text inside the string looks like a table


# ---- YAML ----------------------------------------------------------------------------------------------

YAML = """\
site:
  name: T
  impax_version: "6.3.1"
  platform: AS3000
hosts:
  - name: db1
    os: solaris
    roles: [database]
"""


def test_yaml_alias_bomb_is_refused_at_once(tmp_path):
    bomb = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    bomb += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 12)]
    start = time.monotonic()
    err = _inventory_error(tmp_path, YAML + "\n".join(bomb) + "\n", ".yaml")
    assert time.monotonic() - start < 2
    assert ":10: a1[0]: YAML aliases (*name) are not accepted" in str(err)


def test_yaml_duplicate_keys_dates_numbers_and_tags(tmp_path):
    dup = _inventory_error(tmp_path, YAML.replace("  platform: AS3000", "  platform: AS3000\n  name: U"), ".yaml")
    assert ":5: site.name: the key appears twice (first on line 2)" in str(dup)
    flow = _inventory_error(tmp_path, YAML.replace("roles: [database]", "roles: [database]\n    transport: {kind: ssh, kind: local}"), ".yaml")
    assert ":9: hosts[0].transport.kind: the key appears twice" in str(flow)
    date = _inventory_error(tmp_path, YAML + "  upgrade_date: 2026-02-30\n".replace("  up", "up"), ".yaml")
    assert "'2026-02-30' cannot be read: day is out of range" in str(date)
    huge = _inventory_error(tmp_path, YAML.replace('"6.3.1"', "9" * 5000), ".yaml")
    assert ":3: YAML value" in str(huge) and "more than 4,300 digits" in str(huge)
    for tag in ("!!python/object/apply:os.system ['true']", "!!binary 'notbase64!!'"):
        err = _inventory_error(tmp_path, YAML.replace("name: T", f"name: {tag}"), ".yaml")
        assert ":2: YAML syntax error" in str(err)
    deep = _inventory_error(tmp_path, YAML + "x: " + "[" * 40 + "]" * 40 + "\n", ".yaml")
    assert ":9: nested more than 32 levels deep" in str(deep)
    inf = _inventory_error(tmp_path, YAML + "  thresholds: {check_timeout_s: .inf}\n".replace("  th", "th"), ".yaml")
    assert "not a finite number" in str(inf)


# ---- values in range -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-1", "86401", "true", '"forever"'])
def test_timeouts_are_finite_positive_and_at_most_a_day(tmp_path, value):
    for field in ("check_timeout_s", "command_timeout_s", "statement_timeout_s"):
        err = _inventory_error(tmp_path, INV.replace("backup_max_age_hours = 24", f"{field} = {value}"))
        assert f":7: site.thresholds.{field}:" in str(err)
    err = _inventory_error(tmp_path, INV.replace('user = "mvf" }', f'user = "mvf", connect_timeout_s = {value} }}'))
    assert ":13: hosts[0].transport.connect_timeout_s" in str(err)


@pytest.mark.parametrize("value", ["0", "-5", "1e30", "65536", "true", "22.5"])
def test_ports_are_1_to_65535_everywhere(value):
    from pydantic import ValidationError

    host = {"name": "db1", "os": "solaris", "roles": ["database"]}
    places = {
        "transport": {"hosts": [{**host, "transport": {"kind": "ssh", "port": value}}]},
        "database": {"hosts": [{**host, "databases": [{"name": "m", "kind": "mssql", "port": value}]}]},
        "dicom": {"hosts": [{**host, "aes": [{"ae_title": "ARCH", "port": value}]}]},
        "mail": {"site": {"name": "T", "impax_version": "6.3.1", "platform": "AS3000",
                          "notify": {"mail": {"to": ["a@b.c"], "from": "x@y.z", "server": "smtp", "port": value}}}},
    }
    parsed = json.loads(value) if value != "1e30" else 1e30
    for where, data in places.items():
        with pytest.raises(ValidationError, match="port") as ei:
            make_inventory(json.loads(json.dumps(data).replace(f'"{value}"', json.dumps(parsed))))
        assert "1 to 65535" in str(ei.value), where


def test_percentages_sizes_sessions_and_booleans(tmp_path):
    for line, field in (("disk_warn_pct = 101", "disk_warn_pct"), ("fra_max_used_pct = -1", "fra_max_used_pct"),
                        ("tablespace_min_gb = -2", "tablespace_min_gb"), ("sessions_per_host = 0", "sessions_per_host"),
                        ("sessions_per_database = 17", "sessions_per_database"), ("disk_fail_pct = true", "disk_fail_pct"),
                        ("sessions_per_host = 2.5", "sessions_per_host")):
        err = _inventory_error(tmp_path, INV.replace("backup_max_age_hours = 24", line))
        assert f":7: site.thresholds.{field}:" in str(err), line


def test_infinite_timeout_cannot_reach_a_run():
    from impax_preflight import load_plugins, run_preflight

    with pytest.raises(ValueError, match="at most 86400"):
        run_preflight(make_inventory(), plugins=load_plugins(entry_points=False, builtin_checks=False),
                      check_timeout_s=float("inf"))


def test_a_path_longer_than_a_file_name_is_an_error_not_a_traceback(tmp_path):
    """A key_file (or known_hosts, bundle, SQLite path) with a component over 255 bytes made
    `validate` crash with OSError: File name too long (from Path.is_file)."""
    long = INV.replace('user = "mvf" }', f'user = "mvf", key_file = "{"k" * 300}" }}')
    p = tmp_path / "inv.toml"
    p.write_text(long)
    code, out = _validate(p)
    assert code == 3 and f"{p}:13: hosts[0].transport.key_file: the path has a component of 300 bytes" in out
    nouser = INV.replace('user = "mvf" }', 'user = "mvf", known_hosts = "~nosuchuser_xyz/kh" }')
    p.write_text(nouser)
    code, out = _validate(p)
    assert code == 3 and "there is no user 'nosuchuser_xyz' on this machine" in out
    # and whatever reaches connection_problems through the API, it answers instead of raising
    inv = make_inventory({"hosts": [{"name": "h", "os": "solaris", "roles": ["database"],
                                     "transport": {"kind": "ssh", "user": "u", "password": "file:/" + "x" * 300}}]})
    assert any("does not exist" in p for p in connection_problems(inv))


def test_validate_catches_what_a_run_would_reject(tmp_path):
    cases = {
        'jump = "ops@bastion:99999"': "hosts[0].transport.jump: jump host 'ops@bastion:99999': the port",
        'jump = "ops@[fe80::1"': "is not of the form user@host[:port]",
        'privilege = "sudo -s"': "hosts[0].transport.privilege: 'sudo -s' is not a privilege prefix",
    }
    p = tmp_path / "inv.toml"
    for setting, expected in cases.items():
        p.write_text(INV.replace('user = "mvf" }', f'user = "mvf", {setting} }}'))
        code, out = _validate(p)
        assert code == 3 and f"{p}:13: " in out and expected in out, out
    db = INV + '\n[[hosts.databases]]\nname = "m"\nkind = "odbc"\ndsn = "D"\nodbc_options = { PWD = "secret" }\n'
    p.write_text(db)
    code, out = _validate(p)
    assert code == 3 and f"{p}:19: hosts[0].databases[0].odbc_options: PWD may not be set in odbc_options" in out
    p.write_text(db.replace("PWD", '"Bad;Key"'))
    assert "is not an ODBC connection keyword" in _validate(p)[1]
    p.write_text(db.replace('PWD = "secret"', 'LoginTimeout = "soon"'))
    assert "LoginTimeout 'soon' is not a number of seconds" in _validate(p)[1]
    for field, value in (("target_version", "banana"), ("features.talkstation", "banana")):
        table, _, key = field.rpartition(".")
        text = INV.replace('platform = "AS3000"', f'platform = "AS3000"\n{key} = "{value}"' if not table else
                           'platform = "AS3000"\n\n[site.features]\ntalkstation = "banana"')
        p.write_text(text)
        code, out = _validate(p)
        assert code == 3 and "'banana' is not a version" in out, field
    p.write_text(INV.replace('platform = "AS3000"', 'platform = "AS3000"\n\n[site.software_patterns]\ncm = "(?<!old )CM"'))
    code, out = _validate(p)
    assert code == 3 and f"{p}:7: site.software_patterns.cm: negative look-behind (?<!...) is not supported" in out


def test_an_unreadable_installed_version_is_listed_not_refused(tmp_path):
    # the source-version check turns it into an error finding (no GO); validate says so up front
    p = tmp_path / "inv.toml"
    p.write_text(INV.replace('"6.3.1"', '"unknown"'))
    code, out = _validate(p)
    assert code == 0 and "site.impax_version: 'unknown' is not a version" in out


def test_check_settings_are_typed_where_the_check_declares_them(tmp_path):
    p = tmp_path / "inv.toml"
    p.write_text(INV + """
[site.options."os.disk_space"]
exclude_mounts = ["^/cdrom", "(a)\\\\1"]

[site.options."os.windows.services"]
service_patern = "IMPAX"

[site.options."interlock.relay"]
relay_port = 0
config_path = 'C:\\relay" & del C:\\x'

[site.options."archive.study_status"]
mode = "toolz"

[site.options."oracle.tablespace_free"]
tablespaces = ["MVFL", "MVF; drop"]

[site.options."my.own.plugin"]
anything = { goes = [1, 2] }
""")
    code, out = _validate(p)
    assert code == 3
    assert f'{p}:16: site.options."os.disk_space".exclude_mounts: [1]: back-references' in out
    assert f"{p}:19: site.options.\"os.windows.services\".service_patern: os.windows.services has no setting " \
           "'service_patern'; its settings: service_pattern" in out
    assert f'{p}:22: site.options."interlock.relay".relay_port: 0 is out of range' in out
    assert f'{p}:23: site.options."interlock.relay".config_path: the path contains " &' in out
    assert f"{p}:26: site.options.\"archive.study_status\".mode: 'toolz' is not allowed; expected 'query' or 'tool'" in out
    assert f'{p}:29: site.options."oracle.tablespace_free".tablespaces:' in out and "MVF; drop" in out
    assert "my.own.plugin" not in out  # a check that declares nothing is not checked
    # run refuses the same before anything connects
    res = CliRunner().invoke(cli, ["run", str(p), "-o", str(tmp_path / "out"), "--no-progress", "--no-history"])
    assert res.exit_code == 3 and "service_patern" in res.output


# ---- waivers -------------------------------------------------------------------------------------------


def test_waiver_errors_carry_the_file_and_lines(tmp_path):
    p = tmp_path / "w.toml"
    p.write_text('[[waiver]]\nmatch = "os.disk_space@db1*"\nreason = "r"\napproved_by = "me"\nexpires = "2026-02-30"\n')
    with pytest.raises(WaiverError) as ei:
        load_waivers(p)
    assert ei.value.path == str(p) and ei.value.problems == [
        f"{p}:5: waiver[0].expires: '2026-02-30' is not a date (hint: write the day the waiver ends as YYYY-MM-DD, "
        'e.g. "2026-12-31")']
    p.write_text('[[waiver]]\nmatch = "os.disk_space@db1*"\nreason = "r"\napproved_by = "me"\nexpires = 2026-12-31\n')
    assert load_waivers(p)[0].expires == "2026-12-31"  # a TOML date is a date
    p.write_text('[[waiver]]\nmatch = "' + "x" * 300 + '"\nreason = "r"\napproved_by = "me"\n')
    with pytest.raises(WaiverError, match=rf"{p}:2: waiver\[0\].match: 300 characters is too long"):
        load_waivers(p)
    p.write_text("[[waiver]]\n" + "x = " + "[" * 2000 + "]" * 2000 + "\n")
    with pytest.raises(WaiverError, match=rf"{p}:2: nested more than 32 levels deep"):
        load_waivers(p)


# ---- report.json ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report_json(tmp_path_factory) -> str:
    import inputfuzz

    return inputfuzz.demo_report_json(tmp_path_factory.mktemp("demo"))


def test_report_json_numbers_nesting_and_fields_name_the_line(tmp_path, report_json):
    data = json.loads(report_json)
    data["findings"][1]["severity"] = "critical"
    text = json.dumps(data, indent=2)
    line = text.splitlines().index(next(x for x in text.splitlines() if '"critical"' in x)) + 1
    cases = {
        "field": (text, f":{line}: findings[1].severity: Input should be 'blocker', 'warning' or 'info'"),
        "nan": (report_json.replace('"duration_s": ', '"duration_s": NaN, "x": ', 1), "NaN is not a number a report holds"),
        "inf": (report_json.replace('"duration_s": ', '"duration_s": 1e999, "x": ', 1), "1e999 is not a number"),
        "big": (report_json.replace('"duration_s": ', '"duration_s": 1' + "0" * 40 + ', "x": ', 1), "a number of 41 digits"),
        "deep": (report_json.replace('"values": {', '"values": {"d": ' + "[" * 5000 + "]" * 5000 + ",", 1),
                 "nested too deeply to be a report.json"),
        "syntax": (report_json[:2000], "not valid JSON"),
    }
    for name, (content, expected) in cases.items():
        p = tmp_path / f"{name}.json"
        p.write_text(content, encoding="utf-8")
        with pytest.raises(ReportFileError) as ei:
            read_report_file(p)
        assert ei.value.path == str(p) and expected in str(ei.value), (name, str(ei.value))
        assert all(x.startswith(f"{p}:") and x.split(":")[1].isdigit() for x in ei.value.problems), ei.value.problems
        res = CliRunner().invoke(cli, ["diff", str(p), str(p)])
        assert res.exit_code == 3 and expected in res.output and "Traceback" not in res.output


# ---- documents ------------------------------------------------------------------------------------------


def test_read_document_gives_lines_for_every_field(tmp_path):
    p = tmp_path / "d.toml"
    p.write_text('[a]\nb = 1\n[a."c.d"]\ne = 2\n[[f]]\ng = 3\n[[f]]\ng = 4\n')
    data, lines = read_document(p, "test")
    assert data == {"a": {"b": 1, "c.d": {"e": 2}}, "f": [{"g": 3}, {"g": 4}]}
    assert lines[("a", "c.d", "e")] == 4 and lines[("f", 1, "g")] == 8
    q = tmp_path / "d.yaml"
    q.write_text("- 1\n- 2\n")
    assert read_document(q, "test")[0] == [1, 2]
    with pytest.raises(DocumentError, match="cannot read test"):
        read_document(tmp_path / ("x" * 300 + ".toml"), "test")


def test_a_report_time_without_a_time_zone_is_read_as_utc(tmp_path, report_json):
    """`report` merged a hand-edited report.json (a naive time) with a run's: TypeError, traceback."""
    data = json.loads(report_json)
    data.update(run_id="edited", started_at="2026-11-30T00:00:00", finished_at="2026-11-30T00:00:05")
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(data), encoding="utf-8")
    original = tmp_path / "run.json"
    original.write_text(report_json, encoding="utf-8")
    assert read_report_file(edited).started_at.tzinfo is not None
    res = CliRunner().invoke(cli, ["report", str(original), str(edited), "-o", str(tmp_path / "out"), "--no-history"])
    assert res.exit_code == 0 and res.exception is None, res.output


def test_collect_names_what_it_cannot_write(tmp_path):
    name = "h" * 250  # a valid name; collect-<name>.sh is not a valid file name
    p = tmp_path / "inv.toml"
    p.write_text(INV.replace('name = "db1"', f'name = "{name}"'))
    res = CliRunner().invoke(cli, ["collect", str(p), "--host", name, "-o", str(tmp_path / "c")])
    assert res.exit_code == 3 and "cannot write the collector" in res.output and res.exception is not None
    assert isinstance(res.exception, SystemExit)
