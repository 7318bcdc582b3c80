"""Collector scripts against hostile host names, paths and commands.

The sh collector is checked with `sh -n` and run for real (a temp folder, a PATH holding only the
tools it needs plus stand-ins that record how they were called): only the listed commands run,
each with its exact text. PowerShell cannot run here (no pwsh in the registries this machine
reaches), so the PowerShell collector is parsed with tree-sitter-powershell, an independent
PowerShell grammar: no parse error, no command other than the template's, and every literal
evaluates back to the exact text it carries. The grammar is not PowerShell itself: that is said in
docs/bundles.md."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from procs import matching, sleep_cmd

from impax_preflight.transports.bundle import BundleShell
from impax_preflight.transports.collector import collector_script
from impax_preflight.transports.quoting import UnsafeScriptText, comment_text, display_text, ps_literal, sh_word

HOSTILE = [
    "plain-host_1.example",
    "a'b", 'a"b', "a`pwned`b", "$(pwned)", "${HOME}", "a;pwned", "a|pwned", "a&pwned&", "a\\b\\", "\\",
    "line1\npwned", "cr\rpwned", "crlf\r\npwned", "\rpwned", "trailing-newline\n", "tab\tx", "\x1b[2J\x1b[31mred",
    "bidi\u202eevil", "ls\u2028pwned", "nel\u0085pwned", "#comment", "-rf", "--", "*", "?", "[a]", "~root",
    "%COMPUTERNAME%", "%PATH:~0,1%", "^&pwned", "$env:PATH", "@(pwned)", "$(pwned)@", "'; pwned; '",
    '"; pwned; "', "'@\npwned\n'@", "é ü 中文 😀", "a''b", "\u2018smart\u2019 \u201aquotes\u201b", "<#", "#>",
    "x #> pwned <# y", "`n`r", "\x7f\x01\x02", "", " ", "{}", "}{", "-Command pwned",
]


# ---- sh ---------------------------------------------------------------------------------------

TOOLS = ["date", "mkdir", "tr", "perl", "awk", "ps", "expr", "sleep", "rm", "cat", "basename", "dirname", "zip",
         "tar", "gzip", "printf", "kill"]


def _stub_path(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A bin folder with the real tools the collector uses, `record` (appends its argument, NUL
    terminated, to a log) and `pwned` (would leave a mark)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        real = shutil.which(tool)
        if real:
            (bin_dir / tool).symlink_to(real)
    log, mark = tmp_path / "record.log", tmp_path / "PWNED"
    (bin_dir / "record").write_text(f"#!/bin/sh\nprintf '%s\\0' \"$1\" >> {shlex.quote(str(log))}\n")
    (bin_dir / "pwned").write_text(f"#!/bin/sh\necho \"$*\" >> {shlex.quote(str(mark))}\n")
    for stub in ("record", "pwned"):
        (bin_dir / stub).chmod(0o755)
    return bin_dir, log, mark


@pytest.mark.parametrize("host", HOSTILE, ids=range(len(HOSTILE)))
def test_sh_collector_parses_for_every_hostile_host_name(host):
    text = collector_script(host, "solaris", [f"record {shlex.quote(h)}" for h in HOSTILE] + HOSTILE[1:])
    for shell in ("sh", "bash"):
        r = subprocess.run([shell, "-n"], input=text, text=True, capture_output=True)
        assert r.returncode == 0, (shell, r.stderr)
    # nothing a person reviewing the script could be fooled by: no raw control character anywhere
    for line in text.split("\n"):
        assert all(ch == "\t" or ch.isprintable() and ch not in "\u2028\u2029\u0085" for ch in line), repr(line)


def test_sh_collector_runs_exactly_the_listed_commands(tmp_path):
    bin_dir, log, mark = _stub_path(tmp_path)
    host = "".join(HOSTILE)
    commands = [f"record {shlex.quote(h)}" for h in HOSTILE]
    script = tmp_path / "collect.sh"
    script.write_text(collector_script(host, "solaris", commands))
    out_dir = tmp_path / "-out $(pwned) `pwned` ; 'q' \"dq\" %x% \\ [a]*\nnl"
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path), "LC_ALL": "C"}
    r = subprocess.run(["/bin/sh", str(script), str(out_dir)], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert not mark.exists(), mark.read_text()
    recorded = log.read_bytes().decode("utf-8").split("\0")[:-1]
    assert recorded == HOSTILE
    manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["host"] == host
    assert [e["command"] for e in manifest["commands"]] == commands
    assert all(e["rc"] == 0 and "timed_out" not in e for e in manifest["commands"])
    shell = BundleShell(out_dir, host_name=host)
    for c in commands:
        assert shell.run(c).rc == 0
    # the progress lines show the commands, with control characters escaped
    assert "\x1b" not in r.stderr and "\r" not in r.stderr
    # the archive sits next to the folder, named after it, and replays too
    packed = [p for p in tmp_path.iterdir() if p.name.startswith("-out") and p.suffix in (".zip", ".gz")]
    assert len(packed) == 1, list(tmp_path.iterdir())
    assert BundleShell(packed[0], host_name=host).run(commands[3]).rc == 0


def test_sh_collector_kills_a_command_at_its_timeout(tmp_path):
    """No `timeout` on Solaris 10: a background job and a watchdog that kills the command's process
    tree; the manifest says so and the replay is a timeout error, the next command still runs."""
    from impax_preflight.transports.base import CommandTimeout

    commands = [f"{sleep_cmd(341)} & {sleep_cmd(342)}; echo never", "echo next"]
    script = tmp_path / "collect.sh"
    script.write_text(collector_script("slowhost", "solaris", commands, command_timeout_s=1))
    r = subprocess.run(["sh", str(script), str(tmp_path / "b")], cwd=tmp_path, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert "killed after 1 s" in r.stderr
    # nothing of the command is left: its sleeps nor a shell running them (this session's, tagged)
    assert matching("|".join(re.escape(sleep_cmd(n)) for n in (341, 342))) == []
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    first, second = manifest["commands"]
    assert first["timed_out"] is True and first["timeout_s"] == 1 and first["rc"] != 0
    assert second["rc"] == 0 and "timed_out" not in second
    shell = BundleShell(tmp_path / "b")
    with pytest.raises(CommandTimeout, match="collector's 1s timeout"):
        shell.run(commands[0])
    assert shell.run("echo next").stdout == "next\n"


def test_sh_collector_gives_a_command_its_probes_longer_timeout(tmp_path):
    """A probe that declares a longer timeout (a RAID tool, a vendor report) gets it in the collector
    too: the same 2-second command is killed under the 1-second default and finishes under its own 5."""
    commands = ["sleep 2; echo slow-default", "sleep 2; echo slow-allowed"]
    script = tmp_path / "collect.sh"
    script.write_text(collector_script("slowhost", "linux", commands, command_timeout_s=1,
                                       timeouts={"sleep 2; echo slow-allowed": 5}))
    r = subprocess.run(["sh", str(script), str(tmp_path / "b")], cwd=tmp_path, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    first, second = json.loads((tmp_path / "b" / "manifest.json").read_text())["commands"]
    assert first["timed_out"] is True and first["timeout_s"] == 1
    assert second["rc"] == 0 and "timed_out" not in second
    assert BundleShell(tmp_path / "b").run(commands[1]).stdout == "slow-allowed\n"
    ps1 = collector_script("winhost", "windows", ["omreport storage vdisk", "ver"], command_timeout_s=60,
                           timeouts={"omreport storage vdisk": 120})
    assert "'omreport storage vdisk' 120000" in ps1 and "'ver'\r\n" in ps1


def test_collect_gives_probe_timeouts_from_the_catalog():
    from impax_preflight import load_plugins
    from impax_preflight.plan import host_command_timeouts
    from impax_preflight.testing import make_inventory

    inv = make_inventory({"hosts": [{"name": "app1", "os": "windows", "roles": ["application"], "transport": {"kind": "local"}}]},
                         platform="AS300")
    limits = host_command_timeouts(load_plugins(entry_points=False), inv, inv.hosts[0])
    assert limits.get("omreport storage vdisk") == 120


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_sh_word_round_trips_through_a_real_shell(text):
    r = subprocess.run(["sh", "-c", f"NL='\n'; printf '%s' {sh_word(text)}"], capture_output=True)
    assert r.stdout.decode("utf-8") == text


def test_nul_in_a_command_is_refused_and_in_a_host_name_carried_as_json():
    text = collector_script("a\0b", "linux", ["true"])
    assert "\0" not in text and "a\\u0000b" in text
    assert subprocess.run(["sh", "-n"], input=text, text=True).returncode == 0
    for render in (lambda: collector_script("a", "linux", ["echo \0"]),
                   lambda: collector_script("a", "windows", ["echo \0"]),
                   lambda: collector_script("a", "windows", ["echo a\r\necho b"])):
        with pytest.raises(UnsafeScriptText):
            render()
    with pytest.raises(UnsafeScriptText, match="unknown OS"):
        collector_script("a", "linux'; pwned; '", ["true"])


# ---- PowerShell, parsed by an independent grammar ----------------------------------------------

import tree_sitter as ts  # noqa: E402 - test extra (pyproject.toml): a PowerShell grammar, no PowerShell here
import tree_sitter_powershell as tsp  # noqa: E402

PARSER = ts.Parser(ts.Language(tsp.language()))

_PASS_THROUGH = {
    "array_literal_expression", "unary_expression", "pipeline", "pipeline_chain", "logical_expression",
    "bitwise_expression", "comparison_expression", "multiplicative_expression", "format_expression",
    "range_expression", "expression_with_unary_operator",
}
_QUOTES = ("'", "\u2018", "\u2019", "\u201a", "\u201b")


def _value(node) -> str:
    """Evaluate a literal our quoting makes: strings, [char]N, [char]::ConvertFromUtf32(N), '+'.
    Anything else is a failure: the argument holds something that is not plain data."""
    t = node.type
    named = [c for c in node.children if c.is_named]
    if t in _PASS_THROUGH and len(named) == 1:
        return _value(named[0])
    if t == "additive_expression" and len(named) == 1:
        return _value(named[0])
    if t == "additive_expression":
        left, op, right = node.children
        assert op.type == "+", op.type
        return _value(left) + _value(right)
    if t == "parenthesized_expression":
        return _value(named[0])
    if t == "string_literal":
        (chars,) = named
        assert chars.type == "verbatim_string_characters", chars.type
        raw = chars.text.decode("utf-8")
        assert raw[0] in _QUOTES and raw[-1] in _QUOTES, raw
        body = raw[1:-1]
        for q in _QUOTES:
            body = body.replace(q + q, q)
        return body
    if t == "cast_expression":
        kind, operand = named
        assert kind.text.decode().lower() == "[char]", kind.text
        return chr(int(operand.text.decode(), 0))
    if t == "invokation_expression":
        assert node.text.decode().startswith("[char]::ConvertFromUtf32("), node.text
        return chr(int(node.text.decode().split("(")[1].rstrip(")"), 0))
    raise AssertionError(f"unexpected {t}: {node.text!r}")


def _walk(node):
    yield node
    for c in node.children:
        yield from _walk(c)


def _structure(text: str):
    tree = PARSER.parse(text.encode("utf-8"))
    assert not tree.root_node.has_error, "the PowerShell grammar found a syntax error"
    commands = [n for n in _walk(tree.root_node) if n.type == "command"]
    names = Counter(n.child_by_field_name("command_name").text.decode() for n in commands)
    comments = [n.text.decode("utf-8") for n in _walk(tree.root_node) if n.type == "comment"]
    return tree, commands, names, comments


BENIGN = _structure(collector_script("web1", "windows", ["systeminfo", "sc query X"]))


@pytest.mark.parametrize("host", HOSTILE, ids=range(len(HOSTILE)))
def test_powershell_collector_structure_with_hostile_names_and_commands(host):
    commands = [h for h in HOSTILE if "\r" not in h and "\n" not in h]  # cmd.exe commands are one line
    text = collector_script(host, "windows", commands)
    tree, found, names, comments = _structure(text)
    _, _, benign_names, benign_comments = BENIGN
    # the same commands as the template, and one Invoke-One per listed command
    expected = Counter(benign_names)
    expected["Invoke-One"] = len(commands)
    assert names == expected
    # the comments are the template's, each on its own line
    assert len(comments) == len(benign_comments)
    assert comments[0].startswith("# impax-preflight collector for host ") and comment_text(host) in comments[0]
    # every Invoke-One carries exactly (number, JSON of the command, the command)
    invocations = [n for n in found if n.child_by_field_name("command_name").text.decode() == "Invoke-One"]
    for i, (node, cmd) in enumerate(zip(invocations, commands), start=1):
        args = [c for c in node.child_by_field_name("command_elements").children if c.type != "command_argument_sep"]
        assert [_value(a) for a in args] == [f"{i:03d}", json.dumps(cmd), cmd]
    # $HostJson holds the JSON of the host name, nothing else
    assignment = next(n for n in _walk(tree.root_node) if n.type == "assignment_expression"
                      and n.text.decode().startswith("$HostJson"))
    assert _value(assignment.children[-1]) == json.dumps(host)
    # no raw line break or control character inside any line
    for line in text.split("\r\n"):
        assert all(ch == "\t" or ch.isprintable() for ch in line), repr(line)


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_ps_literal_is_one_argument_that_evaluates_back(text):
    src = f"Write-Output {ps_literal(text)}\r\n"
    tree = PARSER.parse(src.encode("utf-8"))
    assert not tree.root_node.has_error
    (command,) = [n for n in _walk(tree.root_node) if n.type == "command"]
    args = [c for c in command.child_by_field_name("command_elements").children if c.type != "command_argument_sep"]
    assert len(args) == 1 and _value(args[0]) == text


def test_old_quoting_fails_the_structure_check():
    """The check above is not toothless: the carriage return the probe used, left raw in a comment
    line (what the collector did before), makes a command of its own for the grammar too."""
    text = "# impax-preflight collector for host x\rWrite-Host pwned (windows)\r\n$HostJson = 'x'\r\n"
    _, _, names, _ = _structure(text)
    assert names["Write-Host"] == 1


def test_display_text_escapes_what_a_terminal_would_act_on():
    assert display_text("a\rb\x1b[2J\u202e") == "a\\rb\\u001b[2J\\u202e"
    assert os.linesep not in display_text("x\ny")


def test_collect_cli_with_hostile_host_names_writes_only_into_its_folder(tmp_path):
    from click.testing import CliRunner

    from impax_preflight.cli import _add_plugin_commands, cli

    _add_plugin_commands()
    # a line break in a name is refused when the inventory loads (file:line:field, exit 3) ...
    broken = tmp_path / "broken.toml"
    broken.write_text('[site]\nname = "H"\nimpax_version = "6.3.1"\nplatform = "AS3000"\n\n[[hosts]]\n'
                      'name = "a\\rWrite-Host pwned"\nos = "windows"\nroles = ["archive"]\n')
    r = CliRunner().invoke(cli, ["collect", str(broken), "-o", str(tmp_path / "none"), "--host", "a\rWrite-Host pwned"])
    assert r.exit_code == 3 and "broken.toml:7: hosts[0].name" in r.output and "U+000D" in r.output
    assert not (tmp_path / "none").exists()
    # ... and every other hostile name is escaped by the collector itself
    names = ["../../escaped; Write-Host pwned", "a`b$(touch pwned); pwned", "win'x\"y"]
    hosts = "".join(
        f'[[hosts]]\nname = {json.dumps(n)}\naddress = "10.0.0.{i}"\nos = "{"windows" if i == 2 else "solaris"}"\n'
        'roles = ["archive"]\n\n' for i, n in enumerate(names))
    inv = tmp_path / "site.toml"
    inv.write_text('[site]\nname = "H"\nimpax_version = "6.3.1"\nplatform = "AS3000"\n\n' + hosts)
    out = tmp_path / "collectors"
    args = ["collect", str(inv), "-o", str(out)]
    for n in names:
        args += ["--host", n]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    written = sorted(p.name for p in out.iterdir())
    assert all("/" not in n and "\r" not in n and "\n" not in n for n in written)
    assert not list(tmp_path.glob("escaped*")) and not list(tmp_path.parent.glob("escaped*"))
    for p in out.iterdir():
        text = p.read_text(encoding="utf-8-sig")
        lines = text.replace("\r\n", "\n").split("\n")
        assert all("\r" not in line for line in lines), p.name
        if p.suffix == ".sh":
            assert subprocess.run(["sh", "-n", str(p)]).returncode == 0
        if p.suffix == ".ps1":
            assert not PARSER.parse(text.encode()).root_node.has_error
        if p.suffix == ".txt":
            assert "seconds at most" in text
