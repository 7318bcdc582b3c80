"""The site inventory: site, hosts, roles, databases, declared facts, thresholds.

Loaded from TOML or YAML and validated with pydantic. A bad file raises `InventoryError` whose
message names the file, the line and the field, with a hint: never a traceback.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .dbwindow import DbWindow, parse_window
from .documents import DocumentError, read_document, validation_problems
from .secrets import SecretRef
from .vocabulary import DbKind, DbPurpose, OsName, Platform, Role, Tier

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Thresholds(_Strict):
    """Site-overridable limits. Defaults follow the vendor guide."""

    tablespace_min_gb: float = 2.0
    tablespace_warn_gb: float = 3.0
    backup_max_age_hours: float = 24.0
    fra_max_used_pct: float = 80.0
    disk_warn_pct: float = 90.0
    disk_fail_pct: float = 97.0
    appserver_backup_max_age_days: float = 7.0
    repository_min_free_gb: float = 10.0
    check_timeout_s: float = 300.0
    command_timeout_s: float = 60.0
    statement_timeout_s: float = 240.0
    sessions_per_host: int = Field(default=2, ge=1, le=16)
    sessions_per_database: int = Field(default=2, ge=1, le=16)


class Features(_Strict):
    """What the site declares it uses. Versions are strings ("4.0"); None means not used / unknown."""

    talkstation: str | None = None
    pacs_broker: str | None = None
    connectivity_manager: str | None = None
    impax_reporting: bool = False
    reports_rtf_migrated: bool | None = None
    pacs_broker_su2: bool | None = None
    multi_site: bool = False
    vpn: bool = False
    epr_hl7: bool = False
    impax_ris: bool = False
    ris_cd_burning: bool = False
    cardiology: bool = False
    new_cm_features: list[str] = Field(default_factory=list)
    parallel_clusters: bool = False
    traveling_server: bool = False
    database_mirroring: bool = False
    custom: dict[str, Any] = Field(default_factory=dict)

    @field_validator("talkstation", "pacs_broker", "connectivity_manager", mode="before")
    @classmethod
    def _version_text(cls, v: Any) -> Any:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return str(v)
        if v is False:
            return None
        return v


class Transport(_Strict):
    """How to reach a host: ssh, local, or bundle (outputs collected on the server)."""

    kind: str = "ssh"
    user: str | None = None
    port: int = Field(default=22, ge=1, le=65535)
    key_file: str | None = None
    passphrase: SecretRef | None = None
    password: SecretRef | None = None
    use_agent: bool = True
    known_hosts: str | None = None
    trust_new_host_key: bool = False
    jump: str | None = Field(default=None, description="user@host[:port] of a jump host")
    privilege: str | None = Field(default=None, description="prefix for privileged commands: pfexec or 'sudo -n'")
    bundle: str | None = None
    # a bundle is untrusted input: output files and the whole bundle are refused past these sizes
    bundle_member_max_mb: float = Field(default=64.0, gt=0, le=1024 * 1024)
    bundle_max_mb: float = Field(default=1024.0, gt=0, le=1024 * 1024)
    connect_timeout_s: float = 15.0
    keepalive_s: float = 30.0

    @model_validator(mode="after")
    def _needs(self) -> "Transport":
        if self.kind == "bundle" and not self.bundle:
            raise ValueError("a bundle transport needs 'bundle' = path of the collected folder or zip")
        return self


class Database(_Strict):
    """A database on a host, reached read-only."""

    name: str
    kind: DbKind
    purpose: DbPurpose = "impax"
    dsn: str | None = Field(default=None, description="Oracle easy-connect or TNS alias; ODBC DSN name")
    server: str | None = Field(default=None, description="server address; defaults to the host's address")
    port: int | None = None
    service_name: str | None = None
    instance: str | None = None
    database: str | None = Field(default=None, description="SQL Server / ODBC database name")
    driver: str | None = Field(default=None, description="ODBC driver name, e.g. 'ODBC Driver 18 for SQL Server'")
    odbc_options: dict[str, str] = Field(default_factory=dict)
    path: str | None = Field(default=None, description="SQLite file")
    dialect: str | None = Field(default=None, description="for kind=odbc: oracle, tsql, postgres, sqlite")
    user: str | None = None
    password: SecretRef | None = None
    schema_: str | None = Field(default=None, alias="schema", description="table owner: DBADMIN (Oracle), dbo (SQL Server)")
    mirroring: bool = False
    primary_server: str | None = Field(default=None, description="server that should hold the principal (mirroring)")
    statement_timeout_s: float | None = None
    max_sessions: int | None = Field(default=None, ge=1, le=16)

    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=True)

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

    ae_title: str
    port: int = Field(ge=1, le=65535)
    role: str = "archive"
    address: str | None = None


class Host(_Strict):
    name: str
    address: str | None = None
    os: OsName
    roles: list[Role] = Field(min_length=1)
    tier: Tier = "prod"
    impax_version: str | None = Field(default=None, description="overrides the site's for this host")
    transport: Transport = Field(default_factory=Transport)
    facts: dict[str, Any] = Field(default_factory=dict, description="declared facts, used when discovery cannot tell")
    databases: list[Database] = Field(default_factory=list)
    aes: list[DicomAE] = Field(default_factory=list)
    backup_pacs: str | None = Field(default=None, description="name of this production host's backup PACS")

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

    name: str = Field(description="as the query writes it, e.g. dbadmin.study_age (schema or package qualified)")
    reason: str = Field(description="why it only reads: who checked it, and when")

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
    path: str | None = Field(default=None, description="the SQLite history store; default: the user's data folder")
    keep_runs: int = Field(default=200, ge=2, le=100_000, description="runs kept per site; older ones are pruned")


class MailNotification(_Strict):
    """[site.notify.mail]: e-mail the verdict, the changes since the last run and the HTML report (notify_mail)."""

    to: list[str] = Field(min_length=1, description="recipients")
    sender: str = Field(alias="from", description="the From address")
    server: str = Field(description="SMTP server name or address")
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = Field(
        default="starttls", description="starttls (port 587), tls (implicit TLS, port 465) or none (a local relay, no login)")
    user: str | None = None
    password: SecretRef | None = None
    ca_file: str | None = Field(default=None, description="CA certificate(s) that signed the server's certificate (PEM)")
    timeout_s: float = Field(default=30.0, gt=0, le=600)
    subject_prefix: str = "[impax-preflight]"
    attach_html: bool = True
    max_attachment_mb: float = Field(default=10.0, gt=0, le=100)
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


class Site(_Strict):
    name: str
    impax_version: str = Field(description="installed (source) IMPAX version, e.g. 6.3.1")
    target_version: str = "6.5.1"
    platform: Platform
    features: Features = Field(default_factory=Features)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    software_patterns: dict[str, str] = Field(
        default_factory=dict,
        description="regexes on installed-software DisplayName, e.g. connectivity_manager = 'Connectivity Manager'",
    )
    requirements: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="per-role hardware minimums overriding the built-in table"
    )
    options: dict[str, dict[str, Any]] = Field(default_factory=dict, description="per-check or per-plugin settings")
    sql: SqlPolicy = Field(default_factory=SqlPolicy, description="functions the read-only guard may let through")
    upgrade_date: date | None = Field(default=None, description="the planned upgrade weekend (burn-down target)")
    history: HistorySettings = Field(default_factory=HistorySettings)
    notify: Notify = Field(default_factory=Notify)
    database_window: DatabaseWindow | None = Field(
        default=None, description="full-table scans start only inside these hours (default: any time)")

    @field_validator("impax_version", "target_version", mode="before")
    @classmethod
    def _v(cls, v: Any) -> Any:
        return str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


class Inventory(_Strict):
    site: Site
    hosts: list[Host] = Field(min_length=1)
    source: str | None = Field(default=None, exclude=True)

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


def connection_problems(inv: Inventory) -> list[str]:
    """What would stop a connection, found without connecting: missing files, unset variables.

    Secret values are never read here beyond checking that an env: variable is set or a file: exists.
    """
    import os

    out: list[str] = []

    def ref_problem(where: str, ref: SecretRef | None) -> None:
        if ref is None:
            return
        if ref.scheme == "env" and ref.reference not in os.environ:
            out.append(f"{where}: environment variable {ref.reference} is not set")
        elif ref.scheme == "file" and not Path(ref.reference).expanduser().is_file():
            out.append(f"{where}: secret file {ref.reference} does not exist")

    for h in inv.hosts:
        t = h.transport
        where = f"hosts.{h.name}.transport"
        if t.kind == "ssh":
            if not t.user:
                out.append(f"{where}: no user to log in as")
            kh = Path(t.known_hosts or "~/.ssh/known_hosts").expanduser()
            if not kh.is_file() and not t.trust_new_host_key:
                out.append(f"{where}: known_hosts file {kh} does not exist: add the host key "
                           f"(ssh-keyscan -p {t.port} {h.reach} >> {kh}, then verify its fingerprint) or set "
                           "trust_new_host_key = true for the first run")
            if t.key_file and not Path(t.key_file).expanduser().is_file():
                out.append(f"{where}: key file {t.key_file} does not exist")
            if not (t.key_file or t.password or t.use_agent):
                out.append(f"{where}: no way to log in: give key_file, password or use_agent = true")
        elif t.kind == "bundle" and t.bundle and not Path(t.bundle).exists():
            out.append(f"{where}: bundle {t.bundle} does not exist (run the collector from `impax-preflight collect`)")
        ref_problem(f"{where}.password", t.password)
        ref_problem(f"{where}.passphrase", t.passphrase)
        for db in h.databases:
            dwhere = f"hosts.{h.name}.databases.{db.name}"
            if db.kind == "sqlite" and db.path and not Path(db.path).is_file():
                out.append(f"{dwhere}: SQLite file {db.path} does not exist")
            ref_problem(f"{dwhere}.password", db.password)
    mail = inv.site.notify.mail
    if mail is not None:
        ref_problem("site.notify.mail.password", mail.password)
        if mail.ca_file and not Path(mail.ca_file).expanduser().is_file():
            out.append(f"site.notify.mail.ca_file: {mail.ca_file} does not exist")
    return out


class InventoryError(DocumentError):
    """A malformed inventory."""


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
    _resolve_paths(inv, path.parent)
    return inv


def _resolve_paths(inv: Inventory, base: Path) -> None:
    def fix(p: str | None) -> str | None:
        if not p:
            return p
        q = Path(p).expanduser()
        return str(q if q.is_absolute() else (base / q).resolve())

    inv.site.history.path = fix(inv.site.history.path)
    if inv.site.notify.mail is not None:
        inv.site.notify.mail.ca_file = fix(inv.site.notify.mail.ca_file)
    for h in inv.hosts:
        t = h.transport
        t.bundle, t.key_file, t.known_hosts = fix(t.bundle), fix(t.key_file), fix(t.known_hosts)
        for db in h.databases:
            db.path = fix(db.path)
