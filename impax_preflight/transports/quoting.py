"""Putting untrusted text (host names, paths, commands from plugins) into collector scripts safely.

Three contexts, each with one function:

- `sh_word`: one word for a POSIX sh that is also the Solaris 10 Bourne shell (no `$'...'`, no
  `$(...)`). Printable text goes in single quotes (a quote is written `'"'"'`); every character
  that is not printable — CR, LF, TAB, escape sequences, Unicode line separators and bidi overrides
  — is produced by `printf` with octal escapes, so the script shows no raw control character (a
  carriage return cannot hide part of a line from the person reviewing it) and the word still
  round-trips exactly. `printf` output inside backquotes loses trailing newlines, so a newline is
  `"$NL"`, a variable the script defines first.
- `ps_literal`: one PowerShell 2.0 expression: single-quoted runs of printable text (quotes,
  including the typographic ones PowerShell also accepts, doubled) and `[char]0xNNNN` for the rest,
  joined with `+` in parentheses. Nothing in it is expanded and no line break appears in it.
- `comment_text`: text for a comment line or a progress message: printable ASCII only, everything
  else escaped as in JSON; it can never end the comment.

NUL cannot be carried by either shell: `UnsafeScriptText` is raised, naming the text.
"""

from __future__ import annotations

import json

#: single quotes for PowerShell: ' and the typographic U+2018..U+201B
PS_QUOTES = ("'", "\u2018", "\u2019", "\u201a", "\u201b")


class UnsafeScriptText(ValueError):
    """Text that no collector script can carry (a NUL, or a line break in a cmd.exe command)."""


def _printable(ch: str) -> bool:
    return ch == " " or (ch.isprintable() and ch not in "\u2028\u2029\u0085")


def _check(text: str, what: str) -> None:
    if "\x00" in text:
        raise UnsafeScriptText(f"{what} {comment_text(text)} contains a NUL character, which no shell can carry")


def _pieces(text: str):
    """`text` as runs of printable characters (str) and single non-printable code points (int)."""
    run: list[str] = []
    for ch in text:
        if _printable(ch):
            run.append(ch)
            continue
        if run:
            yield "".join(run)
            run.clear()
        yield ord(ch)
    if run:
        yield "".join(run)


def sh_word(text: str, what: str = "text") -> str:
    """`text` as exactly one sh word (see the module docstring)."""
    _check(text, what)
    parts = []
    for piece in _pieces(text):
        if isinstance(piece, str):
            parts.append("'" + piece.replace("'", "'\"'\"'") + "'")
        elif piece == 0x0A:
            parts.append('"$NL"')
        else:
            octal = "".join(f"\\{b:03o}" for b in chr(piece).encode("utf-8"))
            parts.append(f"\"`printf '{octal}'`\"")
    return "".join(parts) or "''"


#: what a script using `sh_word` must define before its first use
SH_PRELUDE = "NL='\n'"


def ps_literal(text: str, what: str = "text") -> str:
    """`text` as one PowerShell 2.0 expression (see the module docstring)."""
    _check(text, what)
    parts = []
    for piece in _pieces(text):
        if isinstance(piece, str):
            for q in PS_QUOTES:
                piece = piece.replace(q, q + q)
            parts.append("'" + piece + "'")
        else:
            parts.append(f"[char]0x{piece:04X}" if piece <= 0xFFFF else f"[char]::ConvertFromUtf32(0x{piece:X})")
    if not parts:
        return "''"
    return parts[0] if len(parts) == 1 else "(" + " + ".join(parts) + ")"


def comment_text(text: str) -> str:
    """`text` for a comment or a message: printable ASCII, quoted and escaped as JSON."""
    return json.dumps(text, ensure_ascii=True)


def display_text(text: str) -> str:
    """`text` for a person to read (README, progress): printable characters as they are, the rest escaped."""
    return "".join(ch if _printable(ch) else json.dumps(ch, ensure_ascii=True)[1:-1] for ch in text)
