"""Published NumPy kernels run unchanged: ``mutjax.jit`` and converted code.

Every kernel below is NumPy code as it is written, with ``import numpy``
(under several names), its own NumPy scratch buffers, ``math`` on scalars
and Python loops. NumPy is the oracle: each kernel runs on NumPy arrays and
under ``mutjax.jit`` / ``jax.jit(mutjax.mutable(kernel, loops=True))`` and
eagerly; values, shapes and dtypes (NumPy's 64-bit defaults as JAX's
default types) must agree. The error tests check that every way a traced
value meets a NumPy array gives one mutjax error naming this file's line.
"""

from __future__ import annotations

import math
import statistics
import sys
import threading
import traceback
import warnings

import jax
import jax.numpy as jnp
import numpy
import numpy as np
import pytest
from helpers import (
    all_primitives,
    assert_same,
    examples,
    loop_kinds,
    returning_args,
    split_returned,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy import empty, zeros

import mutjax

MODES = ("jit", "eager", "mutjax.jit")


def _canonical(x):
    x = np.asarray(x)
    return x.astype(jax.dtypes.canonicalize_dtype(x.dtype))


def check(kernel, *args, modes=MODES, static_argnums=(), rtol=1e-5, atol=1e-5):
    """``kernel`` on NumPy, then converted under each mode: results and final args agree."""
    np_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    out = kernel(*np_args)
    expected = (jax.tree_util.tree_map(_canonical, out), [_canonical(a) for a in np_args])
    for mode in modes:
        if mode == "mutjax.jit":
            f = mutjax.jit(kernel, static_argnums=static_argnums, **returning_args(len(args)))
        else:
            f = mutjax.mutable(kernel, loops=True, **returning_args(len(args)))
            if mode == "jit":
                f = jax.jit(f, static_argnums=static_argnums)
        jx = [jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
        got, final = split_returned(f(*jx), len(args), out)
        # A Python scalar result (eagerly, a static value) as JAX's default type.
        got = (jax.tree_util.tree_map(_canonical, got), [np.asarray(a) for a in final])
        assert_same(got, expected, mode, rtol, atol)
    return out


def loop_primitives(f, *args):
    return set(all_primitives(jax.make_jaxpr(f)(*args).jaxpr)) & {"while", "scan"}


def n_eqns(f, *args):
    return len(all_primitives(jax.make_jaxpr(f)(*args).jaxpr))


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# -- 1. the kernel's own NumPy buffers ------------------------------------------------


def doubled_np(x):
    buf = np.zeros(x.shape[0])  # float64 in NumPy: JAX's default float here
    for i in range(x.shape[0]):
        buf[i] = x[i] * 2
    return buf


def doubled_numpy(x):
    buf = numpy.empty_like(x)
    for i in range(x.shape[0]):
        buf[i] = x[i] * 2
    return buf


def doubled_from_import(x):
    a = zeros((x.shape[0],), x.dtype)
    b = empty(x.shape, dtype=np.float32)
    for i in range(x.shape[0]):
        a[i] = x[i] * 2
        b[i] = a[i] + 1
    return a, b


def doubled_ndarray(x):
    buf = np.ndarray((x.shape[0],), x.dtype)  # the constructor as a scratch buffer
    for i in range(x.shape[0]):
        buf[i] = x[i] * 2
    return buf


def every_creation(x):
    n = x.shape[0]
    bufs = [
        np.ones(n, np.float32),
        np.full(n, 2.0, np.float32),
        np.zeros_like(x),
        np.ones_like(x),
        np.full_like(x, 3.0),
        np.array([0.0] * n, np.float32),
        np.asarray([1.0] * n, dtype=np.float32),
        np.arange(n),
        np.linspace(0.0, 1.0, n, dtype=np.float32),
        np.copy(x),
    ]
    eye = np.eye(n, dtype=np.float32)
    ident = np.identity(n, dtype=np.float32)
    for i in range(n):
        for b in bufs:
            b[i] = b[i] + x[i]
        eye[i, i] = x[i]
        ident[i, n - 1 - i] = x[i] * 2
    return bufs, eye, ident


@pytest.mark.parametrize(
    "kernel", [doubled_np, doubled_numpy, doubled_from_import, doubled_ndarray, every_creation]
)
def test_numpy_scratch_buffers_are_mutable_in_converted_code(kernel) -> None:
    check(kernel, rand(5))


def helper_with_buffer(x, i):
    tmp = np.zeros(2, x.dtype)
    tmp[0] = x[i]
    tmp[1] = x[i] * 3
    return tmp.sum()


def calls_helper(x):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = helper_with_buffer(x, i)
    return out


def test_buffers_in_the_helpers_a_kernel_calls() -> None:
    check(calls_helper, rand(6))


def running_mean(x):
    n = x.shape[0]
    out = np.empty_like(x)
    acc = np.zeros(1, x.dtype)
    for i in range(n):
        acc[0] += x[i]
        out[i] = acc[0] / (i + 1)
    return out


@settings(max_examples=examples(8), deadline=None)
@given(
    st.integers(1, 6).flatmap(
        lambda n: st.lists(st.floats(-100, 100, width=32), min_size=n, max_size=n)
    )
)
def test_scratch_buffer_kernel_matches_numpy_on_any_input(values) -> None:
    check(running_mean, np.array(values, np.float32), modes=("mutjax.jit",), rtol=1e-4, atol=1e-4)


def math_on_scalars(x):
    out = np.zeros((8, x.shape[0]), x.dtype)
    for i in range(x.shape[0]):
        v = abs(x[i]) + 0.5
        out[0, i] = math.sqrt(v)
        out[1, i] = math.exp(-v)
        out[2, i] = math.log(v)
        out[3, i] = math.tanh(x[i])
        out[4, i] = math.sin(x[i]) + math.cos(x[i])
        out[5, i] = math.atan2(x[i], v)
        out[6, i] = math.floor(x[i] * 3)
        out[7, i] = math.pow(v, 1.5) + math.fabs(x[i])
    return out


def test_math_on_traced_scalars_computes_with_jax() -> None:
    check(math_on_scalars, rand(5), rtol=1e-5, atol=1e-5)


def math_on_static_values(x):
    scale = math.sqrt(x.shape[0])  # a Python float, as in NumPy
    for i in range(x.shape[0]):
        x[i] = x[i] * scale + math.pi
    return x, scale


def test_math_on_static_values_stays_python() -> None:
    check(math_on_static_values, rand(4), modes=("jit", "eager"))


def draws_global_random(x):
    for i in range(x.shape[0]):
        x[i] = np.random.rand()
    return x


def draws_random_random(x):
    x[0] = numpy.random.random()
    return x


def draws_generator(x):
    rng = np.random.default_rng(0)
    for i in range(x.shape[0]):
        x[i] = rng.standard_normal()
    return x


@pytest.mark.parametrize(
    "kernel, line",
    [
        (draws_global_random, "x[i] = np.random.rand()"),
        (draws_random_random, "numpy.random.random()"),
    ]
    + [(draws_generator, "rng.standard_normal()")],
)
def test_numpy_random_in_converted_code_names_the_line_and_jax_random(kernel, line) -> None:
    for f in (mutjax.jit(kernel), mutjax.mutable(kernel, loops=True)):
        with pytest.raises(mutjax.UnsupportedNumpyError, match="jax.random") as info:
            f(jnp.zeros(3))
        assert f"test_unchanged.py:{_line_of(line)}" in str(info.value)
        assert line in str(info.value)


def _line_of(text: str) -> int:
    with open(__file__, encoding="utf-8") as fh:
        for n, src in enumerate(fh, 1):
            if text in src and not src.lstrip().startswith(("[", "(", "+", "assert")):
                return n
    raise AssertionError(text)


def test_mutjax_numpy_ndarray_constructs_and_still_checks_instances() -> None:
    import mutjax.numpy as mnp

    def kernel(x):
        buf = mnp.ndarray((3,), np.float32)
        buf[...] = 0
        buf[1] = x[0] * 2
        return buf

    got = jax.jit(mutjax.mutable(kernel))(jnp.ones(3))
    np.testing.assert_array_equal(got, [0.0, 2.0, 0.0])
    assert isinstance(np.zeros(2), mnp.ndarray)
    assert not isinstance([1.0], mnp.ndarray)
    assert isinstance(mnp.ndarray((2,), np.float32), np.ndarray)  # NumPy's outside a scope


# -- 2. outside conversion: one error for a traced value in a NumPy array --------------


def element_write(x):
    buf = np.zeros(3, np.float32)
    for i in range(3):
        buf[i] = x[i] * 2  # ERR element_write
    return buf


def slice_write(x):
    buf = np.zeros(3, np.float32)
    buf[0:2] = x[:2]  # ERR slice_write
    return buf


def complex_element(x):
    buf = np.zeros(3, np.complex64)
    buf[0] = x[0]  # ERR complex_element
    return buf


def traced_index(x, i):
    buf = np.arange(3.0, dtype=np.float32)
    return buf[i] + x[0]  # ERR traced_index


def ufunc_at(x):
    buf = np.zeros(3, np.float32)
    np.add.at(buf, [0, 1], x[:2])  # ERR ufunc_at
    return buf


def ufunc_out(x):
    buf = np.zeros(3, np.float32)
    np.add(x, x, out=buf)  # ERR ufunc_out
    return buf


@pytest.mark.parametrize(
    "kernel", [element_write, slice_write, complex_element, traced_index, ufunc_at, ufunc_out]
)
def test_traced_value_into_a_numpy_array_is_one_mutjax_error(kernel) -> None:
    args = (jnp.ones(3), 1) if kernel is traced_index else (jnp.ones(3),)
    with pytest.raises(mutjax.NumpyArrayError) as info:
        jax.jit(mutjax.mutable(kernel))(*args)
    msg = str(info.value)
    assert f"test_unchanged.py:{_line_of(f'# ERR {kernel.__name__}')}" in msg
    assert "mutjax.numpy" in msg and "mutjax.jit" in msg
    # ... and the same kernel, converted, just works (NumPy as the oracle).
    check(kernel, *([rand(3), 1] if kernel is traced_index else [rand(3)]), modes=("mutjax.jit",))


def test_the_mutjax_errors_are_also_the_jax_errors_they_replace() -> None:
    with pytest.raises(jax.errors.ConcretizationTypeError):
        jax.jit(mutjax.mutable(element_write))(jnp.ones(3))
    with pytest.raises(jax.errors.TracerArrayConversionError):
        jax.jit(mutjax.mutable(slice_write))(jnp.ones(3))

    def index_fallback(x, n):
        try:
            steps = range(n)  # traced n: JAX's integer-conversion error
        except jax.errors.TracerIntegerConversionError:
            steps = range(3)
        for k in steps:
            x[k] = k
        return x

    got = jax.jit(mutjax.mutable(index_fallback))(jnp.zeros(4), 2)
    np.testing.assert_array_equal(got, [0.0, 1.0, 2.0, 0.0])


def traced_if(x):
    if x[0] > 0:  # ERR traced_if
        x[1] = 1.0
    return x


def test_data_dependent_if_without_conversion_says_what_converts_it() -> None:
    f = jax.jit(mutjax.mutable(traced_if))
    with pytest.raises(jax.errors.TracerBoolConversionError) as info:
        f(jnp.ones(3))
    assert isinstance(info.value, mutjax.MutjaxError)
    assert f"test_unchanged.py:{_line_of('# ERR traced_if')}" in str(info.value)
    assert "mutjax.jit" in str(info.value) and "loops=True" in str(info.value)
    check(traced_if, rand(3))  # converted, it works
    np.testing.assert_array_equal(mutjax.mutable(traced_if)(jnp.ones(2)), [1.0, 1.0])  # eager


# -- 3. mutjax.jit ---------------------------------------------------------------------


def smooth(u, passes):
    """Smooth the interior."""
    out = np.empty_like(u)
    for _ in range(passes):
        for i in range(1, u.shape[0] - 1):
            out[i] = 0.25 * u[i - 1] + 0.5 * u[i] + 0.25 * u[i + 1]
        u[1:-1] = out[1:-1]
    return u


def test_mutjax_jit_forms() -> None:
    u = rand(7)
    expected = smooth(u.copy(), 3)

    plain = mutjax.jit(smooth, static_argnums=1)
    decorated = mutjax.jit(static_argnames="passes")(smooth)
    bare = mutjax.jit(smooth)  # passes traced: a loop over a traced trip count
    for f in (plain, decorated, bare):
        np.testing.assert_allclose(f(u, passes=3) if f is decorated else f(u, 3), expected, 1e-6)
    np.testing.assert_array_equal(u, rand(7))  # the caller's array never changes
    assert plain.__doc__ == smooth.__doc__ and plain.__name__ == "smooth"
    assert loop_primitives(bare, u, 3)
    _, u_final = mutjax.jit(smooth, return_argnums=0, static_argnums=1)(u, 3)
    np.testing.assert_allclose(u_final, expected, 1e-6)
    assert "Example" in mutjax.jit.__doc__


def test_mutjax_jit_as_decorator() -> None:
    @mutjax.jit
    def fill(x):
        for i in range(x.shape[0]):
            x[i] = i * i
        return x

    np.testing.assert_array_equal(fill(jnp.zeros(4)), [0.0, 1.0, 4.0, 9.0])
    assert loop_kinds(jax.make_jaxpr(fill)(jnp.zeros(4)).jaxpr)  # a loop, not unrolled


# -- 4. errors point at the user's code --------------------------------------------------


def bad_static_index(x):
    for i in range(x.shape[0]):
        x[i, 0] = x[i, 1] + 1
        x[i, 10] = 0.0  # ERR bad_static_index
    return x


def _frames(e: BaseException) -> list[traceback.FrameSummary]:
    return traceback.extract_tb(e.__traceback__)


def test_own_exception_in_converted_loop_names_the_users_line() -> None:
    expected = f"test_unchanged.py:{_line_of('# ERR bad_static_index')}"
    for f in (mutjax.jit(bad_static_index), mutjax.mutable(bad_static_index, loops=True)):
        with pytest.raises(IndexError) as info:
            f(jnp.zeros((3, 2)))
        frames = _frames(info.value)
        text = "".join(traceback.format_exception(info.value))
        assert "__autograph_generated_file" not in text
        assert any(f"{fr.filename.rsplit('/', 1)[-1]}:{fr.lineno}" == expected for fr in frames)
        assert "x[i, 10] = 0.0" in text  # the user's source line itself
    with pytest.raises(IndexError, match="index 10 is out of bounds"):
        bad_static_index(np.zeros((3, 2)))  # NumPy's error for the same line


def float_in_loop(x):
    for i in range(x.shape[0]):
        x[i] = float(x[i]) * 2  # ERR float_in_loop
    return x


def test_mutjax_message_in_converted_loop_names_the_users_line() -> None:
    with pytest.raises(mutjax.NumpyArrayError) as info:
        mutjax.jit(float_in_loop)(jnp.ones(3))
    msg = str(info.value)
    assert f"test_unchanged.py:{_line_of('# ERR float_in_loop')}" in msg
    assert "__autograph_generated_file" not in msg
    assert "__autograph_generated_file" not in "".join(traceback.format_exception(info.value))


# -- 5. lambda wrappers keep conversion --------------------------------------------------


def seidel(A, steps):
    n = A.shape[0]
    for _ in range(steps):
        for i in range(1, n - 1):
            for j in range(1, n - 1):
                A[i, j] = (A[i - 1, j] + A[i, j] + A[i + 1, j] + A[i, j - 1] + A[i, j + 1]) / 5.0
    return A


def test_lambda_wrapper_keeps_the_kernels_it_calls_converted() -> None:
    wrapped = mutjax.mutable(lambda A: seidel(A, 2), loops=True)
    small, large = rand(5, 5), rand(12, 12)
    assert loop_primitives(wrapped, small)
    assert n_eqns(wrapped, small) == n_eqns(wrapped, large)  # not unrolled
    np.testing.assert_allclose(jax.jit(wrapped)(small), seidel(small.copy(), 2), 1e-5)

    k = mutjax.mutable(seidel, loops=True)
    outer = jax.jit(lambda A: k(A, 3))
    assert loop_primitives(outer, small)
    np.testing.assert_allclose(outer(small), seidel(small.copy(), 3), 1e-5)


# -- 6. reliability ------------------------------------------------------------------------


def prefix(x):
    for i in range(1, x.shape[0]):
        x[i] = x[i] + x[i - 1]
    return x


def waits_on_worker(x):
    result = {}

    def work():
        # Another thread's own kernel (it cannot use this scope's arrays).
        result["v"] = mutjax.mutable(prefix, loops=True)(np.arange(4.0, dtype=np.float32))

    t = threading.Thread(target=work)
    t.start()
    t.join()
    for i in range(x.shape[0]):
        x[i] = x[i] * 2
    return x, result["v"]


def test_converted_kernel_waiting_on_a_converted_worker_finishes() -> None:
    done = {}

    def main():
        done["out"] = mutjax.mutable(waits_on_worker, loops=True)(np.arange(4.0, dtype=np.float32))

    t = threading.Thread(target=main, daemon=True)
    t.start()
    t.join(timeout=120)
    assert not t.is_alive(), "deadlock: the converted kernel never finished"
    doubled, prefixed = done["out"]
    np.testing.assert_array_equal(doubled, [0.0, 2.0, 4.0, 6.0])
    np.testing.assert_array_equal(prefixed, [0.0, 1.0, 3.0, 6.0])


def test_eight_threads_mixing_eager_jit_and_converted_calls() -> None:
    from concurrent.futures import ThreadPoolExecutor

    x = rand(6)
    calls = [
        lambda: mutjax.mutable(prefix, loops=True)(x),  # eager, converted
        lambda: jax.jit(mutjax.mutable(prefix, loops=True))(x),
        lambda: mutjax.jit(doubled_numpy)(x),
        lambda: mutjax.mutable(prefix)(x),  # eager, not converted
        lambda: mutjax.jit(running_mean)(x),
        lambda: mutjax.mutable(calls_helper, loops=True)(x),
    ] * 4
    expected = [
        prefix(x.copy()),
        prefix(x.copy()),
        doubled_numpy(x.copy()),
        prefix(x.copy()),
        running_mean(x.copy()),
        calls_helper(x.copy()),
    ] * 4
    with warnings.catch_warnings():
        warnings.simplefilter("error", mutjax.LoopConversionWarning)
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda c: c(), calls))
    for got, want in zip(results, expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def uses_statistics(x):
    vals = [1.0, 2.0, 4.0]
    m = statistics.mean(vals)
    for i in range(x.shape[0]):
        x[i] = x[i] + m
    return x


def test_standard_library_is_not_converted_and_nothing_mentions_tensorflow(capsys) -> None:
    import logging

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger().addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check(uses_statistics, rand(3))
    finally:
        logging.getLogger().removeHandler(handler)
    out = capsys.readouterr()
    everything = [str(w.message) for w in caught] + [r.getMessage() for r in records]
    everything += [out.out, out.err]
    assert not [w for w in caught if "statistics.py" in str(w.filename)]
    assert not any("tf." in s or "TensorFlow" in s or "autograph" in s.lower() for s in everything)
    from mutjax._loops import _convert

    assert statistics.mean not in _convert._CONVERTED


def test_a_function_malt_cannot_convert_warns_without_tensorflow_advice() -> None:
    # malt cannot tell two lambdas on one line apart by their source.
    pair = (lambda x: x + 1, lambda x: x + 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f = mutjax.mutable(pair[1], loops=True)
        np.testing.assert_array_equal(f(jnp.zeros(2)), [2.0, 2.0])
    messages = [str(w.message) for w in caught if w.category is mutjax.LoopConversionWarning]
    assert messages and "cannot convert" in messages[0]
    assert all("tf." not in m and "TensorFlow" not in m for m in messages)


def top_level_needs_values(x):
    k = int(x[0])  # a concrete value: only eagerly
    for i in range(k):
        x[i + 1] = x[i] * 2
    return x, 0.5 * k


def test_eager_converted_call_that_needs_values_still_runs_eagerly() -> None:
    x = np.array([2.0, 1.0, 0.0, 0.0], np.float32)
    f = mutjax.mutable(top_level_needs_values, loops=True)
    for _ in range(2):
        got, half = f(x)
        want, want_half = top_level_needs_values(x.copy())
        np.testing.assert_array_equal(got, want)
        assert half == want_half and type(half) is float  # a Python float, as in NumPy


def test_eager_converted_calls_do_not_grow_memory() -> None:
    import gc
    import resource
    import tracemalloc

    f = mutjax.mutable(prefix, loops=True)
    x = rand(8)
    for _ in range(5):  # warm up: conversion and first compilation
        f(x)
    gc.collect()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    tracemalloc.start()
    snap_before = tracemalloc.take_snapshot()
    for _ in range(30):
        np.testing.assert_allclose(f(x), prefix(x.copy()), 1e-5)
    gc.collect()
    snap_after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in snap_after.compare_to(snap_before, "filename"))
    rss_grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    # Measured before caching: about 1.7 MiB of compiled program kept per call.
    assert grown < 1_000_000, f"Python heap grew by {grown} bytes over 30 calls"
    assert rss_grown_kib < 20_000, f"peak RSS grew by {rss_grown_kib} KiB over 30 calls"


def test_wrong_decorator_order_and_non_functions_fail_at_decoration() -> None:
    def kernel(x):
        x[0] = 1.0
        return x

    with pytest.raises(TypeError, match=r"jax\.jit\(mutjax\.mutable\(f\)\)"):
        mutjax.mutable(jax.jit(kernel))
    with pytest.raises(TypeError, match=r"jax\.jit\(mutjax\.mutable\(f\)\)"):
        mutjax.mutable(jax.jit(kernel), loops=True)
    with pytest.raises(TypeError, match="expected a function"):
        mutjax.mutable(3)
    with pytest.raises(TypeError, match="expected a function"):
        mutjax.jit("kernel")
    assert sys.modules["mutjax"].jit is mutjax.jit


def lu_pivot(A):  # the README's kernel
    n = A.shape[0]
    for k in range(n - 1):
        p = abs(A[k:, k]).argmax() + k
        A[[k, p]] = A[[p, k]]
        A[k + 1 :, k] /= A[k, k]
        A[k + 1 :, k + 1 :] -= A[k + 1 :, k : k + 1] * A[k : k + 1, k + 1 :]
    return A


def test_readme_kernel_under_mutjax_jit_matches_numpy() -> None:
    A = rand(6, 6, seed=3)
    check(lu_pivot, A, rtol=1e-4, atol=1e-4)
    assert loop_primitives(mutjax.jit(lu_pivot), A)


def test_asanyarray_and_ascontiguousarray_inside_a_scope_match_numpy():
    def kernel(x, xp):
        a = xp.asanyarray(x)
        a[0] = 7.0  # the same array: writes through
        b = xp.ascontiguousarray(x * 2)
        b[1] = 1.0
        c = xp.ascontiguousarray(x[0])  # at least one dimension
        return b, c

    import mutjax.numpy as mnp

    x = np.arange(3.0, dtype=np.float32)
    expected = kernel(x.copy(), np), x.copy()
    expected[1][0] = 7.0
    got = jax.jit(mutjax.mutable(lambda x: (kernel(x, mnp), x)))(jnp.asarray(x))
    for g, e in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(expected)):
        assert np.shape(g) == np.shape(e)
        np.testing.assert_allclose(np.asarray(g), np.asarray(e))
