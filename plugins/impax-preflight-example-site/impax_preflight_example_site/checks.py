"""A Python site check: sanity of a custom Connectivity Manager mapping table (template to copy)."""

from __future__ import annotations

from impax_preflight import check
from impax_preflight.check import CheckContext
from impax_preflight.sql import IdentifierError, identifier, qualified


@check(
    "site.example.cm_mapping_table",
    "The CM site mapping table maps every source code once, to a target",
    "warning",
    "database",
    db_purposes=["mcf"],
    guide="Checking the Connectivity Manager report source",
    remediation=(
        "Correct the duplicated or empty mappings with the Connectivity Manager integrator before the upgrade; "
        "the new CM refuses ambiguous mappings."
    ),
)
def cm_mapping_table(ctx: CheckContext):
    """Duplicated source codes and rows without a target code in the site's mapping table."""
    raw = ctx.options.get("table", "mcf_site_mapping")
    try:
        # the names go into SQL text: the SQL kit accepts plain identifiers only
        table = identifier(raw, "table")
        schema = identifier(ctx.database.schema, "database schema") if ctx.database and ctx.database.schema else None
    except IdentifierError as exc:
        return ctx.error(f"site.options.\"site.example.cm_mapping_table\".table = {raw!r} is not a table name ({exc})")
    name = qualified(table, schema, ctx.sql.dialect)
    dup = ctx.query(
        f"select source_code, count(*) as n from {name} group by source_code having count(*) > 1 order by source_code",
        max_rows=10,
    )
    empty = ctx.query(f"select count(*) from {name} where target_code is null or target_code = ''")
    n_empty = int(empty.scalar() or 0)
    values = {"duplicated": [r[0] for r in dup.rows], "empty_targets": n_empty, "value": len(dup.rows) + n_empty}
    problems = []
    if dup.rows:
        more = " (first 10)" if dup.truncated else ""
        problems.append("source codes mapped more than once" + more + ": " + ", ".join(f"{r[0]} ({r[1]}x)" for r in dup.rows))
    if n_empty:
        problems.append(f"{n_empty} rows without a target code")
    if problems:
        return ctx.problem(f"{qualified}: " + "; ".join(problems), subject=table, values=values)
    return ctx.passed(f"{qualified}: every source code is mapped once, to a target", subject=table, values=values)
