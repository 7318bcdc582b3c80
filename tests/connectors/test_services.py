"""The service fixtures themselves work: other helpers' tests rely on them."""

from __future__ import annotations

import subprocess

import pytest

pytestmark = pytest.mark.service


def test_sshd_fixture_runs_stand_in_commands_and_counts_connections(sshd_server):
    sshd_server.add_command("svcs", "echo 'online  12:00:00 svc:/system/fake:default'\n")
    before = sshd_server.connections()
    r = subprocess.run(
        ["ssh", "-i", sshd_server.key_file, "-o", f"UserKnownHostsFile={sshd_server.known_hosts}",
         "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-p", str(sshd_server.port),
         f"{sshd_server.user}@{sshd_server.host}", "svcs"],
        capture_output=True, text=True, timeout=20,
    )
    assert r.returncode == 0, r.stderr
    assert "svc:/system/fake:default" in r.stdout
    assert sshd_server.connections() == before + 1


def test_postgres_fixture_admin_and_login_role(postgres_server):
    assert postgres_server.admin("select current_database()").strip() == "mvf"
    roles = postgres_server.admin("select rolname from pg_roles where rolname = 'impax_ro'")
    assert roles.strip() == postgres_server.user
