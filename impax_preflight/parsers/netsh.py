"""Windows Firewall through `netsh` (English output).

* Server 2008 and later, `netsh advfirewall firewall show rule name=all dir=in verbose`: one block
  per rule, ``Rule Name:`` then a row of dashes, then ``Field:   value`` lines (``Enabled``,
  ``Direction``, ``Profiles``, ``Protocol``, ``LocalPort``, ``Action``, with ``verbose`` also
  ``Program``); ``Ok.`` at the end. `netsh advfirewall show currentprofile state`: ``<Name> Profile
  Settings:`` then ``State   ON|OFF``. Server 2003 knows no ``advfirewall`` context: netsh answers
  ``The following command was not found: advfirewall ...``.
* Server 2003 SP1 / R2 (and XP SP2), `netsh firewall show config`: per profile (``Domain``,
  ``Standard``; the active one marked ``(current)``) ``Operational mode = Enable|Disable``,
  ``Exception mode = Enable|Disable``, then tables ``Allowed programs configuration``, ``Port
  configuration`` (``Port  Protocol  Mode  Name``) ...
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import ParseError, lines_of

NOT_AVAILABLE = re.compile(r"The following command was not found", re.I)


@dataclass
class FirewallRule:
    name: str
    enabled: bool
    direction: str  # In | Out
    profiles: list[str]  # Domain, Private, Public, Standard; ["Any"]
    protocol: str  # TCP | UDP | Any | ...
    local_ports: str  # "8090", "80,443", "5000-5100", "Any", "RPC"
    action: str  # Allow | Block | Bypass
    program: str = ""

    def covers_port(self, port: int, protocol: str = "TCP") -> bool:
        if self.protocol.lower() not in (protocol.lower(), "any"):
            return False
        return ports_cover(self.local_ports, port)


def ports_cover(spec: str, port: int) -> bool:
    """Whether a netsh port list (``Any``, ``8090``, ``80,443``, ``5000-5100``) includes `port`."""
    spec = (spec or "").strip()
    if spec.lower() in ("any", "*"):
        return True
    for part in re.split(r"[,\s]+", spec):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if m and int(m.group(1)) <= port <= int(m.group(2) or m.group(1)):
            return True
    return False


def parse_advfirewall_rules(text: str, notes: list[str] | None = None) -> list[FirewallRule]:
    """`netsh advfirewall firewall show rule name=all dir=in [verbose]`."""
    if NOT_AVAILABLE.search(text or ""):
        raise ParseError("this Windows has no netsh advfirewall (Server 2003): read `netsh firewall show config` instead",
                         command="netsh advfirewall firewall show rule", excerpt=text)
    blocks: list[dict[str, str]] = []
    cur: dict[str, str] | None = None
    for ln in lines_of(text):
        s = ln.strip()
        if not s or re.fullmatch(r"-{5,}", s) or s in ("Ok.", "OK."):
            continue
        if re.match(r"^No rules match the specified criteria", s, re.I):
            return []
        k, sep, v = s.partition(":")
        if not sep:
            if notes is not None:
                notes.append(f"unrecognised line: {s[:120]!r}")
            continue
        key = k.strip()
        if key == "Rule Name":
            cur = {"Rule Name": v.strip()}
            blocks.append(cur)
        elif cur is not None:
            cur[key] = v.strip()
    if not blocks:
        raise ParseError("no 'Rule Name:' block in the netsh output (is the output in another language?)",
                         command="netsh advfirewall firewall show rule", excerpt=text)
    out = []
    for b in blocks:
        out.append(FirewallRule(
            name=b["Rule Name"], enabled=b.get("Enabled", "").lower() == "yes", direction=b.get("Direction", ""),
            profiles=[p.strip() for p in b.get("Profiles", "Any").split(",") if p.strip()], protocol=b.get("Protocol", "Any"),
            local_ports=b.get("LocalPort", "Any"), action=b.get("Action", ""), program=b.get("Program", ""),
        ))
    return out


@dataclass
class ProfileState:
    name: str  # Domain | Private | Public | Standard
    enabled: bool
    current: bool = True
    exceptions_allowed: bool = True


def parse_advfirewall_state(text: str, notes: list[str] | None = None) -> list[ProfileState]:
    """`netsh advfirewall show currentprofile state` (or ``allprofiles state``)."""
    if NOT_AVAILABLE.search(text or ""):
        raise ParseError("this Windows has no netsh advfirewall (Server 2003)", command="netsh advfirewall show currentprofile state",
                         excerpt=text)
    out: list[ProfileState] = []
    name = None
    for ln in lines_of(text):
        s = ln.strip()
        m = re.match(r"^(\w+) Profile Settings:?$", s)
        if m:
            name = m.group(1)
            continue
        m = re.match(r"^State\s+(ON|OFF)$", s, re.I)
        if m and name:
            out.append(ProfileState(name=name, enabled=m.group(1).upper() == "ON"))
            name = None
    if not out:
        raise ParseError("no '<Profile> Profile Settings' / 'State ON|OFF' in the netsh output", command="netsh advfirewall show currentprofile state",
                         excerpt=text)
    return out


@dataclass
class LegacyFirewall:
    profiles: list[ProfileState] = field(default_factory=list)
    #: port openings per profile: (port, protocol, enabled, name)
    ports: dict[str, list[tuple[int, str, bool, str]]] = field(default_factory=dict)
    #: allowed programs per profile: (enabled, "name / path")
    programs: dict[str, list[tuple[bool, str]]] = field(default_factory=dict)

    @property
    def current(self) -> list[ProfileState]:
        cur = [p for p in self.profiles if p.current]
        return cur or self.profiles


def parse_netsh_firewall_config(text: str, notes: list[str] | None = None) -> LegacyFirewall:
    """`netsh firewall show config` (Windows Server 2003 SP1 / R2, XP SP2)."""
    out = LegacyFirewall()
    profile: ProfileState | None = None
    table, table_profile = "", ""
    for ln in lines_of(text):
        s = ln.strip()
        if not s or re.fullmatch(r"-{5,}", s):
            continue
        m = re.match(r"^(\w+) profile configuration( \(current\))?:$", s, re.I)
        if m:
            profile = ProfileState(name=m.group(1).capitalize(), enabled=False, current=bool(m.group(2)))
            out.profiles.append(profile)
            table = ""
            continue
        m = re.match(r"^(Allowed programs|Port|Service|ICMP) configuration for (\w+) profile:$", s, re.I)
        if m:
            table, table_profile = m.group(1).lower(), m.group(2).capitalize()
            continue
        if re.match(r"^(Log configuration|Interface configuration)", s, re.I):
            table = "other"
            continue
        m = re.match(r"^Operational mode\s*=\s*(\w+)", s, re.I)
        if m and profile is not None:
            profile.enabled = m.group(1).lower() == "enable"
            continue
        m = re.match(r"^Exception mode\s*=\s*(\w+)", s, re.I)
        if m and profile is not None:
            profile.exceptions_allowed = m.group(1).lower() == "enable"
            continue
        if table == "port":
            m = re.match(r"^(\d+)\s+(TCP|UDP)\s+(Enable|Disable)\s+(.*)$", s, re.I)
            if m:
                out.ports.setdefault(table_profile, []).append((int(m.group(1)), m.group(2).upper(), m.group(3).lower() == "enable",
                                                                m.group(4).strip()))
            continue
        if table == "allowed programs":
            m = re.match(r"^(Enable|Disable)\s+(.*)$", s, re.I)
            if m:
                out.programs.setdefault(table_profile, []).append((m.group(1).lower() == "enable", m.group(2).strip()))
            continue
    if not out.profiles:
        raise ParseError("no '<Profile> profile configuration' section in the netsh output (is the output in another language?)",
                         command="netsh firewall show config", excerpt=text)
    return out


__all__ = ["FirewallRule", "LegacyFirewall", "NOT_AVAILABLE", "ProfileState", "parse_advfirewall_rules", "parse_advfirewall_state",
           "parse_netsh_firewall_config", "ports_cover"]
