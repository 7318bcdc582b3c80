"""The OS-health checks of issue 13 (host_windows, host_solaris_hw, site_clock) on real outputs,
through FakeShell, bundles (collection-time ages) and the collector's command list."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from impax_preflight.checks import host_solaris_hw as sol
from impax_preflight.checks import host_windows as win
from impax_preflight.checks import site_clock
from impax_preflight.model import Status
from impax_preflight.options import option_problems
from impax_preflight.testing import FakeShell, fresh_plugins, make_inventory, run_check
from impax_preflight.transports.base import NotCollected, TransportError
from impax_preflight.transports.bundle import BundleEntry, BundleShell, write_bundle

REAL = Path(__file__).resolve().parent.parent / "fixtures" / "oshealth"
MISSING = (9009, "", "'x' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n")


def real(name: str) -> str:
    with open(REAL / name, encoding="utf-8", newline="") as f:
        return f.read()


def by_subject(findings):
    return {f.subject: f for f in findings}


def win_inventory(**site):
    return make_inventory({"hosts": [{"name": "w1", "os": "windows", "roles": ["application"], "transport": {"kind": "local"}}]}, **site)


def bundle(tmp_path, name, os_name, outputs: dict, collected_at: str | None):
    entries = [BundleEntry(cmd, out if not isinstance(out, tuple) else out[1], rc=0 if not isinstance(out, tuple) else out[0],
                           stderr="" if not isinstance(out, tuple) or len(out) < 3 else out[2]) for cmd, out in outputs.items()]
    return BundleShell(write_bundle(tmp_path / name, name, os_name, entries, collected_at=collected_at))


# ---- event log ---------------------------------------------------------------------------------------

def _wevtutil(days=30):
    return win.WEVTUTIL_EVENTS.format(window_ms=str(days * 86_400_000))


def test_event_log_recent_disk_error_fails_as_of_the_bundle_collection(tmp_path):
    # real Disk 51 paging errors of 23 and 26 July 2017, the bundle collected on 27 July 2017
    sh = bundle(tmp_path, "w1", "windows", {_wevtutil(): real("winevent/wevtutil_xml_disk51_warnings.xml")}, "2017-07-27T09:00:00Z")
    f = by_subject(run_check(win.event_log, inventory=win_inventory(), shell=sh))
    assert f["Disk 51 \\Device\\Harddisk0\\DR0"].status is Status.FAIL and f["Disk 51 \\Device\\Harddisk0\\DR0"].values["count"] == 2
    assert "collection of the bundle" in f["Disk 51 \\Device\\Harddisk0\\DR0"].message
    assert f["Disk 51 \\Device\\Harddisk1\\DR1"].status is Status.FAIL  # 4 days old: still within the last 7
    # a month later the same events are older than 7 days: warnings; after the window: ignored
    later = bundle(tmp_path, "w2", "windows", {_wevtutil(): real("winevent/wevtutil_xml_disk51_warnings.xml")}, "2017-08-10T09:00:00Z")
    assert {x.status for x in run_check(win.event_log, inventory=win_inventory(), shell=later)} == {Status.WARN}
    gone = bundle(tmp_path, "w3", "windows", {_wevtutil(): real("winevent/wevtutil_xml_disk51_warnings.xml")}, "2018-01-10T09:00:00Z")
    (ok,) = run_check(win.event_log, inventory=win_inventory(), shell=gone)
    assert ok.status is Status.PASS and ok.values["older_ignored"] == 3


def test_event_log_other_sources_pass_and_2003_falls_back_to_wmic(tmp_path):
    quiet = bundle(tmp_path, "w1", "windows", {_wevtutil(): real("winevent/wevtutil_xml_no_storage_events.xml")}, "2018-07-24T00:00:00Z")
    (f,) = run_check(win.event_log, inventory=win_inventory(), shell=quiet)
    assert f.status is Status.PASS
    # Server 2003: no wevtutil; wmic ntevent answers (real events, wmic's /value layout)
    old = bundle(tmp_path, "w2", "windows", {_wevtutil(): MISSING, win.WMIC_EVENTS: real("winevent/wmic_ntevent_value_DERIVED_disk51.txt")},
                 "2017-07-27T09:00:00Z")
    f = run_check(win.event_log, inventory=win_inventory(), shell=old)
    assert {x.status for x in f} == {Status.FAIL} and any(e.source == win.WMIC_EVENTS for x in f for e in x.evidence)


def test_event_log_window_option_reaches_the_command_and_unexpected_shutdowns_warn():
    inv = win_inventory(options={"os.windows.event_log": {"window_days": 10}})
    assert win.SYSTEM_EVENTS.commands_for("windows", inv.site)[0] == _wevtutil(10)
    now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 86400))
    xml = ("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='EventLog'/><EventID>6008</EventID>"
           f"<Level>2</Level><TimeCreated SystemTime='{now}.000Z'/></System></Event>")
    (f,) = run_check(win.event_log, inventory=inv, shell=FakeShell({_wevtutil(10): xml}, os="windows"))
    assert f.status is Status.WARN and f.values["kind"] == "unexpected shutdown"
    denied = run_check(win.event_log, inventory=win_inventory(),
                       shell=FakeShell({_wevtutil(): (5, "", "Failed to read events. Access is denied."), win.WMIC_EVENTS: MISSING}, os="windows"))
    assert denied[0].status is Status.ERROR and "could not read" in denied[0].message


def _event(when: str, provider: str = "Service Control Manager", event_id: int = 7000, level: int = 2) -> str:
    return (f"<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='{provider}'/>"
            f"<EventID>{event_id}</EventID><Level>{level}</Level><TimeCreated SystemTime='{when}'/></System></Event>")


def test_event_log_cap_reached_warns_with_the_span_read_instead_of_passing(tmp_path):
    # a noisy server: 5000 errors of other sources in the last two days fill wevtutil's /c: -- the older days of
    # the 30-day window were not read, so no pass can be claimed for them
    noise = [_event(f"2024-05-0{1 + i // 2500}T{(i // 100) % 24:02d}:{i % 60:02d}:00.000Z") for i in range(win.EVENT_LIMIT)]
    sh = bundle(tmp_path, "w1", "windows", {_wevtutil(): "".join(noise)}, "2024-05-03T00:00:00Z")
    (f,) = run_check(win.event_log, inventory=win_inventory(), shell=sh)
    assert f.status is Status.WARN and f.subject == "coverage"
    assert "from 2024-05-01 00:00 to 2024-05-02 23:59 UTC" in f.message and "NOT read" in f.message
    assert "from 2024-04-03 00:00 to 2024-05-01 00:00 UTC" in f.message  # the part of the window that was not read
    assert f.values["oldest_read"].startswith("2024-05-01T00:00") and f.values["read"] == win.EVENT_LIMIT
    # a disk error among them is judged, and the coverage is still told
    disk = _event("2024-05-02T10:00:00.000Z", provider="disk", event_id=7)
    sh = bundle(tmp_path, "w2", "windows", {_wevtutil(): disk + "".join(noise[1:])}, "2024-05-03T00:00:00Z")
    got = by_subject(run_check(win.event_log, inventory=win_inventory(), shell=sh))
    assert got["coverage"].status is Status.WARN and got["disk 7"].status is Status.FAIL
    # fewer events than the cap: the window was read whole
    sh = bundle(tmp_path, "w3", "windows", {_wevtutil(): "".join(noise[:10])}, "2024-05-03T00:00:00Z")
    (ok,) = run_check(win.event_log, inventory=win_inventory(), shell=sh)
    assert ok.status is Status.PASS


# ---- disks, RAID, pending reboot -------------------------------------------------------------------------

def test_disks_pred_fail_dirty_volume_and_no_smart():
    sh = FakeShell({win.DISKDRIVES.commands_for("windows")[0]: real("winstorage/wmic_diskdrive_value_DERIVED_predfail.txt"),
                    win.SMART.commands_for("windows")[0]: real("winstorage/wmic_failurepredict_no_instance.txt"),
                    win.VOLUMES.commands_for("windows")[0]: real("winstorage/wmic_volume_value_DERIVED_dirty.txt")}, os="windows")
    f = by_subject(run_check(win.disks, inventory=win_inventory(), shell=sh))
    assert f["Disk 1"].status is Status.FAIL and f["volume:D:"].status is Status.FAIL and "smart" not in f
    assert any("SMART" in e.output for x in f.values() for e in x.evidence if e.kind == "note")
    # wmic gone (newest Windows): PowerShell answers
    ps = FakeShell({win.DISKDRIVES.commands_for("windows")[0]: MISSING,
                    win.DISKDRIVES.commands_for("windows")[1]: '{"DeviceID":"\\\\\\\\.\\\\PHYSICALDRIVE0","Index":0,"Model":"x","Status":"OK"}',
                    win.SMART.commands_for("windows")[0]: MISSING, win.SMART.commands_for("windows")[1]: (1, "", "Get-CimInstance : Not supported"),
                    win.VOLUMES.commands_for("windows")[0]: MISSING,
                    win.VOLUMES.commands_for("windows")[1]: '[{"DirtyBitSet":false,"DriveLetter":"C:","DriveType":3,"Name":"C:\\\\"}]'}, os="windows")
    assert {x.subject: x.status for x in run_check(win.disks, inventory=win_inventory(), shell=ps)} == {"disks": Status.PASS, "volumes": Status.PASS}


RAID_PROBES = (win.HP_CONFIG, win.DELL_VDISKS, win.DELL_CONTROLLERS, *win.DELL_PDISKS.values(), win.LSI_LDS, win.LSI_PDS)


def _raid_shell(**answers):
    out = {c: MISSING for p in RAID_PROBES for c in p.commands_for("windows")}
    out.update(answers)
    return FakeShell(out, os="windows")


DELL_CONTROLLERS_TWO = ("Controller  PERC H710P Mini (Embedded)\r\n\r\nControllers\r\nID                : 0\r\nStatus            : Ok\r\n"
                        "Name              : PERC H710P Mini\r\nSlot ID           : Embedded\r\nState             : Ready\r\n\r\n"
                        "ID                : 1\r\nStatus            : Ok\r\nName              : PERC H810 Adapter\r\n"
                        "Slot ID           : PCI Slot 2\r\nState             : Ready\r\n")
PDISK = ("Controller {name}\r\nID                : 0:0:{bay}\r\nStatus            : {status}\r\nName              : Physical Disk 0:0:{bay}\r\n"
         "State             : {state}\r\nFailure Predicted : No\r\n")


def test_raid_no_tool_is_skipped_naming_the_tools_and_faults_fail_or_warn():
    (f,) = run_check(win.raid, inventory=win_inventory(), shell=_raid_shell())
    assert f.status is Status.SKIPPED and "hpacucli" in f.message and "omreport" in f.message and "MegaCli" in f.message
    hp = _raid_shell(**{"hpacucli ctrl all show config": real("raidtools/hpssacli_p420_ld_all_show_DERIVED_degraded.txt")})
    got = by_subject(run_check(win.raid, inventory=win_inventory(), shell=hp))
    assert got["Smart Array P420 in Slot 2: logicaldrive 1"].status is Status.FAIL
    assert got["Smart Array P420 in Slot 2: logicaldrive 3"].status is Status.WARN  # rebuilding
    dell = _raid_shell(**{"omreport storage vdisk": real("raidtools/omreport_vdisk_checkmk_sample_ok.txt"),
                          "omreport storage controller": DELL_CONTROLLERS_TWO.split("\r\n\r\nID                : 1")[0],
                          "omreport storage pdisk controller=0": PDISK.format(name="PERC H710P Mini", bay=0, status="Ok", state="Online")})
    (ok,) = run_check(win.raid, inventory=win_inventory(), shell=dell)
    assert ok.status is Status.PASS and ok.values["tools"] == ["Dell OpenManage"] and ok.values["disks"] == 1
    lsi = _raid_shell(**{"MegaCli64 -LDInfo -Lall -aALL -NoLog": real("raidtools/megacli_ldinfo_DERIVED_degraded.txt"),
                         "MegaCli64 -PDList -aALL -NoLog": "Adapter #0\r\n\r\nEnclosure Device ID: 252\r\nSlot Number: 0\r\nFirmware state: Online, Spun Up\r\n"})
    assert {x.subject: x.status for x in run_check(win.raid, inventory=win_inventory(), shell=lsi)} == {"Adapter 0: Virtual Drive 0": Status.FAIL}


def test_raid_hp_tool_path_is_quoted_and_its_install_folders_are_tried():
    # a path with spaces, quoted on the command line (review finding: "{hp_cli}" unquoted broke at "Program Files")
    inv = win_inventory(options={"os.windows.raid": {"hp_cli": "D:\\HP Tools\\ssacli.exe"}})
    commands = win.HP_CONFIG.commands_for("windows", inv.site)
    assert commands[0] == '"D:\\HP Tools\\ssacli.exe" ctrl all show config'
    default = win.HP_CONFIG.commands_for("windows")
    for path in ("C:\\Program Files\\Compaq\\Hpacucli\\Bin\\hpacucli.exe", "C:\\Program Files\\HP\\hpssacli\\bin\\hpssacli.exe",
                 "C:\\Program Files\\Smart Storage Administrator\\ssacli\\bin\\ssacli.exe"):
        assert f'"{path}" ctrl all show config' in default
    assert default[-3:] == ("hpacucli ctrl all show config", "hpssacli ctrl all show config", "ssacli ctrl all show config")
    # the tool found in its install folder (not on the PATH) answers; a missing folder ("cannot find the path") is passed over
    no_path = (3, "", "The system cannot find the path specified.\r\n")
    sh = _raid_shell(**{default[0]: no_path, default[1]: no_path, default[2]: no_path,
                        default[3]: real("raidtools/hpssacli_p420_ld_all_show_ok.txt")})
    (ok,) = run_check(win.raid, inventory=win_inventory(), shell=sh)
    assert ok.status is Status.PASS and ok.values["arrays"] == 7
    assert any(e.source == default[3] for e in ok.evidence)
    # a path with quotes (or other command-line characters) is refused when the inventory is checked
    problems = option_problems(win_inventory(options={"os.windows.raid": {"hp_cli": '"D:\\HP\\ssacli.exe" & del x'}}),
                               fresh_plugins().checks())
    assert any("hp_cli" in p and "command line" in p for p in problems), problems


def test_raid_tool_without_controllers_or_arrays_is_an_error_not_a_pass():
    for answer in ("\r\nError: No controllers detected.\r\n", "\r\nSmart Array P410i in Slot 0 (Embedded)    (sn: 5001438012345670)\r\n"):
        (f,) = run_check(win.raid, inventory=win_inventory(), shell=_raid_shell(**{"hpacucli ctrl all show config": answer}))
        assert f.status is Status.ERROR and "NOT verified" in f.message and f.subject == "HP Smart Array:arrays", answer
    dell = _raid_shell(**{"omreport storage vdisk": "No virtual disks found on this system.\r\n",
                          "omreport storage controller": "No controllers found.\r\n"})
    (f,) = run_check(win.raid, inventory=win_inventory(), shell=dell)
    assert f.status is Status.ERROR and "Dell OpenManage" in f.message
    lsi = _raid_shell(**{"MegaCli64 -LDInfo -Lall -aALL -NoLog": "Adapter 0 -- Virtual Drive Information:\r\n"
                         "Number of Virtual Disks Configured on Adapter 0: 0\r\n",
                         "MegaCli64 -PDList -aALL -NoLog": "Adapter #0\r\n\r\nEnclosure Device ID: 252\r\nSlot Number: 0\r\nFirmware state: Online, Spun Up\r\n"})
    (f,) = run_check(win.raid, inventory=win_inventory(), shell=lsi)
    assert f.status is Status.ERROR and "LSI MegaRAID" in f.message


def test_raid_dell_reads_the_disks_of_every_controller():
    sh = _raid_shell(**{"omreport storage vdisk": real("raidtools/omreport_vdisk_checkmk_sample_ok.txt"),
                        "omreport storage controller": DELL_CONTROLLERS_TWO,
                        "omreport storage pdisk controller=0": PDISK.format(name="PERC H710P Mini", bay=0, status="Ok", state="Online"),
                        # the failed disk is on the second controller (an external shelf): controller 0 alone would miss it
                        "omreport storage pdisk controller=1": PDISK.format(name="PERC H810 Adapter", bay=4, status="Critical", state="Failed")})
    f = by_subject(run_check(win.raid, inventory=win_inventory(), shell=sh))
    assert f["PERC H810 Adapter: Physical Disk 0:0:4"].status is Status.FAIL
    # a controller whose disks the check does not read is named, never passed over in silence
    many = DELL_CONTROLLERS_TWO.replace("ID                : 1", "ID                : 7")
    sh = _raid_shell(**{"omreport storage vdisk": real("raidtools/omreport_vdisk_checkmk_sample_ok.txt"),
                        "omreport storage controller": many,
                        "omreport storage pdisk controller=0": PDISK.format(name="PERC H710P Mini", bay=0, status="Ok", state="Online")})
    f = by_subject(run_check(win.raid, inventory=win_inventory(), shell=sh))
    note = f["Dell OpenManage:controllers"]
    assert note.status is Status.WARN and "controller 7 (PERC H810 Adapter)" in note.message and "NOT read" in note.message
    assert "raid" not in f  # not a pass while a controller's disks were not read
    # a bundle without the controller list (collected by an older version): controller 0 only, and said so
    old = _raid_shell(**{"omreport storage vdisk": real("raidtools/omreport_vdisk_checkmk_sample_ok.txt"),
                         "omreport storage controller": NotCollected("omreport storage controller was not collected"),
                         "omreport storage pdisk controller=0": (1, "Invalid controller value. Read, controller=0.\r\n", "")})
    f = by_subject(run_check(win.raid, inventory=win_inventory(), shell=old))
    assert f["Dell OpenManage:controllers"].status is Status.WARN and "only the physical disks of controller 0" in \
        f["Dell OpenManage:controllers"].message


def test_pending_reboot():
    missing = (1, "", "ERROR: The system was unable to find the specified registry key or value.\r\n")
    cbs = win.CBS_REBOOT.commands_for("windows")[0]
    wu = win.WU_REBOOT.commands_for("windows")[0]
    ren = win.RENAMES.commands_for("windows")[0]
    (ok,) = run_check(win.pending_reboot, inventory=win_inventory(), shell=FakeShell({cbs: missing, wu: missing, ren: missing}, os="windows"))
    assert ok.status is Status.PASS
    pending = FakeShell({cbs: "\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Component Based Servicing\\RebootPending\r\n"
                              "    {3c2f0b1e-1234}    REG_DWORD    0x1\r\n", wu: missing,
                         ren: "\r\nHKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Session Manager\r\n"
                              "    PendingFileRenameOperations    REG_MULTI_SZ    \\??\\C:\\Windows\\temp\\a.dll\\0\\0\r\n"}, os="windows")
    (f,) = run_check(win.pending_reboot, inventory=win_inventory(), shell=pending)
    assert f.status is Status.WARN and len(f.values["reasons"]) == 2 and "a.dll" in f.message


# ---- firewall exception and SQL Server accounts ----------------------------------------------------------

def _fw_inventory(port):
    return make_inventory({"hosts": [{"name": "app", "os": "windows", "roles": ["application"], "transport": {"kind": "local"}}]},
                          features={"parallel_clusters": True}, options={"os.windows.firewall_relay": {"relay_port": port}})


def test_firewall_relay_port_allowed_missing_off_and_2003():
    rules, state = win.ADV_RULES.commands_for("windows")[0], win.ADV_STATE.commands_for("windows")[0]
    legacy = win.LEGACY_FIREWALL.commands_for("windows")[0]
    on = real("netsh/advfirewall_currentprofile_state_DERIVED_on.txt")
    shell = FakeShell({rules: real("netsh/advfirewall_rule_61001_real.txt"), state: on}, os="windows")
    (ok,) = run_check(win.firewall_relay, inventory=_fw_inventory(61001), shell=shell)
    assert ok.status is Status.PASS and ok.values["allow_rules"] == ["Open Port 61001 for admin router"]
    (bad,) = run_check(win.firewall_relay, inventory=_fw_inventory(8090), shell=shell)
    assert bad.status is Status.WARN and "no enabled inbound rule allows TCP port 8090" in bad.message and bad.remediation
    off = FakeShell({rules: real("netsh/advfirewall_rule_61001_real.txt"), state: real("netsh/advfirewall_currentprofile_state_DERIVED_off.txt")},
                    os="windows")
    (f,) = run_check(win.firewall_relay, inventory=_fw_inventory(8090), shell=off)
    assert f.status is Status.PASS and f.values["firewall"] == "off"
    nf = real("netsh/advfirewall_not_available_2003.txt")
    s2003 = FakeShell({rules: (1, nf), state: (1, nf), legacy: real("netsh/netsh_firewall_show_config_DERIVED.txt")}, os="windows")
    (f,) = run_check(win.firewall_relay, inventory=_fw_inventory(8090), shell=s2003)
    # 8090 is open in the Domain profile only; the current profile is Standard
    assert f.status is Status.WARN and f.values["profiles"] == ["Standard"]
    (f,) = run_check(win.firewall_relay, inventory=_fw_inventory(3389), shell=s2003)
    assert f.status is Status.PASS


def test_firewall_port_from_the_relay_config_and_unknown_port():
    cfg_cmd = win.RELAY_SETTINGS.commands_for("windows")[0]
    inv = make_inventory({"hosts": [{"name": "app", "os": "windows", "roles": ["application"], "transport": {"kind": "local"}}]},
                         features={"parallel_clusters": True})
    shell = FakeShell({cfg_cmd: (1, "", "The system cannot find the file specified.\r\n")}, os="windows")
    (f,) = run_check(win.firewall_relay, inventory=inv, shell=shell)
    assert f.status is Status.WARN and "port is unknown" in f.message
    config = ('<?xml version="1.0"?><configuration><StudyStatusRelayConfiguration><UserPassword>AQAAANCMnd8BFdERjHoAwE</UserPassword>'
              "<LocalSignalPort>61001</LocalSignalPort></StudyStatusRelayConfiguration></configuration>")
    shell = FakeShell({cfg_cmd: config, win.ADV_RULES.commands_for("windows")[0]: real("netsh/advfirewall_rule_61001_real.txt"),
                       win.ADV_STATE.commands_for("windows")[0]: real("netsh/advfirewall_currentprofile_state_DERIVED_on.txt")}, os="windows")
    (f,) = run_check(win.firewall_relay, inventory=inv, shell=shell)
    assert f.status is Status.PASS and "AQAAANCMnd8BFdERjHoAwE" not in f.model_dump_json()


def test_sql_service_accounts():
    cmd = win.SERVICE_ACCOUNTS.commands_for("windows")[0]
    f = by_subject(run_check(win.sql_service_accounts, inventory=win_inventory(),
                             shell=FakeShell({cmd: real("winservices/wmic_service_value_DERIVED_sql_domain_account.txt")}, os="windows")))
    assert f["MSSQLSERVER"].status is Status.WARN and "HOSPITAL\\svc-sql" in f["MSSQLSERVER"].message
    assert f["SQLSERVERAGENT"].status is Status.PASS and "SQLBrowser" not in f
    (none,) = run_check(win.sql_service_accounts, inventory=win_inventory(),
                        shell=FakeShell({cmd: "\r\r\nDisplayName=Windows Event Log\r\r\nName=eventlog\r\r\nStartMode=Auto\r\r\nStartName=LocalSystem\r\r\nState=Running\r\r\n"},
                                        os="windows"))
    assert none.status is Status.SKIPPED
    # a site's pattern runs on RE2 (the shared helper for users' regexes)
    custom = win_inventory(options={"os.windows.sql_service_accounts": {"service_pattern": "^MSSQLSERVER$"}})
    f = by_subject(run_check(win.sql_service_accounts, inventory=custom,
                             shell=FakeShell({cmd: real("winservices/wmic_service_value_DERIVED_sql_domain_account.txt")}, os="windows")))
    assert set(f) == {"MSSQLSERVER"}


@pytest.mark.parametrize("check_id,setting,bad,good", [
    ("os.windows.raid", "hp_cli", "C:\\HP\\ssacli.exe & del x", "C:\\Program Files\\HP\\hpssacli\\bin\\hpssacli.exe"),
    ("os.windows.firewall_relay", "config_path", '"C:\\relay.config"', "D:\\Agfa\\Study.Status.Relay.exe.config"),
    ("os.windows.firewall_relay", "relay_port", 70000, 8095),
    ("os.windows.event_log", "window_days", 0, 14),
    ("os.windows.event_log", "recent_days", -1, 2.5),
    ("os.windows.event_log", "window_days", "30", 30),
    ("os.solaris.system_log", "window_days", 0, 60),
    ("os.solaris.system_log", "recent_days", "7", 7),
    ("site.clock_skew", "tolerance_s", "60", 30),
    ("site.clock_skew", "fail_s", -5, 120),
    ("os.windows.sql_service_accounts", "service_pattern", "(?<!x)MSSQL", "^MSSQL"),
])
def test_settings_are_typed_and_refused_when_the_inventory_loads(check_id, setting, bad, good):
    checks = fresh_plugins().checks()
    problems = option_problems(win_inventory(options={check_id: {setting: bad}}), checks)
    assert len(problems) == 1 and setting in problems[0], problems
    assert option_problems(win_inventory(options={check_id: {setting: good}}), checks) == []


def test_clock_fail_below_tolerance_is_an_error():
    inv = make_inventory({"hosts": [{"name": "w1", "os": "windows", "roles": ["application"], "transport": {"kind": "local"}}]},
                         options={"site.clock_skew": {"tolerance_s": 120, "fail_s": 60}})
    (f,) = run_check(site_clock.clock_skew, inventory=inv, shell=FakeShell({}, os="windows"))
    assert f.status is Status.ERROR and "fail_s" in f.message


# ---- Solaris -----------------------------------------------------------------------------------------

def test_prtdiag_findings():
    f = by_subject(run_check(sol.hardware, shell=FakeShell({"prtdiag -v": (1, real("prtdiag_env/v210_psu_fan_failed.txt"))})))
    assert f["fan:PS0"].status is Status.FAIL and f["fru:PS0"].status is Status.FAIL and f["led:PS0"].status is Status.WARN
    (ok,) = run_check(sol.hardware, shell=FakeShell({"prtdiag -v": real("prtdiag_env/sf280r_s10_healthy.txt")}))
    assert ok.status is Status.PASS
    (x86,) = run_check(sol.hardware, shell=FakeShell({"prtdiag -v": real("prtdiag_env/x86_s10_eserver325.txt")}))
    assert x86.status is Status.SKIPPED and "service processor" in x86.message


def test_system_log_recent_fatal_fails_retry_warns_and_rotated_file_absent(tmp_path):
    # the real September lines first (last year, the log is in time order), then a fatal error three days before collection
    text = (real("syslog/sun_solution_203375_ssd_media_error.txt") + "Mar  2 10:00:00 db scsi: [ID 107833 kern.warning] WARNING: /pci@0/sd@1,0 (sd1):\n"
            "Mar  2 10:00:00 db \tError for Command: write(10)  Error Level: Fatal\n")
    no_file = (2, "", "cat: cannot open /var/adm/messages.0: No such file or directory\n")
    sh = bundle(tmp_path, "db1", "solaris", {"cat /var/adm/messages": text, "cat /var/adm/messages.0": no_file}, "2025-03-05T12:00:00Z")
    f = by_subject(run_check(sol.system_log, shell=sh))
    assert f["disk:sd1"].status is Status.FAIL and "disk:ssd1" not in f  # Sep 15 of 2024: outside the 30-day window
    wide = make_inventory(options={"os.solaris.system_log": {"window_days": 200}})
    g = by_subject(run_check(sol.system_log, inventory=wide, shell=sh))
    assert g["disk:ssd1"].status is Status.WARN and g["disk:ssd1"].values["last"].startswith("2024-09-15")
    quiet = bundle(tmp_path, "db2", "solaris", {"cat /var/adm/messages": real("syslog/bootcamp_and_sag_informational.txt"),
                                               "cat /var/adm/messages.0": no_file}, "2025-03-05T12:00:00Z")
    (ok,) = run_check(sol.system_log, shell=quiet)
    assert ok.status is Status.PASS


FATAL_SD1 = ("{stamp} db scsi: [ID 107833 kern.warning] WARNING: /pci@0/sd@1,0 (sd1):\n"
             "{stamp} db \tError for Command: write(10)  Error Level: Fatal\n")
NO_MESSAGES_0 = (2, "", "cat: cannot open /var/adm/messages.0: No such file or directory\n")


def test_system_log_that_quotes_no_such_file_is_read_not_taken_for_absent(tmp_path):
    # the log exists (cat exits 0) and an automounter line in it says "No such file or directory": that
    # phrase means "absent" only from a command that failed
    text = ("Mar  1 08:00:00 db automountd[412]: [ID 834250 daemon.error] /net/nas01/export: No such file or directory\n"
            + FATAL_SD1.format(stamp="Mar  2 10:00:00"))
    sh = bundle(tmp_path, "db1", "solaris", {"cat /var/adm/messages": text, "cat /var/adm/messages.0": NO_MESSAGES_0},
                "2025-03-05T12:00:00Z")
    f = by_subject(run_check(sol.system_log, shell=sh))
    assert f["disk:sd1"].status is Status.FAIL, f
    # the failed cat of the rotated file is absent, as before
    gone = bundle(tmp_path, "db2", "solaris", {"cat /var/adm/messages": (2, "", "cat: cannot open /var/adm/messages: No such file "
                                                                          "or directory\n"), "cat /var/adm/messages.0": NO_MESSAGES_0},
                  "2025-03-05T12:00:00Z")
    (err,) = run_check(sol.system_log, shell=gone)
    assert err.status is Status.ERROR and "neither /var/adm/messages nor messages.0 exists" in err.message


def test_system_log_dates_a_host_east_of_utc_and_lines_out_of_order_in_this_year(tmp_path):
    # collected 20:00 UTC on 5 March; the host runs at UTC+10, its log already says 6 March: not a year ago
    east = bundle(tmp_path, "db1", "solaris", {"cat /var/adm/messages": FATAL_SD1.format(stamp="Mar  6 05:30:00"),
                                               "cat /var/adm/messages.0": NO_MESSAGES_0}, "2025-03-05T20:00:00Z")
    f = by_subject(run_check(sol.system_log, shell=east))
    assert f["disk:sd1"].status is Status.FAIL and f["disk:sd1"].values["last"].startswith("2025-03-06"), f
    # a line written a second out of order does not push the lines before it a year back
    text = FATAL_SD1.format(stamp="Mar  2 10:00:05") + "Mar  2 10:00:04 db genunix: [ID 540533 kern.notice] NOTICE: late line\n"
    shuffled = bundle(tmp_path, "db2", "solaris", {"cat /var/adm/messages": text, "cat /var/adm/messages.0": NO_MESSAGES_0},
                      "2025-03-05T12:00:00Z")
    f = by_subject(run_check(sol.system_log, shell=shuffled))
    assert f["disk:sd1"].status is Status.FAIL and f["disk:sd1"].values["last"].startswith("2025-03-02"), f


def test_metadb_replicas():
    f = by_subject(run_check(sol.svm_replicas, shell=FakeShell({"metadb -i": real("metadb/myfaqbase_failed_disk_master_blocks.txt")})))
    assert f["replica:/dev/dsk/c1t0d0s6:None"].status is Status.FAIL and "master blocks" in f["replica:/dev/dsk/c1t0d0s6:None"].message
    assert f["metadb:disks"].status is Status.WARN
    (ok,) = run_check(sol.svm_replicas, shell=FakeShell({"metadb -i": real("metadb/disksuite_421_guide_healthy.txt")}))
    assert ok.status is Status.PASS and ok.values["disks"] == ["c2t3d0", "c3t3d0", "c4t3d0"]
    shell = FakeShell({"metadb -i": (1, "", "metadb: db1: there are no existing databases\n")})
    (none,) = run_check(sol.svm_replicas, shell=shell)
    assert none.status is Status.SKIPPED and shell.privileged_calls == ["metadb -i"]


# ---- cluster clock skew --------------------------------------------------------------------------------

PERL = site_clock.HOST_CLOCK.commands_for("solaris")[0]


def test_clock_skew_live_reads_offsets_unreachable_and_the_tool_clock():
    inv = make_inventory({"hosts": [
        {"name": "a", "os": "solaris", "roles": ["archive"], "transport": {"kind": "local"}},
        {"name": "b", "os": "solaris", "roles": ["archive"], "transport": {"kind": "local"}},
        {"name": "c", "os": "windows", "roles": ["application"], "transport": {"kind": "local"}},
        {"name": "d", "os": "solaris", "roles": ["archive"], "transport": {"kind": "local"}},
    ]})
    now = lambda off: (lambda cmd: f"{time.time() + off:.3f}\n")  # noqa: E731 - read at the moment of the command
    cim = lambda cmd: "LocalDateTime=" + time.strftime("%Y%m%d%H%M%S", time.gmtime(time.time() + 90)) + ".000000+000\r\n"  # noqa: E731

    class Down(FakeShell):
        def run(self, command, timeout=None, privileged=False):
            raise TransportError("ssh d: connection timed out after 10s")

    shells = {"a": FakeShell({PERL: now(0.2)}), "b": FakeShell({PERL: now(-400)}), "c": FakeShell({"wmic os get LocalDateTime /value": cim}, os="windows"),
              "d": Down({})}
    f = by_subject(run_check(site_clock.clock_skew, inventory=inv, shells=shells))
    assert f["a"].status is Status.PASS and abs(f["a"].values["offset_s"] - 0.2) < 0.5
    assert f["b"].status is Status.FAIL and "-400" in f["b"].message.replace(" ", "")[:40] or f["b"].values["deviation_s"] < -399
    assert f["c"].status is Status.WARN and 88 < f["c"].values["offset_s"] < 92
    assert f["d"].status is Status.ERROR and "timed out" in f["d"].message
    assert all(x.evidence for x in (f["a"], f["b"], f["c"]))


def test_clock_skew_wrong_tool_clock_and_bundles(tmp_path):
    inv = make_inventory({"hosts": [{"name": n, "os": "solaris", "roles": ["archive"], "transport": {"kind": "local"}} for n in ("a", "b", "c")]})
    now = lambda off: (lambda cmd: f"{time.time() + off:.3f}\n")  # noqa: E731
    shells = {"a": FakeShell({PERL: now(3600)}), "b": FakeShell({PERL: now(3601)}), "c": FakeShell({PERL: now(3605)})}
    f = by_subject(run_check(site_clock.clock_skew, inventory=inv, shells=shells))
    assert f["this machine"].status is Status.WARN and {f[n].status for n in "abc"} == {Status.PASS}
    # a collector bundle is stamped by the server itself: not measurable; one impax-preflight wrote is (as of collection)
    server = bundle(tmp_path, "a", "solaris", {PERL: "1710411300\n"}, "2024-03-14T10:15:00Z")
    tool = BundleShell(write_bundle(tmp_path / "b", "b", "solaris", [BundleEntry(PERL, f"{time.time() + 420:.0f}\n")]))
    f = by_subject(run_check(site_clock.clock_skew, inventory=inv, shells={"a": server, "b": tool, "c": FakeShell({PERL: now(0)})}))
    assert f["a"].status is Status.WARN and f["a"].values["measured"] is False and "own clock" in f["a"].message
    assert f["b"].status is Status.FAIL and "as of the bundle's collection" in f["b"].message
    # a Solaris 10 without Time::HiRes: plain perl answers
    old = FakeShell({PERL: (2, "", "Can't locate Time/HiRes.pm in @INC\n"), site_clock.HOST_CLOCK.commands_for("solaris")[1]: lambda cmd: f"{int(time.time())}\n"})
    g = by_subject(run_check(site_clock.clock_skew, inventory=make_inventory(), shells={"db1": old}))
    assert g["db1"].status is Status.PASS and g["db1"].values["uncertainty_s"] >= 1.0


def test_operating_system_checks_share_one_guide_remediation_and_one_applicability():
    from impax_preflight.checks import _hostkit, host_app

    checks = fresh_plugins().checks()
    told = [c for c in checks.values() if "On each server you plan to upgrade" in (c.remediation or "")]
    assert len(told) >= 10 and all(c.remediation.startswith(_hostkit.OS_REMEDIATION) for c in told), \
        [c.id for c in told if not c.remediation.startswith(_hostkit.OS_REMEDIATION)]
    assert all(c.guide == _hostkit.GUIDE_OS for c in told)
    assert host_app.interlock_relay.applies.when is win.firewall_relay.applies.when is _hostkit.parallel_clusters


# ---- the collector gathers every command of these checks ------------------------------------------------

def test_collector_gathers_the_new_reads_for_windows_and_solaris(tmp_path):
    from impax_preflight.demo import build_demo
    from impax_preflight.inventory import load_inventory
    from impax_preflight.plan import host_commands
    from impax_preflight.testing import fresh_plugins

    inv = load_inventory(build_demo(tmp_path))
    plugins = fresh_plugins()
    app = host_commands(plugins, inv, inv.host("impax-app01"))
    for cmd in (win.WEVTUTIL_EVENTS.format(window_ms="2592000000"), win.WMIC_EVENTS, "hpacucli ctrl all show config", "omreport storage vdisk",
                "netsh advfirewall firewall show rule name=all dir=in verbose", "netsh firewall show config", "wmic os get LocalDateTime /value",
                win.DISKDRIVES.commands_for("windows")[0], win.SERVICE_ACCOUNTS.commands_for("windows")[0]):
        assert cmd in app, cmd
    db = host_commands(plugins, inv, inv.host("mvf-db01"))
    for cmd in ("prtdiag -v", "cat /var/adm/messages", "cat /var/adm/messages.0", "metadb -i", PERL, "nawk 'BEGIN { srand(); print srand() }'"):
        assert cmd in db, cmd
    assert not [c for c in app if re.search(r"\{\w+\}", c)]  # every placeholder filled
