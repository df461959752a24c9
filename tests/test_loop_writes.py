"""Writes inside converted loops and branches reach the arrays NumPy writes.

A converted loop's locals may hold mutable arrays of the scope (``x = a``,
``u = U[1:]``), and a body may re-bind them (``x, y = y, x``). Every kernel
below is NumPy code: it runs on NumPy arrays (the oracle), eagerly with
``mutable(..., loops=True)`` and under ``jax.jit``; results, final arguments,
shapes and dtypes must agree. Loops whose bindings a compiled loop can carry
stay compiled (no warning, a loop primitive in the jaxpr); the others run as
Python with a ``LoopConversionWarning`` or, when their trip count is traced,
raise ``LoopConversionError``. None gives another result.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import all_primitives, assert_same, loop_kinds, returning_args, split_returned

import mutjax
from mutjax._loops import LoopConversionError, LoopConversionWarning, _vectorize


def run_all(kernel, *args, modes=("jit", "eager"), compiled=True, loop=True):
    """``kernel`` on NumPy and converted; compare outputs and final arguments.

    ``compiled``: no LoopConversionWarning, and (with ``loop``) a loop in the jaxpr.
    """
    np_args = [np.array(a) if isinstance(a, np.ndarray) else a for a in args]
    out = jax.tree_util.tree_map(_canonical, kernel(*np_args))
    expected = (out, [a for a in np_args if isinstance(a, np.ndarray)])
    for mode in modes:
        f = mutjax.mutable(kernel, loops=True, **returning_args(len(args)))
        if mode == "jit":
            f = jax.jit(f)
        jx = [jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
        with warnings.catch_warnings():
            if compiled:
                warnings.simplefilter("error", LoopConversionWarning)
            out, final = split_returned(f(*jx), len(args), expected[0])
        arrays = [np.asarray(a) for a, orig in zip(final, args) if isinstance(orig, np.ndarray)]
        got = (jax.tree_util.tree_map(np.asarray, out), arrays)
        assert_same(got, jax.tree_util.tree_map(np.asarray, expected), mode)
    if compiled and loop:
        jaxpr = jax.make_jaxpr(mutjax.mutable(kernel, loops=True))(
            *[jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
        )
        assert loop_kinds(jaxpr.jaxpr), "the loop was unrolled"


def _canonical(x):
    # A Python scalar result: compare with JAX's default type for it.
    if isinstance(x, (bool, int, float)):
        return np.asarray(x, jax.dtypes.canonicalize_dtype(np.asarray(x).dtype))
    return np.asarray(x)


def f32(*values):
    return np.array(values, np.float32)


# -- names re-bound to other arrays --------------------------------------------------


def pingpong(a, b):
    x, y = a, b
    for _ in range(2):
        y[:] = x + 1
        x, y = y, x
    return a, b


def make_pingpong(n):
    def pingpong_n(a, b):
        x, y = a, b
        for _ in range(n):
            y[:] = x * 2 + 1
            x, y = y, x
        return x

    return pingpong_n


def test_swapped_buffers_are_written_as_numpy_writes_them():
    run_all(pingpong, np.zeros(3, np.float32), np.zeros(3, np.float32))


@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_swapped_buffers_any_trip_count(n):
    run_all(make_pingpong(n), f32(1, 2, 3), np.zeros(3, np.float32), compiled=n >= 2)


def rotate3(a, b, c):
    x, y, z = a, b, c
    for i in range(7):
        z[:] = x + y + i
        x, y, z = y, z, x
    return x


def test_three_rotating_buffers():
    run_all(rotate3, f32(1, 2), f32(3, 4), f32(5, 6))


def swap_then_fixed(a, b):
    x, y = a, b
    for i in range(6):
        x[0] += i
        x = y  # after the first iteration `x` stays `b`
    return x


def test_binding_that_settles_after_an_iteration():
    run_all(swap_then_fixed, f32(1, 2), f32(10, 20))


def pingpong_traced(a, b, n):
    x, y = a, b
    for _ in range(n):
        y[:] = x + 1
        x, y = y, x
    return x


def test_swap_with_traced_trip_count_is_refused():
    f = jax.jit(mutjax.mutable(pingpong_traced, loops=True))
    with pytest.raises(LoopConversionError, match="re-bound to other mutable arrays"):
        f(jnp.zeros(3), jnp.zeros(3), 3)


# -- names holding views -------------------------------------------------------------


def view_name(U):
    u = U[1:]
    for _ in range(2):
        u += U[:-1]
    return U


def view_made_in_body(U):
    u = U[:2]
    for i in range(4):
        u = U[1:]
        u *= 2
        U[0] += i
    u[0] = -1.0  # after the loop `u` is still a view of U
    return U


def test_augmented_write_through_a_view_name():
    run_all(view_name, f32(1, 1, 1))
    run_all(view_made_in_body, f32(1, 2, 3))


def alias_then_value(a):
    x = a
    for _ in range(4):
        x[0] += 1.0  # the first iteration writes `a`, the others a new array
        x = x * 2
    return x


def test_alias_becomes_value_after_first_iteration():
    run_all(alias_then_value, f32(1, 2))


def accumulate_from_copy(x):
    acc = x[0] * 0
    for i in range(x.shape[0]):
        acc = acc + x[i]
    return acc


def test_accumulator_started_from_an_array_is_carried():
    run_all(accumulate_from_copy, f32(1, 2, 3, 4))


# -- writes named by a mask, inside loops ---------------------------------------------


def masked_in_loop(x):
    m = x > 0
    for _ in range(2):
        x[m] += 1
    return x


def masked_set_in_loop(x, y):
    m = x > 0
    for i in range(3):
        x[m] = y[m] * i
        y[m] += 1
    return x, y


def test_masked_writes_in_a_loop():
    run_all(masked_in_loop, f32(1, -1, 2))
    run_all(masked_set_in_loop, f32(1, -1, 2), f32(5, 6, 7))


class Box:
    pass


def attribute_state(x):
    b = Box()
    b.total = 0.0
    for i in range(x.shape[0]):
        b.total = b.total + x[i]
    return b.total


def list_element_state(x):
    acc = [0.0]
    for i in range(x.shape[0]):
        acc[0] = acc[0] + x[i]
    return acc[0]


def test_python_containers_are_still_carried():
    run_all(attribute_state, f32(1, 2, 3))
    run_all(list_element_state, f32(1, 2, 3))


# -- branches --------------------------------------------------------------------------


def branch_writes_through_alias(a):
    x = a
    if a[0] > 0:
        x += 1
    else:
        x *= 2
    return a


def branch_writes_through_view(U):
    u = U[1:]
    for i in range(3):
        if U[0] > i:
            u += 1
    return U


@pytest.mark.parametrize("first", [1.0, -1.0, 2.5])
def test_branch_writes_through_a_name_holding_an_array(first):
    run_all(branch_writes_through_alias, f32(first, 2), loop=False)
    run_all(branch_writes_through_view, f32(first, 2, 3))


# -- eager calls keep NumPy's bounds checks -----------------------------------------------


def write_past_end(x, n):
    for i in range(n + 1):
        x[i] = 1.0
    return x


def read_past_end(x, n):
    s = 0.0
    for i in range(n):
        s = s + x[i]
    return s


def nested_past_end(x):
    for i in range(3):
        for j in range(4):
            x[i, j] = 1.0
    return x


def traced_trip_past_end(x, n):
    k = 0
    while k < n:
        x[k] = 2.0
        k = k + 1
    return x


def numpy_error(kernel, *args):
    with pytest.raises(IndexError) as info:
        kernel(*[np.array(a) if isinstance(a, np.ndarray) else a for a in args])
    return str(info.value)


@pytest.mark.parametrize(
    "kernel, args",
    [
        (write_past_end, (np.zeros(3, np.float32), 3)),
        (read_past_end, (np.ones(3, np.float32), 4)),
        (nested_past_end, (np.zeros((3, 3), np.float32),)),
        (traced_trip_past_end, (np.zeros(3, np.float32), 4)),
    ],
)
def test_eager_loops_raise_numpys_index_error(kernel, args):
    message = numpy_error(kernel, *args)
    f = mutjax.mutable(kernel, loops=True)
    jx = [jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
    with pytest.raises(IndexError, match=f"^{message}$"):
        f(*jx)


def test_eager_loops_in_bounds_still_compile():
    run_all(write_past_end, np.zeros(4, np.float32), 3)
    run_all(nested_past_end, np.zeros((3, 4), np.float32))


def test_jit_loops_out_of_bounds_keep_jax_semantics():
    # Under jit a traced index cannot raise: the write is dropped (docs/python-loops.md).
    f = jax.jit(mutjax.mutable(write_past_end, loops=True))
    np.testing.assert_array_equal(f(jnp.zeros(3), 3), np.ones(3, np.float32))


def combinator_past_end(x):
    def body(i, c):
        x[i] = 1.0
        return c

    mutjax.fori_loop(0, 4, body, 0)
    return x


def test_mutjax_fori_loop_keeps_lax_semantics_eagerly():
    # mutjax.fori_loop is jax.lax.fori_loop's namesake: no bounds check.
    out = mutjax.mutable(combinator_past_end)(jnp.zeros(3))
    np.testing.assert_array_equal(out, np.ones(3, np.float32))


# -- a body must write the same arrays on every trace ------------------------------------


def reversed_list(a, b):
    bufs = [a, b]
    for i in range(3):
        bufs[0][i] = 1.0 + i
        bufs.reverse()  # a Python side effect: each trace sees another order
    return a, b


def swapped_list_items(a, b):
    bufs = [a, b]
    for i in range(3):
        bufs[0][i] = 1.0 + i
        bufs[0], bufs[1] = bufs[1], bufs[0]  # malt carries the items: fine
    return a, b


def test_list_items_swapped_in_a_loop():
    run_all(swapped_list_items, np.zeros(3, np.float32), np.zeros(3, np.float32))


@pytest.mark.parametrize("jit", [False, True])
def test_writes_that_change_between_traces_raise_instead_of_leaking(jit):
    f = mutjax.mutable(reversed_list, loops=True)
    f = jax.jit(f) if jit else f
    with pytest.raises(mutjax.ForeignTraceError, match="re-bind names"):
        f(jnp.zeros(3), jnp.zeros(3))


@pytest.mark.parametrize("jit", [False, True])
def test_combinator_body_writing_another_array_later_raises(jit):
    traces = []

    def kernel(a, b):
        def body(i, c):
            traces.append(i)
            (b if len(traces) > 1 else a)[i] = 1.0
            return c

        mutjax.fori_loop(0, 3, body, 0)
        return a, b

    f = jax.jit(mutjax.mutable(kernel)) if jit else mutjax.mutable(kernel)
    with pytest.raises(mutjax.ForeignTraceError, match="when traced again"):
        f(jnp.zeros(3), jnp.zeros(3))


# -- bodies that need the index as a Python int run as Python -----------------------------


def list_indexed(x):
    weights = [1.0, 2.0, 3.0]
    for i in range(3):
        x[i] = x[i] * weights[i]
    return x


def numpy_constant_indexed(x):
    for i in range(3):
        c = np.arange(3) * 2  # plain NumPy on static values
        x[i] = x[i] + c[i]
    return x


def shape_from_index(x):
    R = 2
    out = np.zeros_like(x[:3])
    for i in range(3):
        out[i] = x[: R**i].reshape(R**i, 1).sum() + np.ones(R**i).sum()
    return out


def numpy_constant_carried(x):
    acc = np.zeros(3)
    for _ in range(3):
        acc = acc + np.arange(3) * 2
    x[:3] = x[:3] + acc
    return x


@pytest.mark.parametrize("kernel", [list_indexed, shape_from_index])
def test_bodies_needing_a_python_index_unroll_with_a_warning(kernel):
    with pytest.warns(LoopConversionWarning, match="runs as an unrolled Python loop"):
        run_all(kernel, np.arange(1.0, 9.0, dtype=np.float32), compiled=False)


@pytest.mark.parametrize("kernel", [numpy_constant_indexed, numpy_constant_carried])
def test_numpy_constants_in_a_body_stay_compiled(kernel):
    # In converted code NumPy's creation functions make mutable arrays, so a
    # NumPy constant indexed by the loop index needs no Python index.
    with warnings.catch_warnings():
        warnings.simplefilter("error", LoopConversionWarning)
        run_all(kernel, np.arange(1.0, 9.0, dtype=np.float32))


# -- loops over arrays and np.ndindex compile -------------------------------------------------


def crc32(data):
    crc = np.uint32(0xFFFFFFFF)
    for b in data:
        crc = crc ^ b.astype(np.uint32)
        for _ in range(8):
            mask = np.uint32(0) - (crc & np.uint32(1))
            crc = (crc >> np.uint32(1)) ^ (np.uint32(0xEDB88320) & mask)
    return crc ^ np.uint32(0xFFFFFFFF)


def test_loop_over_an_array_compiles():
    data = np.random.default_rng(0).integers(0, 256, 1600).astype(np.uint8)
    with np.errstate(over="ignore"):
        run_all(crc32, data)
    jaxpr = jax.make_jaxpr(mutjax.mutable(crc32, loops=True))(jnp.asarray(data))
    assert len(jaxpr.jaxpr.eqns) < 40, "the loop over the array was unrolled"


def scale_rows(A, out):
    k = 0
    for row in A:  # each row is a view of A, as in NumPy
        row *= 2
        out[k] = row.sum()
        k += 1
    return A, out


def over_ndindex(x):
    for idx in np.ndindex(x.shape):
        x[idx] = x[idx] * 2 + idx[0] - idx[1]
    return x


def over_ndindex_args(x):
    total = 0.0
    for i, j in np.ndindex(2, 3):
        total = total + x[i, j] * (i + 1)
    return total


def test_loop_over_rows_and_ndindex_compile():
    a = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    run_all(scale_rows, a, np.zeros(2, np.float32))
    run_all(over_ndindex, a)
    run_all(over_ndindex_args, a)
    run_all(over_ndindex, np.zeros((0, 3), np.float32), loop=False)


# -- fixed-width windows at a loop index -------------------------------------------------------


def window_sum(E, w):
    out = np.zeros_like(E[:-1])
    for i in range(E.shape[0] - 1):
        out[i] = np.sum(E[i : i + 2] * w)
    return out


def window_2d(E, w):
    out = np.zeros_like(E[:-1, :-2])
    for i in range(E.shape[0] - 1):
        for j in range(E.shape[1] - 2):
            out[i, j] = np.sum(E[i : i + 2, j : j + 3] * w)
    return out


def window_write(E):
    for i in range(E.shape[0] - 1):
        E[i : i + 2] += 1.0
        w = E[i : i + 2]  # a view: written below, seen in E
        w[1] *= 2.0
    return E


def block_lengths(d):
    B = 4
    total = 0
    for j in range(0, len(d), B):
        total = total + len(d[j : j + B])
    return total


def block_sums(d):
    B = 4
    out = np.zeros_like(d[:3])
    for j in range(0, len(d), B):
        out[j // B] = d[j : j + B].sum() * len(d[j : j + B])
    return out


def test_fixed_width_windows_are_plain_windows(monkeypatch):
    E = np.arange(20.0, dtype=np.float32).reshape(4, 5)
    run_all(window_sum, E[0], f32(1, 2))
    run_all(window_2d, E, np.arange(6.0, dtype=np.float32).reshape(2, 3))
    run_all(window_write, E[0])
    # the body as a sequential loop sees it (a batched one gathers the windows)
    monkeypatch.setattr(_vectorize, "_plan", lambda *a: None)
    prims = all_primitives(
        jax.make_jaxpr(mutjax.mutable(window_sum, loops=True))(jnp.asarray(E[0]), jnp.ones(2)).jaxpr
    )
    assert "dynamic_slice" in prims
    assert "iota" not in prims, "the window became a value of run-time length"


@pytest.mark.parametrize("n", [10, 12])
def test_len_of_a_block_slice(n):
    # n = 12: every block is within bounds, a static length; n = 10: the
    # last block is shorter, its length known at run time.
    d = np.arange(float(n), dtype=np.float32)
    run_all(block_lengths, d)
    run_all(block_sums, d)


# -- loops of traced length ------------------------------------------------------------------


def accumulate_traced(x, n):
    acc = x[0] * 0
    for i in range(n):
        acc = acc + x[i]
    return acc


def view_write_traced(U, n):
    u = U[1:]
    for _ in range(n):
        u += 1.0
    return U


def while_swap(a, b, n):
    x, y = a, b
    k = 0
    while k < n:
        y[:] = x + 1
        x, y = y, x
        k = k + 1
    return x


def break_swap(a, b):
    x, y = a, b
    for i in range(4):
        if a[0] > i:
            break
        y[:] = x + 1
        x, y = y, x
    return x


def test_traced_trip_counts_keep_references():
    for n in (0, 3):
        run_all(accumulate_traced, f32(1, 2, 3, 4), n)
        run_all(view_write_traced, f32(1, 2, 3), n)


@pytest.mark.parametrize("kernel, args", [(while_swap, (3,)), (break_swap, ())])
def test_swaps_in_loops_of_traced_length_are_refused(kernel, args):
    f = jax.jit(mutjax.mutable(kernel, loops=True))
    with pytest.raises(LoopConversionError, match="re-bound to other mutable arrays"):
        f(jnp.zeros(3), jnp.zeros(3), *args)


def make_nested_swap(inner):
    def nested_swap(a, b):
        x, y = a, b
        for i in range(3):
            for j in range(inner):
                y[:] = x * 0.5 + (i + j)
                x, y = y, x
            x[0] += 1.0
        return a, b

    return nested_swap


@pytest.mark.parametrize("inner", [2, 3])
def test_swaps_in_nested_loops(inner):
    run_all(make_nested_swap(inner), f32(1, 2), f32(3, 4))
