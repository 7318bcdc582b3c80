"""Secret references (env:, keyring:, file:, prompt:, plain:) and the masker that scrubs them.

A secret is resolved only when a connection opens. Its value is registered with the process-wide
masker at that moment, and every string that leaves the process (findings, evidence, logs,
exception text, reports) passes through `mask()`.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from pathlib import Path

SCHEMES = ("env", "keyring", "file", "prompt", "plain")
MASK = "********"


class SecretError(Exception):
    """A secret reference that cannot be resolved (variable unset, file missing...)."""


class Masker:
    """Replaces every registered secret value in a string. Thread-safe."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None

    def register(self, value: str | None) -> None:
        # Very short values would mask innocent text everywhere; they are also not real passwords.
        if not value or len(value) < 3:
            return
        with self._lock:
            if value in self._values:
                return
            self._values.add(value)
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    @property
    def active(self) -> bool:
        """True once any secret is registered (until then masking is a no-op)."""
        return self._pattern is not None

    def mask(self, text):
        if not isinstance(text, str) or self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)

    def mask_obj(self, obj):
        """Mask every string inside nested dicts/lists/tuples."""
        if isinstance(obj, str):
            return self.mask(obj)
        if isinstance(obj, dict):
            return {k: self.mask_obj(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return type(obj)(self.mask_obj(v) for v in obj)
        return obj

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._pattern = None


masker = Masker()


def mask(text):
    return masker.mask(text)


class MaskingFilter(logging.Filter):
    """Logging filter that masks secrets in the final message (args included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # pragma: no cover - malformed log call
            return True
        record.msg = masker.mask(msg)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            import traceback

            record.exc_text = masker.mask("".join(traceback.format_exception(*record.exc_info)))
            record.exc_info = None
        return True


class SecretRef(str):
    """A reference to a secret, never the secret itself (except the flagged `plain:` form)."""

    @property
    def scheme(self) -> str:
        return self.split(":", 1)[0]

    @property
    def reference(self) -> str:
        return self.split(":", 1)[1] if ":" in self else ""

    @property
    def is_plain(self) -> bool:
        return self.scheme == "plain"

    def display(self) -> str:
        """Safe to show: the reference for env/keyring/file/prompt; masked for plain."""
        return f"plain:{MASK}" if self.is_plain else str(self)

    def resolve(self, prompt_label: str = "password") -> str:
        value = _resolve(self.scheme, self.reference, prompt_label)
        masker.register(value)
        return value

    @classmethod
    def parse(cls, value: str) -> "SecretRef":
        """Validate the form. Raises ValueError with a hint for a literal password."""
        if not isinstance(value, str) or ":" not in value or value.split(":", 1)[0] not in SCHEMES:
            raise ValueError(
                "a literal password is refused: write a reference such as 'env:VARIABLE', "
                "'file:/path/to/secret', 'keyring:service/user' or 'prompt:', "
                "or 'plain:...' to accept a flagged literal"
            )
        scheme, ref = value.split(":", 1)
        if scheme in ("env", "file", "keyring") and not ref:
            raise ValueError(f"'{scheme}:' needs a name after the colon")
        if len(value) > 4096 or "\x00" in value:
            raise ValueError("a secret reference is at most 4096 characters, without NUL characters")
        return cls(value)

    def __repr__(self) -> str:
        return f"SecretRef({self.display()!r})"

    @classmethod
    def __get_pydantic_core_schema__(cls, source, handler):
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(
            cls.parse, core_schema.str_schema(), serialization=core_schema.to_string_ser_schema()
        )


_prompted: dict[str, str] = {}
_prompt_lock = threading.Lock()


#: a secret file holds one password or passphrase: more than this is not one (and /dev/zero never ends)
MAX_SECRET_FILE_BYTES = 64 * 1024


def _read_secret_file(ref: str) -> str:
    import stat

    try:
        path = Path(ref).expanduser()
        if not stat.S_ISREG(path.stat().st_mode):
            raise SecretError(f"secret file {path} is not a regular file")
        with open(path, "rb") as f:
            raw = f.read(MAX_SECRET_FILE_BYTES + 1)
    except OSError as exc:
        raise SecretError(f"cannot read secret file {ref}: {exc.strerror or exc}") from None
    except (RuntimeError, ValueError) as exc:  # ~user that does not exist, a NUL in the path
        raise SecretError(f"cannot read secret file {ref}: {exc}") from None
    if len(raw) > MAX_SECRET_FILE_BYTES:
        raise SecretError(f"secret file {path} is larger than {MAX_SECRET_FILE_BYTES // 1024} KB: it is not a password file")
    try:
        return raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise SecretError(f"secret file {path} is not UTF-8 text") from None


def _resolve(scheme: str, ref: str, prompt_label: str) -> str:
    if scheme == "env":
        if ref not in os.environ:
            raise SecretError(f"environment variable {ref} is not set")
        return os.environ[ref]
    if scheme == "file":
        return _read_secret_file(ref)
    if scheme == "keyring":
        try:
            import keyring  # optional dependency
        except ImportError:
            raise SecretError("keyring: references need the 'keyring' package (pip install keyring)") from None
        service, _, user = ref.partition("/")
        value = keyring.get_password(service, user)
        if value is None:
            raise SecretError(f"no keyring entry for service {service!r} user {user!r}")
        return value
    if scheme == "prompt":
        # asked once per label, before the run (the CLI calls resolve() ahead for every prompt: ref)
        with _prompt_lock:
            if ref in _prompted:
                return _prompted[ref]
            import sys

            if not sys.stdin or not sys.stdin.isatty():
                raise SecretError(f"prompt:{ref} needs a terminal to ask for the {prompt_label}; use env: or file: in scripts")
            import click

            value = click.prompt(f"{prompt_label}{' (' + ref + ')' if ref else ''}", hide_input=True)
            _prompted[ref] = value
            return value
    if scheme == "plain":
        return ref
    raise SecretError(f"unknown secret scheme {scheme!r}")
