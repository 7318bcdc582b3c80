"""Our own DICOM SCP, for what an archive sends back: the images of a C-MOVE (the first one is timed)
and the N-EVENT-REPORT of a storage commitment.

The archive must know our AE title with our address and port (a "DICOM node" / move destination
on IMPAX, a modality on Orthanc). Received images are acknowledged and dropped: nothing is kept on
disk. One listener per port at a time in this process (checks of several hosts take turns).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from .net import DicomError, nodelay

_PORT_LOCKS: dict[tuple[str, int], threading.Lock] = {}
_GUARD = threading.Lock()


@dataclass
class Arrival:
    """The first image of one awaited study: when it came (time.monotonic()) and from which AE."""

    study_uid: str
    at: float | None = None
    sender: str = ""
    images: int = 0
    event: threading.Event = field(default_factory=threading.Event)
    #: called once, in the receiving thread, when the first image is in (e.g. to send a C-CANCEL)
    on_first: Callable[[], None] | None = None

    def arrived(self, when: float, sender: str) -> None:
        self.images += 1
        if self.at is not None:
            return
        self.at, self.sender = when, sender
        self.event.set()
        if self.on_first is not None:
            try:
                self.on_first()
            except Exception:  # noqa: BLE001 - a failed cancel only means more images arrive
                pass


@dataclass
class CommitmentReport:
    """The N-EVENT-REPORT of one storage commitment transaction."""

    transaction_uid: str
    event_type: int | None = None
    info: Any = None  # the Event Information data set
    sender: str = ""
    same_association: bool = False
    event: threading.Event = field(default_factory=threading.Event)


def store_handler(arrivals: dict[str, Arrival], lock: threading.Lock, counter: list[int] | None = None) -> Callable:
    """An EVT_C_STORE handler: time the first image of each awaited study, acknowledge and drop all."""

    def on_store(event) -> int:
        now = time.monotonic()
        try:
            uid = str(event.dataset.StudyInstanceUID)
        except Exception:  # noqa: BLE001 - an undecodable data set is still acknowledged
            uid = ""
        with lock:
            waiting = arrivals.get(uid)
            if counter is not None:
                counter[0] += 1
        if waiting is not None:
            waiting.arrived(now, event.assoc.requestor.ae_title)
        return 0x0000

    return on_store


def report_handler(reports: dict[str, CommitmentReport], lock: threading.Lock, same_association: bool) -> Callable:
    """An EVT_N_EVENT_REPORT handler for storage commitment results (matched by Transaction UID)."""

    def on_report(event):
        info = event.event_information
        uid = str(getattr(info, "TransactionUID", "") or "")
        with lock:
            waiting = reports.get(uid)
        if waiting is not None and not waiting.event.is_set():
            waiting.event_type = int(event.request.EventTypeID)
            waiting.info = info
            waiting.sender = event.assoc.requestor.ae_title if not same_association else event.assoc.acceptor.ae_title
            waiting.same_association = same_association
            waiting.event.set()
        return 0x0000, None

    return on_report


class Listener:
    """A storage SCP and storage commitment report receiver on (address, port) while in a `with` block."""

    def __init__(self, ae_title: str, address: str, port: int, wait_s: float = 60.0):
        self.ae_title, self.address, self.port, self.wait_s = ae_title, address, port, wait_s
        self._arrivals: dict[str, Arrival] = {}
        self._reports: dict[str, CommitmentReport] = {}
        self._lock = threading.Lock()
        self._server = None
        self._port_lock: threading.Lock | None = None
        self.stored = [0]

    def __str__(self) -> str:
        return f"{self.ae_title}@{self.address}:{self.port}"

    def __enter__(self) -> "Listener":
        from pynetdicom import ALL_TRANSFER_SYNTAXES, AE, AllStoragePresentationContexts, evt
        from pynetdicom.sop_class import StorageCommitmentPushModel, Verification

        with _GUARD:
            self._port_lock = _PORT_LOCKS.setdefault((self.address, self.port), threading.Lock())
        if not self._port_lock.acquire(timeout=self.wait_s):
            raise DicomError(f"our listener port {self.port} stayed busy with another check for {self.wait_s:g}s")
        try:
            ae = AE(ae_title=self.ae_title)
            for cx in AllStoragePresentationContexts:
                # every transfer syntax: we drop the images, so a compressed one costs nothing and spares the
                # archive a conversion that would distort the timing
                ae.add_supported_context(cx.abstract_syntax, ALL_TRANSFER_SYNTAXES)
            ae.add_supported_context(Verification)
            ae.add_supported_context(StorageCommitmentPushModel, scu_role=True, scp_role=True)
            handlers = [
                (evt.EVT_CONN_OPEN, nodelay),
                (evt.EVT_C_STORE, store_handler(self._arrivals, self._lock, self.stored)),
                (evt.EVT_N_EVENT_REPORT, report_handler(self._reports, self._lock, same_association=False)),
            ]
            try:
                self._server = ae.start_server((self.address, self.port), block=False, evt_handlers=handlers)
            except OSError as exc:
                raise DicomError(
                    f"cannot listen on {self.address}:{self.port} for the archive's answers: {exc.strerror or exc} "
                    "(another program uses the port? set site.options.dicom.listen_port)"
                ) from None
        except BaseException:
            self._port_lock.release()
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self._server is not None:
                self._server.shutdown()
        finally:
            self._server = None
            if self._port_lock is not None:
                self._port_lock.release()

    def expect_study(self, study_uid: str) -> Arrival:
        arrival = Arrival(study_uid)
        with self._lock:
            self._arrivals[study_uid] = arrival
        return arrival

    def forget_study(self, study_uid: str) -> None:
        with self._lock:
            self._arrivals.pop(study_uid, None)

    def expect_report(self, transaction_uid: str) -> CommitmentReport:
        report = CommitmentReport(transaction_uid)
        with self._lock:
            self._reports[transaction_uid] = report
        return report

    @property
    def reports(self) -> dict[str, CommitmentReport]:
        return self._reports

    @property
    def lock(self) -> threading.Lock:
        return self._lock
