"""`iostat -En` (Solaris 8-11, illumos): per-device error counters.

Each device: ``c0t0d0  Soft Errors: 0 Hard Errors: 0 Transport Errors: 0`` then ``Vendor:`` /
``Product:`` / ``Revision:`` / ``Serial No:`` (or ``Model:`` for ATA), ``Size:``, ``Media Error:``
/ ``Device Not Ready:`` / ``No Device:`` / ``Recoverable:``, ``Illegal Request:`` /
``Predictive Failure Analysis:`` (``Non-Aligned Writes:`` on Solaris 11).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .capture import read_capture

COMMAND = "iostat -En"
PROGRAMS = ("iostat",)
_HEAD = re.compile(
    r"^(?P<dev>\S+)\s+Soft Errors:\s*(?P<soft>\d+)\s+Hard Errors:\s*(?P<hard>\d+)\s+Transport Errors:\s*(?P<transport>\d+)\s*$"
)
_COUNTERS = {
    "Media Error": "media_error",
    "Device Not Ready": "device_not_ready",
    "No Device": "no_device",
    "Recoverable": "recoverable",
    "Illegal Request": "illegal_request",
    "Predictive Failure Analysis": "predictive_failure",
}
_COUNTER = re.compile(r"(Media Error|Device Not Ready|No Device|Recoverable|Illegal Request|Predictive Failure Analysis|Non-Aligned Writes):\s*(\d+)")
_SIZE = re.compile(r"Size:\s*(?P<h>[\d.,]+\s*\w+)?\s*<(?P<bytes>\d+)(?:\s*bytes)?\s*>", re.I)


@dataclass
class DeviceErrors:
    device: str
    soft: int
    hard: int
    transport: int
    vendor: str = ""
    product: str = ""
    revision: str = ""
    serial: str = ""
    size_bytes: int | None = None
    media_error: int = 0
    device_not_ready: int = 0
    no_device: int = 0
    recoverable: int = 0
    illegal_request: int = 0
    predictive_failure: int = 0

    @property
    def is_removable_media(self) -> bool:
        """CD/DVD drives report errors when empty; the check says so rather than failing on them."""
        # whole words: an INTEL RAID volume "SROMBSASFC" is no CD-ROM
        return bool(re.search(r"\b(?:CD|DVD|BD)(?:-?ROM|-?RW?|W)?\b|\bROM\b", f"{self.product} {self.vendor}", re.I))


def _field(line: str, name: str, following: tuple[str, ...]) -> str | None:
    stop = "|".join(re.escape(f) for f in following)
    m = re.search(rf"{re.escape(name)}:\s*(.*?)\s*(?=(?:{stop}):|$)" if stop else rf"{re.escape(name)}:\s*(.*?)\s*$", line)
    return m.group(1).strip() if m else None


def parse_iostat_en(text: str, *, notes: list[str] | None = None) -> list[DeviceErrors]:
    """Parse `iostat -En` into one `DeviceErrors` per device."""
    cap = read_capture(text, command=COMMAND, programs=PROGRAMS, notes=notes)
    out: list[DeviceErrors] = []
    cur: DeviceErrors | None = None
    seen: set[str] = set()
    for ln in cap.lines:
        s = ln.text.strip()
        if not s:
            continue
        h = _HEAD.match(s)
        if h:
            cur = DeviceErrors(device=h.group("dev"), soft=int(h.group("soft")), hard=int(h.group("hard")), transport=int(h.group("transport")))
            out.append(cur)
            seen = set()
            continue
        if cur is None:
            cap.note(ln)
            continue
        fields = set()
        if s.startswith(("Vendor:", "Model:")):
            fields.add("identity")
        size = _SIZE.search(s)  # ATA disks print Size on the Model line
        if size:
            fields.add("size")
        found = _COUNTER.findall(s)
        fields.update(name for name, _ in found)
        if not fields:
            cap.note(ln)
            continue
        if fields & seen:
            # the same field twice: this line belongs to a device whose header was not understood
            cap.note(ln, f"not given to {cur.device} (a second {sorted(fields & seen)[0]} line: the next device's header was not understood)")
            cur = None
            continue
        seen |= fields
        if "identity" in fields:
            cur.vendor = _field(s, "Vendor", ("Product",)) or ""
            cur.product = _field(s, "Product", ("Revision",)) or _field(s, "Model", ("Revision",)) or ""
            cur.revision = _field(s, "Revision", ("Serial No",)) or ""
            cur.serial = _field(s, "Serial No", ("Size",)) or ""
        if size:
            cur.size_bytes = int(size.group("bytes"))
        for name, value in found:
            attr = _COUNTERS.get(name)
            if attr:
                setattr(cur, attr, int(value))
    if not out and not cap.empty:
        raise cap.nothing_recognised("'<device> Soft Errors: n Hard Errors: n Transport Errors: n' lines")
    return out
