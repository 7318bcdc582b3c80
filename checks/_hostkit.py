"""Helpers the host check modules share: reading a command's output into an error finding when it
is unusable, parsing with a finding instead of a traceback, and the disk usages of a host (read
once per host for every check that needs them). Not a plugin (leading underscore).
"""

from __future__ import annotations

import re

from impax_preflight.check import CheckContext
from impax_preflight.model import Finding
from impax_preflight.parsers import ParseError
from impax_preflight.parsers.df import DiskUsage, parse_df
from impax_preflight.transports.base import CommandResult

_NOT_FOUND = re.compile(r"not found|not recognized as an internal or external command|No such file or directory|nicht gefunden", re.I)
_DENIED = re.compile(r"permission denied|not authorized|insufficient privilege|Access is denied|requires .*authori[sz]ation|must be (root|super-?user)", re.I)


def command_missing(res: CommandResult) -> bool:
    text = f"{res.stdout}\n{res.stderr}"
    return res.rc in (127, 9009) or (res.rc not in (0, None) and bool(_NOT_FOUND.search(text)) and not res.stdout.strip())


def unusable(ctx: CheckContext, res: CommandResult, what: str, subject: str | None = None) -> Finding | None:
    """An `error` finding when a command gave no usable output (non-zero rc, nothing on stdout), else None."""
    if res.rc in (0, None) or res.stdout.strip():
        return None
    err = (res.stderr or "").strip().splitlines()
    detail = err[-1][:300] if err else "no output"
    if _DENIED.search(res.stderr or ""):
        hint = (
            "the account lacks the privilege: give the inventory's transport a privilege prefix "
            "(privilege = \"pfexec\" or \"sudo -n\") or collect a bundle as root / an administrator"
        )
    elif command_missing(res):
        hint = f"`{res.command}` is not installed or not on the PATH of the login used; check the account's PATH"
    else:
        hint = f"run `{res.command}` by hand on the server to see why it fails"
    return ctx.error(f"could not read {what}: `{res.command}` exited with code {res.rc} ({detail}); {hint}", subject=subject)


def parse_or_error(ctx: CheckContext, fn, res: CommandResult, what: str):
    """(parsed, None) or (None, error finding). A ParseError becomes an error finding quoting the output."""
    try:
        return fn(res.stdout), None
    except ParseError as exc:
        excerpt = exc.excerpt or res.stdout[:300]
        return None, ctx.error(f"could not understand the output of `{res.command}` ({what}): {exc} — excerpt: {excerpt[:300]!r}")


def disk_usages(ctx: CheckContext) -> tuple[list[DiskUsage] | None, Finding | None]:
    """File systems (POSIX `df -k`) or fixed logical disks (Windows wmic, PowerShell as fallback).

    Read once per host for every check that needs them (os.disk_space, os.disk_space_critical,
    hw.requirements) through ``ctx.memo``; the commands' evidence is attached to each caller's
    findings and an error is rebuilt as the caller's own finding.
    """

    def compute():
        start = len(ctx.evidence)
        usages, err = _read_disk_usages(ctx)
        evidence = ctx.evidence[start:]
        del ctx.evidence[start:]  # every caller, this one included, re-attaches it below
        return usages, (err.message, err.subject) if err else None, evidence

    usages, err, evidence = ctx.memo.get(("disk_usages",), compute)
    ctx.evidence.extend(evidence)
    if err:
        return None, ctx.error(err[0], subject=err[1])
    return (list(usages) if usages is not None else None), None


def _read_disk_usages(ctx: CheckContext) -> tuple[list[DiskUsage] | None, Finding | None]:
    if ctx.host is not None and ctx.host.os == "windows":
        from impax_preflight.parsers.cim import parse_cim_logicaldisk
        from impax_preflight.parsers.wmic import parse_wmic_logicaldisk

        res = ctx.run(WMIC_DISKS)
        parser = parse_wmic_logicaldisk
        if res.rc not in (0, None) and not res.stdout.strip():
            res2 = ctx.run(CIM_DISKS)
            if res2.rc in (0, None) and res2.stdout.strip():
                res, parser = res2, parse_cim_logicaldisk
        bad = unusable(ctx, res, "the logical disks")
        if bad:
            return None, bad
        disks, err = parse_or_error(ctx, parser, res, "logical disks")
        if err:
            return None, err
        out = [d.usage() for d in disks if d.is_local_fixed or d.drive_type is None]
        return [u for u in out if u is not None], None
    res = ctx.run("df -k")
    bad = unusable(ctx, res, "the file systems")
    if bad:
        return None, bad
    usages, err = parse_or_error(ctx, parse_df, res, "file systems")
    return usages, err


WMIC_DISKS = "wmic logicaldisk get DeviceID,DriveType,FreeSpace,Size,VolumeName"
CIM_DISKS = (
    'powershell -NoProfile -Command "Get-CimInstance Win32_LogicalDisk | '
    'Select-Object DeviceID,DriveType,FreeSpace,Size,VolumeName | ConvertTo-Json"'
)
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


