"""Stopping a remote POSIX command that was given up on (its timeout, or Ctrl-C), Solaris 10 included.

Closing an SSH channel does not stop the command behind it: sshd closes the pipes and the command
runs on (a `sleep 300` sleeps on, a slow `find` keeps walking the archive). The SSH "signal"
request is ignored by many servers (SunSSH, OpenSSH before 7.9), and Solaris 10 has neither
`timeout(1)` nor `setsid(1)`; its /bin/sh is a Bourne shell. What every Unix sshd does is start the
command's login shell in a session and process group of its own (setsid() in session.c), and a
non-interactive shell has no job control, so everything the command starts (pipelines, `&`) stays
in that group. So:

1. `wrap_posix` sends each command as ``exec </dev/null; echo "<marker><pid>" >&2; ...``: the first
   line on stderr is the shell's pid (= its process group); `split_marker` removes it from the output.
   stdin comes from /dev/null on the server, so no end-of-file has to be sent over the channel
   (see `ssh.py` for why that matters).
2. To stop commands, a *second* channel runs `kill_script(pids)` (Bourne sh, `ps -o`, `kill`,
   `pkill -g` as fallback): TERM to each group, KILL a second later to what is left, then it
   counts the processes still in the group; `parse_kill_report` turns its lines into `KillOutcome`s.
   A group is signalled only when the pid reported is its leader: a server that did not give the
   command a group of its own gets only the shell killed (and the finding says so), never a group
   that might hold sshd itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

MARKER = b"@@impax-preflight-pid:"
REPORT_PREFIX = "@@impax-kill"


def wrap_posix(command: str) -> str:
    """The command as sent: stdin from /dev/null, pid marker on stderr, C locale, then the command."""
    return (f'exec </dev/null; echo "{MARKER.decode()}$$" >&2; '
            f"LC_ALL=C LANG=C; export LC_ALL LANG; {command}")


def split_marker(err: bytes) -> tuple[str, int | None, bytes]:
    """Read the pid marker from the start of stderr: ("pending"|"found"|"absent", pid, stderr without it).

    "pending" means more bytes are needed to decide; "absent" that stderr does not start with the
    marker (the login shell is not Bourne-like, or printed something first), in which case stderr is
    left untouched."""
    head = err[: len(MARKER)]
    if not MARKER.startswith(head):
        return "absent", None, err
    newline = err.find(b"\n")
    if len(err) < len(MARKER) or newline < 0:
        return ("absent", None, err) if len(err) > len(MARKER) + 24 else ("pending", None, err)
    text = err[len(MARKER):newline].strip()
    if not text.isdigit():
        return "absent", None, err
    return "found", int(text), err[newline + 1:]


def kill_script(pids: Iterable[int]) -> str:
    """Bourne-shell text that stops the process group of each pid and reports one line per pid.

    Only integers are interpolated. `sleep 0.2` fails on Solaris 10 (whole seconds only), hence the
    `|| sleep 1` fallback: TERM, up to 3 naps for the group to go, KILL, one nap, then the count:
    about 1 s here, at most 4 s on Solaris 10, within the caller's KILL_BUDGET_S."""
    ids = " ".join(str(int(p)) for p in pids if int(p) > 1)
    return f"""exec </dev/null; LC_ALL=C; export LC_ALL
sig() {{ kill -$1 -$2 2>/dev/null || pkill -$1 -g $2 2>/dev/null; }}
alive() {{ ps -e -o pgid= -o s= 2>/dev/null | awk '$1 == '"$1"' && $2 != "Z" {{ n++ }} END {{ print n + 0 }}'; }}
nap() {{ sleep 0.2 2>/dev/null || sleep 1; }}
G=""
for p in {ids}; do
  g=`ps -o pgid= -p $p 2>/dev/null`; g=`echo $g`
  case "$g" in
    ''|*[!0-9]*) echo "{REPORT_PREFIX} $p gone" ;;
    $p) sig 15 $p; G="$G $p" ;;
    *) kill -15 $p 2>/dev/null; echo "{REPORT_PREFIX} $p shell-only $g" ;;
  esac
done
if [ -n "$G" ]; then
  i=0
  while [ $i -lt 3 ]; do
    left=0
    for g in $G; do [ `alive $g` -gt 0 ] && left=1; done
    [ $left -eq 0 ] && break
    nap; i=`expr $i + 1`
  done
  if [ $left -ne 0 ]; then
    for g in $G; do [ `alive $g` -gt 0 ] && sig 9 $g; done
    nap
  fi
  for g in $G; do echo "{REPORT_PREFIX} $g group `alive $g`"; done
fi
"""


@dataclass
class KillOutcome:
    pid: int
    state: str  # killed | left | gone | shell-only | unknown
    left: int = 0
    pgid: int | None = None
    detail: str = ""

    @property
    def stopped(self) -> bool:
        return self.state in ("killed", "gone")

    def describe(self, kill_hint: str = "") -> str:
        """How the finding says what became of the remote command."""
        if self.state == "killed":
            return f"the remote command (pgid {self.pid}) was killed"
        if self.state == "gone":
            return "the remote command had already ended"
        if self.state == "left":
            return (f"the kill FAILED: {self.left} process(es) of the remote command (pgid {self.pid}) still run on "
                    f"the server{kill_hint}; stop them there: kill -9 -{self.pid}")
        if self.state == "shell-only":
            return (f"only its shell (pid {self.pid}) was killed: the server did not start it in a process group "
                    f"of its own (group {self.pgid}), so processes it started may still run there")
        return f"it could not be stopped ({self.detail}) and may still run on the server"


_LINE = re.compile(rf"^{re.escape(REPORT_PREFIX)} (\d+) (gone|group|shell-only)(?: (\d+))?\s*$")


def parse_kill_report(text: str, pids: Iterable[int]) -> dict[int, KillOutcome]:
    """`KillOutcome` per pid from the kill script's output; a pid without a line is "unknown"."""
    out: dict[int, KillOutcome] = {}
    for line in text.splitlines():
        m = _LINE.match(line.strip())
        if not m:
            continue
        pid, what, num = int(m.group(1)), m.group(2), m.group(3)
        if what == "gone":
            out[pid] = KillOutcome(pid, "gone")
        elif what == "shell-only":
            out[pid] = KillOutcome(pid, "shell-only", pgid=int(num) if num else None)
        else:
            left = int(num or 0)
            out[pid] = KillOutcome(pid, "killed" if left == 0 else "left", left=left, pgid=pid)
    for pid in pids:
        out.setdefault(pid, KillOutcome(pid, "unknown", detail="the kill script did not report on it"))
    return out
