"""Products of masked values against NumPy: free-axis and contracted-axis masks.

Each kernel takes a traced bound ``i`` (a jit argument) and writes a product
of traced slices into a plain array; NumPy runs the same kernel with the
Python int. Masked-out parts of the operands hold ``inf`` or ``nan``: NumPy
multiplies only the selected part, so they must reach no visible result
(on a free axis the product of the whole data is masked afterwards; on the
contracted axis ``0 * inf`` would be ``nan``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import examples, sampled
from hypothesis import given, settings
from hypothesis import strategies as st

import mutjax

RNG = np.random.default_rng(0)
N = 6


# -- kernels: free-axis masks (the product does not contract the masked axis) -------------


def vec_cols(a, X, i):
    out = np.zeros(X.shape[1], dtype=X.dtype)
    out[i:] = a @ X[:, i:]
    return out


def rows_vec(X, b, i):
    out = np.zeros(X.shape[0], dtype=X.dtype)
    out[i:] = X[i:, :] @ b
    return out


def mat_cols(Y, X, i):
    out = np.zeros((Y.shape[0], X.shape[1]), dtype=X.dtype)
    out[:, i:] = Y @ X[:, i:]
    return out


def rows_mat(X, Y, i):
    out = np.zeros((X.shape[0], Y.shape[1]), dtype=X.dtype)
    out[:i, :] = np.dot(X[:i, :], Y)
    return out


# -- contracted-axis masks -------------------------------------------------------------------


def vec_vec(a, b, i):
    out = np.zeros(1, dtype=a.dtype)
    out[0] = a[:i] @ b[:i]
    return out


def row_rows(L, B, i):
    out = np.zeros(B.shape[1], dtype=B.dtype)
    out[:] = L[i, : i + 1] @ B[: i + 1, :]
    return out


def row_rows_from(U, B, i):
    out = np.zeros(B.shape[1], dtype=B.dtype)
    out[:] = U[i, i:] @ B[i:, :]
    return out


def cols_rows(X, Y, i):
    out = np.zeros((X.shape[0], Y.shape[1]), dtype=X.dtype)
    out[:] = X[:, :i] @ Y[:i, :]
    return out


def both_axes(X, Y, i):
    # rows of the left masked (free), its columns and Y's rows (contracted)
    out = np.zeros((X.shape[0], Y.shape[1]), dtype=X.dtype)
    out[i:, :] = X[i:, i:] @ Y[i:, :]
    return out


def _outside_square(i):
    # both_axes' left operand: rows or columns before i
    return (np.arange(N)[:, None] < i) | (np.arange(N)[None, :] < i)


# kernel: (operand shapes, per operand the part the kernel masks out at bound i)
KERNELS = {
    vec_cols: ([(N,), (N, N)], [None, lambda i: np.s_[:, :i]]),
    rows_vec: ([(N, N), (N,)], [lambda i: np.s_[:i, :], None]),
    mat_cols: ([(3, N), (N, N)], [None, lambda i: np.s_[:, :i]]),
    rows_mat: ([(N, N), (N, 4)], [lambda i: np.s_[i:, :], None]),
    vec_vec: ([(N,), (N,)], [lambda i: np.s_[i:], lambda i: np.s_[i:]]),
    row_rows: ([(N, N), (N, 4)], [lambda i: np.s_[i, i + 1 :], lambda i: np.s_[i + 1 :, :]]),
    row_rows_from: ([(N, N), (N, 4)], [lambda i: np.s_[i, :i], lambda i: np.s_[:i, :]]),
    cols_rows: ([(3, N), (N, 4)], [lambda i: np.s_[:, i:], lambda i: np.s_[i:, :]]),
    both_axes: ([(N, N), (N, 4)], [_outside_square, lambda i: np.s_[:i, :]]),
}
BOUNDS = {vec_cols: N, rows_vec: N, mat_cols: N, rows_mat: N, vec_vec: N}  # i in [0, bound]


def _bound(kernel):
    return BOUNDS.get(kernel, N - 1)


def _operands(kernel, dtype, i, bad):
    """Random operands with ``bad`` written into the parts the kernel masks out at ``i``."""
    shapes, outside = KERNELS[kernel]
    ops = []
    for shape, where in zip(shapes, outside):
        x = RNG.standard_normal(shape)
        if np.issubdtype(dtype, np.complexfloating):
            x = x + 1j * RNG.standard_normal(shape)
        x = x.astype(dtype) if np.issubdtype(dtype, np.inexact) else (x * 4).astype(dtype)
        if bad is not None and where is not None:
            x[where(i)] = bad
        ops.append(x)
    return ops


def _check(kernel, ops, i, rtol=1e-5):
    with np.errstate(invalid="ignore", over="ignore"):
        expected = kernel(*[np.array(x) for x in ops], i)
    got = mutjax.jit(kernel)(*ops, jnp.int32(i))
    got = np.asarray(got)
    assert got.shape == expected.shape and got.dtype == expected.dtype, (got.dtype, expected.dtype)
    if np.issubdtype(expected.dtype, np.inexact):
        # same positions of inf and nan, the finite ones close (summation order)
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol)
        assert np.array_equal(np.isnan(got), np.isnan(expected))
    else:
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("bad", [None, np.inf, -np.inf, np.nan])
@sampled("kernel", list(KERNELS), every=4, ids=lambda k: k.__name__)
def test_masked_product_equals_numpy_with_non_finite_masked_data(kernel, bad):
    for i in sorted({0, 1, _bound(kernel) // 2, _bound(kernel)}):
        _check(kernel, _operands(kernel, np.float32, i, bad), i)


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.complex64])
@pytest.mark.parametrize("kernel", list(KERNELS), ids=lambda k: k.__name__)
def test_masked_product_dtypes(kernel, dtype):
    i = _bound(kernel) // 2 + 1
    _check(kernel, _operands(kernel, dtype, i, None), i)


def test_non_finite_selected_data_reaches_the_result_as_in_numpy():
    # inf inside the selected part: NumPy's inf / nan, not hidden by the mask
    L, B = _operands(row_rows, np.float32, 3, None)
    B[1, 2] = np.inf
    L[3, 2] = 0.0  # 0 * inf: nan in NumPy too
    B[0, 0] = -np.inf
    _check(row_rows, [L, B], 3)
    a, X = _operands(vec_cols, np.float32, 2, None)
    X[4, 3] = np.inf
    X[0, 3] = -np.inf
    _check(vec_cols, [a, X], 2)


@settings(max_examples=examples(25), deadline=None)
@given(
    kernel=st.sampled_from(list(KERNELS)),
    frac=st.floats(0, 1),
    bad=st.sampled_from([None, np.inf, -np.inf, np.nan, 1e30]),
)
def test_masked_product_random_bounds(kernel, frac, bad):
    i = int(round(frac * _bound(kernel)))
    _check(kernel, _operands(kernel, np.float32, i, bad), i, rtol=1e-4)


# -- the free-axis route multiplies the array itself ----------------------------------------


def _dots(jaxpr):
    """(dot_general equation, producers of its operands) in ``jaxpr`` and its sub-jaxprs."""
    out = []
    producer = {v: e for e in jaxpr.eqns for v in e.outvars}
    for e in jaxpr.eqns:
        if e.primitive.name == "dot_general":
            out.append([producer.get(x) for x in e.invars])
        for sub in jax.extend.core.jaxprs_in_params(e.params):
            out += _dots(sub)
    return out


def _conds(jaxpr):
    out = [e for e in jaxpr.eqns if e.primitive.name == "cond"]
    for e in jaxpr.eqns:
        for sub in jax.extend.core.jaxprs_in_params(e.params):
            out += _conds(sub) if e.primitive.name != "cond" else []
    return out


@pytest.mark.parametrize("kernel", [vec_cols, rows_vec, mat_cols], ids=lambda k: k.__name__)
def test_free_axis_mask_is_no_select_before_the_product(kernel):
    ops = _operands(kernel, np.float32, 2, None)
    jaxpr = jax.make_jaxpr(mutjax.jit(kernel))(*ops, jnp.int32(2)).jaxpr
    dots = _dots(jaxpr)
    assert dots and all(p is None or p.primitive.name != "select_n" for d in dots for p in d)


def test_contracted_mask_zeroes_the_large_operand_only_when_not_finite():
    L, B = _operands(row_rows, np.float32, 3, None)
    jaxpr = jax.make_jaxpr(mutjax.jit(row_rows))(L, B, jnp.int32(3)).jaxpr
    (cond,) = _conds(jaxpr)
    # one branch multiplies B as it is, the other zeroes its masked rows first
    selects = [
        sum(e.primitive.name == "select_n" for e in br.jaxpr.eqns) for br in cond.params["branches"]
    ]
    assert sorted(selects) == [0, 1]


# -- gradients ---------------------------------------------------------------------------


def _static(kernel):
    """The same kernel with a static bound, in plain JAX: the gradient's oracle."""

    def run(*ops_i):
        *ops, i = ops_i
        return {
            vec_cols: lambda a, X: jnp.zeros(X.shape[1]).at[i:].set(a @ X[:, i:]),
            rows_vec: lambda X, b: jnp.zeros(X.shape[0]).at[i:].set(X[i:, :] @ b),
            row_rows: lambda L, B: L[i, : i + 1] @ B[: i + 1, :],
            cols_rows: lambda X, Y: X[:, :i] @ Y[:i, :],
        }[kernel](*ops)

    return run


@pytest.mark.parametrize(
    "kernel", [vec_cols, rows_vec, row_rows, cols_rows], ids=lambda k: k.__name__
)
def test_masked_product_grad_equals_static_slicing(kernel):
    i = 3
    ops = [jnp.asarray(x) for x in _operands(kernel, np.float32, i, None)]
    out_shape = np.shape(kernel(*[np.array(x) for x in ops], i))
    w = jnp.asarray(RNG.standard_normal(out_shape).astype(np.float32))
    argnums = tuple(range(len(ops)))

    def ours(*ops):
        return jnp.sum(w * mutjax.jit(kernel)(*ops, jnp.int32(i)))

    def theirs(*ops):
        return jnp.sum(w * _static(kernel)(*ops, i))

    got = jax.jit(jax.grad(ours, argnums))(*ops)
    expected = jax.grad(theirs, argnums)(*ops)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


def _zero_filled(kernel, ops, i):
    """``ops`` with the parts ``kernel`` masks out at ``i`` set to 0."""
    _, outside = KERNELS[kernel]
    out = []
    for x, where in zip(ops, outside):
        x = np.array(x)
        if where is not None:
            x[where(i)] = 0
        out.append(x)
    return out


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan, 1e30])
@sampled("kernel", list(KERNELS), every=4, ids=lambda k: k.__name__)
def test_masked_out_data_reaches_no_gradient(kernel, bad):
    # NumPy does not read the masked-out part: the gradient is the one of the
    # same code on data that holds zeros there, whatever it holds.
    i = 3
    ops = _operands(kernel, np.float32, i, bad)
    out_shape = np.shape(kernel(*_zero_filled(kernel, ops, i), i))
    w = jnp.asarray(RNG.standard_normal(out_shape).astype(np.float32))
    argnums = tuple(range(len(ops)))

    def loss(*ops):
        return jnp.sum(w * mutjax.jit(kernel)(*ops, jnp.int32(i)))

    got = jax.jit(jax.grad(loss, argnums))(*[jnp.asarray(x) for x in ops])
    expected = jax.jit(jax.grad(loss, argnums))(
        *[jnp.asarray(x) for x in _zero_filled(kernel, ops, i)]
    )
    for g, e in zip(got, expected):
        assert np.all(np.isfinite(g))
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


def test_a_custom_jvp_rule_is_differentiated_after_the_scope_returned():
    # The masked products' derivative rule, like jax.nn.relu's, is traced
    # when jax.grad differentiates the program, after `mutable` returned.
    def kernel(x):
        y = jax.nn.relu(x)
        return np.sum(y * y)

    x = jnp.asarray(np.linspace(-1, 1, 5, dtype=np.float32))
    expected = 2 * np.maximum(np.asarray(x), 0)
    for f in (mutjax.jit(kernel), mutjax.mutable(kernel)):
        np.testing.assert_allclose(jax.grad(f)(x), expected, rtol=1e-6)


def rows_from(a, X):
    out = np.zeros((X.shape[1], X.shape[1]), dtype=X.dtype)
    for i in range(1, X.shape[1]):
        out[i, i:] = a @ X[:, i:]  # the same product every iteration, masked apart
    return out


@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_batched_loop_over_a_free_masked_product_reaches_no_gradient_from_unread_data(bad):
    # Column 0 of X is never read. The loop runs batched (one product with X
    # for all iterations, the masks batched alone): the gradient is the one
    # of the same code on X with zeros there.
    a = RNG.standard_normal(4).astype(np.float32)
    X = RNG.standard_normal((4, N)).astype(np.float32)
    X[:, 0] = bad
    clean = X.copy()
    clean[:, 0] = 0
    _check_values(rows_from, a, X)
    w = jnp.asarray(RNG.standard_normal((N, N)).astype(np.float32))

    def loss(a, X):
        return jnp.sum(w * mutjax.jit(rows_from)(a, X))

    got = jax.jit(jax.grad(loss, (0, 1)))(a, X)
    expected = jax.jit(jax.grad(loss, (0, 1)))(a, clean)
    for g, e in zip(got, expected):
        assert np.all(np.isfinite(g))
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


def _check_values(kernel, *ops):
    expected = kernel(*[np.array(x) for x in ops])
    got = np.asarray(mutjax.jit(kernel)(*ops))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
