"""Run-time lengths that NumPy refuses, reported by ``checkify`` as NumPy does.

For drawn bounds every kernel runs under NumPy and under
``checkify(jax.jit(mutjax.mutable(kernel)), errors=... | {mutjax.LengthError})``:
where NumPy raises ``ValueError``, checkify reports a ``ValueError`` with
NumPy's very message; where NumPy succeeds (equal lengths, a length 1 that
broadcasts, empty slices), checkify reports nothing and the values are
NumPy's. Without ``LengthError`` in the set, and under plain ``jit``, the
check is gone: the compiled program is the one with no check at all.
"""

from __future__ import annotations

import functools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_same, examples
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.experimental import checkify

import mutjax
from mutjax._masked import _lengths

ERRORS = checkify.index_checks | {mutjax.LengthError}
N = 6
bound = st.integers(-2, N + 1)


def _inputs() -> tuple[np.ndarray, np.ndarray]:
    return np.arange(1.0, N + 1, dtype=np.float32), np.arange(N, dtype=np.float32) * 2 + 1


def _numpy(kernel, *args):
    """(NumPy's ValueError message or None, result or None) of ``kernel`` on copies."""
    try:
        return None, kernel(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
    except ValueError as e:
        return str(e), None


def _checked(kernel, errors=ERRORS):
    return checkify.checkify(jax.jit(mutjax.mutable(kernel)), errors=errors)


def _agrees(kernel, *args, errors=ERRORS, checked=None):
    """Assert that checkify reports what NumPy raises, and NumPy's values where it does not."""
    want, expected = _numpy(kernel, *args)
    checked = checked or _checked(kernel, errors)
    err, got = checked(*[jnp.asarray(a) for a in args])
    if want is None:
        assert err.get() is None, err.get()
        assert_same(got, np.asarray(expected, np.float32), kernel.__name__)
    else:
        exc = err.get_exception()
        assert isinstance(exc, mutjax.LengthError) and isinstance(exc, ValueError), exc
        assert err.get() == want, (err.get(), want)
    return want


# -- kernels: NumPy's, each returns an array ------------------------------------------


def add(x, y, k, j):
    return (x[:k] + y[:j]).sum(keepdims=True)


def apart(x, y, k, j):  # one slice in place, one packed to the front
    return (x[k:] * y[:j]).sum(keepdims=True)


def where3(x, y, k, j):
    return np.where(x[:k] > 2, y[:j], x[:k]).sum(keepdims=True)


def assign(x, y, k, j):
    x[:k] = y[:j]
    return x


def assign_tail(x, y, k, j):
    x[k:] = y[j:]
    return x


def assign_fixed(x, y, k, j):  # a value of static length 3 into a traced slice
    x[:k] = y[:3]
    return x


def iadd(x, y, k, j):
    x[:k] += y[:j]
    return x


def ufunc_out(x, y, k, j):
    np.multiply(x[:k], y[:j], out=x[:k])
    return x


def matmul(x, y, k, j):
    return np.atleast_1d(x[:k] @ y[:j])


def matmul_function(x, y, k, j):  # np.matmul is a gufunc: a product all the same
    return np.atleast_1d(np.matmul(x[:k], y[:j]))


def dot(x, y, k, j):
    return np.atleast_1d(np.dot(x[:k], y[:j]))


KERNELS = [
    add,
    apart,
    where3,
    assign,
    assign_tail,
    assign_fixed,
    iadd,
    ufunc_out,
    matmul,
    matmul_function,
    dot,
]


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.__name__)
@settings(max_examples=examples(40), deadline=None)
@given(k=bound, j=bound)
def test_checkify_reports_numpys_value_error(kernel, k, j):
    x, y = _inputs()
    _agrees(kernel, x, y, k, j, checked=_CHECKED[kernel])


_CHECKED = {kernel: _checked(kernel) for kernel in KERNELS}


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.__name__)
def test_each_kind_of_mismatch_is_drawn(kernel):
    # The draws above must reach both outcomes: a fixed sweep shows they exist.
    x, y = _inputs()
    outcomes = {_numpy(kernel, x, y, k, j)[0] is None for k in range(N + 1) for j in range(N + 1)}
    assert outcomes == {True, False}


# -- two axes, products of matrices, masks ----------------------------------------------


def assign_rows(a, b, k, j):
    a[:k] = b[:j]
    return a


def add_rows(a, b, k, j):
    return (a[:k] + b[j:]).sum(axis=0)


def matrix_vector(a, b, k, j):
    return np.atleast_1d((a[:k, :j] @ b[0, : k + 1]).sum())


def mask_assign(a, b, k, j):
    x = a[0]
    x[x > k] = b[0, :j]
    return a


def mask_add(a, b, k, j):
    x = a[0]
    return (x[x > k] + b[0, :j]).sum(keepdims=True)


@pytest.mark.parametrize(
    "kernel",
    [assign_rows, add_rows, matrix_vector, mask_assign, mask_add],
    ids=lambda k: k.__name__,
)
def test_checkify_on_two_axes_and_masks(kernel):
    a = np.arange(N * N, dtype=np.float32).reshape(N, N) % 5
    b = np.arange(N * N, dtype=np.float32).reshape(N, N) + 1
    # With the index checks too: packing a mask must not look out of bounds.
    checked = _checked(kernel)
    seen = set()
    for k in range(-1, N + 1):
        for j in range(-1, N + 1):
            seen.add(_agrees(kernel, a, b, k, j, checked=checked) is None)
    assert seen == {True, False}


# -- converted loops, vmap, grad -------------------------------------------------------------


def shifting_sums(x, y, n, d):
    for i in range(n):
        x[:i] += y[N - i - d :]  # longer than x[:i] by d, up to the whole of y
    return x


@settings(max_examples=examples(25), deadline=None)
@given(n=st.integers(0, N), d=st.integers(0, 3))
def test_checkify_inside_a_converted_loop(n, d):
    x, y = _inputs()
    want, expected = _numpy(shifting_sums, x, y, n, d)
    err, got = _LOOP(jnp.asarray(x), jnp.asarray(y), n, d)
    if want is None:
        assert err.get() is None, err.get()
        assert_same(got, expected)
    else:
        assert err.get() == want and isinstance(err.get_exception(), ValueError)


_LOOP = checkify.checkify(mutjax.jit(shifting_sums), errors=ERRORS)


def test_checkify_inside_fori_loop():
    def kernel(x, y, d):
        def body(i, c):
            x[:i] += y[N - i - d :]
            return c

        mutjax.fori_loop(0, N, body, 0)
        return x

    checked = _checked(kernel)
    x, y = _inputs()
    for d in range(4):
        want, expected = _numpy(shifting_sums, x, y, N, d)
        err, got = checked(jnp.asarray(x), jnp.asarray(y), d)
        assert err.get() == want
        if want is None:
            assert_same(got, expected)


def test_each_loop_outcome_is_drawn():
    x, y = _inputs()
    outcomes = {
        _numpy(shifting_sums, x, y, n, d)[0] is None for n in range(N + 1) for d in range(4)
    }
    assert outcomes == {True, False}


def test_checkify_of_vmap_reports_the_first_mapped_mismatch():
    x, y = _inputs()
    ks = np.array([2, 3, 1, 4], np.int32)
    f = checkify.checkify(
        jax.jit(jax.vmap(mutjax.mutable(add), in_axes=(None, None, 0, None))), errors=ERRORS
    )
    err, _ = f(jnp.asarray(x), jnp.asarray(y), jnp.asarray(ks), 3)
    wants = [_numpy(add, x, y, int(k), 3)[0] for k in ks]
    assert err.get() == next(w for w in wants if w is not None)


def test_checkify_of_nested_vmap_checks_every_pair():
    x, y = _inputs()
    ks, js = np.array([2, 3, 1], np.int32), np.array([3, 1], np.int32)
    inner = jax.vmap(mutjax.mutable(add), in_axes=(None, None, None, 0))
    f = checkify.checkify(jax.jit(jax.vmap(inner, in_axes=(None, None, 0, None))), errors=ERRORS)
    for ks_, js_ in [(ks, js), (np.array([3, 1], np.int32), np.array([3, 3], np.int32))]:
        err, got = f(jnp.asarray(x), jnp.asarray(y), jnp.asarray(ks_), jnp.asarray(js_))
        wants = [_numpy(add, x, y, int(k), int(j))[0] for k in ks_ for j in js_]
        assert err.get() == next((w for w in wants if w is not None), None)
        if err.get() is None:
            want = [[_numpy(add, x, y, int(k), int(j))[1] for j in js_] for k in ks_]
            assert_same(got, np.asarray(want, np.float32))


def test_vmap_of_checkify_reports_each_mapped_mismatch():
    x, y = _inputs()
    ks = np.array([3, 2, 1, 5], np.int32)
    f = jax.vmap(_CHECKED[iadd], in_axes=(None, None, 0, None))
    err, got = f(jnp.asarray(x), jnp.asarray(y), jnp.asarray(ks), 3)
    expected = {}
    for b, k in enumerate(ks):
        want, value = _numpy(iadd, x, y, int(k), 3)
        if want is None:
            assert_same(got[b], value)
        else:
            expected[(b,)] = want
    assert expected and err.get_exception().error_mapping.keys() == expected.keys()
    for b, e in err.get_exception().error_mapping.items():
        assert str(e) == expected[b]


@pytest.mark.parametrize("k,j", [(2, 3), (3, 3), (3, 1), (0, 0)])
def test_checkify_through_grad(k, j):
    x, y = _inputs()
    f = checkify.checkify(
        jax.jit(jax.grad(lambda x, y, k, j: mutjax.mutable(add)(x, y, k, j)[0])), errors=ERRORS
    )
    err, g = f(jnp.asarray(x), jnp.asarray(y), k, j)
    want, _ = _numpy(add, x, y, k, j)
    assert err.get() == want
    if want is None:
        assert_same(g, (np.arange(N) < len(x[:k])).astype(np.float32))


# -- off: nothing reported, nothing compiled ------------------------------------------------


def test_not_enabled_reports_nothing_and_follows_the_documented_rule():
    x, y = _inputs()
    err, got = _checked(assign, checkify.index_checks)(jnp.asarray(x), jnp.asarray(y), 4, 2)
    assert err.get() is None
    # The target's positions beyond the value's length are unspecified; the others are set.
    assert_same(got[:2], y[:2])
    assert_same(got[4:], x[4:])


def _quiet(kernel):
    """``kernel`` traced with every length check left out."""

    @functools.wraps(kernel)
    def run(*args):
        _lengths._quiet.depth += 1
        try:
            return mutjax.mutable(kernel)(*args)
        finally:
            _lengths._quiet.depth -= 1

    return run


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.__name__)
def test_plain_jit_compiles_no_check(kernel):
    x, y = _inputs()
    args = (jnp.asarray(x), jnp.asarray(y), 3, 4)
    jaxpr = jax.make_jaxpr(mutjax.mutable(kernel))(*args)
    assert "mutjax_length_check" in str(jaxpr)  # the check is there to remove
    with_check = jax.jit(mutjax.mutable(kernel)).lower(*args)
    without = jax.jit(_quiet(kernel)).lower(*args)
    assert "mutjax_length_check" not in str(_quiet_jaxpr(kernel, args))
    assert with_check.as_text() == without.as_text()
    assert _instructions(with_check) == _instructions(without)


def _quiet_jaxpr(kernel, args):
    return jax.make_jaxpr(_quiet(kernel))(*args)


def test_converted_loop_compiles_no_check():
    x, y = _inputs()
    args = (jnp.asarray(x), jnp.asarray(y), 4)

    def body(x, y, n):
        return shifting_sums(x, y, n, 1)

    plain = jax.jit(mutjax.mutable(body, loops=True)).lower(*args)
    assert "mutjax_length_check" in str(jax.make_jaxpr(mutjax.mutable(body, loops=True))(*args))
    _lengths._quiet.depth += 1
    try:
        quiet = jax.jit(mutjax.mutable(body, loops=True)).lower(*args)
    finally:
        _lengths._quiet.depth -= 1
    assert plain.as_text() == quiet.as_text()
    assert _instructions(plain) == _instructions(quiet)


def _instructions(lowered):
    """The optimized HLO's instructions, without their source metadata."""
    text = lowered.compile().as_text()
    lines = [re.sub(r", metadata=\{[^}]*\}", "", ln) for ln in text.splitlines() if " = " in ln]
    assert lines
    return lines


# -- lengths known at trace time ---------------------------------------------------------


@pytest.mark.parametrize(
    "kind,shapes,axes,want",
    [
        (
            "broadcast",
            [(3,), (4,)],
            (),
            "operands could not be broadcast together with shapes (3,) (4,) ",
        ),
        ("broadcast", [(3, 2), (1, 2), ()], (), None),
        (
            "inplace",
            [(1,), (3,), (1,)],
            (),
            "non-broadcastable output operand with shape (1,) doesn't match the broadcast shape (3,)",
        ),
        (
            "assign",
            [(4, 2), (3, 2)],
            (),
            "could not broadcast input array from shape (4,2) into shape (3,2)",
        ),
        ("assign", [(1,), (0,)], (), None),
        (
            "dot",
            [(2, 3), (4, 5)],
            (1, 0),
            "shapes (2,3) and (4,5) not aligned: 3 (dim 1) != 4 (dim 0)",
        ),
    ],
)
def test_known_lengths_raise_numpys_error_at_once(kind, shapes, axes, want):
    if want is None:
        _lengths.check_lengths(kind, shapes, axes)
        return
    with pytest.raises(ValueError) as info:
        _lengths.check_lengths(kind, shapes, axes)
    assert str(info.value) == want


def test_numpy_words_the_known_cases_the_same():
    # The table above against NumPy itself.
    cases = [
        (
            lambda: np.ones(3) + np.ones(4),
            "operands could not be broadcast together with shapes (3,) (4,) ",
        ),
        (
            lambda: np.add(np.ones(1), np.ones(3), out=np.ones(1)),
            "non-broadcastable output operand with shape (1,) doesn't match the broadcast shape (3,)",
        ),
        (
            lambda: np.zeros((5, 2)).__setitem__(slice(0, 3), np.ones((4, 2))),
            "could not broadcast input array from shape (4,2) into shape (3,2)",
        ),
        (
            lambda: np.dot(np.ones((2, 3)), np.ones((4, 5))),
            "shapes (2,3) and (4,5) not aligned: 3 (dim 1) != 4 (dim 0)",
        ),
    ]
    for fn, want in cases:
        with pytest.raises(ValueError) as info:
            fn()
        assert str(info.value) == want


def test_eager_concrete_bounds_raise_numpys_error():
    x, y = _inputs()
    with pytest.raises(
        ValueError, match=r"could not broadcast input array from shape \(4,\) into shape \(3,\)"
    ):
        mutjax.mutable(assign)(jnp.asarray(x), jnp.asarray(y), jnp.int32(3), jnp.int32(4))
