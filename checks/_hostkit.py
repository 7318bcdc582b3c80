"""What the host check modules share beyond their probes: which file systems are real.
Not a plugin (leading underscore).
"""

from __future__ import annotations

import re

from impax_preflight.parsers.df import DiskUsage

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


