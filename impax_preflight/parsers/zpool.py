"""`zpool status` and `zpool status -x` (Solaris 10 u6+, Solaris 11, illumos, OpenZFS).

`zpool status -x` prints ``all pools are healthy`` when nothing is wrong (and ``no pools
available`` without pools); otherwise the full status of each unhealthy pool: ``pool:``,
``state:``, ``status:``, ``action:``, ``see:``, ``scan:`` (``scrub:`` on old releases),
``config:`` with a NAME / STATE / READ / WRITE / CKSUM device tree, and ``errors:``.

Unknown lines are notes. ``all pools are healthy`` next to an unhealthy pool (or ``no pools
available`` next to a pool) is contradictory and an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .capture import read_capture

COMMAND = "zpool status -x"
PROGRAMS = ("zpool",)
#: section titles inside the config tree
_SECTIONS = ("logs", "cache", "spares", "special", "dedup")
HEALTHY_STATES = ("ONLINE", "AVAIL", "INUSE")
_KEY = re.compile(r"^\s*(?P<key>pool|state|status|action|see|scan|scrub|config|errors)\s*:\s?(?P<value>.*)$")
_DEV = re.compile(r"^(?P<indent>\s*)(?P<name>\S+)\s+(?P<state>[A-Z]+)(?:\s+(?P<read>\S+)\s+(?P<write>\S+)\s+(?P<cksum>\S+))?\s*(?P<note>.*)$")


@dataclass
class Vdev:
    name: str
    state: str
    read: str = "0"
    write: str = "0"
    cksum: str = "0"
    depth: int = 0
    note: str = ""

    @property
    def has_errors(self) -> bool:
        return any(v not in ("0", "-", "") for v in (self.read, self.write, self.cksum))


@dataclass
class Pool:
    name: str
    state: str = ""
    status: str = ""
    action: str = ""
    see: str = ""
    scan: str = ""
    errors: str = ""
    devices: list[Vdev] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return self.state == "ONLINE" and not self.problem_devices() and self.errors.lower() in ("", "no known data errors")

    def problem_devices(self) -> list[Vdev]:
        return [d for d in self.devices if d.state not in HEALTHY_STATES or d.has_errors]


@dataclass
class ZpoolStatus:
    pools: list[Pool] = field(default_factory=list)
    all_healthy: bool = False  # the "all pools are healthy" line
    no_pools: bool = False

    def unhealthy(self) -> list[Pool]:
        return [p for p in self.pools if not p.healthy]


def parse_zpool_status(text: str, *, notes: list[str] | None = None) -> ZpoolStatus:
    """Parse `zpool status [-x] [-v]` output."""
    cap = read_capture(text, command=COMMAND, programs=PROGRAMS, notes=notes)
    result = ZpoolStatus()
    cur: Pool | None = None
    key: str | None = None
    in_config = False
    base_indent: int | None = None
    for ln in cap.lines:
        line = ln.text
        s = line.strip()
        if not s:
            continue
        low = s.lower()
        if low == "all pools are healthy":
            result.all_healthy = True
            continue
        if low == "no pools available":
            result.no_pools = True
            continue
        m = _KEY.match(line)
        if m:
            key = m.group("key")
            value = m.group("value").strip()
            if key == "pool":
                cur = Pool(name=value)
                result.pools.append(cur)
                in_config, base_indent = False, None
                continue
            if cur is None:
                cap.note(ln, f"not understood ('{key}:' before any 'pool:' line)")
                key = None
                continue
            if key == "config":
                in_config, base_indent = True, None
                continue
            in_config = False
            attr = "scan" if key == "scrub" else key
            setattr(cur, attr, value)
            continue
        if cur is None:
            cap.note(ln)
            continue
        if in_config:
            if s.startswith("NAME") and "STATE" in s:
                continue
            d = _DEV.match(line)
            if not d:
                if s not in _SECTIONS and not s.startswith("was /"):
                    cap.note(ln)
                continue  # section titles and wrapped "was /dev/..." notes
            indent = len(d.group("indent"))
            if base_indent is None:
                base_indent = indent
            cur.devices.append(
                Vdev(
                    name=d.group("name"),
                    state=d.group("state"),
                    read=d.group("read") or "0",
                    write=d.group("write") or "0",
                    cksum=d.group("cksum") or "0",
                    depth=max(0, (indent - base_indent) // 2),
                    note=d.group("note").strip(),
                )
            )
            continue
        if key in ("status", "action", "scan", "scrub", "errors", "see"):
            key = "scan" if key == "scrub" else key
            # wrapped continuation of a multi-line field (and the file list of "errors:" with -v)
            setattr(cur, key, (getattr(cur, key) + " " + s).strip())
            continue
        cap.note(ln)
    if not result.pools and not result.all_healthy and not result.no_pools:
        raise cap.nothing_recognised("a 'pool:' line, 'all pools are healthy' or 'no pools available'")
    if result.all_healthy and result.unhealthy():
        raise cap.error("contradictory output: 'all pools are healthy' next to an unhealthy pool "
                        f"({', '.join(p.name for p in result.unhealthy())})")
    if result.no_pools and result.pools:
        raise cap.error("contradictory output: 'no pools available' next to pool status")
    return result
