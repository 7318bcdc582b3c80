"""Cluster clock skew (issue 13): every host's clock against the others and against this machine.

Database mirroring and its witness, Kerberos logons (5 minutes of skew by default) and the order of
events across servers all depend on clocks that agree. Each host's clock is read during the run by
a probe, bracketed by this machine's clock before and after the command: the host's reading lies
within that interval, so the offset is known to within half the round trip (plus the reading's own
resolution). A bundle collected by the collector scripts is stamped by the server's own clock,
which cannot tell how far off that clock is: such a host is reported as not measured. A bundle
impax-preflight wrote itself (``"clock": "impax-preflight"`` in its manifest) is compared with its
collection time, and the figure is as of collection.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterator

from impax_preflight import options
from impax_preflight.check import CheckContext, check, register_module_checks
from impax_preflight.hookspecs import hookimpl
from impax_preflight.model import Evidence, Finding
from impax_preflight.parsers.clock import parse_epoch, parse_wmic_localdatetime
from impax_preflight.probes import ReadError, probe

HOST_CLOCK = probe(
    "host.clock",
    "the host's clock (seconds since the epoch, UTC)",
    solaris=[
        # Solaris 10 `date` has no %s: Perl 5.8 (with the core Time::HiRes) ships in /usr/bin, nawk everywhere
        ("perl -MTime::HiRes=time -e 'printf(\"%.3f\\n\", time)'", parse_epoch),
        ("perl -e 'print time, \"\\n\"'", parse_epoch),
        ("nawk 'BEGIN { srand(); print srand() }'", parse_epoch),
    ],
    linux=[("date +%s.%N", parse_epoch)],
    windows=[
        ("wmic os get LocalDateTime /value", parse_wmic_localdatetime),
        ('powershell -NoProfile -Command "[DateTime]::UtcNow.ToString(\'yyyyMMddHHmmss.ffffff\') + \'+000\'"', parse_wmic_localdatetime),
    ],
    timeout_s=30,
)


@dataclass
class _Measure:
    host: str
    offset: float | None = None  # host clock minus this machine's, seconds
    uncertainty: float | None = None
    how: str = ""  # "live" | "bundle"
    error: str | None = None
    unmeasurable: str | None = None
    evidence: list[Evidence] = field(default_factory=list)
    reading: Any = None


def _measure(ctx: CheckContext, name: str) -> _Measure:
    m = _Measure(name)
    t0 = time.time()
    try:
        reading = ctx.reading(HOST_CLOCK, host=name)
    except ReadError as exc:
        m.error, m.evidence = exc.reason, list(exc.evidence)
        return m
    except Exception as exc:  # noqa: BLE001 - a host that cannot be read is an error for that host, not for the others
        m.error = f"{type(exc).__name__}: {exc}"
        return m
    t1 = time.time()
    m.evidence, m.reading = list(reading.evidence), reading.value
    reading_ctx = reading.context or {}
    if reading_ctx.get("transport") == "bundle":
        m.how = "bundle"
        if reading_ctx.get("clock") != "impax-preflight":
            m.unmeasurable = ("read from a bundle that the server stamped with its own clock: how far that clock is off cannot be "
                              f"told from it (the host read {reading.value.utc:%Y-%m-%d %H:%M:%S} UTC at collection)")
            return m
        try:
            stamp = datetime.fromisoformat(str(reading_ctx.get("collected_at")).replace("Z", "+00:00"))
        except ValueError:
            m.unmeasurable = f"the bundle's collection time {reading_ctx.get('collected_at')!r} is not a time"
            return m
        stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)
        m.offset = reading.value.epoch - stamp.timestamp()
        m.uncertainty = 1.0 + reading.value.resolution_s  # the stamp has whole seconds
        return m
    m.how = "live"
    m.offset = reading.value.epoch - (t0 + t1) / 2
    m.uncertainty = (t1 - t0) / 2 + reading.value.resolution_s
    return m


@check(
    "site.clock_skew",
    "Every host's clock agrees with the others and with this machine",
    "blocker",
    "site",
    guide="Checking the operating system",
    probes=[HOST_CLOCK],
    remediation="Point every server at the same time source and let it step the clock: Windows `w32tm /config "
    "/manualpeerlist:<ntp server> /syncfromflags:manual /update` then `w32tm /resync` (domain members follow the domain "
    "controllers: fix the PDC emulator's source); Solaris 10 `svcadm enable ntp` with the server in /etc/inet/ntp.conf "
    "(Solaris 11: the same service). A clock more than 5 minutes off breaks Kerberos logons and confuses database "
    "mirroring and its witness.",
    description="Reads each host's clock during the run (Solaris: perl's time — Solaris 10's date has no %s — or nawk's "
    "srand(); Windows: wmic os get LocalDateTime, PowerShell where wmic is gone), bracketed by this machine's clock, so "
    "each offset is known to within half the command's round trip. The reference is this machine's clock when at least "
    "half of the hosts agree with it within tolerance_s (60), else the hosts' median (a warning then says this machine's "
    "clock is off). A host more than fail_s (300, Kerberos' default limit) from the reference fails; more than "
    "tolerance_s warns, as does one whose offset cannot be told within the tolerance. A host that cannot be reached is an "
    "error for that host. A host read from a collector bundle cannot be measured (the server stamped the bundle with its "
    "own clock): it warns; bundles impax-preflight wrote itself are compared with their collection time. Every host of "
    "the inventory is read (a run limited with --host runs no site check). Options: tolerance_s, fail_s (at least "
    "tolerance_s).",
    options={"tolerance_s": options.number(0, 86_400, "a number of seconds", lo_open=True),
             "fail_s": options.number(0, 86_400, "a number of seconds", lo_open=True)},
)
def clock_skew(ctx: CheckContext) -> Iterator[Finding]:
    tol = float(ctx.options.get("tolerance_s", 60))
    fail_s = float(ctx.options.get("fail_s", 300))
    if fail_s < tol:
        yield ctx.error(f"[site.options.\"site.clock_skew\"] fail_s ({fail_s:g} s) is below tolerance_s ({tol:g} s): a clock "
                        "would fail before it warns; set fail_s to at least tolerance_s", subject="settings")
        return
    names = [h.name for h in ctx.inventory.hosts]  # a run limited with --host runs no site check
    with ThreadPoolExecutor(max_workers=min(8, max(1, len(names))), thread_name_prefix="clock") as pool:
        measures = list(pool.map(lambda n: _measure(ctx, n), names))
    for m in measures:
        if m.error:
            yield ctx.error(f"{m.host}: the clock could not be read: {m.error}", subject=m.host, evidence=m.evidence)
        elif m.unmeasurable:
            yield ctx.warn(f"{m.host}: clock not verified — {m.unmeasurable}; compare it by hand (w32tm /stripchart, ntpq -p) or "
                           "run the check over SSH", subject=m.host, evidence=m.evidence, values={"measured": False})
    measured = [m for m in measures if m.offset is not None]
    if not measured:
        if not measures:
            yield ctx.skip("no host in the inventory")
        return
    agree_with_tool = [m for m in measured if abs(m.offset) <= tol]
    if len(agree_with_tool) * 2 >= len(measured):
        ref, ref_name = 0.0, "this machine's clock"
    else:
        ref = statistics.median(m.offset for m in measured)
        ref_name = "the hosts' median clock"
        yield ctx.warn(f"this machine's clock differs from most hosts by about {ref:+.0f} s: the hosts are compared with each other "
                       "instead; correct this machine's time", subject="this machine", values={"median_offset_s": round(ref, 3)})
    for m in measured:
        dev = m.offset - ref
        unc = m.uncertainty or 0.0
        as_of = " (as of the bundle's collection)" if m.how == "bundle" else ""
        values = {"offset_s": round(m.offset, 3), "deviation_s": round(dev, 3), "uncertainty_s": round(unc, 3), "reference": ref_name,
                  "measured": m.how, "tolerance_s": tol}
        text = f"{m.host}: clock {dev:+.1f} s (± {unc:.1f} s) from {ref_name}{as_of}"
        if abs(dev) - unc > fail_s:
            yield ctx.fail(f"{text}: more than {fail_s:g} s off", subject=m.host, evidence=m.evidence, values=values)
        elif abs(dev) - unc > tol:
            yield ctx.warn(f"{text}: more than the tolerance of {tol:g} s", subject=m.host, evidence=m.evidence, values=values)
        elif abs(dev) + unc > tol:
            yield ctx.warn(f"{text}: cannot tell whether it is within {tol:g} s (the read took {2 * unc:.1f} s)", subject=m.host,
                           evidence=m.evidence, values=values)
        else:
            yield ctx.passed(f"{text}: within {tol:g} s", subject=m.host, evidence=m.evidence, values=values)


@hookimpl
def impax_register_checks(register):
    register_module_checks(register, globals())
