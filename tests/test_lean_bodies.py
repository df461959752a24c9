"""Converted loop bodies as lean as the same loops written by hand.

Published kernels run unchanged under ``mutjax.mutable(f, loops=True)``: each
matches NumPy, and its program has the structure a hand-written
``lax.fori_loop`` version has (``benchmarks/lean_bench.py`` holds those
versions and times both): a window read at a loop index is one
``dynamic_slice`` of exactly the window, a flipped prefix pads once, a traced
bound a loop index keeps in range is not renormalised, and LU's rank-1
update moves no matrix. The property tests cover the paths those programs
take, with NumPy as the oracle: loop-index windows beside static slices
(strides, clipped and negative bounds), traced slice bounds clipped at
either end or empty, flips, reductions, products and writes back.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import examples
from hypothesis import given, settings
from hypothesis import strategies as st

import mutjax
from benchmarks import lean_bench
from tests import corpus
from tests.corpus import harness

KERNELS = ["adi", "seidel-2d", "durbin", "lu", "jacobi-2d", "fdtd-2d", "floyd-warshall"]


def _eqns(jaxpr: Any) -> Iterator[tuple[Any, Any]]:
    """``(equation, its jaxpr)`` for every equation, loop bodies included."""
    for e in jaxpr.eqns:
        yield e, jaxpr
        for sub in jax.extend.core.jaxprs_in_params(e.params):
            yield from _eqns(sub)


def _size(jaxpr: Any) -> int:
    # checkify's hook for traced indices lowers to nothing, and nor does an
    # equation whose outputs nothing uses (printed `_`: a bound recomputed for
    # a mask the trace already has).
    return sum(
        e.primitive.name != "mutjax_index_check" and not _dead(e, owner)
        for e, owner in _eqns(jaxpr)
    )


def _dead(eqn: Any, owner: Any) -> bool:
    used = {id(v) for e in owner.eqns for v in e.invars} | {id(v) for v in owner.outvars}
    return not eqn.effects and all(id(v) not in used for v in eqn.outvars)


def _case(name: str) -> lean_bench.Case:
    return next(c for c in lean_bench.cases(quick=True) if c.label.split(" ")[0] == name)


def _programs(name: str) -> tuple[Any, Any]:
    """The jaxprs of the converted kernel and of the hand-written one, at test size."""
    case = _case(name)
    args = {k: jnp.asarray(v) if isinstance(v, np.ndarray) else v for k, v in case.args.items()}
    returned = list(args)  # every array argument, mutated or not
    conv = functools.partial(
        mutjax.mutable(case.fn, loops=True, return_argnames=returned), **case.static
    )
    hand = functools.partial(case.hand, **case.static)
    return jax.make_jaxpr(conv)(**args).jaxpr, jax.make_jaxpr(hand)(**args).jaxpr


@pytest.mark.parametrize("name", KERNELS)
def test_converted_kernel_matches_numpy(name):
    kernel = corpus.BY_NAME[name]
    args = kernel.init(kernel.sizes["test"])
    _, expected = harness.run_case(kernel, "numpy", args)
    outcome, _ = harness.run_case(kernel, "loops", args, expected)
    assert outcome.status == "match", outcome.detail


@settings(max_examples=examples(10), deadline=None)
@given(n=st.integers(1, 7), seed=st.integers(0, 2**16))
def test_pivoting_lu_matches_numpy(n, seed):
    A = np.random.default_rng(seed).standard_normal((n, n)).astype(np.float32)
    expected = A.copy()
    perm = lean_bench.lu_pivot(expected)
    got_perm, got = jax.jit(mutjax.mutable(lean_bench.lu_pivot, loops=True, return_argnums=0))(A)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert np.array_equal(np.asarray(got_perm), perm)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-4, atol=1e-4)


# -- structure ------------------------------------------------------------------


def _sliced_then_dynamic_sliced(jaxpr: Any) -> int:
    """Dynamic slices of a static slice of an array: the slice is a copy per iteration."""
    count = 0
    for e, owner in _eqns(jaxpr):
        if e.primitive.name != "dynamic_slice":
            continue
        src = e.invars[0]
        count += any(p.primitive.name == "slice" and src in p.outvars for p in owner.eqns)
    return count


@pytest.mark.parametrize("name", ["adi", "seidel-2d"])
def test_window_at_a_loop_index_is_one_dynamic_slice(name):
    conv, _ = _programs(name)
    assert any(e.primitive.name == "dynamic_slice" for e, _ in _eqns(conv))
    assert _sliced_then_dynamic_sliced(conv) == 0


def test_flipped_prefix_pads_once_and_its_bound_is_not_renormalised():
    conv, _ = _programs("durbin")
    pads = [e for e, _ in _eqns(conv) if e.primitive.name == "pad"]
    assert pads
    for e in pads:
        n, m = e.invars[0].aval.shape[0], e.outvars[0].aval.shape[0]
        assert m <= 2 * n, f"a pad from {n} to {m}"
    # The loop index is in [1, n - 1]: `r[:k]` needs no clamp, no wrap of a
    # negative bound and no test for a length of 1.
    names = [e.primitive.name for e, _ in _eqns(conv)]
    assert "clamp" not in names
    scalar_selects = [
        e
        for e, _ in _eqns(conv)
        if e.primitive.name == "select_n" and e.outvars[0].aval.shape == ()
    ]
    assert not scalar_selects


def test_pivoting_lu_update_moves_no_matrix():
    case = _case("lu-pivot")
    A = jnp.asarray(case.args["A"])
    conv = jax.make_jaxpr(mutjax.mutable(lean_bench.lu_pivot, loops=True))(A).jaxpr
    moved = [
        e
        for e, _ in _eqns(conv)
        if e.primitive.name in ("pad", "dynamic_slice") and e.outvars[0].aval.shape == A.shape
    ]
    assert not moved, [e.primitive.name for e in moved]


@pytest.mark.parametrize("name", KERNELS)
def test_program_is_no_larger_than_by_hand(name):
    conv, hand = _programs(name)
    assert _size(conv) <= _size(hand)


# -- windows at a loop index beside static slices ----------------------------------------


_BOUND = st.one_of(st.none(), st.integers(-9, 9))


@settings(max_examples=examples(60), deadline=None)
@given(
    n=st.integers(1, 5),
    data=st.data(),
    step=st.sampled_from([None, 1, 2, -1]),
    columns=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_static_slice_beside_a_loop_index_reads_and_writes_as_numpy(n, data, step, columns, seed):
    offset = data.draw(st.integers(-n, 1), label="offset")
    lo, hi = max(0, -n - offset), min(n, n - offset)  # j + offset in [-n, n)
    a, b = data.draw(_BOUND, label="start"), data.draw(_BOUND, label="stop")
    s = slice(a, b, step)

    def f(x, out):
        for j in range(lo, hi):
            if columns:
                out[s, j] = x[s, j + offset] * 2.0 + out[s, j]
            else:
                out[j, s] = x[j + offset, s] * 2.0 + out[j, s]
            out[j, 0] += x[j + offset, s].sum()
        return out

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, n + 1)).astype(np.float32)
    x = np.ascontiguousarray(x[:, :n]) if columns else x[:n, :n].copy()
    out = rng.standard_normal(x.shape).astype(np.float32)
    expected = f(x.copy(), out.copy())
    got = jax.jit(mutjax.mutable(f, loops=True))(x, out)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5, atol=1e-5)


# -- traced slice bounds at a loop index -------------------------------------------------


def _sum(x, y, k, a, b, s):
    y[k] = x[k + a : k + b : s].sum()


def _flip_dot(x, y, k, a, b, s):
    y[k] = np.dot(np.flip(x[k + a : k + b : s]), x[k + a : k + b : s])


def _in_place(x, y, k, a, b, s):
    x[k + a : k + b : s] += 0.5 * x[k + a : k + b : s] * y[k + a : k + b : s]


def _into_other(x, y, k, a, b, s):
    y[k + a : k + b : s] = np.flip(x[k + a : k + b : s]) + y[k + a : k + b : s]


def _suffix_into_prefix(x, y, k, a, b, s):
    y[: k + 1] += x[x.shape[0] - k - 1 :] * 2.0


def _first_and_last(x, y, k, a, b, s):
    y[k] = x[k + a :][0] - x[k + a :][-1] + x[k + a :].argmax()


def _rank_one(x, y, k, a, b, s):
    x[k + 1 :] -= x[k + 1 :] * y[k] + y[k + 1 :] * x[k]


_OPS = [_sum, _flip_dot, _in_place, _into_other, _suffix_into_prefix, _first_and_last, _rank_one]


@settings(max_examples=examples(80), deadline=None)
@given(
    n=st.integers(1, 6),
    op=st.sampled_from(_OPS),
    a=st.integers(-8, 8),
    b=st.integers(-8, 8),
    step=st.sampled_from([1, 1, 2, -1]),
    seed=st.integers(0, 2**16),
)
def test_traced_bounds_at_a_loop_index_match_numpy(n, op, a, b, step, seed):
    if op is _first_and_last:
        a = max(min(a, 0), -n)  # `x[k + a:]` is never empty: its [0] is defined

    def f(x, y):
        for k in range(x.shape[0]):
            op(x, y, k, a, b, step)
        return x, y

    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n).astype(np.float32)
    y = rng.standard_normal(n).astype(np.float32)
    expected = f(x.copy(), y.copy())
    got = jax.jit(mutjax.mutable(f, loops=True))(x, y)
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_allclose(np.asarray(g), e, rtol=1e-4, atol=1e-4)


@settings(max_examples=examples(40), deadline=None)
@given(
    n=st.integers(1, 5),
    a=st.integers(-7, 7),
    b=st.integers(-7, 7),
    c=st.integers(-7, 7),
    seed=st.integers(0, 2**16),
)
def test_two_traced_axes_in_place_and_apart_match_numpy(n, a, b, c, seed):
    # The same slice on both sides combines in place; another start packs to the front.
    def f(A, B):
        for k in range(A.shape[0]):
            A[k + a :, k + b :] -= A[k + a :, k : k + 1] * B[k : k + 1, k + b :]
            B[k + c :, k + c :] += A[k + c :, k + c :]
        return A, B

    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n)).astype(np.float32)
    B = rng.standard_normal((n, n)).astype(np.float32)
    expected = f(A.copy(), B.copy())
    got = jax.jit(mutjax.mutable(f, loops=True))(A, B)
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_allclose(np.asarray(g), e, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("step", [-2, -1, 1, 3])
def test_traced_step_beside_a_loop_index_bound_matches_numpy(step):
    def f(x, y, s):
        for k in range(x.shape[0]):
            x[k : x.shape[0] : s] += y[k]
            y[k:] += x[k:]
        return x, y

    rng = np.random.default_rng(step + 7)
    x = rng.standard_normal(5).astype(np.float32)
    y = rng.standard_normal(5).astype(np.float32)
    expected = f(x.copy(), y.copy(), step)
    got = jax.jit(mutjax.mutable(f, loops=True))(x, y, jnp.int32(step))
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_allclose(np.asarray(g), e, rtol=1e-5, atol=1e-5)


# -- run-time lengths provably equal, or broadcast at run time ---------------------------


def _corpus_programs(name: str) -> tuple[Any, Any]:
    """The jaxprs of a corpus kernel under ``mutjax.mutable`` and of its anchor."""
    from benchmarks.loop_kernels import anchors

    kernel = corpus.BY_NAME[name]
    args = kernel.init(kernel.sizes["test"])
    static = {k: args.pop(k) for k in kernel.static}
    arrays = {k: jnp.asarray(v) for k, v in args.items()}
    f = mutjax.mutable(kernel.fn, loops=True, return_argnames=list(kernel.mutates))
    hand = getattr(anchors, name.replace("-", "_"))
    conv = jax.make_jaxpr(functools.partial(f, **static))(**arrays).jaxpr
    return conv, jax.make_jaxpr(functools.partial(hand, **static))(**arrays).jaxpr


def _innermost_body(jaxpr: Any) -> Any:
    """The body of the most deeply nested loop."""
    best, depth = jaxpr, 0

    def walk(j: Any, d: int) -> None:
        nonlocal best, depth
        for e in j.eqns:
            for sub in jax.extend.core.jaxprs_in_params(e.params):
                inner = d + (e.primitive.name in ("scan", "while"))
                if inner > depth:
                    best, depth = sub, inner
                walk(sub, inner)

    walk(jaxpr, 0)
    return best


def _tests_length_one(e: Any) -> bool:
    """``n == 1`` on a scalar: the run-time test for a length-1 broadcast."""
    if e.primitive.name != "eq" or e.outvars[0].aval.shape != ():
        return False
    return any(getattr(v, "val", None) is not None and int(v.val) == 1 for v in e.invars)


def test_syrk_row_update_tests_no_length_one_broadcast():
    # `C[i, :i + 1] += alpha * A[i, k] * A[:i + 1, k]`: both lengths are `i + 1`,
    # computed apart; a run-time test for length 1 there kept XLA from
    # updating the row in place (about 7x the hand-written loop).
    conv, hand = _corpus_programs("syrk")
    assert not [e for e, _ in _eqns(conv) if _tests_length_one(e)]
    # The row is carried as a row (f32[n]), as the anchor carries it.
    body = _innermost_body(conv)
    assert all(v.aval.ndim != 2 or v.aval.shape[0] != 1 for v in body.invars)
    # The two reads and the write back share one mask of the length `i + 1`:
    # with three equal ones XLA's CPU loops did not update the row in place.
    masks = [e for e in body.eqns if e.primitive.name == "lt" and e.outvars[0].aval.shape != ()]
    assert len(masks) == 1
    # A margin of 2: the two reads zero their masked positions (one select each).
    assert _size(body) <= _size(_innermost_body(hand)) + 2


def test_syrk_matches_numpy():
    kernel = corpus.BY_NAME["syrk"]
    args = kernel.init(kernel.sizes["test"])
    _, expected = harness.run_case(kernel, "numpy", args)
    outcome, _ = harness.run_case(kernel, "loops", args, expected)
    assert outcome.status == "match", outcome.detail


def _prefix_commuted(x, y, k, s):
    y[: k + 1] += 2.0 * x[: 1 + k]


def _prefix_through_shape(x, y, k, s):
    n = y.shape[0]
    y[: n - (n - k - 1)] -= x[: k + 1] * 0.5


def _window_shifted(x, y, k, s):
    y[: k + 1] += x[s : k + 1 + s]


def _suffix_spelled_apart(x, y, k, s):
    y[k:] += x[k - s + s : y.shape[0]] * x[k : y.shape[0]]


def _length_one_value(x, y, k, s):
    y[: k + 1] += x[k + s : k + s + 1]  # length 1: broadcasts over the target


def _length_one_operand(x, y, k, s):
    y[k] = (x[: k + 1] * x[k + s : k + s + 1]).sum()


def _length_one_first(x, y, k, s):
    y[: k + 1] = x[s + k : s + k + 1] * y[: k + 1] + x[:1] * 0.0


def _lengths_equal_only_at_run_time(x, y, k, s):
    y[: k + 1] += x[k - k : k + 1] * 3.0


_LENGTH_OPS = [
    _prefix_commuted,
    _prefix_through_shape,
    _window_shifted,
    _suffix_spelled_apart,
    _length_one_value,
    _length_one_operand,
    _length_one_first,
    _lengths_equal_only_at_run_time,
]


@settings(max_examples=examples(60), deadline=None)
@given(
    n=st.integers(1, 6),
    op=st.sampled_from(_LENGTH_OPS),
    s=st.integers(0, 2),
    seed=st.integers(0, 2**16),
)
def test_equal_or_length_one_run_time_lengths_match_numpy(n, op, s, seed):
    def f(x, y):
        for k in range(y.shape[0]):
            op(x, y, k, s)
        return x, y

    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n + 2).astype(np.float32)  # room for the shifted window
    y = rng.standard_normal(n).astype(np.float32)
    expected = f(x.copy(), y.copy())
    got = jax.jit(mutjax.mutable(f, loops=True))(x, y)
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_allclose(np.asarray(g), e, rtol=1e-4, atol=1e-4)


_SPELLINGS = {
    "k + 1 and 1 + k": (lambda k, n: k + 1, lambda k, n: 1 + k, True),
    "n - k and n - (k + 1) + 1": (lambda k, n: n - k, lambda k, n: n - (k + 1) + 1, True),
    "2 * k and k + k": (lambda k, n: 2 * k, lambda k, n: k + k, True),
    "k + 1 and k + 2": (lambda k, n: k + 1, lambda k, n: k + 2, False),
    "k + 1 and n - k": (lambda k, n: k + 1, lambda k, n: n - k, False),
}


@pytest.mark.parametrize("spelling", list(_SPELLINGS))
def test_run_time_lengths_equal_by_construction_only(spelling):
    # Equal lengths are proved from how they were computed, never by chance
    # (k + 1 and n - k agree at one k only).
    from mutjax._masked._layout import same_value

    a, b, equal = _SPELLINGS[spelling]
    seen = []

    def probe(k, n):
        seen.append(same_value(a(k, n), b(k, n)))
        return k

    jax.make_jaxpr(probe)(jnp.int32(3), jnp.int32(7))
    assert seen == [equal]


# -- slices of a carried array that its own new value reads ------------------------------


def floyd_warshall(path):
    # NPBench's port, as in tests/corpus/npbench_polybench.py
    for k in range(path.shape[0]):
        path[:] = np.minimum(path[:], np.add.outer(path[:, k], path[k, :]))


def _distances(n: int, seed: int, dtype: Any = np.float32, unreachable: float = 0.2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    d = rng.uniform(1, 10, (n, n)).astype(dtype)
    if unreachable:
        d[rng.random((n, n)) < unreachable] = np.inf
        d[:, 0] = np.inf  # no path into node 0, none out of node n - 1
        d[-1, :] = np.inf
    np.fill_diagonal(d, 0)
    return d


def _while_bodies_copy(hlo: str, shape: str) -> list[str]:
    """The lines of ``hlo`` outside its entry computation that copy an array of ``shape``."""
    body = hlo.split("\nENTRY ")[0]
    return [ln.strip() for ln in body.splitlines() if f"{shape}{{1,0}} copy(" in ln]


@pytest.fixture
def small_work(monkeypatch):
    """Take slices apart in loops of any length (the mechanism, at sizes quick to run)."""
    from mutjax import _apart

    monkeypatch.setattr(_apart, "MIN_WORK", 0)


@pytest.mark.parametrize("n, apart", [(200, False), (700, True)])
def test_floyd_warshall_is_taken_apart_where_its_copies_pay_for_the_conditional(n, apart):
    # At N = 200 the copies saved (0.85 ms a call) do not repay the
    # conditional's ~30 ms of compile time on the first call; at N = 700 they do.
    path = jnp.zeros((n, n), jnp.int32)
    f = mutjax.mutable(floyd_warshall, loops=True, return_argnums=0)
    names = [e.primitive.name for e, _ in _eqns(jax.make_jaxpr(f)(path).jaxpr)]
    assert names.count("platform_index") == int(apart)


def test_floyd_warshall_reads_its_row_and_column_apart_and_updates_in_place(small_work):
    path = jnp.asarray(_distances(64, 0, np.int32, 0.0))  # 4096 elements: the smallest taken apart
    f = jax.jit(mutjax.mutable(floyd_warshall, loops=True, return_argnums=0))
    names = [e.primitive.name for e, _ in _eqns(jax.make_jaxpr(f)(path).jaxpr)]
    assert names.count("platform_index") == 1  # the row and the column, in one conditional
    if jax.default_backend() == "cpu":
        # Fused into the loop's update, the slices made XLA write a temporary
        # and copy the whole array back every iteration.
        hlo = f.lower(path).compile().as_text()
        assert "conditional(" in hlo
        assert not _while_bodies_copy(hlo, "s32[64,64]")
    expected = np.asarray(path).copy()
    floyd_warshall(expected)
    got = f(path)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(np.asarray(got), expected)


@pytest.mark.parametrize("n", [64, 80])
def test_floyd_warshall_with_unreachable_pairs_matches_numpy(n, small_work):
    path = _distances(n, n)
    expected = path.copy()
    floyd_warshall(expected)
    assert np.isinf(expected).any()  # some pairs stay unreachable: inf reaches the result
    for f in (
        jax.jit(mutjax.mutable(floyd_warshall, loops=True, return_argnums=0)),
        mutjax.mutable(floyd_warshall, loops=True, return_argnums=0),  # eager
    ):
        got = f(jnp.asarray(path))
        np.testing.assert_array_equal(np.asarray(got), expected)


def test_floyd_warshall_apart_under_vmap_matches_numpy(small_work):
    paths = np.stack([_distances(64, s) for s in (1, 2)])
    expected = paths.copy()
    for p in expected:
        floyd_warshall(p)
    f = jax.vmap(mutjax.mutable(floyd_warshall, loops=True, return_argnums=0))
    np.testing.assert_array_equal(np.asarray(jax.jit(f)(jnp.asarray(paths))), expected)


def test_floyd_warshall_apart_gradient_equals_the_loop_written_in_jax(small_work):
    path = jnp.asarray(_distances(64, 3, unreachable=0.0))  # no ties, no inf: a defined gradient
    w = jnp.asarray(np.random.default_rng(4).standard_normal((64, 64)).astype(np.float32))

    def by_hand(p):
        def relax(k, p):
            return jnp.minimum(p, p[:, k][:, None] + p[k, :][None, :])

        return jax.lax.fori_loop(0, p.shape[0], relax, p)

    conv = mutjax.mutable(floyd_warshall, loops=True, return_argnums=0)
    got = jax.jit(jax.grad(lambda p: jnp.sum(w * conv(p))))(path)
    want = jax.jit(jax.grad(lambda p: jnp.sum(w * by_hand(p))))(path)
    assert np.isfinite(np.asarray(got)).all()
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "name, size",
    [("floyd-warshall", {"N": 60}), ("lu", {"N": 70}), ("gramschmidt", {"M": 70, "N": 60})],
)
def test_small_arrays_and_updates_in_place_are_not_taken_apart(name, size, small_work):
    # 3600 elements are under the size that pays for a conditional; LU's
    # element updates are in place already (XLA reads their slices apart), and
    # Gram-Schmidt's column reaches its matrix only through an inner loop.
    kernel = corpus.BY_NAME[name]
    args = {k: jnp.asarray(v) for k, v in kernel.init(size).items()}
    conv = jax.make_jaxpr(mutjax.mutable(kernel.fn, loops=True))(**args).jaxpr
    assert not [e for e, _ in _eqns(conv) if e.primitive.name == "platform_index"]
