"""The loop benchmark: its hand-written anchors and its mutjax versions give NumPy's answers.

Every kernel of ``benchmarks/loop_kernels`` is checked twice against NumPy
(the published kernel on NumPy arrays): the anchor written with
``lax.fori_loop`` and ``.at[]``, and the published kernel under
``mutjax.jit``; at the corpus's test size, and at the benchmark's size.
The quick run of the script writes its JSON and its page.
"""

from __future__ import annotations

import json
import pathlib
import statistics
import warnings

import jax
import pytest

from benchmarks import loops_bench
from benchmarks.loop_kernels import CASES

SIZES = ["test", pytest.param("published", marks=pytest.mark.slow)]


def _check(case, version, size):
    args = case.kernel.init(loops_bench.case_size(case, quick=size == "test"))
    expected = loops_bench.oracle(case, args)
    out = version(case)(**loops_bench.device_args(case, args))
    return loops_bench.check(case, expected, out, args)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_anchor_matches_numpy(case, size):
    assert _check(case, loops_bench.anchor_version, size) == ""


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_mutjax_matches_numpy(case, size):
    assert _check(case, loops_bench.mutjax_version, size) == ""


def test_the_benchmark_covers_the_published_loop_kernels():
    names = {c.name for c in CASES}
    assert len(CASES) >= 12
    assert {"lu", "cholesky", "trisolv", "durbin", "gramschmidt", "seidel-2d"} <= names
    assert {"jacobi-2d", "fdtd-2d", "adi", "floyd-warshall", "nussinov"} <= names
    assert {"symm", "syrk", "trmm"} <= names


def _operations(version, case):
    """The operations of a version's optimized XLA program at the published size, counted."""
    dev = loops_bench.device_args(case, case.kernel.init(loops_bench.case_size(case, False)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return loops_bench.operations(version(case), dev)


# Kernels whose run ratio reads 1.0x within the noise: what XLA runs for mutjax is
# the anchor's program, or the anchor's less some index arithmetic.
AT_PARITY = ["jacobi-2d", "fdtd-2d", "floyd-warshall"]


@pytest.mark.parametrize("name", AT_PARITY)
def test_mutjax_runs_no_operation_the_anchor_does_not(name):
    case = next(c for c in CASES if c.name == name)
    hand = _operations(loops_bench.anchor_version, case)
    mine = _operations(loops_bench.mutjax_version, case)
    assert sum(hand.values()) > 20
    assert not mine - hand, f"mutjax's program has operations the anchor's lacks: {mine - hand}"


def test_check_reports_a_wrong_anchor():
    # The comparison the benchmark relies on must be able to fail.
    case = next(c for c in CASES if c.name == "trisolv")
    args = case.kernel.init(case.kernel.sizes["test"])
    expected = loops_bench.oracle(case, args)
    out = loops_bench.anchor_version(case)(**loops_bench.device_args(case, args))
    assert "argument x" in loops_bench.check(case, expected, (out[0].at[2].add(1.0),), args)


@pytest.mark.slow  # CI installs the `bench` extra, so this runs there
def test_numba_compiles_nussinov_and_reports_floyd_warshall():
    pytest.importorskip("numba")
    by_name = {c.name: c for c in CASES}
    rows = {}
    for name in ("nussinov", "floyd-warshall"):
        case = by_name[name]
        args = case.kernel.init(case.kernel.sizes["test"])
        rows[name] = loops_bench.measure_numba(
            case, args, loops_bench.oracle(case, args), 1, 1, 0.0
        )
    assert rows["nussinov"]["status"] == "ok"
    # NPBench's Floyd-Warshall calls np.add.outer, which Numba does not type
    assert rows["floyd-warshall"]["status"] == "fails"
    assert "outer" in rows["floyd-warshall"]["reason"]


def test_without_numba_the_columns_say_so(tmp_path, monkeypatch):
    monkeypatch.setattr(loops_bench, "numba", None)
    results, page = _run_quick(tmp_path, "--only", "floyd-warshall")
    assert results["kernels"][0]["numba"] == {"status": "not installed"}
    assert results["meta"]["versions"]["numba"] == "not installed"
    # the Numba table's row: kernel, NumPy run, mutjax run, Numba first, Numba run
    rows = [line for line in page.splitlines() if line.startswith("| Floyd-Warshall |")]
    assert any(row.count("|") == 6 and row.endswith("| - | - |") for row in rows), rows
    assert "Numba was not installed" in page


def _run_quick(tmp_path, *extra):
    paths = {"json": tmp_path / "loops.json", "md": tmp_path / "loops.md"}
    argv = ["--quick", "--json", str(paths["json"]), "--md", str(paths["md"]), *extra]
    loops_bench.main(argv)
    return json.loads(paths["json"].read_text()), paths["md"].read_text()


def test_quick_run_of_two_kernels_writes_json_and_page(tmp_path):
    results, page = _run_quick(tmp_path, "--only", "lu,nussinov")
    assert [r["corpus_name"] for r in results["kernels"]] == ["lu", "nussinov"]
    for r in results["kernels"]:
        assert r["hand"]["first"] > 0 and r["mutjax"]["run"] > 0 and r["numpy_run"] > 0
        assert r["first_ratio"] == pytest.approx(
            r["mutjax"]["first"] / r["hand"]["first"], rel=1e-3
        )
        assert len(r["hand_again"]["run_s"]) == len(r["hand"]["run_s"])
        assert r["run_ratio"] == pytest.approx(
            statistics.median(r["mutjax"]["run_s"]) / statistics.median(r["hand"]["run_s"]),
            rel=1e-3,
        )
        assert r["noise_ratio"] == pytest.approx(
            statistics.median(r["hand_again"]["run_s"]) / r["hand"]["run"], rel=1e-3
        )
    assert "| LU | N=6 |" in page and "| Nussinov | N=6 |" in page
    assert "**geomean**" in page and "cores" in page and jax.__version__ in page
    assert "Load average" in page and "BSD-3-Clause" in page
    assert "run hand/hand" in page and "second compile of itself" in page
    # LU runs batched under mutjax: not the anchor's program, and the page says so
    lu = results["kernels"][0]
    assert f"| {loops_bench._program(lu)} |" in page and "more" in loops_bench._program(lu)


@pytest.mark.slow
def test_quick_run_writes_json_and_page(tmp_path):
    results, page = _run_quick(tmp_path)
    assert len(results["kernels"]) == len(CASES)
    assert results["meta"]["quick"] and results["meta"]["cores"] >= 1
    for case in CASES:
        assert f"| {case.label} |" in page


def test_the_page_is_rendered_from_the_committed_results():
    root = pathlib.Path(loops_bench.ROOT)
    results = json.loads((root / "benchmarks" / "loops_results.json").read_text())
    assert len(results["kernels"]) == len(CASES)
    assert (root / "docs" / "loops-benchmark.md").read_text() == loops_bench.render_page(results), (
        "docs/loops-benchmark.md is out of date with benchmarks/loops_results.json: run "
        "`python benchmarks/loops_bench.py --page-from benchmarks/loops_results.json`"
    )
