"""Helpers the OS-health check modules share about a probe's reading (not a plugin: leading underscore)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any


def reference_time(reading: Any) -> tuple[datetime, str]:
    """When the read was made, for judging ages: a bundle's collection time (the server's own clock,
    the same clock its logs are stamped with), else now; and how to say it."""
    context = getattr(reading, "context", None) or {}
    if context.get("transport") == "bundle" and context.get("collected_at"):
        try:
            when = datetime.fromisoformat(str(context["collected_at"]).replace("Z", "+00:00"))
            return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)), "the collection of the bundle"
        except ValueError:
            pass
    return datetime.now(timezone.utc), "now"
