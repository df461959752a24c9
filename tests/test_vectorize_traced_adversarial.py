"""Inner loops over a traced range near the edge of what a batched loop may prove give NumPy's results.

Each kernel is plain NumPy code with an inner loop whose range depends on an
outer loop's index (``range(i, n)``, ``range(k + 1, m)``, ``range(0, i)``,
``range(n - i)``, ``range(i // 2, n)``), run on NumPy (the oracle) and under
``jax.jit(mutjax.mutable(kernel, loops=True))`` and ``mutjax.jit``: values,
shapes and dtypes must agree. The kernels sit just beside what the proof of
independence (``mutjax._loops._vectorize``) accepts: reads one past the
range's start, reads of a column an earlier or later iteration writes, reads
of the transposed element, two windows per iteration, rows that move with the
index, reads through views, carried locals, traced ``if``, other steps,
empty ranges, integer, bool and complex data, ``inf`` and ``nan`` where
masked lanes compute, and the loop inside a called function.

``DEPENDENT`` kernels carry a value from one iteration of the inner loop to
a later one; a program of theirs without a ``while`` loop is the defect even
where the data happen to agree. Every kernel's program is recorded as batched
or not (``BATCHED``, ``LOOPS``), so the file shows both paths run. Float
kernels' derivatives through the batched loop equal those of the sequential
loop (the proof switched off).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_same, count_whiles, examples, loop_kinds, sampled
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import mutjax
from benchmarks.loop_kernels.variants import lu_loops  # LU as published, its upper loop batched
from mutjax._loops import _vectorize

rng = np.random.default_rng(11)


def _f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


# -- the kernels ------------------------------------------------------------------------------
# Each takes arrays, mutates them and returns them (a tuple for several).


def reads_the_start(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n):
            A[i, j] -= A[i, :i].sum()  # columns before the start: no iteration writes them
    return A


def reads_one_past_the_start(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n):
            A[i, j] -= A[i, : i + 1].sum()  # column i: the first iteration writes it
    return A


def reads_the_left_neighbour(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n):
            A[i, j] = A[i, j - 1] * 0.5 + A[i, j]  # written by the previous iteration
    return A


def reads_the_right_neighbour(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n - 1):
            A[i, j] = A[i, j + 1] * 0.5 + A[i, j]  # written by the next one: anti-dependence
    return A


def reads_the_transposed(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n):
            A[i, j] = A[j, i] + 1.0  # below the diagonal: no iteration writes it
    return A


def reads_the_transposed_strictly(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            A[i, j] = A[j, i] + 1.0
    return A


def writes_the_column(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n):
            A[j, i] = A[i, j] + 1.0  # column i written, row i read: they meet at A[i, i] only
    return A


def writes_the_column_reading_the_corner(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n):
            A[j, i] = A[i, i] * 2.0 + A[j, i]  # iteration i writes the corner the others read
    return A


def writes_two_windows(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n):
            A[i, j] = 1.0 + A[i, j]
            A[j, i] = 2.0 + A[j, i]  # j = i: both at the corner
    return A


def writes_through_a_row_view(A):
    n = A.shape[0]
    for i in range(n):
        r = A[i]
        for j in range(i, n):
            r[j] = r[j] * 2.0 + r[:i].sum()
    return A


def writes_through_a_row_view_reading_past(A):
    n = A.shape[0]
    for i in range(n):
        r = A[i]
        for j in range(i, n):
            r[j] = r[j] * 2.0 + r[: i + 1].sum()
    return A


def reads_a_view_where_the_last_iteration_wrote(A):
    n = A.shape[0]
    for i in range(n):
        r = A[i]  # a view: r[j - 1] sees the previous iteration's write
        for j in range(i + 1, n):
            A[i, j] = r[j - 1] + 1.0
    return A


def reads_a_view_prefix_the_loop_wrote(A):
    n = A.shape[0]
    for i in range(n):
        r = A[i]
        for j in range(i, n):
            A[i, j] = r[:j].sum() + 1.0
    return A


def carries_a_sum(A):
    n = A.shape[0]
    for i in range(n):
        s = 0.0
        for j in range(i, n):
            s += A[i, j]
            A[i, j] = s
    return A


def keeps_the_last_index(A, out):
    n = A.shape[0]
    for i in range(n):
        last = -1
        for j in range(i, n):
            A[i, j] = A[i, j] * 2.0
            last = j
        out[i] = last
    return A, out


def keeps_the_last_read(A, out):
    n = A.shape[0]
    for i in range(n):
        v = 0.0
        for j in range(i, n):
            v = A[i, j] * 2.0
            A[i, j] = v + 1.0
        out[i] = v
    return A, out


def keeps_the_next_read(A, out):
    n = A.shape[0]
    for i in range(n):
        v = 0.0
        for j in range(i, n - 1):
            A[i, j] = A[i, j] + 1.0
            v = A[i, j + 1]
        out[i] = v
    return A, out


def negates_where_positive(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n):
            if A[i, j] > 0:
                A[i, j] = -A[i, j] + A[i, :i].sum()
    return A


def negates_where_the_neighbour_is_positive(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            if A[i, j - 1] > 0:
                A[i, j] = -A[i, j - 1]
    return A


def steps_down(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(n - 1, i - 1, -1):
            A[i, j] = A[i, j] + A[i, :i].sum()
    return A


def steps_down_reading_the_right(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(n - 2, i - 1, -1):
            A[i, j] = A[i, j] + A[i, j + 1]  # written by the previous (larger) j
    return A


def an_empty_range(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, i):
            A[i, j] = 9.0
    return A


def steps_by_two(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n, 2):
            A[i, j] = A[i, j] + A[i, :i].sum()
    return A


def steps_by_two_reading_two_back(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i + 2, n, 2):
            A[i, j] = A[i, j] + A[i, j - 2]
    return A


def gram_columns(A, R):
    m, n = A.shape
    for k in range(n):
        for j in range(k + 1, n):
            R[k, j] = A[:, k] @ A[:, j]
            A[:, j] -= A[:, k] * R[k, j]
    return A, R


def gram_columns_reading_the_previous(A, R):
    m, n = A.shape
    for k in range(n):
        for j in range(k + 1, n):
            R[k, j] = A[:, j - 1] @ A[:, j]
            A[:, j] -= A[:, j - 1] * R[k, j]
    return A, R


def scales_past_the_pivot(A, b):
    m = A.shape[1]
    for k in range(A.shape[0]):
        for j in range(k + 1, m):
            A[k, j] = A[k, j] / A[k, k] + b[j]
    return A


def sums_past_the_pivot(A):
    m = A.shape[1]
    for k in range(A.shape[0]):
        for j in range(k + 1, m):
            A[k, j] = A[k, j] + A[k, k + 1 :].sum()  # columns the earlier iterations wrote
    return A


def sums_up_to_the_first_column(A):
    m = A.shape[1]
    for k in range(A.shape[0]):
        for j in range(k + 1, m):
            A[k, j] = A[k, j] + A[k, : k + 2].sum()  # column k + 1: the first iteration's
    return A


def runs_n_minus_i(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(n - i):
            A[i, j] = A[i, j] + A[i, n - i - 1]  # the last iteration writes it: anti-dependence
    return A


def runs_n_minus_i_reading_the_tail(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(n - i):
            A[i, j] = A[i, j] + A[i, n - i :].sum()
    return A


def starts_at_half(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i // 2, n):
            A[i, j] = A[i, j] + A[i, : i // 2].sum()
    return A


def starts_at_half_reading_past(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i // 2, n):
            A[i, j] = A[i, j] + A[i, : i // 2 + 1].sum()
    return A


def starts_before_zero(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i - 1, n):  # j = -1 at i = 0 writes the last column, as j = n - 1 does
            A[i, j] = A[i, j] * 2.0 + 1.0
    return A


def stops_at_i(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(0, i):
            A[i, j] = A[i, j] + A[i, i:].sum()
    return A


def stops_at_i_reading_the_last(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(0, i):
            A[i, j] = A[i, j] + A[i, i - 1]  # the last iteration writes it
    return A


def stops_at_i_reading_the_first(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(0, i):
            A[i, j] = A[i, j] + A[i, 0]  # the first iteration writes it
    return A


def stops_at_a_minimum(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, min(i + 2, n)):
            A[i, j] = A[i, j] + A[i, :i].sum()
    return A


def updates_its_own_element_twice(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n):
            A[i, j] += 1.0
            A[i, j] *= 2.0
            A[i, j] -= A[i, j] * 0.25
    return A


def reads_the_diagonal_writes_the_row(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n):
            A[i, j] = A[i, j] + A[i, i]  # j = i writes A[i, i]
    return A


def writes_the_diagonal(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n):
            A[j, j] = A[j, j] + A[i, j]  # the row read is written only at (i, i), by j = i
    return A


def writes_the_diagonal_reading_the_corner(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n):
            A[j, j] = A[j, j] + A[i, i]  # j = i writes the corner the others read
    return A


def writes_the_next_column(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n - 1):
            A[i, j + 1] = A[i, j] + 1.0  # reads what the previous iteration wrote
    return A


def writes_the_previous_column(A):
    n = A.shape[0]
    for i in range(1, n):
        for j in range(i, n):
            A[i, j - 1] = A[i, j] + 1.0  # reads what the next iteration writes
    return A


def sums_the_suffix(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n):
            A[i, j] = A[i, j] + A[i, j:].sum()
    return A


def sums_from_the_start(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n):
            A[i, j] = A[i, j] + A[i, i:j].sum()  # the earlier iterations' columns
    return A


def sums_the_prefix(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n):
            A[i, j] = A[i, j] + A[i, :j].sum()
    return A


def sums_the_suffix_of_the_column(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n):
            A[j, i] = A[j:, i].sum() + A[j, :i].sum()
    return A


def reads_the_row_above(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n):
            A[j, i] = A[j - 1, i] + A[j, i]  # the previous iteration's row
    return A


def updates_whole_columns(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n):
            A[:, j] = A[:, j] * 0.5 + A[:, i]  # j = i writes column i, the others read it
    return A


def updates_whole_columns_from_the_left(A):
    n = A.shape[0]
    for i in range(1, n):
        for j in range(i, n):
            A[:, j] = A[:, j] * 0.5 + A[:, i - 1]
    return A


def writes_column_pairs(A):
    n = A.shape[1]
    for i in range(n // 2):
        for j in range(i, n // 2):
            A[:, 2 * j] = A[:, 2 * j + 1] + 1.0
            A[:, 2 * j + 1] = A[:, 2 * j] * 3.0
    return A


def writes_column_pairs_reading_the_last_pair(A):
    n = A.shape[1]
    for i in range(n // 2):
        for j in range(i + 1, n // 2):
            A[:, 2 * j] = A[:, 2 * j - 1] + 1.0
            A[:, 2 * j + 1] = A[:, 2 * j] * 3.0
    return A


def writes_two_wide_windows(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n - 1):
            A[i, j : j + 2] = A[i, j : j + 2] + 1.0  # overlapping windows: a recurrence
    return A


def crosses_two_arrays(A, B):
    n = A.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            A[i, j] = B[i, j - 1] + 1.0  # B's previous column, written by the last iteration
            B[i, j] = A[i, j] * 2.0
    return A, B


def crosses_two_arrays_forward(A, B):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n - 1):
            A[i, j] = B[i, j + 1] + 1.0
            B[i, j] = A[i, j] * 2.0
    return A, B


def adds_to_a_vector(x, y):
    n = x.shape[0]
    for i in range(n):
        for j in range(i, n):
            x[j] = x[j] + y[i]
    return x


def adds_the_start_element(x):
    n = x.shape[0]
    for i in range(n):
        for j in range(i, n):
            x[j] = x[j] + x[i]  # j = i doubles it, the others read the double
    return x


def adds_the_start_element_strictly(x):
    n = x.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            x[j] = x[j] + x[i]
    return x


def adds_the_element_before_the_start(x):
    n = x.shape[0]
    for i in range(1, n):
        for j in range(i, n):
            x[j] = x[j] + x[i - 1]
    return x


def adds_the_mirrored_element(x):
    n = x.shape[0]
    for i in range(n):
        for j in range(i, n):
            x[j] = x[j] + x[n - 1 - j]  # past the middle it is an earlier iteration's
    return x


def adds_both_sides(x):
    n = x.shape[0]
    for i in range(n):
        for j in range(i, n):
            x[j] = x[j] + x[:i].sum() + x[j + 1 :].sum()
    return x


def adds_both_sides_and_the_previous(x):
    n = x.shape[0]
    for i in range(n):
        for j in range(i, n):
            x[j] = x[j] + x[:i].sum() + x[j - 1 :].sum()
    return x


def updates_int8(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n):
            A[i, j] = A[i, j] * 3 + A[i, :i].sum(dtype=A.dtype)  # wraps, as NumPy's does
    return A


def updates_int32(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n):
            A[i, j] = A[i, j] * 3 - A[i, :i].sum() + A[j, i]
    return A


def toggles_bools(B):
    n = B.shape[0]
    for i in range(n):
        for j in range(i, n):
            B[i, j] = B[i, j] ^ B[j, i]  # B[i, i] ^ B[i, i] at j = i; below it no one writes
    return B


def toggles_bools_strictly(B):
    n = B.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            B[i, j] = B[i, j] ^ B[i, :i].any()
    return B


def rotates_complex(C):
    n = C.shape[0]
    for i in range(n):
        for j in range(i, n):
            C[i, j] = C[i, j] * 1j + C[i, :i].sum()
    return C


def rotates_complex_reading_the_left(C):
    n = C.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            C[i, j] = C[i, j] * 1j + C[i, j - 1]
    return C


def _upper_row(A, i):
    for j in range(i, A.shape[0]):
        A[i, j] -= A[i, :i] @ A[:i, j]


def calls_a_function_with_the_loop(A):
    for i in range(A.shape[0]):
        _upper_row(A, i)
    return A


def _shift_row(A, i):
    for j in range(i + 1, A.shape[0]):
        A[i, j] += A[i, j - 1]


def calls_a_function_with_a_recurrence(A):
    for i in range(A.shape[0]):
        _shift_row(A, i)
    return A


def nests_three_deep(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n):
            for k in range(j, n):
                A[j, k] = A[j, k] + A[i, i]
    return A


def nests_three_deep_independently(A, B):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n):
            for k in range(j, n):
                A[j, k] = A[j, k] + B[i, k]
    return A


def lu_upper_reading_past(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i):
            A[i, j] -= A[i, :j] @ A[:j, j]
            A[i, j] /= A[j, j]
        for j in range(i, n):
            A[i, j] -= A[i, : i + 1] @ A[: i + 1, j]  # A[i, i] of the first iteration
    return A


def multiplies_past_non_finite(C, A, B):
    n = C.shape[0]
    for i in range(n):
        for j in range(i, n):
            C[i, j] = A[i, :i] @ B[:i, j]  # inf and nan only where the slices end
    return C


def writes_through_the_transpose(A):
    n = A.shape[0]
    T = A.T
    for i in range(n):
        for j in range(i, n):
            T[j, i] = A[i, j] * 2.0 + A[i, :i].sum()
    return A


def writes_through_the_transpose_reading_the_left(A):
    n = A.shape[0]
    T = A.T
    for i in range(n):
        for j in range(i + 1, n):
            T[j, i] = A[i, j - 1] * 2.0
    return A


def writes_through_a_reversed_view(A):
    n = A.shape[0]
    R = A[:, ::-1]
    for i in range(n):
        for j in range(i, n):
            R[i, j] = R[i, j] + A[i, n - 1 - j]  # its own element, seen twice
    return A


def writes_through_a_reversed_view_reading_the_last(A):
    n = A.shape[0]
    R = A[:, ::-1]
    for i in range(n):
        for j in range(i + 1, n):
            R[i, j] = R[i, j] + A[i, n - j]  # R[i, j - 1]: the previous iteration's
    return A


def writes_through_a_shifted_view(A):
    n = A.shape[0]
    S = A[:, 1:]
    for i in range(n):
        for j in range(i, n - 1):
            S[i, j] = A[i, j] + 1.0  # A[i, j] is S[i, j - 1]: the previous iteration's
    return A


def writes_through_a_shifted_view_reading_ahead(A):
    n = A.shape[0]
    S = A[:, 1:]
    for i in range(n):
        for j in range(i, n - 2):
            S[i, j] = A[i, j + 2] + 1.0
    return A


def keeps_a_local_that_changes_type(A, out):
    n = A.shape[0]
    for i in range(n):
        v = 0
        for j in range(i, n):
            v = A[i, j]
            A[i, j] = v * 2.0
        out[i] = v
    return A, out


def runs_the_outer_loop_backwards(A):
    n = A.shape[0]
    for i in range(n - 1, -1, -1):
        for j in range(i, n):
            A[i, j] = A[i, j] + A[i + 1 :, j].sum()  # rows the earlier outer iterations wrote
    return A


def breaks_out_of_the_outer_loop(A):
    n = A.shape[0]
    for i in range(n):
        if A[i, i] > 1.0:
            break
        for j in range(i, n):
            A[i, j] = A[i, j] + A[i, :i].sum()
    return A


def runs_in_a_while_loop(A):
    n = A.shape[0]
    i = 0
    while i < n:
        for j in range(i, n):
            A[i, j] = A[i, j] + A[i, :i].sum()
        i += 1
    return A


def stops_three_on(A):
    n = A.shape[0]
    for i in range(n - 2):
        for j in range(i, i + 3):
            A[i, j] = A[i, j] + A[i, :i].sum()
    return A


def stops_three_on_reading_the_start(A):
    n = A.shape[0]
    for i in range(n - 2):
        for j in range(i, i + 3):
            A[i, j] = A[i, j] + A[i, i]
    return A


def starts_at_a_middle_index(A):
    n = A.shape[0]
    for i in range(n):
        for k in range(n):
            for j in range(k, n):
                A[i, j] = A[i, j] + A[i, :k].sum() * 0.1
    return A


def starts_at_the_outer_index_writing_a_middle_row(A):
    n = A.shape[0]
    for i in range(n):
        for k in range(n):
            for j in range(i, n):
                A[k, j] = A[k, j] + A[k, :k].sum() * 0.1  # k < j: a column written before
    return A


def starts_at_a_maximum(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(max(i - 1, 0), n):
            A[i, j] = A[i, j] + A[i, : max(i - 1, 0)].sum()
    return A


def sums_up_to_twice_the_start(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n):
            A[i, j] = A[i, j] + A[i, : 2 * i].sum()  # columns i..2i-1: earlier iterations'
    return A


def adds_row_i_to_the_rows_below(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n):
            A[j, :] = A[j, :] + A[i, :]  # j = i doubles row i, the later ones read it
    return A


def subtracts_row_i_from_the_rows_below(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            A[j, :] = A[j, :] - A[i, :] * 0.5
    return A


def writes_mirrored_positions(x, y):
    n = x.shape[0]
    for i in range(n):
        for j in range(i, n):
            x[n - 1 - j] = x[n - 1 - j] * 2.0 + y[i]  # one block, written backwards
    return x


def writes_mirrored_positions_reading_the_last(x, y):
    n = x.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            x[n - 1 - j] = x[n - j] + y[i]  # the previous iteration's position
    return x


def writes_mirrored_positions_reading_the_next(x, y):
    n = x.shape[0]
    for i in range(n):
        for j in range(i, n - 1):
            x[n - 1 - j] = x[n - 2 - j] + y[i]  # the next iteration's position
    return x


def writes_even_positions(x, y):
    n = x.shape[0]
    for i in range(n // 2):
        for j in range(i, n // 2):
            x[2 * j] = x[2 * j] + x[2 * j + 1] + y[i]  # a scatter, its masked lanes dropped
    return x


def writes_even_positions_reading_the_last(x, y):
    n = x.shape[0]
    for i in range(n // 2):
        for j in range(i + 1, n // 2):
            x[2 * j] = x[2 * j - 2] + y[i]
    return x


def writes_a_row_that_moves(A, y):
    n = A.shape[1]
    for i in range(n):
        for j in range(i, n):
            r = j % 2
            A[r, j] = A[r, j] * 2.0 + y[i]
    return A


def writes_a_row_that_moves_reading_the_last(A, y):
    n = A.shape[1]
    for i in range(n):
        for j in range(i + 1, n):
            r = j % 2
            A[r, j] = A[1 - r, j - 1] + y[i]
    return A


def writes_a_column_upwards(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n):
            A[n - 1 - j, i] = A[n - 1 - j, i] + A[:i, i].sum()  # rows that j >= n - i writes
    return A


def writes_a_column_upwards_reading_its_first(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n):
            A[n - 1 - j, i] = A[n - 1 - j, i] + A[n - 1 - i, i]
    return A


def runs_a_loop_inside(A, B):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n):
            s = 0.0
            for q in range(j):  # a loop of its own, over B only
                s += B[q, j]
            A[i, j] = s + A[i, :i].sum()
    return A


def runs_a_loop_inside_over_the_written_row(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n):
            s = 0.0
            for q in range(j):
                s += A[i, q]  # columns the earlier iterations wrote
            A[i, j] = s
    return A


def updates_its_element_in_a_static_loop(A, B):
    n = A.shape[0]
    for i in range(n):
        for j in range(i, n):
            for q in range(3):
                A[i, j] += B[q, j] * A[i, j]
    return A


def updates_in_a_static_loop_from_the_left(A, B):
    n = A.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            for q in range(3):
                A[i, j] += B[q, j] * A[i, j - 1]
    return A


def writes_rows_in_a_static_loop(C, A, B):
    n = C.shape[0]
    for i in range(n):
        for j in range(i, n):
            for q in range(C.shape[1]):
                C[j, q] = A[i, q] * B[j, q] + C[j, q]
    return C


def writes_rows_in_a_static_loop_from_the_row_above(C, A, B):
    n = C.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            for q in range(C.shape[1]):
                C[j, q] = C[j - 1, q] * B[j, q] + A[i, q]
    return C


def writes_rows_in_a_static_loop_from_row_i(C, A, B):
    n = C.shape[0]
    for i in range(n):
        for j in range(i, n):
            for q in range(C.shape[1]):
                C[j, q] = C[i, q] * B[j, q] + A[i, q]  # j = i rewrites row i first
    return C


def writes_rows_in_a_recurrence_along_them(C, A, B):
    n = C.shape[0]
    for i in range(n):
        for j in range(i, n):
            for q in range(1, C.shape[1]):
                C[j, q] = C[j, q - 1] * B[j, q] + A[i, q]  # along the row only
    return C


def sums_each_suffix(x, y):
    n = x.shape[0]
    for i in range(n):
        s = 0.0
        for j in range(i, n):  # a carried sum: a loop, inside an outer loop that may batch
            s += x[j]
        y[i] = s
    return y


def fills_a_fresh_array_per_row(x, y):
    n = x.shape[0]
    for i in range(n):
        t = np.zeros(n, dtype=x.dtype)
        for j in range(i, n):
            t[j] = x[j] * (i + 1) + t[:i].sum()
        y[i] = t.sum()
    return y


def fills_a_fresh_array_by_a_recurrence(x, y):
    n = x.shape[0]
    for i in range(n):
        t = np.ones(n, dtype=x.dtype)
        for j in range(i + 1, n):
            t[j] = t[j - 1] * x[j]
        y[i] = t.sum()
    return y


def updates_a_copy_of_the_row(A, y):
    n = A.shape[0]
    for i in range(n):
        t = A[i].copy()
        for j in range(i, n):
            t[j] = t[j] * 2.0 + t[:i].sum()
        y[i] = t.sum()
    return y


def updates_a_copy_of_the_row_up_to_i(A, y):
    n = A.shape[0]
    for i in range(n):
        t = A[i].copy()
        for j in range(0, i):
            t[j] = t[j] * 2.0 + t[i:].sum()
        y[i] = t.sum() + t[0]
    return y


# -- what each kernel takes ---------------------------------------------------------------------


def _square(n):
    return (_f32(n, n),)


def _dominant(n):
    # LU without pivoting: a dominant diagonal keeps NumPy and float32 close
    return ((rng.random((n, n)) + n * np.eye(n)).astype(np.float32),)


def _with_vector(n):
    return (_f32(n, n), np.zeros(n, np.float32))


def _two_squares(n):
    return (_f32(n, n), _f32(n, n))


def _gram(n):
    return (_f32(n + 1, n), np.zeros((n, n), np.float32))


def _pivot(n):
    return ((_f32(n, n) + 4 * np.eye(n)).astype(np.float32), _f32(n))


def _vector(n):
    return (_f32(n),)


def _two_vectors(n):
    return (_f32(n), _f32(n))


def _wide(n):
    return (_f32(3, 2 * n),)


def _int8(n):
    return (rng.integers(-100, 100, (n, n)).astype(np.int8),)


def _int32(n):
    return (rng.integers(-1000, 1000, (n, n)).astype(np.int32),)


def _bools(n):
    return (rng.random((n, n)) > 0.5,)


def _complex(n):
    return ((_f32(n, n) + 1j * _f32(n, n)).astype(np.complex64),)


def _non_finite_below(n):
    # masked lanes compute where the loop never runs: inf/nan there must stay out
    A = _f32(n, n)
    A[np.tril_indices(n, -1)] = np.inf
    A[n - 1, 0] = np.nan
    return (A,)


def _one_wider(n):
    # the view A[:, 1:] keeps n columns (a traced index into an empty axis is refused)
    return (_f32(n, n + 1),)


def _products_past_non_finite(n):
    A, B = _f32(n, n), _f32(n, n)
    A[np.triu_indices(n, 0)] = np.inf  # A[i, i:], past A[i, :i]
    B[np.tril_indices(n, 0)] = np.nan  # B[j:, j], past B[:i, j] for j >= i
    return (np.zeros((n, n), np.float32), A, B)


def _long_vectors(n):
    return (_f32(2 * n), _f32(2 * n))


def _two_rows(n):
    return (_f32(2, n), _f32(n))


def _three_rows(n):
    return (_f32(n, n), _f32(3, n))


def _three_tall(n):
    return (_f32(n, 4), _f32(n, 4), _f32(n, 4))


def _vector_and_out(n):
    return (_f32(n), np.zeros(n, np.float32))


# kernel, its arguments at size n, whether the inner loop carries a value from
# one iteration to a later one (then it must stay a loop)
CASES = [
    (reads_the_start, _square, False),
    (reads_one_past_the_start, _square, True),
    (reads_the_left_neighbour, _square, True),
    (reads_the_right_neighbour, _square, False),
    (reads_the_transposed, _square, False),
    (reads_the_transposed_strictly, _square, False),
    (writes_the_column, _square, False),
    (writes_the_column_reading_the_corner, _square, True),
    (writes_two_windows, _square, False),
    (writes_through_a_row_view, _square, False),
    (writes_through_a_row_view_reading_past, _square, True),
    (reads_a_view_where_the_last_iteration_wrote, _square, True),
    (reads_a_view_prefix_the_loop_wrote, _square, True),
    (carries_a_sum, _square, True),
    (keeps_the_last_index, lambda n: (_f32(n, n), np.zeros(n, np.int32)), False),
    (keeps_the_last_read, _with_vector, False),
    (keeps_the_next_read, _with_vector, False),
    (negates_where_positive, _square, False),
    (negates_where_the_neighbour_is_positive, _square, True),
    (steps_down, _square, False),
    (steps_down_reading_the_right, _square, True),
    (an_empty_range, _square, False),
    (steps_by_two, _square, False),
    (steps_by_two_reading_two_back, _square, True),
    (gram_columns, _gram, False),
    (gram_columns_reading_the_previous, _gram, True),
    (scales_past_the_pivot, _pivot, False),
    (sums_past_the_pivot, _square, True),
    (sums_up_to_the_first_column, _square, True),
    (runs_n_minus_i, _square, False),
    (runs_n_minus_i_reading_the_tail, _square, False),
    (starts_at_half, _square, False),
    (starts_at_half_reading_past, _square, True),
    (starts_before_zero, _square, True),
    (stops_at_i, _square, False),
    (stops_at_i_reading_the_last, _square, False),
    (stops_at_i_reading_the_first, _square, True),
    (stops_at_a_minimum, _square, False),
    (updates_its_own_element_twice, _square, False),
    (reads_the_diagonal_writes_the_row, _square, True),
    (writes_the_diagonal, _square, False),
    (writes_the_diagonal_reading_the_corner, _square, True),
    (writes_the_next_column, _square, True),
    (writes_the_previous_column, _square, False),
    (sums_the_suffix, _square, False),
    (sums_from_the_start, _square, True),
    (sums_the_prefix, _square, True),
    (sums_the_suffix_of_the_column, _square, False),
    (reads_the_row_above, _square, True),
    (updates_whole_columns, _square, True),
    (updates_whole_columns_from_the_left, _square, False),
    (writes_column_pairs, _wide, False),
    (writes_column_pairs_reading_the_last_pair, _wide, True),
    (writes_two_wide_windows, _square, True),
    (crosses_two_arrays, _two_squares, True),
    (crosses_two_arrays_forward, _two_squares, False),
    (adds_to_a_vector, _two_vectors, False),
    (adds_the_start_element, _vector, True),
    (adds_the_start_element_strictly, _vector, False),
    (adds_the_element_before_the_start, _vector, False),
    (adds_the_mirrored_element, _vector, True),
    (adds_both_sides, _vector, False),
    (adds_both_sides_and_the_previous, _vector, True),
    (updates_int8, _int8, False),
    (updates_int32, _int32, False),
    (toggles_bools, _bools, False),
    (toggles_bools_strictly, _bools, False),
    (rotates_complex, _complex, False),
    (rotates_complex_reading_the_left, _complex, True),
    (reads_the_start, _non_finite_below, False),
    (calls_a_function_with_the_loop, _dominant, False),
    (calls_a_function_with_a_recurrence, _square, True),
    (nests_three_deep, _square, True),
    (nests_three_deep_independently, _two_squares, False),
    (lu_loops, _dominant, False),
    (lu_upper_reading_past, _dominant, True),
    (multiplies_past_non_finite, _products_past_non_finite, False),
    (writes_through_the_transpose, _square, False),
    (writes_through_the_transpose_reading_the_left, _square, True),
    (writes_through_a_reversed_view, _square, False),
    (writes_through_a_reversed_view_reading_the_last, _square, True),
    (writes_through_a_shifted_view, _one_wider, True),
    (writes_through_a_shifted_view_reading_ahead, _one_wider, False),
    (keeps_a_local_that_changes_type, _with_vector, False),
    (runs_the_outer_loop_backwards, _square, False),
    (breaks_out_of_the_outer_loop, _square, False),
    (runs_in_a_while_loop, _square, False),
    (stops_three_on, _square, False),
    (stops_three_on_reading_the_start, _square, True),
    (starts_at_a_middle_index, _square, False),
    (starts_at_the_outer_index_writing_a_middle_row, _square, True),
    (starts_at_a_maximum, _square, False),
    (sums_up_to_twice_the_start, _square, True),
    (adds_row_i_to_the_rows_below, _square, True),
    (subtracts_row_i_from_the_rows_below, _square, False),
    (writes_mirrored_positions, _long_vectors, False),
    (writes_mirrored_positions_reading_the_last, _long_vectors, True),
    (writes_mirrored_positions_reading_the_next, _long_vectors, False),
    (writes_even_positions, _long_vectors, False),
    (writes_even_positions_reading_the_last, _long_vectors, True),
    (writes_a_row_that_moves, _two_rows, False),
    (writes_a_row_that_moves_reading_the_last, _two_rows, True),
    (writes_a_column_upwards, _square, True),
    (writes_a_column_upwards_reading_its_first, _square, True),
    (runs_a_loop_inside, _two_squares, False),
    (runs_a_loop_inside_over_the_written_row, _square, True),
    (updates_its_element_in_a_static_loop, _three_rows, False),
    (updates_in_a_static_loop_from_the_left, _three_rows, True),
    (writes_rows_in_a_static_loop, _three_tall, False),
    (writes_rows_in_a_static_loop_from_the_row_above, _three_tall, True),
    (writes_rows_in_a_static_loop_from_row_i, _three_tall, True),
    (writes_rows_in_a_recurrence_along_them, _three_tall, False),
    (sums_each_suffix, _vector_and_out, True),
    (fills_a_fresh_array_per_row, _vector_and_out, False),
    (fills_a_fresh_array_by_a_recurrence, _vector_and_out, True),
    (updates_a_copy_of_the_row, _with_vector, False),
    (updates_a_copy_of_the_row_up_to_i, _with_vector, False),
]

# Loops that stay loops whatever the inner loop over a traced range does (LU's
# `for j in range(i)`, each iteration reading the one before).
OTHER_LOOPS = {"lu_loops": 1, "lu_upper_reading_past": 1}

# The kernels found batched at n = 5 and those kept loops (filled as the tests run).
BATCHED: set[str] = set()
LOOPS: set[str] = set()


def _name(case):
    kernel, make, _ = case
    return kernel.__name__ + ("_non_finite" if make is _non_finite_below else "")


def run(kernel, args):
    """NumPy's result and mutjax's under both entry points; the program's loops."""
    expected = kernel(*[np.array(a) for a in args])
    via_mutable = jax.jit(mutjax.mutable(kernel, loops=True))(*args)
    via_jit = mutjax.jit(kernel)(*args)
    jaxpr = jax.make_jaxpr(mutjax.jit(kernel))(*args).jaxpr
    return expected, via_mutable, via_jit, loop_kinds(jaxpr), count_whiles(jaxpr)


def check(kernel, args, rtol=1e-4, atol=1e-4, what=""):
    expected, via_mutable, via_jit, kinds, whiles = run(kernel, args)
    what = f"{kernel.__name__}{what} (loops: {sorted(kinds)})"
    assert_same(via_mutable, expected, "jax.jit(mutable) " + what, rtol, atol)
    assert_same(via_jit, expected, "mutjax.jit " + what, rtol, atol)
    return kinds, whiles


def _tolerance(args):
    # int8 and int32 wrap identically; float32 sums differ in the last bits
    return (0, 0) if all(np.asarray(a).dtype.kind in "biu" for a in args) else (1e-4, 1e-4)


# int8 kernels wrap on purpose (NumPy warns when it does)
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("n", [5])
@sampled("case", CASES, every=8, ids=_name)
def test_kernel_matches_numpy(case, n):
    kernel, make, dependent = case
    args = make(n)
    kinds, whiles = check(kernel, args, *_tolerance(args), what=f" n={n}")
    if n == 5:
        other = OTHER_LOOPS.get(kernel.__name__, 0)
        (BATCHED if whiles == other and "batched" in kinds else LOOPS).add(_name(case))
        if dependent:
            # five iterations at least for some outer index: a real recurrence
            assert whiles > other, f"{kernel.__name__}: a dependent loop without a loop"


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("case", CASES, ids=_name)
def test_kernel_matches_numpy_at_more_sizes(case, n):
    kernel, make, _ = case
    args = make(n)
    check(kernel, args, *_tolerance(args), what=f" n={n}")


def test_both_paths_are_exercised():
    """The kernels above run both ways: batched and as loops (at n = 5)."""
    if len(BATCHED | LOOPS) < len(CASES):  # this test ran alone: classify here
        for case in CASES:
            kernel, make, _ = case
            jaxpr = jax.make_jaxpr(mutjax.jit(kernel))(*make(5)).jaxpr
            other = OTHER_LOOPS.get(kernel.__name__, 0)
            batched = count_whiles(jaxpr) == other and "batched" in loop_kinds(jaxpr)
            (BATCHED if batched else LOOPS).add(_name(case))
    dependent = {_name(c) for c in CASES if c[2]}
    assert not BATCHED & dependent, sorted(BATCHED & dependent)
    # at least these run batched: the proof's own examples and their mirrors
    assert {
        "reads_the_start",
        "reads_the_right_neighbour",
        "writes_the_previous_column",
        "sums_the_suffix",
        "lu_loops",
        "calls_a_function_with_the_loop",
        "reads_the_start_non_finite",
    } <= BATCHED, sorted(BATCHED)
    assert len(LOOPS) >= len(dependent)


VMAPPED = [
    "reads_the_start",
    "keeps_the_last_read",
    "stops_at_a_minimum",
    "writes_even_positions",
    "writes_mirrored_positions",
    "lu_loops",
    "fills_a_fresh_array_per_row",
]


@pytest.mark.parametrize("case", [c for c in CASES if c[0].__name__ in VMAPPED], ids=_name)
def test_vmap_over_batched_kernels_matches_numpy_per_element(case):
    kernel, make, _ = case
    batch = [make(5) for _ in range(3)]
    stacked = [np.stack(a) for a in zip(*batch)]
    expected = [kernel(*[np.array(a) for a in args]) for args in batch]
    expected = jax.tree_util.tree_map(lambda *xs: np.stack(xs), *expected)
    for how, f in [
        ("vmap", jax.vmap(mutjax.jit(kernel))),
        ("jit_vmap", jax.jit(jax.vmap(mutjax.mutable(kernel, loops=True)))),
    ]:
        assert_same(f(*stacked), expected, f"{kernel.__name__} {how}", 1e-4, 1e-4)


# -- derivatives: the batched loop's equal the sequential loop's ---------------------------------


def _grads(kernel, args, weights):
    """The gradient of a weighted sum of ``kernel``'s results, jitted before it is differentiated."""
    f = jax.jit(mutjax.mutable(kernel, loops=True))
    f(*args)  # traced without differentiation: the batched loop, then differentiated

    def loss(*a):
        out = f(*a)
        outs = out if isinstance(out, tuple) else (out,)
        return sum(jnp.sum(w * o) for w, o in zip(weights, outs) if o.dtype.kind in "fc")

    floats = tuple(k for k, a in enumerate(args) if np.asarray(a).dtype.kind == "f")
    return jax.grad(loss, floats)(*args)


# Loops with no reverse mode either way: a start without a static interval
# (`i // 2`) or a `break` leaves a while loop of unknown length.
NO_REVERSE_MODE = {"starts_at_half", "starts_at_half_reading_past", "breaks_out_of_the_outer_loop"}
FLOAT_CASES = [
    c
    for c in CASES
    if c[1] not in (_int8, _int32, _bools, _complex, _non_finite_below)
    and c[0] is not an_empty_range
    and c[0].__name__ not in NO_REVERSE_MODE
]
# Some that run batched at n = 5, in the default run; all the others in the slow one.
QUICK_GRADS = {
    "reads_the_start",
    "reads_the_right_neighbour",
    "keeps_the_last_read",
    "writes_the_previous_column",
    "sums_the_suffix_of_the_column",
    "writes_column_pairs",
    "crosses_two_arrays_forward",
}


def _grad_check(case, monkeypatch, n=5):
    """The batched loop's gradient equals the sequential one's; whether it ran batched."""
    kernel, make, _ = case
    args = tuple(jnp.asarray(a) for a in make(n))
    jaxpr = jax.make_jaxpr(mutjax.jit(kernel))(*args).jaxpr
    other = OTHER_LOOPS.get(kernel.__name__, 0)
    batched = count_whiles(jaxpr) == other and "batched" in loop_kinds(jaxpr)
    out = kernel(*[np.array(a) for a in args])
    outs = out if isinstance(out, tuple) else (out,)
    weights = [jnp.asarray(_f32(*np.shape(o))) for o in outs]
    got = _grads(kernel, args, weights)
    with monkeypatch.context() as m:
        m.setattr(_vectorize, "_plan", lambda *a: None)  # every loop sequential
        expected = _grads(kernel, args, weights)
    assert_same(got, expected, kernel.__name__, rtol=1e-3, atol=1e-3)
    return batched


@pytest.mark.parametrize(
    "case", [c for c in FLOAT_CASES if c[0].__name__ in QUICK_GRADS], ids=_name
)
def test_grad_equals_the_sequential_loops(case, monkeypatch):
    assert _grad_check(case, monkeypatch), "the batched path was not taken"


@pytest.mark.slow
@pytest.mark.parametrize(
    "case", [c for c in FLOAT_CASES if c[0].__name__ not in QUICK_GRADS], ids=_name
)
def test_grad_equals_the_sequential_loops_everywhere(case, monkeypatch):
    _grad_check(case, monkeypatch)


def test_grad_through_a_traced_range_kept_a_loop_inside_a_batched_outer_loop(monkeypatch):
    # The inner loop carries `s`: a loop of traced length, differentiable
    # after jit. The outer loop's iterations are independent, but batched,
    # the inner loop's derivative could not be transposed (JAX batches its
    # masking cond into a select of stop_gradient-ed tangents): the outer
    # loop stays a loop, and the gradient is the sequential program's.
    x = jnp.arange(1.0, 6.0, dtype=jnp.float32)
    y = jnp.zeros(5, jnp.float32)
    kinds, whiles = check(sums_each_suffix, (x, y))
    assert "batched" not in kinds and whiles == 1  # the inner loop; the outer a scan
    w = [jnp.asarray(_f32(5))]
    with monkeypatch.context() as m:
        m.setattr(_vectorize, "_plan", lambda *a: None)
        expected = _grads(sums_each_suffix, (x, y), w)
    got = _grads(sums_each_suffix, (x, y), w)
    assert_same(got, expected, "sums_each_suffix", rtol=1e-5, atol=1e-5)


def test_grad_through_a_batched_traced_range_inside_a_batched_outer_loop(monkeypatch):
    # The inner loop over range(i, n) is batched; batching the outer loop
    # too would batch the inner one's bounds (see the test above): it stays a loop.
    x = jnp.arange(1.0, 4.0, dtype=jnp.float32)
    y = jnp.zeros(3, jnp.float32)
    kinds, whiles = check(fills_a_fresh_array_per_row, (x, y))
    assert "batched" in kinds and "scan" in kinds and whiles == 0
    w = [jnp.asarray(np.array([0.5, -1.0, 2.0], np.float32))]
    with monkeypatch.context() as m:
        m.setattr(_vectorize, "_plan", lambda *a: None)
        expected = _grads(fills_a_fresh_array_per_row, (x, y), w)
    got = _grads(fills_a_fresh_array_per_row, (x, y), w)
    assert_same(got, expected, "fills_a_fresh_array_per_row", rtol=1e-5, atol=1e-5)


def test_grad_where_masked_lanes_would_take_a_negative_root(monkeypatch):
    # x[0] < 0 and the loop runs from 1: a lane computing its own index there takes sqrt(-1)
    def roots_from_one(x, y):
        n = x.shape[0]
        for i in range(1, n):
            for j in range(i, n):
                x[j] = np.sqrt(x[j]) + y[i]
        return x

    x = jnp.asarray(np.array([-4.0, 1.0, 2.0, 3.0, 4.0], np.float32))
    y = jnp.asarray(np.array([0.5, 0.25, 1.0, 2.0, 0.75], np.float32))
    kinds, whiles = check(roots_from_one, (x, y))
    assert whiles == 0 and "batched" in kinds
    w = [jnp.asarray(_f32(5))]
    got = _grads(roots_from_one, (x, y), w)
    assert all(bool(jnp.all(jnp.isfinite(g[1:]))) for g in got)
    with monkeypatch.context() as m:
        m.setattr(_vectorize, "_plan", lambda *a: None)
        expected = _grads(roots_from_one, (x, y), w)
    assert_same(got, expected, "roots_from_one", rtol=1e-4, atol=1e-4)


# -- drawn kernels --------------------------------------------------------------------------------


READS = ["none", "row", "column", "prefix", "suffix", "corner", "transposed"]
WRITES = ["row", "column", "both"]


def _drawn(read, d, write, stop_less, guard):
    """An inner loop over ``range(i, n - stop_less)`` writing row/column ``i`` at ``j``.

    ``read``: what else each iteration reads, ``d`` an offset from ``j``
    (``A[i, j + d]``, ``A[j + d, i]``) or from ``i`` (``A[i, :i + d]``).
    ``guard``: the write only where the value read is positive.
    """

    def kernel(A):
        n = A.shape[0]
        for i in range(n):
            for j in range(i, n - stop_less):
                if read == "row":
                    v = A[i, j + d]
                elif read == "column":
                    v = A[j + d, i]
                elif read == "prefix":
                    v = A[i, : i + d].sum()
                elif read == "suffix":
                    v = A[i, j + d :].sum()
                elif read == "corner":
                    v = A[i + d, i + d]
                elif read == "transposed":
                    v = A[j, i]
                else:
                    v = 1.0
                if write == "row" or write == "both":
                    if guard:
                        if v > 0:
                            A[i, j] = A[i, j] * 0.5 + v
                    else:
                        A[i, j] = A[i, j] * 0.5 + v
                if write == "column" or write == "both":
                    A[j, i] = A[j, i] - v * 0.25
        return A

    kernel.__name__ = f"drawn_{read}_{d}_{write}_{stop_less}_{guard}"
    return kernel


def _drawn_valid(read, d, n, stop_less):
    # the reads stay inside the array (a negative offset wraps, as in NumPy)
    last_j = n - stop_less - 1
    if read in ("row", "column"):
        return last_j + d < n and -n <= d
    if read == "corner":
        return n - 1 + d < n and -n <= d
    return True


@st.composite
def drawn_cases(draw):
    n = draw(st.integers(1, 6))
    stop_less = draw(st.integers(0, 2))
    read = draw(st.sampled_from(READS))
    d = draw(st.integers(-2, 2))
    if not _drawn_valid(read, d, n, stop_less):
        d = 0 if read != "corner" else -1
    write = draw(st.sampled_from(WRITES))
    guard = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    return n, stop_less, read, d, write, guard, seed


def _drawn_check(n, stop_less, read, d, write, guard, seed):
    kernel = _drawn(read, d, write, stop_less, guard)
    A = np.random.default_rng(seed).standard_normal((n, n)).astype(np.float32)
    return check(kernel, (A,), what=f" n={n} seed={seed}")


@settings(max_examples=examples(8), deadline=None)
@given(drawn_cases())
def test_drawn_kernels_match_numpy(case):
    _drawn_check(*case)


@pytest.mark.slow
@settings(max_examples=examples(80), deadline=None)
@given(drawn_cases())
def test_drawn_kernels_match_numpy_long(case):
    _drawn_check(*case)


def test_drawn_kernels_run_both_ways():
    """The family drawn above holds batched kernels and loops (a fixed sample)."""
    seen = set()
    for read, d, write in [
        ("prefix", 0, "row"),
        ("row", 1, "row"),
        ("row", -1, "row"),
        ("prefix", 1, "row"),
    ]:
        kinds, whiles = check(_drawn(read, d, write, 1, False), (_f32(5, 5),))
        seen.add(whiles == 0 and "batched" in kinds)
    assert seen == {True, False}


# -- generated kernels: ranges, reads and writes drawn together -----------------------------------


RANGES = ["from_i", "from_i_less", "past_i", "to_i", "n_minus_i", "window"]
READ_AT = [
    "row_near_j",
    "column_near_j",
    "row_prefix",
    "row_suffix",
    "row_near_i",
    "diagonal_j",
    "corner",
    "mirrored",
    "other",
]
WRITE_AT = ["row", "column", "mirrored", "diagonal"]


def _generated(shape, first, reads, writes):
    """An inner loop over ``shape`` (one of ``RANGES``, ``first`` its offset) reading
    ``reads`` (pairs of ``READ_AT`` and an offset) and writing ``writes`` (``WRITE_AT``)."""

    def kernel(A, B):
        n = A.shape[0]
        for i in range(n):
            if shape == "from_i":
                lo, hi = i, n
            elif shape == "from_i_less":
                lo, hi = i, n - first
            elif shape == "past_i":
                lo, hi = i + first, n
            elif shape == "to_i":
                lo, hi = first, i
            elif shape == "n_minus_i":
                lo, hi = 0, n - i
            else:
                lo, hi = i, min(i + first + 1, n)
            for j in range(lo, hi):
                v = B[i, j] * 0.5
                for what, d in reads:
                    if what == "row_near_j":
                        v = v + A[i, j + d]
                    elif what == "column_near_j":
                        v = v + A[j + d, i]
                    elif what == "row_prefix":
                        v = v + A[i, : i + d].sum()
                    elif what == "row_suffix":
                        v = v + A[i, j + d :].sum()
                    elif what == "row_near_i":
                        v = v + A[i, i + d]
                    elif what == "diagonal_j":
                        v = v + A[j, j]
                    elif what == "corner":
                        v = v + A[i + d, i + d]
                    elif what == "mirrored":
                        v = v + A[i, n - 1 - j]
                    else:
                        v = v + B[j, i + d]
                for where in writes:
                    if where == "row":
                        A[i, j] = A[i, j] * 0.5 + v
                    elif where == "column":
                        A[j, i] = A[j, i] * 0.25 - v
                    elif where == "mirrored":
                        A[i, n - 1 - j] = v
                    else:
                        A[j, j] = A[j, j] + v
        return A

    kernel.__name__ = f"generated_{shape}_{first}_{reads}_{writes}".replace(" ", "")
    return kernel


@st.composite
def generated_cases(draw):
    n = draw(st.integers(1, 6))
    shape = draw(st.sampled_from(RANGES))
    first = draw(st.integers(0, 2))
    read = st.tuples(st.sampled_from(READ_AT), st.integers(-2, 2))
    reads = tuple(draw(st.lists(read, min_size=0, max_size=2)))
    writes = tuple(draw(st.lists(st.sampled_from(WRITE_AT), min_size=1, max_size=2)))
    seed = draw(st.integers(0, 2**16))
    return n, shape, first, reads, writes, seed


def _generated_check(n, shape, first, reads, writes, seed):
    kernel = _generated(shape, first, reads, writes)
    data = np.random.default_rng(seed)
    A = data.standard_normal((n, n)).astype(np.float32)
    B = data.standard_normal((n, n)).astype(np.float32)
    try:
        kernel(A.copy(), B.copy())
    except IndexError:
        assume(False)  # NumPy refuses an index outside the array; mutjax cannot under jit
    kinds, whiles = check(kernel, (A, B), what=f" n={n} seed={seed}")
    return whiles == 0 and "batched" in kinds


@settings(max_examples=examples(15), deadline=None)
@given(generated_cases())
def test_generated_kernels_match_numpy(case):
    _generated_check(*case)


@pytest.mark.slow
@settings(max_examples=examples(120), deadline=None)
@given(generated_cases())
def test_generated_kernels_match_numpy_long(case):
    _generated_check(*case)
