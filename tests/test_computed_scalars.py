"""0-d results of computations are NumPy scalars, 0-d creations and views are arrays.

In NumPy every operator, ufunc, reduction and product whose result is 0-d
gives a NumPy scalar (``A.sum()``, ``A[0, 0] * 2``, ``-z``, ``u @ v``): its
in-place operators rebind the name, so a second name bound before keeps the
old value, and item assignment into it raises ``TypeError``. A 0-d *array*
comes from creation (``np.zeros(())``, ``np.array(3.0)``, ``z.copy()``),
from views (``z[...]``, ``A[1, 2, ...]``, ``reshape(())``), from ``out=`` and
from a few functions (``np.where``, ``astype`` of a 0-d array): its in-place
operators change it, and every name bound to it sees that. Each kernel runs
on NumPy and under ``mutjax.mutable`` (eagerly and under ``jax.jit``): the
values, dtypes and which name sees what must agree, and where NumPy raises
mutjax raises the same exception type.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy
import pytest
from helpers import assert_same

import mutjax
import mutjax.numpy as np  # NumPy's own outside a mutable scope: the oracle runs it too


def _check(kernel: Any, *args: numpy.ndarray) -> None:
    try:
        expected, error = kernel(*(a.copy() for a in args)), None
    except Exception as e:  # the oracle's answer is its exception
        expected, error = None, e
    for run in (mutjax.mutable(kernel), jax.jit(mutjax.mutable(kernel))):
        if error is not None:
            with pytest.raises(type(error)):
                run(*(jnp.asarray(a) for a in args))
            continue
        assert_same(run(*(jnp.asarray(a) for a in args)), expected, kernel.__name__)


def _rebinds(make: Any) -> Any:
    def kernel(A, u):
        s = make(A, u)
        t = s
        s += 1  # a NumPy scalar: a new value for s, t keeps the old one
        s *= 2
        return A, t, s

    kernel.__name__ = f"rebinds_{make.__name__}"
    return kernel


def _in_place(make: Any) -> Any:
    def kernel(A, u):
        z = make(A, u)
        t = z
        z += 1  # a 0-d array: changed in place, t sees it
        z[...] = z * 2
        return A, t, z

    kernel.__name__ = f"in_place_{make.__name__}"
    return kernel


def _raises(make: Any) -> Any:
    def kernel(A, u):
        s = make(A, u)
        s[...] = 3.0  # NumPy: 'numpy.float32' object does not support item assignment
        return s

    kernel.__name__ = f"raises_{make.__name__}"
    return kernel


# Each computes a 0-d result that NumPy gives as a NumPy scalar.
def sum_method(A, u):
    return A.sum()


def np_sum(A, u):
    return np.sum(A)


def np_max(A, u):
    return np.max(A)


def mean_method(A, u):
    return A.mean()


def element_times_two(A, u):
    return A[0, 0] * 2


def elements_product(A, u):
    return A[0, 1] * u[1]  # x[i] * y[i]


def dot(A, u):
    return np.dot(A[1], u)


def matmul(A, u):
    return A[0] @ u


def ufunc(A, u):
    return np.add(A[1, 1], 1)


def sine(A, u):
    return np.sin(A[1, 2])


def negated_zeros(A, u):
    return -np.zeros((), numpy.float32)  # an operator on a 0-d array gives a scalar


def zeros_plus_one(A, u):
    return np.zeros((), numpy.float32) + 1


def scalar_astype(A, u):
    return A.sum().astype(numpy.float32)


def scalar_copy(A, u):
    return A.sum().copy()


def clipped(A, u):
    return np.clip(A[0, 2], 0.0, 1.0)


# Each makes a 0-d result that NumPy gives as a 0-d array.
def zeros(A, u):
    return np.zeros((), numpy.float32)


def empty_filled(A, u):
    z = np.empty((), numpy.float32)
    z[...] = 2.0
    return z


def full(A, u):
    return np.full((), 2.0, numpy.float32)


def array(A, u):
    return np.array(3.0, numpy.float32)


def asarray_of_scalar(A, u):
    return np.asarray(A.sum())  # a new 0-d array, not the scalar itself


def zeros_like_scalar(A, u):
    return np.zeros_like(A.sum())


def zeros_copy(A, u):
    return np.zeros((), numpy.float32).copy()


def np_copy(A, u):
    return np.copy(np.ones((), numpy.float32))


def zeros_astype(A, u):
    return np.zeros(()).astype(numpy.float32)


def where(A, u):
    return np.where(A[0, 0] > 0, A[0, 0], A[0, 1])


def out_argument(A, u):
    o = np.zeros((), numpy.float32)
    return np.add(A[0, 1], 1, out=o)


SCALARS = [
    sum_method, np_sum, np_max, mean_method, element_times_two, elements_product, dot,
    matmul, ufunc, sine, negated_zeros, zeros_plus_one, scalar_astype, scalar_copy, clipped,
]  # fmt: skip
ARRAYS = [
    zeros, empty_filled, full, array, asarray_of_scalar, zeros_like_scalar, zeros_copy,
    np_copy, zeros_astype, where, out_argument,
]  # fmt: skip

_A = numpy.arange(6.0, dtype=numpy.float32).reshape(2, 3)
_U = numpy.array([1.0, 2.0, 3.0], numpy.float32)


@pytest.mark.parametrize("make", SCALARS, ids=lambda f: f.__name__)
def test_a_computed_0d_result_rebinds_as_a_numpy_scalar(make):
    _check(_rebinds(make), _A, _U)


@pytest.mark.parametrize("make", SCALARS, ids=lambda f: f.__name__)
def test_item_assignment_into_a_computed_0d_result_raises(make):
    _check(_raises(make), _A, _U)


@pytest.mark.parametrize("make", ARRAYS, ids=lambda f: f.__name__)
def test_a_created_0d_array_changes_in_place(make):
    _check(_in_place(make), _A, _U)


def test_the_scalar_error_names_the_line_and_the_fix():
    def kernel(A):
        s = A.sum()
        s[()] = 1.0

    with pytest.raises(TypeError, match="'numpy.float32' object does not support item") as err:
        jax.jit(mutjax.mutable(kernel))(jnp.asarray(_A))
    assert "test_computed_scalars.py" in str(err.value)


def views_of_0d_arrays(A, u):
    z = np.zeros((), numpy.float32)
    v = z[...]  # a view of a 0-d array
    v += 1
    w = A[1, 2, ...]  # a 0-d view of an element
    w += 10
    r = u[:1].reshape(())  # a 0-d view by reshape
    r *= 5
    return A, u, z, v, w, r


def out_into_a_scalar(A, u):
    s = A.sum()
    np.add(1.0, 2.0, out=s)  # NumPy: TypeError, a scalar is no output array
    return s


def scalar_fill(A, u):
    s = A.sum()
    s.fill(9.0)  # a NumPy scalar's fill changes a temporary: nothing happens
    return s


def accumulation(A, u):
    s = 0.0
    for k in range(3):
        s += A[1, k] * u[k]  # each step a new scalar
    t = s
    s += 1
    return t, s


def carried_element(A, u):
    s = A[0, 0]
    for k in range(3):
        s += A[1, k]
    t = s
    s -= 1
    return A, t, s


def element_updates(A, u):
    A[1, 2] += u[0] * u[1]  # still one write of the element
    A[0, 0] *= A.sum()
    return A


def views_of_a_scalar(A, u):
    s = A.sum()
    v = s[...]  # a new 0-d array: writes through it do not reach s
    v[...] = 1.0
    r = s.reshape(1)  # a new 1-element array
    r[0] = 2.0
    t = s.T  # a NumPy scalar again
    t += 3
    return s, v, r, t


def write_into_a_scalars_reshape(A, u):
    s = A[0, 1] * 2
    s.reshape(())[...] = 1.0  # NumPy: TypeError, the reshape is a NumPy scalar
    return s


def conj_of_real_arrays(A, u):
    z = np.zeros((), numpy.float32)
    w = z.conj()  # NumPy's conj of a real array is the array itself
    w += 1
    c = A.conjugate()
    c[0, 0] = 7.0
    return A, z, w


def indices(A, u):
    i = np.array(1)  # a 0-d array: as an index, a copy
    r = A[i]
    r[...] = 7.0
    k = np.where(u[0] > 0, 1, 0)  # a 0-d array too
    q = A[k]
    q[0] = 8.0
    j = np.zeros((), numpy.int32) + 1  # a NumPy scalar: as an index, a view
    p = A[j, 1:]
    p[...] = 5.0
    return A, r, q, p


@pytest.mark.parametrize(
    "kernel",
    [
        indices,
        views_of_a_scalar,
        write_into_a_scalars_reshape,
        conj_of_real_arrays,
        views_of_0d_arrays,
        out_into_a_scalar,
        scalar_fill,
        accumulation,
        carried_element,
        element_updates,
    ],
)
def test_scalars_and_0d_arrays_match_numpy(kernel):
    _check(kernel, _A, _U)


# -- values carried through a loop or a branch -----------------------------------------
# A converted loop (``loops=True``) or a combinator carries a 0-d value as
# what its body made of it: a NumPy scalar where the body's value is one
# (or a Python number), a 0-d array where the body's value is a 0-d array.


def _check_loops(kernel: Any, *args: Any) -> None:
    try:
        expected, error = kernel(*(a.copy() for a in args)), None
    except Exception as e:  # the oracle's answer is its exception
        expected, error = None, e
    converted = mutjax.mutable(kernel, loops=True)
    for run in (converted, jax.jit(converted)):
        if error is not None:
            with pytest.raises(type(error)):
                run(*(jnp.asarray(a) for a in args))
            continue
        assert_same(run(*(jnp.asarray(a) for a in args)), expected, kernel.__name__)


def loop_carried_element(A, u):
    s = A[0, 0]
    for k in range(3):
        s += A[1, k]
    t = s
    s += 1  # a NumPy scalar after the loop: t keeps the old value
    return t, s


def loop_traced_trip_count(A, u, n):
    s = A[0, 0]
    for k in range(n):  # a traced trip count under jit
        s += A[1, k]
    t = s
    s *= 2
    return t, s


def loop_accumulation(A, u):
    s = 0.0  # a Python float: NumPy's sum is a np.float64
    for k in range(3):
        s += A[1, k] * u[k]
    t = s
    s += 1
    return t, s


def loop_sees_old_value_in_body(A, u):
    out = np.zeros(3, numpy.float32)
    s = A[0, 0]
    for k in range(3):
        t = s
        s += A[1, k]  # from the second iteration on, s is the body's scalar
        out[k] = t
    return out, s


def loop_while(A, u):
    s = A[0, 1]
    k = 0
    while s < 20:  # a traced test: a while loop
        s += A[1, k % 3]
        k += 1
    t = s
    s += 1
    return t, s


def loop_write_into_carried_scalar(A, u):
    s = A[0, 0]
    for k in range(3):
        s += A[1, k]
    s[...] = 0.0  # NumPy: TypeError, a NumPy scalar
    return s


def loop_rebinds_to_0d_array(A, u):
    s = np.zeros((), numpy.float32)
    for k in range(3):
        s = np.zeros((), numpy.float32)  # the body's value is a 0-d array
        s += A[1, k]
    t = s
    s += 1  # in place: t sees it
    s[...] = s * 2
    return t, s


def loop_written_0d_array(A, u):
    z = np.zeros((), numpy.float32)
    w = z
    for k in range(3):
        z += A[1, k]  # a write into the array, not a new value
    same = z is w
    z += 1
    return w, z, same


@pytest.mark.parametrize(
    "kernel",
    [
        loop_carried_element,
        loop_accumulation,
        loop_sees_old_value_in_body,
        loop_while,
        loop_write_into_carried_scalar,
        loop_rebinds_to_0d_array,
        loop_written_0d_array,
    ],
)
def test_a_converted_loop_carries_what_its_body_makes(kernel):
    _check_loops(kernel, _A, _U)


def test_a_converted_loop_of_traced_length_carries_a_scalar():
    expected = loop_traced_trip_count(_A.copy(), _U, 3)
    converted = mutjax.mutable(loop_traced_trip_count, loops=True)
    got = jax.jit(converted)(jnp.asarray(_A), jnp.asarray(_U), 3)
    assert_same(got, expected, "loop_traced_trip_count")


def _combinator_kernels() -> list[tuple[Any, Any]]:
    # (mutjax kernel, NumPy reference): the reference runs the same body as
    # a Python loop or branch.
    def fori(A, u):
        s = mutjax.fori_loop(0, 3, lambda i, s: s + A[1, i], A[0, 0])
        t = s
        s += 1
        return t, s

    def fori_ref(A, u):
        s = A[0, 0]
        for i in range(3):
            s = s + A[1, i]
        t = s
        s += 1
        return t, s

    def fori_python_init(A, u):
        s = mutjax.fori_loop(0, 3, lambda i, s: s + A[1, i] * u[i], 0.0)
        t = s
        s *= 3
        return t, s

    def fori_python_init_ref(A, u):
        s = 0.0
        for i in range(3):
            s = s + A[1, i] * u[i]
        t = s
        s *= 3
        return t, s

    def fori_array_body(A, u):
        def body(i, s):
            z = np.zeros((), numpy.float32)
            z[...] = s + A[1, i]
            return z  # a 0-d array

        s = mutjax.fori_loop(0, 3, body, A[0, 0])
        t = s
        s += 1  # in place: t sees it
        return t, s

    def fori_array_body_ref(A, u):
        s = A[0, 0]
        for i in range(3):
            z = numpy.zeros((), numpy.float32)
            z[...] = s + A[1, i]
            s = z
        t = s
        s += 1
        return t, s

    def fori_in_body(A, u):
        out = np.zeros(3, numpy.float32)

        def body(i, s):
            t = s
            s += A[1, i]  # a NumPy scalar: rebinds s only
            out[i] = t
            return s

        s = mutjax.fori_loop(0, 3, body, A[0, 0])
        return out, s

    def fori_in_body_ref(A, u):
        out = numpy.zeros(3, numpy.float32)
        s = A[0, 0]
        for i in range(3):
            t = s
            s += A[1, i]
            out[i] = t
        return out, s

    def fori_write(A, u):
        s = mutjax.fori_loop(0, 3, lambda i, s: s + A[1, i], A[0, 0])
        s[...] = 0.0
        return s

    def fori_write_ref(A, u):
        s = A[0, 0]
        for i in range(3):
            s = s + A[1, i]
        s[...] = 0.0
        return s

    def while_(A, u):
        k, s = mutjax.while_loop(
            lambda c: c[1] < 20, lambda c: (c[0] + 1, c[1] + A[1, c[0] % 3]), (0, A[0, 1])
        )
        t = s
        s += 1
        return t, s

    def while_ref(A, u):
        k, s = 0, A[0, 1]
        while s < 20:
            k, s = k + 1, s + A[1, k % 3]
        t = s
        s += 1
        return t, s

    def scan_(A, u):
        s, ys = mutjax.scan(lambda c, x: (c * x, c + x), A[0, 2], u)
        t = s
        s -= 1
        return t, s, ys

    def scan_ref(A, u):
        s, ys = A[0, 2], []
        for x in u:
            s, y = s * x, s + x
            ys.append(y)
        t = s
        s -= 1
        return t, s, numpy.stack(ys)

    def cond_(A, u):
        s = mutjax.cond(u[0] > 0, lambda: A[0, 1] * 2, lambda: A[1, 1] * 3)
        t = s
        s += 1
        return t, s

    def cond_ref(A, u):
        s = A[0, 1] * 2 if u[0] > 0 else A[1, 1] * 3
        t = s
        s += 1
        return t, s

    def switch_write(A, u):
        s = mutjax.switch(1, [lambda: A[0, 1] * 2, lambda: A[1, 1] * 3])
        s[...] = 1.0
        return s

    def switch_write_ref(A, u):
        s = A[1, 1] * 3
        s[...] = 1.0
        return s

    return [
        (fori, fori_ref),
        (fori_python_init, fori_python_init_ref),
        (fori_array_body, fori_array_body_ref),
        (fori_in_body, fori_in_body_ref),
        (fori_write, fori_write_ref),
        (while_, while_ref),
        (scan_, scan_ref),
        (cond_, cond_ref),
        (switch_write, switch_write_ref),
    ]


@pytest.mark.parametrize("kernel, reference", _combinator_kernels(), ids=lambda f: f.__name__)
def test_a_combinator_carries_what_its_body_makes(kernel, reference):
    try:
        expected, error = reference(_A.copy(), _U.copy()), None
    except Exception as e:  # the oracle's answer is its exception
        expected, error = None, e
    for run in (mutjax.mutable(kernel), jax.jit(mutjax.mutable(kernel))):
        if error is not None:
            with pytest.raises(type(error)):
                run(jnp.asarray(_A), jnp.asarray(_U))
            continue
        assert_same(run(jnp.asarray(_A), jnp.asarray(_U)), expected, kernel.__name__)
