"""One run: facts per host -> plan -> parallel execution with limits -> site checks -> verdict.

The orchestration only: what runs is planned in `plan.py`, connections are held in `sessions.py`,
one check runs in `execute.py`, waivers come from `waivers.py`, reports are written by
`report/`. Each finding is appended to ``results.jsonl`` the moment it exists, so an interrupt
or a crash loses nothing.
"""

from __future__ import annotations

import getpass
import json
import logging
import socket
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from ._version import __version__
from .context import CheckContext, Memo
from .dbwindow import DbWindow, parse_window
from .execute import execute_check
from .hostfacts import HostFacts
from .interrupts import held
from .inventory import InventoryError
from .model import Finding, NotRun, RunReport, Waiver, compute_verdict, incomplete_reasons, partial_run_gaps, utcnow
from .options import option_problems
from .plan import PlanItem, build_plan, check_host_globs, check_selection_globs
from .probes import HostReader
from .secrets import mask, masker
from .sessions import OpenOnce, SessionPool, db_opener, shell_opener
from .transports.base import cancel_all
from .vocabulary import INTERRUPTED, Verdict
from .waivers import apply_waiver, load_waivers, split_expired

if TYPE_CHECKING:  # pragma: no cover
    from .inventory import Host, Inventory
    from .plugins import PluginSet

log = logging.getLogger("impax_preflight")

ProgressFn = Callable[..., None]


@dataclass
class _Run:
    """The state one run shares between its worker threads."""

    inventory: "Inventory"
    plugins: "PluginSet"
    waivers: list[Waiver]
    progress: ProgressFn | None
    check_timeout_s: float | None = None
    #: when full-table scans may start (None: any time)
    db_window: "DbWindow | None" = None
    findings: list[Finding] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    abort: threading.Event = field(default_factory=threading.Event)
    jsonl: Any = None
    #: per host: its shell (opened once; it remembers why it could not be), its probe reads (once each), its session slots, its facts
    shells: dict[str, OpenOnce] = field(default_factory=dict)
    readers: dict[str, HostReader] = field(default_factory=dict)
    host_slots: dict[str, threading.BoundedSemaphore] = field(default_factory=dict)
    facts: dict[str, HostFacts] = field(default_factory=dict)
    #: per database: its session pool; per target: compute-once values (fused table scans)
    pools: dict[tuple[str, str], SessionPool] = field(default_factory=dict)
    memos: dict[str, Memo] = field(default_factory=dict)
    #: the report folder, given to checks that write a side file beside the report (e.g. a CSV)
    out_dir: Path | None = None
    #: run-level warnings found while running (e.g. a declared fact the host contradicts)
    warnings: list[str] = field(default_factory=list)
    #: some plugin observes each finding (impax_finding): it gets a copy
    observers: bool = False

    def __post_init__(self) -> None:
        self.observers = bool(self.plugins.implementers("impax_finding"))
        th = self.inventory.site.thresholds
        allow = frozenset(f.name for f in self.inventory.site.sql.allow_functions)
        for host in self.inventory.hosts:
            self.shells[host.name] = OpenOnce(shell_opener(self.plugins, host))
            self.readers[host.name] = HostReader(host, self.shells[host.name].get, self.inventory.site, th.command_timeout_s)
            self.host_slots[host.name] = threading.BoundedSemaphore(th.sessions_per_host)
            self.facts[host.name] = HostFacts.declared_only(host)
            for db in host.databases:
                limit = db.max_sessions or th.sessions_per_database
                self.pools[(host.name, db.name)] = SessionPool(db_opener(self.plugins, db, host, allow), limit)

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
        f = apply_waiver(Finding.model_validate(masker.mask_obj(f.model_dump())), self.waivers)
        with self.lock:
            self.findings.append(f)
            if self.jsonl is not None:
                self.jsonl.write(json.dumps(f.model_dump(mode="json"), ensure_ascii=False) + "\n")
                self.jsonl.flush()
        if self.observers:  # a copy: an observer may look, never change what the report counts
            self.plugins.call("impax_finding", finding=f.model_copy(deep=True))
        if self.progress:
            self.progress("finding", finding=f)
        return f

    def note_warning(self, text: str) -> None:
        with self.lock:
            self.warnings.append(mask(text))

    def snapshot(self) -> list[Finding]:
        with self.lock:
            return list(self.findings)


def run_preflight(
    inventory: "Inventory",
    *,
    plugins: "PluginSet",
    only: Iterable[str] = (),
    skip: Iterable[str] = (),
    hosts: Iterable[str] = (),
    jobs: int = 32,
    out_dir: str | Path | None = None,
    waivers: Iterable[Waiver] | str | Path | None = None,
    bundles: dict[str, str] | None = None,
    check_timeout_s: float | None = None,
    progress: ProgressFn | None = None,
    finishing: Callable[[RunReport], RunReport | None] | None = None,
    db_window: "DbWindow | str | None" = None,
) -> RunReport:
    """Run the catalog of `plugins` against a site and return the report. Never raises for a check's problem.

    `out_dir`, when given, receives ``results.jsonl`` as findings happen (reporters are the
    caller's business: see `impax_preflight.report.write_reports`). `bundles` maps host names to
    collected bundles, overriding those hosts' transport. `finishing(report)` runs before the
    ``impax_run_finished`` hook and may return a changed report (the CLI records the run in the
    history there, so the hook's observers see the trends). `db_window` (a `DbWindow` or its text,
    "20:00-06:00") replaces the inventory's ``[site.database_window]`` hours: full-table scans start
    only inside it. (`impax_preflight.run_preflight` is the same with the built-in plugins loaded by
    default.)
    """
    if check_timeout_s is not None and not 0 < check_timeout_s <= 86_400:  # also refuses NaN
        raise ValueError(f"check_timeout_s {check_timeout_s!r}: a timeout is more than 0 and at most 86400 seconds (a day)")
    problems = option_problems(inventory, plugins.checks())
    if problems:  # a setting a check would trip over half-way: refused before anything connects
        raise InventoryError(inventory.source or "inventory", problems)
    inventory = _with_bundles(inventory, bundles or {})
    if isinstance(waivers, (str, Path)):
        waivers = load_waivers(waivers)
    active, expired = split_expired(waivers or [])

    started, t0 = utcnow(), time.monotonic()
    host_globs = list(hosts)
    only, skip = list(only), list(skip)
    check_host_globs(inventory, host_globs)
    check_selection_globs(plugins.checks().values(), only, skip)
    plan, not_run = build_plan(inventory, plugins.checks().values(), only, skip, host_globs)
    warnings = list(plugins.warnings)
    for where, ref in inventory.secret_refs():
        if ref.is_plain:
            warnings.append(f"{where} holds a literal password (plain:): use env:, file:, keyring: or prompt: instead")
        _know_secret(ref)

    run = _Run(inventory, plugins, active, progress, check_timeout_s, database_window(inventory, db_window))
    if out_dir:
        run.open_results(Path(out_dir))
    if progress:
        progress("plan", total=len(plan))
    interrupted = False
    executor = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="preflight")
    pending: set[Future] = set()
    holding = ExitStack()  # Ctrl-C held off while an interrupted run cleans up (released in `finally`)
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
        holding.enter_context(held("stopping the checks and saving the partial report"))  # a second Ctrl-C must not cost the report
        run.abort.set()  # workers stop waiting for their checks at once
        for pool in run.pools.values():  # running statements end now, not at their timeout
            pool.cancel_all()
        # remote commands are killed on their servers, every host at once, before the shells close
        cancel_all([s for s in (o.value for o in run.shells.values()) if s is not None], timeout=4.0)
        for fut in pending:
            fut.cancel()
        done = {(f.check_id, f.target) for f in run.snapshot()}
        for item in plan:
            if (item.check.id, item.target) not in done:
                not_run.append(NotRun(check_id=item.check.id, target=item.target, reason=INTERRUPTED))
        warnings.append("the run was interrupted (Ctrl-C): this report is partial and cannot say GO")
    finally:
        executor.shutdown(wait=not interrupted, cancel_futures=True)
        run.close()
        holding.close()

    # the checks are over: from here to the returned report, Ctrl-C waits (the history, the mail)
    with held("finishing the report (history, notifications)"):
        return _finish(run, plugins, inventory, not_run, warnings, expired, interrupted, started, t0, finishing)


def _finish(run: _Run, plugins: "PluginSet", inventory: "Inventory", not_run: list[NotRun], warnings: list[str],
            expired: list[Waiver], interrupted: bool, started: Any, t0: float,
            finishing: Callable[[RunReport], RunReport | None] | None) -> RunReport:
    """The report of a run whose checks are over: verdict, history (`finishing`), observers."""
    findings = sorted(run.snapshot(), key=_finding_order)
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
        verdict=Verdict.NO_GO,  # judged below, once the report says what it left out
        findings=findings,
        checks=[c.info(plugins.check_provider(c.id)) for c in sorted(plugins.checks().values(), key=lambda c: c.id)],
        not_run=not_run,
        plugins=plugins.plugins,
        warnings=[mask(w) for w in warnings + run.warnings],
        expired_waivers=expired,
    )
    partial = partial_run_gaps(report)
    if partial:
        report.warnings.append(f"a partial run (--only/--skip/--host) {' and '.join(partial)}: it can say at best GO WITH "
                               "WARNINGS; run the whole catalog on every host for a GO")
    report.incomplete = incomplete_reasons(report)
    report.verdict = compute_verdict(findings, interrupted, bool(report.incomplete))
    if finishing is not None:
        report = finishing(report) or report
    # observers get a copy: a plugin may add a run warning (e.g. "the report was not e-mailed"),
    # never change a finding or the verdict of the report that is returned and written
    seen = report.model_copy(deep=True)
    plugins.call("impax_run_finished", report=seen, inventory=inventory)
    added = [mask(str(w)) for w in seen.warnings[len(report.warnings):]] if seen.warnings[:len(report.warnings)] == report.warnings else []
    if added:
        report.warnings.extend(added)
    return report


def _know_secret(ref: Any) -> None:
    """Resolve a secret now, so the masker knows it before any check runs: a password echoed by one
    host's error must be masked even when the check that uses it has not yet connected. A secret that
    does not resolve fails later, in the check that needs it, with the reason; prompt: secrets are
    asked by the command line before the run (never from here)."""
    if ref.scheme == "prompt":
        return
    try:
        ref.resolve()
    except Exception:  # noqa: BLE001 - reported by the check that needs it
        pass


def database_window(inventory: "Inventory", given: "DbWindow | str | None" = None) -> "DbWindow | None":
    """The database window of this run: the one given (text is parsed in the inventory's time zone),
    else the inventory's, else None (scans may start any time). A bad text raises ValueError."""
    configured = inventory.site.database_window
    if isinstance(given, DbWindow):
        return given
    if given:
        return parse_window(given, configured.timezone if configured else None)
    return configured.window() if configured else None


def _spare(pool: SessionPool) -> Callable[[], Any]:
    """A check's way to borrow a free session of its database, if one is free right now."""

    def borrow():
        s = pool.borrow_spare()
        return None if s is None else (s, lambda: pool.return_spare(s))

    return borrow


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


def _with_bundles(inventory: "Inventory", bundles: dict[str, str]) -> "Inventory":
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
    return inv


def _collect_facts(run: _Run, host: "Host") -> None:
    try:
        sh = run.shells[host.name].get()
    except BaseException:  # noqa: BLE001 - the shell remembers why (OpenOnce.failed): the host's checks say so
        return
    errors: list[str] = []
    parts: list[dict[str, Any]] = []  # one dict per fact plugin, appended when it has answered

    def failed(plugin: str, exc: Exception) -> None:  # a fact collector must not stop the host's checks
        errors.append(mask(f"{plugin}: {type(exc).__name__}: {exc}"))

    reader = run.readers[host.name]

    def collect() -> None:
        for _plugin, got in run.plugins.call("impax_collect_facts", on_error=failed, host=host, shell=sh,
                                             site=run.inventory.site, read=lambda probe: reader.read(probe).value):
            if isinstance(got, dict):
                parts.append(dict(got))

    # a fact collector that hangs (a plugin's, a command without its own timeout) must not hold the
    # run: past the check timeout its host's checks go on with the facts gathered so far
    limit = run.check_timeout_s or run.inventory.site.thresholds.check_timeout_s
    worker = threading.Thread(target=collect, name=f"facts {host.name}", daemon=True)
    worker.start()
    worker.join(limit)
    if worker.is_alive():
        errors.append(f"fact collection did not finish within {limit:g}s; the checks use what was gathered by then")
        run.note_warning(f"host {host.name}: fact collection did not finish within {limit:g}s; its checks went on with "
                         "the facts the inventory declares")
    gathered: dict[str, Any] = {}
    for part in list(parts):  # what the plugins that answered in time gave
        gathered.update(part)
    run.facts[host.name] = facts = run.facts[host.name].with_discovered(gathered, errors)
    for key, said, seen in facts.conflicts():
        run.note_warning(f"host {host.name}: the inventory declares {key} = {said!r} but the host reports {seen!r}; the "
                         "declared value is used — correct the inventory if the host is right")


def _run_item(run: _Run, item: PlanItem) -> None:
    if run.abort.is_set():
        return
    chk, host, db = item.check, item.host, item.database
    timeout = run.check_timeout_s or chk.timeout_s or run.inventory.site.thresholds.check_timeout_s

    slot: threading.BoundedSemaphore | None = None
    pool: SessionPool | None = None
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
        facts=run.facts.get(host.name) if host else None,
        all_facts=run.facts,
        findings_so_far=run.snapshot,
        memo=run.memo(item.target),
        provider=run.plugins.check_provider(chk.id),
        reader=run.readers[host.name] if host else None,
        output_dir=run.out_dir,
        progress=run.progress,
        readers=run.readers if chk.target == "site" else None,
        db_window=run.db_window,
        spare_session=_spare(pool) if pool is not None else None,
    )
    if item.error:
        run.emit(ctx.error(item.error))
        return
    down = run.shells[host.name].failed if host is not None and chk.target == "host" else None
    if down is not None:
        run.emit(ctx.error(f"host unreachable: {mask(str(down) or type(down).__name__)}"))
        return
    if slot is not None and not slot.acquire(timeout=timeout):
        run.emit(ctx.error(f"no free session on {item.target} within {timeout:.0f}s (earlier checks still hold them)"))
        return

    def release() -> None:  # runs when the check's thread really ends, even after a timeout
        if pool is not None and session_box:
            pool.give_back(session_box[0])
        if slot is not None:
            slot.release()

    def cancel_statement(reason: str) -> bool:  # a timed-out check's statement ends now, not at its own timeout
        return bool(session_box) and bool(session_box[0].cancel(reason))

    ctx.deadline = time.monotonic() + timeout
    for f in execute_check(ctx, timeout, on_done=release, abort=run.abort, on_timeout=cancel_statement):
        run.emit(f)
    if run.progress:
        run.progress("done", check_id=chk.id, target=item.target)

