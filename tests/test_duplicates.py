"""Repeated traced indices: the last write wins, whether the winner table is built in one scatter or in chunks.

``mutjax._duplicates`` scatter-maxes update positions into a winner table;
for many updates on CPU it does so in a loop over chunks of
``WINNER_CHUNK`` updates. The chunk size is made tiny here so that small
hypothesis examples run the chunked loop (and its overlapping last chunk), and every
result is compared with NumPy's ``x[idx] = v``: duplicates, negative
indices, broadcast values, multi-dimensional and several index arrays,
narrow and unsigned index dtypes.
"""

from __future__ import annotations

import contextlib
from unittest import mock

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import EAGER_JIT
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import mutjax
from mutjax import _duplicates
from mutjax.testing import assert_matches_numpy


def chunk(size: int) -> contextlib.AbstractContextManager[object]:
    return mock.patch.object(_duplicates, "WINNER_CHUNK", size)


def _set(a, i, w):
    a[i] = w
    return a


def distinct(shape: tuple[int, ...]) -> np.ndarray:
    # Distinct values: a wrong winner among duplicates shows in the result.
    return (np.arange(int(np.prod(shape))) + 100).astype(np.float32).reshape(shape)


@st.composite
def one_axis(draw):
    """``(x, idx, v)``: a 1-D target, an index array of any shape with repeats, broadcast values."""
    n = draw(st.integers(1, 12))
    dtype = draw(st.sampled_from([np.int32, np.int8, np.int16, np.uint8]))
    lo = 0 if np.issubdtype(dtype, np.unsignedinteger) else -n
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6))
    idx = draw(hnp.arrays(dtype, shape, elements=st.integers(lo, n - 1)))
    vshape = draw(st.sampled_from([shape, shape[-1:], (1,), ()]))
    return np.arange(n, dtype=np.float32), idx, distinct(vshape)


@given(one_axis(), st.integers(1, 5))
def test_chunked_winner_table_matches_numpy_on_one_axis(case, size):
    x, idx, v = case
    with chunk(size):
        assert_matches_numpy(_set, x, idx, v, modes=EAGER_JIT)


@st.composite
def two_axes(draw):
    """``(x, i, j, v)`` for ``x[i, :, j] = v``: two index arrays broadcast together, repeats, negatives."""
    n0, n2 = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=6))
    i = draw(hnp.arrays(np.int32, shape, elements=st.integers(-n0, n0 - 1)))
    j = draw(hnp.arrays(np.int32, shape[-1:], elements=st.integers(-n2, n2 - 1)))
    vshape = draw(st.sampled_from([shape + (3,), (3,), ()]))
    return np.zeros((n0, 3, n2), np.float32), i, j, distinct(vshape)


@given(two_axes(), st.integers(1, 4))
def test_chunked_winner_table_matches_numpy_on_two_index_arrays(case, size):
    x, i, j, v = case

    def kernel(a, i, j, w):
        a[i, :, j] = w
        return a

    with chunk(size):
        assert_matches_numpy(kernel, x, i, j, v, modes=EAGER_JIT)


def _winner_loops(fun, *args) -> bool:
    # The program lowered for this backend, where platform_dependent has
    # picked its branch; a fresh function, so that jit's trace cache misses.
    return "stablehlo.while" in jax.jit(lambda *a: fun(*a)).lower(*args).as_text()


@pytest.mark.parametrize("updates", [8, 9, 11])
def test_many_updates_on_cpu_build_the_table_in_a_loop(updates):
    f = mutjax.mutable(_set)
    x = np.zeros(6, np.float32)
    idx = (np.arange(updates) * 5 % 6).astype(np.int32)
    v = np.arange(updates, dtype=np.float32)
    with chunk(2):
        assert _winner_loops(f, x, idx, v) == (jax.default_backend() == "cpu")
        got = jax.jit(f)(x, idx, v)
    want = x.copy()
    want[idx] = v
    np.testing.assert_array_equal(got, want)
    # Fewer updates than two chunks: one scatter, no loop.
    assert not _winner_loops(f, x, idx, v)


@pytest.mark.parametrize(
    ("size", "updates"), [(4, 9), (4, 11), (1024, 3048), (1024, 4095), (1500, 4001)]
)
def test_the_last_chunk_overlaps_instead_of_a_remainder_scatter(size, updates):
    # Updates that are not a whole number of chunks: the last chunk ends at
    # the last update and shares some with the one before (chunks of 1024
    # and more share the updates evenly), so one scatter is compiled.
    f = mutjax.mutable(_set)
    n = 6 if size < 8 else 1000
    x = np.zeros(n, np.float32)
    idx = (np.arange(updates) * 5 % n - n // 2).astype(np.int32)
    v = np.arange(updates, dtype=np.float32)
    with chunk(size):
        # The chunked table is CPU's lowering: lowered for CPU on any backend.
        traced = jax.jit(lambda *a: f(*a)).trace(x, idx, v)
        text = traced.lower(lowering_platforms=("cpu",)).as_text()
        got = jax.jit(f)(x, idx, v)
    assert text.count('"stablehlo.scatter"(') == 1
    want = x.copy()
    want[idx] = v
    np.testing.assert_array_equal(got, want)


def test_chunked_table_under_vmap_and_grad():
    f = mutjax.mutable(_set)
    x = jnp.zeros((3, 4))
    i = jnp.array([[0, 1, 0, -1, 1], [3, 3, 2, -1, 3], [2, 2, 2, 2, -4]])
    w = jnp.arange(15.0).reshape(3, 5)
    with chunk(2):
        got = jax.jit(jax.vmap(f))(x, i, w)
        g = jax.jit(jax.grad(lambda w: (f(x[0], i[0], w) * jnp.arange(4.0)).sum()))(w[0])
    for b in range(3):
        want = np.zeros(4, np.float32)
        want[np.asarray(i[b])] = np.asarray(w[b])
        np.testing.assert_array_equal(got[b], want)
    # The gradient reaches only the winner at each position: the last write.
    expect = np.zeros(5, np.float32)
    for pos, at in enumerate(np.asarray(i[0]) % 4):
        if pos == max(p for p, q in enumerate(np.asarray(i[0]) % 4) if q == at):
            expect[pos] = at
    np.testing.assert_array_equal(g, expect)
