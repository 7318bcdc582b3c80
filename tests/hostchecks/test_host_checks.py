"""Host and site checks on healthy and faulty outputs (FakeShell), from a bundle and over real SSH."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from impax_preflight.checks import host_app, host_os, host_prereq, site_ha, site_prereq
from impax_preflight.model import Status
from impax_preflight.testing import FakeShell, make_inventory, run_check

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "host"


def fx(name):
    return (FIX / name).read_text(encoding="utf-8")


def by_subject(findings):
    return {f.subject: f for f in findings}


def cmds(findings):
    return {e.source for f in findings for e in f.evidence if e.kind == "command"}


def test_svcs_fault_offline_and_healthy():
    faulty = run_check(host_os.solaris_services, shell=FakeShell({"svcs -xv": fx("svcs_xv_s10_samba_maintenance.txt")}))
    assert [(f.status, f.subject) for f in faulty] == [(Status.FAIL, "svc:/network/samba:default")]
    assert faulty[0].values["state"] == "maintenance" and "svcs -xv" in cmds(faulty) and faulty[0].remediation
    ok = run_check(host_os.solaris_services, shell=FakeShell({"svcs -xv": ""}))
    assert [f.status for f in ok] == [Status.PASS] and ok[0].evidence[0].source == "svcs -xv"


def test_command_denied_and_garbage_are_errors():
    denied = run_check(host_os.solaris_faults, shell=FakeShell({"fmadm faulty": (1, "", "fmadm: Permission denied\n")}))
    assert denied[0].status is Status.ERROR and "privilege" in denied[0].message
    garbage = run_check(host_os.solaris_faults, shell=FakeShell({"fmadm faulty": "Segmentation Fault - core dumped"}))
    assert garbage[0].status is Status.ERROR and "Segmentation" in garbage[0].message
    missing = run_check(host_os.solaris_faults, shell=FakeShell({}))
    assert missing[0].status is Status.ERROR and "not collected" in missing[0].message


def test_fmadm_fault_per_uuid():
    f = run_check(host_os.solaris_faults, shell=FakeShell({"fmadm faulty": fx("fmadm_faulty_s114_synthetic.txt")}))
    assert f[0].status is Status.FAIL and f[0].subject == "1a2f8bf3-0d88-4d7c-ad96-0f4a5a3e1c4c"
    assert f[0].values["classes"] == ["fault.memory.dimm-ue"]


def test_storage_zfs_degraded_svm_maintenance_and_nothing():
    f = run_check(host_os.solaris_storage, shell=FakeShell({"zpool status -x": fx("zpool_status_degraded_faulted.txt"), "metastat": fx("metastat_needs_maintenance.txt")}))
    s = by_subject(f)
    assert s["zpool:zroot"].status is Status.FAIL and s["svm:d24"].status is Status.FAIL
    assert "metareplace d4 c1t1d0s4" in s["svm:d24"].message
    ok = run_check(host_os.solaris_storage, shell=FakeShell({"zpool status -x": "all pools are healthy\n", "metastat": (1, "", "metastat: h: there are no existing databases\n")}))
    assert [(x.status, x.subject) for x in ok] == [(Status.PASS, "zpool")]
    # both tools missing: the login cannot see /usr/sbin — not evaluated, never "nothing to check"
    none = run_check(host_os.solaris_storage, shell=FakeShell({"zpool status -x": (127, "", "sh: zpool: not found"), "metastat": (127, "", "sh: metastat: not found")}))
    assert [x.status for x in none] == [Status.ERROR] and "/usr/sbin" in none[0].message
    # ZFS present without pools, no SVM: nothing to look at, said so
    empty = run_check(host_os.solaris_storage, shell=FakeShell({"zpool status -x": "no pools available\n", "metastat": (127, "", "sh: metastat: not found")}))
    assert [x.status for x in empty] == [Status.SKIPPED] and "hardware RAID" in empty[0].message


def test_disk_errors_warn_per_device():
    f = run_check(host_os.solaris_disk_errors, shell=FakeShell({"iostat -En": fx("iostat_En_hard_errors.txt")}))
    assert [(x.status, x.subject, x.values["hard"]) for x in f] == [(Status.WARN, "sd65", 21)]
    ok = run_check(host_os.solaris_disk_errors, shell=FakeShell({"iostat -En": fx("iostat_En_s113_vbox.txt")}))
    assert ok[0].status is Status.PASS and ok[0].values["devices"] == 2
    # an empty output (no device parsed) verified nothing: an error, never "no errors on 0 devices"
    for empty in ("", "\n\n"):
        (f,) = run_check(host_os.solaris_disk_errors, shell=FakeShell({"iostat -En": empty}))
        assert f.status is Status.ERROR and "listed no device" in f.message


DF = (
    "Filesystem            kbytes    used   avail capacity  Mounted on\n"
    "/dev/dsk/c0t0d0s0    1000000  500000  500000    50%    /\n"
    "proc                       0       0       0     0%    /proc\n"
    "/dev/dsk/c0t0d0s5    1000000  920000   80000    92%    /u01\n"
    "/dev/dsk/c0t0d0s6    1000000  980000   20000    98%    /u02\n"
)


def test_disk_space_warn_and_critical_split():
    shell = FakeShell({"df -k": DF})
    f = by_subject(run_check(host_os.disk_space, shell=shell))
    assert f["/"].status is Status.PASS and f["/u01"].status is Status.WARN and f["/u02"].status is Status.WARN
    assert "/proc" not in f and f["/u01"].values == {"used_pct": 92.0, "avail_kb": 80000, "size_kb": 1000000, "filesystem": "/dev/dsk/c0t0d0s5"}
    crit = run_check(host_os.disk_space_critical, shell=shell)
    assert [(x.status, x.subject) for x in crit] == [(Status.FAIL, "/u02")] and crit[0].severity.value == "blocker"


# an IMPAX DVD (vold, hsfs), an ISO and a UFS image through lofi, on a ZFS root with two pools and an NFS share
DF_MEDIA = (
    "Filesystem            kbytes    used   avail capacity  Mounted on\n"
    "rpool/ROOT/s10        70189056 14034011 53123012    21%    /\n"
    "rpool/export         70189056      23 53123012     1%    /export\n"
    "rpool/agfa           70189056 1875000 53123012     4%    /agfa\n"
    "mvfdata/oradata      288358400 265289728 23068672    92%    /u01/oradata\n"
    "mvfdata/archive      288358400 282591232 5767168    98%    /u02/archive\n"
    "nas01:/export/images 1048576000 524288000 524288000    50%    /images\n"
    "/vol/dev/dsk/c0t0d0/impax_651_as3000\n"
    "                     3857488 3857488       0   100%    /cdrom/impax_651_as3000\n"
    "/dev/lofi/1          2186578 2186578       0   100%    /mnt\n"
    "/dev/lofi/2          1000000  990000       0   100%    /scratch\n"
)
MNTTAB_MEDIA = "\n".join("\t".join(r) for r in [
    ("rpool/ROOT/s10", "/", "zfs", "dev=4010002", "1732604211"), ("rpool/export", "/export", "zfs", "rw,dev=4010003", "1732604220"),
    ("rpool/agfa", "/agfa", "zfs", "rw,dev=4010004", "1732604222"), ("mvfdata/oradata", "/u01/oradata", "zfs", "rw,dev=4010005", "1"),
    ("mvfdata/archive", "/u02/archive", "zfs", "rw,dev=4010006", "1"), ("nas01:/export/images", "/images", "nfs", "rw,dev=5f00001", "1"),
    ("/vol/dev/dsk/c0t0d0/impax_651_as3000", "/cdrom/impax_651_as3000", "hsfs", "ro,nosuid,rr,dev=16c0001", "1"),
    ("/dev/lofi/1", "/mnt", "hsfs", "ro,nosuid,dev=2400001", "1"), ("/dev/lofi/2", "/scratch", "ufs", "rw,intr,dev=2400002", "1"),
]) + "\n"


def test_read_only_media_are_not_judged_full():
    shell = FakeShell({"df -k": DF_MEDIA, "cat /etc/mnttab": MNTTAB_MEDIA})
    crit = by_subject(run_check(host_os.disk_space_critical, shell=shell))
    # the DVD and the ISO are 100 % by nature; a UFS image on lofi is a real file system that is full
    assert set(crit) == {"/u02/archive", "/scratch"} and all(f.status is Status.FAIL for f in crit.values())
    assert any("/cdrom/impax_651_as3000" in e.output and "hsfs" in e.output for e in crit["/u02/archive"].evidence if e.kind == "note")
    warn = by_subject(run_check(host_os.disk_space, shell=shell))
    assert "/cdrom/impax_651_as3000" not in warn and "/mnt" not in warn and warn["/images"].status is Status.PASS
    # without the mount table (a bundle collected before it was read): vold's /vol/dev device and the full lofi image by name;
    # the full lofi UFS cannot be told from an ISO then
    shell = FakeShell({"df -k": DF_MEDIA})
    crit = by_subject(run_check(host_os.disk_space_critical, shell=shell))
    assert set(crit) == {"/u02/archive"}
    assert any("mount table could not be read" in e.output for e in crit["/u02/archive"].evidence if e.kind == "note")
    # Linux: a CD (iso9660) and a snap (squashfs) from /proc/mounts
    linux = make_inventory({"hosts": [{"name": "l1", "os": "linux", "roles": ["database"], "transport": {"kind": "local"}}]})
    df = ("Filesystem     1K-blocks    Used Available Use% Mounted on\n/dev/sda1       41152736 9876543  29163093  26% /\n"
          "/dev/sr0          4601856 4601856         0 100% /run/media/x/CentOS 7 x86_64\n/dev/loop0          56832   56832         0 100% /snap/core18/1705\n")
    mounts = ("/dev/sda1 / xfs rw,relatime 0 0\n/dev/sr0 /run/media/x/CentOS\\0407\\040x86_64 iso9660 ro,nosuid 0 0\n"
              "/dev/loop0 /snap/core18/1705 squashfs ro,nodev 0 0\n")
    (ok,) = run_check(host_os.disk_space_critical, inventory=linux, shell=FakeShell({"df -k": df, "cat /proc/mounts": mounts}, os="linux"))
    assert ok.status is Status.PASS and ok.values == {"checked": 1, "media": ["/snap/core18/1705"]}  # /run/...: pseudo already


def test_hw_free_disk_counts_each_zfs_pool_once():
    shell = FakeShell({"df -k": DF_MEDIA, "cat /etc/mnttab": MNTTAB_MEDIA, "psrinfo": "0       on-line   since 01/12/2025 06:41:00\n",
                       "prtconf | grep Memory": "Memory size: 8192 Megabytes\n"})
    f = by_subject(run_check(host_prereq.hw_requirements, shell=shell))
    # rpool once (53123012 KiB, not three times), mvfdata once (the most a dataset can take: 23068672 KiB), the
    # UFS image 0; the NFS share and the DVD are not this host's disks
    assert f["free_disk_gb"].values["measured"] == round((53123012 + 23068672) / 1024 / 1024, 1) == 72.7
    assert any("ZFS pool rpool counted once" in e.output for e in f["free_disk_gb"].evidence if e.kind == "note")
    # without the mount table: ZFS datasets are told by their names, an NFS share by host:/path
    shell = FakeShell({"df -k": DF_MEDIA, "psrinfo": "0       on-line   since 01/12/2025 06:41:00\n",
                       "prtconf | grep Memory": "Memory size: 8192 Megabytes\n"})
    f = by_subject(run_check(host_prereq.hw_requirements, shell=shell))
    assert f["free_disk_gb"].values["measured"] == 72.7


def test_disk_space_windows_utf16_wmic_and_powershell_fallback():
    inv = make_inventory({"hosts": [{"name": "w1", "os": "windows", "roles": ["application"], "transport": {"kind": "local"}}]})
    table = "DeviceID  DriveType  FreeSpace    Size         VolumeName  \nC:        3          2000000000   40000000000  System      \n"
    raw = codecs.BOM_UTF16_LE + table.replace("\n", "\r\r\n").encode("utf-16-le")
    f = run_check(host_os.disk_space, inventory=inv, shell=FakeShell({host_os.WMIC_DISKS: raw}, os="windows"))
    assert f[0].subject == "C:" and f[0].status is Status.WARN and f[0].values["used_pct"] == 95.0
    ps = run_check(host_os.disk_space, inventory=inv, shell=FakeShell({
        host_os.WMIC_DISKS: (9009, "", "'wmic' is not recognized as an internal or external command"),
        host_os.CIM_DISKS: '{"DeviceID":"C:","DriveType":3,"FreeSpace":30000000000,"Size":40000000000}'}, os="windows"))
    assert ps[0].status is Status.PASS and host_os.CIM_DISKS in cmds(ps)


def test_windows_services_stopped_auto():
    inv = make_inventory({"hosts": [{"name": "w1", "os": "windows", "roles": ["application"], "transport": {"kind": "local"}}]})
    out = ("DisplayName              Name           StartMode  State    \nIMPAX Messaging Service  AgfaMsg        Auto       Stopped  \n"
           "Print Spooler            Spooler        Auto       Stopped  \nIMPAX Cache              AgfaCache      Manual     Stopped  \n")
    f = run_check(host_os.windows_services, inventory=inv, shell=FakeShell({host_os.WMIC_SERVICES: out}, os="windows"))
    assert [(x.status, x.subject) for x in f] == [(Status.WARN, "AgfaMsg")]


def _win(roles, **site):
    return make_inventory({"hosts": [{"name": "w1", "os": "windows", "roles": roles, "transport": {"kind": "local"}}]}, **site)


def _uninstall(name, version):
    return f"\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{{X}}\r\n    DisplayName    REG_SZ    {name}\r\n    DisplayVersion    REG_SZ    {version}\r\n"


MISSING = (1, "", "ERROR: The system was unable to find the specified registry key or value.")


@pytest.mark.parametrize("version,status", [("2.1.0.118", Status.FAIL), ("2.2.1", Status.PASS), ("2.3.0.5", Status.PASS), ("2.10", Status.PASS)])
def test_connectivity_manager_versions(version, status):
    shell = FakeShell({host_prereq.UNINSTALL_COMMANDS[0]: MISSING, host_prereq.UNINSTALL_COMMANDS[1]: _uninstall("Agfa Connectivity Manager", version)}, os="windows")
    f = run_check(host_prereq.connectivity_manager, inventory=_win(["connectivity_manager"]), shell=shell)
    assert f[-1].status is status and f[-1].values["version"] == version


def test_several_installed_versions_are_judged_by_the_lowest():
    from impax_preflight.hostfacts import match_products

    software = [{"name": "Agfa Connectivity Manager", "version": "2.3.0.5"}, {"name": "Agfa Connectivity Manager", "version": "2.1.0.118"},
                {"name": "TalkStation 4.0", "version": "4.0"}, {"name": "TalkStation", "version": "3.1"}]
    assert match_products(software, {"cm": r"Connectivity Manager", "ts": r"TalkStation"}) == {"cm": "2.1.0.118", "ts": "3.1"}
    # the old copy left in the 32-bit Uninstall view blocks, though a newer one is installed
    shell = FakeShell({host_prereq.UNINSTALL_COMMANDS[0]: _uninstall("Agfa Connectivity Manager", "2.3.0.5").replace("Wow6432Node\\", ""),
                       host_prereq.UNINSTALL_COMMANDS[1]: _uninstall("Agfa Connectivity Manager", "2.1.0.118")}, os="windows")
    f = run_check(host_prereq.connectivity_manager, inventory=_win(["connectivity_manager"]), shell=shell)
    assert f[-1].status is Status.FAIL and f[-1].values["version"] == "2.1.0.118"


def test_connectivity_manager_not_found_is_error_declared_wins():
    shell = FakeShell({host_prereq.UNINSTALL_COMMANDS[0]: MISSING, host_prereq.UNINSTALL_COMMANDS[1]: MISSING}, os="windows")
    assert run_check(host_prereq.connectivity_manager, inventory=_win(["connectivity_manager"]), shell=shell)[-1].status is Status.ERROR
    inv = make_inventory({"hosts": [{"name": "w1", "os": "windows", "roles": ["connectivity_manager"], "facts": {"connectivity_manager": "2.2.1"}, "transport": {"kind": "local"}}]})
    assert run_check(host_prereq.connectivity_manager, inventory=inv, shell=shell)[-1].status is Status.PASS


def test_dotnet_sp_missing_installed_absent():
    inv = _win(["application"])
    key = host_prereq.DOTNET_KEY
    body = "\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\NET Framework Setup\\NDP\\v3.5\r\n    Install    REG_DWORD    0x1\r\n    SP    REG_DWORD    0x{sp}\r\n    Version    REG_SZ    3.5.30729.4926\r\n"
    assert run_check(host_prereq.dotnet35sp1, inventory=inv, shell=FakeShell({key: body.format(sp=0)}, os="windows"))[0].status is Status.FAIL
    ok = run_check(host_prereq.dotnet35sp1, inventory=inv, shell=FakeShell({key: body.format(sp=1)}, os="windows"))
    assert ok[0].status is Status.PASS and ok[0].values["sp"] == 1 and key in cmds(ok)
    assert run_check(host_prereq.dotnet35sp1, inventory=inv, shell=FakeShell({key: MISSING}, os="windows"))[0].status is Status.FAIL


def test_sqlserver_services_running_browser_warns():
    out = ("SERVICE_NAME: MSSQLSERVER\nDISPLAY_NAME: SQL Server (MSSQLSERVER)\n        STATE              : 4  RUNNING\n"
           "SERVICE_NAME: SQLBrowser\nDISPLAY_NAME: SQL Server Browser\n        STATE              : 4  RUNNING\n")
    f = by_subject(run_check(host_prereq.sqlserver_services, inventory=_win(["database"]), shell=FakeShell({host_prereq.SC_ALL: out}, os="windows")))
    assert f["SQL Server Browser"].status is Status.WARN and f["SQL Server Integration Services 10.0"].status is Status.PASS


def test_migration_toolbox_solaris():
    ls = "total 2\n-rwxr-xr-x   1 mvf dba 1 Feb 11  2025 build-impax-mig-schema\n"
    f = run_check(host_prereq.migration_toolbox, shell=FakeShell({"ls -l /usr/mvf-mig6/bin": ls}))
    assert f[0].status is Status.FAIL and f[0].values["missing"] == ["mig-study-archive-report"]
    gone = run_check(host_prereq.migration_toolbox, shell=FakeShell({"ls -l /usr/mvf-mig6/bin": (2, "", "/usr/mvf-mig6/bin: No such file or directory")}))
    assert gone[0].status is Status.FAIL and "does not exist" in gone[0].message


def test_appserver_backup_age():
    from datetime import datetime, timedelta

    def listing(when):
        return f" Directory of C:\\Impax\\ConfigurationsBackups\r\n\r\n{when:%m/%d/%Y  %I:%M %p}    <DIR>          {when:%Y%m%d%H%M%S}\r\n"

    inv = _win(["application"])
    fresh = run_check(host_app.appserver_backup, inventory=inv, shell=FakeShell({host_app.BACKUP_CMD: listing(datetime.now() - timedelta(days=1))}, os="windows"))
    assert fresh[0].status is Status.PASS and fresh[0].values["basis"] == "folder name"
    stale = run_check(host_app.appserver_backup, inventory=inv, shell=FakeShell({host_app.BACKUP_CMD: listing(datetime.now() - timedelta(days=30))}, os="windows"))
    assert stale[0].status is Status.FAIL and stale[0].values["age_days"] >= 29.9
    none = run_check(host_app.appserver_backup, inventory=inv, shell=FakeShell({host_app.BACKUP_CMD: (1, "", "The system cannot find the path specified.")}, os="windows"))
    assert none[0].status is Status.FAIL



def test_appserver_backup_age_is_counted_to_the_bundle_collection(tmp_path):
    # a backup taken the day before the bundle was collected is one day old, however long ago the bundle was collected
    from impax_preflight.transports.bundle import BundleEntry, BundleShell, write_bundle

    text = (" Directory of C:\\Impax\\ConfigurationsBackups\r\n\r\n"
            "03/01/2024  09:15 AM    <DIR>          20240301091500\r\n")
    sh = BundleShell(write_bundle(tmp_path / "w1", "w1", "windows", [BundleEntry(host_app.BACKUP_CMD, text)],
                                  collected_at="2024-03-02T12:00:00Z"))
    (f,) = run_check(host_app.appserver_backup, inventory=_win(["application"]), shell=sh)
    assert f.status is Status.PASS and 0.5 <= f.values["age_days"] <= 1.7, f.values  # 1.1 days, give or take this machine's time zone
    assert f.values["as_of"].startswith("2024-03-02T12:00") and "the collection of the bundle" in f.message
    sh = BundleShell(write_bundle(tmp_path / "w2", "w2", "windows", [BundleEntry(host_app.BACKUP_CMD, text)],
                                  collected_at="2024-03-20T12:00:00Z"))
    (f,) = run_check(host_app.appserver_backup, inventory=_win(["application"]), shell=sh)
    assert f.status is Status.FAIL and 18.5 <= f.values["age_days"] <= 19.7


def test_interlock_relay_short_url_and_secret_never_in_evidence():
    inv = make_inventory({"hosts": [{"name": "w1", "os": "windows", "roles": ["application"], "transport": {"kind": "local"}}]},
                         features={"parallel_clusters": True})
    cfg = ("<configuration><StudyStatusRelayConfiguration><UserPassword>CIPHER-abcdef123456</UserPassword>"
           "<LoginServiceUrl>https://app01/login</LoginServiceUrl><StudyInfoServiceUrl>https://app01.h.org/s</StudyInfoServiceUrl>"
           "<MessagingServiceUrl>https://10.0.0.5/m</MessagingServiceUrl><RemoteSignalHost>old</RemoteSignalHost>"
           "<LocalSignalPort>8095</LocalSignalPort></StudyStatusRelayConfiguration></configuration>")
    shell = FakeShell({
        "sc query StudyStatusRelayService": "SERVICE_NAME: StudyStatusRelayService\n        STATE              : 1  STOPPED\n",
        f'type "{host_app.RELAY_CONFIG}"': cfg,
        "netstat -an": "  TCP    0.0.0.0:8095           0.0.0.0:0              LISTENING\n",
    }, os="windows")
    f = by_subject(run_check(host_app.interlock_relay, inventory=inv, shell=shell))
    assert f["service"].status is Status.WARN and f["port"].status is Status.PASS
    assert f["config"].status is Status.WARN and "app01 is not fully qualified" in f["config"].message and "IP address" in f["config"].message
    dump = "".join(x.model_dump_json() for x in f.values())
    assert "CIPHER-abcdef123456" not in dump


def test_as3000_repository():
    shell = FakeShell({
        "ls -l /agfa/repository/": "total 2\ndrwxr-xr-x   2 root root 2 Feb 20 09:14 IMPAX_6.5.1_AS3000\ndrwxr-xr-x   2 root root 2 Feb 20 09:14 oracle_10gR2\n",
        "du -sk /agfa/repository/": "6291456\t/agfa/repository/\n",
        "df -k /agfa/repository": "Filesystem kbytes used avail capacity Mounted on\nrpool/agfa 70189056 6291456 5242880 55% /agfa\n",
    })
    f = by_subject(run_check(host_app.as3000_repository, shell=shell))
    assert f["media"].status is Status.PASS and f["size"].status is Status.PASS and f["free_space"].status is Status.FAIL


def test_as3000_repository_behind_a_symbolic_link_is_listed_and_measured(tmp_path):
    import subprocess

    from impax_preflight.parsers.listing import parse_du_sk, parse_ls_l

    # the commands name the directory with a trailing slash ...
    assert host_app.REPO_LISTING.commands_for("solaris") == ("ls -l /agfa/repository/",)
    assert host_app.REPO_SIZE.commands_for("solaris") == ("du -sk /agfa/repository/",)
    # ... because that is what makes ls and du look through a link (POSIX; here GNU coreutils): a repository moved to a
    # bigger disk and linked back, as sites do
    target = tmp_path / "u03" / "repository"
    (target / "IMPAX_6.5.1_AS3000").mkdir(parents=True)
    (target / "oracle_10gR2").mkdir()
    (target / "IMPAX_6.5.1_AS3000" / "server.iso").write_bytes(b"\0" * 4 * 1024 * 1024)
    link = tmp_path / "repository"
    link.symlink_to(target)

    def run(*argv):
        return subprocess.run(argv, capture_output=True, text=True, check=True, env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"}).stdout

    assert [e.name for e in parse_ls_l(run("ls", "-l", f"{link}/"))] == ["IMPAX_6.5.1_AS3000", "oracle_10gR2"]
    assert [e.name for e in parse_ls_l(run("ls", "-l", str(link)))] != ["IMPAX_6.5.1_AS3000", "oracle_10gR2"]  # the link itself
    assert parse_du_sk(run("du", "-sk", f"{link}/")) >= 4096 > parse_du_sk(run("du", "-sk", str(link)))


def test_site_talkstation_pacs_broker_rtf_source_version():
    inv = make_inventory(features={"talkstation": "3.1", "pacs_broker": "1.5.4", "vpn": True, "impax_reporting": True, "reports_rtf_migrated": None})
    assert run_check(site_prereq.talkstation, inventory=inv)[0].status is Status.FAIL
    assert run_check(site_prereq.pacs_broker, inventory=inv)[0].status is Status.FAIL
    assert run_check(site_prereq.reporting_rtf, inventory=inv)[0].status is Status.ERROR
    ok = make_inventory(features={"talkstation": "4.0", "pacs_broker": "1.5.5", "pacs_broker_su2": True})
    assert run_check(site_prereq.talkstation, inventory=ok)[0].status is Status.PASS
    assert run_check(site_prereq.pacs_broker, inventory=ok)[0].status is Status.PASS
    discovered = run_check(site_prereq.talkstation, inventory=make_inventory(),
                           all_facts={"db1": {"software": [{"name": "TalkStation Server", "version": "3.2.1"}]}})
    assert [(x.status, x.subject) for x in discovered] == [(Status.PASS, "db1")]
    assert run_check(site_prereq.source_version, inventory=make_inventory(impax_version="6.1"))[0].status is Status.FAIL
    assert run_check(site_prereq.source_version, inventory=make_inventory())[0].status is Status.PASS


def test_ha_backup_pacs_and_staged_order():
    from impax_preflight.model import Finding, Severity

    inv = make_inventory({"hosts": [
        {"name": "prod1", "os": "solaris", "roles": ["archive"], "tier": "prod", "backup_pacs": "bk1", "transport": {"kind": "local"}},
        {"name": "prod2", "os": "solaris", "roles": ["database"], "tier": "prod", "transport": {"kind": "local"}},
        {"name": "bk1", "os": "solaris", "roles": ["single_host"], "tier": "bk", "transport": {"kind": "local"}},
    ]})
    blocker = Finding(check_id="os.solaris.faults", severity=Severity.BLOCKER, status=Status.FAIL, target="bk1", host="bk1", message="x")
    f = by_subject(run_check(site_ha.backup_pacs, inventory=inv, findings=[blocker]))
    assert f["prod1"].status is Status.PASS and f["prod2"].status is Status.WARN and f["stage:bk1"].status is Status.WARN


def test_facts_collection_never_raises_and_declared_wins():
    from impax_preflight.facts import collect
    from impax_preflight.hostfacts import products_for

    inv = make_inventory({"hosts": [{"name": "w1", "os": "windows", "roles": ["application"], "facts": {"talkstation": "4.0"}, "transport": {"kind": "local"}}]})
    shell = FakeShell({"systeminfo": fx("systeminfo_2012r2_jc.txt"),
                       host_prereq.UNINSTALL_COMMANDS[0]: _uninstall("TalkStation Client", "3.1"),
                       host_prereq.UNINSTALL_COMMANDS[1]: MISSING}, os="windows")
    facts = collect(inv.hosts[0], shell)
    assert facts["memory_mb"] == 3555 and facts["cpus"] == 1 and facts["products"]["talkstation"] == "4.0" and facts["errors"] == []
    bad = collect(make_inventory().hosts[0], FakeShell({"uname -a": "garbage"}))
    assert bad["os"] == "solaris" and len(bad["errors"]) == 5
    assert products_for({"software": [{"name": "Agfa Connectivity Manager", "version": "2.1"}]}, inv.site)["connectivity_manager"] == "2.1"


def test_demo_bundle_end_to_end(tmp_path):
    """The demo site through run_preflight: every seeded fault is found, the healthy parts pass."""
    from impax_preflight.demo import build_demo
    from impax_preflight.inventory import load_inventory
    from impax_preflight import run_preflight

    rep = run_preflight(load_inventory(build_demo(tmp_path)))
    got = {(f.check_id, f.target, f.subject): f.status for f in rep.findings}
    expect_fail = [
        ("os.solaris.services", "mvf-db01", "svc:/application/print/server:default"),
        ("os.solaris.storage", "mvf-db01", "zpool:mvfdata"),
        ("os.disk_space_critical", "mvf-db01", "/u02/archive"),
        ("prereq.connectivity_manager", "impax-cm01", None),
        ("prereq.dotnet35sp1", "impax-app01", None),
        ("backup.appserver_config", "impax-app01", None),
        ("prereq.talkstation", "site", "site (declared)"),
        # issue 13: the hardware and operating-system faults seeded in the demo
        ("os.windows.event_log", "impax-app01", "Disk 7 \\Device\\Harddisk1\\DR1"),
        ("os.windows.disks", "impax-app01", "volume:D:"),
        ("os.windows.raid", "impax-cm01", "Smart Array P410i in Slot 0 (Embedded): logicaldrive 2"),
        ("os.windows.raid", "impax-cm01", "Smart Array P410i in Slot 0 (Embedded): physicaldrive 1I:1:4"),
        ("os.solaris.hardware", "mvf-db01", "fan:SYS/FANBD0/FM1/F0"),
        ("os.solaris.system_log", "mvf-db01", "disk:sd3"),
        ("os.solaris.svm_replicas", "mvf-bk01", "replica:/dev/dsk/c0t1d0s7:16"),
        ("site.clock_skew", "site", "impax-cm01"),
    ]
    for key in expect_fail:
        assert got.get(key) is Status.FAIL, key
    assert got[("os.disk_space", "mvf-db01", "/u01/oradata")] is Status.WARN
    # the IMPAX DVD in mvf-db01's drive is 100 % by nature: not judged; its ZFS pools' free space counts once each
    assert not [k for k in got if k[2] == "/cdrom/impax_651_as3000"]
    free = next(f for f in rep.findings if (f.check_id, f.target, f.subject) == ("hw.requirements", "mvf-db01", "free_disk_gb"))
    assert free.values["measured"] == 72.7
    assert got[("os.windows.services", "impax-app01", "AgfaImpaxMessaging")] is Status.WARN
    assert got[("os.solaris.services", "mvf-bk01", None)] is Status.PASS
    assert got[("os.solaris.storage", "mvf-bk01", "svm")] is Status.PASS
    for key in [("os.windows.event_log", "impax-app01", "EventLog 6008"), ("os.windows.pending_reboot", "impax-app01", "reboot"),
                ("os.windows.firewall_relay", "impax-app01", "port 8095"), ("os.windows.sql_service_accounts", "impax-cm01", "MSSQLSERVER")]:
        assert got.get(key) is Status.WARN, key
    assert got[("os.windows.raid", "impax-ng01", "raid")] is Status.PASS and got[("site.clock_skew", "site", "mvf-db01")] is Status.PASS
    assert got[("os.solaris.svm_replicas", "mvf-db01", "metadb")] is Status.SKIPPED
    blockers = {f.check_id for f in rep.blockers()}
    assert {"os.windows.event_log", "os.windows.disks", "os.windows.raid", "os.solaris.hardware", "os.solaris.system_log",
            "os.solaris.svm_replicas", "site.clock_skew"} <= blockers
    host_checks = [f for f in rep.findings if f.check_id.startswith(("os.", "hw.", "prereq.dotnet", "prereq.conn", "interlock", "backup.app",
                                                                       "site.clock"))]
    assert not [f for f in host_checks if f.status is Status.ERROR], [f.message for f in host_checks if f.status is Status.ERROR]
    assert "AQAAANCMnd8BFdERjHoAwE" not in rep.model_dump_json()


def test_fmadm_asks_for_the_privilege_prefix():
    shell = FakeShell({"fmadm faulty": ""})
    (f,) = run_check(host_os.solaris_faults, shell=shell)
    assert f.status is Status.PASS and shell.privileged_calls == ["fmadm faulty"]


def test_ha_staged_order_never_passes_hosts_not_checked_in_this_run():
    from impax_preflight.model import Finding, Severity

    inv = make_inventory({"hosts": [
        {"name": "prod1", "os": "solaris", "roles": ["archive"], "tier": "prod", "backup_pacs": "bk1", "transport": {"kind": "local"}},
        {"name": "dr1", "os": "solaris", "roles": ["archive"], "tier": "dr", "transport": {"kind": "local"}},
        {"name": "bk1", "os": "solaris", "roles": ["single_host"], "tier": "bk", "transport": {"kind": "local"}},
        {"name": "bk2", "os": "solaris", "roles": ["single_host"], "tier": "bk", "transport": {"kind": "local"}},
    ]})
    # --host prod1: no DR / BK host was looked at, so nothing about them may pass
    f = by_subject(run_check(site_ha.backup_pacs, inventory=inv))
    assert "stage" not in f and f["stage:not-checked"].status is Status.SKIPPED
    assert f["stage:not-checked"].values["hosts"] == ["dr1", "bk1", "bk2"]
    ok = Finding(check_id="os.disk_space", severity=Severity.WARNING, status=Status.PASS, target="bk1", host="bk1", message="x")
    err = Finding(check_id="os.disk_space", severity=Severity.WARNING, status=Status.ERROR, target="bk2", host="bk2", message="x")
    f = by_subject(run_check(site_ha.backup_pacs, inventory=inv, findings=[ok, err]))
    assert f["stage"].status is Status.PASS and f["stage"].values["hosts"] == ["bk1"]
    assert f["stage:not-evaluated"].status is Status.ERROR and "bk2" in f["stage:not-evaluated"].message
    assert f["stage:not-checked"].values["hosts"] == ["dr1"]


def test_site_software_patterns_reach_fact_collection_and_replace_a_default_match():
    from impax_preflight import facts as factmod, hostfacts

    inv = make_inventory({"hosts": [{"name": "w1", "os": "windows", "roles": ["application"], "transport": {"kind": "local"}}]},
                         software_patterns={"talkstation": r"(?i)^talkstation server"})
    shell = FakeShell({"systeminfo": fx("systeminfo_2012r2_jc.txt"),
                       host_prereq.UNINSTALL_COMMANDS[0]: _uninstall("TalkStation Client", "3.1"),
                       host_prereq.UNINSTALL_COMMANDS[1]: MISSING}, os="windows")
    got = factmod.impax_collect_facts(host=inv.hosts[0], shell=shell, site=inv.site, read=None)
    assert "talkstation" not in got["products"]  # the site's pattern rejects the client the default matches
    # facts gathered with the default patterns: the site's pattern still decides
    stale = {"software": [{"name": "TalkStation Client", "version": "3.1"}], "products": {"talkstation": "3.1", "other": "1.0"}}
    assert hostfacts.products_for(stale, inv.site) == {"other": "1.0"}
    assert hostfacts.products_for(stale, None)["talkstation"] == "3.1"


def test_site_prereq_never_claims_not_found_for_hosts_nobody_examined():
    from impax_preflight.model import Finding, Severity

    inv = make_inventory({"hosts": [
        {"name": "w1", "os": "windows", "roles": ["application"], "transport": {"kind": "local"}},
        {"name": "w2", "os": "windows", "roles": ["application"], "transport": {"kind": "local"}},
        {"name": "s1", "os": "solaris", "roles": ["archive"], "transport": {"kind": "local"}},
    ]})
    looked = {"software": [], "products": {}, "errors": []}
    # w1 examined, w2 never had its facts collected (--host w1), s1 unreachable
    down = Finding(check_id="os.disk_space", severity=Severity.WARNING, status=Status.ERROR, target="s1", host="s1",
                   message="host unreachable: connection refused")
    for chk in (site_prereq.talkstation, site_prereq.pacs_broker):
        (f,) = run_check(chk, inventory=inv, all_facts={"w1": looked, "w2": {}, "s1": {}}, findings=[down])
        assert f.status is Status.ERROR and set(f.values["not_examined"]) == {"w2", "s1"}, chk.id
        assert "s1 (unreachable)" in f.message and "w2" in f.message and "w1" not in f.values["not_examined"]
    # a failed software listing is not an examination either
    failed = {**looked, "errors": ["reg query HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall /s: timed out"]}
    (f,) = run_check(site_prereq.talkstation, inventory=inv, all_facts={"w1": looked, "w2": failed, "s1": looked})
    assert f.status is Status.ERROR and list(f.values["not_examined"]) == ["w2"]
    # every host examined: "not found" is true
    all_seen = {"w1": looked, "w2": looked, "s1": looked}
    assert run_check(site_prereq.talkstation, inventory=inv, all_facts=all_seen)[0].status is Status.SKIPPED
    assert run_check(site_prereq.pacs_broker, inventory=inv, all_facts=all_seen)[0].status is Status.SKIPPED
    sv = run_check(site_prereq.source_version, inventory=inv, all_facts={"w1": looked, "w2": {}, "s1": looked})[0]
    assert sv.status is Status.PASS and sv.values["not_examined"] == {"w2": "installed software not read in this run"}
    assert any("not looked up on: w2" in e.output for e in sv.evidence if e.kind == "note")


def test_source_version_unreadable_is_an_error():
    (f,) = run_check(site_prereq.source_version, inventory=make_inventory(impax_version="unknown"))
    assert f.status is Status.ERROR and "'unknown'" in f.message
    (f,) = run_check(site_prereq.source_version, inventory=make_inventory(impax_version="6.1"))
    assert f.status is Status.FAIL


def test_disk_usages_read_once_per_host_and_evidence_on_every_check():
    from impax_preflight.check import Memo

    memo, shell = Memo(), FakeShell({"df -k": DF, "psrinfo": "0       on-line   since 01/12/2025 06:41:00\n",
                                     "prtconf | grep Memory": "Memory size: 8192 Megabytes\n"})
    got = {c.id: run_check(c, shell=shell, memo=memo) for c in (host_os.disk_space, host_os.disk_space_critical, host_prereq.hw_requirements)}
    assert shell.calls.count("df -k") == 1
    for cid, findings in got.items():
        assert all("df -k" in cmds([f]) for f in findings), cid
    # a failure is each check's own error finding, with the evidence
    memo, shell = Memo(), FakeShell({"df -k": (1, "", "df: permission denied"), "psrinfo": "0       on-line   since 01/12/2025 06:41:00\n",
                                     "prtconf | grep Memory": "Memory size: 8192 Megabytes\n"})
    for c in (host_os.disk_space, host_os.disk_space_critical, host_prereq.hw_requirements):
        errs = [f for f in run_check(c, shell=shell, memo=memo) if f.status is Status.ERROR]
        assert len(errs) == 1 and errs[0].check_id == c.id and "df -k" in cmds(errs), c.id
    assert shell.calls.count("df -k") == 1


def test_hw_requirements_linux_windows_logical_cpus_and_facts():
    linux = make_inventory({"hosts": [{"name": "l1", "os": "linux", "roles": ["database"], "transport": {"kind": "local"}}]})
    shell = FakeShell({"getconf _NPROCESSORS_ONLN": "8\n", "cat /proc/meminfo": "MemTotal:       16384000 kB\nMemFree: 1 kB\n", "df -k": DF})
    f = by_subject(run_check(host_prereq.hw_requirements, inventory=linux, shell=shell))
    assert f["cpus"].values["measured"] == 8 and f["memory_gb"].status is Status.PASS
    assert not [x for x in f.values() if x.status is Status.ERROR] and "psrinfo" not in shell.calls
    # Windows: systeminfo says 1 processor (a package); wmic counts 8 logical processors; memory from the facts
    win = _win(["application"])
    wmic = codecs.BOM_UTF16_LE + "NumberOfLogicalProcessors  \n4  \n4  \n\n".replace("\n", "\r\r\n").encode("utf-16-le")
    disks = "DeviceID  DriveType  FreeSpace    Size         VolumeName  \nC:        3          20000000000  40000000000  System      \n"
    shell = FakeShell({host_prereq.WMIC_CPU: wmic, host_os.WMIC_DISKS: disks}, os="windows")
    f = by_subject(run_check(host_prereq.hw_requirements, inventory=win, shell=shell, facts={"memory_mb": 3555, "cpus": 1}))
    assert f["cpus"].values["measured"] == 8 and f["memory_gb"].values["measured"] == 3.5
    assert "systeminfo" not in shell.calls and any("memory_mb" in e.output for e in f["memory_gb"].evidence if e.kind == "note")
    # no facts: systeminfo is read for the memory only
    shell = FakeShell({host_prereq.WMIC_CPU: wmic, host_os.WMIC_DISKS: disks, "systeminfo": fx("systeminfo_2012r2_jc.txt")}, os="windows")
    f = by_subject(run_check(host_prereq.hw_requirements, inventory=win, shell=shell))
    assert f["cpus"].values["measured"] == 8 and f["memory_gb"].values["measured"] == 3.5


def test_windows_services_nothing_watched_is_not_a_pass():
    inv = make_inventory({"hosts": [{"name": "w1", "os": "windows", "roles": ["application"], "transport": {"kind": "local"}}]})
    other = "DisplayName     Name      StartMode  State    \nPrint Spooler   Spooler   Auto       Running  \n"
    (f,) = run_check(host_os.windows_services, inventory=inv, shell=FakeShell({host_os.WMIC_SERVICES: other}, os="windows"))
    assert f.status is Status.SKIPPED and "no service matched" in f.message
    manual = "DisplayName     Name      StartMode  State    \nIMPAX Cache     AgfaCache Manual     Stopped  \n"
    (f,) = run_check(host_os.windows_services, inventory=inv, shell=FakeShell({host_os.WMIC_SERVICES: manual}, os="windows"))
    assert f.status is Status.SKIPPED and "AgfaCache" in f.message
    (f,) = run_check(host_os.windows_services, inventory=inv, shell=FakeShell({host_os.WMIC_SERVICES: ""}, os="windows"))
    assert f.status is Status.ERROR
    ok = "DisplayName     Name      StartMode  State    \nIMPAX Cache     AgfaCache Auto       Running  \n"
    (f,) = run_check(host_os.windows_services, inventory=inv, shell=FakeShell({host_os.WMIC_SERVICES: ok}, os="windows"))
    assert f.status is Status.PASS and "all 1 " in f.message


def test_appserver_backup_keeps_date_order_when_stderr_is_noise():
    inv = make_inventory({"hosts": [{"name": "w1", "os": "windows", "roles": ["application"], "transport": {"kind": "local"}}]},
                         options={"backup.appserver_config": {"date_order": "DMY"}})
    listing = " Directory of C:\\Impax\\ConfigurationsBackups\r\n\r\n03/02/2025  10:15    <DIR>          before-upgrade\r\n"
    shell = FakeShell({host_app.BACKUP_CMD: (0, listing, "some warning the dir parser does not know")}, os="windows")
    (f,) = run_check(host_app.appserver_backup, inventory=inv, shell=shell)
    assert f.values["basis"] == "folder date" and f.values["taken"].startswith("2025-02-03")  # 3 February, not 2 March
    garbage = FakeShell({host_app.BACKUP_CMD: "nothing like a listing\r\n"}, os="windows")
    (f,) = run_check(host_app.appserver_backup, inventory=inv, shell=garbage)
    assert f.status is Status.ERROR and "could not understand" in f.message
