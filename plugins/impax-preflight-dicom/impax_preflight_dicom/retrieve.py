"""dicom.first_image_time: how long an archive takes to deliver the first image of a study.

The preparation guide ("Evaluating system requirements") asks to measure the time to acquire the
first image when judging whether the servers are good enough. For N recent studies of each
archive AE, a C-MOVE to our own storage SCP (or a C-GET) is timed from the request to the first
C-STORE received; the retrieval is then cancelled (C-CANCEL) so the archive does not send the
whole study. p50 and p95 are kept in the finding's values, so the same check after the upgrade
(`impax-preflight run ... --baseline before/report.json`) shows how they moved.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import heapq
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator

from impax_preflight import check
from impax_preflight.check import CheckContext
from impax_preflight.model import Evidence, Finding

from . import net
from .checks import ARCHIVE_ROLES, _calling_ae, settings
from .listener import Arrival, Listener, store_handler
from .net import DicomError, Peer, QuerySession, study_query
from .options import choice, date, number, whole

CHECK_ID = "dicom.first_image_time"
GUIDE = "Evaluating system requirements"

#: C-MOVE / C-GET final statuses (PS3.4 C.4.2.1.5, C.4.3.1.4)
_RETRIEVE_STATUS = {
    0x0000: "success",
    0xFE00: "cancelled",
    0xB000: "some sub-operations failed",
    0xA701: "out of resources (number of matches)",
    0xA702: "out of resources (sub-operations)",
    0xA801: "move destination unknown",
    0xA900: "identifier does not match SOP class",
    0xAA00: "none of the frames requested were found",
}

#: storage classes proposed for C-GET when the archive does not say which ones a study holds
_COMMON_STORAGE = (
    "1.2.840.10008.5.1.4.1.1.2",  # CT Image
    "1.2.840.10008.5.1.4.1.1.4",  # MR Image
    "1.2.840.10008.5.1.4.1.1.1",  # CR Image
    "1.2.840.10008.5.1.4.1.1.1.1",  # Digital X-Ray Image - For Presentation
    "1.2.840.10008.5.1.4.1.1.1.2",  # Digital Mammography X-Ray Image - For Presentation
    "1.2.840.10008.5.1.4.1.1.6.1",  # Ultrasound Image
    "1.2.840.10008.5.1.4.1.1.3.1",  # Ultrasound Multi-frame Image
    "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture Image
    "1.2.840.10008.5.1.4.1.1.12.1",  # X-Ray Angiographic Image
    "1.2.840.10008.5.1.4.1.1.12.2",  # X-Ray Radiofluoroscopic Image
    "1.2.840.10008.5.1.4.1.1.20",  # Nuclear Medicine Image
    "1.2.840.10008.5.1.4.1.1.128",  # Positron Emission Tomography Image
    "1.2.840.10008.5.1.4.1.1.481.1",  # RT Image
    "1.2.840.10008.5.1.4.1.1.2.1",  # Enhanced CT Image
    "1.2.840.10008.5.1.4.1.1.4.1",  # Enhanced MR Image
    "1.2.840.10008.5.1.4.1.1.11.1",  # Grayscale Softcopy Presentation State
    "1.2.840.10008.5.1.4.1.1.88.11",  # Basic Text SR
    "1.2.840.10008.5.1.4.1.1.88.22",  # Enhanced SR
    "1.2.840.10008.5.1.4.1.1.88.59",  # Key Object Selection Document
    "1.2.840.10008.5.1.4.1.1.104.1",  # Encapsulated PDF
)

_RETRIEVE_SYNTAXES = (
    "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
    "1.2.840.10008.1.2",  # Implicit VR Little Endian
    "1.2.840.10008.1.2.4.70",  # JPEG Lossless SV1
    "1.2.840.10008.1.2.4.50",  # JPEG Baseline
    "1.2.840.10008.1.2.4.90",  # JPEG 2000 Lossless
    "1.2.840.10008.1.2.4.91",  # JPEG 2000
    "1.2.840.10008.1.2.5",  # RLE Lossless
)

_MSG_ID = 7


@dataclass
class Retrieval:
    """One study's retrieval: seconds to the first image (None if none came) and how it ended."""

    study_uid: str
    first_image_s: float | None
    images: int = 0
    status: int | None = None
    problem: str | None = None

    def line(self) -> str:
        took = f"{self.first_image_s:8.3f} s" if self.first_image_s is not None else "   no image"
        status = f"status 0x{self.status:04X} ({_meaning(self.status)})" if self.status is not None else "no final status"
        return f"{self.study_uid}  {took}  {self.images} image(s) received, {status}" + (f": {self.problem}" if self.problem else "")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list: a value that was measured."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def recent_studies(session: QuerySession, first: dt.date, last: dt.date, n: int) -> list[tuple[str, list[str]]]:
    """The `n` most recent studies (StudyDate, StudyTime) with at least one instance: (UID, SOP classes).

    Streams the answers and keeps only `n`: a busy archive's week of studies is never held in memory.
    """
    q = study_query(dates=(first, last))
    q.StudyTime = ""
    q.SOPClassesInStudy = None
    best: list[tuple[str, str, str, tuple[str, ...]]] = []
    for ds in session.find(q, f"for StudyDate {first:%Y%m%d}-{last:%Y%m%d}"):
        uid = str(getattr(ds, "StudyInstanceUID", "") or "")
        if not uid or net._count(getattr(ds, "NumberOfStudyRelatedInstances", None)) == 0:
            continue
        classes = getattr(ds, "SOPClassesInStudy", None) or ()
        classes = (str(classes),) if isinstance(classes, str) else tuple(str(c) for c in classes)
        key = (str(getattr(ds, "StudyDate", "") or ""), str(getattr(ds, "StudyTime", "") or ""), uid, classes)
        if len(best) < n:
            heapq.heappush(best, key)
        elif key > best[0]:
            heapq.heapreplace(best, key)
    return [(k[2], list(k[3])) for k in sorted(best, reverse=True)]


def _final(responses) -> tuple[int | None, str, bool]:
    """Drain a C-MOVE / C-GET response stream: (final status, its Error Comment, whether it ended without an answer)."""
    final, comment = None, ""
    for status, _identifier in responses:
        if status is None or "Status" not in status:
            return final, comment, True
        code = int(status.Status)
        if code not in (0xFF00, 0xFF01):
            final, comment = code, str(getattr(status, "ErrorComment", "") or "")
    return final, comment, False


def _meaning(code: int | None) -> str:
    if code is None:
        return "no final status"
    return _RETRIEVE_STATUS.get(code) or ("unable to process" if 0xC000 <= code <= 0xCFFF else "failure")


def time_move(peer: Peer, calling_ae: str, listener: Listener, study_uid: str, timeout: float) -> Retrieval:
    """C-MOVE one study to our listener; seconds from the request to the first image received there."""
    from pydicom.dataset import Dataset
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelMove as MoveModel

    assoc = net.associate(peer, calling_ae, timeout, [MoveModel])
    arrival = listener.expect_study(study_uid)
    try:
        cx = assoc.accepted_contexts[0].context_id
        arrival.on_first = lambda: assoc.send_c_cancel(_MSG_ID, cx)  # the first image is all we time
        q = Dataset()
        q.QueryRetrieveLevel = "STUDY"
        q.StudyInstanceUID = study_uid
        start = time.monotonic()
        try:
            responses = assoc.send_c_move(q, listener.ae_title, MoveModel, msg_id=_MSG_ID)
        except ValueError:
            raise DicomError(f"{peer}: association accepted but the Study Root C-MOVE model was not accepted") from None
        final, comment, silent = _final(responses)
        return _outcome(study_uid, arrival, start, final, comment, silent, timeout, move_to=str(listener))
    finally:
        listener.forget_study(study_uid)
        if assoc.is_established:
            assoc.release()


def time_get(peer: Peer, calling_ae: str, study_uid: str, sop_classes: list[str], timeout: float) -> Retrieval:
    """C-GET one study on the same association; seconds from the request to the first image received."""
    from pydicom.dataset import Dataset
    from pynetdicom import build_role, evt
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet as GetModel

    classes = list(dict.fromkeys(sop_classes or _COMMON_STORAGE))[:120]
    arrivals = {study_uid: Arrival(study_uid)}
    lock = threading.Lock()
    contexts: list[Any] = [GetModel, *((c, list(_RETRIEVE_SYNTAXES)) for c in classes)]
    assoc = net.associate(
        peer, calling_ae, timeout, contexts,
        ext_neg=[build_role(c, scp_role=True) for c in classes],
        handlers=[(evt.EVT_C_STORE, store_handler(arrivals, lock))],
    )
    arrival = arrivals[study_uid]
    try:
        cx = next(c.context_id for c in assoc.accepted_contexts if c.abstract_syntax == GetModel)
        arrival.on_first = lambda: assoc.send_c_cancel(_MSG_ID, cx)
        q = Dataset()
        q.QueryRetrieveLevel = "STUDY"
        q.StudyInstanceUID = study_uid
        start = time.monotonic()
        try:
            responses = assoc.send_c_get(q, GetModel, msg_id=_MSG_ID)
        except ValueError:
            raise DicomError(f"{peer}: association accepted but the Study Root C-GET model was not accepted") from None
        final, comment, silent = _final(responses)
        return _outcome(study_uid, arrival, start, final, comment, silent, timeout, move_to=None)
    finally:
        if assoc.is_established:
            assoc.release()


def _outcome(study_uid: str, arrival: Arrival, start: float, final: int | None, comment: str, silent: bool,
             timeout: float, move_to: str | None) -> Retrieval:
    took = arrival.at - start if arrival.at is not None else None
    r = Retrieval(study_uid, took, arrival.images, final)
    if took is not None:
        return r
    said = f"status 0x{final:04X}: {_meaning(final)}" + (f", \"{comment}\"" if comment else "") if final is not None else ""
    destination = (f"declare the move destination {move_to} (our AE title, this machine's address and listen_port) "
                   "as a DICOM node of the archive, or set method = \"get\"")
    if final == 0xA801:
        r.problem = f"the archive does not know the move destination ({said}): {destination}"
    elif silent:
        r.problem = f"no image and no answer within {timeout:g}s"
    elif final in (0x0000, 0xB000):
        r.problem = f"the archive answered the retrieval without sending any image ({said})"
    elif move_to is not None:
        r.problem = f"the retrieval failed ({said}); if the archive does not know where to send: {destination}"
    else:
        r.problem = f"the retrieval failed ({said})"
    return r


# ---- the check -------------------------------------------------------------------------------


def _applies(site, host, db) -> bool | str:
    """the host lists an archive AE and site.options."dicom.first_image_time" is set"""
    if host is None or not any(ae.role in ARCHIVE_ROLES for ae in host.aes):
        return "no archive AE listed for this host (aes = [...] with role archive, old_archive or new_archive)"
    if CHECK_ID not in site.options:
        return (f"not configured: add [site.options.\"{CHECK_ID}\"] (and listen_port, the port of our storage SCP "
                "the archive moves images to, or method = \"get\")")
    return True


@dataclass
class FirstImageSettings:
    studies: int
    days: int
    end_date: dt.date | None
    method: str
    listen_ae: str | None
    listen_address: str
    listen_port: int | None
    warn_p95_s: float
    timeout_s: float
    pause_s: float
    window: tuple[dt.time, dt.time] | None
    window_text: str


def listen_settings(opts: dict[str, Any], required: bool) -> tuple[str, int | None]:
    """(listen_address, listen_port) from the options; ValueError if a port is needed and missing."""
    port = opts.get("listen_port")
    if port is None:
        if required:
            raise ValueError("listen_port is needed: the port of our storage SCP, which the archive must know with "
                             "our AE title and this machine's address")
        return str(opts.get("listen_address", "0.0.0.0")), None
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"listen_port = {port!r}: give a TCP port from 1 to 65535")
    return str(opts.get("listen_address", "0.0.0.0")), port


def first_image_settings(opts: dict[str, Any]) -> FirstImageSettings:
    method = choice(opts, "method", "move", {"move": "C-MOVE to our storage SCP", "get": "C-GET"})
    address, port = listen_settings(opts, required=method == "move")
    window_text = str(opts.get("window", "always"))
    return FirstImageSettings(
        studies=whole(opts, "studies", 5, 1, 50),
        days=whole(opts, "days", 7, 1, 365),
        end_date=date(opts, "end_date"),
        method=method,
        listen_ae=str(opts["listen_ae"]) if opts.get("listen_ae") else None,
        listen_address=address,
        listen_port=port,
        warn_p95_s=number(opts, "warn_p95_s", 10.0, 0.01, 3600),
        timeout_s=number(opts, "timeout_s", 60.0, 1, 3600),
        pause_s=number(opts, "pause_s", 1.0, 0, 600),
        window=net.parse_window(window_text),
        window_text=window_text,
    )


@check(
    CHECK_ID,
    "Each archive delivers the first image of a study quickly",
    "warning",
    "host",
    when=_applies,
    guide=GUIDE,
    remediation=(
        "A slow first image is a reason to replace or upgrade the archive server or its storage (guide: "
        "Evaluating system requirements). Compare with the figures before the upgrade "
        "(impax-preflight run ... --baseline before/report.json), and look at the archive's load, its disks and "
        "whether the studies had to come back from near-line storage."
    ),
    description=(
        "For each archive AE of the host (roles archive, old_archive, new_archive): a Study Root C-FIND at STUDY level "
        "over the last `days` days (default 7, ending today or end_date) picks the `studies` most recent studies (default 5) "
        "with at least one instance; each is retrieved with a Study Root C-MOVE to our own storage SCP (our AE title, "
        "listen_port; the archive must know it as a move destination) or, with method = \"get\", a C-GET on the same "
        "association. Measured: seconds from sending the request to receiving the first C-STORE of that study (any "
        "SOP class), after which the retrieval is cancelled (C-CANCEL) and received images are dropped. p50 and p95 "
        "(nearest rank) are kept in the finding's values (p50, p95, samples) for a later run to compare; a warning "
        "when p95 is above warn_p95_s (default 10 s, a project default: the guide gives no figure) or when a "
        "retrieval failed; an error when nothing could be measured. Opt-in: runs only when "
        "[site.options.\"dicom.first_image_time\"] exists."
    ),
)
def dicom_first_image_time(ctx: CheckContext) -> Iterator[Finding]:
    opts = settings(ctx)
    try:
        cfg = first_image_settings(opts)
    except (ValueError, TypeError) as exc:
        yield ctx.error(f"bad settings in site.options.\"{CHECK_ID}\": {exc}")
        return
    now = dt.datetime.now()
    if not net.in_window(cfg.window, now.time()):
        yield ctx.skip(f"outside the window {cfg.window_text} (now {now:%H:%M}): no retrieval from a production archive "
                       f"now; run again inside it or change site.options.\"{CHECK_ID}\".window")
        return
    calling = _calling_ae(opts)
    assert ctx.host is not None
    aes = [ae for ae in ctx.host.aes if ae.role in ARCHIVE_ROLES]
    with contextlib.ExitStack() as stack:
        listener = None
        if cfg.method == "move":
            assert cfg.listen_port is not None
            try:
                listener = stack.enter_context(Listener(cfg.listen_ae or calling, cfg.listen_address, cfg.listen_port,
                                                        wait_s=ctx.remaining(cfg.timeout_s)))
            except DicomError as exc:
                for ae in aes:
                    yield ctx.error(str(exc), subject=ae.ae_title)
                return
        for ae in aes:
            peer = Peer(ae.ae_title, ae.address or ctx.host.reach, ae.port, ae.role)
            yield _measure(ctx, cfg, peer, calling, listener)


def _measure(ctx: CheckContext, cfg: FirstImageSettings, peer: Peer, calling: str, listener: Listener | None) -> Finding:
    last = cfg.end_date or dt.date.today()
    first = last - dt.timedelta(days=cfg.days - 1)
    how = (f"C-MOVE (Study Root) to {listener}" if listener is not None else "C-GET (Study Root)")
    source = (f"C-FIND STUDY StudyDate {first:%Y%m%d}-{last:%Y%m%d} on {peer} from {calling}, then per study {how}, "
              f"cancelled after the first image; pause {cfg.pause_s:g}s")
    results: list[Retrieval] = []

    def evidence(extra: str = "") -> list[Evidence]:
        lines = [r.line() for r in results] + ([extra] if extra else [])
        return [Evidence(kind="dicom", source=source, target=ctx.target_name, output="\n".join(lines) or "(nothing retrieved)",
                         transport="dicom")]

    try:
        with QuerySession(peer, calling, ctx.remaining(cfg.timeout_s)) as session:
            studies = recent_studies(session, first, last, cfg.studies)
        if not studies:
            return ctx.error(f"{peer}: no study with images dated {first}..{last}: nothing to time; raise "
                             f"site.options.\"{CHECK_ID}\".days", subject=peer.ae_title, evidence=evidence())
        for i, (uid, classes) in enumerate(studies):
            if i and cfg.pause_s:
                time.sleep(cfg.pause_s)
            ctx.progress(f"{peer.ae_title}: study {i + 1} of {len(studies)}", i, len(studies))
            t = ctx.remaining(cfg.timeout_s)
            if listener is not None:
                results.append(time_move(peer, calling, listener, uid, t))
            else:
                results.append(time_get(peer, calling, uid, classes, t))
    except DicomError as exc:
        if not results:
            return ctx.error(f"cannot time the first image on {peer}: {exc}", subject=peer.ae_title, evidence=evidence(str(exc)))
        results.append(Retrieval("(stopped)", None, problem=str(exc)))
    times = [r.first_image_s for r in results if r.first_image_s is not None]
    failed = [r for r in results if r.first_image_s is None]
    values: dict[str, Any] = {
        "ae_title": peer.ae_title,
        "method": cfg.method,
        "studies": len(times),
        "failed": len(failed),
        "unit": "s",
        "threshold_p95": cfg.warn_p95_s,
        "samples": [{"study": r.study_uid, "first_image": None if r.first_image_s is None else round(r.first_image_s, 4),
                     **({"problem": r.problem} if r.problem else {})} for r in results],
        "measured_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    if not times:
        reasons = "; ".join(sorted({r.problem or "no image" for r in failed}))
        return ctx.error(f"{peer}: no first image received from {len(results)} retrieval(s): {reasons}",
                         subject=peer.ae_title, values=values, evidence=evidence())
    p50, p95 = percentile(times, 50), percentile(times, 95)
    values.update({"p50": round(p50, 4), "p95": round(p95, 4), "max": round(max(times), 4), "value": round(p95, 4)})
    message = (f"{peer} ({peer.role}): first image after p50 {p50:.2f} s, p95 {p95:.2f} s over {len(times)} recent "
               f"{'study' if len(times) == 1 else 'studies'} ({cfg.method.upper()}; warning above p95 {cfg.warn_p95_s:g} s)")
    if failed:
        message += f"; {len(failed)} retrieval(s) failed: " + "; ".join(sorted({r.problem or "no image" for r in failed}))
        return ctx.warn(message, subject=peer.ae_title, values=values, evidence=evidence())
    if p95 > cfg.warn_p95_s:
        return ctx.warn(message, subject=peer.ae_title, values=values, evidence=evidence())
    return ctx.passed(message, subject=peer.ae_title, values=values, evidence=evidence())

