"""Realistic command outputs for the demo hosts, written into their bundles by `build_demo`.

Every command that the host checks and the fact collector declare for a host's OS is answered,
with seeded faults across the hosts: an SMF service in maintenance, an fmadm fault, a degraded
ZFS pool, disk hard errors, file systems at 98 % and 92 %, a stopped automatic IMPAX service,
Connectivity Manager 2.1, .NET 3.5 without SP1, a stale appserver backup, a relay config with a
short URL name. mvf-bk01 (backup PACS) and impax-ng01 are mostly healthy. wmic answers are UTF-16
LE with a BOM, like the real tool's redirected output.
"""

from __future__ import annotations

import codecs
from datetime import datetime, timedelta

from ..transports.bundle import BundleEntry

# ---- Solaris -------------------------------------------------------------------------------------

_SVCS_FAULT = """svc:/application/print/server:default (LP print server)
 State: maintenance since Tue Mar 04 02:11:37 2025
Reason: Start method exited with $SMF_EXIT_ERR_CONFIG.
   See: http://sun.com/msg/SMF-8000-KS
   See: lpsched(1M)
   See: /var/svc/log/application-print-server:default.log
Impact: This service is not running.
"""

_FMADM_FAULT = """--------------- ------------------------------------  -------------- ---------
TIME            EVENT-ID                              MSG-ID         SEVERITY
--------------- ------------------------------------  -------------- ---------
Mar 03 23:52:10 5b1b8c2e-3d6a-c1e4-9a57-e0f3d91a6b02  SUN4V-8000-E2  Critical

Fault class : fault.memory.bank
Affects     : mem:///unum=MB/CMP0/BR1/CH0/D0/J1001
                  faulted but still in service
FRU         : hc://:product-id=SUNW,SPARC-Enterprise-T5220:chassis-id=0839QAR03F/motherboard=0/chip=0/branch=1/dram-channel=0/dimm=0
                  faulty

Description : The number of correctable errors associated with this memory module
              has exceeded acceptable levels.  Refer to http://sun.com/msg/SUN4V-8000-E2
              for more information.

Response    : Pages of memory associated with this memory module are being removed
              from service as errors are reported.

Impact      : Total system memory capacity will be reduced as pages are retired.

Action      : Schedule a repair procedure to replace the affected memory module.
              Use fmdump -v -u <EVENT_ID> to identify the module.
"""

_ZPOOL_DEGRADED = """  pool: mvfdata
 state: DEGRADED
status: One or more devices could not be opened.  Sufficient replicas exist for
        the pool to continue functioning in a degraded state.
action: Attach the missing device and online it using 'zpool online'.
   see: http://www.sun.com/msg/ZFS-8000-2Q
 scrub: none requested
config:

        NAME        STATE     READ WRITE CKSUM
        mvfdata     DEGRADED     0     0     0
          mirror-0  DEGRADED     0     0     0
            c1t2d0  ONLINE       0     0     0
            c1t3d0  UNAVAIL      0     0     0  cannot open

errors: No known data errors
"""

_IOSTAT_DB = """c1t0d0           Soft Errors: 0 Hard Errors: 0 Transport Errors: 0
Vendor: SEAGATE  Product: ST914602SSUN146G Revision: 0603 Serial No: 080394ENWQ
Size: 146.80GB <146800115712 bytes>
Media Error: 0 Device Not Ready: 0 No Device: 0 Recoverable: 0
Illegal Request: 0 Predictive Failure Analysis: 0
c1t1d0           Soft Errors: 0 Hard Errors: 0 Transport Errors: 0
Vendor: SEAGATE  Product: ST914602SSUN146G Revision: 0603 Serial No: 080394ENXB
Size: 146.80GB <146800115712 bytes>
Media Error: 0 Device Not Ready: 0 No Device: 0 Recoverable: 0
Illegal Request: 0 Predictive Failure Analysis: 0
c1t2d0           Soft Errors: 0 Hard Errors: 0 Transport Errors: 0
Vendor: HITACHI  Product: H103030SCSUN300G Revision: A2A8 Serial No: 1032G3B1KD
Size: 300.00GB <300000000000 bytes>
Media Error: 0 Device Not Ready: 0 No Device: 0 Recoverable: 0
Illegal Request: 0 Predictive Failure Analysis: 0
c1t3d0           Soft Errors: 2 Hard Errors: 37 Transport Errors: 12
Vendor: HITACHI  Product: H103030SCSUN300G Revision: A2A8 Serial No: 1032G3B2ZL
Size: 300.00GB <300000000000 bytes>
Media Error: 31 Device Not Ready: 0 No Device: 6 Recoverable: 2
Illegal Request: 0 Predictive Failure Analysis: 1
"""

_IOSTAT_BK = """c0t0d0           Soft Errors: 0 Hard Errors: 0 Transport Errors: 0
Vendor: SEAGATE  Product: ST973402SSUN72G  Revision: 0400 Serial No: 0812R2BQ3P
Size: 73.40GB <73400057856 bytes>
Media Error: 0 Device Not Ready: 0 No Device: 0 Recoverable: 0
Illegal Request: 0 Predictive Failure Analysis: 0
c0t1d0           Soft Errors: 0 Hard Errors: 0 Transport Errors: 0
Vendor: SEAGATE  Product: ST973402SSUN72G  Revision: 0400 Serial No: 0812R2CC1M
Size: 73.40GB <73400057856 bytes>
Media Error: 0 Device Not Ready: 0 No Device: 0 Recoverable: 0
Illegal Request: 0 Predictive Failure Analysis: 0
c0t2d0           Soft Errors: 0 Hard Errors: 0 Transport Errors: 4
Vendor: TSSTcorp Product: CD/DVDW TS-T632A Revision: SR03 Serial No:
Size: 0.00GB <0 bytes>
Media Error: 0 Device Not Ready: 0 No Device: 0 Recoverable: 0
Illegal Request: 12 Predictive Failure Analysis: 0
"""

_DF_DB = """Filesystem            kbytes    used   avail capacity  Mounted on
rpool/ROOT/s10s_u10wos_17b
                     70189056 14034011 53123012    21%    /
/devices                   0       0       0     0%    /devices
ctfs                       0       0       0     0%    /system/contract
proc                       0       0       0     0%    /proc
mnttab                     0       0       0     0%    /etc/mnttab
swap                 12874304     488 12873816     1%    /etc/svc/volatile
objfs                      0       0       0     0%    /system/object
sharefs                    0       0       0     0%    /etc/dfs/sharetab
fd                         0       0       0     0%    /dev/fd
swap                 12874008     192 12873816     1%    /tmp
rpool/export         70189056      23 53123012     1%    /export
mvfdata/oradata      288358400 265289728 23068672    92%    /u01/oradata
mvfdata/archive      288358400 282591232 5767168    98%    /u02/archive
rpool/agfa           70189056 1875000 53123012     4%    /agfa
"""

_DF_BK = """Filesystem            kbytes    used   avail capacity  Mounted on
/dev/md/dsk/d0       30257446 9117330 20837542    31%    /
/devices                   0       0       0     0%    /devices
ctfs                       0       0       0     0%    /system/contract
proc                       0       0       0     0%    /proc
mnttab                     0       0       0     0%    /etc/mnttab
swap                 8388608     920 8387688     1%    /etc/svc/volatile
/dev/md/dsk/d3       41293016 20136482 20743604    50%    /export/home
swap                 8387720      32 8387688     1%    /tmp
"""

_METASTAT_BK = """d0: Mirror
    Submirror 0: d10
      State: Okay
    Submirror 1: d20
      State: Okay
    Pass: 1
    Read option: roundrobin (default)
    Write option: parallel (default)
    Size: 61464000 blocks (29 GB)

d10: Submirror of d0
    State: Okay
    Size: 61464000 blocks (29 GB)
    Stripe 0:
        Device     Start Block  Dbase        State Reloc Hot Spare
        c0t0d0s0          0     No            Okay   Yes


d20: Submirror of d0
    State: Okay
    Size: 61464000 blocks (29 GB)
    Stripe 0:
        Device     Start Block  Dbase        State Reloc Hot Spare
        c0t1d0s0          0     No            Okay   Yes


d3: Mirror
    Submirror 0: d13
      State: Okay
    Submirror 1: d23
      State: Okay
    Pass: 1
    Read option: roundrobin (default)
    Write option: parallel (default)
    Size: 83891040 blocks (40 GB)

d13: Submirror of d3
    State: Okay
    Size: 83891040 blocks (40 GB)
    Stripe 0:
        Device     Start Block  Dbase        State Reloc Hot Spare
        c0t0d0s3          0     No            Okay   Yes


d23: Submirror of d3
    State: Okay
    Size: 83891040 blocks (40 GB)
    Stripe 0:
        Device     Start Block  Dbase        State Reloc Hot Spare
        c0t1d0s3          0     No            Okay   Yes


Device Relocation Information:
Device   Reloc  Device ID
c0t1d0   Yes    id1,sd@SSEAGATE_ST973402SSUN72G_0812R2CC1M
c0t0d0   Yes    id1,sd@SSEAGATE_ST973402SSUN72G_0812R2BQ3P
"""

_PKGINFO = """   PKGINST:  SUNWcsr
      NAME:  Core Solaris, (Root)
  CATEGORY:  system
      ARCH:  sparc
   VERSION:  11.10.0,REV=2005.01.21.16.34
   BASEDIR:  /
    VENDOR:  Oracle Corporation
    STATUS:  completely installed

   PKGINST:  AGFAmvf
      NAME:  IMPAX Server MVF
  CATEGORY:  application
      ARCH:  sparc
   VERSION:  6.3.1.2156
   BASEDIR:  /usr
    VENDOR:  Agfa HealthCare
    STATUS:  completely installed

   PKGINST:  AGFAmig6
      NAME:  IMPAX Migration Toolbox
  CATEGORY:  application
      ARCH:  sparc
   VERSION:  6.5.1.108
   BASEDIR:  /usr
    VENDOR:  Agfa HealthCare
    STATUS:  completely installed
"""


def _solaris(host: str) -> list[BundleEntry]:
    db = host == "mvf-db01"
    cpus = 32 if db else 8
    psrinfo = "".join(f"{i:<8}on-line   since 01/12/2025 06:41:{i % 60:02d}\n" for i in range(cpus))
    mem = "Memory size: 32768 Megabytes\n" if db else "Memory size: 8192 Megabytes\n"
    release = (
        "                   Oracle Solaris 10 8/11 s10s_u10wos_17b SPARC\n"
        "  Copyright (c) 1983, 2011, Oracle and/or its affiliates. All rights reserved.\n"
        "                            Assembled 23 August 2011\n"
    )
    model = "SUNW,SPARC-Enterprise-T5220" if db else "SUNW,Sun-Fire-T200"
    uname = f"SunOS {host} 5.10 Generic_150400-59 sun4v sparc {model}\n"
    entries = [
        BundleEntry("uname -a", uname),
        BundleEntry("cat /etc/release", release),
        BundleEntry("psrinfo", psrinfo),
        BundleEntry("prtconf | grep Memory", mem),
        BundleEntry("pkginfo -l", _PKGINFO),
        BundleEntry("svcs -xv", _SVCS_FAULT if db else ""),
        BundleEntry("fmadm faulty", _FMADM_FAULT if db else ""),
        BundleEntry("iostat -En", _IOSTAT_DB if db else _IOSTAT_BK),
        BundleEntry("df -k", _DF_DB if db else _DF_BK),
    ]
    if db:
        entries += [
            BundleEntry("zpool status -x", _ZPOOL_DEGRADED),
            BundleEntry("metastat", "", rc=1, stderr=f"metastat: {host}: there are no existing databases\n"),
            BundleEntry("ls -l /usr/mvf-mig6/bin", (
                "total 412\n"
                "-rwxr-xr-x   1 mvf      dba        18233 Feb 11  2025 build-impax-mig-schema\n"
                "-rwxr-xr-x   1 mvf      dba       102400 Feb 11  2025 mig-study-archive-report\n"
                "-rwxr-xr-x   1 mvf      dba        88112 Feb 11  2025 mig_reporter\n"
            )),
            BundleEntry("ls -l /agfa/repository", (
                "total 16\n"
                "drwxr-xr-x  12 root     root          28 Feb 20 09:14 IMPAX_6.5.1_AS3000\n"
                "-rw-r--r--   1 root     root        1822 Feb 20 09:14 README.txt\n"
            )),
            BundleEntry("du -sk /agfa/repository", "1874112\t/agfa/repository\n"),
            BundleEntry("df -k /agfa/repository", (
                "Filesystem            kbytes    used   avail capacity  Mounted on\n"
                "rpool/agfa           70189056 1875000 53123012     4%    /agfa\n"
            )),
        ]
    else:
        entries += [
            BundleEntry("zpool status -x", "no pools available\n"),
            BundleEntry("metastat", _METASTAT_BK),
            BundleEntry("ls -l /usr/mvf-mig6/bin", "", rc=2, stderr="/usr/mvf-mig6/bin: No such file or directory\n"),
            BundleEntry("ls -l /agfa/repository", "", rc=2, stderr="/agfa/repository: No such file or directory\n"),
            BundleEntry("du -sk /agfa/repository", "", rc=1, stderr="du: cannot access '/agfa/repository': No such file or directory\n"),
            BundleEntry("df -k /agfa/repository", "", rc=2, stderr="df: (/agfa/repository ) not a block device, directory or mounted resource\n"),
        ]
    return entries


# ---- Windows -------------------------------------------------------------------------------------


def _utf16(text: str) -> bytes:
    """wmic's redirected output: UTF-16 LE with a BOM and \\r\\r\\n line ends."""
    return codecs.BOM_UTF16_LE + text.replace("\n", "\r\r\n").encode("utf-16-le")


def _crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


def _systeminfo(host: str, mem_mb: int, cpus: int, os_name: str, version: str) -> str:
    procs = "".join(
        f"                           [{i + 1:02d}]: Intel64 Family 6 Model 44 Stepping 2 GenuineIntel ~2660 Mhz\n" for i in range(cpus)
    )
    return _crlf(
        f"""
Host Name:                 {host.upper()}
OS Name:                   {os_name}
OS Version:                {version}
OS Manufacturer:           Microsoft Corporation
OS Configuration:          Member Server
OS Build Type:             Multiprocessor Free
Registered Owner:          Agfa HealthCare
Registered Organization:   Demo General Hospital
Product ID:                00486-001-0001076-84323
Original Install Date:     6/14/2011, 3:21:07 PM
System Boot Time:          1/12/2025, 6:40:12 AM
System Manufacturer:       HP
System Model:              ProLiant DL380 G7
System Type:               x64-based PC
Processor(s):              {cpus} Processor(s) Installed.
{procs}BIOS Version:              HP P67, 5/5/2011
Windows Directory:         C:\\Windows
System Directory:          C:\\Windows\\system32
Boot Device:               \\Device\\HarddiskVolume1
System Locale:             en-us;English (United States)
Input Locale:              en-us;English (United States)
Time Zone:                 (UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna
Total Physical Memory:     {mem_mb:,} MB
Available Physical Memory: {mem_mb // 3:,} MB
Virtual Memory: Max Size:  {mem_mb * 2:,} MB
Virtual Memory: Available: {mem_mb:,} MB
Virtual Memory: In Use:    {mem_mb // 2:,} MB
Page File Location(s):     C:\\pagefile.sys
Domain:                    hospital.example.org
Logon Server:              \\\\DC01
Hotfix(s):                 2 Hotfix(s) Installed.
                           [01]: KB976902
                           [02]: KB2506143
Network Card(s):           1 NIC(s) Installed.
                           [01]: HP NC382i DP Multifunction Gigabit Server Adapter
                                 Connection Name: Local Area Connection
                                 DHCP Enabled:    No
"""
    )


def _uninstall(programs: list[tuple[str, str, str, str]], wow: bool) -> str:
    base = "HKEY_LOCAL_MACHINE\\SOFTWARE\\" + ("Wow6432Node\\" if wow else "") + "Microsoft\\Windows\\CurrentVersion\\Uninstall"
    out = [f"\n{base}\n"]
    for key, name, version, publisher in programs:
        out.append(f"\n{base}\\{key}\n")
        out.append(f"    DisplayName    REG_SZ    {name}\n")
        out.append(f"    DisplayVersion    REG_SZ    {version}\n")
        out.append(f"    Publisher    REG_SZ    {publisher}\n")
        out.append("    NoModify    REG_DWORD    0x1\n")
    out.append("\n")
    return _crlf("".join(out))


def _wmic_disks(rows: list[tuple[str, int, int, int, str]]) -> bytes:
    lines = ["DeviceID  DriveType  FreeSpace     Size          VolumeName  "]
    for dev, dtype, free, size, vol in rows:
        lines.append(f"{dev:<10}{dtype:<11}{'' if free is None else free:<14}{'' if size is None else size:<14}{vol:<12}")
    return _utf16("\n".join(lines) + "\n\n")


def _wmic_services(rows: list[tuple[str, str, str, str]]) -> bytes:
    w = max(len(r[0]) for r in rows) + 2
    n = max(len(r[1]) for r in rows) + 2
    lines = [f"{'DisplayName':<{w}}{'Name':<{n}}StartMode  State    "]
    for disp, name, mode, state in rows:
        lines.append(f"{disp:<{w}}{name:<{n}}{mode:<11}{state:<9}")
    return _utf16("\n".join(lines) + "\n\n")


_BASE_SERVICES = [
    ("Windows Event Log", "eventlog", "Auto", "Running"),
    ("Remote Registry", "RemoteRegistry", "Auto", "Running"),
    ("Windows Update", "wuauserv", "Auto", "Running"),
    ("Print Spooler", "Spooler", "Auto", "Stopped"),
]


def _windows(host: str) -> list[BundleEntry]:
    app, cm = host == "impax-app01", host == "impax-cm01"
    common = [("{4A03706F-666A-4037-7777-5F2748764D10}", "Microsoft Visual C++ 2008 Redistributable - x64 9.0.30729.6161", "9.0.30729.6161", "Microsoft Corporation")]
    if app:
        native = common + [("{C4A8E1B2-0A64-4A2B-9C7E-1F3F0B6B1A01}", "IMPAX Business Services", "6.3.1.2156", "Agfa HealthCare")]
        wow = [("{7D1D5B4E-3E55-4E88-8C0B-6A2C0D1B2F10}", "IMPAX Client", "6.3.1.2156", "Agfa HealthCare"),
               ("{A1B2C3D4-1111-2222-3333-444455556666}", "TalkStation Server", "3.1.0.412", "Agfa HealthCare")]
    elif cm:
        native = common + [("{0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0}", "Microsoft SQL Server 2005", "9.00.4035.00", "Microsoft Corporation")]
        wow = [("{9E8D7C6B-5A49-3827-1605-F4E3D2C1B0A9}", "Agfa Connectivity Manager", "2.1.0.118", "Agfa HealthCare")]
    else:
        native = common + [("{5B6C7D8E-9F01-2345-6789-ABCDEF012345}", "IMPAX Network Gateway", "6.3.1.2156", "Agfa HealthCare")]
        wow = []
    entries = [
        BundleEntry("systeminfo", _systeminfo(host, 16383 if app else 8191, 2, "Microsoft Windows Server 2008 R2 Enterprise",
                                              "6.1.7601 Service Pack 1 Build 7601")),
        BundleEntry("reg query HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall /s", _uninstall(native, False)),
        BundleEntry("reg query HKLM\\SOFTWARE\\Wow6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall /s", _uninstall(wow, True)),
    ]
    gb = 1024**3
    if app:
        disks = [("C:", 3, 36 * gb // 10, 45 * gb, "System"), ("D:", 3, 160 * gb, 300 * gb, "Data"), ("E:", 5, None, None, "")]
    elif cm:
        disks = [("C:", 3, int(5.4 * gb), int(67.7 * gb), "System"), ("D:", 3, 84 * gb, 136 * gb, "CM")]
    else:
        disks = [("C:", 3, 31 * gb, 67 * gb, "System"), ("D:", 3, 402 * gb, 558 * gb, "Cache")]
    entries.append(BundleEntry("wmic logicaldisk get DeviceID,DriveType,FreeSpace,Size,VolumeName", _wmic_disks(disks)))
    # two processor packages (systeminfo's count) with four logical processors each
    entries.append(BundleEntry("wmic cpu get NumberOfLogicalProcessors", _utf16("NumberOfLogicalProcessors  \n4                          \n4                          \n\n")))
    services = list(_BASE_SERVICES)
    if app:
        services += [
            ("IMPAX Application Server", "AgfaImpaxAppServer", "Auto", "Running"),
            ("IMPAX Messaging Service", "AgfaImpaxMessaging", "Auto", "Stopped"),
            ("Study Status Relay Service", "StudyStatusRelayService", "Auto", "Running"),
        ]
    elif cm:
        services += [
            ("Agfa Connectivity Manager", "AgfaCM", "Auto", "Running"),
            ("SQL Server (MSSQLSERVER)", "MSSQLSERVER", "Auto", "Running"),
            ("SQL Server Agent (MSSQLSERVER)", "SQLSERVERAGENT", "Auto", "Running"),
        ]
    else:
        services += [("IMPAX Network Gateway", "AgfaImpaxNG", "Auto", "Running")]
    entries.append(BundleEntry("wmic service get DisplayName,Name,StartMode,State", _wmic_services(services)))
    if app:
        # .NET 3.5 installed without its service pack
        entries.append(BundleEntry('reg query "HKLM\\SOFTWARE\\Microsoft\\NET Framework Setup\\NDP\\v3.5"', _crlf(
            "\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\NET Framework Setup\\NDP\\v3.5\n"
            "    CBS    REG_DWORD    0x0\n"
            "    Install    REG_DWORD    0x1\n"
            "    InstallPath    REG_SZ    C:\\Windows\\Microsoft.NET\\Framework64\\v3.5\\\n"
            "    Version    REG_SZ    3.5.21022.8\n"
            "    SP    REG_DWORD    0x0\n\n"
            "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\NET Framework Setup\\NDP\\v3.5\\1033\n\n"
        )))
        stale = datetime.now() - timedelta(days=41, hours=3)
        older = stale - timedelta(days=120)
        rows = "".join(
            f"{d:%m/%d/%Y  %I:%M %p}    <DIR>          {d:%Y%m%d%H%M%S}\n" for d in (older, stale)
        )
        entries.append(BundleEntry('dir /ad "C:\\Impax\\ConfigurationsBackups"', _crlf(
            " Volume in drive C is System\n Volume Serial Number is 5C3E-91A2\n\n"
            " Directory of C:\\Impax\\ConfigurationsBackups\n\n"
            f"{stale:%m/%d/%Y  %I:%M %p}    <DIR>          .\n{stale:%m/%d/%Y  %I:%M %p}    <DIR>          ..\n"
            + rows + "               0 File(s)              0 bytes\n               4 Dir(s)   3,865,470,976 bytes free\n"
        )))
        entries.append(BundleEntry("sc query StudyStatusRelayService", _crlf(
            "\nSERVICE_NAME: StudyStatusRelayService\n"
            "        TYPE               : 10  WIN32_OWN_PROCESS\n"
            "        STATE              : 4  RUNNING\n"
            "                                (STOPPABLE, NOT_PAUSABLE, ACCEPTS_SHUTDOWN)\n"
            "        WIN32_EXIT_CODE    : 0  (0x0)\n"
            "        SERVICE_EXIT_CODE  : 0  (0x0)\n"
            "        CHECKPOINT         : 0x0\n"
            "        WAIT_HINT          : 0x0\n"
        )))
        entries.append(BundleEntry(
            'type "C:\\Program Files\\Agfa\\Impax Business Services\\study-status-signal-relay\\Study.Status.Relay.exe.config"',
            _crlf(
                '<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n  <configSections>\n'
                '    <section name="StudyStatusRelayConfiguration" type="Agfa.Impax.StudyStatusRelay.ConfigSection, Study.Status.Relay" />\n'
                '  </configSections>\n  <StudyStatusRelayConfiguration>\n'
                '    <UserPassword>AQAAANCMnd8BFdERjHoAwE/Cl+sBAAAAdemoEncryptedStringOnly==</UserPassword>\n'
                '    <LoginServiceUrl>https://impax-app01.hospital.example.org/services/login</LoginServiceUrl>\n'
                '    <StudyInfoServiceUrl>https://impax-app01/services/studyinfo</StudyInfoServiceUrl>\n'
                '    <MessagingServiceUrl>https://impax-app01.hospital.example.org/services/messaging</MessagingServiceUrl>\n'
                '    <RemoteSignalHost>impax-old-app01.hospital.example.org</RemoteSignalHost>\n'
                '    <LocalSignalPort>8095</LocalSignalPort>\n'
                '  </StudyStatusRelayConfiguration>\n</configuration>\n'
            ),
        ))
        entries.append(BundleEntry("netstat -an", _crlf(
            "\nActive Connections\n\n  Proto  Local Address          Foreign Address        State\n"
            "  TCP    0.0.0.0:80             0.0.0.0:0              LISTENING\n"
            "  TCP    0.0.0.0:135            0.0.0.0:0              LISTENING\n"
            "  TCP    0.0.0.0:443            0.0.0.0:0              LISTENING\n"
            "  TCP    0.0.0.0:8095           0.0.0.0:0              LISTENING\n"
            "  TCP    10.20.0.21:443         10.20.5.17:50122       ESTABLISHED\n"
            "  UDP    0.0.0.0:123            *:*                    \n"
        )))
    if cm:
        entries.append(BundleEntry("sc query state= all", _crlf(
            "".join(
                f"\nSERVICE_NAME: {name}\nDISPLAY_NAME: {disp}\n        TYPE               : 10  WIN32_OWN_PROCESS\n"
                f"        STATE              : {code}  {state}\n        WIN32_EXIT_CODE    : 0  (0x0)\n"
                for name, disp, code, state in [
                    ("MSSQLSERVER", "SQL Server (MSSQLSERVER)", 4, "RUNNING"),
                    ("SQLSERVERAGENT", "SQL Server Agent (MSSQLSERVER)", 4, "RUNNING"),
                    ("SQLBrowser", "SQL Server Browser", 4, "RUNNING"),
                    ("msftesql", "SQL Server FullText Search (MSSQLSERVER)", 1, "STOPPED"),
                    ("AgfaCM", "Agfa Connectivity Manager", 4, "RUNNING"),
                ]
            )
        )))
    return entries


def demo_bundle_entries(host_name: str) -> list[BundleEntry]:
    """Bundle entries (command -> output) for one demo host."""
    if host_name in ("mvf-db01", "mvf-bk01"):
        return _solaris(host_name)
    if host_name in ("impax-app01", "impax-cm01", "impax-ng01"):
        return _windows(host_name)
    raise KeyError(f"{host_name} is not a demo host (known: mvf-db01, mvf-bk01, impax-app01, impax-cm01, impax-ng01)")
