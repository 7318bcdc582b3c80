"""Benchmark: the guide's twelve integrity queries vs one pass per table vs impax-preflight's checks.

Builds an IMPAX-shaped PostgreSQL database at scale (default 5 million dosr_object and
dosr_object_document rows, other tables in proportion, seeded defects with known counts) in a
throwaway PostgreSQL 15 cluster with server defaults, then times in one run:

  (a) the guide's twelve queries one after another, exactly as the guide writes them;
  (b) the least work possible: one pass per table, sequentially — the duplicated object_refs by a
      single aggregation (group by ... having count(*) > 1) and a plain count(*) over each other table;
  (c) impax-preflight's twelve integrity checks through the real check functions, over ODBC
      ("PostgreSQL Unicode"), run by `run_preflight` with the default limit of 2 sessions per database.

Usage:  python benchmarks/integrity_scan.py [--objects 5000000] [--repeat 1] [--keep]
Needs:  /usr/lib/postgresql/15/bin (or IMPAX_TEST_PG_BIN), the 'postgres' system user when run as
        root, the ODBC driver "PostgreSQL Unicode" (odbc-postgresql). Results go to stdout (and
        --json FILE); benchmarks/README.md records a run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

PG_BIN = Path(os.environ.get("IMPAX_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
DB = "mvf"
RO_USER = "impax_ro"

# ---- the guide's queries, as written in "Checking the integrity of database data" -------------
GUIDE_QUERIES: dict[str, str] = {
    "integrity.object_document_unique": "select count(object_ref) from dosr_object_document where object_ref in "
    "(select object_ref from dosr_object_document group by object_ref having count(object_ref)>1)",
    "integrity.his_study_uid": "Select count(*) from dosr_his_study where study_uid is NULL",
    "integrity.study_uid": "Select count(*) from dosr_study where study_uid is NULL",
    "integrity.object_sop_instance_uid": "Select count(*) from dosr_object where sop_instance_uid is NULL",
    "integrity.object_series_ref": "Select count(*) from dosr_object where series_ref is NULL",
    "integrity.map_job_user": "Select count(*) from map_job where originating_user_id is NULL",
    "integrity.map_event_user": "Select count(*) from map_event where user_id is NULL",
    "integrity.map_event_audit_user": "Select count(*) from map_event_audit where user_id is NULL",
    "integrity.folder_name": "Select count(*) from mitra_folder where folder_name is NULL",
    "integrity.folder_item_name": "Select count(*) from mitra_folder_item where item_name is NULL",
    "integrity.print_params_user": "Select count(*) from mitra_print_params where user_id is NULL",
    "integrity.report_access_ae_title": "Select count(*) from agfahc_report_access_config where ae_title is NULL",
}

# ---- (b): the least work: one pass per table ---------------------------------------------------
MINIMAL_QUERIES: dict[str, str] = {
    "dosr_object_document": "select object_ref, count(*) from dosr_object_document group by object_ref having count(*) > 1",
    "dosr_his_study": "select count(*) from dosr_his_study",
    "dosr_study": "select count(*) from dosr_study",
    "dosr_object": "select count(*) from dosr_object",
    "map_job": "select count(*) from map_job",
    "map_event": "select count(*) from map_event",
    "map_event_audit": "select count(*) from map_event_audit",
    "mitra_folder": "select count(*) from mitra_folder",
    "mitra_folder_item": "select count(*) from mitra_folder_item",
    "mitra_print_params": "select count(*) from mitra_print_params",
    "agfahc_report_access_config": "select count(*) from agfahc_report_access_config",
}


def free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A throwaway PostgreSQL cluster in a temp folder (same approach as tests/services.py)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="impax-bench-pg-"))
        self.port = free_port()
        self.password = "bench-" + secrets.token_urlsafe(12)
        self.is_root = os.geteuid() == 0
        if self.is_root:
            shutil.chown(self.root, "postgres", "postgres")

    def _as_postgres(self, args: list[str], **kw) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if self.is_root else []
        return subprocess.run(prefix + args, capture_output=True, text=True, **kw)

    def start(self) -> None:
        data = self.root / "data"
        r = self._as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"])
        if r.returncode:
            raise SystemExit(f"initdb failed: {r.stderr}")
        (data / "pg_hba.conf").write_text("local all postgres trust\nhost all all 127.0.0.1/32 scram-sha-256\n")
        # server defaults, except where the cluster listens; fsync off only speeds up the build
        r = self._as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(self.root / "postgres.log"), "-w", "-t", "60",
                               "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off", "start"])
        if r.returncode:
            raise SystemExit(f"pg_ctl start failed: {r.stderr} {r.stdout}")
        self.psql("CREATE DATABASE mvf", dbname="postgres")
        self.psql(f"CREATE ROLE {RO_USER} LOGIN PASSWORD '{self.password}'", dbname="postgres")

    def psql(self, sql: str, dbname: str = DB) -> str:
        r = self._as_postgres([str(PG_BIN / "psql"), "-h", str(self.root), "-p", str(self.port), "-U", "postgres", "-d", dbname,
                               "-v", "ON_ERROR_STOP=1", "-X", "-q", "-A", "-t"], input=sql)
        if r.returncode:
            raise RuntimeError(f"psql failed: {r.stderr[:2000]}")
        return r.stdout

    def stop(self, keep: bool = False) -> None:
        self._as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "stop"])
        if not keep:
            shutil.rmtree(self.root, ignore_errors=True)


# ---- building the database at scale, server-side ----------------------------------------------


def bulk_build_sql(objects: int) -> tuple[str, dict[str, int], dict[str, int]]:
    """SQL that builds the IMPAX-shaped tables with generate_series; expected counts; row counts."""
    from impax_preflight.demo.impax_schema import IMPAX_TABLES

    n = objects
    studies = max(100, n // 14)
    series = max(200, n // 5)
    sizes = {
        "dosr_object": n, "dosr_study": studies, "dosr_his_study": studies, "dosr_series": series,
        "map_job": max(50, n // 50), "map_event": max(100, n // 7), "map_event_audit": max(100, n // 5),
        "mitra_folder": max(20, n // 2000), "mitra_folder_item": max(50, n // 100), "mitra_print_params": 400,
        "agfahc_report_access_config": 120, "patient": max(50, studies * 2 // 3), "map_user": 400,
    }
    # defects: every i with i % mod == rest (cheap, deterministic, spread over the whole table)
    def every(table: str, mod: int, rest: int) -> tuple[str, int]:
        total = sizes[table]
        count = (total - rest) // mod + 1 if total >= rest else 0
        return f"i % {mod} = {rest}", count

    d = {
        "integrity.his_study_uid": ("dosr_his_study", 99991, 17),
        "integrity.study_uid": ("dosr_study", 49999, 3),
        "integrity.object_sop_instance_uid": ("dosr_object", 999983, 11),
        "integrity.object_series_ref": ("dosr_object", 333331, 5),
        "integrity.map_job_user": ("map_job", 7919, 1),
        "integrity.map_event_user": ("map_event", 104729, 9),
        "integrity.map_event_audit_user": ("map_event_audit", 65537, 4),
        "integrity.folder_name": ("mitra_folder", 97, 2),
        "integrity.folder_item_name": ("mitra_folder_item", 1999, 7),
        "integrity.print_params_user": ("mitra_print_params", 1000, 999),  # none
        "integrity.report_access_ae_title": ("agfahc_report_access_config", 50, 10),
    }
    cond = {}
    expected = {}
    for cid, (table, mod, rest) in d.items():
        c, k = every(table, mod, rest)
        cond[cid] = c
        expected[cid] = k
    dup_mod = 400009  # every dup_mod-th object gets a second document row
    dup_refs = n // dup_mod
    expected["integrity.object_document_unique"] = 2 * dup_refs

    root = "1.2.826.0.1.3680043.9.7651"
    s = sizes
    stmts = [f"drop table if exists {t}" for t in IMPAX_TABLES] + [ddl for ddl in IMPAX_TABLES.values()]
    nul = lambda cid, expr: f"case when {cond[cid]} then null else {expr} end"  # noqa: E731
    stmts += [
        f"insert into patient select i, 'PID'||i, 'DEMO^P'||i, date '1950-01-01' + (i % 20000), case when i % 2 = 0 then 'F' else 'M' end from generate_series(1,{s['patient']}) i",
        f"insert into dosr_study select i, {nul('integrity.study_uid', repr(root + '.1.') + '||i')}, 1 + i % {s['patient']}, 'A'||i, date '2019-01-01' + (i % 1800), 'CT', 'CT examination', 'ARCHIVED' from generate_series(1,{studies}) i",
        f"insert into dosr_his_study select i, {nul('integrity.his_study_uid', repr(root + '.1.') + '||i')}, 'A'||i, 1 + i % {s['patient']}, 'COMPLETED' from generate_series(1,{studies}) i",
        f"insert into dosr_series select i, 1 + i % {studies}, '{root}.2.'||i, 1 + i % 4, 'CT' from generate_series(1,{series}) i",
        f"insert into dosr_object select i, {nul('integrity.object_series_ref', f'1 + i % {series}')}, {nul('integrity.object_sop_instance_uid', repr(root + '.3.') + '||i')}, '1.2.840.10008.5.1.4.1.1.2', 1 + i % 200, 200000 + (i::bigint * 7919) % 9000000 from generate_series(1,{n}) i",
        f"insert into dosr_object_document select i, i, 'DICOM', '/archive/vol'||(i % 8)||'/'||i||'.dcm' from generate_series(1,{n}) i",
        f"insert into dosr_object_document select {n} + j, j * {dup_mod}, 'DICOM', '/archive/copy/'||j from generate_series(1,{dup_refs}) j",
        f"insert into map_user select i, 'user'||i, 'User '||i from generate_series(1,{s['map_user']}) i",
        f"insert into map_job select i, {nul('integrity.map_job_user', '1 + i % 400')}, 'PRINT', timestamp '2024-03-01' + i * interval '1 minute' from generate_series(1,{s['map_job']}) i",
        f"insert into map_event select i, {nul('integrity.map_event_user', '1 + i % 400')}, 'VIEW', timestamp '2024-03-01' + i * interval '1 second' from generate_series(1,{s['map_event']}) i",
        f"insert into map_event_audit select i, {nul('integrity.map_event_audit_user', '1 + i % 400')}, 'VIEW', timestamp '2024-03-01' + i * interval '1 second', 'study '||(i % {studies}) from generate_series(1,{s['map_event_audit']}) i",
        f"insert into mitra_folder select i, {nul('integrity.folder_name', repr('Teaching file ') + '||i')}, 1 + i % 400 from generate_series(1,{s['mitra_folder']}) i",
        f"insert into mitra_folder_item select i, 1 + i % {s['mitra_folder']}, {nul('integrity.folder_item_name', repr('case ') + '||i')}, 1 + i % {studies} from generate_series(1,{s['mitra_folder_item']}) i",
        f"insert into mitra_print_params select i, {nul('integrity.print_params_user', 'i')}, 'printer'||(i % 3), 1 from generate_series(1,{s['mitra_print_params']}) i",
        f"insert into agfahc_report_access_config select i, {nul('integrity.report_access_ae_title', repr('AE_WS') + '||i')}, 'READ' from generate_series(1,{s['agfahc_report_access_config']}) i",
        "vacuum analyze",
        f"grant usage on schema public to {RO_USER}",
        f"grant select on all tables in schema public to {RO_USER}",
    ]
    sizes["dosr_object_document"] = n + dup_refs
    return ";\n".join(stmts) + ";\n", expected, sizes


# ---- timing ------------------------------------------------------------------------------------


def _connect(port: int, password: str):
    import pyodbc

    return pyodbc.connect(
        f"DRIVER={{PostgreSQL Unicode}};SERVER=127.0.0.1;PORT={port};DATABASE={DB};UID={RO_USER};PWD={password}",
        autocommit=True,
    )


def run_guide(conn) -> tuple[float, dict[str, int]]:
    """(a) the guide's twelve queries, one after another, exactly as written."""
    counts = {}
    start = time.perf_counter()
    cur = conn.cursor()
    for cid, sql in GUIDE_QUERIES.items():
        counts[cid] = int(cur.execute(sql).fetchone()[0])
    return time.perf_counter() - start, counts


def run_minimal(conn) -> tuple[float, dict[str, int]]:
    """(b) one pass per table, sequentially; returns the duplicate rows and each table's row count."""
    out = {}
    start = time.perf_counter()
    cur = conn.cursor()
    for table, sql in MINIMAL_QUERIES.items():
        rows = cur.execute(sql).fetchall()
        out[table] = sum(int(r[1]) for r in rows) if table == "dosr_object_document" else int(rows[0][0])
    return time.perf_counter() - start, out


def run_checks(port: int, password_env: str, jobs: int = 8, sessions: int = 2) -> tuple[float, dict[str, int], dict]:
    """(c) impax-preflight's integrity checks through run_preflight over ODBC (default: 2 sessions per database)."""
    from impax_preflight import run_preflight
    from impax_preflight.testing import make_inventory

    inv = make_inventory({"hosts": [{"name": "pgdb", "os": "linux", "roles": ["database"], "transport": {"kind": "local"},
                                     "databases": [{"name": "mvf", "kind": "odbc", "driver": "PostgreSQL Unicode",
                                                    "server": "127.0.0.1", "port": port, "database": DB, "user": RO_USER,
                                                    "password": f"env:{password_env}", "dialect": "postgres",
                                                    "schema": "public"}]}]},
                         thresholds={"sessions_per_database": sessions})
    start = time.perf_counter()
    report = run_preflight(inv, only=["integrity.*"], jobs=jobs)
    elapsed = time.perf_counter() - start
    counts, errors = {}, []
    for f in report.findings:
        if f.status.value == "error":
            errors.append(f"{f.check_id}: {f.message}")
        counts[f.check_id] = f.values.get("count")
    statements = sorted({e.source for f in report.findings for e in f.evidence if e.kind == "sql"})
    detail = {"statements": len(statements), "errors": errors,
              "sessions_per_database": inv.site.thresholds.sessions_per_database}
    return elapsed, counts, detail


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    pg = subprocess.run([str(PG_BIN / "postgres"), "--version"], capture_output=True, text=True).stdout.strip()
    return f"{os.cpu_count()} cores ({cpu}){mem}, {platform.system()} {platform.release()}, {pg}, Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--objects", type=int, default=5_000_000, help="rows of dosr_object (and dosr_object_document)")
    ap.add_argument("--repeat", type=int, default=3, help="timed rounds; each round runs (a), (b), (c) in turn")
    ap.add_argument("--keep", action="store_true", help="leave the cluster folder in place")
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

    cluster = Cluster()
    print(f"PostgreSQL cluster in {cluster.root} on port {cluster.port}", flush=True)
    cluster.start()
    try:
        sql, expected, sizes = bulk_build_sql(args.objects)
        t = time.perf_counter()
        cluster.psql(sql)
        build_s = time.perf_counter() - t
        print(f"built in {build_s:.1f}s: " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()), flush=True)
        env = "IMPAX_BENCH_PG_PASSWORD"
        os.environ[env] = cluster.password
        conn = _connect(cluster.port, cluster.password)
        # warm-up: every table read (the first reads after a bulk load also set hint bits); the timed
        # rounds then start from the same cache state
        run_guide(conn)
        run_minimal(conn)
        rounds = []
        for i in range(args.repeat):
            a_s, a_counts = run_guide(conn)
            b_s, b_counts = run_minimal(conn)
            c_s, c_counts, detail = run_checks(cluster.port, env)
            c1_s, c1_counts, _ = run_checks(cluster.port, env, sessions=1)
            rounds.append({"a": a_s, "b": b_s, "c": c_s, "c1": c1_s})
            print(f"round {i + 1}: (a) guide {a_s:.2f}s  (b) one pass per table {b_s:.2f}s  (c) impax-preflight {c_s:.2f}s"
                  f"  [(c) with 1 session per database: {c1_s:.2f}s]", flush=True)
            if c1_counts != c_counts:
                raise SystemExit("impax-preflight's counts differ between 1 and 2 sessions")
            if a_counts != expected:
                raise SystemExit(f"the guide's counts {a_counts} differ from the seeded {expected}")
            if c_counts != a_counts:
                raise SystemExit(f"impax-preflight's counts differ from the guide's: {c_counts} vs {a_counts}; {detail['errors']}")
            if b_counts["dosr_object_document"] != a_counts["integrity.object_document_unique"]:
                raise SystemExit("(b)'s duplicate rows differ from the guide's")
        conn.close()
    finally:
        cluster.stop(keep=args.keep)

    med = {k: sorted(r[k] for r in rounds)[len(rounds) // 2] for k in ("a", "b", "c", "c1")}
    result = {
        "machine": machine(), "objects": args.objects, "sizes": sizes, "build_s": round(build_s, 1), "rounds": rounds,
        "median_s": {k: round(v, 2) for k, v in med.items()},
        "c_over_b": round(med["c"] / med["b"], 2), "c_over_a": round(med["c"] / med["a"], 2),
        "c1_over_b": round(med["c1"] / med["b"], 2),
        "counts": expected, "statements_c": detail["statements"],
    }
    print(json.dumps({k: result[k] for k in ("median_s", "c_over_b", "c_over_a", "c1_over_b", "statements_c")}))
    print(f"targets: (c) <= 1.1 x (b): {'met' if result['c_over_b'] <= 1.1 else 'MISSED'}; "
          f"(c) <= 0.6 x (a): {'met' if result['c_over_a'] <= 0.6 else 'MISSED'}; counts identical to the guide's: yes")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
