"""`metastat` (Solaris Volume Manager, Solaris 9/10/11): metadevices and their states.

A block per metadevice: ``d0: Mirror`` then indented ``Submirror 0: d10`` / ``State: Okay`` /
``Size:`` lines and, for stripes, a Device / Start Block / Dbase / State / Reloc / Hot Spare
table. Healthy states are ``Okay``; trouble is ``Needs maintenance``, ``Maintenance``,
``Last Erred``, ``Erred``, ``Unavailable``, ``Resyncing`` (in progress: not failed, not done).
When SVM is not configured, metastat prints ``there are no existing databases`` (or nothing):
`SvmStatus.configured` is then False. Soft partitions print ``Status:`` where the others print
``State:``; a stripe table without the Reloc column (disk sets) is read too. Unknown lines before
the first metadevice are notes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .capture import read_capture

COMMAND = "metastat"
PROGRAMS = ("metastat",)
# dNNN / hspNNN names, or descriptive names (Solaris 10 1/06+: "opt_mirror: Mirror") with a known kind
_KINDS = r"Mirror|Submirror of \S+|Concat/Stripe|RAID|Soft Partition|Trans(?: Master| Log)?|Logging device for \S+|\d+ hot spares?"
_HEAD = re.compile(rf"^(?:(?P<set>[\w.-]+)/)?(?:(?P<name>d\d+|hsp\d+):\s*(?P<kind>.*)|(?P<named>[A-Za-z_][\w.-]*):\s*(?P<nkind>{_KINDS})\s*)$")
_STATE = re.compile(r"^\s*State:\s*(?P<state>.+?)\s*$")
_STATUS = re.compile(r"^\s*Status:\s*(?P<state>Okay|Needs maintenance|Maintenance|Last erred|Erred|Unavailable|Resyncing|Errored)\s*$", re.I)
_INVOKE = re.compile(r"^\s*Invoke:\s*(?P<cmd>.+?)\s*$")
_COMPONENT = re.compile(
    r"^\s+(?P<dev>(?:/dev/\S+|c\d+\S*|\S+s\d+))\s+(?P<start>\d+)\s+(?P<dbase>Yes|No|-)\s+(?P<state>[A-Za-z][A-Za-z ]*?)(?:\s+(?P<reloc>Yes|No|-)(?:\s+(?P<hs>\S+))?)?\s*$"
)
OK_STATES = ("Okay",)
TRANSIENT_STATES = ("Resyncing",)


@dataclass
class Component:
    device: str
    state: str
    hot_spare: str | None = None


@dataclass
class Metadevice:
    name: str
    kind: str
    state: str | None = None
    invoke: str | None = None
    components: list[Component] = field(default_factory=list)
    submirror_states: dict[str, str] = field(default_factory=dict)

    def problems(self) -> list[str]:
        """Human-readable problems: the device's own state and any component not Okay."""
        out = []
        if self.state and self.state not in OK_STATES:
            out.append(f"{self.name} ({self.kind}) is {self.state}")
        for c in self.components:
            if c.state not in OK_STATES:
                out.append(f"{self.name} component {c.device} is {c.state}")
        return out


@dataclass
class SvmStatus:
    configured: bool
    devices: list[Metadevice] = field(default_factory=list)

    def unhealthy(self) -> list[Metadevice]:
        return [d for d in self.devices if d.problems()]


#: what metastat prints (on stdout or stderr) when Solaris Volume Manager is not configured
NOT_CONFIGURED = re.compile(r"there are no existing databases|no metadevice|no existing databases", re.I)


def parse_metastat(text: str, *, notes: list[str] | None = None) -> SvmStatus:
    """Parse `metastat` output."""
    cap = read_capture(text, command=COMMAND, programs=PROGRAMS, notes=notes)
    if cap.empty or NOT_CONFIGURED.search(cap.text):
        return SvmStatus(configured=False)
    status = SvmStatus(configured=True)
    cur: Metadevice | None = None
    pending_sub: str | None = None
    in_reloc = False
    for ln in cap.lines:
        line = ln.text
        s = line.strip()
        if not s:
            continue
        if s.startswith("Device Relocation Information"):
            in_reloc = True
            continue
        if in_reloc:
            continue
        head = _HEAD.match(s) if not line[:1].isspace() else None
        if head:
            cur = Metadevice(name=head.group("name") or head.group("named"), kind=(head.group("kind") or head.group("nkind")).strip())
            status.devices.append(cur)
            pending_sub = None
            continue
        if cur is None:
            cap.note(ln)
            continue
        sub = re.match(r"^\s*Submirror \d+:\s*(\S+)", line)
        if sub:
            pending_sub = sub.group(1).rsplit("/", 1)[-1]
            continue
        st = _STATE.match(line) or (_STATUS.match(line) if cur.state is None and not pending_sub else None)
        if st:
            if pending_sub:
                cur.submirror_states[pending_sub] = st.group("state")
                pending_sub = None
            else:
                cur.state = st.group("state")
            continue
        inv = _INVOKE.match(line)
        if inv:
            cur.invoke = inv.group("cmd")
            continue
        comp = _COMPONENT.match(line)
        if comp:
            cur.components.append(Component(device=comp.group("dev"), state=comp.group("state").strip(), hot_spare=comp.group("hs")))
            continue
        if not line[:1].isspace():
            cap.note(ln)
        # indented Size:, Pass:, Read option:, Stripe 0:, table headers, extents: detail we do not need
    if not status.devices:
        raise cap.nothing_recognised("a metadevice line such as 'd0: Mirror', or 'there are no existing databases'")
    return status
