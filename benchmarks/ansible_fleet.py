"""Ansible fleet benchmark: N hosts through the impax.preflight collection against the native `run`.

Both check the same site — N Solaris hosts that all alias one loopback sshd (stand-in Solaris tools
taking --latency seconds, as in fleet.py), the whole built-in catalog — and write the same reports:

  native   impax-preflight run SITE -j JOBS            (one process, paramiko, one SSH connection per host)
  ansible  ansible-playbook impax.preflight.preflight --forks FORKS, merge off
           (per host: the collector written on the controller, run over SSH with `script`, the bundle
           fetched, the folder removed; then one impax-preflight run from the 40 bundles)

Measured per approach, A/B interleaved: wall time, controller CPU (user + sys of every process the
run started: ansible-playbook, its workers and ssh clients, impax-preflight; the sshd side is not
counted), the SSH connections the server accepted, and the findings (the two must agree).

    python benchmarks/ansible_fleet.py                     # 40 hosts, forks 20, 2 rounds
    python benchmarks/ansible_fleet.py --hosts 10 --rounds 3

Needs /usr/sbin/sshd and ansible-core in the same environment; runs as root like the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from fleet import STAND_INS  # noqa: E402

BIN = Path(sys.executable).parent


def _site(server, n: int, path: Path) -> None:
    lines = ['[site]', 'name = "Bench Hospital"', 'impax_version = "6.3.1"', 'platform = "AS3000"', '']
    for i in range(n):
        lines += ["[[hosts]]", f'name = "arch{i:02d}"', 'address = "127.0.0.1"', 'os = "solaris"', 'roles = ["archive"]',
                  f'tier = "{("dr", "bk", "prod")[i % 3]}"', "[hosts.transport]", 'kind = "ssh"',
                  f'user = "{server.plain_user}"', f"port = {server.port}", f'key_file = "{server.key_file}"',
                  f'known_hosts = "{server.known_hosts}"', "use_agent = false", ""]
    path.write_text("\n".join(lines))


def _timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, subprocess.CompletedProcess]:
    """(wall seconds, CPU seconds of every child process, result)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc


def _findings(report: Path) -> dict[str, int]:
    data = json.loads(report.read_text())
    out: dict[str, int] = {}
    for f in data["findings"]:
        out[f["status"]] = out.get(f["status"], 0) + 1
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=40)
    ap.add_argument("--forks", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=32, help="impax-preflight run -j (its default)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--latency", type=float, default=0.1, help="seconds each slow stand-in command takes")
    args = ap.parse_args(argv)

    from services import SshdServer, sshd_available

    if not sshd_available() or not (BIN / "ansible-playbook").exists():
        print("needs sshd (apt-get install openssh-server) and ansible-core (pip install -e '.[test]')", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="impax-ansible-fleet-"))
    server = SshdServer.start(work / "sshd")
    try:
        for name, body in STAND_INS.items():
            server.add_command(name, body.format(lat=args.latency) + "\n")
        _site(server, args.hosts, work / "site.toml")
        (work / "site.impax_preflight.yml").write_text("plugin: impax.preflight.site\nsites: [site.toml]\n")
        (work / "ansible.cfg").write_text("[defaults]\nhost_key_checking = True\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        env.update({"ANSIBLE_CONFIG": str(work / "ansible.cfg"), "ANSIBLE_HOME": str(work / "ansible-home"),
                    "ANSIBLE_COLLECTIONS_PATH": str(work / "collections"), "ANSIBLE_NOCOLOR": "1",
                    "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}"})
        subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", str(ROOT / "ansible/impax/preflight"),
                        "--output-path", str(work)], env=env, check=True, capture_output=True)
        tarball = next(work.glob("impax-preflight-*.tar.gz"))
        subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "-p", str(work / "collections"), str(tarball)],
                       env=env, check=True, capture_output=True)
        remote_tmp = Path(tempfile.mkdtemp(prefix="impax-bench-remote-"))
        remote_tmp.chmod(0o1777)
        cmd = str(BIN / "impax-preflight")
        approaches = {
            "native": lambda out: [cmd, "run", "site.toml", "-o", str(out), "-j", str(args.jobs), "--no-progress"],
            "ansible": lambda out: [str(BIN / "ansible-playbook"), "-i", "site.impax_preflight.yml", "impax.preflight.preflight",
                                    "--forks", str(args.forks), "-e", f"impax_preflight_command={cmd}",
                                    "-e", f"impax_preflight_output_dir={out}", "-e", f"impax_preflight_remote_tmp={remote_tmp}",
                                    "-e", "impax_preflight_fail_on=never", "-e", "impax_preflight_merge=false"],
        }
        rows: dict[str, list[tuple[float, float, int, dict]]] = {k: [] for k in approaches}
        for r in range(args.rounds):
            for name, build in approaches.items():
                out = work / f"out-{name}-{r}"
                server.log_path.write_text("")
                wall, cpu, proc = _timed(build(out), env, work)
                time.sleep(0.3)  # let sshd flush its log
                report = out / "report.json" if name == "native" else next(out.glob("runs/*/all/report.json"))
                if proc.returncode not in (0, 1, 2) or not report.exists():
                    print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
                    return 1
                rows[name].append((wall, cpu, server.connections(), _findings(report)))
                print(f"round {r + 1} {name:8s} wall={wall:6.2f}s cpu={cpu:6.2f}s connections={server.connections()} "
                      f"findings={rows[name][-1][3]}", flush=True)
        shutil.rmtree(remote_tmp, ignore_errors=True)
    finally:
        server.stop()
    n = args.hosts
    print(f"\n{n} hosts, latency {args.latency}s, native -j {args.jobs}, ansible --forks {args.forks}, {args.rounds} rounds (median)")
    print(f"{'':8s} {'wall':>8s} {'CPU':>8s} {'CPU/host':>9s} {'conn/host':>9s}")
    med = {}
    for name, vals in rows.items():
        wall = statistics.median(v[0] for v in vals)
        cpu = statistics.median(v[1] for v in vals)
        conns = statistics.median(v[2] for v in vals)
        med[name] = (wall, cpu)
        print(f"{name:8s} {wall:7.2f}s {cpu:7.2f}s {1000 * cpu / n:7.0f}ms {conns / n:9.2f}")
    print(f"ansible / native: wall {med['ansible'][0] / med['native'][0]:.1f}x, CPU {med['ansible'][1] / med['native'][1]:.1f}x")
    same = all(v[3] == rows["native"][0][3] for vals in rows.values() for v in vals)
    print("findings agree in every round" if same else "FINDINGS DIFFER between the approaches")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
