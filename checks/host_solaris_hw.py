"""Solaris hardware and system-log health (guide: "Checking the operating system"; issue 13):
`prtdiag -v` environmental and FRU status, disk / SCSI / ZFS / panic messages in the system log,
and the Solaris Volume Manager state database replicas (`metadb -i`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Iterator

from impax_preflight.check import CheckContext, check, register_module_checks
from impax_preflight.hookspecs import hookimpl
from impax_preflight.model import Finding
from impax_preflight.parsers.metadb import NOT_CONFIGURED, parse_metadb_i
from impax_preflight.parsers.prtdiag_env import parse_prtdiag_env
from impax_preflight.parsers.syslog import date_messages, parse_messages
from impax_preflight.probes import probe

from ._hostkit import DAYS, GUIDE_OS, OS_REMEDIATION
from ._readings import reference_time

# ---- hardware status (prtdiag -v) ---------------------------------------------------------------------

PRTDIAG = probe(
    "solaris.prtdiag", "the hardware's environmental and FRU status (prtdiag -v)", parse_prtdiag_env,
    solaris="prtdiag -v", timeout_s=180,
    absent=r"prtdiag: not implemented|not supported on this platform",
    absent_note="prtdiag is not implemented on this platform",
)


@check(
    "os.solaris.hardware",
    "No failed fan, power supply, temperature sensor or disabled FRU (prtdiag -v)",
    "blocker",
    "host",
    os=("solaris",),
    guide=GUIDE_OS,
    probes=[PRTDIAG],
    remediation=OS_REMEDIATION + " Replace the failed or faulty component prtdiag names (fan tray, power supply, board) — "
    "the service processor (ALOM / ILOM `showenvironment`, `show faulty`) gives the part; a temperature warning needs "
    "the cooling looked at (blocked vents, a failed fan) before the upgrade.",
    description="Reads every environmental and FRU section of `prtdiag -v` (sun4u with or without PICL, sun4v, older "
    "Enterprise servers): a component reported failed, faulty, FAULT, critical, degraded or unavailable, a disabled or "
    "failed FRU / board, and the 'Failed Field Replaceable Units' and 'Detected System Faults' lists fail; a sensor "
    "warning, an unknown reading, a disabled sensor or a SERVICE / FAULT LED that is on warns. x86 servers' prtdiag "
    "reports no sensors: skipped (read the service processor; fmadm faulty covers diagnosed faults).",
)
def hardware(ctx: CheckContext) -> Iterator[Finding]:
    env = ctx.read(PRTDIAG)
    if env is None or not env.has_environment:
        if env is not None and env.says_no_failures:
            yield ctx.passed(f"prtdiag reports: No failures found in System ({env.system or 'system'})", subject="hardware",
                             values={"system": env.system, "platform": env.platform})
            return
        system = f" ({env.system})" if env is not None and env.system else ""
        yield ctx.skip(f"prtdiag reports no environmental or FRU status on this platform{system}: read the service processor "
                       "(ILOM `show /SYS`, `ipmitool sdr`) for fans, power supplies and temperatures; fmadm faulty (os.solaris.faults) "
                       "covers faults Solaris diagnosed", subject="hardware",
                       values={"platform": env.platform if env else None})
        return
    for p in env.problems:
        text = f"{p.section}: {p.location} is {p.status} ({' '.join(p.line.split())})"
        values = {"section": p.section, "kind": p.kind, "location": p.location, "status": p.status, "line": p.line}
        yield (ctx.fail if p.severity == "fail" else ctx.warn)(text, subject=f"{p.kind}:{p.location}", values=values)
    if not env.problems:
        yield ctx.passed(f"every component prtdiag reports is well ({', '.join(env.sections)})", subject="hardware",
                         values={"system": env.system, "platform": env.platform, "sections": env.sections})


# ---- system log (/var/adm/messages) -------------------------------------------------------------------

SYSLOG_CHECK = "os.solaris.system_log"
MESSAGES = probe("solaris.messages", "the system log /var/adm/messages", parse_messages, solaris="cat /var/adm/messages",
                 timeout_s=180, absent=r"No such file or directory", absent_note="/var/adm/messages does not exist")
MESSAGES_OLD = probe("solaris.messages.0", "the rotated system log /var/adm/messages.0", parse_messages, solaris="cat /var/adm/messages.0",
                     timeout_s=180, absent=r"No such file or directory", absent_note="/var/adm/messages.0 does not exist (not rotated yet)")


@check(
    SYSLOG_CHECK,
    "No disk, SCSI transport, ZFS or panic messages in the system log",
    "blocker",
    "host",
    os=("solaris",),
    guide=GUIDE_OS,
    probes=[MESSAGES, MESSAGES_OLD],
    remediation=OS_REMEDIATION + " For disk and SCSI errors: find the disk (sdN / cXtYdZ: `iostat -En`, `format`), replace it or "
    "its cable / HBA and check the mirror or pool it belongs to (metastat, zpool status); for ZFS messages follow the "
    "ZFS-8000 article named (`zpool status -v`); after a panic read the crash dump (savecore, /var/crash) with Oracle "
    "support before the upgrade.",
    description="Reads /var/adm/messages and messages.0 (the log rotated last week), dates each message (syslog writes no "
    "year: counted back from the collection time, across a new year) and keeps those within window_days (30). A failed "
    "disk operation (Error Level: Fatal, Hardware Error, SCSI transport failed, device offline / not responding, an SVM "
    "component in maintenance) or a ZFS fault in the last recent_days (7) fails; older ones, retried commands (Error Level: "
    "Retryable) and panics (reboot after panic) warn. Syslog times are the host's local time: ages are exact to the hour. "
    "Options: window_days, recent_days.",
    options={"window_days": DAYS, "recent_days": DAYS},
)
def system_log(ctx: CheckContext) -> Iterator[Finding]:
    newest = ctx.reading(MESSAGES)
    older = ctx.reading(MESSAGES_OLD)
    now, since = reference_time(newest)
    messages = (older.value or []) + (newest.value or [])
    if newest.value is None and older.value is None:
        yield ctx.error("neither /var/adm/messages nor messages.0 exists: the system log could not be read (is syslogd writing "
                        "elsewhere? check /etc/syslog.conf)", subject="syslog")
        return
    date_messages(messages, now.replace(tzinfo=None))
    window_days, recent_days = float(ctx.options.get("window_days", 30)), float(ctx.options.get("recent_days", 7))
    window, recent = timedelta(days=window_days), timedelta(days=recent_days)
    groups: dict[tuple[str, str, bool], list] = {}
    for msg in messages:
        kind = msg.kind
        if kind is None or msg.when is None:
            continue
        if now.replace(tzinfo=None) - msg.when > window:
            continue
        groups.setdefault((kind, msg.device or "", msg.is_error), []).append(msg)
    for (kind, device, is_error), msgs in sorted(groups.items()):
        last = max(m.when for m in msgs)
        first = min(m.when for m in msgs)
        age = now.replace(tzinfo=None) - last
        label = {"panic": "panic", "zfs": "ZFS", "disk": "disk / SCSI"}[kind]
        sample = " ".join(msgs[-1].text.split())[:240]
        text = (f"{len(msgs)} {label} {'error' if is_error and kind != 'panic' else 'message'}{'s' if len(msgs) > 1 else ''}"
                + (f" for {device}" if device else "") + f", last {last:%Y-%m-%d %H:%M}"
                + (f" (first {first:%Y-%m-%d})" if first.date() != last.date() else "") + f": {sample}")
        values = {"kind": kind, "device": device or None, "count": len(msgs), "last": last.isoformat(), "error": is_error}
        subject = f"{kind}:{device}" if device else kind
        if kind != "panic" and is_error and age <= recent:
            yield ctx.fail(text + f" — within the last {recent_days:g} days of {since}", subject=subject, values=values)
        else:
            yield ctx.warn(text, subject=subject, values=values)
    if not groups:
        yield ctx.passed(f"no disk, SCSI, ZFS or panic message in the system log in the {window_days:g} days before {since} "
                         f"({len(messages)} messages read)", subject="syslog", values={"messages": len(messages), "window_days": window_days})


# ---- SVM state database replicas (metadb -i) ------------------------------------------------------------

METADB = probe(
    "solaris.metadb", "the Solaris Volume Manager state database replicas (metadb -i)", parse_metadb_i,
    solaris="metadb -i", privileged=True, missing_ok=True,
    absent=NOT_CONFIGURED.pattern, absent_note="Solaris Volume Manager has no state database replicas on this host",
)


@check(
    "os.solaris.svm_replicas",
    "SVM state database replicas healthy: at least three, on at least two disks",
    "blocker",
    "host",
    os=("solaris",),
    guide=GUIDE_OS,
    probes=[METADB],
    remediation=OS_REMEDIATION + " Delete the replicas that report errors (`metadb -d <slice>`), replace the disk if it failed "
    "and add them back (`metadb -a -c 2 <slice>`); keep at least three replicas spread over at least two disks (better: "
    "three), so that losing one disk keeps a majority and the server still boots.",
    description="Every replica of `metadb -i` must be active ('a') without an uppercase flag (W write errors, M master "
    "blocks, D data blocks, F format, S too small, R read errors): otherwise it fails. Fewer than three replicas, or all on "
    "one disk, warns: losing that disk leaves no majority of replicas and Solaris does not boot. No replica (SVM not "
    "used): skipped.",
)
def svm_replicas(ctx: CheckContext) -> Iterator[Finding]:
    replicas = ctx.read(METADB)
    if not replicas:
        yield ctx.skip("Solaris Volume Manager has no state database replicas on this host (SVM not used)", subject="metadb")
        return
    bad = 0
    for r in replicas:
        problems = r.errors + ([] if r.active else ["not active (no 'a' flag)"])
        if problems:
            bad += 1
            yield ctx.fail(f"replica on {r.device} (flags {r.flags}): {', '.join(problems)}", subject=f"replica:{r.device}:{r.first_block}",
                           values={"device": r.device, "flags": r.flags, "first_block": r.first_block})
    healthy = [r for r in replicas if not r.errors and r.active]
    disks = sorted({r.disk for r in healthy})
    values = {"replicas": len(replicas), "healthy": len(healthy), "disks": disks}
    if len(healthy) < 3:
        yield ctx.warn(f"only {len(healthy)} healthy state database replicas (at least three are needed for a majority to survive "
                       "the loss of one)", subject="metadb:count", values=values)
    if healthy and len(disks) < 2:
        yield ctx.warn(f"all healthy replicas are on one disk ({disks[0]}): if it fails, Solaris Volume Manager loses its "
                       "state database", subject="metadb:disks", values=values)
    if not bad and len(healthy) >= 3 and len(disks) >= 2:
        yield ctx.passed(f"{len(healthy)} healthy state database replicas on {len(disks)} disks ({', '.join(disks)})", subject="metadb",
                         values=values)


@hookimpl
def impax_register_checks(register):
    register_module_checks(register, globals())
