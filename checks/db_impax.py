"""IMPAX data the upgrade depends on: the report source (CM `mcf`), study archiving status, the mig schema.

Where the IMPAX schema or a vendor tool's output is not public, these checks are configured per site
(`[site.options."<check id>"]`) and every finding says what it assumed.
"""

from __future__ import annotations

from impax_preflight import options
from impax_preflight.check import CheckContext, check, register_module_checks
from impax_preflight.db.base import DatabaseError, ObjectMissing
from impax_preflight.hookspecs import hookimpl
from impax_preflight.probes import probe
from impax_preflight.scans import ScanEstimate
from impax_preflight.patterns import PatternError, compile_pattern
from impax_preflight.sql import identifier, qualified, schema_of

from ._integrity import EXAMPLES, estimate_table_read
from ._statements import (
    ARCHIVE_DEFAULT_WHERE,
    archive_default_sql,
    archive_examples_sql,
    mig_schema_sql,
    report_source_sql,
)

# ---- cm.report_source ------------------------------------------------------------------------------


@check(
    "cm.report_source",
    "One report source (requesting_service) in the Connectivity Manager database",
    "warning",
    "database",
    db_purposes=["mcf"],
    guide="Identifying the report source",
    remediation="Several values were returned in the requesting_service field: consult a Connectivity Manager "
    "integrator, as data and mappings may need to be updated.",
)
def report_source(ctx: CheckContext):
    """select distinct requesting_service from mcf_service_request: exactly one value passes and is recorded."""
    dialect = ctx.sql.dialect
    res = ctx.query(report_source_sql(qualified("mcf_service_request", schema_of(ctx.database, dialect), dialect)))
    services = sorted(str(r[0]) for r in res.rows if r and r[0] is not None)
    has_null = any(r and r[0] is None for r in res.rows)
    values = {"requesting_services": services, "null_present": has_null}
    if len(services) == 1 and not has_null:
        return ctx.passed(f"report source: {services[0]} (note it to prepare the database upgrade)", values=values)
    if not services:
        return ctx.warn("mcf_service_request has no requesting_service value: the report source cannot be identified; "
                        "confirm with a Connectivity Manager integrator", values=values)
    extra = " and NULL" if has_null else ""
    return ctx.warn(f"{len(services)} report sources: {', '.join(services)}{extra}", values=values)


# ---- archive.study_status --------------------------------------------------------------------------

TOOL_COMMANDS = {
    "solaris": "/usr/mvf-mig6/bin/mig-study-archive-report -o",
    # the guide adds -U user -P password: never on a command line (process lists, shell history, logs)
    "windows": "C:\\mvf-mig6\\bin\\mig-study-archive-report.exe -d mvf",
}
#: assumed: the tool's output format is not public; a site sets count_regex to its tool's wording
DEFAULT_COUNT_REGEX = r"(?i)(\d+)\s+stud(?:y|ies)\s+(?:are\s+)?(?:not\s+(?:yet\s+)?archived|unarchived)|(?:not\s+archived|unarchived)\D{0,40}?(\d+)"


def _tool_command(site, host) -> dict[str, str] | None:
    """The archive report tool's command line, when the site checks the archive with the tool."""
    opts = ((site.options if site else {}).get("archive.study_status") or {})
    if opts.get("mode") != "tool":
        return None
    command = opts.get("command") or TOOL_COMMANDS.get(host.os if host else "solaris")
    return {"command": command} if command else None


def _text(text: str, notes: list[str] | None = None) -> str:
    return text


ARCHIVE_REPORT = probe("archive.report_tool", "the archive report", _text, any_os="{command}", arguments=_tool_command,
                       command_args=("command",), strict_rc=True, timeout_s=600)


def _archive_tool(ctx: CheckContext):
    opts = ctx.options
    os_name = ctx.host.os if ctx.host else "solaris"
    command = opts.get("command") or TOOL_COMMANDS.get(os_name)
    if not command:
        return ctx.error(f"no archive report command for OS {os_name}: set [site.options.\"archive.study_status\"] command")
    pattern = opts.get("count_regex") or DEFAULT_COUNT_REGEX
    try:
        rx = compile_pattern(pattern)  # RE2: a site's pattern matches in linear time
    except PatternError as exc:
        return ctx.error(f"count_regex {pattern!r} cannot be used: {exc}")
    with ctx.scan("mig-study-archive-report"):  # the tool reads the database: only inside the database window
        output = ctx.read(ARCHIVE_REPORT, timeout=float(opts.get("timeout_s", 600)))
    assumed = "" if opts.get("count_regex") else f" (count parsed with the assumed pattern {pattern!r}: set count_regex to the tool's wording)"
    m = rx.search(output)
    if not m:
        return ctx.error(f"no count found in the output of `{command}` with pattern {pattern!r}: set "
                         "[site.options.\"archive.study_status\"] count_regex to match the line that counts studies not archived")
    raw = next((g for g in m.groups() if g is not None), m.group(0))
    if not str(raw).strip().isdigit():
        return ctx.error(f"count_regex {pattern!r} matched {raw!r}, which is not a number: capture the count in a group")
    n = int(raw)
    values = {"not_archived": n, "mode": "tool", "command": command, "count_regex": pattern}
    if n:
        return ctx.fail(f"{n:,} studies are not archived yet, per `{command}`{assumed}", values=values)
    return ctx.passed(f"every study is archived, per `{command}`{assumed}", values=values)


@check(
    "archive.study_status",
    "Every study is archived",
    "blocker",
    "database",
    db_purposes=["impax"],
    guide="Running a report on study archiving status on a Solaris station; Running a report on study archiving status "
    "on a Windows station",
    remediation="Let the archive catch up (or resolve the studies that do not archive) before the upgrade; run "
    "mig-study-archive-report (Solaris: -o; Windows: -d mvf) and mig_reporter -t mig-study-archive-report for the "
    "report file, and resolve every study it lists.",
    description="Default: a query (assumed: dosr_study.archive_status other than ARCHIVED; the IMPAX schema is not "
    "public) — set [site.options.\"archive.study_status\"] query to a site's own count query, or mode = \"tool\" to run "
    "the archive report tool on the database host and parse its count with count_regex.",
    probes=[ARCHIVE_REPORT],
    options={"mode": options.choice("query", "tool"), "query": options.text(65_536, "a SQL query"),
             "count_regex": options.regex(), "command": options.text(4096, "a command line"), "timeout_s": options.seconds()},
)
def study_status(ctx: CheckContext):
    opts = ctx.options
    if opts.get("mode") == "tool":
        return _archive_tool(ctx)
    dialect = ctx.sql.dialect
    custom = opts.get("query")
    if custom:
        with ctx.scan("site query (archive.study_status)") as watch:  # a site's query may read whole tables too
            res = ctx.query(str(custom))
        n = res.scalar()
        if n is None or not str(n).strip().lstrip("-").isdigit():
            return ctx.error(f"the configured query returned {n!r}: it must return the number of studies not archived "
                             "in its first column")
        n = int(n)
        values = {"not_archived": n, "mode": "query", "assumed": False, **watch.when()}
        msg = "(site-configured query)"
        examples = []
    else:
        table_q = qualified("dosr_study", schema_of(ctx.database, dialect), dialect)
        watch = ctx.scan("dosr_study")  # a full read: only inside the database window
        try:
            with watch:
                n = int(ctx.query(archive_default_sql(table_q)).scalar() or 0)
        except DatabaseError as exc:  # missing table or column (ORA-00904 is not ObjectMissing): the assumption failed
            return ctx.error(f"the assumed query could not run ({exc}): set [site.options.\"archive.study_status\"] "
                             "query to the site's count of studies not archived, or mode = \"tool\"")
        examples = []
        if n:
            ex = ctx.query(archive_examples_sql(table_q, dialect), max_rows=EXAMPLES)
            examples = [f"{r[0]} (accession {r[1]}, {r[2] or 'no status'})" for r in ex.rows]
        values = {"not_archived": n, "mode": "query", "assumed": True, "examples": examples,
                  "assumed_condition": ARCHIVE_DEFAULT_WHERE, **watch.when()}
        msg = (f"(ASSUMED query: dosr_study where {ARCHIVE_DEFAULT_WHERE}; the IMPAX schema is not public — confirm it "
               "or configure the site's query, or mode = \"tool\")")
    if n:
        # the first few in the message; all of them (up to 10) are in values["examples"] and the evidence
        more = f" (+{len(examples) - 3} more in the evidence)" if len(examples) > 3 else ""
        shown = f"; examples: {'; '.join(examples[:3])}{more}" if examples else ""
        return ctx.fail(f"{n:,} studies are not archived {msg}{shown}", values=values)
    return ctx.passed(f"no study waits for archiving {msg}", values=values)


@hookimpl
def impax_estimate_scans(check_ids, site, database, session, sample):
    """archive.study_status reads DOSR_STUDY whole (the assumed query): its rows and duration for `plan`."""
    if "archive.study_status" not in check_ids:
        return None
    opts = site.options.get("archive.study_status", {})
    if opts.get("mode") == "tool" or opts.get("query"):
        what = "the archive report tool on the database host" if opts.get("mode") == "tool" else "the site's own count query"
        return [ScanEstimate(table="dosr_study", checks=["archive.study_status"], what=what,
                             rows_source="not estimated: what it reads is not known here", rate="unknown")]
    return [estimate_table_read(session, database, site, "dosr_study", ["archive_status"], archive_default_sql,
                                "archive.study_status", "count of the studies not archived (the assumed query)", sample)]


# ---- prereq.mig_schema -----------------------------------------------------------------------------


@check(
    "prereq.mig_schema",
    "The pre-migration schema has been built",
    "blocker",
    "database",
    db_purposes=["impax"],
    guide="Creating the pre-migration schema on an AS3000 server",
    remediation="Build the schema: log into the Database Server as the oracle user, change to /usr/mvf-mig6/bin and run "
    "./build-impax-mig-schema.",
    description="Probes the objects listed in [site.options.\"prereq.mig_schema\"] objects (and optional schema); the "
    "objects build-impax-mig-schema creates are not public, so without that list the check cannot decide.",
    options={"objects": options.identifiers(), "schema": options.identifier()},
)
def mig_schema(ctx: CheckContext):
    opts = ctx.options
    names = opts.get("objects")
    if not names:
        return ctx.error(
            "the pre-migration schema probe is not configured: list the tables/views that build-impax-mig-schema creates "
            "(from the Migration Toolbox documentation or a reference site) in [site.options.\"prereq.mig_schema\"] objects "
            "= [...]; until then confirm by hand that ./build-impax-mig-schema has run without errors"
        )
    if isinstance(names, str):
        names = [names]
    dialect = ctx.sql.dialect
    schema = identifier(opts["schema"], "mig schema") if opts.get("schema") else schema_of(ctx.database, dialect)
    wanted = [identifier(n, "mig schema object").upper() for n in names]
    try:
        res = ctx.query(mig_schema_sql(dialect, schema, wanted))
    except ObjectMissing as exc:
        return ctx.error(f"cannot read the catalog ({exc}): the login needs to see {schema or 'its own'} objects")
    found = {str(r[0]).upper(): str(r[1]) for r in res.rows}
    missing = [n for n in wanted if n not in found]
    values = {"expected": wanted, "found": sorted(found), "missing": missing, "schema": schema}
    if missing:
        return ctx.fail(f"{len(missing)} of {len(wanted)} pre-migration objects missing{' in ' + schema if schema else ''}: "
                        f"{', '.join(missing)}", values=values)
    return ctx.passed(f"all {len(wanted)} pre-migration objects present{' in ' + schema if schema else ''}", values=values)


@hookimpl
def impax_register_checks(register):
    register_module_checks(register, globals())
