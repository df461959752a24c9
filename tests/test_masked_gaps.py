"""Run-time lengths beside the checked mode: ``vdot``, eager converted loops,
in-place operators' words, and list values into a traced slice.

NumPy is the oracle throughout: where it raises ``ValueError``, checkify
(``errors=... | {mutjax.LengthError}``) reports its very message, an eager
converted loop raises it, and a static in-place operator raises it at once;
where it succeeds, the values are NumPy's.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_same, examples
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.experimental import checkify

import mutjax

ERRORS = checkify.index_checks | {mutjax.LengthError}
N = 6
bound = st.integers(-1, N + 1)


def _inputs() -> tuple[np.ndarray, np.ndarray]:
    return np.arange(1.0, N + 1, dtype=np.float32), np.arange(N, dtype=np.float32) * 3 - 4


def _numpy(kernel, *args):
    """(NumPy's ValueError message or None, result or None) of ``kernel`` on copies."""
    try:
        return None, kernel(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
    except ValueError as e:
        return str(e), None


def _raises_as_numpy(f, kernel, *args):
    """``f`` (a mutjax version of ``kernel``) gives NumPy's result, or raises its ValueError."""
    want, expected = _numpy(kernel, *args)
    jargs = [jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
    if want is None:
        assert_same(f(*jargs), expected)
        return None
    with pytest.raises(ValueError) as info:
        f(*jargs)
    assert str(info.value) == want
    return info.value


def _agrees(checked, kernel, *args):
    want, expected = _numpy(kernel, *args)
    err, got = checked(*[jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args])
    if want is None:
        assert err.get() is None, err.get()
        assert_same(got, np.asarray(expected), kernel.__name__)
    else:
        assert isinstance(err.get_exception(), mutjax.LengthError)
        assert err.get() == want, (err.get(), want)
    return want


# -- vdot: the flattened operands, no broadcasting ------------------------------------


def vdot(x, y, k, j):
    return np.atleast_1d(np.vdot(x[:k], y[:j]))


def vdot_apart(x, y, k, j):  # one slice in place, one packed to the front
    return np.atleast_1d(np.vdot(x[k:], y[:j]))


def vdot_rows(x, y, k, j):  # two axes: flattened, so only the sizes must agree
    a, b = x.reshape(2, 3), y.reshape(2, 3)
    return np.atleast_1d(np.vdot(a[:, :k], b[:, :j]))


def vdot_element(x, y, k, j):  # a 0-d operand: size 1
    return np.atleast_1d(np.vdot(x[2], y[:j]))


def vdot_one(x, y, k, j):  # a static operand of one element: size 1, no broadcasting
    return np.atleast_1d(np.vdot(x[:1], y[:j]))


VDOTS = [vdot, vdot_apart, vdot_rows, vdot_element, vdot_one]
_CHECKED = {f: checkify.checkify(jax.jit(mutjax.mutable(f)), errors=ERRORS) for f in VDOTS}


@pytest.mark.parametrize("kernel", VDOTS, ids=lambda k: k.__name__)
@settings(max_examples=examples(30), deadline=None)
@given(k=bound, j=bound)
def test_vdot_checks_the_flattened_sizes(kernel, k, j):
    x, y = _inputs()
    _agrees(_CHECKED[kernel], kernel, x, y, k, j)


@pytest.mark.parametrize("kernel", VDOTS, ids=lambda k: k.__name__)
def test_each_vdot_outcome_is_drawn(kernel):
    x, y = _inputs()
    seen = {_numpy(kernel, x, y, k, j)[0] is None for k in range(N + 1) for j in range(N + 1)}
    assert seen == {True, False}
    # A length-1 operand against a longer one is among the failures (NumPy does not broadcast).
    assert _numpy(vdot, x, y, 1, 3)[0] == "cannot reshape array of size 3 into shape (1,)"


def test_vdot_of_complex_conjugates_the_first():
    x = (np.arange(N) + 1j * np.arange(N)[::-1]).astype(np.complex64)
    y = (np.arange(N) * 2 - 1j).astype(np.complex64)
    f = jax.jit(mutjax.mutable(vdot))
    for k in range(N + 1):
        assert_same(f(jnp.asarray(x), jnp.asarray(y), k, k), vdot(x, y, k, k))


def test_vdot_under_plain_jit_keeps_its_values():
    x, y = _inputs()
    f = jax.jit(mutjax.mutable(vdot_rows))
    for k in range(N):
        assert_same(f(jnp.asarray(x), jnp.asarray(y), k, k), vdot_rows(x, y, k, k))


def test_vdot_of_unlike_axes_is_refused():
    x, y = _inputs()

    def kernel(x, y, k):
        return np.vdot(x.reshape(2, 3)[:, :k], y[:k])

    with pytest.raises(mutjax.DynamicShapeError, match=r"^mutjax: .*np\.vdot"):
        jax.jit(mutjax.mutable(kernel))(jnp.asarray(x), jnp.asarray(y), 2)


# -- eager converted loops raise NumPy's ValueError -----------------------------------


def shifting_sums(x, y, n, d):
    for i in range(n):
        x[:i] += y[N - i - d :]  # longer than x[:i] by d
    return x


def shifting_copies(x, y, n, d):
    for i in range(n):
        x[:i] = y[N - i - d :]
    return x


def nested_products(x, y, n, d):
    for i in range(n):
        for j in range(i):
            x[j] += np.vdot(x[:j], y[: j + d])
    return x


def shifting_dots(x, y, n, d):
    for i in range(n):
        x[0] += y[: i + d] @ x[:i]
    return x


LOOPS = [shifting_sums, shifting_copies, nested_products, shifting_dots]
_EAGER = {f: mutjax.mutable(f, loops=True) for f in LOOPS}


@pytest.mark.parametrize("kernel", LOOPS, ids=lambda k: k.__name__)
@settings(max_examples=examples(15), deadline=None)
@given(n=st.integers(0, N), d=st.integers(0, 2))
def test_eager_converted_loop_raises_numpys_value_error(kernel, n, d):
    x, y = _inputs()
    raised = _raises_as_numpy(_EAGER[kernel], kernel, x, y, n, d)
    assert not isinstance(raised, mutjax.DynamicShapeError)


@pytest.mark.parametrize("kernel", LOOPS, ids=lambda k: k.__name__)
def test_each_eager_loop_outcome_is_drawn(kernel):
    x, y = _inputs()
    seen = {_numpy(kernel, x, y, n, d)[0] is None for n in range(N + 1) for d in range(3)}
    assert seen == {True, False}


@pytest.mark.parametrize("late", [0, 1, 2, 3])
def test_eager_loop_raises_the_first_failure_of_numpys_order(late):
    x, y = _inputs()

    def kernel(x, y, n):
        for i in range(n):
            x[i + late + 3] += 1  # out of bounds from i = 3 - late on
            x[:i] += y[: i + i // 2]  # too long from i = 2 on
        return x

    try:
        kernel(x.copy(), y, N)
    except (IndexError, ValueError) as e:
        want = e
    with pytest.raises(type(want)) as info:
        mutjax.mutable(kernel, loops=True)(jnp.asarray(x), jnp.asarray(y), N)
    assert str(info.value) == str(want)


def test_eager_loop_still_raises_numpys_index_error():
    x, y = _inputs()

    def kernel(x, y, n):
        for i in range(n):
            x[i + 2] += y[:i] @ x[:i]
        return x

    with pytest.raises(IndexError) as info:
        kernel(x.copy(), y, N)
    with pytest.raises(IndexError) as got:
        mutjax.mutable(kernel, loops=True)(jnp.asarray(x), jnp.asarray(y), N)
    assert str(got.value) == str(info.value)


def test_jit_of_the_loop_raises_nothing_and_checkify_reports():
    x, y = _inputs()
    want, _ = _numpy(shifting_sums, x, y, N, 1)
    assert want is not None
    jax.jit(mutjax.mutable(shifting_sums, loops=True), static_argnums=3)(
        jnp.asarray(x), jnp.asarray(y), N, 1
    )
    checked = checkify.checkify(mutjax.jit(shifting_sums, static_argnums=3), errors=ERRORS)
    err, _ = checked(jnp.asarray(x), jnp.asarray(y), N, 1)
    assert err.get() == want


def test_a_combinators_body_keeps_jax_semantics_eagerly():
    x, y = _inputs()

    def kernel(x, y):
        def body(i, c):
            x[:i] += y[N - i - 1 :]
            return c

        mutjax.fori_loop(0, N, body, 0)
        return x

    assert _numpy(shifting_sums, x, y, N, 1)[0] is not None
    # As jax.lax.fori_loop: no raise, and the values jit gives.
    eager = mutjax.mutable(kernel)(jnp.asarray(x), jnp.asarray(y))
    assert_same(eager, jax.jit(mutjax.mutable(kernel))(jnp.asarray(x), jnp.asarray(y)))


# -- in-place operators with static shapes: NumPy's words ------------------------------

OPERATORS = ["+=", "-=", "*=", "/=", "//=", "%=", "**=", "&=", "|=", "^=", "<<=", ">>="]


def _inplace_kernel(op, stop, other):
    namespace: dict = {}
    exec(f"def kernel(x, y):\n    x[:{stop}] {op} y[:{other}]\n    return x\n", namespace)
    return namespace["kernel"]


@pytest.mark.parametrize("op", OPERATORS)
@settings(max_examples=examples(8), deadline=None)
@given(stop=st.integers(0, N), other=st.integers(0, N))
def test_static_inplace_operator_says_what_numpy_says(op, stop, other):
    kernel = _inplace_kernel(op, stop, other)
    dtype = np.float32 if op in ("/=", "**=") else np.int32
    x, y = np.arange(1, N + 1, dtype=dtype), np.arange(N, dtype=dtype) % 3 + 1
    for f in (mutjax.mutable(kernel), jax.jit(mutjax.mutable(kernel))):
        _raises_as_numpy(f, kernel, x, y)


def test_static_inplace_words_the_output_shape():
    x, y = _inputs()
    kernel = _inplace_kernel("+=", 3, 4)
    want = "operands could not be broadcast together with shapes (3,) (4,) (3,) "
    assert _numpy(kernel, x, y)[0] == want
    with pytest.raises(ValueError) as info:
        mutjax.mutable(kernel)(jnp.asarray(x), jnp.asarray(y))
    assert str(info.value) == want


def test_static_inplace_of_two_axes_lists_and_scalars():
    def iadd(x, y):
        a = x.reshape(2, 3)
        a[:, :2] += y.reshape(3, 2)
        return x

    def ilist(x, y):
        x[:3] -= [1, 2]
        return x

    def scalar_target(x, y):  # a NumPy scalar rebinds: no in-place shape rule
        s = x[0]
        s += y[:3]
        return s

    x, y = _inputs()
    for f in (iadd, ilist, scalar_target):
        _raises_as_numpy(mutjax.mutable(f), f, x, y)


# -- list and tuple values into a traced slice ------------------------------------------


def list3(x, k, j):
    x[:k] = [1, 2, 3]
    return x


def list1(x, k, j):
    x[:k] = [7]
    return x


def tuple_tail(x, k, j):
    x[k:] = (1.5, -2.5)
    return x


def list_rows(x, k, j):
    a = x.reshape(2, 3)
    a[:, :k] = [[1, 2], [3, 4]]
    return x


def list_traced(x, k, j):  # elements traced: JAX converts the sequence
    x[:k] = [x[0] * 2, 5, x[j % N]]
    return x


def list_empty(x, k, j):
    x[k:j] = []
    return x


LISTS = [list3, list1, tuple_tail, list_rows, list_traced, list_empty]
_LIST_CHECKED = {f: checkify.checkify(jax.jit(mutjax.mutable(f)), errors=ERRORS) for f in LISTS}


@pytest.mark.parametrize("kernel", LISTS, ids=lambda k: k.__name__)
@pytest.mark.parametrize("dtype", [np.int32, np.float32])
@settings(max_examples=examples(15), deadline=None)
@given(k=bound, j=bound)
def test_sequence_value_is_the_array_numpy_makes(kernel, dtype, k, j):
    x = np.arange(N, dtype=dtype) - 2
    _agrees(_LIST_CHECKED[kernel], kernel, x, k, j)


@pytest.mark.parametrize("kernel", LISTS, ids=lambda k: k.__name__)
def test_every_bound_of_a_sequence_value_agrees_with_numpy(kernel):
    # Every bound pair, not a draw: the ones NumPy accepts and the ones it refuses.
    x = np.arange(N, dtype=np.float32)
    outcomes = [
        _agrees(_LIST_CHECKED[kernel], kernel, x, k, j) is None
        for k in range(-1, N + 2)
        for j in range(N + 1)
    ]
    assert any(outcomes)  # some bounds fit the value: the values were compared
    if kernel is not list1:  # a 1-element value broadcasts into every length
        assert not all(outcomes)  # and some are NumPy's ValueError, reported alike


def test_sequence_equals_the_array_value():
    x = np.arange(N, dtype=np.float32)

    def as_array(x, k, j):
        x[:k] = np.array([1, 2, 3])
        return x

    f, g = jax.jit(mutjax.mutable(list3)), jax.jit(mutjax.mutable(as_array))
    for k in range(N + 1):
        assert_same(f(jnp.asarray(x), k, 0)[3:], g(jnp.asarray(x), k, 0)[3:])
    assert_same(f(jnp.asarray(x), 3, 0), list3(x.copy(), 3, 0))


def test_sequence_into_a_traced_slice_eagerly_in_a_loop():
    x = np.arange(N, dtype=np.float32)

    def kernel(x, n):
        for i in range(n):
            x[i : i + 2] = [i, -i]  # the last i's slice holds one element
        return x

    want, _ = _numpy(kernel, x, N)
    assert want == "could not broadcast input array from shape (2,) into shape (1,)"
    assert_same(mutjax.mutable(kernel, loops=True)(jnp.asarray(x), N - 1), kernel(x.copy(), N - 1))
    with pytest.raises(ValueError) as info:
        mutjax.mutable(kernel, loops=True)(jnp.asarray(x), N)
    assert str(info.value) == want


# -- NumPy's own words for a traced slice's product with a scalar -------------------------


@pytest.mark.parametrize(
    "kernel",
    [
        lambda x, k: x[:k] @ 2.0,
        lambda x, k: 2.0 @ x[:k],
        lambda x, k: np.matmul(x[:k], 2.0),
        lambda x, k: np.matmul(np.float32(2), x[:k]),
    ],
    ids=["matmul_scalar", "rmatmul_scalar", "np_matmul_scalar", "np_matmul_scalar_first"],
)
def test_matmul_with_a_scalar_says_what_numpy_says(kernel):
    x, _ = _inputs()
    want, _ = _numpy(kernel, x, 3)
    assert want is not None
    with pytest.raises(ValueError) as info:
        jax.jit(mutjax.mutable(kernel))(jnp.asarray(x), 3)
    assert str(info.value) == want


_dims = st.lists(st.integers(1, 3), min_size=0, max_size=3)


@settings(max_examples=examples(40), deadline=None)
@given(a=_dims.filter(len), b=_dims)
def test_static_inplace_matmul_says_what_numpy_says(a, b):
    # Batch axes of `b` beyond the target's own are left to matmul (not drawn).
    if len(b) > 2 and tuple(b[:-2]) != tuple(a[:-2]):
        b = b[-2:]

    def kernel(x, y):
        x @= y
        return x

    x = np.arange(np.prod(a), dtype=np.float32).reshape(a)
    y = np.arange(np.prod(b), dtype=np.float32).reshape(b) % 3
    _raises_as_numpy(mutjax.mutable(kernel), kernel, x, y)


def test_sequence_of_more_axes_than_the_slice_is_numpys_error():
    def kernel(x, k):
        x[:k] = [[1, 2, 3]]
        return x

    x = np.arange(N, dtype=np.float32)
    want = _numpy(kernel, x, 3)[0]
    assert want is not None
    with pytest.raises(ValueError) as info:
        jax.jit(mutjax.mutable(kernel))(jnp.asarray(x), 3)
    assert str(info.value) == want


def leading_ones(x, k, j):
    x[:k] = np.arange(3.0).reshape(1, 1, 3)  # NumPy drops the leading 1s
    return x


_LEADING = checkify.checkify(jax.jit(mutjax.mutable(leading_ones)), errors=ERRORS)


@settings(max_examples=examples(15), deadline=None)
@given(k=bound, j=bound)
def test_value_with_leading_unit_axes_fits_a_traced_slice(k, j):
    _agrees(_LEADING, leading_ones, np.arange(N, dtype=np.float32), k, j)


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.float16, np.complex64])
@pytest.mark.parametrize("kernel", VDOTS, ids=lambda k: k.__name__)
def test_vdot_keeps_numpys_dtype(kernel, dtype):
    x, y = (a.astype(dtype) for a in _inputs())
    f = jax.jit(mutjax.mutable(kernel))
    for k, j in [(1, 1), (2, 2), (0, 0)]:
        if _numpy(kernel, x, y, k, j)[0] is None:
            assert_same(f(jnp.asarray(x), jnp.asarray(y), k, j), kernel(x, y, k, j))


def computed_bound(x, y):
    k = np.argmax(x)  # traced in the eager call's program, outside any loop
    x[:k] += y[:4]
    return x


@settings(max_examples=examples(20), deadline=None)
@given(top=st.integers(0, N - 1))
def test_eager_call_raises_for_a_computed_length(top):
    x, y = _inputs()
    x = np.where(np.arange(N) == top, 100, x).astype(np.float32)
    _raises_as_numpy(mutjax.mutable(computed_bound), computed_bound, x, y)


@pytest.mark.parametrize("stop,other", [(3, 3), (3, 4), (2, 5)])
@pytest.mark.parametrize("op", ["/=", "+=", "*="])
def test_static_inplace_cast_is_refused_before_the_shapes(op, stop, other):
    # NumPy's ufunc resolves the output dtype before it broadcasts: int32 += float64.
    kernel = _inplace_kernel(op, stop, other)
    x, y = np.arange(N, dtype=np.int32), np.arange(N, dtype=np.float64) + 0.5
    with pytest.raises(TypeError):
        kernel(x.copy(), y)
    with pytest.raises(TypeError, match=r"^Cannot cast ufunc '\w+' output from dtype"):
        mutjax.mutable(kernel)(jnp.asarray(x), jnp.asarray(y, np.float32))
