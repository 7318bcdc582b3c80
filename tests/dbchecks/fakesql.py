"""A scripted SqlSession for the database checks' unit tests: answers by SQL fragment.

It subclasses the real `SqlSession`, so every statement still goes through the read-only guard in
its dialect before a scripted answer is looked up.
"""

from __future__ import annotations

import time
from typing import Any

from impax_preflight.db.base import SqlSession


class FakeSql(SqlSession):
    """`answers`: {fragment (case-insensitive, first match wins): (columns, rows) | (columns, rows, seconds
    it takes) | exception}."""

    kind = "fake"

    def __init__(self, dialect: str, answers: dict[str, Any]):
        self.dialect = dialect
        self.answers = answers
        self.statements: list[str] = []

    def _execute(self, sql, params, timeout, max_rows):
        self.statements.append(sql)
        low = " ".join(sql.lower().split())
        for fragment, answer in self.answers.items():
            if fragment.lower() in low:
                if isinstance(answer, BaseException) or (isinstance(answer, type) and issubclass(answer, BaseException)):
                    raise answer
                if len(answer) == 3:
                    time.sleep(answer[2])
                columns, rows = answer[:2]
                return columns, list(rows)
        raise AssertionError(f"FakeSql has no answer for: {sql}")


#: a fragment only the integrity checks' data-dictionary statements contain, per dialect (Oracle: also
#: the session's SID and v$session_longops, read for the progress of a scan)
DICTIONARY_FRAGMENTS = {
    "oracle": ("from dba_tables", "from all_tables", "from all_tab_columns", "from all_constraints",
               "sys_context('userenv', 'sid')", "v$session_longops"),
    "tsql": ("sys.dm_db_partition_stats", "from sys.partitions p join sys.objects", "from sys.columns c join sys.tables",
             "from sys.indexes"),
    "postgres": ("from pg_class", "from pg_attribute", "from pg_index"),
    "sqlite": ("from sqlite_master", "from pragma_"),
}


def no_dictionary(dialect: str) -> dict[str, Any]:
    """Answers refusing every data-dictionary statement (a login without the rights to read it):
    the integrity checks then scan as if the dictionary had said nothing. Put them first."""
    from impax_preflight.db.base import ObjectMissing

    refused = {f: ObjectMissing("table or view does not exist (no privilege)") for f in DICTIONARY_FRAGMENTS[dialect]}
    if dialect == "oracle":
        refused["sys_context('userenv', 'sid')"] = (["SID"], [(123,)])
    return refused


def is_dictionary(sql: str) -> bool:
    low = " ".join(sql.lower().split())
    return any(f in low for frags in DICTIONARY_FRAGMENTS.values() for f in frags)


def scans(statements: list[str]) -> list[str]:
    """The statements that are not data-dictionary questions."""
    return [s for s in statements if not is_dictionary(s)]
