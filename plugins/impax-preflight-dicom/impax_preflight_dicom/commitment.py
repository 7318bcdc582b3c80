"""dicom.storage_commitment: the new archive confirms, by storage commitment, that it safely holds a
sample of the instances of the old one (the migration flow's "confirmation of the safe storage").

A random sample of SOP instances is drawn by C-FIND (STUDY, SERIES, IMAGE level) from the old
archive (or the new one when no old archive is declared); one N-ACTION (Storage Commitment Push
Model, 1.2.840.10008.1.20.1) asks the new archive to commit them; its N-EVENT-REPORT lists which
it holds (Referenced SOP Sequence) and which it does not (Failed SOP Sequence, with the reason).
The report may come on the same association or on a new one the archive opens to our listener
(Orthanc, like most archives, does the latter): both are awaited.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

from impax_preflight import check
from impax_preflight.check import CheckContext
from impax_preflight.model import Evidence, Finding

from . import net
from .checks import GUIDE, _archive_peers, _calling_ae, _options, _peer_from_option, settings
from .listener import CommitmentReport, Listener, report_handler
from .net import DicomError, Peer, QuerySession, study_query
from .options import choice, date, number, whole
from .retrieve import listen_settings

CHECK_ID = "dicom.storage_commitment"
PUSH_MODEL_INSTANCE = "1.2.840.10008.1.20.1.1"  # the well-known SOP instance of the Push Model

#: Failure Reason (0008,1197) values (PS3.3 C.14.1.1; PS3.4 J.3.2.1.3.1)
FAILURE_REASONS = {
    0x0110: "processing failure",
    0x0112: "no such object instance",
    0x0119: "class / instance conflict",
    0x0122: "referenced SOP class not supported",
    0x0131: "duplicate transaction UID",
    0x0213: "resource limitation",
}
#: how long the association stays open for a report on it before we wait on our listener only
SAME_ASSOCIATION_WAIT_S = 10.0


@dataclass(frozen=True)
class Instance:
    study_uid: str
    sop_class: str
    sop_instance: str


@dataclass
class Commitment:
    """What the archive answered for a sample."""

    transaction_uid: str
    asked: list[Instance]
    committed: set[str] = field(default_factory=set)
    failed: dict[str, int] = field(default_factory=dict)  # SOP instance UID -> Failure Reason
    report: CommitmentReport | None = None

    @property
    def missing(self) -> list[Instance]:
        """Asked about, but in neither list of the report."""
        return [i for i in self.asked if i.sop_instance not in self.committed and i.sop_instance not in self.failed]

    @property
    def failed_instances(self) -> list[Instance]:
        return [i for i in self.asked if i.sop_instance in self.failed]


def sample_instances(session: QuerySession, first: dt.date, last: dt.date, studies: int, instances: int,
                     rnd: random.Random) -> tuple[list[Instance], list[str]]:
    """A random sample: `studies` studies dated first..last, then up to `instances` SOP instances across them.

    Reservoir sampling over streamed answers, so memory stays bounded whatever the archive holds.
    Returns (instances, notes on what could not be used).
    """
    from pydicom.dataset import Dataset

    chosen: list[str] = []
    seen = 0
    for ds in session.find(study_query(dates=(first, last)), f"for StudyDate {first:%Y%m%d}-{last:%Y%m%d}"):
        uid = str(getattr(ds, "StudyInstanceUID", "") or "")
        if not uid or net._count(getattr(ds, "NumberOfStudyRelatedInstances", None)) == 0:
            continue
        seen += 1
        if len(chosen) < studies:
            chosen.append(uid)
        else:
            j = rnd.randrange(seen)
            if j < studies:
                chosen[j] = uid
    per_study = math.ceil(instances / max(1, len(chosen)))
    out: list[Instance] = []
    notes: list[str] = []
    for study_uid in chosen:
        q = Dataset()
        q.QueryRetrieveLevel = "SERIES"
        q.StudyInstanceUID = study_uid
        q.SeriesInstanceUID = ""
        series = [str(s.SeriesInstanceUID) for s in session.find(q, f"for the series of {study_uid}")
                  if getattr(s, "SeriesInstanceUID", "")]
        pool: list[Instance] = []
        n = 0
        no_class = 0
        for series_uid in series:
            q = Dataset()
            q.QueryRetrieveLevel = "IMAGE"
            q.StudyInstanceUID = study_uid
            q.SeriesInstanceUID = series_uid
            q.SOPInstanceUID = ""
            q.SOPClassUID = ""
            for ds in session.find(q, f"for the instances of series {series_uid}"):
                sop, cls = str(getattr(ds, "SOPInstanceUID", "") or ""), str(getattr(ds, "SOPClassUID", "") or "")
                if not sop:
                    continue
                if not cls:
                    no_class += 1
                    continue
                n += 1
                if len(pool) < per_study:
                    pool.append(Instance(study_uid, cls, sop))
                else:
                    j = rnd.randrange(n)
                    if j < per_study:
                        pool[j] = Instance(study_uid, cls, sop)
        if no_class:
            notes.append(f"{no_class} instance(s) of study {study_uid} left out: the archive did not return their SOP Class UID")
        out.extend(pool)
    return out[:instances], notes


def request_commitment(peer: Peer, calling_ae: str, listener: Listener | None, sample: list[Instance],
                       wait_s: float, timeout: float) -> Commitment:
    """One N-ACTION for the sample; waits up to `wait_s` for the N-EVENT-REPORT. `DicomError` if refused."""
    from pydicom.dataset import Dataset
    from pydicom.uid import generate_uid
    from pynetdicom import evt
    from pynetdicom.sop_class import StorageCommitmentPushModel

    tuid = generate_uid()
    outcome = Commitment(tuid, sample)
    if listener is not None:
        report = listener.expect_report(tuid)
    else:
        report = CommitmentReport(tuid)
    same = report_handler({tuid: report}, threading.Lock(), same_association=True)
    assoc = net.associate(peer, calling_ae, timeout, [StorageCommitmentPushModel],
                          handlers=[(evt.EVT_N_EVENT_REPORT, same)])
    start = time.monotonic()
    try:
        ds = Dataset()
        ds.TransactionUID = tuid
        refs = []
        for inst in sample:
            item = Dataset()
            item.ReferencedSOPClassUID = inst.sop_class
            item.ReferencedSOPInstanceUID = inst.sop_instance
            refs.append(item)
        ds.ReferencedSOPSequence = refs
        try:
            status, _reply = assoc.send_n_action(ds, 1, StorageCommitmentPushModel, PUSH_MODEL_INSTANCE)
        except ValueError:
            raise DicomError(f"{peer}: association accepted but not the Storage Commitment Push Model SOP class") from None
        if status is None or "Status" not in status:
            raise DicomError(f"{peer}: no answer to the storage commitment request (N-ACTION) within {timeout:g}s")
        code = int(status.Status)
        if code != 0x0000:
            raise DicomError(f"{peer}: the storage commitment request (N-ACTION) was refused with status 0x{code:04X}")
        # some archives report on this association while it is open; most open one of their own later
        report.event.wait(min(wait_s, SAME_ASSOCIATION_WAIT_S))
    finally:
        if assoc.is_established:
            assoc.release()
    if not report.event.is_set() and listener is not None:
        report.event.wait(max(0.0, wait_s - (time.monotonic() - start)))
    if report.event.is_set():
        outcome.report = report
        info = report.info
        for item in getattr(info, "ReferencedSOPSequence", None) or []:
            outcome.committed.add(str(getattr(item, "ReferencedSOPInstanceUID", "")))
        for item in getattr(info, "FailedSOPSequence", None) or []:
            outcome.failed[str(getattr(item, "ReferencedSOPInstanceUID", ""))] = int(getattr(item, "FailureReason", 0) or 0)
    return outcome


# ---- the check -------------------------------------------------------------------------------


def _new_archive(inventory, opts: dict[str, Any]) -> Peer | str:
    """The archive asked to commit: option `archive`, else the AE with role new_archive; or why not."""
    if "archive" in opts:
        return _peer_from_option(opts["archive"], "archive", CHECK_ID)
    found = [Peer(ae.ae_title, ae.address or h.reach, ae.port, ae.role) for h in inventory.hosts for ae in h.aes
             if ae.role == "new_archive"]
    if len(found) > 1:
        return f"several AEs have role new_archive ({', '.join(map(str, found))}): name one in site.options.\"{CHECK_ID}\".archive"
    if not found:
        return f"needs the new archive: an AE with role new_archive, or site.options.\"{CHECK_ID}\".archive"
    return found[0]


def _applies(site, host, db, inventory=None) -> bool | str:
    """site.options."dicom.storage_commitment" is set and a new archive is named"""
    if CHECK_ID not in site.options:
        return (f"not configured: add [site.options.\"{CHECK_ID}\"] (listen_port: the port our AE receives the "
                "archive's storage commitment report on)")
    if inventory is None:
        return True
    try:
        target = _new_archive(inventory, _options(site, CHECK_ID))
    except ValueError:
        return True  # the check reports badly written options as an error
    return target if isinstance(target, str) else True


@check(
    CHECK_ID,
    "The new archive commits a sample of the migrated instances (storage commitment)",
    "blocker",
    "site",
    when=_applies,
    guide=GUIDE,
    remediation=(
        "Instances the new archive does not commit are not safely stored there: migrate them (their studies) again "
        "and repeat. If no report comes back, declare our AE title with this machine's address and listen_port on the "
        "new archive as a storage commitment destination."
    ),
    description=(
        "A random sample of SOP instances (default: up to 50 instances from 5 studies dated in the 30 days ending "
        "yesterday) is drawn by Study Root C-FIND at STUDY, SERIES and IMAGE level (SOPInstanceUID, SOPClassUID) from "
        "the old archive, or from the new one when no old archive is declared (sample_from). One N-ACTION of the "
        "Storage Commitment Push Model (1.2.840.10008.1.20.1, action type 1) asks the new archive to commit them all; "
        "the N-EVENT-REPORT is awaited up to wait_s (default 60 s) on the same association and on our listener "
        "(listen_port; the archive must know our AE title there). Every instance it does not list as committed — "
        "in the Failed SOP Sequence (with the reason) or in neither list — fails the check; no report is an error "
        "(not verified). Opt-in: runs only when [site.options.\"dicom.storage_commitment\"] exists."
    ),
)
def dicom_storage_commitment(ctx: CheckContext) -> Iterator[Finding]:
    opts = settings(ctx)
    try:
        target = _new_archive(ctx.inventory, opts)
        pair = _archive_peers(ctx.inventory, opts, CHECK_ID) if ("old" in opts and "new" in opts) else None
        address, port = listen_settings(opts, required=False)
        window_text = str(opts.get("window", "always"))
        window = net.parse_window(window_text)
        days = whole(opts, "days", 30, 1, 3660)
        studies = whole(opts, "studies", 5, 1, 100)
        instances = whole(opts, "instances", 50, 1, 1000)
        wait_s = number(opts, "wait_s", 60.0, 1, 3600)
        timeout = number(opts, "timeout_s", 30.0, 1, 600)
        end = date(opts, "end_date") or dt.date.today() - dt.timedelta(days=1)
        seed = opts.get("seed")
        sample_from = choice(opts, "sample_from", "old", {"old": "the old archive", "new": "the new archive itself"})
    except (ValueError, TypeError) as exc:
        yield ctx.error(f"bad settings in site.options.\"{CHECK_ID}\": {exc}")
        return
    if isinstance(target, str):
        yield ctx.skip(target)
        return
    source = target
    if sample_from == "old":
        old = _old_archive(ctx.inventory, pair)
        if old is not None:
            source = old
    now = dt.datetime.now()
    if not net.in_window(window, now.time()):
        yield ctx.skip(f"outside the window {window_text} (now {now:%H:%M}); run again inside it")
        return
    calling = _calling_ae(opts)
    first = end - dt.timedelta(days=days - 1)
    rnd = random.Random(seed)
    subject = target.ae_title
    lines: list[str] = []

    def evidence() -> list[Evidence]:
        return [Evidence(
            kind="dicom",
            source=(f"sample: C-FIND STUDY/SERIES/IMAGE on {source} (StudyDate {first:%Y%m%d}-{end:%Y%m%d}); "
                    f"N-ACTION Storage Commitment Push Model on {target} from {calling}"
                    + (f", reports awaited on {address}:{port}" if port else ", report awaited on the same association only")),
            target="site", output="\n".join(lines) or "(nothing sampled)", transport="dicom")]

    try:
        with QuerySession(source, calling, timeout) as session:
            sample, notes = sample_instances(session, first, end, studies, instances, rnd)
        lines.extend(notes)
        if not sample:
            yield ctx.error(f"no instance to ask about: no study with instances dated {first}..{end} on {source}"
                            + (f" ({'; '.join(notes)})" if notes else ""), subject=subject, evidence=evidence())
            return
        with contextlib.ExitStack() as stack:
            listener = stack.enter_context(Listener(calling, address, port, wait_s=timeout)) if port else None
            outcome = request_commitment(target, calling, listener, sample, wait_s, timeout)
    except DicomError as exc:
        yield ctx.error(f"storage commitment not verified: {exc}", subject=subject, evidence=evidence())
        return
    failed, missing = outcome.failed_instances, outcome.missing
    for inst in sample:
        state = ("committed" if inst.sop_instance in outcome.committed else
                 f"FAILED ({_reason(outcome.failed[inst.sop_instance])})" if inst.sop_instance in outcome.failed else
                 "not in the report")
        lines.append(f"{inst.sop_instance}  {inst.sop_class}  study {inst.study_uid}: {state}")
    values: dict[str, Any] = {
        "archive": str(target),
        "sampled_from": str(source),
        "transaction_uid": outcome.transaction_uid,
        "asked": len(sample),
        "committed": len(sample) - len(failed) - len(missing),
        "failed": [{"sop_instance": i.sop_instance, "study": i.study_uid, "reason": _reason(outcome.failed[i.sop_instance])}
                   for i in failed],
        "missing": [{"sop_instance": i.sop_instance, "study": i.study_uid} for i in missing],
        "report_on": None if outcome.report is None else ("same association" if outcome.report.same_association
                                                         else f"new association from {outcome.report.sender}"),
        "value": len(failed) + len(missing),
    }
    if outcome.report is None:
        yield ctx.error(
            f"storage commitment not verified: {target} accepted the request for {len(sample)} instances but sent no "
            f"report within {wait_s:g}s" + ("" if port else " on the same association (no listen_port set, so it could "
                                                          "not open one of its own)"),
            subject=subject, values=values, evidence=evidence())
        return
    if failed or missing:
        listed = "; ".join([f"{i.sop_instance} ({_reason(outcome.failed[i.sop_instance])})" for i in failed[:5]]
                           + [f"{i.sop_instance} (not in the report)" for i in missing[:max(0, 5 - len(failed))]])
        yield ctx.fail(
            f"{target} did not commit {len(failed) + len(missing)} of {len(sample)} sampled instances of {source.ae_title}: "
            f"{len(failed)} failed, {len(missing)} not in the report — {listed}",
            subject=subject, values=values, evidence=evidence())
        return
    yield ctx.passed(f"{target} committed all {len(sample)} sampled instances of {source.ae_title} "
                     f"({values['report_on']})", subject=subject, values=values, evidence=evidence())


def _old_archive(inventory, pair) -> Peer | None:
    if pair is not None and not isinstance(pair, str):
        return pair[0]
    olds = [Peer(ae.ae_title, ae.address or h.reach, ae.port, ae.role) for h in inventory.hosts for ae in h.aes
            if ae.role == "old_archive"]
    return olds[0] if len(olds) == 1 else None


def _reason(code: int) -> str:
    return f"0x{code:04X} {FAILURE_REASONS.get(code, 'failure')}"
