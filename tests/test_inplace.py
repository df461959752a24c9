"""In-place operators and ndarray methods (fill, sort, put, clip, resize), NumPy as the oracle."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import EAGER_JIT, assert_same

import mutjax
from mutjax.testing import assert_matches_numpy
from tests.test_views import f32


def test_inplace_methods_match_numpy():
    assert_matches_numpy(k_methods, f32(3, 4), f32(3, 4), modes=EAGER_JIT)


def test_put_traced_indices():
    def k(a, ind):
        a.put(ind, [5.0, 6.0], mode="wrap")
        a.T.put(ind + 1, -1.0, mode="clip")
        return a

    a, ind = f32(3, 4), np.array([1, 14, -2], np.int32)
    assert_matches_numpy(k, a, ind, modes=EAGER_JIT)


def test_resize_with_refcheck_false():
    def k(a):
        a.resize((2, 3), refcheck=False)
        a[1] = 1
        a.resize(8, refcheck=False)
        return a

    def k_np(a):
        a = a.copy()  # NumPy refuses to resize an array the caller references
        return k(a)

    out = jax.jit(mutjax.mutable(k))(jnp.arange(12.0, dtype=jnp.float32))
    assert_same(out, k_np(np.arange(12.0, dtype=np.float32)))


def test_resize_same_size_reshapes_in_place():
    assert_matches_numpy(k_resize_same_size, f32(3, 4), f32(3, 4), modes=EAGER_JIT)


@pytest.mark.parametrize(
    "method",
    [
        lambda a: a.sort(),
        lambda a: a.fill(1.0),
        lambda a: a.put([0], [1.0]),
        lambda a: a.T.clip(0, 1, out=a.T),
        lambda a: a.resize(2, 6),
    ],
)
def test_inplace_methods_in_foreign_loop_raise_mutjax_error(method):
    @mutjax.mutable
    def f(a):
        jax.lax.fori_loop(0, 2, lambda i, c: (method(a), c)[1], 0)

    with pytest.raises(mutjax.ForeignTraceError):
        f(f32(3, 4))


def test_matmul_inplace():
    def k(a, b):
        a @= b
        a[0] @= b

    assert_matches_numpy(k, f32(3, 3), f32(3, 3), rtol=1e-4, modes=EAGER_JIT)


def test_inplace_keeps_identity_and_casts_same_kind():
    def k(x):
        y = x
        x += 1
        return y

    assert_matches_numpy(k, np.arange(4, dtype=np.int32), modes=EAGER_JIT)

    @mutjax.mutable
    def bad(x):
        x += 1.5

    with pytest.raises(TypeError, match="same_kind"):
        bad(jnp.arange(3))
    with pytest.raises(TypeError, match="same_kind"):
        np_x = np.arange(3)
        np_x += 1.5


def test_zero_d_copies_behave_like_numpy_scalars_in_place():
    # `x[0]` on a 1-D array is a NumPy scalar: `+=` rebinds it, so
    # `x[0] += 1.5` on an int array truncates and a sum can grow in place.
    def k(a):
        a[0] += 1.5
        s = a[1:].sum()
        s += 0.25
        return s

    out, a = mutjax.mutable(k, return_argnums=0)(jnp.arange(3, dtype=jnp.int32))
    expected = np.arange(3, dtype=np.int32)
    e_out = k(expected)
    np.testing.assert_array_equal(a, expected)
    np.testing.assert_allclose(out, e_out)


def k_methods(a, b):
    a.fill(3)
    a[1].fill(-2.5)
    b.sort()
    b.T.sort(axis=0)
    b[1:].sort(axis=-1, kind="stable")
    b[0].sort(kind="quicksort")
    a.put([0, 5, -1], [10, 20])
    a.put(np.array([[1, 100]]), 7, mode="clip")
    a.T.put([13, 2], [8, 9], mode="wrap")
    a[1:].put([0, 0], [4, 5])  # repeated index: the last write wins
    c = b.clip(-0.5, 0.5)
    c[0] = 9
    b.clip(-0.2, None, out=b)
    b[1:].T.clip(max=0.3, out=b[1:].T)
    r = b.clip(0, 0.1, out=a)
    r[0, 0] = -9
    return c, r


def k_resize_same_size(a, b):
    a.resize(4, 3)  # same size: NumPy re-shapes in place, even when referenced
    a[0] = 1
    t = b.T
    t.resize((2, 6))  # F-contiguous view: F-order re-shape, still a view
    t[1, 1:3] = -1
    return t
