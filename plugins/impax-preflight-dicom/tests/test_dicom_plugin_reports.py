"""The installed plugin end to end: entry point, `plugins` listing, a run, every report format."""

from __future__ import annotations

import importlib.metadata
import json

from click.testing import CliRunner

from impax_preflight.model import Status
from impax_preflight import load_plugins
from impax_preflight import run_preflight, write_reports
from impax_preflight.testing import make_inventory

ALL_CHECKS = ["dicom.echo", "dicom.first_image_time", "dicom.storage_commitment", "dicom.study_count", "dicom.study_reconcile"]


def test_entry_point_is_declared_and_loads():
    (ep,) = [e for e in importlib.metadata.entry_points(group="impax_preflight") if e.name == "dicom"]
    assert ep.value == "impax_preflight_dicom" and ep.dist.version == "0.1.0"
    ps = load_plugins()
    (info,) = [p for p in ps.plugins if p.name == "dicom"]
    assert info.status == "active" and info.version == "0.1.0"
    assert info.checks == ALL_CHECKS
    assert {"impax_register_checks", "impax_register_commands"} <= set(info.hooks)


def test_run_shows_dicom_findings_in_every_report_format(tmp_path, archives, closed_port):
    inv = make_inventory(
        {
            "hosts": [
                {"name": "arch1", "address": "127.0.0.1", "os": "solaris", "roles": ["archive"],
                 "transport": {"kind": "local"},
                 "aes": [{"ae_title": "OLD_ARCH", "port": archives.old.port},
                         {"ae_title": "DEAD_ARCH", "port": closed_port(), "role": "archive"}]}
            ]
        },
        options={"dicom": {"timeout_s": 1.0}, "dicom.study_count": {"window": "always"}},
    )
    ps = load_plugins()
    report = run_preflight(inv, plugins=ps, only=["dicom.*"])
    by = {(f.check_id, f.subject): f for f in report.findings}
    assert by[("dicom.echo", "OLD_ARCH")].status is Status.PASS
    assert by[("dicom.echo", "DEAD_ARCH")].status is Status.FAIL
    # no old/new pair declared: the study count and the reconciliation are not run, and the report says why
    assert ("dicom.study_count", None) not in by
    for cid in ("dicom.study_count", "dicom.study_reconcile"):
        assert any(n.check_id == cid and "old_archive" in n.reason for n in report.not_run), cid
    assert report.verdict.value == "NO_GO"  # an archive that does not answer blocks
    assert all(f.provider == "dicom" for f in report.findings)

    formats = sorted(ps.registry.reporters)
    assert "json" in formats
    written = write_reports(report, tmp_path, formats, plugins=ps)
    data = json.loads(written["json"].read_text(encoding="utf-8"))
    assert {f["check_id"] for f in data["findings"]} == {"dicom.echo"}
    for fmt, path in written.items():
        text = path.read_text(encoding="utf-8")
        assert "dicom.echo" in text and "DEAD_ARCH" in text, fmt


def test_plugins_command_lists_it():
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "impax_preflight", "plugins", "--json"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    (info,) = [p for p in json.loads(out.stdout) if p["name"] == "dicom"]
    assert info["status"] == "active" and info["checks"] == ALL_CHECKS


def test_dicom_echo_cli_command(archives, closed_port):
    import click

    cli = click.Group()
    load_plugins().pm.hook.impax_register_commands(cli=cli)
    ok = CliRunner().invoke(cli, ["dicom-echo", "NEW_ARCH", "127.0.0.1", str(archives.new.port), "--timeout", "2"])
    assert ok.exit_code == 0, ok.output
    assert "status 0x0000" in ok.output
    bad = CliRunner().invoke(cli, ["dicom-echo", "NOBODY", "127.0.0.1", str(closed_port()), "--timeout", "1"])
    assert bad.exit_code == 1 and "connection refused" in bad.output
