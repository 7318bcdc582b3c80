"""Time `impax-preflight --help` (target: median at most 150 ms) and `checks --json`, as a user starts them.

    python benchmarks/cli_startup.py [--runs 10]

Prints the median and worst wall time of each command over fresh interpreter starts, and what
`--help` imported that it must not: heavy drivers (paramiko, oracledb, pyodbc, pynetdicom),
pydantic and the results model, the check catalog (there must be none).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def timed(args: list[str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "impax_preflight", *args], capture_output=True, check=True)
        out.append(time.perf_counter() - t0)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    opts = ap.parse_args()
    code = ("import sys; sys.argv=['impax-preflight','--help']\n"
            "from impax_preflight.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "sys.stderr.write(','.join(m for m in ('paramiko','oracledb','pyodbc','pynetdicom','pydantic',"
            "'impax_preflight.model','impax_preflight.checks','sqlglot') if m in sys.modules))")
    heavy = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stderr.strip().splitlines()[-1:]
    ok = True
    for args in (["--help"], ["checks", "--json"]):
        t = timed(args, opts.runs)
        med = statistics.median(t)
        print(f"impax-preflight {' '.join(args):<14} median {med * 1000:6.0f} ms   worst {max(t) * 1000:6.0f} ms   ({opts.runs} runs)")
        if args == ["--help"] and med > 0.15:
            ok = False
    print(f"imported by --help that must not be: {heavy[0] if heavy and heavy[0] else 'none'}")
    return 0 if ok and not (heavy and heavy[0]) else 1


if __name__ == "__main__":
    sys.exit(main())
