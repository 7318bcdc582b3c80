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


# ---- a host check: it reads the server through a probe and keeps only its judgement -------------

from impax_preflight.parsers import ParseError  # noqa: E402
from impax_preflight.parsers.capture import read_capture  # noqa: E402
from impax_preflight.probes import probe  # noqa: E402


def parse_hosts(text: str, notes: list[str] | None = None) -> dict[str, str]:
    """The names of a hosts file (hosts(4) / Windows drivers\\etc\\hosts): {name in lower case: address}.

    A line is ``address name [aliases...]`` with ``#`` comments; a line of anything else is a note,
    not a failure. Capture noise (a prompt, the echoed command, CRLF) is tolerated by read_capture.
    """
    names: dict[str, str] = {}
    seen_line = False
    for line in read_capture(text, command="hosts", programs=("cat", "type"), notes=notes).lines:
        body = line.text.split("#", 1)[0].strip()
        if not body:
            continue
        fields = body.split()
        if len(fields) < 2 or not any(c in fields[0] for c in ".:"):
            if notes is not None:
                notes.append(f"line {line.no} not understood: {line.text.strip()[:120]!r}")
            continue
        seen_line = True
        for name in fields[1:]:
            names.setdefault(name.lower(), fields[0])
    if not seen_line and not names:
        raise ParseError("no 'address name' line: this is not a hosts file", excerpt=text)
    return names


HOSTS_FILE = probe(
    "site.example.hosts_file", "the hosts file", parse_hosts,
    solaris="cat /etc/inet/hosts", linux="cat /etc/hosts",
    windows=r"type C:\Windows\System32\drivers\etc\hosts",
)


def _cluster(site, host, db, inventory=None) -> bool | str:
    """the inventory has other servers to look for"""
    return True if inventory is not None and len(inventory.hosts) > 1 else "no other server in the inventory"


@check(
    "site.example.hosts_entries",
    "The cluster's servers are in each server's hosts file",
    "warning",
    "host",
    when=_cluster,
    probes=[HOSTS_FILE],
    guide="Checking the operating system",
    remediation=(
        "Add the missing servers (address, fully qualified name, short name) to the hosts file, or confirm with the "
        "site's network team that DNS answers for them from every server of the cluster."
    ),
)
def hosts_entries(ctx: CheckContext):
    """Every other host of the inventory is named (by its name or address) in this server's hosts file."""
    names = ctx.read(HOSTS_FILE)
    others = [h for h in ctx.inventory.hosts if h.name != ctx.host.name]
    missing = [h.name for h in others
               if h.name.lower() not in names and h.name.split(".")[0].lower() not in names
               and (h.address or "") not in names.values()]
    values = {"missing": missing, "checked": len(others)}
    if missing:
        return ctx.warn(f"not in the hosts file: {', '.join(missing)}", values=values)
    return ctx.passed(f"all {len(others)} other servers of the cluster are in the hosts file", values=values)
