"""This test session's own processes, found without touching anyone else's.

Other test sessions run on the same machine, with the same commands: a test that looked for
`sleep 362` everywhere could count, or kill, another session's process, and fail because of it.
So a command a test looks for carries a tag of this session (`tagged(362)` is "362.<8 random
digits>", still a number of seconds for `sleep`, and still in the command line when the process
outlives its parent), or is looked for inside a process group the test itself started.

    cmd = sleep_cmd(362)                        # "sleep 362.04817733"
    wait_for(sleeping(362))                     # it runs
    wait_gone(sleeping(362)) == []              # and it was killed
    group(pgid)                                 # the live members of one process group
"""

from __future__ import annotations

import random
import re
import subprocess
import time
from dataclasses import dataclass

#: this session's tag: its commands are told apart from the same commands of another session
TAG = f"{random.SystemRandom().randrange(10**8):08d}"


def tagged(seconds: int) -> str:
    """`seconds` made unique to this session, still a number `sleep` takes: "362.04817733"."""
    return f"{seconds}.{TAG}"


def sleep_cmd(seconds: int) -> str:
    return f"sleep {tagged(seconds)}"


def sleeping(*seconds: int) -> str:
    """A pattern matching exactly this session's `sleep_cmd(n)` processes, for each n given."""
    return "^sleep (" + "|".join(re.escape(tagged(n)) for n in seconds) + ")$"


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    pgid: int
    args: str


def live() -> list[Proc]:
    """Every live (not zombie) process on this machine, read from ps."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,pgid=,stat=,args="], capture_output=True, text=True,
                         check=True).stdout
    rows = []
    for line in out.splitlines():
        parts = line.split(None, 4)
        if len(parts) < 4 or parts[3].startswith("Z"):
            continue
        rows.append(Proc(int(parts[0]), int(parts[1]), int(parts[2]), parts[4] if len(parts) > 4 else ""))
    return rows


def matching(pattern: str) -> list[Proc]:
    """Live processes whose command line matches `pattern` (make it this session's: `sleeping()`)."""
    return [p for p in live() if re.search(pattern, p.args)]


def group(pgid: int) -> list[Proc]:
    """The live members of process group `pgid` (a group the test started, or one named in an error)."""
    return [p for p in live() if p.pgid == pgid]


def wait_for(pattern: str, count: int = 1, within: float = 10.0, pgid: int | None = None) -> list[Proc]:
    """Poll until at least `count` processes match (in group `pgid` when given); returns them
    (fewer when `within` seconds passed first: the caller's assertion says what was missing)."""
    deadline = time.monotonic() + within
    while True:
        found = [p for p in (group(pgid) if pgid is not None else live()) if re.search(pattern, p.args)]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def wait_gone(pattern: str, within: float = 10.0) -> list[Proc]:
    """Poll until no process matches `pattern`; returns what is left after `within` seconds ([] when gone)."""
    deadline = time.monotonic() + within
    while (left := matching(pattern)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left
