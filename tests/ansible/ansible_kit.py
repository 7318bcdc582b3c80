"""Helpers for the Ansible collection tests (importable as `ansible_kit`: tests/ansible is on sys.path)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COLLECTION = ROOT / "ansible" / "impax" / "preflight"


def ensure_user(name: str) -> bool:
    """A local login with /bin/sh for the loopback sshd (root only, like the password user of services.py)."""
    if os.geteuid() != 0 or not shutil.which("useradd"):
        return False
    if subprocess.run(["id", name], capture_output=True).returncode != 0:
        if subprocess.run(["useradd", "-m", "-s", "/bin/sh", name], capture_output=True).returncode != 0:
            return False
    # useradd leaves the account locked ('!'), and sshd without PAM refuses even a key login to a
    # locked account: '*' is "no password" without the lock
    return subprocess.run(["usermod", "-p", "*", name], capture_output=True).returncode == 0
