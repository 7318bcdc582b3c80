"""The one error a malformed declarative check file raises."""

from __future__ import annotations


class DeclarativeError(Exception):
    """One or more malformed declarative check files.

    ``problems`` holds one line per problem, each starting with ``file:line:`` and naming the
    field; ``str()`` joins them, ready to show to the engineer.
    """

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))
