"""The package's layers hold: import-linter's contract in pyproject.toml is kept, with no exception.

The package is assembled as a wheel lays it out (checks/ becomes impax_preflight/checks/), because
import-linter reads the files, not the installed package.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_layers_contract_is_kept(tmp_path):
    shutil.copytree(ROOT / "impax_preflight", tmp_path / "impax_preflight", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "checks", tmp_path / "impax_preflight" / "checks", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True))"
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert "Contracts: 1 kept, 0 broken." in res.stdout


def test_every_module_of_the_package_has_a_layer():
    """A new module must be given its place: the contract names every top-level module and package."""
    layers = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"][0]["layers"]
    named = {m.strip() for line in layers for m in line.replace("|", ":").split(":")}
    present = {f"impax_preflight.{p.stem}" for p in (ROOT / "impax_preflight").iterdir()
               if (p.suffix == ".py" and not p.stem.startswith("_")) or (p.is_dir() and (p / "__init__.py").exists())}
    present.add("impax_preflight.checks")
    assert present <= named, f"modules without a layer: {sorted(present - named)}"
