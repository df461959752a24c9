"""Sparse-matrix assembly with ``np.add.at``: the Laplacian of a random graph.

Edge lists are turned into a dense weighted graph Laplacian by scattering
each edge's contributions with ``np.add.at``, which accumulates over repeated
indices (unlike ``L[rows, cols] += w``). The same body runs on NumPy arrays
and under ``jax.jit(mutjax.mutable(...))``, where the edge list is traced.
Run ``python examples/sparse_assembly.py``.
"""

import jax
import numpy as np

import mutjax


def laplacian(L, src, dst, weight):
    """Add the Laplacian of the weighted edges (src[k], dst[k]) into ``L`` in place."""
    np.add.at(L, (src, dst), -weight)
    np.add.at(L, (dst, src), -weight)
    np.add.at(L, (src, src), weight)
    np.add.at(L, (dst, dst), weight)
    return L.sum(axis=1)


def main() -> None:
    rng = np.random.default_rng(4)
    n, m = 8, 30
    src = rng.integers(0, n, m).astype(np.int32)
    dst = (src + rng.integers(1, n, m).astype(np.int32)) % n  # no self-loops
    weight = rng.uniform(0.5, 2.0, m).astype(np.float32)

    expected = np.zeros((n, n), np.float32)
    expected_rows = laplacian(expected, src, dst, weight)

    fast = jax.jit(mutjax.mutable(laplacian, return_argnums=0))
    rows, got = fast(np.zeros((n, n), np.float32), src, dst, weight)
    got = np.asarray(got)

    np.set_printoptions(precision=3, suppress=True, linewidth=120)
    print("first row of the Laplacian")
    print("  NumPy :", expected[0])
    print("  mutjax:", got[0])
    print(
        "row sums (zero for a Laplacian)  NumPy:",
        np.abs(expected_rows).max(),
        " mutjax:",
        float(np.abs(np.asarray(rows)).max()),
    )
    eig = np.linalg.eigvalsh(got)
    print(f"smallest eigenvalues: {eig[:2]} (one zero per connected component)")
    err = np.abs(got - expected).max()
    print(f"max |mutjax - NumPy| = {err:.2e}")
    assert err < 1e-4


if __name__ == "__main__":
    main()
