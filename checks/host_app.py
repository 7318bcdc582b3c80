"""Application-server backup, AS3000 software repository and the Cross-Cluster Dictation Interlock
(guide: "Backing up Application Server configuration files", "Creating the AS3000 software
repository", "Configuring the Study Status Relay service").
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Iterator

from impax_preflight import options
from impax_preflight.check import CheckContext, check, register_module_checks
from impax_preflight.hookspecs import hookimpl
from impax_preflight.model import Finding
from impax_preflight.parsers.df import parse_df
from impax_preflight.parsers.dirlist import PATH_NOT_FOUND, parse_dir
from impax_preflight.parsers.listing import parse_du_sk, parse_ls_l
from impax_preflight.parsers.netstat import listening_ports
from impax_preflight.parsers.relay import SETTINGS
from impax_preflight.parsers.sc import parse_sc
from impax_preflight.probes import ReadError, probe
from impax_preflight.patterns import compile_pattern

from ._hostkit import parallel_clusters
from ._readings import reference_time
from ._relay import RELAY_CONFIG, RELAY_SERVICE, RELAY_SETTINGS, config_path  # noqa: F401 - RELAY_CONFIG: the default path, for tests and docs

# ---- application server configuration backup -----------------------------------------------------

BACKUP_DIR = "C:\\Impax\\ConfigurationsBackups"
BACKUP_CMD = f'dir /ad "{BACKUP_DIR}"'
BACKUPS = probe(
    "windows.appserver_backups", "the Application Server configuration backups", parse_dir, windows=BACKUP_CMD,
    absent=PATH_NOT_FOUND.pattern,
    # a listing's dates are ambiguous (03/02/2025): the site says its order
    parse_options=lambda site, host: {"date_order": ((site.options if site else {}).get("backup.appserver_config") or {}).get("date_order", "MDY")},
)
_STAMPS = (
    (re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})[_\-T ]?(\d{2})(\d{2})(\d{2})?(?!\d)"), "ymdhms"),
    (re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})[_ T-]+(\d{2})[.:\-](\d{2})(?:[.:\-](\d{2}))?"), "ymdhms"),
    (re.compile(r"(?<!\d)(\d{4})[-_.]?(\d{2})[-_.]?(\d{2})(?!\d)"), "ymd"),
)


def stamp_of(name: str) -> datetime | None:
    """The date/time a backup folder name encodes (backupconfiguration names it after a DateTimeStamp)."""
    for rx, kind in _STAMPS:
        m = rx.search(name)
        if not m:
            continue
        parts = [int(p) if p else 0 for p in m.groups()]
        try:
            if kind == "ymd":
                return datetime(parts[0], parts[1], parts[2])
            return datetime(parts[0], parts[1], parts[2], parts[3], parts[4], parts[5] if len(parts) > 5 else 0)
        except ValueError:
            continue
    return None


@check(
    "backup.appserver_config",
    "Recent backup of the Application Server configuration",
    "blocker",
    "host",
    roles=("application",),
    os=("windows",),
    guide="Backing up Application Server configuration files",
    probes=[BACKUPS],
    remediation="On the Application Server, insert the IMPAX 6.5.1 Business Services CD, open a command prompt, "
    "change to the appserver folder on the CD, type the backupconfiguration command, and verify that the files "
    "have been copied to C:\\Impax\\ConfigurationsBackups\\DateTimeStamp.",
    description="The newest C:\\Impax\\ConfigurationsBackups\\<DateTimeStamp> folder is at most "
    "appserver_backup_max_age_days old. Its age comes from the stamp in the folder name (YYYYMMDDhhmmss and "
    "similar), or from the folder's date in the listing when the name holds none (option date_order = MDY|DMY "
    "for ambiguous listings), counted to the run's reference time: the collection time for a bundle.",
    options={"date_order": options.choice("MDY", "DMY")},
)
def appserver_backup(ctx: CheckContext) -> Iterator[Finding]:
    reading = ctx.reading(BACKUPS)
    listing = reading.value
    if listing is None:
        yield ctx.fail(f"{BACKUP_DIR} does not exist: the configuration has never been backed up with backupconfiguration")
        return
    folders = listing.dirs()
    if not folders:
        yield ctx.fail(f"{BACKUP_DIR} holds no backup folder")
        return
    dated = []
    for f in folders:
        when = stamp_of(f.name)
        dated.append((when or f.modified, f.name, "folder name" if when else "folder date"))
    dated = [d for d in dated if d[0] is not None]
    if not dated:
        yield ctx.error(f"none of the backup folders ({', '.join(f.name for f in folders)[:200]}) carries a date that could be read")
        return
    newest, name, basis = max(dated)
    # as of the run's reference time: a bundle's collection, not the day the report is made; the folder
    # stamps are the server's local time, compared in this machine's time zone (the site's, as a rule)
    now, since = reference_time(reading)
    age = now.astimezone().replace(tzinfo=None) - newest
    limit = timedelta(days=ctx.thresholds.appserver_backup_max_age_days)
    values = {"folder": name, "taken": newest.isoformat(timespec="minutes"), "age_days": round(age.total_seconds() / 86400, 1), "basis": basis,
              "max_age_days": ctx.thresholds.appserver_backup_max_age_days, "as_of": now.isoformat(timespec="seconds")}
    at = "" if since == "now" else f" at {since}"
    if age > limit:
        yield ctx.fail(f"the newest backup {BACKUP_DIR}\\{name} was {values['age_days']} days old{at} (from its {basis}); the limit is "
                       f"{ctx.thresholds.appserver_backup_max_age_days:g} days", values=values)
    else:
        yield ctx.passed(f"backup {BACKUP_DIR}\\{name} taken {values['taken']} ({values['age_days']} days before{at or ' now'}, from its "
                         f"{basis})", values=values)


# ---- AS3000 repository ---------------------------------------------------------------------------

REPO = "/agfa/repository"
# the trailing slash makes ls list, and du measure, what a symbolic link /agfa/repository points to
# (without it ls shows the link itself and du, which follows no link by default, its few bytes)
REPO_COMMANDS = [f"ls -l {REPO}/", f"du -sk {REPO}/", f"df -k {REPO}"]
REPO_LISTING = probe("solaris.repository", "the repository", parse_ls_l, solaris=REPO_COMMANDS[0],
                     absent=r"No such file or directory|does not exist")
REPO_SIZE = probe("solaris.repository_size", "the repository size", parse_du_sk, solaris=REPO_COMMANDS[1])
REPO_FS = probe("solaris.repository_fs", "the repository's file system", parse_df, solaris=REPO_COMMANDS[2])
DEFAULT_MEDIA = {"IMPAX 6.5.1 AS3000 server media": r"(?i)impax|as3000|mvf", "Oracle software": r"(?i)oracle|database|db_?home|^stage$"}


@check(
    "as3000.repository",
    "AS3000 software repository ready",
    "blocker",
    "host",
    platforms=("AS3000",),
    roles=("database", "single_host"),
    os=("solaris",),
    guide="Creating the AS3000 software repository",
    probes=[REPO_LISTING, REPO_SIZE, REPO_FS],
    remediation="On the AS3000 Database Server, as root, `mkdir /agfa/repository`, copy the IMPAX 6.5.1 AS3000 Server "
    "ISO (or DVD) contents into it (lofiadm -a, mount -F hsfs, cp -r . /agfa/repository), then extract and copy "
    "the Oracle for Solaris software into the repository the same way.",
    description="/agfa/repository exists and holds entries matching the IMPAX media and the Oracle software "
    "(option media = {label: regex}; the defaults are guesses at the media's folder names, said in the finding), "
    "at least min_size_gb (option, default 2) of content, and repository_min_free_gb free on its file system.",
    options={"media": options.regex_map(), "min_size_gb": options.number(0, 1_000_000, "a size in GB")},
)
def as3000_repository(ctx: CheckContext) -> Iterator[Finding]:
    entries = ctx.read(REPO_LISTING)
    if entries is None:
        yield ctx.fail(f"{REPO} does not exist", subject="media")
        return
    names = [e.name for e in entries]
    media = ctx.options.get("media") or DEFAULT_MEDIA
    assumed = "media" not in ctx.options
    # the site's patterns run on RE2 (linear time; checked when the inventory loads), like ours
    missing = [label for label, rx in media.items() if not any(compile_pattern(rx).search(n) for n in names)]
    values = {"entries": names[:50], "missing": missing, "patterns_assumed": assumed}
    hint = " (entry names matched with built-in guesses; set [site.options.\"as3000.repository\"] media to be exact)" if assumed else ""
    if not names:
        yield ctx.fail(f"{REPO} is empty", subject="media", values=values)
    elif missing:
        yield ctx.fail(f"{REPO} lacks: {', '.join(missing)}{hint}", subject="media", values=values)
    else:
        yield ctx.passed(f"{REPO} holds {', '.join(media)}{hint}", subject="media", values=values)
    try:
        size_kb = ctx.read(REPO_SIZE)
    except ReadError as exc:
        yield ctx.error_from(exc, subject="size")
    else:
        min_gb = float(ctx.options.get("min_size_gb", 2))
        gb = round(size_kb / 1024 / 1024, 2)
        if gb < min_gb:
            yield ctx.fail(f"{REPO} holds only {gb:g} GB (at least {min_gb:g} GB expected for the server media and Oracle)", subject="size", values={"size_gb": gb})
        else:
            yield ctx.passed(f"{REPO} holds {gb:g} GB", subject="size", values={"size_gb": gb})
    try:
        fss = ctx.read(REPO_FS)
    except ReadError as exc:
        yield ctx.error_from(exc, subject="free_space")
        return
    if fss:
        fs = fss[-1]
        need = ctx.thresholds.repository_min_free_gb
        vals = {"avail_gb": fs.avail_gb, "mount": fs.mount, "required_gb": need}
        if fs.avail_gb < need:
            yield ctx.fail(f"only {fs.avail_gb:g} GB free on {fs.mount} (repository_min_free_gb {need:g})", subject="free_space", values=vals)
        else:
            yield ctx.passed(f"{fs.avail_gb:g} GB free on {fs.mount}", subject="free_space", values=vals)


# ---- Cross-Cluster Dictation Interlock --------------------------------------------------------------

RELAY_STATE = probe("windows.relay_service", "the relay service", None, windows=(f"sc query {RELAY_SERVICE}", parse_sc),
                    absent=r"FAILED 1060")
LISTENING = probe("windows.netstat", "the listening ports", listening_ports, windows="netstat -an")
_IP = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


def _is_fqdn_url(url: str) -> tuple[bool, str]:
    m = re.match(r"^\s*\w+://(?:[^@/]*@)?(?P<host>\[[^\]]+\]|[^:/\s]+)", url or "")
    if not m:
        return False, "not a URL"
    host = m.group("host")
    if _IP.match(host) or host.startswith("["):
        return False, f"{host} is an IP address, not a fully qualified name"
    if host.lower() == "localhost" or "." not in host:
        return False, f"{host} is not fully qualified"
    return True, host


@check(
    "interlock.relay",
    "Cross-Cluster Dictation Interlock relay configured and running",
    "warning",
    "host",
    roles=("application",),
    os=("windows",),
    when=parallel_clusters,
    guide="Configuring the Study Status Relay service",
    probes=[RELAY_STATE, RELAY_SETTINGS, LISTENING],
    remediation="In Study.Status.Relay.exe.config under StudyStatusRelayConfiguration paste the string from "
    "Study.Status.Relay.EncryptionTool.exe between the <UserPassword> tags; set LoginServiceUrl, "
    "StudyInfoServiceUrl and MessagingServiceUrl to the local Application Server's fully qualified domain name and "
    "RemoteSignalHost to the previous-release relay computer; run install_study_status_relay_service.bat, then "
    "`net start StudyStatusRelayService`, and open the relay port in Windows Firewall.",
    description="StudyStatusRelayService installed and running; the config has UserPassword set, the three service "
    "URLs fully qualified and RemoteSignalHost set; the relay port (option relay_port, else a *Port setting of the "
    "config) listens. Options: config_path.",
    options={"config_path": options.remote_path(), "relay_port": options.port()},
)
def interlock_relay(ctx: CheckContext) -> Iterator[Finding]:
    try:
        svcs = ctx.read(RELAY_STATE)
    except ReadError as exc:
        yield ctx.error_from(exc, subject="service")
    else:
        svc = next((x for x in svcs or [] if x.name.lower() == RELAY_SERVICE.lower()), None)
        if svc is None:
            yield ctx.warn(f"{RELAY_SERVICE} is not installed (run install_study_status_relay_service.bat)", subject="service", values={"state": None})
        elif svc.running:
            yield ctx.passed(f"{RELAY_SERVICE} is running", subject="service", values={"state": svc.state})
        else:
            yield ctx.warn(f"{RELAY_SERVICE} is installed but {svc.state}", subject="service", values={"state": svc.state})

    path = config_path(ctx.site)
    cfg = None
    try:
        cfg = ctx.read(RELAY_SETTINGS)
    except ReadError as exc:
        yield ctx.error_from(exc, subject="config")
    else:
        if cfg is None:
            yield ctx.warn(f"{path} does not exist: the relay is not configured", subject="config")
    if cfg is not None:
        problems = []
        if not cfg.user_password_set:
            problems.append("UserPassword is empty")
        for name in ("LoginServiceUrl", "StudyInfoServiceUrl", "MessagingServiceUrl"):
            url = cfg.get(name)
            if not url:
                problems.append(f"{name} is missing")
                continue
            ok, why = _is_fqdn_url(url)
            if not ok:
                problems.append(f"{name} {url}: {why}")
        if not (cfg.get("RemoteSignalHost") or "").strip():
            problems.append("RemoteSignalHost is not set")
        values = {k: cfg.get(k) for k in SETTINGS if k != "UserPassword"} | {"user_password_set": cfg.user_password_set}
        if problems:
            yield ctx.warn("; ".join(problems), subject="config", values=values)
        else:
            yield ctx.passed("UserPassword set, service URLs fully qualified, RemoteSignalHost set", subject="config", values=values)

    port = ctx.options.get("relay_port") or (cfg.ports()[0] if cfg is not None and cfg.ports() else None)
    if not port:
        yield ctx.warn("the relay port is unknown (no *Port setting in the config): set [site.options.\"interlock.relay\"] relay_port",
                       subject="port")
        return
    try:
        ports = ctx.read(LISTENING)
    except ReadError as exc:
        yield ctx.error_from(exc, subject="port")
        return
    if int(port) in ports:
        yield ctx.passed(f"TCP port {port} listens", subject="port", values={"port": int(port)})
    else:
        yield ctx.warn(f"nothing listens on TCP port {port}: the relay service is not accepting signals", subject="port", values={"port": int(port)})


@hookimpl
def impax_register_checks(register):
    register_module_checks(register, globals())
