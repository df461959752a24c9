"""Index analysis and basic indexing against NumPy, with hypothesis."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_same, split_returned
from hypothesis import example, given
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
        ("eager", mutjax.mutable(kernel, return_argnums=0)),
        ("jit", jax.jit(mutjax.mutable(kernel, return_argnums=0))),
    ]:
        out, (got_x,) = split_returned(f(jnp.asarray(x), *extra), 1, expected)
        assert_same((out, got_x), (expected, expected_x), name)


@given(array_and_basic_index())
def test_basic_read_matches_numpy(data):
    x, idx = data
    _run_both(lambda a: a[idx].copy() if isinstance(a, np.ndarray) else a[idx], x)


@pytest.mark.slow
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


@pytest.mark.slow
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


# --------------------------------------------------------------------------
# The whole grammar: hypothesis draws index expressions that mix every kind
# (ints, slices, `...`, newaxis, int arrays and nested lists, masks, scalar
# booleans); NumPy is the oracle for reads, assignment and augmented
# assignment, eagerly and under jit with the array parts of the index traced.

GRAMMAR_DTYPES = [np.float32, np.int32, np.uint8, np.bool_, np.int8, np.int16, np.complex64]


@st.composite
def _index_item(draw, shape, axis):
    """One entry of an index; ``axis`` is the next axis it would consume."""
    size = shape[axis] if axis < len(shape) else 3
    kind = draw(
        st.sampled_from(
            ["int", "slice", "ellipsis", "new", "array", "list", "mask", "bool0", "int0d", "uarray"]
        )
    )
    if kind == "int":
        return draw(st.integers(-size - 1, size)), 1
    if kind == "int0d":
        return np.array(draw(st.integers(-size, max(size - 1, 0)))), 1
    if kind == "slice":
        bound = st.none() | st.integers(-size - 2, size + 2)
        step = st.none() | st.sampled_from([1, 2, 3, -1, -2])
        return slice(draw(bound), draw(bound), draw(step)), 1
    if kind == "ellipsis":
        return Ellipsis, 0
    if kind == "new":
        return None, 0
    if kind == "bool0":
        return draw(st.booleans()), 0
    if kind == "mask":
        k = draw(st.integers(1, max(1, min(2, len(shape) - axis))))
        mshape = tuple(shape[axis : axis + k]) or (size,)
        if draw(st.integers(0, 9)) == 0:
            mshape = (mshape[0] + 1,) + mshape[1:]  # a mismatched mask now and then
        return draw(hnp.arrays(np.bool_, mshape)), len(mshape)
    ishape = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=3))
    lo = 0 if kind == "uarray" else -size
    hi = size if draw(st.integers(0, 14)) == 0 else max(size - 1, 0)
    if size == 0:
        lo = hi = 0
    arr = draw(hnp.arrays(np.intp, ishape, elements=st.integers(lo, hi)))
    if kind == "uarray":
        return arr.astype(np.uint8), 1
    if kind == "list":
        return arr.tolist(), 1
    return arr, 1


@st.composite
def grammar_case(draw, max_dims=4):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=4))
    dtype = draw(st.sampled_from(GRAMMAR_DTYPES))
    x = draw(hnp.arrays(dtype, shape, elements=_elements(dtype)))
    n = draw(st.integers(1, len(shape) + 2))
    items, axis = [], 0
    for _ in range(n):
        item, used = draw(_index_item(shape, axis))
        items.append(item)
        axis += used
    idx = items[0] if n == 1 and draw(st.booleans()) else tuple(items)
    return x, idx


def _elements_for(dtype, target=None):
    if dtype == np.complex64:
        return st.complex_numbers(max_magnitude=50, width=64)
    if target is not None and np.dtype(target).kind == "u" and np.dtype(dtype).kind in "fi":
        # Negative float -> unsigned is undefined in C (NumPy's result is
        # platform dependent); keep such values non-negative.
        hi = 100 if np.dtype(dtype).kind == "f" else 50
        return st.floats(0, hi, width=32) if np.dtype(dtype).kind == "f" else st.integers(0, hi)
    return _elements(dtype)


def _split(idx):
    """The array parts of ``idx`` (to pass as jit arguments) and a rebuilder."""
    items = idx if type(idx) is tuple else (idx,)
    arrays = [i for i in items if isinstance(i, np.ndarray) and i.ndim > 0 and i.dtype != np.bool_]

    def rebuild(*traced):
        it = iter(traced)
        out = tuple(
            next(it) if isinstance(i, np.ndarray) and i.ndim > 0 and i.dtype != np.bool_ else i
            for i in items
        )
        return out if type(idx) is tuple else out[0]

    return arrays, rebuild


def _numpy_outcome(kernel, x, *extra):
    import warnings

    a = x.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = kernel(a, *extra)
        except (IndexError, ValueError, TypeError, OverflowError) as e:
            return e, None
    return None, (out, a)


def _check_grammar(kernel, x, idx, value=None, traced=True):
    """``kernel(a, idx, value)`` under NumPy, mutjax eagerly and under jit."""
    import warnings

    exc, expected = _numpy_outcome(lambda a: kernel(a, idx, value), x)
    arrays, rebuild = _split(idx)
    runs = [
        ("eager", lambda a: kernel(a, idx, value), ()),
        ("jit", lambda a: kernel(a, idx, value), ()),
    ]
    if traced and arrays:
        # Under jit with the integer arrays of the index traced: out-of-bounds
        # entries cannot raise there, so only cases NumPy accepts are compared.
        runs.append(("jit-traced", lambda a, *t: kernel(a, rebuild(*t), value), arrays))
    for name, body, extra in runs:
        f = mutjax.mutable(body, return_argnums=0)
        if name != "eager":
            f = jax.jit(f)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if exc is not None:
                if name == "jit-traced":
                    continue
                with pytest.raises(type(exc)):
                    f(jnp.asarray(x), *[jnp.asarray(t) for t in extra])
                continue
            got = f(jnp.asarray(x), *[jnp.asarray(t) for t in extra])
        out, (got_x,) = split_returned(got, 1, expected[0])
        assert_same((out, got_x), expected, f"{name} {idx!r}")


def _read(a, idx, value):
    r = a[idx]
    return r.copy() if isinstance(r, np.ndarray) else r


def _assign(a, idx, value):
    a[idx] = value


def _add(a, idx, value):
    a[idx] += value


def _value_for(draw, x, idx):
    """A value for ``x[idx] = value``: broadcastable (mostly), any dtype or kind."""
    try:
        target = np.empty(x.shape, np.int8)[idx].shape
    except (IndexError, ValueError, TypeError):
        target = ()
    kind = draw(st.sampled_from(["scalar", "array", "list", "bad"]))
    vdtype = draw(st.sampled_from(GRAMMAR_DTYPES))
    if x.dtype != np.complex64 and vdtype == np.complex64:
        vdtype = np.float32
    if kind == "scalar":
        return draw(_elements_for(vdtype, x.dtype))
    if kind == "bad":
        vshape = (draw(st.integers(2, 4)),) + tuple(target)
        vshape = tuple(s + 1 for s in vshape)
    else:
        vshape = draw(
            hnp.broadcastable_shapes(target, min_dims=0, max_dims=len(target) + 1, min_side=0)
        )
        if draw(st.booleans()):
            vshape = (1,) + vshape  # NumPy drops leading length-1 axes
    v = draw(hnp.arrays(vdtype, vshape, elements=_elements_for(vdtype, x.dtype)))
    return v.tolist() if kind == "list" else v


@given(grammar_case())
# Found by the fuzz profile: NumPy does not check a boolean index's axes of
# length 0 against the array (an empty mask is valid on any axis).
@example((np.zeros((0, 1), np.float32), (Ellipsis, np.zeros(0, bool))))
@example((np.zeros((3, 5), np.float32), (np.zeros((0, 5), bool),)))
@example((np.zeros((3, 2), np.float32), (slice(None), np.zeros(0, bool))))
def test_grammar_read_matches_numpy(case):
    x, idx = case
    _check_grammar(_read, x, idx)


@given(grammar_case(), st.data())
def test_grammar_assignment_matches_numpy(case, data):
    x, idx = case
    _check_grammar(_assign, x, idx, _value_for(data.draw, x, idx))


@given(grammar_case(), st.data())
def test_grammar_augmented_assignment_matches_numpy(case, data):
    x, idx = case
    if x.dtype == np.bool_:
        x = x.astype(np.int16)
    value = data.draw(st.integers(0, 3) | hnp.arrays(x.dtype, (1,), elements=st.integers(0, 3)))
    _check_grammar(_add, x, idx, value)


# --------------------------------------------------------------------------
# The stages of the analysis on their own (parse, expand, normalize, the
# placement of the advanced block, the result shape), NumPy as the oracle.


@given(grammar_case())
@example((np.zeros((2, 3), np.int8), (None, [0, 1], Ellipsis, [0, 1])))
@example((np.zeros((2, 3, 4), np.int8), (slice(None), [0, 1], None, [0, 1])))
@example((np.zeros((2, 3, 4), np.int8), (0, slice(None), True)))
@example((np.zeros((3,), np.int8), (np.array([5]), np.zeros(0, np.intp))))
# Found by the fuzz profile: NumPy's broadcast error leaves integers out.
@example((np.zeros((0, 0, 1), np.int8), (np.array([0, 0]), np.zeros(0, bool), 0)))
def test_analysis_result_shape_and_errors_match_numpy(case):
    x, idx = case
    shape = x.shape
    try:
        expected = np.empty(shape, np.int8)[idx].shape
    except (IndexError, ValueError, TypeError) as e:
        with pytest.raises(type(e)) as info:
            _index.analyze(idx, shape)
        assert str(info.value) == str(e)
        # A write defers only the bounds of index arrays, with NumPy's message.
        try:
            ix = _index.analyze(idx, shape, for_write=True)
        except type(e) as again:
            assert str(again) == str(e)
        else:
            assert str(ix.pending) == str(e)
        return
    ix = _index.analyze(idx, shape)
    assert ix.result_shape == expected
    assert len(ix.entries) == len(shape)


@pytest.mark.parametrize(
    "item,kind",
    [
        (None, "new"),
        (Ellipsis, "ellipsis"),
        (slice(1, None), "slice"),
        (True, "bool0"),
        (np.bool_(False), "bool0"),
        (np.array(True), "bool0"),  # a 0-d boolean array is a scalar boolean
        (3, "int"),
        (np.int8(-1), "int"),
        (np.array(2), "int"),  # a 0-d integer array is an integer
        (jnp.asarray(2), "int"),
        ([0, 1], "array"),
        ([], "array"),  # NumPy reads `[]` as an empty integer array
        (np.array([1], np.uint8), "array"),
        ([True, False], "mask"),
        (np.ones((2, 2), bool), "mask"),
    ],
)
def test_parse_classifies_static_entries(item, kind):
    (parsed,) = _index.parse((item,))
    assert parsed.kind == kind


def test_parse_classifies_traced_entries():
    kinds = []

    def body(i, a, m, m0):
        kinds.extend(p.kind for p in _index.parse((i, a, m, m0, [i, 0], slice(i, None))))
        return i

    jax.make_jaxpr(body)(np.int32(1), np.arange(3), np.ones(3, bool), np.bool_(True))
    # A list holding a traced scalar is one traced integer array; a traced
    # slice bound leaves the entry a slice (it becomes a DynSlice later).
    assert kinds == ["tint", "tarray", "tmask", "tmask", "tarray", "slice"]


@given(grammar_case())
def test_expand_gives_every_axis_one_entry_in_order(case):
    x, idx = case
    try:
        np.empty(x.shape, np.int8)[idx]
    except (IndexError, ValueError, TypeError):
        return
    parsed = _index.parse(idx)
    expanded = _index.expand(parsed, x.shape, _index.count_axes(parsed, x.ndim))
    assert [e.axis for e in expanded if e.axis is not None] == list(range(x.ndim))
    assert {e.kind for e in expanded} <= {"new", "bool0", "gap", "slice", "int", "array"}


def test_expand_splits_a_static_mask_into_its_nonzero_arrays():
    mask = np.array([[True, False, True], [False, True, True]])
    parsed = _index.parse((0, mask))
    expanded = _index.expand(parsed, (4, 2, 3, 5), _index.count_axes(parsed, 4))
    assert [(e.kind, e.axis) for e in expanded] == [
        ("int", 0),
        ("array", 1),
        ("array", 2),
        ("slice", 3),
    ]
    for got, want in zip([e.value for e in expanded[1:3]], np.nonzero(mask)):
        np.testing.assert_array_equal(got, want)


@given(st.integers(0, 6), st.data())
def test_normalize_slice_selects_what_numpy_selects(size, data):
    bound = st.none() | st.integers(-size - 3, size + 3)
    step = st.none() | st.integers(-4, 4).filter(bool)
    s = slice(data.draw(bound), data.draw(bound), data.draw(step))
    sl = _index.normalize_slice(s, size)
    np.testing.assert_array_equal(sl.start + sl.step * np.arange(sl.length), np.arange(size)[s])
