"""Loops and branches that mutate closed-over arrays (mutjax._control), and boundaries.

Every kernel takes a namespace ``C`` of control-flow functions and ``xp``: the
NumPy oracle runs it with Python loops on NumPy arrays, mutjax runs it with
mutjax's combinators inside ``mutjax.mutable`` (eagerly and under ``jax.jit``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mutjax
from tests.helpers import assert_same


def _py_fori(lower, upper, body, val, *, unroll=None):
    for i in range(lower, upper):
        val = body(i, val)
    return val


def _py_while(cond, body, val):
    while cond(val):
        val = body(val)
    return val


def _py_scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    n = length if xs is None else len(jax.tree_util.tree_leaves(xs)[0])
    carry, ys = init, []
    order = range(n - 1, -1, -1) if reverse else range(n)
    for i in order:
        x = None if xs is None else jax.tree_util.tree_map(lambda a: a[i], xs)
        carry, y = f(carry, x)
        ys.append(y)
    if reverse:
        ys = ys[::-1]
    ys = jax.tree_util.tree_map(lambda *a: np.stack(a), *ys) if ys and ys[0] is not None else None
    return carry, ys


def _py_switch(index, branches, *ops):
    return branches[min(max(int(index), 0), len(branches) - 1)](*ops)


def _py_cond(pred, t, f, *ops):
    return t(*ops) if pred else f(*ops)


PY = types.SimpleNamespace(
    fori_loop=_py_fori,
    while_loop=_py_while,
    scan=_py_scan,
    switch=_py_switch,
    cond=_py_cond,
    xp=np,
)
MJ = types.SimpleNamespace(
    fori_loop=mutjax.fori_loop,
    while_loop=mutjax.while_loop,
    scan=mutjax.scan,
    switch=mutjax.switch,
    cond=mutjax.cond,
    xp=jnp,
)


def check(kernel, *args, modes=("eager", "jit"), rtol=1e-5, atol=1e-5):
    """Run ``kernel(C, *args)`` on NumPy with Python loops and under mutjax."""
    np_args = [np.array(a) for a in args]
    expected = (kernel(PY, *np_args), np_args)
    for mode in modes:
        f = mutjax.mutable(lambda *a: kernel(MJ, *a), return_args=True)
        if mode == "jit":
            f = jax.jit(f)
        out, final, _ = f(*[jnp.asarray(a) for a in args])
        assert_same((out, list(final)), expected, mode, rtol, atol)


def f32(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# -- kernels ------------------------------------------------------------------------------


def prefix_sum(C, x):
    def body(i, c):
        x[i] += x[i - 1]
        return c

    C.fori_loop(1, x.shape[0], body, 0)


def gauss_seidel(C, A, steps=2):
    n = A.shape[0]

    def sweep(t, c):
        def row(i, c):
            def col(j, c):
                A[i, j] = (
                    A[i - 1, j - 1] + A[i - 1, j] + A[i - 1, j + 1]
                    + A[i, j - 1] + A[i, j] + A[i, j + 1]
                    + A[i + 1, j - 1] + A[i + 1, j] + A[i + 1, j + 1]
                ) / 9.0  # fmt: skip
                return c

            return C.fori_loop(1, n - 1, col, c)

        return C.fori_loop(1, n - 1, row, c)

    C.fori_loop(0, steps, sweep, 0)


def lu_pivot(C, A):
    """LU with partial pivoting; the pivot row is a traced argmax."""
    xp = C.xp
    n = A.shape[0]
    rows = xp.arange(n, dtype=xp.int32)
    perm = xp.arange(n, dtype=xp.int32)

    def step(k, c):
        col = xp.where(rows >= k, abs(A[:, k]), -1.0)
        p = col.argmax()
        A[[k, p]] = A[[p, k]]
        perm[[k, p]] = perm[[p, k]]
        below = rows > k
        A[:, k] = xp.where(below, A[:, k] / A[k, k], A[:, k])
        upd = xp.where(below[:, None] & (rows > k)[None, :], A[:, k][:, None] * A[k][None, :], 0.0)
        A[...] -= upd
        return c

    C.fori_loop(0, n - 1, step, 0)
    return perm


def jacobi_until_converged(C, x, b):
    """Weighted Jacobi smoothing of a 1-D Poisson problem until the update is small."""
    xp = C.xp

    def not_done(state):
        it, delta = state
        return (delta > 1e-3) & (it < 200)

    def body(state):
        it, _ = state
        old = x.copy()
        x[1:-1] = 0.5 * (old[:-2] + old[2:] + b[1:-1])
        return it + 1, xp.max(abs(x - old))

    it, _ = C.while_loop(not_done, body, (xp.int32(0), xp.float32(1.0)))
    return it


def cond_in_loop(C, x, y):
    def body(i, acc):
        def pos():
            x[i] *= 2
            y[i] = x[i]

        def neg():
            x[i] = 0

        C.cond(x[i] > 0, pos, neg)
        return acc + x[i]

    return C.fori_loop(0, x.shape[0], body, x.dtype.type(0))


def scan_histogram(C, h, xs):
    def f(total, v):
        b = C.xp.clip((v * 2).astype(int) + 4, 0, h.shape[0] - 1)
        h[b] += 1
        return total + v, h[b]

    return C.scan(f, xs.dtype.type(0), xs)


def switch_rotations(C, x, ks):
    def body(i, c):
        C.switch(
            ks[i],
            [
                lambda: None,
                lambda: x.__setitem__(slice(None), x[::-1]),
                lambda: x.__setitem__(slice(0, 2), x[2:4] + 1),
            ],
        )
        return c

    C.fori_loop(0, ks.shape[0], body, 0)


def view_in_body(C, A):
    inner = A[1:-1, 1:-1]  # a view created outside the loop, written inside

    def body(i, c):
        inner[i] += A[i, 1:-1]
        row = A[i + 1]  # a view created inside
        row[0] = i
        return c

    C.fori_loop(0, inner.shape[0], body, 0)


def carry_is_mutable(C, x):
    def body(i, acc):
        acc[i % acc.shape[0]] += x[i]
        return acc

    return C.fori_loop(0, x.shape[0], body, C.xp.zeros(2, x.dtype))


KERNELS = {
    "prefix_sum": (prefix_sum, lambda: (f32(9),)),
    "gauss_seidel": (gauss_seidel, lambda: (f32(6, 6),)),
    "lu_pivot": (lu_pivot, lambda: (f32(5, 5),)),
    "jacobi_while": (jacobi_until_converged, lambda: (np.zeros(8, np.float32), f32(8, seed=1))),
    "cond_in_loop": (cond_in_loop, lambda: (f32(7), np.zeros(7, np.float32))),
    "scan_histogram": (scan_histogram, lambda: (np.zeros(8, np.int32), f32(11))),
    "switch": (switch_rotations, lambda: (f32(5), np.array([1, 2, 0, 5, -1, 2], np.int32))),
    "view_in_body": (view_in_body, lambda: (f32(5, 6),)),
    "carry_is_mutable": (carry_is_mutable, lambda: (f32(5),)),
}


@pytest.mark.parametrize("name", list(KERNELS))
def test_kernels_match_numpy(name):
    kernel, args = KERNELS[name]
    check(kernel, *args(), rtol=1e-4, atol=1e-4)
