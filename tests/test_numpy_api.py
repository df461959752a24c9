"""NumPy's API on mutable arrays (mutjax._numpy_api, mutjax.numpy), NumPy as the oracle.

Each kernel below is plain NumPy code. ``check`` runs it on NumPy arrays and
under ``mutjax.mutable`` eagerly and under ``jax.jit``, and compares results
and final arguments. Expected dtypes are narrowed as JAX stores them
(float64 -> float32 with x64 disabled), the one documented difference.
"""

from __future__ import annotations

from typing import Any

import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import examples
from hypothesis import given, settings
from hypothesis import strategies as st

import mutjax
import mutjax.numpy as mnp
from tests.helpers import _as_numpy, assert_same, returning_args, split_returned
from tests.helpers import canonical as _canon


def check(kernel: Any, *args: Any, rtol: float = 1e-5, atol: float = 1e-5) -> None:
    """Same kernel on NumPy and under mutjax (eager and jit): same values, shapes, dtypes."""
    np_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    expected = _canon((_as_numpy(kernel(*np_args)), np_args))
    for mode in ("eager", "jit"):
        f = mutjax.mutable(kernel, **returning_args(len(args)))
        if mode == "jit":
            f = jax.jit(f)
        got, final = split_returned(f(*[jnp.asarray(a) for a in args]), len(args), expected[0])
        assert_same((_as_numpy(got), list(_as_numpy(final))), expected, mode, rtol, atol)


def rnd(*shape: int, dtype: Any = np.float32, seed: int = 0) -> np.ndarray:
    r = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.integer):
        return r.integers(-20, 20, shape).astype(dtype)
    return (r.standard_normal(shape)).astype(dtype)


# -- dispatch: np.* computes with jax.numpy and returns mutable arrays ----------


def test_ufuncs_and_reductions_mixed_with_numpy_and_scalars():
    c = rnd(4, dtype=np.float32, seed=1)

    def k(x):
        y = np.sin(x) * 2.0 + c  # NumPy array and Python scalar in one expression
        y[0] = np.sum(x[:, 0])  # the result is mutable
        return (
            y,
            np.sum(x, axis=0),
            np.mean(x, axis=1, keepdims=True),
            np.maximum(x, 0.0),
            np.where(x > 0, x, c),
            np.clip(x, -0.5, 0.5),
            np.cumsum(x, axis=1),
            np.dot(x, x.T),
            np.argmax(x),
            np.argmax(x, axis=0),
            np.abs(x).max(),
            np.exp(np.negative(x)),
            c + x,  # NumPy array on the left: NumPy dispatches to us
        )

    check(k, rnd(3, 4))


def test_linalg_and_shape_functions():
    def k(a, b):
        m = a @ a.T + 4 * np.eye(3, dtype=a.dtype)
        assert np.shape(a) == (3, 4) and np.ndim(a) == 2 and np.size(a) == 12
        return (
            np.linalg.solve(m, b),
            np.linalg.inv(m),
            np.linalg.cholesky(m),
            np.linalg.norm(a),
            np.linalg.det(m),
            np.concatenate([a, a], axis=1),
            np.stack([b, b]),
            np.transpose(a),
            np.reshape(a, (2, 6)),
            np.swapaxes(a, 0, 1),
            np.moveaxis(a[None], 0, 2),
            np.squeeze(a[None]),
            np.expand_dims(a, 1),
            np.ravel(a),
            np.broadcast_to(b[:, None], (3, 4)),
            np.diagonal(a),
            np.fix(a * 3),
            np.histogram(a, bins=3, range=(-1, 1)),
            np.matmul(a.T, b),
            np.einsum("ij,i->j", a, b),
            np.sort(a, axis=0),
            np.argsort(a, axis=1),
            np.median(a),
            np.isclose(a, b[:, None]),
        )

    check(k, rnd(3, 4), rnd(3))


def test_view_functions_route_to_mutable_array_methods(monkeypatch):
    # Once MutArray has view-returning methods, np.transpose & co.
    # must call them (live views) instead of computing copies with jax.numpy.
    from mutjax._trace import MutArray

    calls = []

    def fake(name):
        def method(self, *args, **kwargs):
            calls.append((name, args, kwargs))
            return self

        return method

    for name in ("transpose", "reshape", "swapaxes", "squeeze", "ravel", "diagonal"):
        monkeypatch.setattr(MutArray, name, fake(name), raising=False)

    @mutjax.mutable
    def k(x):
        np.transpose(x, (1, 0))
        np.reshape(x, (4, 3), order="C")
        np.swapaxes(x, 0, 1)
        np.squeeze(x)
        np.ravel(x)
        np.diagonal(x, 1)

    k(jnp.ones((3, 4)))
    assert [c[0] for c in calls] == [
        "transpose",
        "reshape",
        "swapaxes",
        "squeeze",
        "ravel",
        "diagonal",
    ]
    assert calls[0][1] == ((1, 0),) and calls[1][2] == {"order": "C"}


def test_shares_memory_follows_views():
    @mutjax.mutable
    def k(x):
        y = x.copy()
        assert np.shares_memory(x, x[1:]) and np.may_share_memory(x[0], x)
        assert not np.shares_memory(x, y)

    k(jnp.ones((3, 4)))


def test_zeros_like_with_shape_and_dtype():
    def k(x):
        z = np.zeros_like(x, shape=(2, 5), dtype=np.int16)
        z[1, 2] = 7
        o = np.ones_like(x)
        o[0] += x[0]
        f = np.full_like(x, 3, dtype=np.int32)
        return z, o, f

    check(k, rnd(3, 4))


@pytest.mark.parametrize(
    ("a_dtype", "b"),
    [
        (np.int8, np.int16(3)),
        (np.uint8, np.arange(4, dtype=np.int8)),
        (np.int32, 2.5),
        (np.bool_, True),
        (np.int16, 3),
        (np.float32, np.float16(1.5)),
    ],
)
def test_result_dtypes_follow_numpy_promotion(a_dtype, b):
    def k(x):
        return np.add(x, b), np.multiply(b, x), np.true_divide(x, 2), np.maximum(x, b)

    check(k, np.arange(4).astype(a_dtype))


def test_multi_output_ufuncs_and_ufunc_methods():
    def k(x):
        q, r = np.divmod(x, 3)
        frac, whole = np.modf(x / 4)
        return q, r, frac, whole, np.add.reduce(x), np.multiply.accumulate(x), np.add.outer(x, x)

    check(k, np.arange(1, 6).astype(np.int32))


# -- ufunc.at accumulates over repeated indices ---------------------------------

_BINARY_AT = [
    ("add", np.float32),
    ("add", np.int32),
    ("subtract", np.int32),
    ("subtract", np.float32),
    ("multiply", np.int32),
    ("divide", np.float32),
    ("floor_divide", np.int32),
    ("maximum", np.float32),
    ("minimum", np.int32),
    ("bitwise_and", np.int32),
    ("bitwise_or", np.uint8),
    ("bitwise_xor", np.int16),
    ("left_shift", np.int32),
    ("logical_or", np.bool_),
    ("power", np.float32),
    ("fmax", np.float32),
    ("arctan2", np.float32),
]


_AT_FUNS: dict[str, Any] = {}


def _at_funs(name: str) -> Any:
    """The NumPy kernel and its mutjax versions, built once so jit compiles once."""
    if name not in _AT_FUNS:
        ufunc = getattr(np, name)

        def k(x, idx, b):
            ufunc.at(x, idx, b)

        f = mutjax.mutable(k, return_argnums=0)
        _AT_FUNS[name] = (k, f, jax.jit(f))
    return _AT_FUNS[name]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "dtype"), _BINARY_AT)
@settings(max_examples=examples(8))
@given(
    idx=hnp.arrays(np.int32, 8, elements=st.integers(-6, 5)),
    seed=st.integers(0, 3),
)
def test_binary_ufunc_at_matches_numpy(name, dtype, idx, seed):
    x = rnd(6, dtype=dtype, seed=seed)
    b = rnd(8, dtype=dtype, seed=seed + 10)
    if dtype != np.bool_ and np.issubdtype(dtype, np.integer):
        x, b = np.abs(x) % 7 + 1, np.abs(b) % 3 + 1  # nonzero divisors, small shifts
    if name == "power":
        x, b = np.abs(x) + 0.5, np.abs(b) % 2
    x, b = x.astype(dtype), b.astype(dtype)
    kernel, eager, jitted = _at_funs(name)
    expected = x.copy()
    kernel(expected, idx, b)
    for f in (eager, jitted):  # idx is traced under jit: repeated indices at run time
        got = f(jnp.asarray(x), jnp.asarray(idx), jnp.asarray(b))
        assert_same(np.asarray(got), _canon(expected), name, rtol=1e-4)


def test_binary_ufunc_at_static_repeated_indices():
    def k(x, y, h):
        np.subtract.at(x, [0, 0, 2, -1], [1.0, 2.0, 3.0, 4.0])
        np.divide.at(y, [[1, 1], [1, 0]], 2.0)
        np.bitwise_xor.at(h, [3, 3, 3], 5)

    check(k, rnd(5), rnd(3), np.arange(5, dtype=np.int32))


def test_ufunc_at_traced_indices_2d_and_casting():
    def k(h, idx, w):
        np.add.at(h, (idx, idx % 2), w)  # traced indices, a tuple index
        np.add.at(h, (slice(None), 0), 1.5)  # float into int: NumPy casts each step
        np.maximum.at(h, ([0, 0], [1, 1]), [5, 9])

    check(k, np.zeros((4, 2), np.int32), np.array([0, 3, 3, 1, 3]), np.arange(5, dtype=np.int32))


@pytest.mark.parametrize("name", ["negative", "absolute", "logical_not", "invert", "sqrt"])
def test_unary_ufunc_at_applies_once_per_occurrence(name):
    ufunc = getattr(np, name)
    dtype = {"logical_not": np.bool_, "invert": np.int32}.get(name, np.float32)
    x = np.abs(rnd(5, seed=3)).astype(dtype) if dtype != np.int32 else np.arange(5, dtype=dtype)

    def k(x):
        ufunc.at(x, [0, 0, 1, 3, 3, 3])

    check(k, x)


# -- out= and where= -------------------------------------------------------------


def test_out_overlapping_inputs_and_views():
    def k(x, m):
        np.add(x[1:], x[:-1], out=x[1:])  # overlap: NumPy reads the inputs first
        np.multiply(m[:, 1], 2, out=m[:, 0])  # out= a strided view
        np.sqrt(m, out=m, where=m > 0)
        r = np.negative(x, out=np.empty_like(x))
        np.sum(m, axis=0, out=x[:3])
        return r

    check(k, rnd(6), np.abs(rnd(3, 3)) - 0.2)


def test_out_returns_out_and_keeps_identity():
    def k(x):
        y = np.add(x, 1, out=x)
        assert y is x
        z = x[::2]
        np.multiply(z, 3, out=z)
        return y

    check(k, np.arange(6, dtype=np.int32))


def test_out_casting_errors_like_numpy():
    x = np.arange(3, dtype=np.int32)
    with pytest.raises(TypeError):
        np.add(x, 1.5, out=x)

    @mutjax.mutable
    def k(x):
        np.add(x, 1.5, out=x)

    with pytest.raises(TypeError, match="same_kind"):
        k(jnp.asarray(x))

    @mutjax.mutable
    def bad_shape(x):
        np.add(x, np.ones((2, 3), np.int32), out=x)

    with pytest.raises(ValueError):
        np.add(x, np.ones((2, 3), np.int32), out=x)
    with pytest.raises(ValueError):
        bad_shape(jnp.asarray(x))


# -- in-place functions -----------------------------------------------------------


def test_copyto_with_where_and_casting():
    def k(dst, src):
        np.copyto(dst, src, where=src > 0)
        np.copyto(dst[0], 7)
        np.copyto(dst[:, 1], src[:, 2], casting="same_kind")

    check(k, np.zeros((3, 4), np.float32), rnd(3, 4))
    with pytest.raises(TypeError):
        mutjax.mutable(lambda d: np.copyto(d, np.float32(1.5)))(jnp.zeros(3, jnp.int32))


@pytest.mark.parametrize("mode", ["raise", "wrap", "clip"])
def test_put_modes(mode):
    ind = np.array([0, -1, 2, 2]) if mode == "raise" else np.array([0, 7, -9, 2, 2])

    def k(a, v):
        np.put(a, ind, v, mode=mode)
        np.put(a[1], [0, 1], [40, 50], mode=mode)

    check(k, np.arange(12, dtype=np.int32).reshape(3, 4), np.array([10, 20, 30], np.int32))


def test_put_traced_indices_and_out_of_bounds():
    def k(a, ind):
        np.put(a, ind, [1.5, 2.5], mode="wrap")

    check(k, np.zeros(5, np.float32), np.array([1, 6, -2]))
    with pytest.raises(IndexError):
        mutjax.mutable(lambda a: np.put(a, [7], 1))(jnp.zeros(5))


def test_place_putmask_fill_diagonal_put_along_axis():
    def k(a, b, c, d, e):
        np.place(a, a > 0, [10, 20])
        np.putmask(b, b < 0, np.arange(12, dtype=np.float32).reshape(3, 4))
        np.fill_diagonal(c, 9, wrap=True)
        np.fill_diagonal(d, [1, 2, 3])
        np.put_along_axis(e, np.argsort(e, axis=1)[:, :1], -1, axis=1)

    check(
        k,
        rnd(3, 4, seed=1),
        rnd(3, 4, seed=2),
        np.zeros((7, 3), np.int32),
        np.zeros((3, 3, 3), np.float32),
        rnd(3, 4, seed=3),
    )


def test_place_and_putmask_with_traced_masks_under_jit():
    def k(a, m):
        np.place(a, m, [1, 2, 3])
        np.putmask(a, ~m, -a)

    check(k, np.arange(8, dtype=np.int32), np.array([1, 0, 1, 1, 0, 1, 0, 1], bool))


# -- arrays a kernel creates: mutjax.numpy ---------------------------------------


def test_mutjax_numpy_creates_numpy_arrays_outside_a_scope():
    assert type(mnp.zeros(3)) is np.ndarray
    assert mnp.sin is np.sin and mnp.float32 is np.float32
    assert type(mnp.arange(4)) is np.ndarray


def test_mutjax_numpy_creation_inside_a_scope():
    def k(x):
        buf = mnp.zeros(x.shape[0], dtype=x.dtype)
        for i in range(1, x.shape[0]):
            buf[i] = buf[i - 1] + x[i]  # a traced value into a created array
        a = mnp.array(x)  # a copy
        a[0] = 100
        b = mnp.asarray(x)  # the same array, as in NumPy
        b[1] = -1
        e = mnp.eye(3, dtype=np.float32)
        e[0, 2] = x[0]
        r = mnp.arange(5, dtype=np.int32)
        r[::2] *= 3
        s = mnp.array([x[0], x[1], 2.0])
        return buf, a, e, r, s, mnp.linspace(0, 1, 5, dtype=np.float32)

    check(k, rnd(5))


def _plain_numpy_kernel(x):
    buf = np.zeros(3, np.float32)
    buf[:2] = x[:2]  # <- the line the error names
    return buf


def test_plain_numpy_array_meeting_a_traced_value_names_the_line():
    f = jax.jit(mutjax.mutable(_plain_numpy_kernel))
    with pytest.raises(mutjax.NumpyArrayError) as info:
        f(jnp.ones(3))
    msg = str(info.value)
    assert "test_numpy_api.py" in msg and "buf[:2] = x[:2]" in msg
    assert "import mutjax.numpy as np" in msg
    # Eagerly the value is known and NumPy's array simply takes it.
    out = mutjax.mutable(_plain_numpy_kernel)(jnp.ones(3))
    np.testing.assert_array_equal(out, [1, 1, 0])


def _numpy_destinations(x):
    b = np.zeros(3, np.float32)
    np.add.at(b, [0, 0], x[0])
    np.copyto(b, x, where=np.array([False, True, False]))
    np.multiply(x[2:], 3, out=b[2:])
    return b


def test_numpy_destinations_take_known_values_eagerly_and_name_the_line_under_jit():
    x = np.array([2.0, 3.0, 4.0], np.float32)
    got = mutjax.mutable(_numpy_destinations)(jnp.asarray(x))
    np.testing.assert_array_equal(got, _numpy_destinations(x))
    with pytest.raises(mutjax.NumpyArrayError, match=r"np\.add\.at\(b, \[0, 0\], x\[0\]\)"):
        jax.jit(mutjax.mutable(_numpy_destinations))(jnp.asarray(x))


def test_asarray_of_a_traced_value_is_a_mutjax_error():
    @jax.jit
    @mutjax.mutable
    def k(x):
        return np.asarray(x)

    with pytest.raises(mutjax.NumpyArrayError, match="return np.asarray"):
        k(jnp.ones(2))


# -- bad input ----------------------------------------------------------------------


def test_numpy_function_without_jax_counterpart_is_named():
    from mutjax import UnsupportedNumpyError

    @mutjax.mutable
    def k(x):
        return np.real_if_close(x)

    with pytest.raises(UnsupportedNumpyError, match="real_if_close"):
        k(jnp.ones(2))
    assert issubclass(UnsupportedNumpyError, mutjax.MutjaxError)


def test_ufunc_at_computed_out_of_bounds_index():
    def k(x):
        np.add.at(x, (x[0] + 9).astype(np.int32), 1.0)  # index 9 in a length-3 array

    x = np.zeros(3, np.float32)
    with pytest.raises(IndexError):
        k(x.copy())
    with pytest.raises(IndexError):  # eagerly the index is known: NumPy's check
        mutjax.mutable(k)(jnp.asarray(x))
    # Under jit it cannot raise: the update is dropped, as for `x[i] = v`.
    out = jax.jit(mutjax.mutable(k, return_argnums=0))(jnp.asarray(x))
    np.testing.assert_array_equal(out, [0, 0, 0])

    def k2(x):
        np.bitwise_or.at(x, (x[0] + 9), 4)  # the sequential loop drops it too

    out = jax.jit(mutjax.mutable(k2, return_argnums=0))(jnp.arange(3))
    np.testing.assert_array_equal(out, [0, 1, 2])


def test_data_dependent_shape_under_jit_is_a_mutjax_error():
    @jax.jit
    @mutjax.mutable
    def k(x):
        return np.nonzero(x)

    with pytest.raises(mutjax.DynamicShapeError, match="nonzero"):
        k(jnp.ones(2))


@pytest.mark.parametrize(
    "body",
    [
        lambda x: np.sum(x, axis=3),
        lambda x: np.reshape(x, (5, 7)),
        lambda x: np.concatenate([x, x[:, :1].T], axis=1),
        lambda x: np.add.at(x, [9], 1.0),
        lambda x: np.put(x, [100], 1.0),
        lambda x: np.fill_diagonal(x[0], 1.0),
        lambda x: np.copyto(x, np.ones(4)),
        lambda x: np.bitwise_and(x, x),
        lambda x: np.place(x, np.ones((3, 3), bool), []),
        lambda x: np.add(x, x, out=(x, x)),
    ],
)
def test_argument_combinations_numpy_refuses_raise_numpys_exception(body):
    x = rnd(3, 3)
    with pytest.raises(Exception) as np_info:
        body(x.copy())
    for f in (mutjax.mutable(body), jax.jit(mutjax.mutable(body))):
        with pytest.raises(Exception) as mj_info:
            f(jnp.asarray(x))
        assert isinstance(mj_info.value, type(np_info.value)), (mj_info.value, np_info.value)


# -- transformations ----------------------------------------------------------------


def _ufunc_kernel(x):
    y = np.sin(x)
    np.add.at(y, [0, 0], x[1])
    np.multiply(y[1:], 2.0, out=y[1:])
    np.maximum.at(y, [2, 2], x[0])
    return np.sum(y)


def test_grad_and_vmap_through_numpy_api():
    x = np.array([0.5, 1.0, -2.0], np.float32)
    # By hand: sum = sin(x0) + 2 x1 + 2 sin(x1) + max(2 sin(x2), x0), and x0 wins.
    expected = [np.cos(0.5) + 1, 2 + 2 * np.cos(1.0), 0.0]
    np.testing.assert_allclose(jax.grad(mutjax.mutable(_ufunc_kernel))(x), expected, rtol=1e-5)
    xs = np.stack([x, 2 * x])
    got = jax.jit(jax.vmap(mutjax.mutable(_ufunc_kernel)))(xs)
    np.testing.assert_allclose(got, [_ufunc_kernel(r.copy()) for r in xs], rtol=1e-5)


@pytest.mark.slow
@settings(max_examples=examples(10))
@given(
    a=st.integers(0, 4),
    b=st.integers(0, 4),
    length=st.integers(1, 4),
    step=st.sampled_from([1, -1]),
    name=st.sampled_from(["add", "subtract", "maximum", "multiply"]),
)
def test_out_overlapping_any_two_windows(a, b, length, step, name):
    ufunc = getattr(np, name)
    sa = slice(a, a + length) if step == 1 else slice(a + length - 1, None if a == 0 else a - 1, -1)
    sb = slice(b, b + length)

    def k(x):
        ufunc(x[sa], x[sb], out=x[sa])
        ufunc(x[sb], x[sa], out=x[sb], where=x[sb] > 0)

    check(k, np.arange(8, dtype=np.int32) - 3)
