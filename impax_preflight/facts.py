"""Built-in fact collection for every host: OS, release, hardware, installed software (issue 5).

Implements `impax_collect_facts(host, shell, site)` and `impax_fact_commands(os)`, returning what
it *discovered*; the runner merges that once with the facts the inventory declares
(`impax_preflight.hostfacts`: declared facts win, discovered ones fill the gaps). Collection never
raises for a missing command or an unreadable output: what failed is listed under ``errors``.

Fact keys produced (read them in checks through ``ctx.facts`` / ``ctx.all_facts[host]``):

``os``            "solaris" | "windows" | "linux"
``os_release``    e.g. "Solaris 10 u10 SPARC", "Microsoft Windows Server 2008 R2 Enterprise"
``os_version``    e.g. "10", "11.4", "6.1.7601 Service Pack 1 Build 7601"
``kernel``        the `uname -a` line (Solaris / Linux)
``hostname``      as the host reports it
``system_model``  prtdiag/systeminfo model when known
``cpus``          virtual processors (psrinfo) or processor packages (systeminfo)
``memory_mb``     physical memory in MiB
``software``      list of {"name", "version", "source"} from the Uninstall keys (native
                  ``uninstall`` and ``wow6432`` views) or ``pkginfo -l`` on Solaris
``products``      {product key: version} for the DisplayName patterns: connectivity_manager,
                  talkstation, pacs_broker, impax, plus any key of ``site.software_patterns``
                  (the inventory's patterns replace the defaults key by key); a declared fact
                  with the same key (e.g. ``talkstation = "4.0"``) overrides the discovered one
``errors``        list of "<command>: <what went wrong>" for everything that could not be read
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable

from .hookspecs import hookimpl
from .hostfacts import HostFacts, match_products, software_patterns
from .parsers import ParseError

if TYPE_CHECKING:  # pragma: no cover
    from .inventory import Host, Site
    from .transports.base import CommandResult, Shell

UNINSTALL_KEYS = {
    "uninstall": r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall",
    "wow6432": r"HKLM\SOFTWARE\Wow6432Node\Microsoft\Windows\CurrentVersion\Uninstall",
}
WINDOWS_COMMANDS = ["systeminfo"] + [f"reg query {k} /s" for k in UNINSTALL_KEYS.values()]
SOLARIS_COMMANDS = ["uname -a", "cat /etc/release", "psrinfo", "prtconf | grep Memory", "pkginfo -l"]
LINUX_COMMANDS = ["uname -a", "cat /proc/meminfo"]


def fact_commands(os_name: str) -> list[str]:
    return {"windows": list(WINDOWS_COMMANDS), "solaris": list(SOLARIS_COMMANDS), "linux": list(LINUX_COMMANDS)}.get(os_name, [])

def software_from_uninstall(text: str, source: str) -> list[dict[str, Any]]:
    """Installed programs from `reg query <Uninstall key> /s` (entries without DisplayName are skipped)."""
    from .parsers.reg import parse_reg_query

    out = []
    for key in parse_reg_query(text):
        name = key.get("DisplayName")
        if not name:
            continue
        out.append({"name": name, "version": key.get("DisplayVersion") or "", "publisher": key.get("Publisher") or "", "source": source})
    return out


def discover(host: "Host", shell: "Shell", site: "Site | None" = None) -> dict[str, Any]:
    """Gather the facts of one host; never raises because a command is missing or unreadable."""
    os_name = getattr(shell, "os", None) or host.os
    if os_name != host.os and host.os:
        os_name = host.os
    facts: dict[str, Any] = {"os": os_name}
    errors: list[str] = []

    def run(command: str) -> "CommandResult | None":
        try:
            res = shell.run(command)
        except Exception as exc:  # noqa: BLE001 - a fact we cannot read is recorded, never fatal
            errors.append(f"{command}: {exc}")
            return None
        if res.rc not in (0, None) and not res.stdout.strip():
            errors.append(f"{command}: exit code {res.rc}: {(res.stderr or '').strip()[:200]}")
            return None
        return res

    def parse(command: str, fn: Callable[[str], Any], res: "CommandResult | None") -> Any:
        if res is None:
            return None
        try:
            return fn(res.stdout)
        except ParseError as exc:
            errors.append(f"{command}: could not parse the output: {exc}")
            return None

    software: list[dict[str, Any]] = []
    if os_name == "windows":
        from .parsers.systeminfo import parse_systeminfo

        info = parse("systeminfo", parse_systeminfo, run("systeminfo"))
        if info is not None:
            facts.update(
                hostname=info.host_name,
                os_release=info.os_name,
                os_version=info.os_version,
                system_model=info.get("system_model"),
                cpus=info.processor_count,
                memory_mb=info.total_memory_mb,
            )
        for source, key in UNINSTALL_KEYS.items():
            cmd = f"reg query {key} /s"
            try:
                res = shell.run(cmd)
            except Exception as exc:  # noqa: BLE001
                errors.append(f"{cmd}: {exc}")
                continue
            from .parsers.reg import is_missing_key

            if is_missing_key(res.stdout + res.stderr):
                continue  # no Wow6432Node on 32-bit Windows: nothing to read, nothing wrong
            got = parse(cmd, lambda t, s=source: software_from_uninstall(t, s), res)
            if got is None and res.rc not in (0, None):
                errors.append(f"{cmd}: exit code {res.rc}")
            software.extend(got or [])
    elif os_name == "solaris":
        from .parsers.pkginfo import parse_pkginfo_l
        from .parsers.prtdiag import memory_mb, parse_psrinfo
        from .parsers.release import parse_etc_release, parse_uname

        un = parse("uname -a", parse_uname, run("uname -a"))
        if un is not None:
            facts.update(kernel=f"{un.kernel} {un.release} {un.version} {un.machine}", hostname=un.node, os_version=un.solaris_version)
        rel = parse("cat /etc/release", parse_etc_release, run("cat /etc/release"))
        if rel is not None:
            facts.update(os_release=str(rel), os_version=rel.version)
        cpus = parse("psrinfo", parse_psrinfo, run("psrinfo"))
        if cpus is not None:
            facts["cpus"] = sum(1 for p in cpus if p.status in ("on-line", "no-intr"))
        mem = run("prtconf | grep Memory")
        if mem is not None:
            mb = memory_mb(mem.stdout)
            if mb is None:
                errors.append("prtconf | grep Memory: no 'Memory size:' line")
            facts["memory_mb"] = mb
        pkgs = parse("pkginfo -l", parse_pkginfo_l, run("pkginfo -l"))
        for p in pkgs or []:
            software.append({"name": p.name or p.pkginst, "version": p.version, "pkginst": p.pkginst, "source": "pkginfo"})
    elif os_name == "linux":
        from .parsers.release import parse_uname

        un = parse("uname -a", parse_uname, run("uname -a"))
        if un is not None:
            facts.update(kernel=f"{un.kernel} {un.release}", hostname=un.node, os_version=un.release)
        mi = run("cat /proc/meminfo")
        if mi is not None:
            m = re.search(r"MemTotal:\s+(\d+)\s*kB", mi.stdout)
            facts["memory_mb"] = int(m.group(1)) // 1024 if m else None
    facts["software"] = software
    facts["products"] = match_products(software, software_patterns(site))
    facts["errors"] = errors
    return {k: v for k, v in facts.items() if v is not None}


def collect(host: "Host", shell: "Shell", site: "Site | None" = None) -> dict[str, Any]:
    """The facts of one host as checks see them: discovered, merged with the declared ones
    (`HostFacts`), products matched with the site's patterns."""
    merged = HostFacts(discover(host, shell, site), dict(host.facts or {}))
    return {**dict(merged), "products": merged.products(site)}


# ---- hooks ------------------------------------------------------------------------------------


@hookimpl
def impax_collect_facts(host: "Host", shell: "Shell", site: "Site") -> dict[str, Any] | None:
    return discover(host, shell, site)


@hookimpl
def impax_fact_commands(os: str) -> list[str] | None:
    return fact_commands(os) or None
