"""LocalShell (rc, stderr, timeouts) and output decoding/capping shared by every transport."""

from __future__ import annotations

import codecs
import time

import pytest

from impax_preflight.transports.base import OUTPUT_CAP, CommandTimeout, decode_output, finish_output
from impax_preflight.transports.local import LocalShell


def test_local_rc_stdout_stderr():
    sh = LocalShell(os_name="linux")
    r = sh.run("echo out; echo err >&2; exit 4", timeout=10)
    assert (r.rc, r.stdout, r.stderr) == (4, "out\n", "err\n") and r.failed and r.transport == "local"
    assert sh.run("echo $LC_ALL", timeout=10).stdout == "C\n"
    assert sh.run("cat; echo eof", timeout=10).stdout == "eof\n"  # stdin is closed, never waits
    assert sh.run("no-such-command-xyz", timeout=10).rc == 127


def test_local_timeout_kills_the_whole_process_group():
    sh = LocalShell(os_name="linux")
    start = time.monotonic()
    with pytest.raises(CommandTimeout, match="abandoned"):
        sh.run("sleep 30 & sleep 30; wait", timeout=0.5)
    assert time.monotonic() - start < 3


def test_local_output_cap_with_mark():
    r = LocalShell(os_name="linux").run("head -c 17000000 /dev/zero | tr '\\0' 'y'", timeout=60)
    assert r.truncated and len(r.raw) == OUTPUT_CAP
    assert r.stdout.startswith("yyy") and r.stdout.rstrip().endswith("bytes ...]")


@pytest.mark.parametrize(
    "raw,text",
    [
        (codecs.BOM_UTF16_LE + "Größe C:\r\n".encode("utf-16-le"), "Größe C:\r\n"),
        ("Caption  FreeSpace\r\nC:       1234\r\n".encode("utf-16-le"), "Caption  FreeSpace\r\nC:       1234\r\n"),
        (codecs.BOM_UTF16_BE + "État".encode("utf-16-be"), "État"),
        ("Datenträger: Ä".encode("cp850"), "Datenträger: Ä"),
        (codecs.BOM_UTF8 + "ok ü".encode(), "ok ü"),
        ("plain ascii\n".encode(), "plain ascii\n"),
        (b"", ""),
    ],
)
def test_decoding(raw, text):
    assert decode_output(raw) == text


def test_cp1252_when_told():
    assert decode_output("Größe €".encode("cp1252"), "cp1252") == "Größe €"


def test_finish_output_17mb_is_cut_with_the_mark():
    text, kept, truncated = finish_output(b"z" * (17 * 1024 * 1024))
    assert truncated and len(kept) == OUTPUT_CAP and "truncated by impax-preflight" in text


def test_local_timeout_says_the_command_was_killed():
    with pytest.raises(CommandTimeout, match=r"timed out after 0.5s .*\(pgid \d+\) was killed"):
        LocalShell(os_name="linux").run("sleep 30", timeout=0.5)


def test_local_cancel_kills_running_commands_and_refuses_new_ones():
    import threading

    from impax_preflight.transports.base import CommandCancelled

    sh = LocalShell(os_name="linux")
    errors: list[BaseException] = []

    def long():
        try:
            sh.run("sleep 30 & sleep 30; wait", timeout=60)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=long) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    start = time.monotonic()
    sh.cancel()
    for t in threads:
        t.join(timeout=5)
    assert time.monotonic() - start < 2
    assert len(errors) == 2 and all(isinstance(e, CommandCancelled) and "cancelled" in str(e) for e in errors), errors
    with pytest.raises(CommandCancelled, match="not run"):
        sh.run("echo late", timeout=5)
