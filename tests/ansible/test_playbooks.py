"""The collection for real: ansible-playbook runs impax.preflight.preflight against loopback sshd servers.

Six inventory hosts in two sites (one TOML, one YAML site file) alias two OpenSSH servers on
loopback, with different names, ports and logins. Three cannot be collected from: one points at a
closed port (host down), one logs in as a user the server refuses, one has a temporary folder that
cannot be made (a failed collection step). On the second server `zip` is broken, so the collector
leaves a folder and the bundle is fetched file by file. The playbook runs three times: in check
mode (nothing may change anywhere), then for real twice (the second run must leave the same state,
report `changed` the same honest way, and stop by verdict after merging).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import pytest
import yaml

from ansible_kit import ensure_user
from services import free_port

pytestmark = pytest.mark.service

# stand-ins for the Solaris tools the catalog runs (the servers are Linux)
STAND_INS = {
    "svcs": "echo 'online 10:00:00 svc:/application/impax/archive:default'",
    "fmadm": "echo",
    "zpool": "echo 'all pools are healthy'",
    "metastat": "echo 'd10: Mirror'; echo '    State: Okay'",
    "psrinfo": "echo '0 on-line since 01/01/2024 10:00:00'",
    "prtconf": "echo 'Memory size: 32768 Megabytes'",
}
REACHABLE = ("north-prod", "north-bk", "dr-arch")
DOWN = "dr-down"
# host -> what its error findings must say
NOT_COLLECTED = {DOWN: "Connection refused", "dr-refused": "Permission denied",
                 "north-cm": "No such file or directory"}
SITE_OF = {"north-prod": "north-hospital", "north-bk": "north-hospital", "north-cm": "north-hospital",
           "dr-arch": "central-dr", DOWN: "central-dr", "dr-refused": "central-dr"}


def _ssh(server, user):
    return {"kind": "ssh", "user": user, "port": server.port, "key_file": server.key_file,
            "known_hosts": server.known_hosts, "use_agent": False, "connect_timeout_s": 5}


@pytest.fixture(scope="module")
def fleet(sshd_factory, run_ansible, tmp_path_factory):
    """Site files, the plugin's inventory file, and the three playbook runs (check, run 1, run 2)."""
    from conftest import require_service

    require_service(ensure_user("impaxops"), "a second local login 'impaxops' (useradd; the tests run as root)")
    s1, s2 = sshd_factory(), sshd_factory()
    require_service(s1.password_user is not None, "the session's test login (useradd; the tests run as root)")
    login = s1.password_user  # this test session's own user, shared by both servers
    for server in (s1, s2):
        for name, body in STAND_INS.items():
            server.add_command(name, body + "\n")
    s2.add_command("zip", "echo 'zip: broken on this server' >&2; exit 1\n")  # no archive: a folder to fetch
    work = tmp_path_factory.mktemp("fleet")
    (work / "sites").mkdir()
    north = {"site": {"name": "North Hospital", "impax_version": "6.3.1", "platform": "AS3000"},
             "hosts": [
                 {"name": "north-prod", "address": "127.0.0.1", "os": "solaris", "roles": ["archive"], "tier": "prod",
                  "backup_pacs": "north-bk", "transport": _ssh(s1, login)},
                 {"name": "north-bk", "address": "127.0.0.1", "os": "linux", "roles": ["archive"], "tier": "bk",
                  "transport": _ssh(s2, "impaxops")},
                 {"name": "north-cm", "address": "127.0.0.1", "os": "solaris", "roles": ["application"], "tier": "prod",
                  "transport": _ssh(s2, login)}]}
    import tomllib  # noqa: F401 - the TOML below is written by hand, as an engineer would

    toml_lines = ['[site]', 'name = "North Hospital"', 'impax_version = "6.3.1"', 'platform = "AS3000"', '']
    for h in north["hosts"]:
        toml_lines += ["[[hosts]]"] + [f"{k} = {json.dumps(v)}" for k, v in h.items() if k != "transport"]
        toml_lines += ["[hosts.transport]"] + [f"{k} = {json.dumps(v)}" for k, v in h["transport"].items()] + [""]
    (work / "sites" / "north.toml").write_text("\n".join(toml_lines))
    dr_down = _ssh(s1, "impaxops") | {"port": free_port()}  # nothing listens there
    dr = {"site": {"name": "Central DR", "impax_version": "6.3.1", "platform": "AS3000"},
          "hosts": [
              {"name": "dr-arch", "address": "127.0.0.1", "os": "solaris", "roles": ["archive"], "tier": "dr",
               "transport": _ssh(s1, "impaxops")},
              {"name": DOWN, "address": "127.0.0.1", "os": "solaris", "roles": ["archive"], "tier": "dr",
               "transport": dr_down},
              {"name": "dr-refused", "address": "127.0.0.1", "os": "linux", "roles": ["curator"], "tier": "dr",
               "transport": _ssh(s1, "impax-nobody")}]}
    (work / "sites" / "dr.yaml").write_text(yaml.safe_dump(dr, sort_keys=False))
    (work / "cluster.impax_preflight.yml").write_text(
        "plugin: impax.preflight.site\nsites:\n  - sites/north.toml\n  - sites/dr.yaml\n")
    # the servers' shared temporary folder (world-writable and sticky, like /var/tmp)
    remote_tmp = Path(tempfile.mkdtemp(prefix="impax-remote-tmp-"))
    remote_tmp.chmod(0o1777)
    homes = {u: Path(os.path.expanduser(f"~{u}")) for u in (login, "impaxops")}
    dot_ansible_before = {u: (h / ".ansible").exists() for u, h in homes.items()}
    out = work / "out"
    extra = {"impax_preflight_command": str(Path(shutil.which("impax-preflight", path=str(Path(os.sys.executable).parent)))),
             "impax_preflight_output_dir": str(out)}
    (work / "vars.yml").write_text(yaml.safe_dump(extra))
    # inventory variables (extra vars would beat the host_vars): one host's folder cannot be made
    (work / "group_vars").mkdir()
    (work / "group_vars" / "all.yml").write_text(yaml.safe_dump({"impax_preflight_remote_tmp": str(remote_tmp)}))
    (work / "host_vars").mkdir()
    (work / "host_vars" / "north-cm.yml").write_text(yaml.safe_dump({"impax_preflight_remote_tmp": "/nonexistent-impax-dir"}))

    def playbook(*args):
        return run_ansible("ansible-playbook", "-i", "cluster.impax_preflight.yml", "impax.preflight.preflight",
                           "-e", "@vars.yml", "--forks", "8", *args, cwd=work)

    runs = {"check": playbook("--check")}
    runs["check_out_exists"] = out.exists()
    runs["check_remote_tmp"] = sorted(p.name for p in remote_tmp.iterdir())
    runs["first"] = playbook("-e", "impax_preflight_fail_on=never")
    runs["first_bundles"] = {p.name: p.read_bytes() for p in sorted((out / "bundles").rglob("*.zip"))}
    runs["first_remote_tmp"] = sorted(p.name for p in remote_tmp.iterdir())
    runs["second"] = playbook()  # the default impax_preflight_fail_on: no_go
    runs["second_remote_tmp"] = sorted(p.name for p in remote_tmp.iterdir())
    yield {"work": work, "out": out, "runs": runs, "remote_tmp": remote_tmp, "homes": homes,
           "dot_ansible_before": dot_ansible_before}
    shutil.rmtree(remote_tmp, ignore_errors=True)


def _target_results(run):
    """Results of tasks that ran on a server (not delegated to the controller, not controller-only actions)."""
    controller_actions = {"impax.preflight.record_failed_collection", "ansible.builtin.set_fact", "ansible.builtin.debug",
                          "ansible.builtin.fail", "ansible.builtin.include_tasks", "ansible.builtin.set_stats",
                          "ansible.builtin.include_role", "ansible.builtin.validate_argument_spec",
                          "impax.preflight.fetch_bundle"}
    return [r for r in run.results() if not r["delegated"] and r["action"] not in controller_actions
            and r["status"] != "skipped"]


def test_check_mode_changes_nothing_anywhere(fleet):
    run = fleet["runs"]["check"]
    assert run.rc == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert fleet["runs"]["check_out_exists"] is False  # nothing written on the controller
    assert fleet["runs"]["check_remote_tmp"] == []  # nothing left on the servers
    assert all(not r["changed"] for r in run.results()), [r for r in run.results() if r["changed"]]
    assert {h: s["changed"] for h, s in run.recap.items()} == {h: 0 for h in run.recap}
    said = " ".join(r["msg"] for r in run.results(action="ansible.builtin.debug"))
    for host in (*REACHABLE, "north-cm"):  # north-cm answers; only a real run finds its folder problem
        assert f"would run the sh collector of {host}" in said
    assert f"would record a failed collection for {DOWN}" in said and "Connection refused" in said
    assert "would record a failed collection for dr-refused" in said and "Permission denied" in said
    # the evaluate role only validates the site inventories: read-only, written nowhere
    validated = run.results(task="Validate each site inventory (in check mode nothing is run or written)", status="ok")
    said = sorted(item["stdout"].splitlines()[0] for r in validated for item in r["items"])
    assert [line.split(": valid — ")[1].split(" (")[0] for line in said] == ["site 'Central DR'", "site 'North Hospital'"]
    assert not run.results(task="Run impax-preflight for each site", status="ok")


def test_bundles_fetched_and_every_site_run_from_them(fleet):
    run, out = fleet["runs"]["first"], fleet["out"]
    assert run.rc == 0, run.stdout[-4000:] + run.stderr[-2000:]
    # every host is accounted for: the ones that could not be collected were rescued, not dropped from the play
    for host in NOT_COLLECTED:
        assert (run.recap[host]["unreachable"], run.recap[host]["failures"], run.recap[host]["rescued"]) == (0, 0, 1), host
    for host in REACHABLE:
        assert run.recap[host]["failures"] == 0 and run.recap[host]["rescued"] == 0, run.recap
    fetched = {r["host"]: r for r in run.results(action="impax.preflight.fetch_bundle", status="ok")}
    assert sorted(fetched) == sorted(REACHABLE)
    for host in REACHABLE:
        with zipfile.ZipFile(out / "bundles" / SITE_OF[host] / f"{host}.zip") as z:
            manifest = json.loads(z.read("manifest.json"))
            assert manifest["host"] == host and manifest["format"] == "impax-preflight-bundle/1"
            assert manifest["commands"] and all(e["stdout"] in z.namelist() for e in manifest["commands"])
    # the collector packed a zip where zip works; on the second server it left a folder, fetched file by file
    assert fetched["north-prod"]["result"]["remote"].endswith("/bundle.zip")
    assert fetched["dr-arch"]["result"]["remote"].endswith("/bundle.zip")
    assert fetched["north-bk"]["result"]["remote"].endswith("/bundle")
    reports = {p.parent.parent.name: json.loads(p.read_text()) for p in (out / "runs").glob("*/*/report.json")}
    assert sorted(reports) == ["central-dr", "north-hospital"]
    assert sorted(p.parent.name for p in (out / "runs").glob("*/*/report.json")) == ["all", "all"]
    for site, report in reports.items():
        for f in report["findings"]:
            if f["target_kind"] == "host" and f["host"] in REACHABLE:
                assert "host unreachable" not in f["message"], f
                assert all(e.get("transport") in (None, "bundle") for e in f["evidence"]), f
        hosts = {f["host"] for f in report["findings"] if f.get("host")}
        assert hosts == {h for h, s in SITE_OF.items() if s == site}
    # evidence from the servers, replayed from the bundles (not a live session of impax-preflight)
    ev = [e for f in reports["north-hospital"]["findings"] if f["host"] == "north-prod" for e in f["evidence"]
          if e.get("kind") == "command"]
    assert ev and {e["transport"] for e in ev} == {"bundle"}
    assert any("svcs" in e["source"] and "online" in (e.get("output") or "") for e in ev)


@pytest.mark.parametrize("host", sorted(NOT_COLLECTED))
def test_host_down_refused_or_failed_is_an_error_finding_for_that_host_only(fleet, host):
    out = fleet["out"]
    report = json.loads((out / "runs" / SITE_OF[host] / "all" / "report.json").read_text())
    mine = [f for f in report["findings"] if f.get("host") == host and f["target_kind"] == "host"]
    assert mine and {f["status"] for f in mine} == {"error"}
    for f in mine:
        assert f["message"].startswith(f"host unreachable: no outputs from {host}: collecting on the server failed at ")
        assert "(impax.preflight Ansible collection)" in f["message"] and NOT_COLLECTED[host] in f["message"]
        assert "Task failed:" not in f["message"]
    others = [f for f in report["findings"] if f.get("host") in REACHABLE]
    assert others and not any("host unreachable" in f["message"] for f in others)
    assert any(f["status"] == "pass" for f in others)
    assert report["verdict"] == "NO_GO"  # the blockers of the hosts not collected could not be evaluated


def test_merged_cluster_report_has_the_stage_verdicts(fleet):
    from impax_preflight.report.json import load_report
    from impax_preflight.report.merge import stage_readiness

    run, cluster = fleet["runs"]["first"], fleet["out"] / "cluster"
    merged = load_report(cluster / "report.json")
    assert merged.site == "Cluster: Central DR, North Hospital" or merged.site == "Cluster: North Hospital, Central DR"
    stages = {(s.site, s.key): s.verdict.value for s in stage_readiness(merged, by_site=True)}
    assert set(stages) == {("Central DR", "dr"), ("North Hospital", "bk"), ("North Hospital", "prod")}
    assert stages[("Central DR", "dr")] == "NO_GO"
    md = (cluster / "report.md").read_text()
    assert "## Staged upgrade readiness (DR → BK → Prod)" in md
    for name in ("report.html", "report.junit.xml"):
        assert (cluster / name).is_file()
    # the Ansible output shows the stage table, and AWX gets it as an artifact
    shown = run.results(task="Show the cluster verdict and the stage verdicts (DR, then BK, then Prod)")
    assert shown and "Central DR" in shown[0]["msg"] and "DR" in shown[0]["msg"]
    assert run.stats_data["impax_preflight_cluster"]["report"] == str(cluster / "report.html")
    results = run.stats_data["impax_preflight_site_results"]
    verdicts = {r["site"]: r["verdict"] for r in results}
    assert verdicts["Central DR"] == "NO-GO"
    for r in results:  # the registered exit code is the verdict report.json holds
        report = json.loads(Path(r["report_json"]).read_text())
        assert {0: "GO", 1: "GO_WITH_WARNINGS", 2: "NO_GO"}[r["exit_code"]] == report["verdict"]


def test_servers_keep_nothing_and_report_no_change(fleet):
    for key in ("first_remote_tmp", "second_remote_tmp"):
        assert fleet["runs"][key] == [], key  # every temporary folder was removed
    for user, home in fleet["homes"].items():
        if not fleet["dot_ansible_before"][user]:
            assert not (home / ".ansible").exists(), f"~{user}/.ansible was created on the server"
    for key in ("first", "second"):
        on_servers = _target_results(fleet["runs"][key])
        assert on_servers and not [r for r in on_servers if r["changed"]]
        assert {r["action"] for r in on_servers} >= {"ansible.builtin.raw", "ansible.builtin.script"}


def test_second_run_is_idempotent_and_gates_by_verdict_after_merging(fleet):
    first, second, out = fleet["runs"]["first"], fleet["runs"]["second"], fleet["out"]
    # same hosts ok / rescued, same verdicts, same folders: nothing piles up
    for host in SITE_OF:
        for key in ("rescued", "unreachable", "changed"):
            assert first.recap[host][key] == second.recap[host][key], (host, key)
    assert sorted(p.relative_to(out).as_posix() for p in (out / "bundles").rglob("*")) == sorted(
        [f"bundles/{s}/{h}.zip" for h, s in SITE_OF.items()] + ["bundles/central-dr", "bundles/north-hospital"])
    assert sorted(p.relative_to(out).as_posix() for p in (out / "runs").glob("*/*")) == [
        "runs/central-dr/all", "runs/north-hospital/all"]
    v1 = {r["site"]: r["verdict"] for r in first.stats_data["impax_preflight_site_results"]}
    v2 = {r["site"]: r["verdict"] for r in second.stats_data["impax_preflight_site_results"]}
    assert v1 == v2
    # changed is honest: a fetched bundle is "changed" when its content differs (new outputs and times)
    fetched = second.results(action="impax.preflight.fetch_bundle", status="ok")
    assert all(r["changed"] for r in fetched) and len(fetched) == len(REACHABLE)
    # fail_on=no_go: the play fails by verdict, but only after the cluster report was written
    assert second.rc != 0
    gate = second.results(task="Fail the play when a site's verdict is one impax_preflight_fail_on names", status="failed")
    assert gate and "Central DR" in gate[0]["msg"] and "NO-GO" in gate[0]["msg"]
    merged = second.results(task="Merge them into one cluster report (impax-preflight report)", status="ok")
    assert merged and merged[0]["rc"] == 0
