"""Pure parsers: command output (text) -> typed records (dataclasses), one module per command family.

Every parser is a pure function ``parse_x(text, ..., notes=None) -> records`` and raises exactly one
exception type, `ParseError`, only when nothing recognisable was found in the text or the output
contradicts itself (never on a single odd line). The runner turns a `ParseError` escaping a check
into an `error` finding that quotes the excerpt.

Capture noise. Every parser first reads its text through `capture.read_capture`, one shared
cleaner: bytes or text (UTF-8 / UTF-16, a byte order mark, NUL padding), CRLF / CR / wmic's CR CR LF
line ends, tabs, trailing blanks, ANSI colour codes; shell prompts and echoed commands before or
after the output (``bash-3.00# iostat -En``, ``$ zpool status -v``, ``root@host:~# svcs -xv``,
``C:\\Users\\x>wmic ...``, ``PS C:\\> ...``: recognisable prompt shapes anywhere, the bare ``# cmd``
/ ``$ cmd`` shapes and bare echoed command lines only when they echo the parser's own command);
login banners and motd lines at the edges; a common indentation. Numbers printed with locale
decimal commas or thousands separators are read by `parse_number` and the parsers' own size rules.

Notes. Every parser takes an optional keyword ``notes: list[str] | None``. A line it does not
understand is skipped and described there (``line 12 not understood: '...'``), as is text outside
the command's output; the caller shows the notes with the finding. Column parsers (wmic tables,
PowerShell tables, df) never guess: a cut that does not fall on whitespace or a number out of range
(free space above the size, a percentage over 100) is a `ParseError` naming the line.

Modules: svcs, fmadm, zpool, metastat, iostat, df, release (uname, /etc/release), prtdiag
(prtdiag, psrinfo, prtconf), systeminfo, wmic, cim (PowerShell Get-CimInstance), sc, reg,
dirlist (cmd `dir`), netstat, relay (Study.Status.Relay.exe.config), pkginfo, listing (ls -l, du -sk),
mounts (/etc/mnttab, /proc/mounts);
capture (the shared noise cleaner and notes).
"""

from __future__ import annotations

__all__ = ["ParseError", "lines_of", "excerpt_of", "parse_number"]

import re


class ParseError(ValueError):
    """Output that a parser does not understand.

    `command` names the command whose output it was (e.g. ``"zpool status -x"``); `excerpt` holds
    the first few hundred characters of the offending text (or the offending line) so the finding
    can show the engineer what came back; `line` is the offending line's number when there is one.
    """

    def __init__(self, message: str, *, command: str | None = None, excerpt: str | None = None, line: int | None = None):
        super().__init__(message)
        self.command = command
        self.excerpt = excerpt_of(excerpt) if excerpt is not None else None
        self.line = line  # 1-based line of the text as given, when one line is at fault


def excerpt_of(text: str, limit: int = 400) -> str:
    text = text or ""
    return text if len(text) <= limit else text[:limit] + " [...]"


def lines_of(text: str) -> list[str]:
    """Split text into lines, normalising CRLF / CR line ends and dropping a BOM and NUL padding."""
    if text is None:
        return []
    text = text.replace("\ufeff", "").replace("\x00", "")
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


_NUM_CLEAN = re.compile(r"[\s\u00a0\u202f']")


def parse_number(text: str) -> float | None:
    """A number as printed by a localised tool: "3,555", "3.555", "1 234,5", "12.5", "8191".

    Thousands separators (comma, dot, space, no-break space, apostrophe) are removed; a single
    comma or dot followed by one or two digits at the end is taken as the decimal mark. Returns
    None when no number is there.
    """
    if text is None:
        return None
    s = _NUM_CLEAN.sub("", str(text))
    m = re.search(r"-?\d[\d.,]*", s)
    if not m:
        return None
    s = m.group(0).rstrip(".,")
    if re.search(r"[.,]\d{1,2}$", s) and not re.fullmatch(r"\d{1,3}([.,]\d{3})+", s):
        whole, frac = s[:-len(re.search(r"[.,]\d{1,2}$", s).group(0))], re.search(r"\d{1,2}$", s).group(0)
        whole = re.sub(r"[.,]", "", whole)
        return float(f"{whole or 0}.{frac}")
    return float(re.sub(r"[.,]", "", s))
