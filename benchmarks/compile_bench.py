"""Unrolled update patterns: program size and compile time, mutjax beside ``.at[]``.

Usage (from the repository root)::

    python benchmarks/compile_bench.py           # n = 60 updates per pattern
    python benchmarks/compile_bench.py --n 12    # a quick run

Each pattern is written twice, as a NumPy user writes it (run under
``mutjax.mutable``) and as a JAX expert writes it with ``.at[]``, and both
run in this one process: the jaxpr's equations (recursive, no-op markers not
counted), the time to trace, and XLA's compile time (median of ``--repeats`` fresh
compiles of each, the two interleaved). Results are checked equal before anything is timed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import mutjax  # noqa: E402
from benchmarks.run import count_eqns  # noqa: E402


def patterns(n: int) -> dict[str, tuple[Callable[..., Any], Callable[..., Any], tuple[Any, ...]]]:
    """name -> (NumPy-style kernel, .at[] kernel, arguments)."""
    rng = np.random.default_rng(0)
    m = 16
    bins = jnp.asarray(rng.integers(0, m, n).astype(np.int32))
    w = jnp.asarray(rng.standard_normal(n).astype(np.float32))
    x = jnp.asarray(rng.standard_normal(n + 2).astype(np.float32))
    grid = jnp.asarray(rng.standard_normal((n, 8)).astype(np.float32))

    def acc(c, b, w):
        for i in range(n):
            c[b[i]] += w[i]
        return c

    def acc_at(c, b, w):
        for i in range(n):
            c = c.at[b[i]].add(w[i])
        return c

    def scatter_set(c, b, w):
        for i in range(n):
            c[b[i]] = w[i]
        return c

    def scatter_set_at(c, b, w):
        for i in range(n):
            c = c.at[b[i]].set(w[i])
        return c

    def static_elem(x):
        for i in range(1, n):
            x[i] = x[i - 1] * 0.5 + x[i]
        return x

    def static_elem_at(x):
        for i in range(1, n):
            x = x.at[i].set(x[i - 1] * 0.5 + x[i])
        return x

    def stencil(x):
        y = x.copy()
        for i in range(1, n + 1):
            y[i] = (x[i - 1] + x[i] + x[i + 1]) / 3
        return y

    def stencil_at(x):
        y = x
        for i in range(1, n + 1):
            y = y.at[i].set((x[i - 1] + x[i] + x[i + 1]) / 3)
        return y

    def rows(g):
        for i in range(1, n):
            g[i] += g[i - 1]
        return g

    def rows_at(g):
        for i in range(1, n):
            g = g.at[i].add(g[i - 1])
        return g

    def read_after(c, b, w):
        s = 0.0
        for i in range(n):
            c[b[i]] = w[i]
            s = s + c[b[(i + 1) % n]]
        return c, s

    def read_after_at(c, b, w):
        s = 0.0
        for i in range(n):
            c = c.at[b[i]].set(w[i])
            s = s + c[b[(i + 1) % n]]
        return c, s

    zeros = jnp.zeros(m, np.float32)
    return {
        "accumulate x[b[i]] += w[i]": (acc, acc_at, (zeros, bins, w)),
        "scatter x[b[i]] = w[i]": (scatter_set, scatter_set_at, (zeros, bins, w)),
        "static elements x[i] = f(x[i-1])": (static_elem, static_elem_at, (x,)),
        "stencil y[i] = mean(x[i-1:i+2])": (stencil, stencil_at, (x,)),
        "row updates g[i] += g[i-1]": (rows, rows_at, (grid,)),
        "read after write": (read_after, read_after_at, (zeros, bins, w)),
    }


def measure(
    ours: Callable[..., Any], theirs: Callable[..., Any], args: tuple[Any, ...], repeats: int = 3
) -> list[dict[str, float]]:
    """Equations, trace time and median compile time of each, compiles interleaved.

    Interleaving (ours, theirs, theirs, ours, ...) lets a loaded machine
    slow both alike, so their ratio stays meaningful.
    """
    out = []
    for f in (ours, theirs):
        t = time.perf_counter()
        jaxpr = jax.make_jaxpr(f)(*args)
        out.append({"eqns": count_eqns(jaxpr), "trace": time.perf_counter() - t})
    compiles: list[list[float]] = [[], []]
    for r in range(repeats):
        # Each goes first in every other round: the first compile after the
        # other's can run warm or cold.
        for k in (0, 1) if r % 2 == 0 else (1, 0):
            f = (ours, theirs)[k]
            jax.clear_caches()
            t = time.perf_counter()
            jax.jit(f).lower(*args).compile()
            compiles[k].append(time.perf_counter() - t)
    for row, times in zip(out, compiles):
        row["compile"] = statistics.median(times)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60, help="updates per pattern")
    parser.add_argument("--repeats", type=int, default=3, help="compiles of each, interleaved")
    opts = parser.parse_args()
    print(f"n = {opts.n} updates, {os.cpu_count()} cores, jax {jax.__version__}")
    print("| pattern | eqns mutjax / .at[] | compile mutjax / .at[] | ratio |")
    print("| --- | --- | --- | --- |")
    for name, (ours, theirs, args) in patterns(opts.n).items():
        mine = mutjax.mutable(ours)
        got, want = jax.jit(mine)(*args), jax.jit(theirs)(*args)
        for g, e in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
            np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=1e-5, atol=1e-5)
        a, b = measure(mine, theirs, args, opts.repeats)
        print(
            f"| {name} | {a['eqns']} / {b['eqns']} | {a['compile']:.2f} s / {b['compile']:.2f} s "
            f"| {a['compile'] / b['compile']:.2f}x |"
        )


if __name__ == "__main__":
    main()
