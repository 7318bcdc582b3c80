"""A scripted SqlSession for the database checks' unit tests: answers by SQL fragment.

It subclasses the real `SqlSession`, so every statement still goes through the read-only guard in
its dialect before a scripted answer is looked up.
"""

from __future__ import annotations

from typing import Any

from impax_preflight.db.base import SqlSession


class FakeSql(SqlSession):
    """`answers`: {fragment (case-insensitive, first match wins): (columns, rows) | exception}."""

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
                columns, rows = answer
                return columns, list(rows)
        raise AssertionError(f"FakeSql has no answer for: {sql}")
