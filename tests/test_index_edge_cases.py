"""Edge cases of index parsing and lowering, each against NumPy.

Tuple subclasses and ``__array__`` objects as indices, 64-bit index values
with x64 off, traced indices into empty axes, index dtypes with x64 on,
checkify's bounds messages through views, and 0-d index arrays (a 0-d
*array* result, not a scalar).
"""

import collections

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_same, sampled, split_returned
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from jax.experimental import checkify

import mutjax

ERRORS = (IndexError, ValueError, TypeError)


def _numpy(kernel, args):
    """``kernel`` under NumPy on copies of ``args``: (result, args after) or the exception.

    A 0-d array argument is passed as a NumPy scalar, the NumPy twin of a JAX
    scalar (a 0-d NumPy array as an index gives a copy, a scalar a view).
    """
    copies = [
        (a[()] if a.ndim == 0 else a.copy()) if isinstance(a, np.ndarray) else a for a in args
    ]
    try:
        out = kernel(*copies)
    except ERRORS as e:
        return e
    return out, copies


def _mutjax_variants(kernel, static_argnums=()):
    return [
        ("eager", mutjax.mutable(kernel, return_argnums=0)),
        ("jit", jax.jit(mutjax.mutable(kernel, return_argnums=0), static_argnums=static_argnums)),
    ]


def run_both(kernel, *args, static_argnums=()):
    """Same kernel under NumPy, mutjax and ``jit(mutjax)``: same values, or same exception type.

    NumPy arrays among ``args`` are passed as JAX arrays to mutjax (traced
    under jit); other arguments are passed as they are. The result and the
    first argument afterwards are compared (the others are indices, which
    JAX may narrow).
    """
    expected = _numpy(kernel, args)
    jargs = [
        jnp.asarray(a) if isinstance(a, np.ndarray) and i not in static_argnums else a
        for i, a in enumerate(args)
    ]
    for name, f in _mutjax_variants(kernel, static_argnums):
        if isinstance(expected, Exception):
            # (NumPy's UFuncTypeError is a TypeError)
            with pytest.raises(next(t for t in ERRORS if isinstance(expected, t))):
                f(*jargs)
            continue
        want_out, want_args = expected
        out, (got_arg,) = split_returned(f(*jargs), 1, want_out)
        assert_same((out, got_arg), (want_out, want_args[0]), name)


def _copy(r):
    # A view returned from the kernel would show the writes after it.
    return r.copy() if hasattr(r, "copy") else r


# -- tuple subclasses: a tuple of entries, as in NumPy --------------------------------


class T(tuple):
    pass


class Reversed(tuple):
    """A tuple subclass with its own iteration: NumPy unpacks it through ``__iter__``."""

    def __iter__(self):
        return iter(tuple(reversed(tuple.__getitem__(self, slice(None)))))


Pair = collections.namedtuple("Pair", "row col")


@pytest.mark.parametrize(
    "make",
    [T, lambda t: Pair(*t), Reversed],
    ids=["subclass", "namedtuple", "own-iter"],
)
def test_tuple_subclass_is_a_tuple_of_entries(make):
    def kernel(a):
        a[make(([1], [2]))] = 7
        r = _copy(a[make(([1], [2]))])
        a[make((0, slice(1, None)))] += 1
        return r

    run_both(kernel, np.zeros((3, 4), np.float32))


def test_tuple_subclass_as_one_entry_is_an_index_array():
    # Inside a tuple, a tuple (subclass or not) is one array-like entry.
    def kernel(a):
        a[(T(([1], [1])),)] = 5
        return _copy(a[(T(([1, 2], [0, 1])), 0)])

    run_both(kernel, np.arange(12, dtype=np.int32).reshape(3, 4))


@st.composite
def shape_and_index(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    kind = draw(st.sampled_from(["basic", "array"]))
    if kind == "basic":
        idx = draw(hnp.basic_indices(shape, min_dims=0, allow_newaxis=True, allow_ellipsis=True))
    else:
        idx = draw(hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(max_dims=2)))
    return shape, idx if isinstance(idx, tuple) else (idx,)


@given(shape_and_index())
def test_tuple_subclass_matches_numpy_for_any_index(data):
    shape, idx = data

    def kernel(a):
        r = _copy(a[T(idx)])
        a[T(idx)] = -1
        return r

    run_both(kernel, np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape))


# -- objects with __array__ ------------------------------------------------------------


class ArrayLike:
    def __init__(self, value):
        self.value = value

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.value, dtype)


class IndexAndArray(ArrayLike):
    """``__index__`` wins over ``__array__`` in NumPy's prepare_index."""

    def __index__(self):
        return 1


@pytest.mark.parametrize(
    "value",
    [[0, 2], [[1], [0]], [True, False, True, False], [], 1, [0.5], [7]],
    ids=["ints", "2d", "mask", "empty", "0d", "float", "out-of-bounds"],
)
def test_array_protocol_object_as_index(value):
    def kernel(a):
        r = _copy(a[0, ArrayLike(value)])
        a[0, ArrayLike(value)] = 3
        a[ArrayLike(value)] += 1
        return r

    run_both(kernel, np.arange(12, dtype=np.float32).reshape(3, 4))


def test_index_method_wins_over_array_protocol():
    def kernel(a):
        a[IndexAndArray([0, 2])] = 5
        return _copy(a[IndexAndArray([0, 2])])

    run_both(kernel, np.zeros((3, 2), np.int32))


def test_array_protocol_0d_index_gives_a_copy():
    # A 0-d array converted from `__array__` is NumPy's HAS_SCALAR_ARRAY:
    # `a[AL(1)]` is a copy, so writing into it leaves `a` alone.
    def kernel(a):
        row = a[ArrayLike(1)]
        row[0] = 99
        return _copy(row)

    run_both(kernel, np.arange(6, dtype=np.int32).reshape(2, 3))


@given(
    hnp.arrays(
        np.int64, hnp.array_shapes(min_dims=1, max_dims=2, max_side=4), elements=st.integers(-5, 4)
    )
)
def test_array_protocol_index_matches_numpy(idx):
    def kernel(a):
        r = _copy(a[ArrayLike(idx)])
        a[ArrayLike(idx)] = -1
        return r

    run_both(kernel, np.arange(20, dtype=np.int32).reshape(5, 4))


# -- 64-bit index values with x64 off --------------------------------------------------

BIG = [
    np.int64(2**32 + 1),
    np.uint64(2**32 + 1),
    np.int64(-(2**32)),
    2**32 + 1,
    2**31,
    np.array([2**32 + 1]),
    np.array([1, 2**40], np.int64),
    np.array(2**32 + 1),
]


@pytest.mark.parametrize("i", BIG, ids=repr)
def test_large_index_value_passed_in_raises_index_error(i):
    def kernel(x, i):
        x[i] = 9
        return _copy(x[i])

    x = np.zeros(4, np.float32)
    assert isinstance(_numpy(kernel, (x, i)), IndexError)
    with pytest.raises(IndexError):
        mutjax.mutable(kernel)(jnp.asarray(x), i)
    if not isinstance(i, np.ndarray):
        # Under jit the value is static only where the argument is (JAX
        # itself narrows a traced NumPy int64 argument).
        with pytest.raises(IndexError):
            jax.jit(mutjax.mutable(kernel), static_argnums=1)(jnp.asarray(x), i)


@pytest.mark.parametrize("i", BIG[:3], ids=repr)
def test_large_index_value_inside_a_list_or_tuple(i):
    def kernel(x, i):
        return _copy(x[[0, i]]), _copy(x[0, i])

    run_both(kernel, np.zeros((4, 4), np.float32), i, static_argnums=(1,))
    with pytest.raises(IndexError):
        mutjax.mutable(kernel)(jnp.zeros((4, 4)), i)


@pytest.mark.parametrize(
    "i", [np.int64(-1), np.int64(3), np.uint64(2), np.array([3, -4], np.int64)]
)
def test_in_range_64_bit_index_values_passed_in(i):
    def kernel(x, i):
        x[i] += 1
        return _copy(x[i])

    run_both(kernel, np.arange(4, dtype=np.float32), i)


def test_large_index_value_written_first_is_the_written_value():
    def kernel(x, i):
        i[0] = 2
        x[i] = 9
        return _copy(x[i])

    run_both(kernel, np.zeros(4, np.float32), np.array([2**32 + 1]))


# -- traced indices into an empty axis -------------------------------------------------


def _traced_both(kernel, x, i):
    """NumPy with ``i`` concrete; mutjax eager, and jit with ``i`` traced."""
    run_both(kernel, x, np.asarray(i))


@pytest.mark.parametrize(
    "shape,index",
    [
        ((0,), lambda i: i),
        ((0, 3), lambda i: i),
        ((0, 0), lambda i: i),
        ((3, 0), lambda i: (slice(None), i)),
        ((0, 3), lambda i: (i, slice(1, None))),
        ((0, 3), lambda i: i[None]),
        ((0, 3), lambda i: (i, i[None])),
        ((2, 0), lambda i: (i[None] * 0, i)),
    ],
)
@pytest.mark.parametrize("i", [0, -1, 2])
def test_traced_index_into_empty_axis_raises_index_error(shape, index, i):
    def read(x, i):
        return _copy(x[index(i)])

    def write(x, i):
        x[index(i)] = 1
        return x.sum()

    x = np.zeros(shape, np.float32)
    _traced_both(read, x, i)
    _traced_both(write, x, i)


def test_traced_index_array_with_empty_broadcast_into_empty_axis():
    # NumPy checks the bounds of index arrays over their broadcast: an
    # empty broadcast indexes nothing, so it is valid on an empty axis.
    def kernel(x, i):
        idx = i[:0]
        r = _copy(x[idx])
        x[idx] = 1
        return r

    _traced_both(kernel, np.zeros((0, 3), np.float32), np.array([0, 1]))


@given(
    hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=3),
    st.integers(-3, 3),
    st.data(),
)
def test_traced_integer_matches_numpy_on_any_shape(shape, i, data):
    axis = data.draw(st.integers(0, len(shape) - 1))
    idx = (slice(None),) * axis

    def read(x, i):
        return _copy(x[idx + (i,)])

    def write(x, i):
        x[idx + (i,)] = 2
        return x.sum()

    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    if shape[axis] == 0 or -shape[axis] <= i < shape[axis]:
        # (out of bounds on a non-empty axis, a traced index clamps / drops)
        _traced_both(read, x, i)
        _traced_both(write, x, i)


# -- index dtypes with x64 on ----------------------------------------------------------

INDEX_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32, np.uint64]


def _window_kernels():
    def reads(a, i, j):
        v = a[1:]
        return (
            _copy(a[i]),
            _copy(a[i, 1]),
            _copy(a[1, j]),
            _copy(a[i, 1:3]),
            _copy(a[1:, j]),
            _copy(a[i, j]),
            _copy(v[i]),
            _copy(v[i][j]),
            _copy(a[:, 1:][j][i]),
        )

    def writes(a, i, j):
        a[i, 1] = -1
        a[1, j] = -2
        a[i, 1:3] = -3
        a[i, ::2] = -4
        a[i, j] = -5
        v = a[1:]
        v[i, 0] = -6
        w = a[:, 1:][j]
        w[i] = -7
        a[i][::2][j] = -8
        return a.sum()

    return [reads, writes]


@sampled("kernel", _window_kernels(), every=3, ids=lambda k: k.__name__)
@pytest.mark.parametrize("dt_i", INDEX_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("dt_j", [np.int32, np.int64, np.uint64], ids=lambda d: np.dtype(d).name)
def test_mixed_index_dtypes_with_x64(kernel, dt_i, dt_j):
    with jax.enable_x64(True):
        a = np.arange(60, dtype=np.float64).reshape(3, 4, 5)
        run_both(kernel, a, np.asarray(1, dt_i), np.asarray(1, dt_j))


@given(
    st.sampled_from(INDEX_DTYPES),
    st.sampled_from(INDEX_DTYPES),
    st.integers(0, 2),
    st.integers(-3, 2),
    st.booleans(),
)
def test_index_dtypes_with_x64_match_numpy(dt_i, dt_j, i, j, view):
    j = j % 3 if np.dtype(dt_j).kind == "u" else j  # in bounds: traced writes drop

    def kernel(a, i, j):
        t = a[1:] if view else a
        r = _copy(t[i, 2:, j])
        t[i, ::2, j] = -1
        t[j, i] = -2
        return r

    with jax.enable_x64(True):
        run_both(
            kernel,
            np.arange(120, dtype=np.int64).reshape(4, 6, 5),
            np.asarray(i, dt_i),
            np.asarray(j, dt_j),
        )


@pytest.mark.parametrize("dt", [np.int8, np.uint8, np.int16])
@pytest.mark.parametrize("x64", [False, True])
def test_narrow_index_dtype_on_a_long_axis(dt, x64):
    # An int8 -3 on an axis of 600 is 597, which int8 cannot hold.
    i = -3 if np.dtype(dt).kind == "i" else 3

    def kernel(a, i):
        v = a[290:]
        r = (_copy(a[i]), _copy(v[i]))
        v[i] = -1
        a[i] = -2
        a[i, ::2] = -3
        return r

    with jax.enable_x64(x64):
        run_both(kernel, np.arange(1800, dtype=np.float32).reshape(600, 3), np.asarray(i, dt))


# -- checkify through views ------------------------------------------------------------


def _numpy_message(kernel, x, i):
    try:
        kernel(x.copy(), i)
    except IndexError as e:
        return str(e)
    return None


@pytest.mark.parametrize(
    "shape,view",
    [
        ((4,), lambda x: x[1:]),
        ((4,), lambda x: x[::-1][1:]),
        ((4, 4), lambda x: x[1:, ::2]),
        ((4, 4), lambda x: x[1:, ::2][0]),
        ((4, 4), lambda x: x.T[2:]),
    ],
)
@pytest.mark.parametrize("op", ["write", "read", "iadd"])
@sampled("i", [3, -4, 2, 7], every=2)
def test_checkify_reports_in_the_views_terms(shape, view, op, i):
    def kernel(x, i):
        v = view(x)
        if op == "write":
            v[i] = 5
        elif op == "iadd":
            v[i] += 5
        else:
            return v[i].sum()
        return x.sum()

    want = _numpy_message(kernel, np.zeros(shape, np.float32), i)
    f = checkify.checkify(jax.jit(mutjax.mutable(kernel)), errors=checkify.index_checks)
    err, _ = f(jnp.zeros(shape), i)
    got = err.get()
    if want is None:
        assert got is None, got
    else:
        assert got is not None and want in got, (want, got)


@given(st.integers(0, 5), st.integers(-8, 8), st.integers(-8, 8))
def test_checkify_view_message_matches_numpy(start, i, j):
    def kernel(x, i, j):
        v = x[start:]
        v[i, j] = 1
        return x.sum()

    want = None
    try:
        kernel(np.zeros((6, 5), np.float32), i, j)
    except IndexError as e:
        want = str(e)
    f = checkify.checkify(jax.jit(mutjax.mutable(kernel)), errors=checkify.index_checks)
    got = f(jnp.zeros((6, 5)), i, j)[0].get()
    assert (got is None) if want is None else (got is not None and want in got), (want, got)


# -- 0-d index arrays: a 0-d array, not a scalar ----------------------------------------


@pytest.mark.parametrize(
    "index,shape",
    [
        ((Ellipsis, np.array(0)), (1,)),
        ((np.array(0), Ellipsis), (1,)),
        ((Ellipsis, 0), (1,)),
        (np.array(0), (1,)),
        (0, (1,)),
        ((np.array(0), np.array(1)), (1, 2)),
        ((Ellipsis, np.array(0), np.array(1)), (1, 2)),
        ((np.array(0), Ellipsis, 1), (1, 2)),
    ],
    ids=repr,
)
@pytest.mark.parametrize("value", [np.array([0.0]), np.array(2.0), 1.5, np.array([[1.0]])])
def test_inplace_on_0d_index_result(index, shape, value):
    # NumPy: with an integer on every axis and nothing else the result is a
    # scalar, whose `+=` rebinds; otherwise (`...`, a 0-d array among them)
    # a 0-d array, whose `+=` is in place and refuses a value of shape (1,).
    def kernel(a):
        a[index] += value
        return a.sum()

    run_both(kernel, np.zeros(shape, np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_0d_index_array_result_is_a_copy_with_in_place_semantics(dtype):
    def kernel(a):
        t = a[..., np.array(1)]
        t += 2  # in place on the copy
        u = t
        u += 1  # `t` too: same object
        return _copy(t), _copy(a[..., np.array(1)])

    run_both(kernel, np.arange(3, dtype=dtype))


def test_0d_index_array_int_copy_refuses_a_float_in_place():
    def kernel(a):
        t = a[..., np.array(1)]
        t += 1.5
        return _copy(t)

    run_both(kernel, np.arange(3, dtype=np.int32))
