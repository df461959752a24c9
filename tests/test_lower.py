"""Lowering: duplicates, flags, traced indices and masks, casting, errors.

NumPy is the oracle wherever NumPy has an answer; where it has none (traced
out-of-bounds indices under jit) the documented behaviour is checked against
NumPy applied to the clamped / dropped indices.
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import EAGER_JIT
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import mutjax
from mutjax import _errors
from mutjax.testing import assert_matches_numpy


def _prims(fun, *args):
    jaxpr = jax.make_jaxpr(fun)(*args)
    return [e for e in jaxpr.jaxpr.eqns]


def _all_eqns(jaxpr):
    for e in jaxpr.eqns:
        yield e
        for p in e.params.values():
            sub = getattr(p, "jaxpr", None)
            if sub is not None and hasattr(sub, "eqns"):
                yield from _all_eqns(sub)
            elif hasattr(p, "eqns"):
                yield from _all_eqns(p)


def _eqns(fun, *args):
    return list(_all_eqns(jax.make_jaxpr(fun)(*args).jaxpr))


# -- duplicates: last write wins, augmented assignment does not accumulate ----


@pytest.mark.slow
@given(
    # Up to 40 rows with up to 12 updates: both the dense and the sparse
    # lowering of traced duplicates (see _lower.DENSE_WRITE_RATIO).
    st.integers(1, 40).flatmap(
        lambda n: st.tuples(
            hnp.arrays(np.int32, st.integers(0, 12), elements=st.integers(-n, n - 1)),
            st.just(n),
        )
    ),
    st.booleans(),
)
def test_duplicate_indices_last_write_wins(data, traced):
    idx, n = data
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    v = np.arange(idx.size * 3, dtype=np.float32).reshape(idx.size, 3) + 100

    def assign(a, i, w):
        a[i] = w
        a[i, 1] += w[..., 0]  # repeated indices do not accumulate
        return a[i]

    if traced:
        assert_matches_numpy(assign, x, idx, v, modes=EAGER_JIT)
    else:
        assert_matches_numpy(lambda a, w: assign(a, idx, w), x, v, modes=EAGER_JIT)


def test_duplicates_in_two_index_arrays_and_a_subspace():
    def kernel(a, i, j, w):
        a[i, :, j] = w
        a[1:, i, j] += 1

    x = np.zeros((4, 3, 5), np.float32)
    i = np.array([[0, 2, 0], [2, 0, 2]], np.int32)
    j = np.array([1, 1, 4], np.int32)
    w = np.arange(2 * 3 * 3, dtype=np.float32).reshape(2, 3, 3)
    assert_matches_numpy(kernel, x, i, j, w, modes=EAGER_JIT)
    assert_matches_numpy(lambda a, w: kernel(a, i, j, w), x, w, modes=EAGER_JIT)


def test_duplicate_write_gradient_goes_to_the_winner():
    def f(w, i):
        return mutjax.mutable(lambda a: _set(a, i, w))(jnp.zeros(3)).sum()

    def _set(a, i, w):
        a[i] = w * jnp.arange(1.0, 5.0)
        return a

    i = jnp.array([0, 2, 0, 1])
    g = jax.jit(jax.grad(f))(1.0, i)
    # winners: position 2 (index 2), 3 (index 1), 2? no: index 0 -> last is position 2
    expected = 0.0
    for k, idx in enumerate(np.asarray(i)):
        last = max(p for p, q in enumerate(np.asarray(i)) if q == idx)
        expected += (k + 1.0) if k == last else 0.0
    np.testing.assert_allclose(g, expected)


def test_duplicate_write_under_vmap():
    def kernel(a, i, w):
        a[i] = w
        return a

    f = mutjax.mutable(kernel)
    x = jnp.zeros((3, 4))
    i = jnp.array([[0, 1, 0], [3, 3, 2], [2, 2, 2]])
    w = jnp.arange(9.0).reshape(3, 3)
    got = jax.jit(jax.vmap(f))(x, i, w)
    for b in range(3):
        e = np.zeros(4, np.float32)
        e[np.asarray(i[b])] = np.asarray(w[b])
        np.testing.assert_array_equal(got[b], e)


# -- lowering quality -----------------------------------------------------------


def _scatter_params(fun, *args):
    return [e.params for e in _eqns(fun, *args) if e.primitive.name.startswith("scatter")]


def test_static_sorted_unique_indices_set_both_flags():
    def kernel(a):
        a[[0, 2, 3]] = 1.0
        return a[[1, 2]]

    eqns = _eqns(mutjax.mutable(kernel), jnp.zeros((5, 2)))
    (scatter,) = [e.params for e in eqns if e.primitive.name == "scatter"]
    assert scatter["unique_indices"] and scatter["indices_are_sorted"]
    (gather,) = [e.params for e in eqns if e.primitive.name == "gather"]
    assert gather["unique_indices"] and gather["indices_are_sorted"]


def test_static_unique_unsorted_indices_set_unique_only():
    (p,) = _scatter_params(mutjax.mutable(lambda a: a.__setitem__([3, 0, 2], 1.0)), jnp.zeros(5))
    assert p["unique_indices"] and not p["indices_are_sorted"]


def test_static_duplicates_keep_only_winners_in_a_unique_scatter():
    (p,) = _scatter_params(mutjax.mutable(lambda a: a.__setitem__([3, 0, 3], 1.0)), jnp.zeros(5))
    assert p["unique_indices"]


@pytest.mark.parametrize("size", [5, 64])
def test_traced_index_uses_deterministic_lowering(size):
    # Two updates: dense in 5 elements (the values are gathered through the
    # winner table, no scatter of values at all), sparse in 64 (every index
    # scatters its winner's value, so duplicates carry equal values).
    eqns = _eqns(
        mutjax.mutable(lambda a, i: a.__setitem__(i, 1.0)), jnp.zeros(size), jnp.array([1, 1])
    )
    names = [e.primitive.name for e in eqns]
    assert "scatter-max" in names  # the winner table
    scatters = [e.params for e in eqns if e.primitive.name == "scatter"]
    if size == 5:
        assert not scatters and "gather" in names, names
    else:
        (p,) = scatters
        assert not p["unique_indices"]


def test_traced_scalar_reads_with_slices_are_dynamic_slices():
    # As `jax.numpy` reads `x[:, i]`: one dynamic_slice, never a gather.
    names = {
        e.primitive.name for e in _eqns(mutjax.mutable(lambda a, i: a[:, i]), jnp.zeros((4, 5)), 1)
    }
    assert "dynamic_slice" in names and "gather" not in names, names


@pytest.mark.parametrize(
    "index",
    [
        lambda i: (i, slice(1, 3)),
        lambda i: (slice(None), i),
        lambda i: (slice(1, None), i),
        lambda i: (i, 2),
        lambda i: (i, slice(3, 0, -1)),
    ],
)
def test_traced_scalar_writes_are_one_scatter_like_at(index):
    # `.at[i, 1:3].set(v)` is one window scatter; mutjax writes the same, with
    # no more equations than `.at[]` and no gather or dynamic_update_slice.
    def kernel(a, i):
        a[index(i)] = 7.0
        return a

    def at(a, i):
        return a.at[index(i)].set(7.0)

    x = jnp.zeros((4, 5))
    mine = _eqns(mutjax.mutable(kernel), x, 1)
    names = [e.primitive.name for e in mine]
    assert names.count("scatter") == 1, names
    assert not {"gather", "dynamic_update_slice"} & set(names), names
    assert len(mine) <= len(_eqns(at, x, 1)), names
    for i in (-5, -4, -1, 0, 3, 4, 9):
        expected = np.zeros((4, 5), np.float32)
        try:
            expected[index(i)] = 7.0
        except IndexError:
            expected = np.zeros((4, 5), np.float32)  # out of bounds: the write drops
        got = jax.jit(mutjax.mutable(kernel))(x, i)
        np.testing.assert_array_equal(got, expected)


def test_traced_strided_write_is_a_window_select():
    # A strided window cannot be a scatter window: pad + select + update.
    def kernel(a, i):
        a[::2, i] = 1.0

    names = {e.primitive.name for e in _eqns(mutjax.mutable(kernel), jnp.zeros((4, 5)), 1)}
    assert "dynamic_update_slice" in names and not names & {"gather", "scatter"}, names


# -- traced indices under jit: documented out-of-bounds behaviour ----------------


def test_traced_out_of_bounds_reads_clamp_and_writes_drop():
    def kernel(a, i):
        r = a[i]
        a[i] = -1.0
        return r

    x = np.arange(5, dtype=np.float32)
    i = np.array([7, -9, 2, -1])
    r, a = jax.jit(mutjax.mutable(kernel, return_argnums=0))(jnp.asarray(x), i)
    norm = np.where(i < 0, i + 5, i)
    np.testing.assert_array_equal(r, x[np.clip(norm, 0, 4)])
    e = x.copy()
    e[norm[(norm >= 0) & (norm < 5)]] = -1.0
    np.testing.assert_array_equal(a, e)


def test_eager_out_of_bounds_index_arrays_raise_like_numpy():
    for kernel in (lambda a: a[np.array([0, 5])], lambda a: a.__setitem__([[5]], 0)):
        with pytest.raises(IndexError):
            kernel(np.zeros(3))
        with pytest.raises(IndexError):
            mutjax.mutable(kernel)(jnp.zeros(3))


def test_checkify_reports_traced_out_of_bounds_with_original_index():
    from jax.experimental import checkify

    def kernel(a, i):
        a[:, i] = 1.0
        return a

    f = checkify.checkify(jax.jit(mutjax.mutable(kernel)), errors=checkify.index_checks)
    err, _ = f(jnp.zeros((2, 4)), jnp.array([1, -7, 3]))
    msg = err.get()
    assert msg is not None and "index -7" in msg and "axis 1" in msg, msg
    err, _ = f(jnp.zeros((2, 4)), jnp.array([1, -4, 3, 1]))
    assert err.get() is None


# -- traced boolean masks: select, casting, leading axes ----------------------------


@pytest.mark.parametrize(
    "shape,mshape,vshape,dtype",
    [
        ((4, 3), (4, 3), (), np.float32),
        ((4, 3), (4,), (3,), np.int32),
        ((4, 3), (4,), (1, 3), np.uint8),
        ((2, 3, 2), (2, 3), (2,), np.bool_),
        ((5,), (5,), (1,), np.int8),
    ],
)
def test_traced_mask_assignment_is_a_select(shape, mshape, vshape, dtype):
    rng = np.random.default_rng(0)
    x = (rng.integers(0, 3, shape)).astype(dtype)
    m = rng.integers(0, 2, mshape).astype(bool)
    v = (rng.uniform(0, 9, vshape)).astype(np.float32)

    def kernel(a, m, v):
        a[m] = v
        a[m] = 2.7  # float into int truncates, into bool is != 0

    assert_matches_numpy(kernel, x, m, v, modes=EAGER_JIT)
    names = {e.primitive.name for e in _eqns(mutjax.mutable(kernel), x, m, v)}
    assert "select_n" in names and not names & {"gather", "scatter"}, names


def test_traced_mask_value_of_mask_length_names_the_limitation():
    def kernel(a, m):
        a[m] = jnp.arange(3.0)

    with pytest.raises(_errors.DynamicShapeError, match="mask"):
        jax.jit(mutjax.mutable(kernel))(jnp.zeros(3), jnp.array([True, False, True]))


def test_traced_mask_read_keeps_the_dynamic_shape_error():
    with pytest.raises(_errors.DynamicShapeError):
        jax.jit(mutjax.mutable(lambda a, m: a[m]))(jnp.zeros(3), jnp.ones(3, bool))


# -- values: casting and NumPy's refusals -----------------------------------------

CAST_DTYPES = [
    np.bool_,
    np.int8,
    np.uint8,
    np.int16,
    np.int32,
    np.uint32,
    np.float16,
    np.float32,
    np.complex64,
]


def _cast_pairs():
    # The default run checks every dtype once as source and once as
    # destination (each with its neighbour in the list); the full run (`-m ""`)
    # checks all 81 pairs.
    n = len(CAST_DTYPES)
    return [
        pytest.param(
            src,
            dst,
            id=f"{np.dtype(src).name}-{np.dtype(dst).name}",
            marks=() if (j - i) % n == 1 else pytest.mark.slow,
        )
        for i, src in enumerate(CAST_DTYPES)
        for j, dst in enumerate(CAST_DTYPES)
    ]


@pytest.mark.parametrize(("src", "dst"), _cast_pairs())
def test_setitem_casts_every_dtype_pair_like_numpy(src, dst):
    vals = np.array([0, 1, 2.7, 5.5, 100.2, 3], np.float64)
    if np.dtype(src).kind not in "fc":
        vals = np.trunc(vals)
    v = vals.astype(src)
    if np.dtype(src).kind == "c" and np.dtype(dst).kind != "c":
        v = v + 0j  # complex into real: NumPy warns and drops the imaginary part

    def kernel(a, w):
        a[1:] = w[1:]
        a[0] = w[3]
        a[[2, 0]] = w[[5, 1]]

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert_matches_numpy(kernel, np.zeros(6, dst), v, modes=EAGER_JIT)
        assert_matches_numpy(lambda a: kernel(a, v), np.zeros(6, dst), modes=EAGER_JIT)


def test_negative_float_into_signed_int_truncates_toward_zero():
    assert_matches_numpy(
        lambda a, w: a.__setitem__(slice(None), w),
        np.zeros(3, np.int32),
        np.array([-2.7, -0.5, 2.9], np.float32),
        modes=EAGER_JIT,
    )


@pytest.mark.parametrize(
    "dtype,value,exc",
    [
        (np.uint8, -1, OverflowError),
        (np.int8, 300, OverflowError),
        (np.int32, float("nan"), ValueError),
        (np.int32, float("inf"), OverflowError),
        (np.float32, 1 + 2j, TypeError),
        (np.int32, "a", ValueError),
        (np.int32, [[1, 2], [3]], ValueError),
    ],
)
def test_static_values_numpy_refuses_raise_numpys_exception(dtype, value, exc):
    def kernel(a):
        a[0:2] = value

    with pytest.raises(exc):
        kernel(np.zeros(2, dtype))
    for f in (mutjax.mutable(kernel), jax.jit(mutjax.mutable(kernel))):
        with pytest.raises(exc):
            f(jnp.zeros(2, dtype))


def test_values_broadcast_with_leading_ones_and_nested_lists():
    def kernel(a):
        a[0] = np.ones((1, 1, 5))
        a[1:3] = [[1, 2, 3, 4, 5]]
        a[[3, 1]] = [[7], [8]]
        a[..., [0, 4]] = [[[9, 9]]]

    assert_matches_numpy(kernel, np.zeros((4, 5), np.float32), modes=EAGER_JIT)


def test_full_integer_index_refuses_sequences():
    # NumPy >= 2.4 refuses any value with a dimension here; 2.2-2.3 accept a
    # size-1 value with a DeprecationWarning. mutjax follows the installed NumPy.
    for v in ([1.0], np.ones(1), np.ones((1, 1)), np.ones(2)):
        expected = np.zeros((2, 2))
        f = mutjax.mutable(lambda a, v=v: a.__setitem__((0, 1), v) or a)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                expected[0, 1] = v
            except ValueError:
                with pytest.raises(ValueError):
                    f(jnp.zeros((2, 2)))
                continue
            np.testing.assert_array_equal(f(jnp.zeros((2, 2))), expected)


# -- errors at trace time --------------------------------------------------------


@pytest.mark.parametrize(
    "idx",
    [
        (0, 0, 0),
        5,
        np.float64(1.0),
        1.0,
        np.array([1.0]),
        "a",
        {},
        (Ellipsis, Ellipsis),
        np.ones(4, bool),
        [[0, 1], [0]],
        np.array([0, 9]),
        ([0, 1], [0, 1, 2]),
    ],
)
@pytest.mark.parametrize("op", ["read", "write", "iadd"])
def test_bad_indices_raise_numpys_exception_under_jit(idx, op):
    def kernel(a):
        if op == "read":
            return a[idx]
        if op == "write":
            a[idx] = 1
        else:
            a[idx] += 1

    try:
        kernel(np.zeros((3, 3)))
    except Exception as e:  # the oracle decides the type
        exc = type(e)
    else:
        pytest.fail("NumPy accepted it")
    with pytest.raises(exc):
        jax.jit(mutjax.mutable(kernel))(jnp.zeros((3, 3)))


def test_values_that_do_not_broadcast_raise_value_error():
    for idx in (slice(None), [0, 1], (slice(None), [0, 2])):

        def kernel(a, idx=idx):
            a[idx] = np.ones((2, 7))

        with pytest.raises(ValueError):
            kernel(np.zeros((3, 3)))
        with pytest.raises(ValueError):
            jax.jit(mutjax.mutable(kernel))(jnp.zeros((3, 3)))


# -- a real kernel: traced pivots, scalar bools, mixed indices ---------------------


@pytest.mark.slow
def test_lu_with_row_swaps_matches_numpy():
    def lu(A):
        n = A.shape[0]
        for k in range(n - 1):
            p = abs(A[k:, k]).argmax() + k
            A[[k, p]] = A[[p, k]]
            A[k + 1 :, k] /= A[k, k]
            A[k + 1 :, k + 1 :] -= A[k + 1 :, k : k + 1] * A[k : k + 1, k + 1 :]
        return A

    A = np.random.default_rng(1).normal(size=(6, 6)).astype(np.float32)
    assert_matches_numpy(lu, A, rtol=1e-4, atol=1e-4, modes=EAGER_JIT)


def test_analysis_edge_cases_match_numpy():
    x = np.arange(24.0, dtype=np.float32).reshape(2, 3, 4)
    kernels = [
        lambda a: a[[0], ..., [1]].copy() if isinstance(a, np.ndarray) else a[[0], ..., [1]],
        lambda a: a[np.array(1)] * 1,
        lambda a: a[0, :, True] * 1,
        lambda a: a[True, [1], False] * 1,
        lambda a: a[None, [1, 0], None, [2, 1]] * 1,
        lambda a: a[np.array([[True, False, True], [False, True, True]])] * 1,
        lambda a: (
            a[np.array([True, False]), 1:, np.array([0, 3, 1])] * 1
            if False
            else a[np.array([True, False]), 1:, np.array([3])] * 1
        ),
        lambda a: a[np.array([], np.uint8)] * 1,
        lambda a: a[..., np.array([1, 3], np.uint16)] * 1,
    ]
    for k in kernels:
        assert_matches_numpy(k, x, modes=EAGER_JIT)
    y = np.zeros((2, 0, 3), np.float32)
    assert_matches_numpy(
        lambda a: a[[1, 0], ..., [2, 1]] * 1, y, modes=EAGER_JIT
    )  # zero-length `...` between arrays


def test_traced_slice_bounds_name_the_limitation():
    # A traced slice is a masked value (mutjax._masked); what needs its exact
    # shape, such as returning it, names the limitation and the way out.
    with pytest.raises(_errors.DynamicShapeError, match="jnp.where"):
        jax.jit(mutjax.mutable(lambda a, i: a[i : i + 2]))(jnp.zeros(5), 1)
    # Writing into it writes exactly the run-time positions, as NumPy.
    f = jax.jit(mutjax.mutable(lambda a, i: a.__setitem__(slice(i, None), 1.0) or a))
    for i in range(-6, 6):
        expected = np.zeros(5, np.float32)
        expected[i:] = 1.0
        np.testing.assert_array_equal(f(jnp.zeros(5), i), expected)
