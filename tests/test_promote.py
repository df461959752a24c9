"""Slab promotion: a loop touching one invariant row, or one invariant element, of an
array carries only that row or element.

Each kernel runs on NumPy (the oracle) and under ``mutjax.jit`` (and under
``jax.vmap``); the structural tests read the carry of every loop in the
jaxpr: a promoted inner loop carries the row (without its unit axis), not the array.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_same, examples
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import mutjax
from mutjax import _promote
from tests.corpus import npbench_polybench as published


def _loop_carries(jaxpr) -> list[list[tuple[int, ...]]]:
    """The carried shapes of every loop in ``jaxpr`` and its sub-jaxprs, outermost first."""
    found = []
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "scan":
            body = eqn.params["jaxpr"].jaxpr
            n_consts, n_carry = eqn.params["num_consts"], eqn.params["num_carry"]
            found.append([v.aval.shape for v in body.invars[n_consts : n_consts + n_carry]])
        elif eqn.primitive.name == "while":
            body = eqn.params["body_jaxpr"].jaxpr
            found.append([v.aval.shape for v in body.invars[eqn.params["body_nconsts"] :]])
        for sub in jax.extend.core.jaxprs_in_params(eqn.params):
            found += _loop_carries(sub)
    return found


def _carries(kernel, *args) -> list[list[tuple[int, ...]]]:
    return _loop_carries(jax.make_jaxpr(mutjax.jit(kernel))(*args).jaxpr)


def _check(kernel, *args, rtol=1e-5, atol=1e-5):
    """``kernel`` under ``mutjax.jit`` returns NumPy's result (values and dtype)."""
    expected = kernel(*[np.array(a) if isinstance(a, np.ndarray) else a for a in args])
    got = mutjax.jit(kernel)(*args)
    assert_same(jax.tree_util.tree_map(np.asarray, got), expected, "jit", rtol, atol)
    return expected


def syrk(alpha, beta, C, A):
    published.syrk(alpha, beta, C, A)
    return C


def seidel(A):
    published.seidel_2d(4, A.shape[0], A)
    return A


def _syrk_args(n=7, m=5):
    init = published.init_syrk({"M": m, "N": n})
    return init["alpha"], init["beta"], init["C"], init["A"]


def _seidel_args(n=7):
    return (published.init_seidel_2d({"TSTEPS": 4, "N": n})["A"],)


def test_syrk_matches_numpy_and_carries_the_row() -> None:
    args = _syrk_args()
    _check(syrk, *args)
    outer, inner = _carries(syrk, *args)
    assert (7, 7) in outer
    assert (7, 7) not in inner and (7,) in inner


def test_seidel_matches_numpy_and_carries_the_row() -> None:
    args = _seidel_args()
    _check(seidel, *args)
    carries = _carries(seidel, *args)
    innermost = carries[-1]
    assert (7, 7) not in innermost and (7,) in innermost
    # the sweep over rows reads three rows: it keeps the array
    assert all((7, 7) in c for c in carries[:-1])


def _bodies_around_loops(jaxpr):
    """The loop bodies in ``jaxpr`` that themselves run a loop, outermost first."""
    found = []
    for eqn in jaxpr.eqns:
        for sub in jax.extend.core.jaxprs_in_params(eqn.params):
            if eqn.primitive.name in ("scan", "while") and any(
                e.primitive.name in ("scan", "while") for e in sub.eqns
            ):
                found.append(sub)
            found += _bodies_around_loops(sub)
    return found


@pytest.mark.parametrize("kernel, args", [(seidel, _seidel_args()), (syrk, _syrk_args())])
def test_slab_is_read_and_written_back_at_the_start_as_the_body_gives_it(kernel, args) -> None:
    # The body's slicing equations clamp their starts; so do the slab's read
    # and write-back. A clamp or a negative-index wrap of the row index in
    # the loop around the promoted one was a scalar fusion of its own per
    # row in XLA's CPU loops (Seidel-2D: 1.2x the hand-written loop).
    _check(kernel, *args, rtol=1e-4)
    around = _bodies_around_loops(jax.make_jaxpr(mutjax.jit(kernel))(*args).jaxpr)
    assert around
    row_loop = around[-1]
    made_by = {v: e.primitive.name for e in row_loop.eqns for v in e.outvars}
    full = args[-2].shape if kernel is syrk else args[0].shape
    starts = [
        made_by.get(v, "input")
        for e in row_loop.eqns
        if e.primitive.name in ("dynamic_slice", "dynamic_update_slice")
        and e.invars[0].aval.shape == full
        for v in e.invars[1 if e.primitive.name == "dynamic_slice" else 2 :]
        if not isinstance(v, jax.extend.core.Literal)
    ]
    assert starts and not {"clamp", "select_n"} & set(starts), starts


def test_syrk_under_vmap() -> None:
    alpha, beta, C, A = _syrk_args()
    Cs, As = np.stack([C, C + 1]), np.stack([A, A * 2])
    got = jax.vmap(mutjax.jit(syrk), in_axes=(None, None, 0, 0))(alpha, beta, Cs, As)
    expected = np.stack([syrk(alpha, beta, c.copy(), a) for c, a in zip(Cs, As)])
    assert_same(np.asarray(got), expected, "vmap")


def test_seidel_under_vmap_without_jit() -> None:
    (A,) = _seidel_args()
    As = np.stack([A, A * 2])
    got = jax.vmap(mutjax.mutable(seidel, loops=True))(As)
    assert_same(np.asarray(got), np.stack([seidel(a.copy()) for a in As]), "vmap")


def row_of_loop_index(C, A):
    for i in range(C.shape[0]):
        for k in range(C.shape[0]):
            C[k, :] += A[i, k]  # the row moves with the inner loop
    return C


def other_row_too(C):
    for i in range(1, C.shape[0]):
        for j in range(1, C.shape[1]):
            C[i, j] += C[i - 1, j]  # a second row of the same array
    return C


def reads_whole_array(C):
    for i in range(C.shape[0]):
        for j in range(C.shape[1]):
            C[i, j] += C.sum() * 0.01
    return C


def two_rows(C):
    for i in range(C.shape[0] - 1):
        for j in range(C.shape[1]):
            C[i, j] += 1.0
            C[i + 1, j] *= 2.0
    return C


@pytest.mark.parametrize("kernel", [row_of_loop_index, other_row_too, reads_whole_array, two_rows])
def test_no_promotion_where_the_body_leaves_the_row(kernel) -> None:
    C = np.arange(20, dtype=np.float32).reshape(4, 5) / 7
    args = (C, np.ones((4, 4), np.float32)) if kernel is row_of_loop_index else (C,)
    _check(kernel, *args, rtol=1e-4)
    for carry in _carries(kernel, *args):
        assert (4, 5) in carry


def test_user_fori_loop_body() -> None:
    def kernel(C, v):
        i = 2

        def body(k, s):
            C[i, :] = C[i, :] * 0.5 + v[k]
            return s + C[i, k]

        total = mutjax.fori_loop(0, 5, body, 0.0)
        return C, total

    C = np.arange(30, dtype=np.float32).reshape(6, 5)
    v = np.linspace(0, 1, 5, dtype=np.float32)
    Cn = C.copy()
    total = np.float32(0.0)
    for k in range(5):
        Cn[2, :] = Cn[2, :] * 0.5 + v[k]
        total = total + Cn[2, k]
    got_C, got_total = jax.jit(mutjax.mutable(kernel))(C, v)
    assert_same((np.asarray(got_C), np.asarray(got_total)), (Cn, total), "fori_loop")
    carries = _loop_carries(jax.make_jaxpr(mutjax.mutable(kernel))(C, v).jaxpr)
    assert (6, 5) not in carries[0] and (5,) in carries[0]


@pytest.mark.parametrize("wrap", [True, False])
@pytest.mark.parametrize("row", [1, 4, 5, 9, -2])
def test_out_of_range_starts_clamp_as_dynamic_slice_does(row, wrap) -> None:
    def run(fori, C, r):  # r is traced: a constant of the body
        def body(k, C):
            block = jax.lax.dynamic_slice(C, (r, 0), (2, 5), allow_negative_indices=wrap)
            return jax.lax.dynamic_update_slice(
                C, block * 2 + k, (r, 0), allow_negative_indices=wrap
            )

        return fori(0, 3, body, C)

    C = np.arange(30, dtype=np.float32).reshape(6, 5)
    promoted = functools.partial(run, _promote.fori_loop)
    got = jax.jit(promoted)(C, jnp.int32(row))
    plain = jax.jit(functools.partial(run, jax.lax.fori_loop))(C, jnp.int32(row))
    expected = C.copy()
    start = min(max(row if row >= 0 or not wrap else row + 6, 0), 4)
    for k in range(3):
        expected[start : start + 2] = expected[start : start + 2] * 2 + k
    assert_same(np.asarray(got), expected, "promoted")
    assert_same(np.asarray(plain), expected, "plain")
    jaxpr = jax.make_jaxpr(promoted)(C, jnp.int32(row)).jaxpr
    assert _loop_carries(jaxpr) == [[(), (2, 5)]]


class _promote_disabled:
    def __enter__(self):
        _promote.enabled = False

    def __exit__(self, *exc):
        _promote.enabled = True


def test_grad_through_a_promoted_loop() -> None:
    def loss(C, A):
        C = C + 0.0
        out = mutjax.jit(syrk)(np.float32(1.5), np.float32(1.2), C, A)
        return jnp.sum(jnp.sin(out))

    _, _, C, A = _syrk_args(5, 4)
    promoted = jax.grad(loss, argnums=(0, 1))(C, A)
    with _promote_disabled():
        jax.clear_caches()
        plain = jax.grad(loss, argnums=(0, 1))(C, A)
        assert all((5, 5) in c for c in _carries(syrk, np.float32(1.5), np.float32(1.2), C, A))
    jax.clear_caches()
    assert_same(jax.tree_util.tree_map(np.asarray, promoted), plain, "grad")
    # and against central differences along one direction
    d = np.random.default_rng(0).standard_normal(C.shape).astype(np.float32)
    eps = 1e-2
    fd = (loss(C + eps * d, A) - loss(C - eps * d, A)) / (2 * eps)
    np.testing.assert_allclose(np.sum(promoted[0] * d), fd, rtol=2e-2, atol=1e-3)


def next_row_before(C, A):
    for i in range(C.shape[0] - 1):
        C[i + 1, :] *= 0.5  # another row: the loop reads row i of this update
        for k in range(A.shape[1]):
            C[i, :] += A[i, k] * A[:, k]
    return C


def two_rows_before(C, A):
    for i in range(C.shape[0] - 1):
        C[i : i + 2, 1] = 3.0  # the update spans more rows than the slab
        for k in range(A.shape[1]):
            C[i, :] += A[i, k] * A[:, k]
    return C


def own_row_before(C, A):
    for i in range(C.shape[0]):
        C[i, 1:3] = -C[i, 2:4]  # inside the slab: the loop starts from it
        for k in range(A.shape[1]):
            C[i, :] += A[i, k] * A[:, k]
    return C


@pytest.mark.parametrize("kernel", [next_row_before, two_rows_before, own_row_before])
def test_an_update_just_before_the_loop(kernel, monkeypatch) -> None:
    folded = []
    last_update = _promote._last_update

    def spy(*args):
        found = last_update(*args)
        folded.append(found is not None)
        return found

    monkeypatch.setattr(_promote, "_last_update", spy)
    C = np.arange(36, dtype=np.float32).reshape(6, 6) / 7
    A = np.linspace(-1, 1, 24, dtype=np.float32).reshape(6, 4)
    _check(kernel, C, A, rtol=1e-4)
    # only an update inside the slab becomes the loop's start
    assert folded and all(f == (kernel is own_row_before) for f in folded)
    outer, inner = _carries(kernel, C, A)
    assert (6, 6) in outer
    assert (6, 6) not in inner and (6,) in inner


# -- one element -----------------------------------------------------------------


def nussinov(seq):
    return published.nussinov(seq.shape[0], seq)


def _seq(n):
    return published.init_nussinov({"N": n})["seq"]


@pytest.mark.parametrize("n", [2, 3, 7, 12])
def test_nussinov_matches_numpy_and_carries_the_element(n) -> None:
    _check(nussinov, _seq(n))
    carries = _carries(nussinov, _seq(n))
    # the row and column loops keep the table; the k loop carries its one element
    assert all((n, n) in c for c in carries[:-1])
    assert (n, n) not in carries[-1] and (1, 1) in carries[-1]


def test_nussinov_under_vmap() -> None:
    seqs = np.stack([_seq(7), (_seq(7) * 3 + 1) % 4])
    got = jax.vmap(mutjax.jit(nussinov))(seqs)
    assert_same(np.asarray(got), np.stack([nussinov(s) for s in seqs]), "vmap")


def best_split(t):
    # Nussinov's k loop on a float table
    n = t.shape[0]
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n):
            for k in range(i + 1, j):
                t[i, j] = max(t[i, j], t[i, k] * 0.5 + t[k + 1, j])
    return t


def column_reaches_the_element(t):
    n = t.shape[0]
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n):
            for k in range(i + 1, j + 1):  # k = j reads t[i, j] itself
                t[i, j] = max(t[i, j], t[i, k] * 0.5 + 1.0)
    return t


def row_reaches_the_element(t):
    n = t.shape[0]
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n):
            for k in range(i, j):  # k = i reads t[i, j] itself
                t[i, j] = max(t[i, j], t[k, j] * 0.5 + 1.0)
    return t


def writes_another_element(t):
    n = t.shape[0]
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n):
            for k in range(i + 1, j):
                t[i, j] = max(t[i, j], t[i, k] + 1.0)
                t[i, k] = t[i, j] * 0.5  # the next k reads what this wrote
    return t


def _table(n=6):
    return (np.arange(n * n, dtype=np.float32).reshape(n, n) % 7) / 3


def test_float_split_carries_the_element() -> None:
    _check(best_split, _table())
    assert (6, 6) not in _carries(best_split, _table())[-1]
    assert (1, 1) in _carries(best_split, _table())[-1]


@pytest.mark.parametrize(
    "kernel", [column_reaches_the_element, row_reaches_the_element, writes_another_element]
)
def test_no_element_promotion_where_a_read_may_reach_it(kernel) -> None:
    _check(kernel, _table())
    assert all((6, 6) in c for c in _carries(kernel, _table()))


def _past_the_end(fori, C, c, width):
    # a read right of the element: apart from it for indices inside the
    # array, but an index past the end clamps onto the element's column
    def body(k, C):
        slice_at = functools.partial(jax.lax.dynamic_slice, allow_negative_indices=False)
        here = slice_at(C, (c,), (1,))
        other = slice_at(C, (c + 1 + k,), (width,))
        total = here + jnp.sum(other) + 1.0
        return jax.lax.dynamic_update_slice(C, total, (c,), allow_negative_indices=False)

    return fori(0, 3, body, C)


@pytest.mark.parametrize("width", [1, 2])
@pytest.mark.parametrize("column", [0, 2, 4])
def test_element_with_an_unbounded_index_stays_the_loop(column, width) -> None:
    C = np.arange(5, dtype=np.float32) / 4
    promoted = functools.partial(_past_the_end, _promote.fori_loop, width=width)
    plain = functools.partial(_past_the_end, jax.lax.fori_loop, width=width)
    # traced column: nothing bounds it, so the array stays carried
    got = jax.jit(promoted)(C, jnp.int32(column))
    expected = C.copy()
    for k in range(3):
        start = min(column + 1 + k, 5 - width)
        expected[column] += expected[start : start + width].sum() + 1.0
    assert_same(np.asarray(got), expected, "traced column")
    assert_same(np.asarray(jax.jit(plain)(C, jnp.int32(column))), expected, "plain")
    assert _loop_carries(jax.make_jaxpr(promoted)(C, jnp.int32(column)).jaxpr) == [[(), (5,)]]
    # a constant column is bounded: promoted only where every read stays inside
    got = jax.jit(lambda C: promoted(C, column))(C)
    assert_same(np.asarray(got), expected, "constant column")
    carried = _loop_carries(jax.make_jaxpr(lambda C: promoted(C, column))(C).jaxpr)
    inside = column + 1 + 2 + width - 1 <= 4
    assert carried == ([[(), (1,)]] if inside else [[(), (5,)]])


def test_grad_through_a_promoted_element_loop() -> None:
    def loss(t):
        return jnp.sum(jnp.sin(mutjax.jit(best_split)(t + 0.0)))

    t = _table(5)
    promoted = jax.grad(loss)(t)
    with _promote_disabled():
        jax.clear_caches()
        plain = jax.grad(loss)(t)
        assert all((5, 5) in c for c in _carries(best_split, t))
    jax.clear_caches()
    assert_same(np.asarray(promoted), np.asarray(plain), "grad")


def other_cell_before(t):
    n = t.shape[0]
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n):
            t[i, j - 1] += 0.25  # not the loop's element: the k loop reads it (k = j - 1)
            for k in range(i + 1, j):
                t[i, j] = max(t[i, j], t[i, k] * 0.5 + t[k + 1, j])
    return t


def own_cell_before(t):
    n = t.shape[0]
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n):
            t[i, j] += 0.25  # the loop's element: the loop starts from this value
            for k in range(i + 1, j):
                t[i, j] = max(t[i, j], t[i, k] * 0.5 + t[k + 1, j])
    return t


@pytest.mark.parametrize("kernel", [other_cell_before, own_cell_before])
def test_a_write_just_before_the_element_loop(kernel, monkeypatch) -> None:
    folded = []
    fold = _promote.fold_updates

    def spy(*args):
        leaves, updates = fold(*args)
        folded.extend(u is not None for u in updates)
        return leaves, updates

    monkeypatch.setattr(_promote, "fold_updates", spy)
    _check(kernel, _table())
    assert folded and all(f == (kernel is own_cell_before) for f in folded)
    assert (6, 6) not in _carries(kernel, _table())[-1]


def split_with_offsets(t, lo, hi, a, b):
    # Nussinov's k loop with its bounds and read offsets drawn: some of these
    # reads reach t[i, j] (and must keep the table), others never do
    n = t.shape[0]
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n):
            for k in range(i + lo, j + hi):
                t[i, j] = max(t[i, j], t[i, k + a] * 0.5 + t[k + b, j])
    return t


def _offsets_in_bounds(n, lo, hi, a, b) -> bool:
    """Whether NumPy's kernel reads only inside the table (no wrap, no IndexError)."""
    ks = [k for i in range(n) for j in range(i + 1, n) for k in range(i + lo, j + hi)]
    return all(0 <= k + a < n and 0 <= k + b < n for k in ks)


@settings(max_examples=examples(25))
@given(
    n=st.integers(2, 7),
    lo=st.integers(-1, 2),
    hi=st.integers(-1, 2),
    a=st.integers(-2, 2),
    b=st.integers(-2, 2),
)
def test_element_promotion_with_drawn_offsets_matches_numpy(n, lo, hi, a, b) -> None:
    assume(_offsets_in_bounds(n, lo, hi, a, b))
    t = _table(n)
    expected = split_with_offsets(t.copy(), lo, hi, a, b)
    got = mutjax.jit(split_with_offsets, static_argnums=(1, 2, 3, 4))(t, lo, hi, a, b)
    assert_same(np.asarray(got), expected, "jit", 1e-5, 1e-5)
