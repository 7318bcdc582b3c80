"""SSH transport (paramiko): one verified, reused connection per host for every command of a run.

Safety rules for a hospital network:
- a host key must be known (known_hosts) unless the inventory explicitly trusts new keys; a
  *changed* key is always refused;
- a failed connect or login is remembered and re-raised, never retried: a refused password retried
  by every check could lock a hospital account;
- every command has a timeout; a command given up on (its timeout, `cancel()` on Ctrl-C, `close()`)
  is killed on the server over a second channel (`remote_process.py`), and the error says whether
  that worked; a dead server turns the remaining commands into quick `TransportError`s, never a hang;
- no end-of-file is sent on a channel while its command may end (paramiko issue #1115: its EOF can
  overtake our CLOSE, and OpenSSH then drops the whole connection, "ieof packet referred to
  nonexistent channel"): POSIX commands read /dev/null on the server instead, and Windows commands
  get their EOF sent under the channel's lock (`_send_eof_in_order`);
- a server's own limits are named: sessions refused per connection (MaxSessions) lower our channel
  count for that connection; a connection closed before the SSH greeting (MaxStartups, TCP
  wrappers) and a server's disconnect reason are said as such, not as a server outage.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import logging
import os
import select
import shlex
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..secrets import SecretError, mask
from ..vocabulary import PRIVILEGE_PREFIXES
from .base import (
    OUTPUT_CAP,
    CommandCancelled,
    CommandResult,
    CommandTimeout,
    Shell,
    TransportError,
    finish_output,
)
from .remote_process import (
    KillOutcome,
    kill_script,
    parse_kill_report,
    split_marker,
    wrap_posix,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..inventory import Host
    from ..secrets import SecretRef

#: Channels open at once on one connection. OpenSSH's default MaxSessions is 10, and a closed
#: session lingers on the server a moment after we close it: stay well below.
MAX_CHANNELS = 4
#: A server that refuses a new session ("no more sessions") is asked again this many times.
CHANNEL_RETRIES = 5
#: Longest wait in one select() round, so a missed wake-up (or a cancel) is seen within this time.
POLL_S = 0.25
#: Longest time the kill of given-up remote commands may take (channel open, TERM, KILL, report).
KILL_BUDGET_S = 6.0
#: A command's pid marker is awaited this long past its timeout before giving up on killing it.
MARKER_GRACE_S = 2.0
DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"

# several hosts may record new keys in the same known_hosts file at once
_known_hosts_lock = threading.Lock()


def fingerprint(key: Any) -> str:
    """OpenSSH-style SHA256 fingerprint of a paramiko key (what `ssh-keygen -lf` prints)."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def known_hosts_name(address: str, port: int) -> str:
    return address if port == 22 else f"[{address}]:{port}"


def parse_jump(spec: str, default_user: str | None) -> tuple[str | None, str, int]:
    """'user@host[:port]' -> (user, host, port). IPv6 literals go in brackets: user@[::1]:2222."""
    from ..inventory import split_jump

    try:
        user, host, port = split_jump(spec)
    except ValueError as exc:
        raise TransportError(f"transport.jump: {exc}") from None
    return user or default_user, host, port


class SshShell(Shell):
    """Runs commands on one host over one paramiko connection shared by all threads."""

    kind = "ssh"

    def __init__(
        self,
        name: str,
        address: str,
        *,
        os_name: str = "linux",
        user: str | None = None,
        port: int = 22,
        key_file: str | None = None,
        passphrase: "SecretRef | None" = None,
        password: "SecretRef | None" = None,
        use_agent: bool = True,
        known_hosts: str | None = None,
        trust_new_host_key: bool = False,
        jump: str | None = None,
        privilege: str | None = None,
        connect_timeout: float = 15.0,
        keepalive: float = 30.0,
        codepage: str | None = None,
    ) -> None:
        self.name = name
        self.address = address
        self.os = os_name
        self.user = user or _local_user()
        self.port = port
        self.key_file = str(Path(key_file).expanduser()) if key_file else None
        self.passphrase = passphrase
        self.password = password
        self.use_agent = use_agent
        self.known_hosts = Path(known_hosts or DEFAULT_KNOWN_HOSTS).expanduser()
        self.trust_new_host_key = trust_new_host_key
        self.jump = jump
        if privilege and privilege.strip() not in PRIVILEGE_PREFIXES:
            raise TransportError(
                f"host {name}: transport.privilege {privilege!r} is not supported; use 'pfexec' (Solaris RBAC) or 'sudo -n'"
            )
        self.privilege = privilege.strip() if privilege else None
        self.connect_timeout = connect_timeout
        self.keepalive = keepalive
        # OpenSSH for Windows runs cmd.exe, whose console output is in the OEM code page
        self.codepage = codepage or ("cp850" if os_name == "windows" else None)
        self._lock = threading.Lock()
        self._slots = _ChannelLimit(MAX_CHANNELS)
        self._client: Any = None
        self._jump_client: Any = None
        self._failure: TransportError | None = None
        self._server_said = _DisconnectRecorder()
        # commands running now, so that cancel() and close() can stop them on the server
        self._jobs: set[_Job] = set()
        self._jobs_lock = threading.Lock()
        self._cancelled = threading.Event()
        self.connect_count = 0  # how many times we actually dialled (tests assert 1)

    @classmethod
    def for_host(cls, host: "Host") -> "SshShell":
        t = host.transport
        return cls(
            host.name,
            host.reach,
            os_name=host.os,
            user=t.user,
            port=t.port,
            key_file=t.key_file,
            passphrase=t.passphrase,
            password=t.password,
            use_agent=t.use_agent,
            known_hosts=t.known_hosts,
            trust_new_host_key=t.trust_new_host_key,
            jump=t.jump,
            privilege=t.privilege,
            connect_timeout=t.connect_timeout_s,
            keepalive=t.keepalive_s,
        )

    @property
    def where(self) -> str:
        via = f" via jump host {self.jump}" if self.jump else ""
        return f"host {self.name} ({self.user}@{self.address}:{self.port}{via})"

    # -- connection -----------------------------------------------------------------------------
    def _transport(self):
        """The live paramiko Transport; connects once (under the lock), never retries a failure."""
        client = self._client
        if client is not None:
            transport = client.get_transport()
            if transport is not None and transport.is_active():
                return transport
        with self._lock:
            if self._failure is not None:
                raise _again(self._failure)
            if self._client is not None:
                transport = self._client.get_transport()
                if transport is not None and transport.is_active():
                    return transport
                # it was up and died: say so once for all, and do not redial a server that just fell over
                self._failure = self._lost_connection()
                raise _again(self._failure)
            try:
                self._client = self._connect()
            except TransportError as exc:
                self._failure = TransportError(mask(str(exc)))
                raise _again(self._failure) from None
            return self._client.get_transport()

    def _connect(self):
        try:
            import paramiko
        except ImportError:  # pragma: no cover - a base dependency
            raise TransportError("SSH needs the 'paramiko' package: pip install paramiko") from None
        self.connect_count += 1
        sock = None
        if self.jump:
            juser, jhost, jport = parse_jump(self.jump, self.user)
            self._jump_client = self._open_client(paramiko, jhost, jport, juser, None, f"jump host {self.jump}")
            try:
                sock = self._jump_client.get_transport().open_channel(
                    "direct-tcpip", (self.address, self.port), ("127.0.0.1", 0), timeout=self.connect_timeout
                )
            except (paramiko.SSHException, OSError, EOFError) as exc:
                self._close_clients()
                raise TransportError(
                    f"jump host {self.jump} could not open a tunnel to {self.address}:{self.port} for host {self.name}: "
                    f"{_text(exc)}; check that the jump host may reach it (AllowTcpForwarding) and the port is right"
                ) from None
        try:
            client = self._open_client(paramiko, self.address, self.port, self.user, sock, self.where)
        except BaseException:
            self._close_clients()  # the jump connection must not stay open behind a refused target
            raise
        transport = client.get_transport()
        if self.keepalive:
            transport.set_keepalive(max(1, int(self.keepalive)))
        return client

    def _open_client(self, paramiko, address: str, port: int, user: str | None, sock, where: str):
        client = paramiko.SSHClient()
        # a logger of its own, to read the reason the server gives when it disconnects us
        client.set_log_channel(self._server_said.channel())
        self._load_known_hosts(client, where)
        client.set_missing_host_key_policy(_HostKeyPolicy(self, where))
        kwargs: dict[str, Any] = dict(
            hostname=address,
            port=port,
            username=user,
            timeout=self.connect_timeout,
            banner_timeout=self.connect_timeout,
            auth_timeout=self.connect_timeout,
            allow_agent=self.use_agent,
            look_for_keys=False,
            sock=sock,
        )
        try:
            if self.key_file:
                if not os.path.exists(self.key_file):
                    raise TransportError(f"{where}: key file {self.key_file} does not exist (transport.key_file)")
                kwargs["key_filename"] = self.key_file
                if self.passphrase:
                    kwargs["passphrase"] = self.passphrase.resolve(f"passphrase of {self.key_file}")
            if self.password:
                kwargs["password"] = self.password.resolve(f"SSH password for {user}@{address}")
        except SecretError as exc:
            raise TransportError(f"{where}: cannot read the secret: {exc}") from None
        if not (self.key_file or self.password or self.use_agent):
            raise TransportError(f"{where}: no way to log in: set transport.key_file, transport.password or use_agent = true")
        dialled = time.monotonic()
        try:
            client.connect(**kwargs)
        except TransportError:
            client.close()
            raise
        except Exception as exc:  # noqa: BLE001 - every driver failure becomes a readable TransportError
            client.close()
            raise TransportError(mask(self._explain(paramiko, exc, where, time.monotonic() - dialled))) from None
        return client

    def _load_known_hosts(self, client, where: str) -> None:
        path = self.known_hosts
        if not path.exists():
            if self.trust_new_host_key:
                return  # the policy creates it when it records the first key
            raise TransportError(
                f"{where}: known_hosts file {path} does not exist, so the server's identity cannot be verified. "
                "Create it with the server's verified key (ssh-keyscan, then compare the fingerprint with the "
                "server administrator), set transport.known_hosts to the right file, or set "
                "transport.trust_new_host_key = true to accept and record unknown keys on first connect"
            )
        try:
            client.load_host_keys(str(path))
        except (OSError, Exception) as exc:  # noqa: BLE001 - paramiko raises various errors for bad lines
            raise TransportError(f"{where}: cannot read known_hosts file {path}: {_text(exc)}") from None

    def _explain(self, paramiko, exc: Exception, where: str, elapsed: float = 0.0) -> str:
        if isinstance(exc, paramiko.BadHostKeyException):
            return (
                f"{where}: HOST KEY CHANGED: the server presented {exc.key.get_name()} {fingerprint(exc.key)} but "
                f"{self.known_hosts} expects {exc.expected_key.get_name()} {fingerprint(exc.expected_key)}. "
                "This is a reinstalled server or someone in the middle; it is never accepted automatically. "
                "Confirm the new fingerprint with the server administrator, then remove the old entry "
                f"(ssh-keygen -R '{known_hosts_name(self.address, self.port)}' -f {self.known_hosts}) and add the new one"
            )
        if isinstance(exc, paramiko.PasswordRequiredException):
            return f"{where}: the key file {self.key_file} is encrypted: set transport.passphrase (e.g. 'prompt:')"
        if isinstance(exc, paramiko.AuthenticationException):
            tried = [w for w, on in (("key file " + str(self.key_file), self.key_file), ("ssh-agent", self.use_agent),
                                     ("password", self.password)) if on]
            return (
                f"{where}: login refused for user {self.user} (tried {', '.join(tried) or 'nothing'}): check the user "
                "name, that the public key is in the server's authorized_keys, or the password. Not retried, so the "
                "account is not locked by repeated attempts"
            )
        if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError):
            errs = list(exc.errors.values())
            if errs and all(isinstance(e, ConnectionRefusedError) or getattr(e, "errno", None) == errno.ECONNREFUSED
                            for e in errs):
                return f"{where}: connection refused: nothing listens on port {self.port} (is sshd running? is the port right?)"
            return f"{where}: cannot connect: {'; '.join(_text(e) for e in errs) or _text(exc)}"
        if isinstance(exc, ConnectionRefusedError):
            return f"{where}: connection refused: nothing listens on port {self.port} (is sshd running? is the port right?)"
        if isinstance(exc, (socket.timeout, TimeoutError)):
            return (f"{where}: no answer within {self.connect_timeout:.0f}s (firewall dropping packets, wrong address, "
                    "or the host is down); raise transport.connect_timeout_s only if the network is known to be slow")
        if isinstance(exc, socket.gaierror):
            return f"{where}: the name {self.address!r} cannot be resolved: set the host's address in the inventory"
        if isinstance(exc, OSError) and exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return f"{where}: no route to host: check the address, VPN and routing from this machine"
        if isinstance(exc, (EOFError, paramiko.SSHException)):
            text = _text(exc)
            said = self._server_said.reason()
            if said:
                return f"{where}: the server closed the connection during the handshake, saying: {said}"
            # paramiko reports a peer that accepted TCP but never sent an SSH banner as a lost session
            if "banner" in text.lower() or "no existing session" in text.lower() or isinstance(exc, EOFError):
                if elapsed < self.connect_timeout * 0.8:
                    return (
                        f"{where}: the server accepted the connection and closed it at once, before the SSH greeting "
                        f"({text}). That is an SSH server limiting connections that have not logged in yet "
                        "(sshd MaxStartups: too many at once from this and other runs; run fewer at the same "
                        "time or ask for a higher MaxStartups) or refusing this address (TCP wrappers, "
                        "fail2ban); or the service on this port does not speak SSH. Nothing was sent to log in"
                    )
                return (f"{where}: no SSH greeting within {self.connect_timeout:.0f}s: the service on port "
                        f"{self.port} does not speak SSH or is overloaded ({text})")
            return f"{where}: the SSH handshake failed: {text}"
        if isinstance(exc, OSError):
            return f"{where}: cannot connect: {_text(exc)}"
        return f"{where}: SSH connection failed: {type(exc).__name__}: {_text(exc)}"

    # -- commands -------------------------------------------------------------------------------
    def wrap(self, command: str, privileged: bool = False) -> str:
        """The exact text sent to the server for `command`."""
        if self.os == "windows":
            return command  # cmd.exe syntax, run as is by OpenSSH for Windows
        if privileged and self.privilege:
            command = f"{self.privilege} /bin/sh -c {shlex.quote(command)}"
        return wrap_posix(command)

    def _open_channel(self, transport):
        """A new session channel holding one of this connection's channel slots (the caller releases it).

        A refusal (the server's MaxSessions, momentarily reached while just-closed sessions wind
        down) is retried with a short back-off. If it persists while other channels are open, this
        connection's limit drops to what the server accepted and the command waits for a slot; a
        refusal with no other channel open means the server allows no session at all."""
        import paramiko

        refusals = 0
        while True:
            self._slots.acquire()
            try:
                return transport.open_session(timeout=self.connect_timeout)
            except paramiko.SSHException as exc:
                others = self._slots.release()
                if not transport.is_active() or not _refused(paramiko, exc):
                    raise
                refusals += 1
                if refusals <= CHANNEL_RETRIES:
                    time.sleep(0.1 * refusals)
                    continue
                if others == 0:
                    raise TransportError(mask(
                        f"{self.where}: the server refuses to open a session for a command ({_text(exc)}), even with "
                        "no other open: its sshd allows this login no sessions (MaxSessions 0, a Match block, or "
                        "no command execution for this account); ask the server administrator"
                    )) from None
                self._slots.lower(others)
                refusals = 0
            except BaseException:
                self._slots.release()
                raise

    def run(self, command: str, timeout: float | None = None, privileged: bool = False) -> CommandResult:
        import paramiko

        if self._cancelled.is_set():  # before dialling: a cancelled run opens no connection
            raise CommandCancelled(f"`{command}` on {self.where} was not run: the run was cancelled (Ctrl-C)")
        transport = self._transport()
        remote = self.wrap(command, privileged)
        start = time.monotonic()
        deadline = start + timeout if timeout else None
        job = _Job(command, privileged=bool(privileged and self.privilege), started=start)
        self._register(job)
        try:
            try:
                chan = job.chan = self._open_channel(transport)
            except (paramiko.SSHException, EOFError, OSError) as exc:
                raise self._lost(exc, command) from None
            try:
                try:
                    if job.stop_reason:  # stopped while it waited for a channel: do not start it
                        raise CommandCancelled(f"`{command}` on {self.where} was not run: {job.stop_reason}")
                    chan.exec_command(remote)
                    if self.os == "windows":
                        # cmd.exe tools (wmic, powershell) wait for the end of stdin; POSIX commands
                        # read /dev/null on the server instead (wrap_posix), so they need no EOF
                        _send_eof_in_order(chan)
                except (paramiko.SSHException, EOFError, OSError) as exc:
                    raise self._lost(exc, command) from None
                out, err = self._collect(chan, job, deadline, timeout)
                # paramiko leaves -1 when no exit-status came: the connection died, or the remote
                # command was killed by a signal (exit-signal, which paramiko does not record)
                rc = chan.recv_exit_status() if chan.exit_status_ready() else -1
            finally:
                chan.close()
                self._slots.release()
        finally:
            self._unregister(job)
        extra: dict[str, Any] = {"privileged": True} if job.privileged else {}
        if rc == -1:
            if not chan.eof_received or not transport.is_active():
                raise self._lost(EOFError("connection closed before the command reported its exit status"), command)
            rc = None
            extra["no_exit_status"] = "the remote command ended without an exit status (killed by a signal?)"
        stdout, raw, cut = finish_output(out, self.codepage)
        stderr, _, _ = finish_output(err, self.codepage)
        return CommandResult(
            command=command,
            rc=rc,
            stdout=stdout,
            stderr=stderr,
            raw=raw,
            duration=time.monotonic() - start,
            truncated=cut,
            transport=self.kind,
            extra=extra,
        )

    def _collect(self, chan, job: "_Job", deadline: float | None, timeout: float | None) -> tuple[bytes, bytes]:
        """stdout (at most one byte past the cap, so finish_output marks the cut) and stderr without
        the pid marker. Raises CommandTimeout / CommandCancelled after stopping the remote command."""
        out, err = bytearray(), bytearray()
        marker = "absent" if self.os == "windows" else "pending"

        def drain() -> bool:
            nonlocal marker, err
            got = False
            while chan.recv_ready():
                data = chan.recv(65536)
                got = True
                # keep draining past the cap (else the remote blocks on a full window), but keep no more
                if len(out) <= OUTPUT_CAP:
                    out.extend(data)
            while chan.recv_stderr_ready():
                data = chan.recv_stderr(65536)
                got = True
                if len(err) <= OUTPUT_CAP:
                    err.extend(data)
            if marker == "pending" and err:
                marker, pid, rest = split_marker(bytes(err))
                if marker == "found":
                    job.pid, err = pid, bytearray(rest)
            return got

        def await_marker() -> None:
            # the pid line may still be on its way (a slow login shell): wait for it a little
            grace = time.monotonic() + MARKER_GRACE_S
            while marker == "pending" and not chan.closed and time.monotonic() < grace:
                if not drain():
                    select.select([chan], [], [], 0.05)

        while True:
            got = drain()
            if job.stop_reason or self._cancelled.is_set():
                job.stopped.wait(KILL_BUDGET_S + 2)
                if job.kill is None and marker != "absent":
                    # it started after the kill went out (it was waiting for a channel): kill it now
                    await_marker()
                    if job.pid is not None:
                        self._stop([job])
                raise self._stopped_error(job)
            if chan.exit_status_ready() and not chan.recv_ready() and not chan.recv_stderr_ready():
                # the exit status can arrive before the last data: wait for end-of-file briefly
                if chan.eof_received or chan.closed:
                    break
            if chan.closed and not chan.recv_ready() and not chan.recv_stderr_ready():
                break
            if deadline is not None and time.monotonic() >= deadline:
                await_marker()
                self._stop([job])
                chan.close()
                raise CommandTimeout(mask(
                    f"`{job.command}` on {self.where} timed out after {timeout:g}s and was abandoned; {job.outcome}. "
                    "Raise thresholds.command_timeout_s if it is merely slow"
                ))
            if not got:
                wait = POLL_S if deadline is None else max(0.0, min(POLL_S, deadline - time.monotonic()))
                select.select([chan], [], [], wait)
        return bytes(out[: OUTPUT_CAP + 1]), bytes(err)

    # -- stopping commands ----------------------------------------------------------------------
    def cancel(self) -> None:
        """Stop every command running on this host now (Ctrl-C): each is killed on the server and its
        `run` raises `CommandCancelled` saying whether that worked; later `run`s are refused.
        Returns within about KILL_BUDGET_S seconds."""
        self._stop_running("the run was cancelled (Ctrl-C)", refuse_new=True)

    def _stop_running(self, reason: str, refuse_new: bool = False) -> None:
        with self._jobs_lock:
            if refuse_new:
                self._cancelled.set()
            jobs = [j for j in self._jobs if not j.stop_reason]
            for j in jobs:
                j.stop_reason = reason
        if not jobs:
            return
        self._stop(jobs)
        for j in jobs:
            j.stopped.set()
            if j.chan is not None:
                try:
                    j.chan.close()
                except Exception:  # noqa: BLE001 - a channel of a dead connection
                    pass

    def _register(self, job: "_Job") -> None:
        with self._jobs_lock:
            if self._cancelled.is_set():
                raise CommandCancelled(f"`{job.command}` on {self.where} was not run: the run was cancelled (Ctrl-C)")
            self._jobs.add(job)

    def _unregister(self, job: "_Job") -> None:
        with self._jobs_lock:
            self._jobs.discard(job)

    def _stopped_error(self, job: "_Job") -> CommandCancelled:
        reason = job.stop_reason or "the run was cancelled (Ctrl-C)"
        outcome = job.outcome or "it may still run on the server"
        return CommandCancelled(mask(
            f"`{job.command}` on {self.where} was stopped after {time.monotonic() - job.started:.1f}s: {reason}; {outcome}"
        ))

    def _stop(self, jobs: list["_Job"]) -> None:
        """Kill the remote commands of `jobs` over a second channel and set each job's `outcome`."""
        if self.os == "windows":
            for j in jobs:
                j.outcome = ("its SSH channel was closed; whether the Windows SSH server then ends the process is up "
                             "to that server and was not verified")
            return
        for j in jobs:
            if j.pid is None:
                j.outcome = ("its process id never arrived from the server, so it could not be killed and may still "
                             "run there")
        known = [j for j in jobs if j.pid is not None]
        if not known:
            return
        pids = [j.pid for j in known]  # type: ignore[misc]
        privileged = any(j.privileged for j in known)
        result: dict[str, Any] = {}

        def kill() -> None:
            try:
                result["report"] = self._run_kill(kill_script(pids), privileged)
            except Exception as exc:  # noqa: BLE001 - any failure of the kill is reported in the finding
                result["error"] = _text(exc)

        # in a thread of its own: paramiko's exec_command waits for the server's reply without a time limit
        worker = threading.Thread(target=kill, name=f"impax-kill-{self.name}", daemon=True)
        worker.start()
        worker.join(KILL_BUDGET_S + 1)
        if "report" in result:
            outcomes = parse_kill_report(result["report"], pids)
        else:
            detail = f"the kill could not be sent: {result.get('error') or f'no answer within {KILL_BUDGET_S:.0f}s'}"
            outcomes = {p: KillOutcome(p, "unknown", detail=detail) for p in pids}
        hint = (f" (they run through {self.privilege}, and so did the kill)" if privileged
                else " (the login may not signal them)")
        for j in known:
            j.kill = outcomes[j.pid]  # type: ignore[index]
            j.outcome = j.kill.describe(hint)

    def _run_kill(self, script: str, privileged: bool) -> str:
        """Run the kill script on a fresh channel of the live connection (outside the channel slots:
        the slots may all be held by the very commands being killed); returns its stdout."""
        import paramiko

        client = self._client
        transport = client.get_transport() if client is not None else None
        if transport is None or not transport.is_active():
            raise TransportError("the SSH connection is gone")
        text = f"{self.privilege} /bin/sh -c {shlex.quote(script)}" if privileged and self.privilege else script
        deadline = time.monotonic() + KILL_BUDGET_S
        for attempt in range(4):
            try:
                chan = transport.open_session(timeout=max(0.5, deadline - time.monotonic()))
                break
            except paramiko.SSHException as exc:
                if attempt == 3 or time.monotonic() > deadline or not _refused(paramiko, exc):
                    raise
                time.sleep(0.1 * (attempt + 1))
        try:
            chan.exec_command(text)  # the script reads no stdin: no EOF is sent (see _send_eof_in_order)
            out = bytearray()
            while True:
                while chan.recv_ready():
                    out.extend(chan.recv(65536))
                while chan.recv_stderr_ready():
                    chan.recv_stderr(65536)
                if chan.closed or (chan.eof_received and not chan.recv_ready() and not chan.recv_stderr_ready()):
                    return out.decode("utf-8", errors="replace")
                if time.monotonic() > deadline:
                    raise TransportError(f"no answer within {KILL_BUDGET_S:.0f}s")
                select.select([chan], [], [], 0.1)
        finally:
            chan.close()

    # -- failures -------------------------------------------------------------------------------
    def _lost_connection(self) -> TransportError:
        said = self._server_said.reason()
        if said:
            return TransportError(mask(
                f"the SSH connection to {self.where} was closed by the server during the run, saying: {said!r}; "
                "remaining commands on this host were not run"
            ))
        return TransportError(
            f"the SSH connection to {self.where} was lost during the run (server stopped, rebooted or "
            "network cut); remaining commands on this host were not run: check the server and run again"
        )

    def _lost(self, exc: BaseException, command: str) -> TransportError:
        transport = self._client.get_transport() if self._client is not None else None
        # paramiko closes the channels a moment before it marks the transport inactive
        settle = time.monotonic() + 1.0
        while transport is not None and transport.is_active() and time.monotonic() < settle:
            time.sleep(0.02)
        if transport is None or not transport.is_active():
            with self._lock:
                if self._failure is None:
                    self._failure = self._lost_connection()
            return _again(self._failure)
        return TransportError(mask(f"{self.where}: `{command}` could not be run: {_text(exc)}"))

    def close(self) -> None:
        # commands still running belong to checks the runner gave up on: nothing will read them
        self._stop_running("the run ended before it finished (its check was given up)")
        with self._lock:
            self._close_clients()

    def _close_clients(self) -> None:
        for c in (self._client, self._jump_client):
            if c is not None:
                try:
                    c.close()
                except Exception:  # noqa: BLE001 - closing a dead connection must not raise
                    pass
        self._client = self._jump_client = None


@dataclass(eq=False)
class _Job:
    """One command running on the server: what is needed to stop it and to say how that went."""

    command: str
    privileged: bool = False
    started: float = 0.0
    chan: Any = None
    pid: int | None = None
    stop_reason: str = ""
    outcome: str = ""
    kill: KillOutcome | None = None
    stopped: threading.Event = field(default_factory=threading.Event)


class _ChannelLimit:
    """How many channels one connection may have open at once; lowered when the server refuses more."""

    def __init__(self, limit: int):
        self.limit = limit
        self.used = 0
        self._cond = threading.Condition()

    def acquire(self) -> None:
        with self._cond:
            while self.used >= self.limit:
                self._cond.wait()
            self.used += 1

    def release(self) -> int:
        """Give a slot back; returns how many stay in use."""
        with self._cond:
            self.used -= 1
            self._cond.notify_all()
            return self.used

    def lower(self, to: int) -> None:
        with self._cond:
            self.limit = max(1, min(self.limit, to))


class _DisconnectRecorder(logging.Filter):
    """Keeps the reason a server gave when it disconnected us: paramiko only logs it, at INFO level.

    Each connection logs to a logger of its own (`SSHClient.set_log_channel`) that this filter
    watches; records pass on only at the level the "paramiko" logger lets through anyway."""

    _names = iter(range(1, 1 << 62))
    _names_lock = threading.Lock()

    def __init__(self) -> None:
        super().__init__()
        self._reason: str | None = None

    def channel(self) -> str:
        with self._names_lock:
            name = f"paramiko.transport.impax-preflight.{next(self._names)}"
        logger = logging.getLogger(name)
        logger.setLevel(min(logging.INFO, logging.getLogger("paramiko").getEffectiveLevel()))
        logger.addFilter(self)
        return name

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if record.levelno == logging.INFO and msg.startswith("Disconnect (code"):
            self._reason = msg.partition(":")[2].strip() or msg
        if " open FAILED: " in msg:
            return False  # a refused channel is handled (SshShell._open_channel), not a user-facing error
        return record.levelno >= logging.getLogger("paramiko").getEffectiveLevel()

    def reason(self) -> str | None:
        return self._reason


def _send_eof_in_order(chan) -> None:
    """Send the channel's EOF so that it can never follow its CLOSE on the wire.

    paramiko's `shutdown_write()` builds the EOF under the channel lock but sends it after letting
    go of it (paramiko issues #1115, #1705): when the command ends at that moment, the transport
    thread answers the server's CLOSE first, the server frees the channel, then gets our EOF for a
    channel it no longer knows and drops the whole connection ("ieof packet referred to nonexistent
    channel"), and every other command on it with it. Here the EOF is built and written while the
    channel lock is held, so the transport thread's CLOSE (also made under that lock) comes after it
    or finds the channel closed and sends no EOF at all. A key exchange in progress is waited out
    with the lock let go (holding it then is paramiko's known re-keying deadlock)."""
    transport = chan.transport
    try:
        lock, ready_lock, ready = chan.lock, transport.clear_to_send_lock, transport.clear_to_send
        make_eof, send = chan._send_eof, transport._send_message
    except AttributeError:  # pragma: no cover - a paramiko without these internals (test_ssh checks they exist)
        chan.shutdown_write()
        return
    give_up = time.monotonic() + 30.0
    while True:
        with lock:
            if chan.closed or chan.eof_sent:
                return
            with ready_lock:
                if ready.is_set():
                    message = make_eof()
                    if message is not None:
                        send(message)
                    return
        if not transport.is_active() or time.monotonic() > give_up:
            return
        ready.wait(0.1)


class _HostKeyPolicy:
    """Unknown host key: refuse with the fingerprint, or (trust_new_host_key) accept and record it."""

    def __init__(self, shell: SshShell, where: str):
        self.shell = shell
        self.where = where

    def missing_host_key(self, client, hostname: str, key) -> None:
        sh = self.shell
        fp = f"{key.get_name()} {fingerprint(key)}"
        if not sh.trust_new_host_key:
            raise TransportError(
                f"{self.where}: UNKNOWN HOST KEY {fp} for {hostname}: it is not in {sh.known_hosts}. Confirm this "
                "fingerprint with the server administrator (on the server: ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), "
                f"then add it (ssh-keyscan -p {sh.port} {sh.address} >> {sh.known_hosts}), or set "
                "transport.trust_new_host_key = true to accept and record it on first connect"
            )
        line = f"{hostname} {key.get_name()} {key.get_base64()}\n"
        with _known_hosts_lock:
            path = sh.known_hosts
            path.parent.mkdir(parents=True, exist_ok=True)
            existing = path.read_text() if path.exists() else ""
            if line not in existing:
                with open(path, "a", encoding="ascii") as fh:
                    if existing and not existing.endswith("\n"):
                        fh.write("\n")
                    fh.write(line)
                try:
                    path.chmod(0o600)
                except OSError:
                    pass
        client.get_host_keys().add(hostname, key.get_name(), key)


def _refused(paramiko, exc: BaseException) -> bool:
    """Whether opening a channel failed because the server refused it (not a dead connection).

    paramiko keeps the refusal in one slot per connection that the first reader clears, so under
    concurrency a refused thread may see only "Unable to open channel." instead of the ChannelException."""
    return isinstance(exc, paramiko.ChannelException) or str(exc).strip() == "Unable to open channel."


def _again(failure: TransportError) -> TransportError:
    # a fresh exception per raise: one instance shared by threads would share one traceback
    return type(failure)(str(failure))


def _text(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return mask(text)


def _local_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "root"
