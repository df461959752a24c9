"""Classic kernels written as plain NumPy, run unchanged under mutjax.

Each kernel is ordinary NumPy code (``np`` is NumPy; ``mnp`` is
``mutjax.numpy`` where the kernel creates arrays from scratch, the one change
a NumPy kernel needs). ``mutjax.testing.assert_matches_numpy`` runs the same body on NumPy arrays and
under ``mutjax.mutable`` eagerly and under ``jax.jit`` and compares returned
values and final arguments. Sizes stay small because Python loops unroll.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import examples
from hypothesis import given, settings
from hypothesis import strategies as st

import mutjax.numpy as mnp
from mutjax.testing import assert_matches_numpy
from tests.helpers import EAGER_JIT


def rnd(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def spd(n: int, seed: int = 0) -> np.ndarray:
    a = rnd(n, n, seed=seed)
    return (a @ a.T + n * np.eye(n)).astype(np.float32)


# -- kernels --------------------------------------------------------------------


def lu_partial_pivoting(A, piv):
    n = A.shape[0]
    for k in range(n - 1):
        p = np.argmax(np.abs(A[k:, k])) + k
        A[[k, p]] = A[[p, k]]  # traced pivot row swap
        piv[[k, p]] = piv[[p, k]]
        A[k + 1 :, k] /= A[k, k]
        A[k + 1 :, k + 1 :] -= np.outer(A[k + 1 :, k], A[k, k + 1 :])


def cholesky(A):
    n = A.shape[0]
    L = np.zeros_like(A)
    for j in range(n):
        s = A[j, j] - np.dot(L[j, :j], L[j, :j])
        L[j, j] = np.sqrt(s)
        for i in range(j + 1, n):
            L[i, j] = (A[i, j] - np.dot(L[i, :j], L[j, :j])) / L[j, j]
    return L


def thomas(a, b, c, d):
    """Solve a tridiagonal system in place: sub a, diagonal b, super c, rhs d."""
    n = d.shape[0]
    cp = np.empty_like(c)
    cp[0] = c[0] / b[0]
    d[0] = d[0] / b[0]
    for i in range(1, n):
        m = b[i] - a[i] * cp[i - 1]
        cp[i] = c[i] / m
        d[i] = (d[i] - a[i] * d[i - 1]) / m
    for i in range(n - 2, -1, -1):
        d[i] -= cp[i] * d[i + 1]
    return d


def floyd_warshall(D):
    n = D.shape[0]
    for k in range(n):
        np.minimum(D, D[:, k : k + 1] + D[k : k + 1, :], out=D)


def edit_distance(s, t):
    m, n = s.shape[0], t.shape[0]
    dp = mnp.zeros((m + 1, n + 1), dtype=np.int32)
    dp[:, 0] = np.arange(m + 1)
    dp[0, :] = np.arange(n + 1)
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            cost = (s[i - 1] != t[j - 1]).astype(np.int32)
            dp[i, j] = np.minimum(
                np.minimum(dp[i - 1, j] + 1, dp[i, j - 1] + 1), dp[i - 1, j - 1] + cost
            )
    return dp[m, n], dp


def histogram(x, lo, hi):
    nbins = 8
    h = mnp.zeros(nbins, dtype=np.int32)
    bins = np.floor((x - lo) / (hi - lo) * nbins).astype(np.int32)
    np.clip(bins, 0, nbins - 1, out=bins)
    np.add.at(h, bins, 1)
    return h


def jacobi(u, sweeps=4):
    for _ in range(sweeps):
        new = u.copy()
        new[1:-1, 1:-1] = 0.25 * (u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:])
        u[...] = new


def gauss_seidel(u, sweeps=2):
    n, m = u.shape
    for _ in range(sweeps):
        for i in range(1, n - 1):
            for j in range(1, m - 1):
                u[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])


def prefix_sum(x):
    """Hillis-Steele scan in place: NumPy reads overlapping inputs before writing."""
    k = 1
    while k < x.shape[0]:
        np.add(x[k:], x[:-k], out=x[k:])
        k *= 2


def convolve2d(img, ker):
    kh, kw = ker.shape
    oh, ow = img.shape[0] - kh + 1, img.shape[1] - kw + 1
    out = mnp.zeros((oh, ow), dtype=img.dtype)
    for di in range(kh):
        for dj in range(kw):
            out += ker[di, dj] * img[di : di + oh, dj : dj + ow]
    return out


def game_of_life(grid, steps=3):
    for _ in range(steps):
        nb = sum(
            np.roll(np.roll(grid, di, axis=0), dj, axis=1)
            for di in (-1, 0, 1)
            for dj in (-1, 0, 1)
            if (di, dj) != (0, 0)
        )
        grid[...] = (nb == 3) | ((grid == 1) & (nb == 2))


def nbody_step(pos, vel, mass, dt=0.01):
    diff = pos[None, :, :] - pos[:, None, :]
    r2 = np.sum(diff * diff, axis=-1)
    np.fill_diagonal(r2, 1.0)  # no self-interaction: diff is zero there anyway
    inv = mass[None, :] / (r2 * np.sqrt(r2))
    acc = np.sum(diff * inv[:, :, None], axis=1)
    vel += dt * acc
    pos += dt * vel


def sorting_network(x):
    """Odd-even transposition sort on every row: compare-exchange columns."""
    n = x.shape[1]
    for rnd_ in range(n):
        for i in range(rnd_ % 2, n - 1, 2):
            lo = np.minimum(x[:, i], x[:, i + 1])
            hi = np.maximum(x[:, i], x[:, i + 1])
            x[:, i] = lo
            x[:, i + 1] = hi


def matmul_out(a, b, c):
    """A polybench-style gemm: c = 0.5 * c + a @ b, row by row with out=."""
    for i in range(a.shape[0]):
        np.multiply(c[i], 0.5, out=c[i])
        c[i] += np.dot(a[i], b)


# -- tests ------------------------------------------------------------------------


@pytest.mark.slow
def test_lu_partial_pivoting():
    A = rnd(5, 5, seed=1)
    assert_matches_numpy(
        lu_partial_pivoting, A, np.arange(5, dtype=np.int32), rtol=1e-4, atol=1e-4, modes=EAGER_JIT
    )


def test_cholesky():
    out = assert_matches_numpy(cholesky, spd(5), rtol=1e-4, atol=1e-4, modes=EAGER_JIT)
    np.testing.assert_allclose(out @ out.T, spd(5), rtol=1e-4)


def test_thomas():
    n = 7
    a, c = rnd(n, seed=1), rnd(n, seed=2)
    b = (4 + np.abs(rnd(n, seed=3))).astype(np.float32)
    assert_matches_numpy(thomas, a, b, c, rnd(n, seed=4), rtol=1e-4, atol=1e-4, modes=EAGER_JIT)


def test_floyd_warshall():
    r = np.random.default_rng(5)
    D = r.integers(1, 20, (6, 6)).astype(np.float32)
    D[r.random((6, 6)) < 0.4] = np.inf
    np.fill_diagonal(D, 0)
    assert_matches_numpy(floyd_warshall, D, modes=EAGER_JIT)


@pytest.mark.slow
@settings(max_examples=examples(5))
@given(
    s=st.lists(st.integers(0, 2), min_size=1, max_size=4),
    t=st.lists(st.integers(0, 2), min_size=1, max_size=4),
)
def test_edit_distance(s, t):
    assert_matches_numpy(
        edit_distance, np.array(s, np.int32), np.array(t, np.int32), modes=EAGER_JIT
    )


def test_histogram_with_add_at():
    x = np.random.default_rng(2).uniform(-1, 3, 50).astype(np.float32)
    assert_matches_numpy(histogram, x, np.float32(0.0), np.float32(2.0), modes=EAGER_JIT)


def test_jacobi():
    assert_matches_numpy(jacobi, rnd(6, 7, seed=3), modes=EAGER_JIT)


def test_gauss_seidel():
    assert_matches_numpy(gauss_seidel, rnd(6, 6, seed=4), modes=EAGER_JIT)


@pytest.mark.parametrize("n", [1, 5, 8])
def test_prefix_sum(n):
    assert_matches_numpy(prefix_sum, np.arange(n, dtype=np.int32) * 3 - 4, modes=EAGER_JIT)


def test_convolve2d():
    assert_matches_numpy(convolve2d, rnd(7, 6, seed=5), rnd(3, 2, seed=6), modes=EAGER_JIT)


def test_game_of_life():
    glider = np.zeros((6, 6), np.int8)
    glider[0, 1] = glider[1, 2] = glider[2, 0] = glider[2, 1] = glider[2, 2] = 1
    assert_matches_numpy(game_of_life, glider, modes=EAGER_JIT)


def test_nbody_step():
    assert_matches_numpy(
        nbody_step,
        rnd(5, 3, seed=7),
        rnd(5, 3, seed=8),
        np.abs(rnd(5, seed=9)) + 1,
        rtol=1e-4,
        modes=EAGER_JIT,
    )


def test_sorting_network():
    out_rows = rnd(3, 6, seed=10)
    assert_matches_numpy(sorting_network, out_rows, modes=EAGER_JIT)


def test_matmul_out():
    assert_matches_numpy(
        matmul_out,
        rnd(3, 4, seed=1),
        rnd(4, 5, seed=2),
        rnd(3, 5, seed=3),
        rtol=1e-4,
        modes=EAGER_JIT,
    )
