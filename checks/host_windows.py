"""Windows health in depth (guide: "Checking the operating system"; issue 13): the System event log,
physical disks and volumes, hardware RAID, a pending reboot, the Study Status Relay's firewall
exception and the SQL Server service accounts.

Every read is a probe whose commands exist on Windows Server 2003 R2 / 2008 / 2008 R2 without
PowerShell 3 (wmic, reg, netsh, wevtutil on 2008 and later), with a PowerShell `Get-CimInstance`
fallback where wmic is gone (the newest Windows). The relay configuration and the service list
are read by probes of this module (the existing checks read them with their own commands; the
reads are meant to be shared once those checks use probes too).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Iterator

from impax_preflight import options, osprobes
from impax_preflight.check import CheckContext, check, register_module_checks
from impax_preflight.hookspecs import hookimpl
from impax_preflight.model import Finding
from impax_preflight.parsers.netsh import (
    NOT_AVAILABLE,
    parse_advfirewall_rules,
    parse_advfirewall_state,
    parse_netsh_firewall_config,
)
from impax_preflight.parsers.raidtools import (
    INVALID_CONTROLLER,
    parse_hpacucli_config,
    parse_megacli_ldinfo,
    parse_megacli_pdlist,
    parse_omreport,
    parse_omreport_controllers,
    parse_omreport_pdisks,
)
from impax_preflight.parsers.reg import parse_reg_query
from impax_preflight.parsers.winevent import parse_wevtutil_xml, parse_wmic_ntevent
from impax_preflight.parsers.winstorage import (
    parse_diskdrives,
    parse_failure_predict,
    parse_volumes,
)
from impax_preflight.patterns import compile_pattern
from impax_preflight.probes import ReadError, probe

from ._hostkit import DAYS, GUIDE_OS, OS_REMEDIATION, parallel_clusters
from ._readings import reference_time
from ._relay import RELAY_SETTINGS


def _option(site, check_id: str, name: str, default: Any) -> Any:
    if site is None:
        return default
    return (site.options.get(check_id) or {}).get(name, default)


# ---- System event log -------------------------------------------------------------------------------

EVENT_LOG_CHECK = "os.windows.event_log"
#: event sources of disks, file systems, storage controllers (Intel RST, HP Smart Array, LSI /
#: Dell PERC MegaRAID, SAS, AHCI, NVMe, storport) and the volume manager, as the System log names them
STORAGE_SOURCES = (
    "disk", "Disk", "Ntfs", "Microsoft-Windows-Ntfs", "atapi", "storport", "storahci", "stornvme", "volmgr",
    "iaStor", "iaStorV", "iaStorA", "iaStorAC", "iaStorAV", "iaStorAVC", "iaStorSW",
    "HpCISSs", "HpCISSs2", "HpCISSs3", "hpsamd", "cpqcissm",
    "megasas", "megasas2i", "megasas35i", "megasr", "MegaSAS", "LSI_SAS", "LSI_SAS2", "LSI_SAS3", "LSI_SCSI",
    "percsas", "percsas2i", "percsas3i",
)
_STORAGE = {s.lower() for s in STORAGE_SOURCES}
#: Disk warnings that are failed I/O, not retries: 51 an error during a paging operation, 52 the
#: drive predicts its own failure (SMART)
_DISK_WARNINGS_THAT_ARE_ERRORS = {51, 52}


#: the newest events wevtutil returns; the window of a server in trouble holds fewer errors and warnings
EVENT_LIMIT = 5000


#: what the common events say (their documented messages), for events read without their text (wevtutil XML)
EVENT_MEANINGS = {
    ("disk", 7): "the device has a bad block", ("disk", 9): "the device did not respond within the timeout",
    ("disk", 11): "the driver detected a controller error", ("disk", 15): "the device is not ready for access",
    ("disk", 51): "an error was detected during a paging operation", ("disk", 52): "the drive predicts its own failure (SMART)",
    ("disk", 153): "an I/O operation was retried", ("disk", 154): "an I/O operation failed due to a hardware error",
    ("disk", 157): "the disk has been surprise removed", ("ntfs", 55): "the file system structure on the disk is corrupt",
    ("ntfs", 57): "the system failed to flush data to the transaction log (delayed write failed)",
    ("ntfs", 98): "the volume needs to be checked (chkdsk)", ("ntfs", 137): "the transaction resource manager failed",
    ("eventlog", 6008): "the previous system shutdown was unexpected",
    ("microsoft-windows-kernel-power", 41): "the system rebooted without cleanly shutting down first",
}


def _meaning(provider: str, event_id: int) -> str:
    key = provider.lower().replace("microsoft-windows-ntfs", "ntfs")
    if event_id in (129,):
        return "a reset was issued to the device (the controller stopped answering)"
    return EVENT_MEANINGS.get((key, event_id), "")


def _xpath(window_ms: str) -> str:
    # errors and warnings of the window, filtered by source here: a query listing ~35 provider
    # names risks the event log's limits on XPath expressions ("The specified query is invalid")
    return f"*[System[(Level=1 or Level=2 or Level=3) and TimeCreated[timediff(@SystemTime) <= {window_ms}]]]"


def _wql() -> str:
    storage = " or ".join(f"SourceName='{s}'" for s in sorted(_STORAGE))
    return (f"Logfile='System' and (EventType=1 or EventType=2) and ({storage} or (SourceName='EventLog' and EventCode=6008))")


def _window_args(site, host) -> dict[str, str]:
    days = float(_option(site, EVENT_LOG_CHECK, "window_days", 30))
    return {"window_ms": str(int(days * 86_400_000))}


WEVTUTIL_EVENTS = 'wevtutil qe System /q:"' + _xpath("{window_ms}") + f'" /f:xml /rd:true /c:{EVENT_LIMIT}'
WMIC_EVENTS = 'wmic ntevent where "' + _wql() + '" get EventCode,EventType,InsertionStrings,Message,SourceName,TimeGenerated /value'

SYSTEM_EVENTS = probe(
    "windows.system_events",
    "the disk, controller and unexpected-shutdown events of the System event log",
    windows=[(WEVTUTIL_EVENTS, parse_wevtutil_xml), (WMIC_EVENTS, parse_wmic_ntevent)],  # wevtutil: 2008+; wmic: 2003
    arguments=_window_args,
    timeout_s=300,  # wmic ntevent walks the whole System log on Server 2003
)


@check(
    EVENT_LOG_CHECK,
    "No disk or controller errors and no unexpected shutdowns in the System event log",
    "blocker",
    "host",
    os=("windows",),
    guide=GUIDE_OS,
    probes=[SYSTEM_EVENTS],
    remediation=OS_REMEDIATION + " For disk, NTFS or controller errors: find the disk the event names (\\Device\\HarddiskN "
    "is Disk N in Disk Management), check it with the vendor's tool (HP SSA, Dell OpenManage, MegaRAID Storage Manager) "
    "and replace it or its cabling / controller; run `chkdsk <volume> /scan` for NTFS errors. For unexpected shutdowns "
    "(EventLog 6008, Kernel-Power 41): find the cause (power, UPS, a crash dump in C:\\Windows\\Minidump) before the "
    "upgrade weekend.",
    description="Reads the System log (wevtutil on Server 2008 and later, wmic ntevent on Server 2003) for events of the "
    "disk, NTFS, storage-controller and volume-manager sources (disk, Ntfs, atapi, storport, storahci, iaStor*, HP Smart Array "
    "HpCISSs*, LSI / Dell PERC megasas / LSI_SAS / percsas, volmgr) and for unexpected shutdowns (EventLog 6008, "
    "Kernel-Power 41) within window_days (30). An error or critical event of a storage source (and Disk 51 paging errors, "
    "Disk 52 SMART predictions, logged as warnings) in the last recent_days (7) fails: the disk is failing now; older "
    "ones and storage warnings (retries such as Disk 153) warn; unexpected shutdowns warn. Ages count from the "
    "collection time for a bundle. wevtutil returns at most the newest 5000 errors and warnings of the window: when it "
    "returns that many, a warning gives the span actually read (oldest to newest event) and says that older events were "
    "not read. Options: window_days, recent_days.",
    options={"window_days": DAYS, "recent_days": DAYS},
)
def event_log(ctx: CheckContext) -> Iterator[Finding]:
    reading = ctx.reading(SYSTEM_EVENTS)
    events = reading.value or []
    now, since = reference_time(reading)
    window_days, recent_days = float(ctx.options.get("window_days", 30)), float(ctx.options.get("recent_days", 7))
    window, recent = timedelta(days=window_days), timedelta(days=recent_days)
    groups: dict[tuple[str, int, str], list] = {}
    older = 0
    for ev in events:
        age = (now - ev.time) if ev.time else None
        if age is not None and age > window:
            older += 1
            continue
        key = (ev.provider, ev.event_id, ev.device or "")
        groups.setdefault(key, []).append(ev)
    findings = 0
    for (provider, event_id, device), evs in sorted(groups.items(), key=lambda kv: kv[0]):
        newest = max((e.time for e in evs if e.time), default=None)
        oldest = min((e.time for e in evs if e.time), default=None)
        shutdown = (provider == "EventLog" and event_id == 6008) or (provider.endswith("Kernel-Power") and event_id == 41)
        storage = provider.lower() in _STORAGE
        if not (shutdown or storage):
            continue
        is_error = any((e.level is not None and e.level <= 2) or
                       (provider.lower() == "disk" and e.event_id in _DISK_WARNINGS_THAT_ARE_ERRORS) for e in evs)
        undated = any(e.time is None for e in evs)
        age_newest = (now - newest) if newest else None
        sample = next((e.message for e in evs if e.message), "") or _meaning(provider, event_id)
        if not sample:
            sample = next(("; ".join(d for d in e.data if d) for e in evs if any(e.data)), "")
        when = (f"last {newest:%Y-%m-%d %H:%M} UTC" + (f", first {oldest:%Y-%m-%d}" if oldest and oldest.date() != newest.date() else "")
                if newest else "date unknown")
        what = "unexpected shutdown" if shutdown else ("error" if is_error else "warning")
        text = (f"{len(evs)} {provider} event{'s' if len(evs) > 1 else ''} {event_id} ({what})"
                + (f" on {device}" if device else "") + f", {when}" + (f": {sample[:200]}" if sample else ""))
        values = {"source": provider, "event_id": event_id, "count": len(evs), "device": device or None,
                  "newest": newest.isoformat() if newest else None, "kind": what}
        subject = f"{provider} {event_id}" + (f" {device}" if device else "")
        findings += 1
        if storage and is_error and (undated or (age_newest is not None and age_newest <= recent)):
            yield ctx.fail(text + f" — within the last {recent_days:g} days of {since}", subject=subject, values=values)
        else:
            yield ctx.warn(text, subject=subject, values=values)
    capped = _capped(reading, events)
    if capped:
        yield _cap_warning(ctx, events, now, since, window_days)
    if not findings and not capped:
        yield ctx.passed(f"no disk, NTFS or controller error and no unexpected shutdown in the System log in the {window_days:g} days "
                         f"before {since}" + (f" ({older} older events of those sources ignored)" if older else ""),
                         values={"window_days": window_days, "older_ignored": older})


def _capped(reading, events: list) -> bool:
    """wevtutil answered with as many events as /c: allows: older events of the window may not have been read."""
    answered = reading.evidence[-1].source if reading.evidence else ""
    skipped = sum(1 for n in reading.notes if "was skipped" in n)  # events the parser could not read count too
    return answered.startswith("wevtutil") and len(events) + skipped >= EVENT_LIMIT


def _cap_warning(ctx: CheckContext, events: list, now, since: str, window_days: float) -> Finding:
    times = sorted(e.time for e in events if e.time)
    start = now - timedelta(days=window_days)
    span = (f"from {times[0]:%Y-%m-%d %H:%M} to {times[-1]:%Y-%m-%d %H:%M} UTC" if times else "(their times could not be read)")
    unread = f" (from {start:%Y-%m-%d %H:%M} to {times[0]:%Y-%m-%d %H:%M} UTC)" if times else ""
    return ctx.warn(
        f"the System log holds at least {EVENT_LIMIT} errors and warnings in the {window_days:g} days before {since}: only the "
        f"newest {EVENT_LIMIT} were read, {span}; older events of the window{unread} were NOT read, so disk or controller "
        "errors among them are not covered by this check: filter the System log by hand (Event Viewer > System > Filter "
        "Current Log, Critical / Error / Warning, the event sources listed in this check) for that period",
        subject="coverage",
        values={"limit": EVENT_LIMIT, "read": len(events), "oldest_read": times[0].isoformat() if times else None,
                "newest_read": times[-1].isoformat() if times else None, "window_start": start.isoformat()})


# ---- physical disks and volumes ----------------------------------------------------------------------

DISKDRIVES = probe(
    "windows.diskdrives",
    "the physical disks' status (Win32_DiskDrive)",
    parse_diskdrives,
    windows=[
        "wmic diskdrive get Caption,DeviceID,Index,InterfaceType,Model,SerialNumber,Status /value",
        'powershell -NoProfile -Command "Get-CimInstance Win32_DiskDrive | '
        'Select-Object Caption,DeviceID,Index,InterfaceType,Model,SerialNumber,Status | ConvertTo-Json"',
    ],
)
SMART = probe(
    "windows.smart",
    "the disks' SMART failure prediction (MSStorageDriver_FailurePredictStatus)",
    parse_failure_predict,
    windows=[
        "wmic /namespace:\\\\root\\wmi path MSStorageDriver_FailurePredictStatus get Active,InstanceName,PredictFailure,Reason /value",
        'powershell -NoProfile -Command "Get-CimInstance -Namespace root/wmi -ClassName MSStorageDriver_FailurePredictStatus | '
        'Select-Object Active,InstanceName,PredictFailure,Reason | ConvertTo-Json"',
    ],
    # disks behind a RAID controller or in a virtual machine: the class is not supported there
    absent=r"Not supported|Nicht unterst|0x8004100c",
    absent_note="SMART failure prediction is not available on this host (disks behind a RAID controller or virtual disks)",
)
VOLUMES = probe(
    "windows.volumes",
    "the volumes' dirty bit (Win32_Volume)",
    parse_volumes,
    windows=[
        "wmic volume get Capacity,DirtyBitSet,DriveLetter,DriveType,FileSystem,Label,Name /value",
        'powershell -NoProfile -Command "Get-CimInstance Win32_Volume | '
        'Select-Object Capacity,DirtyBitSet,DriveLetter,DriveType,FileSystem,Label,Name | ConvertTo-Json"',
    ],
)


@check(
    "os.windows.disks",
    "Physical disks healthy, no SMART failure predicted, no volume marked dirty",
    "blocker",
    "host",
    os=("windows",),
    guide=GUIDE_OS,
    probes=[DISKDRIVES, SMART, VOLUMES],
    remediation=OS_REMEDIATION + " A disk whose status is Pred Fail, Degraded or Error, or whose SMART data predicts a failure, "
    "must be replaced before the upgrade (in a RAID array: through the controller's tool). A volume marked dirty needs "
    "`chkdsk <volume> /f` in a maintenance window (it runs at the next restart otherwise and can take hours).",
    description="Win32_DiskDrive Status (OK passes; Pred Fail, Degraded, Error, NonRecover, No Contact, Lost Comm fail; "
    "Unknown and other states warn); MSStorageDriver_FailurePredictStatus PredictFailure TRUE fails (not available behind RAID "
    "controllers or in VMs: noted); Win32_Volume DirtyBitSet TRUE on a fixed volume fails (the flag `fsutil dirty query` "
    "reads, for every volume in one read: the collector's commands are fixed in advance).",
)
def disks(ctx: CheckContext) -> Iterator[Finding]:
    try:
        drives = ctx.read(DISKDRIVES) or []
    except ReadError as exc:
        yield ctx.error_from(exc, subject="disks")
    else:
        bad = [d for d in drives if d.severity]
        for d in bad:
            yield (ctx.fail if d.severity == "fail" else ctx.warn)(
                f"{d.name} ({d.model or d.device_id}) reports status {d.status}", subject=d.name,
                values={"status": d.status, "model": d.model, "device": d.device_id, "interface": d.interface})
        if drives and not bad:
            yield ctx.passed(f"all {len(drives)} physical disks report status OK", subject="disks", values={"disks": len(drives)})
        elif not drives:
            yield ctx.error("Win32_DiskDrive listed no disk at all: the answer cannot be right; run the command by hand",
                            subject="disks")
    try:
        smart = ctx.read(SMART)
    except ReadError as exc:
        yield ctx.error_from(exc, subject="smart")
    else:
        if smart is None or not smart:
            ctx.note("no disk reports SMART failure prediction to Windows (RAID controller or virtual disks): the disks' health "
                     "comes from the controller (os.windows.raid)")
        else:
            failing = [s for s in smart if s.predict_failure]
            for s in failing:
                yield ctx.fail(f"SMART predicts a failure of {s.instance} (reason code {s.reason})", subject=f"smart:{s.instance}",
                               values={"instance": s.instance, "reason": s.reason})
            if not failing:
                yield ctx.passed(f"SMART predicts no failure on {len(smart)} disks", subject="smart", values={"disks": len(smart)})
    try:
        volumes = ctx.read(VOLUMES) or []
    except ReadError as exc:
        yield ctx.error_from(exc, subject="volumes")
    else:
        fixed = [v for v in volumes if v.is_fixed or v.drive_type is None]
        dirty = [v for v in fixed if v.dirty]
        unknown = [v for v in fixed if v.dirty is None]
        for v in dirty:
            yield ctx.fail(f"volume {v.display} ({v.file_system or 'unknown file system'}) is marked dirty: chkdsk will run at the "
                           "next restart", subject=f"volume:{v.display}", values={"volume": v.name, "file_system": v.file_system})
        if unknown:
            ctx.note(f"DirtyBitSet not reported for {', '.join(v.display for v in unknown)}")
        if fixed and not dirty:
            yield ctx.passed(f"no fixed volume is marked dirty ({len(fixed)} checked)", subject="volumes", values={"volumes": len(fixed)})
        elif not fixed:
            yield ctx.error("Win32_Volume listed no fixed volume: the answer cannot be right; run the command by hand", subject="volumes")


# ---- hardware RAID -----------------------------------------------------------------------------------

RAID_CHECK = "os.windows.raid"
#: where the HP / HPE Smart Array command-line tools install themselves (ACU CLI, SSA CLI), as
#: monitoring scripts published for these servers look for them; option hp_cli replaces the first
HP_CLI_PATHS = (
    "C:\\Program Files\\Compaq\\Hpacucli\\Bin\\hpacucli.exe",
    "C:\\Program Files (x86)\\Compaq\\Hpacucli\\Bin\\hpacucli.exe",
    "C:\\Program Files\\HP\\hpssacli\\bin\\hpssacli.exe",
    "C:\\Program Files\\Smart Storage Administrator\\ssacli\\bin\\ssacli.exe",
)
HP_CLI_NAMES = ("hpacucli", "hpssacli", "ssacli")
_HP_SHOW = " ctrl all show config"


def _hp_args(site, host) -> dict[str, str]:
    return {"hp_cli": str(_option(site, RAID_CHECK, "hp_cli", HP_CLI_PATHS[0]))}


HP_CONFIG = probe(
    "raid.hp", "the HP Smart Array configuration (hpacucli / hpssacli / ssacli)", parse_hpacucli_config,
    # the install folders first (quoted: "Program Files" has a space; a folder that is not there is
    # "not found", and the next is tried), then the tools on the PATH; the last says "not installed"
    windows=['"{hp_cli}"' + _HP_SHOW] + [f'"{p}"{_HP_SHOW}' for p in HP_CLI_PATHS[1:]] + [n + _HP_SHOW for n in HP_CLI_NAMES],
    arguments=_hp_args, missing_ok=True, timeout_s=120,
)
DELL_VDISKS = probe("raid.dell.vdisk", "the Dell PERC virtual disks of every controller (omreport)", parse_omreport,
                    windows="omreport storage vdisk", missing_ok=True, timeout_s=120)
DELL_CONTROLLERS = probe("raid.dell.controller", "the Dell PERC controllers (omreport)", parse_omreport_controllers,
                         windows="omreport storage controller", missing_ok=True, timeout_s=120)
#: `omreport storage pdisk` needs a controller number, and a collector cannot ask the controller list
#: first: the physical disks of controllers 0-3 are read (a server with more is told so)
DELL_PDISK_CONTROLLERS = (0, 1, 2, 3)


def _dell_pdisks(controller: int):
    return probe(f"raid.dell.pdisk.{controller}", f"the Dell PERC physical disks of controller {controller} (omreport)",
                 parse_omreport_pdisks, windows=f"omreport storage pdisk controller={controller}", missing_ok=True,
                 timeout_s=120, absent=INVALID_CONTROLLER.pattern, absent_note=f"omreport knows no controller {controller}")


DELL_PDISKS = {n: _dell_pdisks(n) for n in DELL_PDISK_CONTROLLERS}
LSI_LDS = probe("raid.lsi.ld", "the LSI MegaRAID virtual drives (MegaCli)", parse_megacli_ldinfo,
                windows=["MegaCli64 -LDInfo -Lall -aALL -NoLog", "MegaCli -LDInfo -Lall -aALL -NoLog"], missing_ok=True, timeout_s=120)
LSI_PDS = probe("raid.lsi.pd", "the LSI MegaRAID physical drives (MegaCli)", parse_megacli_pdlist,
                windows=["MegaCli64 -PDList -aALL -NoLog", "MegaCli -PDList -aALL -NoLog"], missing_ok=True, timeout_s=120)
RAID_TOOLS = "hpacucli, hpssacli, ssacli (HP Smart Array), omreport (Dell OpenManage), MegaCli64 / MegaCli (LSI MegaRAID)"


@check(
    RAID_CHECK,
    "Hardware RAID arrays and their disks healthy (HP, Dell, LSI tools)",
    "blocker",
    "host",
    os=("windows",),
    guide=GUIDE_OS,
    probes=[HP_CONFIG, DELL_VDISKS, DELL_CONTROLLERS, *DELL_PDISKS.values(), LSI_LDS, LSI_PDS],
    remediation=OS_REMEDIATION + " Replace the failed disk named (hot-swap it in the bay the tool shows) and let the array "
    "rebuild; wait until the rebuild has finished (the tool shows OK / Optimal / Ready) before the upgrade. A disk with a "
    "predicted failure should be replaced in the same visit.",
    description="Reads every vendor tool that is installed: HP Smart Array (hpacucli / hpssacli / ssacli `ctrl all show "
    "config`, from their install folders under C:\\Program Files or the PATH; option hp_cli for another full path), Dell "
    "OpenManage (`omreport storage vdisk` for every controller, `omreport storage controller` and `omreport storage pdisk "
    "controller=N` for controllers 0-3: a server with more controllers is told whose disks were not read), LSI MegaRAID "
    "(`MegaCli64|MegaCli -LDInfo` / `-PDList`). A failed or degraded array (Failed, Interim Recovery Mode, Degraded, "
    "Offline) or a failed disk fails: the array has lost its redundancy and one more disk loses the archive's data. A "
    "rebuilding array or disk, a predicted failure or another transient state warns: redundancy is coming back, the upgrade "
    "should wait for it. A tool that answers but lists no controller or no array / logical drive is an error (nothing was "
    "verified). No tool found: skipped, naming the tools looked for.",
    options={"hp_cli": options.remote_path()},
)
def raid(ctx: CheckContext) -> Iterator[Finding]:
    found: list[str] = []
    items = []
    unverified = False

    def read(p):
        try:
            return ctx.read(p), None
        except ReadError as exc:
            return None, ctx.error_from(exc, subject=p.name)

    # per tool: what lists its arrays, what lists its disks
    dell_pdisks, dell_errors, dell_note = _read_dell_pdisks(ctx)
    groups = (("HP Smart Array", [HP_CONFIG], "`ctrl all show config` (hpacucli / hpssacli / ssacli)"),
              ("Dell OpenManage", [DELL_VDISKS], "`omreport storage vdisk`"),
              ("LSI MegaRAID", [LSI_LDS, LSI_PDS], "`MegaCli -LDInfo` / `-PDList`"))
    for tool, probes, what in groups:
        got: list = []
        answered = False
        for p in probes:
            value, err = read(p)
            if err is not None:
                yield err
                unverified = True
                continue
            if value is not None:
                answered = True
                got += value
        if tool == "Dell OpenManage":
            for value in dell_pdisks.values():
                answered = answered or value is not None
                got += value or []
        if not answered:
            continue
        found.append(tool)
        items += got
        if not any(i.kind == "array" for i in got):
            unverified = True
            yield ctx.error(f"{tool} is installed but {what} listed no array / logical drive: the RAID arrays were NOT "
                            "verified (no controller of this make, a controller in HBA mode, or the tool cannot see it); check the arrays with the controller's management processor (iLO, iDRAC) or "
                            "its BIOS utility", subject=f"{tool}:arrays", values={"tool": tool})
    if dell_note and "Dell OpenManage" in found:
        unverified = True
        yield ctx.warn(dell_note, subject="Dell OpenManage:controllers", values={"tool": "Dell OpenManage"})
    for err in dell_errors:
        unverified = True
        yield err
    if not found and not unverified:
        yield ctx.skip(f"no hardware RAID tool found on this host (looked for {RAID_TOOLS}): check the arrays with the "
                       "controller's own tool or its management processor (iLO, iDRAC)", values={"looked_for": RAID_TOOLS})
        return
    bad = [i for i in items if i.severity]
    for i in bad:
        what = "array" if i.kind == "array" else "disk"
        yield (ctx.fail if i.severity == "fail" else ctx.warn)(
            f"{i.subject} ({what}) is {i.status}", subject=i.subject, values={"tool": i.tool, "kind": i.kind, "status": i.status, **i.details})
    if not bad and not unverified:
        arrays = sum(1 for i in items if i.kind == "array")
        yield ctx.passed(f"{', '.join(found)}: {arrays} arrays and {len(items) - arrays} disks healthy", subject="raid",
                         values={"tools": found, "arrays": arrays, "disks": len(items) - arrays})


def _read_dell_pdisks(ctx: CheckContext) -> tuple[dict[int, list | None], list[Finding], str | None]:
    """The physical disks per Dell controller read (None: no such controller), the read errors, and
    which controllers' disks could not be read (for a finding, when omreport is there)."""
    pdisks: dict[int, list | None] = {}
    errors: list[Finding] = []
    first, last = DELL_PDISK_CONTROLLERS[0], DELL_PDISK_CONTROLLERS[-1]
    note = None
    try:
        controllers = ctx.read(DELL_CONTROLLERS)
        why = "`omreport storage controller` is not there" if controllers is None else ""
    except ReadError as exc:
        controllers, why = None, exc.reason
    if controllers is None:
        # e.g. a bundle collected before the list was read: controller 0, as then, and say so (the
        # note becomes a finding only where omreport answers)
        wanted = [first]
        note = (f"the Dell controller list could not be read ({why}): only the physical disks of controller {first} "
                "were read; run `omreport storage controller` and `omreport storage pdisk controller=N` for the others by hand")
    else:
        ids = sorted({c.number for c in controllers or [] if c.number is not None})
        wanted = [n for n in ids if n in DELL_PDISKS]
        beyond = [n for n in ids if n not in DELL_PDISKS]
        if beyond:
            names = {c.number: c.name for c in controllers or []}
            note = (f"the physical disks of controller{'s' if len(beyond) > 1 else ''} "
                    + ", ".join(f"{n} ({names.get(n) or 'unnamed'})" for n in beyond)
                    + f" were NOT read (the check reads those of controllers {first}-{last}; the virtual disks of every "
                    "controller were read): run `omreport storage pdisk controller=N` for them by hand")
    for n in wanted:
        try:
            pdisks[n] = ctx.read(DELL_PDISKS[n])
        except ReadError as exc:
            errors.append(ctx.error_from(exc, subject=DELL_PDISKS[n].name))
    return pdisks, errors, note


# ---- pending reboot ----------------------------------------------------------------------------------

_REG_MISSING = (r"unable to find the specified registry key|FEHLER: Der angegebene Registrierungsschl|"
                r"ERREUR : le syst.me n'a pas trouv|Impossibile trovare la chiave|no se encontr")
CBS_REBOOT = probe(
    "windows.reboot.cbs", "the Component Based Servicing RebootPending key", parse_reg_query,
    windows='reg query "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Component Based Servicing\\RebootPending"',
    absent=_REG_MISSING,
)
WU_REBOOT = probe(
    "windows.reboot.wu", "the Windows Update RebootRequired key", parse_reg_query,
    windows='reg query "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\WindowsUpdate\\Auto Update\\RebootRequired"',
    absent=_REG_MISSING,
)
RENAMES = probe(
    "windows.reboot.renames", "the Session Manager PendingFileRenameOperations value", parse_reg_query,
    windows='reg query "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Session Manager" /v PendingFileRenameOperations',
    absent=_REG_MISSING,
)


@check(
    "os.windows.pending_reboot",
    "No reboot pending",
    "warning",
    "host",
    os=("windows",),
    guide=GUIDE_OS,
    probes=[CBS_REBOOT, WU_REBOOT, RENAMES],
    remediation="Restart the server in a maintenance window before the upgrade (and check that it comes back healthy): "
    "installers refuse to run, or leave a half-installed product, while a reboot is pending.",
    description="A reboot is pending when the registry has HKLM\\...\\Component Based Servicing\\RebootPending (updates or "
    "roles installed, Server 2008 and later), HKLM\\...\\WindowsUpdate\\Auto Update\\RebootRequired (Windows Update) or a "
    "non-empty Session Manager PendingFileRenameOperations (files to replace at the next start, all versions).",
)
def pending_reboot(ctx: CheckContext) -> Iterator[Finding]:
    reasons = []
    for p, what in ((CBS_REBOOT, "Component Based Servicing\\RebootPending exists (updates or roles were installed)"),
                    (WU_REBOOT, "WindowsUpdate\\Auto Update\\RebootRequired exists (Windows Update installed updates)")):
        try:
            keys = ctx.read(p)
        except ReadError as exc:
            yield ctx.error_from(exc, subject=p.name)
            continue
        if keys:
            reasons.append(what)
    try:
        keys = ctx.read(RENAMES)
    except ReadError as exc:
        yield ctx.error_from(exc, subject=RENAMES.name)
    else:
        value = next((k.values.get("PendingFileRenameOperations") for k in keys or [] if "PendingFileRenameOperations" in k.values), None)
        files = [f for f in re.split(r"\\0", value.data) if f.strip()] if value else []
        if files:
            reasons.append(f"PendingFileRenameOperations lists {len(files)} entries (e.g. {files[0][:120]})")
    if reasons:
        yield ctx.warn("a reboot is pending: " + "; ".join(reasons), subject="reboot", values={"reasons": reasons})
    else:
        yield ctx.passed("no reboot pending (no RebootPending / RebootRequired key, no pending file renames)", subject="reboot")


# ---- firewall exception for the Study Status Relay ---------------------------------------------------

FIREWALL_CHECK = "os.windows.firewall_relay"
ADV_RULES = probe(
    "windows.firewall.rules", "the inbound Windows Firewall rules (netsh advfirewall)", parse_advfirewall_rules,
    windows="netsh advfirewall firewall show rule name=all dir=in verbose",
    absent=NOT_AVAILABLE.pattern, absent_note="no netsh advfirewall on this Windows (Server 2003): the legacy firewall is read",
)
ADV_STATE = probe(
    "windows.firewall.state", "the active Windows Firewall profiles (netsh advfirewall)", parse_advfirewall_state,
    windows="netsh advfirewall show currentprofile state", absent=NOT_AVAILABLE.pattern,
)
LEGACY_FIREWALL = probe(
    "windows.firewall.legacy", "the Windows Firewall configuration of Server 2003 (netsh firewall)", parse_netsh_firewall_config,
    windows="netsh firewall show config", absent=NOT_AVAILABLE.pattern,
)


@check(
    FIREWALL_CHECK,
    "Windows Firewall lets the Study Status Relay's port in",
    "warning",
    "host",
    roles=("application",),
    os=("windows",),
    when=parallel_clusters,
    guide="Configuring a firewall exception for the Cross-Cluster Dictation Interlock tool",
    probes=[RELAY_SETTINGS, ADV_RULES, ADV_STATE, LEGACY_FIREWALL],
    remediation="On this Application Server open Control Panel > Windows Firewall > Exceptions > Add Port (Server 2008 and "
    "later: Windows Firewall with Advanced Security > Inbound Rules > New Rule > Port), name it Study Status Relay, enter "
    "the relay's TCP port and click OK; configure the same exception on the Application Server of the remote cluster.",
    description="The relay's TCP port (option relay_port, else interlock.relay's relay_port, else the *Port setting of "
    "Study.Status.Relay.exe.config) must be open for inbound TCP in the active firewall profile: on Server 2008 and later an "
    "enabled inbound Allow rule (netsh advfirewall) whose protocol and local ports cover it, or one for the relay program; "
    "on Server 2003 an enabled port opening or allowed program (netsh firewall show config) with exceptions allowed. A "
    "firewall that is off passes (noted); a Block rule for the port fails. The remote cluster's Application Server is "
    "checked too when it is in the inventory (role application).",
    options={"config_path": options.remote_path(), "relay_port": options.port()},
)
def firewall_relay(ctx: CheckContext) -> Iterator[Finding]:
    port = ctx.options.get("relay_port") or (ctx.site.options.get("interlock.relay") or {}).get("relay_port")
    cfg = None
    if not port:
        try:
            cfg = ctx.read(RELAY_SETTINGS)
        except ReadError as exc:
            yield ctx.error_from(exc, subject="port")
            return
        port = cfg.ports()[0] if cfg is not None and cfg.ports() else None
    if not port:
        why = "the relay configuration does not exist" if cfg is None else "the relay configuration has no *Port setting"
        yield ctx.warn(f"the Study Status Relay's port is unknown ({why}): set [site.options.\"{FIREWALL_CHECK}\"] relay_port to "
                       "check the firewall exception", subject="port")
        return
    port = int(port)
    rules = ctx.read(ADV_RULES)
    if rules is not None:
        yield from _judge_advfirewall(ctx, port, rules)
        return
    legacy = ctx.read(LEGACY_FIREWALL)
    if legacy is None:
        yield ctx.error("neither netsh advfirewall nor netsh firewall is available on this host: the firewall could not be read",
                        subject=f"port {port}")
        return
    yield from _judge_legacy(ctx, port, legacy)


_RELAY_PROGRAM = re.compile(r"Study\.Status\.Relay", re.I)


def _judge_advfirewall(ctx: CheckContext, port: int, rules) -> Iterator[Finding]:
    states = ctx.read(ADV_STATE) or []
    active = [s for s in states if s.enabled]
    subject = f"port {port}"
    if states and not active:
        ctx.note(f"the Windows Firewall is off in the active profile ({', '.join(s.name for s in states)})")
        yield ctx.passed(f"the Windows Firewall is off in the active profile ({', '.join(s.name for s in states)}): TCP port {port} is "
                         "not blocked (if the firewall is turned on, add the Study Status Relay exception)", subject=subject,
                         values={"port": port, "firewall": "off"})
        return
    names = {s.name.lower() for s in active}

    def applies(r) -> bool:
        profs = {p.lower() for p in r.profiles}
        return r.enabled and r.direction.lower().startswith("in") and (not names or "any" in profs or "all" in profs or bool(profs & names))

    blocking = [r for r in rules if applies(r) and r.action.lower() == "block" and r.covers_port(port)]
    allowing = [r for r in rules if applies(r) and r.action.lower() == "allow" and
                (r.covers_port(port) or (r.program and _RELAY_PROGRAM.search(r.program) and r.local_ports.lower() == "any"))]
    values = {"port": port, "profiles": [s.name for s in active], "allow_rules": [r.name for r in allowing],
              "block_rules": [r.name for r in blocking]}
    if blocking:
        yield ctx.problem(f"inbound TCP port {port} is blocked by rule(s) {', '.join(r.name for r in blocking)} (a Block rule wins over "
                          "Allow rules)", subject=subject, values=values)
    elif allowing:
        yield ctx.passed(f"inbound TCP port {port} is allowed by rule(s) {', '.join(r.name for r in allowing)}", subject=subject, values=values)
    else:
        yield ctx.problem(f"no enabled inbound rule allows TCP port {port} in the active firewall profile "
                          f"({', '.join(s.name for s in active) or 'unknown'}): the remote cluster's relay cannot reach this one",
                          subject=subject, values=values)


def _judge_legacy(ctx: CheckContext, port: int, fw) -> Iterator[Finding]:
    subject = f"port {port}"
    current = fw.current
    if current and not any(p.enabled for p in current):
        yield ctx.passed(f"the Windows Firewall is off ({', '.join(p.name for p in current)} profile): TCP port {port} is not blocked",
                         subject=subject, values={"port": port, "firewall": "off"})
        return
    for prof in current:
        if not prof.exceptions_allowed:
            yield ctx.problem(f"the {prof.name} profile does not allow exceptions (\"Don't allow exceptions\" is set): TCP port {port} "
                              "is blocked whatever exceptions exist", subject=subject, values={"port": port, "profile": prof.name})
            return
    names = [p.name for p in current]
    opened = [n for prof in names for (p, proto, on, n) in fw.ports.get(prof, []) if on and p == port and proto == "TCP"]
    programs = [n for prof in names for (on, n) in fw.programs.get(prof, []) if on and _RELAY_PROGRAM.search(n)]
    values = {"port": port, "profiles": names, "port_openings": opened, "programs": programs}
    if opened or programs:
        yield ctx.passed(f"TCP port {port} is open in the {', '.join(names)} profile ({', '.join(opened + programs)})", subject=subject,
                         values=values)
    else:
        yield ctx.problem(f"no port opening for TCP {port} (nor an allowed relay program) in the {', '.join(names)} firewall profile: "
                          "the remote cluster's relay cannot reach this one", subject=subject, values=values)


# ---- SQL Server service accounts ---------------------------------------------------------------------

SERVICE_ACCOUNTS = osprobes.SERVICES  # one read of the services for every check
#: the SQL Server database engine and agent services (default and named instances)
SQL_SERVICE_PATTERN = r"(?i)^(MSSQLSERVER|MSSQL\$.+|SQLSERVERAGENT|SQLAgent\$.+)$"


@check(
    "os.windows.sql_service_accounts",
    "SQL Server services run as NT AUTHORITY\\SYSTEM, as the guide installs them",
    "warning",
    "host",
    os=("windows",),
    guide="Installing SQL Server 2008",
    probes=[SERVICE_ACCOUNTS],
    remediation="The guide's installation step sets the SQL Server services to log on as NT AUTHORITY\\SYSTEM (Server "
    "Configuration > Service Accounts). Set them back in SQL Server Configuration Manager (SQL Server Services > the service > "
    "Properties > Log On > Built-in account: Local System) and restart the service, or record with the IMPAX support team why "
    "this site uses another account (it needs the same rights on the data and backup folders).",
    description="Each SQL Server database engine and agent service (MSSQLSERVER, MSSQL$<instance>, SQLSERVERAGENT, "
    "SQLAgent$<instance>; option service_pattern) with its StartName: LocalSystem / NT AUTHORITY\\SYSTEM passes, any other "
    "account warns. No SQL Server service on the host: skipped.",
    options={"service_pattern": options.regex()},
)
def sql_service_accounts(ctx: CheckContext) -> Iterator[Finding]:
    services = ctx.read(SERVICE_ACCOUNTS) or []
    # a site's pattern runs on RE2 (linear time, checked when the inventory loads); ours on re
    custom = ctx.options.get("service_pattern")
    pat = compile_pattern(custom) if custom else re.compile(SQL_SERVICE_PATTERN)
    sql = [s for s in services if pat.search(s.name)]
    if not sql:
        yield ctx.skip(f"no SQL Server service on this host among {len(services)} services (option service_pattern)",
                       values={"services": len(services)})
        return
    for s in sql:
        values = {"account": s.start_name, "state": s.state, "start_mode": s.start_mode, "display_name": s.display_name}
        if s.runs_as_system:
            yield ctx.passed(f"{s.display_name or s.name} ({s.name}) runs as {s.start_name}", subject=s.name, values=values)
        else:
            yield ctx.warn(f"{s.display_name or s.name} ({s.name}) runs as {s.start_name or 'an unknown account'}, not NT AUTHORITY\\SYSTEM "
                           "as the guide's installation step sets it", subject=s.name, values=values)


@hookimpl
def impax_register_checks(register):
    register_module_checks(register, globals())
