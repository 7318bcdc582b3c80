"""Faults a review of the engine found, each pinned by a test that fails without its mend."""

from __future__ import annotations

import pytest

from impax_preflight import check, hookimpl, load_plugins, run_preflight
from impax_preflight.model import Status, Verdict
from impax_preflight.probes import HostReader, ReadTimeout, probe
from impax_preflight.report.merge import merge_reports, stage_readiness
from impax_preflight.testing import ChecksPlugin, FakeShell, fresh_plugins, make_inventory, plugins_with
from impax_preflight.transports.base import CommandResult, CommandTimeout


# ---- a shared host read keeps the probe's own time limit ----------------------------------------

class SlowShell(FakeShell):
    """Answers in 1 s: a caller allowing less gets a timeout."""

    def run(self, command, timeout=None, privileged=False):
        self.calls.append(command)
        if timeout is not None and timeout < 1:
            raise CommandTimeout(f"`{command}` timed out after {timeout:g}s")
        return CommandResult(command=command, rc=0, stdout="ok\n", stderr="")


def test_a_check_near_its_deadline_does_not_leave_a_timeout_for_the_others():
    p = probe("t.slow", "a slow listing", lambda text, notes=None: text.strip(), any_os="slow-command", timeout_s=30)
    shell = SlowShell({})
    reader = HostReader(None, lambda: shell, None, 60)
    assert reader.read(p, 0.5).value == "ok"  # the shared read runs with the probe's 30 s, not the caller's 0.5 s
    assert reader.read(p, 60).value == "ok" and shell.calls == ["slow-command"]


def test_a_read_that_timed_out_on_its_own_limit_is_still_shared():
    p = probe("t.slower", "a listing", lambda text, notes=None: text, any_os="slower", timeout_s=0.5)
    shell = SlowShell({})
    reader = HostReader(None, lambda: shell, None, 60)
    for _ in range(2):
        with pytest.raises(ReadTimeout):
            reader.read(p)
    assert shell.calls == ["slower"]  # once: the second reader gets the same answer


# ---- what a partial run left out, and who answered it -------------------------------------------

@check("t.host_blocker", "a blocker on every host", "blocker", "host")
def host_blocker(ctx):
    yield ctx.passed("ok")


@check("t.site_blocker", "a blocker on the site", "blocker", "site")
def site_blocker(ctx):
    yield ctx.passed("ok")


TWO_HOSTS = {"hosts": [{"name": n, "os": "solaris", "roles": ["database"], "transport": {"kind": "local"}} for n in ("a", "b")]}


def test_a_host_left_out_by_host_is_recorded_per_check_and_listed():
    report = run_preflight(make_inventory(TWO_HOSTS), plugins=plugins_with(host_blocker, site_blocker), hosts=["a"])
    assert {(n.check_id, n.target) for n in report.not_run} == {("t.host_blocker", "b"), ("t.site_blocker", "site")}
    assert report.verdict is Verdict.GO_WITH_WARNINGS
    assert report.incomplete == ["left out 2 blocker check(s) (t.host_blocker, t.site_blocker)", "left out 1 host(s) (b)"]


def test_a_merge_says_go_only_when_every_left_out_target_was_answered_at_its_own_site():
    ps = plugins_with(host_blocker, site_blocker)
    s1 = run_preflight(make_inventory(TWO_HOSTS, name="S1"), plugins=ps)
    s2_partial = run_preflight(make_inventory(TWO_HOSTS, name="S2"), plugins=ps, hosts=["a"])
    # S1 answered every check, but not for S2's host b: a merge must not borrow another site's answer
    merged = merge_reports([s1, s2_partial])
    assert merged.verdict is Verdict.GO_WITH_WARNINGS
    assert merged.incomplete == ["[S2] left out 2 blocker check(s) (t.host_blocker, t.site_blocker)", "[S2] left out 1 host(s) (b)"]
    s2_whole = run_preflight(make_inventory(TWO_HOSTS, name="S2"), plugins=ps)
    s2_whole = s2_whole.model_copy(update={"run_id": s2_whole.run_id + "-w"})
    whole = merge_reports([s1, s2_partial, s2_whole])
    assert whole.verdict is Verdict.GO and whole.incomplete == []
    assert not [n for n in whole.not_run if n.reason.startswith("site check: the run was limited")]


def test_the_stage_of_a_partial_run_cannot_say_go_either():
    inv = make_inventory({"hosts": [{"name": "a", "os": "solaris", "roles": ["database"], "tier": "prod",
                                     "transport": {"kind": "local"}}]})
    report = run_preflight(inv, plugins=plugins_with(host_blocker, site_blocker), only=["t.host_blocker"])
    assert [f.status for f in report.findings] == [Status.PASS] and report.verdict is Verdict.GO_WITH_WARNINGS
    (prod,) = [s for s in stage_readiness(report) if s.key == "prod"]
    assert prod.verdict is Verdict.GO_WITH_WARNINGS


# ---- a plugin's declaration, observers, disabled built-ins, sessions, transports -----------------

def test_a_blocker_whose_version_bound_is_not_a_version_is_an_error_not_not_run():
    bad = check("t.bad_bound", "a blocker with an unreadable bound", "blocker", "site",
                min_source_version="latest")(lambda ctx: ctx.passed("never reached"))
    report = run_preflight(make_inventory(), plugins=plugins_with(bad))
    (f,) = report.findings
    assert f.status is Status.ERROR and "'latest' is not a version" in f.message and report.verdict is Verdict.NO_GO


def test_an_observer_of_each_finding_cannot_change_it():
    class Meddler:
        @hookimpl
        def impax_finding(self, finding):
            finding.status = Status.PASS

    failing = check("t.failing", "fails", "blocker", "site")(lambda ctx: ctx.fail("broken"))
    report = run_preflight(make_inventory(), plugins=fresh_plugins(ChecksPlugin(failing), Meddler(), builtin_checks=False))
    assert report.findings[0].status is Status.FAIL and report.verdict is Verdict.NO_GO


def test_a_disabled_built_in_check_module_is_not_even_imported(monkeypatch):
    import impax_preflight.api as api

    monkeypatch.setattr(api, "check_module_names", lambda: ["impax_preflight.checks.no_such_module"])
    ps = load_plugins(entry_points=False, disable=["impax_preflight.checks.no_such_module"])
    assert ps.incomplete() == ["built-in checks impax_preflight.checks.no_such_module are disabled"]


def test_a_failure_to_open_one_more_session_leaves_the_open_one_usable():
    from impax_preflight.sessions import SessionPool

    opened = []

    def opener():
        if opened:
            raise RuntimeError("ORA-02391: exceeded simultaneous SESSIONS_PER_USER limit")
        opened.append(object())
        return opened[0]

    pool = SessionPool(opener, 2)
    first = pool.take()
    with pytest.raises(RuntimeError, match="SESSIONS_PER_USER"):
        pool.take()  # a second at once: the account's limit
    pool.give_back(first)
    assert pool.take() is first  # the open session still serves the next check

