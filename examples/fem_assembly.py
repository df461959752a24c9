"""Finite-element assembly and solve for a 1-D Poisson problem.

Element stiffness matrices and load vectors are scattered into the global
system with ``K[dofs[:, None], dofs] += ke``, the loop over elements an
engineer writes in NumPy, then Dirichlet conditions are imposed by
overwriting rows in place. Solves ``-(k u')' = f`` on [0, 1] with u(0) =
u(1) = 0 and a conductivity that varies per element. Run
``python examples/fem_assembly.py``.
"""

import jax
import jax.numpy as jnp
import numpy as np

import mutjax


def assemble(K, F, conductivity, f):
    """Fill the global stiffness ``K`` and load ``F`` in place; impose u = 0 at both ends."""
    n_el = conductivity.shape[0]
    h = 1.0 / n_el
    for e in range(n_el):
        dofs = np.array([e, e + 1])
        ke = conductivity[e] / h * np.array([[1.0, -1.0], [-1.0, 1.0]], np.float32)
        K[dofs[:, None], dofs] += ke
        F[dofs] += f * h / 2
    for node in (0, n_el):
        K[node, :] = 0.0
        K[node, node] = 1.0
        F[node] = 0.0


def main() -> None:
    x = np.linspace(0.0, 1.0, 17)
    conductivity = (1.0 + x[:-1]).astype(np.float32)

    n = len(x)

    K, F = np.zeros((n, n), np.float32), np.zeros(n, np.float32)
    assemble(K, F, conductivity, np.float32(1.0))
    expected = np.linalg.solve(K, F)

    @jax.jit
    def solve(conductivity, f):
        # assemble returns None: the call gives back only K and F.
        K, F = mutjax.mutable(assemble, return_argnums=(0, 1))(
            jnp.zeros((n, n)), jnp.zeros(n), conductivity, f
        )
        return jnp.linalg.solve(K, F)

    got = np.asarray(solve(conductivity, np.float32(1.0)))

    np.set_printoptions(precision=4, suppress=True, linewidth=120)
    print("u at every second node")
    print("  NumPy :", expected[::2])
    print("  mutjax:", got[::2])
    err = np.abs(got - expected).max()
    print(f"max |mutjax - NumPy| = {err:.2e}")
    assert err < 1e-4


if __name__ == "__main__":
    main()
