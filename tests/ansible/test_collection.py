"""The collection as shipped: it builds and installs, its documentation loads, its playbooks parse,
its controller-side bundle handling is exact, and its Windows path is sound as far as this machine
can show (no Windows server here: WinRM is exercised against a closed loopback port)."""

from __future__ import annotations

import importlib.util
import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml

from ansible_kit import COLLECTION
ROLE_TASKS = COLLECTION / "roles" / "collect" / "tasks"


def _bundles_module():
    spec = importlib.util.spec_from_file_location("impax_bundles", COLLECTION / "plugins" / "plugin_utils" / "bundles.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.service
def test_built_collection_installs_with_its_documentation(collections_path, run_ansible, tmp_path):
    installed = collections_path / "ansible_collections" / "impax" / "preflight"
    manifest = json.loads((installed / "MANIFEST.json").read_text())["collection_info"]
    assert (manifest["namespace"], manifest["name"]) == ("impax", "preflight")
    files = {p.relative_to(installed).as_posix() for p in installed.rglob("*") if p.is_file()}
    for expected in ("plugins/inventory/site.py", "plugins/action/fetch_bundle.py", "plugins/filter/site_runs.py",
                     "roles/collect/tasks/posix.yml", "roles/collect/tasks/windows.yml", "roles/evaluate/tasks/gate.yml",
                     "roles/merge/tasks/main.yml", "playbooks/preflight.yml", "playbooks/cluster_report.yml",
                     "awx/impax-preflight-awx.json", "README.md"):
        assert expected in files, expected
    for args, text in ((["-t", "inventory", "impax.preflight.site"], "impax-preflight site inventories"),
                       (["impax.preflight.fetch_bundle"], "without Python"),
                       (["impax.preflight.record_failed_collection"], "collection_failed"),
                       (["-t", "role", "impax.preflight.collect"], "impax_preflight_collect_become")):
        run = run_ansible("ansible-doc", *args, cwd=tmp_path)
        assert run.rc == 0 and text in run.stdout.replace("\n", " ").replace("  ", " "), (args, run.stdout[-800:], run.stderr)


@pytest.mark.service
@pytest.mark.parametrize("playbook", ["impax.preflight.preflight", "impax.preflight.cluster_report"])
def test_playbooks_pass_the_syntax_check(run_ansible, tmp_path, playbook):
    run = run_ansible("ansible-playbook", "-i", "localhost,", "--syntax-check", playbook, cwd=tmp_path)
    assert run.rc == 0, run.stdout + run.stderr


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _manifest(host="arch1", commands=1):
    cmds = [{"command": f"cmd {i}", "rc": 0, "stdout": f"out/{i:03d}.out", "stderr": f"out/{i:03d}.err"} for i in range(1, commands + 1)]
    return json.dumps({"format": "impax-preflight-bundle/1", "host": host, "os": "solaris", "commands": cmds}).encode()


def test_bundles_are_normalised_to_one_stable_zip(tmp_path):
    b = _bundles_module()
    files = {"bundle/manifest.json": _manifest(), "bundle/out/001.out": b"ok\n", "bundle/out/001.err": b""}
    # a tar.gz from a server without zip, with the bundle folder as its top level
    tgz = tmp_path / "b.tar.gz"
    with tarfile.open(tgz, "w:gz") as t:
        for name, data in files.items():
            info = tarfile.TarInfo("./" + name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    manifest, flat = b.normalized(b.members_of_archive(str(tgz)), "arch1")
    assert sorted(flat) == ["manifest.json", "out/001.err", "out/001.out"] and manifest["host"] == "arch1"
    dest = tmp_path / "bundles" / "arch1.zip"
    assert b.write_zip(str(dest), flat) is True
    first = dest.read_bytes()
    assert b.write_zip(str(dest), flat) is False and dest.read_bytes() == first  # same outputs: not a change
    assert b.write_zip(str(dest), {**flat, "out/001.out": b"changed\n"}) is True
    assert dest.stat().st_mode & 0o777 == 0o600
    # Windows Compress-Archive names with backslashes
    win = tmp_path / "w.zip"
    win.write_bytes(_zip({"bundle\\manifest.json": _manifest(), "bundle\\out\\001.out": b"x", "bundle\\out\\001.err": b""}))
    assert sorted(b.normalized(b.members_of_archive(str(win)))[1]) == ["manifest.json", "out/001.err", "out/001.out"]


@pytest.mark.parametrize("members, problem", [
    ({"bundle/out/001.out": b""}, "no manifest.json: the collector did not finish"),
    ({"manifest.json": b"{not json"}, "not valid JSON"),
    ({"manifest.json": json.dumps({"format": "other/1"}).encode()}, "is not format impax-preflight-bundle/1"),
    ({"manifest.json": _manifest(host="other")}, "collected on host 'other', not 'arch1'"),
    ({"manifest.json": _manifest(), "out/001.out": b""}, "lists out/001.err but does not hold it"),
])
def test_unusable_bundles_are_refused_with_the_reason(members, problem):
    b = _bundles_module()
    with pytest.raises(b.BundleProblem, match=problem.replace("(", r"\(").replace(")", r"\)")):
        b.normalized(members, "arch1")


def test_failure_reason_is_one_readable_line():
    b = _bundles_module()
    reason = b.failure_reason("Run the collector", {"msg": "Task failed: non-zero return code", "rc": 2,
                                                    "stdout": "collector: cannot create /x/out\r\nShared connection to 10.1.1.5 closed.\r\n"})
    assert reason == "Run the collector: non-zero return code; rc 2; stdout: collector: cannot create /x/out"
    assert b.failure_reason("", {"msg": "x" * 5000}).endswith("…") and len(b.failure_reason("", {"msg": "x" * 5000})) == 1500
    files = b.failed_collection("arch1", "solaris", "the server could not be reached")
    manifest = json.loads(files["manifest.json"])
    assert manifest["collection_failed"] == "the server could not be reached" and manifest["commands"] == []


def _tasks(path: Path) -> list[dict]:
    out = []

    def walk(items):
        for t in items or []:
            out.append(t)
            for key in ("block", "rescue", "always"):
                walk(t.get(key))
    walk(yaml.safe_load(path.read_text()))
    return out


def _module(task: dict) -> str | None:
    keywords = {"name", "block", "rescue", "always", "vars", "when", "register", "become", "timeout", "changed_when",
                "failed_when", "ignore_unreachable", "check_mode", "delegate_to", "run_once", "loop", "loop_control"}
    mods = [k for k in task if k not in keywords]
    return mods[0] if mods else None


def test_windows_path_uses_only_ansible_core_and_mirrors_the_posix_path():
    """No Windows server here: the PowerShell path is checked for structure (and reached over WinRM
    below). It must not need the ansible.windows collection, which ansible-core does not ship."""
    win, posix = _tasks(ROLE_TASKS / "windows.yml"), _tasks(ROLE_TASKS / "posix.yml")
    win_mods = [m for m in map(_module, win) if m]
    assert all(m.startswith(("ansible.builtin.", "impax.preflight.")) for m in win_mods), win_mods
    assert "ansible.windows" not in (ROLE_TASKS / "windows.yml").read_text().replace("ansible.windows collection", "")
    # the same steps, in the same order, with the same names (only the chmod for become is POSIX-only)
    names = lambda ts: [t["name"] for t in ts if _module(t)]  # noqa: E731
    assert names(win) == [n for n in names(posix) if n != "Let the login user read what the privileged collector wrote"]
    for tasks in (win, posix):
        remote = [t for t in tasks if _module(t) in ("ansible.builtin.raw", "ansible.builtin.script", "impax.preflight.fetch_bundle")
                  and t.get("become") is not True]
        assert remote and all(t.get("ignore_unreachable") is True for t in remote)
        assert all(t.get("changed_when") is False for t in remote if _module(t) != "impax.preflight.fetch_bundle")
        cleanup = [t for t in tasks if t.get("name") == "Remove the temporary folder on the server"]
        assert len(cleanup) == 1 and any(cleanup[0] in (blk.get("always") or []) for blk in tasks)
    script = next(t for t in win if _module(t) == "ansible.builtin.script")
    assert "executable" not in script["ansible.builtin.script"]  # a .ps1 runs under PowerShell by itself
    assert script["vars"]["ansible_remote_tmp"] == "{{ _impax_tmp }}"


@pytest.mark.service
def test_windows_host_over_winrm_that_does_not_answer_is_an_error_finding(run_ansible, tmp_path):
    """The Windows path as far as it can run here: the PowerShell collector is written, WinRM
    (pywinrm) tries the closed loopback port, the failure is recorded, the site report has the error."""
    from conftest import require_service
    from services import free_port

    require_service(importlib.util.find_spec("winrm") is not None, "pywinrm in the test environment (pip install -e '.[test]')")
    site = {"site": {"name": "Windows Site", "impax_version": "6.3.1", "platform": "AS300"},
            "hosts": [{"name": "ws01", "address": "127.0.0.1", "os": "windows", "roles": ["application"], "tier": "prod",
                       "transport": {"kind": "bundle", "bundle": "never-collected-by-hand.zip"}}]}
    (tmp_path / "site.yaml").write_text(yaml.safe_dump(site))
    (tmp_path / "win.impax_preflight.yml").write_text("plugin: impax.preflight.site\nsites: [site.yaml]\n")
    (tmp_path / "group_vars").mkdir()
    secret = "WinRM-Secret-5150"
    (tmp_path / "group_vars" / "os_windows.yml").write_text(yaml.safe_dump({
        "ansible_port": free_port(), "ansible_user": "svc-preflight", "ansible_password": secret,
        "ansible_winrm_transport": "ntlm", "ansible_winrm_scheme": "http", "ansible_winrm_connection_timeout": 5}))
    out = tmp_path / "out"
    import shutil
    import sys

    cmd = shutil.which("impax-preflight", path=str(Path(sys.executable).parent))
    run = run_ansible("ansible-playbook", "-i", "win.impax_preflight.yml", "impax.preflight.preflight",
                      "-e", f"impax_preflight_command={cmd}", "-e", f"impax_preflight_output_dir={out}",
                      "-e", "impax_preflight_fail_on=never", cwd=tmp_path)
    assert run.rc == 0, run.stdout[-3000:] + run.stderr[-2000:]
    tried = run.results(task="Make a private temporary folder on the server", host="ws01")
    assert tried and tried[0]["status"] == "unreachable" and "/windows.yml:" in tried[0]["path"]
    assert run.recap["ws01"]["rescued"] == 1
    report = json.loads((out / "runs" / "windows-site" / "all" / "report.json").read_text())
    mine = [f for f in report["findings"] if f.get("host") == "ws01" and f["target_kind"] == "host"]
    assert mine and {f["status"] for f in mine} == {"error"}
    assert all("collecting on the server failed" in f["message"] and "the server could not be reached" in f["message"]
               for f in mine)
    everything = json.dumps(report) + run.stdout + run.stderr + "".join(
        p.read_bytes().decode("latin-1") for p in out.rglob("*") if p.is_file())
    assert secret not in everything
