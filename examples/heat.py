"""2-D heat equation: explicit finite differences, updated in place.

A plate starts cold with one hot edge; every step applies the five-point
stencil to the interior with slice assignments, as one would in NumPy, and
re-imposes the boundary conditions. Under ``jax.jit(mutjax.mutable(...))`` the
whole time loop becomes one XLA program. Run ``python examples/heat.py``.
"""

import jax
import numpy as np

import mutjax


def solve_heat(u, steps, alpha=0.2):
    """Advance the temperature field ``u`` in place; return the mean temperature."""
    for _ in range(steps):
        lap = u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:] - 4 * u[1:-1, 1:-1]
        u[1:-1, 1:-1] += alpha * lap
        u[0, :] = 100.0  # hot top edge
        u[-1, :] = 0.0
        u[:, 0] = u[:, 1]  # insulated sides: zero flux
        u[:, -1] = u[:, -2]
    return u.mean()


def main() -> None:
    u0 = np.zeros((24, 24), np.float32)
    expected = u0.copy()
    expected_mean = solve_heat(expected, 60)

    fast = jax.jit(mutjax.mutable(solve_heat, return_argnums=0), static_argnums=1)
    mean, got = fast(u0, 60)
    got = np.asarray(got)

    np.set_printoptions(precision=2, suppress=True, linewidth=120)
    print("temperature down the middle column")
    print("  NumPy :", expected[::3, 12])
    print("  mutjax:", got[::3, 12])
    print(f"mean temperature  NumPy {expected_mean:.4f}  mutjax {float(mean):.4f}")
    err = np.abs(got - expected).max()
    print(f"max |mutjax - NumPy| = {err:.2e}")
    assert err < 1e-3


if __name__ == "__main__":
    main()
