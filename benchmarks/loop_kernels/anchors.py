"""The published loop kernels hand-written in JAX: ``lax.fori_loop`` and in-place updates.

Each function is what a JAX expert writes for one kernel of
``tests/corpus/npbench_polybench.py`` (NPBench's NumPy ports of PolyBench/C
4.2.1): the same loops as ``lax.fori_loop`` over the same bounds, static
shapes throughout, an element, a row or a block written with
``lax.dynamic_update_slice`` (what ``.at[...].set`` means, without the
scatter it lowers to), a slice whose bound is a loop index (``A[i, :j]``)
read full width and masked with ``jnp.where``. Where the NumPy code writes
one element several times per iteration, the anchor writes it once (the
value kept in a local), as an expert would: XLA's CPU while loops copy an
array updated twice in one iteration. Each takes the kernel's arguments
(static sizes as Python ints) and returns the kernel's result followed by
the arguments it mutates, in the order of the corpus entry.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import lax


def _put(x, v, *start):
    """x[start] = v: an element, or a block of x's rank (its corner at start).

    ``lax.dynamic_update_slice``, updated in place by XLA's while loops;
    ``x.at[i, j].set(v)`` lowers to a scatter, which XLA's CPU backend runs
    several times slower inside a loop (LU at N = 60: 1.6 ms against 0.47 ms,
    trmm at 65 x 80: 3.7 ms against 0.62 ms).
    """
    v = jnp.asarray(v, x.dtype)
    if v.ndim < x.ndim:
        v = v.reshape((1,) * (x.ndim - v.ndim) + v.shape)
    return lax.dynamic_update_slice(x, v, start)


def _col(x, j, lo, hi):
    """x[lo:hi, j] for a traced column j."""
    return lax.dynamic_slice(x, (lo, j), (hi - lo, 1))[:, 0]


def _set_col(x, j, lo, v):
    """x[lo:lo + len(v), j] = v for a traced column j."""
    return lax.dynamic_update_slice(x, v[:, None].astype(x.dtype), (lo, j))


def _row(x, i):
    return lax.dynamic_index_in_dim(x, i, axis=0, keepdims=False)


def _set_row(x, i, v):
    return lax.dynamic_update_index_in_dim(x, v.astype(x.dtype), i, axis=0)


# -- linear algebra ---------------------------------------------------------------


def lu(A):
    n = A.shape[0]
    idx = jnp.arange(n)

    def row(i, A):
        def lower(j, A):
            # A[i, :j] @ A[:j, j]: row i is re-read, its entries before j change
            s = jnp.dot(jnp.where(idx < j, _row(A, i), 0), _col(A, j, 0, n))
            return _put(A, (A[i, j] - s) / A[j, j], i, j)

        A = lax.fori_loop(0, i, lower, A)
        a_i = jnp.where(idx < i, _row(A, i), 0)  # A[i, :i], final from here on

        def upper(j, A):
            return _put(A, A[i, j] - jnp.dot(a_i, _col(A, j, 0, n)), i, j)

        return lax.fori_loop(i, n, upper, A)

    return (lax.fori_loop(0, n, row, A),)


def cholesky(A):
    n = A.shape[0]
    idx = jnp.arange(n)
    A = A.at[0, 0].set(jnp.sqrt(A[0, 0]))

    def row(i, A):
        def lower(j, A):
            s = jnp.dot(jnp.where(idx < j, _row(A, i), 0), _row(A, j))
            return _put(A, (A[i, j] - s) / A[j, j], i, j)

        A = lax.fori_loop(0, i, lower, A)
        a_i = jnp.where(idx < i, _row(A, i), 0)
        return _put(A, jnp.sqrt(A[i, i] - jnp.dot(a_i, a_i)), i, i)

    return (lax.fori_loop(1, n, row, A),)


def trisolv(L, x, b):
    n = x.shape[0]
    idx = jnp.arange(n)

    def step(i, x):
        s = jnp.dot(jnp.where(idx < i, _row(L, i), 0), x)
        return _put(x, (b[i] - s) / L[i, i], i)

    return (lax.fori_loop(0, n, step, x),)


def durbin(r):
    n = r.shape[0]
    idx = jnp.arange(n)

    def flipped_prefix(v, k):
        # w[m] = v[k - 1 - m] for m < k: np.flip(v[:k]) at full width
        f = jnp.flip(v)
        return lax.dynamic_slice(jnp.concatenate([f, f]), (n - k,), (n,))

    def step(k, carry):
        y, alpha, beta = carry
        beta = beta * (1.0 - alpha * alpha)
        dot = jnp.dot(jnp.where(idx < k, flipped_prefix(r, k), 0), y)
        alpha = -(r[k] + dot) / beta
        y = jnp.where(idx < k, y + alpha * flipped_prefix(y, k), y)
        return _put(y, alpha, k), alpha, beta

    y = jnp.zeros_like(r).at[0].set(-r[0])
    carry = (y, -r[0], jnp.ones((), r.dtype))
    return (lax.fori_loop(1, n, step, carry)[0],)


def gramschmidt(A):
    m, n = A.shape
    Q = jnp.zeros_like(A)
    R = jnp.zeros((n, n), A.dtype)

    def column(k, carry):
        A, Q, R = carry
        a_k = _col(A, k, 0, m)
        r_kk = jnp.sqrt(jnp.dot(a_k, a_k))
        q_k = a_k / r_kk
        R = _put(R, r_kk, k, k)
        Q = _set_col(Q, k, 0, q_k)

        def project(j, carry):
            A, R = carry
            a_j = _col(A, j, 0, m)
            r_kj = jnp.dot(q_k, a_j)
            return _set_col(A, j, 0, a_j - q_k * r_kj), _put(R, r_kj, k, j)

        A, R = lax.fori_loop(k + 1, n, project, (A, R))
        return A, Q, R

    A, Q, R = lax.fori_loop(0, n, column, (A, Q, R))
    return Q, R, A


def symm(alpha, beta, C, A, B):
    m, n = C.shape
    idx = jnp.arange(m)
    C = C * beta

    def row(i, C):
        a_i = jnp.where(idx < i, _row(A, i), 0)  # A[i, :i]; A's upper part is -999

        def column(j, carry):
            C, temp2 = carry
            c_j = _col(C, j, 0, m)
            c_j = jnp.where(idx < i, c_j + alpha * B[i, j] * a_i, c_j)
            return _set_col(C, j, 0, c_j), _put(temp2, jnp.dot(_col(B, j, 0, m), a_i), j)

        C, temp2 = lax.fori_loop(0, n, column, (C, jnp.zeros((n,), C.dtype)))
        b_i = _row(B, i)
        return _set_row(C, i, _row(C, i) + (alpha * b_i * A[i, i] + alpha * temp2))

    return (lax.fori_loop(0, m, row, C),)


def syrk(alpha, beta, C, A):
    n, m = A.shape
    idx = jnp.arange(n)

    def row(i, C):
        keep = idx <= i  # C[i, :i + 1]
        c_i = _row(C, i)
        c_i = jnp.where(keep, c_i * beta, c_i)

        def term(k, c_i):
            return jnp.where(keep, c_i + alpha * A[i, k] * _col(A, k, 0, n), c_i)

        return _set_row(C, i, lax.fori_loop(0, m, term, c_i))

    return (lax.fori_loop(0, n, row, C),)


def trmm(alpha, A, B):
    m, n = B.shape
    idx = jnp.arange(m)

    def row(i, B):
        a_i = jnp.where(idx > i, _col(A, i, 0, m), 0)  # A[i + 1:, i]

        def element(j, B):
            return _put(B, B[i, j] + jnp.dot(a_i, _col(B, j, 0, m)), i, j)

        return lax.fori_loop(0, n, element, B)

    return (lax.fori_loop(0, m, row, B) * alpha,)


# -- stencils -----------------------------------------------------------------------


def seidel_2d(TSTEPS, N, A):
    def row(i, A):
        up, mid, down = lax.dynamic_slice(A, (i - 1, 0), (3, N))
        # left to right, as NumPy adds the seven terms
        s = up[:-2] + up[1:-1] + up[2:] + mid[2:] + down[:-2] + down[1:-1] + down[2:]
        mid = _put(mid, mid[1:-1] + s, 1)

        def point(j, r):
            return _put(r, (r[j] + r[j - 1]) / 9.0, j)

        return _set_row(A, i, lax.fori_loop(1, N - 1, point, mid))

    def sweep(t, A):
        return lax.fori_loop(1, N - 1, row, A)

    return (lax.fori_loop(0, TSTEPS - 1, sweep, A),)


def jacobi_2d(TSTEPS, A, B):
    def smooth(X):
        return 0.2 * (X[1:-1, 1:-1] + X[1:-1, :-2] + X[1:-1, 2:] + X[2:, 1:-1] + X[:-2, 1:-1])

    def step(t, carry):
        A, B = carry
        B = _put(B, smooth(A), 1, 1)
        return _put(A, smooth(B), 1, 1), B

    return lax.fori_loop(1, TSTEPS, step, (A, B))


def fdtd_2d(TMAX, ex, ey, hz, _fict_):
    def step(t, carry):
        ex, ey, hz = carry
        ey = _put(ey, jnp.full((1, ey.shape[1]), _fict_[t]), 0, 0)
        ey = _put(ey, ey[1:, :] - 0.5 * (hz[1:, :] - hz[:-1, :]), 1, 0)
        ex = _put(ex, ex[:, 1:] - 0.5 * (hz[:, 1:] - hz[:, :-1]), 0, 1)
        curl = ex[:-1, 1:] - ex[:-1, :-1] + ey[1:, :-1] - ey[:-1, :-1]
        hz = _put(hz, hz[:-1, :-1] - 0.7 * curl, 0, 0)
        return ex, ey, hz

    return lax.fori_loop(0, TMAX, step, (ex, ey, hz))


def adi(TSTEPS, N, u):
    # PolyBench's coefficients, in Python floats as the NumPy code has them
    DX = 1.0 / N
    DY = 1.0 / N
    DT = 1.0 / TSTEPS
    mul1 = 2.0 * DT / (DX * DX)
    mul2 = 1.0 * DT / (DY * DY)
    a = -mul1 / 2.0
    b = 1.0 + mul1
    c = a
    d = -mul2 / 2.0
    e = 1.0 + mul2
    f = d
    inner = N - 2  # rows and columns 1 .. N - 2

    def column_sweep(u, v, p, q):
        v = _put(v, jnp.ones((1, inner)), 0, 1)
        p = _set_col(p, 0, 1, jnp.zeros((inner,)))
        q = _set_col(q, 0, 1, v[0, 1 : N - 1])

        def forward(j, carry):
            p, q = carry
            p_prev, q_prev = _col(p, j - 1, 1, N - 1), _col(q, j - 1, 1, N - 1)
            u_j = lax.dynamic_slice(u, (j, 0), (1, N))[0]
            den = a * p_prev + b
            p = _set_col(p, j, 1, -c / den)
            rhs = -d * u_j[0 : N - 2] + (1.0 + 2.0 * d) * u_j[1 : N - 1] - f * u_j[2:N]
            return p, _set_col(q, j, 1, (rhs - a * q_prev) / den)

        p, q = lax.fori_loop(1, N - 1, forward, (p, q))
        v = _put(v, jnp.ones((1, inner)), N - 1, 1)

        def backward(s, v):
            j = N - 2 - s
            v_next = lax.dynamic_slice(v, (j + 1, 1), (1, inner))[0]
            new = _col(p, j, 1, N - 1) * v_next + _col(q, j, 1, N - 1)
            return lax.dynamic_update_slice(v, new[None], (j, 1))

        return lax.fori_loop(0, N - 2, backward, v), p, q

    def row_sweep(u, v, p, q):
        u = _set_col(u, 0, 1, jnp.ones((inner,)))
        p = _set_col(p, 0, 1, jnp.zeros((inner,)))
        q = _set_col(q, 0, 1, u[1 : N - 1, 0])

        def forward(j, carry):
            p, q = carry
            p_prev, q_prev = _col(p, j - 1, 1, N - 1), _col(q, j - 1, 1, N - 1)
            v_j = _col(v, j, 0, N)
            den = d * p_prev + e
            p = _set_col(p, j, 1, -f / den)
            rhs = -a * v_j[0 : N - 2] + (1.0 + 2.0 * a) * v_j[1 : N - 1] - c * v_j[2:N]
            return p, _set_col(q, j, 1, (rhs - d * q_prev) / den)

        p, q = lax.fori_loop(1, N - 1, forward, (p, q))
        u = _set_col(u, N - 1, 1, jnp.ones((inner,)))

        def backward(s, u):
            j = N - 2 - s
            new = _col(p, j, 1, N - 1) * _col(u, j + 1, 1, N - 1) + _col(q, j, 1, N - 1)
            return _set_col(u, j, 1, new)

        return lax.fori_loop(0, N - 2, backward, u), p, q

    def step(t, carry):
        u, v, p, q = carry
        v, p, q = column_sweep(u, v, p, q)
        u, p, q = row_sweep(u, v, p, q)
        return u, v, p, q

    scratch = jnp.zeros_like(u)
    u = lax.fori_loop(1, TSTEPS + 1, step, (u, scratch, scratch, scratch))[0]
    return u, u  # the result is u, and u is mutated


# -- dynamic programming --------------------------------------------------------------


def floyd_warshall(path):
    def relax(k, path):
        return jnp.minimum(path, _col(path, k, 0, path.shape[0])[:, None] + _row(path, k)[None, :])

    return (lax.fori_loop(0, path.shape[0], relax, path),)


def nussinov(N, seq):
    def cell(i, j, t):
        # the four updates of table[i, j] in one local, written once
        v = t[i, j]
        v = jnp.maximum(v, t[i, j - 1])  # j - 1 >= 0: j > i >= 0
        v = jnp.maximum(v, t[i + 1, j])  # i + 1 < N: the j loop is empty for i = N - 1
        pair = jnp.where(seq[i] + seq[j] == 3, 1, 0)
        v = jnp.maximum(v, t[i + 1, j - 1] + jnp.where(i < j - 1, pair, 0))
        v = lax.fori_loop(i + 1, j, lambda k, v: jnp.maximum(v, t[i, k] + t[k + 1, j]), v)
        return _put(t, v, i, j)

    def row(r, t):
        i = N - 1 - r
        return lax.fori_loop(i + 1, N, lambda j, t: cell(i, j, t), t)

    return (lax.fori_loop(0, N, row, jnp.zeros((N, N), jnp.int32)),)


def floyd_warshall_c(n, path):
    # PolyBench/C's loop nest, element by element (the conditional as a select)
    def k_loop(k, path):
        def i_loop(i, path):
            def j_loop(j, path):
                via = path[i, k] + path[k, j]
                return _put(path, jnp.where(path[i, j] < via, path[i, j], via), i, j)

            return lax.fori_loop(0, n, j_loop, path)

        return lax.fori_loop(0, n, i_loop, path)

    return (lax.fori_loop(0, n, k_loop, path),)
