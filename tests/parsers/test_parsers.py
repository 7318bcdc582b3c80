"""Parsers on real captured outputs (tests/fixtures/host, see its README) and synthetic edge cases."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from impax_preflight.parsers import ParseError, parse_number
from impax_preflight.parsers.cim import parse_cim_logicaldisk
from impax_preflight.parsers.df import parse_df
from impax_preflight.parsers.dirlist import PathNotFound, parse_dir
from impax_preflight.parsers.fmadm import parse_fmadm_faulty
from impax_preflight.parsers.iostat import parse_iostat_en
from impax_preflight.parsers.metastat import parse_metastat
from impax_preflight.parsers.netstat import listening_ports
from impax_preflight.parsers.reg import is_missing_key, parse_reg_query
from impax_preflight.parsers.relay import parse_relay_config, redact
from impax_preflight.parsers.release import parse_etc_release, parse_uname
from impax_preflight.parsers.sc import ServiceNotFound, parse_sc
from impax_preflight.parsers.svcs import parse_svcs_xv
from impax_preflight.parsers.systeminfo import parse_systeminfo
from impax_preflight.parsers.winservices import parse_service_accounts
from impax_preflight.parsers.wmic import parse_wmic_logicaldisk
from impax_preflight.parsers.zpool import parse_zpool_status
from impax_preflight.transports.base import decode_output

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "host"


def fx(name: str) -> str:
    return (FIX / name).read_text(encoding="utf-8")


def test_svcs_real_solaris10_and_11():
    s10 = parse_svcs_xv(fx("svcs_xv_s10_samba_maintenance.txt"))
    assert [s.fmri for s in s10] == ["svc:/network/samba:default"]
    assert s10[0].state == "maintenance" and s10[0].is_fault
    assert s10[0].since == "January 25, 2011 10:30:51 PM EST"
    assert s10[0].reason == "Method failed repeatedly." and len(s10[0].see) == 4
    s11 = parse_svcs_xv(fx("svcs_xv_s11_gedit_maintenance.txt").replace("\n", "\r\n"))
    assert s11[0].description == "graphical editor (gedit)" and s11[0].impact == "This service is not running."


def test_svcs_empty_is_healthy_and_offline_is_not_a_fault():
    assert parse_svcs_xv("") == []
    out = parse_svcs_xv(
        "svc:/network/nfs/client:default (NFS client)\n State: offline since Mon Jun 03 15:23:11 2024\n"
        "Reason: Dependency svc:/network/rpc/bind is absent.\nImpact: 1 dependent service is not running.\n"
    )
    assert out[0].state == "offline" and not out[0].is_fault


def test_svcs_garbage_raises():
    with pytest.raises(ParseError) as e:
        parse_svcs_xv("svcs: command not found\n")
    assert e.value.command == "svcs -xv" and "command not found" in e.value.excerpt


def test_fmadm_solaris10_layout_real():
    faults = parse_fmadm_faulty(fx("fmadm_faulty_illumos_zfs.txt"))
    assert len(faults) == 1
    f = faults[0]
    assert (f.uuid, f.msg_id, f.severity) == ("a057d0ce-147b-4ef6-9293-2f05739c049b", "ZFS-8000-HC", "Major")
    assert f.classes == ["fault.fs.zfs.io_failure_wait"] and f.affects == ["zfs://pool=filepool"]
    assert "faulted but still in service" in f.status
    assert f.description.startswith("The ZFS pool has experienced") and "more information." in f.description


def test_fmadm_solaris114_layout():
    f = parse_fmadm_faulty(fx("fmadm_faulty_s114_synthetic.txt"))[0]
    assert f.problem_status == "open" and f.classes == ["fault.memory.dimm-ue"]
    assert f.location == ["/SYS/MB/CM/CMP/MR0/BOB1/CH1/DIMM"] and "faulted and taken out of service" in f.status
    assert "/SYS/MB/CM/CMP/MR0/BOB1/CH1/DIMM" in f.summary


def test_fmadm_empty_and_error():
    assert parse_fmadm_faulty("") == []
    with pytest.raises(ParseError):
        parse_fmadm_faulty("fmadm: failed to connect to fmd: RPC: Program not registered\n")


def test_zpool_healthy_real_and_all_healthy_line():
    st = parse_zpool_status(fx("zpool_status_v_jc_healthy.txt"))
    assert [p.name for p in st.pools] == ["zhgstera6", "zint500"] and st.unhealthy() == []
    assert st.pools[0].devices[1].name == "726060ALE614-K8JAPRGN:10"
    assert parse_zpool_status("all pools are healthy\n").all_healthy
    assert parse_zpool_status("no pools available\r\n").no_pools


def test_zpool_degraded_real():
    st = parse_zpool_status(fx("zpool_status_degraded_faulted.txt"))
    (pool,) = st.unhealthy()
    assert pool.state == "DEGRADED" and "label is missing or invalid" in pool.status
    bad = pool.problem_devices()
    assert [d.name for d in bad] == ["zroot", "mirror-0", "95880792711398532"]
    assert bad[-1].state == "FAULTED" and bad[-1].note == "was /dev/ada0p3" and bad[-1].depth == 2


def test_zpool_checksum_errors_on_online_device_are_problems():
    text = "  pool: tank\n state: ONLINE\nconfig:\n\n\tNAME STATE READ WRITE CKSUM\n\ttank ONLINE 0 0 0\n\t  c1t0d0 ONLINE 0 0 12\n\nerrors: No known data errors\n"
    (pool,) = parse_zpool_status(text).unhealthy()
    assert [d.name for d in pool.problem_devices()] == ["c1t0d0"]


def test_zpool_garbage_and_empty():
    for bad in ("", "zpool: command not found", "cannot open 'x': no such pool"):
        with pytest.raises(ParseError):
            parse_zpool_status(bad)


def test_metastat_real_needs_maintenance():
    st = parse_metastat(fx("metastat_needs_maintenance.txt"))
    assert st.configured and [d.name for d in st.devices] == ["d4", "d14", "d24"]
    assert st.devices[0].submirror_states == {"d14": "Okay", "d24": "Needs maintenance"}
    bad = st.unhealthy()
    assert [d.name for d in bad] == ["d24"] and bad[0].invoke == "metareplace d4 c1t1d0s4"
    assert "d24 component c1t1d0s4 is Maintenance" in bad[0].problems()


def test_metastat_not_configured():
    assert not parse_metastat("metastat: mvf-db01: there are no existing databases\n").configured
    assert not parse_metastat("").configured


def test_iostat_real_outputs():
    devs = parse_iostat_en(fx("iostat_En_s113_vbox.txt"))
    assert [(d.device, d.hard, d.transport, d.illegal_request) for d in devs] == [("c1t0d0", 0, 0, 4), ("c2t0d0", 0, 0, 0)]
    assert devs[0].size_bytes == 26843545600 and devs[1].is_removable_media
    hard = parse_iostat_en(fx("iostat_En_hard_errors.txt"))
    assert hard[1].device == "sd65" and hard[1].hard == 21 and hard[1].no_device == 21 and hard[1].product == "OPENstorage D240"


def test_iostat_ata_model_line_and_garbage():
    d = parse_iostat_en("c0d0 Soft Errors: 0 Hard Errors: 3 Transport Errors: 0\nModel: VMware Virtual Revision: Serial No: 000000000000000 Size: 21.47GB <21474754560 bytes>\n")
    assert d[0].hard == 3 and d[0].size_bytes == 21474754560
    with pytest.raises(ParseError):
        parse_iostat_en("iostat: not found")


def test_df_linux_h_real_and_solaris_wrapped():
    rows = parse_df(fx("df_h_centos77_jc.txt"))
    root = next(r for r in rows if r.mount == "/")
    assert root.filesystem == "/dev/mapper/centos-root" and root.used_pct == 11 and root.size_kb == 17 * 1024 * 1024
    sol = parse_df(
        "Filesystem            kbytes    used   avail capacity  Mounted on\n"
        "rpool/ROOT/s10s_u10wos_17b\n                     70189056 14034011 53123012    21%    /\n"
        "/dev/dsk/c0t0d0s7    8262869 8097611       0   100%    /export/home dir\n"
    )
    assert sol[0].filesystem == "rpool/ROOT/s10s_u10wos_17b" and sol[0].avail_kb == 53123012
    assert sol[1].mount == "/export/home dir" and sol[1].used_pct == 100


def test_df_posix_decimal_comma_and_truncated():
    rows = parse_df("Filesystem     1024-blocks    Used Available Capacity Mounted on\n/dev/sda1 1000 970 30 98% /\n")
    assert rows[0].used_pct == 98 and rows[0].avail_kb == 30
    de = parse_df("Dateisystem    Größe Benutzt Verf. Verw% Eingehängt auf\n/dev/sda1       1,9G    1,5G  0,4G   79% /\n")
    assert de[0].size_kb == round(1.9 * 1024 * 1024) and de[0].used_pct == 79
    with pytest.raises(ParseError):
        parse_df("Filesystem kbytes used avail capacity Mounted on\nrpool/ROOT/very-long-name\n")
    with pytest.raises(ParseError):
        parse_df("")


def test_uname_and_release():
    u = parse_uname("SunOS mvf-db01 5.10 Generic_150400-59 sun4v sparc SUNW,SPARC-Enterprise-T5220\n")
    assert u.os == "solaris" and u.solaris_version == "10" and u.node == "mvf-db01"
    r = parse_etc_release("                   Oracle Solaris 10 8/11 s10s_u10wos_17b SPARC\n  Copyright (c) 1983, 2011\n")
    assert (r.version, r.update, r.arch) == ("10", 10, "SPARC")
    assert parse_etc_release("                             Oracle Solaris 11.4 X86\n").version == "11.4"
    with pytest.raises(ParseError):
        parse_uname("")


def test_systeminfo_real_crlf():
    info = parse_systeminfo(fx("systeminfo_2012r2_jc.txt"))
    assert info.host_name == "WIN-1A1A1AA11AA" and info.os_name == "Microsoft Windows Server 2012 R2 Standard"
    assert info.total_memory_mb == 3555 and info.processor_count == 1
    assert info.hotfixes[:2] == ["KB2919355", "KB2975061"] and info.fields["Virtual Memory: Max Size"] == "5,731 MB"
    assert info.fields["Available Physical Memory"] == "771 MB"


def test_systeminfo_german_thousands_dot():
    text = "Hostname:                                  SRV01\nBetriebssystemname:                        Microsoft Windows Server 2008 R2 Enterprise\nGesamter physischer Speicher:              16.383 MB\n"
    assert parse_systeminfo(text).total_memory_mb == 16383


def test_parse_number_locales():
    assert parse_number("3,555 MB") == 3555 and parse_number("16.383 MB") == 16383 and parse_number("2,5") == 2.5


WMIC_TABLE = (
    "DeviceID  DriveType  FreeSpace     Size          VolumeName  \n"
    "C:        3          3865470976    48318382080   System      \n"
    "D:        3          171798691840  322122547200  Data Disk   \n"
    "E:        5                                                  \n\n"
)


def test_wmic_logicaldisk_table_from_utf16_bytes():
    raw = codecs.BOM_UTF16_LE + WMIC_TABLE.replace("\n", "\r\r\n").encode("utf-16-le")
    disks = parse_wmic_logicaldisk(decode_output(raw))
    assert [d.device_id for d in disks] == ["C:", "D:", "E:"]
    assert disks[1].volume_name == "Data Disk" and disks[2].size_bytes is None and disks[2].usage() is None
    u = disks[0].usage()
    assert u.mount == "C:" and u.used_pct == 92.0


def test_wmic_list_form_and_services():
    disks = parse_wmic_logicaldisk("\r\n\r\nDeviceID=C:\r\nDriveType=3\r\nFreeSpace=100\r\nSize=1000\r\nVolumeName=\r\n\r\n\r\nDeviceID=D:\r\nDriveType=3\r\nFreeSpace=5\r\nSize=10\r\nVolumeName=x\r\n")
    assert [(d.device_id, d.free_bytes) for d in disks] == [("C:", 100), ("D:", 5)]
    svcs = parse_service_accounts("DisplayName               Name        StartMode  State    \nIMPAX Messaging Service   AgfaMsg     Auto       Stopped  \n")
    assert svcs[0].display_name == "IMPAX Messaging Service" and svcs[0].auto_start and not svcs[0].running
    assert parse_wmic_logicaldisk("No Instance(s) Available.\r\n") == []


def test_cim_json_object_list_and_table():
    one = parse_cim_logicaldisk('{"DeviceID":"C:","DriveType":3,"FreeSpace":10,"Size":100,"VolumeName":"OS"}')
    assert one[0].usage().used_pct == 90.0
    many = parse_cim_logicaldisk('[{"DeviceID":"C:","DriveType":3,"FreeSpace":10,"Size":100},{"DeviceID":"D:","DriveType":5,"FreeSpace":null,"Size":null}]')
    assert [d.drive_type for d in many] == [3, 5]
    table = parse_cim_logicaldisk("\r\nDeviceID DriveType FreeSpace Size\r\n-------- --------- --------- ----\r\nC:               3        50  100\r\n")
    assert table[0].free_bytes == 50
    with pytest.raises(ParseError):
        parse_cim_logicaldisk("[{bad json")


def test_sc_query_all_and_qc_and_missing():
    text = (
        "\r\nSERVICE_NAME: SQLBrowser\r\nDISPLAY_NAME: SQL Server Browser\r\n        TYPE               : 10  WIN32_OWN_PROCESS\r\n"
        "        STATE              : 4  RUNNING\r\n                                (STOPPABLE, NOT_PAUSABLE, ACCEPTS_SHUTDOWN)\r\n"
        "\r\nSERVICE_NAME: msftesql\r\nDISPLAY_NAME: SQL Server FullText Search (MSSQLSERVER)\r\n        STATE              : 1  STOPPED\r\n"
    )
    s = parse_sc(text)
    assert [(x.name, x.state) for x in s] == [("SQLBrowser", "RUNNING"), ("msftesql", "STOPPED")]
    qc = parse_sc("[SC] QueryServiceConfig SUCCESS\n\nSERVICE_NAME: AgfaMsg\n        START_TYPE         : 2   AUTO_START\n")
    assert qc[0].auto_start
    with pytest.raises(ServiceNotFound):
        parse_sc("[SC] EnumQueryServicesStatus:OpenService FAILED 1060:\r\n\r\nThe specified service does not exist as an installed service.\r\n")


def test_reg_query_single_s_and_xp_tabs_and_missing():
    text = (
        "\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\NET Framework Setup\\NDP\\v3.5\r\n"
        "    Install    REG_DWORD    0x1\r\n    Version    REG_SZ    3.5.30729.4926\r\n    SP    REG_DWORD    0x1\r\n"
        "    (Default)    REG_SZ    \r\n\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\NET Framework Setup\\NDP\\v3.5\\1033\r\n"
        "    Install    REG_DWORD    0x1\r\n"
    )
    keys = parse_reg_query(text)
    assert [k.leaf for k in keys] == ["v3.5", "1033"] and keys[0].get_int("SP") == 1 and keys[0].get("(Default)") == ""
    xp = parse_reg_query("! REG.EXE VERSION 3.0\n\nHKEY_LOCAL_MACHINE\\SOFTWARE\\X\n\tDisplay Name\tREG_SZ\tTalkStation 4.0\n")
    assert xp[0].get("Display Name") == "TalkStation 4.0"
    missing = "ERROR: The system was unable to find the specified registry key or value.\r\n"
    assert is_missing_key(missing) and parse_reg_query(missing) == []


def test_dir_listing_us_german_iso_and_missing():
    us = parse_dir(
        " Volume in drive C is System\r\n Directory of C:\\Impax\\ConfigurationsBackups\r\n\r\n"
        "03/14/2024  10:22 PM    <DIR>          .\r\n03/14/2024  10:22 PM    <DIR>          20240314222200\r\n"
        "03/15/2024  09:01 AM         1,234,567 notes.txt\r\n               1 File(s)      1,234,567 bytes\r\n"
    )
    assert us.path == "C:\\Impax\\ConfigurationsBackups" and [d.name for d in us.dirs()] == ["20240314222200"]
    assert us.dirs()[0].modified.hour == 22 and us.entries[-1].size == 1234567
    de = parse_dir(" Verzeichnis von C:\\x\r\n\r\n14.03.2024  10:22    <DIR>          backup_a\r\n")
    assert de.entries[0].modified.day == 14 and de.entries[0].modified.month == 3
    iso = parse_dir("2024-03-14  10:22    <DIR>          b\n")
    assert iso.entries[0].modified.year == 2024
    with pytest.raises(PathNotFound):
        parse_dir("The system cannot find the path specified.\r\n")
    assert parse_dir("File Not Found\r\n").entries == []


def test_netstat_windows_listening():
    text = "  Proto  Local Address          Foreign Address        State\r\n  TCP    0.0.0.0:8095           0.0.0.0:0              LISTENING\r\n  TCP    10.0.0.1:8096          10.0.0.2:1             ESTABLISHED\r\n  TCP    0.0.0.0:80   0.0.0.0:0   ABHÖREN\r\n"
    assert listening_ports(text) == {8095, 80}


RELAY = """<?xml version="1.0" encoding="utf-8"?>
<configuration><StudyStatusRelayConfiguration>
<UserPassword>SECRET-CIPHERTEXT-1234567890</UserPassword>
<LoginServiceUrl>https://app01.example.org/login</LoginServiceUrl>
<RemoteSignalHost>old-app</RemoteSignalHost><LocalSignalPort>8095</LocalSignalPort>
</StudyStatusRelayConfiguration></configuration>"""


def test_relay_config_elements_appsettings_and_redaction():
    cfg = parse_relay_config(RELAY)
    assert cfg.found_section and cfg.user_password_set and "UserPassword" not in cfg.settings
    assert cfg.get("LoginServiceUrl") == "https://app01.example.org/login" and cfg.ports() == [8095]
    assert "SECRET-CIPHERTEXT" not in redact(RELAY) and "********" in redact(RELAY)
    app = parse_relay_config('<configuration><appSettings><add key="UserPassword" value=""/><add key="RemoteSignalHost" value="h"/></appSettings></configuration>')
    assert not app.user_password_set and app.get("RemoteSignalHost") == "h"
    with pytest.raises(ParseError) as e:
        parse_relay_config(RELAY[:120])
    assert "SECRET-CIPHERTEXT" not in (e.value.excerpt or "")
    with pytest.raises(ParseError):
        parse_relay_config('<!DOCTYPE x [<!ENTITY a "b">]><configuration/>')


def test_relay_password_value_never_kept_in_the_parse_result():
    secret = "Pa55-w0rd-value"
    for text in (
        f'<configuration><appSettings><add key="UserPassword" value="{secret}"/><add key="LoginServiceUrl" value="https://a.b/l"/></appSettings></configuration>',
        f'<configuration><applicationSettings><setting name="UserPassword" serializeAs="String"><value>{secret}</value></setting></applicationSettings></configuration>',
        f'<configuration><StudyStatusRelayConfiguration UserPassword="{secret}" RemoteSignalHost="h"/></configuration>',
    ):
        cfg = parse_relay_config(text)
        assert cfg.user_password_set and secret not in repr(cfg), text
    assert parse_relay_config(text).get("RemoteSignalHost") == "h"



def test_demo_outputs_parse():
    """The demo bundle's outputs go through the same parsers (UTF-16 wmic included)."""
    from impax_preflight.demo.host_outputs import demo_bundle_entries

    for host in ("mvf-db01", "mvf-bk01", "impax-app01"):
        for e in demo_bundle_entries(host):
            text = decode_output(e.stdout) if isinstance(e.stdout, bytes) else e.stdout
            if e.command == "df -k":
                assert parse_df(text)
            elif e.command.startswith("wmic logicaldisk"):
                assert parse_wmic_logicaldisk(text)[0].device_id == "C:"
            elif e.command == "systeminfo":
                assert parse_systeminfo(text).total_memory_mb > 0
