"""The DICOM checks: every AE answers a C-ECHO; the old and new archive hold the same studies per day.

Settings come from the inventory: ``[site.options."dicom"]`` for all DICOM checks (calling_ae,
timeout_s) and ``[site.options."<check id>"]`` for one check (these win).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, Iterator

from impax_preflight import check
from impax_preflight.check import CheckContext
from impax_preflight.model import Evidence, Finding

from . import net
from .net import DEFAULT_CALLING_AE, DicomError, Peer

GUIDE = "Migration Flow"
ARCHIVE_ROLES = ("archive", "old_archive", "new_archive")


def _options(site, check_id: str) -> dict[str, Any]:
    """Plugin-wide options ``[site.options."dicom"]`` overlaid with the check's own."""
    return {**site.options.get("dicom", {}), **site.options.get(check_id, {})}


def settings(ctx: CheckContext) -> dict[str, Any]:
    """This check's settings (plugin-wide options overlaid with the check's options)."""
    return _options(ctx.site, ctx.check.id)


def _calling_ae(opts: dict[str, Any]) -> str:
    return str(opts.get("calling_ae") or DEFAULT_CALLING_AE)


def _has_aes(site, host, db) -> bool | str:
    """the host lists DICOM AEs (aes = [...])"""
    if host is not None and host.aes:
        return True
    return "no DICOM AE listed for this host (aes = [...] in the inventory)"


@check(
    "dicom.echo",
    "DICOM application entities answer a C-ECHO",
    "blocker",
    "host",
    when=_has_aes,
    guide=GUIDE,
    remediation=(
        "Make the AE reachable before the upgrade: check that the DICOM service runs and listens on the "
        "declared port, that firewalls allow it, and that the AE accepts our calling AE title "
        "(site.options.dicom.calling_ae, default IMPAX_PREFLIGHT)."
    ),
    description=(
        "One association and one C-ECHO per AE listed for the host; one finding per AE. A failure is "
        "a blocker for archive AEs (roles archive, old_archive, new_archive) and a warning for any other AE."
    ),
)
def dicom_echo(ctx: CheckContext) -> Iterator[Finding]:
    opts = settings(ctx)
    calling = _calling_ae(opts)
    timeout = float(opts.get("timeout_s", 10.0))
    assert ctx.host is not None
    for ae in ctx.host.aes:
        peer = Peer(ae.ae_title, ae.address or ctx.host.reach, ae.port, ae.role)
        outcome = net.echo(peer, calling, ctx.remaining(timeout))
        evidence = Evidence(
            kind="dicom",
            source=f"C-ECHO from {calling} to {peer}",
            target=ctx.target_name,
            output=f"{outcome.state}: {outcome.message}",
            duration_s=round(outcome.duration_s, 4),
            transport="dicom",
        )
        values = {
            "ae_title": ae.ae_title,
            "address": peer.address,
            "port": ae.port,
            "role": ae.role,
            "state": outcome.state,
            "status": f"0x{outcome.status:04X}" if outcome.status is not None else None,
            "duration_s": round(outcome.duration_s, 3),
        }
        message = f"{peer} ({ae.role}): {outcome.message}"
        if outcome.ok:
            yield ctx.passed(message, subject=ae.ae_title, values=values, evidence=[evidence])
        elif ae.role in ARCHIVE_ROLES:
            yield ctx.fail(message, subject=ae.ae_title, values=values, evidence=[evidence])
        else:
            # the catalog's blocker is for archives; an unanswered modality or workstation is a warning
            yield ctx.warn(message, subject=ae.ae_title, values=values, evidence=[evidence])


def _peer_from_option(spec: Any, which: str, check_id: str = "dicom.study_count") -> Peer:
    if not isinstance(spec, dict) or not spec.get("ae_title") or not spec.get("address") or not spec.get("port"):
        raise ValueError(
            f"site.options.\"{check_id}\".{which} must be {{ ae_title = \"...\", address = \"...\", port = 104 }}"
        )
    return Peer(str(spec["ae_title"]), str(spec["address"]), int(spec["port"]), f"{which}_archive")


def _archive_peers(inventory, opts: dict[str, Any], check_id: str = "dicom.study_count") -> tuple[Peer, Peer] | str:
    """(old, new) from the options, else from AE roles old_archive / new_archive; or why not.

    Raises ValueError when the options name them badly.
    """
    if "old" in opts or "new" in opts:
        return _peer_from_option(opts.get("old"), "old", check_id), _peer_from_option(opts.get("new"), "new", check_id)
    found: dict[str, list[Peer]] = {"old_archive": [], "new_archive": []}
    for host in inventory.hosts:
        for ae in host.aes:
            if ae.role in found:
                found[ae.role].append(Peer(ae.ae_title, ae.address or host.reach, ae.port, ae.role))
    for role, peers in found.items():
        if len(peers) > 1:
            return f"several AEs have role {role} ({', '.join(map(str, peers))}): name the pair in site.options.\"{check_id}\""
    if not found["old_archive"] or not found["new_archive"]:
        return "needs one AE with role old_archive and one with role new_archive (or options old / new)"
    return found["old_archive"][0], found["new_archive"][0]


def _archive_pair_declared(site, host, db, inventory=None, check_id: str = "dicom.study_count") -> bool | str:
    """an old and a new archive are named (AE roles old_archive / new_archive, or options old / new)"""
    if inventory is None:
        return True
    try:
        pair = _archive_peers(inventory, _options(site, check_id), check_id)
    except ValueError:
        return True  # badly written options: the check runs and reports them as an error
    return pair if isinstance(pair, str) else True


@check(
    "dicom.study_count",
    "The old and the new archive hold the same number of studies per day",
    "warning",
    "site",
    when=_archive_pair_declared,
    guide=GUIDE,
    remediation=(
        "For each day listed, reconcile the two archives before cut-over: re-run the migration for that "
        "day and confirm safe storage on the new archive (storage commitment or a DICOM query)."
    ),
    description=(
        "Study Root C-FIND at STUDY level, one query per day over a window of completed days (default: the 7 "
        "days ending yesterday), on the old and the new archive, compared day by day. Runs only inside the "
        "configured time window (default 20:00-06:00, local time) with a pause between queries, so a "
        "production PACS is never loaded during clinical hours."
    ),
)
def dicom_study_count(ctx: CheckContext) -> Iterator[Finding]:
    opts = settings(ctx)
    try:
        window = net.parse_window(str(opts.get("window", "20:00-06:00")))
        pair = _archive_peers(ctx.inventory, opts)
        days = int(opts.get("days", 7))
        if not 1 <= days <= 366:
            raise ValueError(f"days = {days}: give 1 to 366")
        end = dt.date.fromisoformat(str(opts["end_date"])) if "end_date" in opts else dt.date.today() - dt.timedelta(days=1)
        pause = float(opts.get("pause_s", 1.0))
    except (ValueError, TypeError) as exc:
        yield ctx.error(f"bad settings in site.options.\"dicom.study_count\": {exc}")
        return
    if isinstance(pair, str):
        yield ctx.skip(pair)
        return
    now = dt.datetime.now()
    if not net.in_window(window, now.time()):
        yield ctx.skip(
            f"outside the query window {opts.get('window', '20:00-06:00')} (now {now:%H:%M}): not loading a production "
            "PACS during clinical hours; run again inside the window or change site.options.\"dicom.study_count\".window"
        )
        return
    old, new = pair
    calling = _calling_ae(opts)
    timeout = float(opts.get("timeout_s", 30.0))
    dates = [end - dt.timedelta(days=i) for i in range(days - 1, -1, -1)]
    counts: dict[str, dict[str, int]] = {"old": {}, "new": {}}
    lines = ["date        old    new"]
    subject = f"{old.ae_title} vs {new.ae_title}"

    def evidence(extra: str = "") -> list[Evidence]:
        return [
            Evidence(
                kind="dicom",
                source=(
                    f"C-FIND STUDY (Study Root) per StudyDate {dates[0]:%Y%m%d}..{dates[-1]:%Y%m%d} from {calling} "
                    f"on old {old} and new {new}, pause {pause:g}s"
                ),
                target="site",
                output="\n".join(lines + ([extra] if extra else [])),
                transport="dicom",
            )
        ]

    first = True
    for day in dates:
        row: dict[str, int] = {}
        for label, peer in (("old", old), ("new", new)):
            if not first and pause > 0:
                time.sleep(pause)  # spread the load, as the migration software itself does
            first = False
            # leave the runner's deadline to the runner only as a last resort: stop cleanly with what we know
            if ctx.deadline is not None and ctx.deadline - time.monotonic() < 2.0:
                yield ctx.error(
                    f"stopped before {day.isoformat()}: not enough time left for another query; lower days or pause_s, "
                    "or raise thresholds.check_timeout_s",
                    subject=subject,
                    evidence=evidence(),
                )
                return
            try:
                row[label] = net.count_studies(peer, day, calling, ctx.remaining(timeout))
            except DicomError as exc:
                yield ctx.error(f"cannot count studies of {day.isoformat()}: {exc}", subject=subject, evidence=evidence(str(exc)))
                return
            counts[label][day.isoformat()] = row[label]
        lines.append(f"{day.isoformat()}  {row['old']:>5}  {row['new']:>5}" + ("" if row["old"] == row["new"] else "  differs"))

    differing = [
        {"date": d, "old": counts["old"][d], "new": counts["new"][d]} for d in counts["old"] if counts["old"][d] != counts["new"][d]
    ]
    values = {
        "days": len(dates),
        "first_day": dates[0].isoformat(),
        "last_day": dates[-1].isoformat(),
        "old_total": sum(counts["old"].values()),
        "new_total": sum(counts["new"].values()),
        "old": counts["old"],
        "new": counts["new"],
        "differing": differing,
        "value": len(differing),
    }
    if not differing:
        yield ctx.passed(
            f"{old} and {new} agree on all {len(dates)} days ({values['old_total']} studies)",
            subject=subject,
            values=values,
            evidence=evidence(),
        )
        return
    listed = "; ".join(f"{d['date']}: old {d['old']}, new {d['new']}" for d in differing[:15])
    more = f" and {len(differing) - 15} more" if len(differing) > 15 else ""
    yield ctx.problem(
        f"study counts differ on {len(differing)} of {len(dates)} days — {listed}{more}",
        subject=subject,
        values=values,
        evidence=evidence(),
    )
