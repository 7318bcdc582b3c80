"""The one error a malformed declarative check file raises."""

from __future__ import annotations


class DeclarativeError(Exception):
    """One or more malformed declarative check files.

    ``problems`` holds one line per problem, each starting with ``file:line:`` and naming the
    field; ``str()`` joins them, ready to show to the engineer. ``path`` is the (first) file at fault.
    """

    def __init__(self, problems: list[str], path: str | None = None):
        self.problems = list(problems)
        self.path = path
        super().__init__("\n".join(self.problems))
