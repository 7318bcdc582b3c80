"""The reads of a host that fact collection and several checks share, each declared once.

The OS and its release, processors, memory, installed software (Windows Uninstall keys, Solaris
packages), file systems and their types (the mount table), and Windows services. A check needing one of these reads it with
``ctx.read(osprobes.X)``; fact collection reads the same probes, so each is run once per host and
run. Checks' own reads (svcs, fmadm, zpool...) are declared in their check modules.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from .parsers import ParseError
from .parsers.cim import parse_cim_logicaldisk
from .parsers.df import DiskUsage, parse_df
from .parsers.mounts import parse_mount_table
from .parsers.pkginfo import parse_pkginfo_l
from .parsers.prtdiag import memory_mb, parse_psrinfo
from .parsers.reg import MISSING_KEY, parse_reg_query
from .parsers.release import parse_etc_release, parse_uname
from .parsers.systeminfo import parse_systeminfo
from .parsers.winservices import parse_service_accounts
from .parsers.wmic import parse_wmic_logical_processors, parse_wmic_logicaldisk
from .probes import parse_with, probe

UNINSTALL_KEYS = {
    "uninstall": r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall",
    "wow6432": r"HKLM\SOFTWARE\Wow6432Node\Microsoft\Windows\CurrentVersion\Uninstall",
}
WMIC_DISKS = "wmic logicaldisk get DeviceID,DriveType,FreeSpace,Size,VolumeName"
CIM_DISKS = (
    'powershell -NoProfile -Command "Get-CimInstance Win32_LogicalDisk | '
    'Select-Object DeviceID,DriveType,FreeSpace,Size,VolumeName | ConvertTo-Json"'
)
WMIC_SERVICES = "wmic service get DisplayName,Name,StartMode,StartName,State /value"
CIM_SERVICES = ('powershell -NoProfile -Command "Get-CimInstance Win32_Service | '
                'Select-Object DisplayName,Name,StartMode,StartName,State | ConvertTo-Json"')


# ---- parsers for reads that combine a parser with a little interpretation -------------------------


def software_from_uninstall(text: str, source: str, notes: list[str] | None = None) -> list[dict[str, Any]]:
    """Installed programs from `reg query <Uninstall key> /s` (entries without DisplayName are skipped)."""
    out = []
    for key in parse_with(parse_reg_query, text, notes):
        name = key.get("DisplayName")
        if not name:
            continue
        out.append({"name": name, "version": key.get("DisplayVersion") or "", "publisher": key.get("Publisher") or "",
                    "source": source})
    return out


def _online_processors(text: str, notes: list[str] | None = None) -> int:
    """Virtual processors psrinfo lists as working (on-line or no-intr)."""
    return sum(1 for p in parse_with(parse_psrinfo, text, notes) if p.status in ("on-line", "no-intr"))


def _number(text: str, notes: list[str] | None = None) -> int:
    value = text.strip()
    if not value.isdigit():
        raise ParseError(f"not a number: {value[:80]!r}", excerpt=text)
    return int(value)


def _prtconf_memory(text: str, notes: list[str] | None = None) -> int:
    mb = memory_mb(text)
    if mb is None:
        raise ParseError("no 'Memory size:' line in the prtconf output", excerpt=text)
    return mb


def _systeminfo_memory(text: str, notes: list[str] | None = None) -> int:
    mb = parse_with(parse_systeminfo, text, notes).total_memory_mb
    if mb is None:
        raise ParseError("no 'Total Physical Memory' line in the systeminfo output", excerpt=text)
    return mb


def _meminfo(text: str, notes: list[str] | None = None) -> int:
    m = re.search(r"MemTotal:\s+(\d+)\s*kB", text)
    if not m:
        raise ParseError("no 'MemTotal:' line in /proc/meminfo", excerpt=text)
    return int(m.group(1)) // 1024


def _fixed_disks(parser, text: str, notes: list[str] | None = None) -> list[DiskUsage]:
    """The local fixed disks of a Windows logical-disk listing, as file-system usages."""
    disks = parse_with(parser, text, notes)
    usages = [d.usage() for d in disks if d.is_local_fixed or d.drive_type is None]
    return [u for u in usages if u is not None]


# ---- the probes ---------------------------------------------------------------------------------

UNAME = probe("os.uname", "the kernel and host name", parse_uname, solaris="uname -a", linux="uname -a")
RELEASE = probe("os.release", "the Solaris release", parse_etc_release, solaris="cat /etc/release")
SYSTEMINFO = probe("windows.systeminfo", "the system information", parse_systeminfo, windows="systeminfo")
PROCESSORS = probe(
    "os.processors", "the logical processors", None,
    solaris=("psrinfo", _online_processors),
    # systeminfo's "Processor(s)" counts packages: the logical processors come from wmic
    windows=("wmic cpu get NumberOfLogicalProcessors", parse_wmic_logical_processors),
    linux=("getconf _NPROCESSORS_ONLN", _number),
)
MEMORY = probe(
    "os.memory", "the memory size", None,
    solaris=("prtconf | grep Memory", _prtconf_memory),
    windows=("systeminfo", _systeminfo_memory),
    linux=("cat /proc/meminfo", _meminfo),
)
PACKAGES = probe("solaris.packages", "the installed packages", parse_pkginfo_l, solaris="pkginfo -l")
SOFTWARE = probe(
    "windows.software", "the installed programs", None,
    windows=(f"reg query {UNINSTALL_KEYS['uninstall']} /s", partial(software_from_uninstall, source="uninstall")),
    absent=MISSING_KEY.pattern,
)
SOFTWARE_WOW64 = probe(
    "windows.software_wow6432", "the installed 32-bit programs", None,
    windows=(f"reg query {UNINSTALL_KEYS['wow6432']} /s", partial(software_from_uninstall, source="wow6432")),
    absent=MISSING_KEY.pattern,
    absent_note="no Wow6432Node Uninstall key: a 32-bit Windows has no 32-bit view of its own",
)
DISKS = probe(
    "os.disks", "the file systems", parse_df,
    solaris="df -k",
    linux="df -k",
    windows=[(WMIC_DISKS, partial(_fixed_disks, parse_wmic_logicaldisk)), (CIM_DISKS, partial(_fixed_disks, parse_cim_logicaldisk))],
)
#: the file-system type of each mount point (df -k does not print it): media file systems are full by nature
MOUNTS = probe("os.mounts", "the mount table (file-system types)", parse_mount_table,
               solaris="cat /etc/mnttab", linux="cat /proc/mounts")
SERVICES = probe("windows.services", "the Windows services and the accounts they run as", parse_service_accounts,
                 windows=[WMIC_SERVICES, CIM_SERVICES])
