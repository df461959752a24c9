"""Python loops converted by ``mutable(..., loops=True)`` against hand-written JAX.

Three kernels, each twice: the NumPy-style body with Python loops under
``jax.jit(mutjax.mutable(kernel, loops=True))``, and the same algorithm
hand-written with ``lax.fori_loop`` and ``.at[]``. For each: the first call
(trace + lower + compile, from a fresh function) and the best run time.

Run: ``PYTHONPATH=. python benchmarks/loops_bench.py [--small]``.
"""

from __future__ import annotations

import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

import mutjax

# -- LU (Doolittle, triangular loops, dot products over traced slices) ---------------


def lu_loops(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i):
            A[i, j] -= A[i, :j] @ A[:j, j]
            A[i, j] /= A[j, j]
        for j in range(i, n):
            A[i, j] -= A[i, :i] @ A[:i, j]
    return A


def lu_by_hand(A):
    n = A.shape[0]
    idx = jnp.arange(n)

    def row(i, A):
        def lower(j, A):
            s = jnp.sum(jnp.where(idx < j, A[i, :] * A[:, j], 0))
            A = A.at[i, j].add(-s)
            return A.at[i, j].divide(A[j, j])

        def upper(j, A):
            s = jnp.sum(jnp.where(idx < i, A[i, :] * A[:, j], 0))
            return A.at[i, j].add(-s)

        A = lax.fori_loop(0, i, lower, A)
        return lax.fori_loop(i, n, upper, A)

    return lax.fori_loop(0, n, row, A)


# -- Gauss-Seidel 2-D ------------------------------------------------------------------


def seidel_loops(A, tsteps=10):
    n = A.shape[0]
    for _t in range(tsteps):
        for i in range(1, n - 1):
            for j in range(1, n - 1):
                A[i, j] = (
                    A[i - 1, j - 1]
                    + A[i - 1, j]
                    + A[i - 1, j + 1]
                    + A[i, j - 1]
                    + A[i, j]
                    + A[i, j + 1]
                    + A[i + 1, j - 1]
                    + A[i + 1, j]
                    + A[i + 1, j + 1]
                ) / 9.0
    return A


def seidel_by_hand(A, tsteps=10):
    n = A.shape[0]

    def point(i, j, A):
        win = lax.dynamic_slice(A, (i - 1, j - 1), (3, 3))
        return A.at[i, j].set(jnp.sum(win) / 9.0)

    def row(i, A):
        return lax.fori_loop(1, n - 1, lambda j, A: point(i, j, A), A)

    def sweep(_t, A):
        return lax.fori_loop(1, n - 1, row, A)

    return lax.fori_loop(0, tsteps, sweep, A)


# -- Nussinov ---------------------------------------------------------------------------


def match(b1, b2):
    if b1 + b2 == 3:
        return 1
    return 0


def nussinov_loops(seq, table):
    n = seq.shape[0]
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n):
            if j - 1 >= 0:
                table[i, j] = max(table[i, j], table[i, j - 1])
            if i + 1 < n:
                table[i, j] = max(table[i, j], table[i + 1, j])
            if j - 1 >= 0 and i + 1 < n:
                if i < j - 1:
                    table[i, j] = max(table[i, j], table[i + 1, j - 1] + match(seq[i], seq[j]))
                else:
                    table[i, j] = max(table[i, j], table[i + 1, j - 1])
            for k in range(i + 1, j):
                table[i, j] = max(table[i, j], table[i, k] + table[k + 1, j])
    return table


def nussinov_acc_loops(seq, table):
    # The same recurrence with a local accumulator: one write per cell.
    n = seq.shape[0]
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n):
            v = table[i, j]
            if j - 1 >= 0:
                v = max(v, table[i, j - 1])
            if i + 1 < n:
                v = max(v, table[i + 1, j])
            if j - 1 >= 0 and i + 1 < n:
                if i < j - 1:
                    v = max(v, table[i + 1, j - 1] + match(seq[i], seq[j]))
                else:
                    v = max(v, table[i + 1, j - 1])
            for k in range(i + 1, j):
                v = max(v, table[i, k] + table[k + 1, j])
            table[i, j] = v
    return table


def nussinov_by_hand_faithful(seq, table):
    # Statement by statement: one `.at[].set` per NumPy assignment.
    n = seq.shape[0]

    def cell(i, j, t):
        t = lax.cond(
            j - 1 >= 0, lambda t: t.at[i, j].set(jnp.maximum(t[i, j], t[i, j - 1])), lambda t: t, t
        )
        t = lax.cond(
            i + 1 < n, lambda t: t.at[i, j].set(jnp.maximum(t[i, j], t[i + 1, j])), lambda t: t, t
        )
        pair = jnp.where(seq[i] + seq[j] == 3, 1, 0)
        diag = t[i + 1, j - 1] + jnp.where(i < j - 1, pair, 0)
        t = t.at[i, j].set(jnp.maximum(t[i, j], diag))
        return lax.fori_loop(
            i + 1, j, lambda k, t: t.at[i, j].set(jnp.maximum(t[i, j], t[i, k] + t[k + 1, j])), t
        )

    def row(r, t):
        i = n - 1 - r
        return lax.fori_loop(i + 1, n, lambda j, t: cell(i, j, t), t)

    return lax.fori_loop(0, n, row, table)


def nussinov_by_hand(seq, table):
    n = seq.shape[0]

    def cell(i, j, t):
        v = t[i, j]
        v = jnp.where(j - 1 >= 0, jnp.maximum(v, t[i, j - 1]), v)
        v = jnp.where(i + 1 < n, jnp.maximum(v, t[i + 1, j]), v)
        pair = jnp.where(seq[i] + seq[j] == 3, 1, 0)
        diag = t[i + 1, j - 1] + jnp.where(i < j - 1, pair, 0)
        v = jnp.where((j - 1 >= 0) & (i + 1 < n), jnp.maximum(v, diag), v)
        v = lax.fori_loop(i + 1, j, lambda k, v: jnp.maximum(v, t[i, k] + t[k + 1, j]), v)
        return t.at[i, j].set(v)

    def row(r, t):
        i = n - 1 - r
        return lax.fori_loop(i + 1, n, lambda j, t: cell(i, j, t), t)

    return lax.fori_loop(0, n, row, table)


# -- timing -------------------------------------------------------------------------------


def _time(fun, *args, compiles=3):
    """(first call: median of fresh trace + compile, run: best of several, output)."""
    firsts = []
    for _ in range(compiles):
        f = jax.jit(lambda *a: fun(*a))  # a fresh function: nothing cached
        t0 = time.perf_counter()
        compiled = f.lower(*args).compile()
        firsts.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    out = compiled(*args)
    jax.block_until_ready(out)
    once = time.perf_counter() - t0
    best = once
    for _ in range(5 if once < 1.0 else 1):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        best = min(best, time.perf_counter() - t0)
    return float(np.median(firsts)), best, out


def main(small: bool) -> None:
    rng = np.random.default_rng(0)
    n_lu, n_sd, n_nu = (70, 40, 50) if small else (700, 400, 500)
    cases: list = [
        (
            f"LU n={n_lu}",
            lu_loops,
            lu_by_hand,
            (jnp.asarray(rng.standard_normal((n_lu, n_lu)) + n_lu * np.eye(n_lu), jnp.float32),),
        ),
        (
            f"Seidel-2D {n_sd}x{n_sd} x10",
            seidel_loops,
            seidel_by_hand,
            (jnp.asarray(rng.standard_normal((n_sd, n_sd)), jnp.float32),),
        ),
    ]
    nu_args = (jnp.asarray(rng.integers(0, 4, n_nu), jnp.int32), jnp.zeros((n_nu, n_nu), jnp.int32))
    # Nussinov: the NumPy body writes table[i, j] up to four times per cell;
    # XLA's CPU while loops copy the table when one iteration updates it more
    # than once, so compare like with like: the statement-by-statement `.at[]`
    # translation, and the one-write-per-cell version on both sides.
    cases += [
        (f"Nussinov n={n_nu}", nussinov_loops, nussinov_by_hand_faithful, nu_args),
        (f"Nussinov-acc n={n_nu}", nussinov_acc_loops, nussinov_by_hand, nu_args),
    ]
    print(f"device: {jax.devices()[0].device_kind}")
    print(f"{'kernel':<22} {'first call s (loops/hand)':>26} {'run s (loops/hand)':>24}")
    for name, loops, hand, args in cases:
        f1, r1, o1 = _time(mutjax.mutable(loops, loops=True), *args)
        f2, r2, o2 = _time(hand, *args)
        np.testing.assert_allclose(np.asarray(o1), np.asarray(o2), rtol=1e-3, atol=1e-3)
        print(
            f"{name:<22} {f1:8.2f} / {f2:6.2f} = {f1 / f2:4.2f}x"
            f" {r1:8.3f} / {r2:6.3f} = {r1 / r2:4.2f}x",
            flush=True,
        )


if __name__ == "__main__":
    main("--small" in sys.argv)
