"""The programs mutjax produces for a fixed set of kernels may only shrink.

The kernel set is every benchmark kernel (``benchmarks/kernels.py`` at its
``test`` size, the converted Python loops of ``benchmarks/loops_bench.py``
and the mutjax LU of ``benchmarks/masked_lu.py``) and every kernel of
``examples/``, each at a small size. For each, the jaxpr of its mutjax
version is measured recursively (loop bodies, branches, ``jit`` calls and
custom-derivative calls included): the number of equations (every one,
mutjax's own check markers too) and how many times each primitive occurs.
``tests/data/program_size.json`` holds the figures as recorded; a kernel
fails when its program has more equations than recorded, more of any one
primitive, or a primitive the record does not have.

Re-record with ``python -m tests.test_program_size --record`` (from the
repository root) only when a change is meant to make a program smaller or a
kernel joins the set, and say so in the commit message: the record is the
evidence that a change did not make any program larger.
"""

from __future__ import annotations

import collections
import functools
import inspect
import json
import pathlib
import runpy
import sys
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mutjax
from benchmarks import loops_bench, masked_lu
from benchmarks.kernels import KERNELS as BENCHMARKS
from tests.helpers import all_primitives, benchmark_setup

ROOT = pathlib.Path(__file__).resolve().parent.parent
RECORD = pathlib.Path(__file__).resolve().parent / "data" / "program_size.json"

Trace = Callable[[], Any]  # makes the ClosedJaxpr of one kernel


def _f32(*shape: int) -> np.ndarray:
    return np.ones(shape, np.float32)


def _i32(*shape: int) -> np.ndarray:
    return np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape) % 3


@functools.cache
def _example(name: str) -> dict[str, Any]:
    return runpy.run_path(str(ROOT / "examples" / f"{name}.py"))


def _traced(fun: Callable[..., Any], *args: Any, static_argnums: tuple[int, ...] = ()) -> Trace:
    return lambda: jax.make_jaxpr(fun, static_argnums=static_argnums)(*args)


def _mutable(name: str, kernel: str, *args: Any, **kw: Any) -> Trace:
    """An example's kernel under ``mutjax.mutable``, called as the example calls it."""
    static = kw.pop("static_argnums", ())
    batched = kw.pop("vmap", False)
    # inspect.unwrap: the example's own jax.jit and mutable, if any, come off.
    fun = mutjax.mutable(inspect.unwrap(_example(name)[kernel]), **kw)
    return _traced(jax.vmap(fun) if batched else fun, *args, static_argnums=static)


def _benchmark(kernel: Any) -> Trace:
    def trace() -> Any:
        args, variants = benchmark_setup(kernel)
        return jax.make_jaxpr(variants["mutjax"])(*[jnp.asarray(a) for a in args])

    return trace


def _fit_value_and_grad() -> Any:
    fit = _example("fit")
    observed = _f32(fit["STEPS"] + 1)
    return jax.make_jaxpr(jax.value_and_grad(fit["loss"]))(_f32(2), observed)


def _kernels() -> dict[str, Trace]:
    kernels = {f"benchmarks.kernels.{k.name}": _benchmark(k) for k in BENCHMARKS}
    lu_a = _f32(6, 6) + 6 * np.eye(6, dtype=np.float32)
    loops = {
        "lu_loops": (lu_a,),
        "seidel_loops": (_f32(6, 6),),
        "nussinov_loops": (_i32(6), np.zeros((6, 6), np.int32)),
        "nussinov_acc_loops": (_i32(6), np.zeros((6, 6), np.int32)),
    }
    for name, args in loops.items():
        fun = mutjax.mutable(getattr(loops_bench, name), loops=True)
        kernels[f"benchmarks.loops_bench.{name}"] = _traced(fun, *args)
    kernels["benchmarks.masked_lu.lu_mutjax"] = _traced(masked_lu.lu_mutjax, lu_a)
    # The examples, each kernel as its script calls it, at a smaller size.
    n = 5
    kernels |= {
        "examples.alignment.align_score": _mutable(
            "alignment",
            "align_score",
            np.zeros((7, 6), np.int32),
            _i32(6),
            _i32(5),
            return_argnums=0,
        ),
        "examples.cholesky.solve_mutjax": _mutable(
            "cholesky", "solve_mutjax", _f32(n, n) + n * np.eye(n, dtype=np.float32), _f32(n)
        ),
        "examples.fem_assembly.assemble": _mutable(
            "fem_assembly",
            "assemble",
            _f32(n, n),
            _f32(n),
            _f32(n - 1),
            np.float32(1.0),
            return_argnums=(0, 1),
        ),
        "examples.fit.trajectory": _mutable("fit", "trajectory", _f32(2), jnp, static_argnums=(1,)),
        "examples.fit.value_and_grad": _fit_value_and_grad,
        "examples.heat.solve_heat": _mutable(
            "heat", "solve_heat", _f32(8, 8), 3, static_argnums=(1,), return_argnums=0
        ),
        "examples.life.life": _mutable(
            "life",
            "life",
            *(np.zeros(s, np.uint8) for s in ((6, 6), (8, 8), (6, 6))),
            2,
            static_argnums=(3,),
            return_argnames="board",
        ),
        "examples.lu.lu": _mutable("lu", "lu", _f32(n, n), return_argnums=0),
        "examples.particles.simulate": _mutable(
            "particles", "simulate", _f32(2, 4, 2), _f32(2, 4, 2), vmap=True, return_argnums=0
        ),
        "examples.poisson_sor.solve": _mutable(
            "poisson_sor", "solve", _f32(9, 9), _f32(9, 9), 0.01, 3, static_argnums=(2, 3)
        ),
        "examples.sharded_heat.solve": _mutable(
            "sharded_heat", "solve", _f32(16, 8), 3, static_argnums=(1,)
        ),
        "examples.sparse_assembly.laplacian": _mutable(
            "sparse_assembly",
            "laplacian",
            _f32(n, n),
            _i32(7),
            (_i32(7) + 1) % n,
            _f32(7),
            return_argnums=0,
        ),
        "examples.test_my_kernel.smooth": _mutable(
            "test_my_kernel", "smooth", _f32(8), 2, static_argnums=(1,)
        ),
        "examples.tridiagonal.thomas": _mutable(
            "tridiagonal", "thomas", *(_f32(2, 6) for _ in range(4)), vmap=True
        ),
    }
    hist = (np.zeros(6, np.float32), _f32(10), _f32(10), -3.0, 3.0)
    for name in ("histogram", "histogram_at"):
        kernels[f"examples.histogram.{name}"] = _mutable(
            "histogram", name, *hist, static_argnums=(3, 4)
        )
    kernels["examples.histogram.naive"] = _mutable(
        "histogram", "naive", np.zeros(6, np.float32), _i32(10)
    )
    return dict(sorted(kernels.items()))


KERNELS = _kernels()


def measure(kernel_id: str) -> dict[str, Any]:
    """Equations and primitive counts of one kernel's jaxpr, sub-jaxprs included."""
    counts = collections.Counter(all_primitives(KERNELS[kernel_id]().jaxpr))
    return {"equations": sum(counts.values()), "primitives": dict(sorted(counts.items()))}


def _recorded() -> dict[str, Any]:
    return json.loads(RECORD.read_text())


# The record is made with this JAX. Other releases (CI's lowest-versions run)
# may stage a few equations differently inside jax.numpy's own functions, so
# there a kernel may exceed its record by 1% (at least 2 equations, or 2 of a
# primitive); on the recorded JAX the record is exact.
RECORDED_JAX = "0.10.2"


def _slack(n: int) -> int:
    return 0 if jax.__version__ == RECORDED_JAX else max(2, n // 100)


@pytest.mark.parametrize("kernel_id", KERNELS)
def test_program_is_no_larger_than_recorded(kernel_id):
    recorded = _recorded().get(kernel_id)
    assert recorded is not None, f"{kernel_id} has no record: run the --record step"
    got = measure(kernel_id)
    assert got["equations"] <= recorded["equations"] + _slack(recorded["equations"]), (
        f"{kernel_id}: {got['equations']} equations, {recorded['equations']} recorded"
    )
    for name, count in got["primitives"].items():
        assert name in recorded["primitives"] or _slack(0), (
            f"{kernel_id}: primitive {name!r} ({count}x) is not in the record"
        )
        allowed = recorded["primitives"].get(name, 0) + _slack(0)
        assert count <= allowed, f"{kernel_id}: {count} {name!r}, {allowed} recorded"


def test_the_record_and_the_kernel_set_agree():
    recorded = set(_recorded())
    assert not recorded - set(KERNELS), (
        f"recorded but no longer measured: {recorded - set(KERNELS)}"
    )
    assert not set(KERNELS) - recorded, f"measured but not recorded: {set(KERNELS) - recorded}"


def test_every_benchmark_and_example_is_in_the_kernel_set():
    # A new benchmark kernel or example script joins the set, not silently skips it.
    measured = {k.rsplit(".", 1)[0] for k in KERNELS} | set(KERNELS)
    for k in BENCHMARKS:
        assert f"benchmarks.kernels.{k.name}" in measured, k.name
    for script in (ROOT / "examples").glob("*.py"):
        assert f"examples.{script.stem}" in measured, script.name


def record() -> None:
    """Write every kernel's figures to the record and print what changed."""
    assert jax.__version__ == RECORDED_JAX, f"record with jax {RECORDED_JAX} (see RECORDED_JAX)"
    old = _recorded() if RECORD.exists() else {}
    new = {kernel_id: measure(kernel_id) for kernel_id in KERNELS}
    for kernel_id, figures in new.items():
        before = old.get(kernel_id, {}).get("equations")
        if before != figures["equations"]:
            print(f"{kernel_id}: {before} -> {figures['equations']} equations")
    RECORD.parent.mkdir(exist_ok=True)
    RECORD.write_text(json.dumps(new, indent=1) + "\n")


if __name__ == "__main__":
    if sys.argv[1:] != ["--record"]:
        sys.exit(f"usage: python -m tests.test_program_size --record\n\n{__doc__}")
    record()
