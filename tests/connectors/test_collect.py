"""The bundle collector: the sh script really runs here and its bundle replays through BundleShell;
the PowerShell script cannot run on this machine, so its text is checked instead."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from impax_preflight.transports.base import NotCollected
from impax_preflight.transports.bundle import FORMAT, BundleShell
from impax_preflight.plan import host_commands as commands_for_host
from impax_preflight.transports.collector import collector_script

UTF16_TEXT = "Größe: 12 GB\r\nÉtat: OK\r\n"

# (command, expected rc, expected stdout, expected stderr)
CASES = [
    ("svcs -xv", 0, "svc:/application/impax/archive:default (IMPAX archive)\n State: online\n", ""),
    ("fmadm faulty -a", 1, "", "fmadm: failed to connect to fmd: permission denied\n"),
    ("wmic-utf16", 0, UTF16_TEXT, ""),
    ("echo 'it'\"'\"'s \"quoted\" $HOME \\ back' | tr a A", 0, "it's \"quoted\" $HOME \\ bAck\n", ""),
    ("printf '%s\\n' 50% && echo tab:\t:end", 0, "50%\ntab: :end\n", ""),  # the tab splits words, as in any sh
    ("cat; echo stdin-closed", 0, "stdin-closed\n", ""),
    ("echo out; echo err >&2; exit 3", 3, "out\n", "err\n"),
    ("zpool status -x", 0, "all pools are healthy\n", ""),
    ("echo $LC_ALL", 0, "C\n", ""),
    ("no-such-command-here", 127, "", None),
]


def _fake_bin(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scripts = {
        "svcs": "printf 'svc:/application/impax/archive:default (IMPAX archive)\\n State: online\\n'",
        "fmadm": "echo 'fmadm: failed to connect to fmd: permission denied' >&2; exit 1",
        "zpool": "echo 'all pools are healthy'",
        # a Windows tool writing UTF-16 LE with a BOM, as wmic does when redirected
        "wmic-utf16": "printf '" + "".join(f"\\{b:03o}" for b in (b"\xff\xfe" + UTF16_TEXT.encode("utf-16-le"))) + "'",
    }
    for name, body in scripts.items():
        p = bin_dir / name
        p.write_text("#!/bin/sh\n" + body + "\n")
        p.chmod(0o755)
    return bin_dir


@pytest.fixture
def collected(tmp_path):
    """Run the generated sh collector for a Solaris-like host, with stand-in commands first on PATH."""
    script = collector_script("arch1", "solaris", [c[0] for c in CASES])
    path = tmp_path / "collect-arch1.sh"
    path.write_text(script)
    bin_dir = _fake_bin(tmp_path)
    env = dict(os.environ, PATH=f"{bin_dir}:/usr/bin:/bin", LC_ALL="de_DE.UTF-8")
    r = subprocess.run(["sh", str(path), str(tmp_path / "bundle-arch1")], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return tmp_path / "bundle-arch1", r


def test_sh_collector_bundle_round_trips_every_command(collected):
    bundle_dir, run = collected
    manifest = json.loads((bundle_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format"] == FORMAT and manifest["host"] == "arch1" and manifest["os"] == "solaris"
    assert [e["command"] for e in manifest["commands"]] == [c[0] for c in CASES]
    for e in manifest["commands"]:
        assert isinstance(e["duration_s"], (int, float)) and e["duration_s"] >= 0
        assert e["started"].endswith("Z")
    shell = BundleShell(bundle_dir, host_name="arch1", os_name="solaris")
    for command, rc, stdout, stderr in CASES:
        res = shell.run(command)
        assert res.rc == rc, command
        assert res.stdout == stdout, command
        if stderr is not None:
            assert res.stderr == stderr, command
        assert res.transport == "bundle"
    assert "not found" in shell.run("no-such-command-here").stderr
    # whitespace is folded when looking up
    assert shell.run("zpool   status  -x").stdout == "all pools are healthy\n"
    with pytest.raises(NotCollected, match="not collected.*impax-preflight collect"):
        shell.run("metastat -c")


def test_sh_collector_packs_an_archive_that_also_replays(collected):
    bundle_dir, run = collected
    zipped = bundle_dir.parent / "bundle-arch1.zip"
    tarred = bundle_dir.parent / "bundle-arch1.tar.gz"
    if shutil.which("zip"):
        assert zipfile.is_zipfile(zipped)
        assert BundleShell(zipped).run("svcs -xv").rc == 0
    else:
        assert tarred.exists() and "extract it before use" in run.stderr
    # whatever the server had, both archive forms of the same folder replay identically
    import tarfile

    tar_path = bundle_dir.parent / "repacked.tar.gz"
    with tarfile.open(tar_path, "w:gz") as t:
        t.add(bundle_dir, arcname=bundle_dir.name)
    folder, packed = BundleShell(bundle_dir), BundleShell(tar_path)
    for cmd in ("svcs -xv", "zpool status -x"):
        a, b = folder.run(cmd), packed.run(cmd)
        assert (a.rc, a.stdout, a.stderr) == (b.rc, b.stdout, b.stderr)


def test_sh_collector_refuses_to_overwrite_a_bundle(collected, tmp_path):
    bundle_dir, _ = collected
    r = subprocess.run(["sh", str(tmp_path / "collect-arch1.sh"), str(bundle_dir)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 2 and "already holds a bundle" in r.stderr


def test_powershell_collector_text():
    """PowerShell cannot run here: check each command is present, quoted, and the manifest is built right."""
    cmds = [
        'reg query "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion" /v ProductName',
        "wmic logicaldisk get caption,freespace,size /format:csv",
        "sc query \"MSSQLSERVER\" | findstr STATE",
        "echo it's $env:PATH `n %COMPUTERNAME%",
    ]
    text = collector_script("pacs-db1", "windows", cmds)
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    lines = text.split("\r\n")
    invocations = [l for l in lines if l.startswith("Invoke-One ")]
    assert len(invocations) == len(cmds)
    for i, (line, cmd) in enumerate(zip(invocations, cmds), start=1):
        ps_cmd = "'" + cmd.replace("'", "''") + "'"
        ps_json = "'" + json.dumps(cmd).replace("'", "''") + "'"
        assert line == f"Invoke-One '{i:03d}' {ps_json} {ps_cmd}"
    # single-quoted literals only: nothing of the command is expanded by PowerShell
    assert "Invoke-One '004' '\"echo it''s $env:PATH `n %COMPUTERNAME%\"' 'echo it''s $env:PATH `n %COMPUTERNAME%'" in text
    assert "$HostJson = '\"pacs-db1\"'" in text
    assert FORMAT in text and '"os": "windows"' in text
    # cmd.exe runs each command; invariant culture keeps a '.' decimal point in the JSON
    assert "$env:ComSpec" in text and "'/d /s /c \"\"'" in text
    assert "InvariantCulture" in text and "UTF8Encoding($false)" in text
    # PowerShell 2.0: no cmdlets or syntax newer than 2.0 outside a guarded branch
    for newer in ("ConvertTo-Json", "Invoke-WebRequest", "[ordered]", "-Raw", "::new("):
        assert newer not in text
    assert "Get-Command Compress-Archive" in text and "Shell.Application" in text


def test_sh_collector_is_valid_bourne_syntax():
    text = collector_script("h'1 \"x\"", "linux", ["echo a", "uname -a"])
    assert subprocess.run(["sh", "-n"], input=text, text=True).returncode == 0
    assert "HOST_JSON='\"h'\"'\"'1 \\\"x\\\"\"'" in text


# ---- the CLI --------------------------------------------------------------------------------

PLUGIN = '''
from impax_preflight import hookimpl
from impax_preflight.check import check, register_module_checks


@check("test.svcs", "services", "blocker", "host", os=["solaris"], commands={"solaris": ["svcs -xv"]})
def svcs_check(ctx):
    return ctx.passed("ok")


@check("test.fmadm", "faults", "warning", "host", roles=["archive"],
       commands={"solaris": ["fmadm faulty -a"], "windows": ["wevtutil qe System /c:5"]})
def fmadm_check(ctx):
    return ctx.passed("ok")


@check("test.curator-only", "curator", "info", "host", roles=["curator"], commands={"*": ["cat /etc/curator"]})
def curator_check(ctx):
    return ctx.passed("ok")


@check("test.db", "db host", "info", "database", db_kinds=["oracle"], commands={"solaris": ["ps -ef"]})
def db_check(ctx):
    return ctx.passed("ok")


@hookimpl
def impax_register_checks(register):
    register_module_checks(register, globals())


@hookimpl
def impax_fact_commands(os):
    return ["uname -a", "svcs -xv"] if os == "solaris" else ["systeminfo"]
'''

INVENTORY = '''
[site]
name = "Test Hospital"
impax_version = "6.3.1"
platform = "AS3000"

[[hosts]]
name = "arch1"
address = "10.0.0.5"
os = "solaris"
roles = ["archive", "database"]

[[hosts.databases]]
name = "mvf"
kind = "oracle"
service_name = "MVF"

[[hosts]]
name = "web1"
address = "10.0.0.6"
os = "windows"
roles = ["application"]
'''


@pytest.fixture
def site(tmp_path):
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "collect_test_plugin.py").write_text(PLUGIN)
    inv = tmp_path / "site.toml"
    inv.write_text(INVENTORY)
    return tmp_path


def test_commands_for_host_follow_applicability(site):
    from impax_preflight.inventory import load_inventory
    from impax_preflight import load_plugins

    inv = load_inventory(site / "site.toml")
    plugins = load_plugins(plugins_dirs=[site / "plugins"], entry_points=False)
    arch = commands_for_host(plugins, inv, inv.host("arch1"))
    for c in ("uname -a", "svcs -xv", "fmadm faulty -a", "ps -ef"):
        assert c in arch
    assert "cat /etc/curator" not in arch and arch.count("svcs -xv") == 1
    web = commands_for_host(plugins, inv, inv.host("web1"))
    assert "systeminfo" in web and "wevtutil qe System /c:5" not in web  # fmadm check is for archives


def test_collect_cli_writes_script_readme_and_usage(site):
    from impax_preflight.cli import _add_plugin_commands, cli

    _add_plugin_commands()  # the real wiring: built-in plugins add their commands
    assert "collect" in cli.commands
    out = site / "out"
    r = CliRunner().invoke(cli, ["collect", str(site / "site.toml"), "--host", "arch1", "-o", str(out),
                                 "--plugins-dir", str(site / "plugins")])
    assert r.exit_code == 0, r.output
    script = (out / "collect-arch1.sh").read_text()
    assert "run_one 001 " in script and "'fmadm faulty -a'" in script
    readme = (out / "README.txt").read_text()
    assert "sh collect-arch1.sh" in readme and "--bundle arch1=" in readme and "fmadm faulty -a" in readme
    assert f"impax-preflight run {site / 'site.toml'} --bundle arch1=PATH/TO/BUNDLE" in r.output

    r = CliRunner().invoke(cli, ["collect", str(site / "site.toml"), "--host", "web1", "-o", str(out),
                                 "--plugins-dir", str(site / "plugins")])
    assert r.exit_code == 0, r.output
    ps = (out / "collect-web1.ps1").read_bytes()
    assert ps.startswith(b"\xef\xbb\xbf") and b"Invoke-One '001' '\"systeminfo\"' 'systeminfo'" in ps


def test_collect_cli_bad_inventory_and_unknown_host_exit_3(site):
    from impax_preflight.cli import _add_plugin_commands, cli

    _add_plugin_commands()  # the real wiring: built-in plugins add their commands
    assert "collect" in cli.commands
    bad = site / "bad.toml"
    bad.write_text("[site]\nname = 1\n")
    r = CliRunner().invoke(cli, ["collect", str(bad), "--host", "arch1"])
    assert r.exit_code == 3 and "not valid" in r.output
    r = CliRunner().invoke(cli, ["collect", str(site / "site.toml"), "--host", "nope", "-o", str(site / "o")])
    assert r.exit_code == 3 and "hosts: arch1, web1" in r.output
