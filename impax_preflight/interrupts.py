"""Holding Ctrl-C off while an interrupted run saves what it found.

After the first Ctrl-C the run cancels what runs and returns a partial report; a second press
during that clean-up, or while report.json is written, must not cost the report. `held()` turns
SIGINT into a logged note for its duration (main thread only; elsewhere it does nothing).
"""

from __future__ import annotations

import logging
import signal
import threading
from contextlib import contextmanager
from typing import Iterator

log = logging.getLogger("impax_preflight")


@contextmanager
def held(doing: str = "saving the partial report") -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def note(*_) -> None:
        log.warning("Ctrl-C again: %s first; it will be done in a moment", doing)

    old = signal.signal(signal.SIGINT, note)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


@contextmanager
def first_only(doing: str = "saving the partial report") -> Iterator[None]:
    """The first Ctrl-C interrupts (KeyboardInterrupt); later ones only say that the report is being
    saved. For the whole of a run and the writing of its reports (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed = []

    def on_sigint(*_) -> None:
        if pressed:
            log.warning("Ctrl-C again: %s first; it will be done in a moment", doing)
            return
        pressed.append(True)
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        # once interrupted and its report written, the process only has its exit left: later presses
        # are ignored (SIG_IGN, which Python keeps through its own shutdown, where it would otherwise
        # restore the default and die of the signal), so the exit code stays the verdict's (2)
        signal.signal(signal.SIGINT, signal.SIG_IGN if pressed else old)
