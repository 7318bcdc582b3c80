"""What the host check modules share beyond their probes: the guide section and remediation of the
operating-system checks, their day-count setting, when the interlock checks apply, which file
systems are worth judging (not pseudo, not read-only media) and how much free space a host's own
disks have (a ZFS pool counted once). Not a plugin (leading underscore).
"""

from __future__ import annotations

import re
from typing import Mapping

from impax_preflight import options, osprobes
from impax_preflight.parsers.df import DiskUsage
from impax_preflight.probes import ReadError

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
#: read-only media file systems, 100 % used by nature: a CD / DVD, an ISO image mounted through lofi
MEDIA_FS_TYPES = frozenset({"hsfs", "iso9660", "udf", "cdfs", "squashfs"})
#: without the mount table: vold's removable media (/vol/dev/...), Linux's CD drives, /cdrom mounts
_MEDIA_DEVICE = re.compile(r"^(/vol/dev/|/dev/(sr\d|scd\d|cdrom|dvd))")
_MEDIA_MOUNT = re.compile(r"^/(cdrom|media/cdrom\d*|media/dvd)(/|$)")
_LOFI = re.compile(r"^/dev/lofi/\d+$")
#: mounts whose free space is another file system's (NFS, SMB, loopback): not this host's disks
_NETWORK_FS_TYPES = frozenset({"nfs", "nfs3", "nfs4", "cifs", "smbfs", "autofs", "lofs"})


def media_kind(u: DiskUsage, fstype: str | None = None) -> str | None:
    """Why `u` is a read-only media file system that is full by nature, or None. With the mount
    table's type that is exact; without it, the device and mount point tell removable media, and a
    lofi device counts only when it is full (a UFS image on lofi can fill up for real)."""
    if fstype:
        return f"{fstype}, read-only media" if fstype.lower() in MEDIA_FS_TYPES else None
    if _MEDIA_DEVICE.match(u.filesystem) or _MEDIA_MOUNT.match(u.mount):
        return "removable media (CD / DVD)"
    if _LOFI.match(u.filesystem) and u.avail_kb == 0:
        return "a full lofi image (an ISO mounted through lofi)"
    return None


def sort_filesystems(usages: list[DiskUsage], extra_exclude: list[str] | None = None,
                     fstypes: Mapping[str, str] | None = None) -> tuple[list[DiskUsage], list[tuple[DiskUsage, str]]]:
    """The file systems whose space is worth judging, and the media ones set aside with why."""
    from impax_preflight.patterns import compile_pattern  # a site's patterns: RE2, linear time

    extra = [compile_pattern(x) for x in (extra_exclude or [])]
    types = fstypes or {}
    real, media = [], []
    for u in usages:
        if u.size_kb <= 0 or PSEUDO_MOUNTS.match(u.mount) or PSEUDO_FS.match(u.filesystem):
            continue
        if any(x.search(u.mount) for x in extra):
            continue
        why = media_kind(u, types.get(u.mount))
        if why:
            media.append((u, why))
            continue
        real.append(u)
    return real, media


def real_filesystems(usages: list[DiskUsage], extra_exclude: list[str] | None = None,
                     fstypes: Mapping[str, str] | None = None) -> list[DiskUsage]:
    return sort_filesystems(usages, extra_exclude, fstypes)[0]


def zfs_pool(u: DiskUsage, fstype: str | None = None) -> str | None:
    """The ZFS pool of a dataset df lists (``rpool/export`` -> ``rpool``), or None for another file system."""
    if fstype is not None:
        return u.filesystem.split("/")[0] if fstype == "zfs" else None
    # df names a dataset pool/path, never /dev/... nor host:/path
    return u.filesystem.split("/")[0] if not u.filesystem.startswith("/") and ":" not in u.filesystem else None


def local_free_kb(fss: list[DiskUsage], fstypes: Mapping[str, str] | None = None) -> tuple[int, list[str]]:
    """The free space of the host's own disks, each counted once: every dataset of a ZFS pool shows
    the pool's free space (less where a quota caps it), so a pool counts once, with the most any of
    its datasets can still take; network and loopback mounts are someone else's space. And how it
    was counted, for a note."""
    types = fstypes or {}
    pools: dict[str, int] = {}
    total, how = 0, []
    for u in fss:
        fstype = types.get(u.mount)
        if (fstype or "").lower() in _NETWORK_FS_TYPES or (fstype is None and re.match(r"^[^/]+:/", u.filesystem)):
            how.append(f"{u.mount} not counted ({fstype or 'a network mount'})")
            continue
        pool = zfs_pool(u, fstype)
        if pool is not None:
            pools[pool] = max(pools.get(pool, 0), u.avail_kb)
        else:
            total += u.avail_kb
    for pool, kb in sorted(pools.items()):
        how.append(f"ZFS pool {pool} counted once ({kb / 1024 / 1024:.1f} GB free), not once per dataset")
    return total + sum(pools.values()), how


def mount_types(ctx) -> dict[str, str]:
    """{mount point: type} from the mount table on Solaris / Linux ({} on Windows or when it cannot be
    read: noted, and the media file systems are then told by their device and mount point)."""
    if ctx.host is None or ctx.host.os not in ("solaris", "linux"):
        return {}
    try:
        return ctx.read(osprobes.MOUNTS) or {}
    except ReadError as exc:
        ctx.note(f"the mount table could not be read ({exc.reason}): media file systems (CD, DVD, ISO images) are told by "
                 "their device and mount point only")
        return {}
