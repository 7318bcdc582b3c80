"""Compute once, share with everyone who asks: the thread-safe memo behind fused table scans and
shared host reads."""

from __future__ import annotations

import threading
from typing import Any, Callable


class Memo:
    """Compute-once values (e.g. one scan of a table shared by the checks of a target, one read of a
    host shared by its checks).

    Thread-safe: the first caller computes, the others wait for its result (or its exception).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[Any, "_Slot"] = {}

    def get(self, key: Any, compute: Callable[[], Any]) -> Any:
        with self._lock:
            slot = self._slots.get(key)
            owner = slot is None
            if owner:
                slot = self._slots[key] = _Slot()
        assert slot is not None
        if owner:
            try:
                slot.value = compute()
            except BaseException as exc:  # noqa: BLE001 - re-raised to every waiter
                slot.error = exc
            finally:
                slot.done.set()
        else:
            slot.done.wait()
        if slot.error is not None:
            raise slot.error
        return slot.value


class _Slot:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


