"""Loops near the edge of what a batched loop may prove give NumPy's results.

Each kernel is plain NumPy code, run on NumPy (the oracle) and under
``jax.jit(mutjax.mutable(kernel, loops=True))``: values, shapes and dtypes
must agree. The kernels attack the proof that a converted loop's iterations
are independent (``mutjax._loops._vectorize``): reversed and strided ranges,
negative indices, reads straddling the own window, reads after the own
write, two arrays reading each other, views aliasing the written array,
masks from the loop index, carried locals, nested loops. Where a kernel's
iterations depend on earlier ones (``CASES``' last column), a program with
no loop left but a batched one is the defect; where they do not, whether it
runs batched does not decide the test. Each runs with the batched size guard
as it is and off (``MAX_GROWTH``): the proof must hold whatever size it allows.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest
from helpers import assert_same, examples, loop_kinds, sampled, split_returned
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import mutjax
from mutjax._loops import _vectorize

N = 7
rng = np.random.default_rng(7)


def _f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def run(kernel, args, static=()):
    """``kernel`` under NumPy and mutjax: (expected, got, batched) for ``args``.

    ``static``: the positions of Python values (offsets) passed through.
    """
    arrays = [k for k in range(len(args)) if k not in static]
    np_args = [a if k in static else np.array(a) for k, a in enumerate(args)]
    expected = (kernel(*np_args), [np_args[k] for k in arrays])
    keywords = {"return_argnums": tuple(arrays)} if arrays else {}
    fun = jax.jit(mutjax.mutable(kernel, loops=True, **keywords), static_argnums=static)
    got = split_returned(fun(*args), len(arrays), expected[0])
    jaxpr = jax.make_jaxpr(mutjax.mutable(kernel, loops=True), static_argnums=static)(*args)
    return expected, got, loop_kinds(jaxpr.jaxpr)


def check(kernel, args, static=(), rtol=1e-5, atol=1e-5):
    expected, got, kinds = run(kernel, args, static)
    assert_same(got, expected, f"{kernel.__name__} (loops: {sorted(kinds)})", rtol, atol)
    return kinds


# -- reversed ranges and negative indices ---------------------------------------------------


def next_forward(y, x):
    for i in range(x.shape[0]):
        y[i] = y[i + 1] + x[i]  # anti-dependence: batched is right


def next_reversed(y, x):
    for i in range(x.shape[0] - 1, -1, -1):
        y[i] = y[i + 1] + x[i]  # i + 1 was written by the previous iteration


def prev_forward(y, x):
    for i in range(1, x.shape[0]):
        y[i] = y[i - 1] + x[i]


def prev_reversed(y, x):
    for i in range(x.shape[0] - 1, 0, -1):
        y[i] = y[i - 1] + x[i]  # i - 1 is written later: anti-dependence


def negative_next(y, x):
    for i in range(x.shape[0] - 1):
        y[-i - 1] = y[-i - 2] + x[i]  # reads what the next iteration writes


def negative_prev(y, x):
    for i in range(x.shape[0] - 1):
        y[-i - 2] = y[-i - 1] + x[i]  # reads what the previous iteration wrote


def mirrored_next(y, x):
    n = x.shape[0]
    for i in range(n - 1):
        y[n - 1 - i] = y[n - 2 - i] + x[i]


def mirrored_prev(y, x):
    n = x.shape[0]
    for i in range(n - 1):
        y[n - 2 - i] = y[n - 1 - i] + x[i]


def wrap_minus_one(y, x):
    for i in range(x.shape[0]):
        y[i] = y[i - 1] + x[i]  # i = 0 reads y[-1], which the last iteration writes


def wrap_write_minus_one(y, x):
    for i in range(x.shape[0]):
        y[i - 1] = y[i] + x[i]  # i = 0 writes y[-1]; the last iteration reads it


def wrap_negative_read(y, x):
    for i in range(1, x.shape[0]):
        y[-i] = y[-i - 1] + x[i]


def reversed_copy(y, x):
    for i in range(x.shape[0]):
        y[-i - 1] = x[i] + y[i]  # the second half reads the first half's writes


def reversed_static_tail(y, x):
    for i in range(x.shape[0] - 1, -1, -1):
        y[i] += y[x.shape[0] - 1]  # the first iteration writes what the others read


def static_tail(y, x):
    for i in range(x.shape[0]):
        y[i] += y[x.shape[0] - 1]  # the last iteration writes it: anti-dependence


def static_head(y, x):
    for i in range(x.shape[0]):
        y[i] += y[1]  # iteration 1 writes what later ones read


# -- strided ranges, two writes per iteration --------------------------------------------------


def stride_two_next(y, x):
    for i in range(0, x.shape[0] - 2, 2):
        y[i] = y[i + 2] + x[i]


def stride_two_prev(y, x):
    for i in range(2, x.shape[0], 2):
        y[i] = y[i - 2] + x[i]


def stride_two_odd_reads(y, x):
    for i in range(1, x.shape[0] - 1, 2):
        y[i] = y[i - 1] + y[i + 1]  # the even positions are never written


def stride_two_pair(y, x):
    for i in range(0, x.shape[0] - 1, 2):
        y[i] = y[i + 1]
        y[i + 1] = y[i] + x[i]  # reads the own write


def stride_two_pair_next(y, x):
    for i in range(0, x.shape[0] - 3, 2):
        y[i] = y[i + 2] * 2.0
        y[i + 1] = y[i + 3] + y[i]


def stride_two_pair_prev(y, x):
    for i in range(2, x.shape[0] - 1, 2):
        y[i] = y[i - 1] * 2.0  # the previous iteration wrote i - 1
        y[i + 1] = y[i] + x[i]


def stride_three_window(y, x):
    for i in range(0, x.shape[0] - 3, 3):
        y[i : i + 2] = y[i + 1 : i + 3] + y[i + 3]


def stride_reversed(y, x):
    for i in range(x.shape[0] - 1, 1, -2):
        y[i] = y[i - 2] + x[i]  # written later: anti-dependence


def stride_reversed_dep(y, x):
    for i in range(x.shape[0] - 3, -1, -2):
        y[i] = y[i + 2] + x[i]  # written by the previous iteration


def double_index(y, x):
    for i in range(x.shape[0] // 2):
        y[2 * i] = y[2 * i + 1] + x[i]
        y[2 * i + 1] = y[2 * i + 2] - x[i]


def double_index_dep(y, x):
    for i in range(1, x.shape[0] // 2):
        y[2 * i] = y[2 * i - 1] + x[i]
        y[2 * i + 1] = y[2 * i] - x[i]


def same_window_twice(y, x):
    for i in range(x.shape[0]):
        y[i] = y[i + 1] + x[i]
        y[i] = y[i] * 2.0 + y[i + 1]


# -- windows straddling the own window -------------------------------------------------------


def straddle_after(y, x):
    for i in range(x.shape[0]):
        y[i] = y[i : i + 2].sum() + x[i]


def straddle_both(y, x):
    for i in range(1, x.shape[0]):
        y[i] = y[i - 1 : i + 2].sum()


def straddle_reversed(y, x):
    for i in range(x.shape[0] - 1, -1, -1):
        y[i] = y[i : i + 2].sum()  # i + 1 was written by the previous iteration


def clamped_tail(y, x):
    for i in range(x.shape[0]):
        y[i] = y[i : i + 3].sum()  # the last windows are shorter


def clamped_head(y, x):
    for i in range(x.shape[0]):
        y[i] = y[i - 1 :].sum()  # y[-1:] at i = 0


def after_own_write(y, z, x):
    for i in range(x.shape[0]):
        y[i] = x[i]
        z[i] = y[i : i + 2].sum()  # sees the own write and the old i + 1


def read_before_write_elsewhere(y, x):
    for i in range(0, x.shape[0] - 1, 2):
        t = y[i + 1]
        y[i] = t + x[i]
        y[i + 1] = y[i] - t


# -- two arrays ------------------------------------------------------------------------------


def cross_next(a, b, x):
    for i in range(x.shape[0]):
        a[i] = b[i + 1] + x[i]
        b[i] = a[i + 1] - x[i]


def cross_prev(a, b, x):
    for i in range(1, x.shape[0]):
        a[i] = b[i - 1] + x[i]  # the previous iteration wrote b[i - 1]
        b[i] = a[i] * 2.0


def cross_shifted(a, b, x):
    for i in range(x.shape[0] - 1):
        a[i + 1] = b[i] + x[i]
        b[i + 1] = a[i] - x[i]


# -- views aliasing the written array ---------------------------------------------------------


def view_write_shifted(y, x):
    z = y[1:]
    for i in range(x.shape[0] - 1):
        z[i] = y[i] + x[i]  # y[i + 1] = y[i] + x[i]: a recurrence


def view_read_shifted(y, x):
    z = y[1:]
    for i in range(x.shape[0] - 1):
        y[i] = z[i] + x[i]  # y[i] = y[i + 1] + x[i]


def view_reversed(y, x):
    z = y[::-1]
    for i in range(x.shape[0]):
        z[i] = y[i] + x[i]  # y[n - 1 - i] = y[i] + x[i]


def view_alias(y, x):
    z = y
    for i in range(1, x.shape[0]):
        z[i] = y[i - 1] + x[i]


def view_in_body(y, z, x):
    for i in range(x.shape[0]):
        v = y[i : i + 2]
        y[i] = x[i]
        z[i] = v.sum()  # the view sees the write


def view_transposed(C):
    D = C.T
    for i in range(C.shape[0]):
        D[i, :] = C[i, :] * 2.0  # writes column i, reads row i


# -- rows, columns, matrices ---------------------------------------------------------------------


def columns_next(C):
    for j in range(C.shape[1] - 1):
        C[:, j] = C[:, j + 1] * 2.0


def columns_prev(C):
    for j in range(1, C.shape[1]):
        C[:, j] = C[:, j - 1] * 2.0


def row_from_column(C):
    for i in range(C.shape[0]):
        C[i, :] = C[:, i] + 1.0


def upper_from_lower(C):
    for i in range(C.shape[0]):
        C[i, i:] = C[i:, i]


def transpose_in_place(C):
    for i in range(C.shape[0]):
        for j in range(C.shape[1]):
            C[i, j] = C[j, i]


def nested_outer_dep(C, A):
    for i in range(1, C.shape[0]):
        for j in range(C.shape[1]):
            C[i, j] = C[i - 1, j] + A[i, j]


def nested_inner_dep(C, A):
    for i in range(C.shape[0]):
        for j in range(1, C.shape[1]):
            C[i, j] = C[i, j - 1] + A[i, j]


def nested_next(C, A):
    for i in range(C.shape[0] - 1):
        for j in range(C.shape[1] - 1):
            C[i, j] = C[i + 1, j + 1] + A[i, j]


def nested_diagonal_dep(C, A):
    for i in range(1, C.shape[0]):
        for j in range(1, C.shape[1]):
            C[i, j] = C[i - 1, j - 1] + A[i, j]


def trmm_in_place(A, B):
    for i in range(B.shape[0]):
        for j in range(B.shape[1]):
            B[i, j] += A[i + 1 :, i] @ B[i + 1 :, j]


def trmm_swapped(A, B):
    for j in range(B.shape[1]):
        for i in range(B.shape[0]):
            B[i, j] += A[i + 1 :, i] @ B[i + 1 :, j]


def trmm_upward(A, B):
    for i in range(B.shape[0]):
        for j in range(B.shape[1]):
            B[i, j] += A[:i, i] @ B[:i, j]  # reads rows written earlier


def trmm_swapped_upward(A, B):
    for j in range(B.shape[1]):
        for i in range(B.shape[0]):
            B[i, j] += A[:i, i] @ B[:i, j]


def trmm_swapped_reversed(A, B):
    for j in range(B.shape[1]):
        for i in range(B.shape[0] - 1, -1, -1):
            B[i, j] += A[i + 1 :, i] @ B[i + 1 :, j]  # rows below were written earlier


# -- masks from the loop index -----------------------------------------------------------------


def mask_after(y):
    n = y.shape[0]
    for i in range(n):
        y[i] = np.where(np.arange(n) > i, y, 0.0).sum()


def mask_before(y):
    n = y.shape[0]
    for i in range(n):
        y[i] = np.where(np.arange(n) < i, y, 0.0).sum()


def mask_after_reversed(y):
    n = y.shape[0]
    for i in range(n - 1, -1, -1):
        y[i] = np.where(np.arange(n) > i, y, 0.0).sum()


def mask_complement_before(y):
    n = y.shape[0]
    for i in range(n):
        y[i] = np.where(np.arange(n) >= i, 0.0, y).sum()  # y where i' < i


def mask_complement_after(y):
    n = y.shape[0]
    for i in range(n):
        y[i] = np.where(np.arange(n) < i, 0.0, y).sum()


def mask_band(y):
    n = y.shape[0]
    ar = np.arange(n)
    for i in range(n):
        y[i] = np.where((ar > i) & (ar < i + 3), y, 0.0).sum()


def mask_band_back(y):
    n = y.shape[0]
    ar = np.arange(n)
    for i in range(n):
        y[i] = np.where((ar >= i - 1) & (ar < i + 2), y, 0.0).sum()


def mask_or(y):
    n = y.shape[0]
    ar = np.arange(n)
    for i in range(n):
        y[i] = np.where((ar > i) | (ar == 0), y, 0.0).sum()


def mask_not(y):
    n = y.shape[0]
    ar = np.arange(n)
    for i in range(n):
        y[i] = np.where(~(ar <= i), y, 0.0).sum()


def mask_flipped(y):
    n = y.shape[0]
    for i in range(n):
        y[i] = np.where(i < np.arange(n), y, 0.0).sum()


def mask_shifted_arange(y):
    n = y.shape[0]
    for i in range(n):
        y[i] = np.where(np.arange(1, n + 1) > i, y, 0.0).sum()  # includes i' = i ... n - 1


def mask_reversed_arange(y):
    n = y.shape[0]
    for i in range(n):
        y[i] = np.where(np.arange(n)[::-1] > i, y, 0.0).sum()


def mask_2d_rows(C):
    n = C.shape[0]
    for i in range(n):
        C[i] = np.where(np.arange(n)[:, None] > i, C, 0.0).sum(axis=0)


def mask_2d_rows_dep(C):
    n = C.shape[0]
    for i in range(n):
        C[i] = np.where(np.arange(n)[:, None] <= i, C, 0.0).sum(axis=0)


def mask_window(y):
    n = y.shape[0]
    for i in range(n - 3):
        w = y[i : i + 3]
        y[i] = np.where(np.arange(3) > 0, w, 0.0).sum()


def mask_window_back(y):
    n = y.shape[0]
    for i in range(1, n - 2):
        w = y[i - 1 : i + 2]
        y[i] = np.where(np.arange(3) < 2, w, 0.0).sum()  # w[0] is y[i - 1]


def mask_write(y, x):
    n = y.shape[0]
    for i in range(n):
        y[np.arange(n) == i] = x[i] + y[(i + 1) % n]


def traced_slice_tail(y):
    for i in range(y.shape[0]):
        y[i] = y[i + 1 :].sum()


def traced_slice_head(y):
    for i in range(y.shape[0]):
        y[i] = y[:i].sum()


def traced_slice_tail_reversed(y):
    for i in range(y.shape[0] - 1, -1, -1):
        y[i] = y[i + 1 :].sum()


# -- accumulations, locals, control flow -------------------------------------------------------


def shared_accumulation(s, y):
    for i in range(y.shape[0]):
        s[0] += y[i]


def carried_counter(y):
    t = 0.0
    for i in range(y.shape[0]):
        t = t + 1.0
        y[i] = t


def carried_previous(y, x):
    t = x[0]
    for i in range(x.shape[0]):
        y[i] = t
        t = x[i]


def last_local(y, x):
    t, i = 0.0, 0
    for i in range(x.shape[0]):
        t = x[i] * 2.0
        y[i] = t + y[i + 1]
    y[-1] = i
    return t


def conditional_local(y, x):
    m = 0.0
    for i in range(x.shape[0]):
        if x[i] > 0:
            m = x[i]
        y[i] = m


def with_break(y, x):
    for i in range(x.shape[0]):
        if i == 3:
            break
        y[i] = y[i + 1] + x[i]


def with_continue(y, x):
    for i in range(x.shape[0]):
        if i % 2 == 1:
            continue
        y[i] = y[i + 1] + x[i]


def with_continue_dep(y, x):
    for i in range(1, x.shape[0]):
        if i % 2 == 1:
            continue
        y[i] = y[i - 1] + x[i]


def if_on_index(y, x):
    for i in range(1, x.shape[0]):
        if i % 2 == 0:
            y[i] = y[i + 1] + x[i]
        else:
            y[i] = y[i - 1] + x[i]  # the other branch reads the previous write


def if_on_data(y, x):
    for i in range(x.shape[0]):
        if x[i] > 0:
            y[i] = y[i + 1] * 2.0
        else:
            y[i] = -y[i + 1]


def if_on_data_dep(y, x):
    for i in range(1, x.shape[0]):
        if x[i] > 0:
            y[i] = y[i - 1] * 2.0


def traced_bound(y, x, k):
    for i in range(k):
        y[i] = y[i + 1] + x[i]


def empty_range(y, x):
    for i in range(3, 3):
        y[i] = y[i + 1] + x[i]


def one_trip(y, x):
    for i in range(1):
        y[i] = y[i + 1] + x[i]


def one_trip_late(y, x):
    for i in range(x.shape[0] - 1, x.shape[0]):
        y[i] = y[i - 1] + x[i]


def negative_start(y, x):
    for i in range(-3, 3):
        y[i] = y[i + 1] + x[i]  # i = 2 reads y[3], which i = -3 wrote (n = 6)


def negative_start_anti(y, x):
    for i in range(-2, 2):
        y[i] = y[i + 1] + x[i]  # n = 6: every read is written later or never


def twice_each(y, x):
    for i in range(-y.shape[0], y.shape[0]):
        y[i] += x[i] + y[i]


def swap_pairs(y, x):
    for i in range(0, x.shape[0] - 1, 2):
        t = y[i : i + 2].copy()
        y[i] = t[1]
        y[i + 1] = t[0]


def swap_pairs_view(y, x):
    for i in range(0, x.shape[0] - 1, 2):
        t = y[i : i + 2]  # a view: the second write reads the first
        y[i] = t[1]
        y[i + 1] = t[0]


def overlapping_writes(y, x):
    for i in range(0, x.shape[0] - 1, 2):
        y[i : i + 2] = x[i]
        y[i + 1] = y[i] + y[i + 2]


def scratch_buffer(y, C):
    tmp = np.zeros(C.shape[1], dtype=C.dtype)
    for i in range(C.shape[0]):
        tmp[:] = C[i] * 2.0
        y[i] = tmp.sum() + tmp[0]


def scratch_carried(y, C):
    tmp = np.zeros(C.shape[1], dtype=C.dtype)
    for i in range(C.shape[0]):
        tmp += C[i]
        y[i] = tmp.sum()


def jacobi(A, B):
    for _t in range(3):
        for i in range(1, A.shape[0] - 1):
            B[i] = (A[i - 1] + A[i] + A[i + 1]) / 3.0
        A, B = B, A


def jacobi_in_place(A, B):
    for _t in range(3):
        for i in range(1, A.shape[0] - 1):
            A[i] = (A[i - 1] + A[i] + A[i + 1]) / 3.0  # Gauss-Seidel: a recurrence


def strided_tail(y):
    for i in range(y.shape[0] // 2):
        y[2 * i] = y[::2][i + 1 :].sum()  # the even positions after 2i: written later


def strided_head(y):
    for i in range(y.shape[0] // 2):
        y[2 * i + 1] = y[1::2][:i].sum()  # the odd positions before: written earlier


def strided_tail_mixed(y):
    for i in range(y.shape[0] // 2):
        y[i] = y[::2][i + 1 :].sum()  # 2i + 2 and on: written later


def strided_head_mixed(y):
    for i in range(1, y.shape[0]):
        y[i] = y[::2][: i // 2 + 1].sum()  # the even positions up to i: earlier


def strided_offset_tail(y):
    for i in range(y.shape[0] - 1):
        y[i] = y[1::3][i:].sum()  # 3i + 1 and on


def strided_shifted_head(y):
    for i in range(2, y.shape[0]):
        y[i] = y[::3][: i - 1].sum()  # positions below 3i - 3, some written earlier


def reversed_tail(y):
    n = y.shape[0]
    for i in range(n):
        y[n - 1 - i] = y[::-1][i + 1 :].sum()  # positions below n - 1 - i: later


def reversed_head(y):
    for i in range(y.shape[0]):
        y[i] = y[::-1][i + 1 :].sum()  # positions up to n - 2 - i, some earlier


def strided_product(A, B):
    for i in range(B.shape[0] // 2):
        B[2 * i, :] = A[i + 1 : B.shape[0] // 2, 0] @ B[::2][i + 1 :, :]


def strided_product_dep(A, B):
    for i in range(B.shape[0] // 2):
        B[2 * i, :] = A[:i, 0] @ B[::2][:i, :]


def trmm_rows(A, B):
    for j in range(B.shape[0]):
        for i in range(B.shape[1]):
            B[j, i] += A[i, i + 1 :] @ B[j, i + 1 :]


def trmm_rows_dep(A, B):
    for j in range(B.shape[0]):
        for i in range(B.shape[1]):
            B[j, i] += A[i, :i] @ B[j, :i]


def diagonal_lower_right(C):
    for i in range(C.shape[0]):
        C[i, i] = C[i + 1 :, i + 1 :].sum()


def diagonal_upper_left(C):
    for i in range(C.shape[0]):
        C[i, i] = C[:i, :i].sum()


def diagonal_off_block(C):
    for i in range(C.shape[0]):
        C[i, i] = C[:i, i + 1 :].sum()  # rows written earlier, but not these columns


def diagonal_off_block_dep(C):
    for i in range(1, C.shape[0]):
        C[i, i] = C[:i, i - 1 :].sum()  # (i - 1, i - 1) was written earlier


def rows_corner(C):
    for i in range(C.shape[0]):
        C[i, :] = C[:i, i:].sum(axis=0).sum() + C[i, :]


def rows_corner_after(C):
    for i in range(C.shape[0] - 1):
        C[i, :] = C[i + 1 :, : i + 1].sum() + C[i, :]


def index_values(h, b, c, u):
    for i in range(h.shape[0] - 1):
        h[i] = i * 0.5 + h[i + 1]
        b[i] = (i % 2 == 0) ^ b[i + 1]
        c[i] = 1j * i + c[i + 1]
        u[i] = u[i + 1] + 200 + i


def own_reversed(y, x):
    for i in range(x.shape[0] - 1, -1, -1):
        y[i] = y[i] * 2.0 + x[i] + i


def own_mirrored(y, x):
    n = x.shape[0]
    for i in range(n):
        y[n - 1 - i] = y[n - 1 - i] * 2.0 + x[i] + i


def blocks_crossed(C, A, B):
    n = C.shape[0]
    for i in range(n):
        for j in range(n):
            C[i, j] = A[n - 1 - j, i] * B[j, n - 1 - i] + C[i, j]


def blocks_strided(y, A):
    for i in range(y.shape[0] // 2):
        y[i] = A[2 * i, 1] + A[-i - 1, 0] + y[i]


def view_of_input(y, x):
    z = x[: y.shape[0]]
    for i in range(3):
        y[i] = z[i:].sum()


def view_of_input_element(y, x):
    z = x[: y.shape[0]]
    for i in range(3):
        y[i] = z[i]


def view_of_input_after(y, x):
    z = x[: y.shape[0]]
    for i in range(3):
        y[i] = z[i + 1]
    y[4] = z[4]  # the view read again outside the loop, in the outer trace


def clamped_broadcast(z, y):
    for i in range(2):
        z[2 * i : 2 * i + 2] = y[i + 7 : i + 9] + 1.0  # y[8:10] is one element, broadcast


def where_write(y, x):
    for i in range(x.shape[0]):
        y[i] = np.where(x[i] > 0, y[i + 1], y[i])


# The kernels' inputs; the last column: whether running it batched is a defect
# ("dependent": each iteration reads what an earlier one wrote).
V = _f32(N + 2)
X = _f32(N)
C = _f32(N, N)
A = _f32(N, N)

CASES = [
    (next_forward, (V, X), False),
    (next_reversed, (V, X), True),
    (prev_forward, (V, X), True),
    (prev_reversed, (V, X), False),
    (negative_next, (V, X), False),
    (negative_prev, (V, X), True),
    (mirrored_next, (V, X), False),
    (mirrored_prev, (V, X), True),
    (wrap_minus_one, (V[:N], X), True),
    (wrap_write_minus_one, (V[:N], X), True),
    (wrap_negative_read, (V[:N], X), False),
    (reversed_copy, (V[:N], X), True),
    (reversed_static_tail, (V[:N], X), True),
    (static_tail, (V[:N], X), False),
    (static_head, (V[:N], X), True),
    (stride_two_next, (V, X), False),
    (stride_two_prev, (V, X), True),
    (stride_two_odd_reads, (V, X), False),
    (stride_two_pair, (V, X), False),
    (stride_two_pair_next, (V, X), False),
    (stride_two_pair_prev, (V, X), True),
    (stride_three_window, (V, X), False),
    (stride_reversed, (V, X), False),
    (stride_reversed_dep, (V, X), True),
    (double_index, (_f32(2 * N + 2), X), False),
    (double_index_dep, (_f32(2 * N + 2), X), True),
    (same_window_twice, (V, X), False),
    (straddle_after, (V, X), False),
    (straddle_both, (V, X), True),
    (straddle_reversed, (V, X), True),
    (clamped_tail, (V[:N], X), False),
    (clamped_head, (V[:N], X), True),
    (after_own_write, (V, _f32(N + 2), X), False),
    (read_before_write_elsewhere, (V, X), False),
    (cross_next, (V, _f32(N + 2), X), False),
    (cross_prev, (V, _f32(N + 2), X), True),
    (cross_shifted, (V, _f32(N + 2), X), True),
    (view_write_shifted, (V[:N], X), True),
    (view_read_shifted, (V[:N], X), False),
    (view_reversed, (V[:N], X), True),
    (view_alias, (V[:N], X), True),
    (view_in_body, (V, _f32(N + 2), X), False),
    (view_transposed, (C,), False),
    (columns_next, (C,), False),
    (columns_prev, (C,), True),
    (row_from_column, (C,), True),
    (upper_from_lower, (C,), False),
    (transpose_in_place, (C,), True),
    (nested_outer_dep, (C, A), True),
    (nested_inner_dep, (C, A), True),
    (nested_next, (C, A), False),
    (nested_diagonal_dep, (C, A), True),
    (trmm_in_place, (A, C), True),
    (trmm_swapped, (A, C), False),
    (trmm_upward, (A, C), True),
    (trmm_swapped_upward, (A, C), True),
    (trmm_swapped_reversed, (A, C), True),
    (mask_after, (V[:N],), False),
    (mask_before, (V[:N],), True),
    (mask_after_reversed, (V[:N],), True),
    (mask_complement_before, (V[:N],), True),
    (mask_complement_after, (V[:N],), False),
    (mask_band, (V[:N],), False),
    (mask_band_back, (V[:N],), True),
    (mask_or, (V[:N],), True),
    (mask_not, (V[:N],), False),
    (mask_flipped, (V[:N],), False),
    (mask_shifted_arange, (V[:N],), False),
    (mask_reversed_arange, (V[:N],), True),
    (mask_2d_rows, (C,), False),
    (mask_2d_rows_dep, (C,), True),
    (mask_window, (V[:N],), False),
    (mask_window_back, (V[:N],), True),
    (mask_write, (V[:N], X), True),
    (traced_slice_tail, (V[:N],), False),
    (traced_slice_head, (V[:N],), True),
    (traced_slice_tail_reversed, (V[:N],), True),
    (shared_accumulation, (_f32(1), X), True),
    (carried_counter, (V[:N],), True),
    (carried_previous, (V[:N], X), True),
    (last_local, (V, X), False),
    (conditional_local, (V[:N], X), True),
    (with_break, (V, X), False),
    (with_continue, (V, X), False),
    (with_continue_dep, (V, X), True),
    (if_on_index, (V, X), True),
    (if_on_data, (V, X), False),
    (if_on_data_dep, (V, X), True),
    (empty_range, (V, X), False),
    (one_trip, (V, X), False),
    (one_trip_late, (V[:N], X), False),
    (where_write, (V, X), False),
    (clamped_broadcast, (_f32(4), _f32(9)), False),
    (view_of_input, (_f32(5), _f32(9)), False),
    (own_reversed, (V, X), False),
    (own_mirrored, (V[:N], X), False),
    (blocks_crossed, (C, A, _f32(N, N)), False),
    (blocks_strided, (V, _f32(2 * N + 4, 2)), False),
    (
        index_values,
        (
            np.ones(N + 1, np.float16),
            V > 0,
            np.ones(N + 1, np.complex64),
            np.arange(N + 1, dtype=np.uint8) * 40,
        ),
        False,
    ),
    (trmm_rows, (A, C), False),
    (trmm_rows_dep, (A, C), True),
    (diagonal_lower_right, (C,), False),
    (diagonal_upper_left, (C,), True),
    (diagonal_off_block, (C,), False),
    (diagonal_off_block_dep, (C,), True),
    (rows_corner, (C,), True),
    (rows_corner_after, (C,), False),
    (strided_tail, (_f32(10),), False),
    (strided_head, (_f32(10),), True),
    (strided_tail_mixed, (_f32(10),), False),
    (strided_head_mixed, (_f32(10),), True),
    (strided_offset_tail, (_f32(10),), False),
    (strided_shifted_head, (_f32(12),), True),
    (reversed_tail, (_f32(8),), False),
    (reversed_head, (_f32(8),), True),
    (strided_product, (A, _f32(2 * N, 3)), False),
    (strided_product_dep, (A, _f32(2 * N, 3)), True),
    (negative_start, (_f32(6), X), True),
    (negative_start_anti, (_f32(6), X), False),
    (twice_each, (V[:N], X), True),
    (swap_pairs, (V, X), False),
    (swap_pairs_view, (V, X), False),
    (overlapping_writes, (V, X), False),
    (scratch_buffer, (V[:N], C), False),
    (scratch_carried, (V[:N], C), True),
    (jacobi, (V[:N], _f32(N)), False),
    (jacobi_in_place, (V[:N], _f32(N)), True),
    (view_of_input_element, (_f32(5), _f32(9)), False),
    (view_of_input_after, (_f32(5), _f32(9)), False),
]


def _dtyped(args, dtype):
    return tuple((a * 3).astype(dtype) if a.dtype == np.float32 else a for a in args)


@pytest.fixture(params=["guarded", "unguarded"])
def guard(request, monkeypatch):
    """The batched size guard as it is, or off: the proof must hold whatever size it allows."""
    if request.param == "unguarded":
        monkeypatch.setattr(_vectorize, "MAX_GROWTH", 10**9)
    return request.param


@sampled("kernel, args, dependent", CASES, every=8, ids=lambda c: c[0].__name__)
def test_matches_numpy(kernel, args, dependent, guard):
    kinds = check(kernel, args)
    if dependent and "batched" in kinds:
        # some loop's iterations depend on earlier ones: it must stay a loop
        # (an inner loop around it may run batched)
        assert kinds & {"while", "scan"}, f"{kernel.__name__}: dependent, yet all batched"


ELEMENTWISE = [
    next_forward,
    next_reversed,
    prev_forward,
    prev_reversed,
    negative_next,
    negative_prev,
    stride_two_pair,
    cross_next,
    cross_prev,
]


@pytest.mark.parametrize("dtype", [np.int32, np.complex64, np.int8, np.uint8, np.float16])
@pytest.mark.parametrize("kernel", ELEMENTWISE, ids=[k.__name__ for k in ELEMENTWISE])
def test_dtypes(kernel, dtype):
    case = next(c for c in CASES if c[0] is kernel)
    check(kernel, _dtyped(case[1], dtype), rtol=1e-2, atol=1e-2)


def bool_next(y, x):
    for i in range(x.shape[0]):
        y[i] = y[i + 1] ^ x[i]


def bool_prev(y, x):
    for i in range(1, x.shape[0]):
        y[i] = y[i - 1] ^ x[i]


@pytest.mark.parametrize("kernel", [bool_next, bool_prev])
def test_bool(kernel):
    check(kernel, (V > 0, X > 0))


def test_traced_bound():
    check(traced_bound, (V, X, np.int32(4)))


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("kernel", [next_forward, prev_forward, next_reversed, prev_reversed])
def test_short(kernel, n):
    check(kernel, (_f32(n + 1), _f32(n)))


# -- random affine loops ------------------------------------------------------------------------


def affine_element(y, x, p):
    aw, bw, ar, br, start, stop, step = p
    for i in range(start, stop, step):
        y[aw * i + bw] = y[ar * i + br] + x[i]


def affine_own(y, x, p):
    aw, bw, ar, br, start, stop, step = p
    for i in range(start, stop, step):
        y[aw * i + bw] = y[ar * i + br] * 2.0 + y[aw * i + bw]


def affine_two_writes(y, x, p):
    aw, bw, ar, br, start, stop, step = p
    for i in range(start, stop, step):
        y[aw * i + bw] = y[ar * i + br] + x[i]
        y[aw * i + bw + 1] = y[aw * i + bw] - y[ar * i + br + 1]


def affine_window(y, x, p):
    aw, bw, ar, br, start, stop, step = p
    for i in range(start, stop, step):
        y[aw * i + bw] = y[ar * i + br : ar * i + br + 3].sum() + x[i]


def affine_slice_write(y, x, p):
    aw, bw, ar, br, start, stop, step = p
    for i in range(start, stop, step):
        y[aw * i + bw : aw * i + bw + 2] = y[ar * i + br : ar * i + br + 2] * 2.0 + x[i]


def affine_mask_from(y, x, p):
    aw, bw, ar, br, start, stop, step = p
    ar_ = np.arange(y.shape[0])
    for i in range(start, stop, step):
        y[aw * i + bw] = np.where(ar_ >= ar * i + br, y, 0.0).sum()


def affine_mask_below(y, x, p):
    aw, bw, ar, br, start, stop, step = p
    ar_ = np.arange(y.shape[0])
    for i in range(start, stop, step):
        y[aw * i + bw] = np.where(ar_ < ar * i + br, y, 0.0).sum() + x[i]


def affine_mask_not_from(y, x, p):
    aw, bw, ar, br, start, stop, step = p
    ar_ = np.arange(y.shape[0])
    for i in range(start, stop, step):
        y[aw * i + bw] = np.where(ar_ >= ar * i + br, 0.0, y).sum() + x[i]


def affine_traced_tail(y, x, p):
    aw, bw, ar, br, start, stop, step = p
    for i in range(start, stop, step):
        y[aw * i + bw] = y[ar * i + br :].sum() + x[i]


def affine_columns(C, x, p):
    aw, bw, ar, br, start, stop, step = p
    for i in range(start, stop, step):
        C[:, aw * i + bw] = C[:, ar * i + br] * 2.0 + x[i]


def affine_cross(y, x, p):
    aw, bw, ar, br, start, stop, step = p
    for i in range(start, stop, step):
        y[aw * i + bw] = x[ar * i + br] + 1.0
        x[ar * i + br] = y[ar * i + br] * 2.0


def affine_window_mask(y, x, p):
    aw, bw, ar, br, start, stop, step = p
    for i in range(start, stop, step):
        w = y[ar * i + br : ar * i + br + 3]
        # the window's positions from the written one on (relative to its start)
        y[aw * i + bw] = np.where(np.arange(3) >= (aw - ar) * i + bw - br, w, 0.0).sum() + x[i]


def affine_window_mask_below(y, x, p):
    aw, bw, ar, br, start, stop, step = p
    for i in range(start, stop, step):
        w = y[ar * i + br : ar * i + br + 3]
        y[aw * i + bw] = np.where(np.arange(3) < (aw - ar) * i + bw - br + 1, w, 0.0).sum()


def affine_mask_band(y, x, p):
    aw, bw, ar, br, start, stop, step = p
    ar_ = np.arange(y.shape[0])
    for i in range(start, stop, step):
        band = (ar_ >= ar * i + br) & (ar_ < ar * i + br + 3)
        y[aw * i + bw] = np.where(band, y, 0.0).sum() + x[i]


def affine_head(y, x, p):
    aw, bw, ar, br, start, stop, step = p
    for i in range(start, stop, step):
        y[aw * i + bw] = y[: ar * i + br].sum() + x[i]


def affine_two_bounds(y, x, p):
    aw, bw, ar, br, start, stop, step = p
    for i in range(start, stop, step):
        y[aw * i + bw] = y[ar * i + br : aw * i + bw].sum() + x[i]


def affine_tail_dot(y, x, p):
    aw, bw, ar, br, start, stop, step = p
    z = x[: y.shape[0]] * 1.0  # a view of x is its own case (view_of_input)
    for i in range(start, stop, step):
        y[aw * i + bw] = y[ar * i + br :] @ z[ar * i + br :]


def affine_rows_product(C, x, p):
    aw, bw, ar, br, start, stop, step = p
    A = x[: C.shape[0] * C.shape[0]].reshape(C.shape[0], C.shape[0]) * 1.0
    for i in range(start, stop, step):
        C[aw * i + bw, :] = A[ar * i + br :, 0] @ C[ar * i + br :, :]


def affine_columns_product(C, x, p):
    aw, bw, ar, br, start, stop, step = p
    v = x[: C.shape[1]] * 1.0
    for i in range(start, stop, step):
        C[:, aw * i + bw] = C[:, ar * i + br :] @ v[ar * i + br :] + C[:, aw * i + bw]


def affine_rows_tail(C, x, p):
    aw, bw, ar, br, start, stop, step = p
    for i in range(start, stop, step):
        C[aw * i + bw, :] = C[ar * i + br :, :].sum(axis=0) + x[i]


def affine_column_tail(C, x, p):
    aw, bw, ar, br, start, stop, step = p
    for i in range(start, stop, step):
        C[aw * i + bw, 1] = C[ar * i + br :, 1].sum() + C[aw * i + bw, 0]


def affine_nested_next(C, x, p):
    aw, bw, ar, br, start, stop, step = p
    for i in range(start, stop, step):
        for j in range(C.shape[1] - 1):
            C[aw * i + bw, j] = C[ar * i + br, j + 1] + C[aw * i + bw, j] * 2.0


def affine_nested_prev(C, x, p):
    aw, bw, ar, br, start, stop, step = p
    for i in range(start, stop, step):
        for j in range(1, C.shape[1]):
            C[aw * i + bw, j] = C[ar * i + br, j - 1] - x[j]


def affine_nested_swapped(C, x, p):
    aw, bw, ar, br, start, stop, step = p
    for j in range(C.shape[1]):
        for i in range(start, stop, step):
            C[aw * i + bw, j] = C[ar * i + br, (j + 1) % C.shape[1]] + x[i]


AFFINE = [
    affine_nested_next,
    affine_nested_prev,
    affine_nested_swapped,
    affine_head,
    affine_two_bounds,
    affine_tail_dot,
    affine_rows_product,
    affine_columns_product,
    affine_rows_tail,
    affine_column_tail,
    affine_window_mask,
    affine_window_mask_below,
    affine_mask_band,
    affine_element,
    affine_own,
    affine_two_writes,
    affine_window,
    affine_slice_write,
    affine_mask_from,
    affine_mask_below,
    affine_mask_not_from,
    affine_traced_tail,
    affine_columns,
    affine_cross,
]

M = 9  # the arrays' length in the random loops


# The kernels whose read offset starts a slice, which NumPy clamps at either end.
SLICED = {
    affine_head,
    affine_two_bounds,
    affine_tail_dot,
    affine_rows_product,
    affine_columns_product,
    affine_rows_tail,
    affine_column_tail,
    affine_traced_tail,
}
# Those of (M, 3) and (3, M) arrays.
ROWS = {
    affine_rows_product,
    affine_rows_tail,
    affine_column_tail,
    affine_nested_next,
    affine_nested_prev,
    affine_nested_swapped,
}
COLUMNS = {affine_columns, affine_columns_product}


def _offset(draw, a, idx, extra, slack=0):
    """An offset ``b`` keeping ``a*i + b`` .. ``a*i + b + extra`` inside for every ``i``.

    ``slack``: how far a slice's start may lie outside.
    """
    low = -M - slack - min(a * i for i in idx)
    high = M + slack - extra - max(a * i for i in idx)
    assume(low <= high)
    return draw(st.integers(low, high))


@st.composite
def affine_loops(draw):
    kernel = draw(st.sampled_from(AFFINE))
    step = draw(st.sampled_from([-3, -2, -1, 1, 2, 3]))
    start = draw(st.integers(-3, M - 1))
    count = draw(st.integers(1, 5))
    idx = [i for i in range(start, start + step * count, step) if -M <= i < M]
    assume(idx)
    stop = idx[-1] + step
    # every element index NumPy would take stays inside (negative ones wrap)
    extra = 2 if kernel is affine_two_writes else 1
    aw = draw(st.sampled_from([-2, -1, 1, 2, 3]))
    ar = draw(st.sampled_from([-2, -1, 0, 1, 2]))
    bw = _offset(draw, aw, idx, extra)
    br = _offset(draw, ar, idx, extra, 2 if kernel in SLICED else 0)
    return kernel, (aw, bw, ar, br, start, stop, step)


@pytest.mark.parametrize("growth", [_vectorize.MAX_GROWTH, 10**9], ids=["guarded", "unguarded"])
@settings(max_examples=examples(40), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(loop=affine_loops(), seed=st.integers(0, 2**31 - 1))
def test_random_affine(loop, seed, growth, monkeypatch):
    monkeypatch.setattr(_vectorize, "MAX_GROWTH", growth)
    kernel, p = loop
    r = np.random.default_rng(seed)
    shape = (3, M) if kernel in COLUMNS else (M, 3) if kernel in ROWS else (M,)
    y = r.integers(-4, 5, shape).astype(np.float32)
    # a long x: masked copies of y per iteration stay within the batched size guard
    x = r.integers(-4, 5, 10 * M).astype(np.float32)
    try:
        np_y = y.copy()
        kernel(np_y, x.copy(), p)
    except (IndexError, ValueError):  # not a NumPy program: nothing to compare
        assume(False)
    check(kernel, (y, x, p), static=(2,))
