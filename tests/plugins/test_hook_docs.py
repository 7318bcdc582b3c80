"""Every hook is documented (docstring + a section in docs/plugins.md) and exercised by a test.

Adding a hook to hookspecs.py without all three fails here, naming what is missing.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from impax_preflight import hookspecs

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "plugins.md"
HERE = Path(__file__).resolve().parent

#: hook -> (test file under tests/plugins, test function) exercising it through a real plugin
HOOK_TESTS = {
    "impax_register_checks": ("test_hooks.py", "test_hook_impax_register_checks"),
    "impax_register_transports": ("test_hooks.py", "test_hook_impax_register_transports"),
    "impax_register_databases": ("test_hooks.py", "test_hook_impax_register_databases"),
    "impax_register_reporters": ("test_hooks.py", "test_hook_impax_register_reporters"),
    "impax_collect_facts": ("test_hooks.py", "test_hook_impax_collect_facts"),
    "impax_fact_commands": ("test_hooks.py", "test_hook_impax_fact_commands"),
    "impax_finding": ("test_hooks.py", "test_hook_impax_finding"),
    "impax_run_finished": ("test_hooks.py", "test_hook_impax_run_finished"),
    "impax_register_commands": ("test_hooks.py", "test_hook_impax_register_commands"),
    "impax_estimate_scans": ("test_hooks.py", "test_hook_impax_estimate_scans"),
}


def hooks() -> list[str]:
    marker = f"{hookspecs.PROJECT}_spec"
    return sorted(
        name for name, fn in vars(hookspecs).items() if callable(fn) and hasattr(fn, marker)
    )


def test_there_are_hooks_to_check():
    assert len(hooks()) >= 9 and all(h.startswith("impax_") for h in hooks())


@pytest.mark.parametrize("hook", hooks())
def test_hook_has_a_docstring_saying_what_it_returns(hook):
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert len(doc) > 40, f"{hook} in hookspecs.py has no real docstring"
    assert re.search(r"\breturn", doc, re.I), f"{hook}: the docstring should say what it returns"


@pytest.mark.parametrize("hook", hooks())
def test_hook_has_a_section_in_docs_plugins_md(hook):
    text = DOCS.read_text(encoding="utf-8")
    m = re.search(rf"^### `{hook}`\n(.*?)(?=^#{{2,3}} |\Z)", text, re.M | re.S)
    assert m, f"docs/plugins.md has no '### `{hook}`' section"
    body = m.group(1)
    for part in ("**When**", "**Parameters**", "**Returns**"):
        assert part in body, f"docs/plugins.md section for {hook} lacks {part}"
    # the documented parameters are the real ones
    params = inspect.signature(getattr(hookspecs, hook)).parameters
    for p in params:
        assert f"`{p}" in body or f"{p}(" in body or f"`{p}:" in body, f"docs for {hook} do not mention parameter {p!r}"


@pytest.mark.parametrize("hook", hooks())
def test_hook_has_a_test(hook):
    assert hook in HOOK_TESTS, f"no test mapped for hook {hook}: add one to test_hooks.py and to HOOK_TESTS"
    file, func = HOOK_TESTS[hook]
    tree = ast.parse((HERE / file).read_text(encoding="utf-8"))
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert func in names, f"{file} has no test function {func} for hook {hook}"
    # the test really goes through the hook: a plugin in that file implements it
    source = (HERE / file).read_text(encoding="utf-8")
    assert f"def {hook}(" in source, f"{file} has no plugin implementing {hook}"


def test_no_stale_entries():
    assert set(HOOK_TESTS) == set(hooks()), "HOOK_TESTS names a hook that no longer exists"
    documented = set(re.findall(r"^### `(impax_\w+)`", DOCS.read_text(encoding="utf-8"), re.M))
    assert documented == set(hooks()), f"docs/plugins.md documents unknown hooks: {documented - set(hooks())}"
