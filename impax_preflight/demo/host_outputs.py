"""The demo hosts' command outputs, read from the data files the package ships
(``demo/data/hosts/<host>/outputs.toml`` and the text files beside it) into bundle entries.

Every command that the host checks and the fact collector declare for a host's OS is answered,
with seeded faults across the hosts: an SMF service in maintenance, an fmadm fault, a degraded
ZFS pool, disk hard errors, file systems at 98 % and 92 %, a stopped automatic IMPAX service,
Connectivity Manager 2.1, .NET 3.5 without SP1, a stale appserver backup, a relay config with a
short URL name. mvf-bk01 (backup PACS) and impax-ng01 are mostly healthy. The files hold plain
text; ``encoding`` says how the real tool writes it (wmic redirected: UTF-16 LE with a BOM and
CR CR LF line ends; Windows console: CR LF), and a ``template`` file has dates relative to the day
the demo is built (the appserver backup is always 41 days old).
"""

from __future__ import annotations

import codecs
import tomllib
from datetime import datetime, timedelta
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
    dates = {"stale": stale, "older": stale - timedelta(days=120)}
    entries = []
    for out in spec["output"]:
        text = folder.joinpath(out["stdout"]).read_text(encoding="utf-8") if "stdout" in out else ""
        if out.get("template"):
            text = text.format(**dates)
        entries.append(BundleEntry(out["command"], _encode(text, out.get("encoding")), rc=out.get("rc", 0),
                                   stderr=out.get("stderr", "")))
    return entries
