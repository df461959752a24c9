"""The benchmark kernels are correct (NumPy is the oracle) and lean; nothing here is timed.

For every kernel of ``benchmarks/kernels.py`` at its small ``test`` size:
mutjax's result equals NumPy's, under ``jit`` and (for the eager and memory
kernels) without it; and mutjax's jaxpr has no more equations than the
hand-written ``.at[]`` version, counting recursively into every sub-jaxpr
(loop bodies, ``jit`` calls) for both. A ``--quick`` run of the whole suite
checks that the runner writes its JSON, chart and docs page, with every
kernel's first call (trace + lower, XLA compile) beside its measurement.
"""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import pytest

from benchmarks import run
from benchmarks.kernels import KERNELS
from tests.helpers import assert_same, benchmark_setup


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.name)
def test_mutjax_matches_numpy(kernel):
    args, variants = benchmark_setup(kernel)
    expected = variants["numpy"](*args)
    jargs = [jnp.asarray(a) for a in args]
    got = jax.jit(variants["mutjax"])(*jargs)
    assert_same(got, expected, kernel.name, rtol=kernel.rtol, atol=kernel.rtol)
    if kernel.kind in ("eager", "memory"):
        got = variants["mutjax"](*jargs)
        assert_same(got, expected, f"{kernel.name} eager", rtol=kernel.rtol, atol=kernel.rtol)


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.name)
def test_at_anchor_matches_numpy(kernel):
    # The anchors are what mutjax is measured against: they must be right too.
    args, variants = benchmark_setup(kernel)
    expected = variants["numpy"](*args)
    got = jax.jit(variants["at"])(*[jnp.asarray(a) for a in args])
    assert_same(got, expected, kernel.name, rtol=kernel.rtol, atol=kernel.rtol)


def test_hand_written_last_write_wins_matches_numpy():
    kernel = next(k for k in KERNELS if k.name == "scatter_dups")
    args, variants = benchmark_setup(kernel)
    got = jax.jit(variants["at_same_semantics"])(*[jnp.asarray(a) for a in args])
    assert_same(got, variants["numpy"](*args), "last write wins")


def test_duplicates_use_the_deterministic_lowering():
    kernel = next(k for k in KERNELS if k.name == "scatter_dups")
    args, variants = benchmark_setup(kernel)
    closed = jax.make_jaxpr(variants["mutjax"])(*[jnp.asarray(a) for a in args])
    assert kernel.expect_primitive in run.primitive_names(closed)


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.name)
def test_mutjax_jaxpr_no_larger_than_at(kernel):
    args, variants = benchmark_setup(kernel)
    jargs = [jnp.asarray(a) for a in args]
    # Where the fastest .at[] anchor has weaker semantics than NumPy's (a raw
    # scatter of duplicates), compare with the .at[] code that has NumPy's.
    at_fun = variants.get("at_same_semantics", variants["at"])
    mut = run.count_eqns(jax.make_jaxpr(variants["mutjax"])(*jargs))
    at = run.count_eqns(jax.make_jaxpr(at_fun)(*jargs))
    assert mut <= at, f"{kernel.name}: mutjax {mut} equations, .at[] {at}"


def test_count_eqns_recurses_into_loop_bodies():
    def f(x):
        return jax.lax.fori_loop(0, 3, lambda i, x: jnp.sin(x) + 1.0, x)

    closed = jax.make_jaxpr(f)(1.0)
    top = len(closed.jaxpr.eqns)
    assert run.count_eqns(closed) >= top + 2  # sin and add inside the body


def test_first_calls_are_fresh_compiles():
    # A cache hit would return in microseconds: every repetition must trace,
    # lower and compile anew, for mutjax and for each anchor.
    kernel = next(k for k in KERNELS if k.name == "prefix_sum")
    got = run.measure_compile(kernel, kernel.sizes["test"], reps=2)
    assert {"at", "ref", "mutjax"} <= set(got["variants"])
    for name, e in got["variants"].items():
        assert e["status"] == "ok", (name, e)
        assert len(e["compile_times"]) == 2 and min(e["compile_times"]) > 1e-3, (name, e)
        assert e["trace_lower_s"] > 0 and e["value"] >= e["compile_s"]
    best = got["variants"][got["best_anchor"]]["value"]
    assert got["ratio"] == got["variants"]["mutjax"]["value"] / best
    assert best == min(got["variants"][a]["value"] for a in kernel.anchors)


@pytest.mark.slow
def test_quick_run_writes_json_chart_and_page(tmp_path):
    paths = {ext: tmp_path / f"out.{ext}" for ext in ("json", "svg", "md")}
    run.main(["--quick", "--reps", "1"] + [f"--{e}={p}" for e, p in paths.items()])
    results = json.loads(paths["json"].read_text())
    assert results["meta"]["cores"] >= 1 and results["meta"]["jax"] == jax.__version__
    assert [k["name"] for k in results["kernels"]] == [k.name for k in KERNELS]
    for k in results["kernels"]:
        assert {"numpy", "at", "ref", "mutjax"} <= set(k["variants"])
        assert k["variants"]["at"]["status"] == "ok", k["variants"]["at"]
        for e in k["variants"].values():
            assert e["status"] == "ok" or e["reason"]
        first = k["compile"]["variants"]
        assert {"at", "ref", "mutjax"} <= set(first), k["name"]
        assert first["mutjax"]["status"] == "ok", first["mutjax"]
        assert first["mutjax"]["compile_s"] > 0 and first["mutjax"]["trace_lower_s"] > 0
        assert k["compile"]["ratio"] > 0, k["name"]
    assert paths["svg"].read_text().startswith("<svg")
    page = paths["md"].read_text()
    assert "| kernel |" in page and "cores" in page and jax.__version__ in page
    assert "| kernel | compiled at | .at[] | new_ref | mutjax | mutjax/best |" in page
    assert "1st call/best" in page and "## Why duplicates cost what they cost" in page


@pytest.mark.slow
def test_masked_benchmark_agrees_with_the_hand_written_kernel(capsys):
    # The script compares mutjax's output with the hand-written kernel's
    # (assert_allclose) before printing a ratio; run it at a tiny size. The
    # loop benchmark has its own tests: tests/test_loops_bench.py.
    from benchmarks import masked_lu

    masked_lu.main([8])
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert any(row[:1] == ["8"] and len(row) == 5 for row in rows)


@pytest.mark.slow
def test_duplicates_floor_checks_every_construction_against_numpy(tmp_path):
    # The script raises if a complete construction differs from NumPy's x[idx] = v.
    from benchmarks import duplicates_floor, report

    out = tmp_path / "floor.json"
    duplicates_floor.main(["--quick", "--reps", "1", "--json", str(out)])
    floor = json.loads(out.read_text())
    rows = floor["rows"]
    assert {"raw", "mutjax", "dense", "sorted", "packed_x64", "mutjax_reuse"} <= set(rows)
    assert {"chunked_table", "gather_dense", "gather_local", "gather_dense_reuse"} <= set(rows)
    assert rows["raw"]["ratio"] == 1.0 and all(e["ratio"] > 0 for e in rows.values())
    assert len(report.floor_table(floor)) == len(rows) + 2
