"""SSH transport (paramiko): one verified, reused connection per host for every command of a run.

Safety rules for a hospital network:
- a host key must be known (known_hosts) unless the inventory explicitly trusts new keys; a
  *changed* key is always refused;
- a failed connect or login is remembered and re-raised, never retried: a refused password retried
  by every check could lock a hospital account;
- every command has a timeout after which its channel is closed, and a dead server turns the
  remaining commands into quick `TransportError`s, never a hang.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import os
import select
import shlex
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..secrets import SecretError, mask
from ..vocabulary import PRIVILEGE_PREFIXES
from .base import OUTPUT_CAP, CommandResult, CommandTimeout, Shell, TransportError, finish_output, posix_env_prefix

if TYPE_CHECKING:  # pragma: no cover
    from ..inventory import Host
    from ..secrets import SecretRef

#: Channels open at once on one connection. OpenSSH's default MaxSessions is 10, and a closed
#: session lingers on the server a moment after we close it: stay well below.
MAX_CHANNELS = 4
#: A server that refuses a new session ("no more sessions") is asked again this many times.
CHANNEL_RETRIES = 5
#: Longest wait in one select() round, so a missed wake-up can never turn into a hang.
POLL_S = 0.5
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
        self._slots = threading.BoundedSemaphore(MAX_CHANNELS)
        self._client: Any = None
        self._jump_client: Any = None
        self._failure: TransportError | None = None
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
        try:
            client.connect(**kwargs)
        except TransportError:
            client.close()
            raise
        except Exception as exc:  # noqa: BLE001 - every driver failure becomes a readable TransportError
            client.close()
            raise TransportError(mask(self._explain(paramiko, exc, where))) from None
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

    def _explain(self, paramiko, exc: Exception, where: str) -> str:
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
            # paramiko reports a peer that accepted TCP but never sent an SSH banner as a lost session
            if "banner" in text.lower() or "no existing session" in text.lower():
                return f"{where}: the service on port {self.port} does not speak SSH or closed the connection ({text})"
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
        return posix_env_prefix(command)

    def _open_channel(self, transport):
        """A new session channel; a refusal (the server's MaxSessions, momentarily reached while
        just-closed sessions wind down) is retried with a short back-off before it counts."""
        import paramiko

        for attempt in range(CHANNEL_RETRIES + 1):
            try:
                return transport.open_session(timeout=self.connect_timeout)
            except paramiko.ChannelException:
                if attempt == CHANNEL_RETRIES or not transport.is_active():
                    raise
                time.sleep(0.1 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def run(self, command: str, timeout: float | None = None, privileged: bool = False) -> CommandResult:
        import paramiko

        transport = self._transport()
        remote = self.wrap(command, privileged)
        start = time.monotonic()
        deadline = start + timeout if timeout else None
        with self._slots:
            try:
                chan = self._open_channel(transport)
                chan.exec_command(remote)
                chan.shutdown_write()  # commands that read stdin see end-of-file, never wait for us
            except (paramiko.SSHException, EOFError, OSError) as exc:
                raise self._lost(exc, command) from None
            try:
                out, err = self._collect(chan, deadline, command, timeout)
                # paramiko leaves -1 when no exit-status came: the connection died, or the remote
                # command was killed by a signal (exit-signal, which paramiko does not record)
                rc = chan.recv_exit_status() if chan.exit_status_ready() else -1
            finally:
                chan.close()
        extra: dict[str, Any] = {"privileged": True} if privileged and self.privilege else {}
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

    def _collect(self, chan, deadline: float | None, command: str, timeout: float | None) -> tuple[bytes, bytes]:
        """stdout (at most one byte past the cap, so finish_output marks the cut) and stderr."""
        out, err = bytearray(), bytearray()
        while True:
            got = False
            while chan.recv_ready():
                data = chan.recv(65536)
                got = True
                # keep draining past the cap (else the remote blocks on a full window), but keep no more
                if len(out) <= OUTPUT_CAP:
                    out += data
            while chan.recv_stderr_ready():
                data = chan.recv_stderr(65536)
                got = True
                if len(err) <= OUTPUT_CAP:
                    err += data
            if chan.exit_status_ready() and not chan.recv_ready() and not chan.recv_stderr_ready():
                # the exit status can arrive before the last data: wait for end-of-file briefly
                if chan.eof_received or chan.closed:
                    break
            if chan.closed and not chan.recv_ready() and not chan.recv_stderr_ready():
                break
            if deadline is not None and time.monotonic() >= deadline:
                chan.close()
                raise CommandTimeout(
                    mask(f"`{command}` on {self.where} ran past its {timeout:.0f}s timeout; the remote command was "
                         "abandoned (its SSH channel closed). Raise thresholds.command_timeout_s if it is merely slow")
                )
            if not got:
                wait = POLL_S if deadline is None else max(0.0, min(POLL_S, deadline - time.monotonic()))
                select.select([chan], [], [], wait)
        return bytes(out[: OUTPUT_CAP + 1]), bytes(err)

    def _lost_connection(self) -> TransportError:
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
