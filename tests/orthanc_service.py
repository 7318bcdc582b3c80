"""A real PACS for the DICOM tests and benchmarks: Orthanc on loopback, loaded with generated studies.

`start_orthanc` runs ``/usr/sbin/Orthanc`` (Debian package ``orthanc``) with its own JSON
configuration in a folder: its own AE title and DICOM port, HTTP off, storage and index in the
folder, C-FIND / C-MOVE / C-GET / storage commitment allowed only for the AEs declared as its
modalities (on 127.0.0.1), every other caller rejected. Orthanc 1.10 cannot bind its DICOM port to
one interface; rejecting unknown AEs and checking their host (``DicomCheckModalityHost``) keeps it
closed to anything but loopback callers we declared.

`Study` / `study_datasets` generate studies with pydicom (CT images with a small pixel matrix);
`seeded_pair` builds an old and a new archive's contents with known differences (missing, extra,
fewer instances, filed under another StudyDate). `OrthancServer.store` loads them by C-STORE.

Used by ``plugins/impax-preflight-dicom/tests/conftest.py`` (fixtures) and
``benchmarks/dicom_reconcile.py``; tests call `require_service` when Orthanc is missing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

ORTHANC_BIN = Path(os.environ.get("IMPAX_TEST_ORTHANC", "/usr/sbin/Orthanc"))
#: the plugin's default calling AE title: declared on every test archive
PREFLIGHT_AE = "IMPAX_PREFLIGHT"
#: the AE title the loader stores with
LOADER_AE = "LOADER"


def orthanc_available() -> bool:
    return ORTHANC_BIN.is_file() and os.access(ORTHANC_BIN, os.X_OK)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nodelay(event) -> None:
    """pynetdicom EVT_CONN_OPEN handler: no Nagle delay on loopback (40 ms per message otherwise)."""
    sock = getattr(getattr(event.assoc.dul, "socket", None), "socket", None)
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


@dataclass(frozen=True)
class Modality:
    """A remote AE Orthanc knows (and will connect to for C-MOVE and storage commitment reports)."""

    aet: str
    port: int
    host: str = "127.0.0.1"


@dataclass
class OrthancServer:
    aet: str
    port: int
    folder: Path
    proc: subprocess.Popen
    modalities: dict[str, Modality] = field(default_factory=dict)

    def peer(self, role: str | None = None) -> dict:
        """As an inventory AE entry (``aes = [...]``) or a check's ``old`` / ``new`` option."""
        out = {"ae_title": self.aet, "address": "127.0.0.1", "port": self.port}
        if role:
            out["role"] = role
        return out

    def log(self) -> str:
        try:
            return (self.folder / "orthanc.log").read_text(errors="replace")
        except OSError:
            return ""

    def pause(self) -> None:
        """SIGSTOP: the port still accepts TCP (the kernel's backlog) but nothing answers: a hung archive."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a paused Orthanc cannot act on SIGTERM
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def store(self, datasets: Iterable, batch: int = 2000) -> int:
        """C-STORE every dataset (as LOADER); returns how many were stored. Raises on any failure."""
        from pydicom.uid import ExplicitVRLittleEndian
        from pynetdicom import AE, evt
        from pynetdicom.sop_class import CTImageStorage

        from impax_preflight_dicom.net import guard_reactor  # pynetdicom's answer-stealing race (issue #875)

        ae = AE(LOADER_AE)
        ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 30
        stored, assoc = 0, None
        try:
            for ds in datasets:
                if assoc is None or stored % batch == 0:
                    if assoc is not None:
                        assoc.release()
                    assoc = ae.associate("127.0.0.1", self.port, ae_title=self.aet, evt_handlers=[(evt.EVT_CONN_OPEN, nodelay)])
                    if not assoc.is_established:
                        raise RuntimeError(f"loader cannot associate with {self.aet}:{self.port}\n{self.log()[-2000:]}")
                    guard_reactor(assoc)
                status = assoc.send_c_store(ds)
                if status is None or "Status" not in status:
                    state = "aborted" if assoc.is_aborted else "no answer within 30 s"
                    raise RuntimeError(f"C-STORE #{stored + 1} to {self.aet} failed ({state})\n{self.log()[-2000:]}")
                if int(status.Status) != 0:
                    raise RuntimeError(f"C-STORE #{stored + 1} to {self.aet} failed: status 0x{int(status.Status):04X}")
                stored += 1
        finally:
            if assoc is not None and assoc.is_established:
                assoc.release()
        return stored


def orthanc_config(aet: str, port: int, storage: Path, modalities: dict[str, Modality]) -> dict:
    return {
        "Name": aet,
        "StorageDirectory": str(storage),
        "IndexDirectory": str(storage),
        "Plugins": [],
        "HttpServerEnabled": False,  # loading is by C-STORE; nothing needs the REST API
        "DicomServerEnabled": True,
        "DicomAet": aet,
        "DicomPort": port,
        "DicomCheckCalledAet": True,  # a wrong called AE title is rejected, as a strict PACS does
        "DicomCheckModalityHost": True,
        "DicomAlwaysAllowEcho": False,  # unknown calling AEs are rejected outright
        "DicomAlwaysAllowStore": False,
        "DicomAlwaysAllowFind": False,
        "DicomAlwaysAllowGet": False,
        "DicomAlwaysAllowMove": False,
        "DicomModalities": {name: {"AET": m.aet, "Host": m.host, "Port": m.port} for name, m in modalities.items()},
        "DicomModalitiesInDatabase": False,
        # "Answers": C-FIND answers may read the stored files (SOP Class UID at IMAGE level is not indexed)
        "StorageAccessOnFind": "Answers",
        "StoreMD5ForAttachments": False,
        "SaveJobs": False,
        "DicomScpTimeout": 30,
        "DicomScuTimeout": 10,
        "StableAge": 1,
        "LimitFindResults": 0,
        "LimitFindInstances": 0,
    }


def start_orthanc(
    folder: str | Path,
    aet: str,
    modalities: dict[str, Modality] | None = None,
    *,
    port: int | None = None,
    storage: str | Path | None = None,
    timeout: float = 30.0,
) -> OrthancServer:
    """Start Orthanc with its own configuration in `folder` and wait until it answers a C-ECHO.

    `modalities` are added to the test AEs Orthanc always knows (IMPAX_PREFLIGHT without a port
    of its own unless given, and LOADER). `storage` defaults to ``folder/storage``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    known = {"preflight": Modality(PREFLIGHT_AE, 11112), "loader": Modality(LOADER_AE, 11113)}
    known.update(modalities or {})
    storage_dir = Path(storage) if storage else folder / "storage"
    storage_dir.mkdir(parents=True, exist_ok=True)
    cfg = folder / "orthanc.json"
    cfg.write_text(json.dumps(orthanc_config(aet, port, storage_dir, known), indent=2), encoding="utf-8")
    log = open(folder / "orthanc.log", "wb")  # noqa: SIM115 - handed to the child, closed below
    # TCP_NODELAY=1: DCMTK (inside Orthanc) then disables Nagle; otherwise each DIMSE message waits 40 ms
    env = {**os.environ, "TCP_NODELAY": "1"}
    proc = subprocess.Popen([str(ORTHANC_BIN), str(cfg)], stdout=log, stderr=subprocess.STDOUT, cwd=folder, env=env)
    log.close()
    server = OrthancServer(aet, port, folder, proc, known)
    try:
        _wait_echo(server, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_echo(server: OrthancServer, timeout: float) -> None:
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification

    ae = AE(LOADER_AE)
    ae.add_requested_context(Verification)
    ae.acse_timeout = ae.network_timeout = ae.connection_timeout = 2
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"Orthanc exited with rc {server.proc.returncode}:\n{server.log()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=0.5):
                pass
        except OSError:
            time.sleep(0.1)
            continue
        assoc = ae.associate("127.0.0.1", server.port, ae_title=server.aet)
        if assoc.is_established:
            status = assoc.send_c_echo()
            assoc.release()
            if status is not None and int(status.Status) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"Orthanc {server.aet} did not answer a C-ECHO on port {server.port} within {timeout:.0f}s:\n{server.log()[-3000:]}")


# ---- generated studies ------------------------------------------------------------------------


@dataclass(frozen=True)
class Study:
    uid: str
    date: str  # YYYYMMDD
    series: tuple[int, ...]  # instances in each series
    accession: str = ""
    key: str = ""  # seeds the series and instance UIDs

    @property
    def instances(self) -> int:
        return sum(self.series)


def _uid(*parts: object) -> str:
    from pydicom.uid import generate_uid

    return generate_uid(entropy_srcs=[str(p) for p in parts])


def study_datasets(study: Study, pixels: int = 8) -> Iterator:
    """The study's CT images (a `pixels` x `pixels` 16-bit matrix each); UIDs derive from `study.key`."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

    key = study.key or study.uid
    pixel_data = bytes(pixels * pixels * 2)
    for s, count in enumerate(study.series, start=1):
        series_uid = _uid(key, "series", s)
        for i in range(1, count + 1):
            ds = Dataset()
            ds.file_meta = FileMetaDataset()
            ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds.SOPClassUID = CTImageStorage
            ds.SOPInstanceUID = _uid(key, "instance", s, i)
            ds.StudyInstanceUID = study.uid
            ds.SeriesInstanceUID = series_uid
            ds.StudyDate = ds.SeriesDate = study.date
            ds.StudyTime = "%02d%02d00" % (7 + s % 12, i % 60)
            ds.AccessionNumber = study.accession
            ds.PatientID = "PF" + key[-8:]
            ds.PatientName = "Preflight^Test"
            ds.StudyID = "1"
            ds.Modality = "CT"
            ds.SeriesNumber = s
            ds.InstanceNumber = i
            ds.Rows = ds.Columns = pixels
            ds.SamplesPerPixel = 1
            ds.PhotometricInterpretation = "MONOCHROME2"
            ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
            ds.PixelData = pixel_data
            yield ds


def all_datasets(studies: Iterable[Study], pixels: int = 8) -> Iterator:
    for st in studies:
        yield from study_datasets(st, pixels)


@dataclass
class SeededPair:
    """An old and a new archive's studies, with the differences seeded between them."""

    first_day: dt.date
    days: int
    old: list[Study]
    new: list[Study]
    missing: set[str] = field(default_factory=set)  # on old only
    extra: set[str] = field(default_factory=set)  # on new only
    fewer: dict[str, tuple[int, int]] = field(default_factory=dict)  # uid -> (old, new) instances
    redated: dict[str, tuple[str, str]] = field(default_factory=dict)  # uid -> (old date, new date)

    @property
    def last_day(self) -> dt.date:
        return self.first_day + dt.timedelta(days=self.days - 1)


def seeded_pair(
    first_day: dt.date,
    days: int,
    studies: int,
    *,
    seed: str = "impax-preflight",
    missing: int = 2,
    extra: int = 2,
    fewer: int = 2,
    redated: int = 2,
    max_series: int = 2,
    max_instances: int = 3,
) -> SeededPair:
    """`studies` studies spread over `days` days from `first_day` on the old archive; the new one
    holds the same except: `missing` left out, `extra` added, `fewer` with one instance less,
    `redated` filed under a StudyDate 1-3 days later (as if dated on receipt). Deterministic."""
    rnd = random.Random(seed)
    dates = [(first_day + dt.timedelta(days=d)).strftime("%Y%m%d") for d in range(days)]
    old: list[Study] = []
    for n in range(studies):
        date = dates[n % days] if n < days else rnd.choice(dates)
        series = tuple(rnd.randint(1, max_instances) for _ in range(rnd.randint(1, max_series)))
        uid = _uid(seed, "study", n)
        old.append(Study(uid, date, series, accession=f"ACC{n:06d}", key=f"{seed}-{n}"))
    order = list(range(studies))
    rnd.shuffle(order)
    picks = iter(order)
    missing_ix = {next(picks) for _ in range(missing)}
    redated_ix = {next(picks) for _ in range(redated)}
    # fewer instances: studies with more than one instance
    fewer_ix: set[int] = set()
    for i in picks:
        if len(fewer_ix) == fewer:
            break
        if old[i].instances > 1:
            fewer_ix.add(i)
    pair = SeededPair(first_day, days, old, [])
    for i, st in enumerate(old):
        if i in missing_ix:
            pair.missing.add(st.uid)
            continue
        if i in redated_ix:
            shifted = (dt.datetime.strptime(st.date, "%Y%m%d") + dt.timedelta(days=rnd.randint(1, 3))).strftime("%Y%m%d")
            pair.redated[st.uid] = (st.date, shifted)
            pair.new.append(Study(st.uid, shifted, st.series, st.accession, st.key))
            continue
        if i in fewer_ix:
            series = list(st.series)
            j = max(range(len(series)), key=lambda k: series[k])
            series[j] -= 1
            pair.fewer[st.uid] = (st.instances, st.instances - 1)
            pair.new.append(Study(st.uid, st.date, tuple(series), st.accession, st.key))
            continue
        pair.new.append(st)
    for n in range(extra):
        uid = _uid(seed, "extra", n)
        pair.extra.add(uid)
        pair.new.append(Study(uid, rnd.choice(dates), (rnd.randint(1, max_instances),), f"NEW{n:06d}", f"{seed}-x{n}"))
    return pair
