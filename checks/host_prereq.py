"""Prerequisites checked on the servers themselves (guide: "Prerequisite software installations",
"Evaluating system requirements", "Stopping SQL Server 2008 services", "Installing the Migration
Toolbox ...", "Running the Microsoft .NET Framework 3.5 SP1 installer package").
"""

from __future__ import annotations

import re
from typing import Iterator

from impax_preflight.check import CheckContext, check, register_module_checks
from impax_preflight.facts import UNINSTALL_KEYS, software_from_uninstall
from impax_preflight.hookspecs import hookimpl
from impax_preflight.hostfacts import match_products, software_patterns
from impax_preflight.model import Finding
from impax_preflight.parsers.reg import is_missing_key, parse_reg_query
from impax_preflight.versions import Version, parse_version

from ._hostkit import (
    CIM_DISKS,
    WMIC_DISKS,
    disk_usages,
    parse_or_error,
    real_filesystems,
    unusable,
)

GUIDE_PREREQ = "Prerequisite software installations"
UNINSTALL_COMMANDS = [f"reg query {k} /s" for k in UNINSTALL_KEYS.values()]


def installed_products(ctx: CheckContext) -> tuple[dict[str, str], list[Finding]]:
    """Products from both Uninstall views (run here, so the evidence is on the finding)."""
    software, errors = [], []
    for source, key in UNINSTALL_KEYS.items():
        res = ctx.run(f"reg query {key} /s")
        if is_missing_key(res.stdout + res.stderr):
            continue  # 32-bit Windows has no Wow6432Node
        bad = unusable(ctx, res, "the installed programs")
        if bad:
            errors.append(bad)
            continue
        got, err = parse_or_error(ctx, lambda t, s=source: software_from_uninstall(t, s), res, "installed programs")
        if err:
            errors.append(err)
        software.extend(got or [])
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
    commands={"windows": UNINSTALL_COMMANDS},
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


@check(
    "prereq.dotnet35sp1",
    ".NET Framework 3.5 SP1 installed on the application server",
    "blocker",
    "host",
    roles=("application",),
    os=("windows",),
    guide="Running the Microsoft .NET Framework 3.5 SP1 installer package",
    commands={"windows": [DOTNET_KEY]},
    remediation="From the IMPAX Client CD or a network location, run IMPAXInstallationServer_DotNet35Updater.exe "
    "(Agfa IMPAX Installation Server - .NET 3.5 SP1 Updater) and follow the wizard.",
    description=r"Registry HKLM\SOFTWARE\Microsoft\NET Framework Setup\NDP\v3.5: Install = 1 and SP >= 1.",
)
def dotnet35sp1(ctx: CheckContext) -> Iterator[Finding]:
    res = ctx.run(DOTNET_KEY)
    if is_missing_key(res.stdout + res.stderr):
        yield ctx.fail(".NET Framework 3.5 is not installed (the NDP\\v3.5 registry key does not exist)", values={"installed": False})
        return
    bad = unusable(ctx, res, "the .NET Framework registry key")
    if bad:
        yield bad
        return
    keys, err = parse_or_error(ctx, parse_reg_query, res, ".NET 3.5 registry key")
    if err:
        yield err
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
    commands={"windows": [SC_ALL]},
    remediation="Open the Windows Administrative Tools, select Services, select each of SQL Server Full Text Search, "
    "SQL Server Full Text Filter Daemon Launcher, SQL Server Browser and SQL Server Integration Services 10.0 in "
    "turn and click Stop Service, if needed.",
)
def sqlserver_services(ctx: CheckContext) -> Iterator[Finding]:
    from impax_preflight.parsers.sc import parse_sc

    res = ctx.run(SC_ALL)
    bad = unusable(ctx, res, "the Windows services")
    if bad:
        yield bad
        return
    services, err = parse_or_error(ctx, parse_sc, res, "services")
    if err:
        yield err
        return
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


@check(
    "prereq.migration_toolbox",
    "Migration Toolbox installed on the database server",
    "blocker",
    "host",
    roles=("database", "single_host"),
    os=("windows", "solaris"),
    guide="Installing the Migration Toolbox on a Windows station",
    commands={"windows": [TOOLBOX["windows"][0]], "solaris": [TOOLBOX["solaris"][0]]},
    remediation="Install the Migration Toolbox from the IMPAX Migration CD: on Windows run "
    "impax_65_migration-winpkg-6.5.1.xxx.exe from the win32 directory; on Solaris, as root, "
    "`pkgadd -d IMPAXmigration.pkg` from the SunOS5 directory (then log the mvf user out and in again).",
    description="The toolbox folder (C:\\mvf-mig6\\bin or /usr/mvf-mig6/bin) holds build-impax-mig-schema and "
    "the archive report tool mig-study-archive-report (any extension).",
)
def migration_toolbox(ctx: CheckContext) -> Iterator[Finding]:
    command, folder, tools = TOOLBOX[ctx.host.os]
    res = ctx.run(command)
    text = res.stdout + "\n" + res.stderr
    if re.search(r"No such file or directory|cannot find the (path|file) specified|File Not Found", text, re.I) and not re.search(r"build-impax", res.stdout):
        yield ctx.fail(f"the Migration Toolbox folder {folder} does not exist", values={"folder": folder, "present": False})
        return
    bad = unusable(ctx, res, "the Migration Toolbox folder")
    if bad:
        yield bad
        return
    names = set()
    if ctx.host.os == "windows":
        from impax_preflight.parsers.dirlist import parse_dir

        listing, err = parse_or_error(ctx, parse_dir, res, "folder listing")
        if err:
            yield err
            return
        names = {e.name for e in listing.entries}
    else:
        from impax_preflight.parsers.listing import parse_ls_l

        entries, err = parse_or_error(ctx, parse_ls_l, res, "folder listing")
        if err:
            yield err
            return
        names = {e.name for e in entries}
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


WMIC_CPU = "wmic cpu get NumberOfLogicalProcessors"
LINUX_CPUS = "getconf _NPROCESSORS_ONLN"


def _from_facts(ctx: CheckContext, key: str, source: str):
    """A hardware fact collected before the checks (no need to run its command again), noted as evidence."""
    value = ctx.facts.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    declared = ctx.facts.get("declared") if isinstance(ctx.facts.get("declared"), dict) else {}
    origin = "declared in the inventory" if key in declared and declared[key] == value else f"read by fact collection ({source})"
    ctx.note(f"{key} = {value:g}: {origin}", source="facts")
    return value


@check(
    "hw.requirements",
    "Hardware meets the role's requirements",
    "warning",
    "host",
    guide="Evaluating system requirements",
    commands={
        "solaris": ["psrinfo", "prtconf | grep Memory", "df -k"],
        "windows": [WMIC_CPU, "systeminfo", WMIC_DISKS, CIM_DISKS],
        "linux": [LINUX_CPUS, "cat /proc/meminfo", "df -k"],
    },
    remediation="Use the IMPAX 6.5.1 requirements to assess which existing servers to keep and upgrade, and which to "
    "replace with new servers; also consider site performance (time to acquire the first image).",
    description="CPUs (logical processors: psrinfo on-line, wmic cpu NumberOfLogicalProcessors, getconf on Linux), "
    "memory and total free local disk against a per-role table (strictest role wins); the CPU and memory figures of "
    "the host's facts are used when fact collection read them. The built-in figures are placeholders, not Agfa's: "
    "set [site.requirements.<role>] from the 6.5.1 requirements.",
)
def hw_requirements(ctx: CheckContext) -> Iterator[Finding]:
    from impax_preflight.parsers.prtdiag import memory_mb, parse_psrinfo
    from impax_preflight.parsers.systeminfo import parse_systeminfo
    from impax_preflight.parsers.wmic import parse_wmic_logical_processors

    need, site_set = requirements_for(ctx.site, ctx.host.roles)
    if not site_set:
        ctx.note("requirements are the built-in placeholders (no [site.requirements] for this role)")
    cpus = mem = None
    errs: list[Finding] = []
    os_name = ctx.host.os
    if os_name == "windows":
        # systeminfo's "Processor(s)" counts packages: the logical processors come from wmic
        res = ctx.run(WMIC_CPU)
        bad = unusable(ctx, res, "the logical processors", subject="cpus")
        cpus, err = (None, bad) if bad else parse_or_error(ctx, parse_wmic_logical_processors, res, "logical processors")
        if err:
            errs.append(err)
        mem = _from_facts(ctx, "memory_mb", "systeminfo")
        if mem is None:
            res = ctx.run("systeminfo")
            bad = unusable(ctx, res, "the system information", subject="memory_gb")
            info, err = (None, bad) if bad else parse_or_error(ctx, parse_systeminfo, res, "system information")
            if err:
                errs.append(err)
            else:
                mem = info.total_memory_mb
                if mem is None:
                    errs.append(ctx.error("no 'Total Physical Memory' line in systeminfo output", subject="memory_gb"))
    elif os_name == "solaris":
        cpus = _from_facts(ctx, "cpus", "psrinfo")
        if cpus is None:
            res = ctx.run("psrinfo")
            bad = unusable(ctx, res, "the processors", subject="cpus")
            procs, err = (None, bad) if bad else parse_or_error(ctx, parse_psrinfo, res, "processors")
            if err:
                errs.append(err)
            else:
                cpus = sum(1 for p in procs if p.status in ("on-line", "no-intr"))
        mem = _from_facts(ctx, "memory_mb", "prtconf")
        if mem is None:
            res = ctx.run("prtconf | grep Memory")
            mem = memory_mb(res.stdout)
            if mem is None:
                errs.append(unusable(ctx, res, "the memory size", subject="memory_gb")
                            or ctx.error("no 'Memory size:' line in prtconf output", subject="memory_gb"))
    else:
        res = ctx.run(LINUX_CPUS)
        bad = unusable(ctx, res, "the processors", subject="cpus")
        if bad:
            errs.append(bad)
        elif res.stdout.strip().isdigit():
            cpus = int(res.stdout.strip())
        else:
            errs.append(ctx.error(f"`{LINUX_CPUS}` printed {res.stdout.strip()[:80]!r}, not a number", subject="cpus"))
        mem = _from_facts(ctx, "memory_mb", "/proc/meminfo")
        if mem is None:
            res = ctx.run("cat /proc/meminfo")
            m = re.search(r"MemTotal:\s+(\d+)\s*kB", res.stdout)
            if m:
                mem = int(m.group(1)) // 1024
            else:
                errs.append(unusable(ctx, res, "the memory size", subject="memory_gb")
                            or ctx.error("no 'MemTotal:' line in /proc/meminfo", subject="memory_gb"))
    usages, err = disk_usages(ctx)
    free_gb = None
    if err:
        errs.append(err)
    else:
        free_gb = round(sum(u.avail_kb for u in real_filesystems(usages)) / 1024 / 1024, 1)
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
