"""Shared set-up for the Ansible collection tests: build and install the collection once, run
ansible-playbook / ansible-inventory with it, and read what a recording callback saw."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import require_service

# appended, not prepended, so that `from conftest import require_service` still finds tests/conftest.py
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.append(_HERE)

from ansible_kit import COLLECTION  # noqa: E402

BIN = Path(sys.executable).parent
CALLBACKS = Path(__file__).resolve().parent / "callback_plugins"


def ansible_tool(name: str) -> Path:
    return BIN / name


@pytest.fixture(scope="session")
def collections_path(tmp_path_factory) -> Path:
    """The collection built with `ansible-galaxy collection build` and installed into a fresh path."""
    require_service(ansible_tool("ansible-galaxy").exists(), "ansible-core in the test environment (pip install -e '.[test]')")
    work = tmp_path_factory.mktemp("collection")
    built = subprocess.run([str(ansible_tool("ansible-galaxy")), "collection", "build", str(COLLECTION), "--output-path", str(work)],
                           capture_output=True, text=True, env=_base_env(work))
    assert built.returncode == 0, built.stdout + built.stderr
    tarball = next(work.glob("impax-preflight-*.tar.gz"))
    installed = subprocess.run([str(ansible_tool("ansible-galaxy")), "collection", "install", "-p", str(work / "collections"),
                                str(tarball)], capture_output=True, text=True, env=_base_env(work))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert (work / "collections" / "ansible_collections" / "impax" / "preflight" / "MANIFEST.json").is_file()
    return work / "collections"


def _base_env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    cfg = work / "ansible.cfg"
    cfg.write_text("# empty: no ansible.cfg from the working folder or ~ applies\n")
    env.update({
        "ANSIBLE_CONFIG": str(cfg),
        "ANSIBLE_LOCAL_TEMP": str(work / "ansible-local"),
        "ANSIBLE_HOME": str(work / "ansible-home"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_GALAXY_SERVER_LIST": "",
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    })
    return env


@dataclass
class PlaybookRun:
    rc: int
    stdout: str
    stderr: str
    records: list[dict] = field(default_factory=list)

    def results(self, **match) -> list[dict]:
        return [r for r in self.records if r["event"] == "result" and all(r.get(k) == v for k, v in match.items())]

    @property
    def recap(self) -> dict:
        stats = [r for r in self.records if r["event"] == "stats"]
        return stats[-1]["recap"] if stats else {}

    @property
    def stats_data(self) -> dict:
        stats = [r for r in self.records if r["event"] == "stats"]
        return (stats[-1]["custom"] or {}).get("_run", {}) if stats else {}


@pytest.fixture(scope="session")
def run_ansible(collections_path, tmp_path_factory):
    """`run_ansible(tool, *args, cwd=...)` -> PlaybookRun, with the installed collection and the recorder."""
    counter = [0]

    def run(tool: str, *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> PlaybookRun:
        counter[0] += 1
        work = tmp_path_factory.mktemp(f"ansible-run{counter[0]}")
        record = work / "record.jsonl"
        full_env = _base_env(work)
        full_env.update({
            "ANSIBLE_COLLECTIONS_PATH": str(collections_path),
            "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACKS),
            "ANSIBLE_CALLBACKS_ENABLED": "impax_record",
            "ANSIBLE_SHOW_CUSTOM_STATS": "1",
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(work / "cp"),
            "IMPAX_RECORD_FILE": str(record),
        })
        full_env.update(env or {})
        proc = subprocess.run([str(ansible_tool(tool)), *args], cwd=cwd, capture_output=True, text=True, env=full_env,
                              timeout=timeout)
        records = [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []
        return PlaybookRun(proc.returncode, proc.stdout, proc.stderr, records)

    return run
