"""Static intervals of traced integers (mutjax._ranges) and the checks they remove.

An interval only ever removes work that it proves unnecessary, so the
property tested here is containment: every value a traced integer takes lies
in the interval computed for it. Then whole loops: a loop index known in
bounds is a bare update, one that may leave the bounds keeps its checks.
"""

from __future__ import annotations

import operator

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mutjax
from mutjax import _index, _ranges, _scope
from tests.helpers import all_primitives

# Unary steps of an integer expression: (name, function on ints and on traced ints).
_STEPS = {
    "add": lambda c: lambda v: v + c,
    "sub": lambda c: lambda v: v - c,
    "rsub": lambda c: lambda v: c - v,
    "mul": lambda c: lambda v: v * c,
    "neg": lambda c: operator.neg,
    "max": lambda c: lambda v: jnp.maximum(v, c) if isinstance(v, jax.Array) else max(v, c),
    "min": lambda c: lambda v: jnp.minimum(v, c) if isinstance(v, jax.Array) else min(v, c),
}


@given(
    lo=st.integers(-20, 20),
    width=st.integers(0, 10),
    steps=st.lists(
        st.tuples(st.sampled_from(sorted(_STEPS)), st.integers(-5, 5)), min_size=1, max_size=5
    ),
)
def test_interval_contains_every_value(lo, width, steps):
    hi = lo + width
    fns = [_STEPS[name](c) for name, c in steps]
    found = []

    def probe(i):
        table: dict = {}
        _ranges.register(table, i, lo, hi)
        v = i
        for f in fns:
            v = f(v)
        found.append(_ranges.interval(v, table))
        return v

    jax.make_jaxpr(probe)(np.int32(0))
    (iv,) = found
    assert iv is not None, steps
    for i in range(lo, hi + 1):
        v = i
        for f in fns:
            v = f(v)
        assert iv[0] <= v <= iv[1], (steps, i, v, iv)


def test_unknown_integers_have_no_interval_and_keep_their_index_entries():
    seen = []

    def probe(i, j):
        table: dict = {}
        _ranges.register(table, i, 0, 3)
        seen.append(_ranges.interval(j + 1, table))
        ix = _index.analyze((i, j), (4, 4))
        seen.append(_ranges.annotate(ix, table).entries)
        seen.append(_ranges.annotate(ix, {}) is ix)
        return i

    jax.make_jaxpr(probe)(np.int32(0), np.int32(0))
    no_interval, entries, untouched = seen
    assert no_interval is None
    assert entries[0].known == (0, 3) and entries[1].known is None
    assert untouched


def test_intervals_die_with_their_scope():
    scope = _scope.Scope()
    _ranges.register(scope.intervals, object(), 0, 1)
    scope.close()
    assert scope.intervals == {}


@pytest.mark.parametrize("shift", [0, 1, -1])
def test_loop_index_in_bounds_is_a_bare_update(shift) -> None:
    # `x[i] = x[i - 1] + x[i]` in `fori_loop(1, n)`: every index is known in
    # [0, n), so the write is one dynamic_update_slice with no normalization,
    # bounds check or scatter, as a hand-written loop would be. Shifted, the
    # program must still be NumPy's (the indices are still in bounds).
    x = np.arange(1, 9, dtype=np.float32)
    expected = np.cumsum(x)
    got = jax.jit(mutjax.mutable(lambda a: _prefix(a, shift)))(jnp.asarray(x))
    np.testing.assert_allclose(got, expected)
    names = all_primitives(jax.make_jaxpr(mutjax.mutable(lambda a: _prefix(a, shift)))(x).jaxpr)
    assert "dynamic_update_slice" in names, names
    assert not {"scatter", "select_n", "lt"} & set(names), names


def test_loop_index_that_may_leave_the_bounds_keeps_its_checks() -> None:
    # `x[i + 1]` with `i` in [0, n): the last write is out of bounds and dropped,
    # as `.at[].set` drops it; the read there clamps, as `.at[].get` does.
    def kernel(a):
        def body(i, s):
            a[i + 1] = a[i] * 2
            return s + a[i + 1]

        return mutjax.fori_loop(0, a.shape[0], body, 0.0)

    def at(a):
        def body(i, c):
            a, s = c
            a = a.at[i + 1].set(a[i] * 2)
            return a, s + a[jnp.minimum(i + 1, a.shape[0] - 1)]

        return jax.lax.fori_loop(0, a.shape[0], body, (a, 0.0))

    x = jnp.arange(1.0, 5.0)
    f = jax.jit(mutjax.mutable(kernel, return_argnums=0))
    s, a = f(x)
    a_at, s_at = at(x)
    np.testing.assert_allclose(a, a_at)
    np.testing.assert_allclose(s, s_at)


def _prefix(x, shift):
    n = x.shape[0]

    def body(i, c):
        x[i + shift] = x[i + shift - 1] + x[i + shift]
        return c

    mutjax.fori_loop(1 - shift, n - shift, body, 0)
    return x
