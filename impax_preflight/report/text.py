"""Plain-text phrases the reports, the terminal summary and the mail share, so that each says the
same thing in the same words: how a finding is named on one line, and what the blockers section
says when nothing blocks or when blocker checks gave no verdict."""

from __future__ import annotations

from typing import Any


def one_line(text: Any) -> str:
    """Text on one line (a finding's message may quote multi-line server output)."""
    return " ".join(str(text or "").split())


def finding_label(f: Any) -> str:
    """``check @ target [subject]``: a finding named on one line."""
    return f"{f.check_id} @ {f.target}" + (f" [{f.subject}]" if f.subject else "")


def blocker_line(f: Any, limit: int | None = None) -> str:
    """``check @ target [subject]: message`` on one line; the message cut to `limit` characters (the
    terminal), whole where the reader has room (the mail)."""
    message = one_line(f.message)
    if limit is not None and len(message) > limit:
        message = message[: limit - 1].rstrip() + "…"
    return f"{finding_label(f)}: {message}"


def no_verdict_sentence(n: int) -> str:
    """No blocker was found, but `n` blocker checks gave no verdict (`RunReport.unverified_blockers`)."""
    many = n != 1
    return (f"No blocking problem was found in what ran, but {n} blocker check{'s' if many else ''} gave no verdict: "
            f"confirm {'them' if many else 'it'} before the upgrade.")


def nothing_blocks_sentence(waived: int) -> str:
    """Every blocker check gave a verdict and none blocks (`waived`: how many findings were waived)."""
    return "Nothing blocks the upgrade: every blocker check passed" + (" or was waived." if waived else ".")
