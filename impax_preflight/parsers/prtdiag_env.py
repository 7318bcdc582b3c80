"""`prtdiag -v` environmental and FRU status (Solaris 10 / 11, sun4u, sun4v and x86).

Layouts differ per platform generation; what they share is a section title and, per component,
a row whose status word says whether it is well:

* sun4u with PICL (Sun Fire V210-V490 ...): ``=== Environmental Status ===`` with ``Fan Speeds:``,
  ``Temperature sensors:``, ``Current sensors:``, ``Voltage sensors:`` and ``Led State:`` tables
  (status ``okay`` / ``warning`` / ``failed``), then ``=== FRU Operational Status ===``
  (``okay`` / ``faulty`` / ``present`` / ``disabled``);
* older sun4u (280R, 480R, Enterprise 3x00-6x00): ``[NO_FAULT]`` / ``[FAULT]`` and ``[OK]``
  columns, ``Detached Boards`` (``disabled`` / ``failed``), ``Failed Field Replaceable Units (FRU)
  in System:`` and ``Detected System Faults`` lists;
* sun4v (T-series, illumos/Solaris prtdiag source): ``Fan sensors:``, ``Temperature sensors:``,
  ``Current sensors:``, ``Voltage sensors:``, ``... indicators:`` each either ``All ... are OK.`` or a
  ``Location Sensor Status`` table (``ok``, ``warning (..)``, ``failed (..)``, ``disabled``,
  ``unknown``), and ``=== FRU Status ===`` (``All FRUs are enabled.`` or rows ``enabled`` /
  ``disabled``);
* x86: SMBIOS tables only (processor and memory sockets, slots), no environmental data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import ParseError, lines_of

COMMAND = "prtdiag -v"

_RULE = re.compile(r"^\s*(?:[-=_]{3,}\s*)+$")
_TITLE = re.compile(r"^\s*=+\s*(?P<title>[A-Za-z][^=]*?)\s*=+\s*$")
_SUBTITLE = re.compile(r"^\s*(?P<title>[A-Z][A-Za-z /()&-]*?)\s*:\s*$")
_HEALTHY = re.compile(r"No failures (found|detected)|All (FRUs|fan sensors|fan indicators|temperature sensors|temperature indicators|"
                      r"current sensors|current indicators|voltage sensors|voltage indicators|LEDs|sensors)\b.*\b(OK|enabled)", re.I)
#: sections that list components and their state
_ENV_SECTIONS = re.compile(r"environmental|fru|failed field|detected system faults|detached boards|power supplies|fans?\b|"
                           r"temperature|voltage|current|led|indicator|disk status|keyswitch", re.I)
#: sections that only hold history or inventory, never a current fault
_SKIP_SECTIONS = re.compile(r"most recent ac power failure|hw revisions|asic revisions|prom revisions|io devices|io cards|cpus|memory|"
                            r"processor|upgradeable slots|on-board devices|bios|system clock", re.I)
#: sections whose every line is a failure (old sun4u lists)
_LIST_SECTIONS = re.compile(r"failed field replaceable|detected system faults", re.I)
_FRU_SECTIONS = re.compile(r"fru|detached boards|board", re.I)

_FAIL_WORDS = {"failed", "faulty", "fault", "faulted", "fail", "critical", "degraded", "unavailable", "failure", "offline"}
_WARN_WORDS = {"warning", "unknown"}
_LED_ALERT = re.compile(r"^\s*(\S+)\s+(SERVICE|FAULT|FAULT_LED|SERVICE_LED|OVERTEMP|PS_FAULT|FAN_FAULT)\s+on\b", re.I)


@dataclass
class HwProblem:
    section: str
    kind: str  # fan | power | temperature | voltage | current | fru | board | fault | led | indicator | disk | component
    location: str
    status: str
    line: str
    severity: str  # "fail" | "warn"


@dataclass
class PrtdiagEnv:
    system: str = ""
    platform: str = ""  # sun4u | sun4v | i86pc | ""
    #: environmental / FRU sections found (empty: this platform's prtdiag reports none, e.g. x86)
    sections: list[str] = field(default_factory=list)
    problems: list[HwProblem] = field(default_factory=list)
    says_no_failures: bool = False

    @property
    def has_environment(self) -> bool:
        return bool(self.sections)


def _kind(section: str) -> str:
    s = section.lower()
    for word, kind in (("fan", "fan"), ("temperat", "temperature"), ("power", "power"), ("supply", "power"), ("voltage", "voltage"),
                       ("current", "current"), ("led", "led"), ("indicator", "indicator"), ("disk", "disk"),
                       ("detached board", "board"), ("fru", "fru"), ("fault", "fault")):
        if word in s:
            return kind
    return "component"


def _status_of(tokens: list[str], fru: bool) -> tuple[str, str] | None:
    """(status word, severity) for a table row, or None when the row is well."""
    words = [t.strip("[]()").lower() for t in tokens]
    for w in words:
        if w in _FAIL_WORDS:
            return w, "fail"
        if w == "disabled":
            return w, "fail" if fru else "warn"
    for w in words:
        if w in _WARN_WORDS:
            return w, "warn"
    return None


def parse_prtdiag_env(text: str, notes: list[str] | None = None) -> PrtdiagEnv:
    """The environmental and FRU state `prtdiag -v` reports, as a list of problems."""
    lines = [ln.rstrip() for ln in lines_of(text)]
    if not any(ln.strip() for ln in lines):
        raise ParseError("empty prtdiag output", command=COMMAND, excerpt=text)
    out = PrtdiagEnv()
    major = ""   # === Title === sections
    minor = ""   # Subtitle: tables inside them
    for i, ln in enumerate(lines):
        s = ln.strip()
        if not s:
            continue
        m = re.match(r"^System Configuration:\s*(.+)$", s)
        if m:
            out.system = re.sub(r"\s+", " ", m.group(1)).strip()
            plat = re.search(r"\b(sun4[uvdm])\b", s)
            out.platform = plat.group(1) if plat else out.platform
            continue
        if s.startswith(("BIOS Configuration:", "BMC Configuration:")) and not out.platform:
            out.platform = "i86pc"
        if _HEALTHY.search(s):
            out.says_no_failures = out.says_no_failures or "no failures" in s.lower()
            continue
        t = _TITLE.match(ln)
        if t:
            major, minor = t.group("title").strip(), ""
            continue
        nxt = next((x for x in lines[i + 1:] if x.strip()), "")
        if _RULE.match(nxt) and not _RULE.match(ln) and re.match(r"^[A-Z]", s) and not re.search(r"\s{2,}", s):
            # an old-style title underlined with ==== / ----: "Detached Boards", "Fans:", "Power Supplies:"
            if nxt.strip().startswith("=") or s.endswith(":"):
                major, minor = (s.rstrip(":").strip(), "") if nxt.strip().startswith("=") else (major, s.rstrip(":").strip())
                continue
        st = _SUBTITLE.match(ln)
        if st and not re.search(r"\s{2,}", s):
            minor = st.group("title").strip()
            continue
        if _RULE.match(ln):
            continue
        area = minor or major
        if not area or _SKIP_SECTIONS.search(area) or (major and _SKIP_SECTIONS.search(major) and not _ENV_SECTIONS.search(minor)):
            continue
        if not (_ENV_SECTIONS.search(area) or _ENV_SECTIONS.search(major)):
            continue
        if area not in out.sections:
            out.sections.append(area)
        if _RULE.match(nxt) or re.search(r"\b(Location|Unit|Bank|Brd|Supply|Slot|Sensor)\b.*\b(Status|State|Condition|Fault)\b", s):
            continue  # a table header
        if re.match(r"^(System LED Status|WARNING\s+(ON|OFF)\b|Keyswitch)", s, re.I):
            continue  # the front-panel LED legend of old sun4u, not a component
        if _LIST_SECTIONS.search(area):
            if ln[:1].isspace() and out.problems and out.problems[-1].section == area:
                out.problems[-1].line += " / " + s
            else:
                out.problems.append(HwProblem(area, "fault" if "fault" in area.lower() else "fru", s.split()[0], "listed", s, "fail"))
            continue
        led = _LED_ALERT.match(ln)
        if led:
            out.problems.append(HwProblem(area, "led", led.group(1), f"{led.group(2)} LED on", s, "warn"))
            continue
        if "led" in area.lower():
            continue  # other LEDs (ACT, LOCATE, OK2RM) say nothing about faults
        got = _status_of(s.split()[1:], bool(_FRU_SECTIONS.search(area)))
        if got:
            out.problems.append(HwProblem(area, _kind(area), s.split()[0], got[0], s, got[1]))
    if not out.system and not out.sections and not out.says_no_failures:
        raise ParseError("not prtdiag output (no 'System Configuration' line and no environmental section)", command=COMMAND,
                         excerpt=text)
    return out


__all__ = ["HwProblem", "PrtdiagEnv", "parse_prtdiag_env"]
