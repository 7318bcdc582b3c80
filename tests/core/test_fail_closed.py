"""Fail closed (issue 10): nothing — a waiver, a missing plugin, a broken module — turns an
unverified blocker into GO, and a catalog that shrank cannot pass for a complete one."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from impax_preflight import check, load_plugins, run_preflight, write_reports
from impax_preflight.model import Status, Verdict, Waiver
from impax_preflight.plugins import PluginError
from impax_preflight.testing import ChecksPlugin, make_inventory, run_with
from impax_preflight.waivers import WaiverError, load_waivers


@check("t.unverified", "cannot be evaluated", "blocker", "site")
def unverified(ctx):
    yield ctx.error("the database could not be reached")


@check("t.failing", "fails", "blocker", "site")
def failing(ctx):
    yield ctx.fail("broken")


@check("t.fine", "passes", "blocker", "site")
def fine(ctx):
    yield ctx.passed("ok")


def test_a_waiver_does_not_cover_what_could_not_be_evaluated():
    broad = Waiver(match="t.*", reason="accepted", approved_by="me")
    report = run_with(unverified, failing, waivers=[broad])
    by = {f.check_id: f for f in report.findings}
    assert by["t.failing"].status is Status.WAIVED
    assert by["t.unverified"].status is Status.ERROR and report.verdict is Verdict.NO_GO
    explicit = Waiver(match="t.unverified", reason="the database is retired", approved_by="me", cover_errors=True)
    report = run_with(unverified, waivers=[explicit])
    assert report.findings[0].status is Status.WAIVED and report.findings[0].waived_status is Status.ERROR


@pytest.mark.parametrize("match", ["*", "**", "*@*", "?*", "[a-z]*", "*@mvfbk*"])
def test_a_waiver_that_names_no_check_is_refused_at_load(tmp_path, match):
    f = tmp_path / "w.toml"
    f.write_text(f'# accepted risks\n\n[[waiver]]\nmatch = "{match}"\nreason = "r"\napproved_by = "me"\n')
    with pytest.raises(WaiverError, match=rf"w\.toml:4: waiver\[0\]\.match: .* does not name a check"):
        load_waivers(f)


def test_a_waiver_naming_a_family_or_a_key_loads(tmp_path):
    f = tmp_path / "w.toml"
    f.write_text('[[waiver]]\nmatch = "os.solaris.*"\nreason = "r"\napproved_by = "me"\n\n'
                 '[[waiver]]\nmatch = "os.solaris.disk_errors@mvfbk*"\nreason = "r"\napproved_by = "me"\n')
    assert [w.match for w in load_waivers(f)] == ["os.solaris.*", "os.solaris.disk_errors@mvfbk*"]


def test_a_broken_entry_point_caps_the_verdict_and_is_in_every_report(monkeypatch, tmp_path):
    eps = importlib.metadata.EntryPoints([importlib.metadata.EntryPoint("vendor-x", "no_such_vendor_module:plugin", "impax_preflight")])
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group=None: eps if group == "impax_preflight" else [])
    ps = load_plugins(builtin_checks=False, extra_plugins=[ChecksPlugin(fine)])
    report = run_preflight(make_inventory(), plugins=ps)
    assert [f.status for f in report.findings] == [Status.PASS]
    assert report.verdict is Verdict.GO_WITH_WARNINGS  # all passed, but vendor-x's checks never ran
    written = write_reports(report, tmp_path, ["json", "html", "markdown", "junit"], ps)
    for fmt, path in written.items():
        assert "vendor-x" in Path(path).read_text(encoding="utf-8"), fmt


def _broken_catalog_env(tmp_path) -> dict:
    """A copy of the installed package whose check module host_os does not import."""
    import os
    import shutil

    import impax_preflight

    pkg = Path(impax_preflight.__file__).parent
    dest = tmp_path / "site" / "impax_preflight"
    shutil.copytree(pkg, dest, ignore=shutil.ignore_patterns("__pycache__"))
    checks = Path(importlib.import_module("impax_preflight.checks").__file__).parent
    if (dest / "checks").exists():
        shutil.rmtree(dest / "checks")
    shutil.copytree(checks, dest / "checks", ignore=shutil.ignore_patterns("__pycache__"))
    (dest / "checks" / "host_os.py").write_text("raise ImportError('a damaged installation')\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "site"), IMPAX_PREFLIGHT_DISABLE_PLUGINS="dicom,example-site")
    return env


def test_a_built_in_check_module_that_does_not_import_stops_run_and_checks(tmp_path):
    env = _broken_catalog_env(tmp_path)
    inv = tmp_path / "inv.toml"
    inv.write_text(textwrap.dedent("""
        [site]
        name = "S"
        impax_version = "6.3.1"
        platform = "AS3000"
        [[hosts]]
        name = "h"
        os = "linux"
        roles = ["database"]
        transport = { kind = "local" }
    """))
    where = subprocess.run([sys.executable, "-c", "import impax_preflight; print(impax_preflight.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path)
    assert str(tmp_path) in where.stdout  # the damaged copy is the one imported
    for args in (["checks", "--json"], ["plugins"], ["run", str(inv), "-o", str(tmp_path / "out"), "--no-history"]):
        res = subprocess.run([sys.executable, "-m", "impax_preflight", *args], capture_output=True, text=True, env=env, cwd=tmp_path)
        assert res.returncode == 3, (args, res.stdout[-500:], res.stderr[-2000:])
        assert "impax_preflight.checks.host_os failed to import" in res.stderr and "a damaged installation" in res.stderr
        assert "Traceback" not in res.stderr
        assert not res.stdout.strip().startswith("[")  # no (shrunken) catalog printed as if complete


def test_the_python_api_refuses_an_incomplete_built_in_catalog(monkeypatch):
    import impax_preflight.api as api

    monkeypatch.setattr(api, "check_module_names", lambda: ["impax_preflight.checks.no_such_module"])
    with pytest.raises(PluginError, match="no_such_module failed to import"):
        load_plugins()
