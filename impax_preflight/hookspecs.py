"""Every hook of impax-preflight. A plugin implements some of these with `@hookimpl`.

Registration hooks receive a `register` callback; call it once per thing you provide. The core
records which plugin provided what. Hooks evolve only by adding parameters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    import click

    from .check import Check
    from .db.base import SqlSession
    from .inventory import Database, Host, Inventory, Site
    from .model import Finding, RunReport
    from .probes import Probe
    from .scans import ScanEstimate
    from .transports.base import Shell

PROJECT = "impax_preflight"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def impax_register_checks(register: Callable[["Check"], None]) -> None:
    """Add checks to the catalog.

    Called once when the plugin manager is built. Call ``register(check)`` for each `Check`
    (usually made with the ``@check(...)`` decorator). A check id already registered by another
    plugin is an error naming both providers. Returns nothing.
    """


@hookspec
def impax_register_transports(register: Callable[[str, Callable[..., "Shell"]], None]) -> None:
    """Add shells by transport kind (``local``, ``ssh``, ``bundle``; a plugin could add ``winrm``).

    Called once when the plugin manager is built. Call ``register(kind, factory)`` where
    ``factory(host: Host) -> Shell`` opens (or prepares) a shell for the host; it may raise
    `TransportError`. Returns nothing.
    """


@hookspec
def impax_register_databases(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Add SQL session drivers by database kind (``oracle``, ``mssql``, ``odbc``, ``sqlite``).

    Called once when the plugin manager is built. Call ``register(kind, factory)`` where
    ``factory(database: Database, host: Host) -> SqlSession`` opens a read-only session; it may
    raise `DatabaseError` / `MissingDriver`. Import the driver inside the factory. Returns nothing.
    """


@hookspec
def impax_register_reporters(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Add output formats (``json``, ``html``, ``markdown``, ``junit``).

    Called once when the plugin manager is built. Call ``register(name, writer)`` where
    ``writer(report: RunReport, out_dir: Path) -> Path`` writes one file and returns its path.
    Returns nothing.
    """


@hookspec
def impax_collect_facts(host: "Host", shell: "Shell", site: "Site", read: Callable[["Probe"], Any]) -> dict[str, Any] | None:
    """Contribute facts about a host (OS release, hardware, installed software...).

    Called once per reachable host, before its checks run, in a worker thread. ``site`` gives the
    site's settings (e.g. ``site.software_patterns``). ``read(probe)`` reads the host through a
    `Probe` exactly as checks do (once per host and run, shared with them; raises `ReadError`):
    prefer it to ``shell``. An implementation may leave out of its signature what it does not use.
    Return a dict of *discovered* facts (later plugins win on conflicting keys), or None; the runner
    merges them with the facts the inventory declares (declared ones win). An exception is recorded
    as a fact-collection warning on that host; the run goes on.
    """


@hookspec
def impax_fact_commands(os: str, site: "Site", host: "Host") -> list[str] | None:
    """Shell commands `impax_collect_facts` will run on a host of this OS.

    Called by ``impax-preflight collect`` so that a bundle holds what fact collection needs
    (``site`` and ``host`` may be left out of the signature). Return a list of command lines, or
    None. A plugin reading through probes returns their commands (`Probe.commands_for`).
    """


@hookspec
def impax_finding(finding: "Finding") -> None:
    """Observe each finding the moment it is produced (after waivers and masking).

    Called from worker threads; keep it quick and thread-safe. Returns nothing.
    """


@hookspec
def impax_run_finished(report: "RunReport", inventory: "Inventory") -> None:
    """Observe the finished run.

    Called once at the end of `run_preflight` (also after an interrupt), in the main thread, with
    the complete report, before any reporter writes files. When the run is recorded in the history
    (the default for ``impax-preflight run``), ``report.history`` already holds the earlier runs
    and the changes since the last one. ``inventory`` is the validated inventory of the run (its
    settings, e.g. ``site.notify``; secrets as references); an implementation may leave it out of
    its signature. An implementation may add run warnings (``report.warnings.append(...)``): the
    reporters write them. Returns nothing; an exception is logged and ignored.
    """


@hookspec
def impax_estimate_scans(
    check_ids: list[str], site: "Site", host: "Host", database: "Database", session: "SqlSession", sample: bool
) -> list["ScanEstimate"] | None:
    """Estimate, before a run, the full-table reads that some of your checks would make on one database.

    Called by ``impax-preflight plan`` once per database of the inventory, with the ids of the
    checks planned there (answer only for your own). ``session`` is a read-only session on that
    database: every statement passes the read-only guard and runs in a rolled-back read-only
    transaction, exactly as in a run. Read the data dictionary (row counts, sizes, when the table
    was last analysed; constraints that make a scan unnecessary) and, when ``sample`` is true, you
    may time a small bounded read to measure the throughput; never read a whole table here.
    Returns a list of `impax_preflight.scans.ScanEstimate` (one per table read, saying how its rows
    and duration were obtained, or why they are unknown), or None. An exception is reported as
    this database's estimate problem; the plan goes on.
    """


@hookspec
def impax_register_commands(cli: "click.Group") -> None:
    """Add CLI commands: ``cli.add_command(...)`` or ``@cli.command()``.

    Called once when the CLI starts. Keep imports inside the command functions so that
    ``impax-preflight --help`` stays instant. Returns nothing.
    """
