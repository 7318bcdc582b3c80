"""No file a user hands the tool crashes it (issue 10, item 5): at least 1,000 mutated documents of
each kind -- inventory TOML, inventory YAML, waivers, declarative check files, report.json -- each
either loads or fails with the documented error naming the file and a line, within 10 s of CPU
time and 500 MB of peak memory (measured per case in a worker process; no answer within 30 s is a
hang), and never with a traceback (a sample goes through the command line too, exit 3 or a normal
exit). The mutations start from the real examples, the demo inventory, the example checks and a
report.json of a demo run made here; tests/inputfuzz.py says what they do.

Reproducible: hypothesis runs derandomized (the same cases every time); a failure prints the case
number, its seed and the mutated file. IMPAX_PREFLIGHT_FUZZ_EXAMPLES=N changes the count (e.g. 10,000 by hand).
"""

from __future__ import annotations

import collections
import itertools
import os
import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import inputfuzz as fz

EXAMPLES = int(os.environ.get("IMPAX_PREFLIGHT_FUZZ_EXAMPLES", "1000"))
CLI_EVERY = 40  # one case in 40 also goes through the command line


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("fuzz")
    report = fz.demo_report_json(workdir)
    fz.write_base_report(workdir, report)
    worker = fz.Worker(workdir)
    yield report, worker
    worker.close()


@pytest.mark.parametrize("kind", fz.KINDS)
def test_no_mutated_input_crashes(kind, fuzz):
    report, worker = fuzz
    docs = fz.seeds(kind, report)
    numbers = itertools.count()
    outcomes: collections.Counter = collections.Counter()

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(doc=st.sampled_from(docs), seed=st.integers(0, 2**32 - 1))
    def one_case(doc, seed):
        # one seed per case drives the mutations (cheaper than drawing each choice from hypothesis);
        # fz.mutate(doc, kind, random.Random(seed)) rebuilds a failing file
        n = next(numbers)
        data = fz.mutate(doc, kind, random.Random(seed))
        cli = n % CLI_EVERY == 0
        res = worker.load(kind, data, cli=cli, n=n // CLI_EVERY)
        problem = fz.verdict(res)
        assert problem is None, (f"{kind}, case {n}, seed {seed}{' (command line)' if cli else ''}: {problem}\n"
                                 f"--- the file ---\n{data[:3000]!r}")
        outcomes[("cli " if cli else "") + res["outcome"]] += 1

    one_case()
    assert sum(outcomes.values()) >= EXAMPLES
    # not vacuous: the mutations reach both sides, through the API and through the command line
    assert outcomes["loaded"] and outcomes["error"] and outcomes["cli error"], outcomes


def test_the_worker_sees_a_crash_a_hang_and_memory(tmp_path):
    """The harness itself, through a real worker process: a case that raises (an Exception, or a
    BaseException such as SystemExit) is a crash, a case that allocates 600 MB is over the memory
    limit while the next one is measured on its own, and a case that does not answer within the
    worker's hang time is a hang (the worker killed, the next case served by a new one); then
    verdict() and _located() on hand-made outcomes (over the CPU limit, an error without a line)."""
    worker = fz.Worker(tmp_path, hang_s=2, warm_up=False)
    try:
        for name in ("ValueError", "SystemExit"):
            res = worker.load("selftest", f"raise {name}".encode())
            assert res["outcome"] == "crash" and f"{name}: self-test {name}" in res["detail"], res
            assert fz.verdict(res).startswith("crash: ")
        res = worker.load("selftest", b"allocate 600")
        assert res["outcome"] == "loaded" and fz.LIMIT_MB < res["peak_mb"] < 700, res
        assert fz.verdict(res) == f"used {res['peak_mb']:.0f} MB (limit {fz.LIMIT_MB} MB)"
        res = worker.load("selftest", b"allocate 50")  # the peak is reset between cases
        assert 45 < res["peak_mb"] < 100 and fz.verdict(res) is None, res
        first = worker.proc.pid
        start = time.monotonic()
        res = worker.load("selftest", b"sleep 20")
        assert res["outcome"] == "hang" and time.monotonic() - start < 15, res
        assert fz.verdict(res) == "hang: no answer after 2 s" and worker.proc is None
        res = worker.load("selftest", b"raise ValueError")
        assert res["outcome"] == "crash" and worker.proc.pid != first  # a new worker took over
    finally:
        worker.close()

    assert fz.verdict({"outcome": "crash", "detail": "Traceback", "seconds": 0, "peak_mb": 0})
    assert fz.verdict({"outcome": "hang", "detail": "", "seconds": 30, "peak_mb": 0})
    assert fz.verdict({"outcome": "unlocated", "detail": "", "seconds": 0, "peak_mb": 0})
    assert fz.verdict({"outcome": "loaded", "detail": "", "seconds": 11, "peak_mb": 0})
    assert fz.verdict({"outcome": "loaded", "detail": "", "seconds": 1, "peak_mb": 600})
    assert fz.verdict({"outcome": "error", "detail": "", "seconds": 1, "peak_mb": 10}) is None

    class Raw(Exception):
        path = "f.toml"
        problems = ["f.toml: somewhere"]

    with pytest.raises(fz.Expected):
        fz._located(Raw(), "f.toml")
    Raw.problems = ["f.toml:3: hosts[0].port: out of range"]
    fz._located(Raw(), "f.toml")
