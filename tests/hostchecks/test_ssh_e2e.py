"""Solaris host checks end to end over a real loopback OpenSSH server, through run_preflight.

Stand-in `svcs`, `fmadm`, `zpool`, `metastat`, `iostat`, `df` scripts on the remote PATH print the
captured Solaris fixtures; the checks, the SSH transport and the runner are the real ones.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from conftest import require_service

from impax_preflight.inventory import Inventory, Site
from impax_preflight.model import Status
from impax_preflight import run_preflight

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "host"
DF = (
    "Filesystem            kbytes    used   avail capacity  Mounted on\n"
    "rpool/ROOT/s10\n                     70189056 14034011 53123012    21%    /\n"
    "mvfdata/archive      288358400 282591232 5767168    98%    /u02/archive\n"
)


@pytest.mark.service
def test_solaris_checks_over_ssh(fresh_sshd, tmp_path):
    from services import sshd_available

    require_service(sshd_available(), "OpenSSH server (sshd) for the loopback SSH test")
    df = fresh_sshd.bin_dir / "df.txt"  # readable by the (non-root) login user, unlike tmp_path
    df.write_text(DF)
    outputs = {
        "svcs": FIX / "svcs_xv_s10_samba_maintenance.txt",
        "fmadm": FIX / "fmadm_faulty_illumos_zfs.txt",
        "zpool": FIX / "zpool_status_degraded_faulted.txt",
        "metastat": FIX / "metastat_needs_maintenance.txt",
        "iostat": FIX / "iostat_En_hard_errors.txt",
        "df": df,
    }
    for name, path in outputs.items():
        fresh_sshd.add_command(name, f"cat {shlex.quote(str(path))}\n")
    host = fresh_sshd.make_host("sol1", os="solaris", roles=["archive"])
    inv = Inventory(site=Site(name="SSH test", impax_version="6.3.1", platform="AS300"), hosts=[host])
    rep = run_preflight(inv, only=["os.solaris.*", "os.disk_space*"])
    got = {(f.check_id, f.subject): f for f in rep.findings}
    assert got[("os.solaris.services", "svc:/network/samba:default")].status is Status.FAIL
    assert got[("os.solaris.faults", "a057d0ce-147b-4ef6-9293-2f05739c049b")].status is Status.FAIL
    assert got[("os.solaris.storage", "zpool:zroot")].status is Status.FAIL
    assert got[("os.solaris.storage", "svm:d24")].status is Status.FAIL
    assert got[("os.solaris.disk_errors", "sd65")].status is Status.WARN
    assert got[("os.disk_space_critical", "/u02/archive")].status is Status.FAIL
    ev = got[("os.solaris.faults", "a057d0ce-147b-4ef6-9293-2f05739c049b")].evidence[0]
    assert ev.transport == "ssh" and ev.source == "fmadm faulty" and ev.rc == 0
