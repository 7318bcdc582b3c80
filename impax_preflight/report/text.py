"""Plain-text phrases the reports, the terminal summary and the mail share, so that each says the
same thing in the same words: how a finding is named on one line, what the blockers section says
when nothing blocks or when blocker checks gave no verdict, and how long something took."""

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


def duration_text(seconds: float, *, estimate: bool = False) -> str:
    """A duration for a person. Measured (a check, a statement, the run): "420 ms", "12.3 s",
    "4 min 05 s", "1 h 02 min". Estimated (`plan`), without false precision: "under 1 s", "12 s",
    "4 min", "1 h 02 min"."""
    if seconds < 1:
        return "under 1 s" if estimate else f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.0f} s" if estimate else f"{seconds:.1f} s"
    if estimate:
        hours, minutes = divmod(int(round(seconds / 60)), 60)
        return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"
