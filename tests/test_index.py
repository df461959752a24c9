"""Index analysis and basic indexing against NumPy, with hypothesis."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_same
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import mutjax
from mutjax import _index

DTYPES = [np.float32, np.int32, np.uint8, np.bool_, np.int8, np.float16]


@st.composite
def array_and_basic_index(draw, max_dims=4):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=5))
    dtype = draw(st.sampled_from(DTYPES))
    x = draw(hnp.arrays(dtype, shape, elements=_elements(dtype)))
    idx = draw(hnp.basic_indices(shape, min_dims=0, allow_newaxis=True, allow_ellipsis=True))
    return x, idx


def _elements(dtype):
    if dtype == np.bool_:
        return st.booleans()
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return st.integers(max(info.min, -50), min(info.max, 50))
    return st.floats(-100, 100, width=16 if dtype == np.float16 else 32)


def _run_both(kernel, x, *extra):
    """Same kernel under NumPy and mutjax: same results, or same exception type."""
    expected_x = x.copy()
    try:
        expected = kernel(expected_x, *extra)
    except (IndexError, ValueError, TypeError) as e:
        for f in (mutjax.mutable(kernel), jax.jit(mutjax.mutable(kernel))):
            with pytest.raises(type(e)):
                f(jnp.asarray(x), *extra)
        return
    for name, f in [
        ("eager", mutjax.mutable(kernel, return_args=True)),
        ("jit", jax.jit(mutjax.mutable(kernel, return_args=True))),
    ]:
        out, (got_x, *_), _ = f(jnp.asarray(x), *extra)
        assert_same((out, got_x), (expected, expected_x), name)


@given(array_and_basic_index())
def test_basic_read_matches_numpy(data):
    x, idx = data
    _run_both(lambda a: a[idx].copy() if isinstance(a, np.ndarray) else a[idx], x)


@given(array_and_basic_index(), st.data())
def test_basic_assignment_matches_numpy(data, draw):
    x, idx = data
    target = np.empty(x.shape)[idx].shape
    vshape = draw.draw(
        hnp.broadcastable_shapes(target, min_dims=0, max_dims=len(target) + 1, min_side=0)
    )
    value = draw.draw(hnp.arrays(x.dtype, vshape, elements=_elements(x.dtype)))

    def kernel(a, v):
        a[idx] = v

    _run_both(kernel, x, value)


@given(array_and_basic_index(), st.sampled_from(["+=", "*=", "-="]), st.data())
def test_basic_augmented_assignment_matches_numpy(data, op, draw):
    x, idx = data
    if x.dtype == np.bool_:
        x = x.astype(np.int32)
    value = draw.draw(st.integers(0, 3))

    def kernel(a):
        if op == "+=":
            a[idx] += value
        elif op == "*=":
            a[idx] *= value
        else:
            a[idx] -= value

    _run_both(kernel, x)


def test_analysis_classifies_entries():
    ix = _index.analyze((1, slice(None, None, -2), None, Ellipsis), (3, 5, 2))
    assert ix.entries == (_index.Int(1), _index.Slice(4, -2, 3), _index.Slice(0, 1, 2))
    assert ix.out == (1, _index.NEW, 2)
    assert ix.result_shape == (3, 1, 2)
    assert ix.is_basic and ix.is_static


@pytest.mark.parametrize(
    "idx,shape,exc",
    [
        ((0, 0, 0), (2, 2), IndexError),
        (3, (3,), IndexError),
        (-4, (3,), IndexError),
        (np.float32(1), (3,), IndexError),
        (np.array([1.0]), (3,), IndexError),
        ({}, (3,), IndexError),
        ((Ellipsis, 0, Ellipsis), (3,), IndexError),
        (slice(None, None, 0), (3,), ValueError),
        (slice(0.5, None), (3,), TypeError),
        ([[0, 1], [0]], (3,), ValueError),
        (np.array([True, False]), (3,), IndexError),
        (([0, 1], [0, 1, 2]), (3, 3), IndexError),
    ],
)
def test_analysis_raises_numpys_exceptions(idx, shape, exc):
    with pytest.raises(exc):
        np.zeros(shape)[idx]
    with pytest.raises(exc):
        _index.analyze(idx, shape)


@pytest.mark.parametrize(
    "kernel",
    [
        lambda a: a.__setitem__((slice(1, 3), 0), 1.0),
        lambda a: a.__setitem__((1, slice(None, None, 2)), 1.0),
        lambda a: a.__setitem__((slice(None, None, -1), 2), 1.0),
        lambda a: a.__getitem__((slice(1, 3), slice(None, None, -2))),
    ],
)
def test_static_basic_indices_lower_without_gather_or_scatter(kernel):
    jaxpr = jax.make_jaxpr(mutjax.mutable(kernel))(jnp.zeros((4, 5)))
    prims = {e.primitive.name for e in jaxpr.jaxpr.eqns}
    assert not prims & {"gather", "scatter", "scatter-add"}, prims
