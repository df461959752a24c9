"""Cholesky factorization and a triangular solve with run-time slice bounds.

The column step of a left-looking Cholesky reads ``A[j, :j]`` and writes
``A[j + 1 :, j]``: slices whose bounds depend on the loop index. Written once,
the step runs in a Python loop on NumPy arrays and inside one
``mutjax.fori_loop`` under ``jax.jit``, where ``j`` is traced and mutjax
keeps those slices masked (see the dynamic-shapes guide). Run
``python examples/cholesky.py``.
"""

import jax
import numpy as np

import mutjax


def cholesky_step(A, j):
    """Column j of the lower Cholesky factor, in place (columns < j are done)."""
    A[j, j] = np.sqrt(A[j, j] - A[j, :j] @ A[j, :j])
    A[j + 1 :, j] = (A[j + 1 :, j] - A[j + 1 :, :j] @ A[j, :j]) / A[j, j]


def forward_step(L, x, b, i):
    """Row i of the forward substitution L x = b."""
    x[i] = (b[i] - L[i, :i] @ x[:i]) / L[i, i]


def solve_numpy(A, b):
    n = A.shape[0]
    x = np.zeros(n, A.dtype)
    for j in range(n):
        cholesky_step(A, j)
    for i in range(n):
        forward_step(A, x, b, i)
    return x


@jax.jit
@mutjax.mutable
def solve_mutjax(A, b):
    n = A.shape[0]
    x = np.zeros_like(b)  # a mutable array: zeros_like of a mutable array
    mutjax.fori_loop(0, n, lambda j, c: cholesky_step(A, j), None)
    mutjax.fori_loop(0, n, lambda i, c: forward_step(A, x, b, i), None)
    return np.tril(A), x


def main() -> None:
    rng = np.random.default_rng(5)
    n = 12
    M = rng.standard_normal((n, n)).astype(np.float32)
    A = (M @ M.T + n * np.eye(n)).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)

    L_np = A.copy()
    x_np = solve_numpy(L_np, b)
    L_mj, x_mj = (np.asarray(v) for v in solve_mutjax(A, b))

    np.set_printoptions(precision=4, suppress=True, linewidth=120)
    print("diagonal of L  NumPy :", np.diag(L_np))
    print("               mutjax:", np.diag(L_mj))
    print("solution of L x = b  NumPy :", x_np[:6])
    print("                     mutjax:", x_mj[:6])
    print(f"|L L^T - A| = {np.abs(L_mj @ L_mj.T - A).max():.2e}")
    err = max(np.abs(np.tril(L_np) - L_mj).max(), np.abs(x_np - x_mj).max())
    print(f"max |mutjax - NumPy| = {err:.2e}")
    assert err < 1e-4


if __name__ == "__main__":
    main()
