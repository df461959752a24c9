"""``mutable(fun, loops=True)``: Python loops and branches become compiled loops.

Every kernel below is plain NumPy code with Python loops. It runs once on
NumPy arrays (the oracle) and under ``jax.jit(mutjax.mutable(kernel,
loops=True))`` and eagerly; results, final arguments, shapes and dtypes must
agree. The jaxpr-size tests check that the loops were not unrolled.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import all_primitives, assert_same, examples, returning_args, split_returned
from hypothesis import given, reject, settings
from hypothesis import strategies as st

import mutjax

# The benchmark's kernels, as polybench writes them, are the tests' kernels too.
from benchmarks.loops_bench import nussinov_loops as nussinov
from benchmarks.loops_bench import seidel_loops as seidel_2d
from mutjax._loops import LoopConversionError, LoopConversionWarning


def check_loops(kernel, *args, modes=("jit", "eager"), rtol=1e-5, atol=1e-5):
    """Run ``kernel`` on NumPy and with converted loops; compare everything."""
    np_args = [np.array(a) if isinstance(a, np.ndarray) else a for a in args]
    expected_out = kernel(*np_args)
    # A Python scalar result has no NumPy dtype of its own: compare it with
    # JAX's default type for it (32-bit unless x64 is enabled).
    expected = (jax.tree_util.tree_map(_canonical, expected_out), _arrays(np_args))
    for mode in modes:
        f = mutjax.mutable(kernel, loops=True, **returning_args(len(args)))
        if mode == "jit":
            f = jax.jit(f)
        jx = [jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
        out, final = split_returned(f(*jx), len(args), expected_out)
        got = (jax.tree_util.tree_map(np.asarray, out), _arrays(final))
        assert_same(got, expected, mode, rtol, atol)
    return expected_out


def _canonical(x):
    if isinstance(x, (bool, int, float)):
        return np.asarray(x, jax.dtypes.canonicalize_dtype(np.asarray(x).dtype))
    return np.asarray(x)


def _arrays(args):
    return [np.asarray(a) for a in args if hasattr(a, "shape") and np.ndim(a) > 0]


def primitives(kernel, *args) -> list[str]:
    """Primitive names of the jaxpr's equations, sub-jaxprs (loop bodies) included."""
    return all_primitives(jax.make_jaxpr(mutjax.mutable(kernel, loops=True))(*args).jaxpr)


def n_eqns(kernel, *args) -> int:
    return len(primitives(kernel, *args))


def rand(*shape: int, seed: int = 0, diag: float = 0.0) -> np.ndarray:
    a = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    if diag:
        a += diag * np.eye(shape[0], dtype=np.float32)
    return a


# -- kernels (NumPy code, unchanged) --------------------------------------------------


def lu(A):  # polybench's names
    n = A.shape[0]
    for i in range(n):
        for j in range(i):
            for k in range(j):
                A[i, j] -= A[i, k] * A[k, j]
            A[i, j] /= A[j, j]
        for j in range(i, n):
            for k in range(i):
                A[i, j] -= A[i, k] * A[k, j]


def cholesky(A):
    n = A.shape[0]
    for i in range(n):
        for j in range(i):
            for k in range(j):
                A[i, j] -= A[i, k] * A[j, k]
            A[i, j] /= A[j, j]
        for k in range(i):
            A[i, i] -= A[i, k] * A[i, k]
        A[i, i] = A[i, i] ** 0.5


def tridiagonal(a, b, c, d, x):
    # Thomas algorithm: forward sweep then back substitution (reverse range).
    n = d.shape[0]
    cp = c.copy()
    dp = d.copy()
    cp[0] = c[0] / b[0]
    dp[0] = d[0] / b[0]
    for i in range(1, n):
        m = b[i] - a[i] * cp[i - 1]
        cp[i] = c[i] / m
        dp[i] = (d[i] - a[i] * dp[i - 1]) / m
    x[n - 1] = dp[n - 1]
    for i in range(n - 2, -1, -1):
        x[i] = dp[i] - cp[i] * x[i + 1]


def newton_sqrt(x):
    y = x.copy()
    err = 1.0
    steps = 0
    while err > 1e-4:
        z = 0.5 * (y + x / y)
        err = abs(z - y).max()
        y[...] = z
        steps += 1
    return y, steps


def first_above(x, limit):
    s = 0.0
    found = -1
    for i in range(x.shape[0]):
        s = s + x[i]
        if s > limit:
            found = i
            break
    return s, found


def skip_negatives(x, out):
    total = 0.0
    for i in range(x.shape[0]):
        if x[i] < 0:
            continue
        out[i] = x[i] * 2
        total = total + x[i]
    return total


def traced_bounds(x, n):
    for i in range(n):
        x[i] += i
    return x


# -- NumPy-oracle tests ----------------------------------------------------------------


def test_lu_triangular_loops() -> None:
    check_loops(lu, rand(8, 8, diag=8.0), rtol=1e-4, atol=1e-4)


def test_cholesky() -> None:
    m = rand(7, 7)
    check_loops(cholesky, (m @ m.T + 7 * np.eye(7)).astype(np.float32), rtol=1e-4, atol=1e-4)


def test_seidel_2d() -> None:
    check_loops(seidel_2d, rand(9, 9), 3, rtol=1e-4, atol=1e-4)


def test_nussinov_max_and_if() -> None:
    seq = np.random.default_rng(1).integers(0, 4, 10).astype(np.int32)
    check_loops(nussinov, seq, np.zeros((10, 10), np.int32))


def test_tridiagonal_solve() -> None:
    n = 12
    a, c = rand(n, seed=1), rand(n, seed=2)
    b = rand(n, seed=3) + 6
    check_loops(tridiagonal, a, b, c, rand(n, seed=4), np.zeros(n, np.float32), rtol=1e-4)


def test_while_convergence_loop() -> None:
    x = np.array([2.0, 9.0, 0.5], np.float32)
    y, steps = check_loops(newton_sqrt, x, modes=("jit",))
    assert steps > 1


@given(st.lists(st.floats(0, 2, width=32), min_size=1, max_size=8), st.floats(0.5, 6))
@settings(max_examples=examples(15), deadline=None)
def test_loop_with_break(xs: list[float], limit: float) -> None:
    check_loops(first_above, np.array(xs, np.float32), np.float32(limit), modes=("jit",))


@given(st.lists(st.floats(-2, 2, width=32), min_size=1, max_size=8))
@settings(max_examples=examples(15), deadline=None)
def test_loop_with_continue(xs: list[float]) -> None:
    x = np.array(xs, np.float32)
    check_loops(skip_negatives, x, np.zeros_like(x), modes=("jit",))


def test_traced_bounds() -> None:
    f = jax.jit(mutjax.mutable(traced_bounds, loops=True))
    x = np.zeros(6, np.float32)
    for n in (0, 3, 6):
        np.testing.assert_array_equal(f(jnp.asarray(x), n), traced_bounds(x.copy(), n))


def test_static_if_stays_python() -> None:
    def kernel(x, flag):
        if flag:
            x[0] = 1.0
        else:
            x[0] = 2.0
        return x

    f = mutjax.mutable(kernel, loops=True)
    jaxpr = jax.make_jaxpr(lambda x: f(x, True))(jnp.zeros(3))
    assert not any(e.primitive.name == "cond" for e in jaxpr.eqns)
    np.testing.assert_array_equal(f(jnp.zeros(3), False), [2.0, 0, 0])


def test_helpers_are_converted() -> None:
    def row_sum(A, i):
        s = 0.0
        for j in range(A.shape[1]):
            s = s + A[i, j]
        return s

    def kernel(A, out):
        for i in range(A.shape[0]):
            out[i] = row_sum(A, i)

    check_loops(kernel, rand(5, 4), np.zeros(5, np.float32))
    small = n_eqns(kernel, jnp.zeros((4, 4)), jnp.zeros(4))
    assert small == n_eqns(kernel, jnp.zeros((40, 40)), jnp.zeros(40))


# -- the loops stay loops ------------------------------------------------------------


@pytest.mark.parametrize(
    "kernel, make",
    [
        (lu, lambda n: (jnp.eye(n),)),
        (cholesky, lambda n: (jnp.eye(n),)),
        (seidel_2d, lambda n: (jnp.eye(n), 2)),
        (nussinov, lambda n: (jnp.zeros(n, jnp.int32), jnp.zeros((n, n), jnp.int32))),
    ],
)
def test_jaxpr_size_does_not_grow(kernel, make) -> None:
    assert n_eqns(kernel, *make(6)) == n_eqns(kernel, *make(60))


# -- transformations ---------------------------------------------------------------


@pytest.mark.slow
def test_grad_through_triangular_loops() -> None:
    def loss(A):
        lu(A)
        return A.sum()

    a = rand(5, 5, diag=5.0)
    g = jax.jit(jax.grad(mutjax.mutable(loss, loops=True)))(jnp.asarray(a))
    # Reference: central differences of the NumPy kernel in float64.
    a64 = a.astype(np.float64)
    fd = np.zeros_like(a64)
    for idx in np.ndindex(*a64.shape):
        e = np.zeros_like(a64)
        e[idx] = 1e-6
        fd[idx] = (loss(a64 + e) - loss(a64 - e)) / 2e-6
    np.testing.assert_allclose(g, fd, rtol=2e-3, atol=2e-3)


@pytest.mark.slow
def test_grad_of_a_jit_already_traced_without_grad() -> None:
    # `g = jax.jit(f)`; `g(a)` traces the triangular loops as exact-trip while
    # loops; `jax.grad(g)` then reuses that trace. The loops' derivative is
    # the masked fixed-length loop's, so reverse mode still works.
    def loss(A):
        lu(A)
        return (A * A).sum()

    a = jnp.asarray(rand(5, 5, diag=5.0))
    g = jax.jit(mutjax.mutable(loss, loops=True))
    np.testing.assert_allclose(g(a), loss(np.asarray(a).copy()), rtol=1e-4)
    got = jax.grad(g)(a)
    expected = jax.jit(jax.grad(mutjax.mutable(loss, loops=True)))(a)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    # ...and forward mode and vmap of the same trace agree with reverse mode.
    t = jnp.asarray(rand(5, 5, seed=9))
    _, jvp = jax.jvp(g, (a,), (t,))
    np.testing.assert_allclose(jvp, jnp.vdot(got, t), rtol=1e-4)
    batched = jax.vmap(jax.grad(g))(jnp.stack([a, a + 0.5 * jnp.eye(5)]))
    np.testing.assert_allclose(batched[0], got, rtol=1e-5, atol=1e-6)


def test_jit_alone_runs_the_exact_trip_count() -> None:
    # Without differentiation a traced bound is a while loop of exactly the
    # trip count, not a masked loop of the maximal one.
    names = primitives(lu, jnp.eye(4))
    assert "while" in names and "cond" not in names


def test_vmap() -> None:
    xs = rand(3, 8)
    f = jax.vmap(mutjax.mutable(first_above, loops=True), in_axes=(0, None))
    s, found = f(jnp.asarray(xs), np.float32(1.0))
    for k in range(3):
        es, ef = first_above(xs[k].copy(), np.float32(1.0))
        np.testing.assert_allclose(s[k], es, rtol=1e-5)
        assert found[k] == ef

    g = jax.vmap(mutjax.mutable(lambda a: (lu(a), a)[1], loops=False))
    h = jax.vmap(mutjax.mutable(_lu_returning, loops=True))
    batch = jnp.stack([jnp.asarray(rand(5, 5, seed=s, diag=5.0)) for s in range(3)])
    np.testing.assert_allclose(h(batch), g(batch), rtol=1e-4, atol=1e-4)


def test_vmap_while_and_predicated_branches() -> None:
    xs = np.abs(rand(3, 4)) + 0.5
    ys, steps = jax.vmap(mutjax.mutable(newton_sqrt, loops=True))(jnp.asarray(xs))
    for k in range(3):
        ey, es = newton_sqrt(xs[k].copy())
        np.testing.assert_allclose(ys[k], ey, rtol=1e-5)
        assert steps[k] == es
    x = rand(3, 4, 3)
    out = rand(3, 4, 3, seed=1)
    got = jax.vmap(mutjax.mutable(clip_rows, loops=True), in_axes=(0, 0, None))(
        jnp.asarray(x), jnp.asarray(out), np.float32(-0.5)
    )
    for k in range(3):
        np.testing.assert_allclose(got[k], clip_rows(x[k], out[k].copy(), np.float32(-0.5)))


def _lu_returning(A):
    lu(A)
    return A


# -- what is not converted ---------------------------------------------------------


def test_side_effect_loop_is_unrolled_with_warning() -> None:
    def kernel(x):
        seen = []
        for i in range(3):
            seen.append(i)
            x[i] = len(seen)
        return x

    with pytest.warns(LoopConversionWarning, match=r"test_loops.py:\d+.*append"):
        out = jax.jit(mutjax.mutable(kernel, loops=True))(jnp.zeros(4))
    np.testing.assert_array_equal(out, kernel(np.zeros(4)))


def test_side_effect_loop_with_traced_bound_raises() -> None:
    def kernel(x, n):
        for i in range(n):
            print(i)
            x[i] = 1.0
        return x

    with pytest.raises(LoopConversionError, match=r"test_loops.py:\d+.*print"):
        jax.jit(mutjax.mutable(kernel, loops=True))(jnp.zeros(4), 2)


def test_return_inside_loop_raises_when_traced() -> None:
    def kernel(x, n):
        for i in range(n):
            if x[i] > 0:
                return i
        return -1

    with pytest.raises(LoopConversionError, match="return"):
        jax.jit(mutjax.mutable(kernel, loops=True))(jnp.zeros(4), 3)


def test_return_inside_traced_if() -> None:
    def sign(v):
        if v > 0:
            return 1.0
        return -1.0

    def kernel(x, out):
        for i in range(x.shape[0]):
            out[i] = sign(x[i])

    check_loops(kernel, rand(6), np.zeros(6, np.float32))


def test_variable_first_assigned_in_loop_raises() -> None:
    def kernel(x):
        for i in range(x.shape[0]):
            last = x[i]
        return last

    with pytest.raises(LoopConversionError, match="`last`"):
        jax.jit(mutjax.mutable(kernel, loops=True))(jnp.zeros(4))


def test_lambdas_convert_and_exec_functions_warn_and_work() -> None:
    f = lambda x: x * 2  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("error", LoopConversionWarning)
        g = mutjax.mutable(f, loops=True)
    np.testing.assert_array_equal(g(jnp.ones(2)), [2.0, 2.0])

    ns: dict = {}
    exec("def k(x):\n    for i in range(2):\n        x[i] = 5.0\n    return x\n", ns)
    with pytest.warns(LoopConversionWarning, match="source"):
        h = mutjax.mutable(ns["k"], loops=True)
    np.testing.assert_array_equal(jax.jit(h)(jnp.zeros(3)), [5.0, 5.0, 0.0])


def test_no_warning_for_plain_kernels() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", LoopConversionWarning)
        jax.jit(mutjax.mutable(lu, loops=True))(jnp.eye(4))


# -- conditions decided by loop-index ranges ----------------------------------------


def test_condition_decided_by_index_ranges_stays_python() -> None:
    def kernel(t):
        n = t.shape[0]
        for i in range(n):
            for j in range(i + 1, n):
                if j - 1 >= 0 and i < n:
                    t[i, j] = t[i, j - 1] + 1
        return t

    check_loops(kernel, np.zeros((6, 6), np.float32))
    assert "cond" not in primitives(kernel, jnp.zeros((6, 6)))


@pytest.mark.slow
@given(
    lo=st.integers(-3, 3),
    hi=st.integers(-3, 6),
    step=st.sampled_from([1, 2, -1]),
    off=st.integers(-2, 2),
    cut=st.integers(-3, 6),
    op=st.sampled_from(["<", "<=", ">", ">=", "==", "!="]),
)
@settings(max_examples=examples(12), deadline=None)
def test_index_intervals_never_decide_wrongly(lo, hi, step, off, cut, op) -> None:
    # The same kernel text for every comparison: the oracle decides.
    src = f"""
def kernel(x):
    for i in range({lo}, {hi}, {step}):
        for j in range(i + {off}, 7):
            if j - i {op} {cut} - i:
                x[(i + 8) % 8, j % 8] += 1.0
            else:
                x[(i + 8) % 8, j % 8] -= 2.0
    return x
"""
    import linecache
    import textwrap

    filename = f"<loops-test-{abs(hash(src))}>"
    linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
    ns: dict = {}
    exec(compile(textwrap.dedent(src), filename, "exec"), ns)
    check_loops(ns["kernel"], np.zeros((8, 8), np.float32), modes=("jit",))


# -- traced ifs: predicated (select) when cheap, cond otherwise ----------------------


def clip_rows(x, out, lo):
    for i in range(x.shape[0]):
        if x[i, 0] < lo:
            out[i, :2] = lo
            out[i, 2] += x[i, 1]
        elif x[i, 0] > 1:
            if x[i, 1] > 0:
                out[i, 0] *= 2
            out[i, 1:] -= 1
        else:
            out[i, 0] = max(x[i, 0], x[i, 2])
    return out


def bump(out, i):
    out[i] += 10


def writing_helper(x, out):
    for i in range(x.shape[0]):
        if x[i] > 0:
            bump(out, i)
        else:
            out[i] = -1
    return out


def loop_in_branch(x, out):
    for i in range(x.shape[0]):
        if x[i] > 0:
            for j in range(i):
                out[i] += x[j]
    return out


@given(st.integers(1, 5), st.integers(0, 2**16))
@settings(max_examples=examples(10), deadline=None)
def test_predicated_branches(rows: int, seed: int) -> None:
    x = np.random.default_rng(seed).uniform(-2, 3, (rows, 3)).astype(np.float32)
    out = np.random.default_rng(seed + 1).standard_normal((rows, 3)).astype(np.float32)
    check_loops(clip_rows, x, out, np.float32(-0.5), modes=("jit",))


def test_cheap_if_is_a_select_not_a_cond() -> None:
    names = primitives(clip_rows, jnp.zeros((4, 3)), jnp.zeros((4, 3)), -0.5)
    assert "cond" not in names and "select_n" in names


@pytest.mark.parametrize("kernel", [writing_helper, loop_in_branch])
def test_expensive_or_opaque_if_is_a_cond(kernel) -> None:
    x = rand(6, seed=3)
    check_loops(kernel, x, np.zeros(6, np.float32))
    assert "cond" in primitives(kernel, jnp.asarray(x), jnp.zeros(6))


def test_iterating_an_array_compiles() -> None:
    def kernel(x, out):
        k = 0
        for row in x:
            out[k] = row.sum()
            k = k + 1
        for scale in (1.0, 2.0):
            out *= scale
        return out

    with warnings.catch_warnings():
        warnings.simplefilter("error", LoopConversionWarning)
        check_loops(kernel, rand(3, 4), np.zeros(3, np.float32), modes=("jit",))
    assert "scan" in primitives(kernel, jnp.asarray(rand(3, 4)), jnp.zeros(3))


def test_iterating_zip_is_unrolled_with_warning() -> None:
    def kernel(x, out):
        k = 0
        for row, s in zip(x, (1.0, 2.0, 3.0)):
            out[k] = row.sum() * s
            k = k + 1
        return out

    with pytest.warns(LoopConversionWarning, match=r"test_loops.py:\d+ iterates over a"):
        check_loops(kernel, rand(3, 4), np.zeros(3, np.float32), modes=("jit",))


@pytest.mark.slow
@pytest.mark.filterwarnings("error")  # a race shows up as a failed conversion
def test_conversion_from_several_threads() -> None:
    # Conversion and tracing of converted code share state (malt's globals,
    # loop-index ranges): several threads tracing at once must not mix them.
    from concurrent.futures import ThreadPoolExecutor

    cases = [
        (lu, (rand(6, 6, diag=6.0),)),
        (cholesky, ((lambda m: (m @ m.T + 6 * np.eye(6)).astype(np.float32))(rand(6, 6)),)),
        (seidel_2d, (rand(7, 7), 2)),
        (traced_bounds, (np.zeros(6, np.float32), 4)),
    ] * 5

    def run(case):
        kernel, args = case
        return check_loops(kernel, *args, modes=("jit",), rtol=1e-4, atol=1e-4)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, cases))
    assert len(results) == len(cases)


def int_then_float(x):
    k = 0
    for i in range(x.shape[0]):
        for j in range(i):
            k = k + x[j] * 0.5  # NumPy: k becomes a float
    m = 0
    while m < 3:
        m = m + 1.5
    return k, m


def test_carried_local_that_widens_gets_numpys_type() -> None:
    check_loops(int_then_float, rand(5), modes=("jit",))


def array_replaces_scalar(x):
    k = 0
    for _ in range(x.shape[0]):
        k = x[:2] * 2
    return k


def array_replaces_scalar_traced(x, n):
    k = 0
    for _ in range(n):
        k = x[:2] * 2
    return k


def test_carried_local_that_changes_shape_runs_as_python() -> None:
    # A compiled loop carries one shape; with a static trip count the loop
    # runs as Python instead, which is NumPy's result.
    with pytest.warns(LoopConversionWarning, match="changes type"):
        check_loops(array_replaces_scalar, rand(3))


def test_carried_local_that_changes_shape_names_the_variable() -> None:
    f = jax.jit(mutjax.mutable(array_replaces_scalar_traced, loops=True))
    with pytest.raises(
        mutjax.MutjaxError, match=r"`k` is carried by the loop.*int32\[\].*float32\[2\]"
    ):
        f(jnp.zeros(3), 3)


def wraps_around(x, out):
    n = x.shape[0]
    for i in range(n):
        out[i - 1] = x[i - 1] + x[n - 1 - i] * 2  # i - 1 is -1 first: NumPy's last
    return out


def test_negative_loop_indices_keep_numpys_wraparound() -> None:
    check_loops(wraps_around, rand(5), np.zeros(5, np.float32))


def two_seidel_sweeps(A):
    return seidel_2d(A, 2)


def test_provably_nonnegative_indices_are_not_normalized() -> None:
    # In `range(1, n - 1)`, `i - 1` and `j + 1` are known >= 0: their element
    # reads are a bare dynamic_slice, with no select for negative indices.
    names = primitives(two_seidel_sweeps, jnp.zeros((6, 6)))
    assert "dynamic_slice" in names and "select_n" not in names, names


double = lambda v: v * 2  # noqa: E731 - a helper bound to a lambda, as users write


def lambda_helper_in_branch(x, out):
    for i in range(x.shape[0]):
        if x[i] > 0:
            out[i] = double(x[i])
    return out


def test_lambda_helper_in_a_traced_branch() -> None:
    # Its source is not a `def`: the branch is treated as opaque (a cond).
    x = rand(6, seed=5) - 0.5
    check_loops(lambda_helper_in_branch, x, np.zeros(6, np.float32), modes=("jit",))


# -- a slice that clamps to one element broadcasts over its target ------------------------


def clamped_copy(z, y):
    for i in range(2):
        z[2 * i : 2 * i + 2] = y[i + 7 : i + 9] + 1  # i = 1: y[8:10] has one element
    return z


def clamped_add(z, y):
    for i in range(2):
        z[2 * i : 2 * i + 2] += y[i + 7 : i + 9]
    return z


def clamped_rows(Z, Y):
    for i in range(2):
        Z[2 * i : 2 * i + 2, :] = Y[i + 2 : i + 4, :] * 2  # Y[3:5] has one row
    return Z


def clamped_columns(Z, Y):
    for i in range(2):
        Z[1:, 2 * i : 2 * i + 2] = Y[1:, i + 2 : i + 4]  # Y[1:, 3:5] has one column
    return Z


def clamped_traced(z, y, m, n):
    for i in range(2):  # unrolled: both slices' bounds are traced
        z[m * i : m * i + 2] = y[n + i : n + i + 2] + 1
    return z


CLAMPED = [
    (clamped_copy, (4,), (9,)),
    (clamped_add, (4,), (9,)),
    (clamped_rows, (4, 3), (4, 3)),
    (clamped_columns, (3, 4), (3, 4)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.complex64])
@pytest.mark.parametrize("kernel, zshape, yshape", CLAMPED, ids=[c[0].__name__ for c in CLAMPED])
def test_clamped_slice_of_one_element_broadcasts(kernel, zshape, yshape, dtype) -> None:
    z = (rand(*zshape, seed=1) * 4).astype(dtype)
    y = (np.arange(np.prod(yshape)).reshape(yshape) + 1).astype(dtype)
    check_loops(kernel, z, y)


def test_clamped_slice_of_one_element_broadcasts_with_traced_bounds() -> None:
    z = rand(4, seed=2)
    y = np.arange(9, dtype=np.float32)
    expected = clamped_traced(z.copy(), y, 2, 7)
    f = jax.jit(mutjax.mutable(clamped_traced))
    got = np.asarray(f(jnp.asarray(z), jnp.asarray(y), np.int32(2), np.int32(7)))
    assert_same(got, expected, "traced bounds")


def drawn_slices(z, y, m, n, w, length):
    for i in range(2):
        z[m * i : m * i + w] = y[n + i : n + i + length] + 1
    return z


_DRAWN_SLICES = {
    loops: jax.jit(mutjax.mutable(drawn_slices, loops=loops)) for loops in (False, True)
}


@settings(max_examples=examples(60))
@given(
    m=st.integers(0, 4),
    n=st.integers(0, 10),
    w=st.integers(0, 4),
    length=st.integers(0, 4),
    loops=st.booleans(),
)
def test_drawn_traced_slices_assign_as_numpy(m, n, w, length, loops) -> None:
    # Every bound traced: the source may clamp to 0, 1 or a few elements, and
    # NumPy copies equal lengths, broadcasts a length of 1 and raises otherwise
    # (those draws are left out: under jit the mismatch is not caught).
    z = rand(6, seed=3)
    y = np.arange(9, dtype=np.float32)
    try:
        expected = drawn_slices(z.copy(), y, m, n, w, length)
    except ValueError:
        reject()
    bounds = [np.int32(b) for b in (m, n, w, length)]
    got = np.asarray(_DRAWN_SLICES[loops](jnp.asarray(z), jnp.asarray(y), *bounds))
    assert_same(got, expected, f"loops={loops}")


# -- a view of an input read inside a loop and after it --------------------------------------


def view_read_in_and_after(y, x):
    z = x[: y.shape[0]]
    for i in range(3):
        y[i] = z[i + 1]
    y[4] = z[4]
    return z.max()  # (sum widens an int32 to int64 under NumPy)


def view_read_in_nested(y, x):
    z = x[: y.shape[0]]
    for i in range(3):
        for j in range(2):
            y[i] += z[i + j]
    return z * 2


def view_slices_read_in_and_after(y, x):
    z = x[1 : y.shape[0] + 1]
    for i in range(3):
        y[i] = z[i:].sum()
    y[3:] = z[3:]
    return z


VIEW_READS = [view_read_in_and_after, view_read_in_nested, view_slices_read_in_and_after]


@pytest.mark.parametrize("dtype", [np.float32, np.int32])
@pytest.mark.parametrize("kernel", VIEW_READS, ids=[k.__name__ for k in VIEW_READS])
def test_view_of_an_input_read_in_a_loop_and_after_it(kernel, dtype) -> None:
    # The loop may be traced more than once (a batched candidate): the view's
    # read made in one trace must not be the value another trace sees.
    x = (np.arange(9) * 3 + 1).astype(dtype)
    check_loops(kernel, np.zeros(5, dtype), x)
