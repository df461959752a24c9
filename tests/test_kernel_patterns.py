"""Patterns of published NumPy kernels that must run unchanged under mutjax.

Each kernel is plain NumPy code. It runs on NumPy arrays (the oracle) and
under ``jax.jit(mutjax.mutable(f))`` ("jit"), ``mutjax.jit(f)`` (its loops
converted: "converted"), ``mutjax.mutable(f, loops=True)`` without ``jit``
("converted-eager") and ``mutjax.mutable(f)`` ("eager"); results and final
arguments must agree in value, shape and dtype, and NumPy's errors are
mutjax's errors.
"""

from __future__ import annotations

import inspect
import warnings

import jax
import numpy as np
import pytest
from helpers import assert_same, canonical, returning_args, split_returned

import mutjax

MODES = ("jit", "converted", "converted-eager", "eager")
# Kernels that make arrays with np.zeros, or take a conditional expression
# on a traced value, need converted code.
CONVERTED = ("converted", "converted-eager", "eager")


def _wrapped(kernel, mode, n_args):
    options = returning_args(n_args)
    if mode == "jit":
        return jax.jit(mutjax.mutable(kernel, **options))
    if mode == "converted":
        return jax.jit(mutjax.mutable(kernel, loops=True, **options))
    if mode == "converted-eager":
        return mutjax.mutable(kernel, loops=True, **options)
    return mutjax.mutable(kernel, **options)


def check(kernel, *args, modes=MODES):
    """``kernel`` on NumPy copies of ``args`` and in every mode: the same results and arguments."""
    np_args = [np.array(a) for a in args]
    expected = canonical((kernel(*np_args), np_args))
    for mode in modes:
        got = _wrapped(kernel, mode, len(args))(*[np.array(a) for a in args])
        assert_same(split_returned(got, len(args), expected[0]), expected, what=mode)


def check_raises(kernel, error, *args, modes=MODES):
    """NumPy raises ``error`` (with its message) and so does every mode."""
    with pytest.raises(error) as np_info:
        kernel(*[np.array(a) for a in args])
    for mode in modes:
        with pytest.raises(error) as info:
            _wrapped(kernel, mode, len(args))(*[np.array(a) for a in args])
        assert str(info.value) == str(np_info.value), mode


# -- transpose with NumPy's signature ------------------------------------------------


def _transpose_axes_keyword(a):
    b = np.transpose(a, axes=(1, 0, 2))
    b[2, 1, 0] = -1.0  # a live view: writes `a`
    c = np.transpose(a[0], axes=None)
    c[0, 0] = -2.0
    return b * 2, c + 1


def _transpose_positional(a):
    b = a[1].transpose((1, 0))
    b[3] = 5.0
    c = a.transpose(2, 0, 1)
    return c.copy(), np.transpose(b, (1, 0))


def _transpose_method_keyword(a):
    return a.transpose(axes=(1, 0, 2))


def test_np_transpose_takes_axes_keyword():
    check(_transpose_axes_keyword, np.arange(24.0, dtype=np.float32).reshape(2, 3, 4))


def test_transpose_method_axes_positional():
    check(_transpose_positional, np.arange(24.0, dtype=np.float32).reshape(2, 3, 4))


def test_transpose_method_refuses_axes_keyword_as_numpy():
    # NumPy's ndarray.transpose takes its axes positionally only.
    a = np.arange(24.0, dtype=np.float32).reshape(2, 3, 4)
    with pytest.raises(TypeError):
        _transpose_method_keyword(a)
    for mode in MODES:
        with pytest.raises(TypeError):
            _wrapped(_transpose_method_keyword, mode, 1)(a)


# -- `a.shape = ...`: NumPy's in-place reshape ---------------------------------------


def _set_shape_base(a):
    a.shape = (3, -1)
    a[1, 2] = 100.0
    b = a[:, 1:3]  # a view of the re-shaped array
    b += 1.0
    return a.sum(axis=0), a[:, 0] * a.shape[0]


def _set_shape_int_and_view(a):
    v = a[2:8]
    v.shape = (2, 3)
    v[1, 0] = -7.0  # writes `a[5]`
    w = a.reshape(3, 4).T  # not C-contiguous; adding length-1 axes needs no copy
    w.shape = (4, 1, 3)
    w[0, 0, 2] = -9.0  # writes `a[8]`
    a.shape = 12
    return v * 1, w * 1


def _set_shape_needs_copy(a):
    t = a.reshape(3, 4).T
    t.shape = (12,)  # NumPy refuses: the transpose is not C-contiguous
    return t


def _set_shape_wrong_size(a):
    a.shape = (5, 2)
    return a


def test_set_shape_reshapes_in_place():
    check(_set_shape_base, np.arange(12.0, dtype=np.float32))


def test_set_shape_on_views_stays_live():
    check(_set_shape_int_and_view, np.arange(12.0, dtype=np.float32))


def test_set_shape_needing_a_copy_raises_numpys_attribute_error():
    check_raises(_set_shape_needs_copy, AttributeError, np.arange(12.0, dtype=np.float32))


def test_set_shape_of_another_size_raises_numpys_value_error():
    check_raises(_set_shape_wrong_size, ValueError, np.arange(12.0, dtype=np.float32))


# -- an index array of run-time length: CSR rows -------------------------------------


def _csr(m, n, density, seed, empty_row=None):
    rng = np.random.default_rng(seed)
    dense = rng.random((m, n)) * (rng.random((m, n)) < density)
    if empty_row is not None:
        dense[empty_row] = 0.0
    rows, cols = np.nonzero(dense)
    indptr = np.zeros(m + 1, np.int32)
    np.cumsum(np.bincount(rows, minlength=m), out=indptr[1:])
    data = dense[rows, cols].astype(np.float32)
    return data, indptr, cols.astype(np.int32), rng.random(n).astype(np.float32)


def _spmv_matmul(A_data, indptr, indices, x):
    y = np.zeros(indptr.size - 1, A_data.dtype)
    for i in range(indptr.size - 1):
        y[i] = A_data[indptr[i] : indptr[i + 1]] @ x[indices[indptr[i] : indptr[i + 1]]]
    return y


def _spmv_forms(A_data, indptr, indices, x):
    y = np.empty((3, indptr.size - 1), A_data.dtype)
    for i in range(indptr.size - 1):
        a, b = indptr[i], indptr[i + 1]
        cols = indices[a:b]
        vals = A_data[a:b]
        y[0, i] = (vals * x[cols]).sum()
        y[1, i] = np.dot(vals, np.take(x, cols))
        y[2, i] = np.take(x, indices=indices[a:b]).sum()
    return y


def _spmm_rows(A_data, indptr, indices, X):
    # y[i] = A[i, :] @ X: the gathered rows of X have a run-time length.
    Y = np.zeros((indptr.size - 1, X.shape[1]), X.dtype)
    for i in range(indptr.size - 1):
        cols = indices[indptr[i] : indptr[i + 1]]
        Y[i] = A_data[indptr[i] : indptr[i + 1]] @ X[cols]
        Y[i] += np.take(X, cols, axis=0).sum(axis=0)
    return Y


def _gather_negative(x, idx, bounds):
    out = np.zeros(bounds.size - 1, x.dtype)
    for i in range(bounds.size - 1):
        out[i] = x[idx[bounds[i] : bounds[i + 1]]].sum()
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_csr_spmv_gathers_through_a_traced_slice(seed):
    check(_spmv_matmul, *_csr(7, 9, 0.4, seed, empty_row=2), modes=CONVERTED)


def test_csr_row_gather_supports_products_sums_and_take():
    check(_spmv_forms, *_csr(6, 8, 0.5, 3, empty_row=0), modes=CONVERTED)


def test_csr_gather_of_matrix_rows():
    data, indptr, indices, _ = _csr(5, 6, 0.5, 4, empty_row=4)
    X = np.random.default_rng(5).random((6, 3)).astype(np.float32)
    check(_spmm_rows, data, indptr, indices, X, modes=CONVERTED)


def test_gather_through_a_traced_slice_takes_negative_indices_as_numpy():
    x = np.arange(10.0, dtype=np.float32) ** 2
    idx = np.array([-1, 3, -10, 0, 9, -4], np.int32)
    check(_gather_negative, x, idx, np.array([0, 2, 2, 5, 6], np.int32), modes=CONVERTED)


# -- conditional expressions on traced values -----------------------------------------


def _ifexp_clamp(x):
    for i in range(x.shape[0]):
        x[i] = x[i] if x[i] < 2 else 0.0
    return x


def _ifexp_mixed(x, t):
    n = x.shape[0]
    for i in range(n):
        # A traced test, a test the loop's range decides, and a static one.
        t[i] = (x[i] * 2 if i % 2 == 0 else -x[i]) + (1 if t[i] > 0.5 else 2)
        x[i] = x[i - 1] if i - 1 >= 0 else x[i] + 10
    scale = 3 if n > 2 else 4
    return x * scale, t


def _writes(x):
    x[0] = 1.0
    return 2.0


def _ifexp_with_side_effect(x):
    for i in range(x.shape[0]):
        x[i] = x[i] if x[i] < 2 else _writes(x)
    return x


def test_conditional_expression_on_traced_value_selects():
    x = np.array([0.5, 3.0, 1.5, 2.0, -1.0, 7.0], np.float32)
    check(_ifexp_clamp, x, modes=CONVERTED)


def test_conditional_expressions_traced_decided_and_static():
    x = np.array([0.5, 3.0, 1.5, 2.0, -1.0, 7.0], np.float32)
    t = np.linspace(0, 1, 6).astype(np.float32)
    check(_ifexp_mixed, x, t, modes=CONVERTED)


def test_conditional_expression_with_side_effect_matches_numpy():
    # A side that writes runs only where it is chosen: its branches are a
    # cond, not a select.
    x = np.array([0.5, 3.0, 1.5], np.float32)
    _numpy_or_mutjax_error(_ifexp_with_side_effect, x)


def _numpy_or_mutjax_error(kernel, *args):
    """NumPy's result in the converted modes, or a mutjax error: never another result."""
    np_args = [np.array(a) for a in args]
    expected = canonical((kernel(*np_args), np_args))
    for mode in ("converted", "converted-eager"):
        try:
            got = _wrapped(kernel, mode, len(args))(*[np.array(a) for a in args])
        except mutjax.MutjaxError:
            continue
        assert_same(split_returned(got, len(args), expected[0]), expected, what=mode)


# -- NumPy's functions with `out` in a loop body are not container mutations ---------


def _ufunc_out_loop(z, c):
    for _ in range(3):
        np.multiply(z, z, z)
        np.add(z, c, z)
    return z


def _set_add_loop(z):
    seen = set()
    for i in range(3):
        seen.add(i)
        z[i] = len(seen)
    return z


def test_numpy_functions_named_like_set_methods_keep_the_loop_compiled():
    z = np.zeros(4, np.float32)
    c = np.linspace(-0.5, 0.3, 4).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", mutjax.LoopConversionWarning)
        check(_ufunc_out_loop, z, c, modes=CONVERTED)


def test_container_mutation_unrolls_the_loop_naming_its_file_line():
    z = np.zeros(4, np.float32)
    line = inspect.getsourcelines(_set_add_loop)[1] + 3  # `seen.add(i)`
    with pytest.warns(mutjax.LoopConversionWarning, match=rf"`\.add\(\.\.\.\)` \(line {line}\)"):
        check(_set_add_loop, z, modes=("converted",))


# -- fixed-width windows indexed with np.newaxis and `...` --------------------------


def _conv2d(x, w):
    K = w.shape[0]
    out = np.empty((x.shape[0], x.shape[1] - K + 1, x.shape[2] - K + 1, w.shape[3]), np.float32)
    for i in range(x.shape[1] - K + 1):
        for j in range(x.shape[2] - K + 1):
            out[:, i, j, :] = np.sum(
                x[:, i : i + K, j : j + K, :, np.newaxis] * w[np.newaxis, :, :, :], axis=(1, 2, 3)
            )
    return out


def _window_views(x):
    out = np.zeros((x.shape[0] - 1, x.shape[1] - 2), np.float32)
    for i in range(x.shape[0] - 1):
        for j in range(x.shape[1] - 2):
            v = x[None, ..., i : i + 2, j : j + 3]  # a live view
            v[0, 1, 0] += 1.0
            out[i, j] = v[0, 0, 2] + v[..., None].sum()
    return out


def test_windows_with_newaxis_stay_compiled():
    rng = np.random.default_rng(6)
    x = rng.random((2, 6, 5, 3)).astype(np.float32)
    w = rng.random((2, 2, 3, 4)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", mutjax.LoopConversionWarning)
        check(_conv2d, x, w, modes=CONVERTED)


def test_window_views_with_newaxis_and_ellipsis_write_through():
    x = np.random.default_rng(7).random((5, 6)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", mutjax.LoopConversionWarning)
        check(_window_views, x, modes=CONVERTED)


def _ifexp_binds_a_row(a, b, t):
    for i in range(t.shape[0]):
        r = a[i] if t[i] > 0 else b[i]  # NumPy: `r` is a view of `a` or of `b`
        r[0] = -1.0
    return a, b


def _ifexp_binds_a_scalar(x, t):
    for i in range(t.shape[0]):
        s = 1.0 if t[i] > 0 else -1.0
        v = x[i] if t[i] > 0 else -x[i]
        x[i] = s * v
    return x


def test_conditional_expression_binding_a_view_writes_where_numpy_does():
    # `r` is a view of `a` or of `b`: the write lands in the chosen one.
    a = np.ones((3, 2), np.float32)
    b = np.zeros((3, 2), np.float32)
    t = np.array([1.0, -1.0, 2.0], np.float32)
    _numpy_or_mutjax_error(_ifexp_binds_a_row, a, b, t)


def test_conditional_expression_binding_scalars_selects():
    x = np.array([0.5, 3.0, 1.5], np.float32)
    t = np.array([1.0, -1.0, 2.0], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", mutjax.LoopConversionWarning)
        check(_ifexp_binds_a_scalar, x, t, modes=("converted", "converted-eager"))
