"""Windows services with the account each runs as: `wmic service get
DisplayName,Name,StartMode,StartName,State /value` (XP / Server 2003 and later) or PowerShell
`Get-CimInstance Win32_Service | Select-Object ... | ConvertTo-Json`.

``StartName`` is the logon account: ``LocalSystem`` (NT AUTHORITY\\SYSTEM), ``NT AUTHORITY\\
NetworkService``, ``NT AUTHORITY\\LocalService``, ``NT Service\\MSSQLSERVER`` (a virtual account),
``.\\user`` or ``DOMAIN\\user``; empty for kernel drivers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import ParseError
from .winstorage import rows_of

_SYSTEM = re.compile(r"^(LocalSystem|\.\\LocalSystem|NT AUTHORITY\\SYSTEM|SYSTEM)$", re.I)


@dataclass
class ServiceAccount:
    name: str
    display_name: str
    start_mode: str
    start_name: str
    state: str

    @property
    def runs_as_system(self) -> bool:
        return bool(_SYSTEM.match(self.start_name.strip()))

    @property
    def auto_start(self) -> bool:
        return self.start_mode.lower() in ("auto", "automatic", "auto_start")

    @property
    def running(self) -> bool:
        return self.state.lower() == "running"


def parse_service_accounts(text: str, notes: list[str] | None = None) -> list[ServiceAccount]:
    """Services, their start mode, state and logon account (wmic /value, table or the CIM JSON);
    StartName is empty when the output does not list it."""
    out = []
    for r in rows_of(text, "wmic service"):
        if "Name" not in r or "State" not in r:
            raise ParseError("wmic service output needs the Name and State properties", command="wmic service", excerpt=str(r))
        out.append(ServiceAccount(name=r["Name"].strip(), display_name=r.get("DisplayName", "").strip(), start_mode=_mode(r.get("StartMode", "")),
                                  start_name=r.get("StartName", "").strip(), state=_state(r.get("State", ""))))
    if not out:
        raise ParseError("no service listed: every Windows host runs services, the output cannot be right", command="wmic service",
                         excerpt=text)
    return out


def _mode(v) -> str:
    # ConvertTo-Json of PowerShell 3+ may write the enum as a number (2 Auto, 3 Manual, 4 Disabled)
    return {"0": "Boot", "1": "System", "2": "Auto", "3": "Manual", "4": "Disabled"}.get(str(v).strip(), str(v).strip())


def _state(v) -> str:
    return {"1": "Stopped", "2": "Start Pending", "3": "Stop Pending", "4": "Running"}.get(str(v).strip(), str(v).strip())


__all__ = ["ServiceAccount", "parse_service_accounts"]
