"""One run: facts per host -> plan -> parallel execution with limits -> site checks -> verdict.

Every failure becomes a finding. An exception inside a check, a hung check, an unreachable host or
a refused login never crashes the run: the other findings are kept, and each finding is appended
to ``results.jsonl`` the moment it exists.
"""

from __future__ import annotations

import fnmatch
import getpass
import json
import logging
import socket
import threading
import time
import traceback
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Callable, Iterable

from pydantic import BaseModel, ConfigDict

from . import __version__
from .check import Check, CheckContext, Memo, as_findings
from .db.base import DatabaseError
from .db.readonly import ReadOnlyViolation
from .inventory import Database, Host, Inventory
from .model import (
    Finding,
    NotRun,
    RunReport,
    Status,
    Waiver,
    compute_verdict,
    utcnow,
)
from .plugins import PluginSet, load_plugins
from .secrets import SecretError, mask, masker
from .transports.base import TransportError

log = logging.getLogger("impax_preflight")

ProgressFn = Callable[..., None]


# ---- waivers ---------------------------------------------------------------------------------


class _WaiverFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    waiver: list[Waiver] = []


def load_waivers(path: str | Path) -> list[Waiver]:
    """Read a waivers file (TOML `[[waiver]]` tables, or YAML). Raises ValueError naming file:line:field."""
    from pydantic import ValidationError

    from .inventory import DocumentError, read_document, validation_problems

    try:
        data, lines = read_document(path, "waivers")
    except DocumentError as exc:
        raise ValueError(str(exc)) from None
    if isinstance(data, list):  # a bare YAML list of waivers
        data, lines = {"waiver": data}, {("waiver",) + k: v for k, v in lines.items()}
    try:
        return _WaiverFile.model_validate(data or {}).waiver
    except ValidationError as exc:
        raise ValueError("\n".join(validation_problems(path, lines, exc))) from None


def waiver_expired(w: Waiver, today: date | None = None) -> bool:
    if not w.expires:
        return False
    try:
        return date.fromisoformat(w.expires[:10]) < (today or date.today())
    except ValueError:
        return True  # an unreadable expiry date must not silently waive forever


def match_waiver(finding: Finding, waivers: Iterable[Waiver]) -> Waiver | None:
    for w in waivers:
        if fnmatch.fnmatchcase(finding.key, w.match) or fnmatch.fnmatchcase(finding.check_id, w.match):
            return w
    return None


# ---- connections -----------------------------------------------------------------------------


class _Once:
    """Open a resource once; remember a failure so a refused login is not retried (account lockout)."""

    def __init__(self, opener: Callable[[], Any]):
        self._opener = opener
        self._lock = threading.Lock()
        self._value: Any = None
        self._error: BaseException | None = None
        self._opened = False

    def get(self) -> Any:
        with self._lock:
            if self._error is not None:
                raise self._error
            if not self._opened:
                try:
                    self._value = self._opener()
                except BaseException as exc:
                    self._error = exc
                    raise
                self._opened = True
            return self._value

    @property
    def failed(self) -> BaseException | None:
        return self._error

    def close(self) -> None:
        with self._lock:
            if self._opened and self._value is not None:
                try:
                    self._value.close()
                except Exception:  # noqa: BLE001 - closing must never fail a run
                    pass


class _SessionPool:
    """At most `limit` concurrent sessions on one database; sessions reused; first failure remembered."""

    def __init__(self, opener: Callable[[], Any], limit: int):
        self._opener = opener
        self.slots = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self._free: list[Any] = []
        self._all: list[Any] = []
        self._error: BaseException | None = None

    def take(self) -> Any:
        with self._lock:
            if self._error is not None:
                raise self._error
            if self._free:
                return self._free.pop()
        try:
            s = self._opener()
        except BaseException as exc:
            with self._lock:
                self._error = exc
            raise
        with self._lock:
            self._all.append(s)
        return s

    def give_back(self, s: Any) -> None:
        with self._lock:
            self._free.append(s)

    def close(self) -> None:
        for s in self._all:
            try:
                s.close()
            except Exception:  # noqa: BLE001
                pass


# ---- the plan --------------------------------------------------------------------------------


@dataclass
class PlanItem:
    check: Check
    host: Host | None = None
    database: Database | None = None

    @property
    def target(self) -> str:
        if self.database is not None and self.host is not None:
            return f"{self.host.name}/{self.database.name}"
        return self.host.name if self.host else "site"


def _selected(check_id: str, only: Iterable[str], skip: Iterable[str]) -> str | None:
    only, skip = list(only), list(skip)
    if only and not any(fnmatch.fnmatchcase(check_id, p) for p in only):
        return "not selected by --only"
    if any(fnmatch.fnmatchcase(check_id, p) for p in skip):
        return "excluded by --skip"
    return None


def build_plan(
    inventory: Inventory,
    checks: Iterable[Check],
    only: Iterable[str] = (),
    skip: Iterable[str] = (),
    hosts: Iterable[str] = (),
) -> tuple[list[PlanItem], list[NotRun]]:
    """Every check x every target it applies to; and why the rest do not run.

    `hosts` (globs on host names) limits the run to those hosts; site checks, which judge the whole
    cluster, are then not run rather than run on a partial picture.
    """
    plan: list[PlanItem] = []
    not_run: list[NotRun] = []
    site = inventory.site
    host_globs = list(hosts)
    for chk in sorted(checks, key=lambda c: c.id):
        why = _selected(chk.id, only, skip)
        if why:
            not_run.append(NotRun(check_id=chk.id, reason=why))
            continue
        if host_globs and chk.target == "site":
            not_run.append(NotRun(check_id=chk.id, target="site", reason="site check: the run was limited with --host"))
            continue
        if chk.target == "site":
            r = chk.applies.reason_not(site, None, None, inventory)
            (not_run.append(NotRun(check_id=chk.id, target="site", reason=r)) if r else plan.append(PlanItem(chk)))
            continue
        for host in inventory.hosts:
            if host_globs and not any(fnmatch.fnmatchcase(host.name, g) for g in host_globs):
                continue
            if chk.target == "host":
                r = chk.applies.reason_not(site, host, None, inventory)
                if r:
                    not_run.append(NotRun(check_id=chk.id, target=host.name, reason=r))
                else:
                    plan.append(PlanItem(chk, host))
            else:
                if not host.databases:
                    continue
                for db in host.databases:
                    r = chk.applies.reason_not(site, host, db, inventory)
                    if r:
                        not_run.append(NotRun(check_id=chk.id, target=f"{host.name}/{db.name}", reason=r))
                    else:
                        plan.append(PlanItem(chk, host, db))
        if chk.target == "database" and not any(h.databases for h in inventory.hosts):
            not_run.append(NotRun(check_id=chk.id, reason="no database in the inventory"))
    return plan, not_run


# ---- executing one check ---------------------------------------------------------------------


def _error_message(exc: BaseException) -> tuple[str, bool]:
    """(message for the finding, whether a traceback is worth attaching)."""
    name = type(exc).__name__
    text = str(exc) or name
    if isinstance(exc, ReadOnlyViolation):
        return f"refused by the read-only guard: {text}", False
    if isinstance(exc, TransportError):
        return text, False
    if isinstance(exc, DatabaseError):
        return text, False
    if isinstance(exc, SecretError):
        return f"secret could not be resolved: {text}", False
    if name == "ParseError":
        excerpt = getattr(exc, "excerpt", None)
        cmd = getattr(exc, "command", None)
        msg = f"could not understand the output{f' of `{cmd}`' if cmd else ''}: {text}"
        if excerpt:
            msg += f" — excerpt: {str(excerpt)[:300]!r}"
        return msg, False
    return f"the check itself failed ({name}: {text}); the rest of the run is unaffected — report this to the check's provider", True


def execute_check(
    ctx: CheckContext,
    timeout: float,
    on_done: Callable[[], None] | None = None,
    abort: threading.Event | None = None,
) -> list[Finding]:
    """Run one check on one target with a timeout. Never raises: problems become `error` findings.

    The check runs in its own daemon thread; on timeout it is abandoned (the call returns an error
    finding) and `on_done` (which releases the session slot) runs only when the thread really ends.
    """
    produced: list[Finding] = []
    failure: list[BaseException] = []
    tb: list[str] = []

    def body() -> None:
        try:
            for f in as_findings(ctx.check.func(ctx)):
                produced.append(f)
        except BaseException as exc:  # noqa: BLE001 - everything becomes a finding
            failure.append(exc)
            tb.append(traceback.format_exc())
        finally:
            if on_done:
                on_done()

    start = time.monotonic()
    t = threading.Thread(target=body, name=f"check {ctx.check.id}@{ctx.target_name}", daemon=True)
    t.start()
    deadline = start + timeout
    while t.is_alive() and time.monotonic() < deadline:
        t.join(min(0.2, max(0.0, deadline - time.monotonic())))
        if abort is not None and abort.is_set():
            return []  # the run was interrupted: nothing more is reported for this check
    elapsed = time.monotonic() - start
    findings = list(produced)
    if t.is_alive():
        findings.append(
            ctx.error(
                f"timed out after {timeout:g}s and was abandoned; raise thresholds.check_timeout_s or look at the "
                "evidence for the command or query that hung"
            )
        )
    elif failure:
        exc = failure[0]
        if isinstance(exc, KeyboardInterrupt):
            raise exc
        msg, with_tb = _error_message(exc)
        if with_tb:
            ctx.note(tb[0][-4000:], source="traceback")
        findings.append(ctx.error(msg))
    elif not findings:
        findings.append(ctx.error("the check produced no finding (a bug in the check): it cannot be counted as passed"))
    for f in findings:
        if f.duration_s is None:
            f.duration_s = round(elapsed, 4)
    return findings


# ---- the run ---------------------------------------------------------------------------------


@dataclass
class _Run:
    """The state one run shares between its worker threads."""

    inventory: Inventory
    plugins: PluginSet
    waivers: list[Waiver]
    progress: ProgressFn | None
    check_timeout_s: float | None = None
    findings: list[Finding] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    abort: threading.Event = field(default_factory=threading.Event)
    jsonl: Any = None
    #: per host: its shell (opened once), its session slots, its facts, why it is down
    shells: dict[str, _Once] = field(default_factory=dict)
    host_slots: dict[str, threading.BoundedSemaphore] = field(default_factory=dict)
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)
    host_down: dict[str, str] = field(default_factory=dict)
    #: per database: its session pool; per target: compute-once values (fused table scans)
    pools: dict[tuple[str, str], _SessionPool] = field(default_factory=dict)
    memos: dict[str, Memo] = field(default_factory=dict)
    #: the report folder, given to checks that write a side file beside the report (e.g. a CSV)
    out_dir: Path | None = None

    def __post_init__(self) -> None:
        registry, th = self.plugins.registry, self.inventory.site.thresholds
        for host in self.inventory.hosts:
            self.shells[host.name] = _Once(_shell_opener(registry, host))
            self.host_slots[host.name] = threading.BoundedSemaphore(th.sessions_per_host)
            self.facts[host.name] = dict(host.facts)
            for db in host.databases:
                limit = db.max_sessions or th.sessions_per_database
                self.pools[(host.name, db.name)] = _SessionPool(_db_opener(registry, db, host), limit)

    def open_results(self, out_dir: Path) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.out_dir = out_dir
        self.jsonl = open(out_dir / "results.jsonl", "w", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def memo(self, target: str) -> Memo:
        with self.lock:
            return self.memos.setdefault(target, Memo())

    def close(self) -> None:
        for s in self.shells.values():
            s.close()
        for p in self.pools.values():
            p.close()
        if self.jsonl is not None:
            self.jsonl.close()

    def emit(self, f: Finding) -> Finding:
        f = Finding.model_validate(masker.mask_obj(f.model_dump()))
        if f.status in (Status.FAIL, Status.WARN, Status.ERROR):
            w = match_waiver(f, self.waivers)
            if w is not None:
                f = f.model_copy(update={"waiver": w, "waived_status": f.status, "status": Status.WAIVED})
        with self.lock:
            self.findings.append(f)
            if self.jsonl is not None:
                self.jsonl.write(json.dumps(f.model_dump(mode="json"), ensure_ascii=False) + "\n")
                self.jsonl.flush()
        try:
            self.plugins.pm.hook.impax_finding(finding=f)
        except Exception as exc:  # noqa: BLE001 - an observer must not break the run
            log.warning("an impax_finding hook failed: %s", mask(str(exc)))
        if self.progress:
            self.progress("finding", finding=f)
        return f

    def snapshot(self) -> list[Finding]:
        with self.lock:
            return list(self.findings)


def run_preflight(
    inventory: Inventory,
    *,
    only: Iterable[str] = (),
    skip: Iterable[str] = (),
    hosts: Iterable[str] = (),
    jobs: int = 32,
    plugins: PluginSet | None = None,
    out_dir: str | Path | None = None,
    waivers: Iterable[Waiver] | str | Path | None = None,
    bundles: dict[str, str] | None = None,
    check_timeout_s: float | None = None,
    progress: ProgressFn | None = None,
) -> RunReport:
    """Run the catalog against a site and return the report. Never raises for a check's problem.

    `out_dir`, when given, receives ``results.jsonl`` as findings happen (reporters are the
    caller's business: see `write_reports`). `bundles` maps host names to collected bundles,
    overriding those hosts' transport.
    """
    plugins = plugins or load_plugins()
    inventory = _with_bundles(inventory, bundles or {})
    if isinstance(waivers, (str, Path)):
        waivers = load_waivers(waivers)
    all_waivers = list(waivers or [])
    active = [w for w in all_waivers if not waiver_expired(w)]
    expired = [w for w in all_waivers if waiver_expired(w)]

    started, t0 = utcnow(), time.monotonic()
    registry = plugins.registry
    host_globs = list(hosts)
    known = [h.name for h in inventory.hosts]
    for g in host_globs:
        if not any(fnmatch.fnmatchcase(n, g) for n in known):
            raise ValueError(f"--host {g!r} matches no host of the inventory (hosts: {', '.join(known)})")
    plan, not_run = build_plan(inventory, registry.checks.values(), only, skip, host_globs)
    warnings = list(plugins.warnings)
    for where, ref in inventory.secret_refs():
        if ref.is_plain:
            warnings.append(f"{where} holds a literal password (plain:): use env:, file:, keyring: or prompt: instead")

    run = _Run(inventory, plugins, active, progress, check_timeout_s)
    if out_dir:
        run.open_results(Path(out_dir))
    if progress:
        progress("plan", total=len(plan))
    interrupted = False
    executor = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="preflight")
    pending: set[Future] = set()
    try:
        # 1. facts, in parallel, for hosts that have host checks
        for name in sorted({i.host.name for i in plan if i.check.target == "host" and i.host}):
            pending.add(executor.submit(_collect_facts, run, inventory.host(name)))
        _wait_all(pending)
        # 2. host and database checks, in parallel with per-host / per-database limits
        pending.update(executor.submit(_run_item, run, item) for item in plan if item.check.target != "site")
        _wait_all(pending)
        # 3. site checks see every host's findings
        pending.update(executor.submit(_run_item, run, item) for item in plan if item.check.target == "site")
        _wait_all(pending)
    except KeyboardInterrupt:
        interrupted = True
        run.abort.set()  # workers stop waiting for their checks at once
        for fut in pending:
            fut.cancel()
        done = {(f.check_id, f.target) for f in run.snapshot()}
        for item in plan:
            if (item.check.id, item.target) not in done:
                not_run.append(NotRun(check_id=item.check.id, target=item.target, reason="interrupted before it finished"))
        warnings.append("the run was interrupted (Ctrl-C): this report is partial and cannot say GO")
    finally:
        executor.shutdown(wait=not interrupted, cancel_futures=True)
        run.close()

    findings = sorted(run.snapshot(), key=_finding_order)
    verdict = compute_verdict(findings, interrupted)
    finished = utcnow()
    report = RunReport(
        tool_version=__version__,
        run_id=started.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6],
        site=inventory.site.name,
        inventory=masker.mask_obj(inventory.summary()),
        operator=_operator(),
        started_at=started,
        finished_at=finished,
        duration_s=round(time.monotonic() - t0, 3),
        interrupted=interrupted,
        verdict=verdict,
        findings=findings,
        checks=[c.info(registry.check_providers.get(c.id)) for c in sorted(registry.checks.values(), key=lambda c: c.id)],
        not_run=not_run,
        plugins=plugins.plugins,
        warnings=[mask(w) for w in warnings],
        expired_waivers=expired,
    )
    try:
        plugins.pm.hook.impax_run_finished(report=report)
    except Exception as exc:  # noqa: BLE001
        log.warning("an impax_run_finished hook failed: %s", mask(str(exc)))
    return report


def _wait_all(pending: set[Future]) -> None:
    # wait in short slices so Ctrl-C reaches the main thread promptly
    while pending:
        done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
        for fut in done:
            pending.discard(fut)
            fut.result()


def _finding_order(f: Finding) -> tuple:
    return (f.status.rank, f.severity.rank, f.host or "", f.check_id, f.subject or "")


def _operator() -> str | None:
    try:
        return f"{getpass.getuser()}@{socket.gethostname()}"
    except Exception:  # noqa: BLE001
        return None


def _with_bundles(inventory: Inventory, bundles: dict[str, str]) -> Inventory:
    if not bundles:
        return inventory
    names = {h.name for h in inventory.hosts}
    unknown = set(bundles) - names
    if unknown:
        raise ValueError(f"--bundle names unknown host(s): {', '.join(sorted(unknown))} (inventory has: {', '.join(sorted(names))})")
    inv = inventory.model_copy(deep=True)
    for h in inv.hosts:
        if h.name in bundles:
            h.transport = h.transport.model_copy(update={"kind": "bundle", "bundle": str(Path(bundles[h.name]).resolve())})
    inv.source = inventory.source
    return inv


def _shell_opener(registry, host: Host) -> Callable[[], Any]:
    def open_shell():
        factory = registry.transports.get(host.transport.kind)
        if factory is None:
            raise TransportError(
                f"host {host.name}: no transport '{host.transport.kind}' (available: {', '.join(sorted(registry.transports))})"
            )
        try:
            return factory(host)
        except (TransportError, SecretError):
            raise
        except Exception as exc:  # noqa: BLE001 - a transport plugin's bug is still just this host's problem
            raise TransportError(f"host {host.name}: cannot open a {host.transport.kind} session: {mask(str(exc))}") from None

    return open_shell


def _db_opener(registry, db: Database, host: Host) -> Callable[[], Any]:
    def open_session():
        factory = registry.databases.get(db.kind)
        if factory is None:
            raise DatabaseError(f"no database driver for kind '{db.kind}' (available: {', '.join(sorted(registry.databases))})")
        try:
            return factory(db, host)
        except (DatabaseError, SecretError):
            raise
        except Exception as exc:  # noqa: BLE001
            raise DatabaseError(f"{host.name}/{db.name}: cannot open a {db.kind} session: {mask(str(exc))}") from None

    return open_session


def _collect_facts(run: _Run, host: Host) -> None:
    try:
        sh = run.shells[host.name].get()
    except BaseException as exc:  # noqa: BLE001
        run.host_down[host.name] = mask(str(exc) or type(exc).__name__)
        return
    gathered: dict[str, Any] = {}
    errors: list[str] = []
    kwargs = {"host": host, "shell": sh, "site": run.inventory.site}
    for impl in run.plugins.pm.hook.impax_collect_facts.get_hookimpls():
        try:
            got = impl.function(**{k: v for k, v in kwargs.items() if k in impl.argnames})
        except Exception as exc:  # noqa: BLE001 - a fact collector must not stop the host's checks
            errors.append(mask(f"{impl.plugin_name}: {type(exc).__name__}: {exc}"))
            continue
        if got:
            gathered.update(got)
    # declared facts fill what discovery could not tell
    declared = dict(host.facts)
    merged = {**declared, **{k: v for k, v in gathered.items() if v not in (None, "", [], {})}}
    merged["declared"] = declared
    if errors:
        merged["errors"] = list(merged.get("errors", [])) + errors
    run.facts[host.name] = merged


def _run_item(run: _Run, item: PlanItem) -> None:
    if run.abort.is_set():
        return
    chk, host, db = item.check, item.host, item.database
    timeout = run.check_timeout_s or chk.timeout_s or run.inventory.site.thresholds.check_timeout_s

    slot: threading.BoundedSemaphore | None = None
    pool: _SessionPool | None = None
    session_box: list[Any] = []  # one database session per check, taken only when it queries
    sql_factory = None
    if db is not None and host is not None:
        pool = run.pools[(host.name, db.name)]
        slot = pool.slots

        def sql_factory():
            if not session_box:
                session_box.append(pool.take())
            return session_box[0]
    elif host is not None:
        slot = run.host_slots[host.name]

    ctx = CheckContext(
        chk,
        run.inventory,
        host=host,
        database=db,
        shell_factory=run.shells[host.name].get if host else None,
        sql_factory=sql_factory,
        facts=run.facts.get(host.name, {}) if host else {},
        all_facts=run.facts,
        findings_so_far=run.snapshot,
        memo=run.memo(item.target),
        provider=run.plugins.registry.check_providers.get(chk.id),
        output_dir=run.out_dir,
        progress=_check_progress(run, chk.id, item.target),
    )
    if host is not None and chk.target == "host" and host.name in run.host_down:
        run.emit(ctx.error(f"host unreachable: {run.host_down[host.name]}"))
        return
    if slot is not None and not slot.acquire(timeout=timeout):
        run.emit(ctx.error(f"no free session on {item.target} within {timeout:.0f}s (earlier checks still hold them)"))
        return

    def release() -> None:  # runs when the check's thread really ends, even after a timeout
        if pool is not None and session_box:
            pool.give_back(session_box[0])
        if slot is not None:
            slot.release()

    ctx.deadline = time.monotonic() + timeout
    for f in execute_check(ctx, timeout, on_done=release, abort=run.abort):
        run.emit(f)
    if run.progress:
        run.progress("done", check_id=chk.id, target=item.target)


def _check_progress(run: _Run, check_id: str, target: str) -> Callable[..., None] | None:
    """A long check's own progress (``ctx.progress``), passed on to the display as a ``check_progress`` event."""
    if run.progress is None:
        return None

    def report(message: str, done: int | None = None, total: int | None = None) -> None:
        run.progress("check_progress", check_id=check_id, target=target, message=message, done=done, total=total)

    return report


def write_reports(report: RunReport, out_dir: str | Path, formats: Iterable[str], plugins: PluginSet | None = None) -> dict[str, Path]:
    """Render the report in each requested format with the registered reporters."""
    plugins = plugins or load_plugins()
    formats = list(formats)
    unknown = [f for f in formats if f not in plugins.registry.reporters]
    if unknown:  # refuse before writing anything: no half set of reports
        raise ValueError(f"unknown report format(s) {', '.join(unknown)}; available: {', '.join(sorted(plugins.registry.reporters))}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return {fmt: Path(plugins.registry.reporters[fmt](report, out)) for fmt in formats}
