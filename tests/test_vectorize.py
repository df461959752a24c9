"""Converted loops whose iterations are independent run as one batched operation.

Each kernel is plain NumPy code. It runs on NumPy (the oracle) and under
``mutjax.jit``; values, shapes and dtypes must agree. The vectorizable ones
must compile to a program without a loop, differentiate as the sequential
loop does, and work under ``jax.vmap``; the others must stay loops.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import (
    all_primitives,
    assert_same,
    examples,
    loop_kinds,
    returning_args,
    sampled,
    split_returned,
)
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

import mutjax

# The benchmark's kernels, as NumPy code, are the tests' kernels too.
from benchmarks.vectorize_bench import (
    elementwise_2d,
    lower_triangular_matmul,
    matvec,
    per_row,
    trmm_in_place,
    upper_triangular_matmul,
)
from mutjax._loops import _vectorize

LOOPS = {"while", "scan"}

rng = np.random.default_rng(0)


def _f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def primitives(kernel, *args):
    return set(all_primitives(jax.make_jaxpr(mutjax.jit(kernel))(*args).jaxpr))


def kinds(kernel, *args):
    return loop_kinds(jax.make_jaxpr(mutjax.jit(kernel))(*args).jaxpr)


def check(kernel, *args, rtol=1e-5, atol=1e-5):
    """``kernel`` under mutjax.jit equals NumPy: its result and its final arguments."""
    np_args = [np.array(a) for a in args]
    expected = (kernel(*np_args), np_args)
    got = mutjax.jit(kernel, **returning_args(len(args)))(*args)
    assert_same(split_returned(got, len(args), expected[0]), expected, kernel.__name__, rtol, atol)


def sequential(monkeypatch):
    """Make every loop sequential (the proof fails): the loop the batched run replaces."""
    monkeypatch.setattr(_vectorize, "_plan", lambda *a: None)


def weighted(kernel, n_out):
    weights = [jnp.asarray(_f32(*s)) for s in n_out]

    def loss(*args):
        out = mutjax.jit(kernel)(*args)
        out = out if isinstance(out, tuple) else (out,)
        return sum(jnp.sum(w * o) for w, o in zip(weights, out))

    return loss


# -- kernels that run as one batched operation ---------------------------------------------


def covariance(data):
    n, m = data.shape
    data -= data.mean(axis=0)
    cov = np.zeros((m, m), dtype=data.dtype)
    for i in range(m):
        cov[i, i:] = data[:, i] @ data[:, i:] / (n - 1.0)
    return cov


def shifted(x):
    y = np.zeros(x.shape[0] + 1, dtype=x.dtype)
    for i in range(x.shape[0]):
        y[i + 1] = x[i] * 2.0
    return y


def reversed_range(x):
    y = np.zeros_like(x)
    for i in range(x.shape[0] - 1, -1, -1):
        y[i] = x[i] * i
    return y


def diagonal(x):
    D = np.zeros((x.shape[0], x.shape[0]), dtype=x.dtype)
    for i in range(x.shape[0]):
        D[i, i] = x[i] + 1.0
    return D


def strided(x):
    y = np.zeros_like(x)
    for i in range(0, x.shape[0], 2):
        y[i : i + 2] = x[i : i + 2] * i
    return y


def pairs(x):
    y = np.zeros_like(x)
    for i in range(0, x.shape[0], 2):
        y[i] = x[i] - x[i + 1]
        y[i + 1] = x[i] + x[i + 1] * y[i]
    return y


def two_columns(A):
    C = np.zeros((A.shape[0], 2), dtype=A.dtype)
    for i in range(A.shape[0]):
        C[i, 0] = A[i].sum()
        C[i, 1] = A[i].max()
    return C


def every_third(x):
    y = np.zeros_like(x)
    for i in range(1, x.shape[0], 3):
        y[i] = x[i] - x[i - 1]
    return y


def conditional(x):
    y = np.zeros_like(x)
    for i in range(x.shape[0]):
        if x[i] > 0:
            y[i] = x[i] * 3.0
    return y


def update_in_place(A, x):
    for i in range(A.shape[0]):
        A[i] = A[i] * x[i] + 1.0
        A[i] += A[i].sum()
    return A


def last_locals(A, x):
    y = np.zeros(A.shape[0], dtype=A.dtype)
    t, i = 0.0, 0  # a compiled loop's locals need a value before it
    for i in range(A.shape[0]):
        t = A[i] @ x
        y[i] = t
    return y, t + i  # the last iteration's t and i


def two_arrays(A):
    lo = np.zeros(A.shape[0], dtype=A.dtype)
    hi = np.zeros(A.shape[0], dtype=A.dtype)
    for i in range(A.shape[0]):
        lo[i] = A[i].min()
        hi[i] = A[i].max() - lo[i]
    return lo, hi


# Reads of a written array where only the same or later iterations write: the
# sequential loop reads the values from before the loop there, as the batched
# body does.


def reads_next(y, x):
    for i in range(x.shape[0] - 1):
        y[i] = y[i + 1] + x[i]
    return y


def reads_window_ahead(y, x):
    for i in range(x.shape[0]):
        y[i] = y[i : i + 3].sum() + x[i]
    return y


def reads_suffix(y, x):
    # a traced start: the mask iota >= i + 1 selects y as before the loop
    for i in range(x.shape[0]):
        y[i] = y[i + 1 :].sum() * 0.5 + x[i]
    return y


def reads_unwritten_column(B):
    # column 1 is never written: the whole column may be read
    for i in range(B.shape[0]):
        B[i, 0] = B[i + 1 :, 1].sum() - B[:i, 1].sum()
    return B


def reads_column_suffix(B, x):
    # B[i + 1:, 1]: column 1 as read, then masked from i + 1 (a traced start)
    for i in range(B.shape[0]):
        B[i, 1] = B[i + 1 :, 1].sum() * 0.5 + x[i]
    return B


def trmm_by_columns(A, B):
    # trmm with its loops swapped: for one j, iteration i reads B[i + 1:, j],
    # which later iterations write; the columns are independent too
    for j in range(B.shape[1]):
        for i in range(B.shape[0]):
            B[i, j] += A[i + 1 :, i] @ B[i + 1 :, j]
    return B


def reads_strided_prefix(y, x):
    # y[0], y[2], y[4]: never written
    for i in range(x.shape[0]):
        y[i + 6] = y[0:6:2][: i + 1].sum() + x[i]
    return y


def reads_fixed_element(y, x):
    # y[1] is never written (a static slice)
    for i in range(x.shape[0]):
        y[i + 2] = y[1] * 0.5 + x[i]
    return y


A5, x5 = _f32(5, 5), _f32(5)
BATCHED = [
    (matvec, (A5, x5)),
    (per_row, (_f32(4, 6),)),
    (covariance, (_f32(7, 5),)),
    (lower_triangular_matmul, (_f32(5, 5), _f32(5, 3))),
    (elementwise_2d, (_f32(3, 4), _f32(4, 3))),
    (shifted, (x5,)),
    (reversed_range, (x5,)),
    (diagonal, (x5,)),
    (strided, (_f32(6),)),
    (every_third, (_f32(7),)),
    (pairs, (_f32(6),)),
    (two_columns, (A5,)),
    (conditional, (x5,)),
    (update_in_place, (A5, x5)),
    (last_locals, (A5, x5)),
    (two_arrays, (A5,)),
    (reads_next, (_f32(5), _f32(4))),
    (reads_window_ahead, (_f32(7), x5)),
    (reads_suffix, (_f32(5), _f32(4))),
    (reads_unwritten_column, (_f32(5, 2),)),
    (reads_fixed_element, (_f32(7), x5)),
    (reads_column_suffix, (_f32(5, 3), x5)),
    (reads_strided_prefix, (_f32(9), _f32(3))),
    (trmm_by_columns, (_f32(6, 6), _f32(6, 4))),
    (upper_triangular_matmul, (_f32(5, 5), _f32(5, 3))),
]
IDS = [k.__name__ for k, _ in BATCHED]


@sampled("kernel, args", BATCHED, every=3, ids=IDS)
def test_batched_kernel_has_no_loop_and_matches_numpy(kernel, args):
    assert kinds(kernel, *args) == {"batched"}
    check(kernel, *args)


@sampled("kernel, args", BATCHED, every=3, ids=IDS)
def test_batched_kernel_under_vmap(kernel, args):
    batch = [[a * (k + 1) - k for a in args] for k in range(3)]
    stacked = [jnp.stack(b) for b in zip(*batch)]
    got = jax.vmap(mutjax.jit(kernel))(*stacked)
    for k in range(3):
        expected = kernel(*[np.array(a) for a in batch[k]])
        element = jax.tree_util.tree_map(lambda g, k=k: g[k], got)
        assert_same(element, expected, f"element {k}")


@sampled("kernel, args", BATCHED, every=3, ids=IDS)
def test_batched_grad_equals_sequential_grad(kernel, args, monkeypatch):
    check_grad_against_sequential(kernel, args, monkeypatch, atol=1e-5)


def check_grad_against_sequential(kernel, args, monkeypatch, atol):
    """The gradient of the batched kernel equals that of the same loop run sequentially."""
    expected_out = kernel(*[np.array(a) for a in args])
    shapes = [
        np.shape(o) for o in (expected_out if isinstance(expected_out, tuple) else (expected_out,))
    ]
    loss = weighted(kernel, shapes)
    argnums = tuple(range(len(args)))
    got = jax.grad(loss, argnums)(*args)
    sequential(monkeypatch)
    assert LOOPS & primitives(kernel, *args)
    expected = jax.grad(loss, argnums)(*args)
    assert_same(got, expected, kernel.__name__, rtol=1e-4, atol=atol)


def test_matvec_grad_is_numpy_s():
    w = _f32(5)
    g_A, g_x = jax.grad(lambda A, x: jnp.sum(w * mutjax.jit(matvec)(A, x)), (0, 1))(A5, x5)
    np.testing.assert_allclose(g_A, np.outer(w, x5), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g_x, A5.T @ w, rtol=1e-5, atol=1e-6)


def test_covariance_is_one_batched_product():
    prims = all_primitives(jax.make_jaxpr(mutjax.jit(covariance))(_f32(7, 5)).jaxpr)
    assert prims.count("dot_general") == 1 and not LOOPS & set(prims)


def correlation_rows(data):
    # NPBench's correlation loop, the row half: a free-axis masked product
    m = data.shape[1]
    corr = np.eye(m, dtype=data.dtype)
    for i in range(m - 1):
        corr[i, i + 1 : m] = data[:, i] @ data[:, i + 1 : m]
    return corr


LARGE_MASKED = [
    (covariance, (_f32(40, 30),)),
    (correlation_rows, (_f32(40, 30),)),
    (lower_triangular_matmul, (_f32(30, 30), _f32(30, 20))),
    (upper_triangular_matmul, (_f32(30, 30), _f32(30, 20))),
]


@pytest.mark.parametrize(
    ("kernel", "args"), LARGE_MASKED, ids=[k.__name__ for k, _ in LARGE_MASKED]
)
def test_masked_product_loops_run_batched(kernel, args):
    # A masked product multiplies its window's array itself: no per-iteration
    # copy of it, so the size guard lets these loops run batched.
    assert not LOOPS & primitives(kernel, *args)
    assert kinds(kernel, *args) == {"batched"}
    check(kernel, *args, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    ("kernel", "args"), LARGE_MASKED, ids=[k.__name__ for k, _ in LARGE_MASKED]
)
def test_masked_product_loops_grad_equals_sequential_grad(kernel, args, monkeypatch):
    check_grad_against_sequential(kernel, args, monkeypatch, atol=1e-4)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_masked_product_loops_with_non_finite_data_match_numpy(bad):
    # inf / nan outside some iterations' windows must not reach their rows
    # (0 * inf is nan): NumPy multiplies only the selected part.
    L, B = _f32(6, 6), _f32(6, 4)
    B[4, 1] = bad
    L[1, 3] = bad  # above the diagonal: never in lower_triangular_matmul's windows
    assert kinds(lower_triangular_matmul, L, B) == {"batched"}
    check(lower_triangular_matmul, L, B, rtol=1e-4, atol=1e-4)
    U = L.T.copy()
    assert kinds(upper_triangular_matmul, U, B) == {"batched"}
    check(upper_triangular_matmul, U, B, rtol=1e-4, atol=1e-4)
    data = _f32(7, 6)
    data[2, 3] = bad
    check(correlation_rows, data, rtol=1e-4, atol=1e-4)


def masked_window_sums(X):
    # the select before the sum copies X per iteration: batched, n copies
    y = np.zeros(X.shape[1], dtype=X.dtype)
    for i in range(X.shape[1]):
        y[i] = (X[:, i:] * 2.0).sum()
    return y


def test_large_masked_window_copies_stay_loops():
    X = _f32(40, 30)
    assert LOOPS & kinds(masked_window_sums, X)
    check(masked_window_sums, X, rtol=1e-4, atol=1e-4)


@settings(max_examples=examples(8), deadline=None)
@given(n=st.integers(1, 6), offset=st.integers(0, 3))
def test_offset_writes(n, offset):
    def kernel(x):
        y = np.zeros(x.shape[0] + 3, dtype=x.dtype)
        for i in range(x.shape[0]):
            y[i + offset] = x[i] * 2.0 + i
        return y

    x = _f32(n)
    assert not LOOPS & primitives(kernel, x)
    check(kernel, x)


@settings(max_examples=examples(6), deadline=None)
@given(n=st.integers(1, 6), m=st.integers(1, 4))
def test_matvec_sizes(n, m):
    A, x = _f32(n, m), _f32(m)
    assert not LOOPS & primitives(matvec, A, x)
    check(matvec, A, x)


# -- kernels that must stay loops ------------------------------------------------------------


def recurrence(x):
    y = np.zeros_like(x)
    for i in range(1, x.shape[0]):
        y[i] = y[i - 1] + x[i]
    return y


def same_element(x):
    y = np.zeros(2, dtype=x.dtype)
    for i in range(x.shape[0]):
        y[0] = x[i]
    return y


def carried_scalar(x):
    s = 0.0
    y = np.zeros_like(x)
    for i in range(x.shape[0]):
        s += x[i]
        y[i] = s
    return y, s


def data_dependent(x, b):
    y = np.zeros_like(x)
    for i in range(x.shape[0]):
        y[b[i]] = x[i]
    return y


def with_break(x):
    y = np.zeros_like(x)
    for i in range(x.shape[0]):
        if i == 3:
            break
        y[i] = x[i]
    return y


def earlier_row(B):
    for i in range(1, B.shape[0]):
        B[i] += B[i - 1]
    return B


def reads_prefix(y, x):
    # rows below i: the earlier iterations' writes
    for i in range(x.shape[0]):
        y[i] = y[:i].sum() + x[i]
    return y


def reads_both_sides(y, x):
    for i in range(1, x.shape[0]):
        y[i] = y[i - 1] + y[i + 1] + x[i]
    return y


def window_both_sides(y, x):
    for i in range(1, x.shape[0]):
        y[i] = y[i - 1 : i + 2].sum() + x[i]
    return y


def suffix_from_before(y, x):
    # the traced start i - 1 is below i: it reaches the previous iteration's write
    for i in range(1, x.shape[0]):
        y[i] = y[i - 1 :].sum() + x[i]
    return y


def strided_prefix_meets_writes(y, x):
    # y[0], y[2], ..., y[2 i]: y[2] is the first iteration's write
    for i in range(x.shape[0]):
        y[i + 2] = y[0:12:2][: i + 1].sum() + x[i]
    return y


def reads_written_element(y, x):
    # y[0] is the first iteration's write
    for i in range(x.shape[0]):
        y[i] = y[0] * 0.5 + x[i]
    return y


def overlapping_pairs(x):
    # the next iteration's y[i] overwrites this one's y[i + 1]
    y = np.zeros(x.shape[0] + 1, dtype=x.dtype)
    for i in range(x.shape[0]):
        y[i] = x[i]
        y[i + 1] = -x[i]
    return y


def whole_array_read(x):
    y = np.zeros_like(x)
    for i in range(x.shape[0]):
        y[i] = y.sum() + x[i]
    return y


LOOPED = [
    (recurrence, (x5,)),
    (same_element, (x5,)),
    (carried_scalar, (x5,)),
    (data_dependent, (x5, np.array([4, 0, 2, 2, 1], np.int32))),
    (with_break, (x5,)),
    (whole_array_read, (x5,)),
    (overlapping_pairs, (x5,)),
    (earlier_row, (_f32(4, 3),)),
    (reads_prefix, (_f32(5), _f32(4))),
    (reads_both_sides, (_f32(6), x5)),
    (window_both_sides, (_f32(6), x5)),
    (suffix_from_before, (_f32(5), x5)),
    (reads_written_element, (_f32(5), x5)),
    (strided_prefix_meets_writes, (_f32(12), _f32(3))),
]


@pytest.mark.parametrize(("kernel", "args"), LOOPED, ids=[k.__name__ for k, _ in LOOPED])
def test_dependent_iterations_stay_loops(kernel, args, monkeypatch):
    monkeypatch.setattr(_vectorize, "MAX_GROWTH", 10**9)  # the proof alone decides
    assert LOOPS & kinds(kernel, *args)
    check(kernel, *args, rtol=1e-4)


def row_sums(A):
    y = np.zeros(A.shape[0], dtype=A.dtype)
    for i in range(A.shape[0]):
        s = 0.0
        for k in range(A.shape[1]):
            s += A[i, k]  # a carried scalar: the inner loop stays a loop
        y[i] = s
    return y


def test_inner_reduction_loop_runs_batched():
    A = _f32(5, 4)
    assert kinds(row_sums, A) == {"batched", "scan"}
    check(row_sums, A)
    w = _f32(5)
    g = jax.grad(lambda A: jnp.sum(w * mutjax.jit(row_sums)(A)))(A)
    np.testing.assert_allclose(g, np.broadcast_to(w[:, None], A.shape), rtol=1e-6)


def test_benchmark_quick_mode_agrees_with_its_anchor():
    from benchmarks import vectorize_bench

    rows = vectorize_bench.measure(8, 1)  # asserts mutjax equals the lax.fori_loop port
    assert [r["kernel"] for r in rows] == list(vectorize_bench._inputs(8))
    assert "| matvec |" in vectorize_bench.table(rows, 8)


def test_trmm_inner_loop_runs_batched(monkeypatch):
    A, B = _f32(6, 6), _f32(6, 4)
    # the loop over i reads rows of B the masked product checks for inf: a loop
    prims = primitives(trmm_in_place, A, B)
    assert kinds(trmm_in_place, A, B) == {"batched", "scan"}
    assert sum(p in LOOPS for p in prims) == 1
    # the columns read as before the loop are one block of B, not a gather
    assert "gather" not in prims
    check(trmm_in_place, A, B, rtol=1e-4, atol=1e-4)
    got = jax.vmap(mutjax.jit(trmm_in_place))(jnp.stack([A, -A]), jnp.stack([B, 2 * B]))
    assert_same(got[1], trmm_in_place(-A, 2 * B), "vmap", rtol=1e-4, atol=1e-4)
    check_grad_against_sequential(trmm_in_place, (A, B), monkeypatch, atol=1e-4)


def test_trmm_by_columns_inner_loop_runs_batched_at_size():
    # at this size the loop over j would copy B per column: it stays a loop
    A, B = _f32(40, 40), _f32(40, 30)
    assert kinds(trmm_by_columns, A, B) == {"batched", "scan"}
    check(trmm_by_columns, A, B, rtol=1e-4, atol=1e-4)


def _read_positions(kind, start, width, n):
    return {
        "element": range(start, start + 1),
        "window": range(start, start + width),
        "suffix": range(start, n),
        "prefix": range(0, start),
    }[kind]


@settings(max_examples=examples(60), deadline=None)
@given(
    a=st.sampled_from([1, 2, -1, -2]),
    b=st.integers(0, 11),
    c=st.integers(-2, 2),
    d=st.integers(-4, 12),
    width=st.integers(1, 3),
    trips=st.integers(2, 5),
    kind=st.sampled_from(["element", "window", "suffix", "prefix"]),
)
def test_affine_reads_batched_exactly_when_no_earlier_write(a, b, c, d, width, trips, kind):
    # y[a*i + b] = f(a read of y at c*i + d); NumPy is the oracle for the values,
    # and the loop must run batched exactly when no iteration reads an element
    # an earlier one wrote (single-element writes and affine in-bounds reads:
    # the proof is exact there)
    n = 12
    writes = [a * t + b for t in range(trips)]
    starts = [c * t + d for t in range(trips)]
    reach = width if kind == "window" else 1 if kind == "element" else 0
    assume(all(0 <= w < n for w in writes))
    assume(all(0 <= s and s + reach <= n for s in starts))

    def element(y, x):
        for i in range(x.shape[0]):
            y[a * i + b] = y[c * i + d] * 0.5 + x[i]
        return y

    def window(y, x):
        for i in range(x.shape[0]):
            y[a * i + b] = y[c * i + d : c * i + d + width].sum() * 0.5 + x[i]
        return y

    def suffix(y, x):
        for i in range(x.shape[0]):
            y[a * i + b] = y[c * i + d :].sum() * 0.5 + x[i]
        return y

    def prefix(y, x):
        for i in range(x.shape[0]):
            y[a * i + b] = y[: c * i + d].sum() * 0.5 + x[i]
        return y

    kernel = {"element": element, "window": window, "suffix": suffix, "prefix": prefix}[kind]

    writer = {w: t for t, w in enumerate(writes)}
    independent = all(
        writer.get(p, trips) >= t
        for t, s in enumerate(starts)
        for p in _read_positions(kind, s, width, n)
    )
    event(f"{kind}, {'batched' if independent else 'a loop'}")
    y, x = _f32(n), _f32(trips)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_vectorize, "MAX_GROWTH", 10**9)  # the proof alone decides
        assert kinds(kernel, y, x) == ({"batched"} if independent else {"scan"})
        check(kernel, y, x)


def _zeroed_where(compare):
    """``y[i] = (y, with 0 where compare(iota, i)).sum() + x[i]``, the mask built by hand."""

    def kernel(y, x):
        for i in range(x.shape[0]):
            iota = jax.lax.iota(np.int32, y.shape[0])
            y[i] = jax.lax.select_n(compare(iota, i), y, jnp.zeros_like(y)).sum() + x[i]
        return y

    def numpy_kernel(y, x):
        for i in range(x.shape[0]):
            y[i] = np.where(compare(np.arange(y.shape[0]), i), 0, y).sum() + x[i]
        return y

    return kernel, numpy_kernel


def _below(iota, i):
    return iota < i


def _above(iota, i):
    return iota > i


def _band(iota, i):
    return (iota >= i) & (iota < i + 2)


@pytest.mark.parametrize(
    ("compare", "batched"),
    [(_below, True), (_above, False), (_band, False)],
    ids=["zeroes-earlier-writes", "keeps-earlier-writes", "zeroes-a-band"],
)
def test_array_where_a_mask_is_false(compare, batched, monkeypatch):
    # select_n(mask, y, 0) reads y where the mask is false: below i zeroed, it
    # reads only what this and later iterations write; a band's complement is
    # not one range, so that loop stays a loop
    monkeypatch.setattr(_vectorize, "MAX_GROWTH", 10**9)  # the proof alone decides
    kernel, numpy_kernel = _zeroed_where(compare)
    y, x = _f32(6), _f32(4)
    assert kinds(kernel, y, x) == ({"batched"} if batched else {"scan"})
    expected = numpy_kernel(y.copy(), x.copy())
    assert_same(mutjax.jit(kernel)(y, x), expected, "y", rtol=1e-5, atol=1e-5)


@settings(max_examples=examples(30), deadline=None)
@given(
    a=st.sampled_from([1, -1, 2]),
    b=st.integers(0, 5),
    column=st.integers(0, 2),
    c=st.integers(-1, 2),
    d=st.integers(-2, 5),
    height=st.integers(1, 3),
    read_column=st.integers(0, 2),
    trips=st.integers(2, 4),
)
def test_2d_window_reads_batched_exactly_when_no_earlier_write(
    a, b, column, c, d, height, read_column, trips
):
    # B[a*i + b, column] = sum of B[c*i + d : +height, read_column]: a read of
    # another column never meets the writes, whatever its rows
    rows = 6
    writes = [(a * t + b, column) for t in range(trips)]
    starts = [c * t + d for t in range(trips)]
    assume(all(0 <= r < rows for r, _ in writes))
    assume(all(0 <= s and s + height <= rows for s in starts))

    def kernel(B, x):
        for i in range(x.shape[0]):
            B[a * i + b, column] = B[c * i + d : c * i + d + height, read_column].sum() + x[i]
        return B

    writer = {w: t for t, w in enumerate(writes)}
    independent = all(
        writer.get((r, read_column), trips) >= t
        for t, s in enumerate(starts)
        for r in range(s, s + height)
    )
    B, x = _f32(rows, 3), _f32(trips)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_vectorize, "MAX_GROWTH", 10**9)  # the proof alone decides
        assert kinds(kernel, B, x) == ({"batched"} if independent else {"scan"})
        check(kernel, B, x)
