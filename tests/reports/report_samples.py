"""Programmatic RunReports for the report tests: several hosts, tiers, statuses, evidence, waivers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from impax_preflight.model import (
    CheckInfo,
    Evidence,
    Finding,
    NotRun,
    PluginInfo,
    RunReport,
    Severity,
    Status,
    Waiver,
    compute_verdict,
)

T0 = datetime(2024, 5, 4, 8, 0, 0, tzinfo=timezone.utc)

#: The hostile text: would run if rendered as markup (sets window.pwned), quotes, non-ASCII.
HOSTILE = "<script>window.pwned=1</script><img src=x onerror=\"window.pwned=2\"> 'q' \"dq\" Größe ÆØÅ 東京 — ✓"

INVENTORY = {
    "site": {"name": "St. Elsewhere", "impax_version": "6.3.1", "target_version": "6.5.1", "platform": "AS3000"},
    "hosts": [
        {"name": "dr-db1", "os": "solaris", "roles": ["database", "archive"], "tier": "dr",
         "transport": {"kind": "ssh", "user": "impax", "password": "env:IMPAX_PW"},
         "databases": [{"name": "mvf", "kind": "oracle", "password": "env:ORA_PW"}]},
        {"name": "bk-app1", "os": "windows", "roles": ["application"], "tier": "bk", "transport": {"kind": "bundle"}},
        {"name": "prod-db1", "os": "solaris", "roles": ["database"], "tier": "prod", "transport": {"kind": "ssh", "user": "impax"},
         "databases": [{"name": "mvf", "kind": "oracle"}]},
        {"name": "prod-app1", "os": "windows", "roles": ["application"], "tier": "prod", "transport": {"kind": "ssh"}},
    ],
    "source": "/etc/impax/site.toml",
}


def finding(check_id, status, host, *, severity=Severity.BLOCKER, subject=None, message=None, values=None,
            tier=None, site="St. Elsewhere", target=None, target_kind="host", evidence=None, **kw):
    tiers = {"dr-db1": "dr", "bk-app1": "bk", "prod-db1": "prod", "prod-app1": "prod"}
    return Finding(
        check_id=check_id,
        title=kw.pop("title", check_id.replace(".", " ")),
        severity=severity,
        status=status,
        target=target or host,
        target_kind=target_kind,
        subject=subject,
        message=message or f"{check_id} {status.value} on {host}",
        evidence=evidence if evidence is not None else [
            Evidence(kind="command", source=f"svcs -xv # {check_id}", target=host, rc=0, output="ok\n", duration_s=0.12, transport="ssh")
        ],
        remediation=kw.pop("remediation", f"Remediate {check_id}."),
        guide=kw.pop("guide", "Checking the integrity of database data"),
        values=values or {},
        host=host if target_kind != "site" else None,
        tier=tier if tier is not None else (tiers.get(host) if target_kind != "site" else None),
        site=site,
        duration_s=0.2,
        **kw,
    )


def sample_findings(tablespace_free_gb: float = 2.6, integrity_rows: int = 3, fixed_dotnet: bool = False):
    db = "prod-db1/mvf"
    return [
        finding("prereq.source_version", Status.PASS, "site", target="site", target_kind="site",
                message="installed IMPAX 6.3.1 is 6.2 or later", values={"version": "6.3.1"}),
        finding("oracle.tablespace_free", Status.WARN if tablespace_free_gb >= 2 else Status.FAIL, "prod-db1", target=db,
                target_kind="database", subject="MVFL", database="mvf",
                message=f"tablespace MVFL has {tablespace_free_gb} GB usable (warning below 3 GB)",
                values={"usable_gb": tablespace_free_gb, "autoextend": True},
                evidence=[Evidence(kind="sql", source="select tablespace_name, sum(bytes) from dba_free_space group by tablespace_name",
                                   target=db, rows=5, output="MVFL  2791728742\n", duration_s=0.4, transport="oracle")]),
        finding("integrity.study_uid", Status.FAIL if integrity_rows else Status.PASS, "prod-db1", target=db, target_kind="database",
                database="mvf", message=f"{integrity_rows} rows of dosr_study have a NULL study_uid" if integrity_rows else "no NULL study_uid",
                values={"count": integrity_rows}, remediation="Contact Agfa support before the upgrade."),
        finding("prereq.dotnet35sp1", Status.PASS if fixed_dotnet else Status.FAIL, "prod-app1",
                message=".NET Framework 3.5 SP1 is installed" if fixed_dotnet else ".NET Framework 3.5 SP1 is not installed (Install=1, SP=0)",
                remediation="Install .NET Framework 3.5 SP1 on the application server."),
        finding("hw.requirements", Status.ERROR, "dr-db1", severity=Severity.WARNING, message="could not read memory size: prtconf not collected"),
        finding("os.disk_space", Status.PASS, "bk-app1", severity=Severity.WARNING, subject="C:", values={"used_pct": 71.5}),
        finding("os.fmadm_faulty", Status.FAIL, "dr-db1", message="fmadm reports a faulted DIMM",
                evidence=[Evidence(kind="command", source="fmadm faulty", target="dr-db1", rc=0, output=HOSTILE, duration_s=1.5, transport="ssh")]),
        finding("prereq.sqlserver_services", Status.WAIVED, "bk-app1", severity=Severity.WARNING,
                message="SQL Server Browser is running", waived_status=Status.WARN,
                waiver=Waiver(match="prereq.sqlserver_services@bk-app1", reason="needed by the RIS link until cut-over",
                              approved_by="J. Smith (change board)", expires="2099-01-01")),
        finding("db.version", Status.PASS, "prod-db1", target=db, target_kind="database", severity=Severity.INFO,
                message="Oracle Database 11g Enterprise Edition Release 11.2.0.4.0"),
        finding("os.zpool_health", Status.SKIPPED, "prod-app1", severity=Severity.WARNING, message="not a Solaris host"),
    ]


def make_report(findings=None, *, site="St. Elsewhere", run_id="20240504T080000Z-abc123", started=T0, **kw) -> RunReport:
    findings = sample_findings() if findings is None else findings
    return RunReport(
        tool_version="0.1.0",
        run_id=run_id,
        site=site,
        inventory=kw.pop("inventory", INVENTORY),
        operator="engineer@laptop",
        started_at=started,
        finished_at=started + timedelta(seconds=42),
        duration_s=42.0,
        verdict=compute_verdict(findings, interrupted=kw.get("interrupted", False)),
        findings=findings,
        checks=[CheckInfo(id="oracle.tablespace_free", title="Tablespace free space", severity=Severity.BLOCKER, target="database")],
        not_run=[NotRun(check_id="mssql.database_space", target="prod-db1", reason="no SQL Server database on this host")],
        plugins=[PluginInfo(name="impax_preflight.builtin", version="0.1.0", checks=["db.version"])],
        warnings=kw.pop("warnings", ["host bk-app1 is checked from a bundle collected 2024-05-01"]),
        expired_waivers=kw.pop("expired_waivers", [Waiver(match="os.disk_space@*", reason="old", approved_by="X", expires="2020-01-01")]),
        **kw,
    )
