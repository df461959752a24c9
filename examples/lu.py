"""LU factorization with partial pivoting, written exactly as in NumPy.

The same function body runs on a NumPy array and, under
``jax.jit(mutjax.mutable(...))``, as one compiled XLA program. Run it with
``python examples/lu.py``: it prints mutjax's factors next to NumPy's, then
times ``mutjax.jit(lu)`` (its loop compiled as one loop) against NumPy on a
larger matrix. The same kernel written with ``.at[]`` needs every update
rewritten (``A = A.at[k + 1:, k].divide(A[k, k])``, and masks for the traced
pivot's slices): see the home page of the docs.
"""

import time

import jax
import jax.numpy as jnp
import numpy as np

import mutjax


def lu(A):
    """In-place LU with partial pivoting; returns the pivot order."""
    n = A.shape[0]
    perm = np.arange(n) if isinstance(A, np.ndarray) else jnp.arange(n)
    for k in range(n - 1):
        p = abs(A[k:, k]).argmax() + k
        A[[k, p]] = A[[p, k]]  # row swap with a traced pivot
        perm[[k, p]] = perm[[p, k]]
        A[k + 1 :, k] /= A[k, k]
        A[k + 1 :, k + 1 :] -= A[k + 1 :, k : k + 1] * A[k : k + 1, k + 1 :]
    return perm


def main() -> None:
    rng = np.random.default_rng(0)
    A = rng.standard_normal((6, 6)).astype(np.float32)

    expected = A.copy()
    expected_perm = lu(expected)

    fast = jax.jit(mutjax.mutable(lu, return_argnums=0))
    perm, factors = fast(A)  # lu's result, then A after the call: its LU factors

    np.set_printoptions(precision=4, suppress=True, linewidth=120)
    print("NumPy  LU factors:\n", expected)
    print("mutjax LU factors:\n", np.asarray(factors))
    print("pivots  NumPy:", expected_perm, " mutjax:", np.asarray(perm))
    err = np.abs(np.asarray(factors) - expected).max()
    print(f"max |mutjax - NumPy| = {err:.2e}")
    L = np.tril(np.asarray(factors), -1) + np.eye(6)
    U = np.triu(np.asarray(factors))
    print(f"max |L @ U - A[perm]| = {np.abs(L @ U - A[np.asarray(perm)]).max():.2e}")
    assert err < 1e-4 and (np.asarray(perm) == expected_perm).all()

    # The loop converted (mutjax.jit), at a size where unrolling is hopeless.
    n = 200
    B = rng.standard_normal((n, n)).astype(np.float32)
    converted = mutjax.jit(lu, return_argnums=0)
    t = time.perf_counter()
    perm, factors = converted(B)
    factors.block_until_ready()
    first = time.perf_counter() - t
    t = time.perf_counter()
    perm, factors = converted(B)
    factors.block_until_ready()
    run = time.perf_counter() - t
    ref = B.copy()
    t = time.perf_counter()
    ref_perm = lu(ref)
    numpy_time = time.perf_counter() - t
    agree = bool((np.asarray(perm) == ref_perm).all())
    print(
        f"n = {n}: mutjax.jit first call {first:.2f} s, then {run * 1e3:.1f} ms; "
        f"NumPy {numpy_time * 1e3:.1f} ms; pivots agree: {agree}"
    )
    assert agree and np.abs(np.asarray(factors) - ref).max() < 1e-2


if __name__ == "__main__":
    main()
