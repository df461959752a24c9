"""Edge cases where mutjax once disagreed with NumPy, each checked against NumPy.

Each kernel is plain NumPy code, run on NumPy arrays and under
``mutjax.mutable`` eagerly and under ``jax.jit``: the same values, shapes and
dtypes (narrowed as JAX stores them with x64 disabled), or the same exception
type. Python ints outside an integer array's range (NEP 50), array-like
operands, ``a.flat``, writes into masked copies, conversions of concrete
values, arrays used from another thread and large NumPy integer indices.
"""

from __future__ import annotations

import operator
import warnings
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mutjax
from tests.helpers import _as_numpy, assert_same, returning_args, split_returned
from tests.helpers import canonical as _canon

MODES = ("eager", "jit")


def _numpy_run(kernel: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, Any]:
    np_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            out = kernel(*np_args)
        except Exception as e:  # the oracle's exception, compared below
            return None, e
    return _canon((_as_numpy(out), np_args)), None


def _builtin(cls: type[BaseException]) -> type[BaseException]:
    """The builtin exception NumPy's (often private) exception class derives from."""
    return next(c for c in cls.__mro__ if c.__module__ == "builtins")


def check(
    kernel: Callable[..., Any], *args: Any, modes: tuple[str, ...] = MODES, **tol: float
) -> Any:
    """``kernel`` under NumPy and under mutjax: same results and final args, or same error."""
    expected, error = _numpy_run(kernel, args)
    for mode in modes:
        f = mutjax.mutable(kernel, **returning_args(len(args)))
        if mode == "jit":
            f = jax.jit(f)
        jargs = [jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
        if error is not None:
            with pytest.raises(_builtin(type(error))), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                f(*jargs)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got, final = split_returned(f(*jargs), len(args), expected[0])
        assert_same((_as_numpy(got), list(_as_numpy(final))), expected, mode, **tol)
    return error


# -- Python ints in operations (NEP 50) ------------------------------------------------

INT_DTYPES = [np.int8, np.int16, np.int32, np.uint8, np.uint16, np.uint32]
DTYPES = INT_DTYPES + [np.bool_, np.float32]

ARITH = {
    "add": (operator.add, np.add),
    "sub": (operator.sub, np.subtract),
    "mul": (operator.mul, np.multiply),
    "truediv": (operator.truediv, np.true_divide),
    "floordiv": (operator.floordiv, np.floor_divide),
    "mod": (operator.mod, np.remainder),
    "and": (operator.and_, np.bitwise_and),
    "or": (operator.or_, np.bitwise_or),
    "xor": (operator.xor, np.bitwise_xor),
    "pow": (operator.pow, np.power),
    "lshift": (operator.lshift, np.left_shift),
    "rshift": (operator.rshift, np.right_shift),
}
INPLACE = {name: getattr(operator, f"i{name}") for name in ARITH}
COMPARE = {
    "lt": (operator.lt, np.less),
    "le": (operator.le, np.less_equal),
    "gt": (operator.gt, np.greater),
    "ge": (operator.ge, np.greater_equal),
    "eq": (operator.eq, np.equal),
    "ne": (operator.ne, np.not_equal),
}
FORMS = ["x op v", "v op x", "x op= v", "x[0] op= v", "ufunc(x, v, out=x)", "ufunc(v, x)"]


def _bounds(dtype: Any) -> tuple[int, int]:
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        return int(info.min), int(info.max)
    return -(2**31), 2**31 - 1  # what a Python int must fit with x64 disabled


@st.composite
def python_ints(draw: Any, dtype: Any) -> int:
    """A Python int near, inside or outside ``dtype``'s range (within int32's)."""
    lo, hi = _bounds(dtype)
    edge = draw(st.sampled_from([lo, hi, 0, -1, 1]))
    near = edge + draw(st.integers(-3, 3))
    anywhere = draw(st.integers(-(2**31), 2**31 - 1))
    v = draw(st.sampled_from([near, anywhere, draw(st.integers(-300, 300))]))
    return max(-(2**31), min(2**31 - 1, v))


def _operand_ok(name: str, dtype: Any, v: int, reflected: bool) -> bool:
    """False where NumPy and XLA legitimately differ (not NEP 50's business)."""
    lo, hi = _bounds(dtype)
    fits = lo <= v <= hi
    if np.dtype(dtype) == np.bool_ and name in ("lshift", "rshift", "pow"):
        return False
    if name in ("lshift", "rshift"):  # shifts by >= the bit width are platform-defined
        bits = 8 * np.dtype(dtype).itemsize
        return not fits or reflected or 0 <= v < bits
    if name == "pow":
        return not fits or (0 <= v <= 6 and not reflected)
    if name in ("floordiv", "mod", "truediv") and not reflected:
        return v != 0 and not (v == -1 and np.dtype(dtype).kind == "i")
    return True


def _kernel(form: str, op: Any, iop: Any, ufunc: Any, v: int) -> Callable[[Any], Any]:
    if form == "x op v":
        return lambda x: op(x, v)
    if form == "v op x":
        return lambda x: op(v, x)
    if form == "x op= v":

        def inplace(x: Any) -> Any:
            y = iop(x, v)
            return y

        return inplace
    if form == "x[0] op= v":

        def element(x: Any) -> Any:
            x[0] = iop(x[0], v)
            return x

        return element
    if form == "ufunc(x, v, out=x)":
        return lambda x: ufunc(x, v, out=x)
    return lambda x: ufunc(v, x)


@st.composite
def int_operations(draw: Any) -> tuple[Any, str, str, int]:
    dtype = draw(st.sampled_from(DTYPES))
    names = list(ARITH) + list(COMPARE)
    name = draw(st.sampled_from(names))
    forms = FORMS if name in ARITH else ["x op v", "v op x", "ufunc(x, v, out=x)", "ufunc(v, x)"]
    form = draw(st.sampled_from(forms))
    v = draw(python_ints(dtype))
    return dtype, name, form, v


def _array(dtype: Any, nonzero: bool) -> np.ndarray:
    if np.dtype(dtype) == np.bool_:
        return np.array([True, False, True])
    lo, hi = _bounds(dtype)
    vals = [1, 2, 7] if nonzero else [0, 1, 2]
    if np.dtype(dtype).kind == "i":
        vals[1] = -vals[1]
    return np.array([max(lo, min(hi, t)) for t in vals], dtype=dtype)


@pytest.mark.slow
@given(int_operations())
def test_python_int_operands_follow_nep50(case: tuple[Any, str, str, int]) -> None:
    dtype, name, form, v = case
    reflected = form in ("v op x", "ufunc(v, x)")
    pyop, ufunc = ARITH.get(name) or COMPARE[name]
    if name in ARITH and not _operand_ok(name, dtype, v, reflected):
        return
    x = _array(dtype, nonzero=reflected and name in ("floordiv", "mod", "truediv"))
    check(_kernel(form, pyop, INPLACE.get(name), ufunc, v), x)


@pytest.mark.parametrize(
    "kernel,dtype",
    [
        (lambda x: operator.iadd(x, 300), np.int8),
        (lambda x: operator.iadd(x, -1), np.uint8),
        (lambda x: x.__setitem__(0, operator.isub(x[0], -3)), np.uint8),
        (lambda x: np.add(x, 300, out=x), np.int8),
        (lambda x: x + 300, np.int8),
        (lambda x: 300 - x, np.int8),
        (lambda x: x * 2**70, np.int8),
        (lambda x: x**-1, np.int16),
        (lambda x: np.maximum(x, 300), np.int8),
        (lambda x: np.clip(x, 300, 400), np.int8),
        (lambda x: np.full_like(x, 300), np.uint8),
        (lambda x: np.full_like(x, -1, dtype=np.uint16), np.int8),
    ],
)
def test_python_int_out_of_range_raises_as_numpy(kernel: Any, dtype: Any) -> None:
    error = check(kernel, np.array([1, 2], dtype))
    assert error is not None


@pytest.mark.parametrize(
    "kernel",
    [
        lambda x: (x < 300, x <= -300, x > 300, x >= -129, x == 300, x != 300),
        lambda x: (np.less(x, 300), np.equal(-300, x), np.not_equal(x, 2**40)),
        lambda x: np.greater(x, 300, out=np.zeros_like(x, dtype=bool)),
        lambda x: np.clip(x, 0, 300),
        lambda x: x.clip(-300, 300),
        lambda x: np.clip(x, -300, 50),
        lambda x: np.clip(x, a_min=0, a_max=200),
        lambda x: np.where(x > 1, x, 300),  # NumPy's where casts unsafely: it wraps too
        lambda x: x / 300,
        lambda x: np.add.at(x, [0, 1], 300),  # NumPy's ufunc.at casts unsafely: it wraps
        lambda x: np.maximum.at(x, [2], -300),
        lambda x: np.full_like(x, 300, dtype=np.int16),
    ],
)
def test_python_int_out_of_range_where_numpy_does_not_raise(kernel: Any) -> None:
    error = check(kernel, np.array([1, 100, -100], np.int8))
    assert error is None


# -- array-like operands -------------------------------------------------------------


@pytest.mark.parametrize(
    "kernel",
    [
        lambda a: a + [1.0, 2.0, 3.0],
        lambda a: [1.0, 2.0, 3.0] - a,
        lambda a: a * (2.0, 3.0, 4.0),
        lambda a: a == [0.0, 1.0, 2.0],
        lambda a: a < (1.0, 1.0, 5.0),
        lambda a: a.__iadd__([100.0, 200.0, 300.0]),
        lambda a: a.__setitem__(0, a[0] + [1.0, 2.0, 3.0]),
        lambda a: a + [1.0, 2.0],  # NumPy's ValueError (JAX: TypeError)
        lambda a: a.__iadd__([1.0, 2.0]),
        lambda a: a + [[1.0], [2.0, 3.0]],  # ragged: NumPy's ValueError
    ],
)
def test_list_and_tuple_operands_of_operators(kernel: Any) -> None:
    check(kernel, np.arange(6.0, dtype=np.float32).reshape(2, 3))


def test_list_operand_of_an_inplace_operator_on_an_advanced_selection() -> None:
    def k(a: Any) -> Any:
        a[[0, 1]] += [100.0, 200.0]
        a[[2, 0]] *= (2.0, 3.0)
        return a

    check(k, np.arange(4.0, dtype=np.float32))


@pytest.mark.parametrize(
    "kernel",
    [
        lambda v: np.bitwise_and((1, 0, 1), v),
        lambda v: (1, 0, 1) & v,
        lambda v: np.add([1, 0, 1], v),
        lambda v: np.maximum(v, [0, 5, 0]),
        lambda v: np.add(v, [1, 2, 3], out=v),
        lambda v: np.logical_xor(v, [True, False, False]),
        lambda v: np.add(v, [1, 2]),  # NumPy's ValueError
    ],
)
def test_sequence_operands_of_ufuncs(kernel: Any) -> None:
    check(kernel, np.array([1, 1, 0], np.int32))


def test_delete_raises_numpy_error() -> None:
    def k(a: Any) -> None:
        del a[0]

    check(k, np.arange(3.0, dtype=np.float32))


# -- a.flat ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kernel",
    [
        lambda a: a.flat[4],
        lambda a: a.flat[-1],
        lambda a: a.flat[1:5],
        lambda a: a.flat[[0, 5, 2]],
        lambda a: a.flat[np.array([True, False] * 3)],
        lambda a: a.T.flat[1:4],
        lambda a: [v * 1 for v in a.flat][: len(a.flat) - 1],
        lambda a: a.flat.copy(),
        lambda a: a.flat[6],  # NumPy's IndexError
    ],
)
def test_flat_reads(kernel: Any) -> None:
    check(kernel, np.arange(6.0, dtype=np.float32).reshape(2, 3))


def _flat_write(idx: Any, value: Any, transposed: bool = False) -> Callable[[Any], Any]:
    def k(a: Any) -> Any:
        (a.T if transposed else a).flat[idx] = value
        return a

    return k


@pytest.mark.parametrize(
    "idx,value,transposed",
    [
        (4, 9.0, False),
        (-1, 9.0, False),
        (slice(1, 5), [10.0, 20.0], False),  # values cycle
        (slice(None), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], False),  # cut
        ([1, 4, 1], [7.0, 8.0, 9.0], False),  # repeated: the last write wins
        ([0, 5], 3.5, False),
        (np.array([True, False, True, False, False, True]), [1.0, 2.0, 3.0], False),
        (slice(0, 4), [1.0, 2.0, 3.0, 4.0], True),  # through a non-contiguous view
        ([1, 2], [5.0, 6.0], True),
        (7, 1.0, False),  # NumPy's IndexError
        ([0, 9], 1.0, False),
    ],
)
def test_flat_writes(idx: Any, value: Any, transposed: bool) -> None:
    check(_flat_write(idx, value, transposed), np.arange(6.0, dtype=np.float32).reshape(2, 3))


@pytest.mark.slow
@given(
    shape=st.sampled_from([(6,), (2, 3), (3, 1, 2)]),
    transposed=st.booleans(),
    positions=st.lists(st.integers(-7, 6), min_size=1, max_size=5),
    nvalues=st.integers(0, 6),
)
def test_flat_writes_at_any_positions(
    shape: tuple[int, ...], transposed: bool, positions: list[int], nvalues: int
) -> None:
    value = [float(10 + v) for v in range(nvalues)] if nvalues else 5.0
    a = np.arange(6.0, dtype=np.float32).reshape(shape)
    check(_flat_write(positions, value, transposed), a)


def test_flat_write_with_traced_positions_and_mask() -> None:
    def k(a: Any, i: Any) -> Any:
        a.flat[i] = -1.0
        a.flat[(a > 3).ravel()] = 0.0
        a.flat[[i, i + 1]] = a.flat[[0, 1]] * 10
        return a

    check(k, np.arange(6.0, dtype=np.float32).reshape(2, 3), np.array(2, np.int32))


def test_flat_of_a_zero_dimensional_array() -> None:
    def k(a: Any) -> Any:
        a.flat[0] = 5
        return a, a.flat[0]

    check(k, np.array(1.0, np.float32))


# -- traced masks and masked copies ----------------------------------------------------


def test_one_element_list_into_a_traced_mask() -> None:
    def k(a: Any) -> Any:
        a[a > 1] = [7]
        a[a < 1] = (8.0,)
        a[a > 7] = np.array([9])
        return a

    check(k, np.arange(6.0, dtype=np.float32).reshape(2, 3))


def test_longer_list_into_a_traced_mask_says_what_to_write() -> None:
    def k(a: Any) -> Any:
        a[a > 1] = [7, 8]
        return a

    with pytest.raises(mutjax.DynamicShapeError, match="mask's count"):
        jax.jit(mutjax.mutable(k))(jnp.arange(3.0))


def _masked_copy_kernel(k: int, reduce: bool = True) -> Callable[[Any], Any]:
    def kernel(x: Any) -> Any:
        m = x[x > 2]
        m[k] = 2000
        m[k - 1] += 1
        return x, m.sum(), m.max()

    return kernel


@pytest.mark.parametrize("k", [1, 2, -1, -2])
def test_writes_into_a_masked_copy_change_the_copy_only(k: int) -> None:
    check(_masked_copy_kernel(k), np.array([5.0, 1.0, 3.0, 0.0, 4.0, 7.0], np.float32))


@pytest.mark.slow
@given(
    data=st.lists(st.integers(-5, 5), min_size=1, max_size=7),
    k=st.integers(-8, 7),
    value=st.integers(-3, 3),
)
def test_element_writes_into_a_masked_copy_as_numpy(data: list[int], k: int, value: int) -> None:
    def kernel(x: Any) -> Any:
        m = x[x > 0]
        m[k] = value * 100
        return x, m.sum(), m.min()

    x = np.array(data, np.float32)
    count = int((x > 0).sum())
    if count and -count <= k < count or not -len(data) <= k < len(data):
        check(kernel, x)  # NumPy's result, or the IndexError jit can see statically
    else:
        # Past the run-time count: NumPy raises; under jit the write is dropped.
        check(kernel, x, modes=("eager",))
        x2, total, _ = jax.jit(mutjax.mutable(kernel))(jnp.asarray(x))
        np.testing.assert_array_equal(np.asarray(x2), x)
        assert float(total) == float(x[x > 0].sum())


def test_writes_into_a_masked_copy_of_rows() -> None:
    def kernel(d: Any) -> Any:
        m = d[d[:, 0] > 1]
        m[0] = -1.0
        m[1, 2] = 50.0
        c = m.copy()
        c[0, 0] = 1000.0  # the copy alone changes
        return d, m.sum(axis=0), c.sum(axis=0)

    check(kernel, np.arange(12.0, dtype=np.float32).reshape(4, 3))


def test_masked_copy_write_out_of_the_maximal_length_raises_index_error() -> None:
    check(_masked_copy_kernel(9), np.array([5.0, 1.0, 3.0], np.float32))


def test_masked_copy_write_past_the_run_time_length_is_dropped_under_jit() -> None:
    # NumPy raises IndexError (only 1 element is selected); under jit the
    # count is not known, and the write lands on a masked position.
    f = jax.jit(mutjax.mutable(_masked_copy_kernel(2)))
    x, total, _ = f(jnp.array([5.0, 1.0, 3.0, 0.0], jnp.float32))
    np.testing.assert_array_equal(np.asarray(x), [5.0, 1.0, 3.0, 0.0])
    assert float(total) == 5.0 + 3.0 + 1.0  # m = [5, 3]; m[1] += 1; m[2] is dropped


def test_masked_copy_refuses_a_slice_write_with_a_clear_error() -> None:
    def kernel(x: Any) -> Any:
        m = x[x > 2]
        m[:2] = 0.0
        return m.sum()

    with pytest.raises(mutjax.DynamicShapeError, match="m\\[k\\] = v"):
        jax.jit(mutjax.mutable(kernel))(jnp.arange(5.0))


def test_tuple_of_traced_scalars_as_a_value() -> None:
    def kernel(x: Any) -> Any:
        g = np.zeros(3, np.float32)
        g[:2] = x.sum(), x[0] * 2
        g[[2, 0]] = [x[1], x.max()]
        return g

    import mutjax.numpy as mnp

    def run(x: Any) -> Any:
        g = mnp.zeros(3, np.float32)
        g[:2] = x.sum(), x[0] * 2
        g[[2, 0]] = [x[1], x.max()]
        return g

    expected = kernel(np.arange(1.0, 4.0, dtype=np.float32))
    for f in (mutjax.mutable(run), jax.jit(mutjax.mutable(run))):
        assert_same(np.asarray(f(jnp.arange(1.0, 4.0))), expected)


@pytest.mark.parametrize(
    "kernel",
    [
        lambda d: np.linalg.norm(d[d[:, 0] > 1], axis=1).sum(),
        lambda d: np.linalg.norm(d[d[:, 0] > 1], axis=0),
        lambda d: np.linalg.norm(d[d[:, 0] > 1]),
        lambda d: np.linalg.norm(d[d > 4], ord=1),
        lambda d: np.linalg.norm(d[d > 4], ord=np.inf),
        lambda d: np.linalg.norm(d[d > 4], ord=3),
        lambda d: np.linalg.norm(d[d[:, 0] > 1], axis=1, keepdims=True).max(),
    ],
)
def test_norm_of_a_mask_selection(kernel: Any) -> None:
    check(kernel, np.arange(12.0, dtype=np.float32).reshape(4, 3) - 3, rtol=1e-5)


# -- concrete values to Python -----------------------------------------------------------


def test_conversions_of_concrete_values_as_numpy() -> None:
    import pickle

    a = np.arange(6, dtype=np.float32).reshape(2, 3)

    def kernel(x: Any) -> Any:
        return (
            x.tolist(),
            x[1].tolist(),
            x[0, 1].tolist(),
            x.T.tobytes(),
            x.tobytes(),
            f"{x[0, 1]:.2f}",
            f"{x[1, 2]:>8.3e}",
            np.asarray(pickle.loads(pickle.dumps(x))),
            np.asarray(pickle.loads(pickle.dumps(x.T))),
        )

    expected = kernel(a)
    got = mutjax.mutable(kernel)(jnp.asarray(a))
    assert got[:7] == expected[:7]
    assert_same(list(got[7:]), list(expected[7:]))


@pytest.mark.parametrize(
    "convert",
    [
        lambda x: x.tolist(),
        lambda x: x.tobytes(),
        lambda x: __import__("pickle").dumps(x),
        lambda x: f"{x[0]:.2f}",
    ],
)
def test_conversions_of_traced_values_raise_a_mutjax_error(convert: Any) -> None:
    def kernel(x: Any) -> Any:
        convert(x)
        return x

    with pytest.raises(mutjax.TracedValueError, match="Return the array"):
        jax.jit(mutjax.mutable(kernel))(jnp.arange(3.0))
    with pytest.raises(TypeError):  # as JAX's ConcretizationTypeError is
        jax.jit(mutjax.mutable(kernel))(jnp.arange(3.0))


def test_format_without_a_spec_is_the_repr_even_when_traced() -> None:
    def kernel(x: Any) -> Any:
        assert f"{x}" == str(x)
        return x

    jax.jit(mutjax.mutable(kernel))(jnp.arange(3.0))
    mutjax.mutable(kernel)(jnp.arange(3.0))


# -- other threads -----------------------------------------------------------------------


def _in_thread(fn: Callable[[], Any]) -> BaseException | None:
    import threading

    caught: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as e:  # handed to the test's thread
            caught.append(e)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    return caught[0] if caught else None


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "use",
    [
        lambda x: x + 1,
        lambda x: x[0],
        lambda x: np.sin(x),
        lambda x: x.__setitem__(0, 1.0),
        lambda x: x.__iadd__(1.0),
        lambda x: x.fill(2.0),
        lambda x: np.copyto(x, 3.0),
    ],
)
def test_using_an_array_from_another_thread_raises_a_mutjax_error(mode: str, use: Any) -> None:
    errors: list[BaseException | None] = []

    def kernel(x: Any) -> Any:
        errors.append(_in_thread(lambda: use(x)))
        x[1] = 5.0  # the owning thread still works
        return x

    f = mutjax.mutable(kernel)
    out = (jax.jit(f) if mode == "jit" else f)(jnp.zeros(3))
    np.testing.assert_array_equal(np.asarray(out), [0.0, 5.0, 0.0])
    (error,) = errors
    assert isinstance(error, mutjax.ForeignThreadError), repr(error)
    assert "another thread" in str(error)


def test_a_mutable_call_in_each_thread_works() -> None:
    def kernel(x: Any) -> Any:
        x[0] += 1
        return x

    f = jax.jit(mutjax.mutable(kernel))
    results: list[Any] = []
    assert _in_thread(lambda: results.append(f(jnp.zeros(2)))) is None
    np.testing.assert_array_equal(np.asarray(results[0]), [1.0, 0.0])


# -- large NumPy integers as indices ---------------------------------------------------------


@pytest.mark.parametrize(
    "i",
    [np.int64(2**32 + 1), np.int64(-(2**32) - 1), np.uint64(2**32 + 1), np.int64(2**31)],
)
def test_large_numpy_integer_argument_index_raises_index_error(i: Any) -> None:
    def write(x: Any, i: Any) -> Any:
        x[i] = 9
        return x

    def read(x: Any, i: Any) -> Any:
        return x[i]

    for kernel in (write, read):
        with pytest.raises(IndexError):
            kernel(np.zeros(3, np.float32), i)
        with pytest.raises(IndexError, match="out of bounds"):
            mutjax.mutable(kernel)(jnp.zeros(3), i)


def test_numpy_integer_argument_that_fits_stays_an_array() -> None:
    def kernel(x: Any, i: Any) -> Any:
        x[i] = 9
        return x, i

    check(kernel, np.zeros(3, np.float32), np.int64(2), modes=("eager",))
