"""The real-output corpus (tests/fixtures/real, described by its SOURCES.toml): loading, parsing, and the
facts asserted per file. Shared by test_real_corpus.py and test_capture_noise.py (tests/ is on the import path, like services.py)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from impax_preflight.parsers import capture, cim, df, dirlist, fmadm, iostat, listing, metastat, netstat, pkginfo, prtdiag, reg, relay, release, sc, svcs, systeminfo, winservices, wmic, zpool

ROOT = Path(__file__).resolve().parent / "fixtures" / "real"
SOURCES = ROOT / "SOURCES.toml"

#: parser key in SOURCES.toml -> the parser function
PARSERS: dict[str, Callable[..., Any]] = {
    "svcs": svcs.parse_svcs_xv,
    "fmadm": fmadm.parse_fmadm_faulty,
    "zpool": zpool.parse_zpool_status,
    "metastat": metastat.parse_metastat,
    "iostat": iostat.parse_iostat_en,
    "df": df.parse_df,
    "uname": release.parse_uname,
    "etc_release": release.parse_etc_release,
    "prtdiag": prtdiag.parse_prtdiag,
    "psrinfo": prtdiag.parse_psrinfo,
    "systeminfo": systeminfo.parse_systeminfo,
    "wmic_logicaldisk": wmic.parse_wmic_logicaldisk,
    "wmic_services": winservices.parse_service_accounts,
    "wmic_cpu": wmic.parse_wmic_logical_processors,
    "cim_logicaldisk": cim.parse_cim_logicaldisk,
    "sc": sc.parse_sc,
    "reg": reg.parse_reg_query,
    "dir": dirlist.parse_dir,
    "netstat": netstat.parse_netstat,
    "relay": relay.parse_relay_config,
    "pkginfo": pkginfo.parse_pkginfo_l,
    "ls": listing.parse_ls_l,
    "du": listing.parse_du_sk,
}


@dataclass
class Fixture:
    file: str
    parser: str
    command: str
    state: str  # healthy | faulty | transient | unparseable
    meta: dict = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return ROOT / self.file

    def text(self) -> str:
        return capture.decode(self.path.read_bytes())

    def parse(self, text: str | bytes | None = None, notes: list[str] | None = None):
        return PARSERS[self.parser](self.text() if text is None else text, notes=notes)

    def __str__(self) -> str:  # pytest ids
        return self.file


def load() -> list[Fixture]:
    data = tomllib.loads(SOURCES.read_text(encoding="utf-8"))
    return [Fixture(f["file"], f["parser"], f["command"], f["state"], f) for f in data["fixture"]]


def _pct(d) -> float:
    return round(100.0 * (d.size_bytes - (d.free_bytes or 0)) / d.size_bytes, 1)


def facts(parser: str, r: Any) -> dict:
    """The facts a fixture's `expect` table states, computed from a parse result."""
    if parser == "svcs":
        return {"services": len(r), "faults": sum(s.is_fault for s in r), "states": sorted({s.state for s in r}), "fmris": [s.fmri for s in r]}
    if parser == "fmadm":
        return {"faults": len(r), "msg_ids": [f.msg_id for f in r]}
    if parser == "zpool":
        return {"pools": len(r.pools), "states": [p.state for p in r.pools], "unhealthy": [p.name for p in r.unhealthy()],
                "problem_devices": sum(len(p.problem_devices()) for p in r.pools), "all_healthy": r.all_healthy}
    if parser == "metastat":
        return {"configured": r.configured, "devices": len(r.devices), "unhealthy": [d.name for d in r.unhealthy()],
                "submirrors": {k: v for d in r.devices for k, v in d.submirror_states.items()}}
    if parser == "iostat":
        return {"devices": len(r), "hard_errors": {d.device: d.hard for d in r if d.hard}, "soft_errors": sum(d.soft for d in r),
                "removable": [d.device for d in r if d.is_removable_media]}
    if parser == "df":
        root = next((u for u in r if u.mount == "/"), None)
        return {"filesystems": len(r), "full": sorted(u.mount for u in r if u.used_pct >= 95), "root_used_pct": root.used_pct if root else None}
    if parser == "uname":
        return {"kernel": r.kernel, "node": r.node, "release": r.release}
    if parser == "etc_release":
        return {"version": r.version, "update": r.update, "arch": r.arch}
    if parser == "prtdiag":
        return {"system": r.system, "memory_mb": r.memory_mb, "failures": len(r.failures), "says_no_failures": r.says_no_failures}
    if parser == "psrinfo":
        return {"processors": len(r), "online": sum(p.status == "on-line" for p in r)}
    if parser == "systeminfo":
        return {"host_name": r.host_name, "os_name": r.os_name, "total_memory_mb": r.total_memory_mb, "hotfixes": len(r.hotfixes)}
    if parser in ("wmic_logicaldisk", "cim_logicaldisk"):
        fixed = [d for d in r if d.is_local_fixed]
        return {"disks": len(r), "fixed": [d.device_id for d in fixed], "fixed_used_pct": {d.device_id: _pct(d) for d in fixed if d.size_bytes}}
    if parser == "wmic_services":
        return {"services": len(r), "auto_stopped": [s.name for s in r if s.auto_start and not s.running]}
    if parser == "wmic_cpu":
        return {"logical_processors": r}
    if parser == "sc":
        return {"services": len(r), "running": [s.name for s in r if s.running], "stopped": [s.name for s in r if s.stopped]}
    if parser == "reg":
        return {"keys": len(r), "values": sum(len(k.values) for k in r), "first_key": r[0].path if r else None}
    if parser == "dir":
        return {"path": r.path, "entries": len(r.entries), "dirs": len(r.dirs())}
    if parser == "netstat":
        return {"sockets": len(r), "listening": sum(s.listening for s in r), "listening_ports": sorted({s.local_port for s in r if s.listening and s.local_port is not None})}
    if parser == "relay":
        return {"found_section": r.found_section, "user_password_set": r.user_password_set}
    if parser == "pkginfo":
        return {"packages": [p.pkginst for p in r], "incomplete": [p.pkginst for p in r if p.status != "completely installed"]}
    if parser == "ls":
        return {"entries": len(r), "dirs": sum(e.is_dir for e in r)}
    if parser == "du":
        return {"kib": r}
    raise KeyError(parser)
