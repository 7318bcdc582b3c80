"""A Python site check: sanity of a custom Connectivity Manager mapping table (template to copy)."""

from __future__ import annotations

import re

from impax_preflight import check
from impax_preflight.check import CheckContext

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$#]{0,127}$")


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
    table = str(ctx.options.get("table", "mcf_site_mapping"))
    if not _IDENTIFIER.match(table):
        # the name goes into SQL text: accept a plain identifier only
        return ctx.error(f"site.options.\"site.example.cm_mapping_table\".table = {table!r} is not a table name")
    schema = ctx.database.schema if ctx.database else None
    qualified = f"{schema}.{table}" if schema else table
    dup = ctx.query(
        f"select source_code, count(*) as n from {qualified} group by source_code having count(*) > 1 order by source_code",
        max_rows=10,
    )
    empty = ctx.query(f"select count(*) from {qualified} where target_code is null or target_code = ''")
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
