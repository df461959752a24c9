"""Mutations across a ``jax.jit`` / ``jax.checkpoint`` boundary and in foreign transformations.

A mutable helper jitted inside a scope hands its writes back to the caller
(mutjax._boundary); writes inside a transformation mutjax cannot thread (a
plain ``jax.lax`` loop, ``grad`` of a helper that writes its argument) raise
mutjax's error instead of being dropped. NumPy is the oracle for values.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mutjax
from tests.helpers import assert_same
from tests.test_control import MJ, check, f32


@jax.jit
@mutjax.mutable
def _jitted_helper(a, v):
    a[0] = v
    a[1:] += a[0]
    return a.sum()


def _np_helper(a, v):
    a[0] = v
    a[1:] += a[0]
    return a.sum()


def test_jit_of_mutable_helper_writes_reach_the_caller():
    def kernel(C, x):
        helper = _jitted_helper if C is MJ else _np_helper
        s = helper(x[0], x.dtype.type(2))
        t = helper(x[1, 3:], s)  # through a view of a view

        def body(i, c):
            return c + helper(x[i + 1], x.dtype.type(1) * i)  # inside a mutjax loop body

        u = C.fori_loop(0, 2, body, x.dtype.type(0))
        return s, t, u

    check(kernel, f32(3, 6))
    # Called outside any scope it copies in, as every mutable function does.
    x = jnp.zeros(3)
    assert _jitted_helper(x, 1.0) == 3.0 and not x.any()


def test_jit_inside_jit_of_mutable_helper_and_copies():
    # Traced at top level first: jit's cache must not hand the scope that trace.
    _jitted_helper(jnp.ones(3), 1.0)
    jh = jax.jit(lambda a, v: _jitted_helper(a, v) * 1)  # jit of a jit

    @mutjax.mutable
    def k(x):
        t = jh(x[0], 1.0)
        u = jax.jit(lambda a: _jitted_helper(a * 1, 5.0))(x[1])  # writes a copy made inside
        return t, u, x

    e = np.ones((2, 3), np.float32)
    t = _np_helper(e[0], np.float32(1.0))
    u = _np_helper(e[1] * 1, np.float32(5.0))
    for g in (k, jax.jit(k)):
        assert_same(g(jnp.ones((2, 3))), (t, u, e))


def test_jitted_mutable_helper_inside_plain_lax_loop_raises():
    @mutjax.mutable
    def k(x):
        jax.lax.fori_loop(0, 2, lambda i, c: c + _jitted_helper(x, 1.0), 0.0)
        return x

    with pytest.raises(mutjax.ForeignTraceError, match="mutjax.fori_loop"):
        k(jnp.ones(3))


def test_checkpoint_inside_and_around_a_scope():
    def f(a):
        a[1:] = jnp.sin(a[:-1]) * a[1:]
        return a * 2

    def g(x):
        y = jax.checkpoint(mutjax.mutable(f))(x)  # writes to x reach g
        z = jax.checkpoint(lambda a: jnp.cos(a).sum())(x)  # a pure checkpoint reads x
        mutjax.fori_loop(0, 3, lambda i, c: x.__setitem__(i, x[i] * z) or c, 0)
        return y.sum() + x.sum()

    def g_at(x):
        x = x.at[1:].set(jnp.sin(x[:-1]) * x[1:])
        y = x * 2
        z = jnp.cos(x).sum()
        x = jax.lax.fori_loop(0, 3, lambda i, x: x.at[i].multiply(z), x)
        return y.sum() + x.sum()

    x = jnp.asarray(f32(5))
    for t in (lambda h: h, jax.grad, lambda h: jax.grad(jax.checkpoint(h))):
        got = jax.jit(t(mutjax.mutable(g)))(x)
        np.testing.assert_allclose(got, t(g_at)(x), rtol=1e-5, atol=1e-5)


def _row_kernel(r):
    r[0] = r[1] * 10
    return r.sum()


@pytest.mark.parametrize("axis", [0, 1])
def test_vmap_of_mutable_helper_inside_scope_writes_through(axis):
    # NumPy: the helper mutates each row (or column) of the caller's array.
    expected = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    lanes = expected if axis == 0 else expected.T
    sums = np.array([_row_kernel(r) for r in lanes], np.float32)

    @mutjax.mutable
    def outer(x):
        s = jax.vmap(mutjax.mutable(_row_kernel), in_axes=axis)(x)
        return x, s

    for f in (outer, jax.jit(outer)):
        x, s = f(jnp.arange(12.0).reshape(3, 4))
        np.testing.assert_array_equal(x, expected)
        np.testing.assert_array_equal(s, sums)


def test_grad_of_mutable_helper_writing_its_argument_inside_scope_raises():
    @mutjax.mutable
    def outer(x):
        return jax.grad(mutjax.mutable(_row_kernel))(x[0])

    with pytest.raises(mutjax.ForeignTraceError, match="differentiated"):
        jax.jit(outer)(jnp.ones((2, 3)))


def test_plain_lax_loop_over_a_mutable_body_that_writes_its_own_carry():
    # The body's writes land in its own carry, which the loop returns: no
    # array of the enclosing scope is involved, so nothing to refuse.
    def body(i, c, x):
        c[i] = c[i] + x[i] * 2
        return c

    @mutjax.mutable
    def outer(x):
        y = jax.lax.fori_loop(0, 3, lambda i, c: mutjax.mutable(body)(i, c, x), jnp.zeros(3))
        x[0] = 7
        return x, y

    x, y = jax.jit(outer)(jnp.arange(3.0))
    np.testing.assert_array_equal(x, [7, 1, 2])
    np.testing.assert_array_equal(y, [0, 2, 4])


def test_write_inside_foreign_loop_raises_mutjax_error():
    @mutjax.mutable
    def f(x):
        def body(i, c):
            x[i] = c
            return c + 1

        jax.lax.fori_loop(0, 3, body, 0.0)
        return x

    with pytest.raises(mutjax.ForeignTraceError, match="mutjax.fori_loop"):
        jax.jit(f)(jnp.zeros(3))

    @mutjax.mutable
    def g(x):
        jax.lax.cond(x[0] > 0, lambda: x.__setitem__(0, 1.0), lambda: None)
        return x

    with pytest.raises(mutjax.ForeignTraceError):
        g(jnp.ones(3))


def test_reads_inside_foreign_transformations_work():
    @jax.jit
    @mutjax.mutable
    def f(x):
        s = jax.lax.fori_loop(0, 3, lambda i, c: c + x[i], 0.0)
        x[0] = s
        return x

    np.testing.assert_array_equal(f(jnp.arange(3.0)), [3, 1, 2])
