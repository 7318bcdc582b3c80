"""An IMPAX-shaped database for the demo, the tests and the benchmarks, with seeded defects.

The real IMPAX (MVF) schema is not public. What is modelled here is only what the vendor guide
names — the tables and columns of "Checking the integrity of database data", MAP_EVENT_AUDIT, and
the Connectivity Manager's ``mcf_service_request`` — plus plausible neighbours (patients, series,
studies with accession numbers and an archive status) so that the checks read realistic tables.
Column names that the guide does not give (keys, ``archive_status``) are assumptions of this demo,
and the checks that rely on them say so in their findings and let a site configure its own.

The DDL is portable (SQLite and PostgreSQL; simple types only). Seeding is deterministic: the same
scale and defects give the same rows, and `build_impax_db` returns the count each check must find.
"""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

# table -> DDL (portable). Primary keys are the "*_ref" columns: the guide calls the foreign
# keys object_ref / series_ref, so the demo names its keys the same way.
IMPAX_TABLES: dict[str, str] = {
    "patient": """create table patient (
        patient_ref integer primary key,
        patient_id varchar(64) not null,
        patient_name varchar(128),
        birth_date date,
        sex char(1))""",
    "dosr_study": """create table dosr_study (
        study_ref integer primary key,
        study_uid varchar(64),
        patient_ref integer,
        accession_number varchar(16),
        study_date date,
        modality varchar(16),
        study_description varchar(128),
        archive_status varchar(16))""",
    "dosr_his_study": """create table dosr_his_study (
        his_study_ref integer primary key,
        study_uid varchar(64),
        accession_number varchar(16),
        patient_ref integer,
        order_status varchar(16))""",
    "dosr_series": """create table dosr_series (
        series_ref integer primary key,
        study_ref integer not null,
        series_uid varchar(64),
        series_number integer,
        modality varchar(16))""",
    "dosr_object": """create table dosr_object (
        object_ref integer primary key,
        series_ref integer,
        sop_instance_uid varchar(64),
        sop_class_uid varchar(64),
        instance_number integer,
        file_size integer)""",
    "dosr_object_document": """create table dosr_object_document (
        document_ref integer primary key,
        object_ref integer,
        document_type varchar(16),
        storage_location varchar(128))""",
    "map_user": """create table map_user (
        user_id integer primary key,
        login_name varchar(32) not null,
        full_name varchar(64))""",
    "map_job": """create table map_job (
        job_ref integer primary key,
        originating_user_id integer,
        job_type varchar(32),
        created_at timestamp)""",
    "map_event": """create table map_event (
        event_ref integer primary key,
        user_id integer,
        event_type varchar(32),
        event_time timestamp)""",
    "map_event_audit": """create table map_event_audit (
        audit_ref integer primary key,
        user_id integer,
        event_type varchar(32),
        event_time timestamp,
        detail varchar(200))""",
    "mitra_folder": """create table mitra_folder (
        folder_ref integer primary key,
        folder_name varchar(64),
        owner_user_id integer)""",
    "mitra_folder_item": """create table mitra_folder_item (
        item_ref integer primary key,
        folder_ref integer,
        item_name varchar(64),
        study_ref integer)""",
    "mitra_print_params": """create table mitra_print_params (
        print_params_ref integer primary key,
        user_id integer,
        printer_name varchar(64),
        copies integer)""",
    "agfahc_report_access_config": """create table agfahc_report_access_config (
        config_ref integer primary key,
        ae_title varchar(16),
        access_level varchar(16))""",
}

MCF_TABLES: dict[str, str] = {
    "mcf_service_request": """create table mcf_service_request (
        request_ref integer primary key,
        requesting_service varchar(64),
        accession_number varchar(16),
        request_status varchar(16),
        created_at timestamp)""",
}

#: check id -> (table, column) of the guide's NULL checks
NULL_DEFECTS: dict[str, tuple[str, str]] = {
    "integrity.his_study_uid": ("dosr_his_study", "study_uid"),
    "integrity.study_uid": ("dosr_study", "study_uid"),
    "integrity.object_sop_instance_uid": ("dosr_object", "sop_instance_uid"),
    "integrity.object_series_ref": ("dosr_object", "series_ref"),
    "integrity.map_job_user": ("map_job", "originating_user_id"),
    "integrity.map_event_user": ("map_event", "user_id"),
    "integrity.map_event_audit_user": ("map_event_audit", "user_id"),
    "integrity.folder_name": ("mitra_folder", "folder_name"),
    "integrity.folder_item_name": ("mitra_folder_item", "item_name"),
    "integrity.print_params_user": ("mitra_print_params", "user_id"),
    "integrity.report_access_ae_title": ("agfahc_report_access_config", "ae_title"),
}
DUPLICATE_CHECK = "integrity.object_document_unique"
ARCHIVE_CHECK = "archive.study_status"

#: the value the demo schema uses for an archived study (an assumption, see archive.study_status)
ARCHIVED = "ARCHIVED"

SCALES = {"tiny": 40, "test": 300, "demo": 1000}

#: the demo's defects (the lead's demo site and its tests assert against these)
DEMO_DEFECTS: dict[str, int] = {
    DUPLICATE_CHECK: 3,  # object_refs duplicated (each twice) -> 6 rows
    "integrity.study_uid": 2,
    "integrity.object_sop_instance_uid": 1,
    "integrity.map_event_audit_user": 4,
    ARCHIVE_CHECK: 7,
}


@dataclass
class _Rows:
    table: str
    columns: Sequence[str]
    rows: list[tuple]


Executor = Callable[[str], Any]


def build_impax_db(
    target: Any,
    dialect: str = "sqlite",
    scale: str | int = "test",
    defects: dict[str, int] | None = None,
    seed: int = 651,
) -> dict[str, int]:
    """Create the IMPAX-shaped tables on `target` and fill them; return the expected count per check id.

    `target` is a DB-API connection or cursor (qmark parameters: sqlite3, pyodbc) or a callable
    that executes one SQL text (e.g. psql); `dialect` is "sqlite" or "postgres" (literal SQL for
    callables). `scale` is "tiny" | "test" | "demo" or a number of studies. `defects` maps a check id
    to how many defects to seed: for `integrity.object_document_unique` the number of duplicated
    object_refs (each appears twice, so the expected count is twice that); for the NULL checks the
    number of NULL rows; for `archive.study_status` the number of studies not archived.
    """
    defects = dict(DEMO_DEFECTS if defects is None else defects)
    unknown = set(defects) - set(NULL_DEFECTS) - {DUPLICATE_CHECK, ARCHIVE_CHECK}
    if unknown:
        raise ValueError(f"unknown defect kind(s): {', '.join(sorted(unknown))}")
    studies = SCALES[scale] if isinstance(scale, str) else int(scale)
    tables, expected = _generate(studies, defects, random.Random(seed))
    if not _is_dbapi(target):
        target = _Batched(target)
    _create(target, dialect, IMPAX_TABLES)
    for t in tables:
        _insert(target, dialect, t)
    _commit(target)
    return expected


def build_mcf_db(target: Any, dialect: str = "sqlite", services: Iterable[str] = ("IMPAX-RIS",), rows: int = 500, seed: int = 23) -> list[str]:
    """Create the Connectivity Manager's `mcf_service_request` and fill it; return the distinct services."""
    services = list(services)
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, 7, 0)
    data = []
    for i in range(1, rows + 1):
        # every service appears at least once, the first one most often
        svc = services[i - 1] if i <= len(services) else (services[0] if rng.random() < 0.8 else rng.choice(services))
        data.append((i, svc, f"A{100000 + i}", rng.choice(["COMPLETED", "COMPLETED", "SCHEDULED", "CANCELLED"]),
                     start + timedelta(minutes=17 * i)))
    if not _is_dbapi(target):
        target = _Batched(target)
    _create(target, dialect, MCF_TABLES)
    _insert(target, dialect, _Rows("mcf_service_request", ("request_ref", "requesting_service", "accession_number", "request_status", "created_at"), data))
    _commit(target)
    return sorted(set(services))


def build_sqlite_impax_db(path: str | Path, scale: str | int = "demo", defects: dict[str, int] | None = None) -> dict[str, int]:
    """The demo's IMPAX database as a fresh SQLite file; returns {check id: expected count}."""
    path = Path(path)
    if path.exists():
        path.unlink()
    conn = sqlite3.connect(path)
    try:
        return build_impax_db(conn, "sqlite", scale=scale, defects=defects)
    finally:
        conn.close()


def build_sqlite_mcf_db(path: str | Path, services: Iterable[str] = ("IMPAX-RIS", "EPR-HL7")) -> None:
    """The demo's Connectivity Manager database (`mcf`) as a fresh SQLite file."""
    path = Path(path)
    if path.exists():
        path.unlink()
    conn = sqlite3.connect(path)
    try:
        build_mcf_db(conn, "sqlite", services=services)
    finally:
        conn.close()


# ---- generation ------------------------------------------------------------------------------

_MODALITIES = ["CT", "MR", "CR", "DX", "US", "MG", "NM", "XA"]
_CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
_ROOT = "1.2.826.0.1.3680043.9.7651"  # a demo UID root


def _pick(rng: random.Random, n: int, k: int) -> list[int]:
    if k > n:
        raise ValueError(f"cannot seed {k} defects in a table of {n} rows: raise the scale")
    return rng.sample(range(n), k)


def _generate(studies: int, defects: dict[str, int], rng: random.Random) -> tuple[list[_Rows], dict[str, int]]:
    expected = {cid: 0 for cid in NULL_DEFECTS}
    expected[DUPLICATE_CHECK] = 0
    expected[ARCHIVE_CHECK] = 0
    patients = max(1, studies * 2 // 3)
    users = max(5, studies // 40)
    base_day = date(2019, 1, 1)

    patient_rows = [
        (p, f"PID{100000 + p}", f"DEMO^PATIENT{p}", base_day - timedelta(days=rng.randint(365, 90 * 365)), rng.choice("MF"))
        for p in range(1, patients + 1)
    ]
    study_rows, his_rows, series_rows, object_rows = [], [], [], []
    series_ref = object_ref = 0
    for s in range(1, studies + 1):
        day = base_day + timedelta(days=rng.randint(0, 5 * 365))
        modality = rng.choice(_MODALITIES)
        uid = f"{_ROOT}.1.{s}"
        acc = f"A{200000 + s}"
        pref = rng.randint(1, patients)
        study_rows.append([s, uid, pref, acc, day, modality, f"{modality} examination", ARCHIVED])
        his_rows.append([s, uid, acc, pref, "COMPLETED"])
        for n in range(1, rng.randint(1, 4) + 1):
            series_ref += 1
            series_rows.append((series_ref, s, f"{_ROOT}.2.{series_ref}", n, modality))
            for i in range(1, rng.randint(1, 10) + 1):
                object_ref += 1
                object_rows.append([object_ref, series_ref, f"{_ROOT}.3.{object_ref}", _CT_IMAGE, i, rng.randint(200_000, 9_000_000)])
    # one document per object; duplicated object_refs get a second document row
    document_rows = [[o[0], o[0], "DICOM", f"/archive/vol{o[0] % 8}/{o[0]:09d}.dcm"] for o in object_rows]
    dup = defects.get(DUPLICATE_CHECK, 0)
    for k, idx in enumerate(_pick(rng, len(object_rows), dup)):
        ref = object_rows[idx][0]
        document_rows.append([len(object_rows) + k + 1, ref, "DICOM", f"/archive/copy/{ref:09d}.dcm"])
    expected[DUPLICATE_CHECK] = 2 * dup

    user_rows = [(u, f"user{u:03d}", f"Demo User {u}") for u in range(1, users + 1)]
    t0 = datetime(2024, 3, 1, 8, 0)
    job_rows = [[j, rng.randint(1, users), rng.choice(["PRINT", "EXPORT", "ROUTE"]), t0 + timedelta(minutes=j)] for j in range(1, studies // 2 + 2)]
    event_rows = [[e, rng.randint(1, users), rng.choice(["LOGIN", "VIEW", "LOGOUT"]), t0 + timedelta(seconds=37 * e)] for e in range(1, studies * 2 + 1)]
    audit_rows = [
        [a, rng.randint(1, users), rng.choice(["VIEW", "MODIFY", "DELETE"]), t0 + timedelta(seconds=53 * a), f"study {rng.randint(1, studies)}"]
        for a in range(1, studies * 3 + 1)
    ]
    folder_rows = [[f, f"Teaching file {f}", rng.randint(1, users)] for f in range(1, max(3, studies // 20) + 1)]
    item_rows = [[i, rng.randint(1, len(folder_rows)), f"case {i}", rng.randint(1, studies)] for i in range(1, studies // 4 + 2)]
    print_rows = [[p, u, f"printer{p % 3}", 1] for p, u in enumerate(range(1, users + 1), start=1)]
    ae_rows = [[c, f"AE_WS{c:03d}", rng.choice(["READ", "FULL"])] for c in range(1, max(4, studies // 50) + 1)]

    by_table = {
        "dosr_study": (study_rows, 1), "dosr_his_study": (his_rows, 1), "dosr_object": (object_rows, None),
        "map_job": (job_rows, 1), "map_event": (event_rows, 1), "map_event_audit": (audit_rows, 1),
        "mitra_folder": (folder_rows, 1), "mitra_folder_item": (item_rows, 2), "mitra_print_params": (print_rows, 1),
        "agfahc_report_access_config": (ae_rows, 1),
    }
    columns = {t: _columns(IMPAX_TABLES[t]) for t in IMPAX_TABLES}
    for cid, (table, column) in NULL_DEFECTS.items():
        k = defects.get(cid, 0)
        if not k:
            continue
        rows, _ = by_table[table]
        pos = columns[table].index(column)
        free = [i for i, r in enumerate(rows) if r[pos] is not None]
        for idx in _pick(rng, len(free), k):
            rows[free[idx]][pos] = None
        expected[cid] = k
    k = defects.get(ARCHIVE_CHECK, 0)
    for idx in _pick(rng, len(study_rows), k):
        study_rows[idx][7] = rng.choice(["PENDING", "NOT_ARCHIVED"])
    expected[ARCHIVE_CHECK] = k

    out = [
        _Rows("patient", columns["patient"], patient_rows),
        _Rows("dosr_study", columns["dosr_study"], [tuple(r) for r in study_rows]),
        _Rows("dosr_his_study", columns["dosr_his_study"], [tuple(r) for r in his_rows]),
        _Rows("dosr_series", columns["dosr_series"], series_rows),
        _Rows("dosr_object", columns["dosr_object"], [tuple(r) for r in object_rows]),
        _Rows("dosr_object_document", columns["dosr_object_document"], [tuple(r) for r in document_rows]),
        _Rows("map_user", columns["map_user"], user_rows),
        _Rows("map_job", columns["map_job"], [tuple(r) for r in job_rows]),
        _Rows("map_event", columns["map_event"], [tuple(r) for r in event_rows]),
        _Rows("map_event_audit", columns["map_event_audit"], [tuple(r) for r in audit_rows]),
        _Rows("mitra_folder", columns["mitra_folder"], [tuple(r) for r in folder_rows]),
        _Rows("mitra_folder_item", columns["mitra_folder_item"], [tuple(r) for r in item_rows]),
        _Rows("mitra_print_params", columns["mitra_print_params"], [tuple(r) for r in print_rows]),
        _Rows("agfahc_report_access_config", columns["agfahc_report_access_config"], [tuple(r) for r in ae_rows]),
    ]
    return out, expected


def _columns(ddl: str) -> list[str]:
    body = ddl[ddl.index("(") + 1 : ddl.rindex(")")]
    return [line.strip().split()[0] for line in body.split(",\n")]


# ---- writing ---------------------------------------------------------------------------------


def _is_dbapi(target: Any) -> bool:
    return hasattr(target, "executemany")


def _create(target: Any, dialect: str, tables: dict[str, str]) -> None:
    for ddl in tables.values():
        (target.execute if _is_dbapi(target) else target)(ddl)


def _literal(v: Any) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, datetime):
        return f"'{v.isoformat(sep=' ')}'"
    if isinstance(v, date):
        return f"'{v.isoformat()}'"
    return "'" + str(v).replace("'", "''") + "'"


def _insert(target: Any, dialect: str, t: _Rows, chunk_chars: int = 100_000) -> None:
    if not t.rows:
        return
    cols = ", ".join(t.columns)
    if _is_dbapi(target):
        marks = ", ".join("?" for _ in t.columns)
        rows = [tuple(_param(v) for v in r) for r in t.rows]
        target.executemany(f"insert into {t.table} ({cols}) values ({marks})", rows)
        return
    # literal multi-row INSERTs, chunked below the ~128 KB limit of one command-line argument (psql -c)
    head = f"insert into {t.table} ({cols}) values "
    buf: list[str] = []
    size = len(head)
    for r in t.rows:
        text = "(" + ", ".join(_literal(v) for v in r) + ")"
        if buf and size + len(text) + 2 > chunk_chars:
            target(head + ",\n".join(buf))
            buf, size = [], len(head)
        buf.append(text)
        size += len(text) + 2
    target(head + ",\n".join(buf))


def _param(v: Any) -> Any:
    # sqlite3's default date adapters are deprecated (3.12): store ISO text, as the literal path does
    if isinstance(v, datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, date):
        return v.isoformat()
    return v


class _Batched:
    """Joins SQL texts into few calls of an executor (each call may cost a process, e.g. psql -c)."""

    def __init__(self, run: Executor, limit: int = 110_000):
        self.run, self.limit, self.buf, self.size = run, limit, [], 0

    def __call__(self, sql: str) -> None:
        if self.buf and self.size + len(sql) > self.limit:
            self.commit()
        self.buf.append(sql)
        self.size += len(sql) + 2

    def commit(self) -> None:
        if self.buf:
            self.run(";\n".join(self.buf))
            self.buf, self.size = [], 0


def _commit(target: Any) -> None:
    if isinstance(target, _Batched):
        target.commit()
        return
    conn = getattr(target, "connection", target)
    if hasattr(conn, "commit"):
        conn.commit()


__all__ = [
    "ARCHIVED",
    "DEMO_DEFECTS",
    "IMPAX_TABLES",
    "MCF_TABLES",
    "NULL_DEFECTS",
    "build_impax_db",
    "build_mcf_db",
    "build_sqlite_impax_db",
    "build_sqlite_mcf_db",
]
