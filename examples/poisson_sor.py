"""A 2-D Poisson solver by red-black successive over-relaxation (SOR).

Each sweep updates the red points, then the black points, in place through
strided slices (``u[1:-1:2, 1:-1:2] += ...``), which is how a vectorized NumPy
SOR is written. The sweep is one function; NumPy calls it in a Python loop,
mutjax runs the same sweep inside ``mutjax.fori_loop``, so 200 sweeps compile
as one XLA loop instead of being unrolled. Run ``python examples/poisson_sor.py``.
"""

import jax
import numpy as np

import mutjax

OMEGA = 1.8


def sweep(u, f, h2):
    """One red-black SOR sweep of -lap(u) = f, in place, on the interior of ``u``."""
    for parity in (0, 1):  # red points, then black points
        for di in (0, 1):
            dj = (di + parity) % 2
            i0, j0 = 1 + di, 1 + dj
            c = u[i0:-1:2, j0:-1:2]
            nb = (
                u[i0 - 1 : -2 : 2, j0:-1:2]
                + u[i0 + 1 :: 2, j0:-1:2][: c.shape[0]]
                + u[i0:-1:2, j0 - 1 : -2 : 2]
                + u[i0:-1:2, j0 + 1 :: 2][:, : c.shape[1]]
            )
            c += OMEGA * ((nb + h2 * f[i0:-1:2, j0:-1:2]) / 4 - c)


def solve(u, f, h2, sweeps):
    mutjax.fori_loop(0, sweeps, lambda k, carry: sweep(u, f, h2), None)
    return u


def main() -> None:
    n = 33
    h = 1.0 / (n - 1)
    x = np.linspace(0, 1, n, dtype=np.float32)
    f = (2 * np.pi**2 * np.sin(np.pi * x)[:, None] * np.sin(np.pi * x)[None, :]).astype(np.float32)
    exact = np.sin(np.pi * x)[:, None] * np.sin(np.pi * x)[None, :]

    expected = np.zeros((n, n), np.float32)
    for _ in range(200):
        sweep(expected, f, h * h)

    got = np.asarray(
        jax.jit(mutjax.mutable(solve), static_argnums=(2, 3))(
            np.zeros((n, n), np.float32), f, h * h, 200
        )
    )

    np.set_printoptions(precision=4, suppress=True, linewidth=120)
    print("u along the middle row (every 4th point)")
    print("  NumPy :", expected[n // 2, ::4])
    print("  mutjax:", got[n // 2, ::4])
    print(
        f"max error vs the exact solution  NumPy {np.abs(expected - exact).max():.2e}  mutjax {np.abs(got - exact).max():.2e}"
    )
    err = np.abs(got - expected).max()
    print(f"max |mutjax - NumPy| = {err:.2e}")
    assert err < 1e-4


if __name__ == "__main__":
    main()
