"""No parser raises anything but ParseError, whatever text it is given."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impax_preflight.parsers import ParseError
from impax_preflight.parsers import cim, df, dirlist, fmadm, iostat, listing, metastat, mounts, netstat, pkginfo, prtdiag, reg, relay, release, sc, svcs, systeminfo, winservices, wmic, zpool

PARSERS = [
    svcs.parse_svcs_xv, fmadm.parse_fmadm_faulty, zpool.parse_zpool_status, metastat.parse_metastat, iostat.parse_iostat_en,
    df.parse_df, release.parse_uname, release.parse_etc_release, prtdiag.parse_prtdiag, prtdiag.parse_psrinfo,
    systeminfo.parse_systeminfo, wmic.parse_wmic_logicaldisk, winservices.parse_service_accounts, wmic.parse_wmic_logical_processors, cim.parse_cim_logicaldisk,
    sc.parse_sc, reg.parse_reg_query, dirlist.parse_dir, netstat.parse_netstat, relay.parse_relay_config,
    pkginfo.parse_pkginfo_l, listing.parse_ls_l, listing.parse_du_sk, mounts.parse_mount_table,
]

# text made of the pieces real outputs are made of, so the fuzzing reaches deep into the parsers
PIECES = st.sampled_from([
    "\n", "\r\n", "  ", "\t", ":", " : ", "=", "%", "<DIR>", "State: ", "Okay", "d0: Mirror", "pool: ", "state: ", "config:",
    "NAME STATE READ WRITE CKSUM", "ONLINE", "Soft Errors: 1 Hard Errors: 2 Transport Errors: 3", "Filesystem kbytes used avail capacity Mounted on",
    "1K-blocks", "Size", "1.9G", "12,5", "97%", "svc:/a/b:default (x)", "SERVICE_NAME: x", "STATE : 4 RUNNING",
    "HKEY_LOCAL_MACHINE\\X", "    A    REG_DWORD    0xZZ", "03/14/2024  10:22 PM", "{", "[", "]", "}", '"', "<a>", "</a>",
    "DeviceID  Size", "C:", "-----", "Host Name:   x", "TIME EVENT-ID MSG-ID SEVERITY",
    "Jan 01 00:00:00 a057d0ce-147b-4ef6-9293-2f05739c049b  ZFS-8000-HC Major", "Fault class : f", "0", "999999999999999999999",
])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=300), st.lists(PIECES, max_size=40).map("".join)))
def test_only_parse_error(text):
    for parse in PARSERS:
        try:
            parse(text)
        except ParseError:
            pass  # the one exception a parser may raise; anything else fails the test
