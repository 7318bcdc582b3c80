"""Regular expressions written by users, run in linear time.

A pattern from a file (declarative checks, `software_patterns`, per-check options) is compiled by
RE2 (google-re2): its matching time grows with the text, never exponentially, so a pattern such as
``(a+)+$`` cannot freeze a run. RE2 has no look-around and no back-references; `compile_pattern`
says so in words instead of RE2's terse message. Regexes written in this code base may stay on
`re`: only what a user hands the tool goes through here.
"""

from __future__ import annotations

import functools
import re
from typing import Any

#: longer than any real pattern; RE2 also refuses a pattern whose program outgrows its memory budget
MAX_PATTERN_CHARS = 4096

#: what RE2 says -> what it means to the person who wrote the pattern
_UNSUPPORTED = (
    ("(?=", "look-ahead (?=...) is not supported"),
    ("(?!", "negative look-ahead (?!...) is not supported"),
    ("(?<=", "look-behind (?<=...) is not supported"),
    ("(?<!", "negative look-behind (?<!...) is not supported"),
    ("(?P=", "back-references (?P=name) are not supported"),
    ("(?>", "atomic groups (?>...) are not supported"),
    ("(?x", "the verbose flag (?x) is not supported"),
    ("\\Z", "\\Z is not supported: use \\z (end of text)"),
)


class PatternError(ValueError):
    """A regular expression that cannot be used; the message says why, in words."""


@functools.lru_cache(maxsize=1)
def _options() -> Any:
    import re2

    opts = re2.Options()
    opts.log_errors = False  # RE2 would otherwise print its own message on stderr
    return opts


def _explain(pattern: str, raw: str) -> str:
    """RE2 refused `pattern` with `raw`: name the construct it does not support, if that is why."""
    for token, meaning in _UNSUPPORTED:
        if token in pattern:
            return meaning
    if re.search(r"(?<!\\)\\[1-9]", pattern):
        return "back-references (\\1, \\2...) are not supported"
    if re.search(r"[*+?}]\+", pattern) and "bad repetition operator" in raw:
        return "possessive quantifiers (++, *+, ?+) are not supported"
    return raw


def compile_pattern(pattern: Any, multiline: bool = False) -> Any:
    """`pattern` compiled by RE2 (``search``, ``match``, groups as in `re`), or `PatternError`.

    `multiline`: ``^`` and ``$`` match at every line, like ``re.M``.
    """
    if not isinstance(pattern, str):
        raise PatternError(f"a regular expression is text, not {type(pattern).__name__}")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise PatternError(f"the regular expression is {len(pattern):,} characters long; at most {MAX_PATTERN_CHARS:,}")
    if "\x00" in pattern:
        raise PatternError("the regular expression contains a NUL character")
    try:
        pattern.encode("utf-8")
    except UnicodeEncodeError:
        raise PatternError("the regular expression is not valid Unicode text") from None
    return _compile(pattern, multiline)


@functools.lru_cache(maxsize=512)
def _compile(pattern: str, multiline: bool) -> Any:
    import re2

    try:
        return re2.compile(("(?m)" if multiline else "") + pattern, _options())
    except re2.error as exc:
        raw = exc.args[0] if exc.args else str(exc)
        raw = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        meaning = _explain(pattern, raw)
        if meaning == raw:
            raise PatternError(f"not a valid regular expression: {raw}") from None
        raise PatternError(
            f"{meaning}: patterns run on RE2, which matches in linear time and has no look-around or "
            "back-references (https://github.com/google/re2/wiki/Syntax)"
        ) from None


def pattern_problem(pattern: Any) -> str | None:
    """None when `pattern` compiles, else why not (for validators)."""
    try:
        compile_pattern(pattern)
    except PatternError as exc:
        return str(exc)
    return None
