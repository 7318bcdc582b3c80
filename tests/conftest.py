"""Shared test set-up. Service fixtures (sshd, PostgreSQL, ODBC) live in tests/services.py."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["services"]

REQUIRE_SERVICES_ENV = "IMPAX_PREFLIGHT_REQUIRE_SERVICES"


def require_service(available: bool, what: str) -> None:
    """Skip when a service is missing — or fail, when CI set IMPAX_PREFLIGHT_REQUIRE_SERVICES=1."""
    if available:
        return
    if os.environ.get(REQUIRE_SERVICES_ENV) == "1":
        pytest.fail(f"required service not available: {what} ({REQUIRE_SERVICES_ENV}=1 forbids skipping)")
    pytest.skip(f"service not available: {what}")


@pytest.fixture(autouse=True)
def _history_off_the_home_folder(tmp_path_factory, monkeypatch):
    """`run` records into the per-user history by default: keep the tests out of the real one
    (platformdirs follows XDG_DATA_HOME, and subprocesses inherit it)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg-data")))
    monkeypatch.delenv("IMPAX_PREFLIGHT_HISTORY", raising=False)

