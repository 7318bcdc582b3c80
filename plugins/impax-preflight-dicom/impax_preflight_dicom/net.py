"""DICOM network operations for the checks: associations, C-ECHO, C-FIND (study records, one
day's study count, a reusable query session), time windows.

pynetdicom is imported inside the functions so that loading the plugin (``impax-preflight
--help``, ``plugins``) does not pay for it. `echo` returns a plain outcome and never raises for a
peer's behaviour; the other operations raise `DicomError` with a message for the person.
"""

from __future__ import annotations

import datetime as dt
import re
import socket
import time
from dataclasses import dataclass
from typing import Any, Iterator

DEFAULT_CALLING_AE = "IMPAX_PREFLIGHT"


class DicomError(Exception):
    """A DICOM operation that could not be completed (association refused, C-FIND failed...)."""


@dataclass(frozen=True)
class Peer:
    """A remote application entity."""

    ae_title: str
    address: str
    port: int
    role: str = "archive"

    def __str__(self) -> str:
        return f"{self.ae_title}@{self.address}:{self.port}"


@dataclass
class EchoOutcome:
    ok: bool
    #: accepted | rejected | aborted | timeout | unreachable | no_context | status
    state: str
    message: str
    status: int | None = None
    duration_s: float = 0.0


def _ae(calling_ae: str, timeout: float, contexts: list):
    from pynetdicom import AE

    ae = AE(ae_title=calling_ae)
    for c in contexts:
        if isinstance(c, tuple):  # (abstract syntax, transfer syntaxes)
            ae.add_requested_context(*c)
        else:
            ae.add_requested_context(c)
    # one budget for every phase: TCP connect, association answer, each DIMSE answer
    ae.connection_timeout = timeout
    ae.acse_timeout = timeout
    ae.dimse_timeout = timeout
    ae.network_timeout = timeout
    return ae


def nodelay(event) -> None:
    """pynetdicom EVT_CONN_OPEN handler: turn Nagle off on the association's socket.

    A DIMSE request is a command and a data set sent as two small writes; with Nagle on, the second
    waits for the peer's delayed ACK (40 ms on Linux) — per query, per stored image.
    """
    sock = getattr(getattr(getattr(event.assoc, "dul", None), "socket", None), "socket", None)
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass  # an odd socket: slower, not wrong


def guard_reactor(assoc) -> None:
    """Keep pynetdicom's reactor thread away from the answers to our own requests.

    Besides the thread that sends a request and waits for its answers, an association runs a
    reactor thread that serves the requests a peer sends us; both take messages off one queue,
    and a race lets the reactor take the first answer to our request ("Received unexpected C-FIND
    service message", pynetdicom issue #875): the requester then waits in vain for it, or — for a
    C-FIND — goes on without that one match, and a study would be counted missing. The reactor
    is the only caller that does not block: from it we hand out peer requests only.
    """
    dimse = getattr(assoc, "dimse", None)
    get_msg, peek_msg = getattr(dimse, "get_msg", None), getattr(dimse, "peek_msg", None)
    if get_msg is None or peek_msg is None:  # another pynetdicom: leave it as it is
        return

    def guarded_get_msg(block: bool = False):
        if not block:
            _cx, msg = peek_msg()
            if msg is None or not getattr(msg, "is_valid_request", False):
                return None, None
        return get_msg(block)

    dimse.get_msg = guarded_get_msg


def associate(
    peer: Peer,
    calling_ae: str,
    timeout: float,
    contexts: list,
    *,
    ext_neg: list | None = None,
    handlers: list | None = None,
):
    """An established association with `peer`, or `DicomError` saying why not (for the person)."""
    from pynetdicom import evt

    ae = _ae(calling_ae, timeout, contexts)
    start = time.monotonic()
    assoc = ae.associate(
        peer.address, peer.port, ae_title=peer.ae_title, ext_neg=ext_neg,
        evt_handlers=[(evt.EVT_CONN_OPEN, nodelay), *(handlers or [])],
    )
    if not assoc.is_established:
        out = _failed_association(assoc, peer, calling_ae, timeout, time.monotonic() - start)
        raise DicomError(f"{peer}: {out.message}")
    guard_reactor(assoc)
    return assoc


def _tcp_reason(peer: Peer, timeout: float) -> str | None:
    """Why the TCP connection itself fails, or None if it opens (then the DICOM layer is at fault)."""
    try:
        with socket.create_connection((peer.address, peer.port), timeout=min(timeout, 5.0)):
            return None
    except ConnectionRefusedError:
        return f"connection refused on {peer.address}:{peer.port} (nothing listens on that port)"
    except socket.timeout:
        return f"no TCP answer from {peer.address}:{peer.port} within {min(timeout, 5.0):g}s (firewall or host down)"
    except OSError as exc:
        return f"cannot reach {peer.address}:{peer.port}: {exc.strerror or exc}"


def _rejection(assoc) -> str:
    p = assoc.acceptor.primitive
    try:
        return f"{p.result_str.lower()} by the {p.source_str.lower()}: {p.reason_str}"
    except Exception:  # noqa: BLE001 - an odd primitive still leaves a useful message
        return f"result {getattr(p, 'result', '?')}, source {getattr(p, 'result_source', '?')}, reason {getattr(p, 'diagnostic', '?')}"


def _rejection_advice(assoc, peer: Peer, calling_ae: str) -> str:
    """What to do about a rejection, from its source and reason (PS3.8 9.3.4)."""
    p = assoc.acceptor.primitive
    source, reason = getattr(p, "result_source", None), getattr(p, "diagnostic", None)
    if source == 1 and reason == 7:
        return (f"the peer does not answer to the called AE title {peer.ae_title}: check the AE title in the "
                "inventory against the archive's own configuration")
    if source == 1 and reason == 3:
        return (f"{peer.ae_title} does not know our calling AE title {calling_ae}: register it on the archive "
                "(with our address), or set site.options.dicom.calling_ae to an AE title it knows")
    if source == 3:
        return "the peer is busy (congestion or too many associations): try again later"
    return f"check that {peer.ae_title} knows calling AE title {calling_ae} and our address"


def _failed_association(assoc, peer: Peer, calling_ae: str, timeout: float, elapsed: float) -> EchoOutcome:
    if assoc.is_rejected:
        return EchoOutcome(
            False,
            "rejected",
            f"association rejected ({_rejection(assoc)}); {_rejection_advice(assoc, peer, calling_ae)}",
            duration_s=elapsed,
        )
    tcp = _tcp_reason(peer, timeout)
    if tcp is not None:
        return EchoOutcome(False, "unreachable", tcp, duration_s=elapsed)
    if elapsed >= timeout * 0.9:
        return EchoOutcome(
            False,
            "timeout",
            f"no answer to the association request within {timeout:g}s: the port accepts TCP but "
            "does not speak DICOM (wrong port, or the service is hung)",
            duration_s=elapsed,
        )
    return EchoOutcome(False, "aborted", "the association was aborted by the peer before it was established", duration_s=elapsed)


def echo(peer: Peer, calling_ae: str = DEFAULT_CALLING_AE, timeout: float = 10.0) -> EchoOutcome:
    """Associate, send one C-ECHO, release. Never raises for the peer's behaviour."""
    from pynetdicom.sop_class import Verification

    from pynetdicom import evt

    ae = _ae(calling_ae, timeout, [Verification])
    start = time.monotonic()
    assoc = ae.associate(peer.address, peer.port, ae_title=peer.ae_title, evt_handlers=[(evt.EVT_CONN_OPEN, nodelay)])
    if not assoc.is_established:
        return _failed_association(assoc, peer, calling_ae, timeout, time.monotonic() - start)
    guard_reactor(assoc)
    try:
        try:
            status = assoc.send_c_echo()
        except ValueError:
            return EchoOutcome(
                False,
                "no_context",
                f"association accepted but {peer.ae_title} did not accept the Verification SOP class",
                duration_s=time.monotonic() - start,
            )
        elapsed = time.monotonic() - start
        if assoc.is_aborted:
            return EchoOutcome(False, "aborted", "the association was aborted during the C-ECHO", duration_s=elapsed)
        if status is None or "Status" not in status:
            return EchoOutcome(
                False, "timeout", f"no C-ECHO response within {timeout:g}s (association was accepted)", duration_s=elapsed
            )
        code = int(status.Status)
        if code != 0x0000:
            return EchoOutcome(False, "status", f"C-ECHO answered with status 0x{code:04X} (expected 0x0000: success)", code, elapsed)
        return EchoOutcome(True, "accepted", f"C-ECHO answered with status 0x0000 in {elapsed:.2f}s", code, elapsed)
    finally:
        if assoc.is_established:
            assoc.release()


def count_studies(peer: Peer, day: dt.date, calling_ae: str = DEFAULT_CALLING_AE, timeout: float = 30.0) -> int:
    """Number of distinct studies with StudyDate = `day` (Study Root C-FIND, STUDY level).

    Raises `DicomError` when the association fails or the C-FIND ends in a failure status.
    """
    with QuerySession(peer, calling_ae, timeout) as session:
        uids: set[str] = set()
        for identifier in session.find(study_query(day=day), f"for {day.isoformat()}"):
            uid = str(getattr(identifier, "StudyInstanceUID", "") or "")
            # a peer that omits the UID still counts: index by position
            uids.add(uid or f"#{len(uids)}")
    return len(uids)


# ---- C-FIND ----------------------------------------------------------------------------------

#: meanings of C-FIND failure statuses (PS3.4 C.4.1.1.4)
_FIND_FAILURES = {
    0xA700: "out of resources",
    0xA900: "identifier does not match SOP class",
    0x0122: "SOP class not supported",
    0xFE00: "cancelled by the peer: the answer is incomplete",
}

#: the STUDY-level attributes asked for (return keys) and compared
STUDY_KEYS = (
    "StudyInstanceUID",
    "StudyDate",
    "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
    "AccessionNumber",
    "ModalitiesInStudy",
)


@dataclass(frozen=True, slots=True)
class StudyRecord:
    """One study as an archive's C-FIND answer describes it. Counts are None when not returned."""

    uid: str
    date: str  # YYYYMMDD as answered ("" if not)
    series: int | None
    instances: int | None
    accession: str = ""
    modalities: str = ""

    @classmethod
    def from_identifier(cls, ds) -> "StudyRecord | None":
        uid = str(getattr(ds, "StudyInstanceUID", "") or "").strip()
        if not uid:
            return None
        mods = getattr(ds, "ModalitiesInStudy", "") or ""
        if not isinstance(mods, str):
            mods = "\\".join(str(m) for m in mods)
        return cls(
            uid=uid,
            date=str(getattr(ds, "StudyDate", "") or "").strip(),
            series=_count(getattr(ds, "NumberOfStudyRelatedSeries", None)),
            instances=_count(getattr(ds, "NumberOfStudyRelatedInstances", None)),
            accession=str(getattr(ds, "AccessionNumber", "") or "").strip(),
            modalities=str(mods),
        )


def _count(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def study_query(*, day: dt.date | None = None, uid: str | None = None, dates: tuple[dt.date, dt.date] | None = None):
    """A Study Root STUDY-level identifier matching one day, one StudyInstanceUID, or a date range."""
    from pydicom.dataset import Dataset

    q = Dataset()
    q.QueryRetrieveLevel = "STUDY"
    q.StudyInstanceUID = uid or ""
    if day is not None:
        q.StudyDate = day.strftime("%Y%m%d")
    elif dates is not None:
        q.StudyDate = f"{dates[0]:%Y%m%d}-{dates[1]:%Y%m%d}"
    else:
        q.StudyDate = ""
    q.NumberOfStudyRelatedSeries = None
    q.NumberOfStudyRelatedInstances = None
    q.AccessionNumber = ""
    q.ModalitiesInStudy = ""
    return q


class QuerySession:
    """C-FIND with one archive over one association, reused across queries.

    The association opens on the first query and again if the archive dropped it while idle (a
    reused association that gets no answer at all is retried once on a fresh one). Use as a
    context manager, or call `close`.
    """

    def __init__(self, peer: Peer, calling_ae: str = DEFAULT_CALLING_AE, timeout: float = 30.0):
        self.peer, self.calling_ae, self.timeout = peer, calling_ae, timeout
        self._assoc = None
        self.queries = 0

    def __enter__(self) -> "QuerySession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._assoc is not None and self._assoc.is_established:
            self._assoc.release()
        self._assoc = None

    def _association(self):
        from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FindModel

        if self._assoc is None or not self._assoc.is_established:
            self._assoc = associate(self.peer, self.calling_ae, self.timeout, [FindModel])
            return self._assoc, True
        return self._assoc, False

    def find(self, query, what: str) -> Iterator[Any]:
        """Each matching identifier (pending responses), streamed; `DicomError` on failure.

        `what` names the query in messages ("for 2026-11-19"). Consume the iterator to the end.
        """
        self.queries += 1
        assoc, fresh = self._association()
        got_any = False
        try:
            for identifier in self._find_on(assoc, query, what):
                got_any = True
                yield identifier
        except _NoAnswer:
            self.close()
            if fresh or got_any:
                raise DicomError(f"{self.peer}: no C-FIND response {what} within {self.timeout:g}s") from None
            # the archive had closed the idle association: once more on a new one
            assoc, _ = self._association()
            try:
                yield from self._find_on(assoc, query, what)
            except _NoAnswer:
                self.close()
                raise DicomError(f"{self.peer}: no C-FIND response {what} within {self.timeout:g}s") from None

    def _find_on(self, assoc, query, what: str) -> Iterator[Any]:
        from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FindModel

        try:
            responses = assoc.send_c_find(query, FindModel)
        except ValueError:
            self.close()
            raise DicomError(f"{self.peer}: association accepted but the Study Root C-FIND model was not accepted") from None
        except RuntimeError:  # the association went away between two queries
            raise _NoAnswer() from None
        final: int | None = None
        for status, identifier in responses:
            if status is None or "Status" not in status:
                raise _NoAnswer()
            code = int(status.Status)
            if code in (0xFF00, 0xFF01):
                if identifier is not None:
                    yield identifier
            else:
                final = code
        if assoc.is_aborted:
            self.close()
            raise DicomError(f"{self.peer}: the association was aborted during the C-FIND {what}")
        if final not in (0x0000, None):
            meaning = _FIND_FAILURES.get(final, "unable to process" if 0xC000 <= final <= 0xCFFF else "failure")
            raise DicomError(f"{self.peer}: C-FIND {what} ended with status 0x{final:04X} ({meaning})")

    def studies(self, query, what: str) -> list[StudyRecord]:
        """The studies a STUDY-level query matches (answers without a StudyInstanceUID are dropped)."""
        out: list[StudyRecord] = []
        for identifier in self.find(query, what):
            rec = StudyRecord.from_identifier(identifier)
            if rec is not None:
                out.append(rec)
        return out

    def study(self, uid: str) -> StudyRecord | None:
        """The study with this StudyInstanceUID, whatever its date, or None."""
        found = self.studies(study_query(uid=uid), f"for StudyInstanceUID {uid}")
        return next((r for r in found if r.uid == uid), None)


class _NoAnswer(Exception):
    """No C-FIND response (timeout, or the association was gone)."""


# ---- time windows ----------------------------------------------------------------------------

_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_window(text: str) -> tuple[dt.time, dt.time] | None:
    """'20:00-06:00' -> (20:00, 06:00); 'always' -> None. Raises ValueError on anything else."""
    if text.strip().lower() in ("always", "any", ""):
        return None
    m = _WINDOW.match(text)
    if not m:
        raise ValueError(f"window {text!r} is not HH:MM-HH:MM (e.g. '20:00-06:00') or 'always'")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h2 == 24 and m2 == 0:
        h2, m2 = 23, 59  # "…-24:00" means until the end of the day
    if not (0 <= h1 < 24 and 0 <= h2 < 24 and 0 <= m1 < 60 and 0 <= m2 < 60):
        raise ValueError(f"window {text!r} has a time outside 00:00-24:00")
    return dt.time(h1, m1), dt.time(h2, m2)


def in_window(window: tuple[dt.time, dt.time] | None, now: dt.time) -> bool:
    """Is `now` inside the window? A window may wrap midnight (20:00-06:00)."""
    if window is None:
        return True
    start, end = window
    if start <= end:
        return start <= now <= end
    return now >= start or now <= end
