"""The foundation: `mutable`, the trace, the scope, and transformations."""

import dataclasses
import inspect
import operator

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import EAGER_JIT, all_primitives, assert_same
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from jax.test_util import check_grads

import mutjax
from mutjax.testing import assert_matches_numpy

RNG = np.random.default_rng(0)


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


# -- assignment kernels against NumPy --------------------------------------------


def k_basic(x):
    x[0] = 5
    x[-1] = x[1] * 2
    x[2:4] = 7.5
    x[::2] += 1
    x[::-3] *= -1
    x[100:] = 3  # out-of-range bounds select nothing, as in NumPy
    x[-100:1] -= 0.5
    return x.sum()


def k_2d(a):
    a[1] = a[0] + 1
    a[:, 0] = 9
    a[1:, 1:] -= a[:-1, :-1]
    a[..., -1] = a[..., 0] * 2
    a[None, 0, None] = 4
    a[::-1, ::2] /= 2
    a[2, ...] = [1, 2, 3, 4]
    return a[1:3, ::-1]


@pytest.mark.parametrize("kernel,shape", [(k_basic, (8,)), (k_2d, (4, 4))])
def test_assignment_kernels_match_numpy(kernel, shape):
    assert_matches_numpy(kernel, f32(*shape), modes=EAGER_JIT)


def k_lu(A):
    n = A.shape[0]
    for k in range(n - 1):
        A[k + 1 :, k] /= A[k, k]
        A[k + 1 :, k + 1 :] -= A[k + 1 :, k : k + 1] * A[k : k + 1, k + 1 :]
    return A


def k_jacobi(u):
    for _ in range(5):
        u[1:-1, 1:-1] = 0.25 * (u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:])


def k_seidel(u):
    n, m = u.shape
    for i in range(1, n - 1):
        for j in range(1, m - 1):
            u[i, j] = (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1]) / 4


def k_prefix(x):
    for i in range(1, x.shape[0]):
        x[i] += x[i - 1]


@pytest.mark.parametrize(
    "kernel,arg",
    [
        (k_lu, f32(6, 6) + 6 * np.eye(6, dtype=np.float32)),
        (k_jacobi, f32(8, 9)),
        (k_seidel, f32(6, 5)),
        (k_prefix, np.arange(10, dtype=np.int32)),
    ],
)
def test_polybench_style_kernels(kernel, arg):
    assert_matches_numpy(kernel, arg, rtol=1e-4, atol=1e-4, modes=EAGER_JIT)


AUG = [
    ("+=", operator.iadd),
    ("-=", operator.isub),
    ("*=", operator.imul),
    ("/=", operator.itruediv),
    ("//=", operator.ifloordiv),
    ("%=", operator.imod),
    ("**=", operator.ipow),
    ("&=", operator.iand),
    ("|=", operator.ior),
    ("^=", operator.ixor),
    ("<<=", operator.ilshift),
    (">>=", operator.irshift),
]


@pytest.mark.parametrize("name,op", AUG)
def test_every_augmented_assignment(name, op):
    is_float_op = name in ("/=",)
    is_int_op = name in ("&=", "|=", "^=", "<<=", ">>=")
    dtype = np.float32 if is_float_op else np.int32
    x = np.arange(1, 9, dtype=dtype)

    def whole(x):
        y = x  # identity is kept: y sees the change
        y = op(y, 3)
        return y

    def part(x):
        t = x[1:7:2]
        x[1:7:2] = op(t, 2)
        x[-1:] = op(x[-1:], x[0:1])

    assert_matches_numpy(whole, x, modes=EAGER_JIT)
    assert_matches_numpy(part, x, modes=EAGER_JIT)
    if not is_int_op and not is_float_op:
        assert_matches_numpy(part, x.astype(np.float32), modes=EAGER_JIT)


def test_setitem_casts_as_numpy():
    def k(x, b):
        x[0] = 2.7
        x[1] = -2.7
        x[2:4] = np.array([1.9, -1.9])
        b[:] = np.array([0.5, 0.0, -2.0], np.float32)

    assert_matches_numpy(k, np.zeros(5, np.int32), np.zeros(3, bool), modes=EAGER_JIT)


def test_value_broadcasting_drops_leading_ones():
    def k(a):
        a[0] = np.ones((1, 5), np.float32)
        a[1:3] = np.arange(5, dtype=np.float32)
        a[3] = a[None, None, 0]

    assert_matches_numpy(k, f32(4, 5), modes=EAGER_JIT)


# -- traced integer indices ------------------------------------------------------------


def test_traced_scalar_indices():
    def k(x, i, j):
        x[i] = 1.0
        x[j, 1:3] = x[i, :2] * 2
        x[-1, j] += 10
        return x[i, j]

    a = f32(4, 4)
    for i, j in [(0, 1), (3, 2), (-1, -4), (2, 0)]:
        expected = a.copy()
        e_out = k(expected, i, j)
        f = jax.jit(mutjax.mutable(k, return_argnums=0))
        out, x = f(jnp.asarray(a), jnp.int32(i), jnp.int32(j))
        assert_same((out, x), (e_out, expected), f"i={i} j={j}")


def test_argmax_result_as_index():
    def k(x):
        i = x.argmax()
        x[i] = 0
        x[abs(x).argmin()] = -1

    assert_matches_numpy(k, f32(7), modes=EAGER_JIT)


def test_traced_out_of_bounds_write_is_dropped():
    # Documented: under jit a traced out-of-bounds integer drops the write, as
    # `.at[].set` does. NumPy raises; checked eagerly below.
    f = jax.jit(mutjax.mutable(lambda x, i: x.__setitem__(i, 1.0) or x))
    np.testing.assert_array_equal(f(jnp.zeros(3), 5), np.zeros(3, np.float32))
    with pytest.raises(IndexError, match="out of bounds"):
        mutjax.mutable(lambda x: x.__setitem__(5, 1.0))(jnp.zeros(3))


# -- arrays created inside, and the jax.Array API -----------------------------------------


def test_created_arrays_are_mutable():
    @jax.jit
    @mutjax.mutable
    def f(x):
        y = jnp.zeros(3)
        y[0] = 1
        z = x + 1
        z[1] = 0
        c = x.copy()
        c[2] = 5
        w = jnp.asarray([1.0, 2.0])
        w[0] = 3
        return y, z, c, x, w

    x = jnp.arange(3.0)
    y, z, c, x2, w = f(x)
    np.testing.assert_array_equal(y, [1, 0, 0])
    np.testing.assert_array_equal(z, [1, 0, 3])
    np.testing.assert_array_equal(c, [0, 1, 5])
    np.testing.assert_array_equal(x2, [0, 1, 2])
    np.testing.assert_array_equal(w, [3, 2])


def test_array_api_on_mutable_arrays():
    @mutjax.mutable
    def f(x):
        assert isinstance(x, mutjax.MutableArray)
        assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and len(x) == 2
        assert x.dtype == jnp.float32
        out = {
            "T": x.T,
            "sum": x.sum(axis=0),
            "astype": x.astype(jnp.int32),
            "at": x.at[0, 0].set(9.0),
            "ops": (x * 2 - 1) / 3 + x**2,
            "cmp": x > 0.5,
            "mm": x @ x.T,
            "neg": -x,
            "jnp": jnp.sin(x) + jax.lax.cos(x),
        }
        bool(x[0, 0] > -1)
        assert int(x[0, 1]) == 1 and float(x[0, 0]) == 0.0
        assert "MutableArray" in repr(x)
        return out

    x = jnp.arange(6.0).reshape(2, 3)
    out = f(x)
    np.testing.assert_allclose(out["T"], x.T)
    np.testing.assert_allclose(out["mm"], x @ x.T)
    np.testing.assert_array_equal(out["astype"], x.astype(jnp.int32))
    np.testing.assert_array_equal(out["at"], x.at[0, 0].set(9.0))
    np.testing.assert_allclose(out["jnp"], jnp.sin(x) + jnp.cos(x))


def test_concrete_conversions_fail_clearly_under_jit():
    @jax.jit
    @mutjax.mutable
    def f(x):
        if x[0] > 0:
            x[0] = 1
        return x

    with pytest.raises(jax.errors.ConcretizationTypeError):
        f(jnp.ones(2))


# -- transformations, compared to hand-written .at[] code -----------------------------


def kern(x, w):
    x = x * w
    x[1:] += x[:-1] * 0.5
    x[0] = jnp.sin(x[2])
    x[::2] *= x[1::2]
    return (x**2).sum()


def kern_at(x, w):
    x = x * w
    x = x.at[1:].add(x[:-1] * 0.5)
    x = x.at[0].set(jnp.sin(x[2]))
    x = x.at[::2].multiply(x[1::2])
    return (x**2).sum()


X = jnp.asarray(f32(6))
W = jnp.asarray(f32(6))
MK = mutjax.mutable(kern)

TRANSFORMS = {
    "jit": lambda f: jax.jit(f),
    "grad": lambda f: jax.grad(f),
    "grad1": lambda f: jax.grad(f, argnums=1),
    "value_and_grad": lambda f: jax.value_and_grad(f),
    "jacfwd": lambda f: jax.jacfwd(f),
    "jacrev": lambda f: jax.jacrev(f),
    "checkpoint": lambda f: jax.checkpoint(f),
    "jit(grad)": lambda f: jax.jit(jax.grad(f)),
    "grad(jit)": lambda f: jax.grad(jax.jit(f)),
    "vmap(grad)": lambda f: jax.vmap(jax.grad(f), in_axes=(0, None)),
    "jit(vmap(grad(checkpoint)))": lambda f: jax.jit(
        jax.vmap(jax.grad(jax.checkpoint(f)), in_axes=(0, None))
    ),
    "jacfwd(jacrev)": lambda f: jax.jacfwd(jax.jacrev(f)),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_transforms_match_hand_written_at(name):
    t = TRANSFORMS[name]
    x = jnp.stack([X, X + 1]) if "vmap" in name else X
    got = t(MK)(x, W)
    expected = t(kern_at)(x, W)
    assert_same(got, expected, name, rtol=1e-4, atol=1e-4)


def test_transforms_inside_the_scope():
    @mutjax.mutable
    def f(x, w):
        g = jax.grad(kern_at)(x, w)
        v = jax.vmap(lambda r: r * 2)(x)
        x[0] = g[0] + v[1]
        return x

    expected = np.asarray(X).copy()
    expected[0] = jax.grad(kern_at)(X, W)[0] + 2 * X[1]
    np.testing.assert_allclose(jax.jit(f)(X, W), expected, rtol=1e-5)


def test_linearize():
    y, f_jvp = jax.linearize(lambda x: MK(x, W), X)
    y2, f2 = jax.linearize(lambda x: kern_at(x, W), X)
    np.testing.assert_allclose(y, y2, rtol=1e-5)
    np.testing.assert_allclose(f_jvp(W), f2(W), rtol=1e-4)


@pytest.mark.slow
def test_check_grads_both_modes():
    check_grads(lambda x: MK(x, W), (X,), order=2, modes=["fwd", "rev"], atol=1e-2, rtol=1e-2)


def test_vmap_of_mutable_with_traced_indices():
    def k(x, i):
        x[i] = x[i - 1] * 2
        return x

    xs = jnp.asarray(f32(4, 5))
    idx = jnp.array([0, 1, 4, 2])
    got = jax.vmap(mutjax.mutable(k))(xs, idx)
    expected = np.stack([k(np.array(x), int(i)) for x, i in zip(xs, idx)])
    np.testing.assert_allclose(got, expected)


def test_custom_jvp_and_vjp_rules_are_kept():
    @jax.custom_jvp
    def f(x):
        return jnp.sin(x)

    f.defjvp(lambda p, t: (f(p[0]), 100.0 * t[0]))

    @jax.custom_vjp
    def g(x):
        return x * 2

    g.defvjp(lambda x: (g(x), None), lambda _, ct: (ct * 1000.0,))

    @mutjax.mutable
    def k(x):
        x[0] = f(x[0])
        x[1] = g(x[1])
        x[2] = jax.nn.relu(x[2])
        return x.sum()

    np.testing.assert_allclose(jax.grad(k)(jnp.ones(3)), [100.0, 1000.0, 1.0])
    np.testing.assert_allclose(jax.jit(jax.grad(k))(jnp.ones(3)), [100.0, 1000.0, 1.0])


# -- calling conventions ------------------------------------------------------------------


def test_copy_in_never_changes_caller():
    x = jnp.arange(3.0)
    n = np.arange(3.0)
    mutjax.mutable(lambda a, b: (a.__setitem__(0, 9), b.__setitem__(0, 9)))(x, n)
    np.testing.assert_array_equal(x, [0, 1, 2])
    np.testing.assert_array_equal(n, [0, 1, 2])


@jax.tree_util.register_dataclass
@dataclasses.dataclass
class State:
    pos: jax.Array
    vel: jax.Array
    name: str = dataclasses.field(metadata=dict(static=True), default="s")


@pytest.mark.parametrize("jit", [False, True])
def test_pytree_arguments_and_non_array_leaves(jit):
    @mutjax.mutable
    def step(state, params, tag):
        state.pos[:] += state.vel * params["dt"]
        params["scale"][0] = 2
        assert tag == "hello" and state.name == "s"
        return state, params["scale"]

    if jit:
        step = jax.jit(step, static_argnums=2)
    s = State(jnp.zeros(3), jnp.ones(3))
    s2, scale = step(s, {"dt": 0.5, "scale": jnp.ones(2), "n": 3}, "hello")
    np.testing.assert_array_equal(s2.pos, [0.5, 0.5, 0.5])
    np.testing.assert_array_equal(scale, [2, 1])
    np.testing.assert_array_equal(s.pos, [0, 0, 0])
    assert s2.name == "s"


# -- return_argnums / return_argnames: the final values of arguments -------------


def k_scale_rows(A, b):
    """In place, as NumPy code often is: returns None."""
    A *= b[:, None]
    b[0] = A[0].sum()


def k_pivot(A, b):
    """In place, with a result."""
    p = A[:, 0].argmax()
    A[0] += A[1]
    b[1:] = b[:-1] * 2
    return p


def _numpy(kernel, *args, **kwargs):
    args = [a.copy() for a in args]
    kwargs = {k: v.copy() for k, v in kwargs.items()}
    return kernel(*args, **kwargs), args, kwargs


def _entries(kernel, **options):
    return [
        ("eager", mutjax.mutable(kernel, **options)),
        ("jit", jax.jit(mutjax.mutable(kernel, **options))),
        ("mutjax.jit", mutjax.jit(kernel, **options)),
    ]


def test_return_argnums_of_a_kernel_returning_none_gives_only_the_arguments():
    A, b = f32(3, 2), f32(3)
    A0, b0 = A.copy(), b.copy()
    _, (eA, eb), _ = _numpy(k_scale_rows, A, b)
    for name, f in _entries(k_scale_rows, return_argnums=0):
        got = f(A, b)  # one argument: bare, not a 1-tuple
        assert_same(got, eA, name)
    for name, f in _entries(k_scale_rows, return_argnums=(0, 1)):
        gA, gb = f(A, b)
        assert_same((gA, gb), (eA, eb), name)
    assert_same((A, b), (A0, b0), "the caller's arrays never change")


def test_return_argnums_follow_the_result_flat_in_the_order_given():
    A, b = f32(3, 2), f32(3)
    e_out, (eA, eb), _ = _numpy(k_pivot, A, b)
    for name, f in _entries(k_pivot, return_argnums=(1, 0)):
        out, gb, gA = f(A, b)
        assert_same((out, gA, gb), (np.int32(e_out), eA, eb), name)

    def stats(A):
        A[0] = 1.0
        return A.sum(), A.max()

    e_pair, (eA,), _ = _numpy(stats, A)
    for name, f in _entries(stats, return_argnums=0):
        pair, gA = f(A)  # a tuple result stays one element
        assert_same((pair, gA), (e_pair, eA), name)


def test_return_argnames_and_argnums_select_a_parameter_however_it_is_passed():
    A, b = f32(3, 2), f32(3)
    e_out, (eA, eb), _ = _numpy(k_pivot, A, b)
    for name, f in _entries(k_pivot, return_argnames="b"):
        for args, kwargs in [((A, b), {}), ((A,), {"b": b}), ((), {"A": A, "b": b})]:
            out, gb = f(*args, **kwargs)
            assert_same((out, gb), (np.int32(e_out), eb), name)
    by_num = mutjax.mutable(k_pivot, return_argnums=1)
    assert_same(by_num(A, b=b), (np.int32(e_out), eb), "argnum passed by keyword")
    # Each argument once, argnums first: (1, 0) then the name of 0 again.
    both = mutjax.jit(k_pivot, return_argnums=(1, 0, 1), return_argnames=("A", "b"))
    assert_same(both(A, b=b), (np.int32(e_out), eb, eA), "each once")


def test_return_argnames_of_keyword_only_and_var_keyword_arguments():
    def fill(out, *, v, **extra):
        out[1:] = v
        extra["scratch"][0] = v

    buf, scratch = np.zeros(3, np.float32), np.ones(2, np.float32)
    _, (e_buf,), e = _numpy(fill, buf, v=np.float32(2), scratch=scratch)
    for name, f in _entries(fill, return_argnums=0, return_argnames=("scratch",)):
        gbuf, gscratch = f(buf, v=jnp.float32(2), scratch=scratch)
        assert_same((gbuf, gscratch), (e_buf, e["scratch"]), name)


def test_negative_return_argnums_count_from_the_end_of_the_call():
    A, b = f32(3, 2), f32(3)
    _, (eA, eb), _ = _numpy(k_scale_rows, A, b)
    for name, f in _entries(k_scale_rows, return_argnums=(-1, -2)):
        gb, gA = f(A, b)
        assert_same((gA, gb), (eA, eb), name)


def test_return_argnums_index_the_positional_arguments_of_a_var_args_function():
    def shift_all(*arrays):
        for a in arrays:
            a[1:] = a[:-1]

    xs = [f32(4), f32(4), f32(4)]
    _, es, _ = _numpy(shift_all, *xs)
    for name, f in _entries(shift_all, return_argnums=(2, 0)):
        g2, g0 = f(*xs)
        assert_same((g0, g2), (es[0], es[2]), name)
    with pytest.raises(TypeError, match="return_argnums"):
        mutjax.mutable(shift_all, return_argnums=3)(*xs)


def test_return_argnums_with_static_argnums_and_converted_loops():
    def smooth(u, passes):
        for _ in range(passes):
            u[1:-1] = 0.5 * (u[:-2] + u[2:])

    u = f32(6)
    _, (eu, _), _ = _numpy(smooth, u, np.int32(3))
    assert_same(mutjax.jit(smooth, static_argnums=1, return_argnums=0)(u, 3), eu, "jit")
    eager = mutjax.mutable(smooth, loops=True, return_argnames="u")
    for _ in range(2):  # the second call runs the program the first compiled
        assert_same(eager(u, 3), eu, "eager, converted")
    decorated = mutjax.jit(return_argnums=0, static_argnames="passes")(smooth)
    assert_same(decorated(u, passes=3), eu, "decorator factory")


def test_return_argnums_under_vmap_and_grad():
    A, b = f32(4, 3, 2), f32(4, 3)
    f = jax.vmap(mutjax.mutable(k_scale_rows, return_argnums=(0, 1)))
    gA, gb = f(A, b)
    for k in range(4):
        _, (eA, eb), _ = _numpy(k_scale_rows, A[k], b[k])
        assert_same((gA[k], gb[k]), (eA, eb), f"batch {k}")

    def loss(x, buf):
        buf[...] = x * 3
        return (x * x).sum()

    x, buf = f32(3), np.zeros(3, np.float32)
    _, (_, e_buf), _ = _numpy(loss, x, buf)
    grad, g_buf = jax.grad(mutjax.mutable(loss, return_argnums=1), has_aux=True)(x, buf)
    np.testing.assert_allclose(grad, 2 * x, rtol=1e-6)
    assert_same(g_buf, e_buf, "aux")


def test_return_argnums_inside_another_mutable_function_work_by_reference():
    def outer(scale_rows, A, b):
        got = scale_rows(A, b)
        got[2] = -1.0  # the argument itself: b changes too
        return b.sum()

    def numpy_scale_rows(A, b):
        k_scale_rows(A, b)
        return b

    A, b = f32(3, 2), f32(3)
    e_out, (eA, eb), _ = _numpy(lambda A, b: outer(numpy_scale_rows, A, b), A, b)
    inner = mutjax.mutable(k_scale_rows, return_argnums=1)
    f = mutjax.mutable(lambda A, b: outer(inner, A, b), return_argnums=(0, 1))
    assert_same(f(A, b), (e_out, eA, eb), "by reference")


def test_bad_return_argnums_and_argnames_raise_as_jax_jit_does():
    def k(a, b, /, c, *, d):
        pass

    for options, static in [
        ({"return_argnums": 3}, {"static_argnums": 3}),
        ({"return_argnums": -4}, {"static_argnums": -4}),
        ({"return_argnames": "z"}, {"static_argnames": "z"}),
        ({"return_argnames": "a"}, {"static_argnames": "a"}),  # positional-only
    ]:
        with pytest.raises(ValueError):
            jax.jit(k, **static)
        for entry, name in [(mutjax.mutable, "mutjax.mutable"), (mutjax.jit, "mutjax.jit")]:
            with pytest.raises(ValueError, match=f"^{name}: k has "):
                entry(k, **options)
    for options in ({"return_argnums": "a"}, {"return_argnames": 0}, {"return_argnames": [0]}):
        with pytest.raises(TypeError, match="mutjax.mutable"):
            mutjax.mutable(k, **options)
    # Accepted at decoration, an argument the call did not pass has no value to return.
    f = mutjax.mutable(lambda a, b=None: None, return_argnums=1)
    with pytest.raises(TypeError, match="passed 1 positional arguments and not 'b' by keyword"):
        f(jnp.zeros(2))


def test_return_args_is_refused_with_what_replaced_it():
    for entry, name in [(mutjax.mutable, "mutjax.mutable"), (mutjax.jit, "mutjax.jit")]:
        for args in [(k_basic,), ()]:  # also the decorator-factory form
            with pytest.raises(TypeError, match=f"{name}: return_args= was replaced by"):
                entry(*args, return_args=True)


def test_wrapper_keeps_name_doc_signature():
    def kernel(a, b=2, *, c):
        """Doc."""

    w = mutjax.mutable(kernel)
    assert w.__name__ == "kernel" and w.__doc__ == "Doc."
    assert inspect.signature(w) == inspect.signature(kernel)


def test_donated_argument_buffer_is_reused():
    def upd(x):
        x[1:3] = 7.0
        return x

    f = jax.jit(mutjax.mutable(upd), donate_argnums=0)
    hlo = f.lower(jnp.zeros(8)).as_text()
    assert "tf.aliasing_output" in hlo or "jax.buffer_donor" in hlo
    x = jnp.zeros(8)
    y = f(x)
    assert x.is_deleted()
    np.testing.assert_array_equal(y, [0, 7, 7, 0, 0, 0, 0, 0])


def test_nested_mutable_works_by_reference():
    @mutjax.mutable
    def helper(a):
        a[0] = 42

    def plain_helper(a):
        a[-1] = -1

    @jax.jit
    @mutjax.mutable
    def outer(x):
        helper(x)
        helper(x[2:])  # through a view
        plain_helper(x)
        return x

    np.testing.assert_array_equal(outer(jnp.zeros(5)), [42, 0, 42, 0, -1])


# -- lifetime and machinery errors -------------------------------------------------------


def test_escaped_array_raises_mutjax_error():
    kept = []

    @mutjax.mutable
    def f(x):
        kept.append(x)
        kept.append(x[1:])
        return x

    f(jnp.zeros(3))
    leaked, leaked_view = kept
    assert "scope has ended" in repr(leaked) and "scope has ended" in repr(leaked_view)
    for use in (
        lambda: leaked + 1,
        lambda: jnp.sin(leaked),
        lambda: leaked[0],
        lambda: leaked.shape,
        lambda: leaked.__setitem__(0, 1),
        lambda: leaked_view.__setitem__(0, 1),
        lambda: jax.jit(lambda y: y * 2)(leaked),
        lambda: np.asarray(leaked),
    ):
        with pytest.raises(mutjax.ScopeEndedError, match="mutable.*returned"):
            use()
    assert issubclass(mutjax.ScopeEndedError, mutjax.MutjaxError)


def test_escaped_under_jit_raises_mutjax_error():
    store = {}

    @jax.jit
    @mutjax.mutable
    def f(x):
        store["x"] = x
        return x * 2

    f(jnp.ones(2))
    with pytest.raises(mutjax.ScopeEndedError):
        store["x"] * 2


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "idx,exc,msg",
    [
        (5, IndexError, "index 5 is out of bounds for axis 0 with size 4"),
        ((0, -6), IndexError, "index -6 is out of bounds for axis 1 with size 5"),
        ((0, 0, 0), IndexError, "too many indices"),
        (1.0, IndexError, "only integers"),
        ("a", IndexError, "only integers"),
        ((Ellipsis, Ellipsis), IndexError, "single ellipsis"),
    ],
)
def test_bad_indices_raise_numpy_errors(idx, exc, msg):
    with pytest.raises(exc):
        np.zeros((4, 5))[idx] = 1
    for op in ("get", "set"):

        @mutjax.mutable
        def f(x, op=op):
            if op == "get":
                return x[idx]
            x[idx] = 1

        with pytest.raises(exc, match=msg):
            f(jnp.zeros((4, 5)))
        with pytest.raises(exc, match=msg):
            jax.jit(f)(jnp.zeros((4, 5)))


def test_value_that_does_not_broadcast():
    with pytest.raises(ValueError):
        np.zeros((4, 5))[0] = np.ones((2, 5))

    @jax.jit
    @mutjax.mutable
    def f(x, v):
        x[0] = v

    with pytest.raises(
        ValueError, match=r"could not broadcast input array from shape \(2,5\) into shape \(5,\)"
    ):
        f(jnp.zeros((4, 5)), jnp.ones((2, 5)))


# -- known elements: repeated static scalar reads cost nothing ---------------------

_ELEMENT_OPS = st.one_of(
    st.tuples(st.just("read"), st.integers(-3, 2), st.integers(-4, 3)),
    st.tuples(st.just("write"), st.integers(-3, 2), st.integers(-4, 3)),
    st.tuples(st.just("iadd"), st.integers(-3, 2), st.integers(-4, 3)),
    st.tuples(st.just("row"), st.integers(-3, 2), st.integers(0, 0)),
    st.tuples(st.just("view"), st.integers(-3, 2), st.integers(-4, 3)),
    st.tuples(st.just("copy"), st.integers(-3, 2), st.integers(-4, 3)),
    st.tuples(st.just("loop"), st.integers(-3, 2), st.integers(-4, 3)),
)


def _element_program(ops, loop):
    def kernel(a):
        s = a[0, 0] * 0 + 1
        for op, i, j in ops:
            if op == "read":
                s = s + a[i, j]
            elif op == "write":
                a[i, j] = s * 0.5 - 1
            elif op == "iadd":
                a[i, j] += s
            elif op == "row":
                a[i] = a[i] * 2 + 1  # a whole-row write changes known elements
            elif op == "view":
                r = a[i]
                r[j] = s + 3  # a write through a view of the base
            elif op == "copy":
                c = a[i, j]
                c += 10  # a 0-d copy rebinds; the array keeps its element
                s = s + c
            else:
                a[i, j] = s + i + j  # then a loop body reads the same element
                s = s + loop(2, lambda t, i=i, j=j: t + a[i, j])
        return s, a

    return kernel


def _py_loop(n, body):
    t = 0.0
    for _ in range(n):
        t = body(t)
    return t


def _mutjax_loop(n, body):
    return mutjax.fori_loop(0, n, lambda k, t: body(t), jnp.float32(0))


@pytest.mark.slow
@given(st.lists(_ELEMENT_OPS, max_size=12))
@example([("read", 0, 1), ("row", 0, 0), ("write", 2, 2), ("read", 0, 1)])
@example([("read", 1, 1), ("view", 1, 1), ("write", 0, 0), ("read", 1, 1)])
@example([("write", 1, 1), ("loop", 1, 1), ("read", 1, 1), ("iadd", 1, 1), ("read", 1, 1)])
def test_known_elements_match_numpy(ops):
    # Static scalar reads and writes reuse known elements (Cell.element); every
    # other write, a view, a 0-d copy and a loop body must see the real values.
    x = np.arange(12, dtype=np.float32).reshape(3, 4) / 4
    expected = _element_program(ops, _py_loop)(x.copy())
    for f in (mutjax.mutable, lambda k: jax.jit(mutjax.mutable(k))):
        got = f(_element_program(ops, _mutjax_loop))(jnp.asarray(x))
        assert_same(got, (np.float32(expected[0]), expected[1]), str(ops))


def test_repeated_element_reads_are_one_slice():
    def stencil(a):
        for _ in range(3):
            a[1, 1] = a[1, 1] + a[0, 1] + a[1, 1]
        return a

    eqns = jax.make_jaxpr(mutjax.mutable(stencil))(jnp.ones((3, 3))).eqns
    # Two elements read once each; every later read is the value last written.
    assert [e.primitive.name for e in eqns].count("slice") == 2
    np.testing.assert_array_equal(
        mutjax.mutable(stencil)(jnp.ones((3, 3))), stencil(np.ones((3, 3), np.float32))
    )


# -- deferred writes of one element at a traced index --------------------------------

_PENDING_OPS = st.one_of(
    st.tuples(st.sampled_from(["w", "r", "iadd", "w2d", "r2d"]), st.integers(0, 3)),
    st.tuples(st.sampled_from(["static_w", "static_r"]), st.integers(-5, 4)),
    st.tuples(st.sampled_from(["slice", "row", "loop"]), st.just(0)),
)


def _pending_program(ops, loop):
    def kernel(a, m, idx):
        s = a[0] * 0 + 1
        for op, k in ops:
            i = idx[k % 4]
            if op == "w":
                a[i] = s * 0.5 + k
            elif op == "r":
                s = s + a[i]
            elif op == "iadd":
                a[i] += s
            elif op == "w2d":
                m[i % 3, idx[(k + 1) % 4] % 4] = s - k  # two traced integers
            elif op == "r2d":
                s = s + m[i % 3, -1] + m[1, idx[(k + 1) % 4] % 4]
            elif op == "static_w":
                a[k] = s + 2
            elif op == "static_r":
                s = s + a[k]
            elif op == "slice":
                s = s + a[1:3].sum()  # reads every waiting write
            elif op == "row":
                m[1] = m[1] + s  # a whole-row write of the other array
            else:
                s = s + loop(lambda t: t + a[idx[0]] + m[idx[1] % 3, 0])
        return s

    return kernel


@pytest.mark.slow
@given(
    st.lists(_PENDING_OPS, max_size=14),
    hnp.arrays(np.int32, 4, elements=st.integers(-5, 4)),
)
@example([("w", 0), ("r", 1), ("w", 1), ("r", 0), ("iadd", 0), ("r", 0)], np.array([2, 2, 0, 1]))
@example([("w", 0), ("w", 1), ("static_r", 2), ("slice", 0), ("r", 0)], np.array([2, -3, 0, 1]))
@example([("w", k % 4) for k in range(11)] + [("r", 2)], np.array([1, -4, 3, 0]))
def test_deferred_element_writes_match_numpy(ops, idx):
    # Under jit, `x[i] = v` at a traced `i` waits (Cell.write_element) until
    # something needs the whole array; element reads select waiting values.
    # Positions repeat on purpose: idx has 4 entries in 5 values.
    a = np.arange(5, dtype=np.float32)
    m = np.arange(12, dtype=np.float32).reshape(3, 4)

    def py_loop(body):
        t = np.float32(0)
        for _ in range(2):
            t = body(t)
        return t

    def mj_loop(body):
        return mutjax.fori_loop(0, 2, lambda k, t: body(t), jnp.float32(0))

    na, nm = a.copy(), m.copy()
    expected = _pending_program(ops, py_loop)(na, nm, idx)
    f = jax.jit(mutjax.mutable(_pending_program(ops, mj_loop), return_argnums=(0, 1)))
    s, ga, gm = f(jnp.asarray(a), jnp.asarray(m), jnp.asarray(idx))
    assert_same((s, ga, gm), (np.float32(expected), na, nm), str(ops), rtol=1e-4, atol=1e-4)
    # Batched indices (vmap): every comparison of positions is per example.
    idx2 = np.roll(idx, 1)
    na2, nm2 = a.copy(), m.copy()
    expected2 = _pending_program(ops, py_loop)(na2, nm2, idx2)
    s, ga, gm = jax.vmap(f, in_axes=(None, None, 0))(
        jnp.asarray(a), jnp.asarray(m), jnp.asarray(np.stack([idx, idx2]))
    )
    batch = (np.float32([expected, expected2]), np.stack([na, na2]), np.stack([nm, nm2]))
    assert_same((s, ga, gm), batch, f"vmap {ops}", rtol=1e-4, atol=1e-4)


def _in_branch(fn):
    """``fn`` run inside a branch body, where element writes at traced positions wait."""
    return lambda *a: mutjax.cond(True, lambda: fn(*a), lambda: fn(*a))


def _top(fn):
    return fn


# Element writes at traced positions wait only inside loop and branch bodies:
# each test below runs its kernel there and in straight-line code.
WHERE = pytest.mark.parametrize("where", [_top, _in_branch], ids=["straight", "in_body"])


@WHERE
def test_deferred_element_write_out_of_bounds_drops_and_reads_clamp(where):
    def kernel(a, i, j):
        a[i] = 7.0  # i out of bounds: dropped
        a[j] = 5.0
        return a[i], a[j], a[j - 1]

    f = jax.jit(mutjax.mutable(where(kernel), return_argnums=0))
    (ri, rj, rj1), a = f(jnp.zeros(4), 9, 3)
    # `.at[]` semantics: the write at 9 drops; the read at 9 clamps to 3.
    np.testing.assert_array_equal(a, [0, 0, 0, 5])
    assert (float(ri), float(rj), float(rj1)) == (5.0, 5.0, 0.0)


def test_repeated_traced_element_writes_are_one_update():
    # Four writes of t[i, j] between reads of neighbours, in a loop body:
    # one scatter left. In straight-line code, no more than `.at[]` writes.
    def cell(t, i, j, xp=jnp):
        t[i, j] = xp.maximum(t[i, j], t[i, j - 1])
        t[i, j] = xp.maximum(t[i, j], t[i + 1, j])
        t[i, j] = xp.maximum(t[i, j], t[i + 1, j - 1] + 1)
        t[i, j] = xp.maximum(t[i, j], t[i, j] - 1)
        return t

    def cell_at(t, i, j):
        t = t.at[i, j].set(jnp.maximum(t[i, j], t[i, j - 1]))
        t = t.at[i, j].set(jnp.maximum(t[i, j], t[i + 1, j]))
        t = t.at[i, j].set(jnp.maximum(t[i, j], t[i + 1, j - 1] + 1))
        return t.at[i, j].set(jnp.maximum(t[i, j], t[i, j] - 1))

    args = (jnp.zeros((4, 4)), 1, 2)
    in_body = all_primitives(jax.make_jaxpr(mutjax.mutable(_in_branch(cell)))(*args).jaxpr)
    assert in_body.count("scatter") == 2, in_body  # one per branch
    straight = all_primitives(jax.make_jaxpr(mutjax.mutable(cell))(*args).jaxpr)
    by_hand = all_primitives(jax.make_jaxpr(cell_at)(*args).jaxpr)
    assert straight.count("scatter") <= by_hand.count("scatter"), (straight, by_hand)
    assert len([n for n in straight if n != "mutjax_index_check"]) <= len(by_hand)
    x = np.random.default_rng(0).random((4, 4)).astype(np.float32)
    for f in (mutjax.mutable(cell), mutjax.mutable(_in_branch(cell))):
        for i, j in [(1, 2), (0, 1), (2, 3)]:
            np.testing.assert_array_equal(
                jax.jit(f)(jnp.asarray(x), i, j), cell(x.copy(), i, j, xp=np)
            )


@WHERE
def test_deferred_element_writes_meet_every_boundary(where):
    # A waiting element write must be visible to whatever reads the whole
    # array: an inner jit, a vmap over it, a loop carrying it, the result.
    def kernel(a, i, j):
        a[i] = 10.0
        s1 = jax.jit(lambda x: x.sum())(a)
        a[j] = 20.0
        s2 = jax.vmap(lambda k: a[k] * 2)(jnp.arange(4))
        a[i + 1] = a[i] + a[j]
        s3 = mutjax.fori_loop(0, 2, lambda k, t: t + a[k], 0.0)
        return s1, s2, s3

    def numpy(a, i, j):
        a[i] = 10.0
        s1 = a.sum()
        a[j] = 20.0
        s2 = a[np.arange(4)] * 2
        a[i + 1] = a[i] + a[j]
        return s1, s2, a[0] + a[1]

    x = np.arange(5, dtype=np.float32)
    for i, j in [(0, 1), (1, 1), (2, -1), (-2, 0)]:
        na = x.copy()
        expected = numpy(na, i, j)
        f = jax.jit(mutjax.mutable(where(kernel), return_argnums=0))
        out, a = f(jnp.asarray(x), i, j)
        assert_same((out, a), (expected, na), f"i={i} j={j}")


@WHERE
def test_deferred_element_writes_differentiate_and_checkify(where):
    from jax.experimental import checkify

    def f(w, i):
        def kernel(a):
            a[i] = w * 3.0
            a[i] = a[i] * w  # replaces the waiting write: w**2 * 3
            return (a * a).sum()

        return mutjax.mutable(where(kernel))(jnp.ones(4))

    g = jax.jit(jax.grad(f))(2.0, 1)
    np.testing.assert_allclose(g, 2 * (3 * 2.0**2) * (6 * 2.0), rtol=1e-6)

    def oob(a, i):
        a[i] = 1.0
        return a[0]

    checked = checkify.checkify(jax.jit(mutjax.mutable(where(oob))), errors=checkify.index_checks)
    err, _ = checked(jnp.zeros(3), 5)
    assert err.get() is not None and "index 5" in err.get()
    err, _ = checked(jnp.zeros(3), 2)
    assert err.get() is None


@WHERE
def test_checkify_sees_a_deferred_write_never_applied(where):
    from jax.experimental import checkify

    def local(i):
        a = jnp.zeros(3)
        a[i] = 1.0  # never read again: the waiting write is dropped at the end
        return i * 2

    checked = checkify.checkify(jax.jit(mutjax.mutable(where(local))), errors=checkify.index_checks)
    err, _ = checked(7)
    assert err.get() is not None and "index 7" in err.get()
    err, _ = checked(2)
    assert err.get() is None


# -- operators run on the parent trace's values ------------------------------------


def k_operators(a, b, s):
    out = [a + 1, 1 + a, a * 2.5, 2.5 - a, a + b, b - a, a @ b.T, a + a, a < b, 3 >= a]
    out += [a[0] * np.float32(3), np.int16(3) * a[1], a + np.ones(3), np.ones(3, np.int8) - a[1]]
    out += [a[0, 1] + s, s * a[1, 2], a[:, 1] ** 2, 2 ** a[0], a // 2, 7 % a[1], divmod(a, 3)[0]]
    a[0, 0] = 5
    t = a[0, 0]
    out += [t + 1, t - a]
    a[0, 0] += t
    for i in range(2):  # a compiled loop: its body's operators, the builtins max and min
        a[i, 1] = a[i, 0] + a[i, 2] * 2 - 1
        a[i, 2] = max(a[i, 0], 2, a[i, 2]) - min(t, a[1, 1], 2.5) + max(a[i, 0], a[i, 1])
    return out, a


@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_operators_on_values_stage_what_the_trace_would(dtype, monkeypatch):
    """An operator of mutable arrays skips their trace (``on_values``): NumPy's
    values, and the very equations the trace itself stages."""
    from mutjax import _trace
    from mutjax._loops import _operators

    a = np.arange(6, dtype=dtype).reshape(2, 3) + 1
    b = np.full((2, 3), 2, np.float32)
    f = mutjax.mutable(k_operators, loops=True)
    want, want_a = k_operators(a.copy(), b.copy(), 4)
    got, got_a = jax.jit(f)(a.copy(), b.copy(), 4)
    for w, g in zip(want, got):
        # JAX's 32-bit defaults where NumPy gives float64 for a Python float.
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-6)
        assert np.shape(g) == np.shape(w)
    np.testing.assert_array_equal(got_a, want_a)
    direct = str(jax.make_jaxpr(f)(a, b, 4))
    calls = []

    def refuse(*args):
        calls.append(args)

    monkeypatch.setattr(_trace, "on_values", refuse)
    monkeypatch.setattr(_operators, "on_values", refuse)
    again = mutjax.mutable(k_operators, loops=True)  # a new function: traced anew
    assert str(jax.make_jaxpr(again)(a, b, 4)) == direct
    assert calls  # the comparison above went through the trace
