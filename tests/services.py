"""Real services for tests: a loopback OpenSSH server, a PostgreSQL cluster, ODBC targets (issue 3).

Loaded as a pytest plugin by tests/conftest.py. Every fixture starts a real server process on a
free loopback port in a temporary folder and calls `require_service` when the binaries or drivers
are missing (a skip locally, a failure in CI where IMPAX_PREFLIGHT_REQUIRE_SERVICES=1).

Fixtures
- ``sshd_server`` (session): an OpenSSH server; see `SshdServer`.
- ``fresh_sshd`` (function): a private sshd that a test may kill (`.stop()`) mid-run.
- ``sshd_factory`` (session): starts more servers on demand (e.g. a second one with another host key).
- ``postgres_server`` (session): a PostgreSQL 15 cluster with database ``mvf`` and a login role.
- ``odbc_postgres`` (session): an inventory `Database` (kind odbc, driver "PostgreSQL Unicode") + `Host`.
- ``odbc_sqlite`` (session): a function `path -> OdbcTarget` for SQLite through the SQLite3 ODBC driver.
- ``smtp_factory`` (function): starts aiosmtpd SMTP servers (STARTTLS with a certificate made at test time, AUTH);
  see `SmtpServer`.
"""

from __future__ import annotations

import atexit
import getpass
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

from conftest import require_service

SSHD = "/usr/sbin/sshd"
PG_BIN = Path(os.environ.get("IMPAX_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
PASSWORD_USER = "impaxtest"
PG_PASSWORD_ENV = "IMPAX_TEST_PG_PASSWORD"
SSH_PASSWORD_ENV = "IMPAX_TEST_SSH_PASSWORD"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen | None, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with rc {proc.returncode} before listening on port {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f}s")


# ---------------------------------------------------------------------------------------------
# OpenSSH
# ---------------------------------------------------------------------------------------------


def _descendants(pid: int) -> list[int]:
    """Pids of every process below `pid` (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def sshd_available() -> bool:
    return os.path.exists(SSHD) and shutil.which("ssh-keygen") is not None


_password_user: list[str] = []


def _ensure_password_user() -> str | None:
    """A local user with a known password, for password-auth tests (root only); returns its name.

    The user is this test session's own (a random name, removed at exit): test runs that overlap on
    one machine must not reset each other's password.
    """
    if _password_user:
        return _password_user[0]
    if os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("chpasswd"):
        return None
    name = PASSWORD_USER + secrets.token_hex(3)
    password = "Impax-" + secrets.token_urlsafe(12)
    r = subprocess.run(["useradd", "-m", "-s", "/bin/sh", name], capture_output=True, text=True)
    if r.returncode != 0:
        return None
    atexit.register(subprocess.run, ["userdel", "-r", name], capture_output=True)
    r = subprocess.run(["chpasswd"], input=f"{name}:{password}\n", capture_output=True, text=True)
    if r.returncode != 0:
        return None
    os.environ[SSH_PASSWORD_ENV] = password
    _password_user.append(name)
    return name


@dataclass
class SshdServer:
    """A running OpenSSH server on 127.0.0.1 with its own host key and client key."""

    root: Path
    port: int
    host: str = "127.0.0.1"
    user: str = field(default_factory=getpass.getuser)
    key_file: str = ""
    known_hosts: str = ""
    host_key_file: str = ""
    log_path: Path = Path()
    bin_dir: Path = Path()
    password_user: str | None = None
    password_env: str = SSH_PASSWORD_ENV
    proc: subprocess.Popen | None = None

    @property
    def plain_user(self) -> str:
        """A login whose shell (/bin/sh) reads no rc files: fast sessions, like a service account.
        The password user when there is one (root's .bashrc may be slow), else the current user."""
        return self.password_user or self.user

    @property
    def password(self) -> str | None:
        return os.environ.get(self.password_env) if self.password_user else None

    def connections(self) -> int:
        """TCP connections accepted so far (one "Connection from" line each at LogLevel VERBOSE)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return 0
        return len(re.findall(r"^Connection from ", text, re.M))

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def add_command(self, name: str, script: str) -> Path:
        """Put a stand-in command (a shell script body) first on the remote PATH."""
        path = self.bin_dir / name
        path.write_text(script if script.startswith("#!") else "#!/bin/sh\n" + script)
        path.chmod(0o755)
        return path

    def make_host(self, name: str, os: str = "solaris", roles: list[str] | None = None, **transport: Any):
        """An inventory Host reaching this server (key auth, its known_hosts) unless overridden."""
        from impax_preflight.inventory import Host, Transport

        t: dict[str, Any] = dict(
            kind="ssh",
            # not root: root's .bashrc here runs `pyenv init`, whose rehash lock can stall a session ~60 s
            user=self.plain_user,
            port=self.port,
            key_file=self.key_file,
            known_hosts=self.known_hosts,
            use_agent=False,
            connect_timeout_s=5.0,
        )
        t.update(transport)
        return Host(name=name, address=self.host, os=os, roles=roles or ["archive"], transport=Transport(**t))

    def stop(self) -> None:
        """Kill the server (SIGKILL to the listener and every per-connection child: sshd dies mid-run)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        # each connection is served by a child sshd in its own session (setsid): kill the listener and
        # every descendant by pid, never by name (other sshd processes on this machine are not ours)
        for pid in [self.proc.pid] + _descendants(self.proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=10)

    @classmethod
    def start(cls, root: Path, host_key_file: str | None = None, options: dict[str, str] | None = None) -> "SshdServer":
        """Start a server; `options` override sshd_config lines (e.g. {"MaxSessions": "2"})."""
        root.mkdir(parents=True, exist_ok=True)
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # privilege separation directory
        hk = root / "ssh_host_ed25519_key"
        if host_key_file:
            shutil.copy(host_key_file, hk)
            hk.chmod(0o600)
        else:
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(hk)], check=True)
        ck = root / "client_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(ck)], check=True)
        # sshd reads authorized_keys as the logging-in user, and that user runs the stand-in
        # commands: both live in a world-readable folder (pytest's tmp folders are root-only)
        shared = Path(tempfile.mkdtemp(prefix="impax-sshd-"))
        shared.chmod(0o755)
        authorized = shared / "authorized_keys"
        authorized.write_text((root / "client_key.pub").read_text())
        authorized.chmod(0o644)
        bin_dir = shared / "bin"
        bin_dir.mkdir()
        bin_dir.chmod(0o755)
        port = free_port()
        host_pub = (root / "ssh_host_ed25519_key.pub").read_text().split()
        known = root / "known_hosts"
        known.write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
        password_user = _ensure_password_user()
        log_path = root / "sshd.log"
        cfg = root / "sshd_config"
        cfg.write_text(
            "\n".join(
                [
                    f"Port {port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {hk}",
                    f"AuthorizedKeysFile {authorized}",
                    "StrictModes no",
                    "PermitRootLogin yes",
                    "UsePAM no",
                    f"PasswordAuthentication {'yes' if password_user else 'no'}",
                    "KbdInteractiveAuthentication no",
                    "PubkeyAuthentication yes",
                    "LogLevel VERBOSE",
                    "PidFile none",
                    # stand-in commands (fake svcs, fmadm...) come first on the remote PATH
                    f"SetEnv PATH={bin_dir}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
                    # like a real server's default: 10 channels per connection
                    "MaxSessions 10",
                    # file transfers over SFTP, as on a real server (Ansible's script and fetch use it)
                    "Subsystem sftp internal-sftp",
                    "MaxStartups 100:30:200",
                    "LoginGraceTime 20",
                    "",
                ]
            )
        )
        if options:
            kept = [line for line in cfg.read_text().splitlines() if line.split(" ", 1)[0] not in options]
            cfg.write_text("\n".join(kept + [f"{k} {v}" for k, v in options.items()]) + "\n")
        proc = subprocess.Popen(
            [SSHD, "-D", "-E", str(log_path), "-f", str(cfg)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            _wait_port(port, proc, "sshd")
        except RuntimeError as exc:
            err = proc.stderr.read().decode(errors="replace") if proc.poll() is not None and proc.stderr else ""
            proc.kill()
            raise RuntimeError(f"{exc}: {err} {log_path.read_text() if log_path.exists() else ''}") from None
        # the probe above is one connection: start counting from a clean log
        time.sleep(0.1)
        log_path.write_text("")
        return cls(
            root=root,
            port=port,
            key_file=str(ck),
            known_hosts=str(known),
            host_key_file=str(hk),
            log_path=log_path,
            bin_dir=bin_dir,
            password_user=password_user,
            proc=proc,
        )


@pytest.fixture(scope="session")
def sshd_factory(tmp_path_factory):
    """Start extra sshd servers: `sshd_factory(host_key_file=None, **sshd_config_options) -> SshdServer`
    (e.g. `sshd_factory(MaxSessions="2")`); all stopped at the end."""
    require_service(sshd_available(), "OpenSSH server (/usr/sbin/sshd, ssh-keygen: apt-get install openssh-server)")
    started: list[SshdServer] = []

    def start(host_key_file: str | None = None, **options: str) -> SshdServer:
        server = SshdServer.start(tmp_path_factory.mktemp("sshd"), host_key_file=host_key_file, options=options)
        started.append(server)
        return server

    yield start
    for s in started:
        s.stop()
        shutil.rmtree(s.bin_dir.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def sshd_server(sshd_factory) -> SshdServer:
    return sshd_factory()


@pytest.fixture
def fresh_sshd(sshd_factory) -> SshdServer:
    """A private server for tests that kill it."""
    server = sshd_factory()
    yield server
    server.stop()


# ---------------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------------


def postgres_available() -> bool:
    return (PG_BIN / "initdb").exists() and (PG_BIN / "pg_ctl").exists()


@dataclass
class PostgresServer:
    """A PostgreSQL cluster on 127.0.0.1:port; `user`/`password` is a non-superuser login role."""

    root: Path
    port: int
    host: str = "127.0.0.1"
    dbname: str = "mvf"
    user: str = "impax_ro"
    password: str = ""
    password_env: str = PG_PASSWORD_ENV
    socket_dir: str = ""

    def _as_postgres(self, args: list[str], **kw) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run(prefix + args, capture_output=True, text=True, **kw)

    def admin(self, sql: str, dbname: str | None = None) -> str:
        """Run setup SQL as the superuser (psql over the Unix socket); returns psql's output."""
        r = self._as_postgres(
            [str(PG_BIN / "psql"), "-h", self.socket_dir, "-p", str(self.port), "-U", "postgres",
             "-d", dbname or self.dbname, "-v", "ON_ERROR_STOP=1", "-X", "-q", "-A", "-t", "-c", sql]
        )
        if r.returncode != 0:
            raise RuntimeError(f"psql failed: {r.stderr}")
        return r.stdout

    def stop(self) -> None:
        self._as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop"])


@pytest.fixture(scope="session")
def postgres_server() -> PostgresServer:
    require_service(postgres_available(), f"PostgreSQL 15 binaries in {PG_BIN} (apt-get install postgresql-15)")
    is_root = os.geteuid() == 0
    if is_root:
        require_service(subprocess.run(["id", "postgres"], capture_output=True).returncode == 0, "a 'postgres' system user")
    # initdb refuses root: the cluster lives in a /tmp folder owned by postgres (pytest's tmp is 0700 root)
    root = Path(tempfile.mkdtemp(prefix="impax-pg-"))
    if is_root:
        shutil.chown(root, "postgres", "postgres")
    server = PostgresServer(root=root, port=free_port(), socket_dir=str(root), password="pg-" + secrets.token_urlsafe(12))
    os.environ[server.password_env] = server.password
    r = server._as_postgres(
        [str(PG_BIN / "initdb"), "-D", str(root / "data"), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]
    )
    require_service(r.returncode == 0, f"initdb: {r.stderr.strip()[:300]}")
    (root / "data" / "pg_hba.conf").write_text(
        "local all postgres trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
    )
    r = server._as_postgres(
        [str(PG_BIN / "pg_ctl"), "-D", str(root / "data"), "-l", str(root / "postgres.log"), "-w", "-t", "30",
         "-o", f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off", "start"]
    )
    require_service(r.returncode == 0, f"pg_ctl start: {r.stderr.strip()[:300]} {r.stdout.strip()[:300]}")
    try:
        server.admin("CREATE DATABASE mvf", dbname="postgres")
        server.admin(f"CREATE ROLE {server.user} LOGIN PASSWORD '{server.password}'", dbname="postgres")
        server.admin(f"GRANT CONNECT ON DATABASE mvf TO {server.user}; GRANT USAGE ON SCHEMA public TO {server.user};"
                     f" ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {server.user}")
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# ODBC targets
# ---------------------------------------------------------------------------------------------


def odbc_drivers() -> list[str]:
    try:
        import pyodbc
    except ImportError:
        return []
    try:
        return list(pyodbc.drivers())
    except Exception:  # noqa: BLE001 - libodbc missing or broken
        return []


@dataclass
class OdbcTarget:
    """An inventory Database plus the Host it sits on: what `OdbcSession.for_database(db, host)` takes."""

    database: Any
    host: Any

    def open(self):
        from impax_preflight.db.odbc import OdbcSession

        return OdbcSession.for_database(self.database, self.host)


def _db_host(name: str, database) -> Any:
    from impax_preflight.inventory import Host, Transport

    return Host(name=name, address="127.0.0.1", os="linux", roles=["database"], transport=Transport(kind="local"),
                databases=[database])


@pytest.fixture(scope="session")
def odbc_postgres(postgres_server) -> OdbcTarget:
    require_service("PostgreSQL Unicode" in odbc_drivers(), "ODBC driver 'PostgreSQL Unicode' (apt-get install odbc-postgresql)")
    from impax_preflight.inventory import Database
    from impax_preflight.secrets import SecretRef

    db = Database(
        name="mvf",
        kind="odbc",
        driver="PostgreSQL Unicode",
        server=postgres_server.host,
        port=postgres_server.port,
        database=postgres_server.dbname,
        user=postgres_server.user,
        password=SecretRef(f"env:{postgres_server.password_env}"),
        dialect="postgres",
    )
    return OdbcTarget(database=db, host=_db_host("pgdb", db))


@pytest.fixture(scope="session")
def odbc_sqlite() -> Callable[[str | Path], OdbcTarget]:
    """`odbc_sqlite(path)`: SQLite file `path` through the SQLite3 ODBC driver (libsqliteodbc)."""
    require_service("SQLite3" in odbc_drivers(), "ODBC driver 'SQLite3' (apt-get install libsqliteodbc)")
    from impax_preflight.inventory import Database

    def make(path: str | Path) -> OdbcTarget:
        db = Database(name=Path(path).stem, kind="odbc", driver="SQLite3", database=str(path), dialect="sqlite")
        return OdbcTarget(database=db, host=_db_host("sqlitehost", db))

    return make


# ---------------------------------------------------------------------------------------------
# SMTP (aiosmtpd): STARTTLS with a self-signed certificate made at test time, AUTH LOGIN/PLAIN
# ---------------------------------------------------------------------------------------------


def make_self_signed_cert(folder: Path, hostname: str = "localhost") -> tuple[Path, Path]:
    """A throw-away CA-less certificate for `hostname` and 127.0.0.1: (cert.pem, key.pem)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class SmtpServer:
    """A running aiosmtpd server on 127.0.0.1: what it received, and the login it accepts."""

    port: int
    cert: Path | None
    user: str
    password: str
    messages: list = field(default_factory=list)  # email.message.EmailMessage, one per delivered mail
    logins: list = field(default_factory=list)  # (login, accepted) per AUTH attempt
    controller: Any = None

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_factory(tmp_path):
    """`smtp_factory(starttls=True, auth=True)` starts a real SMTP server (aiosmtpd) on a free port.

    With `starttls`, the server offers STARTTLS with a certificate made here (its PEM is `.cert`,
    to give the client as its CA) and requires it before AUTH and MAIL; with `auth`, AUTH is required
    and only `.user` / `.password` is accepted.
    """
    try:
        import ssl
        from email import message_from_bytes
        from email.policy import default as default_policy

        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword
    except ImportError:
        require_service(False, "aiosmtpd (pip install aiosmtpd)")
    servers: list[SmtpServer] = []

    def start(starttls: bool = True, auth: bool = True) -> SmtpServer:
        server = SmtpServer(port=free_port(), cert=None, user="preflight", password="Sm7p-" + secrets.token_hex(6))
        context = None
        if starttls:
            folder = tmp_path / f"smtp{len(servers)}"
            folder.mkdir()
            cert, key = make_self_signed_cert(folder)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
            server.cert = cert

        class Handler:
            async def handle_DATA(self, smtp, session, envelope):
                server.messages.append(message_from_bytes(envelope.content, policy=default_policy))
                return "250 OK"

        def authenticator(smtp, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == server.user
                  and auth_data.password.decode() == server.password)
            server.logins.append((auth_data.login.decode() if isinstance(auth_data, LoginPassword) else None, ok))
            return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

        kwargs: dict[str, Any] = {"hostname": "127.0.0.1", "port": server.port}
        if starttls:
            kwargs.update(tls_context=context, require_starttls=True)
        if auth:
            kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=starttls)
        server.controller = Controller(Handler(), **kwargs)
        server.controller.start()
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.stop()
