"""SQL dialects: the names the tool uses, which database speaks which, and sqlglot's names for them.

One place for the vocabulary that the read-only guard, the SQL kit, the sessions, the declarative
checks and the applicability of database checks share. Plain Python: nothing heavy is imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:  # pragma: no cover
    from .inventory import Database

Dialect = Literal["oracle", "tsql", "postgres", "sqlite"]
#: the dialects the built-in statements are written for
DIALECTS: tuple[str, ...] = get_args(Dialect)

#: what a database kind speaks; kind odbc speaks its declared `dialect` (or what the server says)
KIND_DIALECT: dict[str, str] = {"oracle": "oracle", "mssql": "tsql", "sqlite": "sqlite"}

#: other spellings an inventory may use for a dialect
ALIASES: dict[str, str] = {"mssql": "tsql", "sqlserver": "tsql", "sql_server": "tsql", "postgresql": "postgres", "pg": "postgres"}

#: our dialect names -> sqlglot's (an unknown dialect is parsed with sqlglot's generic one)
SQLGLOT: dict[str, str] = {"oracle": "oracle", "tsql": "tsql", "postgres": "postgres", "sqlite": "sqlite"}

#: the table owner a statement names when the inventory gives none (None: the session's default)
DEFAULT_SCHEMA: dict[str, str | None] = {"oracle": None, "tsql": "dbo", "postgres": None, "sqlite": None}

#: the words shown to an engineer
LABELS: dict[str, str] = {"oracle": "Oracle", "tsql": "SQL Server", "postgres": "PostgreSQL", "sqlite": "SQLite"}


def normalize(name: str | None) -> str | None:
    """Our name for a dialect written any accepted way ('SQLServer' -> 'tsql'); None stays None."""
    if name is None:
        return None
    low = name.strip().lower()
    return ALIASES.get(low, low)


def sqlglot_name(dialect: str | None) -> str | None:
    return SQLGLOT.get(normalize(dialect) or "")


def of_database(db: "Database") -> str | None:
    """The dialect an inventory database speaks, or None when only the server can tell (odbc
    without a declared dialect)."""
    if db.kind in KIND_DIALECT:
        return KIND_DIALECT[db.kind]
    return normalize(db.dialect)


def from_dbms_name(dbms_name: str | None) -> str:
    """The dialect of a server from its ODBC SQL_DBMS_NAME; 'generic' when unknown."""
    name = (dbms_name or "").lower()
    for needle, dialect in (("postgres", "postgres"), ("sql server", "tsql"), ("oracle", "oracle"), ("sqlite", "sqlite")):
        if needle in name:
            return dialect
    return "generic"


def label(dialect: str | None) -> str:
    return LABELS.get(normalize(dialect) or "", dialect or "unknown")
