"""Loops that mutjax runs as one batched operation, against the loop a JAX user writes.

Each kernel is plain NumPy code whose loop iterations are independent; under
``mutjax.jit`` it compiles to the body under ``jax.vmap`` (see
``mutjax/_loops/_vectorize.py``). The anchor is the same loop hand-ported to
``jax.lax.fori_loop`` with ``.at[].set``; the kernel written as whole-array
``jax.numpy`` is timed too, for scale. All are measured side by side in one
process, interleaved: the first call (trace and compile included) and the
median of the following calls. Ratios are mutjax / anchor.

Run: ``python -m benchmarks.vectorize_bench`` (``--quick`` for small sizes).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import mutjax

# -- the kernels, as NumPy code ------------------------------------------------------


def matvec(A, x):
    y = np.zeros(A.shape[0], dtype=A.dtype)
    for i in range(A.shape[0]):
        y[i] = A[i] @ x
    return y


def per_row(img):
    out = np.empty_like(img)
    for i in range(img.shape[0]):
        out[i, :] = np.tanh(img[i]) * 2.0 + img[i].sum()
    return out


def covariance(data):
    n, m = data.shape
    cov = np.zeros((m, m), dtype=data.dtype)
    for i in range(m):
        cov[i, i:] = data[:, i] @ data[:, i:] / (n - 1.0)
    return cov


def lower_triangular_matmul(L, B):
    C = np.zeros_like(B)
    for i in range(L.shape[0]):
        C[i, :] = L[i, : i + 1] @ B[: i + 1, :]
    return C


def upper_triangular_matmul(U, B):
    C = np.zeros_like(B)
    for i in range(U.shape[0]):
        C[i, :] = U[i, i:] @ B[i:, :]
    return C


def trmm_in_place(A, B):
    # NPBench's trmm: the loop over j runs batched (it reads column j, which
    # only iteration j writes, and rows below i, which later i write); the loop
    # over i stays a loop
    for i in range(B.shape[0]):
        for j in range(B.shape[1]):
            B[i, j] += A[i + 1 :, i] @ B[i + 1 :, j]
    return B


def elementwise_2d(A, B):
    C = np.zeros(A.shape, dtype=A.dtype)
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            C[i, j] = A[i, j] * B[j, i]
    return C


# -- the same loops hand-ported to lax.fori_loop and .at[] ----------------------------------


def matvec_lax(A, x):
    def body(i, y):
        return y.at[i].set(A[i] @ x)

    return jax.lax.fori_loop(0, A.shape[0], body, jnp.zeros(A.shape[0], A.dtype))


def per_row_lax(img):
    def body(i, out):
        return out.at[i, :].set(jnp.tanh(img[i]) * 2.0 + img[i].sum())

    return jax.lax.fori_loop(0, img.shape[0], body, jnp.empty_like(img))


def covariance_lax(data):
    n, m = data.shape
    cols = jnp.arange(m)

    def body(i, cov):
        row = jnp.where(cols >= i, data[:, i] @ jnp.where(cols >= i, data, 0.0), 0.0)
        return cov.at[i].set(jnp.where(cols >= i, row / (n - 1.0), cov[i]))

    return jax.lax.fori_loop(0, m, body, jnp.zeros((m, m), data.dtype))


def lower_triangular_matmul_lax(L, B):
    cols = jnp.arange(L.shape[1])

    def body(i, C):
        return C.at[i, :].set(jnp.where(cols <= i, L[i], 0.0) @ B)

    return jax.lax.fori_loop(0, L.shape[0], body, jnp.zeros_like(B))


def upper_triangular_matmul_lax(U, B):
    cols = jnp.arange(U.shape[1])

    def body(i, C):
        return C.at[i, :].set(jnp.where(cols >= i, U[i], 0.0) @ B)

    return jax.lax.fori_loop(0, U.shape[0], body, jnp.zeros_like(B))


def trmm_in_place_lax(A, B):
    rows = jnp.arange(B.shape[0])

    def outer(i, B):
        below = rows > i

        def inner(j, B):
            return B.at[i, j].add(jnp.where(below, A[:, i], 0.0) @ jnp.where(below, B[:, j], 0.0))

        return jax.lax.fori_loop(0, B.shape[1], inner, B)

    return jax.lax.fori_loop(0, B.shape[0], outer, B)


def elementwise_2d_lax(A, B):
    def outer(i, C):
        def inner(j, C):
            return C.at[i, j].set(A[i, j] * B[j, i])

        return jax.lax.fori_loop(0, A.shape[1], inner, C)

    return jax.lax.fori_loop(0, A.shape[0], outer, jnp.zeros(A.shape, A.dtype))


# -- and written as whole-array JAX, what the batched loop should match ----------------------


def matvec_jnp(A, x):
    return A @ x


def per_row_jnp(img):
    return jnp.tanh(img) * 2.0 + img.sum(axis=1, keepdims=True)


def covariance_jnp(data):
    return jnp.triu(data.T @ data / (data.shape[0] - 1.0))


def lower_triangular_matmul_jnp(L, B):
    return jnp.tril(L) @ B


def upper_triangular_matmul_jnp(U, B):
    return jnp.triu(U) @ B


def trmm_in_place_jnp(A, B):
    return B + jnp.tril(A, -1).T @ B


def elementwise_2d_jnp(A, B):
    return A * B.T


_Case = tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any], tuple[Any, ...]]


def _inputs(n: int) -> dict[str, _Case]:
    rng = np.random.default_rng(0)

    def f32(*shape: int) -> Any:
        return jnp.asarray(rng.standard_normal(shape).astype(np.float32))

    return {
        "matvec": (matvec, matvec_lax, matvec_jnp, (f32(n, n), f32(n))),
        "per_row": (per_row, per_row_lax, per_row_jnp, (f32(n, n),)),
        "covariance": (covariance, covariance_lax, covariance_jnp, (f32(n, n),)),
        "trmm-like": (
            lower_triangular_matmul,
            lower_triangular_matmul_lax,
            lower_triangular_matmul_jnp,
            (f32(n, n), f32(n, n)),
        ),
        "upper triangular matmul": (
            upper_triangular_matmul,
            upper_triangular_matmul_lax,
            upper_triangular_matmul_jnp,
            (f32(n, n), f32(n, n)),
        ),
        "trmm in place": (trmm_in_place, trmm_in_place_lax, trmm_in_place_jnp, (f32(n, n),) * 2),
        "elementwise 2-D": (
            elementwise_2d,
            elementwise_2d_lax,
            elementwise_2d_jnp,
            (f32(n, n),) * 2,
        ),
    }


def _first(f: Callable[..., Any], args: tuple[Any, ...]) -> float:
    t = time.perf_counter()
    jax.block_until_ready(f(*args))
    return time.perf_counter() - t


def _run(f: Callable[..., Any], args: tuple[Any, ...]) -> float:
    t = time.perf_counter()
    jax.block_until_ready(f(*args))
    return time.perf_counter() - t


def measure(n: int, repeats: int, only: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per kernel: first-call and run times of mutjax and the anchor, and ratios.

    ``run_whole_ms``: the kernel written as whole-array JAX, for scale.
    ``only``: the names of the kernels to run (all by default).
    """
    rows = []
    for name, (kernel, anchor, whole, args) in _inputs(n).items():
        if only is not None and name not in only:
            continue
        ours, theirs, vectorized = mutjax.jit(kernel), jax.jit(anchor), jax.jit(whole)
        first_ours, first_theirs = _first(ours, args), _first(theirs, args)
        _first(vectorized, args)
        for other in (theirs, vectorized):
            np.testing.assert_allclose(ours(*args), other(*args), rtol=1e-3, atol=1e-3)
        runs: tuple[list[float], list[float], list[float]] = ([], [], [])
        for _ in range(repeats):  # interleaved: all see the same machine load
            runs[0].append(_run(ours, args))
            runs[1].append(_run(theirs, args))
            runs[2].append(_run(vectorized, args))
        run_ours, run_theirs, run_whole = (float(np.median(r)) for r in runs)
        rows.append(
            {
                "kernel": name,
                "run_mutjax_ms": run_ours * 1e3,
                "run_lax_ms": run_theirs * 1e3,
                "run_ratio": run_ours / run_theirs,
                "run_whole_ms": run_whole * 1e3,
                "first_mutjax_s": first_ours,
                "first_lax_s": first_theirs,
                "first_ratio": first_ours / first_theirs,
            }
        )
    return rows


def table(rows: list[dict[str, Any]], n: int) -> str:
    lines = [
        f"n = {n}, {jax.devices()[0].platform}; ratio = mutjax / lax.fori_loop port",
        "| kernel | run mutjax (ms) | run lax (ms) | run ratio | whole-array jnp (ms) "
        "| first call mutjax (s) | first call lax (s) | first ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['kernel']} | {r['run_mutjax_ms']:.3f} | {r['run_lax_ms']:.3f} "
            f"| {r['run_ratio']:.2f} | {r['run_whole_ms']:.3f} "
            f"| {r['first_mutjax_s']:.2f} | {r['first_lax_s']:.2f} "
            f"| {r['first_ratio']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    parser.add_argument("-n", type=int, default=None, help="the kernels' size")
    parser.add_argument("--kernel", action="append", help="run only this kernel (repeatable)")
    opts = parser.parse_args(argv)
    n = opts.n or (32 if opts.quick else 400)
    print(table(measure(n, 5 if opts.quick else 30, opts.kernel), n))


if __name__ == "__main__":
    main()
