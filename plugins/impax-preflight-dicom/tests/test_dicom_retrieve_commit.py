"""dicom.first_image_time and dicom.storage_commitment against real Orthanc archives."""

from __future__ import annotations

import socket
import threading

from impax_preflight.model import Status
from impax_preflight.testing import make_inventory, run_check, run_plugin_checks

import impax_preflight_dicom
from impax_preflight_dicom.commitment import dicom_storage_commitment
from impax_preflight_dicom.retrieve import dicom_first_image_time, percentile

END = "2026-11-18"


def host_inventory(server, role="archive", **opts):
    return make_inventory(
        {"hosts": [{"name": "arch", "address": "127.0.0.1", "os": "linux", "roles": ["archive"],
                    "transport": {"kind": "local"}, "aes": [server.peer(role)]}]},
        options={"dicom.first_image_time": {"end_date": END, "days": 5, "pause_s": 0, "timeout_s": 10, **opts}},
    )


def test_first_image_by_c_move_and_c_get(archives):
    (m,) = run_check(dicom_first_image_time, inventory=host_inventory(
        archives.old, "old_archive", listen_port=archives.listen_port, listen_address="127.0.0.1"))
    assert m.status is Status.PASS, m.message
    v = m.values
    assert v["studies"] == 5 and v["failed"] == 0 and v["method"] == "move" and v["unit"] == "s"
    assert 0 < v["p50"] <= v["p95"] == v["value"] <= v["max"] < 10
    assert len(v["samples"]) == 5 and all(s["first_image"] > 0 for s in v["samples"])
    # the five most recent studies of 2026-11-14..18 on the old archive
    recent = sorted(archives.pair.old, key=lambda s: s.date, reverse=True)
    assert {s["study"] for s in v["samples"]} <= {s.uid for s in recent if s.date >= recent[4].date}
    assert m.subject == "OLD_ARCH" and "first image after p50" in m.message
    assert f"C-MOVE (Study Root) to IMPAX_PREFLIGHT@127.0.0.1:{archives.listen_port}" in m.evidence[0].source
    assert m.evidence[0].output.count("image(s) received") == 5

    (g,) = run_check(dicom_first_image_time, inventory=host_inventory(archives.new, "new_archive", method="get", studies=3))
    assert g.status is Status.PASS, g.message
    assert g.values["studies"] == 3 and g.values["method"] == "get" and "C-GET" in g.evidence[0].source


def test_a_slow_archive_warns_above_the_threshold(orthanc_factory, archives):
    """Orthanc stopped (SIGSTOP) for 0.4 s after each request: the first image cannot come sooner."""
    from orthanc_service import PREFLIGHT_AE, Modality, all_datasets

    slow = orthanc_factory("SLOW_ARCH", {"preflight": Modality(PREFLIGHT_AE, archives.listen_port)})
    slow.store(all_datasets(archives.pair.old[:3]))
    stop = threading.Event()

    def stutter():  # pause the archive whenever it is running, release it 0.4 s later
        while not stop.is_set():
            slow.pause()
            stop.wait(0.4)
            slow.resume()
            stop.wait(0.05)

    t = threading.Thread(target=stutter, daemon=True)
    t.start()
    try:
        (f,) = run_check(dicom_first_image_time, inventory=host_inventory(
            slow, listen_port=archives.listen_port, listen_address="127.0.0.1", studies=2, warn_p95_s=0.3, days=5),
            timeout=60)
    finally:
        stop.set()
        t.join()
        slow.resume()
    assert f.status is Status.WARN, f.message
    assert f.values["p95"] > 0.3 and "warning above p95 0.3 s" in f.message


def test_unknown_move_destination_and_busy_port_are_errors(archives):
    (f,) = run_check(dicom_first_image_time, inventory=host_inventory(
        archives.old, listen_port=archives.listen_port, listen_address="127.0.0.1", listen_ae="NOT_KNOWN", studies=1))
    assert f.status is Status.ERROR
    # Orthanc answers 0xC000 (not 0xA801) for a destination it does not know
    assert "the retrieval failed (status 0xC000: unable to process)" in f.message
    assert "declare the move destination NOT_KNOWN@127.0.0.1" in f.message
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        busy = s.getsockname()[1]
        (g,) = run_check(dicom_first_image_time, inventory=host_inventory(
            archives.old, listen_port=busy, listen_address="127.0.0.1"))
    assert g.status is Status.ERROR and f"cannot listen on 127.0.0.1:{busy}" in g.message
    (h,) = run_check(dicom_first_image_time, inventory=host_inventory(archives.old))
    assert h.status is Status.ERROR and "listen_port is needed" in h.message


def test_first_image_is_opt_in_and_silent_archives_are_errors(archives, orthanc_factory):
    inv = make_inventory({"hosts": [{"name": "arch", "address": "127.0.0.1", "os": "linux", "roles": ["archive"],
                                     "transport": {"kind": "local"}, "aes": [archives.old.peer("archive")]}]})
    report = run_plugin_checks(impax_preflight_dicom, inv, only=["dicom.first_image_time", "dicom.storage_commitment"])
    assert not report.findings
    reasons = {n.check_id: n.reason for n in report.not_run}
    assert "not configured: add [site.options.\"dicom.first_image_time\"]" in reasons["dicom.first_image_time"]
    assert "not configured" in reasons["dicom.storage_commitment"]
    hung = orthanc_factory("HUNG_ARCH")
    hung.pause()
    (f,) = run_check(dicom_first_image_time, inventory=host_inventory(hung, method="get", timeout_s=1))
    assert f.status is Status.ERROR and "no answer to the association request within 1s" in f.message


def test_percentile_is_nearest_rank():
    assert percentile([3.0], 95) == 3.0
    assert percentile([1, 2, 3, 4, 5], 50) == 3 and percentile([1, 2, 3, 4, 5], 95) == 5
    assert percentile(list(range(1, 101)), 95) == 95


# ---- storage commitment ----------------------------------------------------------------------


def commit_inventory(archives, **opts):
    return make_inventory(
        {"hosts": archives.hosts()},
        options={"dicom.storage_commitment": {"end_date": END, "days": 5, "listen_port": archives.listen_port,
                                              "listen_address": "127.0.0.1", "wait_s": 20, "timeout_s": 10, **opts}},
    )


def test_every_old_instance_the_new_archive_lacks_fails_the_commitment(archives):
    """Every instance of the old archive asked about: exactly the seeded losses come back as failed."""
    from orthanc_service import study_datasets

    pair = archives.pair
    (f,) = run_check(dicom_storage_commitment, inventory=commit_inventory(archives, studies=100, instances=1000))
    assert f.status is Status.FAIL, f.message
    expected = set()
    for st in pair.old:
        on_old = {ds.SOPInstanceUID for ds in study_datasets(st)}
        if st.uid in pair.missing:
            expected |= on_old
        elif st.uid in pair.fewer:
            (new_st,) = [n for n in pair.new if n.uid == st.uid]
            expected |= on_old - {ds.SOPInstanceUID for ds in study_datasets(new_st)}
    v = f.values
    assert v["asked"] == sum(st.instances for st in pair.old)
    assert {x["sop_instance"] for x in v["failed"]} == expected and v["missing"] == []
    assert all(x["reason"] == "0x0112 no such object instance" for x in v["failed"])
    assert v["committed"] == v["asked"] - len(expected)
    assert v["report_on"] == "new association from NEW_ARCH"
    assert f"did not commit {len(expected)} of {v['asked']} sampled instances of OLD_ARCH" in f.message
    assert f.evidence[0].output.count("FAILED (0x0112 no such object instance)") == len(expected)


def test_a_sample_of_the_new_archive_is_committed(archives):
    (f,) = run_check(dicom_storage_commitment, inventory=commit_inventory(archives, sample_from="new", seed=7))
    assert f.status is Status.PASS, f.message
    assert 0 < f.values["asked"] <= 50 and f.values["committed"] == f.values["asked"]
    assert f.values["sampled_from"].startswith("NEW_ARCH@")


def test_without_a_listener_no_report_is_not_verified(archives):
    inv = commit_inventory(archives, sample_from="new", instances=3, wait_s=2)
    inv.site.options["dicom.storage_commitment"].pop("listen_port")
    (f,) = run_check(dicom_storage_commitment, inventory=inv)
    assert f.status is Status.ERROR
    assert "sent no report within 2s on the same association (no listen_port set" in f.message
    assert f.values["asked"] == 3 and f.values["report_on"] is None


def test_a_report_on_the_same_association_is_read(tmp_path):
    """pynetdicom as an archive that answers on the N-ACTION's own association (Orthanc never does)."""
    from pydicom.dataset import Dataset
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import StorageCommitmentPushModel, StudyRootQueryRetrieveInformationModelFind

    instances = [("1.2.3.1", "1.2.840.10008.5.1.4.1.1.2"), ("1.2.3.2", "1.2.840.10008.5.1.4.1.1.2")]

    def on_find(event):
        level = event.identifier.QueryRetrieveLevel
        ds = Dataset()
        ds.QueryRetrieveLevel = level
        ds.StudyInstanceUID = "1.2.3"
        if level == "STUDY":
            ds.NumberOfStudyRelatedInstances = 2
            yield 0xFF00, ds
        elif level == "SERIES":
            ds.SeriesInstanceUID = "1.2.3.9"
            yield 0xFF00, ds
        else:
            for sop, cls in instances:
                d = Dataset()
                d.QueryRetrieveLevel, d.SOPInstanceUID, d.SOPClassUID = "IMAGE", sop, cls
                yield 0xFF00, d

    def on_action(event):
        req = event.action_information
        report = Dataset()
        report.TransactionUID = req.TransactionUID
        ok, bad = Dataset(), Dataset()
        ok.ReferencedSOPClassUID, ok.ReferencedSOPInstanceUID = instances[0][1], instances[0][0]
        bad.ReferencedSOPClassUID, bad.ReferencedSOPInstanceUID, bad.FailureReason = instances[1][1], instances[1][0], 0x0110
        report.ReferencedSOPSequence, report.FailedSOPSequence = [ok], [bad]

        def later():
            event.assoc.send_n_event_report(report, 2, StorageCommitmentPushModel, "1.2.840.10008.1.20.1.1")

        threading.Timer(0.2, later).start()
        return 0x0000, None

    ae = AE("SAME_ARCH")
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
    ae.add_supported_context(StorageCommitmentPushModel, scu_role=True, scp_role=True)
    server = ae.start_server(("127.0.0.1", 0), block=False,
                             evt_handlers=[(evt.EVT_C_FIND, on_find), (evt.EVT_N_ACTION, on_action)])
    try:
        port = server.server_address[1]
        arch = {"ae_title": "SAME_ARCH", "address": "127.0.0.1", "port": port}
        inv = make_inventory(options={"dicom.storage_commitment": {"archive": arch, "end_date": END, "wait_s": 5}})
        (f,) = run_check(dicom_storage_commitment, inventory=inv)
    finally:
        server.shutdown()
    assert f.status is Status.FAIL, f.message
    assert f.values["report_on"] == "same association"
    assert f.values["failed"] == [{"sop_instance": "1.2.3.2", "study": "1.2.3", "reason": "0x0110 processing failure"}]
    assert f.values["committed"] == 1


def test_the_figures_survive_into_a_baseline_comparison(archives):
    """p50 / p95 are named so that `run --baseline` / `diff` list them as values that moved (timings
    ending in _s are left out there on purpose)."""
    from impax_preflight.report.diff import moved_values

    (before,) = run_check(dicom_first_image_time, inventory=host_inventory(archives.new, method="get", studies=2))
    after = before.model_copy(update={"values": {**before.values, "p50": before.values["p50"] + 1.5,
                                                 "p95": before.values["p95"] + 2.0}})
    moved = moved_values(before, after)
    assert set(moved) >= {"p50", "p95"} and moved["p95"]["delta"] == 2.0
