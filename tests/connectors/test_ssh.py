"""SshShell against a real loopback OpenSSH server (tests/services.py)."""

from __future__ import annotations

import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import require_service
from impax_preflight.secrets import MASK, SecretRef, mask
from impax_preflight.transports.base import CommandTimeout, TransportError
from impax_preflight.transports.ssh import SshShell, fingerprint, parse_jump

pytestmark = pytest.mark.service


@pytest.fixture
def solaris(sshd_server):
    sshd_server.add_command("svcs", "echo 'STATE STIME FMRI'; echo 'online 12:00:00 svc:/network/ssh:default'\n")
    sshd_server.add_command("fmadm", "echo 'fmadm: faulty list is empty' >&2; exit 1\n")
    shell = SshShell.for_host(sshd_server.make_host("arch1"))
    yield shell
    shell.close()


def test_runs_commands_with_rc_stdout_stderr(solaris, sshd_server):
    r = solaris.run("svcs -a", timeout=20)
    assert r.rc == 0 and "svc:/network/ssh:default" in r.stdout
    assert r.transport == "ssh" and r.duration > 0
    r = solaris.run("fmadm faulty", timeout=20)
    assert r.rc == 1 and r.stdout == "" and "faulty list is empty" in r.stderr
    r = solaris.run("exit 7", timeout=20)
    assert r.rc == 7


def test_command_killed_by_a_signal_has_no_rc_but_the_shell_lives_on(solaris):
    r = solaris.run("echo before; kill -9 $$", timeout=10)
    assert r.rc is None and r.failed and r.stdout == "before\n"
    assert "no_exit_status" in r.extra
    assert solaris.run("echo next", timeout=10).rc == 0


def test_posix_commands_run_in_c_locale_with_stdin_closed(solaris):
    r = solaris.run("echo $LC_ALL $LANG; cat; echo after-cat", timeout=20)
    assert r.stdout.split() == ["C", "C", "after-cat"]


def test_large_output_round_trips(solaris):
    r = solaris.run("head -c 3000000 /dev/zero | tr '\\0' 'x'; echo; echo end", timeout=30)
    assert r.stdout.count("x") == 3_000_000 and r.stdout.endswith("end\n") and not r.truncated


def test_hanging_command_times_out_quickly_and_shell_stays_usable(solaris):
    start = time.monotonic()
    with pytest.raises(CommandTimeout) as info:
        solaris.run("sleep 30", timeout=1)
    assert time.monotonic() - start < 3
    assert "abandoned" in str(info.value) and "arch1" in str(info.value)
    assert solaris.run("echo still-here", timeout=10).stdout.strip() == "still-here"


def test_privileged_commands_get_the_prefix(sshd_server):
    # a stand-in pfexec that marks what it ran, as Solaris RBAC would run it with more rights
    sshd_server.add_command("pfexec", 'echo "pfexec:$*"; exec "$@"\n')
    shell = SshShell.for_host(sshd_server.make_host("arch-rbac", privilege="pfexec"))
    try:
        r = shell.run("echo a | tr a b", timeout=10, privileged=True)
        assert r.stdout.splitlines() == ["pfexec:/bin/sh -c echo a | tr a b", "b"]
        assert shell.run("echo plain", timeout=10).stdout == "plain\n"
    finally:
        shell.close()


def test_one_connection_per_host_across_threads(sshd_server):
    shell = SshShell.for_host(sshd_server.make_host("arch-threads"))
    before = sshd_server.connections()
    try:
        with ThreadPoolExecutor(max_workers=12) as pool:
            results = list(pool.map(lambda i: shell.run(f"echo {i}; sleep 0.05", timeout=20), range(60)))
    finally:
        shell.close()
    assert [r.stdout.strip() for r in results] == [str(i) for i in range(60)]
    assert shell.connect_count == 1
    time.sleep(0.2)
    assert sshd_server.connections() - before == 1


def test_wrong_key_refused_without_retry(sshd_server, tmp_path):
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    shell = SshShell.for_host(sshd_server.make_host("arch-badkey", key_file=str(other)))
    before = sshd_server.connections()
    with pytest.raises(TransportError) as info:
        shell.run("true", timeout=10)
    assert "login refused" in str(info.value) and "arch-badkey" in str(info.value)
    for _ in range(5):  # every later command fails at once, without dialling again
        with pytest.raises(TransportError, match="login refused"):
            shell.run("true", timeout=10)
    time.sleep(0.2)
    assert shell.connect_count == 1 and sshd_server.connections() - before == 1


def test_password_login_and_wrong_password(sshd_server, monkeypatch):
    require_service(sshd_server.password_user is not None, "a local user with a password (tests must run as root)")
    good = sshd_server.make_host("arch-pw", user=sshd_server.password_user, key_file=None,
                                 password=SecretRef(f"env:{sshd_server.password_env}"))
    shell = SshShell.for_host(good)
    try:
        assert shell.run("id -un", timeout=10).stdout.strip() == sshd_server.password_user
    finally:
        shell.close()
    monkeypatch.setenv("IMPAX_TEST_WRONG_PW", "Wrong-Password-42")
    bad = sshd_server.make_host("arch-pw-bad", user=sshd_server.password_user, key_file=None,
                                password=SecretRef("env:IMPAX_TEST_WRONG_PW"))
    shell = SshShell.for_host(bad)
    with pytest.raises(TransportError) as info:
        shell.run("true", timeout=10)
    assert "login refused" in str(info.value)
    assert "Wrong-Password-42" not in str(info.value)
    assert mask("x Wrong-Password-42 y") == f"x {MASK} y"  # resolved secrets are registered with the masker


def test_unknown_host_key_refused_with_fingerprint(sshd_server, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    shell = SshShell.for_host(sshd_server.make_host("arch-new", known_hosts=str(empty)))
    with pytest.raises(TransportError) as info:
        shell.run("true", timeout=10)
    text = str(info.value)
    assert "UNKNOWN HOST KEY" in text and "ssh-ed25519 SHA256:" in text and "trust_new_host_key" in text
    server_fp = subprocess.run(["ssh-keygen", "-lf", sshd_server.host_key_file + ".pub"], capture_output=True,
                               text=True).stdout.split()[1]
    assert server_fp in text
    assert empty.read_text() == ""


def test_missing_known_hosts_file_refused(sshd_server, tmp_path):
    shell = SshShell.for_host(sshd_server.make_host("arch-nokh", known_hosts=str(tmp_path / "absent")))
    with pytest.raises(TransportError, match="known_hosts file .* does not exist"):
        shell.run("true", timeout=10)


def test_trust_new_host_key_accepts_and_records(sshd_server, tmp_path):
    kh = tmp_path / "sub" / "known_hosts"
    shell = SshShell.for_host(sshd_server.make_host("arch-tofu", known_hosts=str(kh), trust_new_host_key=True))
    try:
        assert shell.run("echo ok", timeout=10).stdout == "ok\n"
    finally:
        shell.close()
    recorded = kh.read_text()
    assert recorded.startswith(f"[127.0.0.1]:{sshd_server.port} ssh-ed25519 ")
    host_pub = open(sshd_server.host_key_file + ".pub").read().split()[1]
    assert host_pub in recorded
    # the recorded key now verifies the server without trusting anything new
    again = SshShell.for_host(sshd_server.make_host("arch-tofu2", known_hosts=str(kh)))
    try:
        assert again.run("echo again", timeout=10).stdout == "again\n"
    finally:
        again.close()


def test_changed_host_key_always_refused(sshd_server, tmp_path):
    fake = tmp_path / "fake_host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(fake)], check=True)
    kind, blob = (tmp_path / "fake_host_key.pub").read_text().split()[:2]
    kh = tmp_path / "known_hosts"
    kh.write_text(f"[127.0.0.1]:{sshd_server.port} {kind} {blob}\n")
    for trust in (False, True):
        shell = SshShell.for_host(sshd_server.make_host("arch-mitm", known_hosts=str(kh), trust_new_host_key=trust))
        with pytest.raises(TransportError) as info:
            shell.run("true", timeout=10)
        assert "HOST KEY CHANGED" in str(info.value) and "ssh-keygen -R" in str(info.value)
    assert kh.read_text() == f"[127.0.0.1]:{sshd_server.port} {kind} {blob}\n"


def test_connection_refused_is_quick_and_readable(sshd_server):
    from services import free_port

    shell = SshShell.for_host(sshd_server.make_host("arch-closed", port=free_port()))
    start = time.monotonic()
    with pytest.raises(TransportError, match="connection refused"):
        shell.run("true", timeout=10)
    assert time.monotonic() - start < 3


def test_silent_port_hits_connect_timeout():
    # a listening socket that never speaks: the SSH banner never comes
    import socket

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    port = srv.getsockname()[1]
    try:
        shell = SshShell("mute", "127.0.0.1", port=port, key_file=None, use_agent=True, known_hosts="/dev/null",
                         connect_timeout=1.0)
        start = time.monotonic()
        with pytest.raises(TransportError) as info:
            shell.run("true", timeout=5)
        assert time.monotonic() - start < 5
        msg = str(info.value)
        assert "mute" in msg and ("does not speak SSH" in msg or "no answer within" in msg), msg
    finally:
        srv.close()


def test_jump_host_tunnels_through_a_first_connection(sshd_server):
    host = sshd_server.make_host("arch-behind-jump", jump=f"{sshd_server.user}@127.0.0.1:{sshd_server.port}")
    shell = SshShell.for_host(host)
    before = sshd_server.connections()
    try:
        assert shell.run("echo tunnelled", timeout=10).stdout == "tunnelled\n"
        assert shell.run("echo twice", timeout=10).stdout == "twice\n"
    finally:
        shell.close()
    time.sleep(0.2)
    assert sshd_server.connections() - before == 2  # the jump connection and the tunnelled one


def test_parse_jump():
    assert parse_jump("ops@bastion:2222", "me") == ("ops", "bastion", 2222)
    assert parse_jump("bastion", "me") == ("me", "bastion", 22)
    assert parse_jump("ops@[fe80::1]:22", None) == ("ops", "fe80::1", 22)


def test_sshd_killed_mid_run_fails_fast_never_hangs(fresh_sshd):
    shell = SshShell.for_host(fresh_sshd.make_host("arch-dies"))
    assert shell.run("echo up", timeout=10).stdout == "up\n"
    errors: list[BaseException] = []

    def long_command():
        try:
            shell.run("sleep 20", timeout=30)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    t = threading.Thread(target=long_command)
    t.start()
    time.sleep(0.5)
    fresh_sshd.stop()
    t.join(timeout=10)
    assert not t.is_alive(), "a command on a dead server must not hang"
    assert errors and isinstance(errors[0], TransportError)
    start = time.monotonic()
    for _ in range(10):
        with pytest.raises(TransportError, match="lost during the run"):
            shell.run("echo again", timeout=10)
    assert time.monotonic() - start < 2
    assert shell.connect_count == 1


def test_fingerprint_matches_ssh_keygen(sshd_server):
    import paramiko

    key = paramiko.Ed25519Key.from_private_key_file(sshd_server.key_file)
    expected = subprocess.run(["ssh-keygen", "-lf", sshd_server.key_file + ".pub"], capture_output=True,
                              text=True).stdout.split()[1]
    assert fingerprint(key) == expected


def test_sshd_killed_mid_run_through_run_preflight(fresh_sshd, sshd_server):
    """The run completes; the dead host's checks are errors saying why; the other host is unaffected."""
    import types

    from impax_preflight import hookimpl
    from impax_preflight.check import check, register_module_checks
    from impax_preflight.inventory import Inventory, Site
    from impax_preflight.model import Status
    from impax_preflight import load_plugins
    from impax_preflight import run_preflight

    mod = types.ModuleType("kill_test_checks")
    for i in range(6):
        def make(i=i):
            @check(f"kill.c{i}", f"slow {i}", "blocker", "host", commands={"*": [f"sleep 1; echo {i}"]})
            def _c(ctx):
                r = ctx.run(f"sleep 1; echo {i}")
                return ctx.passed("ok") if r.rc == 0 else ctx.fail(f"rc {r.rc}")
            return _c
        setattr(mod, f"c{i}", make())

    @hookimpl
    def impax_register_checks(register):
        register_module_checks(register, vars(mod))

    mod.impax_register_checks = impax_register_checks
    hosts = [fresh_sshd.make_host("doomed", os="linux", user=fresh_sshd.plain_user),
             sshd_server.make_host("healthy", os="linux", user=sshd_server.plain_user)]
    inv = Inventory(site=Site(name="Kill Test", impax_version="6.3.1", platform="AS3000"), hosts=hosts)
    threading.Timer(1.5, fresh_sshd.stop).start()
    start = time.monotonic()
    report = run_preflight(inv, plugins=load_plugins(entry_points=False, extra_plugins=[mod]), only=["kill.*"], jobs=8)
    assert time.monotonic() - start < 30
    doomed = [f for f in report.findings if f.target == "doomed" and f.check_id.startswith("kill.")]
    healthy = [f for f in report.findings if f.target == "healthy" and f.check_id.startswith("kill.")]
    assert len(doomed) == 6 and len(healthy) == 6
    assert {f.status for f in healthy} == {Status.PASS}
    errors = [f for f in doomed if f.status is Status.ERROR]
    assert errors, [f.message for f in doomed]
    assert all(f.status in (Status.PASS, Status.ERROR) for f in doomed)
    assert all("lost during the run" in f.message or "refused" in f.message or "cannot" in f.message for f in errors), \
        [f.message for f in errors]
