"""Every output of the real corpus parses to the facts SOURCES.toml states for it (or, for a documented
unparseable case, fails with the ParseError it names); SOURCES.toml and the files agree."""

from __future__ import annotations

import pytest

from impax_preflight.parsers import ParseError

from parser_corpus import PARSERS, ROOT, facts, load

FIXTURES = load()
LICENCES = {"MIT", "Apache-2.0", "CC-BY-4.0", "MPL-2.0", "PDL-1.0", "CDDL-1.0", "GPL-2.0-or-later"}


def test_sources_lists_every_file_once_with_its_provenance():
    listed = [f.file for f in FIXTURES]
    assert len(listed) == len(set(listed)), "a file is listed twice in SOURCES.toml"
    on_disk = sorted(str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file() and p.name != "SOURCES.toml")
    assert sorted(listed) == on_disk
    for f in FIXTURES:
        for key in ("command", "os", "repository", "path", "commit", "licence", "trimmed", "url"):
            assert f.meta.get(key), f"{f.file}: no {key}"
        assert len(f.meta["commit"]) == 40 and f.meta["licence"] in LICENCES, f.file
        assert f.parser in PARSERS and f.state in ("healthy", "faulty", "transient", "unparseable"), f.file
        assert ("error" in f.meta) == (f.state == "unparseable") and ("expect" in f.meta) != (f.state == "unparseable"), f.file


def test_corpus_size_and_coverage():
    assert len(FIXTURES) >= 60
    states = {(f.parser, f.state) for f in FIXTURES}
    for parser in ("svcs", "zpool", "iostat", "df"):
        assert (parser, "faulty") in states, parser
    for parser in ("zpool", "iostat", "df", "metastat", "etc_release", "prtdiag", "psrinfo", "systeminfo", "wmic_logicaldisk", "wmic_cpu",
                   "cim_logicaldisk", "sc", "reg", "dir", "netstat", "pkginfo", "ls", "du", "uname"):
        assert (parser, "healthy") in states, parser


def _expected(value):
    return None if value == "none" else value


@pytest.mark.parametrize("fx", FIXTURES, ids=str)
def test_fixture_parses_to_its_stated_facts(fx):
    notes: list[str] = []
    if fx.state == "unparseable":
        with pytest.raises(ParseError) as err:
            fx.parse(notes=notes)
        assert fx.meta["error"] in str(err.value)
        return
    got = facts(fx.parser, fx.parse(notes=notes))
    want = {k: (_expected(v) if not isinstance(v, dict) else v) for k, v in fx.meta["expect"].items()}
    assert {k: got[k] for k in want} == want
    assert all(isinstance(n, str) and n for n in notes)


@pytest.mark.parametrize("fx", [f for f in FIXTURES if f.state == "faulty"], ids=str)
def test_faulty_fixtures_show_the_fault(fx):
    """A faulty capture must yield what the check flags (not merely parse)."""
    got = facts(fx.parser, fx.parse())
    flagged = {
        "svcs": lambda g: g["services"] > 0,
        "zpool": lambda g: bool(g["unhealthy"]),
        "iostat": lambda g: bool(g["hard_errors"]),
        "df": lambda g: bool(g["full"]),
    }[fx.parser]
    assert flagged(got), got
