"""DICOM network operations for the checks: one C-ECHO, one day's C-FIND study count, time windows.

pynetdicom is imported inside the functions so that loading the plugin (``impax-preflight
--help``, ``plugins``) does not pay for it. Every outcome is a plain value the check turns into a
finding; nothing here raises for a peer's behaviour, only `DicomError` for a failed query.
"""

from __future__ import annotations

import datetime as dt
import re
import socket
import time
from dataclasses import dataclass

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
        ae.add_requested_context(c)
    # one budget for every phase: TCP connect, association answer, each DIMSE answer
    ae.connection_timeout = timeout
    ae.acse_timeout = timeout
    ae.dimse_timeout = timeout
    ae.network_timeout = timeout
    return ae


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


def _failed_association(assoc, peer: Peer, calling_ae: str, timeout: float, elapsed: float) -> EchoOutcome:
    if assoc.is_rejected:
        return EchoOutcome(
            False,
            "rejected",
            f"association rejected ({_rejection(assoc)}); check that {peer.ae_title} knows calling AE title "
            f"{calling_ae} and our address",
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

    ae = _ae(calling_ae, timeout, [Verification])
    start = time.monotonic()
    assoc = ae.associate(peer.address, peer.port, ae_title=peer.ae_title)
    if not assoc.is_established:
        return _failed_association(assoc, peer, calling_ae, timeout, time.monotonic() - start)
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
    from pydicom.dataset import Dataset
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FindModel

    ae = _ae(calling_ae, timeout, [FindModel])
    start = time.monotonic()
    assoc = ae.associate(peer.address, peer.port, ae_title=peer.ae_title)
    if not assoc.is_established:
        out = _failed_association(assoc, peer, calling_ae, timeout, time.monotonic() - start)
        raise DicomError(f"{peer}: {out.message}")
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyDate = day.strftime("%Y%m%d")
    query.StudyInstanceUID = ""
    uids: set[str] = set()
    final: int | None = None
    try:
        try:
            responses = assoc.send_c_find(query, FindModel)
        except ValueError:
            raise DicomError(f"{peer}: association accepted but the Study Root C-FIND model was not accepted") from None
        for status, identifier in responses:
            if status is None or "Status" not in status:
                raise DicomError(f"{peer}: no C-FIND response within {timeout:g}s")
            code = int(status.Status)
            if code in (0xFF00, 0xFF01):
                uid = str(getattr(identifier, "StudyInstanceUID", "") or "") if identifier is not None else ""
                # a peer that omits the UID still counts: index by position
                uids.add(uid or f"#{len(uids)}")
            else:
                final = code
        if assoc.is_aborted:
            raise DicomError(f"{peer}: the association was aborted during the C-FIND")
    finally:
        if assoc.is_established:
            assoc.release()
    if final not in (0x0000, None):
        if final == 0xFE00:
            raise DicomError(f"{peer}: the C-FIND was cancelled by the peer (status 0xFE00): the count is incomplete")
        raise DicomError(f"{peer}: C-FIND for {day.isoformat()} ended with status 0x{final:04X}")
    return len(uids)


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
