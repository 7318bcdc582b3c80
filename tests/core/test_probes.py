"""Probes: one way to read a host. Typed read errors, shared reads, and the collector's commands
derived from the probes of the checks that apply."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from impax_preflight import load_plugins, osprobes, run_preflight
from impax_preflight.facts import FACT_PROBES
from impax_preflight.inventory import load_inventory
from impax_preflight.parsers import ParseError
from impax_preflight.plan import build_plan, host_commands
from impax_preflight.probes import (
    CommandMissing,
    HostReader,
    NotInBundle,
    PermissionDenied,
    ReadError,
    ReadTimeout,
    Unparsable,
    Variant,
    probe,
    probes_commands,
)
from impax_preflight.testing import FakeShell, make_inventory
from impax_preflight.transports.base import CommandTimeout

ROOT = Path(__file__).resolve().parents[2]


def _numbers(text: str, notes: list[str] | None = None) -> list[int]:
    out = []
    for ln in text.splitlines():
        if ln.strip().isdigit():
            out.append(int(ln))
        elif ln.strip() and notes is not None:
            notes.append(f"line not understood: {ln.strip()!r}")
    if not out:
        raise ParseError("no number")
    return out


NUMBERS = probe("t.numbers", "the numbers", _numbers, solaris="numbers", windows=["wnumbers", ("wfallback", _numbers)])
THING = probe("t.thing", "the thing", _numbers, solaris="thing", absent=r"No such thing")
TOOL = probe("t.tool", "the tool", _numbers, solaris="tool", missing_ok=True)


def reader(outputs, os="solaris"):
    shell = FakeShell(outputs, os=os)
    host = make_inventory({"hosts": [{"name": "h", "os": os, "roles": ["database"], "transport": {"kind": "local"}}]}).hosts[0]
    return HostReader(host, lambda: shell), shell


def test_a_read_is_parsed_once_and_shared_with_its_notes_and_evidence():
    r, shell = reader({"numbers": "banner\n1\n2\n"})
    a, b = r.read(NUMBERS), r.read(NUMBERS)
    assert a is b and a.value == [1, 2] and shell.calls == ["numbers"]
    assert a.evidence[0].source == "numbers" and a.notes == ["`numbers`: line not understood: 'banner'"]


def test_concurrent_readers_wait_for_the_first():
    gate = threading.Event()

    def slow(_cmd):
        gate.wait(2)
        return "7\n"

    r, shell = reader({"numbers": slow})
    results = []
    threads = [threading.Thread(target=lambda: results.append(r.read(NUMBERS).value)) for _ in range(5)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join(5)
    assert results == [[7]] * 5 and shell.calls == ["numbers"]


@pytest.mark.parametrize("answer,error,words", [
    ((127, "", "sh: numbers: not found"), CommandMissing, "not installed"),
    ((1, "", "numbers: Permission denied"), PermissionDenied, "privilege"),
    ((2, "", "numbers: broken"), ReadError, "exited with code 2"),
    ("no digits here", Unparsable, "could not understand the output of `numbers`"),
    (CommandTimeout("`numbers` timed out after 1s"), ReadTimeout, "timed out"),
])
def test_each_way_a_read_fails_is_its_own_error_with_the_evidence(answer, error, words):
    r, _ = reader({"numbers": answer})
    with pytest.raises(error) as ei:
        r.read(NUMBERS)
    assert words in ei.value.reason and "the numbers" in ei.value.reason
    if not isinstance(answer, Exception):
        assert ei.value.evidence and ei.value.evidence[0].source == "numbers"
    # the same error again, without running the command twice
    with pytest.raises(error):
        r.read(NUMBERS)


def test_absent_missing_ok_and_a_bundle_without_the_command():
    r, _ = reader({"thing": (1, "", "No such thing\n"), "tool": (127, "", "tool: not found")})
    assert r.read(THING).value is None
    reading = r.read(TOOL)
    assert reading.value is None and "not installed" in reading.notes[0]
    r, _ = reader({})
    with pytest.raises(NotInBundle, match="collect the bundle again"):
        r.read(NUMBERS)


def test_the_next_alternative_answers_when_the_first_command_is_missing():
    r, shell = reader({"wnumbers": (9009, "", "'wnumbers' is not recognized as an internal or external command"),
                       "wfallback": "3\n"}, os="windows")
    reading = r.read(NUMBERS)
    assert reading.value == [3] and shell.calls == ["wnumbers", "wfallback"] and len(reading.evidence) == 2


def test_two_probes_parsing_one_command_run_it_once():
    text = open(ROOT / "tests" / "fixtures" / "host" / "systeminfo_2012r2_jc.txt", encoding="utf-8").read()
    r, shell = reader({"systeminfo": text}, os="windows")
    assert r.read(osprobes.MEMORY).value == 3555 and r.read(osprobes.SYSTEMINFO).value.total_memory_mb == 3555
    assert shell.calls == ["systeminfo"]


def test_a_probe_with_site_arguments_and_one_that_does_not_apply():
    paths = probe("t.path", "a path", _numbers, any_os="ls {path}",
                  arguments=lambda site, host: {"path": site.options["p"]["path"]} if site and "p" in site.options else None)
    inv = make_inventory(options={"p": {"path": "/var/x"}})
    assert paths.commands_for("solaris", inv.site, inv.hosts[0]) == ("ls /var/x",)
    assert paths.commands_for("solaris", make_inventory().site) == ()


def _no_run_in(path: Path) -> list[str]:
    return [f"{path.name}:{i}" for i, ln in enumerate(path.read_text().splitlines(), 1) if re.search(r"\bctx\.run\(", ln)]


def test_built_in_checks_read_hosts_only_through_probes():
    assert [hit for p in sorted((ROOT / "checks").glob("*.py")) for hit in _no_run_in(p)] == []
    plugins = load_plugins(entry_points=False)
    for chk in plugins.checks().values():
        assert not chk.commands, f"{chk.id} declares commands: declare probes instead"


@pytest.mark.parametrize("inventory", ["examples/as3000-solaris-oracle.toml", "examples/as300-windows-mssql-mirroring.toml",
                                       "examples/multisite-tiers.yaml", "impax_preflight/demo/site.toml"])
def test_the_collector_gathers_exactly_the_probes_of_the_checks_that_apply(inventory):
    inv = load_inventory(ROOT / inventory)
    plugins = load_plugins(entry_points=False)
    for host in inv.hosts:
        plan, _ = build_plan(inv, plugins.checks().values(), hosts=[re.escape(host.name).replace("\\", "")])
        probes = [p for item in plan if item.host is not None and item.host.name == host.name for p in item.check.probes]
        # site checks that read every host (e.g. the clock) read this one too
        site_plan, _ = build_plan(inv, [c for c in plugins.checks().values() if c.target == "site"])
        probes += [p for item in site_plan for p in item.check.probes]
        expected = set(probes_commands(list(FACT_PROBES.get(host.os, ())) + probes, host.os, inv.site, host))
        assert set(host_commands(plugins, inv, host)) == expected, host.name


def test_a_run_reads_each_command_once_per_host(tmp_path):
    """The demo site through the runner: fact collection and every check share the reads of a host."""
    from impax_preflight.demo import build_demo
    from impax_preflight.transports.bundle import BundleShell

    calls: dict[str, list[str]] = {}
    lock = threading.Lock()

    class Counting(BundleShell):
        def run(self, command, timeout=None, privileged=False):
            with lock:
                calls.setdefault(self.counted_as, []).append(command)
            return super().run(command, timeout=timeout, privileged=privileged)

    def counting(host):
        shell = Counting(host.transport.bundle, host_name=host.name, os_name=host.os)
        shell.counted_as = host.name
        return shell

    from impax_preflight import hookimpl

    class CountingBundles:
        @hookimpl
        def impax_register_transports(self, register):
            register("bundle", counting)

    inv = load_inventory(build_demo(tmp_path / "demo"))
    run_preflight(inv, plugins=load_plugins(entry_points=False, extra_plugins=[CountingBundles()]))
    assert calls and all(len(c) == len(set(c)) for c in calls.values()), {h: [x for x in c if c.count(x) > 1] for h, c in calls.items()}
    # facts and hw.requirements both need systeminfo on Windows: read once
    assert calls["impax-app01"].count("systeminfo") == 1


def test_a_failed_read_is_an_error_finding_with_the_reason_not_a_check_bug():
    from impax_preflight import check
    from impax_preflight.testing import run_check

    @check("t.reads", "reads", "blocker", "host", probes=[NUMBERS])
    def reads(ctx):
        yield ctx.passed(str(ctx.read(NUMBERS)))

    (f,) = run_check(reads, shell=FakeShell({"numbers": (1, "", "numbers: Permission denied")}))
    assert f.status.value == "error" and f.message.startswith("could not read the numbers: `numbers` was refused")
    assert [e.source for e in f.evidence] == ["numbers"]  # the command, no traceback: not the check's own bug
