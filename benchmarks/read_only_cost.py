"""Benchmark: what read-only by construction costs per statement.

In one run, side by side:

  (1) the guard, without a server: `ensure_read_only` over every statement of the built-in catalog
      (all four dialects) against sqlglot parsing the same statements alone;
  (2) a round trip on a throwaway PostgreSQL 15 cluster over ODBC ("PostgreSQL Unicode"): a bare
      pyodbc connection in autocommit sending `select 1` against `OdbcSession.query("select 1")`
      (guard, `SET TRANSACTION READ ONLY`, the statement, the read-only check, `ROLLBACK`).

Usage:  python benchmarks/read_only_cost.py [--loops 20] [--round-trips 500] [--no-server]
Needs for (2): /usr/lib/postgresql/15/bin (or IMPAX_TEST_PG_BIN), the 'postgres' system user when
run as root, the ODBC driver "PostgreSQL Unicode". benchmarks/README.md records a run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def guard_cost(loops: int) -> dict[str, float]:
    import sqlglot

    from impax_preflight.checks import _statements as q
    from impax_preflight.db.readonly import ensure_read_only

    statements = q.all_statements()

    def timed(fn) -> float:
        runs = []
        for _ in range(loops):
            start = time.perf_counter()
            for _, dialect, sql in statements:
                fn(sql, dialect)
            runs.append(time.perf_counter() - start)
        return statistics.median(runs) / len(statements)

    parse = timed(lambda sql, d: sqlglot.parse(sql, read=d))
    guard = timed(ensure_read_only)
    return {"statements": len(statements), "parse_ms": parse * 1000, "guard_ms": guard * 1000, "ratio": guard / parse}


def round_trip_cost(n: int) -> dict[str, float]:
    import pyodbc

    from impax_preflight.db.odbc import OdbcSession
    from integrity_scan import DB, RO_USER, Cluster

    cluster = Cluster()
    cluster.start()
    try:
        cluster.psql(f"GRANT CONNECT ON DATABASE {DB} TO {RO_USER}", dbname="postgres")
        cs = (f"DRIVER={{PostgreSQL Unicode}};SERVER=127.0.0.1;PORT={cluster.port};DATABASE={DB};UID={RO_USER};"
              f"PWD={{{cluster.password}}}")
        bare = pyodbc.connect(cs, autocommit=True)
        session = OdbcSession(cs, where="bench", dialect="postgres")

        def per_call(fn) -> float:
            for _ in range(20):  # warm up
                fn()
            start = time.perf_counter()
            for _ in range(n):
                fn()
            return (time.perf_counter() - start) / n

        bare_s = per_call(lambda: bare.execute("select 1").fetchall())
        session_s = per_call(lambda: session.query("select 1"))
        bare.close()
        session.close()
        return {"bare_ms": bare_s * 1000, "session_ms": session_s * 1000, "ratio": session_s / bare_s}
    finally:
        cluster.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loops", type=int, default=20)
    ap.add_argument("--round-trips", type=int, default=500)
    ap.add_argument("--no-server", action="store_true")
    args = ap.parse_args(argv)
    g = guard_cost(args.loops)
    print(f"guard: {g['statements']} catalog statements; sqlglot parse {g['parse_ms']:.2f} ms, "
          f"ensure_read_only {g['guard_ms']:.2f} ms per statement ({g['ratio']:.2f}x parse)")
    if not args.no_server:
        if not Path(os.environ.get("IMPAX_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"), "initdb").exists():
            print("round trip: skipped (no PostgreSQL 15 binaries)")
            return 0
        r = round_trip_cost(args.round_trips)
        print(f"round trip on loopback PostgreSQL: bare pyodbc autocommit {r['bare_ms']:.3f} ms, "
              f"OdbcSession.query (guard + read-only transaction + check + rollback) {r['session_ms']:.3f} ms "
              f"({r['ratio']:.1f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
