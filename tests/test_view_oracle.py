"""Views versus copies from every kind of index, with NumPy as the oracle.

Each example draws an array, a chain of derivations (an index from the
whole grammar, ``.T``, ``reshape``, ``ravel``, ``.real``, ``.imag``; for
the first property also ``v * 2``, ``-v`` and ``v.copy()``, whose 0-d
results are NumPy scalars or 0-d arrays as in NumPy) and writes through
the result (``v[...] = c``, ``v[0] = c``, ``v += 1``), and
runs the same kernel on NumPy and under ``jax.jit(mutjax.mutable(...))``:
the base, the result and a second name bound to the result before the
writes must agree in values, shapes and dtypes, so a write reaches the base
exactly when NumPy's result is a view of it. Where NumPy raises, mutjax must
raise the same exception type while tracing. A second property uses the
derived array as an index into another array.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_same, examples
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import mutjax

# -- the index grammar ----------------------------------------------------------------


def _int_entry(draw: Any, n: int) -> Any:
    # Mostly in bounds; now and then one past either end (NumPy's IndexError).
    wild = n == 0 or draw(st.integers(0, 9)) == 0
    k = draw(st.integers(-n - 1, n) if wild else st.integers(-n, n - 1))
    form = draw(st.sampled_from(["int", "int", "np.int64", "np.int32", "0-d", "0-d int32"]))
    if form == "np.int64":
        return np.int64(k)
    if form == "np.int32":
        return np.int32(k)
    if form == "0-d":
        return np.array(k)
    if form == "0-d int32":
        return np.array(k, np.int32)
    return k


def _array_entry(draw: Any, n: int, length: int, kind: str) -> Any:
    values = st.integers(-n, n - 1) if n else st.just(0)
    ks = [draw(values) for _ in range(length)]
    if kind == "list":
        return ks
    return np.array(ks, draw(st.sampled_from([np.int64, np.int32, np.intp])))


# Integers weigh most: an integer on every axis is where views end (NumPy scalars).
_KINDS = ["int"] * 4 + ["slice"] * 2 + ["none", "array", "list", "mask", "bool0"]


@st.composite
def any_index(draw: Any, shape: tuple[int, ...]) -> Any:
    """An index of any kind NumPy accepts for ``shape`` (and a few it refuses)."""
    n_axes = draw(st.sampled_from([len(shape)] * 2 + list(range(len(shape)))))
    length = draw(st.integers(1, 3))  # one length for every array entry: they broadcast
    entries: list[Any] = []
    axis = 0
    while axis < n_axes:
        n = shape[axis]
        kind = draw(st.sampled_from(_KINDS))
        if kind == "none":
            entries.append(None)
            continue
        if kind == "bool0":
            entries.append(draw(st.sampled_from([True, False, np.True_])))
            continue
        if kind == "int":
            entries.append(_int_entry(draw, n))
        elif kind == "slice":
            entries.append(draw(st.slices(n)))
        elif kind == "mask":
            # Over one axis, or over every axis left (a mask of several axes).
            width = draw(st.sampled_from([1, n_axes - axis]))
            entries.append(draw(hnp.arrays(np.bool_, shape[axis : axis + width])))
            axis += width
            continue
        else:
            entries.append(_array_entry(draw, n, length, kind))
        axis += 1
    if draw(st.booleans()):
        entries.insert(draw(st.integers(0, len(entries))), Ellipsis)
    if len(entries) == 1 and draw(st.booleans()):
        return entries[0]
    return tuple(entries)


# -- the programs -----------------------------------------------------------------------


def _derive(v: Any, step: tuple[Any, ...]) -> Any:
    kind = step[0]
    if kind == "index":
        return v[step[1]]
    if kind == "T":
        return v.T
    if kind == "reshape":
        return v.reshape(step[1])
    if kind == "ravel":
        return v.ravel()
    if kind == "real":
        return v.real
    if kind == "imag":
        return v.imag
    if kind == "times":
        return v * 2  # a new array; a NumPy scalar where it is 0-d
    if kind == "neg":
        return -v
    return v.copy()  # a 0-d array's copy is a 0-d array, a NumPy scalar's a scalar


def _write(v: Any, step: tuple[Any, ...]) -> Any:
    kind = step[0]
    if kind == "fill":
        v[...] = step[1]
    elif kind == "first":
        v[0] = step[1]
    elif kind == "empty":
        v[()] = step[1]
    else:
        v += 1  # a NumPy scalar rebinds the name, an array changes in place
    return v


def _is_array(v: Any) -> bool:
    return isinstance(v, np.ndarray)


@st.composite
def derivations(draw: Any, base: np.ndarray, computed: bool = False) -> list[tuple[Any, ...]]:
    """Steps from ``base`` to one derived array, drawn on NumPy itself.

    With ``computed``, a step may also compute a new array (``v * 2``,
    ``-v``, ``v.copy()``): on a 0-d array or a NumPy scalar the first two give
    a NumPy scalar, the copy a 0-d array or a scalar as its source; and a
    NumPy scalar may take further steps, each on a temporary 0-d array.
    """
    steps: list[tuple[Any, ...]] = []
    v: Any = base
    kinds = ["index", "index", "index", "T", "reshape", "ravel", "real", "imag"]
    if computed:
        kinds += ["times", "neg", "copy"]
    for _ in range(draw(st.integers(1, 3))):
        if not _is_array(v):
            if not computed or draw(st.booleans()):
                break  # a NumPy scalar: nothing more to derive, or one more step
        kind = draw(st.sampled_from(kinds))
        if kind == "index":
            step: tuple[Any, ...] = ("index", draw(any_index(np.shape(v))))
        elif kind == "reshape":
            step = ("reshape", draw(st.sampled_from([-1, (1, -1), (-1, 1)])))
        else:
            step = (kind,)
        steps.append(step)
        try:
            v = _derive(v, step)
        except Exception:
            break  # NumPy refuses it: the last step of this program
    return steps


_WRITES = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["fill", "first", "empty"]), st.integers(-9, 9)),
        st.just(("iadd",)),
    ),
    min_size=1,
    max_size=2,
)


def _kernel(steps: list[tuple[Any, ...]], writes: list[tuple[Any, ...]]) -> Any:
    def kernel(x):
        v = x
        for step in steps:
            v = _derive(v, step)
        w = v  # a second name: an in-place write changes it, a rebinding does not
        for step in writes:
            v = _write(v, step)
        return x, v, w

    return kernel


def _numpy(kernel: Any, *args: np.ndarray) -> tuple[Any, BaseException | None]:
    try:
        return kernel(*(a.copy() for a in args)), None
    except Exception as e:  # the oracle's answer is its exception
        return None, e


def _check(kernel: Any, *args: np.ndarray, what: str, eager: bool = False) -> None:
    expected, error = _numpy(kernel, *args)
    runs = [jax.jit(mutjax.mutable(kernel))] + ([mutjax.mutable(kernel)] if eager else [])
    for run in runs:
        if error is not None:
            with pytest.raises(type(error)):
                run(*(jnp.asarray(a) for a in args))
            continue
        got = run(*(jnp.asarray(a) for a in args))
        assert_same(got, expected, what)


_DTYPES = st.sampled_from([np.float32, np.int32, np.complex64])


def _base(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    base = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    if np.dtype(dtype).kind == "c":
        return np.asarray(base + 0.5j * base, dtype)
    return base.astype(dtype)


def _writes_match(data: Any, shape: tuple[int, ...], dtype: Any) -> None:
    base = _base(shape, dtype)
    steps = data.draw(derivations(base, computed=True), "steps")
    writes = data.draw(_WRITES, "writes")
    _check(_kernel(steps, writes), base, what=f"{steps} then {writes}")


@given(
    data=st.data(),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
    dtype=_DTYPES,
)
def test_writes_through_derived_arrays_match_numpy(data, shape, dtype):
    _writes_match(data, shape, dtype)


@pytest.mark.slow
@settings(max_examples=examples(500))
@given(
    data=st.data(),
    shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4),
    dtype=_DTYPES,
)
def test_writes_through_derived_arrays_match_numpy_long(data, shape, dtype):
    _writes_match(data, shape, dtype)


def _index_kernel(steps: list[tuple[Any, ...]], use: str, writes: list[tuple[Any, ...]]) -> Any:
    def kernel(p, y):
        ind = p
        for step in steps:
            ind = _derive(ind, step)
        r = y[ind] if use == "alone" else y[ind, 1:] if use == "then slice" else y[..., ind]
        for step in writes:
            r = _write(r, step)
        y[ind] += 1  # through the index itself: always reaches y
        return p, ind, y, r

    return kernel


def _indices_match(data: Any, shape: tuple[int, ...], y_shape: tuple[int, ...], use: str) -> None:
    p = (np.arange(int(np.prod(shape))) % 3 - 1).astype(np.int32).reshape(shape)
    y = np.arange(int(np.prod(y_shape)), dtype=np.float32).reshape(y_shape)
    steps = data.draw(derivations(p), "steps")
    writes = data.draw(_WRITES, "writes")
    _check(_index_kernel(steps, use, writes), p, y, what=f"y[{use}] by {steps} then {writes}")


# Not 0-d: a kernel's 0-d argument used as an index is an integer in mutjax
# (under jit it may stand for a Python int) and an array in NumPy
# (docs/views.md); the 0-d arrays derived from it are drawn.
_INDEX_SHAPES = hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=3)
_Y_SHAPES = st.sampled_from([(3,), (3, 3), (3, 2, 2)])
_USES = st.sampled_from(["alone", "then slice", "after ellipsis"])


@given(data=st.data(), shape=_INDEX_SHAPES, y_shape=_Y_SHAPES, use=_USES)
def test_derived_arrays_used_as_indices_match_numpy(data, shape, y_shape, use):
    _indices_match(data, shape, y_shape, use)


@pytest.mark.slow
@settings(max_examples=examples(500))
@given(data=st.data(), shape=_INDEX_SHAPES, y_shape=_Y_SHAPES, use=_USES)
def test_derived_arrays_used_as_indices_match_numpy_long(data, shape, y_shape, use):
    _indices_match(data, shape, y_shape, use)


# -- the cases the oracle found, written out --------------------------------------------


def test_full_integer_index_is_a_numpy_scalar():
    def assign(x):
        v = x[1, 2]
        v[...] = 99.0

    with pytest.raises(TypeError, match=r"A\[1, 2\] = value") as err:
        jax.jit(mutjax.mutable(assign))(jnp.zeros((3, 4)))
    assert "test_view_oracle.py" in str(err.value)  # the user's line
    with pytest.raises(TypeError):
        assign(np.zeros((3, 4)))


def _scalar_rebinds(x):
    v = x[1, 2]
    w = v
    v += 1  # a NumPy scalar: a new value for v, w keeps the old one
    x[0, 0] += 1  # still changes x
    return x, v, w


def _zero_d_view_index_copies(p, y):
    c = p[..., np.array(0)]  # a 0-d array, not a NumPy scalar
    r = y[c]
    r[...] = 7.0  # a copy: y keeps its row
    s = y[p[1, ...], 1:]
    s += 1
    return y, r, s


def _parts(x):
    x.real[0] = 5
    x.imag[1, ::2] += 2
    r = x.real.ravel()  # every other real of the buffer: a copy
    r[0] = -1
    t = x.imag.reshape(-1)  # a view
    t[-1] = -2
    return x, r, t


def _numpy_parts(x):
    np.real(x)[0] = 5  # NumPy's functions give the attributes' views
    np.imag(x)[1] += 2
    return x, np.imag(x[:, 1:])


def _scalar_methods(x):
    v = x[1, 2]
    v.fill(3.0)  # NumPy scalar methods change a temporary: nothing happens
    v.put(0, 4.0)
    return x, v


@pytest.mark.parametrize(
    "kernel, args",
    [
        (_scalar_rebinds, (np.arange(12.0, dtype=np.float32).reshape(3, 4),)),
        (
            _zero_d_view_index_copies,
            (np.array([1, 2, 0], np.int32), np.arange(12.0, dtype=np.float32).reshape(3, 4)),
        ),
        (_parts, ((np.arange(6.0) + 1j * np.arange(6.0)).astype(np.complex64).reshape(2, 3),)),
        (
            _numpy_parts,
            ((np.arange(6.0) + 1j * np.arange(6.0)).astype(np.complex64).reshape(2, 3),),
        ),
        (_scalar_methods, (np.arange(12.0, dtype=np.float32).reshape(3, 4),)),
    ],
)
def test_found_cases_match_numpy(kernel, args):
    _check(kernel, *args, what=kernel.__name__, eager=True)


def _assign_first(v):
    v[0] = 1.0


@pytest.mark.parametrize(
    "write",
    [
        lambda v: np.add(1.0, 2.0, out=v),
        lambda v: np.copyto(v, 1.0),
        lambda v: np.add.at(v, (), 1.0),
        lambda v: v.clip(0.0, 1.0, out=v),
        lambda v: setattr(v, "shape", (1,)),
        _assign_first,
    ],
)
def test_writes_into_a_numpy_scalar_raise_numpys_errors(write):
    def kernel(x):
        write(x[1, 2])
        return x

    _check(kernel, np.zeros((3, 4), np.float32), what="a write into a NumPy scalar", eager=True)
