"""A converted loop over a traced range whose iterations are independent runs as one batched operation.

The published kernels (LU, ludcmp, Gram-Schmidt) run unchanged against
NumPy, their inner loop over ``range(i, n)`` batched: no ``while`` loop is
left for it. Near misses (a read one past the range's start, a write a later
iteration reads, a step of -1, an empty range) stay loops, and all equal
NumPy. Derivatives are those of the sequential loop.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_same, count_whiles, examples
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.experimental import checkify
from test_vectorize import check as _check
from test_vectorize import kinds, sequential

import mutjax
from tests.corpus import npbench_polybench as published

rng = np.random.default_rng(0)


def _f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def _well_conditioned(n):
    # LU without pivoting: a dominant diagonal keeps NumPy and float32 close
    return (rng.random((n, n)) + n * np.eye(n)).astype(np.float32)


def whiles(kernel, *args):
    """The number of ``while`` loops in ``kernel``'s program under mutjax.jit."""
    return count_whiles(jax.make_jaxpr(mutjax.jit(kernel))(*args).jaxpr)


def check(kernel, *args, rtol=1e-4, atol=1e-4):
    """``kernel`` under mutjax.jit equals NumPy (float32 LU: a looser tolerance)."""
    _check(kernel, *args, rtol=rtol, atol=atol)


# -- the published kernels ----------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 7, 16])
def test_lu_matches_numpy_with_its_upper_loop_batched(n):
    A = _well_conditioned(n)
    check(published.lu, A)
    # the lower loop (`range(i)`, each iteration reads the one before) stays a
    # loop; without the batched upper one there would be two
    assert whiles(published.lu, A) <= 1
    assert "batched" in kinds(published.lu, A)


@pytest.mark.parametrize("n", [2, 5, 12])
def test_ludcmp_matches_numpy_with_its_upper_loop_batched(n):
    A, b = _well_conditioned(n), _f32(n)
    check(published.ludcmp, A, b)
    assert whiles(published.ludcmp, A, b) <= 1


@pytest.mark.parametrize(("m", "n"), [(3, 2), (6, 5), (13, 11)])
def test_gramschmidt_matches_numpy_with_no_loop_of_traced_length(m, n):
    A = _f32(m, n)
    check(published.gramschmidt, A)
    assert whiles(published.gramschmidt, A) == 0
    assert "batched" in kinds(published.gramschmidt, A)


def test_without_the_proof_the_same_kernels_keep_their_loops(monkeypatch):
    A = _well_conditioned(6)
    sequential(monkeypatch)
    assert whiles(published.lu, A) == 2
    assert whiles(published.gramschmidt, _f32(7, 6)) == 1
    check(published.lu, A)


# -- derivatives ---------------------------------------------------------------------------


def upper_update(A):
    # LU's upper loop alone, each row from the rows above it
    for i in range(A.shape[0]):
        for j in range(i, A.shape[0]):
            A[i, j] -= A[i, :i] @ A[:i, j]
    return A


def _grads(kernel, args, w):
    """The gradient of a weighted sum of ``kernel``'s result, jitted before it is differentiated."""
    f = jax.jit(mutjax.mutable(kernel, loops=True))
    f(*args)  # traced without differentiation: the batched loop, then differentiated

    def loss(*a):
        return jnp.sum(w * f(*a))

    return jax.grad(loss, tuple(range(len(args))))(*args)


@pytest.mark.parametrize("kernel", [upper_update, published.lu])
def test_grad_equals_the_sequential_loops(kernel, monkeypatch):
    def run(A):
        kernel(A)
        return A

    run.__name__ = kernel.__name__
    A = jnp.asarray(_well_conditioned(6))
    w = jnp.asarray(_f32(6, 6))
    assert "batched" in kinds(run, A)
    got = _grads(run, (A,), w)
    sequential(monkeypatch)
    assert whiles(run, A) >= 1
    expected = _grads(run, (A,), w)
    assert_same(got, expected, kernel.__name__, rtol=1e-4, atol=1e-4)


def test_gramschmidt_grad_equals_the_sequential_loops(monkeypatch):
    A = jnp.asarray(_f32(7, 5))
    wq, wr = jnp.asarray(_f32(7, 5)), jnp.asarray(_f32(5, 5))

    def grads():
        f = jax.jit(mutjax.mutable(published.gramschmidt, loops=True))
        f(A)
        return jax.grad(lambda A: jnp.sum(wq * f(A)[0]) + jnp.sum(wr * f(A)[1]))(A)

    got = grads()
    sequential(monkeypatch)
    expected = grads()
    assert_same(got, expected, "gramschmidt", rtol=1e-4, atol=1e-4)


def test_grad_of_a_masked_lane_dividing_by_zero_stays_finite(monkeypatch):
    def only_after_the_first(x, y, z):
        for i in range(1, x.shape[0]):
            for j in range(i, x.shape[0]):
                x[j] = x[j] / y[j] + z[i]  # y[0] = 0: 1/0 in a masked lane
        return x

    x, z = jnp.asarray(_f32(5)), jnp.asarray(_f32(5))
    y = jnp.asarray(np.array([0.0, 1.5, 2.0, 3.0, 4.0], np.float32))
    w = jnp.asarray(_f32(5))
    assert whiles(only_after_the_first, x, y, z) == 0
    check(only_after_the_first, x, y, z)
    got = _grads(only_after_the_first, (x, y, z), w)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in got)
    sequential(monkeypatch)
    expected = _grads(only_after_the_first, (x, y, z), w)
    assert_same(got, expected, "only_after_the_first", rtol=1e-4, atol=1e-4)


def test_jvp_and_grad_under_trace_time_differentiation_match_finite_differences():
    A = jnp.asarray(_well_conditioned(5), jnp.float32)
    dA = jnp.asarray(_f32(5, 5))
    f = mutjax.jit(upper_update)
    _, tangent = jax.jvp(f, (A,), (dA,))
    eps = 1e-2
    numeric = (f(A + eps * dA) - f(A - eps * dA)) / (2 * eps)
    assert_same(tangent, numeric, "jvp", rtol=2e-2, atol=2e-2)


def test_vmap_over_the_kernel():
    As = np.stack([_well_conditioned(5) for _ in range(3)])
    got = jax.vmap(mutjax.jit(upper_update))(jnp.asarray(As))
    expected = np.stack([upper_update(a.copy()) for a in As])
    assert_same(got, expected, "vmap", rtol=1e-4, atol=1e-4)


# -- near misses ---------------------------------------------------------------------------


def _near_miss(kind, start, stop_less):
    """A kernel whose inner loop over a traced range is, or is not, independent.

    Independent: ``A[i, j] -= A[i, :i] @ A[:i, j]`` from ``j = i`` (the read's
    bound is the range's start). Dependent: the read's bound one past the
    start, a write the next iteration reads, a step of -1.
    """

    def kernel(A):
        n = A.shape[0]
        for i in range(n):
            if kind == "independent":
                # the start and the bound are one value, `i`
                for j in range(i, n - stop_less):
                    A[i, j] -= A[i, :i] @ A[:i, j]
            elif kind == "read_past_start":
                for j in range(i + start, n - stop_less):
                    A[i, j] -= A[i, : i + start + 1] @ A[: i + start + 1, j]
            elif kind == "reads_earlier_write":
                for j in range(i + start, n - stop_less):
                    A[i, j] = 0.5 * A[i, j - 1] + A[i, j]
            else:  # "step_down": the order of a recurrence, reversed
                for j in range(n - 1 - stop_less, i + start - 1, -1):
                    A[i, j - 1] += 0.5 * A[i, j]
        return A

    kernel.__name__ = f"{kind}_{start}_{stop_less}"
    return kernel


@settings(max_examples=examples(25), deadline=None)
@given(
    kind=st.sampled_from(["independent", "read_past_start", "reads_earlier_write", "step_down"]),
    start=st.integers(0, 2),
    stop_less=st.integers(0, 2),
    n=st.integers(1, 6),
)
def test_near_misses_stay_loops_and_all_match_numpy(kind, start, stop_less, n):
    kernel = _near_miss(kind, start, stop_less)
    A = jnp.asarray(_well_conditioned(n))
    check(kernel, A)
    if kind != "independent" and n - stop_less - start >= 2:  # a loop of two iterations
        assert whiles(kernel, A) >= 1, kernel.__name__


def test_the_independent_near_miss_is_batched():
    A = jnp.asarray(_well_conditioned(6))
    assert whiles(_near_miss("independent", 0, 0), A) == 0
    assert whiles(_near_miss("independent", 0, 2), A) == 0
    check(_near_miss("independent", 0, 2), A)


def test_a_start_computed_before_the_loop_is_another_value():
    # `range(i + 1, n)` reading `A[i, :i + 1]`: the start `i + 1` is computed
    # before the loop, the bound `i + 1` in its body; the proof does not know
    # they are one value, and the loop stays a loop (it is independent).
    def kernel(A):
        for i in range(A.shape[0]):
            for j in range(i + 1, A.shape[0]):
                A[i, j] -= A[i, : i + 1] @ A[: i + 1, j]
        return A

    A = jnp.asarray(_well_conditioned(6))
    assert whiles(kernel, A) == 1
    check(kernel, A)


@pytest.mark.parametrize("empty", ["start_past_stop", "start_at_stop"])
def test_an_empty_traced_range_writes_nothing(empty):
    def kernel(A):
        n = A.shape[0]
        for i in range(n):
            lo = i + n if empty == "start_past_stop" else n
            for j in range(lo, n):
                A[i, j - n] = 7.0
        return A

    A = jnp.asarray(_f32(4, 4))
    check(kernel, A)


def test_a_range_ending_before_the_array_batched_masks_its_last_lanes():
    def kernel(A, k):
        for i in range(A.shape[0]):
            for j in range(i, A.shape[0] - k):
                A[i, j] += A[i, :i].sum()
        return A

    A = jnp.asarray(_f32(6, 6))
    for k in range(4):
        np_A = np.array(A)
        kernel(np_A, k)
        got = mutjax.jit(kernel, static_argnums=1)(A, k)
        assert_same(got, np_A, f"k={k}", rtol=1e-5, atol=1e-5)


def test_masked_lanes_report_no_bounds_error_under_checkify():
    # Lanes below the range read y at j - 2*i - 1 < -len(y): NumPy never does.
    def kernel(x, y):
        for i in range(x.shape[0]):
            for j in range(i, x.shape[0]):
                x[j] = y[j - 2 * i - 1]
        return x

    x, y = jnp.asarray(_f32(5)), jnp.asarray(_f32(5))
    assert whiles(kernel, x, y) == 0
    f = checkify.checkify(mutjax.jit(kernel), errors=checkify.index_checks)
    err, got = f(x, y)
    err.throw()
    np_x = np.array(x)
    kernel(np_x, np.array(y))
    assert_same(got, np_x, "checkify", rtol=0, atol=0)


def test_an_empty_range_reports_no_bounds_error_under_checkify():
    # Gram-Schmidt's last `range(k + 1, n)` is empty, its start n past A's columns.
    A = jnp.asarray(_f32(6, 5))
    f = checkify.checkify(mutjax.jit(published.gramschmidt), errors=checkify.index_checks)
    err, got = f(A)
    err.throw()
    assert_same(got, published.gramschmidt(np.array(A)), "checkify", rtol=1e-4, atol=1e-4)
