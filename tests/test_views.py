"""Live views, aliasing and in-place methods, NumPy as the oracle."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import EAGER_JIT, assert_same, sampled
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import mutjax
from mutjax import _views
from mutjax.testing import assert_matches_numpy

RNG = np.random.default_rng(5)


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def i32(*shape):
    return np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape)


def api(x):
    """NumPy's module for a NumPy array, else mutjax's view functions.

    np.moveaxis / np.expand_dims / np.broadcast_to on a mutable array are
    routed to these functions by the NumPy-API layer.
    """
    return np if isinstance(x, np.ndarray) else _views


# -- live views ------------------------------------------------------------------


def k_view_kinds(A):
    A.T[0] = 5
    A.transpose()[1, 1:] = -1
    A.transpose(1, 0)[2] += 3
    A.transpose((1, 0))[3, ::2] *= 2
    A.swapaxes(0, 1)[0, 0] = 8
    api(A).moveaxis(A, 0, -1)[1] -= 1
    A.reshape(4, 3)[3] = 6
    A.reshape(-1)[5] = 9
    A.ravel()[7] = 10
    A[None][0, 2, 3] = 11
    A[:, None, :][1, 0] += 0.5
    api(A).expand_dims(A, (0, 2))[0, 0, 0] = 12
    A[:1].squeeze()[3] = 13
    A[:, 1:2].squeeze(axis=1)[2] = 14
    return A.T.copy()


def k_views_see_base_writes(A):
    t = A.T
    r = A.reshape(12)
    d = A.diagonal()
    row = A[1]
    e = api(A).expand_dims(A, 1)
    A[1, 1] = 100
    A[...] *= 2
    return t, r, d, row, e, A.squeeze(), A[..., None].squeeze(-1)


def k_row_zero(A):
    row = A[1]
    row[:] = 0
    return row


def k_iter(A):
    for r in A:
        r *= 2
    for i, r in enumerate(A):
        r[i] = -r[i]
    for r in A.T:
        r[0] += 1
    return A


def k_chained(a):
    a[1][2] = 7
    a[1:][::2][0] = -1
    a[::-1][0][1:][::2] = 3
    a[:, 1:][1:, ::-1][0] += 10
    a.T[1:].T[0][0] = 42
    a.T[0] = 5
    return a


@pytest.mark.parametrize(
    "kernel",
    [k_view_kinds, k_views_see_base_writes, k_row_zero, k_iter, k_chained],
)
def test_view_kernels_match_numpy(kernel):
    assert_matches_numpy(kernel, f32(3, 4), modes=EAGER_JIT)


def k_polybench_rows(A, x):
    # polybench-style: scale rows through row views, update columns through .T
    n = A.shape[0]
    for i in range(n):
        Ai = A[i]
        Ai[i:] /= Ai[i]
        col = A.T[i]
        col[i + 1 :] -= x[i]
    return A


def test_polybench_style_kernel():
    assert_matches_numpy(k_polybench_rows, f32(4, 4) + 4, f32(4), modes=EAGER_JIT)


def k_reshape_copy_or_view(A):
    v1 = A.T.reshape(12)  # NumPy must copy
    v1[0] = 100
    v2 = A[:, ::2].reshape(6)  # copy
    v2[1] = 200
    v3 = A[1:].reshape(2, 2, 2)  # view
    v3[0, 1, 1] = 300
    v4 = A.T.reshape(2, 2, 3)  # view: splits the leading axis of the transpose
    v4[1, 0, 2] = 400
    v5 = A[:, :2].ravel()  # copy
    v5[:] = 0
    v6 = A.reshape(3, 2, 2).T.reshape(2, 6)  # copy
    v6[0] = -5
    v7 = A.T.ravel(order="F")  # view
    v7[2] = 500
    v8 = A.reshape(4, 3, order="F")  # copy
    v8[0] = 600
    v9 = A.T.reshape(4, 3, order="F")  # view
    v9[1, 1] = 700
    return v1, v2, v3, v4, v5, v6, v7, v8, v9


def test_reshape_views_follow_numpys_stride_rule():
    assert_matches_numpy(k_reshape_copy_or_view, f32(3, 4), modes=EAGER_JIT)


def test_reshape_copy_argument():
    def k(A):
        A.reshape(4, 3, copy=True)[0] = 1
        A.reshape(4, 3, copy=False)[1] = 2
        return A

    assert_matches_numpy(k, f32(3, 4), modes=EAGER_JIT)

    def bad(A):
        A.T.reshape(12, copy=False)

    with pytest.raises(ValueError, match="copy") as e_np:
        bad(f32(3, 4))
    with pytest.raises(ValueError, match="copy") as e_mj:
        mutjax.mutable(bad)(f32(3, 4))
    assert str(e_mj.value) == str(e_np.value)


@pytest.mark.parametrize(
    "call",
    [
        lambda A: A.reshape(5),
        lambda A: A.reshape(-1, -1),
        lambda A: A.transpose(0, 0),
        lambda A: A.transpose(0),
        lambda A: A.transpose(0, 2),
        lambda A: A.swapaxes(0, 2),
        lambda A: A.squeeze(0),
        lambda A: A.squeeze(3),
        lambda A: api(A).expand_dims(A, 4),
        lambda A: api(A).expand_dims(A, (0, 0)),
        lambda A: api(A).moveaxis(A, 0, 5),
        lambda A: api(A).moveaxis(A, (0, 1), 0),
        lambda A: api(A).broadcast_to(A, (4,)),
        lambda A: A.diagonal(0, 1, 1),
        lambda A: A.ravel(order="Z"),
    ],
)
def test_bad_view_arguments_raise_numpys_errors(call):
    with pytest.raises(Exception) as e_np:
        call(f32(3, 4))
    with pytest.raises(Exception) as e_mj:
        mutjax.mutable(call)(f32(3, 4))
    assert type(e_mj.value) is type(e_np.value), (e_mj.value, e_np.value)


# -- copies --------------------------------------------------------------------------


def k_copies(a):
    a[[0, 1]][0] = -1
    a[np.array([True, False, True])][0] = -2
    a[np.array(1)][0] = -3
    a[:, [0, 2]][1] = -4
    c = a.copy()
    c[0] = -5
    f = a.flatten()
    f[0] = -6
    a[np.int64(1)][0] = 77  # a NumPy integer scalar is an integer: a view
    return c, f, a


def test_advanced_and_boolean_indexing_give_copies():
    assert_matches_numpy(k_copies, i32(3, 4), modes=EAGER_JIT)


# -- 0-d index arrays ---------------------------------------------------------------

# NumPy reads a 0-d integer ndarray as an advanced index, so reading through it
# copies, beside slices too; a NumPy integer scalar is an integer (a view).
# Each index is closed over by the kernel, so it stays a NumPy array under jit.
ZERO_D_INDICES = [
    pytest.param(np.array(1), id="0d"),
    pytest.param((np.array(1), slice(1, 3)), id="0d-slice"),
    pytest.param((slice(None), np.array(2)), id="slice-0d"),
    pytest.param((Ellipsis, np.array(-1)), id="ellipsis-0d"),
    pytest.param((np.array(1), None), id="0d-newaxis"),
    pytest.param(np.array(2, np.uint8), id="0d-uint8"),
    pytest.param((np.array(1), np.array(2)), id="0d-0d"),
    pytest.param((1, np.array(2)), id="int-0d"),
    pytest.param(np.int64(1), id="int64"),
    pytest.param((np.int64(1), slice(1, 3)), id="int64-slice"),
    pytest.param([np.array(1)], id="list-of-0d"),
    pytest.param(np.array([1]), id="1d"),
    pytest.param(np.array(True), id="0d-true"),
    pytest.param(np.array(False), id="0d-false"),
    pytest.param((np.array(1), np.array(True)), id="0d-0d-bool"),
    pytest.param(slice(np.array(1), 3), id="0d-slice-bound"),
]


def _reads_scalar(idx):
    # An integer on every axis reads a NumPy scalar, which takes no writes.
    return isinstance(np.zeros((3, 4))[idx], np.generic)


def k_read_then_write(idx):
    scalar = _reads_scalar(idx)

    def kernel(x):
        v = x[idx]
        if scalar:
            pass
        elif v.ndim and v.shape[0]:
            v[0] = 99
        else:
            v[...] = 99
        return x, v

    return kernel


def k_assign(idx):
    def kernel(x):
        x[idx] = 7
        return x

    return kernel


def k_iadd(idx):
    def kernel(x):
        x[idx] += 1
        return x

    return kernel


def k_write_into_read(idx):
    scalar = _reads_scalar(idx)

    def kernel(x):
        if not scalar:
            x[idx][...] = 99  # a copy is dropped, a view writes x
        return x

    return kernel


@sampled("idx", ZERO_D_INDICES, every=3)
@pytest.mark.parametrize("make", [k_read_then_write, k_assign, k_iadd, k_write_into_read])
def test_zero_d_index_arrays_copy_on_read_and_write_on_assignment(make, idx):
    assert_matches_numpy(make(idx), i32(3, 4), modes=EAGER_JIT)


def test_zero_d_index_array_read_is_its_own_array():
    def kernel(x):
        v = x[np.array(1), 1:3]
        v[0] = 5
        x[0, 1] = -1  # a later write to x does not reach the copy either
        return x, v

    assert_matches_numpy(kernel, i32(3, 4), modes=EAGER_JIT)


# A JAX integer (traced under jit, a jax.Array outside it, a 0-d mutable array)
# is an integer, as the loop counter it stands for is in NumPy: a view. Its NumPy
# twin is a NumPy integer scalar, which is what the references index with.


def k_index_by(x, i):
    v = x[i, 1:3]
    v[0] = 99
    x[i, 0] += 10
    return x, v


def test_traced_zero_d_integer_is_an_integer():
    assert_matches_numpy(
        k_index_by,
        i32(3, 4),
        np.array(1, np.int32),
        modes=EAGER_JIT,
        reference=lambda x, i: k_index_by(x, i[()]),
    )


def test_concrete_jax_zero_d_integer_is_an_integer():
    i = jnp.array(2)
    assert_matches_numpy(
        lambda x: k_index_by(x, i),
        i32(3, 4),
        modes=EAGER_JIT,
        reference=lambda x: k_index_by(x, np.int64(2)),
    )


def test_zero_d_mutable_integer_is_an_integer():
    def kernel(x):
        i = x[:, 0].argmax()  # NumPy: an integer scalar
        return k_index_by(x, i)

    assert_matches_numpy(kernel, i32(3, 4), modes=EAGER_JIT)


def test_jnp_and_np_array_break_aliasing():
    @mutjax.mutable
    def f(x):
        y = jnp.array(x)
        z = np.array(x)  # eager: a NumPy snapshot
        x[0] = 7
        return y, jnp.asarray(z), x

    y, z, x = f(jnp.arange(3.0))
    np.testing.assert_array_equal(y, [0, 1, 2])
    np.testing.assert_array_equal(z, [0, 1, 2])
    np.testing.assert_array_equal(x, [7, 1, 2])


# -- read-only views -------------------------------------------------------------------


@pytest.mark.parametrize(
    "write",
    [
        lambda A: A.diagonal().__setitem__(0, 1),
        lambda A: A.diagonal(1).T.__setitem__(slice(None), 1),
        lambda A: api(A).broadcast_to(A[0], (2, 4)).__setitem__((0, 0), 1),
        lambda A: api(A).broadcast_to(A, (2, 3, 4))[1].__setitem__(0, 1),
        lambda A: A.diagonal().fill(3),
        lambda A: A.diagonal().sort(),
        lambda A: A.diagonal().__iadd__(1),
    ],
)
def test_read_only_views_raise(write):
    A = f32(3, 4)
    with pytest.raises(ValueError):
        write(A)
    with pytest.raises(ValueError, match="read-only"):
        mutjax.mutable(write)(A)


def k_read_only_views_are_live(A):
    d = A.diagonal()
    b = api(A).broadcast_to(A[0], (2, 4))
    A[0, 0] = 50
    A[1] = 3
    copy = b[[1]]  # advanced indexing of a read-only view: a writable copy
    copy[0, 0] = -1
    r = b.reshape(8)  # a stride-0 layout cannot reshape in place: a copy
    r[0] = -2
    return d, b, b.T, copy, r


def test_read_only_views_see_base_writes():
    assert_matches_numpy(k_read_only_views_are_live, f32(3, 4), modes=EAGER_JIT)


# -- lowering: a write through a chain is one update of the base ----------------------------


def _count_updates(f, *args):
    jaxpr = jax.make_jaxpr(mutjax.mutable(f))(*args).jaxpr
    names = [e.primitive.name for e in jaxpr.eqns]
    updates = ("dynamic_update_slice", "scatter", "scatter-add", "scatter-sub", "scatter-mul")
    return sum(n in updates for n in names), names


@pytest.mark.parametrize(
    "write",
    [
        lambda A: A.T[0].__setitem__(slice(None), 1.0),
        lambda A: A[1:][::2][0].__setitem__(slice(None), 1.0),
        lambda A: A[1][2:].__setitem__(0, 1.0),
        lambda A: A.T[1:].T[0].__setitem__(0, 1.0),
        lambda A: A.reshape(6, 4)[2].__setitem__(slice(None), 1.0),
        lambda A: A.swapaxes(0, 1)[::2, 1:].__setitem__(Ellipsis, 1.0),
        lambda A: A[None].T[0, 1:].__setitem__(0, 1.0),
        lambda A: A[:3].squeeze().T.__setitem__(0, 1.0),
        lambda A: A.transpose(1, 0).T.T[2].__iadd__(1.0),
    ],
)
def test_write_through_view_chain_is_one_update(write):
    def f(A):
        write(A)
        return A

    n, names = _count_updates(f, jnp.zeros((4, 6)))
    assert n == 1, names
    # and no transpose of the whole base on the way back
    assert "transpose" not in names or names.count("transpose") <= 1, names


# -- aliasing ------------------------------------------------------------------------------


def k_alias(x):
    y = x
    x += 1
    z = x[1:]
    x *= 2
    return y, z


def k_overlap(x, s):
    x[1:] = x[:-1]
    s[:] = s.T
    x[::-1] = x
    s[1:, :] = s[:-1, :] + s[1:, :]
    s[:, ::-1] = s.T
    return x, s


def k_swaps(a, v):
    a[0], a[1] = a[1], a[0]  # rows are views: both end equal, as in NumPy
    a[[1, 2]] = a[[2, 1]]  # advanced indexing copies: a real swap
    v[0], v[1] = v[1], v[0]  # 0-d elements of a 1-D array: NumPy scalars, a swap
    return a, v


@pytest.mark.parametrize(
    "kernel,args",
    [
        (k_alias, (f32(5),)),
        (k_overlap, (f32(6), f32(3, 3))),
        (k_swaps, (f32(3, 4), f32(4))),
    ],
)
def test_aliasing_matches_numpy(kernel, args):
    assert_matches_numpy(kernel, *args, modes=EAGER_JIT)


# -- in-place methods --------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda a: a.sort(kind="foo"),
        lambda a: a.sort(kind=3),
        lambda a: a.sort(order="x"),
        lambda a: a.sort(axis=2),
        lambda a: a.sort(axis=None),
        lambda a: a.put([0], [1], mode="foo"),
        lambda a: a.put([12], [1]),
        lambda a: a.put([-13], [1]),
        lambda a: a[:0].put([0], [1], mode="wrap"),
        lambda a: a.fill(np.ones(2, np.float32)),
        lambda a: a.clip(0, 1, out=a.astype(np.int32)),
        lambda a: a.clip(0, 1, out=a[0]),
        lambda a: a[0].resize(2),
        lambda a: a.T.resize((2, 5)),
        lambda a: a[:, ::2].resize(6),
        lambda a: a.reshape(12).resize(3),
        lambda a: a.resize(2),
        lambda a: a.reshape(6, 2)[:, 0].resize(1, refcheck=False),
        lambda a: a[1:].__setitem__(0, np.ones(3, np.float32)),
        lambda a: a.T.__setitem__(slice(None), np.ones((3, 4), np.float32)),
        lambda a: a.reshape(2, 6).__setitem__(0, np.ones(5, np.float32)),
    ],
)
def test_bad_method_arguments_raise_numpys_errors(call):
    a = f32(3, 4)
    with pytest.raises(Exception) as e_np:
        call(a)
    with pytest.raises(Exception) as e_mj:
        mutjax.mutable(call)(a)
    ok = isinstance(e_mj.value, type(e_np.value)) or (
        # NumPy's _UFuncOutputCastingError is a TypeError subclass
        isinstance(e_np.value, TypeError) and isinstance(e_mj.value, TypeError)
    )
    assert ok, (e_mj.value, e_np.value)


# -- bad input -----------------------------------------------------------------------------


def test_view_after_scope_raises_scope_ended():
    leaked = []

    @mutjax.mutable
    def f(a):
        leaked.append(a.T[1:])
        leaked.append(a.reshape(-1))
        return a

    f(jnp.ones((2, 3)))
    for v in leaked:
        with pytest.raises(mutjax.ScopeEndedError):
            v[0] = 1
        with pytest.raises(mutjax.ScopeEndedError):
            v.T
        with pytest.raises(mutjax.ScopeEndedError):
            v.reshape(-1)
        with pytest.raises(mutjax.ScopeEndedError):
            v + 1
        assert "ended" in repr(v)


# -- transformations -------------------------------------------------------------------------


def k_grad(a):
    t = a.T[1:]
    t *= a.T[:-1]
    for r in a:
        r += r[::-1]
    a.reshape(-1)[2] = a.sum()
    return (a.diagonal() ** 2).sum() + (a * a).sum()


def k_grad_ref(a):
    at = a.T
    at = at.at[1:].set(at[1:] * at[:-1])
    a = at.T
    a = a + a[:, ::-1]
    a = a.reshape(-1).at[2].set(a.sum()).reshape(3, 3)
    return (jnp.diagonal(a) ** 2).sum() + (a * a).sum()


def test_grad_through_views():
    a = jnp.asarray(f32(3, 3))
    g = jax.jit(jax.grad(mutjax.mutable(k_grad)))(a)
    np.testing.assert_allclose(g, jax.grad(k_grad_ref)(a), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(k_grad(np.array(a)), k_grad_ref(a), rtol=1e-5)


def test_vmap_through_views():
    xs = f32(5, 3, 4)
    out = jax.jit(jax.vmap(mutjax.mutable(k_chained)))(jnp.asarray(xs))
    expected = np.stack([k_chained(x.copy()) for x in xs])
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    out = jax.vmap(mutjax.mutable(k_reshape_copy_or_view))(jnp.asarray(xs))
    for got, exp in zip(out, zip(*[k_reshape_copy_or_view(x.copy()) for x in xs])):
        np.testing.assert_allclose(got, np.stack(exp), rtol=1e-6)


def test_views_inside_foreign_transform_are_values():
    # Inside a jax.vmap within the scope, view methods act as jax.numpy's.
    @mutjax.mutable
    def f(a):
        return jax.vmap(lambda r: r.T.reshape(-1) + r.squeeze().sum())(a)

    a = f32(2, 1, 3)
    np.testing.assert_allclose(f(a), [r.T.reshape(-1) + r.sum() for r in a], rtol=1e-6)


# -- random chains of views and writes against NumPy ------------------------------------------


def _reshape_target(data, shape):
    size = int(np.prod(shape))
    if size == 0:
        return (0,) + (1,) * data.draw(st.integers(0, 1))
    dims = []
    rest = size
    for _ in range(data.draw(st.integers(0, 2))):
        d = data.draw(st.sampled_from([k for k in range(1, rest + 1) if rest % k == 0]))
        dims.append(d)
        rest //= d
    dims.append(rest)
    dims = data.draw(st.permutations(dims))
    if data.draw(st.booleans()):
        dims[data.draw(st.integers(0, len(dims) - 1))] = -1
    return tuple(dims)


def _draw_program(data, base):
    """Draw steps on NumPy (the oracle), recording them to replay under mutjax."""
    views = [base]
    steps = []
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(views) - 1))
        v = views[i]
        kind = data.draw(
            st.sampled_from(
                ["index", "T", "transpose", "swapaxes", "reshape", "squeeze", "expand", "write"]
                + ["iadd", "write", "ravel", "moveaxis"]
            )
        )
        nd = v.ndim
        if kind == "index":
            arg = data.draw(hnp.basic_indices(v.shape, min_dims=0, allow_newaxis=True))
        elif kind == "transpose":
            arg = tuple(data.draw(st.permutations(range(nd))))
        elif kind == "swapaxes":
            if nd == 0:
                continue
            arg = (data.draw(st.integers(-nd, nd - 1)), data.draw(st.integers(-nd, nd - 1)))
        elif kind == "reshape":
            arg = _reshape_target(data, v.shape)
        elif kind == "ravel":
            arg = data.draw(st.sampled_from(["C", "F", "A", "K"]))
        elif kind == "moveaxis":
            if nd == 0:
                continue
            arg = (data.draw(st.integers(-nd, nd - 1)), data.draw(st.integers(-nd, nd - 1)))
        elif kind == "squeeze":
            ones = [k for k in range(nd) if v.shape[k] == 1]
            arg = data.draw(st.sampled_from([None] + ones))
        elif kind == "expand":
            arg = data.draw(st.integers(-nd - 1, nd))
        elif kind == "write":
            arg = (
                data.draw(hnp.basic_indices(v.shape, min_dims=0, allow_newaxis=True)),
                float(data.draw(st.integers(-9, 9))),
            )
        else:
            arg = float(data.draw(st.integers(1, 5)))
        out = _apply(v, kind, arg)
        if kind in ("write", "iadd"):
            steps.append((i, kind, arg, None))
        elif isinstance(out, np.ndarray):  # NumPy gives a scalar for a full integer index
            views.append(out)
            steps.append((i, kind, arg, len(views) - 1))
    return steps, views


def _apply(v, kind, arg):
    if kind == "index":
        return v[arg]
    if kind == "T":
        return v.T
    if kind == "transpose":
        return v.transpose(arg)
    if kind == "swapaxes":
        return v.swapaxes(*arg)
    if kind == "reshape":
        return v.reshape(arg)
    if kind == "squeeze":
        return v.squeeze(arg)
    if kind == "ravel":
        return v.ravel(arg)
    if kind == "moveaxis":
        return api(v).moveaxis(v, *arg)
    if kind == "expand":
        return api(v).expand_dims(v, arg)
    if kind == "write":
        v[arg[0]] = arg[1]
        return None
    v += arg
    return None


def _replay(steps):
    def kernel(base):
        views = [base]
        for i, kind, arg, _ in steps:
            out = _apply(views[i], kind, arg)
            if out is not None:
                views.append(out)
        return views

    return kernel


@given(
    data=st.data(),
    shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
)
def test_random_view_chains_match_numpy(data, shape):
    base0 = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    base = base0.copy()
    steps, views = _draw_program(data, base)
    got = jax.jit(mutjax.mutable(_replay(steps)))(jnp.asarray(base0))
    assert len(got) == len(views)
    for k, (g, e) in enumerate(zip(got, views)):
        assert_same(g, e, f"view {k} of {steps}")


def k_ravel_orders(A):
    outs = []
    views = [A[::2].T, A.transpose(1, 0, 2), A[:, ::-1].transpose(2, 0, 1), A[..., 1:].T, A[::-1]]
    for order in "CFAK":
        for v in views:
            r = v.ravel(order)
            r[0] = -1  # reaches A only where NumPy's ravel is a view
            outs.append(r)
    return outs


def test_ravel_orders_view_or_copy_as_numpy():
    assert_matches_numpy(
        k_ravel_orders, np.arange(24, dtype=np.float32).reshape(2, 3, 4), modes=EAGER_JIT
    )


def test_numpy_view_functions_return_live_views():
    # np.* view functions are dispatched to the view methods (the NumPy-API layer routes
    # them, this module implements them): writes through them reach the base.
    def k(a):
        np.transpose(a)[0] = 1.0
        np.reshape(a, (4, 3))[1, 1] = 2.0
        np.swapaxes(a, 0, 1)[2, 0] = 3.0
        np.moveaxis(a, 0, -1)[-1, -1] = 4.0
        np.squeeze(a[None])[2, 2] = 5.0
        np.expand_dims(a, 0)[0, 1, 3] = 6.0
        np.ravel(a)[-3] = 7.0
        return np.diagonal(a).copy()

    assert_matches_numpy(k, np.zeros((3, 4), np.float32), modes=EAGER_JIT)
