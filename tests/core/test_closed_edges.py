"""The edges a review found open, each closed: whatever a check, a plugin, an option, a reporter or
a user's selection does, an unverified blocker never reads as GO, and no input ends in a traceback."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from impax_preflight import check, hookimpl, load_plugins, run_preflight, write_reports
from impax_preflight.cli import cli
from impax_preflight.db.readonly import ReadOnlyViolation, ensure_read_only
from impax_preflight.inventory import InventoryError, load_inventory
from impax_preflight.model import Severity, Status, Verdict, Waiver
from impax_preflight.plugins import PluginError
from impax_preflight.probes import probe
from impax_preflight.report.merge import merge_reports
from impax_preflight.report.writers import ReportWriteError
from impax_preflight.testing import ChecksPlugin, FakeShell, fresh_plugins, make_inventory, run_check, run_with
from impax_preflight.transports.base import CommandResult
from impax_preflight.waivers import WaiverError, judged_today, load_waivers


@check("t.fine", "passes", "blocker", "site")
def fine(ctx):
    yield ctx.passed("ok")


# ---- a check's own mistakes ---------------------------------------------------------------------

@check("t.truthy", "yields True instead of a finding", "blocker", "site")
def truthy(ctx):
    yield True


@check("t.demote", "hand-makes a finding that claims to be an info of another check", "blocker", "site")
def demote(ctx):
    f = ctx.fail("the archive is full")
    yield f.model_copy(update={"severity": Severity.INFO, "check_id": "t.other", "target": "elsewhere"})


def test_a_check_that_yields_no_finding_object_is_an_error_not_a_pass():
    report = run_with(truthy)
    (f,) = report.findings
    assert f.status is Status.ERROR and "instead of a finding" in f.message and report.verdict is Verdict.NO_GO


def test_a_hand_made_finding_cannot_demote_a_blocker_or_speak_for_another_check():
    (f,) = run_with(demote).findings
    assert (f.check_id, f.severity, f.target, f.status) == ("t.demote", Severity.BLOCKER, "site", Status.FAIL)


def _raising_when(site, host, db):
    raise RuntimeError("the plugin's condition is broken")


when_broken = check("t.when", "applicability that raises", "blocker", "site",
                    when=_raising_when)(lambda ctx: ctx.passed("never reached"))


def test_an_applicability_condition_that_raises_is_an_error_finding_not_not_run():
    report = run_with(when_broken)
    (f,) = report.findings
    assert f.status is Status.ERROR and "applicability condition failed" in f.message and "RuntimeError" in f.message
    assert report.verdict is Verdict.NO_GO and not report.not_run


# ---- plugins that break while registering -------------------------------------------------------

def test_a_registration_hook_that_raises_stops_the_load_naming_the_plugin():
    def impax_register_checks(register):
        raise KeyError("boom")

    bad = type("BadPlugin", (), {"impax_register_checks": staticmethod(hookimpl(impax_register_checks))})
    with pytest.raises(PluginError, match=r"failed in impax_register_checks: KeyError.*--disable-plugin"):
        load_plugins(entry_points=False, builtin_checks=False, extra_plugins=[bad])


def test_a_misspelt_hook_stops_the_load_with_a_plugin_error():
    class Misspelt:
        @hookimpl
        def impax_register_chekcs(self, register):  # a typo: it would silently never run
            pass

    with pytest.raises(PluginError, match="impax_register_chekcs"):
        load_plugins(entry_points=False, builtin_checks=False, extra_plugins=[Misspelt()])


def test_a_disabled_built_in_check_module_warns_and_caps_the_verdict():
    ps = load_plugins(entry_points=False, disable=["impax_preflight.checks.host_windows"])
    assert any("built-in checks disabled (impax_preflight.checks.host_windows)" in w for w in ps.warnings)
    assert ps.incomplete() == ["built-in checks impax_preflight.checks.host_windows are disabled"]


# ---- selections ---------------------------------------------------------------------------------

@check("t.other_blocker", "another blocker", "blocker", "site")
def other_blocker(ctx):
    yield ctx.passed("ok")


@check("t.windows_only", "a blocker for Windows hosts", "blocker", "host", os=["windows"])
def windows_only(ctx):
    yield ctx.passed("ok")


def test_only_or_skip_matching_no_check_is_refused():
    with pytest.raises(ValueError, match=r"--only 'f\.nope\*' matches no check id"):
        run_with(fine, only=["f.nope*"])
    with pytest.raises(ValueError, match=r"--skip 'typo' matches no check id"):
        run_with(fine, skip=["typo"])


def test_a_partial_run_that_leaves_a_blocker_out_says_at_best_go_with_warnings():
    report = run_with(fine, other_blocker, windows_only, only=["t.fine"])
    assert [f.status for f in report.findings] == [Status.PASS]
    assert report.verdict is Verdict.GO_WITH_WARNINGS
    # the Windows check would not have run on this Solaris site anyway: only t.other_blocker is left out
    assert report.incomplete == ["left out 1 blocker check(s) (t.other_blocker)"]
    assert any(w.startswith("a partial run (--only/--skip/--host) left out 1 blocker check(s)") for w in report.warnings)
    assert report.unverified_blockers() == ["t.other_blocker: not run — not selected by --only"]
    whole = run_with(fine, other_blocker, windows_only)
    assert whole.verdict is Verdict.GO and whole.incomplete == []


def test_the_reports_name_the_blockers_that_gave_no_verdict_instead_of_all_passed(tmp_path):
    report = run_with(fine, other_blocker, only=["t.fine"])
    written = write_reports(report, tmp_path, ["html", "markdown"], load_plugins(entry_points=False, builtin_checks=False))
    for path in written.values():
        text = Path(path).read_text(encoding="utf-8")
        assert "every blocker check passed" not in text
        assert "1 blocker check" in text and "t.other_blocker" in text


# ---- reporters ----------------------------------------------------------------------------------

def test_a_reporter_that_fails_costs_only_its_own_report(tmp_path):
    class Broken:
        @hookimpl
        def impax_register_reporters(self, register):
            register("broken", lambda report, out: (_ for _ in ()).throw(OSError(28, "No space left on device")))

    ps = fresh_plugins(ChecksPlugin(fine), Broken(), builtin_checks=False)
    report = run_preflight(make_inventory(), plugins=ps)
    with pytest.raises(ReportWriteError) as caught:
        write_reports(report, tmp_path, ["json", "broken", "markdown"], ps)
    assert set(caught.value.written) == {"json", "markdown"} and (tmp_path / "report.md").is_file()
    assert "No space left on device" in caught.value.failed["broken"]


BROKEN_REPORTER = textwrap.dedent("""
    from impax_preflight import check, hookimpl

    @check("local.ok", "passes", "info", "site")
    def ok(ctx):
        yield ctx.passed("fine")

    def explode(report, out):
        raise RuntimeError("the pdf engine is missing")

    @hookimpl
    def impax_register_checks(register):
        register(ok)

    @hookimpl
    def impax_register_reporters(register):
        register("pdf", explode)
""")


def test_the_cli_prints_the_verdict_then_exits_3_when_a_report_could_not_be_written(tmp_path):
    (tmp_path / "plug").mkdir()
    (tmp_path / "plug" / "p.py").write_text(BROKEN_REPORTER)
    inv = tmp_path / "inv.toml"
    inv.write_text('[site]\nname = "S"\nimpax_version = "6.3"\nplatform = "AS3000"\n[[hosts]]\nname = "db1"\nos = "solaris"\n'
                   'roles = ["database"]\ntransport = { kind = "local" }\n')
    res = CliRunner().invoke(cli, ["run", str(inv), "--plugins-dir", str(tmp_path / "plug"), "--only", "local.*",
                                   "--format", "json,pdf", "-o", str(tmp_path / "out"), "--no-history", "--no-progress"])
    assert res.exit_code == 3, res.output
    assert "Verdict for S" in res.output and "the pdf report could not be written: RuntimeError" in res.output
    assert (tmp_path / "out" / "report.json").is_file() and "Traceback" not in res.output


def test_an_unexpected_error_is_one_masked_line_and_exit_3_never_1(tmp_path, monkeypatch):
    monkeypatch.setenv("PF_LEAK", "S3cret-Value-42")
    code = textwrap.dedent("""
        import os, sys
        from impax_preflight.secrets import masker
        import impax_preflight.cli.catalog as catalog
        masker.register(os.environ["PF_LEAK"])
        def boom(*a, **k):
            raise RuntimeError("connect failed with password " + os.environ["PF_LEAK"])
        catalog.load_plugins_or_fail = boom
        from impax_preflight.cli import main
        main(["checks"])
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 3, res.stderr
    assert "error: RuntimeError: connect failed with password" in res.stderr
    assert "S3cret-Value-42" not in res.stderr + res.stdout and "Traceback" not in res.stderr


# ---- host reads ---------------------------------------------------------------------------------

def _cut(command: str) -> CommandResult:
    return CommandResult(command=command, rc=0, stdout="line\n" * 10, stderr="", truncated=True)


CUT = probe("t.cut", "a listing", lambda text, notes=None: text.splitlines(), any_os="ls -l /x")
CUT_OK = probe("t.cut_ok", "the newest lines", lambda text, notes=None: text.splitlines(), any_os="ls -l /y",
               partial_ok=True)


class CuttingShell(FakeShell):
    def run(self, command, timeout=None, privileged=False):
        return _cut(command)


@check("t.reads_cut", "reads a cut output", "blocker", "host", probes=[CUT])
def reads_cut(ctx):
    yield ctx.passed(f"{len(ctx.read(CUT))} lines")


@check("t.reads_cut_ok", "reads a cut output that may be partial", "blocker", "host", probes=[CUT_OK])
def reads_cut_ok(ctx):
    yield ctx.passed(f"{len(ctx.read(CUT_OK))} lines")


def test_an_output_cut_at_the_cap_is_not_judged_unless_the_probe_says_a_part_answers():
    (f,) = run_check(reads_cut, shell=CuttingShell({}))
    assert f.status is Status.ERROR and "printed more than the 16 MB" in f.message
    (ok,) = run_check(reads_cut_ok, shell=CuttingShell({}))
    assert ok.status is Status.PASS


PATH_READ = probe("t.path", "a configured folder", lambda text, notes=None: text, any_os="ls -l '{folder}'",
                  arguments=lambda site, host: {"folder": ((site.options if site else {}).get("t.path_read") or {}).get("folder", "/agfa")})


@check("t.path_read", "lists a folder the site names", "blocker", "host", probes=[PATH_READ])
def path_read(ctx):
    yield ctx.passed(ctx.read(PATH_READ))


@pytest.mark.parametrize("folder", ["/agfa'; rm -rf / #", "/agfa$(reboot)", "/a\nreboot", "C:\\%COMSPEC%", "/x|y"])
def test_a_setting_that_would_change_the_command_line_is_refused_and_nothing_runs(folder):
    inv = make_inventory(options={"t.path_read": {"folder": folder}})
    shell = FakeShell({})
    (f,) = run_check(path_read, inventory=inv, shell=shell)
    assert f.status is Status.ERROR and "which a shell would interpret" in f.message
    assert shell.calls == []
    assert PATH_READ.commands_for("solaris", inv.site) == ()  # and the collector gathers nothing for it


def test_a_command_setting_declared_as_one_may_hold_shell_syntax():
    from impax_preflight.probes import _fill

    assert _fill("{command}", {"command": 'tool.exe -d "mvf" | find "x"'}, ("command",)) == 'tool.exe -d "mvf" | find "x"'


def test_a_remote_path_option_refuses_line_breaks():
    from impax_preflight.options import remote_path

    with pytest.raises(ValueError, match="line break"):
        remote_path().validate("/agfa\nreboot")


# ---- facts --------------------------------------------------------------------------------------

def test_a_fact_the_host_contradicts_is_a_run_warning_and_a_hung_collector_times_out():
    stop = threading.Event()

    class Facts:
        @hookimpl
        def impax_collect_facts(self, host, shell, site, read):
            return {"os_release": "5.11", "hostname": "db1"}

    class Hangs:
        @hookimpl
        def impax_collect_facts(self, host, shell, site, read):
            stop.wait(30)

    host_check = check("t.host", "a host check", "info", "host")(
        lambda ctx: ctx.passed(str(ctx.facts.get("os_release")), values={"fact_errors": list(ctx.facts.get("errors"))}))
    inv = make_inventory({"hosts": [{"name": "db1", "os": "solaris", "roles": ["database"], "transport": {"kind": "local"},
                                     "facts": {"os_release": "5.10"}}]})
    ps = fresh_plugins(ChecksPlugin(host_check), Facts(), builtin_checks=False)
    report = run_preflight(inv, plugins=ps)
    assert report.findings[0].message == "5.10"  # declared wins
    assert any("declares os_release = '5.10' but the host reports '5.11'" in w for w in report.warnings)
    ps = fresh_plugins(ChecksPlugin(host_check), Hangs(), builtin_checks=False)
    try:
        report = run_preflight(inv, plugins=ps, check_timeout_s=1)
    finally:
        stop.set()
    assert report.findings[0].status is Status.PASS and report.duration_s < 10
    # the check was told why its facts may be partial
    assert any(e.startswith("fact collection did not finish within 1s") for e in report.findings[0].values["fact_errors"])
    # and the report says so too
    assert any(w.startswith("host db1: fact collection did not finish within 1s") for w in report.warnings)


def test_every_secret_is_known_to_the_masker_before_a_check_runs(monkeypatch):
    from impax_preflight.secrets import mask

    monkeypatch.setenv("PF_DB_PW", "Unused-Until-Late-99")
    inv = make_inventory({"hosts": [{"name": "db1", "os": "solaris", "roles": ["database"], "transport": {"kind": "local"},
                                     "databases": [{"name": "mvf", "kind": "oracle", "service_name": "mvf", "user": "u",
                                                    "password": "env:PF_DB_PW"}]}]})
    leak = check("t.leak", "echoes a text holding a password", "info", "site")(
        lambda ctx: ctx.passed("the log said Unused-Until-Late-99"))
    report = run_with(leak, inventory=inv)
    assert "Unused-Until-Late-99" not in report.findings[0].message
    assert mask("Unused-Until-Late-99") != "Unused-Until-Late-99"


@pytest.mark.parametrize("dsn", ["scott/tiger@db1:1521/mvf", "DSN=MVF;PWD=tiger", "Driver=x; password = tiger"])
def test_credentials_inside_a_dsn_are_refused_without_echoing_them(tmp_path, dsn):
    p = tmp_path / "inv.toml"
    p.write_text(textwrap.dedent(f"""
        [site]
        name = "S"
        impax_version = "6.3"
        platform = "AS3000"
        [[hosts]]
        name = "db1"
        os = "solaris"
        roles = ["database"]
        transport = {{ kind = "local" }}
        [[hosts.databases]]
        name = "mvf"
        kind = "oracle"
        dsn = "{dsn}"
    """))
    with pytest.raises(InventoryError) as caught:
        load_inventory(p)
    assert "inv.toml:14: hosts[0].databases[0].dsn: the dsn holds a user and password" in str(caught.value)
    assert "tiger" not in str(caught.value)


# ---- waivers, re-rendering and merging ----------------------------------------------------------

@pytest.mark.parametrize("match", ["o*", "os*", "integrity*@db1", "x?.y"])
def test_a_waiver_must_name_a_whole_family_or_check(tmp_path, match):
    f = tmp_path / "w.toml"
    f.write_text(f'[[waiver]]\nmatch = "{match}"\nreason = "r"\napproved_by = "me"\n')
    with pytest.raises(WaiverError, match="does not name a check"):
        load_waivers(f)


def test_a_waiver_date_must_be_a_whole_date(tmp_path):
    f = tmp_path / "w.toml"
    f.write_text('[[waiver]]\nmatch = "os.solaris.*"\nreason = "r"\napproved_by = "me"\nexpires = "2026-12-31junk"\n')
    with pytest.raises(WaiverError, match=r"w\.toml:5: waiver\[0\]\.expires: '2026-12-31junk' is not a date"):
        load_waivers(f)


@check("t.full", "the archive has room", "blocker", "site")
def full(ctx):
    yield ctx.fail("the archive is full")


def test_a_waiver_that_lapsed_since_the_run_no_longer_hides_its_blocker_when_rendered_or_merged():
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    w = Waiver(match="t.full", reason="accepted until the new disks come", approved_by="me", expires=tomorrow)
    report = run_with(full, waivers=[w])
    assert report.verdict is Verdict.GO and report.findings[0].status is Status.WAIVED
    assert judged_today(report) is report  # still valid today
    later = judged_today(report, today=date.today() + timedelta(days=3))
    assert later.verdict is Verdict.NO_GO and later.findings[0].status is Status.FAIL
    assert [x.match for x in later.expired_waivers] == ["t.full"]
    assert report.findings[0].status is Status.WAIVED  # the run's own report is not changed


def test_a_merge_is_capped_only_while_no_run_answered_a_left_out_blocker():
    partial = run_with(fine, other_blocker, only=["t.fine"])
    whole = run_with(fine, other_blocker)
    whole = whole.model_copy(update={"run_id": whole.run_id + "-b"})
    assert merge_reports([partial, whole]).verdict is Verdict.GO  # the full run answered t.other_blocker
    other = make_inventory(name="Other Site")
    alone = run_with(fine, other_blocker, inventory=other, only=["t.fine"])
    merged = merge_reports([partial, alone.model_copy(update={"run_id": alone.run_id + "-c"})])
    assert merged.verdict is Verdict.GO_WITH_WARNINGS and "t.other_blocker" in merged.incomplete[-1]


def test_an_observer_of_the_finished_run_can_warn_but_not_change_the_verdict():
    class Meddler:
        @hookimpl
        def impax_run_finished(self, report, inventory):
            report.verdict = Verdict.GO
            report.findings[0].status = Status.PASS
            report.warnings.append("the pager was not reached")

    ps = fresh_plugins(ChecksPlugin(full), Meddler(), builtin_checks=False)
    report = run_preflight(make_inventory(), plugins=ps)
    assert report.verdict is Verdict.NO_GO and report.findings[0].status is Status.FAIL
    assert report.warnings == ["the pager was not reached"]


# ---- the read-only guard ------------------------------------------------------------------------

@pytest.mark.parametrize("sql", ["select purge_all from dual", "select dbadmin_fn, 1 from dual", 'select "PURGE" from dual',
                                 "select purge_all"])
def test_an_oracle_name_on_dual_alone_is_a_function_call_and_judged(sql):
    with pytest.raises(ReadOnlyViolation, match="calls function"):
        ensure_read_only(sql, "oracle")


@pytest.mark.parametrize("sql", ["select sysdate, user, rownum, dummy from dual", "select 1 n from dual order by n",
                                 "select listagg(name, ',') within group (order by name) from v$parameter",
                                 "select max(x) keep (dense_rank first order by y) from t"])
def test_oracle_queries_on_dual_that_call_nothing_still_pass(sql):
    ensure_read_only(sql, "oracle")


def test_a_function_the_parser_hides_in_syntax_is_still_judged_by_its_written_name():
    # the token net: any name written before '(' is a call, whatever node sqlglot made of it
    with pytest.raises(ReadOnlyViolation, match="pg_terminate_backend"):
        ensure_read_only("select case when pg_terminate_backend(1) then 1 end from t", "postgres")


def test_a_guard_that_cannot_analyse_a_statement_refuses_it(monkeypatch):
    import impax_preflight.db.readonly as ro

    def crash(*a, **k):
        raise AttributeError("'NoneType' object has no attribute 'this'")

    monkeypatch.setattr(ro, "_table_names", crash)
    with pytest.raises(ReadOnlyViolation, match="could not analyse the statement .AttributeError"):
        ensure_read_only("select 1 from t", "oracle")


# ---- declarative checks -------------------------------------------------------------------------

def test_a_declarative_pass_judged_on_a_cut_result_is_not_verified(tmp_path):
    from impax_preflight.declarative import load_declarative_checks
    from impax_preflight.testing import sqlite_session

    (tmp_path / "c.toml").write_text(textwrap.dedent("""
        [[check]]
        id = "site.acme.names"
        title = "only known AE titles"
        severity = "blocker"
        target = "database"
        sql = "select name from t"
        max_rows = 2
        allowed = ["A", "B"]
    """))
    (chk,) = load_declarative_checks(tmp_path / "c.toml")
    inv = make_inventory({"hosts": [{"name": "db1", "os": "solaris", "roles": ["database"], "transport": {"kind": "local"},
                                     "databases": [{"name": "mvf", "kind": "sqlite", "path": str(tmp_path / "db.sqlite")}]}]})
    session = sqlite_session("create table t (name text); insert into t values ('A'), ('B'), ('EVIL');", tmp_path / "db.sqlite")
    (f,) = run_check(chk, inventory=inv, sql=session)
    assert f.status is Status.ERROR and "only the first 2 rows were read" in f.message
