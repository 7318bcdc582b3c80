"""dicom.echo against real pynetdicom peers on loopback (in-process: ordinary, fast tests)."""

from __future__ import annotations

from impax_preflight.model import Status
from impax_preflight.testing import make_inventory, run_check, run_plugin_checks

import impax_preflight_dicom
from impax_preflight_dicom.checks import dicom_echo


def inventory(aes, **options):
    return make_inventory(
        {
            "hosts": [
                {"name": "arch1", "address": "127.0.0.1", "os": "solaris", "roles": ["archive"], "transport": {"kind": "local"}, "aes": aes},
                {"name": "app1", "os": "windows", "roles": ["application"], "transport": {"kind": "local"}},
            ]
        },
        options={"dicom": {"timeout_s": 1.0, **options}},
    )


def test_answering_ae_passes_with_evidence(echo_scp):
    with echo_scp("ARCHIVE") as port:
        (f,) = run_check(dicom_echo, inventory=inventory([{"ae_title": "ARCHIVE", "port": port}]))
    assert f.status is Status.PASS, f.message
    assert f.subject == "ARCHIVE" and f.values["status"] == "0x0000" and f.values["state"] == "accepted"
    assert f.evidence[0].kind == "dicom" and f.evidence[0].source == f"C-ECHO from IMPAX_PREFLIGHT to ARCHIVE@127.0.0.1:{port}"


def test_rejected_association_names_the_reason_and_our_ae_title(echo_scp):
    with echo_scp("ARCHIVE", accept_calling=["SOMEONE_ELSE"]) as port:
        (f,) = run_check(dicom_echo, inventory=inventory([{"ae_title": "ARCHIVE", "port": port}], calling_ae="PREFLIGHT_QA"))
    assert f.status is Status.FAIL
    assert f.values["state"] == "rejected"
    assert "Calling AE title not recognised" in f.message and "PREFLIGHT_QA" in f.message
    assert f.remediation and "calling AE title" in f.remediation


def test_silent_peer_times_out(silent_listener):
    with silent_listener() as port:
        (f,) = run_check(dicom_echo, inventory=inventory([{"ae_title": "HUNG", "port": port}]))
    assert f.status is Status.FAIL and f.values["state"] == "timeout"
    assert "no answer to the association request within 1s" in f.message


def test_refused_connection_and_bad_echo_status(echo_scp, closed_port):
    port = closed_port()
    (f,) = run_check(dicom_echo, inventory=inventory([{"ae_title": "GONE", "port": port}]))
    assert f.status is Status.FAIL and f.values["state"] == "unreachable" and "connection refused" in f.message
    with echo_scp("BUSY", status=0xC000) as port:
        (f,) = run_check(dicom_echo, inventory=inventory([{"ae_title": "BUSY", "port": port}]))
    assert f.status is Status.FAIL and f.values["status"] == "0xC000" and "status 0xC000" in f.message


def test_one_finding_per_ae_and_non_archive_failure_is_a_warning(echo_scp, closed_port):
    with echo_scp("ARCHIVE") as ok_port:
        aes = [
            {"ae_title": "ARCHIVE", "port": ok_port, "role": "archive"},
            {"ae_title": "MODALITY_CT1", "port": closed_port(), "role": "modality"},
        ]
        findings = run_check(dicom_echo, inventory=inventory(aes))
    by = {f.subject: f for f in findings}
    assert by["ARCHIVE"].status is Status.PASS
    assert by["MODALITY_CT1"].status is Status.WARN
    assert by["ARCHIVE"].key != by["MODALITY_CT1"].key


def test_through_the_runner_hosts_without_aes_are_not_run(echo_scp):
    with echo_scp("ARCHIVE") as port:
        report = run_plugin_checks(impax_preflight_dicom, inventory([{"ae_title": "ARCHIVE", "port": port}]), only=["dicom.echo"])
    (f,) = report.findings
    assert f.check_id == "dicom.echo" and f.status is Status.PASS and f.provider == "impax_preflight_dicom"
    (nr,) = [n for n in report.not_run if n.target == "app1"]
    assert "no DICOM AE listed" in nr.reason
    assert report.verdict.value == "GO"
