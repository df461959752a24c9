"""Traced slice bounds and traced boolean masks: values of run-time length.

Every kernel body runs unchanged under NumPy (Python loops, int indices) and
under ``jax.jit(mutjax.mutable(...))`` with the loop index traced
(``mutjax.fori_loop``), and the results are compared; grad and vmap are
compared with the unrolled kernel (the same body with Python ints).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mutjax
from benchmarks.masked_lu import lu  # the benchmark's kernel is the tests' kernel too

RNG = np.random.default_rng(0)
# One compiled kernel serves every drawn length (the length is a jit
# argument), so a quarter of the profile's examples per operation suffices.
FEW = settings(max_examples=max(8, settings.default.max_examples // 4))


def np_fori(lo, hi, body, carry):
    for i in range(lo, hi):
        carry = body(i, carry)
    return carry


def jx_fori(lo, hi, body, carry):
    return mutjax.fori_loop(lo, hi, body, carry)


def same(got, expected, rtol=2e-5, atol=2e-5):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    if np.issubdtype(expected.dtype, np.floating):
        assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)
    else:
        assert got.dtype.kind == expected.dtype.kind or {got.dtype.kind, expected.dtype.kind} <= {
            "i",
            "u",
        }
        np.testing.assert_array_equal(got, expected)


# -- whole kernels: the lines of real solvers, loop index traced ----------------------


def trisolve(L, b, x, fori):
    n = b.shape[0]

    def body(i, c):
        L, b, x = c
        x[i] = (b[i] - L[i, :i] @ x[:i]) / L[i, i]
        return c

    return fori(0, n, body, (L, b, x))[2]


def backsolve(U, b, x, fori):
    n = b.shape[0]

    def body(t, c):
        U, b, x = c
        i = n - 1 - t
        x[i] = (b[i] - U[i, i + 1 :] @ x[i + 1 :]) / U[i, i]
        return c

    return fori(0, n, body, (U, b, x))[2]


def levinson(r, y, fori):
    """Durbin's algorithm (polybench `durbin`): solve the Yule-Walker system."""
    n = r.shape[0]
    y[0] = -r[0]

    def body(k, c):
        r, y, beta, alpha = c
        beta = (1 - alpha * alpha) * beta
        alpha = -(r[k] + np.dot(np.flip(r[:k]), y[:k])) / beta
        y[:k] += alpha * np.flip(y[:k])
        y[k] = alpha
        return r, y, beta, alpha

    return fori(1, n, body, (r, y, r[0] * 0 + 1, -r[0]))[1]


def levinson_ops(r, y, fori):
    """The same with operators only: NumPy's functions on mutable arrays are
    another module's, and the unrolled reference needs them traced."""
    n = r.shape[0]
    y[0] = -r[0]

    def body(k, c):
        r, y, beta, alpha = c
        beta = (1 - alpha * alpha) * beta
        alpha = -(r[k] + r[:k][::-1] @ y[:k]) / beta
        y[:k] += alpha * y[:k][::-1]
        y[k] = alpha
        return r, y, beta, alpha

    return fori(1, n, body, (r, y, r[0] * 0 + 1, -r[0]))[1]


def lu_right(A, fori):
    """Right-looking LU with partial pivoting, k traced."""
    n = A.shape[0]

    def body(k, A):
        A[k + 1 :, k] /= A[k, k]
        A[k + 1 :, k + 1 :] -= A[k + 1 :, k : k + 1] * A[k : k + 1, k + 1 :]
        return A

    return fori(0, n - 1, body, A)


def cholesky(A, L, fori):
    n = A.shape[0]

    def row(i, c):
        A, L = c

        def inner(j, c):
            A, L = c
            L[i, j] = (A[i, j] - L[i, :j] @ L[j, :j]) / L[j, j]
            return c

        A, L = fori(0, i, inner, (A, L))
        L[i, i] = (A[i, i] - L[i, :i] @ L[i, :i]) ** 0.5
        return A, L

    return fori(0, n, row, (A, L))[1]


def _spd(n):
    m = RNG.standard_normal((n, n)).astype(np.float32)
    return (m @ m.T + n * np.eye(n, dtype=np.float32)).astype(np.float32)


def _kernel_cases(n):
    L = np.tril(RNG.standard_normal((n, n))).astype(np.float32) + 3 * np.eye(n, dtype=np.float32)
    b = RNG.standard_normal(n).astype(np.float32)
    z = np.zeros(n, np.float32)
    r = (0.5 ** np.arange(1, n + 1)).astype(np.float32)
    return {
        "trisolve": (trisolve, (L, b, z)),
        "backsolve": (backsolve, (L.T.copy(), b, z)),
        "levinson": (levinson, (r, z)),
        "levinson_ops": (levinson_ops, (r, z)),
        "lu": (lu, (_spd(n) + RNG.standard_normal((n, n)).astype(np.float32),)),
        "lu_right": (lu_right, (_spd(n) + RNG.standard_normal((n, n)).astype(np.float32),)),
        "cholesky": (cholesky, (_spd(n), np.zeros((n, n), np.float32))),
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", ["trisolve", "backsolve", "levinson", "levinson_ops", "lu", "lu_right", "cholesky"]
)
@pytest.mark.parametrize("n", [1, 5])
def test_solver_kernels_match_numpy(name, n):
    kernel, args = _kernel_cases(n)[name]
    expected = kernel(*[a.copy() for a in args], np_fori)
    f = mutjax.mutable(lambda *a: kernel(*a, jx_fori))
    same(f(*args), expected, rtol=1e-4, atol=1e-4)
    same(jax.jit(f)(*args), expected, rtol=1e-4, atol=1e-4)


def test_kernel_answers_are_the_textbook_ones():
    n = 6
    cases = _kernel_cases(n)
    L, b, z = cases["trisolve"][1]
    x = jax.jit(mutjax.mutable(lambda *a: trisolve(*a, jx_fori)))(L, b, z)
    np.testing.assert_allclose(L @ np.asarray(x), b, rtol=1e-4, atol=1e-4)
    A, L0 = cases["cholesky"][1]
    C = jax.jit(mutjax.mutable(lambda *a: cholesky(*a, jx_fori)))(A, L0)
    np.testing.assert_allclose(np.asarray(C), np.linalg.cholesky(A), rtol=1e-4, atol=1e-4)
    r, z = cases["levinson"][1]
    y = np.asarray(jax.jit(mutjax.mutable(lambda *a: levinson(*a, jx_fori)))(r, z))
    T = np.array([[1.0] + list(r[: n - 1])][0], np.float64)
    T = np.array([[T[abs(i - j)] for j in range(n)] for i in range(n)])
    np.testing.assert_allclose(T @ y, -r, rtol=1e-3, atol=1e-4)


# -- grad and vmap against the unrolled kernel (static indices) --------------------------


def _both(kernel, *extra):
    rolled = mutjax.mutable(lambda *a: kernel(*a, *extra, jx_fori))
    unrolled = mutjax.mutable(lambda *a: kernel(*a, *extra, np_fori))
    return rolled, unrolled


@pytest.mark.slow
def test_grad_and_vmap_of_trisolve_and_levinson():
    n = 5
    cases = _kernel_cases(n)
    for name in ("trisolve", "backsolve", "levinson_ops", "lu_right"):
        kernel, args = cases[name]
        rolled, unrolled = _both(kernel)
        w = RNG.standard_normal(n if name != "lu_right" else (n, n)).astype(np.float32)

        def loss(f, *a, w=w):
            return (f(*a) * w).sum()

        argnums = (0, 1) if name in ("trisolve", "backsolve") else (0,)
        g1 = jax.jit(jax.grad(functools.partial(loss, rolled), argnums))(*args)
        g2 = jax.jit(jax.grad(functools.partial(loss, unrolled), argnums))(*args)
        for a, b in zip(g1, g2):
            assert np.all(np.isfinite(np.asarray(a)))
            same(a, b, rtol=1e-3, atol=1e-4)
        batch = [np.stack([a, a * 0.5 + 0.1 * (a != 0)]) for a in args]
        same(
            jax.jit(jax.vmap(rolled))(*batch),
            jax.jit(jax.vmap(unrolled))(*batch),
            rtol=1e-4,
            atol=1e-4,
        )


@pytest.mark.slow
def test_jacfwd_and_vmap_of_lu_and_cholesky():
    # Reverse mode cannot run through a lax.fori_loop with traced bounds (a JAX
    # limit, not ours): the nested loops are differentiated in forward mode.
    n = 4
    cases = _kernel_cases(n)
    for name in ("lu", "cholesky"):
        kernel, args = cases[name]
        rolled, unrolled = _both(kernel)
        j1 = jax.jit(jax.jacfwd(rolled))(*args)
        j2 = jax.jit(jax.jacfwd(unrolled))(*args)
        assert np.all(np.isfinite(np.asarray(j1)))
        same(j1, j2, rtol=1e-3, atol=1e-3)
        batch = [np.stack([a, a + 0.25 * np.eye(n, dtype=np.float32)]) for a in args]
        same(
            jax.jit(jax.vmap(rolled))(*batch),
            jax.jit(jax.vmap(unrolled))(*batch),
            rtol=1e-4,
            atol=1e-4,
        )


def test_masked_positions_leak_no_nan_into_gradients():
    def f(x, k):
        s = x[:k]
        return (np.sqrt(s) + 1 / s + np.log(s)).sum() + x[k:].max() * 0

    x = np.array([1.0, 4.0, 0.0, -1.0, 0.0], np.float32)  # masked tail: 0 and -1
    g = jax.jit(jax.grad(mutjax.mutable(f)))(x, jnp.int32(2))
    expected = 0.5 / np.sqrt(x[:2]) - 1 / x[:2] ** 2 + 1 / x[:2]
    np.testing.assert_allclose(np.asarray(g)[:2], expected, rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(g)[2:], 0)


# -- every operation on masked values, hypothesis drawing the length ---------------------


def _mean(s):
    return s.mean()


OPS = {
    "add": lambda x, y, A, k: x.__setitem__(slice(None, k), x[:k] + y[:k]),
    "scalar": lambda x, y, A, k: x.__setitem__(slice(None, k), 2 * x[:k] - 1),
    "div_abs": lambda x, y, A, k: x.__setitem__(slice(None, k), y[:k] / (1 + abs(x[:k]))),
    "ufuncs": lambda x, y, A, k: x.__setitem__(
        slice(None, k), np.sqrt(np.abs(y[:k])) + np.exp(x[:k]) - np.tanh(y[:k])
    ),
    "maximum": lambda x, y, A, k: x.__setitem__(slice(None, k), np.maximum(x[:k], y[:k])),
    "where": lambda x, y, A, k: y.__setitem__(slice(k, None), np.where(x[k:] > 0, x[k:], -y[k:])),
    "flip": lambda x, y, A, k: x.__setitem__(slice(None, k), np.flip(y[:k])),
    "reverse_index": lambda x, y, A, k: x.__setitem__(slice(k, None), y[k:][::-1]),
    "flip_tail": lambda x, y, A, k: x.__setitem__(slice(k, None), np.flip(x[k:]) ** 2),
    "levinson_line": lambda x, y, A, k: x.__setitem__(
        slice(None, k), x[:k] + y[0] * np.flip(x[:k])
    ),
    "sum": lambda x, y, A, k: x[:k].sum(),
    "np_sum": lambda x, y, A, k: np.sum(x[k:] * y[k:]),
    "prod": lambda x, y, A, k: (1 + 0.1 * x[:k]).prod(),
    "any": lambda x, y, A, k: (x[:k] > 0.5).any(),
    "all": lambda x, y, A, k: np.all(x[k:] > -0.5),
    "dot": lambda x, y, A, k: x[:k] @ y[:k],
    "np_dot_flip": lambda x, y, A, k: np.dot(np.flip(x[:k]), y[:k]),
    "vdot": lambda x, y, A, k: np.vdot(x[k:], y[k:]),
    "method_dot": lambda x, y, A, k: x[:k].dot(y[:k]),
    "matvec": lambda x, y, A, k: y.__setitem__(slice(None, k), A[:k, :k] @ x[:k]),
    "vecmat_static": lambda x, y, A, k: x[:k] @ A[:k, :],
    "row_dot_col": lambda x, y, A, k: A[-1, :k] @ A[:k, 0],
    "broadcast_static_axis": lambda x, y, A, k: A.__setitem__(
        (slice(None, k), slice(None)), A[:k, :] * y
    ),
    "broadcast_rows": lambda x, y, A, k: A.__setitem__((slice(None), slice(None, k)), x[:k]),
    "outer_update": lambda x, y, A, k: A.__setitem__(
        (slice(None, k), slice(None, k)), A[:k, :k] - A[:k, :1] * A[:1, :k]
    ),
    "ufunc_reduce": lambda x, y, A, k: np.add.reduce(x[:k]) + np.maximum.reduce(x[: k + 1]),
    "compare_count": lambda x, y, A, k: (x[k:] > y[k:]).astype(np.float32).sum(),
    # NumPy's dispatch with a mutable array first and the masked value second.
    "np_mixed_operands": lambda x, y, A, k: (
        np.dot(y[0], x[:k]).sum() + np.multiply(y[0], x[:k]).sum()
    ),
    "unary_sweep": lambda x, y, A, k: x.__setitem__(
        slice(None, k),
        np.negative(x[:k])
        + np.sin(x[:k])
        + np.cos(y[:k])
        + np.log1p(np.abs(x[:k]))
        + np.square(y[:k])
        + np.floor(x[:k])
        + np.sign(y[:k])
        + np.arctan(x[:k])
        + np.expm1(-np.abs(y[:k]))
        + np.reciprocal(1 + x[:k] ** 2),
    ),
    "ufunc_out_view": lambda x, y, A, k: np.multiply(x[:k], 3, out=x[:k]).sum(),
    "unit_axes_broadcast": lambda x, y, A, k: A.__setitem__(
        (slice(None, k), slice(None, k)),
        A[:k, :k] - A[:k, k - 1 : k] * A[k - 1 : k, :k],
    ),
    "transpose_matvec": lambda x, y, A, k: (
        x.__setitem__(slice(None, k), np.transpose(A[:, :k]) @ y),
        A[:k, :].T @ x[:k],
    )[1],
    "newaxis_outer": lambda x, y, A, k: A.__setitem__(
        (slice(k, None), slice(None, k)),
        A[k:, :k] + x[k:, None] * y[None, :k] - np.outer(x[k:], y[:k]) * 0.5 + x[None, 0],
    ),
    "iadd_scalar": lambda x, y, A, k: x.__setitem__(slice(k, None), x[k:] + 100),
}
NONEMPTY_OPS = {
    "mean": lambda x, y, A, k: _mean(x[:k]),
    "max": lambda x, y, A, k: x[:k].max(),
    "min": lambda x, y, A, k: np.min(x[:k] * y[:k]),
    "argmax": lambda x, y, A, k: x[:k].argmax(),
    "argmin": lambda x, y, A, k: np.argmin(np.flip(x[:k])),
    "reverse_from": lambda x, y, A, k: x.__setitem__(slice(None, k), x[k - 1 :: -1] * 2),
    "amax_tail": lambda x, y, A, k: np.max(x[-k:]),
}


def _run_op(op):
    def kernel(x, y, A, k):
        out = op(x, y, A, k)
        return out, x, y, A

    return kernel


_JITTED = {}


def _jitted(name, op):
    if name not in _JITTED:
        _JITTED[name] = jax.jit(mutjax.mutable(_run_op(op)))
    return _JITTED[name]


def _check_op(name, op, n, k, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n).astype(np.float32)
    y = rng.standard_normal(n).astype(np.float32)
    A = rng.standard_normal((n, n)).astype(np.float32)
    expected = _run_op(op)(x.copy(), y.copy(), A.copy(), k)
    got = _jitted(name, op)(x, y, A, jnp.int32(k))
    exp_out = expected[0]
    if exp_out is None:
        assert got[0] is None
    else:
        same(got[0], np.asarray(exp_out), rtol=1e-4, atol=1e-4)
    for g, e in zip(got[1:], expected[1:]):
        same(g, e, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(OPS))
@FEW
@given(n=st.sampled_from([1, 4]), data=st.data(), seed=st.integers(0, 2**16))
def test_operation_on_traced_slice_matches_numpy(name, n, data, seed):
    k = data.draw(st.integers(0, n), label="k")
    _check_op(name, OPS[name], n, k, seed)


@pytest.mark.parametrize("name", sorted(NONEMPTY_OPS))
@FEW
@given(n=st.sampled_from([1, 4]), data=st.data(), seed=st.integers(0, 2**16))
def test_reduction_of_nonempty_traced_slice_matches_numpy(name, n, data, seed):
    # NumPy refuses max/min/argmax of an empty array; mean of one is NaN
    # with a warning: the lengths drawn here start at 1.
    k = data.draw(st.integers(1, n), label="k")
    _check_op(name, NONEMPTY_OPS[name], n, k, seed)


def test_vmap_over_the_traced_bound_and_a_closed_over_bound():
    def kernel(x, k):
        x[:k] += k * np.flip(x[:k])
        return x, (x[k:] * 2).sum()

    x = RNG.standard_normal(5).astype(np.float32)
    ks = np.arange(6, dtype=np.int32)
    got = jax.jit(jax.vmap(mutjax.mutable(kernel), in_axes=(None, 0)))(x, ks)
    for k in range(6):
        expected = kernel(x.copy(), k)
        same(got[0][k], expected[0])
        same(got[1][k], expected[1])

    # A bound that is a plain JAX tracer closed over, not a mutable array.
    @jax.jit
    def outer(x, k):
        return mutjax.mutable(lambda x: kernel(x, k))(x)

    for k in (0, 3):
        for g, e in zip(outer(x, k), kernel(x.copy(), k)):
            same(g, e)


def k_views(x, y, A, k):
    v = x[:k]  # a view, as in NumPy: later writes show through it
    v += 1  # writes x
    w = x[k:]
    x[-1] = 50
    tail = w.sum()  # sees the 50
    x[:k] *= 2
    y[1:][:k] -= x[:k]  # a traced slice of a view
    row = A[-1]
    row[:k] = y[:k]  # through a view into A
    A[0][k:] += np.flip(x[k:])
    return tail, v.sum(), x, y, A


@FEW
@given(n=st.sampled_from([1, 5]), data=st.data(), seed=st.integers(0, 2**16))
def test_traced_slices_are_live_views(n, data, seed):
    k = data.draw(st.integers(0, n - 1), label="k")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n).astype(np.float32)
    y = rng.standard_normal(n).astype(np.float32)
    A = rng.standard_normal((n, n)).astype(np.float32)
    expected = k_views(x.copy(), y.copy(), A.copy(), k)
    got = _views_jit()(x, y, A, jnp.int32(k))
    for g, e in zip(got, expected):
        same(g, np.asarray(e))


@functools.cache
def _views_jit():
    return jax.jit(mutjax.mutable(k_views))


def k_2d(A, B, a, b, c, d):
    s = A[a:b, c:d]
    out = (s.sum(), (s * B[a:b, c:d]).sum(axis=0).sum(), np.flip(s).max(axis=1).min())
    A[a:b, c:d] = s * 2 + np.flip(B[a:b, c:d])
    B[a:b:-1, ::2] += 1
    return out, A, B


@FEW
@given(
    bounds=st.lists(st.integers(-6, 6), min_size=4, max_size=4),
    seed=st.integers(0, 2**16),
)
def test_two_traced_axes_match_numpy(bounds, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((4, 5)).astype(np.float32)
    B = rng.standard_normal((4, 5)).astype(np.float32)
    a, b, c, d = bounds
    sub = A[a:b, c:d]
    if sub.size == 0:
        d = c + 1 if c >= 0 else -1  # NumPy's max of an empty row raises
        b = a + 1 if a >= 0 else -1
        sub = A[a:b, c:d]
    if sub.size == 0:
        a, b, c, d = 0, 2, 1, 3
    expected = k_2d(A.copy(), B.copy(), a, b, c, d)
    got = _2d_jit()(A, B, *[jnp.int32(v) for v in (a, b, c, d)])
    for g, e in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(expected)):
        same(g, np.asarray(e), rtol=1e-4, atol=1e-4)


@functools.cache
def _2d_jit():
    return jax.jit(mutjax.mutable(k_2d))


_SLICE_KERNELS = {}


def _slice_kernel(pattern, step_static):
    key = (pattern, step_static)
    if key not in _SLICE_KERNELS:

        def kernel(x, y, *parts):
            it = iter(parts)
            bounds = [next(it) if p else None for p in pattern]
            if step_static is not None:
                bounds[2] = step_static
            sl = slice(*bounds)
            s = x[sl]
            out = (s.sum(), np.dot(np.flip(s), y[sl]), (s * s).sum())
            x[sl] += 1
            y[sl] = x[sl] * 3 - np.flip(y[sl])
            x[sl] *= y[sl]
            return out, x, y

        _SLICE_KERNELS[key] = (kernel, jax.jit(mutjax.mutable(kernel)))
    return _SLICE_KERNELS[key]


@pytest.mark.slow
@given(
    n=st.sampled_from([0, 1, 5]),
    start=st.one_of(st.none(), st.integers(-8, 8)),
    stop=st.one_of(st.none(), st.integers(-8, 8)),
    step=st.one_of(
        st.none(),
        st.sampled_from([("static", 1), ("static", -1), ("static", 2), ("static", -3)]),
        st.sampled_from([1, -1, 2, -2, 3]),
    ),
    seed=st.integers(0, 2**16),
)
def test_any_traced_slice_reads_and_writes_as_numpy(n, start, stop, step, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n).astype(np.float32)
    y = rng.standard_normal(n).astype(np.float32)
    step_static = step[1] if isinstance(step, tuple) else None
    traced_step = step if isinstance(step, int) else None
    if start is None and stop is None and traced_step is None:
        start = 0  # at least one traced bound
    pattern = (start is not None, stop is not None, traced_step is not None)
    kernel, jitted = _slice_kernel(pattern, step_static)
    parts = [p for p in (start, stop, traced_step) if p is not None]
    expected = kernel(x.copy(), y.copy(), *parts)
    got = jitted(x, y, *[jnp.int32(p) for p in parts])
    for g, e in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(expected)):
        same(g, np.asarray(e), rtol=1e-4, atol=1e-4)


# -- traced boolean masks ------------------------------------------------------------------


def k_masks(x, y, A):
    m = x > 0
    x[m] *= 2
    x[m] += 100
    y[m] = x[m] * 10
    rows = A[:, 0] > 0
    A[rows] *= -1
    A[rows] += A[rows] * A[rows]
    big = A > 0.5
    A[big] = np.sqrt(A[big])
    return (
        x[m].sum(),
        x[m].max(),
        x[m].min(),
        y[m].argmax(),
        (x[m] > 101).all(),
        np.dot(x[m], y[m]),
        A[big].sum(),
        A[rows].sum(),
    )


def k_mask_mean(x):
    m = x > -0.5
    return x[m].mean(), np.mean(x[m] * 2)


@given(n=st.sampled_from([1, 5]), seed=st.integers(0, 2**16))
def test_traced_masks_match_numpy(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n).astype(np.float32)
    x[0] = 1.0  # the mask selects at least one element (NumPy's max needs one)
    y = rng.standard_normal(n).astype(np.float32)
    A = rng.standard_normal((n, 3)).astype(np.float32)
    A[0, 0] = 1.0
    A[0, 1] = 1.0
    xs, ys, As = x.copy(), y.copy(), A.copy()
    expected = k_masks(xs, ys, As)
    got, gx, gy, gA = _mask_jit()(x, y, A)
    for g, e in zip(got, expected):
        same(g, np.asarray(e), rtol=1e-4, atol=1e-4)
    same(gx, xs)
    same(gy, ys)
    same(gA, As, rtol=1e-5, atol=1e-5)
    for g, e in zip(_mean_jit()(x), k_mask_mean(x)):
        same(g, e)


@functools.cache
def _mean_jit():
    return jax.jit(mutjax.mutable(k_mask_mean))


@functools.cache
def _mask_jit():
    return jax.jit(mutjax.mutable(k_masks, return_argnums=(0, 1, 2)))


def test_mask_and_slice_of_equal_count_combine():
    # NumPy requires count(m) == k: x[m] = y[:k] packs / spreads by position.
    def kernel(x, y, k):
        m = x > 0
        x[m] = y[:k] * 2
        return x, (x[m] + y[:k]).sum()

    x = np.array([1.0, -1.0, 2.0, -3.0, 4.0], np.float32)
    y = np.arange(5, dtype=np.float32)
    k = int((x > 0).sum())
    expected = kernel(x.copy(), y, k)
    got = jax.jit(mutjax.mutable(kernel))(x, y, jnp.int32(k))
    same(got[0], expected[0])
    same(got[1], expected[1])


def test_mask_grad_and_vmap():
    def f(x, y):
        m = x > 0
        x[m] = y[m] * x[m] ** 0.5
        return x.sum() + x[m].sum()

    def by_hand(x, y):
        m = x > 0
        return jnp.sum(jnp.where(m, 2 * y * jnp.sqrt(jnp.where(m, x, 1)), x))

    x = np.array([1.0, -1.0, 4.0, 0.0], np.float32)
    y = np.array([2.0, 3.0, 5.0, 7.0], np.float32)
    g = jax.jit(jax.grad(mutjax.mutable(f), (0, 1)))(x, y)
    for a, b in zip(g, jax.grad(by_hand, (0, 1))(x, y)):
        same(a, b)
    xb = np.stack([x, -x])
    yb = np.stack([y, y])
    same(jax.jit(jax.vmap(mutjax.mutable(f)))(xb, yb), jax.vmap(by_hand)(xb, yb))


# -- errors: what needs the exact shape -------------------------------------------------------


@pytest.mark.parametrize(
    "use",
    [
        lambda v: v.shape,
        len,
        int,
        float,
        bool,
        np.asarray,
        jnp.sum,
        lambda v: jnp.zeros_like(v),
        lambda v: v.size,
        lambda v: list(v),
        lambda v: v + np.ones(7, np.float32),
    ],
)
def test_what_needs_the_shape_raises_dynamic_shape_error(use):
    def kernel(x, k):
        use(x[:k])

    with pytest.raises(mutjax.DynamicShapeError) as info:
        jax.jit(mutjax.mutable(kernel))(np.ones(7, np.float32), jnp.int32(3))
    msg = str(info.value)
    assert "use(x[:k])" in msg and "jnp.where" in msg and "size=" in msg


def test_other_dynamic_shape_errors():
    def returned(x, k):
        return x[:k]

    def into_static(x, k):
        x[:3] = x[:k]

    def mixed_index(x, k):
        return x[[0, 1], :k]

    def mask_count_value(x, k):
        x[x > 0] = np.arange(3, dtype=np.float32)

    for kernel, arg in [
        (mask_count_value, np.ones(5, np.float32)),
        (returned, np.ones(5, np.float32)),
        (into_static, np.ones(5, np.float32)),
        (mixed_index, np.ones((3, 5), np.float32)),
    ]:
        with pytest.raises(mutjax.DynamicShapeError):
            jax.jit(mutjax.mutable(kernel))(arg, jnp.int32(2))


def k_ints(x, k):
    x[:k] += 1
    x[k:] *= x[0]
    x[1:][:k] //= 2
    return x, x[:k].sum(), x[k:].any()


@FEW
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_integer_arrays_and_in_place_casting(data, seed):
    k = data.draw(st.integers(0, 5), label="k")
    x = np.random.default_rng(seed).integers(-9, 9, 5).astype(np.int32)
    for g, e in zip(_ints_jit()(x, jnp.int32(k)), k_ints(x.copy(), k)):
        same(g, np.asarray(e))

    def bad(x, k):
        x[:k] /= 2  # NumPy: UFuncTypeError, a TypeError

    with pytest.raises(TypeError):
        bad(x.copy(), k)
    with pytest.raises(TypeError):
        jax.jit(mutjax.mutable(bad))(x, jnp.int32(k))


@functools.cache
def _ints_jit():
    return jax.jit(mutjax.mutable(k_ints))


# -- eagerly and for static bounds nothing changes ----------------------------------------------


def test_eager_and_static_bounds_give_ordinary_arrays():
    seen = []

    def kernel(x, k):
        seen.append(type(x[:k]))
        x[:k] += np.flip(x[:k])
        return x

    x = np.arange(5, dtype=np.float32)
    out = mutjax.mutable(kernel)(x, jnp.int32(3))  # eager: k is concrete
    assert seen == [mutjax.MutableArray]
    expected = kernel(x.copy(), 3)
    same(out, expected)
    jax.jit(mutjax.mutable(kernel), static_argnums=1)(x, 3)
    assert seen[-1] is mutjax.MutableArray
    jax.jit(mutjax.mutable(kernel))(x, 3)
    assert seen[-1] is mutjax.MaskedArray


# -- the same kernels with bodies that close over the arrays (no explicit carry) ------


def c_trisolve(L, b, x, fori):
    def body(i, c):
        x[i] = (b[i] - L[i, :i] @ x[:i]) / L[i, i]
        return c

    fori(0, b.shape[0], body, 0)
    return x


def c_levinson(r, y, fori):
    y[0] = -r[0]

    def body(k, c):
        beta, alpha = c
        beta = (1 - alpha * alpha) * beta
        alpha = -(r[k] + r[:k][::-1] @ y[:k]) / beta
        y[:k] += alpha * y[:k][::-1]
        y[k] = alpha
        return beta, alpha

    fori(1, r.shape[0], body, (r[0] * 0 + 1, -r[0]))
    return y


def c_lu(A, fori):
    n = A.shape[0]

    def row(i, c):
        def lower(j, c):
            A[i, j] -= A[i, :j] @ A[:j, j]
            A[i, j] /= A[j, j]
            return c

        def upper(j, c):
            A[i, j] -= A[i, :i] @ A[:i, j]
            return c

        fori(0, i, lower, 0)
        return fori(i, n, upper, c)

    fori(0, n, row, 0)
    return A


def c_cholesky(A, L, fori):
    def row(i, c):
        def inner(j, c):
            L[i, j] = (A[i, j] - L[i, :j] @ L[j, :j]) / L[j, j]
            return c

        fori(0, i, inner, 0)
        L[i, i] = (A[i, i] - L[i, :i] @ L[i, :i]) ** 0.5
        return c

    fori(0, A.shape[0], row, 0)
    return L


@pytest.mark.slow
@pytest.mark.parametrize("name", ["trisolve", "levinson", "lu", "cholesky"])
def test_solver_kernels_with_mutjax_fori_loop(name):
    n = 5
    kernel = {"trisolve": c_trisolve, "levinson": c_levinson, "lu": c_lu, "cholesky": c_cholesky}[
        name
    ]
    args = _kernel_cases(n)[name][1]
    expected = kernel(*[a.copy() for a in args], np_fori)
    rolled = mutjax.mutable(lambda *a: kernel(*a, mutjax.fori_loop))
    same(jax.jit(rolled)(*args), expected, rtol=1e-4, atol=1e-4)
    unrolled = mutjax.mutable(lambda *a: kernel(*a, np_fori))
    batch = [np.stack([a, a * 1.0]) for a in args]
    same(jax.jit(jax.vmap(rolled))(*batch), jax.vmap(unrolled)(*batch), rtol=1e-4, atol=1e-4)
    if name in ("trisolve", "levinson"):
        g1 = jax.jit(jax.grad(lambda *a: rolled(*a).sum()))(*args)
        g2 = jax.jit(jax.grad(lambda *a: unrolled(*a).sum()))(*args)
        assert np.all(np.isfinite(np.asarray(g1)))
        same(g1, g2, rtol=1e-3, atol=1e-4)
    else:
        j1 = jax.jit(jax.jacfwd(rolled))(*args)
        j2 = jax.jit(jax.jacfwd(unrolled))(*args)
        same(j1, j2, rtol=1e-3, atol=1e-3)
