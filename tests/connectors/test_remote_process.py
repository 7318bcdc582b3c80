"""The pid marker and the kill script of remote_process.py, run with the local /bin/sh on real
process groups (the SSH tests run the same script through sshd)."""

from __future__ import annotations

import os
import signal
import subprocess

import procs
import pytest

from impax_preflight.transports.remote_process import (
    MARKER,
    KillOutcome,
    kill_script,
    parse_kill_report,
    split_marker,
    wrap_posix,
)


def test_split_marker_states():
    assert split_marker(b"") == ("pending", None, b"")
    assert split_marker(MARKER[:5]) == ("pending", None, MARKER[:5])
    assert split_marker(MARKER + b"123") == ("pending", None, MARKER + b"123")
    assert split_marker(MARKER + b"123\nwarning: x\n") == ("found", 123, b"warning: x\n")
    assert split_marker(b"csh: Bad : modifier\n") == ("absent", None, b"csh: Bad : modifier\n")
    assert split_marker(MARKER + b"12x\n")[0] == "absent"
    assert split_marker(MARKER + b"1" * 40)[0] == "absent"  # no newline long past a pid: not ours


def test_wrapped_command_prints_its_pid_first_and_reads_dev_null():
    r = subprocess.run(["sh", "-c", wrap_posix("echo $LC_ALL; cat; echo err >&2")], capture_output=True,
                       input=b"not for the command\n")
    state, pid, rest = split_marker(r.stderr)
    assert state == "found" and pid > 1 and rest == b"err\n"
    assert r.stdout == b"C\n"


def _group(cmd: str) -> subprocess.Popen:
    """A shell leading a process group of its own, like sshd's command shells."""
    return subprocess.Popen(["sh", "-c", cmd], start_new_session=True)


def _alive(pgid: int) -> list[str]:
    """The command lines of the live members of a group this test started."""
    return [p.args for p in procs.group(pgid)]


def test_kill_script_kills_groups_and_reports_each_pid():
    a = _group("sleep 351 & sleep 352 | cat; wait")
    b = _group("trap '' TERM; sleep 353 & wait")  # ignores TERM: needs the KILL round
    gone = _group("true")
    gone.wait()
    try:
        # every sleep runs, and b's trap is set (it comes before its sleep)
        assert len(procs.wait_for(r"^sleep 35[12]$", count=2, pgid=a.pid)) == 2
        assert procs.wait_for(r"^sleep 353$", pgid=b.pid)
        r = subprocess.run(["sh", "-c", kill_script([a.pid, b.pid, gone.pid])], capture_output=True, text=True,
                           timeout=30)
        outcomes = parse_kill_report(r.stdout, [a.pid, b.pid, gone.pid])
        assert outcomes[a.pid].state == "killed" and outcomes[b.pid].state == "killed", r.stdout
        assert outcomes[gone.pid].state == "gone"
        assert _alive(a.pid) == [] and _alive(b.pid) == []
        assert "(pgid %d) was killed" % a.pid in outcomes[a.pid].describe()
    finally:
        for p in (a, b):
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()


def test_kill_script_never_signals_a_group_the_pid_does_not_lead():
    leader = _group("sh -c 'sleep 361' & sleep 362; wait")
    try:
        # the leader's own `sleep 362`, found in its group (another session may run one too)
        (found,) = procs.wait_for(r"^sleep 362$", pgid=leader.pid)
        assert procs.wait_for(r"^sleep 361$", pgid=leader.pid)
        child = found.pid
        r = subprocess.run(["sh", "-c", kill_script([child])], capture_output=True, text=True, timeout=30)
        out = parse_kill_report(r.stdout, [child])[child]
        assert out.state == "shell-only" and out.pgid == leader.pid
        assert "only its shell" in out.describe()
        assert any("sleep 361" in line for line in _alive(leader.pid))  # the rest of the group lives on
    finally:
        os.killpg(leader.pid, signal.SIGKILL)
        leader.wait()


@pytest.mark.parametrize("text,state,left", [
    ("@@impax-kill 42 group 0\n", "killed", 0),
    ("@@impax-kill 42 group 3\n", "left", 3),
    ("@@impax-kill 42 gone\n", "gone", 0),
    ("noise\n", "unknown", 0),
])
def test_parse_kill_report(text, state, left):
    out = parse_kill_report(text, [42])[42]
    assert (out.state, out.left) == (state, left)
    if state == "left":
        assert "kill FAILED" in out.describe(" (x)") and "kill -9 -42" in out.describe()


def test_kill_script_interpolates_only_integers():
    with pytest.raises(ValueError):
        kill_script(["1; rm -rf /"])  # type: ignore[list-item]
    assert "sig 15" in kill_script([7, 8]) and KillOutcome(7, "gone").stopped
