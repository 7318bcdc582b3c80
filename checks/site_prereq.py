"""Site-wide prerequisites (guide: "Prerequisite software installations"): source version,
TalkStation, IMPAX Reporting DOC -> RTF, PACS Broker. They read the inventory's declared features
and the software facts discovered on every host (`impax_preflight.facts`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from impax_preflight.check import CheckContext, check, register_module_checks
from impax_preflight.hookspecs import hookimpl
from impax_preflight.hostfacts import HostFacts
from impax_preflight.model import Finding
from impax_preflight.versions import Version, parse_version

GUIDE_PREREQ = "Prerequisite software installations"


#: where installed software is listed (Uninstall keys / pkginfo); Linux hosts have no IMPAX product
SOFTWARE_OS = ("windows", "solaris")
_SOFTWARE_COMMANDS = ("reg query", "pkginfo")


@dataclass
class Discovery:
    """A product's versions found in the hosts' facts, and the hosts nobody looked at."""

    found: dict[str, str] = field(default_factory=dict)  # host -> version
    not_examined: dict[str, str] = field(default_factory=dict)  # host -> why its software is unknown

    def describe_not_examined(self) -> str:
        return "; ".join(f"{h} ({why})" for h, why in self.not_examined.items())


def discovered(ctx: CheckContext, key: str) -> Discovery:
    """A product across the hosts' facts (site patterns, declared facts win), and which hosts were
    not examined: unreachable, no facts collected in this run (no host check planned there, e.g.
    --host / --only), or the listing of installed software failed."""
    out = Discovery()
    unreachable = {f.host for f in ctx.findings() if f.host and (f.message or "").startswith("host unreachable")}
    for host in ctx.inventory.hosts:
        facts = ctx.all_facts.get(host.name) or HostFacts.declared_only(host)
        v = facts.products(ctx.site).get(key)
        if v:
            out.found[host.name] = v
            continue
        if host.os not in SOFTWARE_OS:
            continue
        failed = [e for e in facts.get("errors") or [] if isinstance(e, str) and e.startswith(_SOFTWARE_COMMANDS)]
        if host.name in unreachable:
            out.not_examined[host.name] = "unreachable"
        elif not isinstance(facts.get("software"), list):
            out.not_examined[host.name] = "installed software not read in this run"
        elif failed:
            out.not_examined[host.name] = "listing installed software failed: " + failed[0][:200]
    return out


DECLARED = "site (declared)"  # the subject of a version the inventory's features declare (a stable key)


def _on(where: str, feature: str) -> str:
    """Where a version was seen, in words: "on HOST", or "declared for the site (features.X)"."""
    return f"declared for the site (features.{feature})" if where == DECLARED else f"on {where}"


def _feature_version(ctx: CheckContext, key: str) -> str | None:
    v = getattr(ctx.site.features, key, None)
    if v is None or str(v).strip().lower() in ("", "discover", "discovered", "yes", "true"):
        return None
    return str(v)


@check(
    "prereq.source_version",
    "Installed IMPAX is 6.2 or later",
    "blocker",
    "site",
    guide="Preparing to Upgrade Tasks Summary—IMPAX 6.2 or later to IMPAX 6.5.1",
    remediation="This upgrade path starts from IMPAX 6.2 or later: upgrade older clusters to 6.2 first (see the "
    "upgrade guide for that version), or correct impax_version in the inventory.",
    description="The site's impax_version, each host's impax_version override and any IMPAX version discovered "
    "on the hosts are all 6.2 or later and below the target version; a discovered version that differs from the "
    "declared one warns; a declared version that cannot be read is an error.",
)
def source_version(ctx: CheckContext) -> Iterator[Finding]:
    target = Version(ctx.site.target_version)
    declared = {"site": ctx.site.impax_version}
    declared.update({h.name: h.impax_version for h in ctx.inventory.hosts if h.impax_version})
    disc = discovered(ctx, "impax")
    found = disc.found
    ctx.note(f"declared: {declared}; discovered on hosts: {found or 'none'}")
    if disc.not_examined:
        ctx.note(f"IMPAX version not looked up on: {disc.describe_not_examined()}")
    bad, unreadable = [], []
    for where, text in {**declared, **{f"{h} (discovered)": v for h, v in found.items()}}.items():
        v = parse_version(text)
        if v is None:
            if where in declared:
                unreadable.append(f"{where}: {text!r}")
            else:
                ctx.note(f"{where}: installed IMPAX version {text!r} could not be read")
            continue
        if v < "6.2":
            bad.append(f"{where}: {text} is older than 6.2")
        elif v >= target:
            bad.append(f"{where}: {text} is already at or beyond the target {target}")
    values = {"declared": declared, "discovered": found, "target": str(target), "not_examined": disc.not_examined}
    if bad:
        yield ctx.fail("; ".join(bad + [f"{u} is not a version" for u in unreadable]), values=values)
        return
    if unreadable:
        yield ctx.error("impax_version could not be read as a version (" + "; ".join(unreadable) + "): set it in the "
                        "inventory to the installed release, e.g. impax_version = \"6.3.1\"", values=values)
        return
    # a discovered build number refines the declared release (6.3.1.2156 is 6.3.1): only a different release is a mismatch
    mismatch = [f"{h} reports {v}" for h, v in found.items()
                if parse_version(v) and parse_version(declared.get(h, ctx.site.impax_version))
                and not parse_version(v).startswith(parse_version(declared.get(h, ctx.site.impax_version)))]
    if mismatch:
        yield ctx.warn(f"the inventory says IMPAX {ctx.site.impax_version} but " + ", ".join(mismatch) + ": correct the inventory", values=values)
    else:
        yield ctx.passed(f"IMPAX {ctx.site.impax_version} is on the 6.2-or-later upgrade path to {target}", values=values)


@check(
    "prereq.talkstation",
    "TalkStation is 3.2 or 4.0",
    "blocker",
    "site",
    guide=GUIDE_PREREQ,
    remediation="If using TalkStation, it must be upgraded to TalkStation 3.2 or 4.0. For instructions, refer to the "
    "TalkStation Client Upgrade Guide and the appropriate version of the TalkStation Server Upgrade Guide.",
    description="features.talkstation (declared) and TalkStation found in the hosts' installed software must be a "
    "3.2.x or 4.0.x release; skipped when TalkStation is neither declared nor found on any host, an error when "
    "some Windows / Solaris host's installed software was not examined in this run.",
)
def talkstation(ctx: CheckContext) -> Iterator[Finding]:
    declared = _feature_version(ctx, "talkstation")
    disc = discovered(ctx, "talkstation")
    versions = ({DECLARED: declared} if declared else {}) | disc.found
    if not versions:
        if disc.not_examined:
            yield ctx.error("TalkStation is not declared in the inventory (features.talkstation) and the installed software "
                            f"of these hosts was not examined: {disc.describe_not_examined()}; run their checks or declare "
                            "features.talkstation", values={"not_examined": disc.not_examined})
            return
        yield ctx.skip("TalkStation is not declared in the inventory (features.talkstation) and was not found on any host")
        return
    for where, text in versions.items():
        v = parse_version(text)
        values = {"version": text, "where": where}
        if v is None:
            yield ctx.error(f"TalkStation {_on(where, 'talkstation')}: version {text!r} could not be read; declare it in "
                            "features.talkstation", subject=where, values=values)
        elif v.startswith("3.2") or v.startswith("4.0"):
            yield ctx.passed(f"TalkStation {text} {_on(where, 'talkstation')}", subject=where, values=values)
        else:
            yield ctx.fail(f"TalkStation {text} {_on(where, 'talkstation')} must be upgraded to 3.2 or 4.0", subject=where, values=values)


@check(
    "prereq.reporting_rtf",
    "IMPAX Reporting reports migrated from DOC to RTF",
    "blocker",
    "site",
    features=("impax_reporting",),
    guide=GUIDE_PREREQ,
    remediation="For sites using IMPAX Reporting (IMPAX RIS and the integrated speech application in the IMPAX "
    "Client), you must migrate the reports from DOC to RTF format.",
    description="Declared, not discovered: features.reports_rtf_migrated must be true. Unset is an error (unverified).",
)
def reporting_rtf(ctx: CheckContext) -> Iterator[Finding]:
    done = ctx.site.features.reports_rtf_migrated
    if done is True:
        yield ctx.passed("the inventory states the reports were migrated from DOC to RTF", values={"reports_rtf_migrated": True})
    elif done is False:
        yield ctx.fail("IMPAX Reporting is used and the reports have not been migrated from DOC to RTF", values={"reports_rtf_migrated": False})
    else:
        yield ctx.error("IMPAX Reporting is used but features.reports_rtf_migrated is not set: confirm the DOC to RTF "
                        "migration and record it in the inventory", values={"reports_rtf_migrated": None})


_BROKER_MIGRATE = {
    "multi_site": "multi-site installation (report queries from multiple sources)",
    "vpn": "VPN site",
    "epr_hl7": "EPR integration with HL7 back-end messaging",
    "impax_ris": "IMPAX RIS integration",
    "ris_cd_burning": "IMPAX RIS CD burning",
    "cardiology": "cardiology integration",
}


@check(
    "prereq.pacs_broker",
    "PACS Broker migrated to Connectivity Manager or DICOM Interface SU2 installed",
    "blocker",
    "site",
    guide=GUIDE_PREREQ,
    remediation="If running PACS Broker 1.5.3, 1.5.4 or 1.5.5 with a multi-site installation, a VPN site, EPR "
    "integrations with HL7 backend messaging, IMPAX RIS integrations, IMPAX RIS CD burning, cardiology "
    "integrations, or a need for the new IMPAX and Connectivity Manager functionality, you must migrate to "
    "Connectivity Manager 2.2.1 or 2.3. Otherwise, to continue to use PACS Broker, install the PACS Broker DICOM "
    "Interface SU2.",
    description="PACS Broker version from features.pacs_broker or the hosts' software. 1.5.3/1.5.4/1.5.5 with any "
    "listed circumstance (features multi_site, vpn, epr_hl7, impax_ris, ris_cd_burning, cardiology, "
    "new_cm_features) fails: migrate to CM 2.2.1/2.3; without them SU2 must be installed (features.pacs_broker_su2 "
    "or found in the software). Another version fails: the guide covers only 1.5.3-1.5.5.",
)
def pacs_broker(ctx: CheckContext) -> Iterator[Finding]:
    f = ctx.site.features
    declared = _feature_version(ctx, "pacs_broker")
    disc = discovered(ctx, "pacs_broker")
    versions = ({DECLARED: declared} if declared else {}) | disc.found
    if not versions:
        if disc.not_examined:
            yield ctx.error("PACS Broker is not declared in the inventory (features.pacs_broker) and the installed software "
                            f"of these hosts was not examined: {disc.describe_not_examined()}; run their checks or declare "
                            "features.pacs_broker", values={"not_examined": disc.not_examined})
            return
        yield ctx.skip("PACS Broker is not declared in the inventory (features.pacs_broker) and was not found on any host")
        return
    reasons = [text for key, text in _BROKER_MIGRATE.items() if getattr(f, key, False)]
    if f.new_cm_features:
        reasons.append("new functionality required: " + ", ".join(f.new_cm_features))
    su2 = f.pacs_broker_su2
    if su2 is None and discovered(ctx, "pacs_broker_su2").found:
        su2 = True
    for where, text in versions.items():
        v = parse_version(text)
        values = {"version": text, "where": where, "circumstances": reasons, "su2": su2}
        if v is None:
            yield ctx.error(f"PACS Broker {_on(where, 'pacs_broker')}: version {text!r} could not be read; declare features.pacs_broker", subject=where, values=values)
        elif not any(v.startswith(x) for x in ("1.5.3", "1.5.4", "1.5.5")):
            yield ctx.fail(f"PACS Broker {text} {_on(where, 'pacs_broker')} is not 1.5.3, 1.5.4 or 1.5.5, which the upgrade guide covers: "
                           "migrate to Connectivity Manager 2.2.1 or 2.3", subject=where, values=values)
        elif reasons:
            yield ctx.fail(f"PACS Broker {text} {_on(where, 'pacs_broker')} must be migrated to Connectivity Manager 2.2.1 or 2.3: " + "; ".join(reasons),
                           subject=where, values=values)
        elif su2 is True:
            yield ctx.passed(f"PACS Broker {text} {_on(where, 'pacs_broker')} stays, with the PACS Broker DICOM Interface SU2 installed", subject=where, values=values)
        elif su2 is False:
            yield ctx.fail(f"PACS Broker {text} {_on(where, 'pacs_broker')} stays: install the PACS Broker DICOM Interface SU2", subject=where, values=values)
        else:
            yield ctx.error(f"PACS Broker {text} {_on(where, 'pacs_broker')} stays, but whether the DICOM Interface SU2 is installed is unknown: "
                            "set features.pacs_broker_su2", subject=where, values=values)


@hookimpl
def impax_register_checks(register):
    register_module_checks(register, globals())
