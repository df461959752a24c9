"""The benchmark kernels, each written four ways.

Every kernel has a NumPy version (the oracle), a hand-written functional JAX
version with ``.at[]`` (the anchor every JAX expert writes today), a version
with JAX's own mutable references (``jax.new_ref``, where they can express
the kernel) and a mutjax version. Each variant is a plain function of JAX
arrays (NumPy arrays for the NumPy variant); the runner decides whether to
``jit`` it, trace it or call it eagerly.

The mutjax versions are written against mutjax's final API
(``mutjax.fori_loop`` with ``jax.lax.fori_loop``'s signature, ``np.add.at``
on a mutable array, ``x[idx] = v`` with traced repeated indices). Where a
feature has not landed, calling the variant raises and the runner reports the
variant as not available.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

import mutjax

Variant = Callable[..., Any]
VARIANTS = ("numpy", "at", "ref", "mutjax")
LABELS = {"numpy": "NumPy", "at": ".at[] JAX", "ref": "jax.new_ref", "mutjax": "mutjax"}


@dataclasses.dataclass(frozen=True)
class Kernel:
    """One benchmark kernel.

    ``kind`` says what is measured: ``runtime`` (a jitted call), ``trace``
    (``jax.make_jaxpr``), ``eager`` (a call without jit, per update) or
    ``memory`` (peak resident memory, measured in a subprocess).
    ``make(size)`` returns ``(args, variants)``: NumPy inputs and a dict from
    variant name to a function built for that size. ``sizes`` maps ``full``,
    ``quick`` and ``test`` to the size parameter.
    """

    name: str
    title: str
    kind: str
    sizes: dict[str, Any]
    make: Callable[[Any], tuple[tuple[Any, ...], dict[str, Variant]]]
    describe: Callable[[Any], str]
    goal: str
    limit: float
    anchors: tuple[str, ...] = ("at", "ref")
    # Raw scatters leave the winner among duplicates unspecified: an anchor
    # that disagrees with NumPy there is reported, not excluded.
    anchors_may_differ: bool = False
    rtol: float = 1e-5
    # A primitive that mutjax's jaxpr must contain for the measurement to mean
    # what the goal says (duplicates: `scatter-max`, the winner table of the
    # deterministic last-write-wins lowering, rather than a raw scatter).
    expect_primitive: str | None = None
    # Sizes at which the first call (trace, lower, compile) is timed, where
    # not ``sizes``: XLA compiles unrolled updates slowly (half a minute for
    # Gauss-Seidel's 484), and the run must stay a few minutes long.
    compile_sizes: dict[str, Any] | None = None


# --------------------------------------------------------------------------
# Prefix sum: a loop-carried dependency, one scalar update per iteration.


def _prefix(n: int):
    rng = np.random.default_rng(0)
    x = rng.random(n, dtype=np.float32)

    def numpy(x):
        x = x.copy()
        for i in range(1, x.shape[0]):
            x[i] = x[i - 1] + x[i]
        return x

    def at(x):
        return lax.fori_loop(1, x.shape[0], lambda i, x: x.at[i].set(x[i - 1] + x[i]), x)

    def ref(x):
        r = jax.new_ref(x)

        def body(i, carry):
            r[i] = r[i - 1] + r[i]
            return carry

        lax.fori_loop(1, x.shape[0], body, None)
        return jax.freeze(r)

    @mutjax.mutable
    def mut(x):
        def body(i, carry):
            x[i] = x[i - 1] + x[i]
            return carry

        mutjax.fori_loop(1, x.shape[0], body, None)
        return x

    return (x,), {"numpy": numpy, "at": at, "ref": ref, "mutjax": mut}


# --------------------------------------------------------------------------
# Jacobi 2-D (PolyBench jacobi-2d): whole-slice stencil updates.


def jacobi_body(A, B, steps):
    """The same body runs on NumPy arrays and under ``mutjax.mutable``."""
    for _ in range(steps):
        B[1:-1, 1:-1] = 0.2 * (
            A[1:-1, 1:-1] + A[1:-1, :-2] + A[1:-1, 2:] + A[2:, 1:-1] + A[:-2, 1:-1]
        )
        A[1:-1, 1:-1] = 0.2 * (
            B[1:-1, 1:-1] + B[1:-1, :-2] + B[1:-1, 2:] + B[2:, 1:-1] + B[:-2, 1:-1]
        )
    return A


def _jacobi(size: tuple[int, int]):
    n, steps = size
    rng = np.random.default_rng(1)
    A = rng.random((n, n), dtype=np.float32)
    B = rng.random((n, n), dtype=np.float32)

    def numpy(A, B):
        return jacobi_body(A.copy(), B.copy(), steps)

    def stencil(X):
        return 0.2 * (X[1:-1, 1:-1] + X[1:-1, :-2] + X[1:-1, 2:] + X[2:, 1:-1] + X[:-2, 1:-1])

    def at(A, B):
        for _ in range(steps):
            B = B.at[1:-1, 1:-1].set(stencil(A))
            A = A.at[1:-1, 1:-1].set(stencil(B))
        return A

    def ref(A, B):
        rA, rB = jax.new_ref(A), jax.new_ref(B)
        for _ in range(steps):
            rB[1:-1, 1:-1] = stencil(rA)
            rA[1:-1, 1:-1] = stencil(rB)
        return jax.freeze(rA)

    mut = mutjax.mutable(lambda A, B: jacobi_body(A, B, steps))
    return (A, B), {"numpy": numpy, "at": at, "ref": ref, "mutjax": mut}


# --------------------------------------------------------------------------
# Gauss-Seidel 2-D, one sweep, every scalar update unrolled: trace time.


def seidel_body(A):
    """The same body runs on NumPy arrays and under ``mutjax.mutable``."""
    n = A.shape[0]
    for i in range(1, n - 1):
        for j in range(1, n - 1):
            A[i, j] = 0.2 * (A[i, j] + A[i - 1, j] + A[i + 1, j] + A[i, j - 1] + A[i, j + 1])
    return A


def _seidel(n: int):
    rng = np.random.default_rng(2)
    A = rng.random((n, n), dtype=np.float32)

    def numpy(A):
        return seidel_body(A.copy())

    def at(A):
        for i in range(1, n - 1):
            for j in range(1, n - 1):
                A = A.at[i, j].set(
                    0.2 * (A[i, j] + A[i - 1, j] + A[i + 1, j] + A[i, j - 1] + A[i, j + 1])
                )
        return A

    def ref(A):
        return jax.freeze(seidel_body(jax.new_ref(A)))

    return (A,), {"numpy": numpy, "at": at, "ref": ref, "mutjax": mutjax.mutable(seidel_body)}


# --------------------------------------------------------------------------
# LU with partial pivoting in a loop whose index is traced: masked updates.


def _lu(n: int):
    rng = np.random.default_rng(3)
    A = rng.standard_normal((n, n)).astype(np.float32)

    def numpy(A):
        A = A.copy()
        for k in range(A.shape[0] - 1):
            p = np.argmax(np.abs(A[k:, k])) + k
            A[[k, p]] = A[[p, k]]
            A[k + 1 :, k] /= A[k, k]
            A[k + 1 :, k + 1 :] -= np.outer(A[k + 1 :, k], A[k, k + 1 :])
        return A

    rows = np.arange(n)

    def at(A):
        def body(k, A):
            p = jnp.argmax(jnp.where(rows >= k, jnp.abs(A[:, k]), -jnp.inf))
            rk, rp = A[k], A[p]
            A = A.at[k].set(rp).at[p].set(rk)
            col = A[:, k]
            low = jnp.where(rows > k, col / col[k], 0)
            A = A.at[:, k].set(jnp.where(rows > k, low, col))
            return A - jnp.outer(low, jnp.where(rows > k, A[k], 0))

        return lax.fori_loop(0, n - 1, body, A)

    def ref(A):
        r = jax.new_ref(A)

        def body(k, carry):
            p = jnp.argmax(jnp.where(rows >= k, jnp.abs(r[:, k]), -jnp.inf))
            rk, rp = r[k], r[p]
            r[k] = rp
            r[p] = rk
            col = r[:, k]
            low = jnp.where(rows > k, col / col[k], 0)
            r[:, k] = jnp.where(rows > k, low, col)
            r[...] = r[...] - jnp.outer(low, jnp.where(rows > k, r[k], 0))
            return carry

        lax.fori_loop(0, n - 1, body, None)
        return jax.freeze(r)

    @mutjax.mutable
    def mut(A):
        def body(k, carry):
            p = jnp.argmax(jnp.where(rows >= k, abs(A[:, k]), -jnp.inf))
            row = A[k].copy()  # swap rows k and p
            A[k] = A[p]
            A[p] = row
            low = jnp.where(rows > k, A[:, k] / A[k, k], 0)
            A[:, k] = jnp.where(rows > k, low, A[:, k])
            A[...] -= jnp.outer(low, jnp.where(rows > k, A[k], 0))
            return carry

        mutjax.fori_loop(0, n - 1, body, None)
        return A

    return (A,), {"numpy": numpy, "at": at, "ref": ref, "mutjax": mut}


# --------------------------------------------------------------------------
# Histogram: an accumulating scatter with many repeated indices.


def _histogram(size: tuple[int, int]):
    n, nbins = size
    rng = np.random.default_rng(4)
    v = rng.random(n, dtype=np.float32)

    def numpy(v):
        h = np.zeros(nbins, np.int32)
        np.add.at(h, (v * nbins).astype(np.int32), 1)
        return h

    def at(v):
        return jnp.zeros(nbins, jnp.int32).at[(v * nbins).astype(jnp.int32)].add(1)

    def ref(v):
        r = jax.new_ref(jnp.zeros(nbins, jnp.int32))
        r.addupdate(jnp.ones(v.shape, jnp.int32), (v * nbins).astype(jnp.int32))
        return jax.freeze(r)

    @mutjax.mutable
    def mut(v):
        h = jnp.zeros(nbins, jnp.int32)
        np.add.at(h, (v * nbins).astype(jnp.int32), 1)
        return h

    return (v,), {"numpy": numpy, "at": at, "ref": ref, "mutjax": mut}


# --------------------------------------------------------------------------
# Edit distance: a row-by-row dynamic program. Within a row the horizontal
# moves form a running minimum: D[i, j] = min_k<=j (t[k] + j - k), a cummin.


def _edit(n: int):
    rng = np.random.default_rng(5)
    a = rng.integers(0, 4, n).astype(np.int32)
    b = rng.integers(0, 4, n).astype(np.int32)
    m = n

    def numpy(a, b):
        D = np.zeros((m + 1, n + 1), np.int32)
        D[0] = np.arange(n + 1)
        D[:, 0] = np.arange(m + 1)
        j = np.arange(n + 1, dtype=np.int32)
        for i in range(1, m + 1):
            t = np.minimum(D[i - 1, 1:] + 1, D[i - 1, :-1] + (a[i - 1] != b))
            D[i, 1:] = t
            D[i] = np.minimum.accumulate(D[i] - j) + j
        return D

    j = np.arange(n + 1, dtype=np.int32)

    def at(a, b):
        D = jnp.zeros((m + 1, n + 1), jnp.int32).at[0].set(j).at[:, 0].set(jnp.arange(m + 1))

        def body(i, D):
            prev = D[i - 1]
            t = jnp.minimum(prev[1:] + 1, prev[:-1] + (a[i - 1] != b))
            row = jnp.concatenate([i[None], t])
            return D.at[i].set(lax.cummin(row - j) + j)

        return lax.fori_loop(1, m + 1, body, D)

    def ref(a, b):
        D = jnp.zeros((m + 1, n + 1), jnp.int32).at[0].set(j).at[:, 0].set(jnp.arange(m + 1))
        r = jax.new_ref(D)

        def body(i, carry):
            prev = r[i - 1]
            t = jnp.minimum(prev[1:] + 1, prev[:-1] + (a[i - 1] != b))
            row = jnp.concatenate([i[None], t])
            r[i] = lax.cummin(row - j) + j
            return carry

        lax.fori_loop(1, m + 1, body, None)
        return jax.freeze(r)

    @mutjax.mutable
    def mut(a, b):
        D = jnp.zeros((m + 1, n + 1), jnp.int32)
        D[0] = j
        D[:, 0] = jnp.arange(m + 1)

        def body(i, carry):
            prev = D[i - 1].copy()  # read the previous row once, as the .at[] version does
            t = jnp.minimum(prev[1:] + 1, prev[:-1] + (a[i - 1] != b))
            D[i] = lax.cummin(jnp.concatenate([i[None], t]) - j) + j
            return carry

        mutjax.fori_loop(1, m + 1, body, None)
        return D

    return (a, b), {"numpy": numpy, "at": at, "ref": ref, "mutjax": mut}


# --------------------------------------------------------------------------
# Scatter with traced, repeated indices: last write wins (NumPy's rule).


def _scatter(size: tuple[int, int]):
    n, k = size
    rng = np.random.default_rng(6)
    x = rng.random(n, dtype=np.float32)
    idx = rng.integers(0, n, k).astype(np.int32)
    v = rng.random(k, dtype=np.float32)

    def numpy(x, idx, v):
        x = x.copy()
        x[idx] = v
        return x

    def at(x, idx, v):
        return x.at[idx].set(v)

    def ref(x, idx, v):
        r = jax.new_ref(x)
        r[idx] = v
        return jax.freeze(r)

    def at_last_wins(x, idx, v):
        # NumPy's semantics by hand: a winner table of update positions
        # (scatter-max), then one scatter of the winners only.
        pos = jnp.arange(idx.shape[0], dtype=jnp.int32)
        idx = jnp.where(idx < 0, idx + n, idx)
        winner = jnp.full(n, -1, jnp.int32).at[idx].max(pos)
        keep = winner[idx] == pos
        return x.at[jnp.where(keep, idx, n)].set(v, mode="drop", unique_indices=True)

    @mutjax.mutable
    def mut(x, idx, v):
        x[idx] = v
        return x

    variants = {"numpy": numpy, "at": at, "ref": ref, "mutjax": mut}
    return (x, idx, v), {**variants, "at_same_semantics": at_last_wins}


# --------------------------------------------------------------------------
# Eager mode: many small updates without jit (per-update overhead).


def _eager(n: int):
    # A first-order recurrence: each update reads a neighbour, so neither a
    # vectorized form nor an accumulating `.at[].add` can stand in for it.
    x = np.ones(n + 1, np.float32)

    def numpy(x):
        x = x.copy()
        for i in range(1, x.shape[0]):
            x[i] = 0.5 * x[i - 1] + 1.0
        return x

    def at(x):
        for i in range(1, x.shape[0]):
            x = x.at[i].set(0.5 * x[i - 1] + 1.0)
        return x

    def ref(x):
        r = jax.new_ref(x)
        for i in range(1, x.shape[0]):
            r[i] = 0.5 * r[i - 1] + 1.0
        return jax.freeze(r)

    @mutjax.mutable
    def mut(x):
        for i in range(1, x.shape[0]):
            x[i] = 0.5 * x[i - 1] + 1.0
        return x

    return (x,), {"numpy": numpy, "at": at, "ref": ref, "mutjax": mut}


# --------------------------------------------------------------------------
# Memory: a donated jit call that updates one slice of a big array. The
# variants here are what the memory subprocess (benchmarks/memory.py) runs.


def _memory(nbytes: int):
    n = nbytes // 4

    def numpy(x):
        x[:1024] = 2.0
        return x

    def at(x):
        return x.at[:1024].set(2.0)

    def ref(x):
        r = jax.new_ref(x)
        r[:1024] = jnp.full(1024, 2.0, x.dtype)  # a Ref does not broadcast a scalar
        return jax.freeze(r)

    @mutjax.mutable
    def mut(x):
        x[:1024] = 2.0
        return x

    return (n,), {"numpy": numpy, "at": at, "ref": ref, "mutjax": mut}


def _sz(fmt: str) -> Callable[[Any], str]:
    return lambda s: fmt.format(*(s if isinstance(s, tuple) else (s,)))


KERNELS: tuple[Kernel, ...] = (
    Kernel(
        "prefix_sum",
        "prefix sum in a fori_loop",
        "runtime",
        {"full": 20_000, "quick": 200, "test": 50},
        _prefix,
        _sz("n = {:,}"),
        "runtime <= 1.0x best JAX anchor",
        1.0,
        rtol=1e-4,
    ),
    Kernel(
        "jacobi",
        "Jacobi 2-D stencil",
        "runtime",
        {"full": (512, 50), "quick": (32, 3), "test": (12, 2)},
        _jacobi,
        _sz("{0}x{0}, {1} sweeps"),
        "runtime <= 1.0x best JAX anchor",
        1.0,
    ),
    Kernel(
        "gauss_seidel",
        "Gauss-Seidel, unrolled scalar updates",
        "trace",
        {"full": 24, "quick": 6, "test": 6},
        _seidel,
        lambda n: f"{n}x{n}, {(n - 2) ** 2} updates",
        "trace time <= 0.8x .at[]",
        0.8,
        anchors=("at",),
        compile_sizes={"full": 8, "quick": 6, "test": 6},
    ),
    Kernel(
        "lu",
        "LU, partial pivoting, fori_loop",
        "runtime",
        {"full": 256, "quick": 16, "test": 8},
        _lu,
        _sz("{0}x{0}"),
        "runtime <= 1.0x best JAX anchor",
        1.0,
        rtol=1e-3,
    ),
    Kernel(
        "histogram",
        "histogram via np.add.at",
        "runtime",
        {"full": (1_000_000, 1000), "quick": (5000, 50), "test": (500, 20)},
        _histogram,
        _sz("{:,} values, {:,} bins"),
        "runtime <= 1.0x best JAX anchor",
        1.0,
    ),
    Kernel(
        "edit_distance",
        "edit distance, row-wise DP",
        "runtime",
        {"full": 2000, "quick": 50, "test": 20},
        _edit,
        _sz("two sequences of {:,}"),
        "runtime <= 1.0x best JAX anchor",
        1.0,
    ),
    Kernel(
        "scatter_dups",
        "scatter, traced repeated indices",
        "runtime",
        {"full": (1 << 20, 1 << 22), "quick": (1000, 4000), "test": (50, 200)},
        _scatter,
        _sz("{:,} elements, {:,} updates"),
        "deterministic <= 1.5x raw scatter",
        1.5,
        anchors_may_differ=True,
        expect_primitive="scatter-max",
    ),
    Kernel(
        "eager",
        "eager small updates (no jit)",
        "eager",
        {"full": 1000, "quick": 20, "test": 10},
        _eager,
        _sz("{:,} updates"),
        "per-update overhead <= 1.3x .at[]",
        1.3,
        compile_sizes={"full": 50, "quick": 20, "test": 10},
    ),
    Kernel(
        "memory",
        "donated slice update, peak RSS",
        "memory",
        {"full": 1 << 30, "quick": 16 << 20, "test": 1 << 20},
        _memory,
        lambda b: f"{b / 2**30:g} GiB float32" if b >= 1 << 30 else f"{b >> 20} MiB float32",
        "peak memory < 1.2 GiB",
        1.2,
    ),
)

BY_NAME = {k.name: k for k in KERNELS}
