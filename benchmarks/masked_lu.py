"""Masked LU (traced slices, mutjax) against a hand-written masked ``.at[]`` LU.

Both run the same Doolittle algorithm as nested ``lax.fori_loop`` s with
traced bounds; mutjax writes ``A[i, j] -= A[i, :j] @ A[:j, j]`` and gets the
masks automatically, the hand-written version spells them out with
``jnp.where(jnp.arange(n) < j, ...)`` and ``.at[]``.

Run: ``PYTHONPATH=. python benchmarks/masked_lu.py [n ...]``.
"""

from __future__ import annotations

import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

import mutjax


def _fori(lo, hi, body, carry):
    return lax.fori_loop(lo, hi, mutjax.mutable(body), carry)


def lu(A, fori):
    """Doolittle LU in place, the inner loops with traced bounds (``fori``: a fori_loop)."""
    n = A.shape[0]

    def row(i, A):
        def lower(j, A):
            A[i, j] -= A[i, :j] @ A[:j, j]
            A[i, j] /= A[j, j]
            return A

        def upper(j, A):
            A[i, j] -= A[i, :i] @ A[:i, j]
            return A

        A = fori(0, i, lower, A)
        return fori(i, n, upper, A)

    return fori(0, n, row, A)


def lu_mutjax(A):
    return lu(A, _fori)


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


def _time(kernel, A, repeat=20):
    f = jax.jit(lambda A: kernel(A))  # a fresh function: nothing cached
    t0 = time.perf_counter()
    f.lower(A).compile()
    compile_s = time.perf_counter() - t0
    f(A).block_until_ready()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        f(A).block_until_ready()
        best = min(best, time.perf_counter() - t0)
    return compile_s, best


def main(sizes):
    rng = np.random.default_rng(0)
    print(f"device: {jax.devices()[0].device_kind}")
    print(f"{'n':>5} {'mutjax ms':>10} {'by hand ms':>11} {'ratio':>6} {'compile mj/hand s':>18}")
    for n in sizes:
        A = jnp.asarray(rng.standard_normal((n, n)) + n * np.eye(n), jnp.float32)
        cm, tm = _time(lu_mutjax, A)
        ch, th = _time(lu_by_hand, A)
        np.testing.assert_allclose(
            jax.jit(lu_mutjax)(A), jax.jit(lu_by_hand)(A), rtol=1e-3, atol=1e-3
        )
        print(f"{n:>5} {tm * 1e3:>10.3f} {th * 1e3:>11.3f} {tm / th:>6.2f} {cm:>8.2f}/{ch:.2f}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [16, 64, 128])
