"""The read-only guard: every statement is parsed and anything but one plain query is refused.

Refused before anything reaches a server: more than one statement (also one hidden after a
comment), anything that is not a query (DML, DDL, TRUNCATE, EXEC/CALL, PL/SQL blocks, SET, GRANT,
COMMIT...), SELECT ... INTO, row locks (FOR UPDATE/SHARE, T-SQL UPDLOCK/XLOCK/HOLDLOCK hints),
other servers (Oracle database links, SQL Server four-part linked-server names), and
every function that is not on the dialect's allowlist (`impax_preflight/sqlfunctions.py`): user-defined functions,
package calls, dynamic SQL (``query_to_xml``, ``dblink``, ``DBMS_SQL``...), sequences, locks,
killing sessions. A site may allow more functions by name in its inventory; those that run SQL
text or change state can never be allowed.

This is the first layer, not the only one: each statement also runs in a read-only transaction
that is rolled back where the engine has one (docs/security.md), and the login should only have
read rights.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Iterable

import sqlglot
from sqlglot import exp

from .. import dialects
from ..sqlfunctions import BUILTIN_SCHEMAS, allowed_in, never_reason

#: our dialect names -> sqlglot's


class ReadOnlyViolation(Exception):
    """A statement that is not a single read-only query. Never sent to a server."""


_WRITE_NODES = tuple(
    getattr(exp, n)
    for n in ("Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "TruncateTable", "Command", "Into", "Lock",
              "Copy", "Set", "Transaction", "Commit", "Rollback", "Grant", "Use", "Pragma", "Analyze")
    if hasattr(exp, n)
)

#: T-SQL table hints that take update/exclusive locks or hold shared ones
_LOCK_HINTS = {"updlock", "xlock", "holdlock", "tablock", "tablockx", "paglock", "rowlock", "serializable",
               "repeatableread"}

_QUOTES = ('"', "[", "`")
#: words some dialects tokenize as names that open a parenthesis as syntax, not as a call
#: (WITHIN GROUP (...), KEEP (...), OVER (...), FILTER (...), SAMPLE (...), PARTITION (p)...)
_SYNTAX_BEFORE_PAREN = frozenset({"group", "within", "keep", "over", "filter", "sample", "partition", "subpartition", "pivot",
                                  "unpivot", "values", "in", "exists", "any", "all", "some", "using", "lateral", "rows",
                                  "range", "for", "on", "as", "and", "or", "not", "when", "then", "else", "is"})
#: names Oracle answers in a query on DUAL (its one column, pseudo-columns) that call no function
_ORACLE_PSEUDOCOLUMNS = frozenset({"dummy", "rownum", "rowid", "level", "user", "uid", "ora_rowscn", "sessiontimezone", "dbtimezone"})
_ENGINES = {"oracle": "Oracle", "tsql": "SQL Server", "mssql": "SQL Server", "postgres": "PostgreSQL", "sqlite": "SQLite",
            "generic": "standard SQL"}


class _DropFallbackWarnings(logging.Filter):
    """sqlglot warns when it falls back to a raw 'Command'; we refuse those anyway, quietly."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Falling back to parsing as a 'Command'" not in record.getMessage()


logging.getLogger("sqlglot").addFilter(_DropFallbackWarnings())


def ensure_read_only(sql: str, dialect: str = "sqlite", allow: Iterable[str] = (), *, defer_unlisted: bool = False) -> None:
    """Raise ReadOnlyViolation unless `sql` is exactly one read-only query (see `_ensure`). Whatever
    else goes wrong while judging it (a parser's own bug, a statement too deep to walk) refuses it
    too: what the guard could not judge is never sent."""
    try:
        _ensure(sql, dialect, allow, defer_unlisted)
    except ReadOnlyViolation:
        raise
    except Exception as exc:  # noqa: BLE001 - fail closed
        raise ReadOnlyViolation(f"refused: the guard could not analyse the statement ({type(exc).__name__}: "
                                f"{_first_line(exc)})") from None


def _ensure(sql: str, dialect: str, allow: Iterable[str], defer_unlisted: bool) -> None:
    """Raise ReadOnlyViolation unless `sql` is exactly one read-only query (SELECT, WITH ... SELECT, UNION...).

    `allow`: function names the site allows besides the dialect's built-ins (lower case, qualified
    as the query writes them). `defer_unlisted`: accept functions that are merely not on the list
    (a site may allow them; the session decides at run time) while still refusing everything else;
    for checking a file when it loads, before the inventory is known.
    """
    read = dialects.sqlglot_name(dialect)
    if not sql or not sql.strip():
        raise ReadOnlyViolation("refused: empty statement")
    if not _positions_recorded():
        raise ReadOnlyViolation("refused: the installed sqlglot does not record where functions are written, so the "
                                "guard cannot check them; install sqlglot 30 or later (pip install -U sqlglot)")
    try:
        statements = [s for s in sqlglot.parse(sql, read=read) if s is not None]
    except sqlglot.errors.SqlglotError as exc:
        raise ReadOnlyViolation(f"refused: the statement could not be parsed as {dialect} SQL ({_first_line(exc)})") from None
    if len(statements) != 1:
        raise ReadOnlyViolation(f"refused: {len(statements)} statements given; only a single query is allowed")
    stmt = statements[0]
    if not isinstance(stmt, exp.Query):
        raise ReadOnlyViolation(f"refused: {stmt.key.upper()} is not a read-only query")
    policy = _Policy(dialect, frozenset(a.lower() for a in allow), defer_unlisted)
    tables = _table_names(stmt) if dialect == "oracle" else set()
    # Oracle calls a function written without parentheses when no table of the query has a column of
    # that name: in a query on DUAL alone (or on no table), every bare name is such a call
    tableless = dialect == "oracle" and {t.name.lower() for t in stmt.find_all(exp.Table)} <= {"dual"}
    aliases = {a.alias.lower() for a in stmt.find_all(exp.Alias) if a.alias} if tableless else set()
    for node in stmt.walk():
        if isinstance(node, _WRITE_NODES):
            raise ReadOnlyViolation(f"refused: the query contains {node.key.upper()}, which writes or locks")
        if isinstance(node, exp.Select) and node.args.get("locks"):
            raise ReadOnlyViolation("refused: SELECT ... FOR UPDATE/SHARE takes row locks")
        if isinstance(node, exp.WithTableHint):
            for hint in node.expressions:
                if hint.name.lower() in _LOCK_HINTS:
                    raise ReadOnlyViolation(f"refused: the table hint {hint.name.upper()} takes locks")
        if dialect == "oracle" and ((isinstance(node, exp.Identifier) and "@" in node.name)
                                    or (isinstance(node, exp.Parameter) and isinstance(node.parent, exp.TableAlias))):
            raise ReadOnlyViolation("refused: a database link (name@link) runs the query on another database, under "
                                    "the link's own login")
        if dialect in ("tsql", "mssql") and isinstance(node, exp.Table) and node.catalog and isinstance(node.this, exp.Dot):
            raise ReadOnlyViolation(f"refused: {node.sql('tsql')} is a four-part name: it runs on linked server "
                                    f"{node.catalog}, under the link's own login")
        if (isinstance(node, exp.Column) and node.name.lower() == "nextval") or type(node).__name__ == "NextValueFor":
            raise ReadOnlyViolation("refused: reading a sequence's next value advances it")
        if isinstance(node, exp.Func):
            called = _called(node, sql)
            if called is not None:
                policy.judge(*called)
        elif isinstance(node, exp.Column) and dialect == "oracle" and node.table and node.table.lower() not in tables:
            # Oracle calls functions without parentheses: pkg.f here is a call unless pkg is a table of the query
            policy.judge([p.name for p in node.parts], False, bare=True)
        elif (tableless and isinstance(node, exp.Column) and not node.table and node.name
              and node.name.lower() not in aliases and node.name.lower() not in _ORACLE_PSEUDOCOLUMNS):
            policy.judge([node.name], bool(node.this.args.get("quoted")) if isinstance(node.this, exp.Identifier) else False,
                         bare=True)
    for name, quoted in _special_syntax_calls(sql, read, _table_names(stmt)):
        policy.judge([name], quoted)
    if policy.problems:
        raise ReadOnlyViolation("refused: " + "; ".join(dict.fromkeys(policy.problems)))


class _Policy:
    """Judges each function a statement calls; collects what is refused, with the reason."""

    def __init__(self, dialect: str, site: frozenset[str], defer_unlisted: bool):
        self.dialect = dialect
        self.builtins = allowed_in(dialect)
        self.site = site
        self.defer_unlisted = defer_unlisted
        self.problems: list[str] = []

    def judge(self, parts: list[str], quoted: bool, bare: bool = False) -> None:
        full = ".".join(parts).lower()
        shown = full.upper() if self.dialect == "oracle" else ".".join(parts)
        call = shown if bare else f"{shown}()"
        why = never_reason(full)
        if why:
            self.problems.append(f"{call} {why}")
            return
        if full in self.site:
            return
        name = parts[-1].lower()
        qualifier = ".".join(parts[:-1]).lower()
        if not quoted and name in self.builtins and (not qualifier or qualifier == BUILTIN_SCHEMAS.get(self.dialect)):
            return
        if self.defer_unlisted:
            return
        if bare and len(parts) == 1:
            what = (f"{call}, a name no table of this query (DUAL alone) can answer, calls function {call} "
                    "(Oracle calls functions without parentheses)")
        elif bare:
            what = (f"{call} may call function {parts[-1].upper()} of package or schema {'.'.join(parts[:-1]).upper()} "
                    "(Oracle calls functions without parentheses): it is not a table or alias of the query")
        elif quoted:
            what = f"{call} is written as a quoted name, which is never a built-in"
        elif qualifier:
            what = f"{call} is a user-defined or package function"
        else:
            what = f"{call} is not a built-in function of {_ENGINES.get(self.dialect, self.dialect)} known to be free of side effects"
        self.problems.append(
            f"{what}; if it only reads, allow it in the inventory: [site.sql] allow_functions = "
            f'[{{ name = "{full}", reason = "..." }}]'
        )


def _called(node: exp.Func, sql: str) -> tuple[list[str], bool] | None:
    """(name parts as written, quoted?) of the function a node calls, or None for plain syntax
    (CASE, CAST, AND, EXISTS...: built by the parser, not named by the query)."""
    parent = node.parent
    qualifier: list[str] | None = []
    if isinstance(parent, exp.Dot) and parent.expression is node:
        qualifier = _dotted(parent.this)
    elif isinstance(parent, exp.Table) and parent.this is node:
        qualifier = [p.name for p in (parent.args.get("catalog"), parent.args.get("db")) if p is not None]
    if qualifier is None:
        return ["(expression)", "call"], False  # a call on an expression: never on a list
    if isinstance(node, (exp.Anonymous, exp.AnonymousAggFunc)):
        quoted = isinstance(node.this, exp.Identifier) and node.this.quoted
        return qualifier + [node.name], quoted
    start, end = node.meta.get("start"), node.meta.get("end")
    if start is None or end is None:
        if qualifier:  # schema.CAST(...) and the like: never a built-in
            return qualifier + [node.sql_name().lower()], False
        return None
    written = sql[start:end + 1]
    quoted = written[:1] in _QUOTES
    return qualifier + [written.strip('"[]`')], quoted


def _dotted(e: exp.Expression) -> list[str] | None:
    """`a.b.c` as ['a', 'b', 'c'], or None when the qualifier is an expression, not names."""
    if isinstance(e, (exp.Identifier, exp.Var)):
        return [e.name]
    if isinstance(e, (exp.Column, exp.Table)):
        return [p.name for p in e.parts]
    if isinstance(e, exp.Dot):
        left, right = _dotted(e.this), _dotted(e.expression)
        return left + right if left is not None and right is not None else None
    return None


def _table_names(stmt: exp.Expression) -> set[str]:
    """Every name a column may be qualified with in this statement: tables, their aliases, CTEs, subquery aliases."""
    names: set[str] = set()
    for t in stmt.find_all(exp.Table):
        names.update(n.lower() for n in (t.name, t.alias) if n)
    for a in stmt.find_all(exp.TableAlias):
        if a.name:
            names.add(a.name.lower())
    return names


def _special_syntax_calls(sql: str, read: str | None, names: set[str]) -> list[tuple[str, bool]]:
    """Every unqualified name written before '(' in the tokens, whatever node the parser made of it:
    the names it turns into syntax without recording where they are written (STRING_AGG, XMLTABLE,
    TRIM... its FUNCTION_PARSERS) and, as a second net under the parsed tree, every other name a
    query calls. Not calls: the column lists of a CTE or an alias (``WITH t (a, b) AS``), which
    name a table or alias of the statement (`names`)."""
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.tokens import TokenType

    d = Dialect.get_or_raise(read)
    special = d.parser_class.FUNCTION_PARSERS
    tokens = d.tokenize(sql)
    out = []
    for i, tok in enumerate(tokens[:-1]):
        if tokens[i + 1].token_type != TokenType.L_PAREN:
            continue
        if i and tokens[i - 1].token_type == TokenType.DOT:
            continue  # qualified: judged from the parsed tree
        named = (tok.token_type == TokenType.IDENTIFIER
                 or (tok.token_type == TokenType.VAR and tok.text.lower() not in _SYNTAX_BEFORE_PAREN))
        if tok.text.upper() in special or (named and tok.text.lower() not in names):
            out.append((tok.text, tok.token_type == TokenType.IDENTIFIER))
    return out


@lru_cache(maxsize=1)
def _positions_recorded() -> bool:
    """Does this sqlglot record where a function name is written? The allowlist needs it: typed
    nodes (exp.Count, exp.Coalesce...) do not say whether the query wrote NVL or COALESCE."""
    tree = sqlglot.parse_one("select count(x)")
    count = tree.find(exp.Count)
    return count is not None and "start" in count.meta


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
