"""dicom.echo against a real PACS (Orthanc) on loopback: answering, a wrong called AE title, an unknown
calling AE (refused), a hung archive (SIGSTOP: silent); a closed port; a pynetdicom SCP only for a
C-ECHO failure status, which Orthanc never sends."""

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


def test_answering_ae_passes_with_evidence(archives):
    port = archives.old.port
    (f,) = run_check(dicom_echo, inventory=inventory([{"ae_title": "OLD_ARCH", "port": port}]))
    assert f.status is Status.PASS, f.message
    assert f.subject == "OLD_ARCH" and f.values["status"] == "0x0000" and f.values["state"] == "accepted"
    assert f.evidence[0].kind == "dicom" and f.evidence[0].source == f"C-ECHO from IMPAX_PREFLIGHT to OLD_ARCH@127.0.0.1:{port}"


def test_wrong_called_ae_title_says_which_title_to_check(archives):
    (f,) = run_check(dicom_echo, inventory=inventory([{"ae_title": "OLD_ARCHIVE", "port": archives.old.port}]))
    assert f.status is Status.FAIL and f.values["state"] == "rejected"
    assert "association rejected (rejected permanent by the service user: Called AE title not recognised)" in f.message
    assert "the peer does not answer to the called AE title OLD_ARCHIVE: check the AE title in the inventory" in f.message


def test_refused_calling_ae_names_the_reason_and_our_ae_title(archives):
    (f,) = run_check(dicom_echo, inventory=inventory([{"ae_title": "OLD_ARCH", "port": archives.old.port}],
                                                     calling_ae="PREFLIGHT_QA"))
    assert f.status is Status.FAIL
    assert f.values["state"] == "rejected"
    assert "Calling AE title not recognised" in f.message
    assert "OLD_ARCH does not know our calling AE title PREFLIGHT_QA: register it on the archive" in f.message
    assert f.remediation and "calling AE title" in f.remediation


def test_silent_peer_times_out(orthanc_factory):
    hung = orthanc_factory("HUNG_ARCH")
    hung.pause()  # SIGSTOP: the kernel still accepts the connection, nothing answers
    (f,) = run_check(dicom_echo, inventory=inventory([{"ae_title": "HUNG_ARCH", "port": hung.port}]))
    assert f.status is Status.FAIL and f.values["state"] == "timeout"
    assert "no answer to the association request within 1s: the port accepts TCP but does not speak DICOM" in f.message


def test_a_listener_that_never_speaks_times_out_too(silent_listener):
    with silent_listener() as port:
        (f,) = run_check(dicom_echo, inventory=inventory([{"ae_title": "HUNG", "port": port}]))
    assert f.status is Status.FAIL and f.values["state"] == "timeout"


def test_refused_connection_and_bad_echo_status(echo_scp, closed_port):
    port = closed_port()
    (f,) = run_check(dicom_echo, inventory=inventory([{"ae_title": "GONE", "port": port}]))
    assert f.status is Status.FAIL and f.values["state"] == "unreachable" and "connection refused" in f.message
    with echo_scp("BUSY", status=0xC000) as port:
        (f,) = run_check(dicom_echo, inventory=inventory([{"ae_title": "BUSY", "port": port}]))
    assert f.status is Status.FAIL and f.values["status"] == "0xC000" and "status 0xC000" in f.message


def test_one_finding_per_ae_and_non_archive_failure_is_a_warning(archives, closed_port):
    aes = [
        {"ae_title": "OLD_ARCH", "port": archives.old.port, "role": "archive"},
        {"ae_title": "MODALITY_CT1", "port": closed_port(), "role": "modality"},
    ]
    findings = run_check(dicom_echo, inventory=inventory(aes))
    by = {f.subject: f for f in findings}
    assert by["OLD_ARCH"].status is Status.PASS
    assert by["MODALITY_CT1"].status is Status.WARN
    assert by["OLD_ARCH"].key != by["MODALITY_CT1"].key


def test_through_the_runner_hosts_without_aes_are_not_run(archives):
    report = run_plugin_checks(impax_preflight_dicom, inventory([{"ae_title": "NEW_ARCH", "port": archives.new.port}]),
                               only=["dicom.echo"])
    (f,) = report.findings
    assert f.check_id == "dicom.echo" and f.status is Status.PASS and f.provider == "impax_preflight_dicom"
    (nr,) = [n for n in report.not_run if n.target == "app1"]
    assert "no DICOM AE listed" in nr.reason
    assert report.verdict.value == "GO"


def test_the_reactor_leaves_answers_to_our_requests_alone(archives):
    """pynetdicom issue #875: the association's reactor thread could take the first answer to our own
    request off the queue (a C-FIND match lost). Guarded, it leaves any answer where it is."""
    import time

    from pynetdicom.dimse_primitives import C_FIND
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind

    from impax_preflight_dicom.net import Peer, associate

    assoc = associate(Peer("OLD_ARCH", "127.0.0.1", archives.old.port), "IMPAX_PREFLIGHT", 5,
                      [StudyRootQueryRetrieveInformationModelFind])
    try:
        answer = C_FIND()
        answer.MessageIDBeingRespondedTo = 1
        answer.Status = 0xFF00
        cx = assoc.accepted_contexts[0].context_id
        assoc.dimse.msg_queue.put((cx, answer))
        time.sleep(0.2)  # the reactor polls every millisecond
        assert assoc.dimse.msg_queue.qsize() == 1  # still there for the thread that asked
        assert assoc.dimse.get_msg(block=False) == (None, None)  # what the reactor gets
        assert assoc.dimse.get_msg(block=True) == (cx, answer)  # what the requester gets
    finally:
        assoc.release()
