"""The runner: isolation of failures, timeouts, limits, waivers, results.jsonl, verdicts, interrupts."""

from __future__ import annotations

import importlib.metadata
import json
import threading
import time
from datetime import date, timedelta

import pytest

from impax_preflight.check import check
from impax_preflight.model import Status, Verdict, Waiver
from impax_preflight import load_plugins
from impax_preflight.plugins import PluginError
from impax_preflight import run_preflight
from impax_preflight.secrets import SecretRef
from impax_preflight.testing import ChecksPlugin, make_inventory, plugins_with


@check("t.ok", "passes", "blocker", "host")
def ok_check(ctx):
    r = ctx.run("echo hello")
    yield ctx.passed(f"said {r.stdout.strip()}")


@check("t.raises", "raises", "warning", "host")
def raising_check(ctx):
    yield ctx.passed("first finding kept")
    raise RuntimeError("boom")


@check("t.hangs", "hangs", "blocker", "host")
def hanging_check(ctx):
    time.sleep(30)
    yield ctx.passed("never")


@check("t.site", "site sees hosts", "info", "site")
def site_check(ctx):
    hosts = sorted({f.host for f in ctx.findings() if f.host})
    yield ctx.passed(f"saw {len(hosts)} hosts", values={"hosts": hosts})


TWO_HOSTS = {
    "hosts": [
        {"name": "a", "os": "linux", "roles": ["database"], "transport": {"kind": "local"}},
        {"name": "b", "os": "linux", "roles": ["application"], "transport": {"kind": "local"}},
    ]
}


def test_raise_and_hang_leave_the_run_complete(tmp_path):
    inv = make_inventory(TWO_HOSTS)
    t0 = time.monotonic()
    report = run_preflight(inv, plugins=plugins_with(ok_check, raising_check, hanging_check, site_check),
                           check_timeout_s=1.0, out_dir=tmp_path)
    assert time.monotonic() - t0 < 10
    by = {(f.check_id, f.target, f.status) for f in report.findings}
    assert ("t.ok", "a", Status.PASS) in by and ("t.ok", "b", Status.PASS) in by
    assert ("t.raises", "a", Status.PASS) in by  # produced before the exception: kept
    errs = [f for f in report.findings if f.check_id == "t.raises" and f.status is Status.ERROR]
    assert len(errs) == 2 and "RuntimeError: boom" in errs[0].message
    assert any(e.source == "traceback" for e in errs[0].evidence)
    hung = [f for f in report.findings if f.check_id == "t.hangs"]
    assert {f.status for f in hung} == {Status.ERROR} and "timed out after 1s" in hung[0].message
    site = next(f for f in report.findings if f.check_id == "t.site")
    assert site.values["hosts"] == ["a", "b"]
    assert report.verdict is Verdict.NO_GO  # an unevaluated blocker is not ready
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert len(lines) == len(report.findings)
    assert {json.loads(line)["key"] for line in lines} == {f.key for f in report.findings}


def test_evidence_and_verdict_go(tmp_path):
    report = run_preflight(make_inventory(TWO_HOSTS), plugins=plugins_with(ok_check))
    assert report.verdict is Verdict.GO and report.exit_code == 0
    ev = report.findings[0].evidence[0]
    assert ev.kind == "command" and ev.source == "echo hello" and ev.rc == 0 and ev.output.strip() == "hello"


def test_unreachable_host_becomes_errors_and_others_run(tmp_path):
    data = {"hosts": TWO_HOSTS["hosts"][:1] + [
        {"name": "gone", "os": "solaris", "roles": ["database"], "transport": {"kind": "bundle", "bundle": str(tmp_path / "nope")}}]}
    report = run_preflight(make_inventory(data), plugins=plugins_with(ok_check))
    gone = [f for f in report.findings if f.target == "gone"]
    assert len(gone) == 1 and gone[0].status is Status.ERROR
    assert gone[0].message.startswith("host unreachable:") and "not found" in gone[0].message
    assert any(f.target == "a" and f.status is Status.PASS for f in report.findings)


def test_failed_collection_bundle_makes_every_host_check_an_error_with_the_reason(tmp_path):
    from impax_preflight.transports.bundle import write_bundle

    folder = write_bundle(tmp_path / "down", "gone", "solaris", [], collector="impax.preflight Ansible collection")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["collection_failed"] = "the collector exited with rc 2: cannot create /var/tmp/x/out"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    data = {"hosts": TWO_HOSTS["hosts"][:1] + [
        {"name": "gone", "os": "solaris", "roles": ["database"], "transport": {"kind": "bundle", "bundle": str(folder)}}]}
    report = run_preflight(make_inventory(data), plugins=plugins_with(ok_check))
    gone = [f for f in report.findings if f.target == "gone"]
    assert [f.status for f in gone] == [Status.ERROR]
    assert gone[0].message.startswith("host unreachable: no outputs from gone: collecting on the server failed")
    assert gone[0].message.endswith("the collector exited with rc 2: cannot create /var/tmp/x/out")
    assert any(f.target == "a" and f.status is Status.PASS for f in report.findings)
    assert report.verdict is Verdict.NO_GO  # t.ok is a blocker that could not be evaluated on 'gone'


def test_not_applicable_and_filters_are_explained():
    only_db = check("t.dbonly", "db role only", "warning", "host", roles=["database"])(ok_check.func)
    report = run_preflight(make_inventory(TWO_HOSTS), plugins=plugins_with(ok_check, only_db, site_check), skip=["t.site"])
    reasons = {(n.check_id, n.target): n.reason for n in report.not_run}
    assert reasons[("t.dbonly", "b")].startswith("roles application")
    assert reasons[("t.site", None)] == "excluded by --skip"
    report = run_preflight(make_inventory(TWO_HOSTS), plugins=plugins_with(ok_check, only_db), only=["t.db*"])
    assert {f.check_id for f in report.findings} == {"t.dbonly"}


def test_sessions_per_host_limit():
    active, peak, lock = [0], [0], threading.Lock()

    def body(ctx):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.2)
        with lock:
            active[0] -= 1
        yield ctx.passed("done")

    checks = [check(f"t.c{i}", "c", "info", "host")(body) for i in range(6)]
    inv = make_inventory({"hosts": TWO_HOSTS["hosts"][:1]})
    run_preflight(inv, plugins=plugins_with(*checks), jobs=8)
    assert peak[0] == 2  # default sessions_per_host


def test_waivers_apply_and_expire():
    @check("t.fail", "fails", "blocker", "host")
    def failing(ctx):
        yield ctx.fail("broken", subject="x")

    inv = make_inventory(TWO_HOSTS)
    waivers = [
        Waiver(match="t.fail@a#x", reason="accepted", approved_by="me", expires=(date.today() + timedelta(days=3)).isoformat()),
        Waiver(match="t.fail@b*", reason="old", approved_by="me", expires=(date.today() - timedelta(days=1)).isoformat()),
    ]
    report = run_preflight(inv, plugins=plugins_with(failing), waivers=waivers)
    a = next(f for f in report.findings if f.target == "a")
    b = next(f for f in report.findings if f.target == "b")
    assert a.status is Status.WAIVED and a.waived_status is Status.FAIL and a.waiver.approved_by == "me"
    assert b.status is Status.FAIL and b.waiver is None
    assert [w.match for w in report.expired_waivers] == ["t.fail@b*"]
    assert report.verdict is Verdict.NO_GO


def test_secret_in_exception_is_masked(monkeypatch):
    monkeypatch.setenv("T_SECRET", "hunter2-very-secret")

    @check("t.leak", "leaks", "warning", "host")
    def leaky(ctx):
        pw = SecretRef("env:T_SECRET").resolve()
        ctx.note(f"connecting with {pw}")
        raise ConnectionError(f"login failed for PWD={pw}")

    report = run_preflight(make_inventory(TWO_HOSTS), plugins=plugins_with(leaky))
    dumped = report.model_dump_json()
    assert "hunter2-very-secret" not in dumped and "********" in dumped


def test_interrupt_writes_partial_report(tmp_path):
    seen = []

    def progress(event, **data):
        if event == "finding":
            seen.append(data["finding"])
            raise KeyboardInterrupt

    slow = [check(f"t.s{i}", "s", "blocker", "host")(lambda ctx: (time.sleep(0.1), (yield ctx.passed("ok")))) for i in range(5)]
    report = run_preflight(make_inventory(TWO_HOSTS), plugins=plugins_with(*slow), jobs=1, out_dir=tmp_path, progress=progress)
    assert report.interrupted and report.verdict is Verdict.NO_GO
    assert any(n.reason == "interrupted before it finished" for n in report.not_run)
    assert (tmp_path / "results.jsonl").read_text().strip()


def test_duplicate_check_id_names_both_providers():
    with pytest.raises(PluginError) as ei:
        load_plugins(entry_points=False, extra_plugins=[ChecksPlugin(ok_check), type("Other", (ChecksPlugin,), {})(ok_check)])
    assert "duplicate check id 't.ok'" in str(ei.value) and "Plugin" in str(ei.value) and "Other" in str(ei.value)


def test_broken_entry_point_is_a_warning(monkeypatch):
    eps = importlib.metadata.EntryPoints([
        importlib.metadata.EntryPoint("broken", "no_such_module_xyz:plugin", "impax_preflight"),
    ])
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group=None: eps if group == "impax_preflight" else [])
    ps = load_plugins(extra_plugins=[ChecksPlugin(ok_check)], builtin_checks=False)
    broken = next(p for p in ps.plugins if p.name == "broken")
    assert broken.status == "broken" and "No module named" in broken.error
    assert any("failed to load and was skipped" in w for w in ps.warnings)
    report = run_preflight(make_inventory(TWO_HOSTS), plugins=ps)
    assert {f.check_id for f in report.findings} >= {"t.ok"} and any("broken" in w for w in report.warnings)


def test_plugins_dir_and_disable(tmp_path, monkeypatch):
    (tmp_path / "good.py").write_text(
        "from impax_preflight import check, hookimpl\n"
        "@check('local.x', 'x', 'info', 'site')\n"
        "def x(ctx):\n    yield ctx.passed('x')\n"
        "@hookimpl\ndef impax_register_checks(register):\n    register(x)\n")
    (tmp_path / "bad.py").write_text("import os\n\nraise ValueError('bad plugin file')\n")
    # a plugin file the user named that does not load stops the run (issue 10: a catalog that
    # silently shrank could say GO); the error names the file and the line
    with pytest.raises(PluginError, match=r"bad\.py:3 failed to load: ValueError: bad plugin file"):
        load_plugins(plugins_dirs=[tmp_path], entry_points=False)
    ps = load_plugins(plugins_dirs=[tmp_path], entry_points=False, disable=["bad"])
    assert "local.x" in ps.registry.checks
    assert next(p for p in ps.plugins if p.name == "plugins-dir:bad").status == "disabled"
    monkeypatch.setenv("IMPAX_PREFLIGHT_DISABLE_PLUGINS", "good,bad")
    ps = load_plugins(plugins_dirs=[tmp_path], entry_points=False)
    assert "local.x" not in ps.registry.checks
    assert next(p for p in ps.plugins if p.name == "plugins-dir:good").status == "disabled"


def test_when_predicate_may_see_the_inventory():
    def two_hosts_or_more(site, host, db, inventory=None):
        """needs at least two hosts"""
        return True if inventory is not None and len(inventory.hosts) >= 2 else "fewer than two hosts"

    cluster = check("t.cluster", "cluster", "warning", "site", when=two_hosts_or_more)(site_check.func)
    report = run_preflight(make_inventory(TWO_HOSTS), plugins=plugins_with(cluster))
    assert [f.check_id for f in report.findings] == ["t.cluster"]
    report = run_preflight(make_inventory({"hosts": TWO_HOSTS["hosts"][:1]}), plugins=plugins_with(cluster))
    assert not report.findings
    assert [(n.check_id, n.reason) for n in report.not_run] == [("t.cluster", "fewer than two hosts")]


def test_waivers_file_errors_name_file_line_and_field(tmp_path):
    from impax_preflight.waivers import load_waivers

    good = tmp_path / "w.toml"
    good.write_text('[[waiver]]\nmatch = "x.*"\nreason = "r"\napproved_by = "me"\nexpires = "2030-01-01"\n')
    assert [w.match for w in load_waivers(good)] == ["x.*"]
    bad = tmp_path / "bad.toml"
    bad.write_text('[[waiver]]\nmatch = "x.*"\nreason = "r"\n\n[[waiver]]\nmatch = "y"\nreason = "r"\napproved_by = "me"\nexpire = "2030-01-01"\n')
    with pytest.raises(ValueError) as ei:
        load_waivers(bad)
    assert f"{bad}:1: waiver[0].approved_by" in str(ei.value)
    assert f"{bad}:9: waiver[1].expire" in str(ei.value)
    yml = tmp_path / "w.yaml"
    yml.write_text("- match: z.*\n  reason: r\n  approved_by: me\n- match: q\n  reason: r\n")
    with pytest.raises(ValueError, match=r"w.yaml:4: waiver\[1\].approved_by"):
        load_waivers(yml)
