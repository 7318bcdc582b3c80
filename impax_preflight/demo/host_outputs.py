"""The demo hosts' command outputs, read from the data files the package ships
(``demo/data/hosts/<host>/outputs.toml`` and the text files beside it) into bundle entries.

Every command that the host checks and the fact collector declare for a host's OS is answered,
with seeded faults across the hosts: an SMF service in maintenance, an fmadm fault, a degraded
ZFS pool, disk hard errors, file systems at 98 % and 92 % (and the IMPAX DVD mounted at /cdrom, 100 % by
nature, not judged), a stopped automatic IMPAX service,
Connectivity Manager 2.1, .NET 3.5 without SP1, a stale appserver backup, a relay config with a
short URL name; and (issue 13) a bad-block disk error and an unexpected shutdown in impax-app01's
System log, a dirty volume, a pending reboot and no firewall exception for the relay port there, a
degraded Smart Array, a SQL Server running as a domain account and a clock 7 minutes fast on
impax-cm01, a failed fan in mvf-db01's prtdiag and a fatal SCSI error in its system log, a state
database replica with write errors on mvf-bk01. mvf-bk01 (backup PACS) and impax-ng01 are mostly healthy. The files hold plain
text; ``encoding`` says how the real tool writes it (wmic redirected: UTF-16 LE with a BOM and
CR CR LF line ends; Windows console: CR LF), and a ``template`` file has dates relative to the day
the demo is built (the appserver backup is always 41 days old; {utcnow}, {days_ago_2} ... are UTC
times around the build, {epoch} its seconds since the epoch).
"""

from __future__ import annotations

import codecs
import tomllib
from datetime import datetime, timedelta, timezone
from importlib import resources

from ..transports.bundle import BundleEntry


def _encode(text: str, encoding: str | None) -> bytes | str:
    if encoding == "utf-16":
        return codecs.BOM_UTF16_LE + text.replace("\n", "\r\r\n").encode("utf-16-le")
    if encoding == "crlf":
        return text.replace("\n", "\r\n")
    return text


def demo_bundle_entries(host_name: str) -> list[BundleEntry]:
    """Bundle entries (command -> output) for one demo host."""
    folder = resources.files(__package__).joinpath("data", "hosts", host_name)
    if not folder.joinpath("outputs.toml").is_file():
        raise KeyError(f"{host_name} is not a demo host")
    spec = tomllib.loads(folder.joinpath("outputs.toml").read_text(encoding="utf-8"))
    stale = datetime.now().replace(second=0, microsecond=0) - timedelta(days=41, hours=3)
    utc = datetime.now(timezone.utc)
    dates = {"stale": stale, "older": stale - timedelta(days=120),
             # the host's clock when the demo is built (impax-cm01's runs 7 minutes fast) and events days before it
             "utcnow": utc, "utc_fast": utc + timedelta(minutes=7), "epoch": int(utc.timestamp()),
             "days_ago_2": utc - timedelta(days=2, hours=5), "days_ago_12": utc - timedelta(days=12, hours=2),
             "days_ago_20": utc - timedelta(days=20, hours=7), "days_ago_45": utc - timedelta(days=45)}
    entries = []
    for out in spec["output"]:
        text = folder.joinpath(out["stdout"]).read_text(encoding="utf-8") if "stdout" in out else ""
        if out.get("template"):
            text = text.format(**dates)
        entries.append(BundleEntry(out["command"], _encode(text, out.get("encoding")), rc=out.get("rc", 0),
                                   stderr=out.get("stderr", "")))
    return entries
