"""The OS-health parsers (issue 13) on real captured outputs (tests/fixtures/oshealth/<parser>/, see
its SOURCES.md) and on the noise real captures carry (CRLF, UTF-16, prompts, garbage)."""

from __future__ import annotations

import codecs
from datetime import datetime, timezone
from pathlib import Path

import pytest

from impax_preflight.parsers import ParseError
from impax_preflight.parsers.clock import parse_cim_datetime, parse_epoch, parse_wmic_localdatetime
from impax_preflight.parsers.metadb import parse_metadb_i
from impax_preflight.parsers.mounts import parse_mount_table
from impax_preflight.parsers.netsh import (
    parse_advfirewall_rules,
    parse_advfirewall_state,
    parse_netsh_firewall_config,
    ports_cover,
)
from impax_preflight.parsers.prtdiag_env import parse_prtdiag_env
from impax_preflight.parsers.raidtools import (
    parse_hpacucli_config,
    parse_megacli_ldinfo,
    parse_megacli_pdlist,
    parse_omreport,
    parse_omreport_controllers,
    parse_omreport_pdisks,
)
from impax_preflight.parsers.syslog import date_messages, parse_messages
from impax_preflight.parsers.winevent import parse_wevtutil_xml, parse_wmic_ntevent
from impax_preflight.parsers.winservices import parse_service_accounts
from impax_preflight.parsers.winstorage import parse_diskdrives, parse_failure_predict, parse_volumes
from impax_preflight.transports.base import decode_output

REAL = Path(__file__).resolve().parent.parent / "fixtures" / "oshealth"


def real(name: str) -> str:
    """The fixture as the tool wrote it (CR CR LF and CR LF kept)."""
    with open(REAL / name, encoding="utf-8", newline="") as f:
        return f.read()


# ---- prtdiag -v ------------------------------------------------------------------------------------

def test_prtdiag_sun4u_picl_failed_psu_fan_and_faulty_fru():
    env = parse_prtdiag_env(real("prtdiag_env/v210_psu_fan_failed.txt"))
    assert env.platform == "sun4u" and "Sun Fire V210" in env.system
    got = {(p.kind, p.location, p.status, p.severity) for p in env.problems}
    assert ("fan", "PS0", "failed", "fail") in got and ("fru", "PS0", "faulty", "fail") in got
    assert ("led", "PS0", "SERVICE LED on", "warn") in got
    assert "Fru Operational Status" in env.sections and "Temperature sensors" in env.sections


def test_prtdiag_fan_at_zero_rpm_and_old_enterprise_boards():
    fan = parse_prtdiag_env(real("prtdiag_env/v210_fan_failed.txt"))
    assert [(p.location, p.status) for p in fan.problems if p.severity == "fail"] == [("F0", "failed")]
    e4500 = parse_prtdiag_env(real("prtdiag_env/e4500_board_failed.txt"))
    fails = [(p.kind, p.location, p.status) for p in e4500.problems if p.severity == "fail"]
    assert ("board", "3", "disabled") in fails and ("board", "5", "failed") in fails
    assert any(k == "fru" and "IO Board #5" in p.line for (k, *_), p in zip(fails, e4500.problems))
    assert any(p.kind == "fault" and "PROM detected failure" in p.line for p in e4500.problems)
    # "Most recent AC Power Failure" is history, not a fault
    assert not any("AC Power" in p.section for p in e4500.problems)


@pytest.mark.parametrize("name", ["v210_healthy.txt", "sf280r_s10_healthy.txt", "sf480r_healthy.txt", "t5220_sun4v_SYNTHETIC_healthy.txt"])
def test_prtdiag_healthy_layouts_report_nothing(name):
    env = parse_prtdiag_env(real(f"prtdiag_env/{name}").replace("\n", "\r\n"))
    assert env.problems == [] and env.has_environment


def test_prtdiag_sun4v_statuses_and_x86_without_sensors():
    env = parse_prtdiag_env(real("prtdiag_env/t5220_sun4v_SYNTHETIC_fan_failed.txt"))
    got = {(p.kind, p.location, p.status, p.severity) for p in env.problems}
    assert got == {("fan", "SYS/FANBD0/FM1/F0", "failed", "fail"), ("temperature", "SYS/MB/CMP0", "warning", "warn"),
                   ("led", "SYS", "SERVICE LED on", "warn"), ("fru", "SYS/PS1", "disabled", "fail")}
    x86 = parse_prtdiag_env(real("prtdiag_env/x86_s10_eserver325.txt"))
    assert x86.platform == "i86pc" and not x86.has_environment and x86.problems == []
    with pytest.raises(ParseError):
        parse_prtdiag_env("prtdiag: cannot open /dev/openprom\n")


# ---- Windows System event log --------------------------------------------------------------------

def test_wevtutil_xml_real_disk_events_and_other_sources():
    evs = parse_wevtutil_xml(real("winevent/wevtutil_xml_disk51_warnings.xml"))
    assert [(e.provider, e.event_id, e.level, e.device) for e in evs] == [
        ("Disk", 51, 3, "\\Device\\Harddisk1\\DR1"), ("Disk", 51, 3, "\\Device\\Harddisk0\\DR0"), ("Disk", 51, 3, "\\Device\\Harddisk0\\DR0")]
    assert evs[0].time == datetime(2017, 7, 23, 7, 16, 52, 599777, tzinfo=timezone.utc)
    other = parse_wevtutil_xml(real("winevent/wevtutil_xml_no_storage_events.xml"))
    assert len(other) == 12 and {e.provider for e in other} >= {"LsaSrv"}
    assert parse_wevtutil_xml("") == []


def test_wevtutil_one_line_per_event_with_single_quotes_and_7_digit_fractions():
    line = ("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='EventLog'/>"
            "<EventID Qualifiers='32768'>6008</EventID><Level>2</Level><TimeCreated SystemTime='2024-03-01T02:03:04.1234567Z'/>"
            "<EventRecordID>77</EventRecordID></System><EventData><Data>02:01:00</Data><Data>01.03.2024</Data></EventData></Event>")
    (ev,) = parse_wevtutil_xml(line + "\r\n")
    assert (ev.provider, ev.event_id, ev.level, ev.record) == ("EventLog", 6008, 2, 77)
    assert ev.time == datetime(2024, 3, 1, 2, 3, 4, 123456, tzinfo=timezone.utc)
    with pytest.raises(ParseError):
        parse_wevtutil_xml("Access is denied.\r\n")
    with pytest.raises(ParseError):  # an entity declaration is never expanded
        parse_wevtutil_xml("<!DOCTYPE x [<!ENTITY a 'b'>]><Event><System><EventID>1</EventID></System><Data>&a;</Data></Event>")


def test_wmic_ntevent_value_layout_utf16_and_empty():
    raw = real("winevent/wmic_ntevent_value_DERIVED_disk51.txt")
    utf16 = codecs.BOM_UTF16_LE + raw.encode("utf-16-le")
    evs = parse_wmic_ntevent(decode_output(utf16))
    assert [(e.provider, e.event_id, e.level, e.data) for e in evs][0] == ("Disk", 51, 3, ["\\Device\\Harddisk1\\DR1"])
    assert evs[1].time == datetime(2017, 7, 26, 7, 41, 15, 23083, tzinfo=timezone.utc) and "paging" in evs[1].message
    assert parse_wmic_ntevent(real("winevent/wmic_ntevent_no_instance.txt")) == []
    multi = parse_wmic_ntevent("EventCode=6008\r\nEventType=1\r\nMessage=The previous system shutdown at 02:01:00 on\r\n01.03.2024 was unexpected.\r\n"
                               "SourceName=EventLog\r\nTimeGenerated=20240301020305.000000+060\r\n")
    assert multi[0].message.endswith("was unexpected.") and multi[0].time == datetime(2024, 3, 1, 1, 3, 5, tzinfo=timezone.utc)
    with pytest.raises(ParseError):
        parse_wmic_ntevent("ERROR:\r\nDescription = Invalid query\r\n")


# ---- Windows disks, volumes, services ---------------------------------------------------------------

def test_diskdrives_volumes_smart():
    disks = parse_diskdrives(decode_output(codecs.BOM_UTF16_LE + real("winstorage/wmic_diskdrive_value_DERIVED_predfail.txt").encode("utf-16-le")))
    assert [(d.name, d.status, d.severity) for d in disks] == [("Disk 0", "OK", None), ("Disk 1", "Pred Fail", "fail")]
    vols = parse_volumes(real("winstorage/wmic_volume_value_DERIVED_dirty.txt"))
    assert [(v.display, v.dirty, v.is_fixed) for v in vols] == [("C:", False, True), ("D:", True, True), ("E:", None, False)]
    assert parse_failure_predict(real("winstorage/wmic_failurepredict_no_instance.txt")) == []
    cim = parse_failure_predict('[{"Active":true,"InstanceName":"SCSI\\\\Disk&Ven_ATA\\\\4&1_0","PredictFailure":true,"Reason":5}]')
    assert cim[0].predict_failure and cim[0].reason == 5
    with pytest.raises(ParseError):
        parse_volumes("DriveLetter=C:\r\n")


def test_service_accounts():
    svcs = {s.name: s for s in parse_service_accounts(real("winservices/wmic_service_value_DERIVED_sql_domain_account.txt"))}
    assert not svcs["MSSQLSERVER"].runs_as_system and svcs["SQLSERVERAGENT"].runs_as_system
    ps = parse_service_accounts('{"DisplayName":"SQL Server (X)","Name":"MSSQL$X","StartMode":2,"StartName":"NT AUTHORITY\\\\SYSTEM","State":4}')
    assert ps[0].start_mode == "Auto" and ps[0].state == "Running" and ps[0].runs_as_system
    with pytest.raises(ParseError):
        parse_service_accounts("No Instance(s) Available.\r\n")


# ---- RAID tools -------------------------------------------------------------------------------------

def test_hp_smart_array_real_healthy_and_degraded():
    ok = parse_hpacucli_config(real("raidtools/hpssacli_p420_ld_all_show_ok.txt")) + parse_hpacucli_config(
        real("raidtools/hpssacli_p420_pd_all_show_ok.txt"))
    assert len(ok) == 15 and not [i for i in ok if i.severity] and ok[0].controller == "Smart Array P420 in Slot 2"
    bad = {i.name: i for i in parse_hpacucli_config(real("raidtools/hpssacli_p420_ld_all_show_DERIVED_degraded.txt"))}
    assert bad["logicaldrive 1"].severity == "fail" and bad["logicaldrive 1"].status == "Interim Recovery Mode"
    assert bad["logicaldrive 2"].severity == "fail" and bad["logicaldrive 3"].severity == "warn"
    assert bad["logicaldrive 3"].status == "Recovering, 26% complete" and bad["logicaldrive 4"].severity is None
    pds = {i.name: i for i in parse_hpacucli_config(real("raidtools/hpssacli_p420_pd_all_show_DERIVED_failed.txt"))}
    assert pds["physicaldrive 2I:1:7"].severity == "fail" and pds["physicaldrive 2I:1:8"].severity == "warn"
    spare = parse_hpacucli_config("Smart Array P410i in Slot 0 (Embedded)\n\n   array A (SAS, Unused Space: 0  MB)\n\n"
                                  "      physicaldrive 1I:1:5 (port 1I:box 1:bay 5, SAS, 146 GB, OK, spare)\n")
    assert spare[0].severity is None and spare[0].status == "OK, spare"
    with pytest.raises(ParseError):
        parse_hpacucli_config("'hpacucli' is not recognized as an internal or external command")


def test_omreport_and_megacli():
    ok = parse_omreport(real("raidtools/omreport_vdisk_checkmk_sample_ok.txt"))
    assert [(i.name, i.kind, i.severity) for i in ok] == [("Virtual Disk 0", "array", None)]
    bad = parse_omreport(real("raidtools/omreport_vdisk_DERIVED_degraded.txt"))
    assert bad[0].severity == "fail" and bad[0].status == "Degraded, Critical"
    rebuilding = parse_omreport("Controller PERC 6/i Integrated (Embedded)\nID : 0:0:1\nStatus : Non-Critical\nName : Physical Disk 0:0:1\n"
                                "State : Rebuilding\nFailure Predicted : No\n")
    assert rebuilding[0].kind == "disk" and rebuilding[0].severity == "warn" and rebuilding[0].controller.startswith("PERC 6/i")
    ld = parse_megacli_ldinfo(real("raidtools/megacli_ldinfo_optimal.txt"))
    assert [(i.controller, i.name, i.status, i.severity) for i in ld] == [("Adapter 0", "Virtual Drive 0", "Optimal", None)]
    assert parse_megacli_ldinfo(real("raidtools/megacli_ldinfo_DERIVED_degraded.txt"))[0].severity == "fail"
    pd = parse_megacli_pdlist(real("raidtools/megacli_pdinfo_partial_redhat.txt"))
    assert pd[0].name == "[32:5]" and pd[0].severity == "warn" and "no Firmware state" in pd[0].status
    failed = parse_megacli_pdlist("Adapter #0\n\nEnclosure Device ID: 252\nSlot Number: 1\nPredictive Failure Count: 0\nFirmware state: Failed\n")
    assert failed[0].severity == "fail"


def test_omreport_controller_list_and_a_controller_that_is_not_there():
    listing = ("Controller  PERC H710P Mini (Embedded)\n\nControllers\nID                : 0\nStatus            : Ok\n"
               "Name              : PERC H710P Mini\nSlot ID           : Embedded\nState             : Ready\n\n"
               "ID                : 1\nStatus            : Non-Critical\nName              : PERC H810 Adapter\nState             : Degraded\n")
    assert [(c.number, c.name, c.status) for c in parse_omreport_controllers(listing)] == [
        (0, "PERC H710P Mini", "Ok"), (1, "PERC H810 Adapter", "Non-Critical")]
    assert parse_omreport_controllers("No controllers found.\n") == []
    with pytest.raises(ParseError):
        parse_omreport_controllers("'omreport' is not recognized as an internal or external command")
    # "Invalid controller value" (whatever the exit code): no such controller, not an empty one
    assert parse_omreport_pdisks("Invalid controller value. Read, controller=1.\n") is None
    assert parse_omreport_pdisks("Controller PERC 6/i\nID : 0:0:1\nStatus : Ok\nName : Physical Disk 0:0:1\nState : Online\n")[0].kind == "disk"


# ---- mount table ------------------------------------------------------------------------------------

def test_mount_table_solaris_and_linux():
    solaris = ("rpool/ROOT/s10\t/\tzfs\tdev=4010002\t1732604211\n"
               "/vol/dev/dsk/c0t0d0/impax_651\t/cdrom/impax 651\thsfs\tro,nosuid,rr,dev=16c0001\t1732693410\n"
               "swap\t/tmp\ttmpfs\txattr,dev=5400002\t1732604214\n")
    assert parse_mount_table(solaris) == {"/": "zfs", "/cdrom/impax 651": "hsfs", "/tmp": "tmpfs"}
    linux = "/dev/sda1 / xfs rw,relatime 0 0\n/dev/sr0 /run/media/x/CentOS\\0407 iso9660 ro,nosuid 0 0\n"
    assert parse_mount_table(linux) == {"/": "xfs", "/run/media/x/CentOS 7": "iso9660"}
    notes: list[str] = []
    assert parse_mount_table(solaris + "garbage line\n", notes=notes)["/"] == "zfs" and notes
    with pytest.raises(ParseError):
        parse_mount_table("cat: cannot open /etc/mnttab\n")


# ---- metadb -i --------------------------------------------------------------------------------------

def test_metadb_real_healthy_failed_and_not_configured():
    ok = parse_metadb_i(real("metadb/disksuite_421_guide_healthy.txt"))
    assert [(r.disk, r.flags, r.errors) for r in ok] == [("c4t3d0", "au", []), ("c3t3d0", "au", []), ("c2t3d0", "au", [])]
    bad = parse_metadb_i(real("metadb/myfaqbase_failed_disk_master_blocks.txt"))
    assert [r.errors for r in bad if r.errors] == [["M (problem with master blocks)"]] * 2
    assert bad[3].first_block is None and not bad[3].active and bad[0].flags == "ampluo"
    one_disk = parse_metadb_i(real("metadb/myfaqbase_after_replicas_deleted_one_disk.txt"))
    assert {r.disk for r in one_disk} == {"c1t1d0"}
    assert parse_metadb_i("metadb: mvf-db01: there are no existing databases\n") == []
    with pytest.raises(ParseError):
        parse_metadb_i("sh: metadb: not found\n")


# ---- Solaris system log ------------------------------------------------------------------------------

def test_syslog_real_scsi_errors_grouped_and_dated():
    msgs = parse_messages(real("syslog/sun_solution_203375_ssd_media_error.txt"))
    assert len(msgs) == 2 and all(m.kind == "disk" and m.device == "ssd1" for m in msgs)
    assert not msgs[0].is_error and "Media Error" in msgs[0].text  # Retryable: retried, not (yet) failed
    date_messages(msgs, datetime(2009, 10, 1))
    assert msgs[1].when == datetime(2009, 9, 15, 9, 11, 19)
    quiet = parse_messages(real("syslog/bootcamp_and_sag_informational.txt"))
    assert len(quiet) == 5 and [m.kind for m in quiet] == [None] * 5


def test_syslog_year_boundary_and_fatal_zfs_panic():
    text = ("Dec 30 23:59:58 h scsi: [ID 107833 kern.warning] WARNING: /pci@0/sd@1,0 (sd1):\n"
            "Dec 30 23:59:58 h \tError for Command: write(10)  Error Level: Fatal\n"
            "Dec 30 23:59:58 h scsi: [ID 107833 kern.notice] \tSense Key: Hardware Error\n"
            "Jan  2 08:00:00 h fmd: [ID 377184 daemon.error] SUNW-MSG-ID: ZFS-8000-D3, TYPE: Fault, VER: 1, SEVERITY: Major\n"
            "Jan  3 09:15:02 h savecore: [ID 570001 auth.error] reboot after panic: BAD TRAP: type=31\n")
    msgs = date_messages(parse_messages(text), datetime(2025, 1, 5, 12, 0))
    assert [(m.kind, m.when.year, m.is_error) for m in msgs] == [("disk", 2024, True), ("zfs", 2025, True), ("panic", 2025, True)]
    assert len(msgs[0].lines) == 3 and msgs[0].device == "sd1"
    # a log older than the reference's month/day belongs to the year before
    old = date_messages(parse_messages("Nov 20 10:00:00 h sd: [ID 1 kern.warning] WARNING: x\n"), datetime(2025, 3, 1))
    assert old[0].when.year == 2024
    assert parse_messages("") == []
    with pytest.raises(ParseError):
        parse_messages("cat: cannot open /var/adm/messages\n")


def test_syslog_dates_step_back_a_year_only_across_a_new_year():
    line = "{} h genunix: [ID 1 kern.notice] x\n"
    dated = lambda stamps, ref: [m.when for m in date_messages(parse_messages("".join(line.format(s) for s in stamps)), ref)]  # noqa: E731
    # September then March, nothing logged between: a new year lies between them
    assert [d.year for d in dated(["Sep 15 09:11:19", "Mar  2 10:00:00"], datetime(2025, 3, 5, 12))] == [2024, 2025]
    # December then January
    assert [d.year for d in dated(["Dec 31 23:59:58", "Jan  1 00:00:03"], datetime(2025, 1, 5))] == [2024, 2025]
    # lines seconds out of order, in the same month and across a month's end, stay in this year
    assert [d.year for d in dated(["Mar  2 10:00:05", "Mar  2 10:00:04"], datetime(2025, 3, 5))] == [2025, 2025]
    assert [d.year for d in dated(["Mar  1 00:00:02", "Feb 28 23:59:59"], datetime(2025, 3, 5))] == [2025, 2025]
    # the newest line up to a day after the reference (a host east of UTC) is this year; later than that, last year
    assert dated(["Mar  6 05:30:00"], datetime(2025, 3, 5, 20)) == [datetime(2025, 3, 6, 5, 30)]
    assert dated(["Mar  8 05:30:00"], datetime(2025, 3, 5, 20)) == [datetime(2024, 3, 8, 5, 30)]


# ---- netsh ------------------------------------------------------------------------------------------

def test_advfirewall_real_rule_and_states():
    rules = parse_advfirewall_rules(real("netsh/advfirewall_rule_61001_real.txt"))
    (r,) = rules
    assert r.enabled and r.direction == "In" and r.action == "Allow" and r.covers_port(61001) and not r.covers_port(8090)
    assert [p.enabled for p in parse_advfirewall_state(real("netsh/advfirewall_currentprofile_state_DERIVED_off.txt"))] == [False]
    assert parse_advfirewall_state(real("netsh/advfirewall_currentprofile_state_DERIVED_on.txt"))[0].name == "Domain"
    with pytest.raises(ParseError):
        parse_advfirewall_rules(real("netsh/advfirewall_not_available_2003.txt"))
    assert ports_cover("80,443,5000-5100", 5050) and ports_cover("Any", 1) and not ports_cover("RPC", 135)


def test_netsh_firewall_show_config_2003():
    fw = parse_netsh_firewall_config(real("netsh/netsh_firewall_show_config_DERIVED.txt"))
    assert [p.name for p in fw.current] == ["Standard"] and fw.current[0].enabled
    assert fw.ports["Domain"] == [(8090, "TCP", True, "Study Status Relay")] and fw.ports["Standard"][0][0] == 3389
    with pytest.raises(ParseError):
        parse_netsh_firewall_config("Der folgende Befehl wurde nicht gefunden: firewall show config.\r\n")


# ---- clocks ------------------------------------------------------------------------------------------

def test_clock_readings():
    win = parse_wmic_localdatetime(real("clock/wmic_os_list_2003r2_x64.txt"))
    assert win.utc == datetime(2017, 10, 19, 11, 40, 56, 709000, tzinfo=timezone.utc) and win.resolution_s == 0.001
    cet = parse_wmic_localdatetime("\r\r\n\r\r\nLocalDateTime=20240314101500.123000+060\r\r\n\r\r\n")
    assert cet.utc == datetime(2024, 3, 14, 9, 15, 0, 123000, tzinfo=timezone.utc)
    assert parse_wmic_localdatetime("20240314091500.000000+000\r\n").epoch == cet.epoch - 0.123
    assert parse_cim_datetime("20120504101233.000000-420") == datetime(2012, 5, 4, 17, 12, 33, tzinfo=timezone.utc)
    hires = parse_epoch("1710411300.123\n")
    assert hires.epoch == 1710411300.123 and hires.resolution_s == pytest.approx(0.001)
    notes: list[str] = []
    assert parse_epoch("Sun Microsystems Inc.   SunOS 5.10  Generic January 2005\n1710411300\n", notes).resolution_s == 1.0
    assert notes and "SunOS" in notes[0]
    for garbage in ("", "nawk: syntax error\n", "42\n"):
        with pytest.raises(ParseError):
            parse_epoch(garbage)
