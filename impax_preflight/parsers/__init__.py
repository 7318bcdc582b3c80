"""Pure parsers: command output (text) -> typed records (dataclasses), one module per command family.

Every parser takes already-decoded text (the shells decode UTF-16 / code pages with
`transports.base.decode_output`), tolerates CRLF line ends, blank lines and trailing noise, and
raises exactly one exception type, `ParseError`, when the text is not what the command prints.
The runner turns a `ParseError` escaping a check into an `error` finding that quotes the excerpt.

Modules: svcs, fmadm, zpool, metastat, iostat, df, release (uname, /etc/release), prtdiag
(prtdiag, psrinfo, prtconf), systeminfo, wmic, cim (PowerShell Get-CimInstance), sc, reg,
dirlist (cmd `dir`), netstat, relay (Study.Status.Relay.exe.config), pkginfo, listing (ls -l, du -sk).
"""

from __future__ import annotations

__all__ = ["ParseError", "lines_of", "excerpt_of", "parse_number"]

import re


class ParseError(ValueError):
    """Output that a parser does not understand.

    `command` names the command whose output it was (e.g. ``"zpool status -x"``); `excerpt` holds
    the first few hundred characters of the offending text (or the offending line) so the finding
    can show the engineer what came back.
    """

    def __init__(self, message: str, *, command: str | None = None, excerpt: str | None = None):
        super().__init__(message)
        self.command = command
        self.excerpt = excerpt_of(excerpt) if excerpt is not None else None


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
