"""DICOM peers on loopback for the plugin's tests.

The real PACS: two Orthanc archives (``archives``, session-wide: old and new, loaded with
generated studies whose differences are known) and ``orthanc_factory`` for a private one a test
may pause or stop; dcmtk's ``findscu`` (``findscu``) to cross-check what the plugin reports. Both
come from ``tests/orthanc_service.py`` and obey IMPAX_PREFLIGHT_REQUIRE_SERVICES through
``require_service`` (tests/conftest.py; ``tests`` is on the path through pytest's ``pythonpath``).

pynetdicom SCPs remain only for what Orthanc cannot be made to do: answer a C-ECHO or a C-FIND
with a failure status. Offered as fixtures returning context-manager factories (the repository runs
pytest with ``--import-mode=importlib``, where a test module cannot import a helper module beside it).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import shutil
import socket
import subprocess
import threading
from dataclasses import dataclass
from typing import Callable, Iterator

import pytest

from conftest import require_service  # tests/conftest.py
from orthanc_service import (
    PREFLIGHT_AE,
    Modality,
    OrthancServer,
    SeededPair,
    all_datasets,
    free_port,
    orthanc_available,
    seeded_pair,
    start_orthanc,
)
from pydicom.dataset import Dataset
from pynetdicom import AE, evt
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind, Verification

ORTHANC_WHAT = "Orthanc (/usr/sbin/Orthanc, Debian package orthanc)"
#: the seeded archives' days: 2026-11-14 .. 2026-11-18
FIRST_DAY = dt.date(2026, 11, 14)
DAYS = 5


@dataclass
class Archives:
    old: OrthancServer
    new: OrthancServer
    pair: SeededPair
    #: the port our checks listen on (C-MOVE destination, storage commitment reports); both archives know it
    listen_port: int

    def hosts(self) -> list[dict]:
        """Inventory hosts: the old archive (role old_archive) and the new one (role new_archive)."""
        return [
            {"name": "old", "address": "127.0.0.1", "os": "solaris", "roles": ["archive"], "transport": {"kind": "local"},
             "aes": [self.old.peer("old_archive")]},
            {"name": "new", "address": "127.0.0.1", "os": "windows", "roles": ["archive"], "transport": {"kind": "local"},
             "aes": [self.new.peer("new_archive")]},
        ]


@pytest.fixture(scope="session")
def archives(tmp_path_factory) -> Iterator[Archives]:
    """An old and a new Orthanc archive: 24 studies over 5 days, with 2 missing on the new one, 2 extra,
    2 with one instance fewer, 2 filed under a later StudyDate."""
    require_service(orthanc_available(), ORTHANC_WHAT)
    listen_port = free_port()
    pair = seeded_pair(FIRST_DAY, DAYS, 24, seed="dicom-tests", missing=2, extra=2, fewer=2, redated=2)
    modalities = {"preflight": Modality(PREFLIGHT_AE, listen_port)}
    base = tmp_path_factory.mktemp("orthanc")
    old = start_orthanc(base / "old", "OLD_ARCH", modalities)
    try:
        new = start_orthanc(base / "new", "NEW_ARCH", modalities)
    except BaseException:
        old.stop()
        raise
    try:
        old.store(all_datasets(pair.old))
        new.store(all_datasets(pair.new))
        yield Archives(old, new, pair, listen_port)
    finally:
        old.stop()
        new.stop()


@pytest.fixture
def orthanc_factory(tmp_path) -> Iterator[Callable[..., OrthancServer]]:
    """Start a private Orthanc (stopped after the test): factory(aet, modalities=None) -> OrthancServer."""
    require_service(orthanc_available(), ORTHANC_WHAT)
    started: list[OrthancServer] = []

    def start(aet: str = "PRIVATE_ARCH", modalities: dict[str, Modality] | None = None) -> OrthancServer:
        server = start_orthanc(tmp_path / f"orthanc-{len(started)}", aet, modalities)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


_TAG = re.compile(r"\((0008,0020|0020,000d|0020,1206|0020,1208)\)\s+\w\w\s+\[([^\]]*)\]")


@pytest.fixture(scope="session")
def findscu() -> Callable[..., dict[str, dict[str, str]]]:
    """dcmtk's findscu, as the independent witness: findscu(server, **keys) -> {StudyInstanceUID: {date, series, instances}}.

    Study Root, STUDY level; ``keys`` are matching keys (StudyDate="20261114", StudyInstanceUID=...).
    """
    exe = shutil.which("findscu")
    require_service(exe is not None, "dcmtk findscu (Debian package dcmtk)")

    def run(server: OrthancServer, **keys: str) -> dict[str, dict[str, str]]:
        args = [exe, "-S", "-aet", PREFLIGHT_AE, "-aec", server.aet, "-k", "QueryRetrieveLevel=STUDY"]
        wanted = {"StudyDate": "", "StudyInstanceUID": "", "NumberOfStudyRelatedSeries": "", "NumberOfStudyRelatedInstances": ""}
        wanted.update(keys)
        for k, v in wanted.items():
            args += ["-k", f"{k}={v}" if v else k]
        out = subprocess.run([*args, "127.0.0.1", str(server.port)], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        studies: dict[str, dict[str, str]] = {}
        for block in out.stderr.split("Find Response:")[1:]:
            tags = {t: v.strip() for t, v in _TAG.findall(block)}
            if "0020,000d" in tags:
                studies[tags["0020,000d"]] = {
                    "date": tags.get("0008,0020", ""),
                    "series": tags.get("0020,1206", ""),
                    "instances": tags.get("0020,1208", ""),
                }
        return studies

    return run


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
