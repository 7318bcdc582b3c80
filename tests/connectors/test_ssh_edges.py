"""SshShell at its edges, against real loopback OpenSSH servers (tests/services.py): many runs at
once on one sshd, commands given up on (timeout, cancel, close) killed on the server, and the
server's own limits (MaxSessions, MaxStartups, a disconnect with a reason) said as such."""

from __future__ import annotations

import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from procs import group, matching, sleep_cmd, sleeping, wait_for, wait_gone

from impax_preflight.transports.base import CommandCancelled, CommandTimeout, TransportError
from impax_preflight.transports.ssh import SshShell

pytestmark = pytest.mark.service


def _pgid_in(message: str) -> int:
    m = re.search(r"\(pgid (\d+)\)", message)
    assert m, message
    return int(m.group(1))


def _run_in_background(jobs: list[tuple[SshShell, str]], pattern: str,
                       running: int | None = None) -> tuple[list[threading.Thread], list]:
    """Start `shell.run(command)` for each job in a thread of its own; return once `running` (all)
    commands (matched by `pattern` in ps: this session's, see tests/procs.py) run on the server and
    their shells have read as many pids (a command whose pid has not arrived cannot be killed)."""
    errors: list[BaseException] = []

    def run(shell: SshShell, command: str) -> None:
        try:
            shell.run(command, timeout=120)
        except BaseException as exc:  # noqa: BLE001 - the test looks at what each run raised
            errors.append(exc)

    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for t in threads:
        t.start()
    wanted = running or len(jobs)
    wait_for(pattern, count=wanted)
    shells = {id(shell): shell for shell, _ in jobs}.values()
    deadline = time.monotonic() + 10
    while sum(_pids_read(s) for s in shells) < wanted and time.monotonic() < deadline:
        time.sleep(0.05)
    return threads, errors


def _pids_read(shell: SshShell) -> int:
    """How many of the shell's running commands have told it their pid."""
    with shell._jobs_lock:
        return sum(1 for job in shell._jobs if job.pid is not None)


# ---- concurrency: the lost channels ---------------------------------------------------------

def test_20_concurrent_runs_on_one_sshd_lose_no_channel(fresh_sshd):
    """20 runs at once, each with its own connection, 100 commands each on 4 channels, against one
    sshd. Before the fix (paramiko's shutdown_write EOF overtaken by the CLOSE, issue #1115) this
    lost connections in every try ("ieof packet referred to nonexistent channel"). Half the runs
    are Windows-mode shells: they take the EOF-in-order path, the others the /dev/null path."""
    server = fresh_sshd
    runs, per_run = 20, 100

    def one_run(i: int) -> list[str]:
        host = server.make_host(f"run{i:02d}", os="windows" if i % 2 else "solaris")
        shell = SshShell.for_host(host)
        problems: list[str] = []

        def command(n: int) -> None:
            try:
                r = shell.run(":" if n % 5 else f"echo {i}-{n}", timeout=30)
                if r.rc != 0 or (n % 5 == 0 and r.stdout != f"{i}-{n}\n"):
                    problems.append(f"{n}: rc={r.rc} out={r.stdout!r} err={r.stderr!r}")
            except Exception as exc:  # noqa: BLE001 - every failure is a lost command
                problems.append(f"{n}: {type(exc).__name__}: {exc}")

        try:
            with ThreadPoolExecutor(max_workers=4) as pool:
                list(pool.map(command, range(per_run)))
        finally:
            shell.close()
        assert shell.connect_count == 1
        return problems

    with ThreadPoolExecutor(max_workers=runs) as pool:
        results = list(pool.map(one_run, range(runs)))
    time.sleep(0.3)  # let sshd write its log
    lost = [p for r in results for p in r]
    log = server.log()
    assert not lost, f"{len(lost)} of {runs * per_run} commands lost, e.g. {lost[:3]}"
    assert "nonexistent channel" not in log, re.findall(r".*nonexistent channel.*", log)[:3]
    assert server.connections() == runs


def test_paramiko_internals_for_eof_in_order_exist(sshd_server):
    """`_send_eof_in_order` needs these paramiko internals; without them it falls back to the racy
    shutdown_write(). A paramiko upgrade that renames them must fail here, not lose channels."""
    shell = SshShell.for_host(sshd_server.make_host("internals"))
    try:
        shell.run("true", timeout=10)
        transport = shell._client.get_transport()
        chan = transport.open_session()
        try:
            for name in ("lock", "closed", "eof_sent", "_send_eof"):
                assert hasattr(chan, name), name
            for name in ("clear_to_send_lock", "clear_to_send", "_send_message"):
                assert hasattr(transport, name), name
        finally:
            chan.close()
    finally:
        shell.close()


def test_windows_mode_sends_stdin_eof(sshd_server):
    """Windows tools (wmic, powershell) wait for the end of stdin: the Windows path sends it."""
    shell = SshShell.for_host(sshd_server.make_host("win-eof", os="windows"))
    try:
        r = shell.run("cat; echo after-cat", timeout=10)
        assert r.stdout == "after-cat\n" and r.rc == 0
    finally:
        shell.close()


def test_pid_marker_never_reaches_the_output(sshd_server):
    shell = SshShell.for_host(sshd_server.make_host("marker"))
    try:
        r = shell.run("echo out; echo err >&2; exit 3", timeout=10)
        assert (r.rc, r.stdout, r.stderr) == (3, "out\n", "err\n")
        r = shell.run("true", timeout=10)
        assert r.stderr == "" and r.stdout == ""
    finally:
        shell.close()


def test_server_disconnect_reason_is_in_the_error(fresh_sshd):
    """What OpenSSH does on the lost-channel bug: an EOF for a channel it does not know ends the
    connection with a reason. Sent here on purpose; the error quotes the server, not an outage."""
    shell = SshShell.for_host(fresh_sshd.make_host("told-off"))
    assert shell.run("echo up", timeout=10).stdout == "up\n"
    import paramiko
    from paramiko.common import cMSG_CHANNEL_EOF

    m = paramiko.Message()
    m.add_byte(cMSG_CHANNEL_EOF)
    m.add_int(4242)
    transport = shell._client.get_transport()
    transport._send_user_message(m)
    deadline = time.monotonic() + 10  # the server answers by closing the connection
    while transport.is_active() and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(TransportError) as info:
        shell.run("echo again", timeout=10)
    text = str(info.value)
    assert "closed by the server" in text and "nonexistent channel 4242" in text, text
    assert "told-off" in text


# ---- commands given up on are killed on the server --------------------------------------------

def test_timed_out_command_is_killed_on_the_server(sshd_server):
    shell = SshShell.for_host(sshd_server.make_host("sleeper"))
    try:
        start = time.monotonic()
        with pytest.raises(CommandTimeout) as info:
            shell.run(sleep_cmd(300), timeout=1)
        took = time.monotonic() - start
        text = str(info.value)
        assert "timed out after 1s" in text and "was killed" in text and "abandoned" in text, text
        pgid = _pgid_in(text)
        assert took < 15, took  # at its timeout, not at the end of its 300 s
        assert group(pgid) == []
        assert not [p for p in matching(sleeping(300)) if p.pgid == pgid]
        assert shell.run("echo still-here", timeout=10).stdout == "still-here\n"
    finally:
        shell.close()


def test_timeout_kills_the_whole_process_group(sshd_server):
    """Pipelines, background jobs and subshells stay in the command's group and die with it."""
    shell = SshShell.for_host(sshd_server.make_host("sleeper-tree"))
    try:
        with pytest.raises(CommandTimeout) as info:
            shell.run(f"{sleep_cmd(311)} & ({sleep_cmd(312)}; echo x) | cat; wait", timeout=1)
        pgid = _pgid_in(str(info.value))
        assert wait_gone(sleeping(311, 312)) == []
        assert group(pgid) == []
    finally:
        shell.close()


def test_privileged_command_is_killed_through_the_prefix(sshd_server):
    log = sshd_server.bin_dir / "pfexec.log"
    log.write_text("")
    log.chmod(0o666)  # written by the (non-root) login user
    sshd_server.add_command("pfexec", f'echo "$*" >> {log}; exec "$@"\n')
    shell = SshShell.for_host(sshd_server.make_host("rbac-sleeper", privilege="pfexec"))
    try:
        with pytest.raises(CommandTimeout) as info:
            shell.run(sleep_cmd(313), timeout=1, privileged=True)
        assert "was killed" in str(info.value) and "pfexec" not in str(info.value).split("abandoned")[1][:20]
        assert wait_gone(sleeping(313)) == []
        calls = log.read_text().splitlines()
        assert calls[0] == f"/bin/sh -c {sleep_cmd(313)}"
        assert any("@@impax-kill" in c for c in calls[1:]), calls  # the kill went through pfexec too
    finally:
        shell.close()


def test_cancel_kills_every_running_command_and_refuses_new_ones(sshd_server):
    shell = SshShell.for_host(sshd_server.make_host("cancelled"))
    try:
        threads, errors = _run_in_background([(shell, sleep_cmd(320 + n)) for n in range(3)], sleeping(320, 321, 322))
        start = time.monotonic()
        shell.cancel()
        for t in threads:
            t.join(timeout=15)
        assert time.monotonic() - start < 15  # at once, not when the commands end (320 s) or time out (120 s)
        assert len(errors) == 3 and all(isinstance(e, CommandCancelled) for e in errors), errors
        for e in errors:
            assert "cancelled (Ctrl-C)" in str(e) and "was killed" in str(e), str(e)
        assert wait_gone(sleeping(320, 321, 322)) == []
        with pytest.raises(CommandCancelled, match="not run"):
            shell.run("echo late", timeout=10)
    finally:
        shell.close()


def test_cancel_with_commands_waiting_for_a_channel(sshd_server):
    """Six commands, four channels: the two waiting for a channel are never started (or, if they
    slipped through, killed too); nothing is left on the server."""
    shell = SshShell.for_host(sshd_server.make_host("queued"))
    try:
        threads, errors = _run_in_background([(shell, sleep_cmd(390 + n)) for n in range(6)],
                                             sleeping(*range(390, 396)), running=4)
        shell.cancel()
        for t in threads:
            t.join(timeout=15)
        assert len(errors) == 6 and all(isinstance(e, CommandCancelled) for e in errors), errors
        killed = [e for e in errors if "was killed" in str(e)]
        not_run = [e for e in errors if "was not run" in str(e)]
        assert len(killed) >= 4 and len(killed) + len(not_run) == 6, [str(e) for e in errors]
        assert wait_gone(sleeping(*range(390, 396))) == []
    finally:
        shell.close()


def test_close_kills_commands_still_running(sshd_server):
    """The runner gives up on a check at its own timeout but the command runs on: close() at the end
    of the run kills it instead of leaving it on the server."""
    shell = SshShell.for_host(sshd_server.make_host("abandoned"))
    threads, errors = _run_in_background([(shell, sleep_cmd(330))], sleeping(330))
    shell.close()
    threads[0].join(timeout=10)
    assert errors and isinstance(errors[0], CommandCancelled) and "was killed" in str(errors[0]), errors
    assert wait_gone(sleeping(330)) == []


# ---- the server's limits ----------------------------------------------------------------------

def test_max_sessions_lowers_our_channel_count_instead_of_failing(sshd_factory):
    server = sshd_factory(MaxSessions="2")
    shell = SshShell.for_host(server.make_host("two-sessions"))
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(lambda i: shell.run(f"sleep 0.3; echo {i}", timeout=30), range(16)))
        assert [r.stdout for r in results] == [f"{i}\n" for i in range(16)]
        assert shell._slots.limit <= 2
    finally:
        shell.close()
        server.stop()


def test_no_sessions_allowed_is_a_clear_error(sshd_factory):
    server = sshd_factory(MaxSessions="0")
    shell = SshShell.for_host(server.make_host("no-sessions"))
    try:
        with pytest.raises(TransportError) as info:
            shell.run("true", timeout=10)
        text = str(info.value)
        assert "refuses to open a session" in text and "MaxSessions" in text and "no-sessions" in text, text
    finally:
        shell.close()
        server.stop()


def test_max_startups_drop_is_named(sshd_factory):
    """sshd drops connections past MaxStartups before its greeting; held here by one silent connection."""
    server = sshd_factory(MaxStartups="1")
    hog = socket.create_connection(("127.0.0.1", server.port))
    try:
        deadline = time.monotonic() + 10  # sshd has taken the hog (the one start-up slot)
        while server.connections() < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        # a patient connect timeout: "at once" must not be the timeout firing
        shell = SshShell.for_host(server.make_host("crowded", connect_timeout_s=60))
        start = time.monotonic()
        with pytest.raises(TransportError) as info:
            shell.run("true", timeout=60)
        assert time.monotonic() - start < 15
        text = str(info.value)
        assert "MaxStartups" in text and "crowded" in text and "closed it at once" in text, text
        deadline = time.monotonic() + 10  # sshd writes its log line on its own time
        while "past MaxStartups" not in server.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "past MaxStartups" in server.log()
    finally:
        hog.close()
        server.stop()


def test_cancel_all_stops_several_hosts_at_once(sshd_server, fresh_sshd):
    """What the runner calls on Ctrl-C: every host's commands are killed in parallel, at once (not
    when they end or time out)."""
    from impax_preflight.transports.base import cancel_all

    shells = [SshShell.for_host(sshd_server.make_host("para-a")), SshShell.for_host(fresh_sshd.make_host("para-b"))]
    threads, errors = _run_in_background([(s, sleep_cmd(370 + n)) for n, s in enumerate(shells)], sleeping(370, 371))
    start = time.monotonic()
    assert cancel_all(shells, timeout=15) == []
    for t in threads:
        t.join(timeout=15)
    assert time.monotonic() - start < 15  # at once, not when the commands end (370 s) or time out (120 s)
    assert len(errors) == 2 and all("was killed" in str(e) for e in errors), errors
    assert wait_gone(sleeping(370, 371)) == []
    for s in shells:
        s.close()


def test_kill_that_cannot_be_sent_is_said_in_the_finding(sshd_factory):
    """MaxSessions 1: the command holds the only session, so the kill channel is refused; the
    timeout error must say the command may still run, not that it was killed."""
    import os
    import signal

    server = sshd_factory(MaxSessions="1")
    shell = SshShell.for_host(server.make_host("one-session"))
    try:
        with pytest.raises(CommandTimeout) as info:
            shell.run(sleep_cmd(381), timeout=1)
        text = str(info.value)
        assert "could not be stopped" in text and "kill could not be sent" in text and "may still run" in text, text
        assert "was killed" not in text
    finally:
        shell.close()
        for p in matching(sleeping(381)):  # the test's own leftover (this session's tag), by pid
            os.kill(p.pid, signal.SIGKILL)
        server.stop()
