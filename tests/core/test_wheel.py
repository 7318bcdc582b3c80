"""A wheel installed in a fresh venv, run from outside the source tree, finds every check and template."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp / "dist"), str(ROOT)],
                   check=True, capture_output=True)
    wheel = next((tmp / "dist").glob("impax_preflight-*.whl"))
    env_dir = tmp / "venv"
    # A venv of its own, not on the system interpreter's packages (on a fresh machine those hold
    # nothing). The dependencies come from the test environment's own site-packages, added by a
    # path line in a .pth file: a plain path line processes no .pth files there, so the editable
    # install of this checkout stays invisible and the package comes from the wheel only.
    venv.EnvBuilder(system_site_packages=False, with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    own_site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              check=True, capture_output=True, text=True).stdout.strip()
    deps = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    Path(own_site, "impax_test_deps.pth").write_text("".join(f"{d}\n" for d in sorted(deps)), encoding="utf-8")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps", "--force-reinstall", str(wheel)],
                   check=True, capture_output=True)
    return py, tmp, wheel


def _run(py, cwd, *args):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    return subprocess.run([str(py), *args], cwd=cwd, capture_output=True, text=True, env=env)


def test_wheel_contents(installed):
    import zipfile

    _, _, wheel = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("impax_preflight/checks/") for n in names)
    assert any(n.startswith("impax_preflight/reports/") for n in names)
    assert "impax_preflight/demo/site.toml" in names
    src_checks = {p.name for p in (ROOT / "checks").glob("*.py")}
    assert {n.split("/")[-1] for n in names if n.startswith("impax_preflight/checks/")} >= src_checks
    src_reports = {p.name for p in (ROOT / "reports").iterdir() if p.is_file() and p.suffix != ".pyc"}
    assert {n.split("/")[-1] for n in names if n.startswith("impax_preflight/reports/")} >= src_reports


def test_installed_wheel_runs_outside_the_tree(installed):
    py, tmp, _ = installed
    where = _run(py, tmp, "-c", "import impax_preflight, impax_preflight.checks as c; print(impax_preflight.__file__); print(c.__file__)")
    assert where.returncode == 0, where.stderr
    for line in where.stdout.split():
        assert str(ROOT) not in line and str(tmp / "venv") in line
    checks = _run(py, tmp, "-m", "impax_preflight", "checks", "--json")
    assert checks.returncode == 0, checks.stderr
    ids = {c["id"] for c in json.loads(checks.stdout)}
    here = subprocess.run([sys.executable, "-m", "impax_preflight", "checks", "--json"], capture_output=True, text=True, cwd=ROOT)
    assert ids == {c["id"] for c in json.loads(here.stdout)}
