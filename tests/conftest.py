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
