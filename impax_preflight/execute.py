"""Running one check on one target: in its own thread, with a deadline, every problem a finding.

An exception inside a check, a check that hangs or yields nothing, an unreachable host, a refused
login, an unreadable output: each becomes an `error` finding naming the reason. Nothing a check
does can crash the run or pass for a check that did not look.
"""

from __future__ import annotations

import threading
import time
import traceback
from typing import Callable

from .context import CheckContext, as_findings
from .db.base import DatabaseError
from .db.readonly import ReadOnlyViolation
from .model import Finding
from .parsers import ParseError
from .probes import ReadError
from .secrets import SecretError
from .transports.base import TransportError


def error_message(exc: BaseException) -> tuple[str, bool]:
    """(message for the finding, whether a traceback is worth attaching)."""
    name = type(exc).__name__
    text = str(exc) or name
    if isinstance(exc, ReadOnlyViolation):
        return f"refused by the read-only guard: {text}", False
    if isinstance(exc, (TransportError, DatabaseError, ReadError)):
        return (getattr(exc, "reason", None) or text), False
    if isinstance(exc, SecretError):
        return f"secret could not be resolved: {text}", False
    if isinstance(exc, ParseError):
        excerpt = getattr(exc, "excerpt", None)
        cmd = getattr(exc, "command", None)
        msg = f"could not understand the output{f' of `{cmd}`' if cmd else ''}: {text}"
        if excerpt:
            msg += f" — excerpt: {str(excerpt)[:300]!r}"
        return msg, False
    return f"the check itself failed ({name}: {text}); the rest of the run is unaffected — report this to the check's provider", True


_OWNED = ("check_id", "title", "severity", "target", "target_kind", "host", "database", "tier", "site", "provider")


def _owned(ctx: CheckContext, f: Finding) -> Finding:
    """The finding as the running check's: its id, severity and target are the check's declaration,
    whatever the check wrote (a hand-made finding cannot demote a blocker or speak for another check)."""
    own = ctx.finding(f.status, f.message)
    update = {k: getattr(own, k) for k in _OWNED if getattr(f, k) != getattr(own, k)}
    return f.model_copy(update=update) if update else f


def execute_check(
    ctx: CheckContext,
    timeout: float,
    on_done: Callable[[], None] | None = None,
    abort: threading.Event | None = None,
    on_timeout: Callable[[str], bool] | None = None,
) -> list[Finding]:
    """Run one check on one target with a timeout. Never raises: problems become `error` findings.

    The check runs in its own daemon thread; on timeout `on_timeout(reason)` cancels what it is
    running on the server (its database statement: True when one was running), the check is
    abandoned (the call returns an error finding) and `on_done` (which releases the session slot)
    runs only when the thread really ends.
    """
    produced: list[Finding] = []
    failure: list[BaseException] = []
    tb: list[str] = []

    def body() -> None:
        try:
            for f in as_findings(ctx.check.func(ctx)):
                if not isinstance(f, Finding):  # e.g. a bare True or a dict: not a judgement that can be counted
                    produced.append(ctx.error(f"the check produced {type(f).__name__} instead of a finding (a bug in the "
                                              "check): it cannot be counted as passed"))
                    continue
                produced.append(_owned(ctx, f))
        except BaseException as exc:  # noqa: BLE001 - everything becomes a finding
            failure.append(exc)
            tb.append(traceback.format_exc())
        finally:
            if on_done:
                on_done()

    start = time.monotonic()
    t = threading.Thread(target=body, name=f"check {ctx.check.id}@{ctx.target_name}", daemon=True)
    t.start()
    deadline = start + timeout
    while t.is_alive() and time.monotonic() < deadline:
        t.join(min(0.2, max(0.0, deadline - time.monotonic())))
        if abort is not None and abort.is_set():
            return []  # the run was interrupted: nothing more is reported for this check
    elapsed = time.monotonic() - start
    findings = list(produced)
    if t.is_alive():
        cancelled = False
        if on_timeout is not None:
            try:
                cancelled = on_timeout(f"check {ctx.check.id} timed out after {timeout:g}s")
            except Exception:  # noqa: BLE001 - a driver's cancel must not cost the finding
                cancelled = False
        what = "its running statement was cancelled on the server" if cancelled else "it was abandoned"
        findings.append(
            ctx.error(
                f"timed out after {timeout:g}s and {what}; raise thresholds.check_timeout_s (and statement_timeout_s "
                "for long scans: `impax-preflight plan` estimates them) or look at the evidence for the command or "
                "query that hung"
            )
        )
    elif failure:
        exc = failure[0]
        if isinstance(exc, KeyboardInterrupt):
            raise exc
        msg, with_tb = error_message(exc)
        if with_tb:
            ctx.note(tb[0][-4000:], source="traceback")
        findings.append(ctx.error(msg))
    elif not findings:
        findings.append(ctx.error("the check produced no finding (a bug in the check): it cannot be counted as passed"))
    for f in findings:
        if f.duration_s is None:
            f.duration_s = round(elapsed, 4)
    return findings
