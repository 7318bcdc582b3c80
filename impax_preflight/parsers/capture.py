"""Capture noise: find a command's output inside what a person (or a terminal) captured around it.

Every parser reads its text through `read_capture`, which

- accepts bytes too (UTF-8 / UTF-16 with or without a byte order mark) and drops a BOM and the NUL
  padding of mis-decoded UTF-16, ANSI colour codes, CRLF / CR / wmic's CR CR LF line ends,
  trailing blanks; expands tabs (8 columns, as a terminal shows them);
- drops shell prompts and echoed commands, *keyed on recognisable shapes*: ``user@host:~# cmd``,
  ``[user@host dir]$ cmd``, ``bash-3.00# cmd``, ``host:/path# cmd``, ``C:\\dir>cmd``,
  ``PS C:\\> cmd`` (and its ``>>`` continuation lines) are prompts wherever they stand; the bare
  shapes ``# cmd``, ``$ cmd``, ``host% cmd``, ``> cmd`` and a bare echoed command line (``iostat
  -En``, ``+ iostat -En``) only when the command is one this parser reads, so a ``#`` comment or a
  line ending in ``>`` is never taken for a prompt;
- keeps the output of *this* command: the lines after the last prompt that echoed it, up to the
  next prompt; lines that belong to other commands or stand outside the output are dropped with a
  note;
- drops login banners, motd lines and session trailers it recognises (``Last login:``, ``Oracle
  Corporation SunOS 5.11 ...``, ``Microsoft Windows [Version ...]``, ``logout``...) at the edges of
  the output, leading and trailing blank lines, and the indentation common to every line (an output
  pasted indented in a mail or a wiki).

Lines a parser does not understand become notes (`Capture.note`), short sentences for the person
reading the finding, appended to the caller's ``notes`` list; a parser raises `ParseError` only when
nothing recognisable is left or the output contradicts itself.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from . import ParseError

#: notes kept per parse; the rest are counted in one closing note
MAX_NOTES = 20

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
_LINE_END = re.compile(r"\r*\n|\r")

# Prompt shapes recognised wherever they stand (group "cmd" is what was typed after them).
_PROMPTS = [
    # [root@host ~]# cmd    [oracle@db01 dbs]$ cmd    [root@node02 ~] cmd
    re.compile(r"^\[[\w.-]+@[\w.-]+(?:\s[^\]]*)?\]\s?[#$%>]?\s?(?P<cmd>.*)$"),
    # root@host:~# cmd    user@host:/var/tmp$ cmd    root@solaris:~ # cmd    user@mac ~ % cmd
    re.compile(r"^[\w.-]+@[\w.-]+(?::\S*|\s+\S+)?\s?[#$%>](?:\s(?P<cmd>.*))?$"),
    # bash-3.00# cmd    -bash-4.1$ cmd    sh-3.2# cmd    bash$ cmd
    re.compile(r"^-?(?:ba|k|z|c|tc|da)?sh(?:-\d+(?:\.\d+)*)?[#$%](?:\s?(?P<cmd>.*))?$"),
    # mvf-db01:/root# cmd    host:~ # cmd     (not an URL: "http://...#")
    re.compile(r"^[\w.-]+:(?:~|/(?!/))\S*\s?[#$%>](?:\s(?P<cmd>.*))?$"),
    # C:\Users\x>wmic ...    C:\>
    re.compile(r"^(?:\([\w.-]+\)\s)?[A-Za-z]:\\[^<>|\"*?\n]*>(?P<cmd>.*)$"),
    # PS C:\> cmd    PS C:\Users\x> cmd    PS HKLM:\software> cmd    PS /home/x> cmd    PS> cmd
    re.compile(r"^PS(?: [\w-]+:[^>\n]*| /[^>\n]*| ~[^>\n]*)?>\s?(?P<cmd>.*)$"),
]
# Bare shapes: a prompt only when what follows starts with one of the parser's programs.
_WEAK_PROMPT = re.compile(r"^(?:[\w.-]+\s?)?[#$%>]\s?(?P<cmd>\S.*)$")
_PS_CONTINUATION = re.compile(r"^>>(?:\s(?P<cmd>.*))?$")
_WRAPPERS = {"sudo", "pfexec", "doas", "time", "exec", "nohup", "command", "+", "cmd", "/c", "cmd.exe", "powershell",
             "powershell.exe", "-command", "-noprofile", "pwsh"}

# Login banners, motd and session trailers (recognised at the edges of the output only).
_BANNERS = re.compile(
    r"^(?:Last (?:successful )?login:.*"
    r"|Oracle Corporation\s+SunOS\s+5\.\d+.*"
    r"|Sun Microsystems Inc\.\s+SunOS\s+5\.\d+.*"
    r"|The Illumos Project\s+SunOS\s+5\.\d+.*"
    r"|OmniOS(?:ce)?\s+r\d+.*"
    r"|OpenIndiana \(powered by illumos\)\s+SunOS.*"
    r"|SmartOS \(build: \w+\)"
    r"|You have (?:new )?mail(?: in \S+)?\.?"
    r"|Microsoft Windows \[Version [\d.]+\]"
    r"|\(c\) (?:\d{4} )?Microsoft Corporation(?:\. All rights reserved\.)?"
    r"|Copyright \([cC]\) (?:\d{4} )?Microsoft Corporation\.(?: All rights reserved\.)?"
    r"|Windows PowerShell"
    r"|Try the new cross-platform PowerShell https?://\S+"
    r"|Install the latest PowerShell for new features and improvements! https?://\S+"
    r"|Loading personal and system profiles took \d+ms\."
    r"|Welcome to .{1,80}"
    r"|Connection to \S+ closed\.?"
    r"|logout|exit)\s*$"
)


@dataclass(frozen=True)
class Line:
    """One line of the capture: its 1-based number in the text as given, and its cleaned text."""

    no: int
    text: str

    @property
    def blank(self) -> bool:
        return not self.text.strip()


class Capture:
    """The output of one command, cleaned of capture noise, and the notes made while reading it."""

    def __init__(self, lines: list[Line], notes: list[str] | None, command: str, source: str):
        self.lines = lines
        self.command = command
        self.source = source  # the text as given (decoded), for excerpts
        self._notes = notes
        self._summary_at: int | None = None
        self._kept = 0
        self._dropped = 0

    @property
    def text(self) -> str:
        return "\n".join(ln.text for ln in self.lines)

    def body(self) -> list[Line]:
        """The non-blank lines."""
        return [ln for ln in self.lines if not ln.blank]

    @property
    def empty(self) -> bool:
        return not any(not ln.blank for ln in self.lines)

    def note(self, line: Line, why: str = "not understood") -> None:
        """Record that `line` was skipped, and why, for the person reading the finding."""
        text = line.text.strip()
        shown = text if len(text) <= 100 else text[:100] + "..."
        self.add_note(f"line {line.no} {why}: {shown!r}")

    def add_note(self, message: str) -> None:
        if self._notes is None:
            return
        if self._kept < MAX_NOTES:
            self._notes.append(message)
            self._kept += 1
            return
        self._dropped += 1
        summary = f"... and {self._dropped} more line(s) not understood"
        if self._summary_at is None:
            self._notes.append(summary)
            self._summary_at = len(self._notes) - 1
        else:
            self._notes[self._summary_at] = summary

    def error(self, message: str, line: Line | None = None) -> ParseError:
        """A ParseError naming the command, the line (when given) and quoting the excerpt."""
        if line is not None:
            return ParseError(f"line {line.no}: {message}", command=self.command, excerpt=line.text, line=line.no)
        return ParseError(message, command=self.command, excerpt=self.text or self.source)

    def nothing_recognised(self, expected: str) -> ParseError:
        """The error for an output in which no line was understood."""
        first = next((ln for ln in self.lines if not ln.blank), None)
        where = f" (first line {first.no}: {first.text.strip()[:80]!r})" if first else ""
        return ParseError(f"nothing recognisable: expected {expected}{where}", command=self.command, excerpt=self.text or self.source)


def decode(data: bytes | str | None) -> str:
    """Text from bytes: UTF-8 or UTF-16 (LE/BE) with or without BOM, else cp1252; str passes through."""
    if data is None:
        return ""
    if isinstance(data, str):
        return data
    raw = bytes(data)
    for bom, codec in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if raw.startswith(bom):
            return raw[len(bom):].decode(codec, errors="replace")
    sample = raw[:4096]
    if len(sample) >= 4:
        odd, even = sample[1::2].count(0) / max(1, len(sample[1::2])), sample[0::2].count(0) / max(1, len(sample[0::2]))
        if odd > 0.4 and even < 0.1:
            return raw.decode("utf-16-le", errors="replace")
        if even > 0.4 and odd < 0.1:
            return raw.decode("utf-16-be", errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def clean_lines(text: bytes | str | None, *, expand_tabs: bool = True) -> list[Line]:
    """Split into numbered lines: BOM, NUL, ANSI codes and trailing blanks removed, tabs expanded."""
    s = decode(text).replace("\ufeff", "").replace("\x00", "")
    s = _ANSI.sub("", s)
    out = []
    for i, raw in enumerate(_LINE_END.split(s), start=1):
        line = raw.rstrip()
        out.append(Line(i, line.expandtabs(8) if expand_tabs else line))
    return out


def _program_of(token: str) -> str:
    name = re.split(r"[\\/]", token.strip("'\"`(;&|"))[-1].lower()
    return name[:-4] if name.endswith(".exe") else name


def _first_program(cmd: str) -> str:
    for token in cmd.split():
        prog = _program_of(token)
        if prog and prog not in _WRAPPERS and not re.fullmatch(r"\w+=\S*", token):
            return prog
    return ""


def _names(cmd: str) -> set[str]:
    return {_program_of(t) for t in re.split(r"[\s;|&()'\"`]+", cmd) if t}


@dataclass
class _Mark:
    index: int
    kind: str  # "ours" | "other" | "bare"
    text: str


def _classify(text: str, programs: set[str], after_ps: bool) -> tuple[str, str] | None:
    """('ours'|'other'|'bare', command) when `text` is a prompt or an echoed command, else None.

    Prompt shapes may be indented (a session pasted indented); a bare echoed command may not (an
    indented output line such as "'zpool clear' or ..." must stay output).
    """
    bare = text
    text = text.strip()
    if after_ps:
        m = _PS_CONTINUATION.match(text)
        if m:
            return "cont", (m.group("cmd") or "")
    for rx in _PROMPTS:
        m = rx.match(text)
        if m:
            cmd = (m.group("cmd") or "").strip()
            if not cmd:
                return "bare", ""
            return ("ours" if programs & _names(cmd) else "other"), cmd
    if not programs:
        return None
    m = _WEAK_PROMPT.match(text)
    if m and _first_program(m.group("cmd")) in programs:
        return "ours", m.group("cmd").strip()
    if re.fullmatch(r"[\w.-]*\s?[#$%]", text):
        return "bare-weak", ""
    if not bare[:1].isspace() and _first_program(text) in programs and _looks_like_command(text, programs):
        return "ours", text
    return None


def _looks_like_command(text: str, programs: set[str]) -> bool:
    """A bare echoed command line: the program first (after sudo/pfexec/+), then options or operands."""
    tokens = text.split()
    while tokens and _program_of(tokens[0]) in _WRAPPERS:
        tokens = tokens[1:]
    if not tokens or _program_of(tokens[0]) not in programs:
        return False
    # "zpool status -x", "iostat -En", "svcs", "wmic logicaldisk get ...": not "svcs: command not found"
    return not tokens[0].endswith(":")


def read_capture(
    text: bytes | str | None,
    *,
    command: str,
    programs: Iterable[str] = (),
    notes: list[str] | None = None,
    expand_tabs: bool = True,
) -> Capture:
    """The output of `command` inside `text`, with prompts, echoes, banners and other noise removed.

    `programs` are the program names whose echo marks this command (e.g. ``("zpool",)``); a prompt
    echoing another program starts another command's output, which is dropped with a note.
    """
    source = decode(text)
    lines = clean_lines(source, expand_tabs=expand_tabs)
    progs = {p.lower() for p in programs}
    lines = _dedent(lines)
    marks: list[_Mark] = []
    after_ps = False
    for i, ln in enumerate(lines):
        kind = _classify(ln.text, progs, after_ps) if not ln.blank else None
        if kind is None:
            after_ps = False
            continue
        k, cmd = kind
        after_ps = k != "bare-weak" and (ln.text.lstrip().startswith("PS") or (k == "cont" and after_ps))
        if k == "cont":
            # a PowerShell continuation belongs to the prompt above it
            marks[-1].text += " " + cmd
            marks.append(_Mark(i, "cont", cmd))
            continue
        if k == "bare-weak":
            # "#" or "host$" alone: a prompt only as the last line of the capture
            if any(not x.blank for x in lines[i + 1 :]):
                continue
            k = "bare"
        marks.append(_Mark(i, k, cmd))
    cap = Capture([], notes, command, source)
    cap.lines = _dedent(_trim(_select(lines, marks, cap)))
    if cap.empty and any(m.kind == "other" for m in marks) and not any(m.kind == "ours" for m in marks):
        # only other commands' output: reading it as an empty output of ours would be a wrong answer
        others = ", ".join(sorted({f"`{m.text}`" for m in marks if m.kind == "other"}))
        raise ParseError(f"the capture holds the output of {others}, not of `{command}`", command=command, excerpt=source)
    return cap


def _select(lines: list[Line], marks: list[_Mark], cap: Capture) -> list[Line]:
    if not marks:
        return lines
    drop = {m.index for m in marks}
    starts = [m for m in marks if m.kind != "cont"]
    ours = [m for m in starts if m.kind == "ours"]
    keep: set[int] = set()
    if ours:
        # the last echo of this very command (all its words but options), else of its program
        words = [w.lower() for w in cap.command.split() if not w.startswith(("-", "/"))]
        exact = [m for m in ours if all(w in m.text.lower() for w in words)]
        last = (exact or ours)[-1]
        begin = last.index + 1
        while begin in drop:  # PowerShell continuation lines
            begin += 1
        following = [m.index for m in starts if m.index > last.index]
        end = following[0] if following else len(lines)
        keep = set(range(begin, end))
    else:
        # no prompt echoed this command: keep what no other command's prompt claims
        claimed_by: str | None = None
        bounds = {m.index: m for m in starts}
        for i in range(len(lines)):
            if i in bounds:
                claimed_by = bounds[i].text if bounds[i].kind == "other" else None
                continue
            if i in drop:
                continue
            if claimed_by is None:
                keep.add(i)
    _note_dropped(lines, keep, drop, marks, cap)
    return [ln for i, ln in enumerate(lines) if i in keep]


def _note_dropped(lines: list[Line], keep: set[int], drop: set[int], marks: list[_Mark], cap: Capture) -> None:
    """One note per run of dropped lines that are neither prompts, banners nor blank."""
    run: list[Line] = []

    def flush():
        if run:
            first, last = run[0], run[-1]
            where = f"line {first.no}" if first is last else f"lines {first.no}-{last.no}"
            cap.add_note(f"{where} ignored: not part of the output of `{cap.command}` ({first.text.strip()[:80]!r})")
            run.clear()

    for i, ln in enumerate(lines):
        if i in keep:
            flush()
            continue
        if i in drop or ln.blank or _BANNERS.match(ln.text.strip()):
            continue
        run.append(ln)
    flush()


def _dedent(lines: list[Line]) -> list[Line]:
    widths = [len(ln.text) - len(ln.text.lstrip(" ")) for ln in lines if not ln.blank]
    cut = min(widths) if widths else 0
    if not cut:
        return lines
    return [Line(ln.no, ln.text[cut:] if not ln.blank else "") for ln in lines]


def _trim(lines: list[Line]) -> list[Line]:
    """Leading/trailing blank lines and recognised banner / trailer lines at the edges."""
    start, end = 0, len(lines)
    while start < end and (lines[start].blank or _BANNERS.match(lines[start].text.strip())):
        start += 1
    while end > start and (lines[end - 1].blank or _BANNERS.match(lines[end - 1].text.strip())):
        end -= 1
    return lines[start:end]


def is_banner(text: str) -> bool:
    """True for a login banner, motd or session trailer line this module recognises."""
    return bool(_BANNERS.match(text.strip()))


def programs_of(commands: Sequence[str]) -> tuple[str, ...]:
    """The program names of command lines, for `read_capture(programs=...)`."""
    return tuple(sorted({_first_program(c) for c in commands if _first_program(c)}))
