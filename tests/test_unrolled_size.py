"""Unrolled update patterns: never a bigger program than the same code written with ``.at[]``.

Each pattern is written as a NumPy user writes it (run under
``jax.jit(mutjax.mutable(f))``) and as a JAX expert writes it with
``.at[]``. The jaxpr ``jax.jit`` compiles for the mutjax version has at
most the equations of the ``.at[]`` version (counted recursively, as
``benchmarks/compile_bench.py`` counts them), and both give NumPy's result:
values, shapes and dtypes. Then NumPy's rules that the one-scatter form of
``x[i] op= v`` must keep: casting, overflow, repeated indices, a copy
read before the write. Last, the serial chains that forwarding written
elements into later reads builds stay short, at sizes where they once
spanned the whole kernel.
"""

from __future__ import annotations

from typing import Any

import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import examples
from hypothesis import given, settings
from jax.extend.core import Var

import mutjax
from benchmarks.compile_bench import patterns
from benchmarks.run import count_eqns, primitive_names
from mutjax._elements import MAX_CHAIN
from tests.helpers import assert_same

N = 8  # updates per pattern: small, the per-update cost is what is compared
M = 6  # length of the accumulated array


def _jaxpr(f: Any, args: tuple[Any, ...]) -> Any:
    # `.trace` stages the function as a call of `jax.jit` from Python does.
    return jax.jit(f).trace(*args).jaxpr


def _numpy(f: Any, args: tuple[Any, ...]) -> Any:
    return f(*[np.array(a) for a in args])


def _check(ours: Any, theirs: Any, args: tuple[Any, ...]) -> tuple[int, int]:
    """Both versions equal NumPy; returns (mutjax equations, `.at[]` equations)."""
    args = tuple(jnp.asarray(a) for a in args)
    mine = mutjax.mutable(ours)
    want = _numpy(ours, args)
    assert_same(jax.jit(mine)(*args), want, "mutjax")
    assert_same(jax.jit(theirs)(*args), want, ".at[]")
    return count_eqns(_jaxpr(mine, args)), count_eqns(_jaxpr(theirs, args))


def _extra(n: int) -> dict[str, tuple[Any, Any, tuple[Any, ...]]]:
    rng = np.random.default_rng(1)
    b = rng.integers(-M, M, n).astype(np.int32)  # repeats and negative positions
    w = rng.standard_normal(n).astype(np.float32)
    grid = rng.standard_normal((M, 5)).astype(np.float32)
    rows = rng.standard_normal((n, 5)).astype(np.float32)
    x = rng.standard_normal(n + 2).astype(np.float32)

    def acc_static(c, w):
        for i in range(n):
            c[3] += w[i]
        return c

    def acc_static_at(c, w):
        for i in range(n):
            c = c.at[3].add(w[i])
        return c

    def ops(c, b, w):
        for i in range(n):
            c[b[i]] -= w[i]
            c[b[i]] *= 0.5
            c[i % M] += 1.0
        return c

    def ops_at(c, b, w):
        for i in range(n):
            c = c.at[b[i]].subtract(w[i])
            c = c.at[b[i]].multiply(0.5)
            c = c.at[i % M].add(1.0)
        return c

    def row_traced(g, b, r):
        for i in range(n):
            g[b[i], :] += r[i]
        return g

    def row_traced_at(g, b, r):
        for i in range(n):
            g = g.at[b[i], :].add(r[i])
        return g

    def column(g, w):
        for i in range(n):
            g[:, i % 5] *= w[i]
        return g

    def column_at(g, w):
        for i in range(n):
            g = g.at[:, i % 5].multiply(w[i])
        return g

    def stencil_slices(x):
        for _ in range(3):
            x[1:-1] += 0.25 * (x[2:] - 2 * x[1:-1] + x[:-2])
        return x

    def stencil_slices_at(x):
        for _ in range(3):
            x = x.at[1:-1].add(0.25 * (x[2:] - 2 * x[1:-1] + x[:-2]))
        return x

    def mixed(c, b, w):
        s = c[0] * 0
        for i in range(n):
            c[b[i]] += w[i]
            s = s + c[b[(i + 1) % n]] * c[i % M]
            c[i % M] = s
        return c, s

    def mixed_at(c, b, w):
        s = c[0] * 0
        for i in range(n):
            c = c.at[b[i]].add(w[i])
            s = s + c[b[(i + 1) % n]] * c[i % M]
            c = c.at[i % M].set(s)
        return c, s

    zeros = np.zeros(M, np.float32)
    return {
        "accumulate at a static position": (acc_static, acc_static_at, (zeros, w)),
        "-= and *= at traced, += at static positions": (ops, ops_at, (zeros + 1, b, w)),
        "row updates g[b[i], :] += r[i]": (row_traced, row_traced_at, (grid, b, rows)),
        "column updates g[:, j] *= w": (column, column_at, (grid, w)),
        "stencil x[1:-1] += ...": (stencil_slices, stencil_slices_at, (x,)),
        "mixed reads after writes": (mixed, mixed_at, (zeros, b, w)),
    }


PATTERNS = patterns(N) | _extra(N)


@pytest.mark.parametrize("name", PATTERNS)
def test_no_more_equations_than_at(name):
    ours, theirs, args = PATTERNS[name]
    mine, expert = _check(ours, theirs, args)
    assert mine <= expert, f"{name}: mutjax {mine} equations, .at[] {expert}"


@pytest.mark.parametrize("name", PATTERNS)
def test_no_more_equations_than_at_in_a_jit_inside_another(name):
    # A jitted kernel called from a jitted step is straight-line code too
    # (its element writes do not wait as a loop body's do).
    ours, theirs, args = PATTERNS[name]
    args = tuple(jnp.asarray(a) for a in args)
    mine = count_eqns(jax.make_jaxpr(jax.jit(mutjax.mutable(ours)))(*args))
    expert = count_eqns(jax.make_jaxpr(jax.jit(theirs))(*args))
    assert mine <= expert, f"{name}: mutjax {mine} equations, .at[] {expert}"


def test_accumulate_is_one_scatter_add_per_update():
    ours, _, args = PATTERNS["accumulate x[b[i]] += w[i]"]
    jaxpr = _jaxpr(mutjax.mutable(ours), tuple(jnp.asarray(a) for a in args))
    names = primitive_names(jaxpr)
    assert "dynamic_slice" not in names and "scatter" not in names
    counts = [e.primitive.name for e in jaxpr.eqns].count("scatter-add")
    assert counts == N


# -- NumPy's rules kept ------------------------------------------------------------------


def _same_as_numpy(f: Any, *args: Any) -> None:
    want = _numpy(f, args)
    jargs = [jnp.asarray(a) for a in args]
    assert_same(jax.jit(mutjax.mutable(f))(*jargs), want, "jit")
    assert_same(mutjax.mutable(f)(*jargs), want, "eager")


def _casts(x, b):
    x[b[0]] += 1.5  # NumPy: x[i] + 1.5 is a float, truncated as it is stored
    x[b[1]] -= 2
    x[2] *= 3
    x[2] += 1.7
    return x


def test_int_array_plus_float_truncates_the_sum():
    _same_as_numpy(_casts, np.arange(5, dtype=np.int32), np.array([1, -1], np.int32))


def _overflow(x, b):
    x[b[0]] += 300
    return x


def test_python_int_out_of_range_raises_as_numpy():
    args = (np.zeros(3, np.uint8), np.array([1], np.int32))
    with pytest.raises(OverflowError):
        _numpy(_overflow, args)
    with pytest.raises(OverflowError):
        jax.jit(mutjax.mutable(_overflow))(*[jnp.asarray(a) for a in args])


def _copy_kept(x, b):
    t = x[b[0]]
    x[b[0]] = 5.0  # written after the copy was taken: the copy keeps the old value
    t += 1
    u = x[b[1]]
    u *= 3
    x[b[1]] = u  # assigned back: x[b[1]] *= 3
    v = x[b[1]]
    v += v  # reads the copy itself
    x[2] = v
    return x, t, u, v


def test_copies_read_before_later_writes():
    _same_as_numpy(_copy_kept, np.arange(5, dtype=np.float32), np.array([1, 1], np.int32))


def _view_named(g, b):
    r = g[b[0]]
    r += 1.0  # writes the row of g
    g[1, :] *= np.float32(2)
    g[b[1], 1:3] -= g[0, 1:3]
    return g, r


def test_named_views_write_their_base():
    _same_as_numpy(_view_named, np.arange(12, dtype=np.float32).reshape(3, 4), np.array([2, -3]))


def _repeats(x, idx, v):
    x[idx] += v  # NumPy applies each position once: the last repeat wins
    for i in range(idx.shape[0]):
        x[idx[i]] += v[i]  # one statement each: these do accumulate
    return x


@settings(max_examples=examples(25), deadline=None)
@given(
    idx=st.lists(st.integers(-M, M - 1), min_size=4, max_size=4),
    dtype=st.sampled_from([np.float32, np.int32]),
)
def test_repeated_indices_as_numpy(idx, dtype):
    x = np.arange(M, dtype=dtype)
    v = np.array([3, -1, 7, 2], dtype)
    _same_as_numpy(_repeats, x, np.array(idx, np.int32), v)


def test_out_of_bounds_traced_position_changes_nothing():
    # NumPy raises; under jit a write at an out-of-bounds traced position is
    # dropped (the read clamps, the write drops): combined, it is dropped too.
    def f(x, i):
        x[i] += 1.0
        x[i, :] -= 2.0
        return x

    x = jnp.zeros((3, 2))
    assert_same(jax.jit(mutjax.mutable(f))(x, 7), np.zeros((3, 2), np.float32))
    assert_same(jax.jit(mutjax.mutable(f))(x, -1), np.array([[0, 0], [0, 0], [-1, -1]], np.float32))


def test_combined_updates_differentiate_and_vmap():
    ours, theirs, args = PATTERNS["-= and *= at traced, += at static positions"]
    c, b, w = (jnp.asarray(a) for a in args)

    def loss(f):
        return lambda c, w: jnp.sum(f(c, b, w) ** 2)

    got = jax.grad(loss(mutjax.mutable(ours)), argnums=(0, 1))(c, w)
    want = jax.grad(loss(theirs), argnums=(0, 1))(c, w)
    assert_same(got, want)
    cs = jnp.stack([c, 2 * c])
    got = jax.vmap(mutjax.mutable(ours), in_axes=(0, None, None))(cs, b, w)
    assert_same(got, jax.vmap(theirs, in_axes=(0, None, None))(cs, b, w))


# -- forwarded chains stay short ---------------------------------------------------------


def _longest_scalar_chain(jaxpr: Any) -> int:
    """The most equations in a row, each with a 0-d result, each using the one before.

    A path through an array (a write, then a read from the array) ends
    the chain: XLA fuses a 0-d chain into one expression, which compiles
    slower the deeper it is.
    """
    depth: dict[Any, int] = {}
    longest = 0
    for eqn in jaxpr.eqns:
        if all(v.aval.shape == () for v in eqn.outvars):
            d = 1 + max((depth.get(v, 0) for v in eqn.invars if isinstance(v, Var)), default=0)
            longest = max(longest, d)
            for v in eqn.outvars:
                depth[v] = d
    return longest


def _chain_1d(x):
    for i in range(1, x.shape[0]):
        x[i] = x[i - 1] * 0.5 + x[i]  # two 0-d operations per update
    return x


def _chain_int(x):
    for i in range(1, x.shape[0]):
        x[i] = x[i - 1] - x[i] // 3
    return x


def _chain_two_arrays(x, y):
    # The chain passes through both arrays: y[i] from x[i - 1], x[i] from y[i].
    for i in range(1, x.shape[0]):
        y[i] = x[i - 1] + y[i]
        x[i] = y[i] * 0.5
    return x, y


def _seidel(a):
    for i in range(1, a.shape[0] - 1):
        for j in range(1, a.shape[1] - 1):
            a[i, j] = 0.2 * (a[i, j] + a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1])
    return a


_RNG = np.random.default_rng(3)
CHAINS = {
    "x[i] = x[i-1] * 0.5 + x[i], 60 updates": (
        _chain_1d,
        (_RNG.standard_normal(61).astype(np.float32),),
        2,
    ),
    "x[i] = x[i-1] - x[i] // 3, int32, 60 updates": (
        _chain_int,
        (_RNG.integers(-1000, 1000, 61).astype(np.int32),),
        1,
    ),
    "through two arrays, 60 updates": (
        _chain_two_arrays,
        tuple(_RNG.standard_normal((2, 61)).astype(np.float32)),
        2,
    ),
    # Long rows: the chain of each row's updates is 38 deep, not the grid's diagonal.
    "Gauss-Seidel 5x40": (_seidel, (_RNG.random((5, 40)).astype(np.float32),), 5),
}


@pytest.mark.parametrize("name", CHAINS)
def test_forwarded_chains_stay_short(name):
    f, args, per_update = CHAINS[name]
    args = tuple(jnp.asarray(a) for a in args)
    longest = _longest_scalar_chain(_jaxpr(mutjax.mutable(f), args))
    # Forwarding every written element made each of these one chain across
    # all updates (120 operations for the first); past MAX_CHAIN updates an
    # element is read back from the array.
    assert longest <= per_update * (MAX_CHAIN + 1) + 2, f"{name}: {longest} in a row"
    assert_same(jax.jit(mutjax.mutable(f))(*args), _numpy(f, args), name)


def test_forwarded_chain_does_not_grow_with_the_kernel():
    # Twice the updates, the same longest chain; and elements are still
    # forwarded: fewer reads than updates.
    lengths, reads = [], []
    for n in (60, 120):
        jaxpr = _jaxpr(mutjax.mutable(_chain_1d), (jnp.zeros(n + 1, np.float32),))
        lengths.append(_longest_scalar_chain(jaxpr))
        reads.append([e.primitive.name for e in jaxpr.eqns].count("slice"))
        assert reads[-1] < 2 * n, f"{n} updates: {reads[-1]} reads, nothing forwarded"
    assert lengths[0] == lengths[1], lengths
