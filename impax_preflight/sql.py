"""The SQL kit for checks (built-in and plugins): names that are safe to put into SQL, qualified
and quoted per dialect, row limits in each dialect's words, and the read-only guard.

Nothing a user typed reaches SQL text unchecked: `identifier` accepts only plain identifiers
(letters, digits, ``_ $ #``), `quote_identifier` quotes a name exactly as the dictionary spells
it. Every statement still passes `ensure_read_only` when it runs (``ctx.query`` does that).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from . import dialects
from .db.readonly import ReadOnlyViolation, ensure_read_only

if TYPE_CHECKING:  # pragma: no cover
    from .inventory import Database

__all__ = [
    "IdentifierError",
    "ReadOnlyViolation",
    "default_schema",
    "ensure_read_only",
    "identifier",
    "limited",
    "qualified",
    "quote_identifier",
    "schema_of",
    "sql_literal",
]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$#]{0,127}$")


class IdentifierError(ValueError):
    """A name from the inventory or a check that cannot be put into SQL (not a plain identifier)."""


def identifier(name: Any, what: str = "identifier") -> str:
    """`name` if it is a plain SQL identifier (letters, digits, _ $ #), else IdentifierError saying where to fix it."""
    text = str(name or "").strip()
    if not _IDENT.match(text):
        raise IdentifierError(
            f"{what} {name!r} is not a plain SQL identifier (letters, digits, _, $ or #, starting with a letter); "
            "fix it in the inventory"
        )
    return text


def quote_identifier(name: str, dialect: str) -> str:
    """`name` as a quoted identifier: matched exactly as spelled (letter case included).

    For names read from the data dictionary (e.g. a table created with a quoted upper-case name);
    a name containing the quote character or a control character is refused rather than escaped.
    """
    text = str(name)
    if not text or len(text) > 128 or any(ord(c) < 32 for c in text):
        raise IdentifierError(f"cannot quote the name {name!r}")
    if dialects.normalize(dialect) == "tsql":
        if "]" in text:
            raise IdentifierError(f"cannot quote the name {name!r} for SQL Server")
        return f"[{text}]"
    if '"' in text:
        raise IdentifierError(f"cannot quote the name {name!r}")
    return f'"{text}"'


def sql_literal(text: str) -> str:
    """A quoted SQL string literal (only ever used for values already validated as identifiers)."""
    return "'" + str(text).replace("'", "''") + "'"


def default_schema(dialect: str) -> str | None:
    return dialects.DEFAULT_SCHEMA.get(dialects.normalize(dialect) or "")


def schema_of(database: "Database | None", dialect: str) -> str | None:
    """The table owner from the inventory (`schema`), validated; else the dialect's default
    (dbo on SQL Server); None means the session's default schema."""
    raw = database.schema if database is not None else None
    if raw:
        return identifier(raw, "database schema")
    return default_schema(dialect)


def qualified(table: str, schema: str | None, dialect: str) -> str:
    """`schema.table` (unquoted: both are validated identifiers, and unquoted names match in any case)."""
    table = identifier(table, "table name")
    if schema and dialects.normalize(dialect) != "sqlite":
        return f"{identifier(schema, 'schema')}.{table}"
    return table


def limited(select_body: str, dialect: str, n: int) -> str:
    """`select_body` (starting with 'select ') returning at most n rows, in the dialect's words.

    Oracle uses ROWNUM (FETCH FIRST needs 12c; IMPAX 6.x sites run older releases).
    """
    n = int(n)
    d = dialects.normalize(dialect)
    if d == "tsql":
        if select_body[:7].lower() != "select ":
            raise ValueError("limited() needs a statement starting with 'select '")
        return f"select top {n} " + select_body[7:]
    if d == "oracle":
        return f"select * from ({select_body}) where rownum <= {n}"
    return f"{select_body} limit {n}"
