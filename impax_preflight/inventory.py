"""The site inventory: site, hosts, roles, databases, declared facts, thresholds.

Loaded from TOML or YAML and validated with pydantic. A bad file raises `InventoryError` whose
message names the file, the line and the field, with a hint: never a traceback.
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from . import dialects
from .dbwindow import DbWindow, parse_window
from .documents import DocumentError, locate, read_document, validation_problems
from .fields import (
    DAY_S,
    Days,
    FreeText,
    Gigabytes,
    Hours,
    Line,
    Name,
    PathText,
    Percent,
    Port,
    Regex,
    Seconds,
    VersionLabel,
    VersionText,
    count,
    is_file,
    number,
    text,
)
from .secrets import SecretRef
from .versions import parse_version
from .vocabulary import PRIVILEGE_PREFIXES, DbKind, DbPurpose, OsName, Platform, Role, Tier

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def split_jump(spec: str) -> tuple[str | None, str, int]:
    """'user@host[:port]' -> (user or None, host, port); IPv6 goes in brackets: user@[::1]:2222.
    Raises ValueError saying what is wrong (checked when the inventory loads, used when connecting)."""
    form = "write user@host or user@host:port (an IPv6 address in brackets: user@[fe80::1]:22)"
    user, _, rest = spec.strip().rpartition("@")
    if rest.startswith("["):
        host, closed, tail = rest[1:].partition("]")
        if not closed or (tail and not tail.startswith(":")):
            raise ValueError(f"jump host {spec!r} is not of the form user@host[:port]: {form}")
        has_port, port_text = bool(tail), tail[1:]
    elif rest.count(":") == 1:
        host, _, port_text = rest.partition(":")
        has_port = True
    else:
        host, has_port, port_text = rest, False, ""  # a name, an IPv4 address or a bare IPv6 address
    if not host or any(c.isspace() or c in "/@" for c in host) or any(c.isspace() for c in user):
        raise ValueError(f"jump host {spec!r} is not of the form user@host[:port]: {form}")
    port = 22
    if has_port:
        if not (port_text.isdigit() and len(port_text) <= 5 and 1 <= int(port_text) <= 65535):
            raise ValueError(f"jump host {spec!r}: the port {port_text[:20]!r} is not a number from 1 to 65535")
        port = int(port_text)
    return user or None, host, port


#: connection-string keywords an inventory may not set in odbc_options: a password there would be
#: a literal in the file, outside the secret references (and never masked)
_ODBC_SECRET_KEYS = ("PWD", "PASSWORD")
_ODBC_KEY = re.compile(r"[A-Za-z][A-Za-z0-9 _-]{0,63}")


def odbc_option_problem(key: str, value: str) -> str | None:
    """Why an odbc_options entry cannot be used, or None."""
    if not _ODBC_KEY.fullmatch(key):
        return f"{key[:60]!r} is not an ODBC connection keyword (a letter, then letters, digits, space, _ or -; at most 64)"
    if key.strip().upper() in _ODBC_SECRET_KEYS:
        return (f"{key} may not be set in odbc_options: give the password as `password` with a secret reference "
                "(env:, file:, keyring:, prompt:), so that it is never written in the file or shown")
    if key == "LoginTimeout":
        try:
            seconds = float(value)
        except ValueError:
            seconds = float("nan")
        if not 0 < seconds <= 3600:
            return f"LoginTimeout {value[:20]!r} is not a number of seconds from 1 to 3600"
    return None


class Thresholds(_Strict):
    """Site-overridable limits. Defaults follow the vendor guide."""

    tablespace_min_gb: Gigabytes = 2.0
    tablespace_warn_gb: Gigabytes = 3.0
    backup_max_age_hours: Hours = 24.0
    fra_max_used_pct: Percent = 80.0
    disk_warn_pct: Percent = 90.0
    disk_fail_pct: Percent = 97.0
    appserver_backup_max_age_days: Days = 7.0
    repository_min_free_gb: Gigabytes = 10.0
    check_timeout_s: Seconds = 300.0
    command_timeout_s: Seconds = 60.0
    statement_timeout_s: Seconds = 240.0
    sessions_per_host: count(1, 16, "sessions at once") = 2  # type: ignore[valid-type]
    sessions_per_database: count(1, 16, "sessions at once") = 2  # type: ignore[valid-type]


class Features(_Strict):
    """What the site declares it uses. Versions are strings ("4.0"); None means not used / unknown."""

    talkstation: VersionText | None = None
    pacs_broker: VersionText | None = None
    connectivity_manager: VersionText | None = None
    impax_reporting: bool = False
    reports_rtf_migrated: bool | None = None
    pacs_broker_su2: bool | None = None
    multi_site: bool = False
    vpn: bool = False
    epr_hl7: bool = False
    impax_ris: bool = False
    ris_cd_burning: bool = False
    cardiology: bool = False
    new_cm_features: list[Name] = Field(default_factory=list)
    parallel_clusters: bool = False
    traveling_server: bool = False
    database_mirroring: bool = False
    custom: dict[Name, Any] = Field(default_factory=dict)

    @field_validator("talkstation", "pacs_broker", "connectivity_manager", mode="before")
    @classmethod
    def _not_used(cls, v: Any) -> Any:
        return None if v is False else v  # `talkstation = false`: not used


class Transport(_Strict):
    """How to reach a host: ssh, local, or bundle (outputs collected on the server)."""

    kind: Name = "ssh"
    user: Name | None = None
    port: Port = 22
    key_file: PathText | None = None
    passphrase: SecretRef | None = None
    password: SecretRef | None = None
    use_agent: bool = True
    known_hosts: PathText | None = None
    trust_new_host_key: bool = False
    jump: Name | None = Field(default=None, description="user@host[:port] of a jump host")
    privilege: Name | None = Field(default=None, description="prefix for privileged commands: pfexec or 'sudo -n'")
    bundle: PathText | None = None
    # a bundle is untrusted input: output files and the whole bundle are refused past these sizes
    bundle_member_max_mb: number(gt=0, le=1024 * 1024, limits="more than 0, at most 1 TB") = 64.0  # type: ignore[valid-type]
    bundle_max_mb: number(gt=0, le=1024 * 1024, limits="more than 0, at most 1 TB") = 1024.0  # type: ignore[valid-type]
    connect_timeout_s: Seconds = 15.0
    keepalive_s: number(ge=0, le=DAY_S, limits="0 (off) to 86400 seconds") = 30.0  # type: ignore[valid-type]

    @field_validator("jump")
    @classmethod
    def _jump(cls, v: str | None) -> str | None:
        if v is not None:
            split_jump(v)
        return v

    @field_validator("privilege")
    @classmethod
    def _privilege(cls, v: str | None) -> str | None:
        if v is not None and v.strip() not in PRIVILEGE_PREFIXES:
            raise ValueError(f"{v[:60]!r} is not a privilege prefix the tool uses; write one of "
                             + ", ".join(repr(p) for p in PRIVILEGE_PREFIXES) + " (pfexec: Solaris RBAC; sudo -n: never asks for a password)")
        return v

    @model_validator(mode="after")
    def _needs(self) -> "Transport":
        if self.kind == "bundle" and not self.bundle:
            raise ValueError("a bundle transport needs 'bundle' = path of the collected folder or zip")
        return self


#: user/password@service (Oracle's classic connect string) or an ODBC PWD= attribute inside a dsn
_DSN_CREDENTIALS = re.compile(r"^[^@()/\s]+/[^@()\s]*@")
_ODBC_CREDENTIALS = re.compile(r"(^|;)\s*(pwd|password)\s*=", re.I)


class Database(_Strict):
    """A database on a host, reached read-only."""

    name: Name
    kind: DbKind
    purpose: DbPurpose = "impax"
    dsn: Line | None = Field(default=None, description="Oracle easy-connect or TNS alias; ODBC DSN name")
    server: Name | None = Field(default=None, description="server address; defaults to the host's address")
    port: Port | None = None
    service_name: Name | None = None
    instance: Name | None = None
    database: Name | None = Field(default=None, description="SQL Server / ODBC database name")
    driver: Name | None = Field(default=None, description="ODBC driver name, e.g. 'ODBC Driver 18 for SQL Server'")
    odbc_options: dict[str, Line] = Field(default_factory=dict)
    path: PathText | None = Field(default=None, description="SQLite file")
    dialect: Name | None = Field(default=None, description="for kind=odbc: oracle, tsql, postgres, sqlite")
    user: Name | None = None
    password: SecretRef | None = None
    schema_: Name | None = Field(default=None, alias="schema", description="table owner: DBADMIN (Oracle), dbo (SQL Server)")
    mirroring: bool = False
    primary_server: Name | None = Field(default=None, description="server that should hold the principal (mirroring)")
    statement_timeout_s: Seconds | None = None
    max_sessions: count(1, 16, "sessions at once") | None = None  # type: ignore[valid-type]

    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=True)

    @field_validator("odbc_options")
    @classmethod
    def _odbc_options(cls, v: dict[str, str]) -> dict[str, str]:
        for key, value in v.items():
            problem = odbc_option_problem(key, value)
            if problem:
                raise ValueError(problem)
        return v

    @field_validator("dialect")
    @classmethod
    def _dialect(cls, v: str | None) -> str | None:
        if v is not None and dialects.normalize(v) not in dialects.DIALECTS:
            raise ValueError(f"{v!r} is not a SQL dialect the tool knows; write one of {', '.join(dialects.DIALECTS)}")
        return v

    @field_validator("dsn")
    @classmethod
    def _dsn(cls, v: str | None) -> str | None:
        # a password written into the connect string would reach process lists, logs and evidence,
        # unmasked: credentials go in `user` and `password` (a secret reference), never in dsn
        if v is not None and (_DSN_CREDENTIALS.search(v) or _ODBC_CREDENTIALS.search(v)):
            raise ValueError("the dsn holds a user and password (user/password@... or PWD=...): put the user in "
                             "`user` and the password in `password` as a secret reference (env:, file:, keyring:, "
                             "prompt:)")
        return v

    @model_validator(mode="after")
    def _needs(self) -> "Database":
        if self.kind == "sqlite" and not self.path:
            raise ValueError("a sqlite database needs 'path'")
        if self.kind == "odbc" and not (self.dsn or self.driver):
            raise ValueError("an odbc database needs 'dsn' (a DSN name) or 'driver'")
        return self

    @property
    def schema(self) -> str | None:  # noqa: D401 - convenience
        return self.schema_


class DicomAE(_Strict):
    """A DICOM application entity reachable from where the tool runs (used by the DICOM plugin)."""

    ae_title: text(16, "a DICOM AE title")  # type: ignore[valid-type]
    port: Port
    role: Name = "archive"
    address: Name | None = None


class Host(_Strict):
    name: Name
    address: Name | None = None
    os: OsName
    roles: list[Role] = Field(min_length=1)
    tier: Tier = "prod"
    impax_version: VersionLabel | None = Field(default=None, description="overrides the site's for this host")
    transport: Transport = Field(default_factory=Transport)
    facts: dict[Name, Any] = Field(default_factory=dict, description="declared facts, used when discovery cannot tell")
    databases: list[Database] = Field(default_factory=list)
    aes: list[DicomAE] = Field(default_factory=list)
    backup_pacs: Name | None = Field(default=None, description="name of this production host's backup PACS")

    @model_validator(mode="after")
    def _unique_dbs(self) -> "Host":
        seen: set[str] = set()
        for db in self.databases:
            if db.name in seen:
                raise ValueError(f"database name {db.name!r} appears twice on host {self.name!r}")
            seen.add(db.name)
        return self

    @property
    def reach(self) -> str:
        return self.address or self.name


class AllowedFunction(_Strict):
    """A SQL function the site lets queries call besides the built-ins the guard knows (docs/security.md)."""

    name: Name = Field(description="as the query writes it, e.g. dbadmin.study_age (schema or package qualified)")
    reason: FreeText = Field(description="why it only reads: who checked it, and when")

    @field_validator("reason")
    @classmethod
    def _reason(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("say why this function only reads (who checked its code, and when)")
        return v

    @field_validator("name")
    @classmethod
    def _callable(cls, v: str) -> str:
        from .sqlfunctions import site_function_problem  # pure data, no sqlglot

        problem = site_function_problem(v)
        if problem:
            raise ValueError(problem)
        return v.lower()


class SqlPolicy(_Strict):
    """[site.sql]: what the read-only guard lets through besides its own lists."""

    allow_functions: list[AllowedFunction] = Field(default_factory=list)


class HistorySettings(_Strict):
    """[site.history]: where runs of this site are recorded (see impax_preflight.history)."""

    enabled: bool = True
    path: PathText | None = Field(default=None, description="the SQLite history store; default: the user's data folder")
    keep_runs: count(2, 100_000, "runs kept") = Field(default=200, description="runs kept per site; older ones are pruned")  # type: ignore[valid-type]


class MailNotification(_Strict):
    """[site.notify.mail]: e-mail the verdict, the changes since the last run and the HTML report (notify_mail)."""

    to: list[Name] = Field(min_length=1, description="recipients")
    sender: Name = Field(alias="from", description="the From address")
    server: Name = Field(description="SMTP server name or address")
    port: Port = 587
    security: Literal["starttls", "tls", "none"] = Field(
        default="starttls", description="starttls (port 587), tls (implicit TLS, port 465) or none (a local relay, no login)")
    user: Name | None = None
    password: SecretRef | None = None
    ca_file: PathText | None = Field(default=None, description="CA certificate(s) that signed the server's certificate (PEM)")
    timeout_s: number(gt=0, le=600, limits="more than 0 and at most 600 seconds") = 30.0  # type: ignore[valid-type]
    subject_prefix: Name = "[impax-preflight]"
    attach_html: bool = True
    max_attachment_mb: number(gt=0, le=100, limits="more than 0 and at most 100 MB") = 10.0  # type: ignore[valid-type]
    when: Literal["always", "problems", "changes"] = Field(
        default="always", description="always; problems (verdict not GO); changes (verdict or blockers changed since the last run)")

    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=True)

    @field_validator("to", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("to")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        for a in v:
            if not re.fullmatch(r"[^@\s<>,;]+@[^@\s<>,;]+", a):
                raise ValueError(f"{a!r} is not an e-mail address (write user@host, one per list item)")
        return v

    @model_validator(mode="after")
    def _login_needs_tls(self) -> "MailNotification":
        if (self.user or self.password) and self.security == "none":
            raise ValueError("a login over an unencrypted connection is refused: use security = \"starttls\" (or \"tls\")")
        if bool(self.user) != bool(self.password):
            raise ValueError("give both 'user' and 'password' (a secret reference such as 'env:SMTP_PASSWORD'), or neither")
        return self


class Notify(_Strict):
    """[site.notify]: notifications sent when a run is finished."""

    mail: MailNotification | None = None


class DatabaseWindow(_Strict):
    """[site.database_window]: the hours in which full-table scans of the databases may start."""

    hours: str | list[str] = Field(description='e.g. "20:00-06:00" (may cross midnight) or a list of such spans')
    timezone: str | None = Field(default=None, description="IANA zone, e.g. Europe/Brussels; default: this machine's clock")

    @model_validator(mode="after")
    def _valid(self) -> "DatabaseWindow":
        self.window()  # WindowError is a ValueError: reported with file, line and field
        return self

    def window(self) -> "DbWindow":
        return parse_window(self.hours, self.timezone)


Requirement = Literal["cpus", "memory_gb", "free_disk_gb"]
Minimum = number(ge=0, le=1_000_000, limits="a minimum is 0 to 1,000,000")


class Site(_Strict):
    name: Name
    impax_version: VersionLabel = Field(description="installed (source) IMPAX version, e.g. 6.3.1")
    target_version: VersionText = "6.5.1"
    platform: Platform
    features: Features = Field(default_factory=Features)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    software_patterns: dict[Name, Regex] = Field(
        default_factory=dict,
        description="regexes on installed-software DisplayName, e.g. connectivity_manager = 'Connectivity Manager'",
    )
    requirements: dict[Role, dict[Requirement, Minimum]] = Field(
        default_factory=dict, description="per-role hardware minimums overriding the built-in table"
    )
    options: dict[Name, dict[Name, Any]] = Field(default_factory=dict, description="per-check or per-plugin settings")
    sql: SqlPolicy = Field(default_factory=SqlPolicy, description="functions the read-only guard may let through")
    upgrade_date: date | None = Field(default=None, description="the planned upgrade weekend (burn-down target)")
    history: HistorySettings = Field(default_factory=HistorySettings)
    notify: Notify = Field(default_factory=Notify)
    database_window: DatabaseWindow | None = Field(
        default=None, description="full-table scans start only inside these hours (default: any time)")


class Inventory(_Strict):
    site: Site
    hosts: list[Host] = Field(min_length=1)
    source: str | None = Field(default=None, exclude=True)
    #: field path -> line in the file it was loaded from (for errors found after loading)
    _lines: dict[tuple, int] = PrivateAttr(default_factory=dict)

    def locate(self, loc: tuple) -> str:
        """``file:line: field`` of a field path such as ("site", "options", "os.disk_space", "exclude_mounts")."""
        return locate(self.source or "inventory", self._lines, loc)

    @model_validator(mode="after")
    def _unique_hosts(self) -> "Inventory":
        seen: set[str] = set()
        for h in self.hosts:
            if h.name in seen:
                raise ValueError(f"host name {h.name!r} appears twice")
            seen.add(h.name)
        names = {h.name for h in self.hosts}
        for h in self.hosts:
            if h.backup_pacs and h.backup_pacs not in names:
                raise ValueError(f"host {h.name!r}: backup_pacs {h.backup_pacs!r} is not a host of this inventory")
        return self

    def host(self, name: str) -> Host:
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(name)

    def secret_refs(self) -> list[tuple[str, SecretRef]]:
        """Every secret reference with where it is, for prompting ahead and flagging plain ones."""
        out = []
        for h in self.hosts:
            for fld in ("password", "passphrase"):
                ref = getattr(h.transport, fld)
                if ref:
                    out.append((f"hosts.{h.name}.transport.{fld}", ref))
            for db in h.databases:
                if db.password:
                    out.append((f"hosts.{h.name}.databases.{db.name}.password", db.password))
        mail = self.site.notify.mail
        if mail is not None and mail.password:
            out.append(("site.notify.mail.password", mail.password))
        return out

    def summary(self) -> dict[str, Any]:
        """A masked summary for reports: no secret value, only references."""
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        for h in data.get("hosts", []):
            for fld in ("password", "passphrase"):
                if fld in h.get("transport", {}):
                    h["transport"][fld] = SecretRef(h["transport"][fld]).display()
            for db in h.get("databases", []):
                if "password" in db:
                    db["password"] = SecretRef(db["password"]).display()
        mail = data.get("site", {}).get("notify", {}).get("mail") or {}
        if "password" in mail:
            mail["password"] = SecretRef(mail["password"]).display()
        data["source"] = self.source
        return data


def target_of(host: "Host | None", database: "Database | None" = None) -> str:
    """The name a check's target goes by in findings and reports: ``host/database``, ``host`` or ``site``."""
    if host is None:
        return "site"
    return f"{host.name}/{database.name}" if database is not None else host.name


def connection_problems(inv: Inventory) -> list[str]:
    """What would stop a connection, found without connecting: missing files, unset variables.

    Secret values are never read here beyond checking that an env: variable is set or a file: exists.
    """
    out: list[str] = []
    for h in inv.hosts:
        t = h.transport
        where = f"hosts.{h.name}.transport"
        if t.kind == "ssh":
            if not t.user:
                out.append(f"{where}: no user to log in as")
            kh = t.known_hosts or "~/.ssh/known_hosts"
            if not is_file(kh) and not t.trust_new_host_key:
                out.append(f"{where}: known_hosts file {kh} does not exist: add the host key "
                           f"(ssh-keyscan -p {t.port} {h.reach} >> {kh}, then verify its fingerprint) or set "
                           "trust_new_host_key = true for the first run")
            if t.key_file and not is_file(t.key_file):
                out.append(f"{where}: key file {t.key_file} does not exist")
            if not (t.key_file or t.password or t.use_agent):
                out.append(f"{where}: no way to log in: give key_file, password or use_agent = true")
        elif t.kind == "bundle" and t.bundle and not _exists(t.bundle):
            out.append(f"{where}: bundle {t.bundle} does not exist (run the collector from `impax-preflight collect`)")
        for db in h.databases:
            dwhere = f"hosts.{h.name}.databases.{db.name}"
            if db.kind == "sqlite" and db.path and not is_file(db.path):
                out.append(f"{dwhere}: SQLite file {db.path} does not exist")
    for where, version in [("site.impax_version", inv.site.impax_version)] + [
            (f"hosts.{h.name}.impax_version", h.impax_version) for h in inv.hosts if h.impax_version]:
        if parse_version(version) is None:
            out.append(f"{where}: {version!r} is not a version: the source-version check will report an error (so no GO) "
                       "until it is set, e.g. \"6.3.1\"")
    mail = inv.site.notify.mail
    if mail is not None:
        if mail.ca_file and not is_file(mail.ca_file):
            out.append(f"site.notify.mail.ca_file: {mail.ca_file} does not exist")
    for where, ref in inv.secret_refs():
        if ref.scheme == "env" and ref.reference not in os.environ:
            out.append(f"{where}: environment variable {ref.reference} is not set")
        elif ref.scheme == "file" and not is_file(ref.reference):
            out.append(f"{where}: secret file {ref.reference} does not exist")
    return out


def _exists(path: str) -> bool:
    try:
        return Path(path).expanduser().exists()
    except (OSError, ValueError, RuntimeError):
        return False


class InventoryError(DocumentError, ValueError):
    """A malformed inventory: `path`, and `problems`, one ``file:line: field: what`` line each."""


def load_inventory(path: str | Path) -> Inventory:
    """Load and validate a TOML (.toml) or YAML (.yaml/.yml) inventory.

    Relative paths inside (bundles, SQLite files, key files, known_hosts) are resolved against the
    inventory's folder.
    """
    path = Path(path)
    try:
        data, lines = read_document(path, "inventory")
    except DocumentError as exc:
        raise InventoryError(exc.path, exc.problems) from None
    if not isinstance(data, dict):
        raise InventoryError(str(path), [f"{path}:1: the inventory must be a mapping with 'site' and 'hosts'"])
    try:
        inv = Inventory.model_validate(data)
    except ValidationError as exc:
        raise InventoryError(str(path), validation_problems(path, lines, exc)) from None
    inv.source = str(path)
    inv._lines = lines
    _resolve_paths(inv, path.parent)
    return inv


def _resolve_paths(inv: Inventory, base: Path) -> None:
    def fix(p: str | None) -> str | None:
        if not p:
            return p
        try:
            q = Path(p).expanduser()
            return str(q if q.is_absolute() else (base / q).resolve())
        except (OSError, RuntimeError):  # no home folder, a symlink loop: keep it as written, the run says why
            return os.path.abspath(base / p)

    inv.site.history.path = fix(inv.site.history.path)
    if inv.site.notify.mail is not None:
        inv.site.notify.mail.ca_file = fix(inv.site.notify.mail.ca_file)
    for h in inv.hosts:
        t = h.transport
        t.bundle, t.key_file, t.known_hosts = fix(t.bundle), fix(t.key_file), fix(t.known_hosts)
        for db in h.databases:
            db.path = fix(db.path)
