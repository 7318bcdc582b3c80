"""What the host check modules share beyond their probes: the guide section and remediation of the
operating-system checks, their day-count setting, when the interlock checks apply, and which file
systems are real. Not a plugin (leading underscore).
"""

from __future__ import annotations

import re

from impax_preflight import options
from impax_preflight.parsers.df import DiskUsage

GUIDE_OS = "Checking the operating system"
#: the guide's words (every operating-system check of Windows and Solaris hosts starts its remediation with them)
OS_REMEDIATION = (
    "On each server you plan to upgrade (rather than replace), check the Windows or Solaris operating system "
    "to ensure that it is healthy, so that bad disk systems or server hardware faults do not affect the upgrade: "
    "repair what is listed before the upgrade, or plan to replace the server."
)
#: window_days / recent_days of the log checks
DAYS = options.number(0, 3650, "a number of days", lo_open=True)


def parallel_clusters(site, host, db) -> bool | str:
    """old and new clusters run in parallel (features.parallel_clusters or traveling_server)"""
    if site.features.parallel_clusters or site.features.traveling_server:
        return True
    return "old and new clusters do not run in parallel (features.parallel_clusters / traveling_server)"

#: pseudo and memory file systems whose "fullness" means nothing
PSEUDO_MOUNTS = re.compile(
    r"^(/proc|/dev(/.*)?|/devices|/system/(contract|object)|/etc/mnttab|/etc/dfs/sharetab|/lib/libc\.so\.1|/platform/.*|"
    r"/dev/fd|/sys(/.*)?|/run(/.*)?|/var/run|/etc/svc/volatile|/tmp)$"
)
PSEUDO_FS = re.compile(r"^(proc|mnttab|swap|objfs|sharefs|ctfs|fd|devfs|tmpfs|devtmpfs|sysfs|cgroup.*|none|udev|overlay)$")


def real_filesystems(usages: list[DiskUsage], extra_exclude: list[str] | None = None) -> list[DiskUsage]:
    from impax_preflight.patterns import compile_pattern  # a site's patterns: RE2, linear time

    extra = [compile_pattern(x) for x in (extra_exclude or [])]
    out = []
    for u in usages:
        if u.size_kb <= 0 or PSEUDO_MOUNTS.match(u.mount) or PSEUDO_FS.match(u.filesystem):
            continue
        if any(x.search(u.mount) for x in extra):
            continue
        out.append(u)
    return out


