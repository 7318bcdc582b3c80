"""Prerequisites checked on the servers themselves (guide: "Prerequisite software installations",
"Evaluating system requirements", "Stopping SQL Server 2008 services", "Installing the Migration
Toolbox ...", "Running the Microsoft .NET Framework 3.5 SP1 installer package").
"""

from __future__ import annotations

import re
from typing import Iterator

from impax_preflight import osprobes
from impax_preflight.check import CheckContext, check, register_module_checks
from impax_preflight.hookspecs import hookimpl
from impax_preflight.hostfacts import match_products, software_patterns
from impax_preflight.model import Finding
from impax_preflight.parsers.dirlist import PATH_NOT_FOUND, parse_dir
from impax_preflight.parsers.listing import parse_ls_l
from impax_preflight.parsers.reg import MISSING_KEY, parse_reg_query
from impax_preflight.parsers.sc import parse_sc
from impax_preflight.probes import ReadError, probe
from impax_preflight.versions import Version, parse_version

from ._hostkit import local_free_kb, mount_types, real_filesystems

GUIDE_PREREQ = "Prerequisite software installations"
UNINSTALL_COMMANDS = [f"reg query {k} /s" for k in osprobes.UNINSTALL_KEYS.values()]


def installed_products(ctx: CheckContext) -> tuple[dict[str, str], list[Finding]]:
    """Products from both Uninstall views (read here, so the evidence is on the finding)."""
    software, errors = [], []
    for view in (osprobes.SOFTWARE, osprobes.SOFTWARE_WOW64):
        try:
            software += ctx.read(view) or []  # absent: 32-bit Windows has no Wow6432Node
        except ReadError as exc:
            errors.append(ctx.error_from(exc))
    return match_products(software, software_patterns(ctx.site)), errors


def declared_version(ctx: CheckContext, key: str) -> str | None:
    """A version the inventory states for this host (host facts) or the site (features)."""
    v = (ctx.host.facts or {}).get(key) if ctx.host else None
    if v in (None, "", False):
        v = getattr(ctx.site.features, key, None)
    if v in (None, "", False, True) or (isinstance(v, str) and v.lower() in ("discover", "discovered", "yes", "true")):
        return None
    return str(v)


# ---- Connectivity Manager -----------------------------------------------------------------------


@check(
    "prereq.connectivity_manager",
    "Connectivity Manager is 2.2.1 or 2.3 (not 2.1)",
    "blocker",
    "host",
    roles=("connectivity_manager",),
    os=("windows",),
    guide=GUIDE_PREREQ,
    probes=[osprobes.SOFTWARE, osprobes.SOFTWARE_WOW64],
    remediation="If the site currently uses Connectivity Manager 2.1, you must upgrade to Connectivity Manager 2.2.1 "
    "or 2.3. For instructions, refer to the appropriate version of the Connectivity Manager Upgrade Guide.",
    description="Version from the Uninstall registry keys (DisplayName pattern `connectivity_manager` in "
    "site.software_patterns), unless the inventory declares it (host fact or features.connectivity_manager). "
    "Below 2.2.1 fails; 2.2.1 or later passes.",
)
def connectivity_manager(ctx: CheckContext) -> Iterator[Finding]:
    declared = declared_version(ctx, "connectivity_manager")
    products, errors = installed_products(ctx)
    found = products.get("connectivity_manager")
    version, source = (declared, "declared in the inventory") if declared else (found, "found in the Uninstall registry keys")
    if declared and found and parse_version(found) and parse_version(declared) != parse_version(found):
        ctx.note(f"the inventory declares Connectivity Manager {declared} but the registry shows {found}; the declared version is used")
    if not version or version == "unknown":
        yield from errors
        yield ctx.error(
            "Connectivity Manager was not found in the Uninstall registry keys of this Connectivity Manager server"
            + (" (installed, version unknown)" if version == "unknown" else "")
            + ": declare its version in the inventory ([hosts.facts] connectivity_manager = \"2.2.1\") or adjust "
            "site.software_patterns.connectivity_manager"
        )
        return
    v = Version(version)
    values = {"version": version, "source": source}
    if v < "2.2.1":
        yield ctx.fail(f"Connectivity Manager {version} ({source}) must first be upgraded to 2.2.1 or 2.3", values=values)
    else:
        yield ctx.passed(f"Connectivity Manager {version} ({source})", values=values)


# ---- .NET 3.5 SP1 --------------------------------------------------------------------------------

DOTNET_KEY = r'reg query "HKLM\SOFTWARE\Microsoft\NET Framework Setup\NDP\v3.5"'
DOTNET = probe("windows.dotnet35", "the .NET Framework 3.5 registry key", parse_reg_query, windows=DOTNET_KEY,
               absent=MISSING_KEY.pattern)


@check(
    "prereq.dotnet35sp1",
    ".NET Framework 3.5 SP1 installed on the application server",
    "blocker",
    "host",
    roles=("application",),
    os=("windows",),
    guide="Running the Microsoft .NET Framework 3.5 SP1 installer package",
    probes=[DOTNET],
    remediation="From the IMPAX Client CD or a network location, run IMPAXInstallationServer_DotNet35Updater.exe "
    "(Agfa IMPAX Installation Server - .NET 3.5 SP1 Updater) and follow the wizard.",
    description=r"Registry HKLM\SOFTWARE\Microsoft\NET Framework Setup\NDP\v3.5: Install = 1 and SP >= 1.",
)
def dotnet35sp1(ctx: CheckContext) -> Iterator[Finding]:
    keys = ctx.read(DOTNET)
    if keys is None:
        yield ctx.fail(".NET Framework 3.5 is not installed (the NDP\\v3.5 registry key does not exist)", values={"installed": False})
        return
    key = next((k for k in keys if k.path.lower().endswith("\\v3.5")), None)
    if key is None:
        yield ctx.error("the output does not hold the NDP\\v3.5 key itself; run the reg query by hand")
        return
    install, sp, version = key.get_int("Install"), key.get_int("SP"), key.get("Version")
    values = {"install": install, "sp": sp, "version": version}
    if install != 1:
        yield ctx.fail(f".NET Framework 3.5 is not installed (Install = {install})", values=values)
    elif sp is None or sp < 1:
        yield ctx.fail(f".NET Framework 3.5 is installed without SP1 (SP = {sp}, version {version})", values=values)
    else:
        yield ctx.passed(f".NET Framework 3.5 SP{sp} is installed (version {version})", values=values)


# ---- SQL Server services ----------------------------------------------------------------------

SC_ALL = "sc query state= all"
ALL_SERVICES = probe("windows.sc_all", "the Windows services", parse_sc, windows=SC_ALL)
SQL_SERVICES_TO_STOP = {
    "SQL Server Full Text Search": r"(?i)^MSFTESQL(\$.*)?$|full\s*text\s*search",
    "SQL Server Full Text Filter Daemon Launcher": r"(?i)^MSSQLFDLauncher(\$.*)?$|full-?\s*text filter daemon launcher",
    "SQL Server Browser": r"(?i)^SQLBrowser$|SQL Server Browser",
    "SQL Server Integration Services 10.0": r"(?i)^MsDtsServer100$|Integration Services 10",
}


def _sqlserver_host(site, host, db) -> bool | str:
    """hosts with a SQL Server database, Windows database servers, or Connectivity Manager servers"""
    if host is None:
        return "not a host"
    # the CM keeps its mcf database in a local SQL Server (the guide queries it with osql); the check
    # itself skips a host where no SQL Server service is installed
    if any(d.kind == "mssql" for d in host.databases) or {"database", "connectivity_manager"} & set(host.roles):
        return True
    return "no SQL Server database on this host"


@check(
    "prereq.sqlserver_services",
    "SQL Server side services stopped",
    "warning",
    "host",
    os=("windows",),
    when=_sqlserver_host,
    guide="Stopping SQL Server 2008 services",
    probes=[ALL_SERVICES],
    remediation="Open the Windows Administrative Tools, select Services, select each of SQL Server Full Text Search, "
    "SQL Server Full Text Filter Daemon Launcher, SQL Server Browser and SQL Server Integration Services 10.0 in "
    "turn and click Stop Service, if needed.",
)
def sqlserver_services(ctx: CheckContext) -> Iterator[Finding]:
    services = ctx.read(ALL_SERVICES)
    if not any(re.search(r"(?i)^MSSQL|SQL Server", s.name + " " + s.display_name) for s in services):
        yield ctx.skip("no SQL Server service is installed on this host")
        return
    for label, rx in SQL_SERVICES_TO_STOP.items():
        pat = re.compile(rx)
        hits = [s for s in services if pat.search(s.name) or pat.search(s.display_name)]
        running = [s for s in hits if not s.stopped]
        if running:
            for s in running:
                yield ctx.warn(f"{label} ({s.name}) is {s.state}: stop it before the upgrade", subject=label, values={"service": s.name, "state": s.state})
        else:
            yield ctx.passed(f"{label} is " + ("stopped" if hits else "not installed"), subject=label, values={"installed": bool(hits)})


# ---- Migration Toolbox --------------------------------------------------------------------------

TOOLBOX = {
    "windows": ('dir "C:\\mvf-mig6\\bin"', "C:\\mvf-mig6\\bin", ("build-impax-mig-schema", "mig-study-archive-report")),
    "solaris": ("ls -l /usr/mvf-mig6/bin", "/usr/mvf-mig6/bin", ("build-impax-mig-schema", "mig-study-archive-report")),
}


def _dir_names(text: str, notes: list[str] | None = None) -> set[str]:
    return {e.name for e in parse_dir(text).entries}


def _ls_names(text: str, notes: list[str] | None = None) -> set[str]:
    return {e.name for e in parse_ls_l(text)}


TOOLBOX_FILES = probe(
    "toolbox.files", "the Migration Toolbox folder", None,
    windows=(TOOLBOX["windows"][0], _dir_names), solaris=(TOOLBOX["solaris"][0], _ls_names),
    absent=PATH_NOT_FOUND.pattern + r"|No such file or directory|^\s*File Not Found\s*$",
)


@check(
    "prereq.migration_toolbox",
    "Migration Toolbox installed on the database server",
    "blocker",
    "host",
    roles=("database", "single_host"),
    os=("windows", "solaris"),
    guide="Installing the Migration Toolbox on a Windows station",
    probes=[TOOLBOX_FILES],
    remediation="Install the Migration Toolbox from the IMPAX Migration CD: on Windows run "
    "impax_65_migration-winpkg-6.5.1.xxx.exe from the win32 directory; on Solaris, as root, "
    "`pkgadd -d IMPAXmigration.pkg` from the SunOS5 directory (then log the mvf user out and in again).",
    description="The toolbox folder (C:\\mvf-mig6\\bin or /usr/mvf-mig6/bin) holds build-impax-mig-schema and "
    "the archive report tool mig-study-archive-report (any extension).",
)
def migration_toolbox(ctx: CheckContext) -> Iterator[Finding]:
    _command, folder, tools = TOOLBOX[ctx.host.os]
    names = ctx.read(TOOLBOX_FILES)
    if names is None:
        yield ctx.fail(f"the Migration Toolbox folder {folder} does not exist", values={"folder": folder, "present": False})
        return
    stems = {re.sub(r"\.(bat|cmd|exe|sh|ksh)$", "", n, flags=re.I).lower() for n in names}
    missing = [t for t in tools if t not in stems]
    values = {"folder": folder, "missing": missing, "files": len(names)}
    if missing:
        yield ctx.fail(f"{folder} lacks {', '.join(missing)}", values=values)
    else:
        yield ctx.passed(f"{folder} holds {', '.join(tools)}", values=values)


# ---- hardware requirements ---------------------------------------------------------------------

#: Placeholder minimums per role. The guide refers to the IMPAX 6.5.1 requirements without numbers:
#: set the real figures in the inventory ([site.requirements.<role>] cpus / memory_gb / free_disk_gb).
DEFAULT_REQUIREMENTS: dict[str, dict[str, float]] = {
    "database": {"cpus": 4, "memory_gb": 8, "free_disk_gb": 20},
    "archive": {"cpus": 2, "memory_gb": 4, "free_disk_gb": 20},
    "single_host": {"cpus": 4, "memory_gb": 8, "free_disk_gb": 20},
    "application": {"cpus": 2, "memory_gb": 4, "free_disk_gb": 10},
    "network_gateway": {"cpus": 2, "memory_gb": 4, "free_disk_gb": 20},
    "curator": {"cpus": 2, "memory_gb": 4, "free_disk_gb": 10},
    "connectivity_manager": {"cpus": 2, "memory_gb": 4, "free_disk_gb": 10},
}


def requirements_for(site, roles) -> tuple[dict[str, float], bool]:
    """The strictest minimum of each metric over the host's roles, and whether the site set them."""
    table = {**DEFAULT_REQUIREMENTS, **{k: {**DEFAULT_REQUIREMENTS.get(k, {}), **v} for k, v in (site.requirements or {}).items()}}
    out: dict[str, float] = {}
    for role in roles:
        for metric, value in table.get(role, {}).items():
            out[metric] = max(out.get(metric, 0), value)
    return out, any(r in (site.requirements or {}) for r in roles)


WMIC_CPU = osprobes.PROCESSORS.commands_for("windows")[0]
LINUX_CPUS = osprobes.PROCESSORS.commands_for("linux")[0]


def _from_facts(ctx: CheckContext, key: str) -> float | None:
    """A hardware figure fact collection read or the inventory declares (no need to read it again), noted."""
    value = ctx.facts.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    origin = "declared in the inventory" if ctx.facts.origin(key) == "declared" else "read by fact collection"
    ctx.note(f"{key} = {value:g}: {origin}", source="facts")
    return value


@check(
    "hw.requirements",
    "Hardware meets the role's requirements",
    "warning",
    "host",
    guide="Evaluating system requirements",
    probes=[osprobes.PROCESSORS, osprobes.MEMORY, osprobes.DISKS, osprobes.MOUNTS],
    remediation="Use the IMPAX 6.5.1 requirements to assess which existing servers to keep and upgrade, and which to "
    "replace with new servers; also consider site performance (time to acquire the first image).",
    description="CPUs (logical processors: psrinfo on-line, wmic cpu NumberOfLogicalProcessors, getconf on Linux), "
    "memory and total free local disk against a per-role table (strictest role wins). Free disk counts each ZFS pool once "
    "(its datasets all show the pool's free space: the most any of them can take), and no network, loopback or "
    "read-only media mount; the CPU and memory figures of "
    "the host's facts are used when fact collection read them. The built-in figures are placeholders, not Agfa's: "
    "set [site.requirements.<role>] from the 6.5.1 requirements.",
)
def hw_requirements(ctx: CheckContext) -> Iterator[Finding]:
    need, site_set = requirements_for(ctx.site, ctx.host.roles)
    if not site_set:
        ctx.note("requirements are the built-in placeholders (no [site.requirements] for this role)")
    errs: list[Finding] = []

    def read(p, subject: str):
        try:
            return ctx.read(p)
        except ReadError as exc:
            errs.append(ctx.error_from(exc, subject=subject))
            return None

    # Windows facts count processor packages (systeminfo): the logical processors are always read
    cpus = None if ctx.host.os == "windows" else _from_facts(ctx, "cpus")
    if cpus is None:
        cpus = read(osprobes.PROCESSORS, "cpus")
    mem = _from_facts(ctx, "memory_mb")
    if mem is None:
        mem = read(osprobes.MEMORY, "memory_gb")
    usages = read(osprobes.DISKS, "free_disk_gb")
    free_gb = None
    if usages is not None:
        fstypes = mount_types(ctx)
        free_kb, how = local_free_kb(real_filesystems(usages, fstypes=fstypes), fstypes)
        free_gb = round(free_kb / 1024 / 1024, 1)
        if how:
            ctx.note("free disk: " + "; ".join(how))
    yield from errs
    measured = {"cpus": cpus, "memory_gb": round(mem / 1024, 1) if mem else None, "free_disk_gb": free_gb}
    for metric, minimum in need.items():
        have = measured.get(metric)
        if have is None:
            continue  # the error finding above says why
        values = {"measured": have, "required": minimum, "roles": ctx.host.roles, "placeholder": not site_set}
        # a verdict against made-up figures must say so, or a pass would claim more than it knows
        basis = "" if site_set else " (built-in placeholder minimum, not Agfa's: set [site.requirements.<role>])"
        if have < minimum:
            yield ctx.warn(f"{metric} {have:g} below the {minimum:g} required for {', '.join(ctx.host.roles)}{basis}",
                           subject=metric, values=values)
        else:
            yield ctx.passed(f"{metric} {have:g} (required {minimum:g}){basis}", subject=metric, values=values)


@hookimpl
def impax_register_checks(register):
    register_module_checks(register, globals())
