"""Bounded field types for the files a user hands the tool: inventories, waivers, check files.

Every value is checked when the file loads, and the error says the limit, so the engineer knows
what to write: a name is at most 255 characters and free text 64 KB, without control characters;
a path fits the file system (255 bytes a component, 4096 in all); a timeout is more than 0 s and at
most a day; a port is 1-65535, a percentage 0-100, a size 0 or more; every number is finite, and
true/false is not a number. Versions must read as versions and regexes must compile on RE2.
"""

from __future__ import annotations

import math
import unicodedata
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

from .patterns import PatternError, compile_pattern
from .versions import parse_version

MAX_NAME_CHARS = 255
MAX_TEXT_CHARS = 64 * 1024
MAX_LINE_CHARS = 4096  # a command line, a DSN, a connection option
MAX_PATH_CHARS = 4096
MAX_PATH_COMPONENT_BYTES = 255
MAX_VERSION_CHARS = 64
DAY_S = 86_400.0


# ---- numbers --------------------------------------------------------------------------------


def _show(v: Any) -> str:
    if isinstance(v, int) and abs(v) > 10**18:
        return f"a {int(v.bit_length() * 0.30103) + 1}-digit number"
    return repr(v)


def _bound(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def _to_number(v: Any, integer: bool, limits: str) -> int | float:
    kind = "a whole number" if integer else "a number"
    if isinstance(v, bool):
        raise ValueError(f"{str(v).lower()} is not {kind} ({limits})")
    if isinstance(v, str):
        text = v.strip()
        try:  # a number written in quotes is still a number
            v = int(text) if integer or text.lstrip("+-").isdigit() else float(text)
        except ValueError:
            raise ValueError(f"{v[:40]!r} is not {kind} ({limits})") from None
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"{v} is not a finite number ({limits})")
        if integer:
            if not v.is_integer():
                raise ValueError(f"{v!r} is not a whole number ({limits})")
            v = int(v)
    elif not isinstance(v, int):
        raise ValueError(f"write {kind} ({limits}), not {type(v).__name__}")
    return v


def number(
    *, gt: float | None = None, ge: float | None = None, le: float | None = None, integer: bool = False, limits: str
) -> Any:
    """A finite int or float in range; `limits` says the range in words, for the error message."""

    def check(v: Any) -> int | float:
        n = _to_number(v, integer, limits)
        # worded as pydantic words its own range errors, with the range in words after it
        if gt is not None and not n > gt:
            raise ValueError(f"Input should be greater than {_bound(gt)}: {_show(n)} is out of range ({limits})")
        if ge is not None and not n >= ge:
            raise ValueError(f"Input should be greater than or equal to {_bound(ge)}: {_show(n)} is out of range ({limits})")
        if le is not None and not n <= le:
            raise ValueError(f"Input should be less than or equal to {_bound(le)}: {_show(n)} is out of range ({limits})")
        return n if integer else float(n)

    constraints = {k: v for k, v in (("gt", gt), ("ge", ge), ("le", le)) if v is not None}
    return Annotated[int if integer else float, BeforeValidator(check), Field(**constraints)]


#: a timeout: more than 0 s and at most a day (infinite, NaN, zero and negative are refused)
Seconds = number(gt=0, le=DAY_S, limits="a timeout is more than 0 and at most 86400 seconds, a day")
#: a TCP port
Port = number(ge=1, le=65535, integer=True, limits="a port is 1 to 65535")
Percent = number(ge=0, le=100, limits="a percentage is 0 to 100")
#: a size in GB: 0 to a petabyte
Gigabytes = number(ge=0, le=1_000_000, limits="a size in GB is 0 to 1,000,000")
Hours = number(gt=0, le=87_600, limits="more than 0 and at most 87600 hours, ten years")
Days = number(gt=0, le=3650, limits="more than 0 and at most 3650 days, ten years")


def count(lo: int, hi: int, what: str = "a whole number") -> Any:
    return number(ge=lo, le=hi, integer=True, limits=f"{what} is {lo} to {hi:,}")


# ---- text -----------------------------------------------------------------------------------


def _controls(text: str, allowed: str) -> str | None:
    for ch in text:
        if ch not in allowed and (ch < " " or ch == "\x7f" or unicodedata.category(ch) == "Cc"):
            return f"U+{ord(ch):04X}"
    return None


def text(max_chars: int, what: str, *, multiline: bool = False) -> Any:
    """Text of at most `max_chars` characters without control characters (multi-line text may
    hold line breaks and tabs)."""
    return Annotated[str, AfterValidator(_text_checker(max_chars, what, multiline))]


def _text_checker(max_chars: int, what: str, multiline: bool = False) -> Any:
    allowed = "\t\n\r" if multiline else ""

    def check(v: str) -> str:
        if len(v) > max_chars:
            raise ValueError(f"{len(v):,} characters is too long: {what} is at most {max_chars:,} characters")
        if not v.isascii():
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError(f"{what} is not valid Unicode text") from None
        bad = _controls(v, allowed) if not (v.isascii() and v.isprintable()) else None
        if bad:
            raise ValueError(f"{what} contains the control character {bad}: remove it")
        return v

    return check


#: host, database, user, check and feature names, titles
Name = text(MAX_NAME_CHARS, "a name")
#: one line: a DSN, a command, an ODBC option
Line = text(MAX_LINE_CHARS, "this value")
#: free text: reasons, descriptions, remediation, SQL
FreeText = text(MAX_TEXT_CHARS, "free text", multiline=True)


def _path(v: str) -> str:
    if not v:
        raise ValueError("the path is empty")
    if len(v) > MAX_PATH_CHARS:
        raise ValueError(f"the path is {len(v):,} characters long; at most {MAX_PATH_CHARS:,}")
    bad = _controls(v, "")
    if bad:
        raise ValueError(f"the path contains the control character {bad}")
    for part in v.replace("\\", "/").split("/"):
        if len(part.encode("utf-8", "surrogatepass")) > MAX_PATH_COMPONENT_BYTES:
            raise ValueError(
                f"the path has a component of {len(part.encode('utf-8', 'surrogatepass'))} bytes; a file or folder name "
                f"is at most {MAX_PATH_COMPONENT_BYTES} bytes"
            )
    if v.startswith("~") and not v.startswith(("~/", "~\\")) and v != "~":
        try:
            Path(v).expanduser()
        except RuntimeError:
            user = v[1:].replace("\\", "/").split("/", 1)[0]
            raise ValueError(f"the path starts with ~{user}, but there is no user {user!r} on this machine") from None
    return v


#: a file or folder on this machine
PathText = Annotated[str, AfterValidator(_path)]


def is_file(path: str | Path) -> bool:
    """Path.is_file() that answers False instead of raising for names the OS refuses."""
    try:
        return Path(path).expanduser().is_file()
    except (OSError, ValueError, RuntimeError):
        return False


# ---- versions and patterns -------------------------------------------------------------------


def _version(v: Any) -> Any:
    if isinstance(v, bool):
        raise ValueError(f"{str(v).lower()} is not a version: write it as text, e.g. \"6.3.1\"")
    if isinstance(v, (int, float)):
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"{v} is not a version: write it as text, e.g. \"6.3.1\"")
        v = str(v)
    if not isinstance(v, str):
        raise ValueError(f"write the version as text, e.g. \"6.3.1\", not {type(v).__name__}")
    v = v.strip()
    if len(v) > MAX_VERSION_CHARS:
        raise ValueError(f"a version is at most {MAX_VERSION_CHARS} characters")
    if parse_version(v) is None:
        raise ValueError(f"{v!r} is not a version: write numbers separated by dots, e.g. \"6.3.1\"")
    return v


#: a version such as "6.3.1" (numbers are accepted and turned into text: 4.0 -> "4.0")
VersionText = Annotated[str, BeforeValidator(_version)]


def _version_label(v: Any) -> Any:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
        return str(v)
    return v


#: a version as declared, possibly not readable as one ("unknown"): the check that needs it says
#: so in its finding (an error, so the run cannot say GO), and `validate` lists it
VersionLabel = Annotated[str, BeforeValidator(_version_label), AfterValidator(_text_checker(MAX_VERSION_CHARS, "a version"))]


def _regex(v: str) -> str:
    try:
        compile_pattern(v)
    except PatternError as exc:
        raise ValueError(str(exc)) from None
    return v


#: a regular expression a user wrote: compiled on RE2 when the file loads
Regex = Annotated[str, AfterValidator(_regex)]
