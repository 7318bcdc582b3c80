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
from typing import Callable, Iterator

log = logging.getLogger("impax_preflight")


@contextmanager
def held(doing: str = "saving the partial report") -> Iterator[None]:
    with _on_sigint(lambda: _note(doing)):
        yield


@contextmanager
def first_only(doing: str = "saving the partial report") -> Iterator[None]:
    """The first Ctrl-C interrupts (KeyboardInterrupt); later ones only say that the report is being
    saved. For the whole of a run and the writing of its reports (main thread only)."""
    pressed: list[bool] = []

    def on_sigint() -> None:
        if pressed:
            _note(doing)
            return
        pressed.append(True)
        raise KeyboardInterrupt

    # once interrupted and its report written, the process only has its exit left: later presses
    # are ignored (SIG_IGN, which Python keeps through its own shutdown, where it would otherwise
    # restore the default and die of the signal), so the exit code stays the verdict's (2)
    with _on_sigint(on_sigint, after=lambda: signal.SIG_IGN if pressed else None):
        yield


def _note(doing: str) -> None:
    log.warning("Ctrl-C again: %s first; it will be done in a moment", doing)


@contextmanager
def _on_sigint(handler: Callable[[], None], after: Callable[[], object] | None = None) -> Iterator[None]:
    """`handler` answers SIGINT for the duration; then the old handler comes back, or the one `after`
    returns. Only the main thread can set signal handlers: elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, lambda *_: handler())
    try:
        yield
    finally:
        replacement = after() if after is not None else None
        signal.signal(signal.SIGINT, replacement if replacement is not None else old)
