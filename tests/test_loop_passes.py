"""How often a nested converted loop's body is traced, and that fewer traces change no result.

A converted loop nested in another's body takes the arrays its body writes
from the run the enclosing body's first pass made of it, instead of a
first pass of its own; its trace then checks that it writes exactly those.
Each kernel below is NumPy code run on NumPy arrays (the oracle) and under
``jax.jit(mutable(..., loops=True))``: results and final arguments agree,
including where that run's arrays are not the traced body's (an array made
by the enclosing body, one loop writing different arrays where it is called,
a branch decided statically in that run and traced later).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_same

import mutjax

TRACES: list[str] = []


def _count(name: str) -> int:
    TRACES.append(name)  # runs once per trace of the body that calls it
    return 0


def triple(A):
    n = A.shape[0]
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n):
            for k in range(i + 1, j):
                A[i, j] = max(A[i, j], A[i, k] + A[k + 1, j] + _count("k"))
    return A


def scratch_per_row(A):
    # The inner loop writes an array the outer body makes: a new one per trace.
    n = A.shape[0]
    for i in range(1, n):
        row = np.zeros(n)
        for j in range(i):
            row[j] = A[i - 1, j] * 2.0
        A[i, :] += row
    return A


def _scale(x, n, c):
    for k in range(n):
        x[k] *= c


def one_loop_two_arrays(A, B):
    # One source loop (in `_scale`) writes A in one call and B in the other.
    n = A.shape[0]
    for i in range(1, n):
        _scale(A, i, 2.0)
        _scale(B, i, 0.5)
    return A, B


def static_branch(A, B):
    # The inner loop's first index is a constant: the run made in the outer
    # body's first pass decides `k == 0` statically and writes A only; the
    # traced body writes A and B (which the outer body writes too).
    n = A.shape[0]
    for i in range(2):
        B[0] += A[i]
        for k in range(0, n):
            if k == 0:
                A[k] += 1.0
            else:
                B[k] += A[k - 1]
    return A, B


def else_branch_only(A, B):
    # B is written only where `k == 0` is false: the run made in the outer
    # body's first pass must not decide the test on one value of k.
    n = A.shape[0]
    for i in range(2):
        A[0] += B[i]
        for k in range(0, n):
            if k == 0:
                A[k] += 1.0
            else:
                B[k] += A[k - 1]
    return A, B


def else_branch_by_carried_local(A, B):
    # The same, with the test on a local the inner loop carries.
    n = A.shape[0]
    for i in range(2):
        A[0] += B[i]
        s = 0
        for k in range(n):
            if s == 0:
                A[k] += 1.0
            else:
                B[k] += A[k - 1]
            s = s + 1
    return A, B


def else_branch_in_a_combinator_numpy(A, B, m):
    # The oracle of the two kernels below, as NumPy loops.
    for i in range(2):
        A[0] += B[i]
        for k in range(m):
            if k == 0:
                A[k] += 1.0
            else:
                B[k] += A[k - 1]
    return A, B


def else_branch_for_in_a_combinator(A, B, m):
    # A combinator's first pass runs the converted loops nested in its body.
    def outer(i, c):
        A[0] += B[i]
        for k in range(m):
            if k == 0:
                A[k] += 1.0
            else:
                B[k] += A[k - 1]
        return c

    mutjax.fori_loop(0, 2, outer, 0)
    return A, B


def else_branch_while_in_a_combinator(A, B, m):
    def outer(i, c):
        A[0] += B[i]
        k = 0
        while k < m:
            if k == 0:
                A[k] += 1.0
            else:
                B[k] += A[k - 1]
            k = k + 1
        return c

    mutjax.fori_loop(0, 2, outer, 0)
    return A, B


def _same(kernel, *arrays):
    expected = kernel(*[np.array(a) for a in arrays])
    got = jax.jit(mutjax.mutable(kernel, loops=True))(*[jnp.asarray(a) for a in arrays])
    assert_same(jax.tree_util.tree_map(np.asarray, got), expected, "jit")


def test_nested_loop_body_traced_once_and_matches_numpy():
    rng = np.random.default_rng(0)
    A = rng.integers(0, 5, (7, 7)).astype(np.int32)
    expected = triple(np.array(A))
    TRACES.clear()
    f = jax.jit(mutjax.mutable(triple, loops=True))
    got = f(jnp.asarray(A))
    # Each loop takes the arrays its source writes through (A) as what its
    # body writes: no first pass runs, and each body is traced once.
    assert TRACES == ["k"]
    np.testing.assert_array_equal(np.asarray(got), expected)


def _write_b(B, i):
    B[i] = B[i] * 2.0 + _count("helper")


def through_a_call(A, B):
    # The source writes A; the helper writes B: the guess misses B.
    for i in range(A.shape[0]):
        A[i] += 1.0 + _count("body")
        _write_b(B, i)
    return A, B


def never_taken(A, B):
    # The source writes B in a branch that a static test never takes: the
    # guess has B, the body writes A only.
    n = A.shape[0]
    for i in range(n):
        A[i] += 1.0 + _count("body")
        if n > 100:
            B[i] = 0.0
    return A, B


@pytest.mark.parametrize("kernel", [through_a_call, never_taken])
def test_loop_whose_guess_misses_is_traced_twice_and_matches_numpy(kernel):
    A = np.arange(1.0, 6.0, dtype=np.float32)
    B = np.arange(2.0, 7.0, dtype=np.float32)
    expected = kernel(A.copy(), B.copy())
    TRACES.clear()
    got = jax.jit(mutjax.mutable(kernel, loops=True))(jnp.asarray(A), jnp.asarray(B))
    # The trace that missed found what the body writes; the next threads
    # it, with no first pass.
    assert TRACES.count("body") == 2
    assert_same(jax.tree_util.tree_map(np.asarray, got), expected, "jit")


def test_inner_loop_writing_an_array_the_outer_body_makes_matches_numpy():
    _same(scratch_per_row, np.arange(25.0, dtype=np.float32).reshape(5, 5))


def test_one_source_loop_writing_two_arrays_matches_numpy():
    _same(
        one_loop_two_arrays,
        np.arange(1.0, 6.0, dtype=np.float32),
        np.arange(2.0, 7.0, dtype=np.float32),
    )


def test_inner_loop_writing_more_when_traced_than_in_the_first_pass_matches_numpy():
    _same(
        static_branch, np.arange(1.0, 5.0, dtype=np.float32), np.arange(3.0, 7.0, dtype=np.float32)
    )


@pytest.mark.parametrize("kernel", [else_branch_only, else_branch_by_carried_local])
def test_inner_loop_writing_an_array_only_in_a_later_iteration_matches_numpy(kernel):
    _same(kernel, np.arange(1.0, 5.0, dtype=np.float32), np.arange(3.0, 7.0, dtype=np.float32))


@pytest.mark.parametrize(
    "kernel", [else_branch_for_in_a_combinator, else_branch_while_in_a_combinator]
)
def test_loop_in_a_combinators_first_pass_writing_in_a_later_iteration_matches_numpy(kernel):
    A = np.arange(1.0, 5.0, dtype=np.float32)
    B = np.arange(3.0, 7.0, dtype=np.float32)
    expected = else_branch_in_a_combinator_numpy(A.copy(), B.copy(), 4)
    got = jax.jit(mutjax.mutable(kernel, loops=True))(jnp.asarray(A), jnp.asarray(B), 4)
    assert_same(jax.tree_util.tree_map(np.asarray, got), expected, "jit")


def _stepped(step):
    def kernel(x, lo, hi):
        for k in range(lo, hi, step):
            x[k] = x[k] * 2.0 + k
        return x

    return kernel


@pytest.mark.parametrize("step", [1, -1, 2, -3])
@pytest.mark.parametrize(("lo", "hi"), [(1, 7), (6, 0), (3, 3), (0, 8), (7, -1)])
def test_range_with_traced_bounds_runs_numpys_trip_count(step, lo, hi):
    kernel = _stepped(step)
    x = np.arange(8.0, dtype=np.float32)
    expected = kernel(x.copy(), lo, hi)
    got = jax.jit(mutjax.mutable(kernel, loops=True))(jnp.asarray(x), lo, hi)
    assert_same(np.asarray(got), expected, f"range({lo}, {hi}, {step})")
