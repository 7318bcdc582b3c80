"""SQL Server: the 2008 SP1 prerequisite, and database mirroring health (seeds 000 and 001).

Applies to kind = "mssql" and to kind = "odbc" with dialect = "tsql" (a SQL Server reached through
a generic ODBC DSN): both speak T-SQL and expose the same catalog views.
"""

from __future__ import annotations

from impax_preflight.check import CheckContext, check, register_module_checks
from impax_preflight.hookspecs import hookimpl
from impax_preflight.versions import Version

from ._integrity import run_shared
from ._statements import (
    MSSQL_SERVERPROPERTY_SQL,
    database_name,
    is_mirrored_sqlserver,
    mssql_mirroring_sql,
)

MIN_SQLSERVER = "10.0.2531"  # SQL Server 2008 SP1


_SQL_INSTALL = ("Install SQL Server 2008 as the guide's 'Installing SQL Server 2008' describes: on the Instance Configuration "
                "screen select Default instance; on the Database Engine Configuration screen, Account Provisioning tab, select "
                "Mixed Mode (SQL Server authentication and Windows authentication) and type the sa password")
_SQL_SP1 = ("Apply Service Pack 1 as the guide's 'Upgrading SQL Server 2008 to SQL Server 2008 SP1' describes: launch the SP1 "
            "installer, accept the license and the default feature selection, click Update (even if locked files are found), "
            "then restart the computer")


@check(
    "prereq.sqlserver_version",
    "SQL Server 2008 SP1 or later, default instance, mixed-mode authentication",
    "blocker",
    "database",
    dialects=["tsql"],
    db_purposes=["impax"],
    # the guide asks for these in its SQL Server sections, not under "Prerequisite software installations"
    guide="Installing SQL Server 2008; Upgrading SQL Server 2008 to SQL Server 2008 SP1",
    remediation=_SQL_INSTALL + ". " + _SQL_SP1 + ".",
)
def sqlserver_version(ctx: CheckContext):
    """SERVERPROPERTY: ProductVersion >= 10.0.2531, InstanceName NULL, IsIntegratedSecurityOnly = 0."""
    r = ctx.query(MSSQL_SERVERPROPERTY_SQL).dicts()[0]
    version = str(r.get("product_version") or "")
    values = {"product_version": version, "product_level": r.get("product_level"), "edition": r.get("edition"),
              "instance_name": r.get("instance_name"), "integrated_security_only": r.get("integrated_security_only"),
              "minimum": MIN_SQLSERVER}
    problems, fixes = [], []
    if not version or Version(version) < Version(MIN_SQLSERVER):
        problems.append(f"version {version or 'unknown'} is older than SQL Server 2008 SP1 ({MIN_SQLSERVER})")
        # SQL Server 2008 (10.0) before SP1 takes the service pack; an older release a new installation
        fixes.append(_SQL_SP1 if version and Version(version) >= Version("10.0") else _SQL_INSTALL + ", then " + _SQL_SP1[0].lower() + _SQL_SP1[1:])
    if r.get("instance_name") not in (None, ""):
        problems.append(f"named instance {r['instance_name']!r} (IMPAX needs the default instance)")
        fixes.append(_SQL_INSTALL)
    if str(r.get("integrated_security_only")) != "0":
        problems.append("Windows Authentication only (IMPAX needs mixed mode: IsIntegratedSecurityOnly = 0)")
        fixes.append("Set mixed mode: SQL Server Management Studio > the server > Properties > Security > SQL Server and Windows "
                     "Authentication mode, then restart the SQL Server service (the guide's installation selects Mixed Mode)")
    summary = f"SQL Server {version} {r.get('product_level') or ''} {r.get('edition') or ''}".strip()
    if problems:
        return ctx.fail(f"{summary}: " + "; ".join(problems), values=values, remediation=". ".join(dict.fromkeys(fixes)) + ".")
    return ctx.passed(f"{summary}, default instance, mixed-mode authentication", values=values)


def _mirroring(ctx: CheckContext) -> dict | None:
    """The mirroring row of this database (one query shared by both mirroring checks)."""
    name = database_name(ctx)

    def compute():
        res, ev = run_shared(ctx, mssql_mirroring_sql(name))
        rows = res.dicts()
        return (rows[0] if rows else None), ev

    row, ev = ctx.memo.get(("mirroring", name), compute)
    ctx.evidence.append(ev)
    return row


_NO_TEST = "Do not run a fail-over test until this is fixed (seed 000: 'If there is a chance that a witness server may become unavailable during the test, do not perform the test. Fix the issue first.')"


@check(
    "mirroring.state",
    "Database mirroring synchronized, safety FULL, witness connected",
    "blocker",
    "database",
    dialects=["tsql"],
    db_purposes=["impax"],
    when=is_mirrored_sqlserver,
    guide="Required Conditions Before The Test",
    remediation="Bring the mirroring session back to SYNCHRONIZED with safety FULL and the witness CONNECTED (SQL Server "
    "Management Studio > database > Properties > Mirroring) before any upgrade or fail-over step. " + _NO_TEST,
)
def mirroring_state(ctx: CheckContext):
    """sys.database_mirroring: mirroring_state_desc SYNCHRONIZED, safety FULL, witness CONNECTED."""
    row = _mirroring(ctx)
    if row is None:
        return ctx.error(f"database {database_name(ctx)} is not visible in sys.databases for this login")
    state = row.get("mirroring_state_desc")
    values = {k: row.get(k) for k in ("mirroring_state_desc", "mirroring_role_desc", "mirroring_safety_level_desc",
                                       "mirroring_witness_state_desc", "mirroring_partner_instance", "mirroring_witness_name",
                                       "server_name")}
    if state is None:
        return ctx.fail(f"database {row.get('name')} shows no mirroring session, but the inventory declares mirroring = true "
                        "(or the login cannot see it: sys.database_mirroring shows NULLs without VIEW ANY DATABASE or "
                        f"ownership). {_NO_TEST}", values=values)
    wrong = []
    if str(state).upper() != "SYNCHRONIZED":
        wrong.append(f"state {state} (expected SYNCHRONIZED)")
    if str(row.get("mirroring_safety_level_desc") or "").upper() != "FULL":
        wrong.append(f"safety {row.get('mirroring_safety_level_desc')} (expected FULL: automatic fail-over needs it)")
    if str(row.get("mirroring_witness_state_desc") or "").upper() != "CONNECTED":
        wrong.append(f"witness {row.get('mirroring_witness_name') or '(none)'} {row.get('mirroring_witness_state_desc')} "
                     "(expected CONNECTED)")
    if wrong:
        return ctx.fail(f"mirroring of {row.get('name')}: " + "; ".join(wrong) + f". {_NO_TEST}", values=values)
    return ctx.passed(f"mirroring of {row.get('name')}: SYNCHRONIZED, safety FULL, witness CONNECTED "
                      f"({row.get('mirroring_role_desc')} on {row.get('server_name')}, partner {row.get('mirroring_partner_instance')})",
                      values=values)


@check(
    "mirroring.principal_on_primary",
    "The mirroring principal is on the primary server",
    "warning",
    "database",
    dialects=["tsql"],
    db_purposes=["impax"],
    when=is_mirrored_sqlserver,
    guide="What To Do After The Test",
    remediation="Fail the principal back to the primary server: in most installations the SQL database backup and its "
    "external copy run only on the primary server.",
)
def principal_on_primary(ctx: CheckContext):
    """mirroring_role_desc PRINCIPAL on @@SERVERNAME = database.primary_server (or MIRROR on the other one)."""
    primary = ctx.database.primary_server if ctx.database else None
    if not primary:
        return ctx.error("the inventory does not say which server is the primary: set primary_server for this database")
    row = _mirroring(ctx)
    if row is None:
        return ctx.error(f"database {database_name(ctx)} is not visible in sys.databases for this login")
    role = str(row.get("mirroring_role_desc") or "").upper()
    server = str(row.get("server_name") or "")
    on_primary = server.split("\\")[0].upper() == primary.split("\\")[0].upper()
    values = {"role": role or None, "server_name": server, "primary_server": primary,
              "partner": row.get("mirroring_partner_instance")}
    if not role:
        return ctx.warn(f"database {row.get('name')} is not mirrored on {server}", values=values)
    if (role == "PRINCIPAL") == on_primary:
        where = server if role == "PRINCIPAL" else row.get("mirroring_partner_instance")
        return ctx.passed(f"the principal is on the primary server {primary} (this session: {role} on {server}; principal {where})",
                          values=values)
    principal = server if role == "PRINCIPAL" else row.get("mirroring_partner_instance")
    return ctx.warn(f"the principal is on {principal}, not on the primary server {primary} (this session: {role} on {server})",
                    values=values)


@hookimpl
def impax_register_checks(register):
    register_module_checks(register, globals())
