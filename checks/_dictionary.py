"""What the data dictionary says about the tables the integrity scans read, per dialect.

Three questions, each ONE small statement for every table at once: (1) the tables' names as the
dictionary spells them, with their row counts and sizes from the optimizer statistics (Oracle
``dba_tables``/``dba_segments``, SQL Server ``sys.dm_db_partition_stats``, PostgreSQL
``pg_class``; SQLite keeps none, so its rows are counted); (2) the checked columns, and whether a
validated NOT NULL constraint proves they hold no NULL; (3) the constraints and unique indexes
on ``dosr_object_document.object_ref``, and whether one proves it has no duplicate.

A constraint that is disabled, not validated (Oracle NOVALIDATE, PostgreSQL NOT VALID), partial,
filtered, on an expression or on more than one column proves nothing, and the scan runs. Every
statement goes through the session's read-only guard; one that fails (no privilege on a view) is
noted and the scan runs as if the dictionary had said nothing. Not a plugin (leading underscore).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Callable

from impax_preflight.db.base import DatabaseError, QueryCancelled
from impax_preflight.db.readonly import ReadOnlyViolation
from impax_preflight.model import Evidence
from impax_preflight.secrets import mask
from impax_preflight.sql import IdentifierError, identifier, quote_identifier, sql_literal

#: query(sql) -> (QueryResult, Evidence): runs one guarded statement and gives its evidence
Query = Callable[..., Any]


# ---- the statements ------------------------------------------------------------------------------


def _names(names: list[str], what: str) -> str:
    return ", ".join(sql_literal(identifier(n, what).upper()) for n in sorted(set(names), key=str.lower))


def _pg_schema(schema: str | None) -> str:
    return f"n.nspname = {sql_literal(schema.lower())}" if schema else "n.nspname = current_schema()"


def _ora_owner(schema: str | None, column: str = "owner") -> str:
    return f"{column} = {sql_literal(schema.upper())}" if schema else f"{column} = sys_context('USERENV', 'CURRENT_SCHEMA')"


def tables_sql(dialect: str, schema: str | None, tables: list[str]) -> str:
    """Every spelling of the tables in the schema, with rows, size and when they were analysed."""
    names = _names(tables, "table name")
    if dialect == "postgres":
        return (
            "select c.relname as table_name, c.reltuples as num_rows, pg_relation_size(c.oid) as size_bytes, "
            "greatest(s.last_analyze, s.last_autoanalyze) as last_analyzed, s.n_live_tup as live_rows "
            "from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "left outer join pg_stat_all_tables s on s.relid = c.oid "
            f"where c.relkind in ('r', 'p') and {_pg_schema(schema)} and upper(c.relname) in ({names}) order by c.relname"
        )
    if dialect == "oracle":
        return (
            "select t.table_name, t.num_rows, s.size_bytes, t.last_analyzed, t.blocks "
            "from dba_tables t left outer join (select segment_name, sum(bytes) as size_bytes from dba_segments "
            f"where {_ora_owner(schema)} and segment_type in ('TABLE', 'TABLE PARTITION', 'TABLE SUBPARTITION') "
            "group by segment_name) s on s.segment_name = t.table_name "
            f"where {_ora_owner(schema, 't.owner')} and upper(t.table_name) in ({names}) order by t.table_name"
        )
    if dialect == "tsql":
        return (
            "select o.name as table_name, sum(case when ps.index_id in (0, 1) then ps.row_count else 0 end) as num_rows, "
            "sum(case when ps.index_id in (0, 1) then ps.used_page_count else 0 end) * 8192 as size_bytes "
            "from sys.dm_db_partition_stats ps join sys.objects o on o.object_id = ps.object_id "
            f"where o.type = 'U' and schema_name(o.schema_id) = {sql_literal(schema or 'dbo')} and upper(o.name) in ({names}) "
            "group by o.name order by o.name"
        )
    return f"select name as table_name from sqlite_master where type = 'table' and upper(name) in ({names}) order by name"


def tables_fallback_sql(dialect: str, schema: str | None, tables: list[str]) -> str | None:
    """The same from views any reader may see, when the first needs a right the login lacks:
    Oracle ``all_tables`` (no segment sizes), SQL Server ``sys.partitions`` (no VIEW DATABASE STATE)."""
    names = _names(tables, "table name")
    if dialect == "oracle":
        return ("select table_name, num_rows, blocks, last_analyzed from all_tables "
                f"where {_ora_owner(schema)} and upper(table_name) in ({names}) order by table_name")
    if dialect == "tsql":
        return (
            "select o.name as table_name, sum(p.rows) as num_rows from sys.partitions p "
            "join sys.objects o on o.object_id = p.object_id "
            f"where p.index_id in (0, 1) and o.type = 'U' and schema_name(o.schema_id) = {sql_literal(schema or 'dbo')} "
            f"and upper(o.name) in ({names}) group by o.name order by o.name"
        )
    return None


def sqlite_counts_sql(tables: list[str]) -> str:
    """SQLite keeps no row counts: count each table (SQLite databases are the demo's, small)."""
    return " union all ".join(
        f"select {sql_literal(t)} as table_name, count(*) as num_rows from {quote_identifier(t, 'sqlite')}" for t in tables
    )


def columns_sql(dialect: str, schema: str | None, tables: list[str], columns: list[str]) -> str:
    """The checked columns as spelled, each with whether a validated NOT NULL constraint holds it."""
    tnames, cnames = _names(tables, "table name"), _names(columns, "column name")
    if dialect == "postgres":
        # pg_attribute.attnotnull is also true for a NOT VALID not-null constraint (PostgreSQL 18+,
        # pg_constraint contype 'n'): such a column proves nothing
        return (
            "select c.relname as table_name, a.attname as column_name, case when a.attnotnull then 1 else 0 end as not_null, "
            "(select count(*) from pg_constraint k where k.conrelid = c.oid and k.contype = 'n' and not k.convalidated "
            "and a.attnum = any(k.conkey)) as invalid_constraints, "
            "(select min(k.conname) from pg_constraint k where k.conrelid = c.oid and k.contype = 'n' and k.convalidated "
            "and a.attnum = any(k.conkey)) as constraint_name "
            "from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace "
            f"where c.relkind in ('r', 'p') and {_pg_schema(schema)} and a.attnum > 0 and not a.attisdropped "
            f"and upper(c.relname) in ({tnames}) and upper(a.attname) in ({cnames}) order by c.relname, a.attnum"
        )
    if dialect == "oracle":
        # NULLABLE = 'N' only for an enabled, validated NOT NULL (ENABLE NOVALIDATE shows 'Y'); the
        # constraint that holds it is named from all_constraints
        return (
            "select c.table_name, c.column_name, c.nullable, "
            "(select min(k.constraint_name) from all_cons_columns cc join all_constraints k "
            "on k.owner = cc.owner and k.constraint_name = cc.constraint_name "
            "where cc.owner = c.owner and cc.table_name = c.table_name and cc.column_name = c.column_name "
            "and k.constraint_type in ('C', 'P') and k.status = 'ENABLED' and k.validated = 'VALIDATED') as constraint_name "
            f"from all_tab_columns c where {_ora_owner(schema, 'c.owner')} and upper(c.table_name) in ({tnames}) "
            f"and upper(c.column_name) in ({cnames}) order by c.table_name, c.column_id"
        )
    if dialect == "tsql":
        # SQL Server checks every row when a column is made NOT NULL; there is no untrusted NOT NULL
        return (
            "select t.name as table_name, c.name as column_name, case when c.is_nullable = 0 then 1 else 0 end as not_null "
            "from sys.columns c join sys.tables t on t.object_id = c.object_id "
            f"where schema_name(t.schema_id) = {sql_literal(schema or 'dbo')} and upper(t.name) in ({tnames}) "
            f"and upper(c.name) in ({cnames}) order by t.name, c.column_id"
        )
    return " union all ".join(
        f"select {sql_literal(t)} as table_name, name as column_name, \"notnull\" as not_null, pk, type "
        f"from pragma_table_info({sql_literal(t)})" for t in sorted(set(tables), key=str.lower)
    )


def unique_sql(dialect: str, schema: str | None, table: str, column: str) -> str:
    """Constraints and indexes whose first key is `column` of `table`, with what says whether they hold."""
    t, c = sql_literal(identifier(table, "table name").upper()), sql_literal(identifier(column, "column name").upper())
    if dialect == "postgres":
        return (
            "select i.relname as index_name, k.conname as constraint_name, k.contype as constraint_type, "
            "case when x.indisunique then 1 else 0 end as is_unique, "
            "case when x.indisvalid and x.indisready then 1 else 0 end as is_valid, x.indnkeyatts as key_columns, "
            "case when x.indpred is null and x.indexprs is null then 0 else 1 end as is_partial "
            "from pg_index x join pg_class tb on tb.oid = x.indrelid join pg_namespace n on n.oid = tb.relnamespace "
            "join pg_class i on i.oid = x.indexrelid join pg_attribute a on a.attrelid = tb.oid and a.attnum = x.indkey[0] "
            "left outer join pg_constraint k on k.conindid = x.indexrelid and k.conrelid = tb.oid and k.contype in ('p', 'u') "
            f"where {_pg_schema(schema)} and upper(tb.relname) = {t} and upper(a.attname) = {c} order by i.relname"
        )
    if dialect == "oracle":
        return (
            "select k.constraint_name as name, 'CONSTRAINT' as kind, k.constraint_type as type, k.status, "
            "k.validated as state, (select count(*) from all_cons_columns c2 where c2.owner = k.owner "
            "and c2.constraint_name = k.constraint_name) as key_columns "
            "from all_constraints k join all_cons_columns cc on cc.owner = k.owner and cc.constraint_name = k.constraint_name "
            f"where {_ora_owner(schema, 'k.owner')} and upper(k.table_name) = {t} and k.constraint_type in ('P', 'U') "
            f"and upper(cc.column_name) = {c} "
            "union all "
            "select i.index_name as name, 'INDEX' as kind, i.index_type as type, i.status, i.uniqueness as state, "
            "(select count(*) from all_ind_columns c2 where c2.index_owner = i.owner and c2.index_name = i.index_name) "
            "as key_columns "
            "from all_indexes i join all_ind_columns ic on ic.index_owner = i.owner and ic.index_name = i.index_name "
            f"where {_ora_owner(schema, 'i.table_owner')} and upper(i.table_name) = {t} and ic.column_position = 1 "
            f"and upper(ic.column_name) = {c}"
        )
    if dialect == "tsql":
        return (
            "select i.name as index_name, case when i.is_primary_key = 1 then 'PRIMARY KEY' when i.is_unique_constraint = 1 "
            "then 'UNIQUE CONSTRAINT' else 'INDEX' end as kind, cast(i.is_unique as int) as is_unique, "
            "cast(i.is_disabled as int) as is_disabled, cast(i.has_filter as int) as has_filter, "
            "(select count(*) from sys.index_columns c2 where c2.object_id = i.object_id and c2.index_id = i.index_id "
            "and c2.key_ordinal > 0) as key_columns "
            "from sys.indexes i join sys.tables tb on tb.object_id = i.object_id "
            "join sys.index_columns ic on ic.object_id = i.object_id and ic.index_id = i.index_id and ic.key_ordinal = 1 "
            "join sys.columns c on c.object_id = ic.object_id and c.column_id = ic.column_id "
            f"where schema_name(tb.schema_id) = {sql_literal(schema or 'dbo')} and upper(tb.name) = {t} and upper(c.name) = {c}"
        )
    return (
        "select il.name as index_name, il.origin as kind, il.\"unique\" as is_unique, il.partial as is_partial, "
        "(select count(*) from pragma_index_info(il.name)) as key_columns, "
        "(select ii.name from pragma_index_info(il.name) ii where ii.seqno = 0) as column_name "
        f"from pragma_index_list({sql_literal(table)}) il"
    )


# ---- what the answers mean ------------------------------------------------------------------------


@dataclass
class TableFacts:
    """One table as the dictionary spells it, with its statistics."""

    name: str
    rows: int | None = None
    rows_source: str = ""
    size_bytes: int | None = None
    analysed: str | None = None
    row: dict[str, Any] = field(default_factory=dict)


@dataclass
class Proof:
    """Why the dictionary proves a check's count is 0 without reading the table."""

    text: str  # e.g. "the NOT NULL constraint SYS_C0042 (enabled, validated; ALL_TAB_COLUMNS.NULLABLE = 'N')"
    constraint: str | None
    source: str  # the dictionary view
    row: dict[str, Any]

    def values(self) -> dict[str, Any]:
        return {"constraint": self.constraint, "proof": self.text, "dictionary": self.source,
                "dictionary_row": {k: _plain(v) for k, v in self.row.items()}}


@dataclass
class Dictionary:
    """The answers for one database, shared by its integrity checks."""

    dialect: str
    schema: str | None
    tables: dict[str, list[TableFacts]] = field(default_factory=dict)  # UPPER name -> every spelling
    columns: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)  # (TABLE, COLUMN) -> rows
    unique_rows: list[dict[str, Any]] | None = None
    evidence: list[Evidence] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    tables_read: bool = False
    columns_read: bool = False

    # -- names -----------------------------------------------------------------------------------
    def table(self, usual: str) -> TableFacts | None:
        """The table the usual (unquoted) name reads, else its only other spelling; None when unknown."""
        spellings = self.tables.get(usual.upper(), [])
        folded = _folded(usual, self.dialect)
        for t in spellings:
            if t.name == folded:
                return t
        return spellings[0] if spellings else None

    def table_sql(self, usual: str) -> tuple[str, str | None]:
        """(the table name to write, a note when it is not the usual one)."""
        facts = self.table(usual)
        return self._render(usual, facts.name if facts else None, "table",
                            [t.name for t in self.tables.get(usual.upper(), [])])

    def column_sql(self, table: str, usual: str) -> tuple[str, str | None]:
        rows = self.columns.get((table.upper(), usual.upper()), [])
        facts = self.table(table)
        if facts is not None:  # only the columns of the spelling we read
            rows = [r for r in rows if str(r.get("table_name")) == facts.name] or rows
        names = [str(r["column_name"]) for r in rows]
        folded = _folded(usual, self.dialect)
        exact = folded if folded in names else (names[0] if names else None)
        return self._render(usual, exact, "column", names, where=f" of {facts.name if facts else table}")

    def _render(self, usual: str, exact: str | None, what: str, spellings: list[str], where: str = "") -> tuple[str, str | None]:
        if exact is None or self.dialect == "sqlite" or exact == _folded(usual, self.dialect):
            note = None
            if len(set(spellings)) > 1 and exact is not None:
                others = ", ".join(f'"{s}"' for s in spellings if s != exact)
                note = f"{what} {usual}{where} also exists as {others}: the usual (unquoted) name was read, as the guide's query does"
            return identifier(usual, f"{what} name"), note
        try:
            quoted = quote_identifier(exact, self.dialect)
        except IdentifierError:
            return identifier(usual, f"{what} name"), None
        others = [s for s in spellings if s != exact]
        more = f" (also: {', '.join(others)})" if others else ""
        return quoted, (f"{what} {usual}{where} is spelled {quoted} in the data dictionary{more}: it was read under that "
                        "exact (quoted) name")

    # -- proofs ----------------------------------------------------------------------------------
    def not_null_proof(self, table: str, column: str) -> Proof | None:
        facts = self.table(table)
        rows = [r for r in self.columns.get((table.upper(), column.upper()), [])
                if facts is None or str(r.get("table_name")) == facts.name]
        if len(rows) != 1:
            return None  # unknown, or ambiguous spellings: scan
        r = rows[0]
        name = f"{facts.name if facts else table}.{r.get('column_name')}"
        if self.dialect == "postgres":
            if _int(r.get("not_null")) == 1 and _int(r.get("invalid_constraints")) == 0:
                cons = r.get("constraint_name")
                what = f"the NOT NULL constraint {cons}" if cons else "its NOT NULL constraint"
                return Proof(f"{what} on {name} (validated: pg_attribute.attnotnull = true, no NOT VALID constraint)",
                             str(cons) if cons else None, "pg_attribute", r)
        elif self.dialect == "oracle":
            cons = r.get("constraint_name")
            if str(r.get("nullable") or "").upper() == "N" and isinstance(cons, str) and cons:
                return Proof(f"the NOT NULL constraint {cons} on {name} (ENABLED, VALIDATED; ALL_TAB_COLUMNS.NULLABLE = 'N')",
                             cons, "all_tab_columns, all_constraints", r)
        elif self.dialect == "tsql":
            if _int(r.get("not_null")) == 1:
                return Proof(f"{name} is declared NOT NULL (sys.columns.is_nullable = 0; SQL Server checks every row when "
                             "a column is made NOT NULL)", None, "sys.columns", r)
        elif self.dialect == "sqlite":
            if _int(r.get("not_null")) == 1:
                return Proof(f"{name} is declared NOT NULL (pragma table_info: SQLite refuses a NULL on every write)",
                             None, "pragma_table_info", r)
        return None

    def unique_proof(self, table: str, column: str) -> tuple[Proof | None, list[str]]:
        """(the constraint or unique index proving `column` alone is unique, what proves nothing and why)."""
        rejected: list[str] = []
        for r in self.unique_rows or []:
            verdict = _unique_row(self.dialect, r, column)
            if verdict is None:
                continue
            ok, what = verdict
            if ok:
                name = r.get("constraint_name") or r.get("name") or r.get("index_name")
                return Proof(f"{what} on {table}.{column}", str(name) if name else None, _UNIQUE_VIEWS[self.dialect], r), rejected
            rejected.append(what)
        return None, rejected


_UNIQUE_VIEWS = {"postgres": "pg_index, pg_constraint", "oracle": "all_constraints, all_indexes",
                 "tsql": "sys.indexes", "sqlite": "pragma_index_list"}


def _unique_row(dialect: str, r: dict[str, Any], column: str) -> tuple[bool, str] | None:
    """(proves?, what it is) for one candidate row; None when the row is no candidate (not unique,
    not about `column`). Each engine's rules: the first one the row breaks says why it proves nothing."""
    keys = _int(r.get("key_columns"))
    alone = (keys != 1, f"has {keys} key columns: proves nothing about {column} alone")
    if dialect == "postgres":
        if _int(r.get("is_unique")) != 1:
            return None  # a plain index
        name = r.get("constraint_name") or r.get("index_name")
        what = {"p": "primary key", "u": "unique constraint"}.get(str(r.get("constraint_type") or ""), "unique index")
        rules = [(_int(r.get("is_valid")) != 1, "is not valid (an interrupted CREATE INDEX CONCURRENTLY)"),
                 (_int(r.get("is_partial")) != 0, "is partial or on an expression"), alone]
        holds = "valid"
    elif dialect == "oracle":
        name, kind = r.get("name"), str(r.get("kind") or "").upper()
        status, state, itype = str(r.get("status") or ""), str(r.get("state") or ""), str(r.get("type") or "")
        if kind == "CONSTRAINT":
            what = {"P": "primary key", "U": "unique constraint"}.get(itype, "constraint")
            rules = [(status != "ENABLED" or state != "VALIDATED", f"is {status or '?'} {state or '?'}"), alone]
            holds = "ENABLED, VALIDATED"
        elif kind == "INDEX" and state == "UNIQUE":
            what = "unique index"
            rules = [(status != "VALID", f"has status {status or '?'}"),
                     (itype not in ("NORMAL", "NORMAL/REV"), f"is of type {itype or '?'}"), alone]
            holds = "VALID"
        else:
            return None
    elif dialect == "tsql":
        if _int(r.get("is_unique")) != 1:
            return None
        name, what = r.get("index_name"), str(r.get("kind") or "index").lower()
        rules = [(_int(r.get("is_disabled")) != 0, "is disabled"), (_int(r.get("has_filter")) != 0, "is filtered"), alone]
        holds = "enabled, not filtered"
    else:  # sqlite
        if str(r.get("column_name") or "").upper() != column.upper() or _int(r.get("is_unique")) != 1:
            return None
        name = r.get("index_name")
        what = {"pk": "primary key", "u": "unique constraint"}.get(str(r.get("kind") or ""), "unique index")
        rules = [(_int(r.get("is_partial")) != 0, "is partial"), alone]
        holds = "not partial"
    broken = next((why for bad, why in rules if bad), None)
    if broken is not None:
        return False, f"{what} {name} {broken}" + ("" if broken.endswith(" alone") else ": proves nothing")
    return True, f"the {what} {name} ({holds}, on this column alone)"


def _folded(name: str, dialect: str) -> str:
    """What an unquoted name becomes in the dictionary: lower case (PostgreSQL), upper (Oracle), as written elsewhere."""
    return name.lower() if dialect == "postgres" else name.upper() if dialect == "oracle" else name


def _int(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (int, float, str)) or value is None:
        return value
    return str(value)


def _when(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


# ---- reading it ----------------------------------------------------------------------------------


def read_dictionary(
    query: Query,
    dialect: str,
    schema: str | None,
    tables: dict[str, list[str]],
    unique: tuple[str, str] | None,
    *,
    counts: bool = False,
) -> Dictionary:
    """Ask the dictionary about `tables` ({table: columns}) and the uniqueness of `unique` (table,
    column). Never raises for what the database refuses (each problem is noted and the scans run
    as without it); a cancelled statement (Ctrl-C, a check's timeout) is raised. `counts`: count the
    rows of SQLite tables, which keep no statistics (the plan wants them; a run scans anyway)."""
    d = Dictionary(dialect, schema)
    if dialect not in ("oracle", "tsql", "postgres", "sqlite"):
        # an ODBC source whose engine is not known: no dictionary to ask, the tables are scanned
        d.problems.append(f"no data dictionary is known for the {dialect} dialect (declare `dialect` for this database)")
        return d
    names = list(tables)
    columns = sorted({c for cols in tables.values() for c in cols}, key=str.lower)

    def ask(sql: str | None, what: str):
        if sql is None:
            return None
        try:
            result, ev = query(sql)
        except QueryCancelled:
            raise
        except (DatabaseError, ReadOnlyViolation) as exc:
            d.problems.append(f"{what}: {mask(str(exc))[:300]}")
            return None
        d.evidence.append(ev)
        return result.dicts()

    rows = ask(tables_sql(dialect, schema, names), "table statistics")
    source = {"postgres": "pg_class.reltuples", "oracle": "dba_tables.num_rows",
              "tsql": "sys.dm_db_partition_stats.row_count (kept by the engine)", "sqlite": "count(*)"}[dialect]
    if rows is None:
        fallback = tables_fallback_sql(dialect, schema, names)
        rows = ask(fallback, "table statistics (fallback)")
        source = {"oracle": "all_tables.num_rows", "tsql": "sys.partitions.rows (kept by the engine)"}.get(dialect, source)
    if rows is not None:
        d.tables_read = True
        for r in rows:
            name = r.get("table_name")
            if not isinstance(name, str) or name.upper() not in {n.upper() for n in names}:
                continue
            d.tables.setdefault(name.upper(), []).append(_table_facts(dialect, name, r, source))
    if dialect == "sqlite" and counts and d.tables:
        found = sorted({t.name for spellings in d.tables.values() for t in spellings})
        for r in ask(sqlite_counts_sql(found), "row counts") or []:
            for t in d.tables.get(str(r.get("table_name") or "").upper(), []):
                if t.name == r.get("table_name"):
                    t.rows, t.rows_source = _int(r.get("num_rows")), "count(*) (SQLite keeps no statistics)"
    rows = ask(columns_sql(dialect, schema, names, columns), "columns and NOT NULL constraints") if columns else None
    if rows is not None:
        d.columns_read = True
        wanted = {(t.upper(), c.upper()) for t, cols in tables.items() for c in cols}
        for r in rows:
            key = (str(r.get("table_name") or "").upper(), str(r.get("column_name") or "").upper())
            if key in wanted:
                d.columns.setdefault(key, []).append(r)
    if unique is not None:
        table, column = unique
        facts = d.table(table)
        target = facts.name if (dialect == "sqlite" and facts) else table
        d.unique_rows = ask(unique_sql(dialect, schema, target, column), "unique constraints and indexes")
    return d


def _table_facts(dialect: str, name: str, r: dict[str, Any], source: str) -> TableFacts:
    f = TableFacts(name=name, row={k: _plain(v) for k, v in r.items()})
    f.size_bytes = _int(r.get("size_bytes"))
    analysed = _when(r.get("last_analyzed"))
    f.analysed = analysed
    raw = r.get("num_rows")
    if dialect == "postgres":
        tuples = _float(raw)
        live = _int(r.get("live_rows"))
        if analysed and tuples is not None and tuples >= 0:
            f.rows, f.rows_source = int(tuples), f"{source} (analysed {analysed})"
        elif tuples is not None and tuples > 0:
            f.rows, f.rows_source = int(tuples), f"{source} (set by VACUUM or CREATE INDEX; never analysed)"
        elif live:
            f.rows, f.rows_source = live, "pg_stat_all_tables.n_live_tup (activity counters: the table was never analysed)"
        else:
            f.rows_source = "no statistics: the table was never analysed (pg_class.reltuples = -1); run ANALYZE"
    elif dialect == "oracle":
        if analysed is None or raw is None:
            f.rows_source = ("no statistics: the table was never analysed (num_rows is empty); ask the DBA to gather them "
                             "(DBMS_STATS.GATHER_TABLE_STATS)")
        else:
            f.rows, f.rows_source = _int(raw), f"{source} (analysed {analysed})"
        blocks = _int(r.get("blocks"))
        if f.size_bytes is None and blocks is not None and analysed:
            f.rows_source += f"; {blocks:,} blocks"
    elif dialect == "tsql":
        f.rows, f.rows_source = _int(raw), source
    else:
        f.rows_source = "not counted"
    return f


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
