"""DICOM reconciliation benchmark: 10,000 studies over 365 days between two loopback Orthanc archives.

Builds (once, cached under /tmp) an old and a new Orthanc archive from `seeded_pair`: the new one
lacks some studies, has extra ones, some with one instance fewer, some under a later StudyDate.
Then starts both and runs ``dicom.study_reconcile`` unpaced (pause_s = 0, window always) through
`run_preflight` with the installed plugins, in a child process whose peak RSS it reads
(getrusage). Checks the finding found exactly the seeded differences. Targets: at most 60 s and
200 MB for the client.

    python benchmarks/dicom_reconcile.py                     # 10,000 studies, 365 days
    python benchmarks/dicom_reconcile.py --studies 2000 --days 90 --repeat 3
    python benchmarks/dicom_reconcile.py --rebuild           # throw the cached archives away first

Needs /usr/sbin/Orthanc (Debian package orthanc) and the DICOM plugin installed. Prints a table
and exits 1 if a target is missed or the differences found are not the seeded ones.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from orthanc_service import all_datasets, orthanc_available, seeded_pair, start_orthanc  # noqa: E402

FIRST_DAY = dt.date(2025, 1, 1)
TARGET_S, TARGET_MB = 60.0, 200.0


def build_pair(args):
    return seeded_pair(FIRST_DAY, args.days, args.studies, seed="bench", missing=args.missing, extra=args.extra,
                       fewer=args.fewer, redated=args.redated, max_series=2, max_instances=3)


def archives(args, pair) -> Path:
    """The two Orthanc storage folders for this spec, built once and reused."""
    spec = {"studies": args.studies, "days": args.days, "missing": args.missing, "extra": args.extra,
            "fewer": args.fewer, "redated": args.redated, "first": FIRST_DAY.isoformat(), "v": 1}
    key = hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]
    folder = Path(args.cache) / key
    if args.rebuild and folder.exists():
        shutil.rmtree(folder)
    if (folder / "complete.json").exists():
        return folder
    if folder.exists():
        shutil.rmtree(folder)  # an interrupted build
    print(f"building the archives in {folder} (once; later runs reuse them) ...", flush=True)
    t0 = time.monotonic()
    servers = [start_orthanc(folder / side, aet, storage=folder / side / "storage")
               for side, aet in (("old", "OLD_ARCH"), ("new", "NEW_ARCH"))]
    counts: dict[str, int] = {}
    try:
        def load(server, studies, side):
            counts[side] = server.store(all_datasets(studies))

        threads = [threading.Thread(target=load, args=(s, st, side))
                   for s, st, side in ((servers[0], pair.old, "old"), (servers[1], pair.new, "new"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for s in servers:
            s.stop()
    if set(counts) != {"old", "new"}:
        raise SystemExit("loading the archives failed (see the Orthanc logs in the cache folder)")
    (folder / "complete.json").write_text(json.dumps({**spec, "instances": counts}), encoding="utf-8")
    print(f"  loaded {counts['old']:,} + {counts['new']:,} instances in {time.monotonic() - t0:.0f} s", flush=True)
    return folder


def client(argv: list[str]) -> None:
    """The measured process: one reconciliation through run_preflight; prints its figures as JSON."""
    import resource

    from impax_preflight import load_plugins, run_preflight, write_reports
    from impax_preflight.inventory import Inventory

    old_port, new_port, first, last, work = int(argv[0]), int(argv[1]), argv[2], argv[3], Path(argv[4])
    inv = Inventory.model_validate({
        "site": {"name": "Bench", "impax_version": "6.3.1", "platform": "AS3000", "options": {
            "dicom.study_reconcile": {"start_date": first, "end_date": last, "pause_s": 0, "window": "always",
                                      "timeout_s": 30, "state_dir": str(work / "state")}}},
        "hosts": [
            {"name": "old", "address": "127.0.0.1", "os": "solaris", "roles": ["archive"], "transport": {"kind": "local"},
             "aes": [{"ae_title": "OLD_ARCH", "port": old_port, "role": "old_archive"}]},
            {"name": "new", "address": "127.0.0.1", "os": "solaris", "roles": ["archive"], "transport": {"kind": "local"},
             "aes": [{"ae_title": "NEW_ARCH", "port": new_port, "role": "new_archive"}]},
        ],
    })
    t0 = time.monotonic()
    ps = load_plugins()
    report = run_preflight(inv, plugins=ps, only=["dicom.study_reconcile"], out_dir=work / "out")
    write_reports(report, work / "out", ["json"], ps)
    wall = time.monotonic() - t0
    (f,) = report.findings
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rss_kb = usage.ru_maxrss  # kilobytes on Linux
    print(json.dumps({"wall_s": wall, "check_s": f.duration_s, "cpu_s": usage.ru_utime + usage.ru_stime,
                      "rss_mb": rss_kb / 1024, "status": f.status.value,
                      "values": {k: f.values[k] for k in ("old_studies", "new_studies", "matched", "missing", "extra",
                                                           "fewer_instances", "date_differs", "more_instances",
                                                           "series_differ", "not_found_by_date", "not_counted",
                                                           "days_done", "requeried_by_uid")}}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--studies", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--missing", type=int, default=60)
    ap.add_argument("--extra", type=int, default=40)
    ap.add_argument("--fewer", type=int, default=50)
    ap.add_argument("--redated", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "impax-preflight-bench-dicom"))
    ap.add_argument("--rebuild", action="store_true")
    args = ap.parse_args()
    if not orthanc_available():
        print("Orthanc is not installed (apt install orthanc)", file=sys.stderr)
        return 2
    pair = build_pair(args)
    folder = archives(args, pair)
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-dicom-") as tmp:
        servers = [start_orthanc(Path(tmp) / side, aet, storage=folder / side / "storage")
                   for side, aet in (("old", "OLD_ARCH"), ("new", "NEW_ARCH"))]
        try:
            for i in range(args.repeat):
                work = Path(tmp) / f"run{i}"
                out = subprocess.run(
                    [sys.executable, __file__, "--client", str(servers[0].port), str(servers[1].port),
                     pair.first_day.isoformat(), pair.last_day.isoformat(), str(work)],
                    capture_output=True, text=True, timeout=600)
                if out.returncode != 0:
                    print(out.stderr, file=sys.stderr)
                    return 1
                runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        finally:
            for s in servers:
                s.stop()
    expected = {"missing": len(pair.missing), "extra": len(pair.extra), "fewer_instances": len(pair.fewer),
                "date_differs": len(pair.redated), "old_studies": len(pair.old)}
    print(f"\n{args.studies:,} studies over {args.days} days, {sum(s.instances for s in pair.old):,} instances on the old "
          f"archive; seeded: {expected['missing']} missing, {expected['extra']} extra, {expected['fewer_instances']} "
          f"with one instance fewer, {expected['date_differs']} under another date")
    print(f"{'run':>4} {'client wall':>12} {'check':>8} {'client CPU':>11} {'peak RSS':>9}  found")
    ok = True
    for i, r in enumerate(runs, 1):
        v = r["values"]
        found = {k: v[k] for k in expected}
        right = found == expected and v["days_done"] == args.days and not v["not_counted"]
        ok &= right
        print(f"{i:>4} {r['wall_s']:>10.1f} s {r['check_s']:>6.1f} s {r['cpu_s']:>9.1f} s {r['rss_mb']:>6.0f} MB  "
              f"{v['missing']} missing, {v['extra']} extra, {v['fewer_instances']} fewer, {v['date_differs']} redated, "
              f"{v['requeried_by_uid']} re-queried by UID{'' if right else '  <- NOT the seeded differences'}")
    wall = statistics.median(r["wall_s"] for r in runs)
    rss = max(r["rss_mb"] for r in runs)
    print(f"median client wall {wall:.1f} s (target <= {TARGET_S:.0f} s), peak RSS {rss:.0f} MB (target <= {TARGET_MB:.0f} MB)")
    ok &= wall <= TARGET_S and rss <= TARGET_MB
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        client(sys.argv[2:])
        sys.exit(0)
    sys.exit(main())
