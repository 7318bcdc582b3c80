"""Benchmark: the integrity pass at hospital scale — 5 and 50 million dosr_object rows, over ODBC.

Builds once, into a cached PostgreSQL 15 cluster (default /tmp/impax-scale-pg; server defaults, fsync
off only to speed up the build), the IMPAX-shaped database of benchmarks/integrity_scan.py at each
size (generate_series, server-side; seeded defects with known counts), plus at the largest size a
copy in which every checked column has a NOT NULL constraint and dosr_object_document.object_ref a
unique constraint (the defects repaired first). Then, for each size, in one run and one round after
another:

  (a) the guide's twelve queries, exactly as the guide writes them;
  (b) the least work possible: one pass per table (plain count(*); one group by ... having for the
      duplicates), sequentially;
  (e) `impax-preflight plan`'s estimate of the integrity scans (its data-dictionary reads and timed
      samples), in a fresh process;
  (c) impax-preflight's twelve integrity checks through `run_preflight` (2 sessions per database),
      in a fresh process whose peak resident memory (ru_maxrss) is the client's peak;

and at the largest size (p), (c) on the constrained copy, where the dictionary proves every count.
Checked every round: (a) finds the seeded counts, (c) the same counts as (a), (p) zeros that the
guide's queries confirm. Targets: (c) <= 1.0 x (b) at both sizes; (c) at 50M / (c) at 5M <= 11;
client peak RSS <= 150 MB at both; the estimate within 0.5-2 x of (c); (p) < 1 s.

Usage:  python benchmarks/integrity_scale.py [--sizes 5000000 50000000] [--repeat 3] [--cache DIR] [--json FILE]
Needs:  /usr/lib/postgresql/15/bin (or IMPAX_TEST_PG_BIN), the 'postgres' system user when run as
        root, the ODBC driver "PostgreSQL Unicode", about 35 GB free in the cache folder for 50M
        (check `df -h /tmp`). The first build of 50M takes several minutes; later runs reuse it.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from integrity_scan import (  # noqa: E402 - the same database and the same (a) and (b)
    PG_BIN,
    RO_USER,
    bulk_build_sql,
    free_port,
    machine,
    run_guide,
    run_minimal,
)

from impax_preflight.demo.impax_schema import NULL_DEFECTS as NULL_COLUMNS  # noqa: E402 - check id -> (table, column)

PASSWORD_ENV = "IMPAX_SCALE_PG_PASSWORD"


class CachedCluster:
    """A PostgreSQL cluster kept in `root` between runs; its state (port, login, what is built) in state.json."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state_file = root / "state.json"
        self.is_root = os.geteuid() == 0
        self.state: dict = json.loads(self.state_file.read_text()) if self.state_file.exists() else {}

    def save(self) -> None:
        self.state_file.write_text(json.dumps(self.state, indent=2))
        os.chmod(self.state_file, 0o600)

    def _as_postgres(self, args: list[str], **kw) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if self.is_root else []
        return subprocess.run(prefix + args, capture_output=True, text=True, **kw)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def port(self) -> int:
        return int(self.state["port"])

    @property
    def password(self) -> str:
        return self.state["password"]

    def start(self) -> None:
        if not (self.data / "PG_VERSION").exists():
            self.root.mkdir(parents=True, exist_ok=True)
            if self.is_root:
                shutil.chown(self.root, "postgres", "postgres")
            r = self._as_postgres([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                                   "--no-sync"])
            if r.returncode:
                raise SystemExit(f"initdb failed: {r.stderr}")
            (self.data / "pg_hba.conf").write_text("local all postgres trust\nhost all all 127.0.0.1/32 scram-sha-256\n")
            self.state = {"port": free_port(), "password": "bench-" + secrets.token_urlsafe(12), "built": {}}
            self.save()
            fresh = True
        else:
            fresh = False
        status = self._as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "status"])
        if status.returncode != 0:
            r = self._as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "postgres.log"), "-w",
                                   "-t", "120", "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off",
                                   "start"])
            if r.returncode:
                raise SystemExit(f"pg_ctl start failed: {r.stderr} {r.stdout}")
        if fresh:
            self.psql(f"CREATE ROLE {RO_USER} LOGIN PASSWORD '{self.password}'", dbname="postgres")

    def stop(self) -> None:
        self._as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def psql(self, sql: str, dbname: str) -> str:
        r = self._as_postgres([str(PG_BIN / "psql"), "-h", str(self.root), "-p", str(self.port), "-U", "postgres", "-d", dbname,
                               "-v", "ON_ERROR_STOP=1", "-X", "-q", "-A", "-t"], input=sql)
        if r.returncode:
            raise RuntimeError(f"psql failed: {r.stderr[:2000]}")
        return r.stdout

    def ensure(self, objects: int) -> tuple[str, dict, dict]:
        """The database of `objects` rows (built when missing): (name, expected counts, table sizes)."""
        name = f"mvf_{objects}"
        sql, expected, sizes = bulk_build_sql(objects)
        if name not in self.state.get("built", {}):
            print(f"building {name} (once; cached in {self.root}) ...", flush=True)
            t = time.perf_counter()
            self.psql(f"DROP DATABASE IF EXISTS {name}", dbname="postgres")
            self.psql(f"CREATE DATABASE {name}", dbname="postgres")
            self.psql(f"GRANT CONNECT ON DATABASE {name} TO {RO_USER}", dbname="postgres")
            self.psql(sql, dbname=name)
            self.state.setdefault("built", {})[name] = {"objects": objects, "build_s": round(time.perf_counter() - t, 1)}
            self.save()
            print(f"  built in {self.state['built'][name]['build_s']:.0f} s", flush=True)
        return name, expected, sizes

    def ensure_proved(self, objects: int, base: str, dup_refs: int) -> str:
        """A copy of `base` with the defects repaired and every checked column constrained."""
        name = f"{base}_constrained"
        if name in self.state.get("built", {}):
            return name
        print(f"building {name}: a copy of {base} with NOT NULL and unique constraints (once) ...", flush=True)
        t = time.perf_counter()
        self.psql(f"DROP DATABASE IF EXISTS {name}", dbname="postgres")
        self.psql(f"CREATE DATABASE {name} TEMPLATE {base}", dbname="postgres")
        self.psql(f"GRANT CONNECT ON DATABASE {name} TO {RO_USER}", dbname="postgres")
        stmts = []
        for table, column in sorted(set(NULL_COLUMNS.values())):
            filler = "0" if column.endswith(("_ref", "_id")) else "'repaired'"
            stmts.append(f"update {table} set {column} = {filler} where {column} is null")
            stmts.append(f"alter table {table} alter column {column} set not null")
        # the duplicated documents were appended after the n first rows (document_ref > n)
        stmts.append(f"delete from dosr_object_document where document_ref > {objects}")
        stmts.append("alter table dosr_object_document add constraint dosr_object_document_object_ref_uk unique (object_ref)")
        stmts.append("vacuum analyze")
        self.psql(";\n".join(stmts) + ";\n", dbname=name)
        self.state["built"][name] = {"objects": objects, "build_s": round(time.perf_counter() - t, 1), "dup_refs_removed": dup_refs}
        self.save()
        print(f"  built in {self.state['built'][name]['build_s']:.0f} s", flush=True)
        return name


# ---- the children: a fresh process for each impax-preflight measurement ---------------------------


def _inventory(port: int, dbname: str):
    from impax_preflight.testing import make_inventory

    return make_inventory({"hosts": [{"name": "pgdb", "os": "linux", "roles": ["database"], "transport": {"kind": "local"},
                                      "databases": [{"name": "mvf", "kind": "odbc", "driver": "PostgreSQL Unicode",
                                                     "server": "127.0.0.1", "port": port, "database": dbname, "user": RO_USER,
                                                     "password": f"env:{PASSWORD_ENV}", "dialect": "postgres",
                                                     "schema": "public", "statement_timeout_s": 3600}]}]},
                          thresholds={"sessions_per_database": 2, "check_timeout_s": 3600})


def child(mode: str, port: int, dbname: str) -> dict:
    import resource

    from impax_preflight import load_plugins, run_preflight

    inv = _inventory(port, dbname)
    out: dict = {}
    if mode == "plan":
        from impax_preflight.estimate import estimate_databases
        from impax_preflight.plan import build_plan

        plugins = load_plugins()
        t = time.perf_counter()
        items, _ = build_plan(inv, plugins.checks().values(), only=["integrity.*"])
        (est,) = estimate_databases(plugins, inv, items)
        out["elapsed_s"] = time.perf_counter() - t
        out["error"] = est.error
        out["wall_s"] = est.wall_s
        out["total_s"] = est.total_s
        out["unknown"] = est.unknown
        out["scans"] = {s.table: {"seconds": s.seconds, "rows": s.rows, "rate": s.rate, "scanned": s.scanned,
                                  "proved": s.proved} for s in est.scans}
    else:
        plugins = load_plugins()  # loading the catalog is the CLI's start-up, not the pass: not timed
        t = time.perf_counter()
        report = run_preflight(inv, plugins=plugins, only=["integrity.*"], jobs=8)
        out["elapsed_s"] = time.perf_counter() - t
        out["counts"] = {f.check_id: f.values.get("count") for f in report.findings}
        out["statuses"] = {f.check_id: f.status.value for f in report.findings}
        out["errors"] = [f"{f.check_id}: {f.message}" for f in report.findings if f.status.value == "error"]
        out["proved"] = sorted(f.check_id for f in report.findings if "proved_by" in f.values)
        out["read_s"] = {f.values.get("table"): f.values.get("read_s") for f in report.findings if f.values.get("read_s")}
        out["statements"] = len({e.source for f in report.findings for e in f.evidence if e.kind == "sql"})
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def run_child(mode: str, cluster: CachedCluster, dbname: str) -> dict:
    env = dict(os.environ, **{PASSWORD_ENV: cluster.password})
    r = subprocess.run([sys.executable, __file__, "--child", mode, "--port", str(cluster.port), "--db", dbname],
                       capture_output=True, text=True, env=env)
    if r.returncode:
        raise SystemExit(f"child {mode} failed: {r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def _connect(port: int, password: str, dbname: str):
    import pyodbc

    return pyodbc.connect(f"DRIVER={{PostgreSQL Unicode}};SERVER=127.0.0.1;PORT={port};DATABASE={dbname};UID={RO_USER};"
                          f"PWD={password}", autocommit=True)


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def bench_size(cluster: CachedCluster, objects: int, repeat: int) -> dict:
    name, expected, sizes = cluster.ensure(objects)
    conn = _connect(cluster.port, cluster.password, name)
    print(f"\n{name}: " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()), flush=True)
    run_guide(conn)  # warm-up: every table read once, hint bits set; the rounds start from the same state
    run_minimal(conn)
    rounds = []
    for i in range(repeat):
        a_s, a_counts = run_guide(conn)
        b_s, b_counts = run_minimal(conn)
        est = run_child("plan", cluster, name)
        c = run_child("run", cluster, name)
        if a_counts != expected:
            raise SystemExit(f"the guide's counts {a_counts} differ from the seeded {expected}")
        if c["errors"] or c["counts"] != a_counts:
            raise SystemExit(f"impax-preflight's counts differ from the guide's: {c['counts']} vs {a_counts}; {c['errors']}")
        if b_counts["dosr_object_document"] != a_counts["integrity.object_document_unique"]:
            raise SystemExit("(b)'s duplicate rows differ from the guide's")
        # what the estimate predicts: each table's scan statement (read_s, measured by the run itself)
        per_table = {t: {"estimate_s": v["seconds"], "read_s": c["read_s"].get(t)} for t, v in est["scans"].items()}
        reads = sum(v["read_s"] or 0 for v in per_table.values())
        accuracy = round(reads / est["total_s"], 2) if est.get("total_s") else None
        large = {t: round(v["read_s"] / v["estimate_s"], 2) for t, v in per_table.items()
                 if v["estimate_s"] and v["estimate_s"] >= 1 and v["read_s"]}
        rounds.append({"a": a_s, "b": b_s, "c": c["elapsed_s"], "estimate_wall_s": est["wall_s"],
                       "estimate_total_s": est["total_s"], "reads_s": round(reads, 2), "plan_elapsed_s": est["elapsed_s"],
                       "actual_over_estimate": accuracy, "large_tables_actual_over_estimate": large,
                       "run_over_wall_estimate": round(c["elapsed_s"] / est["wall_s"], 2) if est.get("wall_s") else None,
                       "c_peak_rss_mb": c["peak_rss_mb"], "plan_peak_rss_mb": est["peak_rss_mb"], "per_table": per_table})
        print(f"  round {i + 1}: (a) guide {a_s:.2f}s  (b) one pass per table {b_s:.2f}s  (c) impax-preflight "
              f"{c['elapsed_s']:.2f}s  client peak RSS {c['peak_rss_mb']} MB", flush=True)
        print(f"           estimate: scans {est['total_s']}s one after another (actual {reads:.2f}s: x{accuracy}), "
              f"{est['wall_s']}s with 2 sessions (run took x{rounds[-1]['run_over_wall_estimate']} of it); large tables "
              f"actual/estimate {large}; the plan took {est['elapsed_s']:.2f}s", flush=True)
    conn.close()
    med = {k: median([r[k] for r in rounds]) for k in ("a", "b", "c")}
    return {"objects": objects, "database": name, "sizes": sizes, "rounds": rounds,
            "median_s": {k: round(v, 2) for k, v in med.items()},
            "c_over_b": round(med["c"] / med["b"], 2), "c_over_a": round(med["c"] / med["a"], 2),
            "actual_over_estimate": median([r["actual_over_estimate"] for r in rounds if r["actual_over_estimate"]]),
            "large_tables_actual_over_estimate": [r["large_tables_actual_over_estimate"] for r in rounds],
            "run_over_wall_estimate": median([r["run_over_wall_estimate"] for r in rounds if r["run_over_wall_estimate"]]),
            "peak_rss_mb": max(r["c_peak_rss_mb"] for r in rounds),
            "statements_c": c["statements"], "counts": expected}


def bench_proved(cluster: CachedCluster, objects: int, repeat: int) -> dict:
    base, _, sizes = cluster.ensure(objects)
    name = cluster.ensure_proved(objects, base, objects // 400009)
    conn = _connect(cluster.port, cluster.password, name)
    a_s, a_counts = run_guide(conn)
    conn.close()
    if any(a_counts.values()):
        raise SystemExit(f"the constrained copy still has defects per the guide: {a_counts}")
    runs = []
    for _ in range(repeat):
        est = run_child("plan", cluster, name)
        c = run_child("run", cluster, name)
        if c["errors"] or c["counts"] != a_counts:
            raise SystemExit(f"(p) counts differ from the guide's: {c['counts']} vs {a_counts}; {c['errors']}")
        runs.append({"c": c["elapsed_s"], "proved": len(c["proved"]), "statements": c["statements"],
                     "plan_s": est["elapsed_s"], "plan_reads": [t for t, v in est["scans"].items() if v["scanned"]],
                     "peak_rss_mb": c["peak_rss_mb"]})
        print(f"  (p) constrained copy: impax-preflight {c['elapsed_s']:.3f}s, {len(c['proved'])}/12 proved by the "
              f"dictionary, {c['statements']} statements; guide's queries {a_s:.1f}s, all 0", flush=True)
    return {"objects": objects, "database": name, "guide_s": round(a_s, 2), "runs": runs,
            "median_c_s": round(median([r["c"] for r in runs]), 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[5_000_000, 50_000_000], help="rows of dosr_object per database")
    ap.add_argument("--repeat", type=int, default=3, help="timed rounds per size")
    ap.add_argument("--cache", default="/tmp/impax-scale-pg", help="the cached cluster's folder")
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--stop", action="store_true", help="stop the cluster at the end (it is kept on disk either way)")
    ap.add_argument("--build-only", action="store_true", help="build the cached databases and stop there")
    ap.add_argument("--child", choices=["plan", "run"], help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.port, args.db)))
        return 0

    cluster = CachedCluster(Path(args.cache))
    cluster.start()
    print(f"PostgreSQL cluster in {cluster.root} on port {cluster.port}; {machine()}", flush=True)
    if args.build_only:
        for n in sorted(args.sizes):
            base, _, _ = cluster.ensure(n)
        cluster.ensure_proved(max(args.sizes), base, max(args.sizes) // 400009)
        return 0
    try:
        results = [bench_size(cluster, n, args.repeat) for n in sorted(args.sizes)]
        proved = bench_proved(cluster, max(args.sizes), args.repeat)
    finally:
        if args.stop:
            cluster.stop()
    small, large = results[0], results[-1]
    growth = round(large["median_s"]["c"] / small["median_s"]["c"], 2) if len(results) > 1 else None
    summary = {
        "machine": machine(),
        "sizes": [{k: r[k] for k in ("objects", "median_s", "c_over_b", "c_over_a", "actual_over_estimate",
                                     "run_over_wall_estimate", "peak_rss_mb", "statements_c")} for r in results],
        "growth_c": growth, "proved": {k: proved[k] for k in ("objects", "median_c_s", "guide_s")},
    }
    print(json.dumps(summary, indent=2))
    checks = {
        "(c) <= 1.0 x (b) at every size": all(r["c_over_b"] <= 1.0 for r in results),
        "(c) 50M / 5M <= 11": growth is None or growth <= 11,
        "client peak RSS <= 150 MB": all(r["peak_rss_mb"] <= 150 for r in results),
        "estimate within 0.5-2 x (all scans, and each table estimated at 1 s or more)": all(
            r["actual_over_estimate"] and 0.5 <= r["actual_over_estimate"] <= 2
            and all(0.5 <= x <= 2 for rd in r["large_tables_actual_over_estimate"] for x in rd.values()) for r in results),
        "(p) constrained copy < 1 s": proved["median_c_s"] < 1.0,
    }
    for what, ok in checks.items():
        print(f"target {what}: {'met' if ok else 'MISSED'}")
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "sizes": results, "proved": proved}, indent=2))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
