"""Many tridiagonal systems at once: the Thomas algorithm under ``jax.vmap``.

The Thomas algorithm is a forward sweep and a back substitution that
overwrite the coefficient arrays element by element (``c[i] /= ...``,
``d[i] -= ...``), the classic in-place NumPy/Fortran formulation. Written
once for one system, it solves a whole batch under ``jax.vmap`` and
``jax.jit``. Run ``python examples/tridiagonal.py``.
"""

import jax
import numpy as np

import mutjax


def thomas(a, b, c, d):
    """Solve the tridiagonal system (sub a, diagonal b, super c) for d, in place."""
    n = d.shape[0]
    c[0] /= b[0]
    d[0] /= b[0]
    for i in range(1, n):
        m = b[i] - a[i] * c[i - 1]
        if i < n - 1:
            c[i] /= m
        d[i] = (d[i] - a[i] * d[i - 1]) / m
    for i in range(n - 2, -1, -1):
        d[i] -= c[i] * d[i + 1]
    return d


def main() -> None:
    rng = np.random.default_rng(3)
    batch, n = 64, 12
    a = rng.uniform(-1, 0, (batch, n)).astype(np.float32)
    c = rng.uniform(-1, 0, (batch, n)).astype(np.float32)
    b = (4.0 + rng.uniform(0, 1, (batch, n))).astype(np.float32)  # diagonally dominant
    d = rng.standard_normal((batch, n)).astype(np.float32)

    expected = np.stack(
        [thomas(a[k].copy(), b[k].copy(), c[k].copy(), d[k].copy()) for k in range(batch)]
    )
    got = np.asarray(jax.jit(jax.vmap(mutjax.mutable(thomas)))(a, b, c, d))

    np.set_printoptions(precision=4, suppress=True, linewidth=120)
    print("solution of system 0")
    print("  NumPy :", expected[0])
    print("  mutjax:", got[0])
    A = np.diag(b[0]) + np.diag(a[0, 1:], -1) + np.diag(c[0, :-1], 1)
    print(f"residual |A x - d| of system 0: {np.abs(A @ got[0] - d[0]).max():.2e}")
    err = np.abs(got - expected).max()
    print(f"max |mutjax - NumPy| over {batch} systems = {err:.2e}")
    assert err < 1e-5


if __name__ == "__main__":
    main()
