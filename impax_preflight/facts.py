"""Built-in fact collection for every host: OS, release, hardware, installed software.

Implements `impax_collect_facts` and `impax_fact_commands`, reading the host through the shared
probes of `osprobes` (each run once per host and run, the checks asking for the same read get the
same answer). It returns what it *discovered*; the runner merges that once with the facts the
inventory declares (`impax_preflight.hostfacts`: declared facts win, discovered ones fill the
gaps). Collection never raises for a missing command or an unreadable output: what failed is
listed under ``errors``.

Fact keys produced (read them in checks through ``ctx.facts`` / ``ctx.all_facts[host]``):

``os``            "solaris" | "windows" | "linux"
``os_release``    e.g. "Solaris 10 u10 SPARC", "Microsoft Windows Server 2008 R2 Enterprise"
``os_version``    e.g. "10", "11.4", "6.1.7601 Service Pack 1 Build 7601"
``kernel``        the `uname -a` line (Solaris / Linux)
``hostname``      as the host reports it
``system_model``  systeminfo model when known
``cpus``          virtual processors on-line (psrinfo, getconf) or processor packages (systeminfo)
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

from typing import TYPE_CHECKING, Any, Callable

from . import osprobes
from .hookspecs import hookimpl
from .hostfacts import HostFacts, match_products, software_patterns
from .probes import HostReader, ReadError, probes_commands

if TYPE_CHECKING:  # pragma: no cover
    from .inventory import Host, Site
    from .probes import Probe
    from .transports.base import Shell

#: the probes read per OS (in this order)
FACT_PROBES: dict[str, tuple["Probe", ...]] = {
    "windows": (osprobes.SYSTEMINFO, osprobes.SOFTWARE, osprobes.SOFTWARE_WOW64),
    "solaris": (osprobes.UNAME, osprobes.RELEASE, osprobes.PROCESSORS, osprobes.MEMORY, osprobes.PACKAGES),
    "linux": (osprobes.UNAME, osprobes.PROCESSORS, osprobes.MEMORY),
}


def fact_commands(os_name: str) -> list[str]:
    return probes_commands(FACT_PROBES.get(os_name, ()), os_name)


def discover(host: "Host", shell: "Shell", site: "Site | None" = None, read: Callable[["Probe"], Any] | None = None) -> dict[str, Any]:
    """Gather the facts of one host; never raises because a command is missing or unreadable."""
    if read is None:
        reader = HostReader(host, lambda: shell, site)
        read = lambda p: reader.read(p).value  # noqa: E731
    os_name = host.os
    facts: dict[str, Any] = {"os": os_name}
    errors: list[str] = []
    got: dict[str, Any] = {}
    for p in FACT_PROBES.get(os_name, ()):
        try:
            got[p.name] = read(p)
        except ReadError as exc:
            errors.append(f"{' / '.join(p.commands_for(os_name))}: {exc.reason}")
    software: list[dict[str, Any]] = []
    if os_name == "windows":
        info = got.get(osprobes.SYSTEMINFO.name)
        if info is not None:
            # cpus: systeminfo counts processor packages (hw.requirements reads the logical ones)
            facts.update(hostname=info.host_name, os_release=info.os_name, os_version=info.os_version,
                         system_model=info.get("system_model"), memory_mb=info.total_memory_mb, cpus=info.processor_count)
        software += got.get(osprobes.SOFTWARE.name) or []
        software += got.get(osprobes.SOFTWARE_WOW64.name) or []
    elif os_name in ("solaris", "linux"):
        un = got.get(osprobes.UNAME.name)
        if un is not None:
            if os_name == "solaris":
                facts.update(kernel=f"{un.kernel} {un.release} {un.version} {un.machine}", hostname=un.node,
                             os_version=un.solaris_version)
            else:
                facts.update(kernel=f"{un.kernel} {un.release}", hostname=un.node, os_version=un.release)
        rel = got.get(osprobes.RELEASE.name)
        if rel is not None:
            facts.update(os_release=str(rel), os_version=rel.version)
        facts["memory_mb"] = got.get(osprobes.MEMORY.name)
        for pkg in got.get(osprobes.PACKAGES.name) or []:
            software.append({"name": pkg.name or pkg.pkginst, "version": pkg.version, "pkginst": pkg.pkginst, "source": "pkginfo"})
        facts["cpus"] = got.get(osprobes.PROCESSORS.name)
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
def impax_collect_facts(host: "Host", shell: "Shell", site: "Site", read: Callable[["Probe"], Any] | None) -> dict[str, Any] | None:
    # `read` has no default: pluggy passes only arguments without one (the run's shared reader)
    return discover(host, shell, site, read)


@hookimpl
def impax_fact_commands(os: str) -> list[str] | None:
    return fact_commands(os) or None
