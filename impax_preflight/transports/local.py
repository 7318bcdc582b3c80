"""Run commands on the machine impax-preflight runs on (subprocess), same contract as SSH."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from .base import CommandResult, CommandTimeout, Shell, finish_output


class LocalShell(Shell):
    kind = "local"

    def __init__(self, os_name: str | None = None, codepage: str | None = None):
        self.os = os_name or ("windows" if sys.platform.startswith("win") else "linux")
        self.codepage = codepage

    def run(self, command: str, timeout: float | None = None, privileged: bool = False) -> CommandResult:
        env = dict(os.environ)
        if self.os != "windows":
            env.update(LC_ALL="C", LANG="C")
        start = time.monotonic()
        proc = subprocess.Popen(
            command,
            shell=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=self.os != "windows",
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill(proc)
            proc.communicate()
            raise CommandTimeout(f"command timed out after {timeout:.0f}s and was abandoned: {command}") from None
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

    @staticmethod
    def _kill(proc: subprocess.Popen) -> None:
        try:
            if hasattr(os, "killpg"):
                os.killpg(proc.pid, signal.SIGKILL)
            else:  # pragma: no cover - windows
                proc.kill()
        except (ProcessLookupError, PermissionError):
            pass
