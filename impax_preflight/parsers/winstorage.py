"""Windows disks and volumes through WMI: `wmic` (XP / Server 2003 and later) or, where wmic is gone,
PowerShell `Get-CimInstance ... | ConvertTo-Json`.

* ``Win32_DiskDrive``: ``Status`` is ``OK``, or ``Pred Fail`` (SMART predicts a failure),
  ``Degraded``, ``Error``, ``Unknown``, ``Starting``, ``Stopping``, ``Service``, ``Stressed``,
  ``NonRecover``, ``No Contact``, ``Lost Comm``.
* ``root\\wmi MSStorageDriver_FailurePredictStatus``: one instance per disk whose driver passes
  SMART through, ``PredictFailure`` TRUE when the drive predicts its own failure (``Reason`` the
  SMART attribute). Disks behind a RAID controller or in a virtual machine have no instance
  ("No Instance(s) Available.") or the class answers ``Not supported``.
* ``Win32_Volume`` (Server 2003 and later): ``DirtyBitSet`` TRUE when NTFS marked the volume dirty
  (the flag `fsutil dirty query C:` reads): chkdsk runs at the next restart.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from . import ParseError
from .wmic import parse_wmic

_BAD_DISK_STATUS = {"pred fail", "degraded", "error", "nonrecover", "no contact", "lost comm"}
_WARN_DISK_STATUS = {"unknown", "stressed", "service", "starting", "stopping"}


def rows_of(text: str, command: str) -> list[dict[str, str]]:
    """wmic output (table or /value) or PowerShell ConvertTo-Json (one object or a list) -> dicts of strings."""
    stripped = (text or "").replace("\ufeff", "").strip()
    if not stripped:
        return []
    if stripped[0] in "[{":
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ParseError(f"invalid JSON from ConvertTo-Json: {exc.msg} at line {exc.lineno}", command=command, excerpt=text) from None
        items = data if isinstance(data, list) else [data]
        if not all(isinstance(x, dict) for x in items):
            raise ParseError("ConvertTo-Json output is not an object or a list of objects", command=command, excerpt=text)
        return [{k: _text(v) for k, v in item.items()} for item in items]
    # redirected wmic ends every line with CR CR LF: one line, not a line and an empty one (which would
    # split a /value instance after every property)
    return parse_wmic(stripped.replace("\r\r\n", "\n"), command)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return str(value)


def _bool(value: str | None) -> bool | None:
    v = (value or "").strip().upper()
    return True if v in ("TRUE", "1", "YES") else False if v in ("FALSE", "0", "NO") else None


@dataclass
class DiskDrive:
    device_id: str
    index: int | None
    model: str
    status: str
    interface: str = ""
    serial: str = ""

    @property
    def name(self) -> str:
        return f"Disk {self.index}" if self.index is not None else self.device_id

    @property
    def severity(self) -> str | None:
        """'fail' for Pred Fail / Degraded / Error ..., 'warn' for Unknown / Stressed ..., None when OK."""
        s = self.status.strip().lower()
        if s in _BAD_DISK_STATUS:
            return "fail"
        if s in _WARN_DISK_STATUS or (s and s != "ok"):
            return "warn"
        return None


def parse_diskdrives(text: str, notes: list[str] | None = None) -> list[DiskDrive]:
    """`wmic diskdrive get Caption,DeviceID,Index,InterfaceType,Model,SerialNumber,Status /value` (or the CIM JSON)."""
    out = []
    for r in rows_of(text, "wmic diskdrive"):
        if "Status" not in r or not (r.get("DeviceID") or r.get("Index")):
            raise ParseError("wmic diskdrive output needs the DeviceID and Status properties", command="wmic diskdrive", excerpt=str(r))
        idx = r.get("Index", "").strip()
        out.append(DiskDrive(
            device_id=r.get("DeviceID", "").strip(), index=int(idx) if idx.isdigit() else None,
            model=(r.get("Model") or r.get("Caption") or "").strip(), status=r["Status"].strip(),
            interface=r.get("InterfaceType", "").strip(), serial=r.get("SerialNumber", "").strip(),
        ))
    return out


@dataclass
class FailurePrediction:
    instance: str
    predict_failure: bool
    reason: int | None
    active: bool | None


def parse_failure_predict(text: str, notes: list[str] | None = None) -> list[FailurePrediction]:
    """`wmic /namespace:\\\\root\\wmi path MSStorageDriver_FailurePredictStatus get Active,InstanceName,PredictFailure,Reason /value`."""
    out = []
    for r in rows_of(text, "MSStorageDriver_FailurePredictStatus"):
        if "PredictFailure" not in r:
            raise ParseError("MSStorageDriver_FailurePredictStatus output needs PredictFailure", command="wmic", excerpt=str(r))
        pf = _bool(r.get("PredictFailure"))
        if pf is None:
            raise ParseError(f"PredictFailure is neither TRUE nor FALSE: {r.get('PredictFailure')!r}", command="wmic", excerpt=str(r))
        reason = r.get("Reason", "").strip()
        out.append(FailurePrediction(instance=r.get("InstanceName", "").strip(), predict_failure=pf,
                                     reason=int(reason) if reason.isdigit() else None, active=_bool(r.get("Active"))))
    return out


@dataclass
class Volume:
    name: str  # C:\ or \\?\Volume{...}\
    drive_letter: str
    label: str
    file_system: str
    drive_type: int | None
    dirty: bool | None
    capacity: int | None

    @property
    def display(self) -> str:
        return self.drive_letter or self.label or self.name

    @property
    def is_fixed(self) -> bool:
        return self.drive_type == 3


def parse_volumes(text: str, notes: list[str] | None = None) -> list[Volume]:
    """`wmic volume get Capacity,DirtyBitSet,DriveLetter,DriveType,FileSystem,Label,Name /value` (or the CIM JSON)."""
    out = []
    for r in rows_of(text, "wmic volume"):
        if "DirtyBitSet" not in r or not (r.get("Name") or r.get("DriveLetter")):
            raise ParseError("wmic volume output needs the Name and DirtyBitSet properties", command="wmic volume", excerpt=str(r))
        dt, cap = r.get("DriveType", "").strip(), r.get("Capacity", "").strip()
        out.append(Volume(
            name=r.get("Name", "").strip(), drive_letter=r.get("DriveLetter", "").strip(), label=r.get("Label", "").strip(),
            file_system=r.get("FileSystem", "").strip(), drive_type=int(dt) if dt.isdigit() else None,
            dirty=_bool(r.get("DirtyBitSet")), capacity=int(cap) if re.fullmatch(r"\d+", cap) else None,
        ))
    return out


__all__ = ["DiskDrive", "FailurePrediction", "Volume", "parse_diskdrives", "parse_failure_predict", "parse_volumes", "rows_of"]
