"""Real DICOM peers on loopback for the plugin's tests: pynetdicom SCPs and a silent TCP listener.

Offered as fixtures returning context-manager factories (the repository runs pytest with
``--import-mode=importlib``, where a test module cannot import a helper module beside it).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Iterator

import pytest

from pydicom.dataset import Dataset
from pynetdicom import AE, evt
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind, Verification


@contextlib.contextmanager
def _echo_scp(ae_title: str = "ARCHIVE", status: int = 0x0000, accept_calling: list[str] | None = None) -> Iterator[int]:
    """An SCP answering C-ECHO with `status`; with `accept_calling`, other callers are rejected."""
    ae = AE(ae_title=ae_title)
    ae.add_supported_context(Verification)
    if accept_calling is not None:
        ae.require_calling_aet = accept_calling
    handlers = [(evt.EVT_C_ECHO, lambda event: status)]
    server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=handlers)
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()


@contextlib.contextmanager
def _find_scp(ae_title: str, studies_per_day: dict[str, int], fail_on: dict[str, int] | None = None) -> Iterator[int]:
    """An archive answering Study Root C-FIND: `studies_per_day` maps YYYYMMDD -> number of studies.

    `fail_on` maps YYYYMMDD -> a failure status returned instead of matches.
    """
    ae = AE(ae_title=ae_title)
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
    ae.add_supported_context(Verification)

    def on_find(event):
        ds = event.identifier
        day = str(ds.StudyDate)
        if fail_on and day in fail_on:
            yield fail_on[day], None
            return
        for i in range(studies_per_day.get(day, 0)):
            match = Dataset()
            match.QueryRetrieveLevel = "STUDY"
            match.StudyDate = day
            match.StudyInstanceUID = f"1.2.826.0.1.3680043.9.{day}.{i + 1}"
            yield 0xFF00, match

    server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_FIND, on_find)])
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()


@contextlib.contextmanager
def _silent_listener() -> Iterator[int]:
    """Accepts TCP connections and never says a word: a hung service, or the wrong port."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = ls.accept()
            except OSError:
                return
            held.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield ls.getsockname()[1]
    finally:
        ls.close()
        for c in held:
            c.close()


def _closed_port() -> int:
    """A loopback port nothing listens on."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def echo_scp():
    return _echo_scp


@pytest.fixture
def find_scp():
    return _find_scp


@pytest.fixture
def silent_listener():
    return _silent_listener


@pytest.fixture
def closed_port():
    return _closed_port
