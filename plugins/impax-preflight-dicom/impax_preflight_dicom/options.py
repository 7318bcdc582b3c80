"""Reading a DICOM check's options (``[site.options."dicom"]`` overlaid with the check's own):
each reader returns the value or raises ValueError naming the option and what to give instead."""

from __future__ import annotations

import datetime as dt
from typing import Any


def whole(opts: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    v = opts.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
        raise ValueError(f"{key} = {v!r}: give a whole number from {low} to {high}")
    return v


def number(opts: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    v = opts.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not low <= v <= high:
        raise ValueError(f"{key} = {v!r}: give a number from {low:g} to {high:g}")
    return float(v)


def flag(opts: dict[str, Any], key: str, default: bool) -> bool:
    v = opts.get(key, default)
    if not isinstance(v, bool):
        raise ValueError(f"{key} = {v!r}: give true or false")
    return v


def date(opts: dict[str, Any], key: str) -> dt.date | None:
    """A YYYY-MM-DD option (a TOML date too), or None when absent."""
    if key not in opts:
        return None
    v = opts[key]
    if isinstance(v, dt.date):
        return v
    try:
        return dt.date.fromisoformat(str(v))
    except ValueError:
        raise ValueError(f"{key} = {v!r}: give a date as YYYY-MM-DD") from None


def choice(opts: dict[str, Any], key: str, default: str, allowed: dict[str, str]) -> str:
    """One of `allowed` (value -> what it means, for the message)."""
    v = str(opts.get(key, default)).lower()
    if v not in allowed:
        give = " or ".join(f'"{k}" ({what})' for k, what in allowed.items())
        raise ValueError(f"{key} = {opts.get(key)!r}: give {give}")
    return v
