"""Fleet benchmark: N hosts over SSH through `run_preflight`, all served by one loopback sshd.

Measures the wall time of a run per fleet size and the SSH connections each host opened (counted
in the sshd log). Targets: wall(40) <= 4 x wall(1), and exactly one connection per host.

    python benchmarks/fleet.py                 # N = 1, 10, 40
    python benchmarks/fleet.py --sizes 1 5 --jobs 32 --latency 0.2

Needs /usr/sbin/sshd (openssh-server) and must run as root like the tests (sshd privilege
separation). Prints a table and exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from impax_preflight import hookimpl  # noqa: E402
from impax_preflight.check import check, register_module_checks  # noqa: E402
from impax_preflight.inventory import Inventory, Site  # noqa: E402
from impax_preflight.model import Status  # noqa: E402
from impax_preflight import load_plugins  # noqa: E402
from impax_preflight import run_preflight  # noqa: E402

# Stand-ins for the Solaris tools the catalog runs; each takes a little time like the real ones.
STAND_INS = {
    "svcs": "sleep {lat}; echo 'online 10:00:00 svc:/application/impax/archive:default'",
    "fmadm": "sleep {lat}; echo",
    "zpool": "sleep {lat}; echo 'all pools are healthy'",
    "metastat": "sleep {lat}; echo 'd10: Mirror'; echo '    State: Okay'",
    "psrinfo": "echo '0 on-line since 01/01/2024 10:00:00'; echo '1 on-line since 01/01/2024 10:00:00'",
    "prtconf": "echo 'Memory size: 32768 Megabytes'",
}


def _plugin() -> types.ModuleType:
    """A few command-running host checks, like the catalog's Solaris checks."""
    mod = types.ModuleType("fleet_bench_checks")

    def make(cid: str, command: str, expect: str):
        @check(cid, f"bench {cid}", "warning", "host", os=["solaris"], commands={"solaris": [command]})
        def _c(ctx):
            r = ctx.run(command)
            if r.rc == 0 and expect in r.stdout:
                return ctx.passed(f"{command}: ok")
            return ctx.problem(f"{command}: rc={r.rc} {r.stdout[:80]!r}")

        return _c

    for i, (cmd, expect) in enumerate(
        [("svcs -xv", "online"), ("fmadm faulty", ""), ("zpool status -x", "healthy"), ("metastat -c", "Okay"),
         ("psrinfo", "on-line"), ("prtconf | grep Memory", "Memory")]
    ):
        setattr(mod, f"c{i}", make(f"bench.c{i}", cmd, expect))

    @hookimpl
    def impax_register_checks(register):
        register_module_checks(register, vars(mod))

    mod.impax_register_checks = impax_register_checks
    return mod


def run_fleet(server, n: int, jobs: int) -> tuple[float, dict[str, int], int]:
    # a service-account-like login (/bin/sh, no rc files): root's .bashrc here runs pyenv init per command
    hosts = [server.make_host(f"arch{i:02d}", os="solaris", roles=["archive"], user=server.plain_user) for i in range(n)]
    inv = Inventory(site=Site(name="Bench Hospital", impax_version="6.3.1", platform="AS3000"), hosts=hosts)
    plugins = load_plugins(entry_points=False, extra_plugins=[_plugin()])
    server.log_path.write_text("")
    start = time.monotonic()
    report = run_preflight(inv, plugins=plugins, only=["bench.*"], jobs=jobs)
    wall = time.monotonic() - start
    time.sleep(0.3)  # let sshd flush its log
    statuses: dict[str, int] = {}
    for f in report.findings:
        statuses[f.status.value] = statuses.get(f.status.value, 0) + 1
    bad = [f for f in report.findings if f.status not in (Status.PASS,)]
    if bad:
        print(f"  note: {len(bad)} non-pass findings, e.g. {bad[0].check_id} {bad[0].target}: {bad[0].message[:160]}")
    return wall, statuses, server.connections()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 40])
    ap.add_argument("--jobs", type=int, default=64, help="run_preflight jobs (the CLI allows up to 64)")
    ap.add_argument("--latency", type=float, default=0.1, help="seconds each slow stand-in command takes")
    args = ap.parse_args(argv)

    from services import SshdServer, sshd_available

    if not sshd_available():
        print("sshd not available: apt-get install openssh-server", file=sys.stderr)
        return 2
    server = SshdServer.start(Path(tempfile.mkdtemp(prefix="impax-fleet-")))
    try:
        for name, body in STAND_INS.items():
            server.add_command(name, body.format(lat=args.latency) + "\n")
        rows = []
        for n in args.sizes:
            wall, statuses, conns = run_fleet(server, n, args.jobs)
            rows.append((n, wall, statuses, conns))
            print(f"N={n:3d}  wall={wall:6.2f}s  connections={conns:4d} ({conns / n:.2f}/host)  findings={statuses}",
                  flush=True)
    finally:
        server.stop()
    ok = True
    base = rows[0][1] if rows and rows[0][0] == 1 else None
    for n, wall, statuses, conns in rows:
        if conns != n:
            print(f"MISSED: N={n}: {conns} SSH connections, expected exactly {n} (one per host)")
            ok = False
        if base and n == 40 and wall > 4 * base:
            print(f"MISSED: wall(40) = {wall:.2f}s > 4 x wall(1) = {4 * base:.2f}s")
            ok = False
    if base:
        print("ratios to N=1: " + ", ".join(f"N={n}: {wall / base:.2f}x" for n, wall, _, _ in rows))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
