"""Mutated input files for the no-crash property test (tests/core/test_input_fuzz.py).

Every file a user hands the tool is mutated from a real one (the examples, the demo inventory, the
example checks, a report.json of a demo run): lines deleted, duplicated or swapped, values swapped
or replaced by hostile ones (huge numbers, inf/nan, control characters, look-around regexes,
``site.__class__`` paths, paths longer than a file name may be), deep nesting, long keys, YAML
aliases, truncation, bytes that are not UTF-8. Each mutated file is loaded in a separate worker
process that measures the time and the peak memory of that one case, so a hang or a memory blow-up
is seen (and killed) instead of taking the test run down.

Run it by hand to count what a loader does with N mutations of each kind::

    .venv/bin/python tests/inputfuzz.py --count 1000
"""

from __future__ import annotations

import functools
import json
import os
import random
import re
import select
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("inventory_toml", "inventory_yaml", "waivers", "checks", "report")
SUFFIX = {"inventory_toml": ".toml", "inventory_yaml": ".yaml", "waivers": ".toml", "checks": ".toml", "report": ".json",
          "selftest": ".txt"}
#: what every case must stay under (the issue's promise): CPU seconds and peak memory; a case that
#: has not answered after HANG_S seconds of wall time is a hang (the worker is killed)
LIMIT_S = 10.0
LIMIT_MB = 500
HANG_S = 30.0

# ---- hostile values -----------------------------------------------------------------------------


class Raw(str):
    """Text written into the document as it is (a bare TOML/YAML/JSON token)."""


HOSTILE: list = [
    # numbers out of range, not finite, too long to convert, of the wrong type
    0, -1, -5, 65536, 99999, 10**20, 2**63, -(2**63) - 1, 0.0, -0.0, 1e30, 1e308, 0.5,
    Raw("9" * 5000), Raw("-" + "9" * 4400), Raw("inf"), Raw("-inf"), Raw("nan"), Raw("1e999"),
    True, False,
    # text that was a problem somewhere
    "", " ", "banana", "6.5.1", "99999999999999999999999999999.1", "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0",
    "site.__class__.__init__", "site.__class__.__init__.__globals__", "host.__dict__", "site._lines",
    "site.features.__fields__", "host.transport._jump", "site.thresholds.model_config", "site.model_dump",
    "(a+)+$", "^(a|a)*$", "(x+x+)+y", "(?=a)a", "(?<!b)a", "(a)\\1", "(?P<n>a)(?P=n)", "[", "(?i", "\\",
    "x" * 300, "y" * 70_000, "a\x00b", "a\rb\nc", "\x1b[31mred", "\u202eevil", "\t", "\x7f",
    "~nosuchuser_for_fuzz/key", "/" + "d" * 300 + "/f", "../../../../etc/passwd", "/dev/zero", "/proc/self/mem",
    "user@host:99999", "user@host:0", "user@host:-1", "user@[::1", "@", "ops@bastion:22:33", "user@host:1e3",
    "sudo -n; rm -rf /", "pfexec\n", "rm -rf /", "env:", "plain:x", "env:" + "E" * 300, "prompt:", "file:",
    "*", "?*", "[!a]*", "**", "x.*", "a;b=c", "{}", "LoginTimeout", "PWD", "2026-02-30", "9999-12-31", "0000-00-00",
    "2026-11-30T00:00:00", "2026-11-30", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59+14:00", "24:00",
    "select 1; drop table x", "select * from t where x = '\\'", "{value} {value!r} {0} {__class__}", "{value.__class__}",
    # containers where a scalar belongs, and the reverse
    [], [1, 2], ["a"] * 3, {}, {"a": 1}, {"__class__": 1}, [[[]]],
]

LONG_KEYS = ["k" * 256, "k" * 300, "K" * 5000, "a.b." + "c" * 300, "x" * 255]


def nested(depth: int, style: str, fmt: str) -> str:
    """A value nested `depth` levels deep: arrays ([[[...]]]) or tables ({a={a=...}})."""
    if style == "array":
        return "[" * depth + "1" + "]" * depth
    if fmt == "toml":
        return "{a=" * depth + "1" + "}" * depth
    if fmt == "yaml":
        return "{a: " * depth + "1" + "}" * depth
    return '{"a":' * depth + "1" + "}" * depth


def render(value, fmt: str, rng: random.Random) -> str:
    """`value` as a token of the document's syntax (sometimes deliberately wrong)."""
    if isinstance(value, Raw):
        if fmt == "yaml" and value in ("inf", "-inf", "nan"):
            return {"inf": ".inf", "-inf": "-.inf", "nan": ".nan"}[value]
        if fmt == "json" and value in ("inf", "-inf", "nan"):
            return {"inf": "Infinity", "-inf": "-Infinity", "nan": "NaN"}[value]
        return str(value)
    if isinstance(value, bool):
        return ("true" if value else "false")
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        if fmt == "toml" and rng.random() < 0.2:
            return "'" + value.replace("'", "") + "'"  # a literal string: control characters stay raw
        return json.dumps(value, ensure_ascii=rng.random() < 0.5)
    if isinstance(value, list):
        return "[" + ", ".join(render(v, fmt, rng) for v in value) + "]"
    if isinstance(value, dict):
        if fmt == "toml":
            return "{" + ", ".join(f'"{k}" = {render(v, fmt, rng)}' for k, v in value.items()) + "}"
        sep = ": " if fmt == "yaml" else ":"
        return "{" + ", ".join(f"{json.dumps(k)}{sep}{render(v, fmt, rng)}" for k, v in value.items()) + "}"
    raise TypeError(value)


# ---- the mutations ------------------------------------------------------------------------------

_ASSIGN = {
    "toml": re.compile(r"^(\s*[A-Za-z0-9_\-\.\"']+\s*=\s*)(.+?)\s*$"),
    "yaml": re.compile(r"^(\s*(?:-\s+)?[A-Za-z0-9_\-\.\"']+:\s+)(\S.*?)\s*$"),
    "json": re.compile(r'^(\s*"[^"]*":\s*)(.+?)(,?)\s*$'),
}


def _fmt(kind: str) -> str:
    return {"inventory_yaml": "yaml", "report": "json"}.get(kind, "toml")


def _value_lines(lines: list[str], fmt: str) -> list[int]:
    return [i for i, ln in enumerate(lines) if _ASSIGN[fmt].match(ln) and not ln.lstrip().startswith("#")]


def _set_value(line: str, fmt: str, token: str) -> str:
    m = _ASSIGN[fmt].match(line)
    if fmt == "json":
        return m.group(1) + token + m.group(3)
    return m.group(1) + token


def _hostile(rng: random.Random, fmt: str) -> str:
    roll = rng.random()
    if roll < 0.08:
        return nested(rng.choice([3, 31, 33, 60, 200, 1000, 3000]), rng.choice(["array", "table"]), fmt)
    return render(rng.choice(HOSTILE), fmt, rng)


#: values of the same kind as the one replaced: they pass the type check and test the range check
_LIKE = {
    "moment": ["2026-11-30T00:00:00", "2026-11-30", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59+14:00",
               "2026-02-30T00:00:00Z", "2026-11-30T25:00:00Z", "1970-01-01T00:00:00-23:59"],
    "number": [0, -1, -0.0, 1e-300, 1e300, 2**53 + 1, 2**63, Raw("nan"), Raw("inf"), Raw("1e999"), 86_401, 65_536, True],
    "text": ["", " ", "x" * 256, "\u202e", "a\tb", "../x", "*", "6.5.1.", ".", "-1", "None", "null"],
}


def _hostile_like(old: str, rng: random.Random, fmt: str) -> str:
    text = old.strip().rstrip(",").strip("\"'")
    if re.match(r"\d{4}-\d{2}-\d{2}", text):
        kind = "moment"
    elif re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", text):
        kind = "number"
    else:
        kind = "text"
    return render(rng.choice(_LIKE[kind]), fmt, rng)


def mutate_once(text: str, kind: str, rng: random.Random) -> str:
    fmt = _fmt(kind)
    lines = text.splitlines()
    if not lines:
        return text + "\n" + _hostile(rng, fmt)
    assigns = _value_lines(lines, fmt)
    op = rng.choice([
        "replace", "replace", "replace", "replace", "replace", "delete", "duplicate", "swap_lines", "swap_values",
        "long_key", "nest", "control", "truncate", "bytes", "repeat", "yaml", "case",
    ])
    if op == "replace" and assigns:
        # sometimes a top-level field (a report's run-level fields), sometimes any
        top = min(len(lines[j]) - len(lines[j].lstrip()) for j in assigns)
        shallow = [j for j in assigns if len(lines[j]) - len(lines[j].lstrip()) <= top + 2]
        i = rng.choice(shallow if rng.random() < 0.3 else assigns)
        old = _ASSIGN[fmt].match(lines[i]).group(2)
        token = _hostile_like(old, rng, fmt) if rng.random() < 0.5 else _hostile(rng, fmt)
        lines[i] = _set_value(lines[i], fmt, token)
    elif op == "delete":
        del lines[rng.randrange(len(lines))]
    elif op == "duplicate":
        i = rng.randrange(len(lines))
        lines.insert(i + rng.choice([0, 1, 2]), lines[i])
    elif op == "swap_lines":
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif op == "swap_values" and len(assigns) > 1:
        i, j = rng.sample(assigns, 2)
        vi, vj = _ASSIGN[fmt].match(lines[i]).group(2), _ASSIGN[fmt].match(lines[j]).group(2)
        lines[i], lines[j] = _set_value(lines[i], fmt, vj), _set_value(lines[j], fmt, vi)
    elif op == "long_key" and assigns:
        i = rng.choice(assigns)
        key = rng.choice(LONG_KEYS)
        indent = re.match(r"\s*(?:-\s+)?", lines[i]).group(0).replace("-", " ")
        token = _hostile(rng, fmt) if rng.random() < 0.3 else "1"
        if fmt == "toml":
            new = f'"{key}" = {token}' if rng.random() < 0.5 else f"{key} = {token}"
        elif fmt == "yaml":
            new = f"{indent}{key}: {token}"
        else:
            new = f'{indent}"{key}": {token},'
        lines.insert(i + 1, new)
    elif op == "nest" and assigns:
        i = rng.choice(assigns)
        lines[i] = _set_value(lines[i], fmt, nested(rng.choice([31, 33, 100, 999, 5000, 50_000]), rng.choice(["array", "table"]), fmt))
    elif op == "control":
        i = rng.randrange(len(lines))
        pos = rng.randrange(len(lines[i]) + 1)
        lines[i] = lines[i][:pos] + rng.choice(["\x00", "\r", "\x1b", "\u2028", "\ufeff", "\x0c", "\t", "\x85", "\u0000\u0000"]) + lines[i][pos:]
    elif op == "truncate":
        cut = rng.randrange(len(text) + 1)
        return text[:cut]
    elif op == "bytes":
        return text  # marked by the caller: see mutate()
    elif op == "repeat":
        # a very large document: one block repeated until it is megabytes long
        start = rng.randrange(len(lines))
        block = lines[start : start + rng.randint(1, 12)]
        lines[start:start] = block * rng.choice([50, 400, 40_000])  # the last is past the size limit
    elif op == "yaml" and fmt == "yaml":
        lines += _yaml_trick(rng).splitlines()
    elif op == "case" and assigns:
        i = rng.choice(assigns)
        m = _ASSIGN[fmt].match(lines[i])
        lines[i] = m.group(1).upper() + lines[i][len(m.group(1)) :]
    else:
        i = rng.randrange(len(lines))
        lines.insert(i, _hostile(rng, fmt))
    return "\n".join(lines) + ("\n" if rng.random() < 0.9 else "")


def _yaml_trick(rng: random.Random) -> str:
    """Anchors and aliases (a billion laughs, or a quiet one), tags, merge keys, duplicate keys."""
    trick = rng.choice(["bomb", "alias", "merge", "tag", "dupkey", "tab"])
    if trick == "bomb":
        out = ['bomb0: &b0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
        for n in range(1, rng.choice([4, 9, 12])):
            out.append(f"bomb{n}: &b{n} [{', '.join(['*b' + str(n - 1)] * 9)}]")
        return "\n".join(out)
    if trick == "alias":
        return "anchored: &x {a: 1}\nagain: *x"
    if trick == "merge":
        return "base: &base {kind: ssh}\nmerged:\n  <<: *base\n  user: x"
    if trick == "tag":
        return rng.choice(["evil: !!python/object/apply:os.system ['true']", "bin: !!binary 'notbase64!!'",
                           "when: !!timestamp 2026-02-30", "s: !!set {a, b}", "f: !!float nan", "i: !!int 0x" + "f" * 5000])
    if trick == "dupkey":
        return "site:\n  name: again"
    return "tabbed:\n\t- x"


def mutate(text: str, kind: str, rng: random.Random) -> bytes:
    """1 to 3 mutations of a real document; sometimes bytes that are not UTF-8 at all."""
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        text = mutate_once(text, kind, rng)
    data = text.encode("utf-8", "surrogatepass")
    if rng.random() < 0.03:
        pos = rng.randrange(len(data) + 1)
        data = data[:pos] + rng.choice([b"\xff\xfe", b"\xc3", b"\x80\x80", b"\xed\xa0\x80"]) + data[pos:]
    return data


# ---- the seeds: real documents ------------------------------------------------------------------


def _readme_block(lang: str, containing: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for block in re.findall(rf"```{lang}\n(.*?)```", text, re.S):
        if containing in block:
            return block
    raise LookupError(f"README.md has no ```{lang} block with {containing!r}")


def seeds(kind: str, report_json: str | None = None) -> list[str]:
    """The real documents of each kind that the mutations start from."""
    import tomllib

    import yaml

    examples = ROOT / "examples"
    tomls = [p.read_text(encoding="utf-8") for p in sorted(examples.glob("*.toml"))]
    tomls.append((ROOT / "impax_preflight" / "demo" / "site.toml").read_text(encoding="utf-8"))
    if kind == "inventory_toml":
        return tomls
    if kind == "inventory_yaml":
        out = [p.read_text(encoding="utf-8") for p in sorted(examples.glob("*.y*ml"))]
        # the TOML examples written as YAML: the same structure, YAML's syntax
        out += [yaml.safe_dump(tomllib.loads(t), sort_keys=False, default_flow_style=None) for t in tomls]
        return out
    if kind == "waivers":
        from impax_preflight.demo import _waivers

        return [_waivers(), _readme_block("toml", "[[waiver]]")]
    if kind == "checks":
        files = sorted((examples / "checks").glob("*.toml"))
        files += sorted((ROOT / "plugins").glob("*/impax_preflight_*/declarative/*.toml"))
        return [p.read_text(encoding="utf-8") for p in files]
    if kind == "report":
        if report_json is None:
            raise ValueError("the report seed is made by a demo run: pass its report.json text")
        return [report_json]
    raise ValueError(kind)


def demo_report_json(workdir: Path) -> str:
    """report.json of a real (small) demo run: a few host, database and site checks, waivers applied."""
    from impax_preflight import load_inventory, load_plugins, run_preflight
    from impax_preflight.demo import build_demo
    from impax_preflight.report.json import report_to_json
    from impax_preflight.waivers import load_waivers

    inv_path = build_demo(workdir / "demo")
    report = run_preflight(
        load_inventory(inv_path),
        plugins=load_plugins(entry_points=False),
        only=["os.solaris.disk_errors", "os.disk_space", "cm.report_source", "oracle.tablespace_free", "site.*",
              "integrity.study_uid", "backup.*"],
        waivers=load_waivers(workdir / "demo" / "waivers.toml"),
        jobs=4,
    )
    return report_to_json(report)


def write_base_report(workdir: Path, report_json: str) -> None:
    """The report the mutated ones are compared and merged with: another run of the same site."""
    data = json.loads(report_json)
    data["run_id"] = "base-" + data["run_id"]
    (workdir / "base-report.json").write_text(json.dumps(data, indent=2), encoding="utf-8")


# ---- the worker: loads one file per request, measures it ----------------------------------------


def _peak_kb() -> int:
    with open("/proc/self/status") as f:
        return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


#: what Loaders._load returns for a file refused with the documented error
_REFUSED = object()


class Expected(Exception):
    """The documented error, but without the file or a line: a finding of its own."""


def _located(exc: Exception, path: str) -> None:
    """The documented error must name the file, and a line of it (``file:line:``) in every problem."""
    file = getattr(exc, "path", None)
    if file != path:
        raise Expected(f"{type(exc).__name__}.path is {file!r}, not the file loaded")
    problems = getattr(exc, "problems", None) or [str(exc)]
    for p in problems:
        # file:line: field: what -- or, for a check id defined twice, the file and both lines
        if not (re.match(rf"{re.escape(path)}:\d+: ", p) or re.match(rf"{re.escape(path)}: .*line \d+", p)
                or re.match(rf"{re.escape(path)}: \.\.\. and \d+ more", p)):
            raise Expected(f"{type(exc).__name__} problem without file:line: {p[:300]!r}")


def _sane(inv) -> None:
    """A clean load means usable values: every number finite, every port a port, every timeout a timeout."""
    import math

    stack = [((), inv.model_dump())]
    while stack:
        loc, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((loc + (k,), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((loc + (i,), v) for i, v in enumerate(value))
        elif isinstance(value, float) and not math.isfinite(value):
            raise AssertionError(f"{loc}: {value} loaded")
        elif loc and isinstance(loc[-1], str) and value is not None and not isinstance(value, bool):
            if loc[-1] == "port" and not 1 <= value <= 65535:
                raise AssertionError(f"{loc}: port {value} loaded")
            if loc[-1].endswith("timeout_s") and not 0 < value <= 86_400:
                raise AssertionError(f"{loc}: timeout {value} loaded")


class Loaders:
    """What the tool does with each kind of file, through the API (and the CLI for a sample)."""

    def __init__(self, workdir: Path):
        self.workdir = workdir

    @functools.cached_property
    def plugins(self):
        from impax_preflight import load_plugins

        return load_plugins(entry_points=False)

    @functools.cached_property
    def demo_inventory(self):
        from impax_preflight import load_inventory

        return load_inventory(ROOT / "impax_preflight" / "demo" / "site.toml")

    @functools.cached_property
    def base_report(self):
        from impax_preflight.report.json import read_report_file

        return read_report_file(self.workdir / "base-report.json")

    @staticmethod
    def _load(fn, error: type[Exception], path: str):
        """fn(path); _REFUSED when it refused the file with its documented `error`, which must name
        the file and a line (else `Expected`)."""
        try:
            return fn(path)
        except error as exc:
            _located(exc, path)
            return _REFUSED

    def inventory(self, path: str) -> str:
        from impax_preflight.inventory import InventoryError, connection_problems, load_inventory
        from impax_preflight.plan import build_plan, inventory_problems

        inv = self._load(load_inventory, InventoryError, path)
        if inv is _REFUSED:
            return "error"
        # what validate and the start of a run do with a valid inventory
        for problem in inventory_problems(inv, self.plugins):
            if not re.match(rf"{re.escape(path)}:\d+: ", problem):
                raise Expected(f"a setting problem without file:line: {problem[:300]!r}")
        connection_problems(inv)
        inv.summary()
        build_plan(inv, self.plugins.checks().values())
        _sane(inv)
        return "loaded"

    def waivers(self, path: str) -> str:
        from impax_preflight.model import Finding, Severity, Status
        from impax_preflight.waivers import WaiverError, apply_waiver, load_waivers, split_expired

        waivers = self._load(load_waivers, WaiverError, path)
        if waivers is _REFUSED:
            return "error"
        active, _ = split_expired(waivers)
        for status in (Status.FAIL, Status.WARN, Status.ERROR):
            f = Finding(check_id="os.solaris.disk_errors", severity=Severity.BLOCKER, status=status,
                        target="mvf-bk01", subject="sd0", message="m")
            apply_waiver(f, active)
        return "loaded"

    def checks(self, path: str) -> str:
        from impax_preflight.declarative import DeclarativeError, load_declarative_checks
        from impax_preflight.testing import FakeShell, run_check

        built = self._load(load_declarative_checks, DeclarativeError, path)
        if built is _REFUSED:
            return "error"
        # run what can run without a server: site settings, and commands against a scripted output
        inv = self.demo_inventory
        nasty = "a" * 40 + "!\n" + "x" * 20_000 + "\n" + "ab" * 5000 + "\n"
        for chk in built:
            if chk.target == "site":
                run_check(chk, inventory=inv, timeout=LIMIT_S)
            elif chk.target == "host" and chk.commands:
                shell = FakeShell({re.compile(""): nasty}, os="solaris")
                run_check(chk, inventory=inv, host="mvf-db01", shell=shell, facts={}, timeout=LIMIT_S)
        return "loaded"

    def report(self, path: str) -> str:
        from impax_preflight.report.diff import diff_reports
        from impax_preflight.report.json import ReportFileError, read_report_file
        from impax_preflight.report.markdown import render_markdown
        from impax_preflight.report.merge import MergeError, merge_reports

        rep = self._load(read_report_file, ReportFileError, path)
        if rep is _REFUSED:
            return "error"
        base = self.base_report
        diff_reports(base, rep)
        try:
            render_markdown(merge_reports([base, rep]))
        except MergeError:
            pass  # e.g. the same run twice: `report` says so and exits 3
        return "loaded"

    # -- the harness's own test: a case that does what the worker must catch ---------------------
    def selftest(self, path: str) -> str:
        """`raise NAME`, `allocate MB` (written to, so resident) or `sleep S`: the crash, the memory
        and the hang that tests/core/test_input_fuzz.py expects the worker to report."""
        what, arg = Path(path).read_text(encoding="utf-8").split()
        if what == "raise":
            raise {"ValueError": ValueError, "SystemExit": SystemExit}[arg](f"self-test {arg}")
        if what == "allocate":
            block = b"\x01" * (int(arg) * 2**20)  # every page written: resident, not just mapped
            del block
            return "loaded"
        if what == "sleep":
            time.sleep(float(arg))
            return "loaded"
        raise ValueError(f"unknown self-test {what!r}")

    # -- the command line, for a sample: exit 3 and the file named, never a traceback -------------
    def cli(self, kind: str, path: str, n: int = 0) -> str:
        import shutil

        from click.testing import CliRunner

        from impax_preflight.cli import cli

        out = str(self.workdir / "cli-out")
        demo = str(ROOT / "impax_preflight" / "demo" / "site.toml")
        base = str(self.workdir / "base-report.json")
        if kind == "checks":  # --checks-dir takes a folder
            folder = self.workdir / "cli-checks"
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            shutil.copy(path, folder / "case.toml")
            path = str(folder / "case.toml")
        args, fine = {
            "inventory_toml": (["validate", path], {0}),
            "inventory_yaml": (["validate", path], {0}),
            "waivers": (["run", demo, "--waivers", path, "--only", "prereq.source_version", "-o", out, "--no-history",
                         "--no-progress", "--format", "json"], {0, 1, 2}),
            "checks": (["checks", "--checks-dir", str(Path(path).parent), "site.*"], {0}),
            "report": ((["diff", path, base], {0, 2}) if n % 2 == 0 else
                       (["report", path, "-o", out, "--no-history"], {0})),
        }[kind]
        res = CliRunner().invoke(cli, args, catch_exceptions=True)
        text = res.output
        if res.exception is not None and not isinstance(res.exception, SystemExit):
            raise res.exception
        if "Traceback" in text:
            raise AssertionError(f"a traceback on the command line:\n{text[-2000:]}")
        if res.exit_code == 3:
            if path not in text:
                raise Expected(f"exit 3 without naming the file: {text[-500:]!r}")
            return "error"
        if res.exit_code not in fine or "Usage:" in text:
            raise AssertionError(f"{' '.join(args[:1])} exited {res.exit_code}: {text[-1000:]}")
        return "loaded"


def worker(workdir: str, warm_up: bool = True) -> None:
    """Serve requests on stdin: one JSON line {kind, path, cli} -> one JSON line of the outcome."""
    import resource

    sys.setrecursionlimit(1000)  # the interpreter's default: what a user's process has
    loaders = Loaders(Path(workdir))
    if warm_up:  # once: the first case must not pay for the catalog import
        loaders.plugins  # noqa: B018
        loaders.base_report  # noqa: B018
    # a runaway case must not take the machine: 2 GB more than what is mapped now, then MemoryError
    with open("/proc/self/status") as f:
        vm = int(re.search(r"VmSize:\s+(\d+)", f.read()).group(1)) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (vm + 2 * 2**30, resource.RLIM_INFINITY))
    for line in sys.stdin:
        req = json.loads(line)
        _reset_peak()
        before = _peak_kb()
        start, cpu_start = time.perf_counter(), time.process_time()
        outcome, detail = "loaded", ""
        try:
            if req.get("cli"):
                outcome = loaders.cli(req["kind"], req["path"], req.get("n", 0))
            else:
                outcome = getattr(loaders, "inventory" if req["kind"].startswith("inventory") else req["kind"])(req["path"])
        except Expected as exc:
            outcome, detail = "unlocated", str(exc)
        except BaseException as exc:  # noqa: BLE001 - anything else is what the test is looking for
            outcome = "crash"
            detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-8))[-3000:]
        wall = time.perf_counter() - start
        # the CPU time the case took: what it costs on an idle machine, whatever else runs beside
        # the tests (a case that blocks without working is caught by HANG_S instead)
        seconds = time.process_time() - cpu_start
        peak_mb = max(0, _peak_kb() - before) / 1024
        print(json.dumps({"outcome": outcome, "detail": detail, "seconds": seconds, "wall_s": wall, "peak_mb": peak_mb}),
              flush=True)


class Worker:
    """The parent side: one worker process, restarted after a hang.

    `hang_s`: how long a case may go without an answer (HANG_S; the harness's self-test uses less);
    `warm_up=False` starts a worker without the catalog and the base report (the self-test's cases
    need neither)."""

    def __init__(self, workdir: Path, hang_s: float = HANG_S, warm_up: bool = True):
        self.workdir = workdir
        self.hang_s = hang_s
        self.warm_up = warm_up
        self.proc: subprocess.Popen | None = None

    def _start(self) -> None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]))
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", str(self.workdir), *([] if self.warm_up else ["--cold"])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=str(self.workdir))

    def load(self, kind: str, data: bytes, cli: bool = False, name: str = "case", n: int = 0) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        folder = self.workdir / "cases"
        folder.mkdir(exist_ok=True)
        path = folder / (name + SUFFIX[kind])
        path.write_bytes(data)
        self.proc.stdin.write(json.dumps({"kind": kind, "path": str(path), "cli": cli, "n": n}) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], self.hang_s)
        if not ready:
            self.close()
            return {"outcome": "hang", "detail": f"no answer after {self.hang_s:g} s", "seconds": self.hang_s, "peak_mb": 0}
        line = self.proc.stdout.readline()
        if not line:
            rc = self.proc.wait()
            self.proc = None
            return {"outcome": "crash", "detail": f"the worker died (exit {rc})", "seconds": 0, "peak_mb": 0}
        return json.loads(line)

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.proc = None


def verdict(res: dict) -> str | None:
    """What is wrong with one case's outcome, or None."""
    if res["outcome"] in ("crash", "hang", "unlocated"):
        return f"{res['outcome']}: {res['detail']}"
    if res["seconds"] > LIMIT_S:
        return f"took {res['seconds']:.1f} s (limit {LIMIT_S:.0f} s)"
    if res["peak_mb"] > LIMIT_MB:
        return f"used {res['peak_mb']:.0f} MB (limit {LIMIT_MB} MB)"
    return None


def _count(n: int, kinds: list[str], cli_every: int, show: bool = False) -> None:
    """Mutate each kind's seeds n times (seeded, reproducible) and tally the outcomes."""
    from collections import Counter

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        report = demo_report_json(workdir)
        write_base_report(workdir, report)
        w = Worker(workdir)
        try:
            for kind in kinds:
                docs = seeds(kind, report)
                tally: Counter = Counter()
                examples: dict[str, str] = {}
                slowest = 0.0
                for i in range(n):
                    rng = random.Random(f"{kind}-{i}")
                    data = mutate(rng.choice(docs), kind, rng)
                    res = w.load(kind, data, cli=bool(cli_every) and i % cli_every == 0, n=i // max(cli_every, 1))
                    problem = verdict(res)
                    key = res["outcome"] if problem is None else problem.split(":")[0].split(" ")[0]
                    if problem and res["outcome"] == "crash":
                        last = res["detail"].strip().splitlines()[-1][:120]
                        key = f"crash {last}"
                    elif problem and res["outcome"] not in ("hang", "unlocated"):
                        key = "limit " + problem.split("(")[0]
                    tally[key] += 1
                    examples.setdefault(key, f"case {kind}-{i}: {problem}" if problem else "")
                    slowest = max(slowest, res["seconds"])
                print(f"== {kind}: {n} cases, slowest {slowest:.2f} s")
                for key, c in tally.most_common():
                    print(f"  {c:5}  {key}")
                    if show and examples.get(key):
                        print("         " + examples[key][:600].replace("\n", "\n         "))
        finally:
            w.close()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2], warm_up="--cold" not in sys.argv[3:])
    else:
        import argparse

        ap = argparse.ArgumentParser()
        ap.add_argument("--count", type=int, default=200)
        ap.add_argument("--kind", action="append", choices=KINDS)
        ap.add_argument("--cli-every", type=int, default=0)
        ap.add_argument("--show", action="store_true", help="print one example of each outcome")
        args = ap.parse_args()
        sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
        _count(args.count, args.kind or list(KINDS), args.cli_every, args.show)
