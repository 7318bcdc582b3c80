"""Hardware RAID as the vendors' command-line tools report it (Windows and other OSes alike).

* HP / HPE Smart Array: `hpacucli` (Array Configuration Utility CLI), `hpssacli`, `ssacli`
  ``ctrl all show config``: ``Smart Array P410i in Slot 0 (Embedded)``, ``array A (...)``,
  ``logicaldrive 1 (136.7 GB, RAID 1, OK)`` and ``physicaldrive 1I:1:1 (port 1I:box 1:bay 1, SAS,
  146 GB, OK)``. Logical drive states: ``OK``, ``Failed``, ``Interim Recovery Mode`` (degraded: a
  member disk is lost, no redundancy left), ``Ready for Rebuild``, ``Recovering, 26% complete``
  (rebuilding); physical drives ``OK``, ``Failed``, ``Predictive Failure``, ``Rebuilding``, spares
  ``OK, spare``.
* Dell OpenManage Server Administrator: `omreport storage vdisk` / `omreport storage pdisk
  controller=N`: ``Key : Value`` blocks per disk under ``Controller <name>`` lines; ``Status``
  ``Ok`` / ``Non-Critical`` / ``Critical``, ``State`` ``Ready`` / ``Online`` / ``Degraded`` /
  ``Failed`` / ``Offline`` / ``Rebuilding`` / ``Background Initialization`` ..., ``Failure
  Predicted : Yes``.
* LSI / Broadcom MegaRAID: `MegaCli -LDInfo -Lall -aALL` (``State : Optimal`` / ``Degraded`` /
  ``Partially Degraded`` / ``Offline``) and `MegaCli -PDList -aALL` (``Firmware state: Online, Spun
  Up`` / ``Failed`` / ``Rebuild`` / ``Unconfigured(bad)`` ..., ``Predictive Failure Count``).

Every parser returns `RaidItem`s with a severity: ``fail`` (failed or degraded: the array has lost
its redundancy or its data), ``warn`` (rebuilding, predicted to fail, or another transient state),
None when healthy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import ParseError, lines_of


@dataclass
class RaidItem:
    tool: str  # hp | dell | lsi
    controller: str
    kind: str  # array | disk
    name: str
    status: str
    severity: str | None  # fail | warn | None
    details: dict[str, str] = field(default_factory=dict)

    @property
    def subject(self) -> str:
        return f"{self.controller}: {self.name}" if self.controller else self.name


# ---- HP Smart Array -------------------------------------------------------------------------

_HP_CTRL = re.compile(r"^(?P<name>(?:Smart Array|Smart HBA|Dynamic Smart Array|HPE? Smart Array|Smart RAID)\b.*?)(?:\s{2,}\(sn:.*\))?\s*$")
_HP_LD = re.compile(r"^\s*logicaldrive\s+(?P<id>\S+)\s+\((?P<body>.*)\)\s*$", re.I)
_HP_PD = re.compile(r"^\s*physicaldrive\s+(?P<id>\S+)\s+\((?P<body>.*)\)\s*$", re.I)
_HP_ARRAY = re.compile(r"^\s*(?P<name>array\s+\S+|unassigned|HBA Drives)\b", re.I)


def _hp_severity(status: str, disk: bool) -> str | None:
    s = status.lower()
    if s.startswith("ok"):
        return None
    if re.search(r"recovering|rebuilding|expanding|transforming|queued|erasing|initializ", s):
        return "warn"
    if disk and "predictive failure" in s:
        return "warn"
    return "fail"  # Failed, Interim Recovery Mode, Ready for Rebuild, Wrong Physical Drive Replaced, ...


def parse_hpacucli_config(text: str, notes: list[str] | None = None) -> list[RaidItem]:
    """`hpacucli|hpssacli|ssacli ctrl all show config` (also ``ld all show`` / ``pd all show``)."""
    out: list[RaidItem] = []
    ctrl, array = "", ""
    seen_ctrl = False
    for ln in lines_of(text):
        s = ln.strip()
        if not s:
            continue
        m = _HP_CTRL.match(s)
        if m and not ln[:1].isspace():
            ctrl, array, seen_ctrl = re.sub(r"\s+", " ", m.group("name")).strip(), "", True
            continue
        m = _HP_LD.match(ln) or _HP_PD.match(ln)
        if m:
            disk = s.lower().startswith("physicaldrive")
            parts = [p.strip() for p in m.group("body").split(",")]
            # logicaldrive: (size, RAID n, status[, progress]); physicaldrive: (port:box:bay, type, size, status[, spare])
            idx = 3 if disk else 2
            status = ", ".join(parts[idx:]) if len(parts) > idx else parts[-1]
            details = {"size": parts[idx - 1] if len(parts) >= idx else "", "array": array}
            if not disk and len(parts) > 1:
                details["raid"] = parts[1]
            if disk and len(parts) > 1:
                details["type"] = parts[idx - 2]
            out.append(RaidItem("hp", ctrl, "disk" if disk else "array",
                                f"{'physicaldrive' if disk else 'logicaldrive'} {m.group('id')}", status, _hp_severity(status, disk), details))
            continue
        a = _HP_ARRAY.match(ln)
        if a:
            array = a.group("name")
            continue
        if notes is not None and not re.match(r"^(SEP|Expander|Enclosure|Internal Drive Cage|Port Name|Port ID|Port Connection)", s, re.I):
            notes.append(f"unrecognised line: {s[:120]!r}")
    if not out and not seen_ctrl:
        if re.search(r"No controllers detected|Error: No controllers", text or "", re.I):
            return []
        raise ParseError("not hpacucli/ssacli output (no Smart Array controller, logical or physical drive)", command="ssacli ctrl all show config",
                         excerpt=text)
    return out


# ---- Dell OpenManage ------------------------------------------------------------------------

def _kv_blocks(text: str) -> list[tuple[str, dict[str, str]]]:
    """omreport's ``Key : Value`` blocks, each with the ``Controller ...`` line above it."""
    blocks: list[tuple[str, dict[str, str]]] = []
    ctrl, cur = "", {}
    for ln in lines_of(text):
        s = ln.strip()
        if not s:
            if cur:
                blocks.append((ctrl, cur))
                cur = {}
            continue
        m = re.match(r"^Controller\s+(?P<name>.+?)\s*$", s)
        if m and ":" not in s:
            if cur:
                blocks.append((ctrl, cur))
                cur = {}
            ctrl = m.group("name")
            continue
        k, sep, v = s.partition(":")
        if sep and k.strip() and re.match(r"^[A-Za-z][\w /().-]*$", k.strip()):
            key = k.strip()
            if key == "ID" and cur:  # the next disk without a blank line
                blocks.append((ctrl, cur))
                cur = {}
            cur[key] = v.strip()
    if cur:
        blocks.append((ctrl, cur))
    return [(c, b) for c, b in blocks if "ID" in b and ("Status" in b or "State" in b)]


def _dell_severity(status: str, state: str, failure_predicted: str = "") -> str | None:
    st, sv = state.lower(), status.lower()
    if re.search(r"\bfailed\b|\boffline\b|\bdegraded\b|\bmissing\b|\bremoved\b", st) or sv == "critical":
        return "fail"
    if failure_predicted.lower().startswith("yes"):
        return "warn"
    if re.search(r"rebuild|resynch|regenerat|reconstruct|initializ|formatting|foreign", st) or sv in ("non-critical", "unknown"):
        return "warn"
    return None


def parse_omreport(text: str, notes: list[str] | None = None) -> list[RaidItem]:
    """`omreport storage vdisk` and `omreport storage pdisk controller=N` (the same Key : Value layout)."""
    out = []
    for ctrl, b in _kv_blocks(text):
        disk = bool(re.match(r"^\d+:\d+(:\d+)?$", b["ID"])) or "Physical Disk" in b.get("Name", "") or "Failure Predicted" in b
        status, state = b.get("Status", ""), b.get("State", "")
        shown = ", ".join(x for x in (state, status) if x)
        out.append(RaidItem("dell", ctrl, "disk" if disk else "array", b.get("Name") or f"ID {b['ID']}", shown,
                            _dell_severity(status, state, b.get("Failure Predicted", "")),
                            {k: b[k] for k in ("ID", "Layout", "Size", "Capacity", "Failure Predicted", "Progress") if k in b}))
    if not out:
        if re.search(r"No (virtual|physical) disks? (found|present)|No controllers found", text or "", re.I):
            return []
        raise ParseError("not omreport storage output (no disk with ID and Status / State)", command="omreport storage vdisk", excerpt=text)
    return out


#: what omreport answers for a controller number the server does not have
INVALID_CONTROLLER = re.compile(r"Invalid controller value", re.I)


def parse_omreport_pdisks(text: str, notes: list[str] | None = None) -> list[RaidItem] | None:
    """`omreport storage pdisk controller=N`; None when the server has no controller N (omreport
    says "Invalid controller value", whatever its exit code)."""
    if INVALID_CONTROLLER.search(text or "") and not _kv_blocks(text):
        return None
    return parse_omreport(text, notes)


@dataclass
class DellController:
    number: int | None
    name: str
    status: str
    state: str


def parse_omreport_controllers(text: str, notes: list[str] | None = None) -> list[DellController]:
    """`omreport storage controller`: one ``Key : Value`` block per controller (``ID : 0``, ``Status``,
    ``Name``, ``State``...); "No controllers found" -> []."""
    out = []
    for _ctrl, b in _kv_blocks(text):
        number = int(b["ID"]) if b["ID"].isdigit() else None
        out.append(DellController(number, b.get("Name", ""), b.get("Status", ""), b.get("State", "")))
    if not out:
        if re.search(r"No controllers? (found|present)", text or "", re.I):
            return []
        raise ParseError("not omreport storage controller output (no controller with ID and Status / State)",
                         command="omreport storage controller", excerpt=text)
    return out


# ---- LSI MegaRAID ---------------------------------------------------------------------------

def parse_megacli_ldinfo(text: str, notes: list[str] | None = None) -> list[RaidItem]:
    """`MegaCli -LDInfo -Lall -aALL`."""
    out: list[RaidItem] = []
    adapter, cur = "", None
    for ln in lines_of(text):
        s = ln.strip()
        m = re.match(r"^Adapter\s*#?\s*(\d+)", s)
        if m:
            adapter = f"Adapter {m.group(1)}"
            continue
        m = re.match(r"^Virtual (?:Drive|Disk)\s*:\s*(\d+)", s)
        if m:
            cur = RaidItem("lsi", adapter, "array", f"Virtual Drive {m.group(1)}", "", None, {})
            out.append(cur)
            continue
        k, sep, v = s.partition(":")
        if cur is not None and sep:
            key = k.strip()
            if key == "State":
                cur.status = v.strip()
                st = cur.status.lower()
                cur.severity = "fail" if re.search(r"degraded|offline|failed", st) else ("warn" if st and st != "optimal" else None)
            elif key in ("RAID Level", "Size", "Number Of Drives", "Bad Blocks Exist"):
                cur.details[key] = v.strip()
    if not out:
        if re.search(r"no Virtual Drive|Number of Virtual (Drives|Disks) Configured on Adapter \d+:\s*0", text or "", re.I):
            return []
        raise ParseError("not MegaCli -LDInfo output (no 'Virtual Drive:' block)", command="MegaCli -LDInfo -Lall -aALL", excerpt=text)
    for item in out:
        if not item.status:
            item.severity, item.status = "warn", "no State line"
        if item.details.get("Bad Blocks Exist", "").lower().startswith("yes") and item.severity is None:
            item.severity = "warn"
    return out


def parse_megacli_pdlist(text: str, notes: list[str] | None = None) -> list[RaidItem]:
    """`MegaCli -PDList -aALL`."""
    out: list[RaidItem] = []
    adapter, cur, enclosure = "", None, ""
    for ln in lines_of(text):
        s = ln.strip()
        m = re.match(r"^Adapter\s*#\s*(\d+)", s)
        if m:
            adapter = f"Adapter {m.group(1)}"
            continue
        k, sep, v = s.partition(":")
        key, val = k.strip(), v.strip()
        if not sep:
            continue
        if key == "Enclosure Device ID":
            enclosure = val
            continue
        if key == "Slot Number":
            cur = RaidItem("lsi", adapter, "disk", f"[{enclosure}:{val}]", "", None, {})
            out.append(cur)
            continue
        if cur is None:
            continue
        if key == "Firmware state":
            cur.status = val
            st = val.lower()
            if re.search(r"failed|offline|unconfigured\(bad\)|missing", st):
                cur.severity = "fail"
            elif re.search(r"rebuild|copyback", st):
                cur.severity = "warn"
        elif key in ("Media Error Count", "Other Error Count", "Predictive Failure Count", "Inquiry Data", "Raw Size", "PD Type"):
            cur.details[key] = re.sub(r"\s+", " ", val)
    if not out:
        raise ParseError("not MegaCli -PDList output (no 'Slot Number:' line)", command="MegaCli -PDList -aALL", excerpt=text)
    for item in out:
        if not item.status:
            item.severity, item.status = "warn", "no Firmware state line"
        pfc = item.details.get("Predictive Failure Count", "0")
        if pfc.isdigit() and int(pfc) > 0 and item.severity is None:
            item.severity = "warn"
            item.status += f" (predictive failure count {pfc})"
    return out


__all__ = ["INVALID_CONTROLLER", "DellController", "RaidItem", "parse_hpacucli_config", "parse_megacli_ldinfo", "parse_megacli_pdlist",
           "parse_omreport", "parse_omreport_controllers", "parse_omreport_pdisks"]
