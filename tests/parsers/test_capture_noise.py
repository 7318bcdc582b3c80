"""Capture noise does not change a parse: every real fixture, decorated the way people and terminals
decorate captured output (prompt and echoed command, login banners and motd, a closing prompt or
logout, blank lines, CRLF, trailing blanks, tabs, indentation, a byte order mark or UTF-16 bytes),
parses to exactly what the bare fixture parses to (or fails the same way when it is a documented
unparseable case). Plus the concrete failures of issue 11, each on a real capture."""

from __future__ import annotations

import codecs
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impax_preflight.parsers import ParseError
from impax_preflight.parsers.cim import parse_cim_logicaldisk
from impax_preflight.parsers.iostat import parse_iostat_en
from impax_preflight.parsers.reg import parse_reg_query
from impax_preflight.parsers.svcs import parse_svcs_xv
from impax_preflight.parsers.wmic import parse_wmic_logicaldisk
from impax_preflight.parsers.zpool import parse_zpool_status
from parser_corpus import ROOT, load

FIXTURES = load()

PROMPTS = [
    "bash-3.00# {cmd}", "-bash-4.1$ {cmd}", "$ {cmd}", "# {cmd}", "root@mvf-db01:~# {cmd}", "[root@mvf-db01 ~]# {cmd}",
    "mvf-db01:/root# {cmd}", "admin@impax-app01:/var/tmp$ {cmd}", "C:\\Users\\Administrator>{cmd}", "PS C:\\> {cmd}",
    "PS C:\\Users\\Administrator> {cmd}", "+ {cmd}", "{cmd}",
]
TRAILERS = [
    "bash-3.00# ", "$ ", "#", "root@mvf-db01:~# ", "C:\\Users\\Administrator>", "PS C:\\> ",
    "root@mvf-db01:~# exit\nlogout\nConnection to mvf-db01 closed.",
]
BANNERS = [
    "Last login: Tue Mar  4 10:12:01 2025 from 10.20.30.40", "Oracle Corporation      SunOS 5.11      11.4    Aug 2018",
    "Sun Microsystems Inc.   SunOS 5.10      Generic January 2005", "You have new mail.",
    "Microsoft Windows [Version 10.0.17763.5329]", "(c) 2018 Microsoft Corporation. All rights reserved.", "Windows PowerShell",
    "Copyright (C) Microsoft Corporation. All rights reserved.",
]
# site motd text nobody can recognise: harmless only before a prompt that echoes the command
MOTD = ["*** Authorised use only: all activity is monitored ***", "Scheduled maintenance Saturday 02:00-04:00", "ARCHIVE SERVER - PACS"]


def _unexpand(line: str) -> str:
    """Leading blanks in groups of 8 as tabs, as `unexpand` and some terminals copy them."""
    n = len(line) - len(line.lstrip(" "))
    return "\t" * (n // 8) + line[(n // 8) * 8 :]


@st.composite
def decorated(draw, fx):
    body = fx.text().replace("\r\n", "\n").split("\n")
    indent = " " * draw(st.integers(0, 4))
    tabs = draw(st.booleans())
    trailing = draw(st.booleans())
    out = [indent + ln if ln.strip() else ln for ln in body]
    if tabs:
        out = [_unexpand(ln) for ln in out]
    if trailing:
        out = [ln + " " * draw(st.integers(0, 3)) + draw(st.sampled_from(["", "\t"])) for ln in out]
    prompt = draw(st.sampled_from([None] + PROMPTS))
    head = [""] * draw(st.integers(0, 2))
    banners = draw(st.lists(st.sampled_from(BANNERS), max_size=2))
    if prompt:
        head = banners + draw(st.lists(st.sampled_from(MOTD), max_size=2)) + head + [prompt.format(cmd=fx.command)]
    else:
        head = banners + head
    tail = [""] * draw(st.integers(0, 2))
    trailer = draw(st.sampled_from([None] + TRAILERS))
    if trailer:
        tail += trailer.split("\n")
    text = draw(st.sampled_from(["\n", "\r\n"])).join(head + out + tail)
    form = draw(st.sampled_from(["str", "bom-str", "utf-8-bom", "utf-16-le-bom", "utf-16-le"]))
    if form == "bom-str":
        return "\ufeff" + text
    if form == "utf-8-bom":
        return codecs.BOM_UTF8 + text.encode("utf-8")
    if form == "utf-16-le-bom":
        return codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    if form == "utf-16-le":
        return text.encode("utf-16-le")
    return text


def _outcome(fx, text):
    try:
        return fx.parse(text)
    except ParseError as exc:
        return ParseError  # a documented unparseable case must stay unparseable, whatever its wording


@pytest.mark.parametrize("fx", FIXTURES, ids=str)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_noise_does_not_change_the_parse(fx, data):
    clean = _outcome(fx, None)
    noisy = data.draw(decorated(fx), label="decorated capture")
    assert _outcome(fx, noisy) == clean


# ---- the failures issue 11 lists, each on a real capture of the corpus ----------------------------

def _read(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def test_leading_prompt_and_echo_no_longer_hide_faults():
    omicron = _read("svcs/omicron_svcs_Zxv_two_maintenance.txt")
    assert [s.state for s in parse_svcs_xv("root@host:~# svcs -xv\n" + omicron)] == ["maintenance", "maintenance"]
    degraded = "$ zpool status -v\n" + _read("zpool/jc_status_v2_degraded.txt")
    assert [p.name for p in parse_zpool_status(degraded).unhealthy()] == ["tank"]
    sample3 = "bash-3.00# iostat -En\n" + _read("iostat/glpi_sample3.txt")
    assert {d.device: d.hard for d in parse_iostat_en(sample3) if d.hard} == {"c6t39d0": 1, "c1t62d0": 1}


def test_iostat_unknown_line_and_missing_word_are_notes_not_failures():
    text = _read("iostat/glpi_sample1.txt")
    # the capture of the issue: a "..." line and a size line without its "bytes" word
    mangled = "...\n" + text.replace("<64424509440 bytes>", "<64424509440>")
    notes: list[str] = []
    (dev,) = parse_iostat_en(mangled, notes=notes)
    assert dev.size_bytes == 64424509440 and dev.soft == 1
    assert notes == ["line 1 not understood: '...'"]
    # a decimal comma in the size (OpenIndiana, real capture)
    assert [d.size_bytes for d in parse_iostat_en(_read("iostat/glpi_oi151.txt"))] == [107374182400, 19891067289600]


def test_iostat_fields_of_a_device_whose_header_was_lost_are_not_misattributed():
    text = _read("iostat/glpi_sample3.txt").split("\n")
    # damage the header line of the third device: its fields must not be given to the second one
    assert text[10].startswith("c3t1d0")
    text[10] = "c3t1d0    Soft Errors: ? Hard Errors: ? Transport Errors: ?"
    notes: list[str] = []
    devs = parse_iostat_en("\n".join(text), notes=notes)
    assert "c3t1d0" not in [d.device for d in devs] and devs[1].device == "c3t0d0"
    assert devs[1].vendor == "INTEL" and devs[1].illegal_request == 0
    assert any("line 11 not understood" in n for n in notes) and any("not given to c3t0d0" in n for n in notes)


def test_misaligned_wmic_table_is_refused_not_misread():
    """The wmic table of issue 11: columns shifted by a capture, which used to give plausible wrong numbers."""
    real = ("DeviceID  DriveType  FreeSpace     Size           VolumeName  \n"
            "C:        3          38306471936   64317550592                \n")
    assert parse_wmic_logicaldisk(real)[0].usage().used_pct == 40.4  # the win7 disk of the corpus, as a table
    shifted = real.replace("C:        3          38306471936", "C:      3          38306471936  ")
    with pytest.raises(ParseError) as err:
        parse_wmic_logicaldisk(shifted)
    assert "line 2" in str(err.value) and "not aligned" in str(err.value)
    collapsed = re.sub(r" +", " ", real)
    with pytest.raises(ParseError):
        parse_wmic_logicaldisk(collapsed)


def test_powershell_table_ends_at_a_blank_line_and_at_the_next_prompt():
    table = _read("cim/psdocs_win32_logicaldisk_drivetype3.txt")
    following = "\nPS C:\\> Get-CimInstance -Class Win32_NetworkConnection\nLocalName RemoteName  ConnectionState Status\n" \
                "--------- ----------  --------------- ------\nG:        \\\\srv\\x     Connected       OK\n"
    disks = parse_cim_logicaldisk("PS C:\\> Get-CimInstance -ClassName Win32_LogicalDisk -Filter \"DriveType=3\"\n" + table + following)
    assert [d.device_id for d in disks] == ["C:", "Q:"]
    notes: list[str] = []
    disks = parse_cim_logicaldisk(table + "\nDeviceID Size\n-------- ----\nZ:       1\n", notes=notes)
    assert [d.device_id for d in disks] == ["C:", "Q:"] and any("after the end of the table" in n for n in notes)


def test_reg_query_after_its_echoed_command():
    text = _read("reg/psdocs_devicepath.txt")
    for echo in ("C:\\>reg query HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion /v DevicePath\n",
                 "reg query HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion /v DevicePath\n"):
        (key,) = parse_reg_query(echo + text)
        assert key.get("DevicePath") == "%SystemRoot%\\inf"


def test_a_comment_line_or_a_line_ending_in_a_prompt_sign_is_not_a_prompt():
    # "#", "$", ">" shapes are prompts only when what follows starts with the parser's own program
    (key,) = parse_reg_query("# taken on the archive server, Windows Server 2003\n" + _read("reg/psdocs_devicepath.txt"))
    assert key.get("DevicePath")
    notes: list[str] = []
    services = parse_svcs_xv("# SMF check of mvf-db01 >\n" + _read("svcs/omicron_svcs_Zxv_two_maintenance.txt") + "\nend of output $", notes=notes)
    assert len(services) == 2 and services[1].impact == "This service is not running."
    assert notes == ["line 1 not understood: '# SMF check of mvf-db01 >'", "line 18 not understood: 'end of output $'"]
