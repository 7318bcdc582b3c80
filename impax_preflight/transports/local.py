"""Run commands on the machine impax-preflight runs on (subprocess), same contract as SSH."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from .base import CommandCancelled, CommandResult, CommandTimeout, Shell, finish_output


class LocalShell(Shell):
    kind = "local"

    def __init__(self, os_name: str | None = None, codepage: str | None = None):
        self.os = os_name or ("windows" if sys.platform.startswith("win") else "linux")
        self.codepage = codepage
        # commands running now, so that cancel() (Ctrl-C) can kill them
        self._running: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self._cancelled = threading.Event()

    def run(self, command: str, timeout: float | None = None, privileged: bool = False) -> CommandResult:
        env = dict(os.environ)
        if self.os != "windows":
            env.update(LC_ALL="C", LANG="C")
        start = time.monotonic()
        with self._lock:
            if self._cancelled.is_set():
                raise CommandCancelled(f"`{command}` was not run: the run was cancelled (Ctrl-C)")
            proc = subprocess.Popen(
                command,
                shell=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                start_new_session=self.os != "windows",
            )
            self._running.add(proc)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill(proc)
            proc.communicate()
            raise CommandTimeout(f"`{command}` timed out after {timeout:g}s and was abandoned; the command "
                                 f"(pgid {proc.pid}) was killed") from None
        finally:
            with self._lock:
                self._running.discard(proc)
        if self._cancelled.is_set() and proc.returncode is not None and proc.returncode < 0:
            raise CommandCancelled(f"`{command}` was stopped: the run was cancelled (Ctrl-C); the command "
                                   f"(pgid {proc.pid}) was killed")
        stdout, raw, truncated = finish_output(out, self.codepage)
        stderr, _, _ = finish_output(err, self.codepage)
        return CommandResult(
            command=command,
            rc=proc.returncode,
            stdout=stdout,
            stderr=stderr,
            raw=raw,
            duration=time.monotonic() - start,
            truncated=truncated,
            transport=self.kind,
        )

    def cancel(self) -> None:
        """Kill every running command's process group (Ctrl-C); later commands are refused."""
        with self._lock:
            self._cancelled.set()
            running = list(self._running)
        for proc in running:
            self._kill(proc)

    @staticmethod
    def _kill(proc: subprocess.Popen) -> None:
        try:
            if hasattr(os, "killpg"):
                os.killpg(proc.pid, signal.SIGKILL)
            else:  # pragma: no cover - windows
                proc.kill()
        except (ProcessLookupError, PermissionError):
            pass
