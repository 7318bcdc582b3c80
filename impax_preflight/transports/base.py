"""The shell contract every transport (local, ssh, bundle, plugins) implements."""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from typing import Iterable

#: Output beyond this many bytes is cut, with a visible mark.
OUTPUT_CAP = 16 * 1024 * 1024
TRUNCATION_MARK = "\n[... output truncated by impax-preflight at {cap} bytes ...]\n"


class TransportError(Exception):
    """The host could not be reached or refused us (connect, auth, host key). Becomes an `error` finding."""


class CommandTimeout(TransportError):
    """A command ran past its timeout and was abandoned (the message says whether it was stopped)."""


class CommandCancelled(TransportError):
    """The run was cancelled (Ctrl-C) while the command ran; the message says whether it was stopped."""


class NotCollected(TransportError):
    """A bundle does not hold the output of this command."""


@dataclass
class CommandResult:
    command: str
    rc: int | None
    stdout: str
    stderr: str = ""
    raw: bytes = b""
    duration: float = 0.0
    truncated: bool = False
    transport: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.rc == 0

    @property
    def failed(self) -> bool:
        return not self.succeeded


class Shell:
    """Runs commands on one host. Implementations must be safe to call from several threads."""

    #: transport name shown in evidence ("ssh", "local", "bundle", ...)
    kind = "shell"
    #: OS family of the far end ("windows", "solaris", "linux")
    os: str = "linux"

    def run(self, command: str, timeout: float | None = None, privileged: bool = False) -> CommandResult:  # pragma: no cover
        """Run `command`; `privileged` asks for the host's privilege prefix (pfexec / sudo -n) where the
        transport has one (SSH); others run it as is (a bundle is collected as root/administrator)."""
        raise NotImplementedError

    def cancel(self) -> None:
        """Stop every command running on this shell now and refuse new ones (`CommandCancelled`).

        Called by the runner on Ctrl-C, from another thread than the ones in `run`; must return
        within a few seconds. Transports with nothing to stop (a bundle) keep this no-op."""

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def cancel_all(shells: "Iterable[Shell]", timeout: float = 5.0) -> list[str]:
    """Call `cancel()` on every shell at once (one thread each: an SSH kill takes a second or more,
    hosts must not wait for each other) and return within `timeout`; returns the names of the
    shells whose cancel did not finish in time (or raised). For the runner's Ctrl-C."""
    import threading
    import time

    late: list[str] = []
    threads = []
    for shell in shells:
        def stop(shell=shell) -> None:
            try:
                shell.cancel()
            except Exception:  # noqa: BLE001 - one host's failure to cancel must not stop the others
                late.append(getattr(shell, "name", shell.kind))
        t = threading.Thread(target=stop, name=f"impax-cancel-{getattr(shell, 'name', shell.kind)}", daemon=True)
        t.start()
        threads.append((shell, t))
    deadline = time.monotonic() + timeout
    for shell, t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
        if t.is_alive():
            late.append(getattr(shell, "name", shell.kind))
    return late


def posix_env_prefix(command: str) -> str:
    """Run POSIX commands in the C locale so parsers see stable text."""
    return f"LC_ALL=C LANG=C; export LC_ALL LANG; {command}"


def cap_output(raw: bytes, cap: int = OUTPUT_CAP) -> tuple[bytes, bool]:
    if len(raw) <= cap:
        return raw, False
    return raw[:cap], True


def decode_output(raw: bytes, codepage: str | None = None) -> str:
    """Decode command output without ever raising.

    Handles UTF-8 (with or without BOM), UTF-16 LE/BE with or without BOM (wmic, PowerShell
    redirection) and Windows code pages (cp850 / cp437 for console output, cp1252 for files).
    """
    if not raw:
        return ""
    if raw.startswith(codecs.BOM_UTF8):
        return raw[3:].decode("utf-8", errors="replace")
    if raw.startswith(codecs.BOM_UTF16_LE):
        return raw[2:].decode("utf-16-le", errors="replace")
    if raw.startswith(codecs.BOM_UTF16_BE):
        return raw[2:].decode("utf-16-be", errors="replace")
    sample = raw[:4096]
    if len(sample) >= 4:
        odd_zero = sample[1::2].count(0) / max(1, len(sample[1::2]))
        even_zero = sample[0::2].count(0) / max(1, len(sample[0::2]))
        if odd_zero > 0.4 and even_zero < 0.1:
            return raw.decode("utf-16-le", errors="replace")
        if even_zero > 0.4 and odd_zero < 0.1:
            return raw.decode("utf-16-be", errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    return raw.decode(codepage or "cp850", errors="replace")


def finish_output(raw: bytes, codepage: str | None = None) -> tuple[str, bytes, bool]:
    """Cap, decode and mark truncation: (text, kept raw bytes, truncated)."""
    kept, truncated = cap_output(raw)
    text = decode_output(kept, codepage)
    if truncated:
        text += TRUNCATION_MARK.format(cap=OUTPUT_CAP)
    return text, kept, truncated
