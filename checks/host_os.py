"""Operating-system health of every server to be upgraded (guide: "Checking the operating system").

Solaris: SMF services (`svcs -xv`), Fault Manager (`fmadm faulty`), ZFS / SVM storage, disk error
counters (`iostat -En`); every host: file-system space; Windows: IMPAX and database services set
to start automatically but stopped.
"""

from __future__ import annotations

import re
from typing import Iterator

from impax_preflight import osprobes
from impax_preflight.check import CheckContext, check, register_module_checks
from impax_preflight.hookspecs import hookimpl
from impax_preflight.model import Finding
from impax_preflight.osprobes import CIM_DISKS, WMIC_DISKS, WMIC_SERVICES  # noqa: F401 - the commands, for tests and docs
from impax_preflight.parsers.fmadm import parse_fmadm_faulty
from impax_preflight.parsers.iostat import parse_iostat_en
from impax_preflight.parsers.metastat import TRANSIENT_STATES, parse_metastat
from impax_preflight.parsers.svcs import parse_svcs_xv
from impax_preflight.parsers.zpool import parse_zpool_status
from impax_preflight.probes import ReadError, Variant, probe
from impax_preflight import options
from impax_preflight.patterns import compile_pattern

from ._hostkit import GUIDE_OS, OS_REMEDIATION, mount_types, sort_filesystems

# ---- what these checks read --------------------------------------------------------------------

SVCS = probe("solaris.svcs", "the SMF service states", parse_svcs_xv, solaris="svcs -xv")
# fmd answers only root or the solaris.* authorizations
FMADM = probe("solaris.fmadm", "the Fault Manager", parse_fmadm_faulty, solaris="fmadm faulty", privileged=True)
ZPOOL = probe("solaris.zpool", "the ZFS pools", parse_zpool_status, solaris="zpool status -x", missing_ok=True)
# metastat says "there are no existing databases" on stderr (exit 1) when SVM is not configured
METASTAT = probe("solaris.metastat", "the SVM metadevices", None, solaris=Variant("metastat", parse_metastat, whole=True),
                 missing_ok=True)
IOSTAT = probe("solaris.iostat", "the disk error counters", parse_iostat_en, solaris="iostat -En")

# ---- Solaris ----------------------------------------------------------------------------------


@check(
    "os.solaris.services",
    "Solaris services healthy (svcs -xv)",
    "blocker",
    "host",
    os=("solaris",),
    guide=GUIDE_OS,
    probes=[SVCS],
    remediation=OS_REMEDIATION + " For a service in maintenance: read its log (the 'See:' file under /var/svc/log), "
    "repair the cause, then `svcadm clear <FMRI>`.",
    description="Every service `svcs -xv` explains: maintenance or degraded fails; one that is offline because of "
    "a dependency warns (it names what it waits for).",
)
def solaris_services(ctx: CheckContext) -> Iterator[Finding]:
    problems = ctx.read(SVCS)
    if not problems:
        yield ctx.passed("svcs -xv lists no service: every enabled service is running")
        return
    for svc in problems:
        values = {"state": svc.state, "since": svc.since, "reason": svc.reason, "logs": svc.see}
        text = f"{svc.fmri} is {svc.state}" + (f" since {svc.since}" if svc.since else "") + (f": {svc.reason}" if svc.reason else "")
        if svc.is_fault:
            yield ctx.fail(text, subject=svc.fmri, values=values)
        else:
            yield ctx.warn(text + (f" ({svc.impact})" if svc.impact else ""), subject=svc.fmri, values=values)


@check(
    "os.solaris.faults",
    "No hardware or software faults (fmadm faulty)",
    "blocker",
    "host",
    os=("solaris",),
    guide=GUIDE_OS,
    probes=[FMADM],
    remediation=OS_REMEDIATION + " Follow the Action of each fault (the MSG-ID's knowledge article), replace the "
    "FRU named, then let Fault Management clear it (`fmadm replaced` / `fmadm repaired` as the procedure says).",
)
def solaris_faults(ctx: CheckContext) -> Iterator[Finding]:
    faults = ctx.read(FMADM)
    if not faults:
        yield ctx.passed("fmadm faulty reports no fault")
        return
    for f in faults:
        yield ctx.fail(
            f"{f.severity} fault {f.msg_id}: {f.summary}" + (f" — {f.description}" if f.description else ""),
            subject=f.uuid,
            values={"msg_id": f.msg_id, "severity": f.severity, "classes": f.classes, "affects": f.affects, "status": f.status, "time": f.time},
        )


@check(
    "os.solaris.storage",
    "ZFS pools and SVM metadevices healthy",
    "blocker",
    "host",
    os=("solaris",),
    guide=GUIDE_OS,
    probes=[ZPOOL, METASTAT],
    remediation=OS_REMEDIATION + " Replace or re-attach the failed device (`zpool replace` / `metareplace` as the "
    "status output says) and wait for the resilver / resync to finish before the upgrade.",
    description="`zpool status -x`: any pool not healthy fails; `metastat` (only when Solaris Volume Manager is "
    "configured): any metadevice or component not Okay fails; Resyncing warns.",
)
def solaris_storage(ctx: CheckContext) -> list[Finding]:
    out: list[Finding] = []
    checked = []
    missing = 0
    try:
        st = ctx.read(ZPOOL)
    except ReadError as exc:
        out.append(ctx.error_from(exc))
    else:
        if st is None:
            missing += 1
            ctx.note("zpool is not installed: this host does not use ZFS")
        elif not st.no_pools:
            checked.append("ZFS")
            unhealthy = st.unhealthy()
            for pool in unhealthy:
                devs = [f"{d.name} {d.state}" + (f" (read {d.read}, write {d.write}, cksum {d.cksum})" if d.has_errors else "") for d in pool.problem_devices()]
                out.append(ctx.fail(
                    f"ZFS pool {pool.name} is {pool.state}" + (f": {', '.join(devs)}" if devs else "") + (f". {pool.status}" if pool.status else ""),
                    subject=f"zpool:{pool.name}",
                    values={"state": pool.state, "devices": devs, "errors": pool.errors, "action": pool.action},
                ))
            if not unhealthy:
                out.append(ctx.passed("all ZFS pools are healthy", subject="zpool"))
    try:
        svm = ctx.read(METASTAT)
    except ReadError as exc:
        out.append(ctx.error_from(exc))
    else:
        if svm is None:
            missing += 1
            ctx.note("metastat is not installed: this host does not use Solaris Volume Manager")
        elif svm.configured:
            checked.append("SVM")
            for dev in svm.unhealthy():
                problems = dev.problems()
                transient = all(any(t in p for t in TRANSIENT_STATES) for p in problems)
                msg = "; ".join(problems) + (f" (Invoke: {dev.invoke})" if dev.invoke else "")
                vals = {"kind": dev.kind, "state": dev.state, "problems": problems}
                out.append((ctx.warn if transient else ctx.fail)(msg, subject=f"svm:{dev.name}", values=vals))
            if not svm.unhealthy():
                out.append(ctx.passed(f"all {len(svm.devices)} SVM metadevices are Okay", subject="svm"))
    if missing == 2 and not out:
        # Solaris 10 and later ship both in /usr/sbin: neither found means the login cannot see them,
        # not that the host has no storage to check
        out.append(ctx.error("neither zpool nor metastat was found: both ship with Solaris in /usr/sbin; add /usr/sbin "
                             "to the PATH of the login used (or collect the bundle as root)"))
    if not checked and not out:  # nothing to look at: say so, do not claim health
        out.append(ctx.skip("no ZFS pool and no Solaris Volume Manager metadevice on this host (hardware RAID?): check the "
                       "array with its vendor tool"))
    return out


@check(
    "os.solaris.disk_errors",
    "No hard or transport disk errors (iostat -En)",
    "warning",
    "host",
    os=("solaris",),
    guide=GUIDE_OS,
    probes=[IOSTAT],
    remediation=OS_REMEDIATION + " A disk with growing hard or transport errors should be replaced (or its cabling / "
    "controller checked) before the upgrade; errors on an empty CD/DVD drive are harmless.",
    description="One warning per device with hard or transport errors; soft errors alone are recorded, not flagged. An "
    "output that lists no device is an error (nothing was verified).",
)
def solaris_disk_errors(ctx: CheckContext) -> Iterator[Finding]:
    devices = ctx.read(IOSTAT)
    if not devices:
        # every Solaris host has a disk: an empty answer verified nothing
        yield ctx.error("`iostat -En` listed no device: the disk error counters were NOT read (every host has at least its "
                        "boot disk); run it by hand on the server, as root if the login cannot see the devices")
        return
    flagged = [d for d in devices if d.hard or d.transport]
    for d in flagged:
        what = f"{d.vendor} {d.product}".strip()
        media = " (removable media drive)" if d.is_removable_media else ""
        yield ctx.warn(
            f"{d.device}{media} {what}: {d.hard} hard, {d.transport} transport, {d.soft} soft errors"
            + (f"; media errors {d.media_error}, device not ready {d.device_not_ready}, predictive failure {d.predictive_failure}" if d.hard else ""),
            subject=d.device,
            values={"hard": d.hard, "transport": d.transport, "soft": d.soft, "media_error": d.media_error, "product": what, "serial": d.serial},
        )
    if not flagged:
        yield ctx.passed(f"no hard or transport errors on {len(devices)} devices", values={"devices": len(devices)})


# ---- every host -------------------------------------------------------------------------------

_DISK_DESCRIPTION = (
    "One finding per file system (Solaris/Linux `df -k`) or fixed logical disk (Windows): at or above "
    "disk_warn_pct (90 %) warns. The catalog calls {fail} % a blocker, but a warning check cannot block the "
    "verdict, so the blocker part is its own check, os.disk_space_critical (severity blocker), which fails "
    "each file system at or above disk_fail_pct (97 %). Pseudo file systems (/proc, /dev, swap, tmpfs...) are skipped, "
    "and so are read-only media, full by nature: CD / DVD and ISO images (hsfs, iso9660, udf, squashfs by the mount table "
    "/etc/mnttab or /proc/mounts; without it, /vol/dev and /dev/sr devices, /cdrom mounts, a full /dev/lofi image); "
    "options: exclude_mounts = [regex, ...]."
)


def _disk_findings(ctx: CheckContext, critical: bool) -> Iterator[Finding]:
    usages = ctx.read(osprobes.DISKS)
    fss, media = sort_filesystems(usages, ctx.options.get("exclude_mounts"), mount_types(ctx))
    warn_pct, fail_pct = ctx.thresholds.disk_warn_pct, ctx.thresholds.disk_fail_pct
    if media:
        ctx.note("not judged, full by nature: " + "; ".join(f"{u.mount} ({u.filesystem}: {why})" for u, why in media))
    if not fss:
        yield ctx.error("no file system or fixed disk found in the output: nothing could be checked"
                        + (f" (only read-only media: {', '.join(u.mount for u, _ in media)})" if media else ""))
        return
    over = 0
    for u in fss:
        values = {"used_pct": u.used_pct, "avail_kb": u.avail_kb, "size_kb": u.size_kb, "filesystem": u.filesystem}
        text = f"{u.mount} ({u.filesystem}) is {u.used_pct:g} % used, {u.avail_gb:g} GB free"
        if critical:
            if u.used_pct >= fail_pct:
                over += 1
                yield ctx.fail(f"{text}: at or above {fail_pct:g} %", subject=u.mount, values=values)
        elif u.used_pct >= warn_pct:
            yield ctx.warn(f"{text}: at or above {warn_pct:g} %" + (f" (above {fail_pct:g} %: see os.disk_space_critical)" if u.used_pct >= fail_pct else ""),
                           subject=u.mount, values=values)
        else:
            yield ctx.passed(text, subject=u.mount, values=values)
    if critical and not over:
        skipped = f"; {len(media)} read-only media not judged: {', '.join(u.mount for u, _ in media)}" if media else ""
        yield ctx.passed(f"no file system at or above {fail_pct:g} % ({len(fss)} checked{skipped})",
                         values={"checked": len(fss), "media": [u.mount for u, _ in media]})




@check(
    "os.disk_space",
    "File systems below the space warning threshold",
    "warning",
    "host",
    guide=GUIDE_OS,
    probes=[osprobes.DISKS, osprobes.MOUNTS],
    remediation="Free space on the file system (old logs, exports, core files) or grow it before the upgrade.",
    description=_DISK_DESCRIPTION.format(fail=97),
    options={"exclude_mounts": options.regex_list()},
)
def disk_space(ctx: CheckContext) -> Iterator[Finding]:
    yield from _disk_findings(ctx, critical=False)


@check(
    "os.disk_space_critical",
    "No file system nearly full",
    "blocker",
    "host",
    guide=GUIDE_OS,
    probes=[osprobes.DISKS, osprobes.MOUNTS],
    remediation="Free space on the file system (old logs, exports, core files) or grow it before the upgrade: "
    "a nearly full file system can stop the database or the archive during the upgrade.",
    description="The blocker half of os.disk_space: each file system or fixed disk at or above disk_fail_pct (97 %) fails; "
    "pseudo file systems and read-only media (CD / DVD, ISO images: hsfs, iso9660, udf, squashfs) are not judged.",
    options={"exclude_mounts": options.regex_list()},
)
def disk_space_critical(ctx: CheckContext) -> Iterator[Finding]:
    yield from _disk_findings(ctx, critical=True)


# ---- Windows ----------------------------------------------------------------------------------

#: IMPAX / Agfa and database services; the SQL Server services the guide says to stop are not here
DEFAULT_SERVICE_PATTERN = (
    r"(?i)agfa|impax|\bmvf|mitra|StudyStatusRelay|^OracleService|TNSListener|^MSSQLSERVER$|^MSSQL\$|^SQLSERVERAGENT$|^SQLAgent\$"
)


@check(
    "os.windows.services",
    "IMPAX and database services set to start automatically are running",
    "warning",
    "host",
    os=("windows",),
    guide=GUIDE_OS,
    probes=[osprobes.SERVICES],
    remediation="Start the service (services.msc or `net start <name>`) and find out from the event log why it "
    "stopped; if it is not needed, set it to manual with the IMPAX support team's agreement.",
    description="Services whose name or display name matches the pattern (option service_pattern; default: Agfa, "
    "IMPAX, MVF, Mitra, Oracle, SQL Server engine and agent) with StartMode Auto and a State other than Running.",
    options={"service_pattern": options.regex()},
)
def windows_services(ctx: CheckContext) -> Iterator[Finding]:
    services = ctx.read(osprobes.SERVICES)
    if not services:
        yield ctx.error(f"`{WMIC_SERVICES}` listed no service at all: the output cannot be right (every Windows host runs "
                        "services); run it by hand on the server")
        return
    # a site's pattern runs on RE2 (linear time, checked when the inventory loads); ours on re
    custom = ctx.options.get("service_pattern")
    pat = compile_pattern(custom) if custom else re.compile(DEFAULT_SERVICE_PATTERN)
    watched = [s for s in services if pat.search(s.name) or pat.search(s.display_name)]
    auto = [s for s in watched if s.auto_start]
    if not auto:
        what = "no service matched the IMPAX / database pattern" if not watched else (
            f"none of the {len(watched)} matching services ({', '.join(s.name for s in watched)[:200]}) starts automatically")
        yield ctx.skip(f"nothing to check among {len(services)} services: {what} (option service_pattern)",
                       values={"watched": [s.name for s in watched], "services": len(services)})
        return
    stopped = [s for s in auto if not s.running]
    for s in stopped:
        yield ctx.warn(
            f"{s.display_name or s.name} ({s.name}) starts automatically but is {s.state}",
            subject=s.name,
            values={"state": s.state, "start_mode": s.start_mode, "display_name": s.display_name},
        )
    if not stopped:
        yield ctx.passed(f"all {len(auto)} automatic IMPAX / database services are running", values={"watched": [s.name for s in watched]})


@hookimpl
def impax_register_checks(register):
    register_module_checks(register, globals())
